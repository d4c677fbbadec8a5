//! The company's security policy, the audit trail, reauthentication and a user's own
//! sessions and password.

use std::net::IpAddr;

use futures_util::future::BoxFuture;

use super::{Company, CompanyHandle};
use crate::db::now_ms;
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, PolicyUpdate, Principal, SecurityPolicy, SessionView, rfc3339};
use crate::net::Cidr;

/// How long a reauthentication lasts (ten minutes).
pub const ELEVATION_MS: i64 = 10 * 60_000;

/// The most address ranges a company may list.
const MAX_IP_RANGES: usize = 100;

/// The longest minimum password length a company may require.
const MAX_MIN_PASSWORD_LENGTH: i64 = 128;

/// A company's policy with its address ranges parsed, as the actor keeps it.
#[derive(Debug, Clone, Default)]
pub(super) struct CachedPolicy {
    pub(super) policy: SecurityPolicy,
    ranges: Vec<Cidr>,
}

impl CachedPolicy {
    fn new(policy: SecurityPolicy) -> Result<CachedPolicy, ActorError> {
        let ranges = policy
            .ip_ranges
            .iter()
            .map(|r| r.parse::<Cidr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ActorError::Validation(e.to_string()))?;
        Ok(CachedPolicy { policy, ranges })
    }

    /// Whether `ip` may use the company.
    pub(super) fn allows(&self, ip: IpAddr) -> bool {
        self.ranges.is_empty() || self.ranges.iter().any(|range| range.contains(ip))
    }
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    company_id: String,
    min_password_length: i64,
    remember_me_allowed: i64,
    second_factor_required: i64,
    ip_ranges: String,
}

