//! The database side of field encryption: the check value of every key version, the
//! one-time sealing of values stored before encryption existed, rotation and usage
//! counts. Each walks every column of [`ENCRYPTED_FIELDS`].
//!
//! These run outside the company actors (at start, or in `kaizen keys …` while servers
//! keep serving), so every update is a compare-and-swap on the value read: a value an
//! actor changed meanwhile is left alone and picked up again by the next pass. The
//! company guard is not needed here: the company of each row is bound into its value,
//! so a row carrying another company's value fails to open instead of being resealed.

use std::time::Duration;

use super::{ENCRYPTED_FIELDS, Field, Key, Keyring, KeyringError, like_version, version_of};
use crate::db::{Db, now_ms};

/// How many rows one transaction reseals: small enough that a server's writes wait
/// only milliseconds for the write lock between batches.
const BATCH: i64 = 256;

/// How many passes a rotation makes before it gives up on values that keep being
/// written with an old key.
const MAX_PASSES: u32 = 100;

/// The pause between passes that still found old values.
const PASS_PAUSE: Duration = Duration::from_millis(100);

/// Why the keys and the database do not fit together, or a walk failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The keyring holds no key.
    #[error("the keyring holds no key")]
    NoKeys,
    /// A key of the keyring is not the one the database knows under its version.
    #[error(
        "key version {0} of the keyring is not the key this database was encrypted with \
         (its check value does not open): refusing to go on with a wrong key"
    )]
    WrongKey(u32),
    /// Values are sealed with a version the keyring lacks.
    #[error(
        "{values} stored values are encrypted with key version {version}, which the \
         keyring does not hold: add that key to the keyring"
    )]
    MissingKey {
        /// The missing version.
        version: u32,
        /// How many values use it.
        values: i64,
    },
    /// Some values could not be opened; each was logged with its place.
    #[error(
        "{count} stored values could not be decrypted (the first: {table} row {row_id} of \
         company {company_id}); they are left as they are, see the log"
    )]
    Undecryptable {
        /// How many.
        count: usize,
        /// The first one's table.
        table: &'static str,
        /// The first one's company.
        company_id: String,
        /// The first one's row id.
        row_id: String,
    },
    /// Values of an old version kept coming back.
    #[error(
        "values keep being written with an old key after {0} passes: does every server \
         read the same keyring file?"
    )]
    Stalled(u32),
    /// The keyring file could not be changed.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The versions the database knows, with their check values.
async fn registered(db: &Db) -> Result<Vec<(u32, String)>, sqlx::Error> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, check_value FROM field_keys ORDER BY version")
            .fetch_all(db.pool())
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(version, check)| Some((u32::try_from(version).ok()?, check)))
        .collect())
}

/// Whether any key was ever used with this database. A database without one has no
/// sealed value, so a new keyring may be created for it.
pub async fn has_registered_keys(db: &Db) -> Result<bool, sqlx::Error> {
    Ok(!registered(db).await?.is_empty())
}

/// The highest version the database knows; a new key must be numbered above it, even
/// when an old key was since removed from the keyring.
pub async fn highest_registered(db: &Db) -> Result<u32, sqlx::Error> {
    Ok(registered(db)
        .await?
        .last()
        .map(|(version, _)| *version)
        .unwrap_or(0))
}

/// How many stored values are sealed with `version`, over every encrypted column.
pub async fn count_version(db: &Db, version: u32) -> Result<i64, sqlx::Error> {
    let mut total = 0;
    for field in ENCRYPTED_FIELDS {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {} LIKE $1",
            field.table, field.column
        );
        let (count,): (i64,) = sqlx::query_as(&sql)
            .bind(like_version(version))
            .fetch_one(db.pool())
            .await?;
        total += count;
    }
    Ok(total)
}

