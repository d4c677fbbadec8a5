//! Reviews: who may read and write them, draft saves with optimistic versions, submit.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;

use super::audit::unsafe_in_text;
use super::presence::{ReviewState, SavedEvent};
use super::{Company, CompanyHandle, ExportedReview};
use crate::crypto::REVIEW_ANSWERS;
use crate::db::now_ms;
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{
    Answer, AnswerConflict, Answers, Client, DraftUpdate, MAX_OBJECTIVE_COMMENT_CHARS,
    MAX_TEXT_ANSWER_CHARS, ObjectiveAnswer, Phase, Principal, Question, QuestionKind, RatingScale,
    Review, ReviewConflict, ReviewKind, ReviewStatus, ReviewSummary, Saved, objectives_score,
    rfc3339,
};

/// The columns of a review with its cycle and both people, each with its own company so
/// the guard sees them all. Joins match on ids alone on purpose (see [`crate::guard`]).
/// `{answers}` is the answers column (sealed), or an empty text where a list doesn't need
/// it.
const REVIEW_SELECT: &str = "SELECT r.company_id, r.id, r.cycle_id, r.reviewee_id, \
     r.reviewer_id, r.kind, r.status, {answers} AS answers, r.answer_versions, r.version, \
     r.updated_at, r.submitted_at, r.shared_at, r.reviewee_signed_at, r.reviewer_signed_at, \
     r.objectives_basis, c.company_id AS cycle_company_id, c.name AS cycle_name, \
     c.phase AS cycle_phase, \
     c.rating_min, c.rating_max, \
     ee.company_id AS reviewee_company_id, ee.name AS reviewee_name, \
     ee.manager_id AS reviewee_manager_id, \
     er.company_id AS reviewer_company_id, er.name AS reviewer_name \
     FROM reviews r JOIN cycles c ON c.id = r.cycle_id \
     JOIN users ee ON ee.id = r.reviewee_id JOIN users er ON er.id = r.reviewer_id";

/// How deep a reporting line is followed when looking for a reviewee's managers.
const MAX_REPORTING_DEPTH: i64 = 32;

#[derive(sqlx::FromRow)]
struct ReviewRow {
    company_id: String,
    id: String,
    cycle_id: String,
    reviewee_id: String,
    reviewer_id: String,
    kind: String,
    status: String,
    answers: String,
    /// Question id → the version that last changed its answer (ids and numbers only).
    answer_versions: String,
    version: i64,
    updated_at: i64,
    submitted_at: Option<i64>,
    shared_at: Option<i64>,
    reviewee_signed_at: Option<i64>,
    reviewer_signed_at: Option<i64>,
    /// What the objectives score was frozen on at submit (see [`Basis`]), if it was.
    objectives_basis: Option<String>,
    cycle_company_id: String,
    cycle_name: String,
    cycle_phase: String,
    rating_min: i64,
    rating_max: i64,
    reviewee_company_id: String,
    reviewee_name: String,
    reviewee_manager_id: Option<String>,
    reviewer_company_id: String,
    reviewer_name: String,
}

impl Owned for ReviewRow {
    const TABLE: &'static str = "reviews";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![
            &self.company_id,
            &self.cycle_company_id,
            &self.reviewee_company_id,
            &self.reviewer_company_id,
        ]
    }
}

impl ReviewRow {
    fn status(&self) -> ReviewStatus {
        ReviewStatus::parse(&self.status).unwrap_or(ReviewStatus::NotStarted)
    }

    fn kind(&self) -> ReviewKind {
        if self.kind == "manager" {
            ReviewKind::Manager
        } else {
            ReviewKind::SelfReview
        }
    }

    /// The cycle's phase; an unknown stored name counts as closed, the safe side.
    fn phase(&self) -> Phase {
        Phase::parse(&self.cycle_phase).unwrap_or(Phase::Closed)
    }

    fn rating_scale(&self) -> RatingScale {
        RatingScale {
            min: self.rating_min,
            max: self.rating_max,
        }
    }

    fn answer_versions(&self) -> BTreeMap<String, i64> {
        serde_json::from_str(&self.answer_versions).unwrap_or_default()
    }

    fn summary(&self) -> ReviewSummary {
        ReviewSummary {
            id: self.id.clone(),
            cycle_id: self.cycle_id.clone(),
            cycle_name: self.cycle_name.clone(),
            cycle_phase: self.phase(),
            reviewee_id: self.reviewee_id.clone(),
            reviewee_name: self.reviewee_name.clone(),
            reviewer_id: self.reviewer_id.clone(),
            reviewer_name: self.reviewer_name.clone(),
            kind: self.kind(),
            status: self.status(),
            version: self.version,
            updated_at: rfc3339(self.updated_at),
            shared_at: self.shared_at.map(rfc3339),
            reviewee_signed_at: self.reviewee_signed_at.map(rfc3339),
            reviewer_signed_at: self.reviewer_signed_at.map(rfc3339),
        }
    }
}