impl Owned for PolicyRow {
    const TABLE: &'static str = "security_policies";
    fn row_id(&self) -> &str {
        &self.company_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

#[derive(sqlx::FromRow)]
struct SessionListRow {
    company_id: String,
    id: String,
    created_at: i64,
    last_seen_at: i64,
    remember_me: i64,
    ip: String,
    user_agent: String,
}

impl Owned for SessionListRow {
    const TABLE: &'static str = "sessions";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// Checks a policy's values; answers it with its ranges parsed.
fn validate(policy: SecurityPolicy) -> Result<CachedPolicy, ActorError> {
    if !(8..=MAX_MIN_PASSWORD_LENGTH).contains(&policy.min_password_length) {
        return Err(ActorError::Validation(format!(
            "min_password_length must be from 8 to {MAX_MIN_PASSWORD_LENGTH}"
        )));
    }
    if policy.ip_ranges.len() > MAX_IP_RANGES {
        return Err(ActorError::Validation(format!(
            "at most {MAX_IP_RANGES} address ranges"
        )));
    }
    // Store the ranges as read (trimmed, prefix in canonical form).
    let mut cached = CachedPolicy::new(policy)?;
    cached.policy.ip_ranges = cached.ranges.iter().map(ToString::to_string).collect();
    Ok(cached)
}

impl Company {
    /// The company's policy, loaded once and then kept: every change goes through this
    /// actor, which updates the copy as it writes.
    pub(super) async fn policy(&mut self) -> Result<&CachedPolicy, ActorError> {
        if self.policy_cache.is_none() {
            let row: Option<PolicyRow> = sqlx::query_as(
                "SELECT company_id, min_password_length, remember_me_allowed, \
                 second_factor_required, ip_ranges FROM security_policies WHERE company_id = $1",
            )
            .bind(&self.id)
            .fetch_optional(self.db.pool())
            .await?;
            let policy = match row {
                None => SecurityPolicy::default(),
                Some(row) => {
                    self.check(&row)?;
                    SecurityPolicy {
                        min_password_length: row.min_password_length,
                        remember_me_allowed: row.remember_me_allowed != 0,
                        second_factor_required: row.second_factor_required != 0,
                        ip_ranges: serde_json::from_str(&row.ip_ranges).unwrap_or_default(),
                    }
                }
            };
            self.policy_cache = Some(CachedPolicy::new(policy)?);
        }
        Ok(self.policy_cache.get_or_insert_with(CachedPolicy::default))
    }

    /// Fails with `IpNotAllowed` when the company's ranges exclude `ip`.
    pub(super) async fn check_address(&mut self, ip: IpAddr) -> Result<(), ActorError> {
        if self.policy().await?.allows(ip) {
            Ok(())
        } else {
            self.audit_refused_address(ip).await;
            Err(ActorError::IpNotAllowed)
        }
    }

    /// Appends to the audit trail. A failure to audit is logged loudly but does not undo
    /// the action it describes, which has already happened.
    pub(super) async fn audit(
        &self,
        actor: Option<&str>,
        action: &str,
        target: Option<&str>,
        client: &Client,
        detail: serde_json::Value,
    ) {
        let written = self
            .record_audit(self.db.pool(), actor, action, target, client, detail)
            .await;
        if let Err(error) = written {
            tracing::error!(%error, action, "an audit event could not be written");
        }
    }

    async fn get_policy(&mut self, principal: Principal) -> Result<SecurityPolicy, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        Ok(self.policy().await?.policy.clone())
    }

    async fn set_policy(
        &mut self,
        principal: Principal,
        update: PolicyUpdate,
        client: Client,
    ) -> Result<SecurityPolicy, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        if !principal.is_elevated() {
            return Err(ActorError::ReauthenticationRequired);
        }
        let cached = validate(update.policy)?;
        if !cached.allows(client.ip) && !update.confirm_own_address_excluded {
            return Err(ActorError::Conflict(format!(
                "these ranges exclude your own address {}; confirm to save them anyway",
                client.ip
            )));
        }
        let before = self.policy().await?.policy.clone();
        let policy = cached.policy.clone();
        let ranges = serde_json::to_string(&policy.ip_ranges).unwrap_or_else(|_| "[]".into());

        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM security_policies WHERE company_id = $1")
            .bind(&self.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO security_policies (company_id, min_password_length, \
             remember_me_allowed, second_factor_required, ip_ranges, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&self.id)
        .bind(policy.min_password_length)
        .bind(i64::from(policy.remember_me_allowed))
        .bind(i64::from(policy.second_factor_required))
        .bind(&ranges)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;

        // Switching remember-me off makes every remember-me token useless and ends the
        // sessions signed in with one; the admin's own session carries on as an ordinary
        // one.
        let mut ended = Vec::new();
        if !policy.remember_me_allowed {
            sqlx::query("DELETE FROM remember_tokens WHERE company_id = $1")
                .bind(&self.id)
                .execute(&mut *tx)
                .await?;
            ended = sqlx::query_as::<_, (String,)>(
                "SELECT id FROM sessions WHERE company_id = $1 AND remember_me = 1 AND id <> $2",
            )
            .bind(&self.id)
            .bind(&principal.session_id)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM sessions WHERE company_id = $1 AND remember_me = 1 AND id <> $2",
            )
            .bind(&self.id)
            .bind(&principal.session_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE sessions SET remember_me = 0, remember_id = NULL \
                 WHERE company_id = $1 AND id = $2",
            )
            .bind(&self.id)
            .bind(&principal.session_id)
            .execute(&mut *tx)
            .await?;
        }

        // Requiring 2-step verification sends every signed-in user without a factor back
        // to enrollment at once, not at their next sign-in.
        if policy.second_factor_required && !before.second_factor_required {
            sqlx::query(
                "UPDATE sessions SET stage = 'enrollment' WHERE company_id = $1 \
                 AND stage = 'full' AND user_id NOT IN ( \
                   SELECT user_id FROM totp_factors WHERE company_id = $1 AND confirmed = 1 \
                   UNION SELECT user_id FROM sms_factors WHERE company_id = $1 AND confirmed = 1)",
            )
            .bind(&self.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.policy_cache = Some(cached);

        for (session_id,) in &ended {
            let _ = self.revocations.send(session_id.as_str().into());
        }
        // Open live connections re-check their address against the new ranges.
        self.access_changed();
        let detail = serde_json::json!({ "before": before, "after": policy,
            "remember_me_sessions_ended": ended.len() });
        self.audit(
            Some(&principal.user_id),
            "security_policy_changed",
            None,
            &client,
            detail,
        )
        .await;
        Ok(policy)
    }

    async fn elevate(&mut self, principal: Principal, client: Client) -> Result<(), ActorError> {
        sqlx::query("UPDATE sessions SET elevated_until = $3 WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(&principal.session_id)
            .bind(now_ms() + ELEVATION_MS)
            .execute(self.db.pool())
            .await?;
        self.audit(
            Some(&principal.user_id),
            "reauthenticated",
            None,
            &client,
            serde_json::json!({}),
        )
        .await;
        Ok(())
    }

    async fn password_hash_of(
        &mut self,
        principal: Principal,
    ) -> Result<Option<String>, ActorError> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT company_id, password_hash FROM users WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .fetch_optional(self.db.pool())
        .await?;
        let (company_id, hash) = row.ok_or(ActorError::NotFound)?;
        if company_id != self.id {
            return Err(ActorError::NotFound);
        }
        Ok(hash)
    }

    async fn set_password(
        &mut self,
        principal: Principal,
        hash: String,
        client: Client,
    ) -> Result<usize, ActorError> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $3 WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(&principal.user_id)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;

        // Trusted browsers go too: they were trusted under the old password.
        sqlx::query("DELETE FROM trusted_devices WHERE company_id = $1 AND user_id = $2")
            .bind(&self.id)
            .bind(&principal.user_id)
            .execute(&mut *tx)
            .await?;

        // Every other session of the user ends: whoever knew the old password is out.
        let others = self.end_other_sessions(&mut tx, &principal).await?;
        tx.commit().await?;
        self.revoke_all(&others);
        let detail = serde_json::json!({ "other_sessions_ended": others.len() });
        self.audit(
            Some(&principal.user_id),
            "password_changed",
            None,
            &client,
            detail,
        )
        .await;
        let body = "Your password was just changed and your other sessions were signed out. \
                    If this was not you, reset your password and tell your HR team at once.";
        self.notify(
            &principal.user_id,
            "password_changed",
            "Your Kaizen password was changed",
            body,
        )
        .await;
        Ok(others.len())
    }

    async fn list_sessions(
        &mut self,
        principal: Principal,
    ) -> Result<Vec<SessionView>, ActorError> {
        let rows: Vec<SessionListRow> = sqlx::query_as(
            "SELECT company_id, id, created_at, last_seen_at, remember_me, ip, user_agent \
             FROM sessions WHERE company_id = $1 AND user_id = $2 ORDER BY created_at DESC",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        Ok(rows
            .into_iter()
            .map(|row| SessionView {
                current: row.id == principal.session_id,
                id: row.id,
                created_at: rfc3339(row.created_at),
                last_seen_at: rfc3339(row.last_seen_at),
                ip: row.ip,
                user_agent: row.user_agent,
                remember_me: row.remember_me != 0,
            })
            .collect())
    }

    async fn end_own_session(
        &mut self,
        principal: Principal,
        session_id: String,
        client: Client,
    ) -> Result<(), ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        sqlx::query(
            "DELETE FROM remember_tokens WHERE company_id = $1 AND user_id = $2 AND id IN \
             (SELECT remember_id FROM sessions WHERE company_id = $1 AND id = $3)",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .bind(&session_id)
        .execute(&mut *conn)
        .await?;
        drop(conn);
        let ended =
            sqlx::query("DELETE FROM sessions WHERE company_id = $1 AND user_id = $2 AND id = $3")
                .bind(&self.id)
                .bind(&principal.user_id)
                .bind(&session_id)
                .execute(self.db.pool())
                .await?;
        if ended.rows_affected() == 0 {
            return Err(ActorError::NotFound);
        }
        let _ = self.revocations.send(session_id.as_str().into());
        self.audit(
            Some(&principal.user_id),
            "session_ended",
            Some(&session_id),
            &client,
            serde_json::json!({}),
        )
        .await;
        Ok(())
    }

    async fn password_rules(&mut self) -> Result<i64, ActorError> {
        Ok(self.policy().await?.policy.min_password_length)
    }
}

impl CompanyHandle {
    /// The company's security policy (HR admins).
    pub async fn security_policy(
        &self,
        principal: Principal,
    ) -> Result<SecurityPolicy, ActorError> {
        self.call(move |c| Box::pin(c.get_policy(principal))).await
    }

    /// Replaces the company's security policy (HR admins, reauthenticated). Ranges that
    /// exclude the caller's own address need `confirm_own_address_excluded`.
    pub async fn set_security_policy(
        &self,
        principal: Principal,
        update: PolicyUpdate,
        client: Client,
    ) -> Result<SecurityPolicy, ActorError> {
        self.call(move |c| Box::pin(c.set_policy(principal, update, client)))
            .await
    }

    /// Marks the session as reauthenticated for the next ten minutes. The caller has
    /// checked the password.
    pub async fn elevate(&self, principal: Principal, client: Client) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.elevate(principal, client)))
            .await
    }