/// Checks the keyring against the database before anything is read or written: every
/// key the database knows must open its check value, and every version still in use
/// must be in the keyring. Keys new to the database are registered afterwards, so a
/// refused start leaves nothing behind.
pub async fn verify_keys(db: &Db, keyring: &Keyring) -> Result<(), StoreError> {
    let keys = keyring.keys();
    if keys.is_empty() {
        return Err(StoreError::NoKeys);
    }
    let known = registered(db).await?;
    for (version, check) in &known {
        match keys.get(*version) {
            Some(key) if key.verifies(check) => {}
            Some(_) => return Err(StoreError::WrongKey(*version)),
            None => {
                let values = count_version(db, *version).await?;
                if values > 0 {
                    return Err(StoreError::MissingKey {
                        version: *version,
                        values,
                    });
                }
            }
        }
    }
    for version in keys.versions() {
        if !known.iter().any(|(v, _)| *v == version)
            && let Some(key) = keys.get(version)
        {
            register(db, key).await?;
        }
    }
    Ok(())
}

/// Stores the check value of a key new to the database. When another process
/// registered the version first, its value is checked against this key instead.
pub async fn register(db: &Db, key: &Key) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO field_keys (version, check_value, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (version) DO NOTHING",
    )
    .bind(i64::from(key.version()))
    .bind(key.check_value())
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    let (check,): (String,) =
        sqlx::query_as("SELECT check_value FROM field_keys WHERE version = $1")
            .bind(i64::from(key.version()))
            .fetch_one(db.pool())
            .await?;
    if key.verifies(&check) {
        Ok(())
    } else {
        Err(StoreError::WrongKey(key.version()))
    }
}

/// Tries to open every sealed value of every encrypted column (a restored backup being
/// verified). Answers how many opened and, for each that did not, its place — never its
/// content. A value stored in clear counts as a failure.
pub async fn open_all(db: &Db, keyring: &Keyring) -> Result<(u64, Vec<String>), StoreError> {
    let (mut opened, mut failed) = (0, Vec::new());
    let keys = keyring.keys();
    for field in ENCRYPTED_FIELDS {
        let mut pages = Pages::new(*field, None);
        while let Some(rows) = pages.next(db).await? {
            for (company_id, row_id, value) in rows {
                if keys.open(&company_id, *field, &row_id, &value).is_ok() {
                    opened += 1;
                } else {
                    failed.push(format!(
                        "{}.{} of row {row_id} (company {company_id})",
                        field.table, field.column
                    ));
                }
            }
        }
    }
    Ok((opened, failed))
}

/// The rows of one encrypted column, a batch at a time in id order: `(company_id, row
/// id, stored value)`. Every walk over sealed values (verifying, sealing values stored
/// in clear, rotating) reads through this, so they all page the same way.
struct Pages {
    sql: String,
    /// A value bound to `$1` of the condition, if it has one.
    bound: Option<String>,
    /// The last row id read; the next batch starts after it.
    after: String,
    done: bool,
}

impl Pages {
    /// The rows of `field`; with `condition` (SQL on the column, which may use `$1`
    /// bound to the given value) only those it selects.
    fn new(field: Field, condition: Option<(&str, Option<String>)>) -> Pages {
        let (condition, bound) = match condition {
            Some((sql, bound)) => (format!("{sql} AND "), bound),
            None => (String::new(), None),
        };
        let first = if bound.is_some() { 2 } else { 1 };
        let sql = format!(
            "SELECT company_id, {id}, {column} FROM {table} WHERE {condition}{id} > ${first} \
             ORDER BY {id} LIMIT ${second}",
            id = field.id_column,
            column = field.column,
            table = field.table,
            second = first + 1,
        );
        Pages {
            sql,
            bound,
            after: String::new(),
            done: false,
        }
    }

    /// The next batch, or `None` once every row was read.
    async fn next(
        &mut self,
        db: &Db,
    ) -> Result<Option<Vec<(String, String, String)>>, sqlx::Error> {
        if self.done {
            return Ok(None);
        }
        let mut query = sqlx::query_as(&self.sql);
        if let Some(bound) = &self.bound {
            query = query.bind(bound);
        }
        let rows: Vec<(String, String, String)> = query
            .bind(&self.after)
            .bind(BATCH)
            .fetch_all(db.pool())
            .await?;
        match rows.last() {
            Some((_, last, _)) => self.after = last.clone(),
            None => {
                self.done = true;
                return Ok(None);
            }
        }
        Ok(Some(rows))
    }
}

