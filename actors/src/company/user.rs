//! Users of a company, as the operator and the demo seed create them.

use super::{Company, CompanyHandle};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, Principal, UserRole, UserUpdate, UserView};

/// A user to add to the company.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Email address; stored lowercased and unique within the company.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Stored role.
    pub role: UserRole,
    /// The manager's id, which must be a user of the same company.
    pub manager_id: Option<String>,
    /// The bcrypt hash of the user's password, if they get one now.
    pub password_hash: Option<String>,
}

/// The longest email address accepted (RFC 5321's path limit).
const MAX_EMAIL_LEN: usize = 254;

/// Whether a normalized email address looks usable: one `@`, a dotted domain, no spaces.
pub(super) fn plausible_email(email: &str) -> bool {
    email.len() <= MAX_EMAIL_LEN
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !email.chars().any(char::is_whitespace)
}

impl Company {
    async fn add_user(&mut self, new: NewUser) -> Result<String, ActorError> {
        let email = crate::model::normalize_email(&new.email);
        let name = new.name.trim().to_owned();
        if !plausible_email(&email) {
            return Err(ActorError::Validation(
                "the email address is not valid".into(),
            ));
        }
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ActorError::Validation(
                "the name must have 1 to 200 characters".into(),
            ));
        }

        let mut tx = self.db.begin_write().await?;
        if let Some(manager_id) = &new.manager_id {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT company_id FROM users WHERE company_id = $1 AND id = $2")
                    .bind(&self.id)
                    .bind(manager_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(ActorError::Validation(
                    "the manager is not a user here".into(),
                ));
            }
        }
        let taken: Option<(String,)> =
            sqlx::query_as("SELECT id FROM users WHERE company_id = $1 AND email = $2")
                .bind(&self.id)
                .bind(&email)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(ActorError::Conflict(
                "a user with this email already exists".into(),
            ));
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO users (company_id, id, email, name, role, manager_id, password_hash, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(&email)
        .bind(&name)
        .bind(new.role.as_str())
        .bind(&new.manager_id)
        .bind(&new.password_hash)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;

        // Users are added by the operator's command line or the demo seed, never by a
        // signed-in user yet: the server is the actor.
        let detail = serde_json::json!({ "role": new.role, "by": "operator" });
        let client = Client::system();
        self.record_audit(&mut *tx, None, "user_added", Some(&id), &client, detail)
            .await?;
        tx.commit().await?;
        Ok(id)
    }
}

impl Company {
    async fn user_id_by_email(&mut self, email: String) -> Result<Option<String>, ActorError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT company_id, id FROM users WHERE company_id = $1 AND email = $2")
                .bind(&self.id)
                .bind(crate::model::normalize_email(&email))
                .fetch_optional(self.db.pool())
                .await?;
        Ok(row
            .filter(|(company, _)| *company == self.id)
            .map(|(_, id)| id))
    }
}

/// A user's row as read for HR admins and the org-chart import.
#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    pub(super) company_id: String,
    pub(super) id: String,
    pub(super) email: String,
    pub(super) name: String,
    pub(super) role: String,
    pub(super) manager_id: Option<String>,
    pub(super) department: Option<String>,
    pub(super) disabled: i64,
}

impl Owned for UserRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

impl UserRow {
    fn view(self) -> UserView {
        UserView {
            id: self.id,
            email: self.email,
            name: self.name,
            role: UserRole::parse(&self.role).unwrap_or(UserRole::Employee),
            manager_id: self.manager_id,
            department: self.department,
            disabled: self.disabled != 0,
        }
    }
}

pub(super) const USER_COLUMNS: &str =
    "company_id, id, email, name, role, manager_id, department, disabled";

