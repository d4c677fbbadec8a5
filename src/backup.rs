//! Backups and restores of the whole installation.
//!
//! A backup is one file plus a manifest beside it (`<file>.manifest.json`): the backend,
//! the schema version, the rows of every table per company as counted in the very snapshot
//! the copy was taken from, and the file's SHA-256. `restore --verify` restores into a
//! separate, empty database and checks it against that manifest.
//!
//! SQLite is copied with `VACUUM INTO` while the server serves. PostgreSQL is copied with
//! `pg_dump` in the custom format, from a snapshot exported by a transaction that also
//! takes the census, and restored with `pg_restore`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use kaizen_actors::Db;
use kaizen_actors::backup::{
    Census, census, copy_sqlite, integrity_problems, is_empty, pin_postgres_snapshot,
};
use kaizen_actors::db::{Backend, now_ms};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::{DbArgs, KeyArgs};
use kaizen_actors::crypto::{Keyring, store};

/// The manifest's format marker.
const FORMAT: &str = "kaizen-backup/1";

/// What a backup recorded about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// When the copy was taken (UTC ms).
    pub created_at: i64,
    /// SHA-256 (hex) of the backup file.
    pub sha256: String,
    /// Schema version and rows per table and company, of the copied snapshot.
    pub census: Census,
}