fn review_select(with_answers: bool) -> String {
    REVIEW_SELECT.replace("{answers}", if with_answers { "r.answers" } else { "''" })
}

/// The objectives of the reviewee linked into the review's cycle: id → weight.
pub(super) type Linked = BTreeMap<String, Option<i64>>;

/// The reviewee's objectives linked into the cycle with their weights, in link order,
/// as they were when the review was submitted: a handed-in review's objectives and
/// score stay on these whatever happens to the links later. Stored as JSON (ids and
/// numbers only) in `reviews.objectives_basis`.
pub(super) type Basis = Vec<(String, Option<i64>)>;

/// A stored basis; `None` when there is none (a draft, a review submitted before
/// bases were kept) or it cannot be read, and the current links count instead.
pub(super) fn parse_basis(stored: Option<&str>) -> Option<Basis> {
    stored.and_then(|json| serde_json::from_str(json).ok())
}

/// The stored form of a basis.
pub(super) fn basis_json(basis: &Basis) -> Result<String, ActorError> {
    serde_json::to_string(basis)
        .map_err(|_| ActorError::Validation("the objectives could not be stored".into()))
}

/// The weights of a basis, for scoring.
pub(super) fn basis_weights(basis: &Basis) -> Linked {
    basis.iter().cloned().collect()
}

/// Applies a draft update to the stored answers, checking each against its question.
/// `linked` are the objectives an objectives question may rate.
fn merge_answers(
    mut answers: Answers,
    update: DraftUpdate,
    questions: &[Question],
    scale: RatingScale,
    linked: &Linked,
) -> Result<Answers, ActorError> {
    for (question_id, answer) in update.answers {
        let question = questions
            .iter()
            .find(|q| q.id == question_id)
            .ok_or_else(|| ActorError::Validation(format!("unknown question {question_id}")))?;
        match (question.kind, answer) {
            (_, None) => {
                answers.remove(&question_id);
            }
            (QuestionKind::Text, Some(Answer::Text(text))) => {
                if text.chars().count() > MAX_TEXT_ANSWER_CHARS {
                    return Err(ActorError::Validation(format!(
                        "an answer may have at most {MAX_TEXT_ANSWER_CHARS} characters"
                    )));
                }
                if unsafe_in_text(&text, true) {
                    return Err(ActorError::Validation(format!(
                        "the answer to question {question_id} holds control characters or \
                         invisible characters that reorder text"
                    )));
                }
                answers.insert(question_id, Answer::Text(text));
            }
            (QuestionKind::Rating, Some(Answer::Rating(rating))) if scale.contains(rating) => {
                answers.insert(question_id, Answer::Rating(rating));
            }
            (QuestionKind::Objectives, Some(Answer::Objectives(rated))) => {
                let stored = match answers.get(&question_id) {
                    Some(Answer::Objectives(stored)) => Some(stored),
                    _ => None,
                };
                let rated = check_objective_answers(rated, stored, scale, linked)?;
                answers.insert(question_id, Answer::Objectives(rated));
            }
            (QuestionKind::Rating, Some(_)) => {
                return Err(ActorError::Validation(format!(
                    "question {question_id} takes a rating from {} to {}",
                    scale.min, scale.max
                )));
            }
            (QuestionKind::Text, Some(_)) => {
                return Err(ActorError::Validation(format!(
                    "question {question_id} takes a text answer"
                )));
            }
            (QuestionKind::Objectives, Some(_)) => {
                return Err(ActorError::Validation(format!(
                    "question {question_id} takes an object of ratings keyed by objective id"
                )));
            }
        }
    }
    Ok(answers)
}

