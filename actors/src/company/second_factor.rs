//! 2-step verification: authenticator apps (TOTP), recovery codes and trusted devices.
//!
//! Codes are checked inside the actor: an HMAC takes microseconds, and the check must be
//! serial with the write that marks the code used, or two parallel requests could both
//! spend one code.

use rand::RngCore;

use super::{Company, CompanyHandle};
use crate::crypto::TOTP_SECRET;
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::model::{Client, Principal, Profile, Stage};
use crate::totp;

/// Wrong codes a pending sign-in may get before it is void.
pub const MAX_FACTOR_FAILURES: i64 = 5;

/// How many recovery codes a user gets.
const RECOVERY_CODES: usize = 10;

/// How long a trusted device skips the code (30 days).
pub const TRUSTED_DEVICE_MS: i64 = 30 * 24 * 3_600_000;

/// The second factor a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A code from an authenticator app.
    Totp,
    /// One of the recovery codes.
    Recovery,
    /// A code sent by SMS to the user's confirmed number.
    Sms,
}

/// A completed second step.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The user, now signed in.
    pub profile: Profile,
    /// Whether the session became a remember-me one.
    pub remember_me: bool,
}

/// A new authenticator secret, before the user confirms it.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The secret, base32.
    pub secret: String,
    /// The user's email, for the authenticator's label.
    pub email: String,
}

/// SHA-256 (hex) of a secret value.
/// Recovery codes are typed by hand: case, spaces and dashes do not matter.
fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A new recovery code: 50 random bits in base32, shown as two groups of five.
fn new_recovery_code() -> String {
    let mut bytes = [0u8; 7];
    rand::rng().fill_bytes(&mut bytes);
    let text = totp::base32(&bytes);
    format!("{}-{}", &text[..5], &text[5..10])
}

