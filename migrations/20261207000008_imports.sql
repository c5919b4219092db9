-- Moving in from another auth server (`hasura-jwt-auth import supabase|nhost`).
-- What each imported user looked like there when last imported, so that a re-run skips the
-- unchanged ones and updates the others.
CREATE TABLE imported_users (
    source      text NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fingerprint bytea NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, user_id)
);
-- The refresh tokens browsers hold from the old server, as SHA-256 only: each is accepted
-- once, for its own session, which then continues on this server's rotation. No foreign key to
-- sessions, so that `TRUNCATE sessions` (signing everyone out by hand) keeps working: a token
-- whose session is gone finds nothing, and housekeeping deletes it.
CREATE TABLE imported_refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL,
    -- When the old server would have stopped taking it (nhost's tokens expire; GoTrue's don't).
    expires_at timestamptz,
    used_at    timestamptz
);
CREATE INDEX imported_refresh_tokens_session_id_idx ON imported_refresh_tokens (session_id);
-- Every session ever imported (kept when the session ends): a re-run never brings back a
-- session, or its token, that ended here.
CREATE TABLE imported_session_ids (
    session_id  uuid PRIMARY KEY,
    imported_at timestamptz NOT NULL DEFAULT now()
);
