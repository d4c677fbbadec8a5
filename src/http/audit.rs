//! The audit trail for HR admins: browse it with filters and pages, or export it as CSV
//! or as an Excel workbook.
//!
//! Exports read the trail from the company's actor one page at a time, so the actor is
//! never held for a whole export and memory stays bounded however long the trail is.

use std::pin::pin;

use axum::Json;
use axum::body::Body;
use axum::response::Response;
use futures_util::{Stream, StreamExt, stream};
use kaizen_actors::company::{AuditEntry, AuditFilter, AuditPage, Export, MAX_PAGE};
use kaizen_actors::model::Principal;
use kaizen_actors::{ActorError, CompanyHandle};
use tokio::sync::mpsc;
use tokio_util::io::ReaderStream;

use super::error::{ApiError, ErrorBody};
use super::export::{CSV, attachment, streamed};
use super::extract::{ApiQuery, Session};
use crate::export::{csv, xlsx};

/// The content type of Excel workbooks.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The columns of both exports.
const COLUMNS: [&str; 11] = [
    "time",
    "actor_id",
    "actor_name",
    "actor_email",
    "action",
    "target_id",
    "target_name",
    "target_email",
    "ip",
    "user_agent",
    "detail",
];

/// The company's audit trail, newest first: sign-ins and their failures, sign-outs,
/// edits, role grants, emails, exports, settings and security events. Filters: `from`
/// and `to` (RFC 3339), `person` (a user id, who acted or was acted on), `kind` (an
/// action or its start); pages of `limit` entries (up to 500) continue with `before`
/// set to the previous page's `next`. HR admins only.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditFilter),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn audit(
    session: Session,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> Result<Json<AuditPage>, ApiError> {
    let page = session.company.audit_page(session.principal, filter);
    Ok(Json(page.await?))
}

/// The audit trail as CSV (RFC 4180, UTF-8), with the same filters as
/// `GET /api/v1/admin/audit` but every page. Needs a reauthentication; the export is
/// itself audited.
#[utoipa::path(get, path = "/api/v1/admin/audit.csv", tag = "exports", params(AuditFilter),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, description = "forbidden or reauthentication_required",
               body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn audit_csv(
    session: Session,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> Result<Response, ApiError> {
    let Session {
        principal,
        company,
        client,
        ..
    } = session;
    company
        .begin_export(principal.clone(), Export::AuditCsv, filter.clone(), client)
        .await?;
    let mut header = String::new();
    csv::record(&mut header, COLUMNS);
    let chunks = pages(company, principal, filter).map(|page| {
        page.map(|entries| {
            let mut out = String::new();
            for entry in &entries {
                csv::record(&mut out, row(entry));
            }
            out
        })
    });
    Ok(attachment(
        CSV,
        "kaizen-audit.csv",
        streamed(header, chunks),
    ))
}

/// The audit trail as an Excel workbook with one sheet, "Audit log", with the same
/// filters and rules as the CSV export.
#[utoipa::path(get, path = "/api/v1/admin/audit.xlsx", tag = "exports", params(AuditFilter),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               body = Vec<u8>),
              (status = 403, description = "forbidden or reauthentication_required",
               body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn audit_xlsx(
    session: Session,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> Result<Response, ApiError> {
    let Session {
        principal,
        company,
        client,
        ..
    } = session;
    company
        .begin_export(principal.clone(), Export::AuditXlsx, filter.clone(), client)
        .await?;

    // The workbook is written on a blocking thread while pages are read here; the small
    // channel between them keeps at most a couple of pages in memory.
    let (sender, receiver) = mpsc::channel(2);
    let rendering =
        tokio::task::spawn_blocking(move || xlsx::render("Audit log", &COLUMNS, receiver));
    let mut pages = pin!(pages(company, principal, filter));
    while let Some(page) = pages.next().await {
        let rows = page?.iter().map(|entry| row(entry).to_vec()).collect();
        if sender.send(rows).await.is_err() {
            break;
        }
    }
    drop(sender);

    let file = rendering
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|error| {
            tracing::error!(%error, "the workbook could not be written");
            ApiError::Internal
        })?;
    let body = Body::from_stream(ReaderStream::new(tokio::fs::File::from_std(file)));
    Ok(attachment(XLSX, "kaizen-audit.xlsx", body))
}

/// Every page of the trail that `filter` selects, read from the actor one at a time.
fn pages(
    company: CompanyHandle,
    principal: Principal,
    filter: AuditFilter,
) -> impl Stream<Item = Result<Vec<AuditEntry>, ActorError>> + Send + 'static {
    stream::unfold(Some(filter.before.clone()), move |before| {
        let (company, principal) = (company.clone(), principal.clone());
        let page = AuditFilter {
            before: before.clone().flatten(),
            limit: Some(MAX_PAGE),
            ..filter.clone()
        };
        async move {
            before.as_ref()?;
            Some(match company.audit_page(principal, page).await {
                Ok(page) => (Ok(page.entries), page.next.map(Some)),
                Err(error) => (Err(error), None),
            })
        }
    })
}

/// One entry as the exports' row, in the order of [`COLUMNS`].
fn row(entry: &AuditEntry) -> [String; 11] {
    let person = |p: &Option<kaizen_actors::company::AuditPerson>| match p {
        Some(p) => (
            p.id.clone(),
            p.name.clone().unwrap_or_default(),
            p.email.clone().unwrap_or_default(),
        ),
        None => Default::default(),
    };
    let (actor_id, actor_name, actor_email) = person(&entry.actor);
    let (target_id, target_name, target_email) = person(&entry.target);
    [
        entry.at.clone(),
        actor_id,
        actor_name,
        actor_email,
        entry.action.clone(),
        target_id,
        target_name,
        target_email,
        entry.ip.clone(),
        entry.user_agent.clone(),
        entry.detail.to_string(),
    ]
}
