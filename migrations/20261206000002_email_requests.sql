-- Requests for a message to an address that may or may not have an account (recovery, a
-- sign-in link, a resend). The request is stored and answered at once, the same way whether
-- or not the address has an account; a worker then looks the address up and queues the
-- message (src/auth/email/queue.rs). Stored, so a request accepted survives a crash.
CREATE TABLE email_requests (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    email           text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_requests_next_attempt_at_idx ON email_requests (next_attempt_at);
