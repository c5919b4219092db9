-- Supabase Auth's (GoTrue's) `auth` schema as its migrations leave it at v2.196, written here
-- from those table definitions: the tables and columns the importer reads, or that constrain
-- what GoTrue stores, with their types. Read by the import tests and the import benchmark.
CREATE SCHEMA auth;
CREATE TYPE auth.aal_level AS ENUM ('aal1', 'aal2', 'aal3');
CREATE TYPE auth.factor_type AS ENUM ('totp', 'webauthn', 'phone');
CREATE TYPE auth.factor_status AS ENUM ('unverified', 'verified');
CREATE TABLE auth.users (
    instance_id uuid, id uuid NOT NULL PRIMARY KEY, aud varchar(255), role varchar(255),
    email varchar(255), encrypted_password varchar(255), email_confirmed_at timestamptz,
    invited_at timestamptz, confirmation_token varchar(255), confirmation_sent_at timestamptz,
    recovery_token varchar(255), recovery_sent_at timestamptz,
    email_change_token_new varchar(255), email_change varchar(255),
    email_change_sent_at timestamptz, last_sign_in_at timestamptz, raw_app_meta_data jsonb,
    raw_user_meta_data jsonb, is_super_admin bool, created_at timestamptz,
    updated_at timestamptz, phone text UNIQUE DEFAULT NULL, phone_confirmed_at timestamptz,
    phone_change text DEFAULT '', phone_change_token varchar(255) DEFAULT '',
    phone_change_sent_at timestamptz,
    confirmed_at timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    email_change_token_current varchar(255) DEFAULT '',
    email_change_confirm_status smallint DEFAULT 0, banned_until timestamptz,
    reauthentication_token varchar(255) DEFAULT '', reauthentication_sent_at timestamptz,
    is_sso_user boolean NOT NULL DEFAULT false, deleted_at timestamptz,
    is_anonymous boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE is_sso_user = false;
CREATE TABLE auth.identities (
    provider_id text NOT NULL, user_id uuid NOT NULL REFERENCES auth.users ON DELETE CASCADE,
    identity_data jsonb NOT NULL, provider text NOT NULL, last_sign_in_at timestamptz,
    created_at timestamptz, updated_at timestamptz,
    email text GENERATED ALWAYS AS (lower(identity_data->>'email')) STORED,
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    UNIQUE (provider_id, provider)
);
CREATE TABLE auth.sessions (
    id uuid PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users ON DELETE CASCADE,
    created_at timestamptz, updated_at timestamptz, factor_id uuid, aal auth.aal_level,
    not_after timestamptz, refreshed_at timestamp, user_agent text, ip inet, tag text,
    oauth_client_id uuid, refresh_token_hmac_key text, refresh_token_counter bigint,
    scopes text
);
CREATE TABLE auth.refresh_tokens (
    instance_id uuid, id bigserial PRIMARY KEY, token varchar(255) UNIQUE,
    user_id varchar(255), revoked bool, created_at timestamptz, updated_at timestamptz,
    parent varchar(255), session_id uuid REFERENCES auth.sessions ON DELETE CASCADE
);
CREATE TABLE auth.mfa_factors (
    id uuid PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users ON DELETE CASCADE,
    friendly_name text, factor_type auth.factor_type NOT NULL,
    status auth.factor_status NOT NULL, created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL, secret text, phone text,
    last_challenged_at timestamptz UNIQUE, web_authn_credential jsonb,
    web_authn_aaguid uuid, last_webauthn_challenge_data jsonb
);
CREATE INDEX users_instance_id_idx ON auth.users (instance_id);
CREATE INDEX users_is_anonymous_idx ON auth.users (is_anonymous);
CREATE INDEX identities_user_id_idx ON auth.identities (user_id);
CREATE INDEX sessions_user_id_idx ON auth.sessions (user_id);
CREATE INDEX user_id_created_at_idx ON auth.sessions (user_id, created_at);
CREATE INDEX sessions_not_after_idx ON auth.sessions (not_after DESC);
CREATE INDEX refresh_tokens_instance_id_user_id_idx ON auth.refresh_tokens (instance_id, user_id);
CREATE INDEX refresh_tokens_parent_idx ON auth.refresh_tokens (parent);
CREATE INDEX refresh_tokens_session_id_revoked_idx ON auth.refresh_tokens (session_id, revoked);
CREATE INDEX refresh_tokens_updated_at_idx ON auth.refresh_tokens (updated_at DESC);
CREATE INDEX factor_id_created_at_idx ON auth.mfa_factors (user_id, created_at);
CREATE INDEX mfa_factors_user_id_idx ON auth.mfa_factors (user_id);
