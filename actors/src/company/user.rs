//! Users of a company, as the operator and the demo seed create them.

use super::{Company, CompanyHandle};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::model::UserRole;

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

impl Company {
    async fn add_user(&mut self, new: NewUser) -> Result<String, ActorError> {
        let email = new.email.trim().to_lowercase();
        let name = new.name.trim().to_owned();
        let plausible = email.len() <= MAX_EMAIL_LEN
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.contains('@')
            })
            && !email.chars().any(char::is_whitespace);
        if !plausible {
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
        tx.commit().await?;
        Ok(id)
    }
}

impl Company {
    async fn user_id_by_email(&mut self, email: String) -> Result<Option<String>, ActorError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT company_id, id FROM users WHERE company_id = $1 AND email = $2")
                .bind(&self.id)
                .bind(email.trim().to_lowercase())
                .fetch_optional(self.db.pool())
                .await?;
        Ok(row
            .filter(|(company, _)| *company == self.id)
            .map(|(_, id)| id))
    }
}

impl CompanyHandle {
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
