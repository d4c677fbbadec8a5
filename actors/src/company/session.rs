//! Sign-in and sessions, as far as they touch the company's rows.
//!
//! Password checks are not done here: bcrypt is slow on purpose and would stall every
//! other command of the company. The actor hands out the stored hash, the caller checks it
//! on a blocking thread, and comes back to open the session.

use futures_util::future::BoxFuture;

use super::{Company, CompanyHandle};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, Principal, Profile, Roles, Stage};

/// How long sessions live, from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends (milliseconds).
    pub idle_timeout_ms: i64,
    /// A session ends this long after sign-in whatever its use (milliseconds).
    pub absolute_timeout_ms: i64,
    /// A remember-me token mints sessions for this long after sign-in (milliseconds).
    pub remember_me_ms: i64,
    /// How long a rotated remember-me token still works, for requests the browser sent in
    /// parallel (milliseconds); used later, it is taken for a copy.
    pub rotation_grace_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        const HOUR: i64 = 3_600_000;
        SessionPolicy {
            idle_timeout_ms: 2 * HOUR,
            absolute_timeout_ms: 12 * HOUR,
            remember_me_ms: 30 * 24 * HOUR,
            rotation_grace_ms: super::ROTATION_GRACE_MS,
        }
    }
}

/// What sign-in needs to check a password: the user and their stored hash.
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    /// The user who would sign in.
    pub user_id: String,
    /// The bcrypt hash; `None` when the user has no password (cannot sign in with one).
    pub password_hash: Option<String>,
}

/// A session to open after the password was checked.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The user who signed in.
    pub user_id: String,
    /// SHA-256 (hex) of the random cookie token.
    pub token_hash: String,
    /// SHA-256 (hex) of a remember-me token to issue, if the user asked for one; it is
    /// issued only if the company allows it and sign-in is complete.
    pub remember_token_hash: Option<String>,
    /// Where the sign-in came from.
    pub client: Client,
    /// SHA-256 of the browser's trusted-device cookie, if it sent one.
    pub device_token_hash: Option<String>,
}

/// A session just opened.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The user who signed in.
    pub profile: Profile,
    /// Whether sign-in is complete or a second factor is still due.
    pub stage: Stage,
    /// Whether the remember-me token was issued.
    pub remember_me: bool,
}

/// How long a sign-in may wait for its second factor or enrollment.
const PENDING_SIGN_IN_MS: i64 = 10 * 60_000;

/// How often a session's last use is written back. Writing on every request would turn
/// every read into a write; a minute is well below any idle timeout.
const TOUCH_INTERVAL_MS: i64 = 60_000;

#[derive(sqlx::FromRow)]
struct LoginRow {
    company_id: String,
    id: String,
    password_hash: Option<String>,
    disabled: i64,
}

impl Owned for LoginRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    company_id: String,
    id: String,
    user_id: String,
    last_seen_at: i64,
    expires_at: i64,
    elevated_until: i64,
    stage: String,
    user_company_id: String,
    role: String,
    disabled: i64,
    reports: i64,
}

impl Owned for SessionRow {
    const TABLE: &'static str = "sessions";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.user_company_id]
    }
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    company_id: String,
    id: String,
    email: String,
    name: String,
    manager_id: Option<String>,
}

impl Owned for ProfileRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

impl Company {
    async fn find_login(
        &mut self,
        email: String,
        ip: std::net::IpAddr,
    ) -> Result<Option<LoginCandidate>, ActorError> {
        self.check_address(ip).await?;
        let row: Option<LoginRow> = sqlx::query_as(
            "SELECT company_id, id, password_hash, disabled FROM users \
             WHERE company_id = $1 AND email = $2",
        )
        .bind(&self.id)
        .bind(crate::model::normalize_email(&email))
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        self.check(&row)?;
        if row.disabled != 0 {
            return Ok(None);
        }
        Ok(Some(LoginCandidate {
            user_id: row.id,
            password_hash: row.password_hash,
        }))
    }

