//! Field encryption: written content is sealed with AES-256-GCM before it reaches the
//! database.
//!
//! A sealed value is stored as text in the column it replaces:
//! `v<version>:<base64 of nonce ‖ ciphertext ‖ tag>`. The version names the key of the
//! keyring that opens it, so keys can be rotated while old values stay readable. The
//! 96-bit nonce is fresh and random for every write. The associated data binds the value
//! to its place (company, table, column and row id, and the key version), so a value
//! copied to another row or another company fails to open instead of showing up there.
//!
//! Keys live outside the database, in a [`Keyring`] read from a file or the environment.
//! The database holds one check value per key version (see [`store`]), which is how a
//! wrong key is found at start rather than at the first read.

mod file;
pub mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use zeroize::Zeroizing;

pub use file::KeyringError;

/// A column that holds sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The table.
    pub table: &'static str,
    /// The column holding the sealed value.
    pub column: &'static str,
    /// The column naming the row, unique in the table. Its value is bound into the
    /// sealed value, with the company, so the value opens in this row only.
    pub id_column: &'static str,
}

/// The answers of a review (JSON of question id to answer).
pub const REVIEW_ANSWERS: Field = Field {
    table: "reviews",
    column: "answers",
    id_column: "id",
};

/// Ratings HR calibrated on a manager review (JSON, question id → rating).
pub const CALIBRATED_RATINGS: Field = Field {
    table: "calibrations",
    column: "ratings",
    id_column: "review_id",
};

/// The shared secret of an authenticator app (base32).
pub const TOTP_SECRET: Field = Field {
    table: "totp_factors",
    column: "secret",
    id_column: "user_id",
};

/// The title of an objective.
pub const OBJECTIVE_TITLE: Field = Field {
    table: "objectives",
    column: "title",
    id_column: "id",
};

/// The description of an objective.
pub const OBJECTIVE_DESCRIPTION: Field = Field {
    table: "objectives",
    column: "description",
    id_column: "id",
};

/// The title of a key result.
pub const KEY_RESULT_TITLE: Field = Field {
    table: "key_results",
    column: "title",
    id_column: "id",
};

/// The text of a comment on a review or an objective.
pub const COMMENT_BODY: Field = Field {
    table: "comments",
    column: "body",
    id_column: "id",
};

/// A reviewer's unsubmitted 360 feedback (JSON of question id to answer).
pub const FEEDBACK_DRAFT: Field = Field {
    table: "feedback_requests",
    column: "draft",
    id_column: "id",
};

/// Submitted 360 feedback (JSON of question id to answer).
pub const FEEDBACK_ANSWERS: Field = Field {
    table: "feedback_answers",
    column: "answers",
    id_column: "id",
};

/// The phone number of an SMS second factor (E.164). Nothing looks a user up by their
/// number: it is read only by its row (company and user), so it can be sealed.
pub const SMS_PHONE: Field = Field {
    table: "sms_factors",
    column: "phone",
    id_column: "user_id",
};

/// Every encrypted column. Whatever walks all sealed values (rotation, `kaizen keys
/// list`, sealing values stored before encryption existed) reads this list, so a new
/// encrypted column is added here and nowhere else.
pub const ENCRYPTED_FIELDS: &[Field] = &[
    REVIEW_ANSWERS,
    CALIBRATED_RATINGS,
    TOTP_SECRET,
    OBJECTIVE_TITLE,
    OBJECTIVE_DESCRIPTION,
    KEY_RESULT_TITLE,
    COMMENT_BODY,
    FEEDBACK_DRAFT,
    FEEDBACK_ANSWERS,
    SMS_PHONE,
];

/// How often a keyring read from a file looks whether the file changed. A rotation
/// waits longer than this before re-encrypting, so that by then every server writes
/// with the new key.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// Bytes of a key: AES-256.
const KEY_BYTES: usize = 32;

/// Bytes of a nonce: the 96 bits GCM is built for.
const NONCE_BYTES: usize = 12;

