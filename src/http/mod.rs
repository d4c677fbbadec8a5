//! HTTP delivery: the router, its middleware and the handlers, one module per resource.

pub mod account;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod cycles;
pub mod error;
pub mod export;
pub mod extract;
pub mod feedback;
pub mod installation;
pub mod live;
pub mod objectives;
pub mod ops;
pub mod origin;
pub mod people;
pub mod reset;
pub mod reviews;
pub mod second_factor;
pub mod web;
pub mod xml;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use kaizen_actors::Registry;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ServeConfig;
use crate::limits::{Limiter, SignInLimits};
use crate::metrics::Metrics;
use crate::password::Hasher;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The company actors.
    pub registry: Arc<Registry>,
    /// The server's configuration.
    pub config: Arc<ServeConfig>,
    /// bcrypt on the blocking pool.
    pub hasher: Hasher,
    /// Sign-in attempts per address and account.
    pub sign_in_limits: Arc<SignInLimits>,
    /// Password-reset requests and completions, limited like sign-ins.
    pub reset_limits: Arc<SignInLimits>,
    /// Password checks of signed-in users (reauthentication, password change), per user.
    pub password_checks: Arc<Limiter<String>>,
    /// Second-factor code checks, per user across all their pending sign-ins.
    pub code_checks: Arc<Limiter<String>>,
    /// SMS messages sent, per user.
    pub sms_sends: Arc<Limiter<String>>,
    /// Lockouts written to the audit trail, at most one per account every few minutes.
    pub lockouts_audited: Arc<Limiter<String>>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Cancelled when shutdown begins; live connections then say goodbye.
    pub shutdown: CancellationToken,
    /// Live connections, so shutdown can wait for them.
    pub connections: TaskTracker,
}

/// The largest request body accepted; reviews are the largest bodies and stay well below.
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(info(
    title = "Kaizen",
    description = "Performance reviews, 360 feedback and objectives. Errors are \
                   `{\"error\": {\"code\", \"message\"}}` with a stable snake_case code."
))]
struct ApiDoc;

/// The API's routes with their OpenAPI descriptions. Each route is registered from its
/// handler's own annotation, so the document cannot drift from what is served.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(second_factor::verify))
        .routes(routes!(
            second_factor::start_totp,
            second_factor::disable_totp
        ))
        .routes(routes!(second_factor::confirm_totp))
        .routes(routes!(second_factor::status))
        .routes(routes!(second_factor::send_sign_in_sms))
        .routes(routes!(
            second_factor::start_sms,
            second_factor::disable_sms
        ))
        .routes(routes!(second_factor::confirm_sms))
        .routes(routes!(reset::request))
        .routes(routes!(reset::complete))
        .routes(routes!(account::password_strength))
        .routes(routes!(account::reauthenticate))
        .routes(routes!(account::change_password))
        .routes(routes!(account::sessions))
        .routes(routes!(account::end_session))
        .routes(routes!(admin::security_policy, admin::set_security_policy))
        .routes(routes!(admin::users))
        .routes(routes!(admin::update_user))
        .routes(routes!(admin::end_user_sessions))
        .routes(routes!(admin::wipe))
        .routes(routes!(people::import_people))
        .routes(routes!(admin::confirm_wipe))
        .routes(routes!(audit::audit))
        .routes(routes!(audit::audit_csv))
        .routes(routes!(audit::audit_xlsx))
        .routes(routes!(export::users_csv))
        .routes(routes!(export::reviews_csv))
        .routes(routes!(cycles::list, cycles::create))
        .routes(routes!(cycles::progress))
        .routes(routes!(reviews::list))
        .routes(routes!(reviews::get, reviews::save_draft))
        .routes(routes!(reviews::submit))
        // Review cycles in phases: advance, close, calibration, share, sign, reminders.
        .routes(routes!(cycles::advance))
        .routes(routes!(cycles::close))
        .routes(routes!(cycles::calibration))
        .routes(routes!(cycles::calibrate))
        .routes(routes!(cycles::run_reminders))
        .routes(routes!(
            cycles::review_settings,
            cycles::set_review_settings
        ))
        .routes(routes!(reviews::share))
        .routes(routes!(reviews::sign))
        // Objectives, their key results and cycle links, comments, the objectives export.
        .routes(routes!(objectives::list, objectives::create))
        .routes(routes!(objectives::tree))
        .routes(routes!(
            objectives::get,
            objectives::update,
            objectives::archive
        ))
        .routes(routes!(objectives::add_key_result))
        .routes(routes!(
            objectives::update_key_result,
            objectives::delete_key_result
        ))
        .routes(routes!(objectives::link_cycle, objectives::unlink_cycle))
        .routes(routes!(
            objectives::objective_comments,
            objectives::add_objective_comment
        ))
        .routes(routes!(objectives::delete_objective_comment))
        .routes(routes!(objectives::review_objectives))
        .routes(routes!(
            objectives::review_comments,
            objectives::add_review_comment
        ))
        .routes(routes!(objectives::delete_review_comment))
        .routes(routes!(objectives::objectives_csv))
        // 360 feedback: settings, nominations, writing, results, export.
        .routes(routes!(feedback::settings, feedback::set_settings))
        .routes(routes!(feedback::close))
        .routes(routes!(feedback::overview))
        .routes(routes!(feedback::candidates))
        .routes(routes!(feedback::nominations, feedback::nominate))
        .routes(routes!(feedback::approve))
        .routes(routes!(feedback::reject))
        .routes(routes!(feedback::cycles))
        .routes(routes!(feedback::requests))
        .routes(routes!(feedback::request, feedback::save_draft))
        .routes(routes!(feedback::submit))
        .routes(routes!(feedback::results))
        .routes(routes!(feedback::feedback_csv))
        .routes(routes!(live::live))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        // Data protection: the XML export.
        .routes(routes!(xml::company_xml))
        .routes(routes!(xml::cycle_xml))
        // The installation's staff (operators and support).
        .routes(routes!(installation::login))
        .routes(routes!(installation::logout))
        .routes(routes!(installation::companies))
        .routes(routes!(installation::company_overview))
        .routes(routes!(installation::company_audit))
        .routes(routes!(installation::set_xml_export))
        .routes(routes!(installation::issue_wipe_password))
        .routes(routes!(installation::backup))
}