/// Checks an objectives answer: each key must be an objective of the reviewee linked
/// into the cycle, each rating on the scale, each comment short. An objective unlinked
/// since it was rated may stay, unchanged, so that saving the rest does not drop it.
/// Any other id, whether made up, someone else's or another company's, gets the same
/// answer, so the check tells nothing about objectives the writer may not see.
pub(super) fn check_objective_answers(
    rated: BTreeMap<String, ObjectiveAnswer>,
    stored: Option<&BTreeMap<String, ObjectiveAnswer>>,
    scale: RatingScale,
    linked: &Linked,
) -> Result<BTreeMap<String, ObjectiveAnswer>, ActorError> {
    let mut checked = BTreeMap::new();
    for (objective_id, mut answer) in rated {
        answer.comment = answer
            .comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        let kept = stored.and_then(|s| s.get(&objective_id)) == Some(&answer);
        if !linked.contains_key(&objective_id) && !kept {
            return Err(ActorError::Validation(format!(
                "objective {objective_id} is not an objective of the reviewee linked to \
                 this cycle"
            )));
        }
        if !scale.contains(answer.rating) {
            return Err(ActorError::Validation(format!(
                "objective {objective_id} takes a rating from {} to {}",
                scale.min, scale.max
            )));
        }
        if let Some(comment) = &answer.comment {
            if comment.chars().count() > MAX_OBJECTIVE_COMMENT_CHARS {
                return Err(ActorError::Validation(format!(
                    "a comment on an objective may have at most \
                     {MAX_OBJECTIVE_COMMENT_CHARS} characters"
                )));
            }
            if unsafe_in_text(comment, true) {
                return Err(ActorError::Validation(format!(
                    "the comment on objective {objective_id} holds control characters or \
                     invisible characters that reorder text"
                )));
            }
        }
        checked.insert(objective_id, answer);
    }
    Ok(checked)
}

/// Splits an update based on an older version into the answers to apply and those that
/// conflict. An answer equal to the stored one is neither: both sides agree.
fn split_update(
    stored: &Answers,
    answer_versions: &BTreeMap<String, i64>,
    update: DraftUpdate,
) -> (DraftUpdate, Vec<AnswerConflict>) {
    let base = update.version;
    let mut apply = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (question_id, yours) in update.answers {
        let theirs = stored.get(&question_id);
        if yours.as_ref() == theirs {
            continue;
        }
        let changed_at = answer_versions.get(&question_id).copied().unwrap_or(0);
        if changed_at > base {
            conflicts.push(AnswerConflict {
                theirs: theirs.cloned(),
                question_id,
                yours,
                their_version: changed_at,
            });
        } else {
            apply.insert(question_id, yours);
        }
    }
    let apply = DraftUpdate {
        answers: apply,
        version: base,
    };
    (apply, conflicts)
}

/// Names the questions a review cannot be submitted without. An objectives question
/// is answered once every linked objective is rated, so with none linked it needs
/// nothing.
fn unanswered(answers: &Answers, questions: &[Question], linked: &Linked) -> Vec<String> {
    questions
        .iter()
        .filter(|q| match (q.kind, answers.get(&q.id)) {
            (QuestionKind::Objectives, Some(Answer::Objectives(rated))) => {
                linked.keys().any(|id| !rated.contains_key(id))
            }
            (QuestionKind::Objectives, _) => !linked.is_empty(),
            (_, None) => true,
            (_, Some(Answer::Text(text))) => text.trim().is_empty(),
            (_, Some(Answer::Rating(_) | Answer::Objectives(_))) => false,
        })
        .map(|q| q.prompt.clone())
        .collect()
}

/// The weighted score of the objectives answer among `answers`, over `linked`; `None`
/// when there is no such answer or it rates no linked objective.
pub(super) fn score_in(answers: &Answers, linked: Option<&Linked>) -> Option<f64> {
    let linked = linked?;
    answers.values().find_map(|answer| match answer {
        Answer::Objectives(rated) => objectives_score(rated, linked),
        _ => None,
    })
}

/// Whether an export by `reader` (an HR admin) leaves a review's content out: one about
/// them, by someone else, not shared with them yet, which they could not read otherwise.
pub(super) fn kept_from_exporter(
    reader: &str,
    reviewee_id: &str,
    reviewer_id: &str,
    status: &str,
) -> bool {
    reviewee_id == reader && reviewer_id != reader && !matches!(status, "shared" | "signed")
}

impl Company {
    /// The answers of a review row read with its answers column.
    fn answers(&self, row: &ReviewRow) -> Result<Answers, ActorError> {
        let json = self.open(REVIEW_ANSWERS, &row.id, &row.answers)?;
        Ok(serde_json::from_str(&json).unwrap_or_default())
    }

    /// The stored form of a review's answers: JSON, sealed for that review.
    pub(super) fn sealed_answers(
        &self,
        review_id: &str,
        answers: &Answers,
    ) -> Result<String, ActorError> {
        let json = serde_json::to_string(answers)
            .map_err(|_| ActorError::Validation("the answers could not be stored".into()))?;
        self.seal(REVIEW_ANSWERS, review_id, &json)
    }

