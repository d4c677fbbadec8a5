//! The 360 feedback sections: `<feedback>` (each cycle's settings with its questions),
//! `<feedback-requests>` (nominations with the reviewers' drafts) and `<feedback-answers>`
//! (submitted answers, by the rule of `feedback.csv`: anonymous ones only once released
//! to the exporting HR admin).
//!
//! Anonymity survives the file: an anonymous answer is stored without author, request
//! or time, and its element carries none of them either; the section is ordered by the
//! answers' random ids, never by submission, and an import stores each subject's
//! anonymous answers under new random ids in a random order, as a submission does. A
//! nomination for anonymous feedback carries who was asked and the decision, never the
//! reviewer's progress, version, last change or draft: those are the reviewer's alone,
//! and an HR admin who exports can be the subject.

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;

use super::{
    IdMaps, Node, XmlScope, answer_nodes, flag, flag_text, invalid, number, one_of,
    optional_number, read_answers, required, time,
};
use crate::company::Company;
use crate::crypto::{FEEDBACK_ANSWERS, FEEDBACK_DRAFT};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Answers, rfc3339};

/// Feedback ratings go from 1 to 5.
const FEEDBACK_SCALE: (i64, i64) = (1, 5);

#[derive(sqlx::FromRow)]
struct SettingsRow {
    company_id: String,
    cycle_id: String,
    enabled: i64,
    nominated_by: String,
    min_reviewers: i64,
    max_reviewers: i64,
    anonymous: i64,
    closed_at: Option<i64>,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct QuestionRow {
    company_id: String,
    id: String,
    position: i64,
    kind: String,
    prompt: String,
}

#[derive(sqlx::FromRow)]
struct RequestRow {
    company_id: String,
    id: String,
    cycle_id: String,
    subject_id: String,
    reviewer_id: String,
    nominated_by: String,
    approval: String,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    created_at: i64,
    status: String,
    draft: String,
    version: i64,
    updated_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct AnswerRow {
    company_id: String,
    id: String,
    cycle_id: String,
    subject_id: String,
    anonymous: i64,
    author_id: Option<String>,
    request_id: Option<String>,
    answers: String,
    submitted_at: Option<i64>,
}

impl Owned for SettingsRow {
    const TABLE: &'static str = "feedback_settings";
    fn row_id(&self) -> &str {
        &self.cycle_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}
/// Whether a cycle's feedback is anonymous.
#[derive(sqlx::FromRow)]
struct AnonymityRow {
    company_id: String,
    cycle_id: String,
    anonymous: i64,
}

impl Owned for AnonymityRow {
    const TABLE: &'static str = "feedback_settings";
    fn row_id(&self) -> &str {
        &self.cycle_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}
owned!(QuestionRow, "feedback_questions");
owned!(RequestRow, "feedback_requests");
owned!(AnswerRow, "feedback_answers");

impl Company {
    pub(super) async fn xml_feedback(
        &self,
        scope: &XmlScope,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        let cycle = scope.cycle().unwrap_or("");
        let rows: Vec<SettingsRow> = sqlx::query_as(
            "SELECT company_id, cycle_id, enabled, nominated_by, min_reviewers, max_reviewers, \
             anonymous, closed_at, updated_at FROM feedback_settings \
             WHERE company_id = $1 AND ($2 = '' OR cycle_id = $3) AND cycle_id > $4 \
             ORDER BY cycle_id LIMIT $5",
        )
        .bind(&self.id)
        .bind(cycle)
        .bind(cycle)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        let mut nodes = Vec::with_capacity(rows.len());
        for s in rows {
            let questions: Vec<QuestionRow> = sqlx::query_as(
                "SELECT company_id, id, position, kind, prompt FROM feedback_questions \
                 WHERE company_id = $1 AND cycle_id = $2 ORDER BY position, id",
            )
            .bind(&self.id)
            .bind(&s.cycle_id)
            .fetch_all(self.db.pool())
            .await?;
            self.check_all(&questions)?;
            let mut node = Node::new("feedback-settings")
                .attr("cycle-id", s.cycle_id.clone())
                .field("enabled", flag_text(s.enabled))
                .field("nominated-by", s.nominated_by)
                .field("min-reviewers", s.min_reviewers.to_string())
                .field("max-reviewers", s.max_reviewers.to_string())
                .field("anonymous", flag_text(s.anonymous))
                .optional("closed-at", s.closed_at.map(rfc3339))
                .field("updated-at", rfc3339(s.updated_at));
            for q in questions {
                node.children.push(
                    Node::new("question")
                        .attr("id", q.id)
                        .field("position", q.position.to_string())
                        .field("kind", q.kind)
                        .field("prompt", q.prompt),
                );
            }
            nodes.push((s.cycle_id, node));
        }
        Ok(nodes)
    }

