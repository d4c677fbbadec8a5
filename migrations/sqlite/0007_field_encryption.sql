-- Field encryption. Written content (`reviews.answers`) and secrets (`totp_factors.secret`)
-- now hold sealed values, `v<version>:<base64 of nonce, ciphertext and tag>`, sealed with
-- AES-256-GCM by the server under a key of the keyring, which lives outside the database.
-- The list of encrypted columns is `ENCRYPTED_FIELDS` in actors/src/crypto/mod.rs.

-- One row per key version ever used with this database. The check value is a known text
-- sealed with that key: a keyring holding another key under the same version fails to
-- open it, so a wrong key is refused at start instead of failing at the first read. It
-- tells nothing about the key itself.
CREATE TABLE field_keys (
    version     BIGINT NOT NULL PRIMARY KEY,
    check_value TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- One row. Values written before this migration are in clear; the first start with a
-- keyring seals them and records when, so later starts skip the scan.
CREATE TABLE field_encryption (
    id          BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    plaintext_sealed_at BIGINT
);
INSERT INTO field_encryption (id, plaintext_sealed_at) VALUES (1, NULL);
