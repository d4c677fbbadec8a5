//! The installation's staff: operators and support, the people who run Kaizen for the
//! companies on it. They are no member of any company: their accounts and sessions live
//! in their own tables, and what they can see of a company is an overview without
//! content (people counted, last sign-in, cycle names and states) and its audit trail.
//!
//! Like the directory, these are the installation's records, not a company's, so they
//! are read and written here rather than by a company's actor.

use crate::db::{Db, new_id, now_ms};
use crate::model::{Client, normalize_email};

/// How long a staff session lives, at most: a working session, never remembered.
pub const SESSION_MS: i64 = 8 * 60 * 60 * 1000;

/// A staff session idle this long ends.
pub const IDLE_MS: i64 = 30 * 60 * 1000;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Runs the installation: everything support does, and the operator's switches
    /// (XML export, wipe passwords, backups).
    Operator,
    /// Helps companies: sees overviews and audit trails, changes nothing.
    Support,
}

impl StaffRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Operator => "operator",
            StaffRole::Support => "support",
        }
    }

    fn parse(name: &str) -> StaffRole {
        if name == "operator" {
            StaffRole::Operator
        } else {
            StaffRole::Support
        }
    }
}

/// A signed-in staff member, as their session established them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffPrincipal {
    /// The staff member's id.
    pub id: String,
    /// Their email, for audit details.
    pub email: String,
    /// What they may do.
    pub role: StaffRole,
    /// The session.
    pub session_id: String,
}

/// A staff account as sign-in needs it.
#[derive(Debug, Clone)]
pub struct StaffLogin {
    /// The account's id.
    pub id: String,
    /// The stored password hash.
    pub password_hash: String,
}

/// One company as staff see it: no content, no names of people.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CompanyOverview {
    /// The company's slug.
    pub slug: String,
    /// Its display name.
    pub name: String,
    /// People of the company.
    pub users: i64,
    /// People who are not disabled.
    pub active_users: i64,
    /// The last successful sign-in of anyone of the company, RFC 3339, if any.
    pub last_sign_in_at: Option<String>,
    /// Whether the operator switched XML export on.
    pub xml_export_enabled: bool,
    /// The cycles, by name and state, newest first (only in the one-company view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycles: Option<Vec<CycleOverview>>,
}

/// A cycle as staff see it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CycleOverview {
    /// The cycle's name.
    pub name: String,
    /// `open` or `closed`.
    pub status: String,
}

/// Why a staff account could not be added.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// The email is not an address, or the name is empty.
    #[error("give an email address and a name")]
    Invalid,
    /// Another staff account has this email.
    #[error("a staff account with this email exists")]
    Taken,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Adds a staff account with an already hashed password; answers its id.
pub async fn add(
    db: &Db,
    email: &str,
    name: &str,
    role: StaffRole,
    password_hash: &str,
) -> Result<String, StaffError> {
    let email = normalize_email(email);
    let name = name.trim();
    if !email.contains('@') || name.is_empty() {
        return Err(StaffError::Invalid);
    }
    let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM staff WHERE email = $1")
        .bind(&email)
        .fetch_optional(db.pool())
        .await?;
    if taken.is_some() {
        return Err(StaffError::Taken);
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO staff (id, email, name, role, password_hash, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(&id)
    .bind(&email)
    .bind(name)
    .bind(role.as_str())
    .bind(password_hash)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(id)
}

/// The active staff account with this email, for sign-in.
pub async fn find_login(db: &Db, email: &str) -> Result<Option<StaffLogin>, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, password_hash FROM staff WHERE email = $1 AND disabled = 0")
            .bind(normalize_email(email))
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(id, password_hash)| StaffLogin { id, password_hash }))
}

/// Opens a session for a staff member whose password was checked.
pub async fn open_session(
    db: &Db,
    staff_id: &str,
    token_hash: &str,
    client: &Client,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO staff_sessions (id, staff_id, token_hash, created_at, last_seen_at, \
         expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(staff_id)
    .bind(token_hash)
    .bind(now)
    .bind(now + SESSION_MS)
    .bind(client.ip.to_string())
    .bind(&client.user_agent)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The staff member of a live session, touching it; `None` for an unknown, expired or
/// idle session, or a disabled account.
pub async fn session(db: &Db, token_hash: &str) -> Result<Option<StaffPrincipal>, sqlx::Error> {
    let now = now_ms();
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT s.id, t.id, t.email, t.role FROM staff_sessions s JOIN staff t \
         ON t.id = s.staff_id WHERE s.token_hash = $1 AND s.expires_at > $2 \
         AND s.last_seen_at > $3 AND t.disabled = 0",
    )
    .bind(token_hash)
    .bind(now)
    .bind(now - IDLE_MS)
    .fetch_optional(db.pool())
    .await?;
    let Some((session_id, id, email, role)) = row else {
        return Ok(None);
    };
    sqlx::query("UPDATE staff_sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(&session_id)
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(Some(StaffPrincipal {
        id,
        email,
        role: StaffRole::parse(&role),
        session_id,
    }))
}

/// Ends a staff session.
pub async fn end_session(db: &Db, session_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM staff_sessions WHERE id = $1")
        .bind(session_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// What a company's actor tells staff of it; see [`CompanyOverview`].
#[derive(Debug, Clone)]
pub struct CompanyFigures {
    /// People of the company.
    pub users: i64,
    /// People who are not disabled.
    pub active_users: i64,
    /// The last successful sign-in of anyone of the company, RFC 3339, if any.
    pub last_sign_in_at: Option<String>,
    /// The cycles, newest first, when asked for.
    pub cycles: Option<Vec<CycleOverview>>,
}

impl CompanyOverview {
    /// A company of the directory with its actor's figures.
    pub fn new(company: crate::directory::CompanyRef, figures: CompanyFigures) -> Self {
        CompanyOverview {
            slug: company.slug,
            name: company.name,
            users: figures.users,
            active_users: figures.active_users,
            last_sign_in_at: figures.last_sign_in_at,
            xml_export_enabled: company.xml_export_enabled,
            cycles: figures.cycles,
        }
    }
}
