//! Review cycles.

use axum::Json;
use axum::http::StatusCode;
use kaizen_actors::model::{
    Calibration, CalibrationEntry, CalibrationUpdate, Cycle, NewCycle, Phase, Progress,
    RemindersSent, ReviewSettings,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Id, Ids, Session};

/// The cycles the caller may see: all of them for HR admins, otherwise those the caller
/// writes or receives reviews in.
#[utoipa::path(get, path = "/api/v1/cycles", tag = "cycles",
    responses((status = 200, body = Vec<Cycle>), (status = 401, body = ErrorBody)))]
pub async fn list(session: Session) -> Result<Json<Vec<Cycle>>, ApiError> {
    Ok(Json(session.company.list_cycles(session.principal).await?))
}

/// Creates a cycle with its questionnaire; every participant gets a self review and, if
/// they have a manager, a manager review. The reviewees are everyone active, the
/// `participants` named, or the active users of the `departments` named. The cycle
/// starts in its self review phase. Questions are `text`, `rating` or `objectives` (at
/// most one: it rates each of the reviewee's objectives linked into the cycle). HR
/// admins and HR assistants.
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

/// A cycle's progress by review status, with `overdue`, in total and per review kind,
/// reviewee department and reviewee manager. HR admins and HR assistants.
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

/// What `POST /api/v1/cycles/{id}/advance` may take: the phase the caller saw, so that a
/// second click or a second HR user moving the same cycle gets a 409 instead of
/// skipping a phase.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    /// The phase the cycle must still be in.
    pub from: Option<Phase>,
}

/// Moves a cycle to its next phase: self review → manager review → sharing →
/// sign-off → closed. HR admins and HR assistants; 409 once closed, or when `from` is
/// given and the cycle is no longer in it.
#[utoipa::path(post, path = "/api/v1/cycles/{id}/advance", tag = "cycles",
    params(("id" = String, Path, description = "The cycle's id")),
    request_body(content = Option<Advance>),
    responses((status = 200, body = Cycle), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn advance(
    session: Session,
    Id(id): Id,
    body: Option<ApiJson<Option<Advance>>>,
) -> Result<Json<Cycle>, ApiError> {
    let from = body.and_then(|ApiJson(advance)| advance?.from);
    let cycle = session
        .company
        .advance_cycle(session.principal, id, from, session.client);
    Ok(Json(cycle.await?))
}

/// Closes a cycle in whatever phase it is; nothing in it changes afterwards. HR admins
/// and HR assistants; 409 once closed.
#[utoipa::path(post, path = "/api/v1/cycles/{id}/close", tag = "cycles",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = Cycle), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn close(session: Session, Id(id): Id) -> Result<Json<Cycle>, ApiError> {
    let cycle = session
        .company
        .close_cycle(session.principal, id, session.client);
    Ok(Json(cycle.await?))
}

/// The calibration view: per manager review, the manager's ratings and HR's calibrated
/// ones. HR admins only (ratings are content; HR assistants get 403).
#[utoipa::path(get, path = "/api/v1/cycles/{id}/calibration", tag = "cycles",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = Calibration), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn calibration(session: Session, Id(id): Id) -> Result<Json<Calibration>, ApiError> {
    Ok(Json(
        session.company.calibration(session.principal, id).await?,
    ))
}

/// Sets the calibrated ratings of a submitted manager review, replacing earlier ones
/// (an empty map removes them). The manager's ratings are kept; the reviewee sees the
/// calibrated ones once the review is shared. HR admins only; 409 once shared.
#[utoipa::path(put, path = "/api/v1/cycles/{id}/calibration/{review_id}", tag = "cycles",
    request_body = CalibrationUpdate,
    params(("id" = String, Path, description = "The cycle's id"),
           ("review_id" = String, Path, description = "The manager review's id")),
    responses((status = 200, body = CalibrationEntry), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn calibrate(
    session: Session,
    Ids(id, review_id): Ids,
    ApiJson(update): ApiJson<CalibrationUpdate>,
) -> Result<Json<CalibrationEntry>, ApiError> {
    let entry = session
        .company
        .calibrate(session.principal, id, review_id, update, session.client);
    Ok(Json(entry.await?))
}

/// Sends the cycle reminders that are due now, as the server's periodic task does:
/// one email per person, phase and kind (`upcoming` within two days of a deadline,
/// `overdue` after it), never twice. HR admins and HR assistants.
#[utoipa::path(post, path = "/api/v1/reminders/run", tag = "cycles",
    responses((status = 200, body = RemindersSent), (status = 403, body = ErrorBody)))]
pub async fn run_reminders(session: Session) -> Result<Json<RemindersSent>, ApiError> {
    Ok(Json(
        session.company.run_reminders(session.principal).await?,
    ))
}

/// The company's review settings. HR admins.
#[utoipa::path(get, path = "/api/v1/admin/review-settings", tag = "admin",
    responses((status = 200, body = ReviewSettings), (status = 403, body = ErrorBody)))]
pub async fn review_settings(session: Session) -> Result<Json<ReviewSettings>, ApiError> {
    Ok(Json(
        session.company.review_settings(session.principal).await?,
    ))
}

/// Changes the company's review settings: `skip_level_visible` lets managers read the
/// reviews of everyone below them, not only of their direct reports. HR admins,
/// reauthenticated.
#[utoipa::path(put, path = "/api/v1/admin/review-settings", tag = "admin",
    request_body = ReviewSettings,
    responses((status = 200, body = ReviewSettings), (status = 403, body = ErrorBody)))]
pub async fn set_review_settings(
    session: Session,
    ApiJson(settings): ApiJson<ReviewSettings>,
) -> Result<Json<ReviewSettings>, ApiError> {
    let settings = session
        .company
        .set_review_settings(session.principal, settings, session.client);
    Ok(Json(settings.await?))
}
