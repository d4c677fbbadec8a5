//! Review cycles: their questionnaires, their participants and their progress.

use std::collections::{BTreeMap, HashMap};

use super::{Company, CompanyHandle};
use crate::crypto::REVIEW_ANSWERS;
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{
    Client, Counts, Cycle, NewCycle, Principal, Progress, Question, QuestionKind, ReviewKind,
    ReviewStatus, parse_rfc3339, rfc3339,
};

/// The most questions a cycle may have; a questionnaire longer than this is a mistake.
const MAX_QUESTIONS: usize = 50;

#[derive(sqlx::FromRow)]
struct CycleRow {
    company_id: String,
    id: String,
    name: String,
    status: String,
    due_at: Option<i64>,
    created_at: i64,
}

impl Owned for CycleRow {
    const TABLE: &'static str = "cycles";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct QuestionRow {
    company_id: String,
    id: String,
    cycle_id: String,
    kind: String,
    prompt: String,
}

impl Owned for QuestionRow {
    const TABLE: &'static str = "questions";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

impl QuestionRow {
    fn into_question(self) -> Question {
        let kind = if self.kind == "rating" {
            QuestionKind::Rating
        } else {
            QuestionKind::Text
        };
        Question {
            id: self.id,
            kind,
            prompt: self.prompt,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CountRow {
    company_id: String,
    kind: String,
    status: String,
    n: i64,
}

impl Owned for CountRow {
    const TABLE: &'static str = "reviews";
    fn row_id(&self) -> &str {
        &self.status
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

#[derive(sqlx::FromRow)]
struct ParticipantRow {
    company_id: String,
    id: String,
    manager_id: Option<String>,
    manager_company_id: Option<String>,
    manager_disabled: Option<i64>,
}

impl Owned for ParticipantRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        let mut owners = vec![self.company_id.as_str()];
        owners.extend(self.manager_company_id.as_deref());
        owners
    }
}

/// Checks a new cycle's fields; answers the trimmed name and the due time.
fn validate(new: &NewCycle) -> Result<(String, Option<i64>), ActorError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ActorError::Validation(
            "the name must have 1 to 200 characters".into(),
        ));
    }
    if new.questions.is_empty() || new.questions.len() > MAX_QUESTIONS {
        return Err(ActorError::Validation(format!(
            "a cycle needs 1 to {MAX_QUESTIONS} questions"
        )));
    }
    for (n, question) in new.questions.iter().enumerate() {
        let length = question.prompt.trim().chars().count();
        if length == 0 || length > 1000 {
            return Err(ActorError::Validation(format!(
                "question {} must have 1 to 1000 characters",
                n + 1
            )));
        }
    }
    let due_at = match &new.due_at {
        None => None,
        Some(text) => Some(
            parse_rfc3339(text)
                .ok_or_else(|| ActorError::Validation("due_at must be an RFC 3339 time".into()))?,
        ),
    };
    Ok((name, due_at))
}

impl Company {
    async fn list_cycles(&mut self, principal: Principal) -> Result<Vec<Cycle>, ActorError> {
        // HR sees every cycle; everyone else the cycles they write or receive reviews in.
        let rows: Vec<CycleRow> = if principal.roles.hr_admin {
            sqlx::query_as(
                "SELECT company_id, id, name, status, due_at, created_at FROM cycles \
                 WHERE company_id = $1 ORDER BY created_at DESC",
            )
            .bind(&self.id)
            .fetch_all(self.db.pool())
            .await?
        } else {
            sqlx::query_as(
                "SELECT c.company_id, c.id, c.name, c.status, c.due_at, c.created_at \
                 FROM cycles c WHERE c.company_id = $1 AND EXISTS (SELECT 1 FROM reviews r \
                 WHERE r.company_id = $1 AND r.cycle_id = c.id \
                 AND (r.reviewer_id = $2 OR r.reviewee_id = $2)) ORDER BY c.created_at DESC",
            )
            .bind(&self.id)
            .bind(&principal.user_id)
            .fetch_all(self.db.pool())
            .await?
        };
        self.check_all(&rows)?;

        let questions: Vec<QuestionRow> = sqlx::query_as(
            "SELECT company_id, id, cycle_id, kind, prompt FROM questions \
             WHERE company_id = $1 ORDER BY cycle_id, position",
        )
        .bind(&self.id)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&questions)?;
        let mut by_cycle: HashMap<String, Vec<Question>> = HashMap::new();
        for row in questions {
            by_cycle
                .entry(row.cycle_id.clone())
                .or_default()
                .push(row.into_question());
        }
        Ok(rows
            .into_iter()
            .map(|row| Cycle {
                questions: by_cycle.remove(&row.id).unwrap_or_default(),
                id: row.id,
                name: row.name,
                status: row.status,
                due_at: row.due_at.map(rfc3339),
                created_at: rfc3339(row.created_at),
            })
            .collect())
    }

