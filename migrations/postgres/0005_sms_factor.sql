-- SMS codes as a second factor: a verified phone number per user, and the code sent for
-- one pending sign-in.

CREATE TABLE sms_factors (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    user_id     TEXT NOT NULL,
    -- E.164, e.g. +15551234567.
    phone       TEXT NOT NULL,
    -- Zero until the user proves the number with the code sent to it.
    confirmed   BIGINT NOT NULL,
    -- SHA-256 (hex) of the enrollment code while the number is unconfirmed.
    code_hash   TEXT,
    code_expires_at BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (company_id, user_id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id) ON DELETE CASCADE
);

-- The SMS code sent for this pending sign-in (hashed), and until when it works. A code
-- belongs to one sign-in attempt and is spent or replaced by the next one.
ALTER TABLE sessions ADD COLUMN sms_code_hash TEXT;
ALTER TABLE sessions ADD COLUMN sms_code_expires_at BIGINT NOT NULL DEFAULT 0;
