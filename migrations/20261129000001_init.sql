-- Initial schema. Every statement uses unqualified names: the server runs migrations with
-- `search_path` set to its own schema (default `auth`), so the tables land there.

-- Users: meant to be tracked by Hasura so app tables can reference `users.id`.
-- It deliberately holds no secret: password hashes live in `user_passwords`.
CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    banned_until    timestamptz,
    default_role    text NOT NULL,
    allowed_roles   text[] NOT NULL,
    user_metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
    app_metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_sign_in_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_lowercase CHECK (email = lower(email)),
    CONSTRAINT users_default_role_allowed CHECK (default_role = ANY (allowed_roles)),
    CONSTRAINT users_allowed_roles_not_empty CHECK (cardinality(allowed_roles) > 0)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Password hashes (PHC strings: Argon2id, or imported bcrypt / legacy schemes).
CREATE TABLE user_passwords (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Sessions: one per sign-in. The refresh token is never stored; only the SHA-256 of the
-- current one, plus the per-session salt that chains each token to the next (see
-- src/auth/refresh.rs and docs/refresh-tokens.md).
CREATE TABLE sessions (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_counter    bigint NOT NULL DEFAULT 0,
    token_hash       bytea NOT NULL,
    token_salt       bytea NOT NULL,
    -- when the current token was issued (so when its predecessor was superseded)
    rotated_at       timestamptz NOT NULL DEFAULT now(),
    -- when the previous token was issued (so when the one before it was superseded)
    prev_rotated_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    refreshed_at     timestamptz NOT NULL DEFAULT now(),
    user_agent       text,
    ip               text
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Audit log: security events. Never holds a secret.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    event      text NOT NULL,
    user_id    uuid,
    session_id uuid,
    ip         text,
    user_agent text,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);
CREATE INDEX audit_log_user_id_idx ON audit_log (user_id);