    pub(super) async fn xml_feedback_requests(
        &self,
        scope: &XmlScope,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        let cycle = scope.cycle().unwrap_or("");
        let rows: Vec<RequestRow> = sqlx::query_as(
            "SELECT company_id, id, cycle_id, subject_id, reviewer_id, nominated_by, approval, \
             decided_by, decided_at, created_at, status, draft, version, updated_at \
             FROM feedback_requests WHERE company_id = $1 AND ($2 = '' OR cycle_id = $3) \
             AND id > $4 ORDER BY id LIMIT $5",
        )
        .bind(&self.id)
        .bind(cycle)
        .bind(cycle)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        let anonymous = self.anonymous_feedback_cycles().await?;
        let mut nodes = Vec::with_capacity(rows.len());
        for r in rows {
            let mut node = Node::new("feedback-request")
                .attr("id", r.id.clone())
                .field("cycle-id", r.cycle_id.clone())
                .field("subject-id", r.subject_id)
                .field("reviewer-id", r.reviewer_id)
                .field("nominated-by", r.nominated_by)
                .field("approval", r.approval)
                .optional("decided-by", r.decided_by)
                .optional("decided-at", r.decided_at.map(rfc3339))
                .field("created-at", rfc3339(r.created_at));

            // Whether, when and what a reviewer wrote about the subject of anonymous
            // feedback is known to the reviewer alone, not to whoever exports.
            if !anonymous.contains(&r.cycle_id) {
                let json = self.open(FEEDBACK_DRAFT, &r.id, &r.draft)?;
                let draft: Answers = serde_json::from_str(&json).unwrap_or_default();
                node = node
                    .field("status", r.status)
                    .field("version", r.version.to_string())
                    .optional("updated-at", r.updated_at.map(rfc3339));
                node.children.extend(answer_nodes(draft));
            }
            nodes.push((r.id, node));
        }
        Ok(nodes)
    }

    /// The cycles of this company whose feedback is anonymous.
    async fn anonymous_feedback_cycles(&self) -> Result<HashSet<String>, ActorError> {
        let rows: Vec<AnonymityRow> = sqlx::query_as(
            "SELECT company_id, cycle_id, anonymous FROM feedback_settings \
             WHERE company_id = $1",
        )
        .bind(&self.id)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        Ok(rows
            .into_iter()
            .filter(|row| row.anonymous == 1)
            .map(|row| row.cycle_id)
            .collect())
    }

    /// Submitted answers in the order of their random ids, by the rule of
    /// `feedback.csv`: named ones once submitted, anonymous ones only once released to
    /// `reader`, the exporting HR admin (closed, with at least two answers besides their
    /// own). An anonymous one names its cycle and subject only: what the database keeps
    /// of it.
    pub(super) async fn xml_feedback_answers(
        &self,
        scope: &XmlScope,
        reader: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        let cycle = scope.cycle().unwrap_or("");
        // Which subjects of which cycles are exported, decided once per page.
        let cycles: Vec<AnonymityRow> = sqlx::query_as(
            "SELECT company_id, cycle_id, anonymous FROM feedback_settings \
             WHERE company_id = $1 AND ($2 = '' OR cycle_id = $3)",
        )
        .bind(&self.id)
        .bind(cycle)
        .bind(cycle)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&cycles)?;
        let mut exported: HashMap<String, HashSet<String>> = HashMap::new();
        for row in cycles {
            let subjects = self
                .exported_feedback_subjects(reader, &row.cycle_id)
                .await?;
            exported.insert(row.cycle_id, subjects);
        }

