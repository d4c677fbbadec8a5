//! Writing feedback: the reviewer's requests, drafts and submission.
//!
//! Submission is where anonymity is made: the answers leave the request row for a row of
//! their own that names nobody (see the module above).

use rand::seq::SliceRandom;

use super::{
    Approval, Company, FeedbackRequest, FeedbackRequestDetail, FeedbackSaved, FeedbackStatus,
    RequestRow, merge_answers, unanswered,
};
use crate::company::CompanyHandle;
use crate::crypto::{FEEDBACK_ANSWERS, FEEDBACK_DRAFT};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Answers, Client, DraftUpdate, Principal};

/// A stored anonymous answer, as it is moved when the subject's rows are shuffled.
#[derive(sqlx::FromRow)]
struct AnonymousRow {
    company_id: String,
    id: String,
    answers: String,
}

impl Owned for AnonymousRow {
    const TABLE: &'static str = "feedback_answers";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// The answers of named feedback, found through its request.
#[derive(sqlx::FromRow)]
struct NamedAnswersRow {
    company_id: String,
    id: String,
    answers: String,
}

impl Owned for NamedAnswersRow {
    const TABLE: &'static str = "feedback_answers";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

fn to_json(answers: &Answers) -> Result<String, ActorError> {
    serde_json::to_string(answers)
        .map_err(|_| ActorError::Validation("the answers could not be stored".into()))
}

impl Company {
    /// The caller's own approved request, or `NotFound` (nobody else's request exists
    /// for them, whatever their role).
    async fn own_request(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
        id: &str,
    ) -> Result<RequestRow, ActorError> {
        let row = self.load_request(conn, id).await?;
        if row.reviewer_id != principal.user_id || row.approval() != Approval::Approved {
            return Err(ActorError::NotFound);
        }
        Ok(row)
    }

    /// The draft of a request row.
    fn draft(&self, row: &RequestRow) -> Result<Answers, ActorError> {
        let json = self.open(FEEDBACK_DRAFT, &row.id, &row.draft)?;
        Ok(serde_json::from_str(&json).unwrap_or_default())
    }

    async fn list_feedback_requests(
        &mut self,
        principal: Principal,
    ) -> Result<Vec<FeedbackRequest>, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let rows = self
            .load_requests(
                &mut conn,
                "f.reviewer_id = $2 AND f.approval = 'approved'",
                &[&principal.user_id],
            )
            .await?;
        let mut requests: Vec<FeedbackRequest> = rows.iter().map(RequestRow::request).collect();
        requests.sort_by(|a, b| {
            (a.closed, &a.cycle_name, &a.subject_name, &a.id).cmp(&(
                b.closed,
                &b.cycle_name,
                &b.subject_name,
                &b.id,
            ))
        });
        Ok(requests)
    }

    async fn get_feedback_request(
        &mut self,
        principal: Principal,
        id: String,
    ) -> Result<FeedbackRequestDetail, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let row = self.own_request(&mut conn, &principal, &id).await?;
        let questions = self.feedback_questions(&mut conn, &row.cycle_id).await?;
        let answers = if row.status() != FeedbackStatus::Submitted {
            self.draft(&row)?
        } else if row.anonymous() {
            Answers::new()
        } else {
            let stored: Option<NamedAnswersRow> = sqlx::query_as(
                "SELECT company_id, id, answers FROM feedback_answers \
                 WHERE company_id = $1 AND request_id = $2",
            )
            .bind(&self.id)
            .bind(&id)
            .fetch_optional(&mut *conn)
            .await?;
            match stored {
                Some(stored) => {
                    self.check(&stored)?;
                    let json = self.open(FEEDBACK_ANSWERS, &stored.id, &stored.answers)?;
                    serde_json::from_str(&json).unwrap_or_default()
                }
                None => Answers::new(),
            }
        };
        Ok(FeedbackRequestDetail {
            request: row.request(),
            questions,
            answers,
        })
    }

