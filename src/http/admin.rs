//! Company settings for HR admins.

use axum::Json;
use kaizen_actors::model::{PolicyUpdate, SecurityPolicy};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Session};

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
