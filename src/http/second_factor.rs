//! The second step of sign-in, and setting up or removing an authenticator app.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kaizen_actors::company::second_factor::{Method, Renewal, TRUSTED_DEVICE_MS};
use kaizen_actors::model::{FactorStatus, Profile, Stage};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{
    DEVICE_COOKIE, LoginResponse, named_cookie, remember_me_seconds, session_cookie,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, PartialSession, REMEMBER_COOKIE, Session, session_cookie_value};
use crate::token;

/// What the second step of sign-in takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    /// `totp` (authenticator app) or `recovery` (a recovery code); `sms` is not
    /// available yet.
    pub method: Method,
    /// The code.
    pub code: String,
    /// Skip the code on this browser for the next 30 days.
    #[serde(default)]
    pub trust_device: bool,
}

/// What confirming an authenticator takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A current code from the app.
    pub code: String,
}

/// A new authenticator secret to scan or type into the app.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret, base32, for typing in.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code as an SVG document, rendered by the server.
    pub qr_svg: String,
}

/// The recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes for when the app is not at hand.
    pub recovery_codes: Vec<String>,
}

/// The longest code accepted; codes are six digits or eleven characters.
const MAX_CODE_LEN: usize = 64;

/// Completes a half-finished sign-in with a code. Wrong codes count: after five the
/// pending sign-in is void. The session continues under a fresh token.
#[utoipa::path(post, path = "/api/v1/auth/second-factor", tag = "auth",
    request_body = SecondFactorRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    PartialSession(session): PartialSession,
    ApiJson(request): ApiJson<SecondFactorRequest>,
) -> Result<Response, ApiError> {
    if session.principal.stage != Stage::SecondFactor {
        return Err(ApiError::Conflict(
            "no second factor is due for this session".into(),
        ));
    }

    // Per user, across sessions: signing in again does not buy more guesses.
    let key = format!(
        "{}/{}",
        session.principal.company_id, session.principal.user_id
    );
    if let Err(retry) = state.code_checks.check(&key, Instant::now()) {
        return Err(ApiError::RateLimited(retry));
    }
    if request.code.len() > MAX_CODE_LEN {
        return Err(ApiError::WrongCode);
    }

    let token = token::new_token();
    let device_token = request.trust_device.then(token::new_token);
    let remember_token = token::new_token();
    let renewal = Renewal {
        token_hash: token::hash_token(&token),
        trust_device_hash: device_token.as_deref().map(token::hash_token),
        remember_token_hash: token::hash_token(&remember_token),
        client: session.client.clone(),
    };
    let verified = session
        .company
        .verify_second_factor(session.principal, request.method, request.code, renewal)
        .await?;
    state.code_checks.forget(&key);

    let secure = state.config.secure_cookies;
    let mut response = Json(LoginResponse {
        status: "signed_in",
        user: Some(verified.profile),
    })
    .into_response();
    let headers = response.headers_mut();
    let value = session_cookie_value(session.company.company_id(), &token);
    headers.append(header::SET_COOKIE, session_cookie(&value, None, secure));
    if verified.remember_me {
        let value = session_cookie_value(session.company.company_id(), &remember_token);
        let seconds = remember_me_seconds(&state);
        headers.append(
            header::SET_COOKIE,
            named_cookie(REMEMBER_COOKIE, &value, Some(seconds), secure),
        );
    }
    if let Some(device) = device_token {
        let seconds = TRUSTED_DEVICE_MS / 1000;
        headers.append(
            header::SET_COOKIE,
            named_cookie(DEVICE_COOKIE, &device, Some(seconds), secure),
        );
    }
    Ok(response)
}

/// Starts setting up an authenticator app: a new secret with its QR code. Needs a
/// reauthentication, except right after sign-in when the company requires enrollment.
#[utoipa::path(post, path = "/api/v1/me/second-factor/totp", tag = "account",
    responses((status = 200, body = TotpSetup), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn start_totp(
    PartialSession(session): PartialSession,
) -> Result<Json<TotpSetup>, ApiError> {
    if session.principal.stage == Stage::SecondFactor {
        return Err(ApiError::SecondFactorRequired);
    }
    let profile: Profile = session.company.profile(session.principal.clone()).await?;
    let enrollment = session.company.start_totp(session.principal).await?;
    let issuer = format!("Kaizen ({})", profile.company);
    let otpauth_uri = format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        percent_encode(&issuer),
        percent_encode(&enrollment.email),
        enrollment.secret,
        percent_encode(&issuer),
    );
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map_err(|_| ApiError::Internal)?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .build();
    Ok(Json(TotpSetup {
        secret: enrollment.secret,
        otpauth_uri,
        qr_svg,
    }))
}

/// Confirms the authenticator with a current code. Answers ten recovery codes, shown
/// only now. The user's other sessions end.
#[utoipa::path(post, path = "/api/v1/me/second-factor/totp/confirm", tag = "account",
    request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody)))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    PartialSession(session): PartialSession,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    confirm(&state, session, request.code, Method::Totp).await
}