/// Where the manifest of a backup file lives.
pub fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// Takes a consistent backup of the database into `out` (which must not exist) and writes
/// its manifest. Safe while the server serves.
pub async fn backup(db: &Db, database_url: Option<&str>, out: &Path) -> anyhow::Result<Manifest> {
    if out.exists() || manifest_path(out).exists() {
        bail!("{} already exists; backups never overwrite", out.display());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Written under a temporary name, so that a half-written file never looks like a backup;
    // a failed one is deleted (it may be a whole copy of the data).
    let partial = partial_path(out);
    let _ = std::fs::remove_file(&partial);
    let census = match copy_to(db, database_url, &partial).await {
        Ok(census) => census,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    owner_only(&partial)?;
    let sha256 = file_sha256(&partial).await?;
    let manifest = Manifest {
        format: FORMAT.into(),
        backend: backend_name(db.backend()).into(),
        created_at: now_ms(),
        sha256,
        census,
    };
    // The manifest first: a file under the backup's name always has one.
    let text = serde_json::to_string_pretty(&manifest)?;
    std::fs::write(manifest_path(out), text)
        .with_context(|| format!("cannot write the manifest of {}", out.display()))?;
    owner_only(&manifest_path(out))?;
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot move the backup to {}", out.display()))?;
    Ok(manifest)
}

/// Copies the database into `partial` and counts what the copy holds.
async fn copy_to(db: &Db, database_url: Option<&str>, partial: &Path) -> anyhow::Result<Census> {
    match db.backend() {
        Backend::Sqlite => {
            copy_sqlite(db, partial)
                .await
                .context("the SQLite copy failed")?;
            // The copy is a database of its own: count what it holds, not what the live
            // database holds a moment later.
            let copy = Db::open_sqlite_read_only(partial).await?;
            let census = census(&copy).await;
            copy.close().await;
            Ok(census?)
        }
        Backend::Postgres => {
            let url = database_url.context("a PostgreSQL backup needs --database-url")?;
            pg_dump(db, url, partial).await
        }
    }
}

/// Makes a file readable by its owner only: a backup holds password hashes and secrets.
fn owner_only(file: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", file.display()))
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Dumps PostgreSQL from a snapshot that the census is taken in too.
async fn pg_dump(db: &Db, url: &str, out: &Path) -> anyhow::Result<Census> {
    let snapshot = pin_postgres_snapshot(db).await?;
    let status = tokio::process::Command::new("pg_dump")
        .arg("--format=custom")
        .arg(format!("--snapshot={}", snapshot.id))
        .arg("--file")
        .arg(out)
        .arg("--dbname")
        .arg(url)
        .status()
        .await
        .context("cannot run pg_dump (is the PostgreSQL client installed?)");
    let census = snapshot.census.clone();
    snapshot.release().await?;
    if !status?.success() {
        bail!("pg_dump failed");
    }
    Ok(census)
}

/// SHA-256 (hex) of a file, read on a blocking thread.
async fn file_sha256(file: &Path) -> anyhow::Result<String> {
    let file = file.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        use sha2::{Digest, Sha256};
        let mut reader = std::fs::File::open(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0; 1 << 16];
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    })
    .await?
}

/// What a verified restore found.
#[derive(Debug)]
pub struct Verified {
    /// The schema version of the restored database.
    pub schema_version: i64,
    /// How many tables and rows it holds.
    pub tables: usize,
    /// Rows in all tables.
    pub rows: i64,
    /// Companies with rows.
    pub companies: usize,
    /// Encrypted values that opened.
    pub decrypted: u64,
}

/// Restores `file` into the empty database `target` names and, with `verify`, checks it
/// against the backup's manifest. Restoring over existing data is refused.
pub async fn restore(
    file: &Path,
    target: &DbArgs,
    keys: &KeyArgs,
    verify: bool,
) -> anyhow::Result<Option<Verified>> {
    let manifest = read_manifest(file, verify)?;
    if let Some(manifest) = &manifest {
        let sha256 = file_sha256(file).await?;
        if sha256 != manifest.sha256 {
            bail!(
                "{} does not match its manifest (SHA-256 differs): the file is damaged or was \
                 changed; nothing was restored",
                file.display()
            );
        }
    }
    match &target.database_url {
        None => {
            restore_sqlite(
                file,
                &target.data_dir,
                manifest.as_ref(),
                keys,
                target,
                verify,
            )
            .await
        }
        Some(url) => {
            let db = restore_postgres(file, url, manifest.as_ref()).await?;
            let result = checks(&db, manifest.as_ref(), keys, target, verify).await;
            db.close().await;
            result
        }
    }
}

/// The checks of a restored database: always its integrity; with `verify`, everything
/// [`check`] does against the manifest.
async fn checks(
    db: &Db,
    manifest: Option<&Manifest>,
    keys: &KeyArgs,
    target: &DbArgs,
    verify: bool,
) -> anyhow::Result<Option<Verified>> {
    let problems = integrity_problems(db).await?;
    if !problems.is_empty() {
        bail!("the restored database is damaged: {}", problems.join("; "));
    }
    match manifest.filter(|_| verify) {
        Some(manifest) => Ok(Some(
            check(db, manifest, crate::keys::existing(keys, target)).await?,
        )),
        None => Ok(None),
    }
}

fn read_manifest(file: &Path, required: bool) -> anyhow::Result<Option<Manifest>> {
    let path = manifest_path(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(None);
        }
        Err(error) => {
            return Err(error).with_context(|| {
                format!(
                    "cannot read {} (--verify needs the manifest)",
                    path.display()
                )
            });
        }
    };
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a Kaizen backup manifest", path.display()))?;
    if manifest.format != FORMAT {
        bail!(
            "{} has the unknown format {:?}",
            path.display(),
            manifest.format
        );
    }
    Ok(Some(manifest))
}

