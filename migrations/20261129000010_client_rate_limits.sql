-- Per-client-address rate limits shared by every instance (GCRA: `tat` is the theoretical
-- arrival time of the next request). Unlogged: fast to write, and losing it in a crash only
-- gives every client a fresh allowance.
CREATE UNLOGGED TABLE client_rate_limits (
    limiter text NOT NULL,
    key     text NOT NULL,
    tat     timestamptz NOT NULL,
    PRIMARY KEY (limiter, key)
);
