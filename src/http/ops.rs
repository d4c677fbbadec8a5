//! Health, readiness and metrics for the operator.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers and the server is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200), (status = 503, body = super::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::Unavailable);
    }
    match state.registry.db().ping().await {
        Ok(()) => Ok("ready\n"),
        Err(error) => {
            tracing::warn!(%error, "readiness check: database unreachable");
            Err(ApiError::Unavailable)
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state
        .metrics
        .render(state.registry.stats(), &state.registry.alerts().counts());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}
