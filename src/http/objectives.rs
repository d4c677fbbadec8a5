//! Objectives and their key results, their links into review cycles, comments on
//! objectives and reviews, and the objectives CSV export.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use futures_util::StreamExt;
use kaizen_actors::company::comment::{Comment, Commented, NewComment};
use kaizen_actors::company::objective::{
    CycleLinkUpdate, ExportedObjective, KeyResultUpdate, NewKeyResult, NewObjective, Objective,
    ObjectiveFilter, ObjectiveNode, ObjectiveUpdate,
};
use kaizen_actors::company::{AuditFilter, Export};

use super::error::{ApiError, ErrorBody};
use super::export::{CSV, attachment, id_pages, streamed};
use super::extract::{ApiJson, ApiQuery, Id, Session};
use crate::export::csv;

/// Objectives read from the company's actor at a time for the export.
const EXPORT_PAGE: i64 = 200;

/// Two ids in a route's path (an object and one of its parts). A path that cannot be
/// read names nothing: the JSON 404, like [`Id`].
pub struct Ids(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path((first, second))) => Ok(Ids(first, second)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// The objectives the caller may see: company and team objectives, their own, those of
/// the people below them in the reporting line, and every one for HR admins. Archived
/// ones only with `archived=true`.
#[utoipa::path(get, path = "/api/v1/objectives", tag = "objectives", params(ObjectiveFilter),
    responses((status = 200, body = Vec<Objective>), (status = 422, body = ErrorBody)))]
pub async fn list(
    session: Session,
    ApiQuery(filter): ApiQuery<ObjectiveFilter>,
) -> Result<Json<Vec<Objective>>, ApiError> {
    Ok(Json(
        session
            .company
            .list_objectives(session.principal, filter)
            .await?,
    ))
}

/// Creates an objective. `level` is `person` unless given; `owner_id` the caller unless
/// given. Company objectives are created by HR admins and owned by one; team objectives
/// are owned by a manager and created by them, someone above them or HR; a person's by
/// them, their managers or HR. A parent must be one the caller sees, of the same or a
/// higher level, without making the tree deeper than six levels.
#[utoipa::path(post, path = "/api/v1/objectives", tag = "objectives", request_body = NewObjective,
    responses((status = 201, body = Objective), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    session: Session,
    ApiJson(new): ApiJson<NewObjective>,
) -> Result<(StatusCode, Json<Objective>), ApiError> {
    let objective = session
        .company
        .create_objective(session.principal, new, session.client)
        .await?;
    Ok((StatusCode::CREATED, Json(objective)))
}

/// The visible objectives as a tree: roots (objectives without a visible parent) with
/// the objectives aligned to them as `children`, company before team before person.
#[utoipa::path(get, path = "/api/v1/objectives/tree", tag = "objectives", params(ObjectiveFilter),
    responses((status = 200, body = Vec<ObjectiveNode>), (status = 422, body = ErrorBody)))]
pub async fn tree(
    session: Session,
    ApiQuery(filter): ApiQuery<ObjectiveFilter>,
) -> Result<Json<Vec<ObjectiveNode>>, ApiError> {
    Ok(Json(
        session
            .company
            .objective_tree(session.principal, filter)
            .await?,
    ))
}

/// One objective with its key results and cycle links; 404 for one the caller may not
/// see, as for an id that does not exist.
#[utoipa::path(get, path = "/api/v1/objectives/{id}", tag = "objectives",
    params(("id" = String, Path, description = "The objective's id")),
    responses((status = 200, body = Objective), (status = 404, body = ErrorBody)))]
pub async fn get(session: Session, Id(id): Id) -> Result<Json<Objective>, ApiError> {
    Ok(Json(
        session.company.get_objective(session.principal, id).await?,
    ))
}

/// Changes an objective: its owner, the owner's managers and HR admins may. `version` is
/// the version the change was based on; a stale one answers 409 `conflict` and changes
/// nothing. `archived: true` archives, `false` restores.
#[utoipa::path(patch, path = "/api/v1/objectives/{id}", tag = "objectives",
    request_body = ObjectiveUpdate,
    params(("id" = String, Path, description = "The objective's id")),
    responses((status = 200, body = Objective), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    session: Session,
    Id(id): Id,
    ApiJson(update): ApiJson<ObjectiveUpdate>,
) -> Result<Json<Objective>, ApiError> {
    Ok(Json(
        session
            .company
            .update_objective(session.principal, id, update, session.client)
            .await?,
    ))
}

