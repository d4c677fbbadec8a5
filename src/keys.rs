//! The keys of field encryption on the command line: which keyring `serve` uses (and
//! when it may create one), and the `kaizen keys list` and `kaizen keys rotate` commands.
//!
//! A keyring comes from `--keyring PATH` (`KAIZEN_KEYRING`), from `KAIZEN_KEYS`, or from
//! `<data-dir>/keyring` when neither is given and the database is the data directory's
//! SQLite file. Never from the database: a stolen database alone must not open.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kaizen_actors::Db;
use kaizen_actors::crypto::store::{self, Usage};
use kaizen_actors::crypto::{Key, Keyring, RELOAD_INTERVAL};

use crate::config::{DbArgs, KeyArgs};

/// The keyring file's name in the data directory.
const DATA_DIR_KEYRING: &str = "keyring";

/// How long a rotation waits after adding its key before re-encrypting: longer than a
/// server takes to notice the changed keyring file, so that the passes meet no server
/// still writing with the old key.
const SETTLE: Duration = RELOAD_INTERVAL.saturating_add(Duration::from_secs(1));

/// The keyring a data directory's SQLite database uses when none is named.
fn data_dir_keyring(db_args: &DbArgs) -> Option<PathBuf> {
    db_args
        .database_url
        .is_none()
        .then(|| db_args.data_dir.join(DATA_DIR_KEYRING))
}

/// The keyring named by the options, or the data directory's if it exists.
fn configured(args: &KeyArgs, db_args: &DbArgs) -> anyhow::Result<Option<Keyring>> {
    match (&args.keyring, &args.keys) {
        (Some(_), Some(_)) => {
            anyhow::bail!(
                "give the keys either with --keyring (KAIZEN_KEYRING) or KAIZEN_KEYS, not both"
            )
        }
        (Some(path), None) => Ok(Some(Keyring::load(path)?)),
        (None, Some(entries)) => Ok(Some(
            Keyring::from_entries(entries).context("KAIZEN_KEYS is not a valid keyring")?,
        )),
        (None, None) => match data_dir_keyring(db_args).filter(|path| path.exists()) {
            Some(path) => {
                tracing::warn!(
                    path = %path.display(),
                    "the keyring lies in the data directory, next to the database it protects: \
                     move it off the data disk and pass --keyring"
                );
                Ok(Some(Keyring::load(&path)?))
            }
            None => Ok(None),
        },
    }
}

/// The keyring of `kaizen serve`, checked against the database, with every value
/// stored in clear before encryption sealed.
///
/// Without a keyring, a data directory's SQLite database that never used a key (a new
/// one, or one from before field encryption) gets a new `<data-dir>/keyring`. Anything
/// else (a database URL, a database with encrypted content) refuses to start.
pub async fn for_serve(args: &KeyArgs, db_args: &DbArgs, db: &Db) -> anyhow::Result<Arc<Keyring>> {
    let keyring = match configured(args, db_args)? {
        Some(keyring) => keyring,
        None => create_if_new(db_args, db).await?,
    };
    prepare(db, &keyring).await?;
    tracing::info!(versions = ?keyring.keys().versions(), "field-encryption keys verified");
    Ok(Arc::new(keyring))
}

/// Creates `<data-dir>/keyring` for a database that never used a key.
async fn create_if_new(db_args: &DbArgs, db: &Db) -> anyhow::Result<Keyring> {
    let Some(path) = data_dir_keyring(db_args) else {
        anyhow::bail!(
            "no keyring: a database given by URL needs --keyring PATH (KAIZEN_KEYRING) or \
             KAIZEN_KEYS; no keyring is ever created for it"
        );
    };
    if store::has_registered_keys(db).await? {
        anyhow::bail!(
            "no keyring: this database holds content encrypted with keys that are not given; \
             pass --keyring PATH (KAIZEN_KEYRING) or set KAIZEN_KEYS"
        );
    }
    let keyring = Keyring::create(&path)?;
    tracing::warn!(
        path = %path.display(),
        "CREATED A NEW KEYRING for field encryption at {}. Back it up now and move it off \
         the data disk (then start with --keyring): without it the encrypted content is \
         lost for good, and next to the database it protects nothing",
        path.display()
    );
    Ok(keyring)
}

/// Refuses keys that do not fit the database and seals content stored in clear.
async fn prepare(db: &Db, keyring: &Keyring) -> anyhow::Result<()> {
    store::verify_keys(db, keyring).await?;
    store::seal_plaintext(db, keyring).await?;
    Ok(())
}

/// The keyring of a `kaizen keys` command: named, or the data directory's.
pub(crate) fn existing(args: &KeyArgs, db_args: &DbArgs) -> anyhow::Result<Keyring> {
    configured(args, db_args)?.ok_or_else(|| {
        anyhow::anyhow!("no keyring: pass --keyring PATH (KAIZEN_KEYRING) or set KAIZEN_KEYS")
    })
}

/// `kaizen keys list`: every version, where its key is and how many values use it.
pub async fn list(args: &KeyArgs, db_args: &DbArgs) -> anyhow::Result<()> {
    let db = db_args.open().await?;
    let keyring = existing(args, db_args)?;
    let (usages, unsealed) = store::usage(&db, &keyring).await?;
    let newest = keyring.keys().newest().map(Key::version);
    println!("version\tkey\tvalues");
    for Usage {
        version,
        in_keyring,
        registered,
        values,
    } in usages
    {
        let key = match (in_keyring, registered) {
            (true, _) if Some(version) == newest => "in keyring (newest: seals new values)",
            (true, true) => "in keyring",
            (true, false) => "in keyring (not yet used with this database)",
            (false, _) => "missing from keyring",
        };
        println!("{version}\t{key}\t{values}");
    }
    if unsealed > 0 {
        println!("{unsealed} values are not sealed with any of these versions");
    }
    db.close().await;
    Ok(())
}

/// `kaizen keys rotate`: adds a key version to the keyring file and reseals every
/// encrypted value with it, while servers keep serving.
pub async fn rotate(args: &KeyArgs, db_args: &DbArgs) -> anyhow::Result<()> {
    let db = db_args.open().await?;
    let keyring = existing(args, db_args)?;
    prepare(&db, &keyring).await?;

    // Register the new key's check value before the file has it: a server that sees
    // the key then always finds the database knowing it.
    match keyring.path() {
        Some(path) => {
            let newest = keyring.keys().newest().map_or(0, Key::version);
            let version = newest.max(store::highest_registered(&db).await?) + 1;
            let key = Key::generate(version);
            store::register(&db, &key).await?;
            keyring.add_key(key)?;
            println!("added key version {version} to {}", path.display());
        }
        None => {
            let newest = keyring.keys().newest().map_or(0, Key::version);
            println!(
                "KAIZEN_KEYS cannot be changed from here, so no key is added: re-encrypting \
                 to its newest version, {newest}. Every server must run with the same keys."
            );
        }
    }

    println!(
        "waiting {} s for running servers to pick up the key, then re-encrypting…",
        SETTLE.as_secs()
    );
    let rotation = store::reencrypt(&db, &keyring, SETTLE).await?;
    println!(
        "every encrypted value now uses key version {}: {} resealed in {} passes ({} \
         changed meanwhile and were taken again). Keep the older keys until every backup \
         made before now has expired.",
        rotation.version, rotation.resealed, rotation.passes, rotation.retried
    );
    db.close().await;
    Ok(())
}
