//! Reviews: list, read, save a draft, submit.

use axum::Json;
use kaizen_actors::model::{DraftUpdate, Review, ReviewSummary, Saved};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Id, Session};

/// The reviews the caller writes, and the ones about them once shared.
#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews",
    responses((status = 200, body = Vec<ReviewSummary>), (status = 401, body = ErrorBody)))]
pub async fn list(session: Session) -> Result<Json<Vec<ReviewSummary>>, ApiError> {
    Ok(Json(session.company.list_reviews(session.principal).await?))
}

/// One review with answers: for its writer, its subject once shared, the subject's
/// managers and HR admins. Anyone else gets 404, as for an id that doesn't exist.
/// When the cycle has an objectives question, `objectives` lists the reviewee's
/// objectives linked into the cycle (title, weight, progress) and `objectives_score`
/// is Σ weight·rating / Σ weight over those its answer rates (a link without a weight
/// counts 1), or `null` while none is rated.
#[utoipa::path(get, path = "/api/v1/reviews/{id}", tag = "reviews",
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 200, body = Review), (status = 404, body = ErrorBody)))]
pub async fn get(session: Session, Id(id): Id) -> Result<Json<Review>, ApiError> {
    Ok(Json(
        session.company.get_review(session.principal, id).await?,
    ))
}

/// Saves a draft: the given answers replace those of the same questions (`null` clears
/// one). `version` is the version the changes were made on. Answers nobody else changed
/// since are merged in even when the review moved on; an answer also changed by someone
/// else since is refused with 409, and `error.conflict` carries both versions of each
/// such answer, so that no one's edit is silently overwritten. An objectives question
/// takes `{"<objective id>": {"rating": 4, "comment": "…"}}` (comment optional, at most
/// 2000 characters), saved whole: each id must be an objective of the reviewee linked
/// into the cycle (one unlinked since may stay unchanged), each rating on the cycle's
/// scale; anything else is a 422 that does not tell whose an id is.
#[utoipa::path(patch, path = "/api/v1/reviews/{id}", tag = "reviews", request_body = DraftUpdate,
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 200, body = Saved), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn save_draft(
    session: Session,
    Id(id): Id,
    ApiJson(update): ApiJson<DraftUpdate>,
) -> Result<Json<Saved>, ApiError> {
    Ok(Json(
        session
            .company
            .save_draft(session.principal, id, update, session.client)
            .await?,
    ))
}

/// Submits a review once every question is answered; an objectives question is
/// answered once every objective linked for the reviewee is rated (with none linked,
/// at once). The cycle's dashboards hear of it at once.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/submit", tag = "reviews",
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 200, body = Review), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn submit(session: Session, Id(id): Id) -> Result<Json<Review>, ApiError> {
    Ok(Json(
        session
            .company
            .submit_review(session.principal, id, session.client)
            .await?,
    ))
}

/// Shares a submitted manager review with its reviewee, who can read it from then on
/// (with HR's calibrated ratings in place of the manager's). Its writer or an HR admin,
/// in the cycle's sharing or sign-off phase (409 otherwise).
#[utoipa::path(post, path = "/api/v1/reviews/{id}/share", tag = "reviews",
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 200, body = Review), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn share(session: Session, Id(id): Id) -> Result<Json<Review>, ApiError> {
    let review = session
        .company
        .share_review(session.principal, id, session.client);
    Ok(Json(review.await?))
}

/// Signs a shared manager review, as its reviewee or as the manager who wrote it, in
/// the cycle's sign-off phase. It becomes `signed` once both have signed; each
/// signature's time is kept.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/sign", tag = "reviews",
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 200, body = Review), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn sign(session: Session, Id(id): Id) -> Result<Json<Review>, ApiError> {
    let review = session
        .company
        .sign_review(session.principal, id, session.client);
    Ok(Json(review.await?))
}
