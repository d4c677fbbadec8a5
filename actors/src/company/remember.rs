//! Remember-me: a long-lived token, apart from the session, that mints a fresh session
//! when the browser comes back without a live one.
//!
//! A token is issued only after the whole sign-in (second factor included) and belongs to
//! a chain. Every use rotates it; the chain's end is fixed at sign-in, so rotation never
//! extends it. The hash a rotation replaced is kept: presented again within a few seconds
//! it is a parallel request of the same browser and gets a session of its own; presented
//! later it means someone copied the token, and the whole chain ends with its sessions.

use futures_util::future::BoxFuture;

use super::{Company, CompanyHandle};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, Principal, Stage};

/// How many sessions a replaced token may still mint within the grace: enough for the
/// requests a browser sends at once, not a supply for whoever copied it.
const GRACE_SESSIONS: i64 = 3;

/// How long a replaced token still mints sessions by default: requests the browser sent
/// in parallel with the one that rotated it carry the old value.
pub const ROTATION_GRACE_MS: i64 = 30_000;

/// A remember-me token presented by a browser without a live session.
#[derive(Debug, Clone)]
pub struct Redemption {
    /// SHA-256 (hex) of the presented token.
    pub token_hash: String,
    /// SHA-256 (hex) of the token that replaces it, should it rotate.
    pub next_token_hash: String,
    /// SHA-256 (hex) of the new session's token.
    pub session_token_hash: String,
    /// Where the request came from.
    pub client: Client,
}

/// A session minted from a remember-me token.
#[derive(Debug, Clone)]
pub struct Redeemed {
    /// The new session's caller.
    pub principal: Principal,
    /// Whether the token rotated, so the browser must be given the next one.
    pub rotated: bool,
    /// When the chain ends (UTC ms); the cookie lives until then.
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct RememberRow {
    company_id: String,
    id: String,
    user_id: String,
    token_hash: String,
    rotated_at: i64,
    expires_at: i64,
    user_company_id: String,
    disabled: i64,
}

impl Owned for RememberRow {
    const TABLE: &'static str = "remember_tokens";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.user_company_id]
    }
}

