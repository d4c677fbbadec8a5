//! The installation's staff over HTTP: operators and support sign in under
//! `/api/v1/installation` with their own cookie (`kz_staff`), which no company route
//! reads, so a staff session is unauthenticated everywhere else. Support sees per company
//! only counts, the last sign-in, cycle names and states, and the audit trail (which
//! holds no content); operators also switch XML export, issue wipe passwords and take
//! backups. Whatever concerns a company is recorded in that company's trail.

use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kaizen_actors::company::{AuditFilter, AuditPage};
use kaizen_actors::model::{Client, rfc3339};
use kaizen_actors::staff::{self, CompanyOverview, StaffPrincipal, StaffRole};
use kaizen_actors::{CompanyHandle, directory};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::named_cookie;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, Id, cookie};
use crate::token;

/// The cookie of a staff session.
pub const STAFF_COOKIE: &str = "kz_staff";

/// A signed-in staff member and where the request came from.
pub struct StaffSession {
    /// Who.
    pub staff: StaffPrincipal,
    /// From where.
    pub client: Client,
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = Client::from_request_parts(parts, state).await?;
        let token = cookie(&parts.headers, STAFF_COOKIE)
            .filter(|t| token::is_well_formed(t))
            .ok_or(ApiError::Unauthenticated)?;
        let staff = staff::session(state.registry.db(), &token::hash_token(token))
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(StaffSession { staff, client })
    }
}

impl StaffSession {
    /// Refuses support staff: the operator's switches only.
    fn operator(&self) -> Result<(), ApiError> {
        match self.staff.role {
            StaffRole::Operator => Ok(()),
            StaffRole::Support => Err(ApiError::Forbidden("only operators may do this")),
        }
    }

    /// Records in the company's trail that staff did `action` to it.
    async fn audit(
        &self,
        company: &CompanyHandle,
        action: &'static str,
        mut detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        detail["staff"] = self.staff.email.clone().into();
        detail["staff_role"] = self.staff.role.as_str().into();
        company
            .audit(None, action, self.client.clone(), detail)
            .await?;
        Ok(())
    }
}

/// The company with this slug, or 404.
async fn company(state: &AppState, slug: &str) -> Result<CompanyHandle, ApiError> {
    state
        .registry
        .by_slug(slug)
        .await?
        .ok_or(ApiError::NotFound)
}

/// What staff sign-in takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLoginRequest {
    /// The staff member's email.
    pub email: String,
    /// The password.
    pub password: String,
}

/// What staff sign-in answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffLoginResponse {
    /// `signed_in`.
    pub status: &'static str,
}

/// Signs a staff member in. The same rules as a user's sign-in: one answer for every
/// failure after the same bcrypt work, and the same rate limits.
#[utoipa::path(post, path = "/api/v1/installation/login", tag = "installation",
    request_body = StaffLoginRequest,
    responses((status = 200, body = StaffLoginResponse),
              (status = 401, description = "invalid_credentials", body = ErrorBody),
              (status = 429, description = "rate_limited", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    ApiJson(request): ApiJson<StaffLoginRequest>,
) -> Result<Response, ApiError> {
    if request.password.len() > crate::password::MAX_PASSWORD_BYTES || request.email.len() > 320 {
        return Err(ApiError::Validation(
            "the email or password is too long".into(),
        ));
    }
    let email = kaizen_actors::model::normalize_email(&request.email);
    // Staff accounts are counted apart from every company's: no slug has a space.
    let account = format!("installation staff/{email}");
    if let Err(retry) = state
        .sign_in_limits
        .check(&account, client.ip, Instant::now())
    {
        tracing::warn!(ip = %client.ip, "staff sign-in rate limited");
        state.registry.alerts().raise(
            "sign_in_locked_out",
            None,
            "staff sign-in attempts locked out",
        );
        return Err(ApiError::RateLimited(retry));
    }
    let found = staff::find_login(state.registry.db(), &email).await?;
    let stored = found.as_ref().map(|f| f.password_hash.clone());
    let verified = state.hasher.verify(&request.password, stored).await;
    let (Some(found), true) = (found, verified) else {
        state.metrics.login_failed();
        tracing::warn!(ip = %client.ip, "staff sign-in refused");
        return Err(ApiError::InvalidCredentials);
    };
    let token = token::new_token();
    staff::open_session(
        state.registry.db(),
        &found.id,
        &token::hash_token(&token),
        &client,
    )
    .await?;
    state.sign_in_limits.succeeded(&account, client.ip);
    tracing::info!(staff_id = %found.id, "staff signed in");
    let mut response = Json(StaffLoginResponse {
        status: "signed_in",
    })
    .into_response();
    let secure = state.config.secure_cookies;
    response.headers_mut().append(
        header::SET_COOKIE,
        named_cookie(STAFF_COOKIE, &token, None, secure),
    );
    Ok(response)
}

/// Ends the staff session.
#[utoipa::path(post, path = "/api/v1/installation/logout", tag = "installation",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Response, ApiError> {
    staff::end_session(state.registry.db(), &session.staff.session_id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let secure = state.config.secure_cookies;
    response.headers_mut().append(
        header::SET_COOKIE,
        named_cookie(STAFF_COOKIE, "", Some(0), secure),
    );
    Ok(response)
}

/// Every company: people counted, the last sign-in, whether XML export is on. Staff.
#[utoipa::path(get, path = "/api/v1/installation/companies", tag = "installation",
    responses((status = 200, body = Vec<CompanyOverview>), (status = 401, body = ErrorBody)))]