/// The OpenAPI document of the HTTP API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The whole application with its middleware.
pub fn router(state: AppState) -> Router {
    let (api, document) = api().split_for_parts();
    let document = Arc::new(document);
    let request_id = HeaderName::from_static("x-request-id");

    api.route(
        "/api/openapi.json",
        axum::routing::get(move || {
            let document = document.clone();
            async move { Json(document.as_ref().clone()) }
        }),
    )
    .merge(web::router())
    .fallback(|| async { ApiError::NotFound })
    .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
    .layer(middleware::from_fn(extract::mint_cookies))
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    // A panicking handler is a bug: log it and answer a plain 500, keep the connection.
    .layer(CatchPanicLayer::custom(|_| {
        tracing::error!("a request handler panicked");
        ApiError::Internal.into_response()
    }))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        record_metrics,
    ))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        refuse_cross_site,
    ))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        security_headers,
    ))
    .layer(PropagateRequestIdLayer::new(request_id.clone()))
    .layer(
        TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str)
                .unwrap_or("unmatched");
            tracing::info_span!("request", request_id = %id, method = %request.method(), route,
            company_id = tracing::field::Empty, user_id = tracing::field::Empty)
        }),
    )
    .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
    .layer(middleware::map_request(drop_unusable_request_id))
    .with_state(state)
}

/// Drops a client's `X-Request-Id` unless it is a short plain token, so that a fresh one
/// is made: ids go into every log line, and a crafted one could forge log records.
async fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = request.headers().get("x-request-id").is_none_or(|id| {
        let id = id.as_bytes();
        (1..=64).contains(&id.len())
            && id
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if !usable {
        request.headers_mut().remove("x-request-id");
    }
    request
}

/// Refuses state-changing requests that a browser sent from another site.
async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = origin::request_allowed(
        request.method(),
        request.headers(),
        request.uri(),
        &state.config.allowed_origins,
    );
    if !allowed {
        tracing::warn!(method = %request.method(), "cross-site request refused");
        return ApiError::Forbidden("cross-site requests are refused").into_response();
    }
    next.run(request).await
}

/// Adds the security headers every response carries.
async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    );
    if is_api {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    if state.config.secure_cookies {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}

/// Counts requests and their latency per route pattern.
async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only the standard methods become labels: anything a client makes up would
    // otherwise add a series that lives as long as the process.
    let method = match *request.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS => request.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    state.metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