    async fn create_cycle(
        &mut self,
        principal: Principal,
        new: NewCycle,
        client: Client,
    ) -> Result<Cycle, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let (name, due_at) = validate(&new)?;
        let mut tx = self.db.begin_write().await?;

        // Participants: the ones named (each must be an active user here) or everyone
        // active. Each gets a self review, and a manager review if they have an active
        // manager.
        let everyone: Vec<ParticipantRow> = sqlx::query_as(
            "SELECT u.company_id, u.id, u.manager_id, m.company_id AS manager_company_id, \
             m.disabled AS manager_disabled FROM users u LEFT JOIN users m ON m.id = u.manager_id \
             WHERE u.company_id = $1 AND u.disabled = 0",
        )
        .bind(&self.id)
        .fetch_all(&mut *tx)
        .await?;
        self.check_all(&everyone)?;
        let participants: Vec<&ParticipantRow> = match &new.participants {
            None => everyone.iter().collect(),
            Some(ids) => {
                let by_id: HashMap<&str, &ParticipantRow> =
                    everyone.iter().map(|p| (p.id.as_str(), p)).collect();
                let mut chosen = Vec::new();
                for id in ids {
                    let found = by_id.get(id.as_str()).ok_or_else(|| {
                        ActorError::Validation(format!("participant {id} is not an active user"))
                    })?;
                    if !chosen.iter().any(|p: &&ParticipantRow| p.id == *id) {
                        chosen.push(*found);
                    }
                }
                chosen
            }
        };
        if participants.is_empty() {
            return Err(ActorError::Validation(
                "a cycle needs at least one participant".into(),
            ));
        }

        let now = now_ms();
        let cycle_id = new_id();
        sqlx::query(
            "INSERT INTO cycles (company_id, id, name, status, due_at, created_by, created_at) \
             VALUES ($1, $2, $3, 'open', $4, $5, $6)",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .bind(&name)
        .bind(due_at)
        .bind(&principal.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut questions = Vec::with_capacity(new.questions.len());
        let mut reviews = 0_usize;
        for (position, question) in new.questions.iter().enumerate() {
            let id = new_id();
            let prompt = question.prompt.trim().to_owned();
            sqlx::query(
                "INSERT INTO questions (company_id, id, cycle_id, position, kind, prompt) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&cycle_id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(if question.kind == QuestionKind::Rating {
                "rating"
            } else {
                "text"
            })
            .bind(&prompt)
            .execute(&mut *tx)
            .await?;
            questions.push(Question {
                id,
                kind: question.kind,
                prompt,
            });
        }
        for participant in &participants {
            let manager = participant
                .manager_id
                .as_deref()
                .filter(|_| participant.manager_disabled == Some(0));
            let writers = std::iter::once((ReviewKind::SelfReview, participant.id.as_str()))
                .chain(manager.map(|m| (ReviewKind::Manager, m)));
            for (kind, reviewer) in writers {
                let review_id = new_id();
                let answers = self.seal(REVIEW_ANSWERS, &review_id, "{}")?;
                sqlx::query(
                    "INSERT INTO reviews (company_id, id, cycle_id, reviewee_id, reviewer_id, \
                     kind, status, answers, version, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'not_started', $7, 1, $8)",
                )
                .bind(&self.id)
                .bind(&review_id)
                .bind(&cycle_id)
                .bind(&participant.id)
                .bind(reviewer)
                .bind(kind.as_str())
                .bind(&answers)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                reviews += 1;
            }
        }
        let detail = serde_json::json!({ "name": name, "questions": questions.len(),
            "participants": participants.len(), "reviews": reviews });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "cycle_created",
            Some(&cycle_id),
            &client,
            detail,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(cycle_id = %cycle_id, participants = participants.len(), "cycle created");
        Ok(Cycle {
            id: cycle_id,
            name,
            status: "open".into(),
            due_at: due_at.map(rfc3339),
            created_at: rfc3339(now),
            questions,
        })
    }

