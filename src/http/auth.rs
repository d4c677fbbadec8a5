//! Sign-in, sign-out and the signed-in user.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kaizen_actors::company::NewSession;
use kaizen_actors::model::{Client, Profile, Stage};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{
    ApiJson, PartialSession, REMEMBER_COOKIE, SESSION_COOKIE, Session, cookie, session_cookie_value,
};
use crate::password::MAX_PASSWORD_BYTES;
use crate::token;

/// What sign-in takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The company's slug, e.g. `acme`.
    pub company: String,
    /// The user's email address.
    pub email: String,
    /// The password.
    pub password: String,
    /// Keep the session beyond this browser session.
    #[serde(default)]
    pub remember_me: bool,
}

/// What sign-in answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// `signed_in`, or `second_factor_required` / `second_factor_enrollment_required`
    /// when a second factor (or its setup) is still due.
    pub status: &'static str,
    /// The signed-in user, once sign-in is complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Profile>,
}

/// Signs in with company, email and password.
///
/// Every failure (unknown company, unknown or disabled user, wrong password) answers the
/// same 401 after the same bcrypt work, so neither the body nor the timing tells whether
/// an account exists.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
              (status = 401, description = "invalid_credentials", body = ErrorBody),
              (status = 403, description = "ip_not_allowed", body = ErrorBody),
              (status = 429, description = "rate_limited", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    if request.password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::Validation(format!(
            "a password may have at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }

    // Count the attempt before anything else, the same way whether or not the account
    // exists.
    let (slug, email, account) = account_key(&request.company, &request.email)?;
    if let Err(retry) = state
        .sign_in_limits
        .check(&account, client.ip, Instant::now())
    {
        tracing::warn!(ip = %client.ip, "sign-in rate limited");
        record_lockout(&state, &slug, &email, client);
        return Err(ApiError::RateLimited(retry));
    }

    // Find the account, if any; a missing one still costs a bcrypt check below.
    let company = state.registry.by_slug(&slug).await?;
    let candidate = match &company {
        Some(company) => company.find_login(email.clone(), client.ip).await?,
        None => None,
    };
    let stored = candidate.as_ref().and_then(|c| c.password_hash.clone());
    let verified = state.hasher.verify(&request.password, stored).await;
    let Some(company) = company else {
        state.metrics.login_failed();
        return Err(ApiError::InvalidCredentials);
    };
    let (Some(candidate), true) = (candidate.clone(), verified) else {
        state.metrics.login_failed();
        tracing::warn!(ip = %client.ip, "sign-in refused");
        let (user, reason) = match &candidate {
            Some(c) => (Some(c.user_id.clone()), "wrong_password"),
            None => (None, "unknown_or_disabled_user"),
        };
        let email: String = email.chars().take(254).collect();
        let detail = serde_json::json!({ "reason": reason, "factor": "password", "email": email });
        company
            .audit(user, "sign_in_failed", client, detail)
            .await?;
        return Err(ApiError::InvalidCredentials);
    };

    // A fresh token for every sign-in; only its hash is stored.
    let token = token::new_token();
    let remember_token = request.remember_me.then(token::new_token);
    let device_token_hash = cookie(&headers, DEVICE_COOKIE)
        .filter(|t| token::is_well_formed(t))
        .map(token::hash_token);
    let opened = company
        .open_session(NewSession {
            user_id: candidate.user_id,
            token_hash: token::hash_token(&token),
            remember_token_hash: remember_token.as_deref().map(token::hash_token),
            client: client.clone(),
            device_token_hash,
        })
        .await?;
    state.sign_in_limits.succeeded(&account, client.ip);
    let status = match opened.stage {
        Stage::Full => "signed_in",
        Stage::SecondFactor => "second_factor_required",
        Stage::Enrollment => "second_factor_enrollment_required",
    };
    tracing::info!(user_id = %opened.profile.id, company_id = %company.company_id(), status,
        "password accepted");

    let secure = state.config.secure_cookies;
    let session_value = session_cookie_value(company.company_id(), &token);
    let user = (opened.stage == Stage::Full).then_some(opened.profile);
    let mut response = Json(LoginResponse { status, user }).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        session_cookie(&session_value, None, secure),
    );
    if let Some(remember) = remember_token.filter(|_| opened.remember_me) {
        let value = session_cookie_value(company.company_id(), &remember);
        let cookie = named_cookie(
            REMEMBER_COOKIE,
            &value,
            Some(remember_me_seconds(&state)),
            secure,
        );
        headers.append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Writes a lockout to the company's audit trail, at most once per account in a few
/// minutes (a flood must not write a row per request), after the answer has gone.
fn record_lockout(state: &AppState, slug: &str, email: &str, client: Client) {
    let account = format!("{slug}/{email}");
    if state
        .lockouts_audited
        .check(&account, Instant::now())
        .is_err()
    {
        return;
    }
    let (registry, slug, email) = (state.registry.clone(), slug.to_owned(), email.to_owned());
    tokio::spawn(async move {
        let Ok(Some(company)) = registry.by_slug(&slug).await else {
            return;
        };
        let email: String = email.chars().take(254).collect();
        let alert = format!("sign-in attempts locked out for an account of {slug}");
        registry
            .alerts()
            .raise("sign_in_locked_out", Some(company.company_id()), &alert);
        let detail = serde_json::json!({ "email": email, "reason": "rate_limited" });
        let _ = company
            .audit(None, "sign_in_locked_out", client, detail)
            .await;
    });
}

/// The normalized company slug and email of a sign-in or reset, and the key of its
/// account in the rate limits. Absurd lengths are refused before any limiter keeps them.
pub(super) fn account_key(
    company: &str,
    email: &str,
) -> Result<(String, String, String), ApiError> {
    if company.len() > MAX_SLUG_INPUT || email.len() > MAX_EMAIL_INPUT {
        return Err(ApiError::Validation(
            "the company or email is too long".into(),
        ));
    }
    let slug = company.trim().to_ascii_lowercase();
    let email = kaizen_actors::model::normalize_email(email);
    let account = format!("{slug}/{email}");
    Ok((slug, email, account))
}

/// The longest company and email inputs looked at (bytes); real ones are far shorter.
const MAX_SLUG_INPUT: usize = 64;
const MAX_EMAIL_INPUT: usize = 320;

/// The lifetime of a remember-me token and its cookie, in seconds.
pub(super) fn remember_me_seconds(state: &AppState) -> i64 {
    i64::from(state.config.remember_me_days) * 24 * 3600
}

/// The cookie of a device whose owner chose "trust this device".
pub const DEVICE_COOKIE: &str = "kz_device";

/// Builds the `Set-Cookie` value of the session cookie. Without `max_age` it is a browser
/// session cookie; `Max-Age=0` deletes it.
pub(super) fn session_cookie(value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    named_cookie(SESSION_COOKIE, value, max_age, secure)
}

/// Builds a `Set-Cookie` value: HttpOnly, SameSite=Lax, for the whole site.
pub(super) fn named_cookie(
    name: &str,
    value: &str,
    max_age: Option<i64>,
    secure: bool,
) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Signs out: the session and its remember-me token end on the server, and its live
/// connections close.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    PartialSession(session): PartialSession,
) -> Result<Response, ApiError> {
    session
        .company
        .end_session(session.principal, session.client)
        .await?;
    let secure = state.config.secure_cookies;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, session_cookie("", Some(0), secure));
    let forget = named_cookie(REMEMBER_COOKIE, "", Some(0), secure);
    headers.append(header::SET_COOKIE, forget);
    Ok(response)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody)))]
pub async fn me(session: Session) -> Result<Json<Profile>, ApiError> {
    Ok(Json(session.company.profile(session.principal).await?))
}
