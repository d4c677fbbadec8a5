//! A cycle's feedback settings, closing the feedback, and HR's overview in numbers.

use super::{
    Candidate, Company, FeedbackSettings, FeedbackSettingsUpdate, MAX_QUESTIONS, MAX_REVIEWERS,
    Setup, SubjectOverview, default_questions,
};
use crate::company::CompanyHandle;
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, Principal, QuestionKind};

#[derive(sqlx::FromRow)]
struct OverviewRow {
    company_id: String,
    subject_company_id: String,
    subject_id: String,
    subject_name: String,
    approval: String,
    n: i64,
}

impl Owned for OverviewRow {
    const TABLE: &'static str = "feedback_requests";
    fn row_id(&self) -> &str {
        &self.subject_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.subject_company_id]
    }
}

#[derive(sqlx::FromRow)]
struct AnswerCountRow {
    company_id: String,
    subject_id: String,
    n: i64,
}

impl Owned for AnswerCountRow {
    const TABLE: &'static str = "feedback_answers";
    fn row_id(&self) -> &str {
        &self.subject_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// Checks an update's numbers and questions.
fn validate(update: &FeedbackSettingsUpdate) -> Result<(), ActorError> {
    if !(1..=MAX_REVIEWERS).contains(&update.min)
        || !(update.min..=MAX_REVIEWERS).contains(&update.max)
    {
        return Err(ActorError::Validation(format!(
            "min and max must satisfy 1 <= min <= max <= {MAX_REVIEWERS}"
        )));
    }
    if let Some(questions) = &update.questions {
        if questions.is_empty() || questions.len() > MAX_QUESTIONS {
            return Err(ActorError::Validation(format!(
                "feedback needs 1 to {MAX_QUESTIONS} questions"
            )));
        }
        for (n, question) in questions.iter().enumerate() {
            let length = question.prompt.trim().chars().count();
            if length == 0 || length > 1000 {
                return Err(ActorError::Validation(format!(
                    "question {} must have 1 to 1000 characters",
                    n + 1
                )));
            }
            // Objectives are rated in the reviews of a cycle, not in feedback about it.
            if question.kind == QuestionKind::Objectives {
                return Err(ActorError::Validation(format!(
                    "question {} must be a text or rating question",
                    n + 1
                )));
            }
        }
    }
    Ok(())
}

impl Company {
    async fn get_feedback_settings(
        &mut self,
        cycle_id: String,
    ) -> Result<FeedbackSettings, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let setup = self.feedback_setup(&mut conn, &cycle_id).await?;
        let questions = self.feedback_questions(&mut conn, &cycle_id).await?;
        Ok(settings_view(cycle_id, &setup, questions))
    }

    async fn set_feedback_settings(
        &mut self,
        principal: Principal,
        cycle_id: String,
        update: FeedbackSettingsUpdate,
        client: Client,
    ) -> Result<FeedbackSettings, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let mut tx = self.db.begin_write().await?;
        let setup = self.feedback_setup(&mut tx, &cycle_id).await?;
        validate(&update)?;
        if setup.cycle_closed {
            return Err(ActorError::Conflict(
                "the cycle is closed and can no longer change".into(),
            ));
        }
        if setup.closed {
            return Err(ActorError::Conflict(
                "this cycle's feedback is closed and can no longer change".into(),
            ));
        }

        // What reviewers were promised stays: anonymity and the questionnaire are fixed
        // by the first nomination. Neither rule looks at whether anyone started writing,
        // so the answer never tells when a reviewer saved their first draft.
        let (nominations,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM feedback_requests WHERE company_id = $1 AND cycle_id = $2",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .fetch_one(&mut *tx)
        .await?;
        if setup.stored && nominations > 0 && setup.anonymous != update.anonymous {
            return Err(ActorError::Conflict(
                "anonymity cannot change once reviewers are nominated".into(),
            ));
        }
        // The questionnaire sent again unchanged is no change: it is kept as it is.
        let current: Vec<(QuestionKind, String)> = if setup.stored {
            self.feedback_questions(&mut tx, &cycle_id)
                .await?
                .into_iter()
                .map(|q| (q.kind, q.prompt))
                .collect()
        } else {
            Vec::new()
        };
        let given: Option<Vec<(QuestionKind, String)>> = update.questions.as_ref().map(|given| {
            given
                .iter()
                .map(|q| (q.kind, q.prompt.trim().to_owned()))
                .collect()
        });
        let given = given.filter(|given| !setup.stored || *given != current);
        if given.is_some() && nominations > 0 {
            return Err(ActorError::Conflict(
                "the questions cannot change once reviewers are nominated".into(),
            ));
        }

        let now = now_ms();
        let enabled = i64::from(update.enabled);
        let anonymous = i64::from(update.anonymous);
        let nominated_by = update.nominated_by.as_str();
        if setup.stored {
            sqlx::query(
                "UPDATE feedback_settings SET enabled = $3, nominated_by = $4, \
                 min_reviewers = $5, max_reviewers = $6, anonymous = $7, updated_at = $8 \
                 WHERE company_id = $1 AND cycle_id = $2",
            )
            .bind(&self.id)
            .bind(&cycle_id)
            .bind(enabled)
            .bind(nominated_by)
            .bind(update.min)
            .bind(update.max)
            .bind(anonymous)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO feedback_settings (company_id, cycle_id, enabled, nominated_by, \
                 min_reviewers, max_reviewers, anonymous, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&self.id)
            .bind(&cycle_id)
            .bind(enabled)
            .bind(nominated_by)
            .bind(update.min)
            .bind(update.max)
            .bind(anonymous)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }

        // The questionnaire: the one given, or the default for a new setup.
        let questions: Option<Vec<(QuestionKind, String)>> = match given {
            Some(given) => Some(given),
            None if !setup.stored => Some(
                default_questions()
                    .into_iter()
                    .map(|(kind, prompt)| (kind, prompt.to_owned()))
                    .collect(),
            ),
            None => None,
        };
        if let Some(questions) = &questions {
            sqlx::query("DELETE FROM feedback_questions WHERE company_id = $1 AND cycle_id = $2")
                .bind(&self.id)
                .bind(&cycle_id)
                .execute(&mut *tx)
                .await?;
            for (position, (kind, prompt)) in questions.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO feedback_questions (company_id, id, cycle_id, position, kind, \
                     prompt) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&self.id)
                .bind(new_id())
                .bind(&cycle_id)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(if *kind == QuestionKind::Rating {
                    "rating"
                } else {
                    "text"
                })
                .bind(prompt)
                .execute(&mut *tx)
                .await?;
            }
        }
        let detail = serde_json::json!({ "enabled": update.enabled,
            "nominated_by": nominated_by, "min": update.min, "max": update.max,
            "anonymous": update.anonymous, "questions_replaced": questions.is_some() });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "feedback_settings_changed",
            Some(&cycle_id),
            &client,
            detail,
        )
        .await?;
        let setup = self.feedback_setup(&mut tx, &cycle_id).await?;
        let questions = self.feedback_questions(&mut tx, &cycle_id).await?;
        tx.commit().await?;
        Ok(settings_view(cycle_id, &setup, questions))
    }

    /// Closes a cycle's feedback for good: submissions end, results are released.
    async fn close_feedback(
        &mut self,
        principal: Principal,
        cycle_id: String,
        client: Client,
    ) -> Result<FeedbackSettings, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let mut tx = self.db.begin_write().await?;
        let setup = self.feedback_setup(&mut tx, &cycle_id).await?;
        if !setup.stored {
            return Err(ActorError::Conflict(
                "this cycle has no feedback to close".into(),
            ));
        }
        if setup.closed {
            return Err(ActorError::Conflict(
                "the feedback is already closed".into(),
            ));
        }
        sqlx::query(
            "UPDATE feedback_settings SET closed_at = $3, updated_at = $3 \
             WHERE company_id = $1 AND cycle_id = $2",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;

        // Anonymous writing leaves no entry of its own (see the writing module): the
        // trail learns here, once nothing can change any more, how much came in.
        let (answers,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM feedback_answers WHERE company_id = $1 AND cycle_id = $2",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .fetch_one(&mut *tx)
        .await?;
        let actor = Some(principal.user_id.as_str());
        let detail = serde_json::json!({ "anonymous": setup.anonymous, "answers": answers });
        self.record_audit(
            &mut *tx,
            actor,
            "feedback_closed",
            Some(&cycle_id),
            &client,
            detail,
        )
        .await?;
        let setup = self.feedback_setup(&mut tx, &cycle_id).await?;
        let questions = self.feedback_questions(&mut tx, &cycle_id).await?;
        tx.commit().await?;
        Ok(settings_view(cycle_id, &setup, questions))
    }

    /// Per subject: nominations by decision and submitted answers, for HR admins.
    async fn feedback_overview(
        &mut self,
        principal: Principal,
        cycle_id: String,
    ) -> Result<Vec<SubjectOverview>, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let mut conn = self.db.pool().acquire().await?;
        let setup = self.feedback_setup(&mut conn, &cycle_id).await?;
        let rows: Vec<OverviewRow> = sqlx::query_as(
            "SELECT f.company_id, u.company_id AS subject_company_id, f.subject_id, \
             u.name AS subject_name, f.approval, COUNT(*) AS n FROM feedback_requests f \
             JOIN users u ON u.id = f.subject_id WHERE f.company_id = $1 AND f.cycle_id = $2 \
             GROUP BY f.company_id, u.company_id, f.subject_id, u.name, f.approval \
             ORDER BY u.name, f.subject_id",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        let answers: Vec<AnswerCountRow> = sqlx::query_as(
            "SELECT company_id, subject_id, COUNT(*) AS n FROM feedback_answers \
             WHERE company_id = $1 AND cycle_id = $2 GROUP BY company_id, subject_id",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&answers)?;

        let mut overview: Vec<SubjectOverview> = Vec::new();
        for row in rows {
            if overview
                .last()
                .is_none_or(|o| o.subject_id != row.subject_id)
            {
                overview.push(SubjectOverview {
                    subject_id: row.subject_id.clone(),
                    subject_name: row.subject_name.clone(),
                    pending: 0,
                    approved: 0,
                    rejected: 0,
                    submitted: None,
                });
            }
            if let Some(entry) = overview.last_mut() {
                match row.approval.as_str() {
                    "approved" => entry.approved += row.n,
                    "rejected" => entry.rejected += row.n,
                    _ => entry.pending += row.n,
                }
            }
        }

        // Anonymous answers are counted only once the feedback is closed: a count that
        // moves while reviewers write tells whoever watches it when someone answered
        // about whom, and that moment set beside a reviewer's sign-in names them. An
        // HR admin is a subject and a manager too: about themselves or their people
        // they get no count at all.
        for entry in &mut overview {
            if setup.anonymous && !setup.closed {
                continue;
            }
            let own = self
                .stance(&mut conn, &principal, &entry.subject_id)
                .await?;
            if setup.anonymous && (own.subject || own.manager) {
                continue;
            }
            let submitted = answers
                .iter()
                .find(|row| row.subject_id == entry.subject_id)
                .map_or(0, |row| row.n);
            entry.submitted = Some(submitted);
        }
        Ok(overview)
    }
}