/// Removes the authenticator app, the recovery codes and every trusted device. Needs a
/// reauthentication; refused while the company requires 2-step verification.
#[utoipa::path(delete, path = "/api/v1/me/second-factor/totp", tag = "account",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn disable_totp(session: Session) -> Result<Response, ApiError> {
    session
        .company
        .disable_factor(session.principal, session.client, Method::Totp)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Confirms a factor being set up with its code, counting the attempt against the
/// user's code budget; answers the new recovery codes.
async fn confirm(
    state: &AppState,
    session: super::extract::Session,
    code: String,
    method: Method,
) -> Result<Json<RecoveryCodes>, ApiError> {
    if session.principal.stage == Stage::SecondFactor {
        return Err(ApiError::SecondFactorRequired);
    }
    let key = format!(
        "{}/{}",
        session.principal.company_id, session.principal.user_id
    );
    if let Err(retry) = state.code_checks.check(&key, Instant::now()) {
        return Err(ApiError::RateLimited(retry));
    }
    if code.len() > MAX_CODE_LEN {
        return Err(ApiError::WrongCode);
    }
    let (company, principal, client) = (session.company, session.principal, session.client);
    let recovery_codes = match method {
        Method::Sms => company.confirm_sms(principal, code, client).await?,
        _ => company.confirm_totp(principal, code, client).await?,
    };
    state.code_checks.forget(&key);
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for the otpauth URI.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            super::percent_encode("Kaizen (acme)"),
            "Kaizen%20%28acme%29"
        );
        assert_eq!(super::percent_encode("a.b@x.example"), "a.b%40x.example");
    }
}

/// What setting up SMS codes takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneRequest {
    /// The phone number in international (E.164) form, e.g. `+15551234567`.
    pub phone: String,
}

/// Counts an SMS about to be sent for this user: texts cost money and reach a person.
fn check_sms_budget(state: &AppState, session: &super::extract::Session) -> Result<(), ApiError> {
    let key = format!(
        "{}/{}",
        session.principal.company_id, session.principal.user_id
    );
    state
        .sms_sends
        .check(&key, Instant::now())
        .map_err(ApiError::RateLimited)
}

/// Sends an SMS code for this pending sign-in to the user's confirmed number. The code
/// works for ten minutes, for this sign-in only; a new request replaces it.
#[utoipa::path(post, path = "/api/v1/auth/second-factor/sms", tag = "auth",
    responses((status = 202), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn send_sign_in_sms(
    State(state): State<AppState>,
    PartialSession(session): PartialSession,
) -> Result<StatusCode, ApiError> {
    if session.principal.stage != Stage::SecondFactor {
        return Err(ApiError::Conflict(
            "no second factor is due for this session".into(),
        ));
    }
    check_sms_budget(&state, &session)?;
    session
        .company
        .send_sign_in_code(session.principal, session.client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Starts setting up SMS codes: sends a code to the number. Needs a reauthentication,
/// except right after sign-in when the company requires enrollment.
#[utoipa::path(post, path = "/api/v1/me/second-factor/sms", tag = "account",
    request_body = PhoneRequest,
    responses((status = 202), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn start_sms(
    State(state): State<AppState>,
    PartialSession(session): PartialSession,
    ApiJson(request): ApiJson<PhoneRequest>,
) -> Result<StatusCode, ApiError> {
    if session.principal.stage == Stage::SecondFactor {
        return Err(ApiError::SecondFactorRequired);
    }
    // Refusals that cost no text come first, so they do not spend the user's budget.
    if session.principal.stage == Stage::Full && !session.principal.is_elevated() {
        return Err(ApiError::ReauthenticationRequired);
    }
    let phone = request.phone.trim().replace([' ', '-'], "");
    if !kaizen_actors::company::sms::is_e164(&phone) {
        return Err(ApiError::Validation(
            "give the phone number in international form, e.g. +15551234567".into(),
        ));
    }
    check_sms_budget(&state, &session)?;
    session
        .company
        .start_sms(session.principal, phone, session.client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Confirms the number with the code sent to it. Answers ten recovery codes, shown only
/// now. The user's other sessions end.
#[utoipa::path(post, path = "/api/v1/me/second-factor/sms/confirm", tag = "account",
    request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody)))]
pub async fn confirm_sms(
    State(state): State<AppState>,
    PartialSession(session): PartialSession,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    confirm(&state, session, request.code, Method::Sms).await
}

/// Removes SMS codes; needs a reauthentication. Refused when it is the last factor and
/// the company requires 2-step verification.
#[utoipa::path(delete, path = "/api/v1/me/second-factor/sms", tag = "account",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn disable_sms(session: Session) -> Result<StatusCode, ApiError> {
    session
        .company
        .disable_factor(session.principal, session.client, Method::Sms)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which second factors the signed-in user has: an authenticator, a phone for SMS
/// (masked), unused recovery codes and trusted browsers.
#[utoipa::path(get, path = "/api/v1/me/second-factor", tag = "account",
    responses((status = 200, body = FactorStatus), (status = 401, body = ErrorBody)))]
pub async fn status(session: Session) -> Result<Json<FactorStatus>, ApiError> {
    Ok(Json(
        session.company.factor_status(session.principal).await?,
    ))
}
