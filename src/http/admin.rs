//! Company settings for HR admins.

use axum::Json;
use axum::http::StatusCode;
use kaizen_actors::company::wipe::WipeOutcome;
use kaizen_actors::model::{PolicyUpdate, SecurityPolicy, UserUpdate, UserView};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Id, Session};

/// The company's security policy.
#[utoipa::path(get, path = "/api/v1/admin/security-policy", tag = "admin",
    responses((status = 200, body = SecurityPolicy), (status = 403, body = ErrorBody)))]
pub async fn security_policy(session: Session) -> Result<Json<SecurityPolicy>, ApiError> {
    Ok(Json(
        session.company.security_policy(session.principal).await?,
    ))
}

/// Replaces the company's security policy. Needs a reauthentication in the last ten
/// minutes. Switching remember-me off ends every remember-me session; new address ranges
/// close the live connections they exclude at once. Ranges that exclude the caller's own
/// address are refused with 409 unless `confirm_own_address_excluded` is true.
#[utoipa::path(put, path = "/api/v1/admin/security-policy", tag = "admin",
    request_body = PolicyUpdate,
    responses((status = 200, body = SecurityPolicy), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_security_policy(
    session: Session,
    ApiJson(update): ApiJson<PolicyUpdate>,
) -> Result<Json<SecurityPolicy>, ApiError> {
    let policy = session
        .company
        .set_security_policy(session.principal, update, session.client);
    Ok(Json(policy.await?))
}

/// Every user of the company.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody)))]
pub async fn users(session: Session) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(session.company.list_users(session.principal).await?))
}

/// Changes a user's role or disables the account; needs a reauthentication. Disabling
/// or taking the HR role away ends the user's sessions and closes their live
/// connections at once. The last active HR admin cannot be demoted or disabled (409).
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = UserUpdate,
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_user(
    session: Session,
    Id(id): Id,
    ApiJson(update): ApiJson<UserUpdate>,
) -> Result<Json<UserView>, ApiError> {
    let updated = session
        .company
        .update_user(session.principal, id, update, session.client);
    Ok(Json(updated.await?))
}

/// Ends every session of a user; needs a reauthentication.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/sessions", tag = "admin",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn end_user_sessions(session: Session, Id(id): Id) -> Result<StatusCode, ApiError> {
    session
        .company
        .end_user_sessions(session.principal, id, session.client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks to wipe all of the company's content.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WipeRequest {
    /// The operator's one-time master password; needed when the company is older than
    /// four weeks.
    #[serde(default)]
    pub master_password: Option<String>,
}

/// Wipes all of the company's content (reviews, cycles and every other written or
/// reviewed object); people, settings and the audit trail stay and every session ends.
/// HR admins, reauthenticated. With more than one active HR admin it answers 202 and
/// waits for another admin's confirmation within an hour. A company older than four
/// weeks also needs the operator's master password (403 `master_password_required`).
#[utoipa::path(post, path = "/api/v1/admin/wipe", tag = "admin", request_body = WipeRequest,
    responses((status = 200, body = WipeOutcome), (status = 202, body = WipeOutcome),
              (status = 403, body = ErrorBody)))]
pub async fn wipe(
    session: Session,
    ApiJson(request): ApiJson<WipeRequest>,
) -> Result<(StatusCode, Json<WipeOutcome>), ApiError> {
    let master = request.master_password.filter(|p| p.len() <= 256);
    let outcome = session
        .company
        .request_wipe(session.principal, master, session.client)
        .await?;
    Ok(wipe_answer(outcome))
}

/// Confirms another HR admin's wipe request, which wipes at once. HR admins,
/// reauthenticated, not the admin who asked; 409 once the hour has passed.
#[utoipa::path(post, path = "/api/v1/admin/wipe/{id}/confirm", tag = "admin",
    params(("id" = String, Path, description = "The wipe request's id")),
    responses((status = 200, body = WipeOutcome), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn confirm_wipe(
    session: Session,
    Id(id): Id,
) -> Result<(StatusCode, Json<WipeOutcome>), ApiError> {
    let outcome = session
        .company
        .confirm_wipe(session.principal, id, session.client)
        .await?;
    Ok(wipe_answer(outcome))
}

fn wipe_answer(outcome: WipeOutcome) -> (StatusCode, Json<WipeOutcome>) {
    let status = match outcome {
        WipeOutcome::Wiped { .. } => StatusCode::OK,
        WipeOutcome::AwaitingConfirmation { .. } => StatusCode::ACCEPTED,
    };
    (status, Json(outcome))
}