    async fn list_reviews(
        &mut self,
        principal: Principal,
    ) -> Result<Vec<ReviewSummary>, ActorError> {
        let sql = format!(
            "{} WHERE r.company_id = $1 AND (r.reviewer_id = $2 OR (r.reviewee_id = $2 \
             AND r.status IN ('shared', 'signed'))) ORDER BY r.updated_at DESC",
            review_select(false)
        );
        let rows: Vec<ReviewRow> = sqlx::query_as(&sql)
            .bind(&self.id)
            .bind(&principal.user_id)
            .fetch_all(self.db.pool())
            .await?;
        self.check_all(&rows)?;
        Ok(rows.iter().map(ReviewRow::summary).collect())
    }

    /// Loads a review the principal may read, or answers `NotFound` exactly as for an id
    /// that does not exist.
    async fn load_readable(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
        review_id: &str,
    ) -> Result<ReviewRow, ActorError> {
        let sql = format!(
            "{} WHERE r.company_id = $1 AND r.id = $2",
            review_select(true)
        );
        let row: ReviewRow = sqlx::query_as(&sql)
            .bind(&self.id)
            .bind(review_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(ActorError::NotFound)?;
        self.check(&row)?;

        let me = principal.user_id.as_str();
        let shared = matches!(row.status(), ReviewStatus::Shared | ReviewStatus::Signed);
        // A review about oneself stays hidden until it is shared, whatever one's role:
        // HR admins and managers are reviewed too.
        let about_me_unshared = row.reviewee_id == me && row.reviewer_id != me && !shared;
        let readable = !about_me_unshared
            && (row.reviewer_id == me
                || (row.reviewee_id == me && shared)
                || principal.roles.hr_admin
                || (principal.roles.manager && self.manages(conn, me, &row).await?));
        if readable {
            Ok(row)
        } else {
            Err(ActorError::NotFound)
        }
    }

    /// Whether `manager` reads reviews about the reviewee of `row` as their manager:
    /// always as the direct manager, further up the reporting line only when the
    /// company lets managers see their skip-level reports.
    async fn manages(
        &self,
        conn: &mut sqlx::AnyConnection,
        manager: &str,
        row: &ReviewRow,
    ) -> Result<bool, ActorError> {
        if row.reviewee_manager_id.as_deref() == Some(manager) {
            return Ok(true);
        }
        if !self.skip_level_visible(conn).await? {
            return Ok(false);
        }
        let user = row.reviewee_id.as_str();
        let (found,): (i64,) = sqlx::query_as(
            "WITH RECURSIVE chain (id, depth) AS ( \
               SELECT manager_id, 1 FROM users WHERE company_id = $1 AND id = $2 \
               UNION ALL \
               SELECT u.manager_id, chain.depth + 1 FROM users u JOIN chain \
               ON u.company_id = $1 AND u.id = chain.id WHERE chain.depth < $4) \
             SELECT COUNT(*) FROM chain WHERE id = $3",
        )
        .bind(&self.id)
        .bind(user)
        .bind(manager)
        .bind(MAX_REPORTING_DEPTH)
        .fetch_one(&mut *conn)
        .await?;
        Ok(found > 0)
    }

    /// The version and status of a review the principal may read.
    pub(super) async fn load_review_state(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
        review_id: &str,
    ) -> Result<ReviewState, ActorError> {
        let row = self.load_readable(conn, principal, review_id).await?;
        Ok(ReviewState {
            status: row.status(),
            cycle_id: row.cycle_id,
            version: row.version,
        })
    }

    /// The reviewee's objectives linked into the review's cycle, when its questionnaire
    /// has an objectives question (none to look up otherwise).
    async fn linked_for(
        &self,
        conn: &mut sqlx::AnyConnection,
        row: &ReviewRow,
        questions: &[Question],
    ) -> Result<Linked, ActorError> {
        if questions.iter().any(|q| q.kind == QuestionKind::Objectives) {
            self.linked_weights(conn, &row.cycle_id, &row.reviewee_id)
                .await
        } else {
            Ok(Linked::new())
        }
    }

    async fn get_review(&mut self, principal: Principal, id: String) -> Result<Review, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let row = self.load_readable(&mut conn, &principal, &id).await?;
        let questions = self.load_questions(&mut conn, &row.cycle_id).await?;
        self.review_view(&mut conn, &principal, &row, questions)
            .await
    }