    /// Records a draft save or a submission of named feedback, with its writer,
    /// request and cycle.
    ///
    /// Anonymous writing leaves no entry of its own: any entry would carry a time, and
    /// set beside the same person's sign-ins or other work in the trail, a time ties a
    /// writer to the cycle — and an HR admin reading the trail can be a subject who
    /// knows whom they nominated. The request row, read by its reviewer alone, holds
    /// that they wrote; closing the feedback records how many answers came in.
    async fn audit_feedback(
        &self,
        tx: &mut sqlx::AnyConnection,
        principal: &Principal,
        row: &RequestRow,
        action: &str,
        client: &Client,
    ) -> Result<(), ActorError> {
        if row.anonymous() {
            return Ok(());
        }
        let actor = Some(principal.user_id.as_str());
        let detail = serde_json::json!({ "anonymous": false, "cycle_id": row.cycle_id });
        self.record_audit(&mut *tx, actor, action, Some(&row.id), client, detail)
            .await?;
        Ok(())
    }

    /// Checks that a request can still be written.
    fn writable(row: &RequestRow) -> Result<(), ActorError> {
        if row.ended() {
            return Err(ActorError::Conflict(
                "this cycle's feedback is closed".into(),
            ));
        }
        if row.status() == FeedbackStatus::Submitted {
            return Err(ActorError::Conflict(
                "the feedback is submitted and can no longer be changed".into(),
            ));
        }
        Ok(())
    }

    async fn save_feedback_draft(
        &mut self,
        principal: Principal,
        id: String,
        update: DraftUpdate,
        client: Client,
    ) -> Result<FeedbackSaved, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let row = self.own_request(&mut tx, &principal, &id).await?;
        Self::writable(&row)?;
        if update.version != row.version {
            return Err(ActorError::Conflict(
                "the feedback was changed meanwhile; reload it".into(),
            ));
        }
        let questions = self.feedback_questions(&mut tx, &row.cycle_id).await?;
        let answers = merge_answers(self.draft(&row)?, update, &questions)?;
        let draft = self.seal(FEEDBACK_DRAFT, &id, &to_json(&answers)?)?;
        let saved = sqlx::query(
            "UPDATE feedback_requests SET draft = $3, status = 'draft', version = version + 1, \
             updated_at = $4 WHERE company_id = $1 AND id = $2 AND version = $5",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(&draft)
        .bind(now_ms())
        .bind(row.version)
        .execute(&mut *tx)
        .await?;
        if saved.rows_affected() != 1 {
            return Err(ActorError::Conflict(
                "the feedback was changed meanwhile; reload it".into(),
            ));
        }

        self.audit_feedback(&mut tx, &principal, &row, "feedback_draft_saved", &client)
            .await?;
        tx.commit().await?;
        Ok(FeedbackSaved {
            version: row.version + 1,
            status: FeedbackStatus::Draft,
        })
    }

    async fn submit_feedback(
        &mut self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<FeedbackRequestDetail, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let row = self.own_request(&mut tx, &principal, &id).await?;
        Self::writable(&row)?;
        let questions = self.feedback_questions(&mut tx, &row.cycle_id).await?;
        let answers = self.draft(&row)?;
        let missing = unanswered(&answers, &questions);
        if !missing.is_empty() {
            return Err(ActorError::Validation(format!(
                "answer every question before submitting; missing: {}",
                missing.join("; ")
            )));
        }

        // The answers leave the request row: it keeps only that it was submitted.
        let empty = self.seal(FEEDBACK_DRAFT, &id, "{}")?;
        sqlx::query(
            "UPDATE feedback_requests SET draft = $3, status = 'submitted', \
             version = version + 1 WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(&empty)
        .execute(&mut *tx)
        .await?;
        let answer_id = new_id();
        let sealed = self.seal(FEEDBACK_ANSWERS, &answer_id, &to_json(&answers)?)?;
        if row.anonymous() {
            self.store_anonymous(&mut tx, &row, answer_id, sealed)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO feedback_answers (company_id, id, cycle_id, subject_id, anonymous, \
                 author_id, request_id, answers, submitted_at) \
                 VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8)",
            )
            .bind(&self.id)
            .bind(&answer_id)
            .bind(&row.cycle_id)
            .bind(&row.subject_id)
            .bind(&principal.user_id)
            .bind(&id)
            .bind(&sealed)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }

        self.audit_feedback(&mut tx, &principal, &row, "feedback_submitted", &client)
            .await?;
        let row = self.own_request(&mut tx, &principal, &id).await?;
        tx.commit().await?;
        tracing::debug!("feedback submitted");
        let answers = if row.anonymous() {
            Answers::new()
        } else {
            answers
        };
        Ok(FeedbackRequestDetail {
            request: row.request(),
            questions,
            answers,
        })
    }

    /// Adds an anonymous answer and writes all of the subject's anonymous answers again
    /// in a random order, so that the order rows sit in the database (SQLite's row ids,
    /// PostgreSQL's heap) does not follow the order of submissions. Ids and sealed
    /// values move unchanged: each value stays bound to its own id.
    async fn store_anonymous(
        &self,
        tx: &mut sqlx::AnyConnection,
        row: &RequestRow,
        answer_id: String,
        sealed: String,
    ) -> Result<(), ActorError> {
        let mut rows: Vec<AnonymousRow> = sqlx::query_as(
            "SELECT company_id, id, answers FROM feedback_answers \
             WHERE company_id = $1 AND cycle_id = $2 AND subject_id = $3 AND anonymous = 1",
        )
        .bind(&self.id)
        .bind(&row.cycle_id)
        .bind(&row.subject_id)
        .fetch_all(&mut *tx)
        .await?;
        self.check_all(&rows)?;
        sqlx::query(
            "DELETE FROM feedback_answers WHERE company_id = $1 AND cycle_id = $2 \
             AND subject_id = $3 AND anonymous = 1",
        )
        .bind(&self.id)
        .bind(&row.cycle_id)
        .bind(&row.subject_id)
        .execute(&mut *tx)
        .await?;
        rows.push(AnonymousRow {
            company_id: self.id.clone(),
            id: answer_id,
            answers: sealed,
        });
        rows.shuffle(&mut rand::rng());
        for answer in &rows {
            sqlx::query(
                "INSERT INTO feedback_answers (company_id, id, cycle_id, subject_id, anonymous, \
                 answers) VALUES ($1, $2, $3, $4, 1, $5)",
            )
            .bind(&self.id)
            .bind(&answer.id)
            .bind(&row.cycle_id)
            .bind(&row.subject_id)
            .bind(&answer.answers)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

impl CompanyHandle {
    /// The feedback the principal is asked to give (approved nominations only).
    pub async fn list_feedback_requests(
        &self,
        principal: Principal,
    ) -> Result<Vec<FeedbackRequest>, ActorError> {
        self.call(move |c| Box::pin(c.list_feedback_requests(principal)))
            .await
    }

    /// One of the principal's own feedback requests with questions and answers.
    pub async fn get_feedback_request(
        &self,
        principal: Principal,
        id: String,
    ) -> Result<FeedbackRequestDetail, ActorError> {
        self.call(move |c| Box::pin(c.get_feedback_request(principal, id)))
            .await
    }

    /// Saves a draft of the principal's own feedback; `update.version` must be the
    /// current one (409 otherwise).
    pub async fn save_feedback_draft(
        &self,
        principal: Principal,
        id: String,
        update: DraftUpdate,
        client: Client,
    ) -> Result<FeedbackSaved, ActorError> {
        self.call(move |c| Box::pin(c.save_feedback_draft(principal, id, update, client)))
            .await
    }

    /// Submits the principal's own feedback once every question is answered.
    pub async fn submit_feedback(
        &self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<FeedbackRequestDetail, ActorError> {
        self.call(move |c| Box::pin(c.submit_feedback(principal, id, client)))
            .await
    }
}