/// Bytes of the authentication tag.
const TAG_BYTES: usize = 16;

/// Why a value could not be sealed or opened. Carries versions only, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The keyring is empty: nothing can be sealed.
    #[error("the keyring holds no key")]
    NoKeys,
    /// The value names a key version the keyring does not have.
    #[error("no key of version {0} in the keyring")]
    UnknownVersion(u32),
    /// The stored text is not a sealed value at all.
    #[error("the stored value is not a sealed value")]
    Malformed,
    /// The tag did not verify: a wrong key, or a value that was altered or moved to
    /// another row or company.
    #[error("the value does not open with key version {0}: wrong key, or altered or moved")]
    Rejected(u32),
}

/// One key of the keyring. The material is wiped from memory when the key is dropped
/// and never printed.
pub struct Key {
    version: u32,
    material: Zeroizing<[u8; KEY_BYTES]>,
    cipher: Aes256Gcm,
}

impl Key {
    fn new(version: u32, material: Zeroizing<[u8; KEY_BYTES]>) -> Key {
        let cipher = Aes256Gcm::new(&(*material).into());
        Key {
            version,
            material,
            cipher,
        }
    }

    /// A new random key of `version`, from the thread generator (a CSPRNG seeded and
    /// reseeded from the operating system).
    pub fn generate(version: u32) -> Key {
        let mut material = Zeroizing::new([0u8; KEY_BYTES]);
        rand::rng().fill_bytes(material.as_mut_slice());
        Key::new(version, material)
    }

    /// The key's version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The check value of this key: a known text sealed with it, stored in the database
    /// so that a keyring holding another key under this version is refused.
    pub fn check_value(&self) -> String {
        let row_id = self.version.to_string();
        let place = Place {
            company: "",
            field: CHECK_FIELD,
            row_id: &row_id,
        };
        self.seal(&place, CHECK_TEXT.as_bytes())
    }

    /// Whether `stored` is this key's check value.
    pub fn verifies(&self, stored: &str) -> bool {
        let Some((version, sealed)) = split(stored) else {
            return false;
        };
        let row_id = version.to_string();
        let place = Place {
            company: "",
            field: CHECK_FIELD,
            row_id: &row_id,
        };
        version == self.version
            && self
                .open(&place, sealed)
                .is_ok_and(|text| text == CHECK_TEXT.as_bytes())
    }

