-- WebAuthn credentials (security keys, platform authenticators) as second factors: a factor
-- holds its credential instead of a TOTP secret, and a challenge holds the ceremony's state.
ALTER TABLE mfa_factors DROP CONSTRAINT mfa_factors_factor_type_check;
ALTER TABLE mfa_factors
    ADD CONSTRAINT mfa_factors_factor_type_check CHECK (factor_type IN ('totp', 'webauthn')),
    ALTER COLUMN secret DROP NOT NULL,
    ADD COLUMN webauthn_credential jsonb;
ALTER TABLE mfa_challenges ADD COLUMN webauthn_state jsonb;