    /// A readable review as the principal sees it. Calibrated ratings replace the
    /// manager's in what the reviewee reads; everyone else who reads it sees both.
    async fn review_view(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
        row: &ReviewRow,
        questions: Vec<Question>,
    ) -> Result<Review, ActorError> {
        let mut answers = self.answers(row)?;
        let mut calibrated_ratings = None;
        if row.kind() == ReviewKind::Manager
            && let Some((ratings, _)) = self.load_calibration(conn, &row.id).await?
        {
            let reader_is_subject =
                row.reviewee_id == principal.user_id && row.reviewer_id != principal.user_id;
            if reader_is_subject {
                for (question_id, rating) in ratings {
                    answers.insert(question_id, Answer::Rating(rating));
                }
            } else {
                calibrated_ratings = Some(ratings);
            }
        }

        // The objectives question shows the linked objectives and their weighted score
        // to whoever reads the review: the caller got `row` from `load_readable`.
        let (mut objectives, mut score) = (None, None);
        if let Some(question) = questions
            .iter()
            .find(|q| q.kind == QuestionKind::Objectives)
        {
            let linked = match parse_basis(row.objectives_basis.as_deref()) {
                Some(basis) => {
                    self.review_objectives_of(conn, &row.reviewee_id, basis)
                        .await?
                }
                None => {
                    self.linked_review_objectives(conn, &row.cycle_id, &row.reviewee_id)
                        .await?
                }
            };
            let weights: Linked = linked.iter().map(|o| (o.id.clone(), o.weight)).collect();
            score = Some(match answers.get(&question.id) {
                Some(Answer::Objectives(rated)) => objectives_score(rated, &weights),
                _ => None,
            });
            objectives = Some(linked);
        }
        Ok(Review {
            summary: row.summary(),
            answers,
            questions,
            rating_scale: row.rating_scale(),
            calibrated_ratings,
            objectives,
            objectives_score: score,
        })
    }

    /// Loads a review for a change by its writer: `NotFound` if the principal can't read
    /// it, `Forbidden` if they can but don't write it, `Conflict` if it is handed in.
    async fn load_writable(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
        id: &str,
    ) -> Result<(ReviewRow, Vec<Question>), ActorError> {
        let row = self.load_readable(conn, principal, id).await?;
        if row.reviewer_id != principal.user_id {
            return Err(ActorError::Forbidden);
        }
        if row.phase() == Phase::Closed {
            return Err(ActorError::Conflict("the cycle is closed".into()));
        }
        if !row.status().is_editable() {
            return Err(ActorError::Conflict(format!(
                "the review is {} and can no longer be changed",
                row.status().as_str()
            )));
        }
        let questions = self.load_questions(conn, &row.cycle_id).await?;
        Ok((row, questions))
    }

    async fn save_draft(
        &mut self,
        principal: Principal,
        id: String,
        update: DraftUpdate,
        client: Client,
    ) -> Result<Saved, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let (row, questions) = self.load_writable(&mut tx, &principal, &id).await?;
        if update.version > row.version || update.version < 0 {
            return Err(ActorError::Conflict(
                "this version of the review does not exist; reload it".into(),
            ));
        }
        let expected_version = row.version;
        let before = self.answers(&row)?;

        // Check every answer sent before deciding anything, so a bad one is a 422 even
        // when it also conflicts.
        let scale = row.rating_scale();
        let linked = self.linked_for(&mut tx, &row, &questions).await?;
        merge_answers(before.clone(), update.clone(), &questions, scale, &linked)?;

        // Merge at answer level: an answer the caller changes (it differs from the
        // stored one) is taken when nobody changed it after the caller's version; when
        // somebody did, both versions go back in a 409 and nothing is written.
        let mut answer_versions = row.answer_versions();
        let (apply, conflicts) = split_update(&before, &answer_versions, update);
        if !conflicts.is_empty() {
            return Err(ActorError::EditConflict(Box::new(ReviewConflict {
                version: row.version,
                answers: conflicts,
            })));
        }
        let touched: Vec<String> = apply.answers.keys().cloned().collect();
        let after = merge_answers(before.clone(), apply, &questions, scale, &linked)?;
        let changed: Vec<String> = touched
            .into_iter()
            .filter(|q| before.get(q) != after.get(q))
            .collect();
        for q in &changed {
            answer_versions.insert(q.clone(), expected_version + 1);
        }
        let answers = self.sealed_answers(&id, &after)?;
        let answer_versions = serde_json::to_string(&answer_versions)
            .map_err(|_| ActorError::Validation("the answers could not be stored".into()))?;