/// The settings as clients see them.
fn settings_view(
    cycle_id: String,
    setup: &Setup,
    questions: Vec<crate::model::Question>,
) -> FeedbackSettings {
    FeedbackSettings {
        cycle_id,
        cycle_name: setup.cycle_name.clone(),
        enabled: setup.enabled,
        nominated_by: setup.nominated_by,
        min: setup.min,
        max: setup.max,
        anonymous: setup.anonymous,
        closed: setup.closed,
        questions,
    }
}

impl Company {
    /// The active people of the company, by name: whom a nominator may choose from.
    async fn feedback_candidates(
        &mut self,
        cycle_id: String,
    ) -> Result<Vec<Candidate>, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        self.feedback_setup(&mut conn, &cycle_id).await?;
        let rows: Vec<CandidateRow> = sqlx::query_as(
            "SELECT company_id, id, name FROM users WHERE company_id = $1 AND disabled = 0 \
             ORDER BY name, id",
        )
        .bind(&self.id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        Ok(rows
            .into_iter()
            .map(|row| Candidate {
                id: row.id,
                name: row.name,
            })
            .collect())
    }

    /// Every cycle whose feedback was set up, newest first: feedback reaches people
    /// beyond a cycle's participants, so every user of the company sees the list.
    async fn list_feedback_cycles(
        &mut self,
        principal: Principal,
    ) -> Result<Vec<FeedbackSettings>, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        // HR sees every cycle's feedback; everyone else the cycles they take part in:
        // reviewed or reviewing in it, or nominated to give or receive feedback there.
        let everything = principal.roles.runs_cycles();
        let cycles: Vec<SetupCycleRow> = sqlx::query_as(
            "SELECT s.company_id, c.company_id AS cycle_company_id, s.cycle_id \
             FROM feedback_settings s JOIN cycles c ON c.id = s.cycle_id \
             WHERE s.company_id = $1 AND ($2 = 1 \
               OR EXISTS (SELECT 1 FROM reviews r WHERE r.company_id = $1 \
                 AND r.cycle_id = s.cycle_id AND (r.reviewer_id = $3 OR r.reviewee_id = $3)) \
               OR EXISTS (SELECT 1 FROM feedback_requests f WHERE f.company_id = $1 \
                 AND f.cycle_id = s.cycle_id AND (f.reviewer_id = $3 OR f.subject_id = $3))) \
             ORDER BY c.created_at DESC, s.cycle_id",
        )
        .bind(&self.id)
        .bind(i64::from(everything))
        .bind(&principal.user_id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&cycles)?;
        let mut list = Vec::with_capacity(cycles.len());
        for cycle in cycles {
            let setup = self.feedback_setup(&mut conn, &cycle.cycle_id).await?;
            let questions = self.feedback_questions(&mut conn, &cycle.cycle_id).await?;
            list.push(settings_view(cycle.cycle_id, &setup, questions));
        }
        Ok(list)
    }
}

