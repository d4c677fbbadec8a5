//! The keyring's text form and its file: parsing, reading, creating and replacing it.
//!
//! The text is a list of `version:base64key` entries (32-byte keys, standard base64),
//! separated by new lines, commas or spaces; lines starting with `#` are comments. The
//! same text works in a file and in `KAIZEN_KEYS`. No message ever quotes an entry: a
//! typo in a key must not print the key to a log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use zeroize::Zeroizing;

use super::{KEY_BYTES, Key, KeySet};

/// Why a keyring could not be read or written. Names files and entry numbers, never
/// key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The file could not be read.
    #[error("cannot read the keyring file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write the keyring file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not a valid keyring; the message says which entry and why.
    #[error("invalid keyring: {0}")]
    Invalid(String),
    /// Keys given in the environment cannot be added to.
    #[error("keys given in KAIZEN_KEYS cannot be changed; only a keyring file can grow")]
    NotAFile,
    /// A new key's version is already in the file.
    #[error("the keyring already holds a key of version {0}")]
    VersionTaken(u32),
}

/// What identifies one state of the keyring file: a rotation replaces the file (a new
/// inode) and changes its size; the modification time catches edits in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The file's stamp now.
pub(super) fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let metadata = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode,
    })
}

/// Parses keyring text.
pub(super) fn parse(text: &str) -> Result<KeySet, KeyringError> {
    let mut keys = KeySet::default();
    let entries = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|entry| !entry.is_empty());
    for (index, entry) in entries.enumerate() {
        let number = index + 1;
        let invalid = |why: &str| KeyringError::Invalid(format!("entry {number}: {why}"));
        let (version, encoded) = entry
            .split_once(':')
            .ok_or_else(|| invalid("not of the form version:base64key"))?;
        let version: u32 = version
            .trim_start_matches('v')
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| invalid("the version is not a whole number from 1"))?;
        let decoded = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| invalid("the key is not standard base64"))?,
        );
        let mut material = Zeroizing::new([0u8; KEY_BYTES]);
        if decoded.len() != KEY_BYTES {
            return Err(invalid("the key is not 32 bytes (256 bits)"));
        }
        material.copy_from_slice(&decoded);
        if keys.get(version).is_some() {
            return Err(invalid(&format!("version {version} appears twice")));
        }
        keys.insert(Key::new(version, material));
    }
    if keys.is_empty() {
        return Err(KeyringError::Invalid("it holds no key".into()));
    }
    Ok(keys)
}

/// The text of a keyring file.
fn render(keys: &KeySet) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::from(
        "# Kaizen keyring: the keys of field encryption, one \"version:base64key\" a line.\n\
         # Back it up and keep it off the data disk: without it the encrypted content is\n\
         # lost, and next to the database it protects nothing.\n",
    ));
    for key in keys.keys.values() {
        text.push_str(&format!(
            "{}:{}\n",
            key.version,
            STANDARD.encode(key.material.as_slice())
        ));
    }
    text
}

/// Reads and parses a keyring file, with its stamp.
pub(super) fn read(path: &Path) -> Result<(KeySet, Stamp), KeyringError> {
    let read_error = |source| KeyringError::Read {
        path: path.to_owned(),
        source,
    };
    let stamp = stamp(path).map_err(read_error)?;
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(read_error)?);
    warn_if_readable_by_others(path);
    Ok((parse(&text)?, stamp))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the keyring file can be read by other users; make it readable by its owner \
             only (chmod 600)"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Opens a new file for writing, readable by its owner only; fails if it exists.
fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes a new keyring file; fails if `path` exists.
pub(super) fn create(path: &Path, keys: &KeySet) -> Result<(), KeyringError> {
    let write_error = |source| KeyringError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = create_new(path).map_err(write_error)?;
    file.write_all(render(keys).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_error)?;
    sync_parent(path).map_err(write_error)
}

