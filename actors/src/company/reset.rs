//! Password reset by emailed link, and the notices users get after account changes.

use super::{Company, CompanyHandle};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::mail::Message;
use crate::model::{Client, Profile};

/// How long a reset link works (30 minutes).
pub const RESET_LINK_MS: i64 = 30 * 60_000;

/// Who a valid reset link is for, and the rules their new password must follow.
#[derive(Debug, Clone)]
pub struct ResetTarget {
    /// The user.
    pub profile: Profile,
    /// The company's minimum password length.
    pub min_password_length: i64,
}

impl Company {
    /// Emails `user_id` a notice about a change to their account, and audits it.
    pub(super) async fn notify(
        &self,
        user_id: &str,
        kind: &'static str,
        subject: &str,
        body: &str,
    ) {
        let email: Option<(String,)> =
            sqlx::query_as("SELECT email FROM users WHERE company_id = $1 AND id = $2")
                .bind(&self.id)
                .bind(user_id)
                .fetch_optional(self.db.pool())
                .await
                .unwrap_or(None);
        let Some((to,)) = email else { return };
        self.send_mail(
            Some(user_id),
            Message {
                kind,
                to,
                subject: subject.to_owned(),
                body: body.to_owned(),
                link: None,
                code: None,
            },
        )
        .await;
    }

    /// Sends an email and records that it was sent (kind and recipient, not content).
    pub(super) async fn send_mail(&self, user_id: Option<&str>, message: Message) {
        let detail = serde_json::json!({ "kind": message.kind, "to": message.to,
            "delivered": self.mailer.is_enabled() });
        self.mailer.send(message);
        self.audit(user_id, "email_sent", None, &Client::system(), detail)
            .await;
    }

    async fn request_reset(
        &mut self,
        email: String,
        token: String,
        client: Client,
    ) -> Result<(), ActorError> {
        // Outside the company's ranges nothing happens; the caller answers 202 anyway.
        if self.check_address(client.ip).await.is_err() {
            self.audit(
                None,
                "password_reset_refused",
                None,
                &client,
                serde_json::json!({ "reason": "ip_not_allowed" }),
            )
            .await;
            return Ok(());
        }
        let user: Option<(String, String)> = sqlx::query_as(
            "SELECT id, email FROM users WHERE company_id = $1 AND email = $2 AND disabled = 0",
        )
        .bind(&self.id)
        .bind(crate::model::normalize_email(&email))
        .fetch_optional(self.db.pool())
        .await?;
        let Some((user_id, to)) = user else {
            return Ok(());
        };

        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE password_resets SET used_at = $3 WHERE company_id = $1 AND user_id = $2 \
             AND used_at IS NULL",
        )
        .bind(&self.id)
        .bind(&user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO password_resets (company_id, id, user_id, token_hash, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&self.id)
        .bind(new_id())
        .bind(&user_id)
        .bind(crate::db::sha256_hex(&token))
        .bind(now)
        .bind(now + RESET_LINK_MS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        let link = format!(
            "{}/#/reset/{}.{token}",
            self.public_url.trim_end_matches('/'),
            self.id
        );
        let body = format!(
            "Someone asked to reset your Kaizen password. If it was you, open this link \
             within 30 minutes:\n\n{link}\n\nIf it was not you, ignore this email; your \
             password stays as it is."
        );
        self.audit(
            Some(&user_id),
            "password_reset_requested",
            None,
            &client,
            serde_json::json!({}),
        )
        .await;
        let message = Message {
            kind: "password_reset",
            to,
            subject: "Reset your Kaizen password".into(),
            body,
            link: Some(link),
            code: None,
        };
        self.send_mail(Some(&user_id), message).await;
        Ok(())
    }

    /// The user a live reset token belongs to.
    async fn reset_user(
        &self,
        conn: &mut sqlx::AnyConnection,
        token: &str,
    ) -> Result<String, ActorError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT company_id, user_id FROM password_resets WHERE company_id = $1 \
             AND token_hash = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(&self.id)
        .bind(crate::db::sha256_hex(token))
        .bind(now_ms())
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some((company, user)) if company == self.id => Ok(user),
            _ => Err(ActorError::Validation(
                "this reset link is invalid, used or expired".into(),
            )),
        }
    }

    async fn reset_target(&mut self, token: String) -> Result<ResetTarget, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let user = self.reset_user(&mut conn, &token).await?;
        let profile = self.load_profile(&mut conn, &user).await?;
        drop(conn);
        let min_password_length = self.policy().await?.policy.min_password_length;
        Ok(ResetTarget {
            profile,
            min_password_length,
        })
    }

    async fn complete_reset(
        &mut self,
        token: String,
        hash: String,
        client: Client,
    ) -> Result<(), ActorError> {
        let mut tx = self.db.begin_write().await?;
        let user = self.reset_user(&mut tx, &token).await?;
        let now = now_ms();
        sqlx::query(
            "UPDATE password_resets SET used_at = $3 WHERE company_id = $1 AND token_hash = $2",
        )
        .bind(&self.id)
        .bind(crate::db::sha256_hex(&token))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET password_hash = $3 WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(&user)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;

        // Every session of the user ends. The reset signs nobody in: the next sign-in
        // still asks for the second factor if the user has one.
        sqlx::query("DELETE FROM trusted_devices WHERE company_id = $1 AND user_id = $2")
            .bind(&self.id)
            .bind(&user)
            .execute(&mut *tx)
            .await?;
        let ended = self.end_all_sessions(&mut tx, &user).await?;
        tx.commit().await?;
        self.revoke_all(&ended);
        self.audit(
            Some(&user),
            "password_reset",
            None,
            &client,
            serde_json::json!({ "sessions_ended": ended.len() }),
        )
        .await;
        self.notify(
            &user,
            "password_changed",
            "Your Kaizen password was reset",
            "Your password was just reset and every session was signed out. If this was not \
             you, contact your HR team at once.",
        )
        .await;
        Ok(())
    }
}

impl CompanyHandle {
    /// Emails a reset link to the user with `email`, if there is such an active user.
    /// Answers the same either way; `token` is the link's random secret.
    pub async fn request_password_reset(
        &self,
        email: String,
        token: String,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.request_reset(email, token, client)))
            .await
    }

    /// Who a reset token is for, while it is live.
    pub async fn reset_target(&self, token: String) -> Result<ResetTarget, ActorError> {
        self.call(move |c| Box::pin(c.reset_target(token))).await
    }

    /// Sets the new password of a live reset token, spends the token and ends every
    /// session of the user.
    pub async fn complete_password_reset(
        &self,
        token: String,
        hash: String,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.complete_reset(token, hash, client)))
            .await
    }
}
