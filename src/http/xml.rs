//! The XML export of a whole company or of one cycle, decrypted content included: HR
//! admins who reauthenticated lately, in a company whose operator switched XML export
//! on. The export is recorded in the audit trail before the first byte is sent.
//!
//! A producer task reads the sections from the company's actor a page at a time and
//! renders each page into the response through a small bounded channel: memory stays
//! a few pages however large the company, and a slow client holds back the producer
//! instead of letting rendered pages pile up.

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures_util::stream;
use kaizen_actors::CompanyHandle;
use kaizen_actors::company::xml::{SECTIONS, XmlExport, XmlScope};
use kaizen_actors::model::{Principal, rfc3339};
use tokio::sync::mpsc;

use super::error::{ApiError, ErrorBody};
use super::export::{attachment, export_name};
use super::extract::{Id, Session};
use crate::export::xml;

/// The content type of the export.
const XML: &str = "application/xml; charset=utf-8";

/// Rows read from the company's actor at a time.
const PAGE: i64 = 200;

/// Rendered pages that may wait for a slow client.
const QUEUED_PAGES: usize = 2;

/// The whole company as XML: its people, cycles with their questionnaires and phases,
/// reviews with their answers and calibrations, objectives, comments and 360 feedback
/// (written content decrypted; anonymous answers without their authors). The format is
/// described in the README.
#[utoipa::path(get, path = "/api/v1/admin/export.xml", tag = "exports",
    responses((status = 200, content_type = "application/xml", body = String),
              (status = 403, description = "forbidden, reauthentication_required or \
               xml_export_disabled", body = ErrorBody)))]
pub async fn company_xml(session: Session) -> Result<Response, ApiError> {
    export(session, XmlScope::Company).await
}

/// One cycle as XML: the company's people (whom its rows name), the cycle with its
/// questionnaire, its reviews with their answers (decrypted), calibrations and comments,
/// the objectives linked to it and its 360 feedback. Another company's
/// cycle answers 404 like a made-up one.
#[utoipa::path(get, path = "/api/v1/cycles/{id}/export.xml", tag = "exports",
    params(("id" = String, Path, description = "The cycle's id")),
    responses((status = 200, content_type = "application/xml", body = String),
              (status = 403, description = "forbidden, reauthentication_required or \
               xml_export_disabled", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn cycle_xml(session: Session, Id(cycle_id): Id) -> Result<Response, ApiError> {
    export(session, XmlScope::Cycle(cycle_id)).await
}

async fn export(session: Session, scope: XmlScope) -> Result<Response, ApiError> {
    let Session {
        principal,
        company,
        client,
        ..
    } = session;
    let export = company
        .begin_xml_export(principal.clone(), scope.clone(), client)
        .await?;
    let filename = match &export.cycle_name {
        Some(cycle) => format!("kaizen-{}-{}.xml", export.slug, export_name(cycle)),
        None => format!("kaizen-{}.xml", export.slug),
    };
    let body = body(company, principal, export, scope);
    Ok(attachment(XML, &filename, body))
}

/// The streamed document. A failure after the first bytes ends the response early: the
/// client gets a cut-off file (no closing root tag), never a silently short one.
pub fn body(
    company: CompanyHandle,
    principal: Principal,
    export: XmlExport,
    scope: XmlScope,
) -> Body {
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(QUEUED_PAGES);
    tokio::spawn(async move {
        let now = rfc3339(kaizen_actors::db::now_ms());
        let send = |chunk: String| sender.send(Ok(Bytes::from(chunk)));
        if send(xml::prologue(&export, &scope, &now)).await.is_err() {
            return;
        }
        for section in SECTIONS {
            if send(format!("  <{}>\n", section.name())).await.is_err() {
                return;
            }
            let mut after = String::new();
            loop {
                let page = company
                    .xml_page(principal.clone(), *section, scope.clone(), after, PAGE)
                    .await;
                let rows = match page {
                    Ok(rows) => rows,
                    Err(error) => {
                        tracing::error!(%error, "an XML export failed after it started");
                        let failed = std::io::Error::other("the export failed");
                        let _ = sender.send(Err(failed)).await;
                        return;
                    }
                };
                let full = i64::try_from(rows.len()).is_ok_and(|n| n == PAGE);
                after = rows.last().map(|(id, _)| id.clone()).unwrap_or_default();
                let mut chunk = String::new();
                for (_, node) in &rows {
                    xml::render(node, 2, &mut chunk);
                }
                drop(rows);
                if !chunk.is_empty() && send(chunk).await.is_err() {
                    return;
                }
                if !full {
                    break;
                }
            }
            if send(format!("  </{}>\n", section.name())).await.is_err() {
                return;
            }
        }
        let _ = send(xml::epilogue()).await;
    });
    let chunks = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Body::from_stream(chunks)
}
