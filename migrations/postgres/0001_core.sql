-- The walking skeleton's schema: companies, their users and sessions, review cycles and
-- reviews, and the security events the company guard records.
--
-- Every company-owned table carries `company_id NOT NULL`, every lookup index starts with
-- it, and references between company-owned rows are composite `(company_id, id)` foreign
-- keys, so the database itself refuses a row that points into another company. The actor's
-- own check of every row it reads is the first wall; these keys are the second.
--
-- Identifiers are random UUIDs stored as text (nothing to enumerate, identical on SQLite
-- and PostgreSQL); times are UTC milliseconds since the Unix epoch.

CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    -- The short name people type at sign-in ("acme"); lowercase ASCII, unique.
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    -- Off by default: the operator switches XML export on per company.
    xml_export_enabled BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    -- Stored lowercased, so uniqueness per company is case-insensitive.
    email       TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- The stored role; "manager" is not stored but derived from reporting lines.
    role        TEXT NOT NULL CHECK (role IN ('employee', 'hr_admin', 'hr_assistant')),
    manager_id  TEXT,
    -- NULL for users who cannot sign in with a password (not yet invited, SSO only).
    password_hash TEXT,
    disabled    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    UNIQUE (company_id, id),
    UNIQUE (company_id, email),
    FOREIGN KEY (company_id, manager_id) REFERENCES users (company_id, id)
);
CREATE INDEX users_manager ON users (company_id, manager_id);

CREATE TABLE sessions (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    -- SHA-256 of the cookie's random token, hex; the token itself is never stored.
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- Remember-me sessions outlive the browser and have no idle timeout of their own.
    remember_me BIGINT NOT NULL DEFAULT 0,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (company_id, user_id);

CREATE TABLE cycles (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    due_at      BIGINT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (company_id, id),
    FOREIGN KEY (company_id, created_by) REFERENCES users (company_id, id)
);
CREATE INDEX cycles_company ON cycles (company_id, created_at);

CREATE TABLE questions (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    cycle_id    TEXT NOT NULL,
    position    BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('text', 'rating')),
    prompt      TEXT NOT NULL,
    FOREIGN KEY (company_id, cycle_id) REFERENCES cycles (company_id, id)
);
CREATE INDEX questions_cycle ON questions (company_id, cycle_id, position);

CREATE TABLE reviews (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    cycle_id    TEXT NOT NULL,
    reviewee_id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('self', 'manager')),
    status      TEXT NOT NULL
        CHECK (status IN ('not_started', 'draft', 'submitted', 'shared', 'signed')),
    -- JSON object of question id to answer. Written content: encrypted per field once the
    -- keyring lands (see README, known limitations).
    answers     TEXT NOT NULL,
    -- Optimistic concurrency: every save must name the version it was based on.
    version     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    submitted_at BIGINT,
    UNIQUE (company_id, id),
    FOREIGN KEY (company_id, cycle_id) REFERENCES cycles (company_id, id),
    FOREIGN KEY (company_id, reviewee_id) REFERENCES users (company_id, id),
    FOREIGN KEY (company_id, reviewer_id) REFERENCES users (company_id, id)
);
CREATE INDEX reviews_cycle ON reviews (company_id, cycle_id, kind, status);
CREATE INDEX reviews_reviewer ON reviews (company_id, reviewer_id);
CREATE INDEX reviews_reviewee ON reviews (company_id, reviewee_id);

-- Attempts to cross a company boundary and other events the operator must see. The
-- company is nullable: an event may concern a request that named no valid company.
CREATE TABLE security_events (
    id          TEXT NOT NULL PRIMARY KEY,
    company_id  TEXT REFERENCES companies (id),
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX security_events_company ON security_events (company_id, created_at);
