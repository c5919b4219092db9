-- Failed password checks per account (per email address, whether or not an account has it),
-- shared by every instance: after a few consecutive failures the address is locked for a
-- growing time. The address is kept only as its SHA-256, so addresses that belong to nobody
-- are not stored in the clear.
CREATE TABLE sign_in_attempts (
    account_key     bytea PRIMARY KEY,
    failures        integer NOT NULL,
    last_failure_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz
);
CREATE INDEX sign_in_attempts_last_failure_at_idx ON sign_in_attempts (last_failure_at);