#[derive(sqlx::FromRow)]
struct SetupCycleRow {
    company_id: String,
    cycle_company_id: String,
    cycle_id: String,
}

impl Owned for SetupCycleRow {
    const TABLE: &'static str = "feedback_settings";
    fn row_id(&self) -> &str {
        &self.cycle_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.cycle_company_id]
    }
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    company_id: String,
    id: String,
    name: String,
}

impl Owned for CandidateRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

impl CompanyHandle {
    /// The active people a nominator may choose reviewers from (any signed-in user).
    pub async fn feedback_candidates(
        &self,
        cycle_id: String,
    ) -> Result<Vec<Candidate>, ActorError> {
        self.call(move |c| Box::pin(c.feedback_candidates(cycle_id)))
            .await
    }

    /// Every cycle with feedback set up, newest first (any signed-in user).
    pub async fn list_feedback_cycles(
        &self,
        principal: Principal,
    ) -> Result<Vec<FeedbackSettings>, ActorError> {
        self.call(move |c| Box::pin(c.list_feedback_cycles(principal)))
            .await
    }

    /// A cycle's feedback settings (any signed-in user of the company: reviewers and
    /// nominators need the rules and questions).
    pub async fn feedback_settings(
        &self,
        cycle_id: String,
    ) -> Result<FeedbackSettings, ActorError> {
        self.call(move |c| Box::pin(c.get_feedback_settings(cycle_id)))
            .await
    }

    /// Sets a cycle's feedback settings (HR admins).
    pub async fn set_feedback_settings(
        &self,
        principal: Principal,
        cycle_id: String,
        update: FeedbackSettingsUpdate,
        client: Client,
    ) -> Result<FeedbackSettings, ActorError> {
        self.call(move |c| Box::pin(c.set_feedback_settings(principal, cycle_id, update, client)))
            .await
    }

    /// Closes a cycle's feedback for good (HR admins).
    pub async fn close_feedback(
        &self,
        principal: Principal,
        cycle_id: String,
        client: Client,
    ) -> Result<FeedbackSettings, ActorError> {
        self.call(move |c| Box::pin(c.close_feedback(principal, cycle_id, client)))
            .await
    }

    /// A cycle's feedback in numbers per subject (HR admins).
    pub async fn feedback_overview(
        &self,
        principal: Principal,
        cycle_id: String,
    ) -> Result<Vec<SubjectOverview>, ActorError> {
        self.call(move |c| Box::pin(c.feedback_overview(principal, cycle_id)))
            .await
    }
}
