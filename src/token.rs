//! Session tokens: 256 random bits for the cookie, and the hash that is stored instead.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// A new random token (32 bytes from the OS generator, base64url, 43 characters).
pub fn new_token() -> String {
    // The thread generator is a CSPRNG seeded and periodically reseeded from the OS.
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token: SHA-256, hex. A database leak gives no usable cookie, and
/// a fast hash is enough because the token has 256 bits of entropy.
pub fn hash_token(token: &str) -> String {
    kaizen_actors::db::sha256_hex(token)
}

/// Whether `text` looks like a token this server issued, before any lookup is spent on it.
pub fn is_well_formed(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_well_formed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(is_well_formed(&a) && is_well_formed(&b));
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
