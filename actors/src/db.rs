//! The database connection: embedded SQLite by default, PostgreSQL by URL, one code path.
//!
//! Both backends are reached through sqlx's `Any` driver, so the actors hold one pool type
//! and run the same SQL. That SQL keeps to what both understand: `$n` placeholders, text
//! ids, `BIGINT` integers and times in UTC milliseconds.

use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Transaction};

/// The two backends Kaizen runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A file in the data directory; the default.
    Sqlite,
    /// A server named by `--database-url postgres://…`.
    Postgres,
}

/// A pool of connections to the one database of the installation.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// A `sqlite://` URL for a file, whatever its name holds: every byte but letters, digits
/// and `/-_.~` is percent-encoded (the driver decodes the path), so `?`, `#`, `%` or spaces
/// in a path cannot turn into URL syntax.
pub fn sqlite_url(file: &Path, mode: &str) -> String {
    let mut url = String::from("sqlite://");
    for byte in file.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(byte) {
            url.push(char::from(*byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=");
    url.push_str(mode);
    url
}

/// The name of the SQLite database file in the data directory.
pub const SQLITE_FILE: &str = "kaizen.sqlite3";

/// How many connections the pool keeps. SQLite serializes writers anyway (each company's
/// writes are already serialized by its actor), so a handful of connections is enough for
/// readers of several companies to go on in parallel.
const MAX_CONNECTIONS: u32 = 8;

/// A nullable floating-point value as SQL binds it: as text, which the statement casts
/// back with `CAST(CAST($n AS TEXT) AS DOUBLE PRECISION)`. Through sqlx's `Any` driver
/// a NULL `f64` bound first on a PostgreSQL connection fixes the cached statement's parameter to a type that every
/// later non-NULL `f64` then fails ("incorrect binary data format"); text has no such
/// trouble, and the decimal form of an `f64` reads back to the same value.
pub fn float_param(value: Option<f64>) -> Option<String> {
    value.map(|v| v.to_string())
}

/// Creates an empty database file readable by its owner only, unless it exists: SQLite
/// gives its `-wal` and `-shm` files the database file's mode, so the whole database
/// (names, addresses, password hashes) stays owner-only.
fn create_owner_only(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

impl Db {
    /// Opens (creating if needed) the SQLite database in `data_dir`.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Db, sqlx::Error> {
        std::fs::create_dir_all(data_dir).map_err(sqlx::Error::Io)?;
        let file = data_dir.join(SQLITE_FILE);
        create_owner_only(&file).map_err(sqlx::Error::Io)?;
        let url = sqlite_url(&file, "rwc");
        Db::connect(&url).await
    }

    /// Opens a SQLite file read-only (a backup being checked), changing nothing in it.
    pub async fn open_sqlite_read_only(file: &Path) -> Result<Db, sqlx::Error> {
        Db::connect_with(&sqlite_url(file, "ro"), false).await
    }

    /// Connects to a database URL (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        Db::connect_with(url, true).await
    }

    async fn connect_with(url: &str, writable: bool) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(sqlx::Error::Configuration(
                "the database URL must start with sqlite: or postgres:".into(),
            ));
        };
        let options = AnyConnectOptions::from_str(url)?;

        // Pragmas are per connection on SQLite: enforce foreign keys (the composite keys
        // are the second wall between companies), wait instead of failing when another
        // writer holds the lock, and let WAL make commits cheap.
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Deleted content is overwritten with zeros, not left in free
                        // pages: a wipe must leave nothing to read in the file.
                        conn.execute(
                            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite && writable {
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        Ok(Db { pool, backend })
    }

    /// Brings the schema up to date with the migrations embedded in the binary.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite").run(&self.pool).await,
            Backend::Postgres => {
                sqlx::migrate!("../migrations/postgres")
                    .run(&self.pool)
                    .await
            }
        }
    }

    /// The newest schema version this binary's migrations reach.
    pub fn newest_schema_version(&self) -> i64 {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
        };
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// The pool, for the actors and the directory.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then writes can
    /// fail with "database is locked" without waiting when another company's actor
    /// committed in between.
    pub async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Checks that the database answers, for the readiness probe.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Closes every connection, after the actors have stopped.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The current time in UTC milliseconds since the Unix epoch, as stored in every table.
pub fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// SHA-256 of a secret, hex: the stored form of every random token and one-time code
/// (sessions, reset links, recovery and SMS codes, trusted devices). A fast hash is
/// enough because each input is random or short-lived and limited by rate.
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random id for a new row.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether `text` has the form of an id [`new_id`] makes (a hyphenated UUID), so that a
/// filter naming something that cannot be an id is refused instead of matching nothing.
pub fn is_id_shaped(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}
