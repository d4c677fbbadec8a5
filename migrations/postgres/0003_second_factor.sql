-- 2-step verification: authenticator apps (TOTP), recovery codes and trusted devices.

-- Where a session stands in sign-in: 'full'; 'second_factor' (password right, code
-- pending); or 'enrollment' (the company requires a factor the user has not set up).
-- Anything but 'full' reaches only the second-factor endpoints.
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
-- Wrong codes entered for this pending sign-in; too many void it.
ALTER TABLE sessions ADD COLUMN factor_failures BIGINT NOT NULL DEFAULT 0;
-- Remember-me as asked for at the password step; granted only once sign-in completes.
ALTER TABLE sessions ADD COLUMN remember_requested BIGINT NOT NULL DEFAULT 0;

CREATE TABLE totp_factors (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    user_id     TEXT NOT NULL,
    -- The shared secret, base32. Limitation: kept in clear until the keyring for
    -- field encryption exists; see the README.
    secret      TEXT NOT NULL,
    -- Zero while the user has not yet proven their app with a code.
    confirmed   BIGINT NOT NULL,
    -- The last time step accepted: a code of that step or an earlier one is a replay.
    last_step   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (company_id, user_id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id) ON DELETE CASCADE
);

CREATE TABLE recovery_codes (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    -- SHA-256 (hex) of the normalized code; the code itself is shown once.
    code_hash   TEXT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL,
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id) ON DELETE CASCADE
);
CREATE INDEX recovery_codes_user ON recovery_codes (company_id, user_id);

-- Browsers whose owner chose "trust this device": their sign-ins skip the code.
CREATE TABLE trusted_devices (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    -- SHA-256 (hex) of the device cookie's random token.
    token_hash  TEXT NOT NULL UNIQUE,
    user_agent  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id) ON DELETE CASCADE
);
CREATE INDEX trusted_devices_user ON trusted_devices (company_id, user_id);
