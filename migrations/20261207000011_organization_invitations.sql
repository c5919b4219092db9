-- Invitations to join an organization, sent by email. The link's token is stored only as its
-- SHA-256. One invitation per organization and address: inviting again replaces it (and so
-- voids the earlier link). Accepted invitations are kept (who accepted, when) until
-- housekeeping drops them with the expired ones.
CREATE TABLE organization_invitations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL,
    roles           text[] NOT NULL CHECK (cardinality(roles) > 0),
    token_hash      bytea NOT NULL UNIQUE,
    invited_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (organization_id, email)
);
CREATE INDEX organization_invitations_email_idx ON organization_invitations (email);
