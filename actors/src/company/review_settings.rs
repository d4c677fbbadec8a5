//! The company's settings for reviews: whether managers see their skip-level reports'
//! reviews.

use super::{Company, CompanyHandle};
use crate::error::ActorError;
use crate::model::{Client, Principal, ReviewSettings};

impl Company {
    /// Whether managers read the reviews of everyone below them, not only of their
    /// direct reports. Read per check: a change applies at once, and the row is one
    /// primary-key lookup.
    pub(super) async fn skip_level_visible(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<bool, ActorError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT skip_level_visible FROM companies WHERE id = $1")
                .bind(&self.id)
                .fetch_optional(&mut *conn)
                .await?;
        Ok(row.is_some_and(|(on,)| on != 0))
    }

    async fn review_settings(
        &mut self,
        principal: Principal,
    ) -> Result<ReviewSettings, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let mut conn = self.db.pool().acquire().await?;
        Ok(ReviewSettings {
            skip_level_visible: self.skip_level_visible(&mut conn).await?,
        })
    }

    async fn set_review_settings(
        &mut self,
        principal: Principal,
        settings: ReviewSettings,
        client: Client,
    ) -> Result<ReviewSettings, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        if !principal.is_elevated() {
            return Err(ActorError::ReauthenticationRequired);
        }
        let mut tx = self.db.begin_write().await?;
        let before = self.skip_level_visible(&mut tx).await?;
        sqlx::query("UPDATE companies SET skip_level_visible = $2 WHERE id = $1")
            .bind(&self.id)
            .bind(i64::from(settings.skip_level_visible))
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({ "skip_level_visible":
            { "before": before, "after": settings.skip_level_visible } });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "review_settings_changed",
            None,
            &client,
            detail,
        )
        .await?;
        tx.commit().await?;

        // Managers above the direct one may just have lost reviews they follow live.
        if before && !settings.skip_level_visible {
            self.access_changed();
        }
        Ok(settings)
    }
}

impl CompanyHandle {
    /// The company's review settings (HR admins).
    pub async fn review_settings(
        &self,
        principal: Principal,
    ) -> Result<ReviewSettings, ActorError> {
        self.call(move |c| Box::pin(c.review_settings(principal)))
            .await
    }

    /// Changes the company's review settings (HR admins, reauthenticated).
    pub async fn set_review_settings(
        &self,
        principal: Principal,
        settings: ReviewSettings,
        client: Client,
    ) -> Result<ReviewSettings, ActorError> {
        self.call(move |c| Box::pin(c.set_review_settings(principal, settings, client)))
            .await
    }
}
