-- The audit trail is append-only: the database itself refuses to change or remove an
-- event, whatever the code above it does. Wiping a company's content therefore leaves
-- its trail (and the record of the wipe) in place, as it must; nothing in Kaizen ever
-- updates or deletes an audit event.

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- Browsing filters by person: the actor or the target of an event, newest first.
-- (company_id, at) exists since 0002 and serves the time range and paging.
CREATE INDEX IF NOT EXISTS audit_events_company ON audit_events (company_id, at);
CREATE INDEX audit_events_actor ON audit_events (company_id, actor_id, at);
CREATE INDEX audit_events_target ON audit_events (company_id, target_id, at);
