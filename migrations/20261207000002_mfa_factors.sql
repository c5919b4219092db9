-- Second factors (TOTP authenticator apps), their challenges, and which factor raised a
-- session to aal2.

CREATE TABLE mfa_factors (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friendly_name  text NOT NULL DEFAULT '',
    factor_type    text NOT NULL CHECK (factor_type IN ('totp')),
    status         text NOT NULL DEFAULT 'unverified' CHECK (status IN ('unverified', 'verified')),
    -- The TOTP secret, encrypted (AES-256-GCM) with AUTH_MFA_KEY and bound to the factor's
    -- id: a dump of this table alone yields no secret.
    secret         bytea NOT NULL,
    -- The last time step whose code was accepted: a code is accepted once, and never one of
    -- an earlier step.
    last_used_step bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_factors_user_id_idx ON mfa_factors (user_id);
-- Names are unique per user when given (Supabase Auth's rule).
CREATE UNIQUE INDEX mfa_factors_user_name_idx ON mfa_factors (user_id, friendly_name)
    WHERE friendly_name <> '';

-- A challenge is answered from the address that asked for it, once, before it expires.
CREATE TABLE mfa_challenges (
    id          uuid PRIMARY KEY,
    factor_id   uuid NOT NULL REFERENCES mfa_factors (id) ON DELETE CASCADE,
    ip          text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    verified_at timestamptz
);
CREATE INDEX mfa_challenges_factor_id_idx ON mfa_challenges (factor_id);

-- The factor that raised a session to aal2: removing the factor brings the session back to
-- aal1.
ALTER TABLE sessions ADD COLUMN factor_id uuid REFERENCES mfa_factors (id) ON DELETE SET NULL;
CREATE INDEX sessions_factor_id_idx ON sessions (factor_id) WHERE factor_id IS NOT NULL;

-- User payloads list the factors, so the session caches hear of their changes as of an
-- identity's (see …_session_events.sql).
CREATE TRIGGER mfa_factors_changed AFTER INSERT OR UPDATE OR DELETE ON mfa_factors
    FOR EACH ROW EXECUTE FUNCTION notify_identity_changed();
CREATE TRIGGER mfa_factors_truncated AFTER TRUNCATE ON mfa_factors
    FOR EACH STATEMENT EXECUTE FUNCTION notify_truncated();
ALTER TABLE mfa_factors ENABLE ALWAYS TRIGGER mfa_factors_changed;
ALTER TABLE mfa_factors ENABLE ALWAYS TRIGGER mfa_factors_truncated;
