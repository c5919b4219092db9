-- Passkeys (WebAuthn credentials) that sign a user in without a password, and the challenges
-- of registrations and sign-ins under way (single-use, five minutes).
CREATE TABLE passkeys (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The authenticator's credential id: unique across every user.
    credential_id bytea NOT NULL UNIQUE,
    -- The public key, its algorithm and the signature counter (webauthn-rs's `Passkey`).
    credential    jsonb NOT NULL,
    friendly_name text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

CREATE TABLE webauthn_challenges (
    id         uuid PRIMARY KEY,
    -- The user registering (none for a sign-in: the passkey names its user).
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('registration', 'authentication')),
    -- What webauthn-rs needs to finish the ceremony (the challenge itself among it).
    state      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webauthn_challenges_created_at_idx ON webauthn_challenges (created_at);
