-- Data protection: phone numbers of SMS second factors are now sealed like the other
-- encrypted fields (`ENCRYPTED_FIELDS` in actors/src/crypto/mod.rs lists
-- `sms_factors.phone`). Nothing looks a user up by their number, so the column keeps
-- its type and only its content changes.

-- Numbers stored in clear before this version are sealed at the next start: clearing
-- the mark makes the start-up pass over values stored in clear run once more, and it
-- seals every value that is not sealed yet (here: the phone numbers).
UPDATE field_encryption SET plaintext_sealed_at = NULL WHERE id = 1;
