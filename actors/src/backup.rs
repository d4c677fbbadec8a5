//! What backups need from the database: a consistent copy taken while the server serves,
//! and a census (schema version, rows per table and company) to verify a restore against.
//!
//! On SQLite the copy is `VACUUM INTO`, which reads one snapshot of the database inside a
//! read transaction, so writers carry on and the copy is a consistent database file of its
//! own. PostgreSQL copies are taken by its own tools (see the server's `backup` module);
//! this module gives them the census.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Backend, Db};

/// How many rows each table holds, per company where the table has a `company_id`.
/// Tables without one (companies, the migration history) count under `"*"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    /// The newest migration applied.
    pub schema_version: i64,
    /// Table → company id (or `"*"`) → rows.
    pub tables: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Census {
    /// The differences from `expected`, one readable line each; empty when equal.
    pub fn differences(&self, expected: &Census) -> Vec<String> {
        let mut lines = Vec::new();
        if self.schema_version != expected.schema_version {
            lines.push(format!(
                "schema version {} where the backup recorded {}",
                self.schema_version, expected.schema_version
            ));
        }
        let names: std::collections::BTreeSet<&String> =
            self.tables.keys().chain(expected.tables.keys()).collect();
        let empty = BTreeMap::new();
        for name in names {
            let (found, wanted) = (
                self.tables.get(name).unwrap_or(&empty),
                expected.tables.get(name).unwrap_or(&empty),
            );
            let owners: std::collections::BTreeSet<&String> =
                found.keys().chain(wanted.keys()).collect();
            for owner in owners {
                let (n, m) = (
                    found.get(owner).copied().unwrap_or(0),
                    wanted.get(owner).copied().unwrap_or(0),
                );
                if n != m {
                    lines.push(format!(
                        "table {name}, company {owner}: {n} rows where the backup recorded {m}"
                    ));
                }
            }
        }
        lines
    }

    /// Rows in all tables together.
    pub fn total_rows(&self) -> i64 {
        self.tables.values().flat_map(|t| t.values()).sum()
    }
}

/// Copies a SQLite database into `out`, consistently, while others keep writing. `out`
/// must not exist yet.
pub async fn copy_sqlite(db: &Db, out: &Path) -> Result<(), sqlx::Error> {
    if db.backend() != Backend::Sqlite {
        return Err(sqlx::Error::Configuration(
            "VACUUM INTO copies SQLite databases only".into(),
        ));
    }
    let target = out
        .to_str()
        .ok_or_else(|| sqlx::Error::Configuration("the backup path is not valid UTF-8".into()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A PostgreSQL snapshot held open by a read-only transaction, so that `pg_dump
/// --snapshot` copies exactly what the census counted.
pub struct PinnedSnapshot {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// The exported snapshot's id, for `pg_dump --snapshot`.
    pub id: String,
    /// The rows the snapshot holds.
    pub census: Census,
}

impl PinnedSnapshot {
    /// Ends the transaction once the dump is done.
    pub async fn release(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// Exports a PostgreSQL snapshot and takes its census.
pub async fn pin_postgres_snapshot(db: &Db) -> Result<PinnedSnapshot, sqlx::Error> {
    if db.backend() != Backend::Postgres {
        return Err(sqlx::Error::Configuration(
            "exported snapshots are PostgreSQL's".into(),
        ));
    }
    let mut tx = db.pool().begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await?;
    let census = census_in(Backend::Postgres, &mut tx).await?;
    Ok(PinnedSnapshot { tx, id, census })
}

/// Counts every table's rows, per company, in one read transaction (one snapshot).
pub async fn census(db: &Db) -> Result<Census, sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let census = census_in(db.backend(), &mut tx).await?;
    tx.commit().await?;
    Ok(census)
}

/// Counts every table's rows on a connection whose transaction fixes the snapshot.
pub async fn census_in(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
) -> Result<Census, sqlx::Error> {
    let list = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             ORDER BY table_name"
        }
    };
    let names: Vec<String> = sqlx::query_scalar(list).fetch_all(&mut *conn).await?;
    let mut tables = BTreeMap::new();
    for name in names {
        // Names come from the catalogue, but are quoted and checked all the same.
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(sqlx::Error::Protocol(format!(
                "unexpected table name {name:?}"
            )));
        }
        let per_company = has_company_column(backend, conn, &name).await?;
        let sql = if per_company {
            format!(
                "SELECT company_id, COUNT(*) FROM \"{name}\" GROUP BY company_id \
                 ORDER BY company_id"
            )
        } else {
            format!("SELECT '*', COUNT(*) FROM \"{name}\"")
        };
        let mut counts = BTreeMap::new();
        for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
            let owner: String = row.try_get(0)?;
            let rows: i64 = row.try_get(1)?;
            if rows > 0 {
                counts.insert(owner, rows);
            }
        }
        tables.insert(name, counts);
    }
    let schema_version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&mut *conn)
            .await?;
    Ok(Census {
        schema_version: schema_version.unwrap_or(0),
        tables,
    })
}

async fn has_company_column(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    table: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = match backend {
        Backend::Sqlite => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = 'company_id'",
            )
            .bind(table)
            .fetch_one(&mut *conn)
            .await?
        }
        Backend::Postgres => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 AND column_name = 'company_id'",
            )
            .bind(table)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    Ok(n > 0)
}

/// Whether the database holds no tables at all (a safe target for a restore).
pub async fn is_empty(db: &Db) -> Result<bool, sqlx::Error> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
    };
    let n: i64 = sqlx::query_scalar(sql).fetch_one(db.pool()).await?;
    Ok(n == 0)
}

/// SQLite's own checks of a database file: page structure and foreign keys. Answers the
/// problems found, empty when there are none. PostgreSQL checks its pages itself.
pub async fn integrity_problems(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    if db.backend() != Backend::Sqlite {
        return Ok(Vec::new());
    }
    let mut problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .filter(|line: &String| line != "ok")
        .collect();
    let dangling = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(db.pool())
        .await?;
    for row in dangling {
        let table: String = row.try_get(0)?;
        problems.push(format!("a row of {table} refers to a missing row"));
    }
    Ok(problems)
}
