-- Data protection: phone numbers of SMS second factors are now sealed like the other
-- encrypted fields (`ENCRYPTED_FIELDS` in actors/src/crypto/mod.rs lists
-- `sms_factors.phone`). Nothing looks a user up by their number, so the column keeps
-- its type and only its content changes.

-- Numbers stored in clear before this version are sealed at the next start: clearing
-- the mark makes the start-up pass over values stored in clear run once more, and it
-- seals every value that is not sealed yet (here: the phone numbers).
UPDATE field_encryption SET plaintext_sealed_at = NULL WHERE id = 1;

-- The people who run the installation: operators and support. They belong to no
-- company, sign in under /api/v1/installation and never reach a company's routes.
CREATE TABLE staff (
    id            TEXT NOT NULL PRIMARY KEY,
    -- Stored lowercased; one account per address across the installation.
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    -- 'support' sees companies' counts, cycle names and audit trails; 'operator' also
    -- switches XML export, issues wipe passwords and takes backups.
    role          TEXT NOT NULL CHECK (role IN ('operator', 'support')),
    -- bcrypt of the HMAC pre-hash, as for users.
    password_hash TEXT NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE staff_sessions (
    id           TEXT NOT NULL PRIMARY KEY,
    staff_id     TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    -- SHA-256 (hex) of the cookie's random token; the token itself is never stored.
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- Absolute end; staff sessions are short and never remembered.
    expires_at   BIGINT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
