//! The signed-in user's own account: reauthentication, password and sessions.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kaizen_actors::model::{Profile, SessionView};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Id, Session};
use crate::password::{MAX_PASSWORD_BYTES, Strength, check_new_password, strength};

/// What reauthentication takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reauthenticate {
    /// The user's current password.
    pub password: String,
}

/// What a password change takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// Checks the signed-in user's password, counting the attempt against the per-user
/// limit on password guesses first.
async fn check_own_password(
    state: &AppState,
    session: &Session,
    password: &str,
) -> Result<(), ApiError> {
    let key = format!(
        "{}/{}",
        session.principal.company_id, session.principal.user_id
    );
    if let Err(retry) = state.password_checks.check(&key, Instant::now()) {
        return Err(ApiError::RateLimited(retry));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::InvalidCredentials);
    }
    let stored = session
        .company
        .password_hash_of(session.principal.clone())
        .await?;
    if state.hasher.verify(password, stored).await {
        state.password_checks.forget(&key);
        Ok(())
    } else {
        let detail = serde_json::json!({ "reason": "wrong_password" });
        let user = Some(session.principal.user_id.clone());
        session
            .company
            .audit(
                user,
                "reauthentication_failed",
                session.client.clone(),
                detail,
            )
            .await?;
        Err(ApiError::InvalidCredentials)
    }
}

/// Checks a new password against the company's rules and the user's own details, then
/// hashes it: shared by password change and reset.
pub(super) async fn hash_new_password(
    state: &AppState,
    password: &str,
    profile: &Profile,
    min_chars: i64,
) -> Result<String, ApiError> {
    let min_chars = usize::try_from(min_chars).unwrap_or(8);
    let context = [
        profile.name.as_str(),
        profile.email.as_str(),
        profile.company.as_str(),
    ];
    check_new_password(password, min_chars, &context).map_err(ApiError::Validation)?;
    state.hasher.hash(password).await.map_err(|error| {
        tracing::error!(%error, "password hashing failed");
        ApiError::Internal
    })
}

/// Confirms the password again; sensitive actions are then allowed for ten minutes.
#[utoipa::path(post, path = "/api/v1/auth/reauthenticate", tag = "account",
    request_body = Reauthenticate,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn reauthenticate(
    State(state): State<AppState>,
    session: Session,
    ApiJson(request): ApiJson<Reauthenticate>,
) -> Result<StatusCode, ApiError> {
    check_own_password(&state, &session, &request.password).await?;
    session
        .company
        .elevate(session.principal, session.client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the password. Needs the current one; every other session of the user ends
/// and its live connections close.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "account", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    session: Session,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    check_own_password(&state, &session, &request.current_password).await?;
    if request.new_password == request.current_password {
        return Err(ApiError::Validation(
            "choose a password different from the current one".into(),
        ));
    }

    let profile = session.company.profile(session.principal.clone()).await?;
    let min_chars = session.company.min_password_length().await?;
    let hash = hash_new_password(&state, &request.new_password, &profile, min_chars).await?;
    session
        .company
        .set_password(session.principal, hash, session.client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user's sessions, the current one marked.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "account",
    responses((status = 200, body = Vec<SessionView>), (status = 401, body = ErrorBody)))]
pub async fn sessions(session: Session) -> Result<Json<Vec<SessionView>>, ApiError> {
    Ok(Json(
        session.company.list_sessions(session.principal).await?,
    ))
}

/// Ends one of the signed-in user's sessions (any other user's id answers 404).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "account",
    params(("id" = String, Path, description = "The session's id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn end_session(session: Session, Id(id): Id) -> Result<StatusCode, ApiError> {
    session
        .company
        .end_own_session(session.principal, id, session.client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the strength meter sends while the user types.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrengthRequest {
    /// The password being typed.
    pub password: String,
    /// The company's slug, counted against the password.
    #[serde(default)]
    pub company: Option<String>,
    /// The user's email, counted against the password.
    #[serde(default)]
    pub email: Option<String>,
    /// The user's name, counted against the password.
    #[serde(default)]
    pub name: Option<String>,
}

/// Rates a password from 0 to 4 with advice, for the live meter. Nothing is stored or
/// logged. New passwords need at least 2.
#[utoipa::path(post, path = "/api/v1/password-strength", tag = "account",
    request_body = StrengthRequest,
    responses((status = 200, body = Strength), (status = 422, body = ErrorBody)))]
pub async fn password_strength(
    ApiJson(request): ApiJson<StrengthRequest>,
) -> Result<Json<Strength>, ApiError> {
    if request.password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::Validation(format!(
            "use at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let judged = tokio::task::spawn_blocking(move || {
        let context: Vec<&str> = [&request.company, &request.email, &request.name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        strength(&request.password, &context)
    })
    .await
    .map_err(|_| ApiError::Internal)?;
    Ok(Json(judged))
}