    async fn open_session(&mut self, new: NewSession) -> Result<Opened, ActorError> {
        self.check_address(new.client.ip).await?;
        let policy = self.policy().await?.policy.clone();
        let mut tx = self.db.begin_write().await?;

        // The stage: a user with an authenticator still owes a code unless this browser
        // is trusted; a user without one owes an enrollment if the company requires it.
        let has_factor = self.has_factor(&mut tx, &new.user_id).await?;
        let trusted = match &new.device_token_hash {
            Some(hash) if has_factor => self.is_trusted_device(&mut tx, &new.user_id, hash).await?,
            _ => false,
        };
        let stage = if has_factor && !trusted {
            Stage::SecondFactor
        } else if !has_factor && policy.second_factor_required {
            Stage::Enrollment
        } else {
            Stage::Full
        };

        // Remember-me is granted only to a complete sign-in; a pending one lives minutes.
        let remember_requested = new.remember_token_hash.is_some() && policy.remember_me_allowed;
        let remember_me = remember_requested && stage == Stage::Full;
        let now = now_ms();
        let lifetime = match stage {
            Stage::Full => self.session_policy.absolute_timeout_ms,
            _ => PENDING_SIGN_IN_MS,
        };
        let session_id = new_id();
        sqlx::query(
            "INSERT INTO sessions (company_id, id, user_id, token_hash, created_at, \
             last_seen_at, expires_at, remember_me, ip, user_agent, stage, remember_requested) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, 0, $7, $8, $9, $10)",
        )
        .bind(&self.id)
        .bind(&session_id)
        .bind(&new.user_id)
        .bind(&new.token_hash)
        .bind(now)
        .bind(now + lifetime)
        .bind(new.client.ip.to_string())
        .bind(&new.client.user_agent)
        .bind(stage.as_str())
        .bind(i64::from(remember_requested))
        .execute(&mut *tx)
        .await?;
        if let Some(remember) = new.remember_token_hash.as_deref().filter(|_| remember_me) {
            self.issue_remember(&mut tx, &new.user_id, &session_id, remember)
                .await?;
        }
        let profile = self.load_profile(&mut tx, &new.user_id).await?;
        tx.commit().await?;

        let (action, factor) = match (stage, trusted) {
            (Stage::Full, true) => ("signed_in", "password+trusted_device"),
            (Stage::Full, false) => ("signed_in", "password"),
            (Stage::SecondFactor, _) => ("password_accepted", "password"),
            (Stage::Enrollment, _) => ("password_accepted_enrollment_due", "password"),
        };
        let detail = serde_json::json!({ "factor": factor, "remember_me": remember_me });
        self.audit(Some(&new.user_id), action, None, &new.client, detail)
            .await;
        Ok(Opened {
            profile,
            stage,
            remember_me,
        })
    }

    pub(super) async fn authenticate(
        &mut self,
        token_hash: String,
        ip: std::net::IpAddr,
    ) -> Result<Option<Principal>, ActorError> {
        self.check_address(ip).await?;
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.company_id, s.id, s.user_id, s.last_seen_at, s.expires_at, \
             s.elevated_until, s.stage, u.company_id AS user_company_id, \
             u.role, u.disabled, \
             (SELECT COUNT(*) FROM users r WHERE r.company_id = s.company_id \
              AND r.manager_id = s.user_id AND r.disabled = 0) AS reports \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.company_id = $1 AND s.token_hash = $2",
        )
        .bind(&self.id)
        .bind(&token_hash)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        self.check(&row)?;

