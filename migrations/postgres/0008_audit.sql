-- The audit trail is append-only: the database itself refuses to change or remove an
-- event, whatever the code above it does. Wiping a company's content therefore leaves
-- its trail (and the record of the wipe) in place, as it must; nothing in Kaizen ever
-- updates or deletes an audit event.

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Browsing filters by person: the actor or the target of an event, newest first.
-- (company_id, at) exists since 0002 and serves the time range and paging.
CREATE INDEX IF NOT EXISTS audit_events_company ON audit_events (company_id, at);
CREATE INDEX audit_events_actor ON audit_events (company_id, actor_id, at);
CREATE INDEX audit_events_target ON audit_events (company_id, target_id, at);