    fn seal(&self, place: &Place<'_>, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let aad = place.associated_data(self.version);
        let payload = Payload {
            msg: plaintext,
            aad: &aad,
        };
        let Ok(sealed) = self.cipher.encrypt(&Nonce::from(nonce), payload) else {
            // Only plaintexts over 64 GiB fail; no column comes near that.
            unreachable!("AES-GCM refuses only plaintexts of many gigabytes")
        };
        let mut bytes = Vec::with_capacity(NONCE_BYTES + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        format!("v{}:{}", self.version, STANDARD.encode(bytes))
    }

    fn open(&self, place: &Place<'_>, sealed: &str) -> Result<Vec<u8>, Error> {
        let bytes = STANDARD.decode(sealed).map_err(|_| Error::Malformed)?;
        if bytes.len() < NONCE_BYTES + TAG_BYTES {
            return Err(Error::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let Ok(nonce) = <[u8; NONCE_BYTES]>::try_from(nonce) else {
            return Err(Error::Malformed);
        };
        let aad = place.associated_data(self.version);
        let payload = Payload {
            msg: ciphertext,
            aad: &aad,
        };
        self.cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| Error::Rejected(self.version))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key {{ version: {}, material: <hidden> }}", self.version)
    }
}

/// The text every check value seals.
const CHECK_TEXT: &str = "kaizen field key check";

/// Where check values live: bound to their own place like any value, the version in
/// decimal as the row id.
const CHECK_FIELD: Field = Field {
    table: "field_keys",
    column: "check_value",
    id_column: "version",
};

/// The place a value is stored: what its associated data binds it to.
struct Place<'a> {
    company: &'a str,
    field: Field,
    row_id: &'a str,
}

impl Place<'_> {
    /// The associated data: a domain label, then each part with its length in front, so
    /// that no two different places give the same bytes.
    fn associated_data(&self, version: u32) -> Vec<u8> {
        let version = version.to_string();
        let parts = [
            version.as_str(),
            self.company,
            self.field.table,
            self.field.column,
            self.row_id,
        ];
        let mut aad = b"kaizen-field-v1".to_vec();
        for part in parts {
            let length = u32::try_from(part.len()).unwrap_or(u32::MAX);
            aad.extend_from_slice(&length.to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// The key version of a stored value, if it is a sealed value. Only the canonical form
/// counts (`v1:`, not `v01:`), so counting values by prefix in SQL is exact.
pub fn version_of(stored: &str) -> Option<u32> {
    split(stored).map(|(version, _)| version)
}

/// Splits a stored value into its version and base64 part.
fn split(stored: &str) -> Option<(u32, &str)> {
    let rest = stored.strip_prefix('v')?;
    let (digits, sealed) = rest.split_once(':')?;
    let version: u32 = digits.parse().ok()?;
    (version > 0 && digits == version.to_string()).then_some((version, sealed))
}

/// The SQL `LIKE` pattern of the values sealed with `version`.
pub fn like_version(version: u32) -> String {
    format!("v{version}:%")
}

/// A set of keys by version; the newest seals, any opens what it sealed.
#[derive(Default)]
pub struct KeySet {
    keys: BTreeMap<u32, Key>,
}

impl KeySet {
    /// A set of one new random key of version 1.
    pub fn generate() -> KeySet {
        let mut keys = KeySet::default();
        keys.insert(Key::generate(1));
        keys
    }

    fn insert(&mut self, key: Key) {
        self.keys.insert(key.version, key);
    }

    /// The versions held, oldest first.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// The key of `version`, if held.
    pub fn get(&self, version: u32) -> Option<&Key> {
        self.keys.get(&version)
    }

    /// The newest key: the one new values are sealed with.
    pub fn newest(&self) -> Option<&Key> {
        self.keys.values().next_back()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Seals `plaintext` for its place with the newest key.
    pub fn seal(
        &self,
        company: &str,
        field: Field,
        row_id: &str,
        plaintext: &str,
    ) -> Result<String, Error> {
        let key = self.newest().ok_or(Error::NoKeys)?;
        let place = Place {
            company,
            field,
            row_id,
        };
        Ok(key.seal(&place, plaintext.as_bytes()))
    }

    /// Opens a value sealed for this place, with the key its version names.
    pub fn open(
        &self,
        company: &str,
        field: Field,
        row_id: &str,
        stored: &str,
    ) -> Result<String, Error> {
        let (version, sealed) = split(stored).ok_or(Error::Malformed)?;
        let key = self.get(version).ok_or(Error::UnknownVersion(version))?;
        let place = Place {
            company,
            field,
            row_id,
        };
        let plaintext = key.open(&place, sealed)?;
        String::from_utf8(plaintext).map_err(|_| Error::Malformed)
    }

    /// The first version held here and in `other` with different material, if any.
    fn conflict_with(&self, other: &KeySet) -> Option<u32> {
        self.keys.iter().find_map(|(version, key)| {
            let theirs = other.keys.get(version)?;
            (*key.material != *theirs.material).then_some(*version)
        })
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySet {{ versions: {:?} }}", self.versions())
    }
}

/// The keys of a running installation, with where they came from.
///
/// A keyring read from a file follows that file: at most every [`RELOAD_INTERVAL`] (and
/// at once when a value names an unknown version) it looks whether the file changed and
/// reads it again, so a rotation's new key reaches a running server without a restart.
/// The keys sit behind a `std::sync::RwLock` holding an `Arc`: readers clone the `Arc`
/// and let go at once, and nothing is awaited while the lock is held.
pub struct Keyring {
    path: Option<PathBuf>,
    state: RwLock<State>,
}

struct State {
    keys: Arc<KeySet>,
    stamp: Option<file::Stamp>,
    checked_at: Instant,
}

impl Keyring {
    /// A keyring of fixed keys (from the environment, or for tests).
    pub fn from_keys(keys: KeySet) -> Keyring {
        Keyring {
            path: None,
            state: RwLock::new(State {
                keys: Arc::new(keys),
                stamp: None,
                checked_at: Instant::now(),
            }),
        }
    }

    /// A keyring with no key: every seal fails. What tools that never touch encrypted
    /// columns (adding a user, say) run with, so a mistake there fails loudly instead of
    /// writing anything in clear.
    pub fn empty() -> Keyring {
        Keyring::from_keys(KeySet::default())
    }

    /// Keys given as text: `version:base64key` entries separated by commas, spaces or
    /// new lines (what `KAIZEN_KEYS` holds).
    pub fn from_entries(text: &str) -> Result<Keyring, KeyringError> {
        Ok(Keyring::from_keys(file::parse(text)?))
    }

    /// Reads a keyring file and follows its changes.
    pub fn load(path: &Path) -> Result<Keyring, KeyringError> {
        let (keys, stamp) = file::read(path)?;
        Ok(Keyring::following(path, keys, stamp))
    }

    /// Creates a new keyring file at `path` holding one random key of version 1, readable
    /// by its owner only. Fails if the file exists.
    pub fn create(path: &Path) -> Result<Keyring, KeyringError> {
        let keys = KeySet::generate();
        file::create(path, &keys)?;
        let (keys, stamp) = file::read(path)?;
        Ok(Keyring::following(path, keys, stamp))
    }

    fn following(path: &Path, keys: KeySet, stamp: file::Stamp) -> Keyring {
        Keyring {
            path: Some(path.to_owned()),
            state: RwLock::new(State {
                keys: Arc::new(keys),
                stamp: Some(stamp),
                checked_at: Instant::now(),
            }),
        }
    }

    /// The file the keys come from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The keys now, after looking at the file if it is due.
    pub fn keys(&self) -> Arc<KeySet> {
        {
            let state = self.read();
            if self.path.is_none() || state.checked_at.elapsed() < RELOAD_INTERVAL {
                return state.keys.clone();
            }
        }
        self.refresh(RELOAD_INTERVAL)
    }

    /// Seals `plaintext` for its place (company, field, row id) with the newest key.
    pub fn seal(
        &self,
        company: &str,
        field: Field,
        row_id: &str,
        plaintext: &str,
    ) -> Result<String, Error> {
        self.keys().seal(company, field, row_id, plaintext)
    }

    /// Opens a value sealed for this place. A version the keys lack makes a keyring file
    /// be looked at again at once: a rotation may just have added it. (Only a changed
    /// file is read; a look costs one `stat`.)
    pub fn open(
        &self,
        company: &str,
        field: Field,
        row_id: &str,
        stored: &str,
    ) -> Result<String, Error> {
        match self.keys().open(company, field, row_id, stored) {
            Err(Error::UnknownVersion(_)) if self.path.is_some() => self
                .refresh(Duration::ZERO)
                .open(company, field, row_id, stored),
            result => result,
        }
    }

    /// Adds `key` to the keyring file, which is replaced atomically; from now on it seals
    /// new values. Only a keyring read from a file can grow.
    pub fn add_key(&self, key: Key) -> Result<(), KeyringError> {
        let path = self.path.as_deref().ok_or(KeyringError::NotAFile)?;
        let mut state = self.write();
        let (mut keys, _) = file::read(path)?;
        if keys.get(key.version).is_some() {
            return Err(KeyringError::VersionTaken(key.version));
        }
        keys.insert(key);
        file::replace(path, &keys)?;
        let (keys, stamp) = file::read(path)?;
        state.keys = Arc::new(keys);
        state.stamp = Some(stamp);
        state.checked_at = Instant::now();
        Ok(())
    }

    /// Reads the file again if it changed, unless it was looked at within `interval`.
    fn refresh(&self, interval: Duration) -> Arc<KeySet> {
        let Some(path) = self.path.as_deref() else {
            return self.read().keys.clone();
        };
        let mut state = self.write();
        if state.checked_at.elapsed() < interval {
            return state.keys.clone();
        }
        state.checked_at = Instant::now();
        let stamp = file::stamp(path).ok();
        if stamp.is_some() && stamp == state.stamp {
            return state.keys.clone();
        }
        match file::read(path) {
            Ok((keys, stamp)) => {
                state.stamp = Some(stamp);
                if let Some(version) = state.keys.conflict_with(&keys) {
                    tracing::error!(
                        version,
                        path = %path.display(),
                        "the keyring file now holds another key under a version already in \
                         use; the change is ignored and the keys read before stay in use"
                    );
                } else {
                    tracing::info!(versions = ?keys.versions(), "keyring file reloaded");
                    state.keys = Arc::new(keys);
                }
            }
            Err(error) => {
                state.stamp = stamp;
                tracing::error!(
                    %error,
                    "the keyring file could not be read again; the keys read before stay in use"
                );
            }
        }
        state.keys.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // The state is replaced in single assignments, so a poisoned lock holds a
        // consistent value and is safe to keep using.
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for Keyring {
    fn default() -> Self {
        Keyring::empty()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("versions", &self.read().keys.versions())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const COMPANY: &str = "6a1f0c1e-acme";

    fn keys() -> KeySet {
        KeySet::generate()
    }

    #[test]
    fn a_sealed_value_opens_in_its_own_place_only() {
        let keys = keys();
        let sealed = keys
            .seal(COMPANY, REVIEW_ANSWERS, "r1", "secret words")
            .unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("secret"));
        assert_eq!(
            keys.open(COMPANY, REVIEW_ANSWERS, "r1", &sealed).unwrap(),
            "secret words"
        );

        // Another row, another company, another column: each is refused.
        for (company, field, row) in [
            (COMPANY, REVIEW_ANSWERS, "r2"),
            ("other-company", REVIEW_ANSWERS, "r1"),
            (COMPANY, TOTP_SECRET, "r1"),
        ] {
            assert_eq!(
                keys.open(company, field, row, &sealed),
                Err(Error::Rejected(1)),
                "{company} {field:?} {row}"
            );
        }
    }

    #[test]
    fn parts_of_the_place_cannot_be_shifted_into_each_other() {
        let keys = keys();
        let sealed = keys.seal("ab", REVIEW_ANSWERS, "c", "x").unwrap();
        assert_eq!(
            keys.open("a", REVIEW_ANSWERS, "bc", &sealed),
            Err(Error::Rejected(1))
        );
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let keys = keys();
        let sealed = keys
            .seal(COMPANY, REVIEW_ANSWERS, "r1", "tamper me")
            .unwrap();
        let (prefix, body) = sealed.split_once(':').unwrap();
        let bytes = STANDARD.decode(body).unwrap();
        for index in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[index] ^= 0x01;
            let stored = format!("{prefix}:{}", STANDARD.encode(&flipped));
            assert_eq!(
                keys.open(COMPANY, REVIEW_ANSWERS, "r1", &stored),
                Err(Error::Rejected(1)),
                "byte {index}"
            );
        }
    }

    #[test]
    fn each_write_gets_a_fresh_nonce() {
        let keys = keys();
        let a = keys.seal(COMPANY, REVIEW_ANSWERS, "r1", "same").unwrap();
        let b = keys.seal(COMPANY, REVIEW_ANSWERS, "r1", "same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_wrong_key_or_an_unknown_version_is_refused() {
        let sealed = keys().seal(COMPANY, REVIEW_ANSWERS, "r1", "x").unwrap();
        assert_eq!(
            keys().open(COMPANY, REVIEW_ANSWERS, "r1", &sealed),
            Err(Error::Rejected(1))
        );
        let mut other = KeySet::default();
        other.insert(Key::generate(2));
        assert_eq!(
            other.open(COMPANY, REVIEW_ANSWERS, "r1", &sealed),
            Err(Error::UnknownVersion(1))
        );
        assert_eq!(
            KeySet::default().seal(COMPANY, REVIEW_ANSWERS, "r1", "x"),
            Err(Error::NoKeys)
        );
    }

    #[test]
    fn the_version_in_front_cannot_be_swapped() {
        // Two keys with the same material under different versions: a value relabelled
        // from one to the other still fails, because the version is associated data.
        let material = Zeroizing::new([7u8; KEY_BYTES]);
        let mut keys = KeySet::default();
        keys.insert(Key::new(1, material.clone()));
        keys.insert(Key::new(2, material));
        let sealed = keys.seal(COMPANY, REVIEW_ANSWERS, "r1", "x").unwrap();
        let relabelled = sealed.replacen("v2:", "v1:", 1);
        assert_eq!(
            keys.open(COMPANY, REVIEW_ANSWERS, "r1", &relabelled),
            Err(Error::Rejected(1))
        );
    }

    #[test]
    fn only_canonical_sealed_values_are_recognized() {
        assert_eq!(version_of("v1:AAAA"), Some(1));
        assert_eq!(version_of("v12:"), Some(12));
        for text in [
            "{}", "v0:AA", "v01:AA", "V1:AA", "v:AA", "vx:AA", "JBSWY3DP", "",
        ] {
            assert_eq!(version_of(text), None, "{text}");
        }
        let keys = keys();
        for text in ["{}", "v1:not base64!", "v1:AAAA"] {
            assert_eq!(
                keys.open(COMPANY, REVIEW_ANSWERS, "r1", text),
                Err(Error::Malformed),
                "{text}"
            );
        }
    }

    #[test]
    fn check_values_verify_their_own_key_only() {
        let key = Key::generate(3);
        let check = key.check_value();
        assert!(key.verifies(&check));
        assert!(!Key::generate(3).verifies(&check));
        assert!(!Key::generate(4).verifies(&check));
        assert!(!key.verifies("v3:garbage"));
    }

    #[test]
    fn debug_output_shows_versions_and_never_key_material() {
        let material = Zeroizing::new([0xAB; KEY_BYTES]);
        let key = Key::new(5, material);
        let text = format!("{key:?}");
        assert!(text.contains('5'));
        assert!(!text.to_lowercase().contains("ab, ") && !text.contains("171"));
        let keyring = Keyring::from_keys(KeySet::generate());
        assert_eq!(
            format!("{keyring:?}"),
            "Keyring { path: None, versions: [1] }"
        );
    }

    proptest! {
        #[test]
        fn any_text_round_trips(text in any::<String>(), row in "[a-z0-9-]{0,40}") {
            let keys = keys();
            let sealed = keys.seal(COMPANY, REVIEW_ANSWERS, &row, &text).unwrap();
            prop_assert_eq!(version_of(&sealed), Some(1));
            prop_assert_eq!(keys.open(COMPANY, REVIEW_ANSWERS, &row, &sealed).unwrap(), text);
        }

        #[test]
        fn any_text_fails_in_another_row(text in "\\PC{0,200}", row in "[a-z]{1,10}") {
            let keys = keys();
            let sealed = keys.seal(COMPANY, REVIEW_ANSWERS, &row, &text).unwrap();
            let other = format!("{row}x");
            prop_assert_eq!(
                keys.open(COMPANY, REVIEW_ANSWERS, &other, &sealed),
                Err(Error::Rejected(1))
            );
        }
    }
}