    /// The stored password hash of the signed-in user, for the caller to check.
    pub async fn password_hash_of(
        &self,
        principal: Principal,
    ) -> Result<Option<String>, ActorError> {
        self.call(move |c| Box::pin(c.password_hash_of(principal)))
            .await
    }

    /// Stores a new password hash and ends the user's other sessions; answers how many.
    pub async fn set_password(
        &self,
        principal: Principal,
        hash: String,
        client: Client,
    ) -> Result<usize, ActorError> {
        self.call(move |c| Box::pin(c.set_password(principal, hash, client)))
            .await
    }

    /// The signed-in user's sessions.
    pub async fn list_sessions(
        &self,
        principal: Principal,
    ) -> Result<Vec<SessionView>, ActorError> {
        self.call(move |c| Box::pin(c.list_sessions(principal)))
            .await
    }

    /// Ends one of the signed-in user's own sessions and closes its live connections.
    pub async fn end_own_session(
        &self,
        principal: Principal,
        session_id: String,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.end_own_session(principal, session_id, client)))
            .await
    }

    /// The company's minimum password length.
    pub async fn min_password_length(&self) -> Result<i64, ActorError> {
        self.call(|c| -> BoxFuture<'_, _> { Box::pin(c.password_rules()) })
            .await
    }

    /// Records an audit event on behalf of the HTTP layer (sign-in failures, which the
    /// actor cannot see itself because the password is checked outside it).
    pub async fn audit(
        &self,
        actor: Option<String>,
        action: &'static str,
        client: Client,
        detail: serde_json::Value,
    ) -> Result<(), ActorError> {
        self.call(move |c| {
            Box::pin(async move {
                c.audit(actor.as_deref(), action, None, &client, detail)
                    .await;
                Ok(())
            })
        })
        .await
    }
}
