//! Password reset: ask for a link by email, then set a new password with it.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use kaizen_actors::model::Client;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use crate::token;

/// What asking for a reset link takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The company's slug.
    pub company: String,
    /// The user's email.
    pub email: String,
}

/// What setting a new password with a reset link takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetCompletion {
    /// The token from the emailed link (everything after `#/reset/`).
    pub token: String,
    /// The new password.
    pub new_password: String,
}

/// Emails a reset link if the account exists. Always answers 202 at once, whether or
/// not it does: the work happens after the answer, so neither body nor timing tells.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = ResetRequest,
    responses((status = 202), (status = 429, body = ErrorBody)))]
pub async fn request(
    State(state): State<AppState>,
    client: Client,
    ApiJson(request): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let (slug, email, account) = super::auth::account_key(&request.company, &request.email)?;
    if let Err(retry) = state
        .reset_limits
        .check(&account, client.ip, Instant::now())
    {
        return Err(ApiError::RateLimited(retry));
    }
    tokio::spawn(async move {
        let Ok(Some(company)) = state.registry.by_slug(&slug).await else {
            return;
        };
        let link_token = token::new_token();
        if let Err(error) = company
            .request_password_reset(email, link_token, client)
            .await
        {
            tracing::error!(%error, "a password reset could not be prepared");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset link. The link works once, for 30 minutes, and a
/// newer link voids it. Every session of the user ends; signing in afterwards still
/// needs the second factor if the user has one.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/complete", tag = "auth",
    request_body = ResetCompletion,
    responses((status = 204), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn complete(
    State(state): State<AppState>,
    client: Client,
    ApiJson(request): ApiJson<ResetCompletion>,
) -> Result<StatusCode, ApiError> {
    if let Err(retry) = state
        .reset_limits
        .by_address
        .check(&client.ip.into(), Instant::now())
    {
        return Err(ApiError::RateLimited(retry));
    }
    let invalid = || ApiError::Validation("this reset link is invalid, used or expired".into());
    let (company_id, link_token) = request.token.trim().split_once('.').ok_or_else(invalid)?;
    if !token::is_well_formed(link_token) {
        return Err(invalid());
    }
    let company = state
        .registry
        .by_id(company_id)
        .await?
        .ok_or_else(invalid)?;

    let target = company.reset_target(link_token.to_owned()).await?;
    let hash = super::account::hash_new_password(
        &state,
        &request.new_password,
        &target.profile,
        target.min_password_length,
    )
    .await?;
    company
        .complete_password_reset(link_token.to_owned(), hash, client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