/// Archives an objective (kept for its history and alignments, hidden from lists).
#[utoipa::path(delete, path = "/api/v1/objectives/{id}", tag = "objectives",
    params(("id" = String, Path, description = "The objective's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn archive(session: Session, Id(id): Id) -> Result<StatusCode, ApiError> {
    session
        .company
        .archive_objective(session.principal, id, session.client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a key result: a percentage (`progress`) or measured (`target`, with `start`
/// and `current`). Answers the objective.
#[utoipa::path(post, path = "/api/v1/objectives/{id}/key-results", tag = "objectives",
    request_body = NewKeyResult,
    params(("id" = String, Path, description = "The objective's id")),
    responses((status = 201, body = Objective), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_key_result(
    session: Session,
    Id(id): Id,
    ApiJson(new): ApiJson<NewKeyResult>,
) -> Result<(StatusCode, Json<Objective>), ApiError> {
    let objective = session
        .company
        .add_key_result(session.principal, id, new, session.client)
        .await?;
    Ok((StatusCode::CREATED, Json(objective)))
}

/// Changes a key result's progress, values or title. Answers the objective.
#[utoipa::path(patch, path = "/api/v1/objectives/{id}/key-results/{key_result_id}",
    tag = "objectives", request_body = KeyResultUpdate,
    params(("id" = String, Path, description = "The objective's id"),
           ("key_result_id" = String, Path, description = "The key result's id")),
    responses((status = 200, body = Objective), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update_key_result(
    session: Session,
    Ids(id, key_result_id): Ids,
    ApiJson(update): ApiJson<KeyResultUpdate>,
) -> Result<Json<Objective>, ApiError> {
    Ok(Json(
        session
            .company
            .update_key_result(session.principal, id, key_result_id, update, session.client)
            .await?,
    ))
}

/// Removes a key result. Answers the objective.
#[utoipa::path(delete, path = "/api/v1/objectives/{id}/key-results/{key_result_id}",
    tag = "objectives",
    params(("id" = String, Path, description = "The objective's id"),
           ("key_result_id" = String, Path, description = "The key result's id")),
    responses((status = 200, body = Objective), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn delete_key_result(
    session: Session,
    Ids(id, key_result_id): Ids,
) -> Result<Json<Objective>, ApiError> {
    Ok(Json(
        session
            .company
            .delete_key_result(session.principal, id, key_result_id, session.client)
            .await?,
    ))
}

/// Links an objective into a review cycle with an optional weight (or changes the
/// weight), so that the reviewers of its owner in that cycle see it. Answers the
/// objective.
#[utoipa::path(put, path = "/api/v1/objectives/{id}/cycles/{cycle_id}", tag = "objectives",
    request_body = CycleLinkUpdate,
    params(("id" = String, Path, description = "The objective's id"),
           ("cycle_id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = Objective), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn link_cycle(
    session: Session,
    Ids(id, cycle_id): Ids,
    ApiJson(link): ApiJson<CycleLinkUpdate>,
) -> Result<Json<Objective>, ApiError> {
    Ok(Json(
        session
            .company
            .link_objective_cycle(session.principal, id, cycle_id, Some(link), session.client)
            .await?,
    ))
}

/// Unlinks an objective from a review cycle. Answers the objective.
#[utoipa::path(delete, path = "/api/v1/objectives/{id}/cycles/{cycle_id}", tag = "objectives",
    params(("id" = String, Path, description = "The objective's id"),
           ("cycle_id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = Objective), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn unlink_cycle(
    session: Session,
    Ids(id, cycle_id): Ids,
) -> Result<Json<Objective>, ApiError> {
    Ok(Json(
        session
            .company
            .link_objective_cycle(session.principal, id, cycle_id, None, session.client)
            .await?,
    ))
}

/// The objectives of a review's subject linked into the review's cycle, for whoever may
/// read the review (404 for anyone else).
#[utoipa::path(get, path = "/api/v1/reviews/{id}/objectives", tag = "objectives",
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 200, body = Vec<Objective>), (status = 404, body = ErrorBody)))]
pub async fn review_objectives(
    session: Session,
    Id(id): Id,
) -> Result<Json<Vec<Objective>>, ApiError> {
    Ok(Json(
        session
            .company
            .review_objectives(session.principal, id)
            .await?,
    ))
}

/// The comments on an objective, oldest first, for whoever may see the objective.
#[utoipa::path(get, path = "/api/v1/objectives/{id}/comments", tag = "comments",
    params(("id" = String, Path, description = "The objective's id")),
    responses((status = 200, body = Vec<Comment>), (status = 404, body = ErrorBody)))]
pub async fn objective_comments(
    session: Session,
    Id(id): Id,
) -> Result<Json<Vec<Comment>>, ApiError> {
    Ok(Json(
        session
            .company
            .list_comments(session.principal, Commented::Objective(id))
            .await?,
    ))
}

/// Comments on an objective; whoever may see it may.
#[utoipa::path(post, path = "/api/v1/objectives/{id}/comments", tag = "comments",
    request_body = NewComment,
    params(("id" = String, Path, description = "The objective's id")),
    responses((status = 201, body = Comment), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn add_objective_comment(
    session: Session,
    Id(id): Id,
    ApiJson(new): ApiJson<NewComment>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    let comment = session
        .company
        .add_comment(
            session.principal,
            Commented::Objective(id),
            new,
            session.client,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

/// Deletes one's own comment on an objective.
#[utoipa::path(delete, path = "/api/v1/objectives/{id}/comments/{comment_id}",
    tag = "comments",
    params(("id" = String, Path, description = "The objective's id"),
           ("comment_id" = String, Path, description = "The comment's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_objective_comment(
    session: Session,
    Ids(id, comment_id): Ids,
) -> Result<StatusCode, ApiError> {
    session
        .company
        .delete_comment(
            session.principal,
            Commented::Objective(id),
            comment_id,
            session.client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The comments on a review, oldest first, for whoever may read the review: its
/// subject only once it is shared.
#[utoipa::path(get, path = "/api/v1/reviews/{id}/comments", tag = "comments",
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 200, body = Vec<Comment>), (status = 404, body = ErrorBody)))]
pub async fn review_comments(session: Session, Id(id): Id) -> Result<Json<Vec<Comment>>, ApiError> {
    Ok(Json(
        session
            .company
            .list_comments(session.principal, Commented::Review(id))
            .await?,
    ))
}

/// Comments on a review; whoever may read it may. Its live followers get a `comment`
/// event on `review:<id>`.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/comments", tag = "comments",
    request_body = NewComment,
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 201, body = Comment), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn add_review_comment(
    session: Session,
    Id(id): Id,
    ApiJson(new): ApiJson<NewComment>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    let comment = session
        .company
        .add_comment(
            session.principal,
            Commented::Review(id),
            new,
            session.client,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

/// Deletes one's own comment on a review.
#[utoipa::path(delete, path = "/api/v1/reviews/{id}/comments/{comment_id}", tag = "comments",
    params(("id" = String, Path, description = "The review's id"),
           ("comment_id" = String, Path, description = "The comment's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_review_comment(
    session: Session,
    Ids(id, comment_id): Ids,
) -> Result<StatusCode, ApiError> {
    session
        .company
        .delete_comment(
            session.principal,
            Commented::Review(id),
            comment_id,
            session.client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every objective of the company (archived ones too) as CSV, for HR admins who
/// reauthenticated in the last ten minutes; recorded in the audit trail first.
#[utoipa::path(get, path = "/api/v1/objectives.csv", tag = "exports",
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, description = "forbidden or reauthentication_required",
               body = ErrorBody)))]
pub async fn objectives_csv(session: Session) -> Result<Response, ApiError> {
    let Session {
        principal,
        company,
        client,
        ..
    } = session;
    company
        .begin_export(
            principal.clone(),
            Export::ObjectivesCsv,
            AuditFilter::default(),
            client,
        )
        .await?;
    let mut header = String::new();
    csv::record(&mut header, COLUMNS);

    let last_id: fn(&ExportedObjective) -> &str = |exported| exported.objective.id.as_str();
    let pages = id_pages(EXPORT_PAGE, last_id, move |after| {
        let (company, principal) = (company.clone(), principal.clone());
        async move {
            company
                .objective_export_page(principal, after, EXPORT_PAGE)
                .await
        }
    });
    let rows = pages.map(|page| page.map(|objectives| objectives_chunk(&objectives)));
    Ok(attachment(
        CSV,
        "kaizen-objectives.csv",
        streamed(header, rows),
    ))
}

/// The columns of the objectives export.
const COLUMNS: [&str; 16] = [
    "objective_id",
    "level",
    "owner_id",
    "owner_name",
    "owner_email",
    "parent_id",
    "title",
    "description",
    "status",
    "progress",
    "weight",
    "due_at",
    "archived",
    "created_at",
    "updated_at",
    "key_results",
];

/// One page of objectives as CSV lines. Key results share one field, one a line:
/// `title: progress%`, with `(current of target)` for measured ones.
fn objectives_chunk(objectives: &[ExportedObjective]) -> String {
    let mut out = String::new();
    for exported in objectives {
        let o = &exported.objective;
        let key_results: Vec<String> = o
            .key_results
            .iter()
            .map(|k| match (k.current, k.target) {
                (Some(current), Some(target)) => {
                    format!("{}: {}% ({current} of {target})", k.title, k.progress)
                }
                _ => format!("{}: {}%", k.title, k.progress),
            })
            .collect();
        csv::record(
            &mut out,
            [
                o.id.clone(),
                o.level.as_str().to_owned(),
                o.owner_id.clone(),
                o.owner_name.clone(),
                exported.owner_email.clone(),
                o.parent_id.clone().unwrap_or_default(),
                o.title.clone(),
                o.description.clone(),
                o.status.as_str().to_owned(),
                o.progress.to_string(),
                o.weight.map(|w| w.to_string()).unwrap_or_default(),
                o.due_at.clone().unwrap_or_default(),
                o.archived.to_string(),
                o.created_at.clone(),
                o.updated_at.clone(),
                key_results.join("\n"),
            ],
        );
    }
    out
}
