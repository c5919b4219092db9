-- The id of the HTTP request that caused an audit entry (X-Request-Id, also in every log line
-- of that request), to find its log lines; NULL for entries written by the CLI.
ALTER TABLE audit_log ADD COLUMN request_id text;
