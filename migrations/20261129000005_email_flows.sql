-- Email flows: confirmation, recovery, sign-in links and codes, email change, invitations.

-- Everyone who signed up before confirmation existed counts as confirmed.
ALTER TABLE users ADD COLUMN email_confirmed_at timestamptz;
ALTER TABLE users ADD COLUMN invited_at timestamptz;
-- An address waiting for its confirmation (email change), and which of its confirmations
-- arrived (the new address's, and in secure mode the current address's).
ALTER TABLE users ADD COLUMN email_change text;
ALTER TABLE users ADD COLUMN email_change_confirmed_new boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN email_change_confirmed_current boolean NOT NULL DEFAULT false;
UPDATE users SET email_confirmed_at = created_at;

-- One-time tokens sent by email: a link token (256 random bits) and a 6-digit code, both
-- stored only as SHA-256 hashes. One live token per user and kind: a new one replaces it.
CREATE TABLE one_time_tokens (
    id                    uuid PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                  text NOT NULL,
    token_hash            bytea NOT NULL UNIQUE,
    code_hash             bytea NOT NULL,
    recipient             text NOT NULL,
    redirect_to           text,
    code_challenge        text,
    code_challenge_method text,
    code_attempts         integer NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    code_expires_at       timestamptz NOT NULL,
    UNIQUE (user_id, kind)
);
CREATE INDEX one_time_tokens_recipient_idx ON one_time_tokens (lower(recipient), kind);

-- Messages waiting for delivery, written in the same transaction as the token they carry.
-- A delivered message is deleted: its body holds a usable token.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    text_body       text NOT NULL,
    html_body       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX outbox_next_attempt_at_idx ON outbox (next_attempt_at);

-- Messages sent per recipient (by SHA-256 of the address), for the per-address limits.
CREATE TABLE email_send_limits (
    recipient_key   bytea PRIMARY KEY,
    last_sent_at    timestamptz NOT NULL,
    window_start    timestamptz NOT NULL,
    sent_in_window  integer NOT NULL
);

-- PKCE authorization codes (RFC 7636): exchanged once, shortly, for a session.
CREATE TABLE auth_codes (
    code_hash             bytea PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_challenge        text NOT NULL,
    code_challenge_method text NOT NULL,
    authentication_method text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL
);