pub async fn companies(
    State(state): State<AppState>,
    _session: StaffSession,
) -> Result<Json<Vec<CompanyOverview>>, ApiError> {
    let mut overviews = Vec::new();
    for found in directory::list(state.registry.db()).await? {
        let company = company(&state, &found.slug).await?;
        let figures = company.staff_figures(false).await?;
        overviews.push(CompanyOverview::new(found, figures));
    }
    Ok(Json(overviews))
}

/// One company, with its cycles' names and states. Staff.
#[utoipa::path(get, path = "/api/v1/installation/companies/{slug}", tag = "installation",
    params(("slug" = String, Path, description = "The company's slug")),
    responses((status = 200, body = CompanyOverview), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn company_overview(
    State(state): State<AppState>,
    _session: StaffSession,
    Id(slug): Id,
) -> Result<Json<CompanyOverview>, ApiError> {
    let found = directory::find_by_slug(state.registry.db(), &slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    let figures = company(&state, &slug).await?.staff_figures(true).await?;
    Ok(Json(CompanyOverview::new(found, figures)))
}

/// A company's audit trail, with the filters and pages of `GET /api/v1/admin/audit`.
/// Staff; each look is itself recorded in the company's trail.
#[utoipa::path(get, path = "/api/v1/installation/companies/{slug}/audit", tag = "installation",
    params(("slug" = String, Path, description = "The company's slug"), AuditFilter),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn company_audit(
    State(state): State<AppState>,
    session: StaffSession,
    Id(slug): Id,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> Result<Json<AuditPage>, ApiError> {
    let company = company(&state, &slug).await?;
    let page = company.installation_audit_page(filter).await?;
    session
        .audit(&company, "installation_audit_viewed", serde_json::json!({}))
        .await?;
    Ok(Json(page))
}

/// The operator's switch of XML export.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct XmlExportSwitch {
    /// Whether the company's HR admins may export it as XML.
    pub enabled: bool,
}

/// Switches a company's XML export on or off, like `kaizen company enable-xml-export`.
/// Operators.
#[utoipa::path(put, path = "/api/v1/installation/companies/{slug}/xml-export",
    tag = "installation", request_body = XmlExportSwitch,
    params(("slug" = String, Path, description = "The company's slug")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn set_xml_export(
    State(state): State<AppState>,
    session: StaffSession,
    Id(slug): Id,
    ApiJson(switch): ApiJson<XmlExportSwitch>,
) -> Result<StatusCode, ApiError> {
    session.operator()?;
    let company = company(&state, &slug).await?;
    kaizen_actors::directory::set_xml_export(state.registry.db(), &slug, switch.enabled)
        .await
        .map_err(|_| ApiError::NotFound)?;
    let action = if switch.enabled {
        "xml_export_enabled"
    } else {
        "xml_export_disabled"
    };
    session
        .audit(&company, action, serde_json::json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A wipe master password, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WipePassword {
    /// The one-time password to hand to the company's HR admins.
    pub password: String,
    /// Until when it works, RFC 3339.
    pub expires_at: String,
}

/// Issues a one-time wipe master password for a company, like `kaizen company
/// issue-wipe-password`; earlier ones stop working. Operators.
#[utoipa::path(post, path = "/api/v1/installation/companies/{slug}/wipe-password",
    tag = "installation",
    params(("slug" = String, Path, description = "The company's slug")),
    responses((status = 200, body = WipePassword), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn issue_wipe_password(
    State(state): State<AppState>,
    session: StaffSession,
    Id(slug): Id,
) -> Result<Json<WipePassword>, ApiError> {
    session.operator()?;
    let company = company(&state, &slug).await?;
    let password = token::new_token();
    let hash = kaizen_actors::db::sha256_hex(&password);
    let expires_at = company.issue_wipe_password(hash).await?;
    session
        .audit(
            &company,
            "installation_wipe_password_issued",
            serde_json::json!({}),
        )
        .await?;
    Ok(Json(WipePassword {
        password,
        expires_at: rfc3339(expires_at),
    }))
}

/// A backup taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupTaken {
    /// The backup file on the server.
    pub file: String,
    /// Rows copied, over every table.
    pub rows: i64,
}

/// Takes a consistent backup of the whole installation into the server's backup
/// directory (`--backup-dir`), like `kaizen backup`. Operators.
#[utoipa::path(post, path = "/api/v1/installation/backups", tag = "installation",
    responses((status = 201, body = BackupTaken), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn backup(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<(StatusCode, Json<BackupTaken>), ApiError> {
    session.operator()?;
    let db = state.registry.db();
    let dir = state
        .config
        .backup_dir
        .clone()
        .unwrap_or_else(|| state.config.db.data_dir.join("backups"));
    let out = dir.join(crate::backup::file_name(db));
    let manifest = crate::backup::backup(db, state.config.db.database_url.as_deref(), &out)
        .await
        .map_err(|error| {
            tracing::error!(%error, "a backup asked for by an operator failed");
            ApiError::Internal
        })?;
    tracing::info!(file = %out.display(), staff_id = %session.staff.id, "backup taken");
    Ok((
        StatusCode::CREATED,
        Json(BackupTaken {
            file: out.display().to_string(),
            rows: manifest.census.total_rows(),
        }),
    ))
}