        let now = now_ms();
        let saved = sqlx::query(
            "UPDATE reviews SET answers = $3, answer_versions = $6, version = version + 1, \
             status = 'draft', updated_at = $4 WHERE company_id = $1 AND id = $2 \
             AND version = $5",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(&answers)
        .bind(now)
        .bind(expected_version)
        .bind(&answer_versions)
        .execute(&mut *tx)
        .await?;
        if saved.rows_affected() != 1 {
            return Err(ActorError::Conflict(
                "the review was changed meanwhile".into(),
            ));
        }
        let detail = serde_json::json!({ "version": expected_version + 1 });
        let (actor, target) = (Some(principal.user_id.as_str()), Some(id.as_str()));
        self.record_audit(
            &mut *tx,
            actor,
            "review_draft_saved",
            target,
            &client,
            detail,
        )
        .await?;
        tx.commit().await?;

        // The first save moves the review from not started to draft: the dashboard counts
        // that, so it hears of it.
        if row.status() == ReviewStatus::NotStarted {
            self.publish_progress(&row.cycle_id).await;
        }

        // The review's viewers hear of the new version and of the answers it changed.
        let saved = Saved {
            version: expected_version + 1,
            status: ReviewStatus::Draft,
            updated_at: rfc3339(now),
        };
        let changed_answers: Answers = changed
            .iter()
            .filter_map(|q| after.get(q).map(|a| (q.clone(), a.clone())))
            .collect();
        let event = SavedEvent {
            version: saved.version,
            status: saved.status.as_str(),
            updated_at: &saved.updated_at,
            changed: changed.iter().map(String::as_str).collect(),
            answers: &changed_answers,
        };
        self.publish_saved(&id, &event);
        Ok(saved)
    }

    async fn submit(
        &mut self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<Review, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let (row, questions) = self.load_writable(&mut tx, &principal, &id).await?;
        let linked = self.linked_for(&mut tx, &row, &questions).await?;
        let missing = unanswered(&self.answers(&row)?, &questions, &linked);
        if !missing.is_empty() {
            return Err(ActorError::Validation(format!(
                "answer every question before submitting; missing: {}",
                missing.join("; ")
            )));
        }

        // A manager may draft early, but hands the review in only once the reviewee's
        // self review is in, or once the cycle has moved on to manager reviews.
        if row.kind() == ReviewKind::Manager && row.phase() == Phase::SelfReview {
            let own: Option<(String,)> = sqlx::query_as(
                "SELECT status FROM reviews WHERE company_id = $1 AND cycle_id = $2 \
                 AND reviewee_id = $3 AND kind = 'self'",
            )
            .bind(&self.id)
            .bind(&row.cycle_id)
            .bind(&row.reviewee_id)
            .fetch_optional(&mut *tx)
            .await?;
            let pending = own
                .and_then(|(status,)| ReviewStatus::parse(&status))
                .is_some_and(ReviewStatus::is_editable);
            if pending {
                return Err(ActorError::Conflict(
                    "the self review is not submitted yet: a manager review can be submitted \
                     once it is, or once the cycle moves on to manager reviews"
                        .into(),
                ));
            }
        }
        // The objectives score is frozen on the links as they are now: changing them
        // later does not move what was handed in.
        let basis = if questions.iter().any(|q| q.kind == QuestionKind::Objectives) {
            let basis = self
                .linked_in_order(&mut tx, &row.cycle_id, &row.reviewee_id)
                .await?;
            Some(basis_json(&basis)?)
        } else {
            None
        };
        let now = now_ms();
        sqlx::query(
            "UPDATE reviews SET status = 'submitted', version = version + 1, updated_at = $3, \
             submitted_at = $3, objectives_basis = $4 WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(now)
        .bind(basis)
        .execute(&mut *tx)
        .await?;

        // Read the review back inside the transaction: what the caller is told is what
        // was committed, and a foreign row found here still rolls the submit back.
        let row = self.load_readable(&mut tx, &principal, &id).await?;
        let (actor, target) = (Some(principal.user_id.as_str()), Some(id.as_str()));
        let detail = serde_json::json!({ "cycle_id": row.cycle_id });
        self.record_audit(&mut *tx, actor, "review_submitted", target, &client, detail)
            .await?;
        tx.commit().await?;
        self.publish_progress(&row.cycle_id).await;
        let updated_at = rfc3339(row.updated_at);
        let event = SavedEvent {
            version: row.version,
            status: row.status().as_str(),
            updated_at: &updated_at,
            changed: Vec::new(),
            answers: &Answers::new(),
        };
        self.publish_saved(&id, &event);
        let mut conn = self.db.pool().acquire().await?;
        self.review_view(&mut conn, &principal, &row, questions)
            .await
    }

    /// Shares a submitted manager review with its reviewee: its writer or an HR admin,
    /// once the cycle is in its sharing or sign-off phase.
    async fn share(
        &mut self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<Review, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let row = self.load_readable(&mut tx, &principal, &id).await?;
        if row.reviewer_id != principal.user_id && !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        if row.kind() != ReviewKind::Manager {
            return Err(ActorError::Conflict(
                "only manager reviews are shared; a self review goes to the manager".into(),
            ));
        }
        if !matches!(row.phase(), Phase::Sharing | Phase::SignOff) {
            return Err(ActorError::Conflict(format!(
                "reviews are shared in the sharing phase; the cycle is in {}",
                row.phase().as_str()
            )));
        }
        if row.status() != ReviewStatus::Submitted {
            return Err(ActorError::Conflict(format!(
                "only a submitted review can be shared; this one is {}",
                row.status().as_str()
            )));
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE reviews SET status = 'shared', version = version + 1, updated_at = $3, \
             shared_at = $3, shared_by = $4 WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(now)
        .bind(&principal.user_id)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "cycle_id": row.cycle_id,
            "reviewee_id": row.reviewee_id });
        let (actor, target) = (Some(principal.user_id.as_str()), Some(id.as_str()));
        self.record_audit(&mut *tx, actor, "review_shared", target, &client, detail)
            .await?;
        self.finish_transition(tx, &principal, &id).await
    }

