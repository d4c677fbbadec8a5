//! Password hashing with bcrypt, run on the blocking pool and never truncated.
//!
//! bcrypt reads at most 72 bytes, so two long passwords sharing their first 72 bytes
//! would both work. Every password is therefore first reduced to a fixed-length digest
//! (HMAC-SHA-256 under a constant Kaizen key, base64: 44 bytes), which bcrypt then hashes
//! whole. The keyed digest keeps these hashes from being matched against unsalted
//! SHA-256 lists from other breaches.

use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};
use unicode_normalization::UnicodeNormalization;

/// The domain-separation key of the pre-hash. Not a secret: its job is to make the digest
/// specific to Kaizen, and changing it would invalidate every stored password.
const PREHASH_KEY: &[u8] = b"kaizen password prehash v1";

/// The longest password accepted, in bytes; beyond it hashing is only a way to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 4096;

fn prehash(password: &str) -> String {
    // The same password typed on two systems may arrive composed or decomposed (é as
    // one code point or two); NFC makes them one password.
    let password: String = password.nfc().collect();
    let mut mac = match Hmac::<Sha256>::new_from_slice(PREHASH_KEY) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(password.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Runs bcrypt on its own worker threads, one per core, at a lowered CPU priority.
///
/// bcrypt is slow on purpose. On the async runtime it would stall every request; on
/// tokio's blocking pool a sign-in storm would start a thread per attempt and compete
/// with the runtime's threads for the cores. Here attempts queue for a fixed set of
/// workers that the kernel schedules after everything else, so a storm uses idle CPU
/// only and live updates keep flowing.
#[derive(Clone)]
pub struct Hasher {
    cost: u32,
    jobs: mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Sign-ins that may wait for a worker before callers wait to enqueue.
const QUEUE: usize = 1024;

/// How much lower than the rest of the server the workers run (nice value).
const NICENESS: i32 = 10;

/// A hash of an unguessable random password, checked when the user does not exist so
/// that a wrong email costs the same time as a wrong password.
fn decoy(cost: u32) -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let secret = crate::token::new_token();
        bcrypt::hash(prehash(&secret), cost).unwrap_or_default()
    })
}

/// Lowers the calling thread's scheduling priority. On Linux `nice` applies to the
/// calling thread only, which is what the workers want.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: nice(2) takes a plain integer and touches no memory of ours.
    unsafe {
        libc::nice(NICENESS);
    }
}

impl Hasher {
    /// A hasher with the given bcrypt cost (at least 10) and one worker per core.
    pub fn new(cost: u32) -> anyhow::Result<Hasher> {
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..cores {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("kaizen-bcrypt-{n}"))
                .spawn(move || {
                    lower_priority();
                    // One worker at a time waits on the queue; the others wait for the lock.
                    // The loop ends when every Hasher is dropped and the queue closes.
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.blocking_recv());
                        let Some(job) = next else { break };
                        job();
                    }
                })?;
        }
        Ok(Hasher {
            cost: cost.max(10),
            jobs,
        })
    }

    /// Runs `work` on a worker and waits for its result.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(work());
        });
        self.jobs.send(job).await.ok()?;
        answer.await.ok()
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let input = prehash(password);
        let cost = self.cost;
        let hashed = self.run(move || bcrypt::hash(input, cost)).await;
        Ok(hashed.ok_or_else(|| anyhow::anyhow!("the password workers stopped"))??)
    }

    /// Checks a password against a stored hash, or against a decoy when there is none, so
    /// that both cases take the same time. Answers false for a missing hash.
    pub async fn verify(&self, password: &str, stored: Option<String>) -> bool {
        let input = prehash(password);
        let cost = self.cost;
        let checked = self
            .run(move || match stored {
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
        let _ = self.run(move || decoy(cost).len()).await;
    }
}

/// The lowest strength score (0–4, zxcvbn's scale) a new password may have: 2 means
/// "somewhat guessable", safe from online guessing with rate limits in place.
pub const MIN_STRENGTH: u8 = 2;

/// How many characters of a password the strength estimate looks at. The estimate grows
/// quickly with length, and anything this long is strong unless it repeats itself,
/// which the first characters show.
const STRENGTH_WINDOW: usize = 64;

/// A password's strength: a score from 0 (guessed at once) to 4 (very unguessable), and
/// what would make it better.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Strength {
    /// 0 to 4.
    pub score: u8,
    /// Why it is weak, and what to do instead.
    pub feedback: StrengthFeedback,
}

/// Advice for a better password.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct StrengthFeedback {
    /// The main problem, if any.
    pub warning: Option<String>,
    /// Ways to a stronger password.
    pub suggestions: Vec<String>,
}

/// Estimates a password's strength, counting the user's own details (`context`: their
/// name, email, company) as the first things an attacker tries. CPU-bound for long
/// inputs: call it on the blocking pool.
pub fn strength(password: &str, context: &[&str]) -> Strength {
    let window: String = password.chars().take(STRENGTH_WINDOW).collect();
    if window.is_empty() {
        let warning = Some("Type a password.".to_owned());
        return Strength {
            score: 0,
            feedback: StrengthFeedback {
                warning,
                suggestions: vec![],
            },
        };
    }
    let words: Vec<&str> = context
        .iter()
        .flat_map(|item| item.split(|c: char| !c.is_alphanumeric()))
        .filter(|word| word.chars().count() >= 3)
        .chain(context.iter().copied())
        .collect();
    // Built from the user's own details: as weak as the server's rule says it is.
    if uses_own_details(password, context) {
        let warning = Some("Do not build it from your name, email or company.".to_owned());
        let suggestions = vec!["Use a few unrelated words instead.".to_owned()];
        return Strength {
            score: 0,
            feedback: StrengthFeedback {
                warning,
                suggestions,
            },
        };
    }
    let entropy = zxcvbn::zxcvbn(&window, &words);
    let feedback = entropy
        .feedback()
        .map(|f| StrengthFeedback {
            warning: f.warning().map(|w| w.to_string()),
            suggestions: f.suggestions().iter().map(ToString::to_string).collect(),
        })
        .unwrap_or_default();
    Strength {
        score: u8::from(entropy.score()),
        feedback,
    }
}

