//! Wiping all of a company's content, guarded three ways: an HR admin who has just given
//! the password again; for a company older than four weeks, a one-time master password
//! the operator issues; and with more than one active HR admin, a second admin's
//! confirmation within an hour. Content rows are deleted, not flagged; the company, its
//! people, its settings and its audit trail stay, and every session ends.

use futures_util::future::BoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Company, CompanyHandle};
use crate::db::{new_id, now_ms, sha256_hex};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, Principal};

/// A company this old needs the operator's master password to be wiped.
pub const MASTER_PASSWORD_AGE_MS: i64 = 28 * 24 * 3_600_000;

/// How long a master password works after the operator issues it.
pub const MASTER_PASSWORD_MS: i64 = 3_600_000;

/// How long after an HR admin lost the role or was disabled a wipe is refused: otherwise
/// one admin could demote the others and wipe alone.
pub const ADMIN_REMOVAL_HOLD_MS: i64 = 7 * 24 * 3_600_000;

/// How long a wipe request waits for a second admin.
pub const CONFIRMATION_WINDOW_MS: i64 = 3_600_000;

/// The company's content, children before parents. Every table of written or reviewed
/// content belongs here; people, settings and the audit trail do not.
const CONTENT_TABLES: &[&str] = &[
    "calibrations",
    "reminders_sent",
    "comments",
    "objective_cycles",
    "key_results",
    "objectives",
    "feedback_answers",
    "feedback_requests",
    "feedback_questions",
    "feedback_settings",
    "reviews",
    "questions",
    "cycles",
];

/// Rows deleted per table.
pub type Deleted = std::collections::BTreeMap<String, u64>;

#[derive(sqlx::FromRow)]
struct RequestRow {
    company_id: String,
    id: String,
    requested_by: String,
    expires_at: i64,
    status: String,
}

impl Owned for RequestRow {
    const TABLE: &'static str = "wipe_requests";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// What a wipe request came to.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WipeOutcome {
    /// Everything is gone; every session has ended.
    Wiped {
        /// Rows deleted per table.
        deleted: Deleted,
    },
    /// Another active HR admin must confirm before `expires_at`.
    AwaitingConfirmation {
        /// The request to confirm.
        request_id: String,
        /// Until when (UTC ms) it can be confirmed.
        expires_at: i64,
    },
}

