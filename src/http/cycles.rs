//! Review cycles.

use axum::Json;
use axum::http::StatusCode;
use kaizen_actors::model::{Cycle, NewCycle, Progress};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Id, Session};

/// The cycles the caller may see: all of them for HR admins, otherwise those the caller
/// writes or receives reviews in.
#[utoipa::path(get, path = "/api/v1/cycles", tag = "cycles",
    responses((status = 200, body = Vec<Cycle>), (status = 401, body = ErrorBody)))]
pub async fn list(session: Session) -> Result<Json<Vec<Cycle>>, ApiError> {
    Ok(Json(session.company.list_cycles(session.principal).await?))
}

/// Creates a cycle with its questionnaire; every participant gets a self review and, if
/// they have a manager, a manager review. HR admins only.
#[utoipa::path(post, path = "/api/v1/cycles", tag = "cycles", request_body = NewCycle,
    responses((status = 201, body = Cycle), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    session: Session,
    ApiJson(new): ApiJson<NewCycle>,
) -> Result<(StatusCode, Json<Cycle>), ApiError> {
    let cycle = session
        .company
        .create_cycle(session.principal, new, session.client)
        .await?;
    Ok((StatusCode::CREATED, Json(cycle)))
}

/// A cycle's progress by review status, in total and per review kind. HR admins only.
#[utoipa::path(get, path = "/api/v1/cycles/{id}/progress", tag = "cycles",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = Progress), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn progress(session: Session, Id(id): Id) -> Result<Json<Progress>, ApiError> {
    Ok(Json(
        session
            .company
            .cycle_progress(session.principal, id)
            .await?,
    ))
}
