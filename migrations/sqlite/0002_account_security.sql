-- Account security: reauthentication, each company's security policy, and the audit
-- trail of sign-ins and account changes.

-- Sensitive actions need the password again; until when (UTC ms) this session may do
-- them. Zero means never reauthenticated.
ALTER TABLE sessions ADD COLUMN elevated_until BIGINT NOT NULL DEFAULT 0;

-- One row per company that changed its policy; companies without a row use the
-- defaults (8 characters, remember-me allowed, no 2-step requirement, any address).
CREATE TABLE security_policies (
    company_id  TEXT NOT NULL PRIMARY KEY REFERENCES companies (id),
    min_password_length BIGINT NOT NULL,
    remember_me_allowed BIGINT NOT NULL,
    second_factor_required BIGINT NOT NULL,
    -- JSON array of CIDR ranges; empty means every address may connect.
    ip_ranges   TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Who did what, from where, when. Never passwords, tokens, codes or written content.
-- `actor_id` is not a foreign key: the trail outlives the users it names.
CREATE TABLE audit_events (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_id   TEXT,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    -- A small JSON object of non-confidential facts (e.g. the reason of a refusal).
    detail      TEXT NOT NULL
);
CREATE INDEX audit_events_company ON audit_events (company_id, at);