    /// The progress of a cycle, for HR admins.
    pub(super) async fn progress(
        &mut self,
        principal: &Principal,
        cycle_id: &str,
    ) -> Result<Progress, ActorError> {
        self.authorize_progress(principal, cycle_id).await?;
        self.count_progress(cycle_id).await
    }

    /// Whether `principal` may see the progress of the cycle (HR admins, an existing
    /// cycle of this company).
    pub(super) async fn authorize_progress(
        &self,
        principal: &Principal,
        cycle_id: &str,
    ) -> Result<(), ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT company_id FROM cycles WHERE company_id = $1 AND id = $2")
                .bind(&self.id)
                .bind(cycle_id)
                .fetch_optional(self.db.pool())
                .await?;
        if exists.is_none() {
            return Err(ActorError::NotFound);
        }
        Ok(())
    }

    /// Counts a cycle's reviews by kind and status.
    pub(super) async fn count_progress(&self, cycle_id: &str) -> Result<Progress, ActorError> {
        let rows: Vec<CountRow> = sqlx::query_as(
            "SELECT company_id, kind, status, COUNT(*) AS n FROM reviews \
             WHERE company_id = $1 AND cycle_id = $2 GROUP BY company_id, kind, status",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        let mut counts = Counts::default();
        let mut by_kind: BTreeMap<String, Counts> = BTreeMap::new();
        for kind in [ReviewKind::SelfReview, ReviewKind::Manager] {
            by_kind.insert(kind.as_str().to_owned(), Counts::default());
        }
        for row in rows {
            let Some(status) = ReviewStatus::parse(&row.status) else {
                continue;
            };
            counts.add(status, row.n);
            by_kind.entry(row.kind).or_default().add(status, row.n);
        }
        Ok(Progress {
            cycle_id: cycle_id.to_owned(),
            counts,
            by_kind,
        })
    }

    /// Loads a cycle's questionnaire in order.
    pub(super) async fn load_questions(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
    ) -> Result<Vec<Question>, ActorError> {
        let rows: Vec<QuestionRow> = sqlx::query_as(
            "SELECT company_id, id, cycle_id, kind, prompt FROM questions \
             WHERE company_id = $1 AND cycle_id = $2 ORDER BY position",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        Ok(rows.into_iter().map(QuestionRow::into_question).collect())
    }

    /// Tells the cycle's dashboards where it stands now. Called after a commit that
    /// changed a review's status; a failure here is logged, as the write itself stands.
    pub(super) async fn publish_progress(&mut self, cycle_id: &str) {
        match self.count_progress(cycle_id).await {
            Ok(progress) => {
                self.topics
                    .publish(&format!("cycle:{cycle_id}"), "progress", &progress)
            }
            Err(error) => tracing::error!(%error, cycle_id, "progress could not be published"),
        }
    }
}

impl CompanyHandle {
    /// The cycles the principal may see.
    pub async fn list_cycles(&self, principal: Principal) -> Result<Vec<Cycle>, ActorError> {
        self.call(move |c| Box::pin(c.list_cycles(principal))).await
    }

    /// Creates a cycle with its questionnaire and its reviews (HR admins only).
    pub async fn create_cycle(
        &self,
        principal: Principal,
        new: NewCycle,
        client: Client,
    ) -> Result<Cycle, ActorError> {
        self.call(move |c| Box::pin(c.create_cycle(principal, new, client)))
            .await
    }

    /// A cycle's progress (HR admins only).
    pub async fn cycle_progress(
        &self,
        principal: Principal,
        cycle_id: String,
    ) -> Result<Progress, ActorError> {
        self.call(move |c| Box::pin(async move { c.progress(&principal, &cycle_id).await }))
            .await
    }
}
