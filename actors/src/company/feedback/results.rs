//! Results for the subject, their managers and HR admins, and the feedback export.

use std::collections::{BTreeMap, HashSet};

use super::{
    Company, FeedbackExportLine, FeedbackResults, MIN_ANONYMOUS_ANSWERS, NamedFeedback,
    QuestionResult, Setup,
};
use crate::company::CompanyHandle;
use crate::crypto::FEEDBACK_ANSWERS;
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Answer, Answers, Client, Principal, Question, QuestionKind, rfc3339};

/// A submitted answer with its subject and, for named feedback, its author.
#[derive(sqlx::FromRow)]
struct AnswerRow {
    company_id: String,
    id: String,
    subject_id: String,
    subject_company_id: String,
    subject_name: String,
    author_id: Option<String>,
    author_company_id: Option<String>,
    author_name: Option<String>,
    answers: String,
    submitted_at: Option<i64>,
}

impl Owned for AnswerRow {
    const TABLE: &'static str = "feedback_answers";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        let mut owners = vec![self.company_id.as_str(), self.subject_company_id.as_str()];
        owners.extend(self.author_company_id.as_deref());
        owners
    }
}

/// A user of this company, disabled ones included (results outlive an account).
#[derive(sqlx::FromRow)]
struct SubjectRow {
    company_id: String,
    id: String,
    name: String,
}

impl Owned for SubjectRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// A cycle with feedback, for the export.
#[derive(sqlx::FromRow)]
struct FeedbackCycleRow {
    company_id: String,
    cycle_id: String,
    cycle_company_id: String,
}

impl Owned for FeedbackCycleRow {
    const TABLE: &'static str = "feedback_settings";
    fn row_id(&self) -> &str {
        &self.cycle_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.cycle_company_id]
    }
}

/// A request its reviewer submitted: whom they wrote about.
#[derive(sqlx::FromRow)]
struct WrittenRow {
    company_id: String,
    id: String,
    subject_id: String,
}

impl Owned for WrittenRow {
    const TABLE: &'static str = "feedback_requests";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// One submission, opened.
struct Opened {
    author: Option<(String, String, String)>,
    answers: Answers,
}

/// Whether a subject's results are shown, and if not, why: only once the feedback is
/// closed, and for anonymous feedback only with at least two answers of others than the
/// reader (`own` is 1 when the reader wrote one of them): a reader who wrote one of two
/// answers would otherwise read the other's as theirs.
fn withheld(setup: &Setup, count: usize, own: usize) -> Option<&'static str> {
    let count = i64::try_from(count.saturating_sub(own)).unwrap_or(i64::MAX);
    if !setup.closed {
        Some("feedback_open")
    } else if setup.anonymous && count < MIN_ANONYMOUS_ANSWERS {
        Some("too_few_answers")
    } else {
        None
    }
}

/// Whether an export by a reader carries a subject's submitted answers: the one rule
/// of `feedback.csv` and the XML export. Named feedback is exported once submitted;
/// anonymous feedback only once its results are released to the reader (see
/// `withheld`: closed, and at least two answers besides the reader's own).
fn exported(setup: &Setup, count: usize, own: bool) -> bool {
    !setup.anonymous || withheld(setup, count, usize::from(own)).is_none()
}

/// The subject of one submitted answer, for counting.
#[derive(sqlx::FromRow)]
struct AnsweredRow {
    company_id: String,
    id: String,
    subject_id: String,
}

