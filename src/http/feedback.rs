//! 360 feedback: settings, nominations, writing, results and the CSV export. The rules,
//! anonymity above all, live in the company actor (`kaizen_actors::company::feedback`).

use axum::Json;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use kaizen_actors::company::feedback::{
    Candidate, FeedbackExportLine, FeedbackRequest, FeedbackRequestDetail, FeedbackResults,
    FeedbackSaved, FeedbackSettings, FeedbackSettingsUpdate, NewNominations, Nomination,
    SubjectOverview,
};
use kaizen_actors::model::DraftUpdate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use super::export::{CSV, attachment};
use super::extract::{ApiJson, ApiQuery, Id, Session};
use crate::export::csv;

/// The cycles whose feedback is set up, newest first, with their settings: every one
/// for HR admins and assistants; for everyone else those they take part in (reviewed or
/// reviewing there, or nominated to give or receive feedback).
#[utoipa::path(get, path = "/api/v1/feedback/cycles", tag = "feedback",
    responses((status = 200, body = Vec<FeedbackSettings>), (status = 401, body = ErrorBody)))]
pub async fn cycles(session: Session) -> Result<Json<Vec<FeedbackSettings>>, ApiError> {
    let list = session.company.list_feedback_cycles(session.principal);
    Ok(Json(list.await?))
}

/// A cycle's feedback settings and questionnaire; every signed-in user of the company
/// may read them (nominators need the rules, reviewers the questions).
#[utoipa::path(get, path = "/api/v1/cycles/{id}/feedback", tag = "feedback",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = FeedbackSettings), (status = 404, body = ErrorBody)))]
pub async fn settings(session: Session, Id(id): Id) -> Result<Json<FeedbackSettings>, ApiError> {
    Ok(Json(session.company.feedback_settings(id).await?))
}

/// Sets a cycle's feedback: enabled, who nominates, how many reviewers, anonymous or
/// named (fixed once someone is nominated), and the questions (fixed once someone
/// started writing). HR admins only; 409 once the feedback is closed.
#[utoipa::path(put, path = "/api/v1/cycles/{id}/feedback", tag = "feedback",
    request_body = FeedbackSettingsUpdate,
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = FeedbackSettings), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn set_settings(
    session: Session,
    Id(id): Id,
    ApiJson(update): ApiJson<FeedbackSettingsUpdate>,
) -> Result<Json<FeedbackSettings>, ApiError> {
    let settings =
        session
            .company
            .set_feedback_settings(session.principal, id, update, session.client);
    Ok(Json(settings.await?))
}

/// Closes a cycle's feedback for good: no more submissions; results are released.
/// HR admins only.
#[utoipa::path(post, path = "/api/v1/cycles/{id}/feedback/close", tag = "feedback",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = FeedbackSettings), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn close(session: Session, Id(id): Id) -> Result<Json<FeedbackSettings>, ApiError> {
    let settings = session
        .company
        .close_feedback(session.principal, id, session.client);
    Ok(Json(settings.await?))
}

/// Per subject: nominations by decision and submitted answers. HR admins only; the
/// count of anonymous answers about the caller or people they manage is `null`.
#[utoipa::path(get, path = "/api/v1/cycles/{id}/feedback/overview", tag = "feedback",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = Vec<SubjectOverview>), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn overview(
    session: Session,
    Id(id): Id,
) -> Result<Json<Vec<SubjectOverview>>, ApiError> {
    let overview = session.company.feedback_overview(session.principal, id);
    Ok(Json(overview.await?))
}

/// The active people of the company, by name, to choose reviewers from. Any signed-in
/// user of the company.
#[utoipa::path(get, path = "/api/v1/cycles/{id}/feedback/candidates", tag = "feedback",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, body = Vec<Candidate>), (status = 404, body = ErrorBody)))]
pub async fn candidates(session: Session, Id(id): Id) -> Result<Json<Vec<Candidate>>, ApiError> {
    Ok(Json(session.company.feedback_candidates(id).await?))
}

/// Which nominations to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NominationFilter {
    /// Only the nominations about this person.
    #[serde(default)]
    pub subject_id: Option<String>,
}

/// The nominations of a cycle the caller may see: all for HR admins, otherwise those
/// about the caller and the people they manage.
#[utoipa::path(get, path = "/api/v1/cycles/{id}/nominations", tag = "feedback",
    params(("id" = String, Path, description = "The cycle's id"), NominationFilter),
    responses((status = 200, body = Vec<Nomination>), (status = 404, body = ErrorBody)))]
pub async fn nominations(
    session: Session,
    Id(id): Id,
    ApiQuery(filter): ApiQuery<NominationFilter>,
) -> Result<Json<Vec<Nomination>>, ApiError> {
    let list = session
        .company
        .list_nominations(session.principal, id, filter.subject_id);
    Ok(Json(list.await?))
}

