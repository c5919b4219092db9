-- API keys: machines authenticate as a user (optionally acting in an organization) with a
-- subset of that user's roles. The secret is stored only as its SHA-256. A key is revoked by
-- deleting its row; rotating replaces the hash. Either tells every instance's session cache,
-- which keeps keys beside sessions (by id), through the same notification as a deleted
-- session.
CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    roles           text[] NOT NULL CHECK (cardinality(roles) > 0),
    -- The assurance level of the session that created it (2: a second factor was verified).
    aal             smallint NOT NULL CHECK (aal IN (1, 2)),
    secret_hash     bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    rotated_at      timestamptz,
    UNIQUE (user_id, name)
);
CREATE INDEX api_keys_organization_id_idx ON api_keys (organization_id);

CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION notify_session_deleted();
CREATE TRIGGER api_keys_truncated AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_truncated();
ALTER TABLE api_keys ENABLE ALWAYS TRIGGER api_keys_changed;
ALTER TABLE api_keys ENABLE ALWAYS TRIGGER api_keys_truncated;
