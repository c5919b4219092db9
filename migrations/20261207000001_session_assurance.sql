-- How sure a session is of who holds it: its authenticator assurance level (1 after one
-- factor, 2 after a second) and how it got there (the `amr` claim of its access tokens:
-- `[{"method": ..., "timestamp": ...}]`, newest first). Sessions opened before this migration
-- were opened with one factor.
ALTER TABLE sessions
    ADD COLUMN aal smallint NOT NULL DEFAULT 1 CHECK (aal IN (1, 2)),
    ADD COLUMN amr jsonb NOT NULL DEFAULT '[]'::jsonb;