impl Owned for AnsweredRow {
    const TABLE: &'static str = "feedback_answers";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// The text of an answer as a cell or list entry.
fn answer_text(answer: &Answer) -> String {
    match answer {
        Answer::Text(text) => text.clone(),
        Answer::Rating(rating) => rating.to_string(),
        // Feedback asks no objectives question; such an answer is never stored.
        Answer::Objectives(_) => String::new(),
    }
}

/// Puts each question's answers together: texts sorted, ratings counted. The order
/// and grouping depend on the answers alone, never on who gave them or when.
fn aggregate(questions: &[Question], submissions: &[Opened]) -> Vec<QuestionResult> {
    questions
        .iter()
        .map(|question| {
            let answers: Vec<&Answer> = submissions
                .iter()
                .filter_map(|s| s.answers.get(&question.id))
                .collect();
            let mut texts: Vec<String> = Vec::new();
            let mut ratings = [0_i64; 5];
            for answer in &answers {
                match answer {
                    Answer::Text(text) if question.kind == QuestionKind::Text => {
                        texts.push(text.clone())
                    }
                    Answer::Rating(r) if (1..=5).contains(r) => {
                        ratings[usize::try_from(*r - 1).unwrap_or(0)] += 1
                    }
                    _ => {}
                }
            }
            texts.sort();
            let rated: i64 = ratings.iter().sum();
            let rating = question.kind == QuestionKind::Rating;
            let average = (rating && rated > 0).then(|| {
                let sum: i64 = ratings
                    .iter()
                    .enumerate()
                    .map(|(n, count)| (n as i64 + 1) * count)
                    .sum();
                ((sum as f64 / rated as f64) * 100.0).round() / 100.0
            });
            QuestionResult {
                question_id: question.id.clone(),
                prompt: question.prompt.clone(),
                kind: question.kind,
                texts,
                ratings: rating.then_some(ratings),
                average,
            }
        })
        .collect()
}

impl Company {
    /// The subjects `principal` submitted feedback about in the cycle.
    async fn written_about(
        &self,
        conn: &mut sqlx::AnyConnection,
        reader: &str,
        cycle_id: &str,
    ) -> Result<HashSet<String>, ActorError> {
        let rows: Vec<WrittenRow> = sqlx::query_as(
            "SELECT company_id, id, subject_id FROM feedback_requests WHERE company_id = $1 \
             AND cycle_id = $2 AND reviewer_id = $3 AND status = 'submitted'",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .bind(reader)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        Ok(rows.into_iter().map(|row| row.subject_id).collect())
    }

    /// The submitted answers of a cycle, optionally of one subject, opened.
    async fn load_answers(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
        subject_id: Option<&str>,
    ) -> Result<Vec<(AnswerRow, Opened)>, ActorError> {
        let sql = format!(
            "SELECT a.company_id, a.id, a.subject_id, s.company_id AS subject_company_id, \
             s.name AS subject_name, a.author_id, u.company_id AS author_company_id, \
             u.name AS author_name, a.answers, a.submitted_at FROM feedback_answers a \
             JOIN users s ON s.id = a.subject_id LEFT JOIN users u ON u.id = a.author_id \
             WHERE a.company_id = $1 AND a.cycle_id = $2 {}",
            if subject_id.is_some() {
                "AND a.subject_id = $3"
            } else {
                ""
            }
        );
        let mut query = sqlx::query_as::<_, AnswerRow>(&sql)
            .bind(&self.id)
            .bind(cycle_id);
        if let Some(subject_id) = subject_id {
            query = query.bind(subject_id);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        self.check_all(&rows)?;
        let mut opened = Vec::with_capacity(rows.len());
        for row in rows {
            let json = self.open(FEEDBACK_ANSWERS, &row.id, &row.answers)?;
            let answers: Answers = serde_json::from_str(&json).unwrap_or_default();
            let author = match (&row.author_id, &row.author_name, row.submitted_at) {
                (Some(id), Some(name), Some(at)) => Some((id.clone(), name.clone(), rfc3339(at))),
                _ => None,
            };
            opened.push((row, Opened { author, answers }));
        }
        Ok(opened)
    }

    async fn feedback_results(
        &mut self,
        principal: Principal,
        cycle_id: String,
        subject_id: String,
    ) -> Result<FeedbackResults, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let setup = self.feedback_setup(&mut conn, &cycle_id).await?;
        let subject: SubjectRow = sqlx::query_as(
            "SELECT company_id, id, name FROM users WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&subject_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&subject)?;
        if !self
            .stance(&mut conn, &principal, &subject.id)
            .await?
            .sees()
        {
            return Err(ActorError::NotFound);
        }

        // Nothing is read, counted or shown before the release rule allows it.
        let mut results = FeedbackResults {
            cycle_id: cycle_id.clone(),
            subject_id: subject.id.clone(),
            subject_name: subject.name,
            anonymous: setup.anonymous,
            released: false,
            withheld: None,
            responses: None,
            questions: Vec::new(),
            named: Vec::new(),
        };
        if !setup.closed {
            results.withheld = Some("feedback_open".into());
            return Ok(results);
        }
        let answers = self
            .load_answers(&mut conn, &cycle_id, Some(&subject.id))
            .await?;
        let own = self
            .written_about(&mut conn, &principal.user_id, &cycle_id)
            .await?
            .contains(&subject.id);
        if let Some(reason) = withheld(&setup, answers.len(), usize::from(own)) {
            results.withheld = Some(reason.into());
            return Ok(results);
        }
        let questions = self.feedback_questions(&mut conn, &cycle_id).await?;
        let submissions: Vec<Opened> = answers.into_iter().map(|(_, opened)| opened).collect();
        results.released = true;
        results.responses = Some(i64::try_from(submissions.len()).unwrap_or(i64::MAX));
        results.questions = aggregate(&questions, &submissions);
        if !setup.anonymous {
            let mut named: Vec<NamedFeedback> = submissions
                .into_iter()
                .filter_map(|s| {
                    let (author_id, author_name, submitted_at) = s.author?;
                    Some(NamedFeedback {
                        author_id,
                        author_name,
                        submitted_at,
                        answers: s.answers,
                    })
                })
                .collect();
            named.sort_by(|a, b| {
                (&a.author_name, &a.author_id).cmp(&(&b.author_name, &b.author_id))
            });
            results.named = named;
        }
        Ok(results)
    }

    /// The subjects of a cycle whose submitted answers an export by `reader` carries,
    /// by the rule of `feedback.csv` (see `exported`). Nothing is opened to decide.
    pub(in crate::company) async fn exported_feedback_subjects(
        &self,
        reader: &str,
        cycle_id: &str,
    ) -> Result<HashSet<String>, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let setup = self.feedback_setup(&mut conn, cycle_id).await?;
        let rows: Vec<AnsweredRow> = sqlx::query_as(
            "SELECT company_id, id, subject_id FROM feedback_answers \
             WHERE company_id = $1 AND cycle_id = $2",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for row in rows {
            *counts.entry(row.subject_id).or_default() += 1;
        }
        let mine = self.written_about(&mut conn, reader, cycle_id).await?;
        Ok(counts
            .into_iter()
            .filter(|(subject, count)| exported(&setup, *count, mine.contains(subject)))
            .map(|(subject, _)| subject)
            .collect())
    }

    /// Starts the feedback export: HR admins who reauthenticated lately; audited.
    async fn begin_feedback_export(
        &mut self,
        principal: Principal,
        client: Client,
    ) -> Result<(), ActorError> {
        Self::may_export(&principal)?;
        let actor = Some(principal.user_id.as_str());
        self.audit(
            actor,
            "export_feedback_csv",
            None,
            &client,
            serde_json::json!({}),
        )
        .await;
        Ok(())
    }

    /// Every line of the feedback export. Named feedback is exported once submitted;
    /// anonymous feedback only when its results are released, without any author, and
    /// per question in the order of the answers' text, so that neither a column nor the
    /// order of lines ties an answer to a person or to another answer of theirs.
    async fn feedback_export(
        &mut self,
        principal: Principal,
    ) -> Result<Vec<FeedbackExportLine>, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let mut conn = self.db.pool().acquire().await?;
        let cycles: Vec<FeedbackCycleRow> = sqlx::query_as(
            "SELECT s.company_id, s.cycle_id, c.company_id AS cycle_company_id \
             FROM feedback_settings s JOIN cycles c ON c.id = s.cycle_id \
             WHERE s.company_id = $1 ORDER BY c.created_at, s.cycle_id",
        )
        .bind(&self.id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&cycles)?;

        let mut lines = Vec::new();
        for cycle in cycles {
            let setup = self.feedback_setup(&mut conn, &cycle.cycle_id).await?;
            let questions = self.feedback_questions(&mut conn, &cycle.cycle_id).await?;
            let mine = self
                .written_about(&mut conn, &principal.user_id, &cycle.cycle_id)
                .await?;
            let mut by_subject: BTreeMap<(String, String), Vec<Opened>> = BTreeMap::new();
            for (row, opened) in self.load_answers(&mut conn, &cycle.cycle_id, None).await? {
                by_subject
                    .entry((row.subject_name, row.subject_id))
                    .or_default()
                    .push(opened);
            }
            for ((subject_name, subject_id), mut submissions) in by_subject {
                let line = |question: &Question,
                            author: Option<&(String, String, String)>,
                            answer: String| FeedbackExportLine {
                    cycle_id: cycle.cycle_id.clone(),
                    cycle_name: setup.cycle_name.clone(),
                    subject_id: subject_id.clone(),
                    subject_name: subject_name.clone(),
                    anonymous: setup.anonymous,
                    author_id: author.map(|a| a.0.clone()),
                    author_name: author.map(|a| a.1.clone()),
                    submitted_at: author.map(|a| a.2.clone()),
                    question: question.prompt.clone(),
                    answer,
                };
                if !exported(&setup, submissions.len(), mine.contains(&subject_id)) {
                    continue;
                }
                if setup.anonymous {
                    for question in &questions {
                        let mut answers: Vec<String> = submissions
                            .iter()
                            .filter_map(|s| s.answers.get(&question.id).map(answer_text))
                            .collect();
                        answers.sort();
                        lines.extend(answers.into_iter().map(|a| line(question, None, a)));
                    }
                } else {
                    submissions.sort_by(|a, b| a.author.cmp(&b.author));
                    for submission in &submissions {
                        for question in &questions {
                            if let Some(answer) = submission.answers.get(&question.id) {
                                lines.push(line(
                                    question,
                                    submission.author.as_ref(),
                                    answer_text(answer),
                                ));
                            }
                        }
                    }
                }
            }
        }
        Ok(lines)
    }
}

impl CompanyHandle {
    /// The feedback about one subject in one cycle, for the subject, their managers
    /// and HR admins (anyone else: `NotFound`), within the release rule.
    pub async fn feedback_results(
        &self,
        principal: Principal,
        cycle_id: String,
        subject_id: String,
    ) -> Result<FeedbackResults, ActorError> {
        self.call(move |c| Box::pin(c.feedback_results(principal, cycle_id, subject_id)))
            .await
    }

    /// Starts `feedback.csv`: checks role and reauthentication and records the export.
    pub async fn begin_feedback_export(
        &self,
        principal: Principal,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.begin_feedback_export(principal, client)))
            .await
    }

    /// The lines of `feedback.csv` for an export already begun.
    pub async fn feedback_export(
        &self,
        principal: Principal,
    ) -> Result<Vec<FeedbackExportLine>, ActorError> {
        self.call(move |c| Box::pin(c.feedback_export(principal)))
            .await
    }
}