/// Restores a SQLite backup under a temporary name in the data directory, checks it there
/// (read-only), and gives it the database's name only once every check passed; on any
/// failure nothing is left behind.
async fn restore_sqlite(
    file: &Path,
    data_dir: &Path,
    manifest: Option<&Manifest>,
    keys: &KeyArgs,
    target_args: &DbArgs,
    verify: bool,
) -> anyhow::Result<Option<Verified>> {
    if manifest.is_some_and(|m| m.backend != "sqlite") {
        bail!("this is a PostgreSQL backup; restore it with --database-url");
    }
    let mut header = [0u8; 16];
    let readable = std::fs::File::open(file)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok();
    if !readable || &header != b"SQLite format 3\0" {
        bail!(
            "{} is not a SQLite database; nothing was restored",
            file.display()
        );
    }
    let target = data_dir.join(kaizen_actors::db::SQLITE_FILE);
    let in_use = ["", "-wal", "-shm"].iter().any(|suffix| {
        let mut name = target.as_os_str().to_owned();
        name.push(suffix);
        Path::new(&name).exists()
    });
    if in_use {
        bail!(
            "{} already holds a database; restore only into an empty data directory",
            data_dir.display()
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let partial = partial_path(&target);
    let result = async {
        std::fs::copy(file, &partial).with_context(|| format!("cannot copy {}", file.display()))?;
        owner_only(&partial)?;
        std::fs::File::open(&partial)?.sync_all()?;
        let db = Db::open_sqlite_read_only(&partial).await?;
        let result = checks(&db, manifest, keys, target_args, verify).await;
        db.close().await;
        result
    }
    .await;
    match result {
        Ok(verified) => {
            std::fs::rename(&partial, &target).with_context(|| {
                format!("cannot move the restored database to {}", target.display())
            })?;
            Ok(verified)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error.context("nothing was restored"))
        }
    }
}

async fn restore_postgres(
    file: &Path,
    url: &str,
    manifest: Option<&Manifest>,
) -> anyhow::Result<Db> {
    if manifest.is_some_and(|m| m.backend != "postgres") {
        bail!("this is a SQLite backup; restore it with --data-dir");
    }
    if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        bail!("restoring with --database-url needs a postgres:// URL; for SQLite use --data-dir");
    }
    let db = Db::connect(url).await?;
    if !is_empty(&db).await? {
        bail!("the target database is not empty; restore only into an empty database");
    }
    let status = tokio::process::Command::new("pg_restore")
        .arg("--no-owner")
        .arg("--exit-on-error")
        .arg("--dbname")
        .arg(url)
        .arg(file)
        .status()
        .await
        .context("cannot run pg_restore (is the PostgreSQL client installed?)")?;
    if !status.success() {
        bail!("pg_restore failed ({status})");
    }
    Ok(db)
}

/// Checks a restored database: its own integrity, a schema this binary knows, every
/// table's rows per company as the manifest recorded them, and that every encrypted value
/// opens with the keyring.
async fn check(
    db: &Db,
    manifest: &Manifest,
    keyring: anyhow::Result<Keyring>,
) -> anyhow::Result<Verified> {
    let found = census(db).await?;
    let newest = db.newest_schema_version();
    if found.schema_version > newest {
        bail!(
            "the backup has schema version {} but this Kaizen knows only up to {newest}; \
             restore it with a newer Kaizen",
            found.schema_version
        );
    }
    let differences = found.differences(&manifest.census);
    if !differences.is_empty() {
        bail!(
            "the restored database differs from the backup:\n  {}",
            differences.join("\n  ")
        );
    }
    let mut decrypted = 0;
    if store::has_registered_keys(db).await? {
        let keyring = keyring.context(
            "the backup holds encrypted content; give its keyring (--keyring or KAIZEN_KEYS) \
             to verify that every value decrypts",
        )?;
        let (opened, failed) = store::open_all(db, &keyring).await?;
        if !failed.is_empty() {
            let shown: Vec<&String> = failed.iter().take(10).collect();
            bail!(
                "{} encrypted values do not decrypt with the keyring given (wrong keyring, or \
                 damaged values), e.g. {shown:?}",
                failed.len()
            );
        }
        decrypted = opened;
    }
    let companies: std::collections::BTreeSet<&String> = found
        .tables
        .values()
        .flat_map(|t| t.keys())
        .filter(|owner| *owner != "*")
        .collect();
    Ok(Verified {
        schema_version: found.schema_version,
        tables: found.tables.len(),
        rows: found.total_rows(),
        companies: companies.len(),
        decrypted,
    })
}

/// How often `serve` takes a backup, and how many it keeps.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Time between backups.
    pub every: Duration,
    /// Where the backups go.
    pub dir: PathBuf,
    /// How many backups are kept; older ones are deleted.
    pub keep: usize,
}

/// The name prefix of scheduled backups; only files with it are ever pruned.
const SCHEDULED_PREFIX: &str = "kaizen-";

