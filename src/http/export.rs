//! CSV exports for HR admins: the company's users and a cycle's reviews. Both need a
//! reauthentication in the last ten minutes and are recorded in the audit trail before
//! the first byte is sent.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt, stream};
use kaizen_actors::ActorError;
use kaizen_actors::company::{AuditFilter, Export, ExportedReview};
use kaizen_actors::model::{Answer, Question, QuestionKind, ReviewKind, UserRole, UserView};

use super::error::{ApiError, ErrorBody};
use super::extract::{Id, Session};
use crate::export::csv;

/// Reviews read from the company's actor at a time; answers can be long.
const REVIEW_PAGE: i64 = 200;

/// The content type of every CSV export.
pub(super) const CSV: &str = "text/csv; charset=utf-8";

/// A response that downloads as `filename`.
pub(super) fn attachment(content_type: &'static str, filename: &str, body: Body) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    let headers = [
        (header::CONTENT_TYPE, content_type.to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    (headers, body).into_response()
}

/// A streamed body: `first`, then each chunk of `rest`. A failure after the first bytes
/// can no longer change the status, so it ends the response early; the client sees a
/// cut-off download, never a silently short file.
pub(super) fn streamed<S>(first: String, rest: S) -> Body
where
    S: Stream<Item = Result<String, ActorError>> + Send + 'static,
{
    let first = stream::once(async move { Ok(Bytes::from(first)) });
    let rest = rest.map(|chunk| {
        chunk.map(Bytes::from).map_err(|error| {
            tracing::error!(%error, "an export failed after it started");
            std::io::Error::other("the export failed")
        })
    });
    Body::from_stream(first.chain(rest))
}

/// Reads an export page by page in id order: `fetch(after)` answers up to `size` rows
/// whose ids follow `after` (`""` before the first page). A full page's last id is
/// where the next page starts; a shorter page, or an error, is the last.
pub(super) fn id_pages<T, F, Fut>(
    size: i64,
    last_id: fn(&T) -> &str,
    fetch: F,
) -> impl Stream<Item = Result<Vec<T>, ActorError>> + Send + 'static
where
    T: Send + 'static,
    F: Fn(String) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<T>, ActorError>> + Send,
{
    stream::unfold(
        (Some(String::new()), fetch),
        move |(after, fetch)| async move {
            let page = fetch(after?).await;
            let next = match &page {
                Ok(rows) if i64::try_from(rows.len()).is_ok_and(|n| n == size) => {
                    rows.last().map(|row| last_id(row).to_owned())
                }
                _ => None,
            };
            Some((page, (next, fetch)))
        },
    )
}

/// Every user of the company as CSV: id, email, name, role, manager, account state.
#[utoipa::path(get, path = "/api/v1/users.csv", tag = "exports",
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, description = "forbidden or reauthentication_required",
               body = ErrorBody)))]
pub async fn users_csv(session: Session) -> Result<Response, ApiError> {
    let Session {
        principal,
        company,
        client,
        ..
    } = session;
    company
        .begin_export(
            principal.clone(),
            Export::UsersCsv,
            AuditFilter::default(),
            client,
        )
        .await?;
    let users = company.list_users(principal).await?;
    Ok(attachment(
        CSV,
        "kaizen-users.csv",
        Body::from(users_table(&users)),
    ))
}

/// The users as CSV text, header first.
fn users_table(users: &[UserView]) -> String {
    let email_of = |id: &str| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.email.as_str())
            .unwrap_or("")
    };
    let mut out = String::new();
    let header = [
        "id",
        "email",
        "name",
        "role",
        "manager_id",
        "manager_email",
        "disabled",
    ];
    csv::record(&mut out, header);
    for user in users {
        let manager = user.manager_id.as_deref().unwrap_or("");
        let role = match user.role {
            UserRole::HrAdmin => "hr_admin",
            UserRole::HrAssistant => "hr_assistant",
            UserRole::Employee => "employee",
        };
        let disabled = if user.disabled { "true" } else { "false" };
        csv::record(
            &mut out,
            [
                user.id.as_str(),
                &user.email,
                &user.name,
                role,
                manager,
                email_of(manager),
                disabled,
            ],
        );
    }
    out
}

