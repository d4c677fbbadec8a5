//! 360 feedback: per-cycle settings, nominations with manager approval, writing and
//! submitting feedback, and results that keep anonymous authors unknowable.
//!
//! How anonymity holds, end to end:
//! - A nomination row (`feedback_requests`) links a reviewer to a subject, because the
//!   reviewer needs it to write. It carries no time of submission.
//! - At submission the answers leave that row. Anonymous answers go into
//!   `feedback_answers` without author, request or time, under a random id, and all
//!   anonymous rows of the subject are written again in random order, so the order in
//!   which the database stored them says nothing either.
//! - Results are released to the subject, their managers and HR admins alike only once
//!   HR closed the cycle's feedback (no answer can arrive afterwards, so no change over
//!   time points to whoever just submitted) and, when anonymous, only with at least
//!   [`MIN_ANONYMOUS_ANSWERS`] answers. Released anonymous answers are put together per
//!   question, texts sorted alphabetically, ratings counted: nothing ties the answers of
//!   one person across questions.
//! - Nobody but the reviewer sees a reviewer's progress on anonymous feedback, in the
//!   app or the XML export; HR admins see the count of anonymous answers per subject
//!   only once the feedback is closed (a count that moves dates each answer), and never
//!   about themselves and the people they manage.
//! - No live topic carries feedback. Anonymous drafts and submissions leave no entry in
//!   the audit trail (an entry has a time, and a time set beside a sign-in names its
//!   writer); closing the feedback records how many answers came in.

mod model;
mod nominations;
mod results;
mod settings;
mod writing;

pub use model::*;

use super::Company;
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Answer, Answers, DraftUpdate, Principal, Question, QuestionKind};

/// The fewest answers anonymous results are shown with: with one, its author would be
/// whichever reviewer submitted.
pub const MIN_ANONYMOUS_ANSWERS: i64 = 2;

/// The most reviewers a subject may have, and the most questions.
const MAX_REVIEWERS: i64 = 20;
const MAX_QUESTIONS: usize = 20;

/// The longest text answer, in characters.
const MAX_TEXT_CHARS: usize = 20_000;

/// How deep a reporting line is followed when looking for a subject's managers.
const MAX_REPORTING_DEPTH: i64 = 32;

/// A cycle with its feedback settings, if any.
#[derive(sqlx::FromRow)]
struct CycleSettingsRow {
    company_id: String,
    id: String,
    name: String,
    settings_company_id: Option<String>,
    enabled: Option<i64>,
    nominated_by: Option<String>,
    min_reviewers: Option<i64>,
    max_reviewers: Option<i64>,
    anonymous: Option<i64>,
    closed_at: Option<i64>,
    /// The cycle's own status: `closed` ends every change in it.
    status: String,
}

impl Owned for CycleSettingsRow {
    const TABLE: &'static str = "feedback_settings";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        let mut owners = vec![self.company_id.as_str()];
        owners.extend(self.settings_company_id.as_deref());
        owners
    }
}

/// A cycle's feedback settings as the rules use them.
#[derive(Debug, Clone)]
struct Setup {
    cycle_name: String,
    /// Whether a settings row exists at all.
    stored: bool,
    enabled: bool,
    nominated_by: Nominator,
    min: i64,
    max: i64,
    anonymous: bool,
    closed: bool,
    /// Whether the cycle itself is closed: nothing in it changes any more.
    cycle_closed: bool,
}

impl CycleSettingsRow {
    fn setup(&self) -> Setup {
        Setup {
            cycle_name: self.name.clone(),
            stored: self.settings_company_id.is_some(),
            enabled: self.enabled == Some(1),
            nominated_by: Nominator::parse(self.nominated_by.as_deref().unwrap_or("")),
            min: self.min_reviewers.unwrap_or(3),
            max: self.max_reviewers.unwrap_or(8),
            anonymous: self.anonymous.is_none_or(|a| a == 1),
            closed: self.closed_at.is_some(),
            cycle_closed: self.status == "closed",
        }
    }
}

#[derive(sqlx::FromRow)]
struct QuestionRow {
    company_id: String,
    id: String,
    kind: String,
    prompt: String,
}