        // Rows held back leave a page short: read on until it is full or none are left,
        // so that a short page still means the end of the section.
        let wanted = usize::try_from(limit).unwrap_or(0);
        let mut nodes = Vec::with_capacity(wanted);
        let mut cursor = after.to_owned();
        while nodes.len() < wanted {
            let rows: Vec<AnswerRow> = sqlx::query_as(
                "SELECT company_id, id, cycle_id, subject_id, anonymous, author_id, \
                 request_id, answers, submitted_at FROM feedback_answers \
                 WHERE company_id = $1 AND ($2 = '' OR cycle_id = $3) AND id > $4 \
                 ORDER BY id LIMIT $5",
            )
            .bind(&self.id)
            .bind(cycle)
            .bind(cycle)
            .bind(&cursor)
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?;
            self.check_all(&rows)?;
            let last_page = i64::try_from(rows.len()).map_or(true, |n| n < limit);
            if let Some(last) = rows.last() {
                cursor = last.id.clone();
            }
            for a in rows {
                if nodes.len() >= wanted {
                    break;
                }
                let released = exported
                    .get(&a.cycle_id)
                    .is_some_and(|subjects| subjects.contains(&a.subject_id));
                if !released {
                    continue;
                }
                let json = self.open(FEEDBACK_ANSWERS, &a.id, &a.answers)?;
                let answers: Answers = serde_json::from_str(&json).unwrap_or_default();
                let mut node = Node::new("feedback-answer")
                    .attr("id", a.id.clone())
                    .field("cycle-id", a.cycle_id)
                    .field("subject-id", a.subject_id)
                    .field("anonymous", flag_text(a.anonymous));
                if a.anonymous == 0 {
                    node = node
                        .optional("author-id", a.author_id)
                        .optional("request-id", a.request_id)
                        .optional("submitted-at", a.submitted_at.map(rfc3339));
                }
                node.children.extend(answer_nodes(answers));
                nodes.push((a.id, node));
            }
            if last_page {
                break;
            }
        }
        Ok(nodes)
    }

