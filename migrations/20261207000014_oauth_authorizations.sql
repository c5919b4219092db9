-- The OAuth 2.1 provider's flow: a client's Hasura roles, authorization requests and their
-- codes, the consent a user gave each client, and the sessions a client holds.

-- The Hasura roles a client may act in, at most (those the user also has). NULL: only the
-- user's default role.
ALTER TABLE oauth_clients ADD COLUMN allowed_roles text[];

-- One authorization request (`GET /oauth/authorize`), from its start to its code's use. The
-- code is stored only as its SHA-256. `session_id` is the session its code opened, so that a
-- replayed code revokes it.
CREATE TABLE oauth_authorizations (
    id                    uuid PRIMARY KEY,
    client_id             uuid NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    redirect_uri          text NOT NULL,
    -- Whether the request named its redirect URI (then the code exchange must name it too).
    redirect_uri_given    boolean NOT NULL,
    scopes                text[] NOT NULL,
    state                 text,
    nonce                 text,
    code_challenge        text NOT NULL,
    resource              text,
    -- The user who answers it (bound when they first see it).
    user_id               uuid REFERENCES users (id) ON DELETE CASCADE,
    status                text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'denied')),
    -- What was granted: the roles (those of the client's the user had), and the assurance of
    -- the session that approved.
    roles                 text[],
    aal                   smallint,
    amr                   jsonb,
    auth_time             timestamptz,
    code_hash             bytea UNIQUE,
    used_at               timestamptz,
    session_id            uuid,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL
);
CREATE INDEX oauth_authorizations_expires_idx ON oauth_authorizations (expires_at);
CREATE INDEX oauth_authorizations_client_idx ON oauth_authorizations (client_id);
CREATE INDEX oauth_authorizations_user_idx ON oauth_authorizations (user_id);

-- A user's consent to a client: the scopes, roles and resources granted, remembered so that
-- the next request for no more is answered without asking. Revoking it ends the client's
-- sessions.
CREATE TABLE oauth_grants (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  uuid NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL,
    roles      text[] NOT NULL,
    resources  text[] NOT NULL DEFAULT '{}',
    granted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oauth_grants_client_idx ON oauth_grants (client_id);

-- A session opened for a client by a code exchange: its scopes, the roles its tokens may
-- carry at most and the resource (RFC 8707) its tokens are for.
-- Deleting the client ends them (and notifies, like any deleted session).
ALTER TABLE sessions
    ADD COLUMN oauth_client_id uuid REFERENCES oauth_clients (id) ON DELETE CASCADE,
    ADD COLUMN oauth_scopes text[],
    ADD COLUMN oauth_roles text[],
    ADD COLUMN oauth_resource text;
CREATE INDEX sessions_oauth_client_idx ON sessions (oauth_client_id, user_id)
    WHERE oauth_client_id IS NOT NULL;