impl Company {
    /// Whether the user has any confirmed second factor.
    pub(super) async fn has_factor(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<bool, ActorError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM totp_factors WHERE company_id = $1 AND user_id = $2 \
             AND confirmed = 1) + (SELECT COUNT(*) FROM sms_factors WHERE company_id = $1 \
             AND user_id = $2 AND confirmed = 1)",
        )
        .bind(&self.id)
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(n > 0)
    }

    pub(super) async fn has_confirmed_totp(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<bool, ActorError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM totp_factors WHERE company_id = $1 AND user_id = $2 \
             AND confirmed = 1",
        )
        .bind(&self.id)
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(n > 0)
    }

    pub(super) async fn is_trusted_device(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
        token_hash: &str,
    ) -> Result<bool, ActorError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM trusted_devices WHERE company_id = $1 AND user_id = $2 \
             AND token_hash = $3 AND expires_at > $4",
        )
        .bind(&self.id)
        .bind(user_id)
        .bind(token_hash)
        .bind(now_ms())
        .fetch_one(&mut *conn)
        .await?;
        Ok(n > 0)
    }

    /// Checks a TOTP code of a confirmed (or, for enrollment, unconfirmed) factor and
    /// marks its step used. Runs inside the caller's transaction, so it writes nothing
    /// else (an audit event through the pool would wait on that very transaction).
    async fn spend_totp(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
        code: &str,
        confirmed: bool,
    ) -> Result<Spent, ActorError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT secret, last_step FROM totp_factors WHERE company_id = $1 AND user_id = $2 \
             AND confirmed = $3",
        )
        .bind(&self.id)
        .bind(user_id)
        .bind(i64::from(confirmed))
        .fetch_optional(&mut *conn)
        .await?;
        let Some((secret, last_step)) = row else {
            return Ok(Spent::Wrong);
        };
        let secret = self.open(TOTP_SECRET, user_id, &secret)?;
        let secret = totp::from_base32(&secret).unwrap_or_default();
        let Some(step) = totp::matching_step(&secret, code, now_ms()) else {
            return Ok(Spent::Wrong);
        };
        if step <= last_step {
            tracing::warn!(user_id, "a one-time code was used twice");
            return Ok(Spent::Replayed);
        }
        sqlx::query(
            "UPDATE totp_factors SET last_step = $3 WHERE company_id = $1 AND user_id = $2",
        )
        .bind(&self.id)
        .bind(user_id)
        .bind(step)
        .execute(&mut *conn)
        .await?;
        Ok(Spent::Accepted)
    }

    /// Checks a recovery code and marks it used.
    async fn spend_recovery(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
        code: &str,
    ) -> Result<Spent, ActorError> {
        let used = sqlx::query(
            "UPDATE recovery_codes SET used_at = $4 WHERE company_id = $1 AND user_id = $2 \
             AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(&self.id)
        .bind(user_id)
        .bind(crate::db::sha256_hex(&normalize_recovery(code)))
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(if used.rows_affected() == 1 {
            Spent::Accepted
        } else {
            Spent::Wrong
        })
    }

    async fn verify_second_factor(
        &mut self,
        principal: Principal,
        method: Method,
        code: String,
        renewal: Renewal,
    ) -> Result<Verified, ActorError> {
        if principal.stage != Stage::SecondFactor {
            return Err(ActorError::Conflict(
                "no second factor is due for this session".into(),
            ));
        }
        // Read before the write transaction starts (see `Company`).
        let remember_me_allowed = self.policy().await?.policy.remember_me_allowed;
        let mut tx = self.db.begin_write().await?;
        let user = principal.user_id.as_str();
        let spent = match method {
            Method::Totp => self.spend_totp(&mut tx, user, &code, true).await?,
            Method::Recovery => self.spend_recovery(&mut tx, user, &code).await?,
            Method::Sms => {
                let session = principal.session_id.as_str();
                if self.spend_sms(&mut tx, session, &code).await? {
                    Spent::Accepted
                } else {
                    Spent::Wrong
                }
            }
        };
        if spent != Spent::Accepted {
            // Count the failure; past the limit the pending sign-in is void.
            sqlx::query(
                "UPDATE sessions SET factor_failures = factor_failures + 1 \
                 WHERE company_id = $1 AND id = $2",
            )
            .bind(&self.id)
            .bind(&principal.session_id)
            .execute(&mut *tx)
            .await?;
            let (failures,): (i64,) = sqlx::query_as(
                "SELECT factor_failures FROM sessions WHERE company_id = $1 AND id = $2",
            )
            .bind(&self.id)
            .bind(&principal.session_id)
            .fetch_one(&mut *tx)
            .await?;
            let void = failures >= MAX_FACTOR_FAILURES;
            if void {
                sqlx::query("DELETE FROM sessions WHERE company_id = $1 AND id = $2")
                    .bind(&self.id)
                    .bind(&principal.session_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            let replayed = spent == Spent::Replayed;
            let action = if replayed {
                "second_factor_reused"
            } else {
                "second_factor_failed"
            };
            let reason = if replayed {
                "code_reused"
            } else {
                "wrong_code"
            };
            let detail = serde_json::json!({ "method": method_name(method), "void": void,
                "factor": method_name(method), "reason": reason });
            self.audit(Some(user), action, None, &renewal.client, detail)
                .await;
            if replayed {
                let body = "Someone just tried to sign in to your account with a code that was \
                            already used. If it was not you, change your password and tell \
                            your HR team.";
                self.notify(
                    user,
                    "second_factor_reused",
                    "A used code was tried again",
                    body,
                )
                .await;
            }
            return Err(if void {
                ActorError::SignInVoid
            } else {
                ActorError::WrongCode
            });
        }

        // Complete the sign-in under a fresh token: whatever knew the pending one does not
        // get the full session.
        let (remember_requested,): (i64,) = sqlx::query_as(
            "SELECT remember_requested FROM sessions WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&principal.session_id)
        .fetch_one(&mut *tx)
        .await?;
        let remember_me = remember_requested != 0 && remember_me_allowed;
        let now = now_ms();
        sqlx::query(
            "UPDATE sessions SET stage = 'full', token_hash = $3, expires_at = $4, \
             last_seen_at = $5, factor_failures = 0 WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&principal.session_id)
        .bind(&renewal.token_hash)
        .bind(now + self.session_policy.absolute_timeout_ms)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if remember_me {
            let session = principal.session_id.as_str();
            self.issue_remember(&mut tx, user, session, &renewal.remember_token_hash)
                .await?;
        }
        if let Some(device) = &renewal.trust_device_hash {
            sqlx::query(
                "INSERT INTO trusted_devices (company_id, id, user_id, token_hash, user_agent, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&self.id)
            .bind(new_id())
            .bind(user)
            .bind(device)
            .bind(&renewal.client.user_agent)
            .bind(now)
            .bind(now + TRUSTED_DEVICE_MS)
            .execute(&mut *tx)
            .await?;
        }
        let profile = self.load_profile(&mut tx, user).await?;
        tx.commit().await?;
        let detail = serde_json::json!({ "factor": format!("password+{}", method_name(method)),
            "remember_me": remember_me, "device_trusted": renewal.trust_device_hash.is_some() });
        self.audit(Some(user), "signed_in", None, &renewal.client, detail)
            .await;
        Ok(Verified {
            profile,
            remember_me,
        })
    }

    async fn start_totp(&mut self, principal: Principal) -> Result<Enrollment, ActorError> {
        // Enrolling changes how the account is protected: a full session must have
        // reauthenticated; an enrollment session has just given the password.
        match principal.stage {
            Stage::Full if !principal.is_elevated() => {
                return Err(ActorError::ReauthenticationRequired);
            }
            Stage::SecondFactor => return Err(ActorError::Forbidden),
            _ => {}
        }
        let mut tx = self.db.begin_write().await?;
        if self.has_confirmed_totp(&mut tx, &principal.user_id).await? {
            return Err(ActorError::Conflict(
                "an authenticator app is already set up; remove it first".into(),
            ));
        }
        let secret = totp::base32(&totp::new_secret());
        sqlx::query("DELETE FROM totp_factors WHERE company_id = $1 AND user_id = $2")
            .bind(&self.id)
            .bind(&principal.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO totp_factors (company_id, user_id, secret, confirmed, last_step, \
             created_at) VALUES ($1, $2, $3, 0, 0, $4)",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .bind(self.seal(TOTP_SECRET, &principal.user_id, &secret)?)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let profile = self.load_profile(&mut tx, &principal.user_id).await?;
        tx.commit().await?;
        Ok(Enrollment {
            secret,
            email: profile.email,
        })
    }

    async fn confirm_totp(
        &mut self,
        principal: Principal,
        code: String,
        client: Client,
    ) -> Result<Vec<String>, ActorError> {
        if principal.stage == Stage::SecondFactor {
            return Err(ActorError::Forbidden);
        }
        let mut tx = self.db.begin_write().await?;
        if self
            .spend_totp(&mut tx, &principal.user_id, &code, false)
            .await?
            != Spent::Accepted
        {
            return Err(ActorError::WrongCode);
        }
        sqlx::query("UPDATE totp_factors SET confirmed = 1 WHERE company_id = $1 AND user_id = $2")
            .bind(&self.id)
            .bind(&principal.user_id)
            .execute(&mut *tx)
            .await?;

        self.finish_enrollment(tx, &principal, &client, Method::Totp)
            .await
    }

    /// Completes setting up a factor inside `tx`: fresh recovery codes (answered, shown
    /// once), the user's other sessions ended, an enrolling session made complete; then
    /// commits, closes the ended sessions' connections, audits and tells the user.
    pub(super) async fn finish_enrollment(
        &mut self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        principal: &Principal,
        client: &Client,
        method: Method,
    ) -> Result<Vec<String>, ActorError> {
        sqlx::query("DELETE FROM recovery_codes WHERE company_id = $1 AND user_id = $2")
            .bind(&self.id)
            .bind(&principal.user_id)
            .execute(&mut *tx)
            .await?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        for code in &codes {
            sqlx::query(
                "INSERT INTO recovery_codes (company_id, id, user_id, code_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&self.id)
            .bind(new_id())
            .bind(&principal.user_id)
            .bind(crate::db::sha256_hex(&normalize_recovery(code)))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        let others = self.end_other_sessions(&mut tx, principal).await?;
        sqlx::query(
            "UPDATE sessions SET stage = 'full', expires_at = $3 WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&principal.session_id)
        .bind(now_ms() + self.session_policy.absolute_timeout_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.revoke_all(&others);

        let method = method_name(method);
        let detail = serde_json::json!({ "method": method, "other_sessions_ended": others.len() });
        self.audit(
            Some(&principal.user_id),
            "second_factor_enabled",
            None,
            client,
            detail,
        )
        .await;
        let body = format!(
            "2-step verification ({method}) was just set up for your account and your other \
             sessions were signed out. If this was not you, tell your HR team at once."
        );
        let subject = "2-step verification is on";
        self.notify(&principal.user_id, "second_factor_changed", subject, &body)
            .await;
        Ok(codes)
    }

    /// Removes one factor. The recovery codes and trusted devices go with the last one.
    pub(super) async fn disable_factor(
        &mut self,
        principal: Principal,
        client: Client,
        method: Method,
    ) -> Result<(), ActorError> {
        if principal.stage != Stage::Full {
            return Err(ActorError::Forbidden);
        }
        if !principal.is_elevated() {
            return Err(ActorError::ReauthenticationRequired);
        }
        let required = self.policy().await?.policy.second_factor_required;
        let table = match method {
            Method::Totp => "totp_factors",
            Method::Sms => "sms_factors",
            Method::Recovery => return Err(ActorError::NotFound),
        };
        let mut tx = self.db.begin_write().await?;
        let removed = sqlx::query(&format!(
            "DELETE FROM {table} WHERE company_id = $1 AND user_id = $2"
        ))
        .bind(&self.id)
        .bind(&principal.user_id)
        .execute(&mut *tx)
        .await?;
        if removed.rows_affected() == 0 {
            return Err(ActorError::NotFound);
        }
        let remaining = self.has_factor(&mut tx, &principal.user_id).await?;
        if required && !remaining {
            return Err(ActorError::Conflict(
                "your company requires 2-step verification; set up another factor first".into(),
            ));
        }
        if !remaining {
            for table in ["recovery_codes", "trusted_devices"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE company_id = $1 AND user_id = $2"
                ))
                .bind(&self.id)
                .bind(&principal.user_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        let others = self.end_other_sessions(&mut tx, &principal).await?;
        tx.commit().await?;
        self.revoke_all(&others);

        let method = method_name(method);
        let detail = serde_json::json!({ "method": method, "other_sessions_ended": others.len(),
            "factors_left": remaining });
        self.audit(
            Some(&principal.user_id),
            "second_factor_disabled",
            None,
            &client,
            detail,
        )
        .await;
        let body = format!(
            "2-step verification ({method}) was just removed from your account. If this was \
             not you, reset your password and tell your HR team at once."
        );
        let subject = "A 2-step verification method was removed";
        self.notify(&principal.user_id, "second_factor_changed", subject, &body)
            .await;
        Ok(())
    }

    /// Deletes every session of the principal's user but the principal's own, and every
    /// remember-me token of the user, the principal's own included (its cookie may be the
    /// copied one the user is reacting to); answers the ended sessions' ids so their live
    /// connections can be closed after the commit.
    pub(super) async fn end_other_sessions(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
    ) -> Result<Vec<String>, ActorError> {
        let others: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM sessions WHERE company_id = $1 AND user_id = $2 AND id <> $3",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .bind(&principal.session_id)
        .fetch_all(&mut *conn)
        .await?;
        self.forget_user_chains(conn, &principal.user_id).await?;
        sqlx::query("DELETE FROM sessions WHERE company_id = $1 AND user_id = $2 AND id <> $3")
            .bind(&self.id)
            .bind(&principal.user_id)
            .bind(&principal.session_id)
            .execute(&mut *conn)
            .await?;
        Ok(others.into_iter().map(|(id,)| id).collect())
    }

    /// Closes the live connections of ended sessions.
    pub(super) fn revoke_all(&self, session_ids: &[String]) {
        for id in session_ids {
            let _ = self.revocations.send(id.as_str().into());
        }
    }
}

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spent {
    /// Right, and now used.
    Accepted,
    /// Wrong, expired or unknown.
    Wrong,
    /// Right but already used: a replay, recorded as such.
    Replayed,
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Totp => "totp",
        Method::Recovery => "recovery",
        Method::Sms => "sms",
    }
}

/// What a completed second step installs: the session's new token, where the request
/// came from, and a trusted-device token if the user asked for one.
#[derive(Debug, Clone)]
pub struct Renewal {
    /// SHA-256 of the session's new token.
    pub token_hash: String,
    /// SHA-256 of the new trusted-device token, when "trust this device" was ticked.
    pub trust_device_hash: Option<String>,
    /// SHA-256 of a remember-me token, issued if remember-me was asked for at sign-in and
    /// the company allows it.
    pub remember_token_hash: String,
    /// Where the request came from.
    pub client: Client,
}

impl CompanyHandle {
    /// Checks a second-factor code of a half-signed-in session; on success the session
    /// is complete under the renewal's token.
    pub async fn verify_second_factor(
        &self,
        principal: Principal,
        method: Method,
        code: String,
        renewal: Renewal,
    ) -> Result<Verified, ActorError> {
        self.call(move |c| Box::pin(c.verify_second_factor(principal, method, code, renewal)))
            .await
    }

    /// Starts setting up an authenticator app: a new secret, unconfirmed.
    pub async fn start_totp(&self, principal: Principal) -> Result<Enrollment, ActorError> {
        self.call(move |c| Box::pin(c.start_totp(principal))).await
    }

    /// Confirms the app with a code; answers the recovery codes, shown once.
    pub async fn confirm_totp(
        &self,
        principal: Principal,
        code: String,
        client: Client,
    ) -> Result<Vec<String>, ActorError> {
        self.call(move |c| Box::pin(c.confirm_totp(principal, code, client)))
            .await
    }

    /// Removes one second factor (`totp` or `sms`); recovery codes and trusted devices go
    /// with the last one.
    pub async fn disable_factor(
        &self,
        principal: Principal,
        client: Client,
        method: Method,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.disable_factor(principal, client, method)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_typed_forgivingly() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11);
        let sloppy = format!(" {} ", code.to_lowercase().replace('-', " "));
        assert_eq!(normalize_recovery(&sloppy), normalize_recovery(&code));
    }
}
