-- Users imported from another system keep their old id here, so app tables that referenced
-- it can be migrated (see README, "Migrating from the PL/pgSQL hasura-jwt-auth").
CREATE TABLE legacy_user_ids (
    source     text NOT NULL,
    legacy_id  text NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, legacy_id)
);
CREATE INDEX legacy_user_ids_user_id_idx ON legacy_user_ids (user_id);
CREATE INDEX audit_log_event_idx ON audit_log (event);
