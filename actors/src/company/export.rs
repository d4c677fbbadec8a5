//! Exports for HR admins: the checks and the audit record every export starts with,
//! and the pages an export reads.
//!
//! An export is a start command (role, reauthentication, the audit event) followed by
//! page commands, so that the actor is held for one page at a time and never for a
//! whole export: the company's other commands go on between the pages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AuditFilter, Company, CompanyHandle};
use crate::error::ActorError;
use crate::model::{Answers, Client, Principal, Question, ReviewSummary};

/// The exports there are, each audited under its own action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// `GET /api/v1/admin/audit.csv`.
    AuditCsv,
    /// `GET /api/v1/admin/audit.xlsx`.
    AuditXlsx,
    /// `GET /api/v1/users.csv`.
    UsersCsv,
    /// `GET /api/v1/cycles/{id}/reviews.csv`.
    ReviewsCsv,
    /// `GET /api/v1/objectives.csv`.
    ObjectivesCsv,
}

impl Export {
    /// The action written to the audit trail; all start with `export_`.
    pub fn action(self) -> &'static str {
        match self {
            Export::AuditCsv => "export_audit_csv",
            Export::AuditXlsx => "export_audit_xlsx",
            Export::UsersCsv => "export_users_csv",
            Export::ReviewsCsv => "export_reviews_csv",
            Export::ObjectivesCsv => "export_objectives_csv",
        }
    }
}

/// One review of a cycle as the export shows it: who, where it stands, when, and the
/// answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExportedReview {
    /// Everything a review list shows.
    #[serde(flatten)]
    pub summary: ReviewSummary,
    /// When it was submitted, RFC 3339 UTC.
    pub submitted_at: Option<String>,
    /// Answers keyed by question id.
    pub answers: Answers,
    /// The weighted score of its objectives answer over the objectives linked into the
    /// cycle now, if the cycle has an objectives question and the answer rates any.
    pub objectives_score: Option<f64>,
    /// The ratings HR calibrated, by question id (empty when none were, and for a
    /// review kept from the exporter).
    pub calibrated: BTreeMap<String, i64>,
}

/// What a review export knows before its first page: the cycle and its questionnaire.
#[derive(Debug, Clone)]
pub struct ReviewExport {
    /// The cycle's name.
    pub cycle_name: String,
    /// The questionnaire, in order: one column per question.
    pub questions: Vec<Question>,
}

impl Company {
    /// Checks that `principal` may export at all: HR admins who gave their password
    /// again in the last ten minutes.
    pub(super) fn may_export(principal: &Principal) -> Result<(), ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        if !principal.is_elevated() {
            return Err(ActorError::ReauthenticationRequired);
        }
        Ok(())
    }

    async fn begin_export(
        &mut self,
        principal: Principal,
        export: Export,
        filter: AuditFilter,
        client: Client,
    ) -> Result<(), ActorError> {
        Self::may_export(&principal)?;
        let detail = match export {
            Export::AuditCsv | Export::AuditXlsx => {
                filter.check()?;
                serde_json::json!({ "from": filter.from, "to": filter.to,
                    "person": filter.person, "kind": filter.kind })
            }
            Export::UsersCsv | Export::ReviewsCsv | Export::ObjectivesCsv => {
                serde_json::json!({})
            }
        };
        let actor = Some(principal.user_id.as_str());
        self.audit(actor, export.action(), None, &client, detail)
            .await;
        Ok(())
    }

    async fn begin_review_export(
        &mut self,
        principal: Principal,
        cycle_id: String,
        client: Client,
    ) -> Result<ReviewExport, ActorError> {
        Self::may_export(&principal)?;
        let cycle: Option<(String, String)> =
            sqlx::query_as("SELECT company_id, name FROM cycles WHERE company_id = $1 AND id = $2")
                .bind(&self.id)
                .bind(&cycle_id)
                .fetch_optional(self.db.pool())
                .await?;
        let Some((_, cycle_name)) = cycle.filter(|(company, _)| *company == self.id) else {
            return Err(ActorError::NotFound);
        };
        let mut conn = self.db.pool().acquire().await?;
        let questions = self.load_questions(&mut conn, &cycle_id).await?;
        drop(conn);
        let action = Export::ReviewsCsv.action();
        let actor = Some(principal.user_id.as_str());
        self.audit(
            actor,
            action,
            Some(&cycle_id),
            &client,
            serde_json::json!({}),
        )
        .await;
        Ok(ReviewExport {
            cycle_name,
            questions,
        })
    }
}

impl CompanyHandle {
    /// Starts an export of the audit trail or the users: checks that the principal is an
    /// HR admin who reauthenticated lately (and, for the trail, the filter), and records
    /// the export in the trail. The caller then reads the pages.
    pub async fn begin_export(
        &self,
        principal: Principal,
        export: Export,
        filter: AuditFilter,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.begin_export(principal, export, filter, client)))
            .await
    }

    /// Starts the export of a cycle's reviews, like [`CompanyHandle::begin_export`];
    /// `NotFound` for a cycle that is not the company's.
    pub async fn begin_review_export(
        &self,
        principal: Principal,
        cycle_id: String,
        client: Client,
    ) -> Result<ReviewExport, ActorError> {
        self.call(move |c| Box::pin(c.begin_review_export(principal, cycle_id, client)))
            .await
    }

    /// One page of a cycle's reviews for an export already begun: up to `limit` reviews
    /// whose ids sort after `after` (`""` for the first page).
    pub async fn review_export_page(
        &self,
        principal: Principal,
        cycle_id: String,
        after: String,
        limit: i64,
    ) -> Result<Vec<ExportedReview>, ActorError> {
        self.call(move |c| {
            Box::pin(async move {
                if !principal.roles.hr_admin {
                    return Err(ActorError::Forbidden);
                }
                c.review_export_page(&principal.user_id, &cycle_id, &after, limit)
                    .await
            })
        })
        .await
    }
}