/// Seals the values stored in clear before field encryption existed, once per
/// database; answers how many it sealed. Runs at start, after [`verify_keys`].
pub async fn seal_plaintext(db: &Db, keyring: &Keyring) -> Result<u64, StoreError> {
    let (done,): (Option<i64>,) =
        sqlx::query_as("SELECT plaintext_sealed_at FROM field_encryption WHERE id = 1")
            .fetch_one(db.pool())
            .await?;
    if done.is_some() {
        return Ok(0);
    }
    let mut sealed = 0;
    for field in ENCRYPTED_FIELDS {
        // Sealed values all start with `v<digits>:`; nothing stored in clear does
        // (JSON starts with `{`, base32 has no colon, a phone number starts with `+`).
        let condition = format!("{} NOT LIKE 'v%:%'", field.column);
        let mut pages = Pages::new(*field, Some((&condition, None)));
        while let Some(rows) = pages.next(db).await? {
            let keys = keyring.keys();
            let mut updates = Vec::with_capacity(rows.len());
            for (company_id, row_id, value) in rows {
                if version_of(&value).is_none() {
                    let new = keys
                        .seal(&company_id, *field, &row_id, &value)
                        .map_err(|_| StoreError::NoKeys)?;
                    updates.push(Update {
                        company_id,
                        row_id,
                        old: value,
                        new,
                    });
                }
            }
            sealed += swap(db, *field, &updates).await?.0;
        }
    }
    sqlx::query("UPDATE field_encryption SET plaintext_sealed_at = $1 WHERE id = 1")
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    if sealed > 0 {
        tracing::info!(
            values = sealed,
            "sealed the values stored before field encryption"
        );
    }
    Ok(sealed)
}

/// One compare-and-swap of a stored value.
struct Update {
    company_id: String,
    row_id: String,
    old: String,
    new: String,
}

/// Writes a batch of updates in one write transaction, each only if the row still holds
/// the value read; answers how many were written and how many had changed meanwhile.
async fn swap(db: &Db, field: Field, updates: &[Update]) -> Result<(u64, u64), sqlx::Error> {
    if updates.is_empty() {
        return Ok((0, 0));
    }
    let sql = format!(
        "UPDATE {table} SET {column} = $1 WHERE company_id = $2 AND {id} = $3 AND {column} = $4",
        table = field.table,
        column = field.column,
        id = field.id_column,
    );
    let mut tx = db.begin_write().await?;
    let (mut written, mut changed) = (0, 0);
    for update in updates {
        let done = sqlx::query(&sql)
            .bind(&update.new)
            .bind(&update.company_id)
            .bind(&update.row_id)
            .bind(&update.old)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            written += 1;
        } else {
            changed += 1;
        }
    }
    tx.commit().await?;
    Ok((written, changed))
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// The version every value is sealed with now.
    pub version: u32,
    /// Values resealed.
    pub resealed: u64,
    /// Values that changed under the rotation and were taken again in a later pass.
    pub retried: u64,
    /// Passes over every encrypted column, the last of which found nothing to do.
    pub passes: u32,
}