impl Owned for QuestionRow {
    const TABLE: &'static str = "feedback_questions";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// A user row: who may be a subject or reviewer.
#[derive(sqlx::FromRow)]
struct PersonRow {
    company_id: String,
    id: String,
    name: String,
}

impl Owned for PersonRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// The questions a new feedback setup starts with when HR names none.
fn default_questions() -> Vec<(QuestionKind, &'static str)> {
    vec![
        (QuestionKind::Text, "What should this person keep doing?"),
        (QuestionKind::Text, "What could this person do differently?"),
        (
            QuestionKind::Rating,
            "How well do you work together? (1 = poorly, 5 = very well)",
        ),
    ]
}

/// Applies a draft update to stored answers, checking each against its question.
fn merge_answers(
    mut answers: Answers,
    update: DraftUpdate,
    questions: &[Question],
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
                if text.chars().count() > MAX_TEXT_CHARS {
                    return Err(ActorError::Validation(format!(
                        "an answer may have at most {MAX_TEXT_CHARS} characters"
                    )));
                }
                answers.insert(question_id, Answer::Text(text));
            }
            (QuestionKind::Rating, Some(Answer::Rating(rating))) if (1..=5).contains(&rating) => {
                answers.insert(question_id, Answer::Rating(rating));
            }
            (QuestionKind::Rating, Some(_)) => {
                return Err(ActorError::Validation(format!(
                    "question {question_id} takes a rating from 1 to 5"
                )));
            }
            (QuestionKind::Text | QuestionKind::Objectives, Some(_)) => {
                return Err(ActorError::Validation(format!(
                    "question {question_id} takes a text answer"
                )));
            }
        }
    }
    Ok(answers)
}

/// The prompts of the questions still unanswered.
fn unanswered(answers: &Answers, questions: &[Question]) -> Vec<String> {
    questions
        .iter()
        .filter(|q| match answers.get(&q.id) {
            None => true,
            Some(Answer::Text(text)) => text.trim().is_empty(),
            Some(Answer::Rating(_) | Answer::Objectives(_)) => false,
        })
        .map(|q| q.prompt.clone())
        .collect()
}

impl Company {
    /// A cycle of this company with its feedback settings; `NotFound` for any other id.
    async fn feedback_setup(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
    ) -> Result<Setup, ActorError> {
        let row: CycleSettingsRow = sqlx::query_as(
            "SELECT c.company_id, c.id, c.name, s.company_id AS settings_company_id, \
             s.enabled, s.nominated_by, s.min_reviewers, s.max_reviewers, s.anonymous, \
             s.closed_at, c.status FROM cycles c \
             LEFT JOIN feedback_settings s ON s.cycle_id = c.id \
             WHERE c.company_id = $1 AND c.id = $2",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&row)?;
        Ok(row.setup())
    }

    /// A cycle's feedback questionnaire, in order.
    async fn feedback_questions(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
    ) -> Result<Vec<Question>, ActorError> {
        let rows: Vec<QuestionRow> = sqlx::query_as(
            "SELECT company_id, id, kind, prompt FROM feedback_questions \
             WHERE company_id = $1 AND cycle_id = $2 ORDER BY position",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        Ok(rows
            .into_iter()
            .map(|row| Question {
                kind: if row.kind == "rating" {
                    QuestionKind::Rating
                } else {
                    QuestionKind::Text
                },
                id: row.id,
                prompt: row.prompt,
            })
            .collect())
    }

    /// An active user of this company, or `None` (another company's id included).
    async fn active_person(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<Option<PersonRow>, ActorError> {
        let row: Option<PersonRow> = sqlx::query_as(
            "SELECT company_id, id, name FROM users \
             WHERE company_id = $1 AND id = $2 AND disabled = 0",
        )
        .bind(&self.id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = &row {
            self.check(row)?;
        }
        Ok(row)
    }

    /// Whether `user` is reviewed in `cycle`: 360 feedback is about a cycle's reviewees.
    async fn reviewed_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle: &str,
        user: &str,
    ) -> Result<bool, ActorError> {
        let (found,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM reviews \
             WHERE company_id = $1 AND cycle_id = $2 AND reviewee_id = $3",
        )
        .bind(&self.id)
        .bind(cycle)
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
        Ok(found > 0)
    }

    /// Whether `manager` is anywhere above `user` in the reporting line.
    async fn feedback_manages(
        &self,
        conn: &mut sqlx::AnyConnection,
        manager: &str,
        user: &str,
    ) -> Result<bool, ActorError> {
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

    /// How the principal stands to a subject: the subject, a manager up their line,
    /// an HR admin, or none of these.
    async fn stance(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
        subject_id: &str,
    ) -> Result<Stance, ActorError> {
        let me = principal.user_id.as_str();
        Ok(Stance {
            subject: me == subject_id,
            manager: me != subject_id && self.feedback_manages(conn, me, subject_id).await?,
            hr_admin: principal.roles.hr_admin,
        })
    }
}

/// How a caller stands to the subject of feedback.
#[derive(Debug, Clone, Copy)]
struct Stance {
    subject: bool,
    manager: bool,
    hr_admin: bool,
}

impl Stance {
    /// May see the subject's nominations and results.
    fn sees(self) -> bool {
        self.subject || self.manager || self.hr_admin
    }

    /// May approve or reject the subject's nominations: never the subject, whatever
    /// their role.
    fn decides(self) -> bool {
        !self.subject && (self.manager || self.hr_admin)
    }
}

/// The columns of a nomination with its subject, reviewer, cycle and settings, each
/// with its own company so the guard sees them all.
const REQUEST_SELECT: &str = "SELECT f.company_id, f.id, f.cycle_id, f.subject_id, \
     f.reviewer_id, f.nominated_by, f.approval, f.decided_at, f.created_at, f.status, \
     f.version, f.draft, su.company_id AS subject_company_id, su.name AS subject_name, \
     ru.company_id AS reviewer_company_id, ru.name AS reviewer_name, \
     ru.email AS reviewer_email, c.company_id AS cycle_company_id, c.name AS cycle_name, \
     s.company_id AS settings_company_id, s.anonymous, s.closed_at, \
     c.status AS cycle_status FROM feedback_requests f JOIN users su ON su.id = f.subject_id \
     JOIN users ru ON ru.id = f.reviewer_id JOIN cycles c ON c.id = f.cycle_id \
     JOIN feedback_settings s ON s.cycle_id = f.cycle_id";

/// A nomination, which is also the reviewer's feedback request.
#[derive(sqlx::FromRow)]
struct RequestRow {
    company_id: String,
    id: String,
    cycle_id: String,
    subject_id: String,
    reviewer_id: String,
    nominated_by: String,
    approval: String,
    decided_at: Option<i64>,
    created_at: i64,
    status: String,
    version: i64,
    /// Sealed; opened only for the reviewer.
    draft: String,
    subject_company_id: String,
    subject_name: String,
    reviewer_company_id: String,
    reviewer_name: String,
    reviewer_email: String,
    cycle_company_id: String,
    cycle_name: String,
    settings_company_id: String,
    anonymous: i64,
    closed_at: Option<i64>,
    cycle_status: String,
}

impl Owned for RequestRow {
    const TABLE: &'static str = "feedback_requests";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![
            &self.company_id,
            &self.subject_company_id,
            &self.reviewer_company_id,
            &self.cycle_company_id,
            &self.settings_company_id,
        ]
    }
}

impl RequestRow {
    fn approval(&self) -> Approval {
        Approval::parse(&self.approval)
    }