/// A cycle's reviews as CSV: one line per review with its people, kind, status, dates,
/// one column per question holding the answer (ratings as numbers), then one column per
/// rating question with the rating HR calibrated, if any.
#[utoipa::path(get, path = "/api/v1/cycles/{id}/reviews.csv", tag = "exports",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, description = "forbidden or reauthentication_required",
               body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn reviews_csv(session: Session, Id(cycle_id): Id) -> Result<Response, ApiError> {
    let Session {
        principal,
        company,
        client,
        ..
    } = session;
    let export = company
        .begin_review_export(principal.clone(), cycle_id.clone(), client)
        .await?;

    let mut header = String::new();
    let mut columns: Vec<String> = [
        "review_id",
        "reviewee_id",
        "reviewee_name",
        "reviewer_id",
        "reviewer_name",
        "kind",
        "status",
        "updated_at",
        "submitted_at",
    ]
    .map(str::to_owned)
    .to_vec();
    columns.extend(export.questions.iter().map(|q| q.prompt.clone()));
    // The calibrated rating beside the manager's, one column per rating question.
    columns
        .extend(rating_questions(&export.questions).map(|q| format!("{} (calibrated)", q.prompt)));
    csv::record(&mut header, &columns);

    let questions = export.questions;
    let last_id: fn(&ExportedReview) -> &str = |review| review.summary.id.as_str();
    let pages = id_pages(REVIEW_PAGE, last_id, move |after| {
        let (company, principal, cycle_id) = (company.clone(), principal.clone(), cycle_id.clone());
        async move {
            company
                .review_export_page(principal, cycle_id, after, REVIEW_PAGE)
                .await
        }
    });
    let rows = pages.map(move |page| page.map(|reviews| reviews_chunk(&reviews, &questions)));
    let filename = format!("kaizen-reviews-{}.csv", export_name(&export.cycle_name));
    Ok(attachment(CSV, &filename, streamed(header, rows)))
}

/// One page of reviews as CSV lines.
fn reviews_chunk(reviews: &[ExportedReview], questions: &[Question]) -> String {
    let mut out = String::new();
    for review in reviews {
        let s = &review.summary;
        let mut fields = vec![
            s.id.clone(),
            s.reviewee_id.clone(),
            s.reviewee_name.clone(),
            s.reviewer_id.clone(),
            s.reviewer_name.clone(),
            match s.kind {
                ReviewKind::SelfReview => "self",
                ReviewKind::Manager => "manager",
            }
            .to_owned(),
            s.status.as_str().to_owned(),
            s.updated_at.clone(),
            review.submitted_at.clone().unwrap_or_default(),
        ];
        // An objectives question's column holds the weighted score; the ratings and
        // comments per objective travel in the XML export.
        fields.extend(questions.iter().map(|q| {
            match review.answers.get(&q.id) {
                Some(Answer::Text(text)) => text.clone(),
                Some(Answer::Rating(rating)) => rating.to_string(),
                Some(Answer::Objectives(_)) => review
                    .objectives_score
                    .map(|score| format!("{score:.2}"))
                    .unwrap_or_default(),
                None => String::new(),
            }
        }));
        fields.extend(rating_questions(questions).map(|q| {
            review
                .calibrated
                .get(&q.id)
                .map(i64::to_string)
                .unwrap_or_default()
        }));
        csv::record(&mut out, &fields);
    }
    out
}

/// The rating questions of a questionnaire, in order: the ones HR may calibrate.
fn rating_questions(questions: &[Question]) -> impl Iterator<Item = &Question> {
    questions.iter().filter(|q| q.kind == QuestionKind::Rating)
}

/// A name made safe for a file name: letters and digits kept, runs of anything else
/// turned into one `-`, at most 60 characters.
pub(super) fn export_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(60).collect();
    if trimmed.is_empty() {
        "cycle".to_owned()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::{export_name, id_pages};

    /// The page sizes `id_pages` reads from `rows` ids, two at a time.
    async fn page_sizes(rows: usize) -> Vec<usize> {
        let ids: Vec<String> = (0..rows).map(|n| format!("{n:03}")).collect();
        let last_id: fn(&String) -> &str = String::as_str;
        let pages = id_pages(2, last_id, move |after| {
            let page: Vec<String> = ids
                .iter()
                .filter(|id| **id > after)
                .take(2)
                .cloned()
                .collect();
            async move { Ok(page) }
        });
        pages
            .map(|page| page.map(|p| p.len()).unwrap_or(0))
            .collect()
            .await
    }

    #[tokio::test]
    async fn pages_follow_the_last_id_until_a_short_page() {
        assert_eq!(page_sizes(5).await, [2, 2, 1]);
        assert_eq!(page_sizes(4).await, [2, 2, 0]);
        assert_eq!(page_sizes(0).await, [0]);
    }

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(export_name("2026 Annual Review"), "2026-annual-review");
        assert_eq!(export_name("a\"; rm -rf /\r\nb"), "a-rm-rf-b");
        assert_eq!(export_name("日本"), "cycle");
    }
}