    /// Signs a shared manager review as its reviewee or its writer, in the sign-off
    /// phase. It is `signed` once both have signed.
    async fn sign(
        &mut self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<Review, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let row = self.load_readable(&mut tx, &principal, &id).await?;
        let me = principal.user_id.as_str();
        let column = if row.reviewee_id == me {
            "reviewee_signed_at"
        } else if row.reviewer_id == me {
            "reviewer_signed_at"
        } else {
            return Err(ActorError::Forbidden);
        };
        if row.kind() != ReviewKind::Manager {
            return Err(ActorError::Conflict(
                "only manager reviews are signed off".into(),
            ));
        }
        if row.phase() != Phase::SignOff {
            return Err(ActorError::Conflict(format!(
                "reviews are signed in the sign-off phase; the cycle is in {}",
                row.phase().as_str()
            )));
        }
        let already = if column == "reviewee_signed_at" {
            row.reviewee_signed_at
        } else {
            row.reviewer_signed_at
        };
        if row.status() != ReviewStatus::Shared || already.is_some() {
            return Err(ActorError::Conflict(format!(
                "only a shared review you have not signed yet can be signed; this one is {}",
                row.status().as_str()
            )));
        }
        let now = now_ms();
        sqlx::query(&format!(
            "UPDATE reviews SET {column} = $3, version = version + 1, updated_at = $3 \
             WHERE company_id = $1 AND id = $2"
        ))
        .bind(&self.id)
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE reviews SET status = 'signed' WHERE company_id = $1 AND id = $2 \
             AND reviewee_signed_at IS NOT NULL AND reviewer_signed_at IS NOT NULL",
        )
        .bind(&self.id)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        let role = if column == "reviewee_signed_at" {
            "reviewee"
        } else {
            "reviewer"
        };
        let detail = serde_json::json!({ "cycle_id": row.cycle_id, "signed_as": role });
        let (actor, target) = (Some(me), Some(id.as_str()));
        self.record_audit(&mut *tx, actor, "review_signed", target, &client, detail)
            .await?;
        self.finish_transition(tx, &principal, &id).await
    }

    /// Reads a review back inside the transaction of its status change, commits, and
    /// tells the cycle's dashboards and the review's viewers.
    async fn finish_transition(
        &mut self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        principal: &Principal,
        id: &str,
    ) -> Result<Review, ActorError> {
        let row = self.load_readable(&mut tx, principal, id).await?;
        let questions = self.load_questions(&mut tx, &row.cycle_id).await?;
        tx.commit().await?;
        self.publish_progress(&row.cycle_id).await;
        let updated_at = rfc3339(row.updated_at);
        let event = SavedEvent {
            version: row.version,
            status: row.status().as_str(),
            updated_at: &updated_at,
            changed: Vec::new(),
            answers: &Answers::new(),
        };
        self.publish_saved(id, &event);
        let mut conn = self.db.pool().acquire().await?;
        self.review_view(&mut conn, principal, &row, questions)
            .await
    }

    /// One page of a cycle's reviews with their answers, in id order after `after`, for
    /// the export. The caller has checked that the principal may export the cycle.
    /// `reader` is the exporting HR admin: a review about them that they may not read
    /// yet (written by someone else, not shared) is exported without its answers.
    pub(super) async fn review_export_page(
        &self,
        reader: &str,
        cycle_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ExportedReview>, ActorError> {
        let sql = format!(
            "{} WHERE r.company_id = $1 AND r.cycle_id = $2 AND r.id > $3 \
             ORDER BY r.id LIMIT $4",
            review_select(true)
        );
        let rows: Vec<ReviewRow> = sqlx::query_as(&sql)
            .bind(&self.id)
            .bind(cycle_id)
            .bind(after)
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?;
        self.check_all(&rows)?;

        // One look-up of the cycle's links serves the scores of the whole page.
        let mut conn = self.db.pool().acquire().await?;
        let links = self.cycle_link_weights(&mut conn, cycle_id).await?;
        let mut calibrations = self
            .calibrations_page(&mut conn, cycle_id, after, limit)
            .await?;
        rows.iter()
            .map(|row| {
                let hidden =
                    kept_from_exporter(reader, &row.reviewee_id, &row.reviewer_id, &row.status);
                let (answers, calibrated) = if hidden {
                    (Answers::new(), BTreeMap::new())
                } else {
                    let calibrated = calibrations.remove(&row.id).unwrap_or_default();
                    (self.answers(row)?, calibrated)
                };
                Ok(ExportedReview {
                    summary: row.summary(),
                    submitted_at: row.submitted_at.map(rfc3339),
                    objectives_score: match parse_basis(row.objectives_basis.as_deref()) {
                        Some(basis) => score_in(&answers, Some(&basis_weights(&basis))),
                        None => score_in(&answers, links.get(&row.reviewee_id)),
                    },
                    answers,
                    calibrated,
                })
            })
            .collect()
    }

    /// Puts a review into a status with given answers, without the usual rules. Only
    /// the demo seed uses it, to show reviews in every state.
    async fn seed_review(
        &mut self,
        id: String,
        status: ReviewStatus,
        answers: Answers,
    ) -> Result<(), ActorError> {
        let answers = self.sealed_answers(&id, &answers)?;
        let now = now_ms();
        let submitted_at = (!status.is_editable()).then_some(now);
        let shared_at =
            matches!(status, ReviewStatus::Shared | ReviewStatus::Signed).then_some(now);
        let signed_at = (status == ReviewStatus::Signed).then_some(now);
        sqlx::query(
            "UPDATE reviews SET status = $3, answers = $4, version = version + 1, \
             updated_at = $5, submitted_at = $6, shared_at = $7, reviewee_signed_at = $8, \
             reviewer_signed_at = $8 WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(status.as_str())
        .bind(&answers)
        .bind(now)
        .bind(submitted_at)
        .bind(shared_at)
        .bind(signed_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}

impl CompanyHandle {
    /// The reviews the principal writes, and those about them that were shared.
    pub async fn list_reviews(
        &self,
        principal: Principal,
    ) -> Result<Vec<ReviewSummary>, ActorError> {
        self.call(move |c| Box::pin(c.list_reviews(principal)))
            .await
    }

    /// One review with its answers, if the principal may read it.
    pub async fn get_review(&self, principal: Principal, id: String) -> Result<Review, ActorError> {
        self.call(move |c| Box::pin(c.get_review(principal, id)))
            .await
    }

    /// Saves a draft by its writer. `update.version` is the version the changes were
    /// made on: answers nobody else changed since are merged in; answers changed on both
    /// sides answer [`ActorError::EditConflict`] with both versions, writing nothing.
    pub async fn save_draft(
        &self,
        principal: Principal,
        id: String,
        update: DraftUpdate,
        client: Client,
    ) -> Result<Saved, ActorError> {
        self.call(move |c| Box::pin(c.save_draft(principal, id, update, client)))
            .await
    }

    /// Submits a review by its writer once every question is answered.
    pub async fn submit_review(
        &self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<Review, ActorError> {
        self.call(move |c| Box::pin(c.submit(principal, id, client)))
            .await
    }

    /// Shares a submitted manager review with its reviewee (its writer or an HR admin).
    pub async fn share_review(
        &self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<Review, ActorError> {
        self.call(move |c| Box::pin(c.share(principal, id, client)))
            .await
    }

    /// Signs a shared manager review as its reviewee or its writer.
    pub async fn sign_review(
        &self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<Review, ActorError> {
        self.call(move |c| Box::pin(c.sign(principal, id, client)))
            .await
    }

    /// Demo seeding only: sets a review's status and answers directly.
    pub async fn seed_review(
        &self,
        id: String,
        status: ReviewStatus,
        answers: Answers,
    ) -> Result<(), ActorError> {
        self.call(move |c| -> BoxFuture<'_, _> { Box::pin(c.seed_review(id, status, answers)) })
            .await
    }
}