/// Replaces the keyring file with `keys` atomically: a reader sees the old file or the
/// new one, never a half-written one. The new file is written next to it, flushed to
/// disk, then renamed over it.
pub(super) fn replace(path: &Path, keys: &KeySet) -> Result<(), KeyringError> {
    let write_error = |source| KeyringError::Write {
        path: path.to_owned(),
        source,
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keyring".into());
    let temporary = path.with_file_name(format!(".{name}.{:016x}.tmp", rand::rng().next_u64()));
    let written = create_new(&temporary).and_then(|mut file| {
        file.write_all(render(keys).as_bytes())?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(write_error(error));
    }
    sync_parent(path).map_err(write_error)
}

/// Flushes the directory entry of a new or renamed file, so it survives a power cut.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Keyring, REVIEW_ANSWERS};

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn entries_parse_from_lines_commas_and_spaces() {
        let text = format!("# comment\n1:{KEY_A}\n\n2:{KEY_A}, 3:{KEY_A} v4:{KEY_A}\n");
        assert_eq!(parse(&text).unwrap().versions(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn bad_entries_are_refused_without_quoting_them() {
        let short = "1:AAECAwQ=";
        for (text, why) in [
            ("", "holds no key"),
            ("# only a comment", "holds no key"),
            ("SECRETSECRET", "entry 1: not of the form"),
            ("0:SECRETSECRET", "entry 1: the version"),
            ("x:SECRETSECRET", "entry 1: the version"),
            ("1:SECRET!SECRET", "entry 1: the key is not standard base64"),
            (short, "entry 1: the key is not 32 bytes"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
            assert!(
                !error.contains("SECRET") && !error.contains("AAEC"),
                "{error}"
            );
        }
        let twice = format!("1:{KEY_A}\n1:{KEY_A}");
        assert!(
            parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("appears twice")
        );
    }

    #[test]
    fn a_created_file_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let keyring = Keyring::create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = keyring.seal("c", REVIEW_ANSWERS, "r", "text").unwrap();
        let again = Keyring::load(&path).unwrap();
        assert_eq!(
            again.open("c", REVIEW_ANSWERS, "r", &sealed).unwrap(),
            "text"
        );
        assert!(matches!(
            Keyring::create(&path),
            Err(KeyringError::Write { .. })
        ));
    }

    #[test]
    fn an_added_key_is_written_atomically_and_seals_from_then_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let keyring = Keyring::create(&path).unwrap();
        let old = keyring.seal("c", REVIEW_ANSWERS, "r", "old").unwrap();
        keyring.add_key(Key::generate(2)).unwrap();
        assert!(matches!(
            keyring.add_key(Key::generate(2)),
            Err(KeyringError::VersionTaken(2))
        ));

        let new = keyring.seal("c", REVIEW_ANSWERS, "r", "new").unwrap();
        assert!(new.starts_with("v2:"));
        let again = Keyring::load(&path).unwrap();
        assert_eq!(again.keys().versions(), vec![1, 2]);
        assert_eq!(again.open("c", REVIEW_ANSWERS, "r", &old).unwrap(), "old");
        assert_eq!(again.open("c", REVIEW_ANSWERS, "r", &new).unwrap(), "new");

        // Nothing but the keyring is left in the directory.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("keyring")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_follower_opens_a_version_added_by_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let server = Keyring::create(&path).unwrap();
        let rotation = Keyring::load(&path).unwrap();
        rotation.add_key(Key::generate(2)).unwrap();
        let sealed = rotation.seal("c", REVIEW_ANSWERS, "r", "x").unwrap();

        // The server has not looked at the file yet; an unknown version makes it look.
        assert_eq!(server.open("c", REVIEW_ANSWERS, "r", &sealed).unwrap(), "x");
        assert_eq!(server.keys().versions(), vec![1, 2]);
    }

    #[test]
    fn environment_keys_cannot_grow() {
        let keyring = Keyring::from_entries(&format!("1:{KEY_A}")).unwrap();
        assert!(matches!(
            keyring.add_key(Key::generate(2)),
            Err(KeyringError::NotAFile)
        ));
    }
}
