-- Every instance keeps recently checked sessions in memory (src/auth/session_cache.rs) and
-- drops them when these notifications say they changed: a session deleted (sign-out,
-- revocation, theft, expiry), a user updated or deleted (disabled, banned, roles, password,
-- metadata), an identity linked or unlinked. Triggers, so that no write path (the API, the
-- CLI, another release, hand-written SQL) can forget to tell. NOTIFY is delivered at commit.
CREATE FUNCTION notify_session_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hja_sessions_' || TG_TABLE_SCHEMA, 's:' || OLD.id::text);
    RETURN NULL;
END $$;

CREATE FUNCTION notify_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hja_sessions_' || TG_TABLE_SCHEMA, 'u:' || OLD.id::text);
    RETURN NULL;
END $$;

CREATE FUNCTION notify_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'hja_sessions_' || TG_TABLE_SCHEMA,
        'u:' || (CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END)::text
    );
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_session_deleted();
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_changed();
CREATE TRIGGER identities_changed AFTER INSERT OR UPDATE OR DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION notify_identity_changed();