impl Company {
    async fn request_wipe(
        &mut self,
        principal: Principal,
        master_password: Option<String>,
        client: Client,
    ) -> Result<WipeOutcome, ActorError> {
        self.check_wiper(&principal, &client).await?;
        let mut tx = self.db.begin_write().await?;
        let (created_at, admin_removed_at): (i64, i64) =
            sqlx::query_as("SELECT created_at, admin_removed_at FROM companies WHERE id = $1")
                .bind(&self.id)
                .fetch_one(&mut *tx)
                .await?;
        let now = now_ms();
        if now - created_at > MASTER_PASSWORD_AGE_MS {
            let hash = master_password
                .as_deref()
                .map(sha256_hex)
                .unwrap_or_default();
            let spent = sqlx::query(
                "UPDATE wipe_passwords SET used_at = $3 WHERE company_id = $1 \
                 AND secret_hash = $2 AND used_at IS NULL AND expires_at > $3",
            )
            .bind(&self.id)
            .bind(&hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if spent.rows_affected() != 1 {
                drop(tx);
                let reason = if master_password.is_some() {
                    "master_password_wrong"
                } else {
                    "master_password_missing"
                };
                self.refuse(&principal, &client, reason).await;
                return Err(ActorError::MasterPasswordRequired);
            }
        }

        let (admins,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM users WHERE company_id = $1 AND role = 'hr_admin' \
             AND disabled = 0",
        )
        .bind(&self.id)
        .fetch_one(&mut *tx)
        .await?;
        if admins <= 1 && now - admin_removed_at < ADMIN_REMOVAL_HOLD_MS {
            drop(tx);
            self.refuse(&principal, &client, "admin_recently_removed")
                .await;
            return Err(ActorError::Conflict(
                "an HR admin lost the role or was disabled in the last 7 days; until then a \
                 wipe needs a second HR admin"
                    .into(),
            ));
        }
        if admins > 1 {
            let (id, expires_at) = (new_id(), now + CONFIRMATION_WINDOW_MS);
            sqlx::query(
                "INSERT INTO wipe_requests (company_id, id, requested_by, requested_at, \
                 expires_at, status) VALUES ($1, $2, $3, $4, $5, 'pending')",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&principal.user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            let detail = serde_json::json!({ "expires_at": expires_at });
            self.audit(
                Some(&principal.user_id),
                "wipe_requested",
                Some(&id),
                &client,
                detail,
            )
            .await;
            return Ok(WipeOutcome::AwaitingConfirmation {
                request_id: id,
                expires_at,
            });
        }
        let (deleted, ended) = self.wipe(tx).await?;
        self.audit_wipe(&principal, &client, None, &deleted, ended)
            .await;
        Ok(WipeOutcome::Wiped { deleted })
    }

    async fn confirm_wipe(
        &mut self,
        principal: Principal,
        request_id: String,
        client: Client,
    ) -> Result<WipeOutcome, ActorError> {
        self.check_wiper(&principal, &client).await?;
        let mut tx = self.db.begin_write().await?;
        let row: Option<RequestRow> = sqlx::query_as(
            "SELECT company_id, id, requested_by, expires_at, status FROM wipe_requests \
             WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&request_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(ActorError::NotFound);
        };
        self.check(&row)?;
        let RequestRow {
            requested_by,
            expires_at,
            status,
            ..
        } = row;
        if status != "pending" {
            return Err(ActorError::Conflict(format!(
                "this wipe request is {status}"
            )));
        }
        if requested_by == principal.user_id {
            drop(tx);
            self.refuse(&principal, &client, "same_admin").await;
            return Err(ActorError::Conflict(
                "another HR admin must confirm the wipe you asked for".into(),
            ));
        }
        let (asker_role, asker_disabled): (String, i64) =
            sqlx::query_as("SELECT role, disabled FROM users WHERE company_id = $1 AND id = $2")
                .bind(&self.id)
                .bind(&requested_by)
                .fetch_one(&mut *tx)
                .await?;
        if asker_role != "hr_admin" || asker_disabled != 0 {
            drop(tx);
            self.refuse(&principal, &client, "requester_no_longer_admin")
                .await;
            return Err(ActorError::Conflict(
                "the admin who asked for this wipe is no longer an HR admin".into(),
            ));
        }
        if expires_at <= now_ms() {
            sqlx::query(
                "UPDATE wipe_requests SET status = 'expired' WHERE company_id = $1 AND id = $2",
            )
            .bind(&self.id)
            .bind(&request_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.refuse(&principal, &client, "confirmation_expired")
                .await;
            return Err(ActorError::Conflict(
                "the wipe request expired unconfirmed; ask again".into(),
            ));
        }
        sqlx::query(
            "UPDATE wipe_requests SET status = 'done', confirmed_by = $3 \
             WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&request_id)
        .bind(&principal.user_id)
        .execute(&mut *tx)
        .await?;
        let (deleted, ended) = self.wipe(tx).await?;
        self.audit(
            Some(&principal.user_id),
            "wipe_confirmed",
            Some(&request_id),
            &client,
            serde_json::json!({ "requested_by": requested_by }),
        )
        .await;
        self.audit_wipe(&principal, &client, Some(&request_id), &deleted, ended)
            .await;
        Ok(WipeOutcome::Wiped { deleted })
    }

    /// Only HR admins who gave their password in the last minutes may wipe.
    async fn check_wiper(&self, principal: &Principal, client: &Client) -> Result<(), ActorError> {
        if !principal.roles.hr_admin {
            self.refuse(principal, client, "not_hr_admin").await;
            return Err(ActorError::Forbidden);
        }
        if !principal.is_elevated() {
            self.refuse(principal, client, "not_reauthenticated").await;
            return Err(ActorError::ReauthenticationRequired);
        }
        Ok(())
    }

    async fn refuse(&self, principal: &Principal, client: &Client, reason: &str) {
        let detail = serde_json::json!({ "reason": reason });
        self.audit(
            Some(&principal.user_id),
            "wipe_refused",
            None,
            client,
            detail,
        )
        .await;
    }

    /// Deletes the content and every session in the open transaction, commits and closes
    /// the sessions' live connections. Answers the rows deleted per table and how many
    /// sessions ended.
    async fn wipe(
        &mut self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(Deleted, usize), ActorError> {
        let mut deleted = std::collections::BTreeMap::new();
        for table in CONTENT_TABLES {
            let done = sqlx::query(&format!("DELETE FROM {table} WHERE company_id = $1"))
                .bind(&self.id)
                .execute(&mut *tx)
                .await?;
            deleted.insert((*table).to_owned(), done.rows_affected());
        }
        let sessions: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM sessions WHERE company_id = $1")
                .bind(&self.id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query(
            "UPDATE wipe_requests SET status = 'expired' WHERE company_id = $1 \
             AND status = 'pending'",
        )
        .bind(&self.id)
        .execute(&mut *tx)
        .await?;
        for table in ["remember_tokens", "sessions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE company_id = $1"))
                .bind(&self.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // Deleted pages are zeroed (secure_delete), but the write-ahead log still holds
        // the old pages until a checkpoint: copy them home and empty it. (Cheap: SQLite
        // checkpoints the log by itself every thousand pages, so it is never large.)
        if self.db.backend() == crate::db::Backend::Sqlite
            && let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(self.db.pool())
                .await
        {
            tracing::warn!(%error, "the log could not be emptied after a wipe");
        }
        let ended: Vec<String> = sessions.into_iter().map(|(id,)| id).collect();
        self.revoke_all(&ended);
        tracing::warn!(company_id = %self.id, "company content wiped");
        Ok((deleted, ended.len()))
    }

    async fn audit_wipe(
        &self,
        principal: &Principal,
        client: &Client,
        request_id: Option<&str>,
        deleted: &Deleted,
        sessions_ended: usize,
    ) {
        let detail = serde_json::json!({ "deleted": deleted, "sessions_ended": sessions_ended });
        self.audit(
            Some(&principal.user_id),
            "company_wiped",
            request_id,
            client,
            detail,
        )
        .await;
    }

    /// Records that an HR admin just lost the role or was disabled (see
    /// [`ADMIN_REMOVAL_HOLD_MS`]).
    pub(super) async fn note_admin_removed(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<(), ActorError> {
        sqlx::query("UPDATE companies SET admin_removed_at = $2 WHERE id = $1")
            .bind(&self.id)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn issue_wipe_password(&mut self, secret_hash: String) -> Result<i64, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let now = now_ms();
        // A new password voids the ones before it.
        sqlx::query(
            "UPDATE wipe_passwords SET used_at = $2 WHERE company_id = $1 AND used_at IS NULL",
        )
        .bind(&self.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let expires_at = now + MASTER_PASSWORD_MS;
        sqlx::query(
            "INSERT INTO wipe_passwords (company_id, id, secret_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&self.id)
        .bind(new_id())
        .bind(&secret_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let operator = Client {
            ip: std::net::IpAddr::from([127, 0, 0, 1]),
            user_agent: "kaizen command line".into(),
        };
        let detail = serde_json::json!({ "expires_at": expires_at });
        self.audit(None, "wipe_password_issued", None, &operator, detail)
            .await;
        Ok(expires_at)
    }
}

impl CompanyHandle {
    /// Asks to wipe all content (HR admins, reauthenticated). Wipes at once when the caller
    /// is the only active HR admin; otherwise waits for another admin's confirmation. A
    /// company older than four weeks needs the operator's master password.
    pub async fn request_wipe(
        &self,
        principal: Principal,
        master_password: Option<String>,
        client: Client,
    ) -> Result<WipeOutcome, ActorError> {
        self.call(move |c| -> BoxFuture<'_, _> {
            Box::pin(c.request_wipe(principal, master_password, client))
        })
        .await
    }

    /// Confirms another admin's wipe request (HR admins, reauthenticated), which wipes.
    pub async fn confirm_wipe(
        &self,
        principal: Principal,
        request_id: String,
        client: Client,
    ) -> Result<WipeOutcome, ActorError> {
        self.call(move |c| -> BoxFuture<'_, _> {
            Box::pin(c.confirm_wipe(principal, request_id, client))
        })
        .await
    }

    /// Stores a master password for wiping (the operator, from the command line); answers
    /// until when it works. Earlier ones stop working.
    pub async fn issue_wipe_password(&self, secret_hash: String) -> Result<i64, ActorError> {
        self.call(move |c| -> BoxFuture<'_, _> { Box::pin(c.issue_wipe_password(secret_hash)) })
            .await
    }
}