/// The name of a backup taken now: `kaizen-<UTC time>.sqlite3` (or `.pgdump`). The
/// schedule prunes files of this shape only.
pub fn file_name(db: &Db) -> String {
    let stamp = time::OffsetDateTime::now_utc();
    format!(
        "{SCHEDULED_PREFIX}{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z.{}",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second(),
        stamp.millisecond(),
        match db.backend() {
            Backend::Sqlite => "sqlite3",
            Backend::Postgres => "pgdump",
        }
    )
}

/// Takes a backup every `schedule.every` until `stop`, keeping the newest `keep`.
pub async fn run_schedule(
    db: Db,
    database_url: Option<String>,
    schedule: Schedule,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(schedule.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // The first tick is immediate: the first backup waits one period.
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let out = schedule.dir.join(file_name(&db));
        match backup(&db, database_url.as_deref(), &out).await {
            Ok(manifest) => tracing::info!(file = %out.display(),
                rows = manifest.census.total_rows(), "scheduled backup taken"),
            Err(error) => {
                tracing::error!(file = %out.display(), "scheduled backup failed: {error:#}")
            }
        }
        if let Err(error) = prune(&schedule.dir, schedule.keep) {
            tracing::error!("old backups could not be pruned: {error:#}");
        }
    }
}

/// Whether a file name is one [`run_schedule`] gives: `kaizen-`, a UTC time of 18 digits
/// around `T`, `Z`, and the backend's extension. Nothing else is ever pruned.
fn is_scheduled_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(SCHEDULED_PREFIX) else {
        return false;
    };
    let Some((stamp, extension)) = rest.split_once('.') else {
        return false;
    };
    let bytes = stamp.as_bytes();
    let shaped = bytes.len() == 19
        && bytes[8] == b'T'
        && bytes[18] == b'Z'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 8 || i == 18 || b.is_ascii_digit());
    shaped && matches!(extension, "sqlite3" | "pgdump")
}

/// Deletes all but the newest `keep` scheduled backups (and their manifests) in `dir`.
fn prune(dir: &Path, keep: usize) -> anyhow::Result<()> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_scheduled_name)
                && manifest_path(path).exists()
        })
        .collect();
    // The names sort by time.
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    for old in &backups[..excess] {
        std::fs::remove_file(old)?;
        let _ = std::fs::remove_file(manifest_path(old));
        tracing::info!(file = %old.display(), "old backup deleted");
    }
    Ok(())
}

/// Reads a duration like `30s`, `15m`, `24h` or `7d`.
pub fn parse_period(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: s, m, h or d"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    if seconds == 0 || seconds > 366 * 86_400 {
        return Err(format!("{text:?} must be between 1s and 366d"));
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_with_units_and_refuse_nonsense() {
        assert_eq!(parse_period("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_period("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_period("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_period("7d"), Ok(Duration::from_secs(604_800)));
        for bad in ["", "24", "h", "0s", "5w", "-1h", "999d", "1.5h"] {
            assert!(parse_period(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pruning_keeps_the_newest_scheduled_backups_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().expect("a directory");
        let names = [
            "kaizen-20261201T000000000Z.sqlite3",
            "kaizen-20261202T000000000Z.sqlite3",
            "kaizen-20261203T000000000Z.sqlite3",
            "kaizen-notes.txt",
            "mine.sqlite3",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), b"x").expect("written");
            std::fs::write(manifest_path(&dir.path().join(name)), b"{}").expect("written");
        }
        prune(dir.path(), 2).expect("pruned");
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("listed")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "kaizen-20261202T000000000Z.sqlite3",
                "kaizen-20261202T000000000Z.sqlite3.manifest.json",
                "kaizen-20261203T000000000Z.sqlite3",
                "kaizen-20261203T000000000Z.sqlite3.manifest.json",
                "kaizen-notes.txt",
                "kaizen-notes.txt.manifest.json",
                "mine.sqlite3",
                "mine.sqlite3.manifest.json",
            ]
        );
    }
}