/// Nominates reviewers for a subject: the subject, their manager or HR, as the cycle's
/// settings say (HR admins always). The subject's reviewers (nominations not rejected)
/// must number from `min` to `max` afterwards. Nominations by the subject wait for the
/// manager's approval; the others are approved at once and the reviewers emailed.
#[utoipa::path(post, path = "/api/v1/cycles/{id}/nominations", tag = "feedback",
    request_body = NewNominations,
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 201, body = Vec<Nomination>), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn nominate(
    session: Session,
    Id(id): Id,
    ApiJson(new): ApiJson<NewNominations>,
) -> Result<(StatusCode, Json<Vec<Nomination>>), ApiError> {
    let created = session
        .company
        .nominate(session.principal, id, new, session.client)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Approves a pending nomination and emails the reviewer: the subject's managers and
/// HR admins. The subject gets 403; anyone who may not see it 404.
#[utoipa::path(post, path = "/api/v1/nominations/{id}/approve", tag = "feedback",
    params(("id" = String, Path, description = "The nomination's id")),
    responses((status = 200, body = Nomination), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve(session: Session, Id(id): Id) -> Result<Json<Nomination>, ApiError> {
    let decided = session
        .company
        .decide_nomination(session.principal, id, true, session.client);
    Ok(Json(decided.await?))
}

/// Rejects a pending nomination; the reviewer never hears of it. Same callers as
/// approving.
#[utoipa::path(post, path = "/api/v1/nominations/{id}/reject", tag = "feedback",
    params(("id" = String, Path, description = "The nomination's id")),
    responses((status = 200, body = Nomination), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject(session: Session, Id(id): Id) -> Result<Json<Nomination>, ApiError> {
    let decided = session
        .company
        .decide_nomination(session.principal, id, false, session.client);
    Ok(Json(decided.await?))
}

/// The feedback the caller is asked to give.
#[utoipa::path(get, path = "/api/v1/feedback/requests", tag = "feedback",
    responses((status = 200, body = Vec<FeedbackRequest>), (status = 401, body = ErrorBody)))]
pub async fn requests(session: Session) -> Result<Json<Vec<FeedbackRequest>>, ApiError> {
    let list = session.company.list_feedback_requests(session.principal);
    Ok(Json(list.await?))
}

/// One of the caller's feedback requests with its questions and the caller's answers.
/// Anyone else's request answers 404.
#[utoipa::path(get, path = "/api/v1/feedback/requests/{id}", tag = "feedback",
    params(("id" = String, Path, description = "The request's id")),
    responses((status = 200, body = FeedbackRequestDetail), (status = 404, body = ErrorBody)))]
pub async fn request(
    session: Session,
    Id(id): Id,
) -> Result<Json<FeedbackRequestDetail>, ApiError> {
    let detail = session.company.get_feedback_request(session.principal, id);
    Ok(Json(detail.await?))
}

/// Saves a draft: the given answers replace those of the same questions (`null` clears
/// one); `version` must be the current one, else 409.
#[utoipa::path(patch, path = "/api/v1/feedback/requests/{id}", tag = "feedback",
    request_body = DraftUpdate,
    params(("id" = String, Path, description = "The request's id")),
    responses((status = 200, body = FeedbackSaved), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn save_draft(
    session: Session,
    Id(id): Id,
    ApiJson(update): ApiJson<DraftUpdate>,
) -> Result<Json<FeedbackSaved>, ApiError> {
    let saved = session
        .company
        .save_feedback_draft(session.principal, id, update, session.client);
    Ok(Json(saved.await?))
}

/// Submits the feedback once every question is answered. Anonymous answers are then
/// stored without their author: not even the caller can read them back.
#[utoipa::path(post, path = "/api/v1/feedback/requests/{id}/submit", tag = "feedback",
    params(("id" = String, Path, description = "The request's id")),
    responses((status = 200, body = FeedbackRequestDetail), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn submit(session: Session, Id(id): Id) -> Result<Json<FeedbackRequestDetail>, ApiError> {
    let submitted = session
        .company
        .submit_feedback(session.principal, id, session.client);
    Ok(Json(submitted.await?))
}

/// Whose results to show.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// The cycle.
    pub cycle_id: String,
    /// Who the feedback is about.
    pub subject_id: String,
}

/// The feedback about a subject in a cycle, for the subject, their managers and HR
/// admins (anyone else 404). Released once HR closed the cycle's feedback, and for
/// anonymous feedback only with at least two answers; anonymous answers come per
/// question, texts sorted alphabetically, ratings counted.
#[utoipa::path(get, path = "/api/v1/feedback/results", tag = "feedback", params(ResultsQuery),
    responses((status = 200, body = FeedbackResults), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn results(
    session: Session,
    ApiQuery(query): ApiQuery<ResultsQuery>,
) -> Result<Json<FeedbackResults>, ApiError> {
    let results =
        session
            .company
            .feedback_results(session.principal, query.cycle_id, query.subject_id);
    Ok(Json(results.await?))
}

/// Every cycle's submitted feedback as CSV, one answer to one question a line. Named
/// feedback carries its author; anonymous feedback only once released, never with an
/// author, in the order of the answers' text. HR admins, reauthenticated; audited.
#[utoipa::path(get, path = "/api/v1/feedback.csv", tag = "exports",
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, description = "forbidden or reauthentication_required",
               body = ErrorBody)))]
pub async fn feedback_csv(session: Session) -> Result<Response, ApiError> {
    let Session {
        principal,
        company,
        client,
        ..
    } = session;
    company
        .begin_feedback_export(principal.clone(), client)
        .await?;
    let lines = company.feedback_export(principal).await?;
    Ok(attachment(
        CSV,
        "kaizen-feedback.csv",
        Body::from(feedback_table(&lines)),
    ))
}

/// The feedback lines as CSV text, header first.
fn feedback_table(lines: &[FeedbackExportLine]) -> String {
    let mut out = String::new();
    csv::record(
        &mut out,
        [
            "cycle_id",
            "cycle_name",
            "subject_id",
            "subject_name",
            "anonymous",
            "author_id",
            "author_name",
            "submitted_at",
            "question",
            "answer",
        ],
    );
    for line in lines {
        csv::record(
            &mut out,
            [
                line.cycle_id.as_str(),
                &line.cycle_name,
                &line.subject_id,
                &line.subject_name,
                if line.anonymous { "true" } else { "false" },
                line.author_id.as_deref().unwrap_or(""),
                line.author_name.as_deref().unwrap_or(""),
                line.submitted_at.as_deref().unwrap_or(""),
                &line.question,
                &line.answer,
            ],
        );
    }
    out
}
