-- Recovery codes: single-use codes that stand in for a second factor when its device is lost.
-- Only their SHA-256 (with the user's id) is stored: each code carries 80 random bits.
CREATE TABLE mfa_recovery_codes (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz,
    UNIQUE (user_id, code_hash)
);
