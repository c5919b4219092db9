-- Anonymous users (POST /signup with nothing): no address until they add and prove one. Their
-- address is '' meanwhile, which the unique index leaves out.
ALTER TABLE users ADD COLUMN is_anonymous boolean NOT NULL DEFAULT false;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email <> '';
-- For the cleanup of anonymous users who never converted.
CREATE INDEX users_anonymous_created_at_idx ON users (created_at) WHERE is_anonymous;