    fn status(&self) -> FeedbackStatus {
        FeedbackStatus::parse(&self.status)
    }

    fn anonymous(&self) -> bool {
        self.anonymous == 1
    }

    /// Whether writing and deciding have ended: the feedback or the whole cycle is
    /// closed.
    fn ended(&self) -> bool {
        self.closed_at.is_some() || self.cycle_status == "closed"
    }

    /// The nomination as the subject, their managers and HR admins see it: the
    /// reviewer's progress only when the feedback is named.
    fn nomination(&self) -> Nomination {
        Nomination {
            id: self.id.clone(),
            cycle_id: self.cycle_id.clone(),
            subject_id: self.subject_id.clone(),
            subject_name: self.subject_name.clone(),
            reviewer_id: self.reviewer_id.clone(),
            reviewer_name: self.reviewer_name.clone(),
            nominated_by: self.nominated_by.clone(),
            status: self.approval(),
            created_at: crate::model::rfc3339(self.created_at),
            decided_at: self.decided_at.map(crate::model::rfc3339),
            progress: (!self.anonymous()).then(|| self.status()),
        }
    }

    /// The request as its reviewer sees it.
    fn request(&self) -> FeedbackRequest {
        FeedbackRequest {
            id: self.id.clone(),
            cycle_id: self.cycle_id.clone(),
            cycle_name: self.cycle_name.clone(),
            subject_id: self.subject_id.clone(),
            subject_name: self.subject_name.clone(),
            anonymous: self.anonymous(),
            status: self.status(),
            closed: self.ended(),
            version: self.version,
        }
    }
}

impl Company {
    /// Loads nominations matching `condition` (on `f`, with `$1` the company and the
    /// given values from `$2`), checked against the company.
    async fn load_requests(
        &self,
        conn: &mut sqlx::AnyConnection,
        condition: &str,
        values: &[&str],
    ) -> Result<Vec<RequestRow>, ActorError> {
        let sql = format!("{REQUEST_SELECT} WHERE f.company_id = $1 AND {condition}");
        let mut query = sqlx::query_as::<_, RequestRow>(&sql).bind(&self.id);
        for value in values {
            query = query.bind(*value);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        self.check_all(&rows)?;
        Ok(rows)
    }

    /// One nomination of this company, or `NotFound`.
    async fn load_request(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<RequestRow, ActorError> {
        self.load_requests(conn, "f.id = $2", &[id])
            .await?
            .pop()
            .ok_or(ActorError::NotFound)
    }
}