impl Company {
    async fn list_users(&mut self, principal: Principal) -> Result<Vec<UserView>, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let rows: Vec<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE company_id = $1 ORDER BY email"
        ))
        .bind(&self.id)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        Ok(rows.into_iter().map(UserRow::view).collect())
    }

    /// Changes a user's role or disables the account. Disabling, or taking the HR role
    /// away, ends every session of that user at once.
    async fn update_user(
        &mut self,
        principal: Principal,
        user_id: String,
        update: UserUpdate,
        client: Client,
    ) -> Result<UserView, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        if !principal.is_elevated() {
            return Err(ActorError::ReauthenticationRequired);
        }
        let mut tx = self.db.begin_write().await?;
        let row: UserRow = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE company_id = $1 AND id = $2"
        ))
        .bind(&self.id)
        .bind(&user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&row)?;
        let before = row.view();
        let role = update.role.unwrap_or(before.role);
        let disabled = update.disabled.unwrap_or(before.disabled);

        // The company must keep an active HR admin, or nobody could run it.
        let loses_admin = before.role == UserRole::HrAdmin
            && !before.disabled
            && (role != UserRole::HrAdmin || disabled);
        if loses_admin {
            let (admins,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM users WHERE company_id = $1 AND role = 'hr_admin' \
                 AND disabled = 0",
            )
            .bind(&self.id)
            .fetch_one(&mut *tx)
            .await?;
            if admins <= 1 {
                return Err(ActorError::Conflict(
                    "this is the last active HR admin; make someone else HR admin first".into(),
                ));
            }
        }
        sqlx::query("UPDATE users SET role = $3, disabled = $4 WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(&user_id)
            .bind(role.as_str())
            .bind(i64::from(disabled))
            .execute(&mut *tx)
            .await?;
        let mut ended = Vec::new();
        if loses_admin || (disabled && !before.disabled) {
            ended = self.end_all_sessions(&mut tx, &user_id).await?;
        }
        if loses_admin {
            self.note_admin_removed(&mut tx).await?;
        }
        tx.commit().await?;
        self.revoke_all(&ended);
        // Another role or a disabled report may take away what others may read (a
        // manager of nobody is no longer a manager): live subscriptions are checked again.
        if role != before.role || disabled != before.disabled {
            self.access_changed();
        }
        let after = UserView {
            role,
            disabled,
            ..before.clone()
        };
        let detail = serde_json::json!({
            "role": { "before": before.role, "after": role },
            "disabled": { "before": before.disabled, "after": disabled },
            "sessions_ended": ended.len(),
        });
        self.audit(
            Some(&principal.user_id),
            "user_changed",
            Some(&user_id),
            &client,
            detail,
        )
        .await;

        // A change of role is a grant (or revocation) of permissions: its own event, so
        // that the trail can be searched for exactly those.
        if role != before.role {
            // Employee is no grant: going to it revokes the role held before.
            let (action, changed) = if role == UserRole::Employee {
                ("role_revoked", before.role)
            } else {
                ("role_granted", role)
            };
            let detail = serde_json::json!({ "role": changed });
            let actor = Some(principal.user_id.as_str());
            self.audit(actor, action, Some(&user_id), &client, detail)
                .await;
        }
        Ok(after)
    }

    async fn end_user_sessions(
        &mut self,
        principal: Principal,
        user_id: String,
        client: Client,
    ) -> Result<usize, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        if !principal.is_elevated() {
            return Err(ActorError::ReauthenticationRequired);
        }
        let mut tx = self.db.begin_write().await?;
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT id FROM users WHERE company_id = $1 AND id = $2")
                .bind(&self.id)
                .bind(&user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(ActorError::NotFound);
        }
        let ended = self.end_all_sessions(&mut tx, &user_id).await?;
        tx.commit().await?;
        self.revoke_all(&ended);
        let detail = serde_json::json!({ "sessions_ended": ended.len() });
        self.audit(
            Some(&principal.user_id),
            "user_sessions_ended",
            Some(&user_id),
            &client,
            detail,
        )
        .await;
        Ok(ended.len())
    }

    /// Deletes every session of a user, answering their ids for revocation.
    pub(super) async fn end_all_sessions(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<Vec<String>, ActorError> {
        let sessions: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM sessions WHERE company_id = $1 AND user_id = $2")
                .bind(&self.id)
                .bind(user_id)
                .fetch_all(&mut *conn)
                .await?;
        self.forget_user_chains(conn, user_id).await?;
        sqlx::query("DELETE FROM sessions WHERE company_id = $1 AND user_id = $2")
            .bind(&self.id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        Ok(sessions.into_iter().map(|(id,)| id).collect())
    }
}

impl CompanyHandle {
    /// Every user of the company (HR admins).
    pub async fn list_users(&self, principal: Principal) -> Result<Vec<UserView>, ActorError> {
        self.call(move |c| Box::pin(c.list_users(principal))).await
    }

    /// Changes a user's role or disabled flag (HR admins, reauthenticated).
    pub async fn update_user(
        &self,
        principal: Principal,
        user_id: String,
        update: UserUpdate,
        client: Client,
    ) -> Result<UserView, ActorError> {
        self.call(move |c| Box::pin(c.update_user(principal, user_id, update, client)))
            .await
    }

    /// Ends every session of a user (HR admins, reauthenticated); answers how many.
    pub async fn end_user_sessions(
        &self,
        principal: Principal,
        user_id: String,
        client: Client,
    ) -> Result<usize, ActorError> {
        self.call(move |c| Box::pin(c.end_user_sessions(principal, user_id, client)))
            .await
    }

    /// The id of the user with this email, for the operator's commands.
    pub async fn user_id_by_email(&self, email: String) -> Result<Option<String>, ActorError> {
        self.call(move |c| Box::pin(c.user_id_by_email(email)))
            .await
    }

    /// Adds a user; answers the new user's id.
    pub async fn add_user(&self, new: NewUser) -> Result<String, ActorError> {
        self.call(move |c| Box::pin(c.add_user(new))).await
    }
}
