-- Wiping a company's content: the one-time master passwords the operator issues for
-- companies older than four weeks, and requests waiting for a second admin.

CREATE TABLE wipe_passwords (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL,
    -- SHA-256 (hex) of the random password; the password itself is shown once.
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- Set when spent; a spent password never works again.
    used_at     BIGINT,
    PRIMARY KEY (company_id, id)
);

CREATE TABLE wipe_requests (
    company_id   TEXT NOT NULL REFERENCES companies (id),
    id           TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    -- A second admin must confirm before this.
    expires_at   BIGINT NOT NULL,
    -- pending, done or expired.
    status       TEXT NOT NULL CHECK (status IN ('pending', 'done', 'expired')),
    confirmed_by TEXT,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, requested_by) REFERENCES users (company_id, id)
);
