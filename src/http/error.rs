//! The HTTP layer's one error type and its JSON body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kaizen_actors::ActorError;
use kaizen_actors::model::ReviewConflict;
use serde::Serialize;
use utoipa::ToSchema;

/// Every way a request can fail, each with its status and stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `unauthenticated`: no live session.
    #[error("sign in first")]
    Unauthenticated,
    /// 401 `invalid_credentials`: the company, email or password is wrong (which one is
    /// never said).
    #[error("wrong company, email or password")]
    InvalidCredentials,
    /// 401 `second_factor_required`: the password was right, a second factor (or its
    /// enrollment) is still due; only the second-factor endpoints answer.
    #[error("finish signing in with your second factor first")]
    SecondFactorRequired,
    /// 401 `unauthenticated`: too many wrong codes voided the pending sign-in.
    #[error("too many wrong codes; sign in again")]
    SignInVoid,
    /// 401 `invalid_credentials`: a wrong, reused or expired one-time code.
    #[error("that code is not right")]
    WrongCode,
    /// 403 `forbidden`: the caller's role does not allow this, or the request came from
    /// another site.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 403 `ip_not_allowed`: the company's address ranges exclude the client.
    #[error("your company does not allow access from this address")]
    IpNotAllowed,
    /// 403 `reauthentication_required`: confirm the password first.
    #[error("confirm your password first (POST /api/v1/auth/reauthenticate)")]
    ReauthenticationRequired,
    /// 403 `master_password_required`: wiping a company older than four weeks needs the
    /// operator's one-time master password.
    #[error(
        "wiping this company needs a valid master password from the operator \
             (kaizen company issue-wipe-password)"
    )]
    MasterPasswordRequired,
    /// 403 `xml_export_disabled`: the operator has not switched XML export on for the
    /// company (`kaizen company enable-xml-export <slug>`).
    #[error(
        "XML export is not enabled for this company; the operator switches it on with \
             kaizen company enable-xml-export"
    )]
    XmlExportDisabled,
    /// 404 `not_found`: no such object for this caller.
    #[error("not found")]
    NotFound,
    /// 405 `method_not_allowed`: the route exists but not with this method.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// 409 `conflict`: stale version or wrong state.
    #[error("{0}")]
    Conflict(String),
    /// 409 `conflict`: the same answers were saved from two places; the body carries
    /// both versions of each under `error.conflict`.
    #[error("someone else changed the same answers meanwhile; choose which version to keep")]
    EditConflict(Box<ReviewConflict>),
    /// 400 `bad_request`: the body is not JSON or cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// 413 `payload_too_large`.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: a body of another type than the route takes (JSON,
    /// or CSV for imports); the message names the right one.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// 422 `validation_failed`: well-formed JSON that breaks a rule (unknown field, wrong
    /// type, value out of range).
    #[error("{0}")]
    Validation(String),
    /// 429 `rate_limited`, with `Retry-After`.
    #[error("too many attempts; try again in {} seconds", .0.seconds())]
    RateLimited(crate::limits::RetryAfter),
    /// 500 `decryption_failed`: stored content did not decrypt (a wrong or missing key,
    /// or a value altered in the database). The actor logged where; never a blank
    /// answer in its place.
    #[error("this content cannot be decrypted; the server's operator must check its keys")]
    DecryptionFailed,
    /// 503 `unavailable`: shutting down, or the company's actor is gone.
    #[error("the service is unavailable; try again shortly")]
    Unavailable,
    /// 500 `internal`: a bug or a database failure; the cause is logged, never sent.
    #[error("internal error")]
    Internal,
}

/// The JSON body of every error: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code for programs and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// snake_case code, e.g. `not_found`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// With a 409 on a review save: the current version and both versions of each
    /// answer saved from two places.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<ReviewConflict>,
}

impl ApiError {
    /// The status and stable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::SecondFactorRequired => (StatusCode::UNAUTHORIZED, "second_factor_required"),
            ApiError::SignInVoid => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::WrongCode => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::IpNotAllowed => (StatusCode::FORBIDDEN, "ip_not_allowed"),
            ApiError::ReauthenticationRequired => {
                (StatusCode::FORBIDDEN, "reauthentication_required")
            }
            ApiError::MasterPasswordRequired => (StatusCode::FORBIDDEN, "master_password_required"),
            ApiError::XmlExportDisabled => (StatusCode::FORBIDDEN, "xml_export_disabled"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) | ApiError::EditConflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::DecryptionFailed => (StatusCode::INTERNAL_SERVER_ERROR, "decryption_failed"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = self.to_string();
        let retry_after = match &self {
            ApiError::RateLimited(retry) => Some(retry.seconds()),
            ApiError::Unavailable => Some(5),
            _ => None,
        };
        let conflict = match self {
            ApiError::EditConflict(conflict) => Some(*conflict),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                conflict,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ActorError> for ApiError {
    fn from(error: ActorError) -> ApiError {
        match error {
            ActorError::NotFound => ApiError::NotFound,
            ActorError::Forbidden => ApiError::Forbidden("your role does not allow this"),
            ActorError::Conflict(message) => ApiError::Conflict(message),
            ActorError::EditConflict(conflict) => ApiError::EditConflict(conflict),
            ActorError::Validation(message) => ApiError::Validation(message),
            ActorError::Unavailable => ApiError::Unavailable,
            ActorError::IpNotAllowed => ApiError::IpNotAllowed,
            ActorError::MasterPasswordRequired => ApiError::MasterPasswordRequired,
            ActorError::XmlExportDisabled => ApiError::XmlExportDisabled,
            ActorError::WrongCode => ApiError::WrongCode,
            ActorError::SignInVoid => ApiError::SignInVoid,
            ActorError::ReauthenticationRequired => ApiError::ReauthenticationRequired,
            // Logged with the field's place by the actor.
            ActorError::DecryptionFailed => ApiError::DecryptionFailed,
            ActorError::EncryptionFailed => ApiError::Internal,
            // Already logged and recorded by the actor; the client learns nothing more.
            ActorError::SecurityViolation(_) => ApiError::Internal,
            ActorError::Database(cause) => {
                tracing::error!(error = %cause, "database error");
                ApiError::Internal
            }
        }
    }
}

impl From<kaizen_actors::sqlx::Error> for ApiError {
    fn from(cause: kaizen_actors::sqlx::Error) -> ApiError {
        tracing::error!(error = %cause, "database error");
        ApiError::Internal
    }
}
