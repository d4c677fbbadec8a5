//! Review cycles: their questionnaires, their participants and their progress.

use std::collections::{BTreeMap, HashMap};

use super::{Company, CompanyHandle};
use crate::crypto::REVIEW_ANSWERS;
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{
    Client, Counts, Cycle, Deadlines, ManagerCounts, NewCycle, Phase, Principal, Progress,
    Question, QuestionKind, RatingScale, ReviewKind, ReviewStatus, parse_rfc3339, rfc3339,
};

/// The most questions a cycle may have; a questionnaire longer than this is a mistake.
const MAX_QUESTIONS: usize = 50;

/// The widest rating scale: a hundred steps is already more than anyone can tell apart.
const MAX_RATING: i64 = 100;

/// The columns of a cycle row, for [`CycleRow`].
const CYCLE_COLUMNS: &str = "company_id, id, name, status, due_at, created_at, phase, \
     rating_min, rating_max, self_review_due_at, manager_review_due_at, sign_off_due_at";

#[derive(sqlx::FromRow)]
pub(super) struct CycleRow {
    company_id: String,
    pub(super) id: String,
    name: String,
    status: String,
    due_at: Option<i64>,
    created_at: i64,
    phase: String,
    rating_min: i64,
    rating_max: i64,
    self_review_due_at: Option<i64>,
    manager_review_due_at: Option<i64>,
    sign_off_due_at: Option<i64>,
}

impl CycleRow {
    /// The cycle's phase; an unknown stored name counts as closed, the safe side.
    pub(super) fn phase(&self) -> Phase {
        Phase::parse(&self.phase).unwrap_or(Phase::Closed)
    }

    pub(super) fn rating_scale(&self) -> RatingScale {
        RatingScale {
            min: self.rating_min,
            max: self.rating_max,
        }
    }

    fn deadlines(&self) -> Deadlines {
        Deadlines {
            self_review: self.self_review_due_at.map(rfc3339),
            manager_review: self.manager_review_due_at.map(rfc3339),
            sign_off: self.sign_off_due_at.map(rfc3339),
        }
    }

