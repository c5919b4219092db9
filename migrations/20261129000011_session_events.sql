-- Every instance keeps recently checked sessions in memory (src/auth/session_cache.rs) and
-- drops them when these notifications say they changed: a session deleted (sign-out,
-- revocation, theft, expiry), a user updated or deleted (disabled, banned, roles, password,
-- metadata), an identity linked, moved or unlinked, or a whole table truncated. Triggers, so
-- that no write path (the API, the CLI, another release, hand-written SQL) can forget to tell;
-- enabled ALWAYS, so that they fire under session_replication_role = replica too. NOTIFY is
-- delivered at commit. One fixed channel; the payload starts with the schema, so that
-- installations in other schemas of the same database ignore each other's events.
CREATE FUNCTION notify_session_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hja_sessions', TG_TABLE_SCHEMA || '/s:' || OLD.id::text);
    RETURN NULL;
END $$;

CREATE FUNCTION notify_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hja_sessions', TG_TABLE_SCHEMA || '/u:' || OLD.id::text);
    RETURN NULL;
END $$;

CREATE FUNCTION notify_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('hja_sessions', TG_TABLE_SCHEMA || '/u:' || OLD.user_id::text);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('hja_sessions', TG_TABLE_SCHEMA || '/u:' || NEW.user_id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION notify_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hja_sessions', TG_TABLE_SCHEMA || '/all');
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_session_deleted();
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_changed();
CREATE TRIGGER identities_changed AFTER INSERT OR UPDATE OR DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION notify_identity_changed();
CREATE TRIGGER sessions_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_truncated();
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_truncated();

ALTER TABLE sessions ENABLE ALWAYS TRIGGER sessions_deleted;
ALTER TABLE sessions ENABLE ALWAYS TRIGGER sessions_truncated;
ALTER TABLE users ENABLE ALWAYS TRIGGER users_changed;
ALTER TABLE users ENABLE ALWAYS TRIGGER users_truncated;
ALTER TABLE identities ENABLE ALWAYS TRIGGER identities_changed;