/// What one pass over every encrypted column found.
#[derive(Debug, Default)]
struct Pass {
    found: u64,
    resealed: u64,
    changed: u64,
    failed: Vec<(&'static str, String, String)>,
}

/// Reseals every value that is not sealed with the keyring's newest key, in batches,
/// while servers keep serving; loops until a pass finds none left.
///
/// It first waits `settle`: longer than [`super::RELOAD_INTERVAL`], so that every
/// server following the keyring file writes with the new key by the time the passes
/// start. A value a server writes meanwhile fails the compare-and-swap and is taken
/// again by the next pass; no write is lost and none is overwritten.
pub async fn reencrypt(
    db: &Db,
    keyring: &Keyring,
    settle: Duration,
) -> Result<Rotation, StoreError> {
    let version = keyring
        .keys()
        .newest()
        .map(Key::version)
        .ok_or(StoreError::NoKeys)?;
    tokio::time::sleep(settle).await;

    let mut rotation = Rotation {
        version,
        resealed: 0,
        retried: 0,
        passes: 0,
    };
    loop {
        let pass = reencrypt_pass(db, keyring, version).await?;
        rotation.passes += 1;
        rotation.resealed += pass.resealed;
        rotation.retried += pass.changed;
        tracing::info!(
            pass = rotation.passes,
            found = pass.found,
            resealed = pass.resealed,
            changed_meanwhile = pass.changed,
            "rotation pass"
        );
        if let Some((table, company_id, row_id)) = pass.failed.first() {
            return Err(StoreError::Undecryptable {
                count: pass.failed.len(),
                table,
                company_id: company_id.clone(),
                row_id: row_id.clone(),
            });
        }
        if pass.found == 0 {
            return Ok(rotation);
        }
        if rotation.passes >= MAX_PASSES {
            return Err(StoreError::Stalled(rotation.passes));
        }
        if pass.resealed == 0 {
            tokio::time::sleep(PASS_PAUSE).await;
        }
    }
}

/// One pass of [`reencrypt`] over every encrypted column.
async fn reencrypt_pass(db: &Db, keyring: &Keyring, version: u32) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    for field in ENCRYPTED_FIELDS {
        let condition = format!("{} NOT LIKE $1", field.column);
        let mut pages = Pages::new(*field, Some((&condition, Some(like_version(version)))));
        while let Some(rows) = pages.next(db).await? {
            pass.found += rows.len() as u64;

            // Open with whichever key the value names, seal with the target key.
            let keys = keyring.keys();
            let target = keys.get(version).ok_or(StoreError::NoKeys)?;
            let mut updates = Vec::with_capacity(rows.len());
            for (company_id, row_id, old) in rows {
                match keys.open(&company_id, *field, &row_id, &old) {
                    Ok(plaintext) => {
                        let place = super::Place {
                            company: &company_id,
                            field: *field,
                            row_id: &row_id,
                        };
                        let new = target.seal(&place, plaintext.as_bytes());
                        updates.push(Update {
                            company_id,
                            row_id,
                            old,
                            new,
                        });
                    }
                    Err(error) => {
                        tracing::error!(
                            table = field.table,
                            column = field.column,
                            company_id = %company_id,
                            row_id = %row_id,
                            %error,
                            "a stored value could not be decrypted for rotation"
                        );
                        pass.failed.push((field.table, company_id, row_id));
                    }
                }
            }
            let (written, changed) = swap(db, *field, &updates).await?;
            pass.resealed += written;
            pass.changed += changed;
        }
    }
    Ok(pass)
}

/// How many values one key version seals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The version.
    pub version: u32,
    /// Whether the keyring holds its key.
    pub in_keyring: bool,
    /// Whether the database knows its check value.
    pub registered: bool,
    /// Values sealed with it.
    pub values: i64,
}

/// The versions of the keyring and of the database with how many values use each, and
/// how many values are not sealed with any of them (stored in clear before encryption,
/// or damaged).
pub async fn usage(db: &Db, keyring: &Keyring) -> Result<(Vec<Usage>, i64), sqlx::Error> {
    let keys = keyring.keys();
    let known = registered(db).await?;
    let mut versions: Vec<u32> = keys.versions();
    versions.extend(known.iter().map(|(version, _)| *version));
    versions.sort_unstable();
    versions.dedup();

    let mut usages = Vec::with_capacity(versions.len());
    for version in versions {
        usages.push(Usage {
            version,
            in_keyring: keys.get(version).is_some(),
            registered: known.iter().any(|(v, _)| *v == version),
            values: count_version(db, version).await?,
        });
    }
    let mut total = 0;
    for field in ENCRYPTED_FIELDS {
        let sql = format!("SELECT COUNT(*) FROM {}", field.table);
        let (count,): (i64,) = sqlx::query_as(&sql).fetch_one(db.pool()).await?;
        total += count;
    }
    let sealed: i64 = usages.iter().map(|usage| usage.values).sum();
    Ok((usages, total - sealed))
}