    fn into_cycle(self, questions: Vec<Question>) -> Cycle {
        Cycle {
            phase: self.phase(),
            rating_scale: self.rating_scale(),
            deadlines: self.deadlines(),
            questions,
            id: self.id,
            name: self.name,
            status: self.status,
            due_at: self.due_at.map(rfc3339),
            created_at: rfc3339(self.created_at),
        }
    }
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
        Question {
            id: self.id,
            kind: QuestionKind::parse(&self.kind),
            prompt: self.prompt,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CountRow {
    company_id: String,
    kind: String,
    status: String,
    reviewee_company_id: String,
    department: Option<String>,
    manager_id: Option<String>,
    manager_company_id: Option<String>,
    manager_name: Option<String>,
    overdue: i64,
    n: i64,
}

impl Owned for CountRow {
    const TABLE: &'static str = "reviews";
    fn row_id(&self) -> &str {
        &self.status
    }
    fn owners(&self) -> Vec<&str> {
        let mut owners = vec![self.company_id.as_str(), &self.reviewee_company_id];
        owners.extend(self.manager_company_id.as_deref());
        owners
    }
}

#[derive(sqlx::FromRow)]
struct ParticipantRow {
    company_id: String,
    id: String,
    department: Option<String>,
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

/// A new cycle's checked fields.
struct Checked {
    name: String,
    due_at: Option<i64>,
    scale: RatingScale,
    /// Self review, manager review and sign-off deadlines.
    deadlines: [Option<i64>; 3],
}

/// Parses an optional RFC 3339 time named `what`.
fn parse_time(what: &str, text: Option<&String>) -> Result<Option<i64>, ActorError> {
    text.map(|text| {
        parse_rfc3339(text)
            .ok_or_else(|| ActorError::Validation(format!("{what} must be an RFC 3339 time")))
    })
    .transpose()
}

/// Checks a new cycle's fields.
fn validate(new: &NewCycle) -> Result<Checked, ActorError> {
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
    // One objectives question rates every linked objective already; a second would
    // ask the same thing again and make "the" weighted score ambiguous.
    let objectives = new
        .questions
        .iter()
        .filter(|q| q.kind == QuestionKind::Objectives)
        .count();
    if objectives > 1 {
        return Err(ActorError::Validation(
            "a cycle may have at most one objectives question".into(),
        ));
    }
    let due_at = parse_time("due_at", new.due_at.as_ref())?;

    let scale = new.rating_scale.unwrap_or_default();
    if scale.min < 0 || scale.max > MAX_RATING || scale.min >= scale.max {
        return Err(ActorError::Validation(format!(
            "the rating scale must go up from its min to its max, within 0 to {MAX_RATING}"
        )));
    }

    // Deadlines follow the phases: none may come before the one of an earlier phase.
    // Past deadlines are allowed, e.g. to set up a cycle that is already late.
    let given = new.deadlines.clone().unwrap_or_default();
    let deadlines = [
        parse_time("deadlines.self_review", given.self_review.as_ref())?,
        parse_time("deadlines.manager_review", given.manager_review.as_ref())?,
        parse_time("deadlines.sign_off", given.sign_off.as_ref())?,
    ];
    let set: Vec<i64> = deadlines.iter().flatten().copied().collect();
    if set.windows(2).any(|pair| pair[0] > pair[1]) {
        return Err(ActorError::Validation(
            "the deadlines must follow the phases: self review, manager review, sign-off".into(),
        ));
    }
    if new.participants.is_some() && new.departments.is_some() {
        return Err(ActorError::Validation(
            "name either participants or departments, not both".into(),
        ));
    }
    Ok(Checked {
        name,
        due_at,
        scale,
        deadlines,
    })
}

/// Where a cycle is moved: to its next phase (if it is still in the given one), or
/// closed from any phase.
#[derive(Debug, Clone, Copy)]
enum Move {
    Next(Option<Phase>),
    Close,
}

impl Company {
    async fn list_cycles(&mut self, principal: Principal) -> Result<Vec<Cycle>, ActorError> {
        // HR sees every cycle; everyone else the cycles they write or receive reviews in.
        let rows: Vec<CycleRow> = if principal.roles.runs_cycles() {
            sqlx::query_as(&format!(
                "SELECT {CYCLE_COLUMNS} FROM cycles WHERE company_id = $1 \
                 ORDER BY created_at DESC"
            ))
            .bind(&self.id)
            .fetch_all(self.db.pool())
            .await?
        } else {
            sqlx::query_as(&format!(
                "SELECT {CYCLE_COLUMNS} FROM cycles c WHERE c.company_id = $1 AND EXISTS \
                 (SELECT 1 FROM reviews r WHERE r.company_id = $1 AND r.cycle_id = c.id \
                 AND (r.reviewer_id = $2 OR r.reviewee_id = $2)) ORDER BY c.created_at DESC"
            ))
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
            .map(|row| {
                let questions = by_cycle.remove(&row.id).unwrap_or_default();
                row.into_cycle(questions)
            })
            .collect())
    }

    async fn create_cycle(
        &mut self,
        principal: Principal,
        new: NewCycle,
        client: Client,
    ) -> Result<Cycle, ActorError> {
        if !principal.roles.runs_cycles() {
            return Err(ActorError::Forbidden);
        }
        let Checked {
            name,
            due_at,
            scale,
            deadlines,
        } = validate(&new)?;
        let mut tx = self.db.begin_write().await?;

        // Participants: the ones named (each must be an active user here), the active
        // users of the departments named, or everyone active. Each gets a self review,
        // and a manager review if they have an active manager.
        let everyone: Vec<ParticipantRow> = sqlx::query_as(
            "SELECT u.company_id, u.id, u.department, u.manager_id, \
             m.company_id AS manager_company_id, \
             m.disabled AS manager_disabled FROM users u LEFT JOIN users m ON m.id = u.manager_id \
             WHERE u.company_id = $1 AND u.disabled = 0",
        )
        .bind(&self.id)
        .fetch_all(&mut *tx)
        .await?;
        self.check_all(&everyone)?;
        let participants: Vec<&ParticipantRow> = match (&new.participants, &new.departments) {
            (None, Some(departments)) => {
                let wanted: Vec<&str> = departments.iter().map(|d| d.trim()).collect();
                for department in &wanted {
                    let known = everyone
                        .iter()
                        .any(|p| p.department.as_deref() == Some(*department));
                    if !known {
                        return Err(ActorError::Validation(format!(
                            "the department {department:?} has no active users"
                        )));
                    }
                }
                everyone
                    .iter()
                    .filter(|p| p.department.as_deref().is_some_and(|d| wanted.contains(&d)))
                    .collect()
            }
            (None, None) => everyone.iter().collect(),
            (Some(ids), _) => {
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
            "INSERT INTO cycles (company_id, id, name, status, due_at, created_by, created_at, \
             phase, rating_min, rating_max, self_review_due_at, manager_review_due_at, \
             sign_off_due_at) \
             VALUES ($1, $2, $3, 'open', $4, $5, $6, 'self_review', $7, $8, $9, $10, $11)",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .bind(&name)
        .bind(due_at)
        .bind(&principal.user_id)
        .bind(now)
        .bind(scale.min)
        .bind(scale.max)
        .bind(deadlines[0])
        .bind(deadlines[1])
        .bind(deadlines[2])
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
            .bind(question.kind.as_str())
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
            "participants": participants.len(), "reviews": reviews,
            "departments": new.departments, "rating_scale": scale });
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
        let row = CycleRow {
            company_id: self.id.clone(),
            id: cycle_id,
            name,
            status: "open".into(),
            due_at,
            created_at: now,
            phase: Phase::SelfReview.as_str().into(),
            rating_min: scale.min,
            rating_max: scale.max,
            self_review_due_at: deadlines[0],
            manager_review_due_at: deadlines[1],
            sign_off_due_at: deadlines[2],
        };
        Ok(row.into_cycle(questions))
    }

    /// Loads one cycle of this company, or answers `NotFound`.
    pub(super) async fn load_cycle(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
    ) -> Result<CycleRow, ActorError> {
        let row: CycleRow = sqlx::query_as(&format!(
            "SELECT {CYCLE_COLUMNS} FROM cycles WHERE company_id = $1 AND id = $2"
        ))
        .bind(&self.id)
        .bind(cycle_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&row)?;
        Ok(row)
    }

    /// Moves a cycle to its next phase (`to` None) or closes it (`to` closed). HR
    /// admins and HR assistants.
    async fn move_cycle(
        &mut self,
        principal: Principal,
        cycle_id: String,
        to: Move,
        client: Client,
    ) -> Result<Cycle, ActorError> {
        if !principal.roles.runs_cycles() {
            return Err(ActorError::Forbidden);
        }
        let mut tx = self.db.begin_write().await?;
        let row = self.load_cycle(&mut tx, &cycle_id).await?;
        let from = row.phase();
        if from == Phase::Closed {
            return Err(ActorError::Conflict("the cycle is closed".into()));
        }
        if let Move::Next(Some(expected)) = to
            && expected != from
        {
            return Err(ActorError::Conflict(format!(
                "the cycle is no longer in {}: it is in {}",
                expected.as_str(),
                from.as_str()
            )));
        }
        let close = matches!(to, Move::Close);
        let to = if close { Phase::Closed } else { from.next() };
        let status = if to == Phase::Closed {
            "closed"
        } else {
            "open"
        };
        sqlx::query("UPDATE cycles SET phase = $3, status = $4 WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(&cycle_id)
            .bind(to.as_str())
            .bind(status)
            .execute(&mut *tx)
            .await?;
        let action = if close {
            "cycle_closed"
        } else {
            "cycle_phase_advanced"
        };
        let detail = serde_json::json!({ "from": from.as_str(), "to": to.as_str() });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(&mut *tx, actor, action, Some(&cycle_id), &client, detail)
            .await?;
        let row = self.load_cycle(&mut tx, &cycle_id).await?;
        let questions = self.load_questions(&mut tx, &cycle_id).await?;
        tx.commit().await?;
        tracing::info!(cycle_id = %cycle_id, from = from.as_str(), to = to.as_str(), "cycle moved");

        // Dashboards show the phase with the counts.
        self.publish_progress(&cycle_id).await;
        Ok(row.into_cycle(questions))
    }

    /// The progress of a cycle, for HR admins and HR assistants.
    pub(super) async fn progress(
        &mut self,
        principal: &Principal,
        cycle_id: &str,
    ) -> Result<Progress, ActorError> {
        self.authorize_progress(principal, cycle_id).await?;
        self.count_progress(cycle_id).await
    }

    /// Whether `principal` may see the progress of the cycle: those who run cycles (HR
    /// admins and HR assistants), for an existing cycle of this company.
    pub(super) async fn authorize_progress(
        &self,
        principal: &Principal,
        cycle_id: &str,
    ) -> Result<(), ActorError> {
        if !principal.roles.runs_cycles() {
            return Err(ActorError::Forbidden);
        }
        let mut conn = self.db.pool().acquire().await?;
        self.load_cycle(&mut conn, cycle_id).await?;
        Ok(())
    }

    /// Counts a cycle's reviews by status, in total, per kind, per reviewee department
    /// and per reviewee manager; `overdue` across those.
    pub(super) async fn count_progress(&self, cycle_id: &str) -> Result<Progress, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let cycle = self.load_cycle(&mut conn, cycle_id).await?;

        // One grouped query: the dashboard recounts on every status change, so the
        // database adds up and the actor only sorts the groups into breakdowns.
        let rows: Vec<CountRow> = sqlx::query_as(
            "SELECT r.company_id, r.kind, r.status, ee.company_id AS reviewee_company_id, \
             ee.department, ee.manager_id, m.company_id AS manager_company_id, \
             m.name AS manager_name, \
             SUM(CASE WHEN c.phase <> 'closed' AND ( \
               (r.kind = 'self' AND r.status IN ('not_started', 'draft') \
                 AND c.self_review_due_at < $3) \
               OR (r.kind = 'manager' AND r.status IN ('not_started', 'draft') \
                 AND c.manager_review_due_at < $3) \
               OR (r.kind = 'manager' AND r.status IN ('submitted', 'shared') \
                 AND c.sign_off_due_at < $3)) THEN 1 ELSE 0 END) AS overdue, \
             COUNT(*) AS n \
             FROM reviews r JOIN cycles c ON c.id = r.cycle_id \
             JOIN users ee ON ee.id = r.reviewee_id LEFT JOIN users m ON m.id = ee.manager_id \
             WHERE r.company_id = $1 AND r.cycle_id = $2 \
             GROUP BY r.company_id, r.kind, r.status, ee.company_id, ee.department, \
             ee.manager_id, m.company_id, m.name",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .bind(now_ms())
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;

        let mut counts = Counts::default();
        let mut by_kind: BTreeMap<String, Counts> = BTreeMap::new();
        for kind in [ReviewKind::SelfReview, ReviewKind::Manager] {
            by_kind.insert(kind.as_str().to_owned(), Counts::default());
        }
        let mut by_department: BTreeMap<String, Counts> = BTreeMap::new();
        let mut by_manager: BTreeMap<Option<String>, ManagerCounts> = BTreeMap::new();
        for row in rows {
            let Some(status) = ReviewStatus::parse(&row.status) else {
                continue;
            };
            let add = |counts: &mut Counts| {
                counts.add(status, row.n);
                counts.overdue += row.overdue;
            };
            add(&mut counts);
            add(by_kind.entry(row.kind.clone()).or_default());
            add(by_department
                .entry(row.department.clone().unwrap_or_default())
                .or_default());
            let manager =
                by_manager
                    .entry(row.manager_id.clone())
                    .or_insert_with(|| ManagerCounts {
                        manager_id: row.manager_id.clone(),
                        manager_name: row.manager_name.clone(),
                        counts: Counts::default(),
                    });
            add(&mut manager.counts);
        }
        let mut by_manager: Vec<ManagerCounts> = by_manager.into_values().collect();
        by_manager.sort_by(|a, b| a.manager_name.cmp(&b.manager_name));
        Ok(Progress {
            cycle_id: cycle_id.to_owned(),
            phase: cycle.phase(),
            counts,
            by_kind,
            by_department,
            by_manager,
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

    /// Moves a cycle back in time: its creation to `created_at`, and every time its
    /// reviews and their calibrations carry by the same amount, so the cycle reads as
    /// one that ran back then. Only the demo seed uses it, to show a history of cycles
    /// behind the current one; the audit trail keeps the true times.
    async fn seed_backdate_cycle(
        &mut self,
        cycle_id: String,
        created_at: i64,
    ) -> Result<(), ActorError> {
        let mut tx = self.db.begin_write().await?;
        let row = self.load_cycle(&mut tx, &cycle_id).await?;
        let shift = created_at - row.created_at;
        sqlx::query("UPDATE cycles SET created_at = $3 WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(&cycle_id)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;

        // A time that is not set stays unset: NULL plus a shift is NULL.
        sqlx::query(
            "UPDATE reviews SET updated_at = updated_at + $3, \
             submitted_at = submitted_at + $3, shared_at = shared_at + $3, \
             reviewee_signed_at = reviewee_signed_at + $3, \
             reviewer_signed_at = reviewer_signed_at + $3 \
             WHERE company_id = $1 AND cycle_id = $2",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .bind(shift)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE calibrations SET calibrated_at = calibrated_at + $3 \
             WHERE company_id = $1 AND review_id IN \
             (SELECT id FROM reviews WHERE company_id = $1 AND cycle_id = $2)",
        )
        .bind(&self.id)
        .bind(&cycle_id)
        .bind(shift)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
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

    /// Creates a cycle with its questionnaire and its reviews (HR admins and assistants).
    pub async fn create_cycle(
        &self,
        principal: Principal,
        new: NewCycle,
        client: Client,
    ) -> Result<Cycle, ActorError> {
        self.call(move |c| Box::pin(c.create_cycle(principal, new, client)))
            .await
    }

    /// Moves a cycle to its next phase (HR admins and assistants).
    pub async fn advance_cycle(
        &self,
        principal: Principal,
        cycle_id: String,
        expected: Option<Phase>,
        client: Client,
    ) -> Result<Cycle, ActorError> {
        let to = Move::Next(expected);
        self.call(move |c| Box::pin(c.move_cycle(principal, cycle_id, to, client)))
            .await
    }

    /// Closes a cycle, whatever its phase (HR admins and assistants).
    pub async fn close_cycle(
        &self,
        principal: Principal,
        cycle_id: String,
        client: Client,
    ) -> Result<Cycle, ActorError> {
        self.call(move |c| Box::pin(c.move_cycle(principal, cycle_id, Move::Close, client)))
            .await
    }

    /// Demo seeding only: moves a cycle's creation, and the times its reviews carry,
    /// back to `created_at` (milliseconds since the epoch).
    pub async fn seed_backdate_cycle(
        &self,
        cycle_id: String,
        created_at: i64,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.seed_backdate_cycle(cycle_id, created_at)))
            .await
    }

    /// A cycle's progress (HR admins and assistants).
    pub async fn cycle_progress(
        &self,
        principal: Principal,
        cycle_id: String,
    ) -> Result<Progress, ActorError> {
        self.call(move |c| Box::pin(async move { c.progress(&principal, &cycle_id).await }))
            .await
    }
}