    pub(super) async fn import_feedback(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wrapper: &Node,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        for row in wrapper.all("feedback-settings") {
            let old = row
                .get_attr("cycle-id")
                .ok_or_else(|| invalid(row, "the cycle-id attribute is missing"))?;
            let cycle = ids.cycles.get(row, "cycle", old)?;
            let anonymous = flag(row, "anonymous")?;
            if ids
                .feedback_cycles
                .insert(cycle.clone(), anonymous)
                .is_some()
            {
                return Err(invalid(row, "the cycle has feedback settings twice"));
            }
            let min = number(row, "min-reviewers")?;
            let max = number(row, "max-reviewers")?;
            if min < 1 || min > max {
                return Err(invalid(row, "the reviewer counts are not 1 ≤ min ≤ max"));
            }
            let nominated_by = one_of(row, "nominated-by", &["reviewee", "manager", "hr"])?;
            sqlx::query(
                "INSERT INTO feedback_settings (company_id, cycle_id, enabled, nominated_by, \
                 min_reviewers, max_reviewers, anonymous, closed_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&self.id)
            .bind(&cycle)
            .bind(i64::from(flag(row, "enabled")?))
            .bind(nominated_by)
            .bind(min)
            .bind(max)
            .bind(i64::from(anonymous))
            .bind(time(row, "closed-at")?)
            .bind(time(row, "updated-at")?.unwrap_or_else(now_ms))
            .execute(&mut **tx)
            .await?;

            let mut own = HashMap::new();
            for question in row.all("question") {
                let id = ids.feedback_questions.assign(question)?;
                own.insert(question.get_attr("id").unwrap_or("").to_owned(), id.clone());
                let kind = one_of(question, "kind", &["text", "rating"])?;
                sqlx::query(
                    "INSERT INTO feedback_questions (company_id, id, cycle_id, position, kind, \
                     prompt) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&self.id)
                .bind(&id)
                .bind(&cycle)
                .bind(number(question, "position")?)
                .bind(kind)
                .bind(required(question, "prompt")?)
                .execute(&mut **tx)
                .await?;
            }
            ids.cycle_feedback_questions.insert(cycle, own);
        }
        Ok(())
    }

    pub(super) async fn import_feedback_requests(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wrapper: &Node,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        for row in wrapper.all("feedback-request") {
            let id = ids.feedback_requests.assign(row)?;
            let cycle = ids.cycles.get(row, "cycle", required(row, "cycle-id")?)?;
            if !ids.feedback_cycles.contains_key(&cycle) {
                return Err(invalid(row, "its cycle has no <feedback-settings>"));
            }
            let subject = ids.users.get(row, "user", required(row, "subject-id")?)?;
            let reviewer = ids.users.get(row, "user", required(row, "reviewer-id")?)?;
            if subject == reviewer {
                return Err(invalid(row, "the reviewer is the subject"));
            }
            let nominated_by = ids.users.get(row, "user", required(row, "nominated-by")?)?;
            let decided_by = match row.get("decided-by") {
                Some(old) => Some(ids.users.get(row, "user", old)?),
                None => None,
            };
            let approval = one_of(row, "approval", &["pending", "approved", "rejected"])?;
            // A nomination for anonymous feedback comes without the reviewer's progress
            // (see the module above): it starts again from nothing.
            let status = match row.get("status") {
                Some(_) => one_of(row, "status", &["not_started", "draft", "submitted"])?,
                None => "not_started",
            };
            let questions = ids.cycle_feedback_questions.get(&cycle);
            let draft = read_answers(row, "answer", questions, FEEDBACK_SCALE)?;
            let draft = serde_json::to_string(&draft)
                .map_err(|_| invalid(row, "the draft could not be stored"))?;
            let inserted = sqlx::query(
                "INSERT INTO feedback_requests (company_id, id, cycle_id, subject_id, \
                 reviewer_id, nominated_by, approval, decided_by, decided_at, created_at, \
                 status, draft, version, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&cycle)
            .bind(&subject)
            .bind(&reviewer)
            .bind(&nominated_by)
            .bind(approval)
            .bind(decided_by)
            .bind(time(row, "decided-at")?)
            .bind(time(row, "created-at")?.unwrap_or_else(now_ms))
            .bind(status)
            .bind(self.seal(FEEDBACK_DRAFT, &id, &draft)?)
            .bind(optional_number(row, "version")?.unwrap_or(1))
            .bind(time(row, "updated-at")?)
            .execute(&mut **tx)
            .await;
            if inserted.is_err() {
                return Err(invalid(
                    row,
                    "the same reviewer is nominated twice for the subject in the cycle",
                ));
            }
            ids.request_parties.insert(id, (cycle, subject, reviewer));
        }
        Ok(())
    }

    pub(super) async fn import_feedback_answers(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wrapper: &Node,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        // Check and seal every answer first; anonymous ones are then stored in a random
        // order, so that the order of the file does not survive in the database either.
        let mut named = Vec::new();
        let mut anonymous = Vec::new();
        let mut seen = super::IdMap::default();
        for row in wrapper.all("feedback-answer") {
            seen.assign(row)?;
            let cycle = ids.cycles.get(row, "cycle", required(row, "cycle-id")?)?;
            let Some(cycle_anonymous) = ids.feedback_cycles.get(&cycle).copied() else {
                return Err(invalid(row, "its cycle has no <feedback-settings>"));
            };
            let subject = ids.users.get(row, "user", required(row, "subject-id")?)?;
            let is_anonymous = flag(row, "anonymous")?;
            if is_anonymous != cycle_anonymous {
                return Err(invalid(
                    row,
                    "<anonymous> differs from its cycle's feedback settings",
                ));
            }
            let questions = ids.cycle_feedback_questions.get(&cycle);
            let answers = read_answers(row, "answer", questions, FEEDBACK_SCALE)?;
            let json = serde_json::to_string(&answers)
                .map_err(|_| invalid(row, "the answers could not be stored"))?;
            let id = new_id();
            let sealed = self.seal(FEEDBACK_ANSWERS, &id, &json)?;
            if is_anonymous {
                let named_fields = ["author-id", "request-id", "submitted-at"];
                if named_fields.iter().any(|name| row.get(name).is_some()) {
                    return Err(invalid(
                        row,
                        "an anonymous answer has no author, request or time",
                    ));
                }
                anonymous.push((id, cycle, subject, sealed));
                continue;
            }
            let author = ids.users.get(row, "user", required(row, "author-id")?)?;
            let request =
                ids.feedback_requests
                    .get(row, "feedback request", required(row, "request-id")?)?;
            let parties = ids.request_parties.get(&request);
            if parties != Some(&(cycle.clone(), subject.clone(), author.clone())) {
                return Err(invalid(
                    row,
                    "its request is not the author's about the subject in the cycle",
                ));
            }
            let submitted_at = time(row, "submitted-at")?
                .ok_or_else(|| invalid(row, "<submitted-at> is missing"))?;
            named.push((id, cycle, subject, author, request, sealed, submitted_at));
        }
        ids.feedback_answers = (named.len() + anonymous.len()) as u64;
        for (id, cycle, subject, author, request, sealed, submitted_at) in named {
            sqlx::query(
                "INSERT INTO feedback_answers (company_id, id, cycle_id, subject_id, anonymous, \
                 author_id, request_id, answers, submitted_at) \
                 VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&cycle)
            .bind(&subject)
            .bind(&author)
            .bind(&request)
            .bind(&sealed)
            .bind(submitted_at)
            .execute(&mut **tx)
            .await?;
        }
        anonymous.shuffle(&mut rand::rng());
        for (id, cycle, subject, sealed) in anonymous {
            sqlx::query(
                "INSERT INTO feedback_answers (company_id, id, cycle_id, subject_id, anonymous, \
                 answers) VALUES ($1, $2, $3, $4, 1, $5)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&cycle)
            .bind(&subject)
            .bind(&sealed)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