/// Whether the password contains a word (four characters or more) of the user's name,
/// email or company, ignoring case and spaces.
fn uses_own_details(password: &str, context: &[&str]) -> bool {
    let folded: String = password
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    context
        .iter()
        .flat_map(|item| item.split(|c: char| !c.is_alphanumeric()))
        .map(str::to_lowercase)
        .filter(|word| word.chars().count() >= 4)
        .any(|word| folded.contains(&word))
}

/// Passwords too common to allow, whatever their length: the most used passwords of
/// public breach lists and obvious variants. Compared case-insensitively.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "12341234",
    "11111111",
    "00000000",
    "87654321",
    "88888888",
    "qwertyui",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "zaq12wsx",
    "asdfghjkl",
    "asdfasdf",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "starwars",
    "trustno1",
    "whatever",
    "welcome1",
    "welcome123",
    "letmein1",
    "letmein123",
    "abc12345",
    "abcd1234",
    "abcdefgh",
    "aa123456",
    "changeme",
    "changeme1",
    "computer",
    "internet",
    "monkey123",
    "dragon123",
    "michelle",
    "jennifer",
    "football1",
    "shadow123",
    "master123",
    "mustang1",
    "liverpool",
    "chelsea1",
    "samsung1",
    "qazwsxedc",
    "zxcvbnm1",
    "access14",
    "secret123",
    "admin123",
    "administrator",
    "adminadmin",
    "rootroot",
    "test1234",
    "testtest",
    "summer2024",
    "summer2025",
    "summer2026",
    "winter2025",
    "winter2026",
    "spring2026",
    "autumn2026",
    "company1",
    "company123",
    "kaizen123",
    "kaizenkaizen",
    "correcthorsebatterystaple",
    "passwordpassword",
    "qwertyqwerty",
    "1234qwer",
];

/// Checks a new password against the company's minimum length, the upper bound and
/// the list of common passwords, and against the user's own details (`context`: name,
/// email, company), which an attacker would try first. No composition rules: length
/// and unpredictability are what count.
pub fn check_new_password(
    password: &str,
    min_chars: usize,
    context: &[&str],
) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < min_chars {
        return Err(format!("use at least {min_chars} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("use at most {MAX_PASSWORD_BYTES} bytes"));
    }
    let folded: String = password
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if COMMON.contains(&folded.as_str()) {
        return Err("this password is one of the most common ones; choose another".into());
    }
    if uses_own_details(password, context) {
        return Err("do not build the password from your name, email or company".into());
    }
    if password
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len()
        < 3
    {
        return Err("use more than a couple of different characters".into());
    }
    let judged = strength(password, context);
    if judged.score < MIN_STRENGTH {
        let feedback = judged.feedback;
        let advice = feedback
            .warning
            .or_else(|| feedback.suggestions.first().cloned());
        let advice = advice.unwrap_or_else(|| "add a few more uncommon words".into());
        return Err(format!("this password is too easy to guess: {advice}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_longer_than_72_bytes_are_not_truncated() {
        let hasher = Hasher::new(10).unwrap();
        let base = "x".repeat(80);
        let hash = hasher.hash(&format!("{base}a")).await.unwrap();
        assert!(hasher.verify(&format!("{base}a"), Some(hash.clone())).await);
        assert!(!hasher.verify(&format!("{base}b"), Some(hash)).await);
    }

    #[test]
    fn new_passwords_are_judged_by_length_commonness_and_context() {
        let context = ["Ada Lovelace", "ada@acme.example", "acme"];
        assert!(check_new_password("short", 8, &context).is_err());
        assert!(check_new_password("Password123", 8, &context).is_err());
        assert!(check_new_password("lovelace-rules-ok", 8, &context).is_err());
        assert!(check_new_password("aaaaaaaaaaaa", 8, &context).is_err());
        assert!(check_new_password("tide pool lantern 42", 8, &context).is_ok());
        assert!(
            check_new_password("abcdefgh1", 8, &context).is_err(),
            "a sequence is weak"
        );
        assert!(check_new_password("tide pool lantern 42", 24, &context).is_err());
        let unicode = "ключ-от-сада-и-луны-🌙".repeat(3);
        assert!(
            check_new_password(&unicode, 8, &context).is_ok(),
            "any script, 64+ chars"
        );
    }

    #[test]
    fn strength_counts_the_users_own_details_against_the_password() {
        let plain = strength("AdaLovelace1815", &[]);
        let informed = strength("AdaLovelace1815", &["Ada Lovelace", "ada@acme.example"]);
        assert!(
            informed.score < plain.score || informed.score <= 1,
            "{plain:?} {informed:?}"
        );
        assert!(strength("correct horse battery staple ladder", &[]).score >= 3);
        assert_eq!(strength("password", &[]).score, 0);
        assert!(strength("password", &[]).feedback.warning.is_some());
        assert_eq!(strength("", &[]).score, 0);
    }

    #[tokio::test]
    async fn a_missing_hash_never_verifies() {
        assert!(!Hasher::new(10).unwrap().verify("anything", None).await);
    }
}
