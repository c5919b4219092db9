-- The organization a session acts in (`POST /organizations/{id}/activate`): its id and the
-- member's roles there go into the session's Hasura claims, read afresh at every refresh and
-- by the webhook. Deleting the organization clears it.
ALTER TABLE sessions
    ADD COLUMN organization_id uuid REFERENCES organizations (id) ON DELETE SET NULL;

-- A membership changed (roles granted or taken, a member removed): the member's cached
-- sessions are dropped on every instance, as for a change of the user row, so the webhook
-- sees it at once. notify_identity_changed() notifies the user of the row's `user_id`, old and
-- new, whatever the table.
CREATE TRIGGER organization_members_changed AFTER INSERT OR UPDATE OR DELETE
    ON organization_members FOR EACH ROW EXECUTE FUNCTION notify_identity_changed();
CREATE TRIGGER organization_members_truncated AFTER TRUNCATE ON organization_members
    FOR EACH STATEMENT EXECUTE FUNCTION notify_truncated();
ALTER TABLE organization_members ENABLE ALWAYS TRIGGER organization_members_changed;
ALTER TABLE organization_members ENABLE ALWAYS TRIGGER organization_members_truncated;

-- A session switched to another organization: its cached entry is dropped (the same event as
-- a session ended: the next check reads the session again).
CREATE TRIGGER sessions_switched AFTER UPDATE OF organization_id ON sessions
    FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION notify_session_deleted();
ALTER TABLE sessions ENABLE ALWAYS TRIGGER sessions_switched;
