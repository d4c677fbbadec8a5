-- Remember-me as its own long-lived token, kept in its own cookie. When the browser comes
-- back without a live session, the token mints a fresh one. It is issued only after the
-- whole sign-in and rotated on every use. The hash it replaced is kept: presented again
-- after a short grace (parallel requests of one browser), it means the token was copied,
-- and the whole chain and its sessions end.

CREATE TABLE remember_tokens (
    company_id    TEXT NOT NULL REFERENCES companies (id),
    -- The chain: stays the same through rotations.
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    -- SHA-256 (hex) of the token the browser holds now.
    token_hash    TEXT NOT NULL UNIQUE,
    -- SHA-256 (hex) of the token before the last rotation, and when it rotated.
    previous_hash TEXT UNIQUE,
    rotated_at    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    -- Fixed at sign-in: rotation does not extend it.
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id) ON DELETE CASCADE
);

CREATE INDEX remember_tokens_user ON remember_tokens (company_id, user_id);

-- The remember-me chain a session was minted from or signed in with, if any.
ALTER TABLE sessions ADD COLUMN remember_id TEXT;
