//! Password hashing with bcrypt, run on the blocking pool and never truncated.
//!
//! bcrypt reads at most 72 bytes, so two long passwords sharing their first 72 bytes
//! would both work. Every password is therefore first reduced to a fixed-length digest
//! (HMAC-SHA-256 under a constant Kaizen key, base64: 44 bytes), which bcrypt then hashes
//! whole. The keyed digest keeps these hashes from being matched against unsalted
//! SHA-256 lists from other breaches.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Semaphore;

/// The domain-separation key of the pre-hash. Not a secret: its job is to make the digest
/// specific to Kaizen, and changing it would invalidate every stored password.
const PREHASH_KEY: &[u8] = b"kaizen password prehash v1";

/// The longest password accepted, in bytes; beyond it hashing is only a way to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 4096;

fn prehash(password: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(PREHASH_KEY) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(password.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Runs bcrypt off the async runtime, at most one job per core at a time, so that a
/// storm of sign-ins queues here instead of starving every other request of CPU.
#[derive(Clone)]
pub struct Hasher {
    cost: u32,
    permits: Arc<Semaphore>,
}

/// A hash of an unguessable random password, checked when the user does not exist so
/// that a wrong email costs the same time as a wrong password.
fn decoy(cost: u32) -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let secret = crate::token::new_token();
        bcrypt::hash(prehash(&secret), cost).unwrap_or_default()
    })
}

impl Hasher {
    /// A hasher with the given bcrypt cost (at least 10).
    pub fn new(cost: u32) -> Hasher {
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        Hasher {
            cost: cost.max(10),
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let input = prehash(password);
        let cost = self.cost;
        let _permit = self.permits.acquire().await?;
        let hash = tokio::task::spawn_blocking(move || bcrypt::hash(input, cost)).await??;
        Ok(hash)
    }

    /// Checks a password against a stored hash, or against a decoy when there is none, so
    /// that both cases take the same time. Answers false for a missing hash.
    pub async fn verify(&self, password: &str, stored: Option<String>) -> bool {
        let input = prehash(password);
        let cost = self.cost;
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let checked = tokio::task::spawn_blocking(move || match stored {
            Some(hash) => bcrypt::verify(input, &hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(input, decoy(cost));
                false
            }
        })
        .await;
        checked.unwrap_or(false)
    }

    /// Computes the decoy hash now, so the first sign-in of an unknown user is not
    /// answered faster than later ones.
    pub async fn warm_up(&self) {
        let cost = self.cost;
        let _ = tokio::task::spawn_blocking(move || decoy(cost).len()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_longer_than_72_bytes_are_not_truncated() {
        let hasher = Hasher::new(10);
        let base = "x".repeat(80);
        let hash = hasher.hash(&format!("{base}a")).await.unwrap();
        assert!(hasher.verify(&format!("{base}a"), Some(hash.clone())).await);
        assert!(!hasher.verify(&format!("{base}b"), Some(hash)).await);
    }

    #[tokio::test]
    async fn a_missing_hash_never_verifies() {
        assert!(!Hasher::new(10).verify("anything", None).await);
    }
}
