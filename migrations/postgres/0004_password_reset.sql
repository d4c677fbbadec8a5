-- Password reset links: random, single-use, short-lived; a new one voids the earlier.
CREATE TABLE password_resets (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    -- SHA-256 (hex) of the link's random token; the token is only in the email.
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- Set when the link is used or voided by a newer one.
    used_at     BIGINT,
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id) ON DELETE CASCADE
);
CREATE INDEX password_resets_user ON password_resets (company_id, user_id);