impl Company {
    /// Starts a remember-me chain for a session that has just completed sign-in.
    pub(super) async fn issue_remember(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
        session_id: &str,
        token_hash: &str,
    ) -> Result<(), ActorError> {
        let (chain, now) = (new_id(), now_ms());
        sqlx::query(
            "INSERT INTO remember_tokens (company_id, id, user_id, token_hash, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&self.id)
        .bind(&chain)
        .bind(user_id)
        .bind(token_hash)
        .bind(now)
        .bind(now + self.session_policy.remember_me_ms)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE sessions SET remember_me = 1, remember_id = $3 \
             WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(session_id)
        .bind(&chain)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn redeem_remember(
        &mut self,
        redemption: Redemption,
    ) -> Result<Option<Redeemed>, ActorError> {
        self.check_address(redemption.client.ip).await?;
        // Read before the write transaction starts (see `Company`).
        let policy = self.policy().await?.policy.clone();
        if !policy.remember_me_allowed {
            return Ok(None);
        }
        let mut tx = self.db.begin_write().await?;
        let row: Option<RememberRow> = sqlx::query_as(
            "SELECT r.company_id, r.id, r.user_id, r.token_hash, r.rotated_at, r.expires_at, \
             u.company_id AS user_company_id, u.disabled \
             FROM remember_tokens r JOIN users u ON u.id = r.user_id \
             WHERE r.company_id = $1 AND (r.token_hash = $2 OR r.previous_hash = $2)",
        )
        .bind(&self.id)
        .bind(&redemption.token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        self.check(&row)?;

        let now = now_ms();
        let current = row.token_hash == redemption.token_hash;
        let copied = !current && now - row.rotated_at > self.session_policy.rotation_grace_ms;
        // A user who must now enroll a factor signs in with the password again.
        let must_enroll =
            policy.second_factor_required && !self.has_factor(&mut tx, &row.user_id).await?;
        if row.expires_at <= now || row.disabled != 0 || copied || must_enroll {
            let ended = self.end_chain(&mut tx, &row.id).await?;
            tx.commit().await?;
            self.revoke_all(&ended);
            if copied {
                self.report_copied_token(&row.user_id, &redemption.client, ended.len())
                    .await;
            }
            return Ok(None);
        }

        if !current {
            let (minted,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM sessions WHERE company_id = $1 AND remember_id = $2 \
                 AND created_at >= $3",
            )
            .bind(&self.id)
            .bind(&row.id)
            .bind(row.rotated_at)
            .fetch_one(&mut *tx)
            .await?;
            // The rotation's own session, and a few for requests sent alongside it.
            if minted > GRACE_SESSIONS {
                return Ok(None);
            }
        }
        if current {
            sqlx::query(
                "UPDATE remember_tokens SET previous_hash = token_hash, token_hash = $3, \
                 rotated_at = $4 WHERE company_id = $1 AND id = $2",
            )
            .bind(&self.id)
            .bind(&row.id)
            .bind(&redemption.next_token_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let session_id = new_id();
        sqlx::query(
            "INSERT INTO sessions (company_id, id, user_id, token_hash, created_at, \
             last_seen_at, expires_at, remember_me, ip, user_agent, stage, remember_requested, \
             remember_id) VALUES ($1, $2, $3, $4, $5, $5, $6, 1, $7, $8, 'full', 1, $9)",
        )
        .bind(&self.id)
        .bind(&session_id)
        .bind(&row.user_id)
        .bind(&redemption.session_token_hash)
        .bind(now)
        .bind((now + self.session_policy.absolute_timeout_ms).min(row.expires_at))
        .bind(redemption.client.ip.to_string())
        .bind(&redemption.client.user_agent)
        .bind(&row.id)
        .execute(&mut *tx)
        .await?;
        let roles = self.roles_of(&mut tx, &row.user_id).await?;
        tx.commit().await?;

        let detail = serde_json::json!({ "factor": "remember_me", "rotated": current });
        self.audit(
            Some(&row.user_id),
            "signed_in",
            None,
            &redemption.client,
            detail,
        )
        .await;
        Ok(Some(Redeemed {
            principal: Principal {
                company_id: self.id.clone(),
                user_id: row.user_id,
                session_id,
                roles,
                elevated_until: 0,
                stage: Stage::Full,
            },
            rotated: current,
            expires_at: row.expires_at,
        }))
    }

    /// Ends a remember-me chain and every session minted from it, answering the sessions'
    /// ids so their live connections can be closed after the commit.
    async fn end_chain(
        &self,
        conn: &mut sqlx::AnyConnection,
        chain: &str,
    ) -> Result<Vec<String>, ActorError> {
        sqlx::query("DELETE FROM remember_tokens WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(chain)
            .execute(&mut *conn)
            .await?;
        let sessions: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM sessions WHERE company_id = $1 AND remember_id = $2")
                .bind(&self.id)
                .bind(chain)
                .fetch_all(&mut *conn)
                .await?;
        sqlx::query("DELETE FROM sessions WHERE company_id = $1 AND remember_id = $2")
            .bind(&self.id)
            .bind(chain)
            .execute(&mut *conn)
            .await?;
        Ok(sessions.into_iter().map(|(id,)| id).collect())
    }

    async fn report_copied_token(&self, user_id: &str, client: &Client, sessions_ended: usize) {
        let detail = serde_json::json!({ "sessions_ended": sessions_ended });
        self.audit(Some(user_id), "remember_me_reused", None, client, detail)
            .await;
        let detail = format!("a replaced remember-me token of user {user_id} was presented again");
        self.alerts
            .raise("remember_me_reused", Some(&self.id), &detail);
        let body = "A \"remember me\" sign-in of your account was used again after it had been \
                    replaced, which happens when it was copied from your browser. We signed \
                    that browser out. If you did not expect this, change your password and \
                    tell your HR team.";
        self.notify(
            user_id,
            "remember_me_reused",
            "A copied sign-in was refused",
            body,
        )
        .await;
    }

    /// Makes the remember-me tokens of a session's chain useless (the session signs out
    /// or is ended from elsewhere).
    pub(super) async fn forget_chain_of(
        &self,
        conn: &mut sqlx::AnyConnection,
        session_id: &str,
    ) -> Result<(), ActorError> {
        sqlx::query(
            "DELETE FROM remember_tokens WHERE company_id = $1 AND id IN \
             (SELECT remember_id FROM sessions WHERE company_id = $1 AND id = $2)",
        )
        .bind(&self.id)
        .bind(session_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Makes every remember-me token of a user useless. The chain of the browser making
    /// the change goes too: its cookie may be the copied one the user is reacting to. The
    /// sessions that stay (the caller's) carry on as ordinary ones.
    pub(super) async fn forget_user_chains(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<(), ActorError> {
        sqlx::query("DELETE FROM remember_tokens WHERE company_id = $1 AND user_id = $2")
            .bind(&self.id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE sessions SET remember_me = 0, remember_id = NULL \
             WHERE company_id = $1 AND user_id = $2",
        )
        .bind(&self.id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

impl CompanyHandle {
    /// Mints a session from a remember-me token, rotating the token. `None` when the token
    /// is unknown, expired, of a disabled user, switched off by the company, or a copy
    /// (which also ends its chain); `IpNotAllowed` when the company's ranges exclude the
    /// client.
    pub async fn redeem_remember(
        &self,
        redemption: Redemption,
    ) -> Result<Option<Redeemed>, ActorError> {
        self.call(move |c| -> BoxFuture<'_, _> { Box::pin(c.redeem_remember(redemption)) })
            .await
    }
}
