-- nhost hasura-auth's `auth` schema as its migrations leave it at v0.42.0 (the last release of
-- the standalone hasura-auth), written here from those table definitions: every table the
-- importer reads and the columns, types, defaults and constraints that shape what the service
-- stores. Read by the import tests and the import benchmark.
CREATE EXTENSION IF NOT EXISTS citext;
CREATE SCHEMA auth;
-- An address: case-insensitive text that looks like one.
CREATE DOMAIN auth.email AS citext CHECK (VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+$');

CREATE TABLE auth.roles (role text PRIMARY KEY);
INSERT INTO auth.roles (role) VALUES ('user'), ('anonymous'), ('me');

CREATE TABLE auth.providers (id text PRIMARY KEY);
INSERT INTO auth.providers (id) VALUES
    ('github'), ('facebook'), ('twitter'), ('google'), ('apple'), ('linkedin'),
    ('windowslive'), ('spotify'), ('strava'), ('gitlab'), ('bitbucket'), ('discord'),
    ('twitch'), ('workos'), ('azuread'), ('entraid');

CREATE TABLE auth.refresh_token_types (value text PRIMARY KEY, comment text);
INSERT INTO auth.refresh_token_types (value, comment) VALUES
    ('regular', 'Regular refresh token'), ('pat', 'Personal access token');

CREATE TABLE auth.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz,
    disabled boolean NOT NULL DEFAULT false,
    display_name text NOT NULL DEFAULT '',
    avatar_url text NOT NULL DEFAULT '',
    locale varchar(2) NOT NULL,
    email auth.email UNIQUE,
    phone_number text UNIQUE,
    password_hash text,
    email_verified boolean NOT NULL DEFAULT false,
    phone_number_verified boolean NOT NULL DEFAULT false,
    new_email auth.email,
    otp_method_last_used text,
    otp_hash text,
    otp_hash_expires_at timestamptz NOT NULL DEFAULT now(),
    default_role text NOT NULL DEFAULT 'user'
        REFERENCES auth.roles (role) ON UPDATE CASCADE ON DELETE RESTRICT,
    is_anonymous boolean NOT NULL DEFAULT false,
    totp_secret text,
    active_mfa_type text CONSTRAINT active_mfa_types_check
        CHECK (active_mfa_type IN ('totp', 'sms')),
    ticket text,
    ticket_expires_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb,
    webauthn_current_challenge text
);

CREATE TABLE auth.user_roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON UPDATE CASCADE ON DELETE CASCADE,
    role text NOT NULL REFERENCES auth.roles (role) ON UPDATE CASCADE ON DELETE RESTRICT,
    UNIQUE (user_id, role)
);

CREATE TABLE auth.user_providers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON UPDATE CASCADE ON DELETE CASCADE,
    access_token text NOT NULL,
    refresh_token text,
    provider_id text NOT NULL
        REFERENCES auth.providers (id) ON UPDATE CASCADE ON DELETE RESTRICT,
    provider_user_id text NOT NULL,
    UNIQUE (provider_id, provider_user_id)
);

-- Each row is a signed-in device (rotated in place: same id, new hash) or a personal access
-- token; only the SHA-256 of the token is kept, as `\x` and 64 hex digits.
CREATE TABLE auth.refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON UPDATE CASCADE ON DELETE CASCADE,
    metadata jsonb,
    type text NOT NULL DEFAULT 'regular' CONSTRAINT refresh_tokens_types_fkey
        REFERENCES auth.refresh_token_types (value) ON UPDATE RESTRICT ON DELETE RESTRICT,
    refresh_token_hash varchar(255)
);
CREATE INDEX refresh_tokens_refresh_token_hash_expires_at_user_id_idx
    ON auth.refresh_tokens (refresh_token_hash, expires_at, user_id);