        // An expired or idle session, or one of a disabled user, is ended for good. (A
        // remember-me token may mint the browser a new one.)
        let now = now_ms();
        let idle_limit = self.session_policy.idle_timeout_ms;
        if row.expires_at <= now || row.last_seen_at + idle_limit <= now || row.disabled != 0 {
            self.delete_session(&row.id).await?;
            return Ok(None);
        }
        if now - row.last_seen_at >= TOUCH_INTERVAL_MS {
            sqlx::query("UPDATE sessions SET last_seen_at = $3 WHERE company_id = $1 AND id = $2")
                .bind(&self.id)
                .bind(&row.id)
                .bind(now)
                .execute(self.db.pool())
                .await?;
        }
        Ok(Some(Principal {
            company_id: self.id.clone(),
            user_id: row.user_id,
            session_id: row.id,
            roles: Roles {
                manager: row.reports > 0,
                hr_admin: row.role == "hr_admin",
                hr_assistant: row.role == "hr_assistant",
            },
            elevated_until: row.elevated_until,
            stage: Stage::parse(&row.stage),
        }))
    }

    async fn delete_session(&mut self, session_id: &str) -> Result<(), ActorError> {
        sqlx::query("DELETE FROM sessions WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(session_id)
            .execute(self.db.pool())
            .await?;
        let _ = self.revocations.send(session_id.into());
        Ok(())
    }

    async fn profile(&mut self, principal: Principal) -> Result<Profile, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        self.load_profile(&mut conn, &principal.user_id).await
    }

    /// Loads the profile of a user of this company, roles included.
    pub(super) async fn load_profile(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<Profile, ActorError> {
        let row: ProfileRow = sqlx::query_as(
            "SELECT company_id, id, email, name, manager_id FROM users \
             WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&row)?;
        let roles = self.roles_of(conn, user_id).await?;
        Ok(Profile {
            id: row.id,
            company: self.slug.clone(),
            email: row.email,
            name: row.name,
            roles: roles.names().into_iter().map(str::to_owned).collect(),
            manager_id: row.manager_id,
        })
    }

    /// Derives a user's roles: the stored one, and manager from active reports.
    pub(super) async fn roles_of(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<Roles, ActorError> {
        let (role, reports): (String, i64) = sqlx::query_as(
            "SELECT u.role, (SELECT COUNT(*) FROM users r WHERE r.company_id = u.company_id \
             AND r.manager_id = u.id AND r.disabled = 0) FROM users u \
             WHERE u.company_id = $1 AND u.id = $2",
        )
        .bind(&self.id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ActorError::NotFound)?;
        Ok(Roles {
            manager: reports > 0,
            hr_admin: role == "hr_admin",
            hr_assistant: role == "hr_assistant",
        })
    }
}

impl CompanyHandle {
    /// Finds who would sign in with `email`; `None` for unknown or disabled users.
    /// `IpNotAllowed` when the company's ranges exclude `ip`.
    pub async fn find_login(
        &self,
        email: String,
        ip: std::net::IpAddr,
    ) -> Result<Option<LoginCandidate>, ActorError> {
        self.call(move |c| Box::pin(c.find_login(email, ip))).await
    }

    /// Opens a session for a user whose password the caller has checked. Answers the
    /// profile, how far sign-in has come and whether remember-me was granted.
    pub async fn open_session(&self, new: NewSession) -> Result<Opened, ActorError> {
        self.call(move |c| Box::pin(c.open_session(new))).await
    }

    /// Resolves a session token's hash to its principal; `None` if there is no live
    /// session with it, `IpNotAllowed` if the company's ranges exclude `ip`.
    pub async fn authenticate(
        &self,
        token_hash: String,
        ip: std::net::IpAddr,
    ) -> Result<Option<Principal>, ActorError> {
        self.call(move |c| Box::pin(c.authenticate(token_hash, ip)))
            .await
    }

    /// Ends a session (logout) and closes its live connections.
    pub async fn end_session(
        &self,
        principal: Principal,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| -> BoxFuture<'_, _> {
            Box::pin(async move {
                let mut conn = c.db.pool().acquire().await?;
                c.forget_chain_of(&mut conn, &principal.session_id).await?;
                drop(conn);
                c.delete_session(&principal.session_id).await?;
                let detail = serde_json::json!({});
                c.audit(
                    Some(&principal.user_id),
                    "signed_out",
                    None,
                    &client,
                    detail,
                )
                .await;
                Ok(())
            })
        })
        .await
    }

    /// The signed-in user's profile.
    pub async fn profile(&self, principal: Principal) -> Result<Profile, ActorError> {
        self.call(move |c| Box::pin(c.profile(principal))).await
    }
}
