//! The company's XML export and its import into an empty company.
//!
//! Both are driven by one table, [`SECTIONS`]: the export writes one wrapper element per
//! section (`<users>`, `<cycles>`, `<reviews>`, `<objectives>`, `<comments>`, `<feedback>`,
//! `<feedback-requests>`, `<feedback-answers>`) holding one element per row, read a page
//! at a time; the import reads the same sections back in the same order, so that every
//! reference points at a row already imported. A new kind of content is a new
//! [`Section`] variant with its page reader and its importer (objectives and comments in
//! `xml/objectives.rs`, 360 feedback in `xml/feedback.rs`). Reminders already sent are
//! operational and stay out.
//!
//! Rows travel as [`Node`]s, a small element tree; `src/` renders and parses the XML
//! text, so no SQL and no markup meet in one place.
//!
//! Ids are global primary keys, so an import gives every row a new id and maps each
//! reference through the same table: a file can go back into the installation it came
//! from. Encrypted content is exported decrypted (it is the company's own data leaving
//! with the operator's consent) and sealed again, with the current key and for its new
//! row, on import.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::objective::LinkWeights;
use super::review::{
    Basis, basis_json, basis_weights, check_objective_answers, kept_from_exporter, parse_basis,
    score_in,
};
use super::{Company, CompanyHandle};
use crate::crypto::{CALIBRATED_RATINGS, REVIEW_ANSWERS};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{
    Answer, Answers, Client, ObjectiveAnswer, Principal, RatingScale, normalize_email,
    parse_rfc3339, rfc3339,
};

/// The version of the file format, in the root's `format-version` attribute. Bumped when
/// an element changes meaning; new optional elements keep it.
pub const FORMAT_VERSION: &str = "1";

/// The root element's name.
pub const ROOT: &str = "kaizen-export";

/// The deepest nesting an import accepts; the format itself needs four levels.
pub const MAX_DEPTH: usize = 16;

/// One element: a name, attributes, its text and its child elements. Rows are elements
/// with an `id` attribute; their plain values are child elements holding only text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// The element's name.
    pub name: String,
    /// Attributes in order.
    pub attrs: Vec<(String, String)>,
    /// The text directly inside the element (whitespace between children included).
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Node>,
}

impl Node {
    /// An empty element.
    pub fn new(name: &str) -> Node {
        Node {
            name: name.to_owned(),
            ..Node::default()
        }
    }

    /// Adds an attribute.
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Node {
        self.attrs.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a child element holding only `value` as text.
    pub fn field(mut self, name: &str, value: impl Into<String>) -> Node {
        let mut child = Node::new(name);
        child.text = value.into();
        self.children.push(child);
        self
    }

    /// Adds a child element with `value` when there is one.
    pub fn optional(self, name: &str, value: Option<impl Into<String>>) -> Node {
        match value {
            Some(value) => self.field(name, value),
            None => self,
        }
    }

    /// The value of an attribute.
    pub fn get_attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text of the first child element called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.children
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.text.as_str())
    }

    /// The child elements called `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// What an export covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlScope {
    /// The whole company: `GET /api/v1/admin/export.xml`.
    Company,
    /// One cycle, its questionnaire, reviews (with calibrations and comments), the
    /// objectives linked to it and its 360 feedback (and the company's people, whom these
    /// name): `GET /api/v1/cycles/{id}/export.xml`.
    Cycle(String),
}

impl XmlScope {
    /// The root's `scope` attribute.
    pub fn name(&self) -> &'static str {
        match self {
            XmlScope::Company => "company",
            XmlScope::Cycle(_) => "cycle",
        }
    }

    fn cycle(&self) -> Option<&str> {
        match self {
            XmlScope::Company => None,
            XmlScope::Cycle(id) => Some(id),
        }
    }
}

/// A section of the file: a wrapper element holding one element per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `<users>` of `<user>`: the company's people and reporting lines.
    Users,
    /// `<cycles>` of `<cycle>`, each with its `<question>`s.
    Cycles,
    /// `<reviews>` of `<review>`, each with its `<answer>`s.
    Reviews,
    /// `<objectives>` of `<objective>`, each with its `<key-result>`s and `<cycle-link>`s.
    Objectives,
    /// `<comments>` of `<comment>` on a review or an objective.
    Comments,
    /// `<feedback>` of `<feedback-settings>`: a cycle's 360 feedback settings, each with
    /// its `<question>`s.
    Feedback,
    /// `<feedback-requests>` of `<feedback-request>`: nominations, with the reviewer's
    /// draft as `<answer>`s.
    FeedbackRequests,
    /// `<feedback-answers>` of `<feedback-answer>`: submitted feedback; an anonymous
    /// one without author, request or time, in the order of the answers' random ids.
    FeedbackAnswers,
}

/// The sections in file order; an import reads them in this order too, so a section
/// may refer to rows of the sections before it only.
pub const SECTIONS: &[Section] = &[
    Section::Users,
    Section::Cycles,
    Section::Reviews,
    Section::Objectives,
    Section::Comments,
    Section::Feedback,
    Section::FeedbackRequests,
    Section::FeedbackAnswers,
];

impl Section {
    /// The wrapper element.
    pub fn name(self) -> &'static str {
        match self {
            Section::Users => "users",
            Section::Cycles => "cycles",
            Section::Reviews => "reviews",
            Section::Objectives => "objectives",
            Section::Comments => "comments",
            Section::Feedback => "feedback",
            Section::FeedbackRequests => "feedback-requests",
            Section::FeedbackAnswers => "feedback-answers",
        }
    }

    /// The element of one row.
    pub fn row(self) -> &'static str {
        match self {
            Section::Users => "user",
            Section::Cycles => "cycle",
            Section::Reviews => "review",
            Section::Objectives => "objective",
            Section::Comments => "comment",
            Section::Feedback => "feedback-settings",
            Section::FeedbackRequests => "feedback-request",
            Section::FeedbackAnswers => "feedback-answer",
        }
    }
}

/// What an XML export knows before its first page.
#[derive(Debug, Clone)]
pub struct XmlExport {
    /// The company's id, slug and name, for the `<company>` element.
    pub company_id: String,
    /// The company's slug, also the download's file name.
    pub slug: String,
    /// The company's display name.
    pub name: String,
    /// The cycle's name for a cycle export.
    pub cycle_name: Option<String>,
    /// The company's setting: managers see the reviews of everyone below them, not only
    /// of their direct reports (`<skip-level-visible>` in `<company>`).
    pub skip_level_visible: bool,
}

/// What an import wrote, per section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// Rows per kind (`user`, `cycle`, `question`, `review`, `calibration`, `objective`,
    /// `key-result`, `comment`, `feedback-settings`, `feedback-question`,
    /// `feedback-request`, `feedback-answer`).
    pub rows: BTreeMap<String, u64>,
}

/// The export's audit actions.
fn action(scope: &XmlScope) -> &'static str {
    match scope {
        XmlScope::Company => "export_company_xml",
        XmlScope::Cycle(_) => "export_cycle_xml",
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    company_id: String,
    id: String,
    email: String,
    name: String,
    role: String,
    manager_id: Option<String>,
    department: Option<String>,
    disabled: i64,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct CycleRow {
    company_id: String,
    id: String,
    name: String,
    status: String,
    due_at: Option<i64>,
    created_by: String,
    created_at: i64,
    phase: String,
    rating_min: i64,
    rating_max: i64,
    self_review_due_at: Option<i64>,
    manager_review_due_at: Option<i64>,
    sign_off_due_at: Option<i64>,
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
struct ReviewRow {
    company_id: String,
    id: String,
    cycle_id: String,
    reviewee_id: String,
    reviewer_id: String,
    kind: String,
    status: String,
    answers: String,
    version: i64,
    updated_at: i64,
    submitted_at: Option<i64>,
    shared_at: Option<i64>,
    shared_by: Option<String>,
    reviewee_signed_at: Option<i64>,
    reviewer_signed_at: Option<i64>,
    objectives_basis: Option<String>,
    calibration_company_id: Option<String>,
    calibrated_ratings: Option<String>,
    calibrated_by: Option<String>,
    calibrated_at: Option<i64>,
}

/// A review's calibration, read with the review.
struct CalibrationRow {
    company_id: String,
    review_id: String,
}

impl Owned for CalibrationRow {
    const TABLE: &'static str = "calibrations";
    fn row_id(&self) -> &str {
        &self.review_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

macro_rules! owned {
    ($row:ty, $table:literal) => {
        impl Owned for $row {
            const TABLE: &'static str = $table;
            fn row_id(&self) -> &str {
                &self.id
            }
            fn owners(&self) -> Vec<&str> {
                vec![&self.company_id]
            }
        }
    };
}
owned!(UserRow, "users");
owned!(CycleRow, "cycles");
owned!(QuestionRow, "questions");
owned!(ReviewRow, "reviews");

mod feedback;
mod objectives;

/// Why an imported row is refused: names the element and its id, never content.
fn invalid(row: &Node, problem: &str) -> ActorError {
    let id = row.get_attr("id").unwrap_or("?");
    ActorError::Validation(format!("<{} id=\"{id}\">: {problem}", row.name))
}

/// A required text field of a row.
fn required<'a>(row: &'a Node, name: &str) -> Result<&'a str, ActorError> {
    row.get(name)
        .ok_or_else(|| invalid(row, &format!("<{name}> is missing")))
}

/// A time field of a row, RFC 3339.
fn time(row: &Node, name: &str) -> Result<Option<i64>, ActorError> {
    match row.get(name) {
        None => Ok(None),
        Some(text) => parse_rfc3339(text)
            .map(Some)
            .ok_or_else(|| invalid(row, &format!("<{name}> is not an RFC 3339 time"))),
    }
}

/// A whole number field of a row.
fn number(row: &Node, name: &str) -> Result<i64, ActorError> {
    required(row, name)?
        .trim()
        .parse()
        .map_err(|_| invalid(row, &format!("<{name}> is not a whole number")))
}

/// An optional whole number field of a row.
fn optional_number(row: &Node, name: &str) -> Result<Option<i64>, ActorError> {
    match row.get(name) {
        None => Ok(None),
        Some(_) => number(row, name).map(Some),
    }
}

/// One of `allowed` in a field of a row.
fn one_of<'a>(row: &'a Node, name: &str, allowed: &[&str]) -> Result<&'a str, ActorError> {
    let value = required(row, name)?;
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            row,
            &format!("<{name}> must be one of {}", allowed.join(", ")),
        ))
    }
}

/// The `<answer question-id="…" kind="text|rating|objectives">` elements of stored
/// answers, in question id order. An objectives answer holds one
/// `<objective objective-id="…" rating="…">comment</objective>` per rated objective.
fn answer_nodes(answers: Answers) -> Vec<Node> {
    answers
        .into_iter()
        .map(|(question_id, answer)| {
            let node = Node::new("answer").attr("question-id", question_id);
            match answer {
                Answer::Text(text) => Node {
                    text,
                    ..node.attr("kind", "text")
                },
                Answer::Rating(rating) => Node {
                    text: rating.to_string(),
                    ..node.attr("kind", "rating")
                },
                Answer::Objectives(rated) => {
                    let mut node = node.attr("kind", "objectives");
                    for (objective_id, answer) in rated {
                        let mut child = Node::new("objective")
                            .attr("objective-id", objective_id)
                            .attr("rating", answer.rating.to_string());
                        child.text = answer.comment.unwrap_or_default();
                        node.children.push(child);
                    }
                    node
                }
            }
        })
        .collect()
}

/// `<objectives-basis>` of a submitted review: `<objective objective-id="…" weight="…"/>`
/// per objective its score was frozen on, in link order (`weight` absent for none).
fn basis_node(basis: Basis) -> Node {
    let mut node = Node::new("objectives-basis");
    for (objective_id, weight) in basis {
        let mut child = Node::new("objective").attr("objective-id", objective_id);
        if let Some(weight) = weight {
            child = child.attr("weight", weight.to_string());
        }
        node.children.push(child);
    }
    node
}

/// The `<objectives-basis>` of a review row (ids as in the file), if it has one.
fn read_basis(row: &Node) -> Result<Option<Basis>, ActorError> {
    let mut found = row.all("objectives-basis");
    let Some(node) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(invalid(row, "has two <objectives-basis>"));
    }
    let mut basis = Basis::new();
    for objective in node.all("objective") {
        let id = objective.get_attr("objective-id").unwrap_or("").to_owned();
        let weight = match objective.get_attr("weight") {
            Some(w) => Some(
                w.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|w| (1..=100).contains(w))
                    .ok_or_else(|| invalid(row, "an objectives weight is not 1 to 100"))?,
            ),
            None => None,
        };
        if basis.iter().any(|(seen, _)| *seen == id) {
            return Err(invalid(
                row,
                "names an objective twice in <objectives-basis>",
            ));
        }
        basis.push((id, weight));
    }
    Ok(Some(basis))
}

/// A rating within `scale`, or why not.
fn rating_in(row: &Node, text: &str, scale: (i64, i64)) -> Result<i64, ActorError> {
    text.trim()
        .parse()
        .ok()
        .filter(|r| (scale.0..=scale.1).contains(r))
        .ok_or_else(|| invalid(row, &format!("a rating is not {} to {}", scale.0, scale.1)))
}

/// The answers of a row (its `element` children) under the new ids of `questions` (old
/// id → new id), ratings within `scale`; text and rating answers only.
fn read_answers(
    row: &Node,
    element: &str,
    questions: Option<&HashMap<String, String>>,
    scale: (i64, i64),
) -> Result<Answers, ActorError> {
    read_answers_with(row, element, questions, scale, &HashSet::new())
}

/// [`read_answers`], also taking objectives answers to the questions (new ids) in
/// `objective_questions`. Those stay keyed by the objectives' ids in the file until the
/// objectives are imported (see [`Company::finish_objective_answers`]).
fn read_answers_with(
    row: &Node,
    element: &str,
    questions: Option<&HashMap<String, String>>,
    scale: (i64, i64),
    objective_questions: &HashSet<String>,
) -> Result<Answers, ActorError> {
    let mut answers = Answers::new();
    for answer in row.all(element) {
        let old = answer.get_attr("question-id").unwrap_or("");
        let question = questions
            .and_then(|q| q.get(old))
            .ok_or_else(|| invalid(row, "answers a question not of its cycle"))?;
        let objectives = objective_questions.contains(question);
        let value = match answer.get_attr("kind") {
            Some("text") if !objectives => Answer::Text(answer.text.clone()),
            Some("rating") if !objectives => Answer::Rating(rating_in(row, &answer.text, scale)?),
            Some("objectives") if objectives => {
                let mut rated = BTreeMap::new();
                for objective in answer.all("objective") {
                    let id = objective.get_attr("objective-id").unwrap_or("").to_owned();
                    let rating = objective.get_attr("rating").unwrap_or("");
                    let comment = objective.text.trim();
                    let value = ObjectiveAnswer {
                        rating: rating_in(row, rating, scale)?,
                        comment: (!comment.is_empty()).then(|| comment.to_owned()),
                    };
                    if rated.insert(id, value).is_some() {
                        return Err(invalid(row, "rates an objective twice"));
                    }
                }
                Answer::Objectives(rated)
            }
            _ => return Err(invalid(row, "an answer's kind does not match its question")),
        };
        if answers.insert(question.clone(), value).is_some() {
            return Err(invalid(row, "answers a question twice"));
        }
    }
    Ok(answers)
}

/// A `true`/`false` field of a row.
fn flag(row: &Node, name: &str) -> Result<bool, ActorError> {
    Ok(one_of(row, name, &["true", "false"])? == "true")
}

/// How a flag is written.
fn flag_text(value: i64) -> &'static str {
    if value != 0 { "true" } else { "false" }
}

/// An imported review whose objectives answers and basis still name the file's
/// objective ids.
struct PendingObjectives {
    /// The review's new id.
    review_id: String,
    /// Its id in the file, for messages.
    old_id: String,
    /// Its cycle and reviewee (new ids).
    cycle_id: String,
    reviewee: String,
    /// The cycle's rating scale.
    scale: RatingScale,
    answers: Answers,
    basis: Option<Basis>,
}

/// Old ids of one kind mapped to the new ids of their rows.
#[derive(Default)]
struct IdMap(HashMap<String, String>);

impl IdMap {
    /// Gives a row of the file its new id; an id seen twice is refused.
    fn assign(&mut self, row: &Node) -> Result<String, ActorError> {
        let old = row
            .get_attr("id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| invalid(row, "the id attribute is missing"))?;
        let new = new_id();
        if self.0.insert(old.to_owned(), new.clone()).is_some() {
            return Err(invalid(row, "the id appears twice"));
        }
        Ok(new)
    }

    /// The new id of a row the file refers to.
    fn get(&self, row: &Node, what: &str, old: &str) -> Result<String, ActorError> {
        self.0
            .get(old)
            .cloned()
            .ok_or_else(|| invalid(row, &format!("refers to a {what} not in the file")))
    }
}

/// The maps of every kind of id, filled section by section.
#[derive(Default)]
struct IdMaps {
    users: IdMap,
    cycles: IdMap,
    questions: IdMap,
    /// Question ids per cycle, to check a review answers its own cycle's questions.
    cycle_questions: HashMap<String, HashMap<String, String>>,
    /// The (new) ids of objectives questions: their answers rate objectives.
    objective_questions: HashSet<String>,
    /// Reviews (new id) whose objectives answers still name the file's objective ids:
    /// objectives come after reviews in the file, so these are rewritten at the end.
    pending_objective_answers: Vec<PendingObjectives>,
    reviews: IdMap,
    /// The rating scale (min, max) of each imported cycle, by new id.
    cycle_scales: HashMap<String, (i64, i64)>,
    /// Cycles whose feedback settings were imported, by new id, with their anonymity.
    feedback_cycles: HashMap<String, bool>,
    feedback_questions: IdMap,
    /// Feedback question ids per cycle (old → new), by the cycle's new id.
    cycle_feedback_questions: HashMap<String, HashMap<String, String>>,
    feedback_requests: IdMap,
    /// Per request (new id): its cycle, subject and reviewer (new ids).
    request_parties: HashMap<String, (String, String, String)>,
    feedback_answers: u64,
    calibrations: u64,
    objectives: IdMap,
    key_results: IdMap,
    comments: IdMap,
}

impl Company {
    /// Checks that the principal may export content as XML: an HR admin who
    /// reauthenticated lately, in a company whose operator switched XML export on.
    async fn may_export_xml(&self, principal: &Principal) -> Result<XmlExport, ActorError> {
        Self::may_export(principal)?;
        let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, slug, name, xml_export_enabled, skip_level_visible FROM companies \
             WHERE id = $1",
        )
        .bind(&self.id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some((company_id, slug, name, enabled, skip_level)) =
            row.filter(|row| row.0 == self.id)
        else {
            return Err(ActorError::NotFound);
        };
        if enabled == 0 {
            return Err(ActorError::XmlExportDisabled);
        }
        Ok(XmlExport {
            company_id,
            slug,
            name,
            cycle_name: None,
            skip_level_visible: skip_level != 0,
        })
    }

    async fn begin_xml_export(
        &mut self,
        principal: Principal,
        scope: XmlScope,
        client: Client,
    ) -> Result<XmlExport, ActorError> {
        let mut export = self.may_export_xml(&principal).await?;
        if let Some(cycle_id) = scope.cycle() {
            let cycle: Option<(String, String)> = sqlx::query_as(
                "SELECT company_id, name FROM cycles WHERE company_id = $1 AND id = $2",
            )
            .bind(&self.id)
            .bind(cycle_id)
            .fetch_optional(self.db.pool())
            .await?;
            let Some((_, name)) = cycle.filter(|(company, _)| *company == self.id) else {
                return Err(ActorError::NotFound);
            };
            export.cycle_name = Some(name);
        }
        let actor = Some(principal.user_id.as_str());
        let detail = serde_json::json!({ "scope": scope.name() });
        self.audit(actor, action(&scope), scope.cycle(), &client, detail)
            .await;
        Ok(export)
    }

    /// One page of a section: up to `limit` rows whose ids sort after `after`. `reader`
    /// is the exporting HR admin: a review about them that they may not read yet (someone
    /// else's, not shared) is exported without its answers, calibration and comments.
    async fn xml_page(
        &self,
        section: Section,
        scope: &XmlScope,
        reader: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        match section {
            Section::Users => self.xml_users(after, limit).await,
            Section::Cycles => self.xml_cycles(scope, after, limit).await,
            Section::Reviews => self.xml_reviews(scope, reader, after, limit).await,
            Section::Objectives => self.xml_objectives(scope, after, limit).await,
            Section::Comments => self.xml_comments(scope, reader, after, limit).await,
            Section::Feedback => self.xml_feedback(scope, after, limit).await,
            Section::FeedbackRequests => self.xml_feedback_requests(scope, after, limit).await,
            Section::FeedbackAnswers => {
                self.xml_feedback_answers(scope, reader, after, limit).await
            }
        }
    }

    async fn xml_users(&self, after: &str, limit: i64) -> Result<Vec<(String, Node)>, ActorError> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT company_id, id, email, name, role, manager_id, department, disabled, \
             created_at FROM users WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(&self.id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        Ok(rows
            .into_iter()
            .map(|u| {
                let node = Node::new("user")
                    .attr("id", u.id.clone())
                    .field("email", u.email)
                    .field("name", u.name)
                    .field("role", u.role)
                    .optional("manager-id", u.manager_id)
                    .optional("department", u.department)
                    .field("disabled", if u.disabled != 0 { "true" } else { "false" })
                    .field("created-at", rfc3339(u.created_at));
                (u.id, node)
            })
            .collect())
    }

    async fn xml_cycles(
        &self,
        scope: &XmlScope,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        let rows: Vec<CycleRow> = sqlx::query_as(
            "SELECT company_id, id, name, status, due_at, created_by, created_at, phase, \
             rating_min, rating_max, self_review_due_at, manager_review_due_at, \
             sign_off_due_at FROM cycles WHERE company_id = $1 AND ($2 = '' OR id = $3) \
             AND id > $4 ORDER BY id LIMIT $5",
        )
        .bind(&self.id)
        .bind(scope.cycle().unwrap_or(""))
        .bind(scope.cycle().unwrap_or(""))
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        let mut nodes = Vec::with_capacity(rows.len());
        for c in rows {
            let questions: Vec<QuestionRow> = sqlx::query_as(
                "SELECT company_id, id, position, kind, prompt FROM questions \
                 WHERE company_id = $1 AND cycle_id = $2 ORDER BY position, id",
            )
            .bind(&self.id)
            .bind(&c.id)
            .fetch_all(self.db.pool())
            .await?;
            self.check_all(&questions)?;
            let mut node = Node::new("cycle")
                .attr("id", c.id.clone())
                .field("name", c.name)
                .field("status", c.status)
                .optional("due-at", c.due_at.map(rfc3339))
                .field("created-by", c.created_by)
                .field("created-at", rfc3339(c.created_at))
                .field("phase", c.phase)
                .field("rating-min", c.rating_min.to_string())
                .field("rating-max", c.rating_max.to_string())
                .optional("self-review-due-at", c.self_review_due_at.map(rfc3339))
                .optional(
                    "manager-review-due-at",
                    c.manager_review_due_at.map(rfc3339),
                )
                .optional("sign-off-due-at", c.sign_off_due_at.map(rfc3339));
            for q in questions {
                node.children.push(
                    Node::new("question")
                        .attr("id", q.id)
                        .field("position", q.position.to_string())
                        .field("kind", q.kind)
                        .field("prompt", q.prompt),
                );
            }
            nodes.push((c.id, node));
        }
        Ok(nodes)
    }

    async fn xml_reviews(
        &self,
        scope: &XmlScope,
        reader: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        let rows: Vec<ReviewRow> = sqlx::query_as(
            "SELECT r.company_id, r.id, r.cycle_id, r.reviewee_id, r.reviewer_id, r.kind, \
             r.status, r.answers, r.version, r.updated_at, r.submitted_at, r.shared_at, \
             r.shared_by, r.reviewee_signed_at, r.reviewer_signed_at, r.objectives_basis, \
             c.company_id AS calibration_company_id, c.ratings AS calibrated_ratings, \
             c.calibrated_by, c.calibrated_at \
             FROM reviews r LEFT JOIN calibrations c \
               ON c.company_id = r.company_id AND c.review_id = r.id \
             WHERE r.company_id = $1 AND ($2 = '' OR r.cycle_id = $3) AND r.id > $4 \
             ORDER BY r.id LIMIT $5",
        )
        .bind(&self.id)
        .bind(scope.cycle().unwrap_or(""))
        .bind(scope.cycle().unwrap_or(""))
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;

        // The objectives links of the page's cycles, for each review's weighted score.
        let mut conn = self.db.pool().acquire().await?;
        let mut links: HashMap<String, LinkWeights> = HashMap::new();
        for r in &rows {
            if !links.contains_key(&r.cycle_id) {
                let weights = self.cycle_link_weights(&mut conn, &r.cycle_id).await?;
                links.insert(r.cycle_id.clone(), weights);
            }
        }
        drop(conn);

        let mut nodes = Vec::with_capacity(rows.len());
        for r in rows {
            let hidden = kept_from_exporter(reader, &r.reviewee_id, &r.reviewer_id, &r.status);
            // Derived from the answers and the links, both in the file: informative, and
            // not read back by the import.
            let basis = parse_basis(r.objectives_basis.as_deref());
            let frozen = basis.as_ref().map(basis_weights);
            let linked = match &frozen {
                Some(weights) => Some(weights),
                None => links.get(&r.cycle_id).and_then(|l| l.get(&r.reviewee_id)),
            };
            let answers: Answers = if hidden {
                Answers::new()
            } else {
                let json = self.open(REVIEW_ANSWERS, &r.id, &r.answers)?;
                serde_json::from_str(&json).unwrap_or_default()
            };
            let mut node = Node::new("review")
                .attr("id", r.id.clone())
                .field("cycle-id", r.cycle_id)
                .field("reviewee-id", r.reviewee_id)
                .field("reviewer-id", r.reviewer_id)
                .field("kind", r.kind)
                .field("status", r.status)
                .field("version", r.version.to_string())
                .field("updated-at", rfc3339(r.updated_at))
                .optional("submitted-at", r.submitted_at.map(rfc3339))
                .optional("shared-at", r.shared_at.map(rfc3339))
                .optional("shared-by", r.shared_by)
                .optional("reviewee-signed-at", r.reviewee_signed_at.map(rfc3339))
                .optional("reviewer-signed-at", r.reviewer_signed_at.map(rfc3339));
            let score = score_in(&answers, linked).map(|s| format!("{s:.2}"));
            node = node.optional("objectives-score", score);
            if let Some(basis) = basis {
                node.children.push(basis_node(basis));
            }
            node.children.extend(answer_nodes(answers));
            if let (false, Some(company_id), Some(ratings), Some(by), Some(at)) = (
                hidden,
                r.calibration_company_id,
                r.calibrated_ratings,
                r.calibrated_by,
                r.calibrated_at,
            ) {
                self.check(&CalibrationRow {
                    company_id,
                    review_id: r.id.clone(),
                })?;
                let json = self.open(CALIBRATED_RATINGS, &r.id, &ratings)?;
                let ratings: BTreeMap<String, i64> =
                    serde_json::from_str(&json).unwrap_or_default();
                let mut calibration = Node::new("calibration")
                    .field("calibrated-by", by)
                    .field("calibrated-at", rfc3339(at));
                for (question_id, rating) in ratings {
                    let mut node = Node::new("rating").attr("question-id", question_id);
                    node.text = rating.to_string();
                    calibration.children.push(node);
                }
                node.children.push(calibration);
            }
            nodes.push((r.id, node));
        }
        Ok(nodes)
    }

    /// Imports a whole-company export into this company, which must have no people and
    /// no cycles yet. Everything is written in one transaction: a refused file leaves
    /// nothing behind.
    async fn import_xml(&mut self, root: Node) -> Result<Imported, ActorError> {
        if root.name != ROOT {
            return Err(ActorError::Validation(format!(
                "the root element must be <{ROOT}>"
            )));
        }
        if root.get_attr("format-version") != Some(FORMAT_VERSION) {
            return Err(ActorError::Validation(format!(
                "only format-version=\"{FORMAT_VERSION}\" can be imported"
            )));
        }
        if root.get_attr("scope") != Some("company") {
            return Err(ActorError::Validation(
                "only a whole-company export (scope=\"company\") can be imported".into(),
            ));
        }

        let mut tx = self.db.begin_write().await?;
        let (people,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE company_id = $1")
            .bind(&self.id)
            .fetch_one(&mut *tx)
            .await?;
        let (cycles,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cycles WHERE company_id = $1")
            .bind(&self.id)
            .fetch_one(&mut *tx)
            .await?;
        if people > 0 || cycles > 0 {
            return Err(ActorError::Conflict(
                "the company is not empty: an import goes into a company without people \
                 or cycles"
                    .into(),
            ));
        }

        // The company's settings, from `<company>`; a file without them keeps the defaults.
        if let Some(company) = root.all("company").next()
            && company.get("skip-level-visible").is_some()
        {
            let visible = flag(company, "skip-level-visible")?;
            sqlx::query("UPDATE companies SET skip_level_visible = $2 WHERE id = $1")
                .bind(&self.id)
                .bind(i64::from(visible))
                .execute(&mut *tx)
                .await?;
        }

        let mut ids = IdMaps::default();
        let mut imported = Imported::default();
        for section in SECTIONS {
            let wrappers: Vec<&Node> = root.all(section.name()).collect();
            if wrappers.len() > 1 {
                return Err(ActorError::Validation(format!(
                    "<{}> appears more than once",
                    section.name()
                )));
            }
            let Some(wrapper) = wrappers.first() else {
                continue;
            };
            if let Some(stray) = wrapper.children.iter().find(|c| c.name != section.row()) {
                return Err(ActorError::Validation(format!(
                    "<{}> may hold only <{}> elements, not <{}>",
                    section.name(),
                    section.row(),
                    stray.name
                )));
            }
            match section {
                Section::Users => self.import_users(&mut tx, wrapper, &mut ids).await?,
                Section::Cycles => self.import_cycles(&mut tx, wrapper, &mut ids).await?,
                Section::Reviews => self.import_reviews(&mut tx, wrapper, &mut ids).await?,
                Section::Objectives => self.import_objectives(&mut tx, wrapper, &mut ids).await?,
                Section::Comments => self.import_comments(&mut tx, wrapper, &mut ids).await?,
                Section::Feedback => self.import_feedback(&mut tx, wrapper, &mut ids).await?,
                Section::FeedbackRequests => {
                    self.import_feedback_requests(&mut tx, wrapper, &mut ids)
                        .await?
                }
                Section::FeedbackAnswers => {
                    self.import_feedback_answers(&mut tx, wrapper, &mut ids)
                        .await?
                }
            }
        }
        self.finish_objective_answers(&mut tx, &mut ids).await?;
        let count = |map: &IdMap| map.0.len() as u64;
        imported.rows.insert("user".into(), count(&ids.users));
        imported.rows.insert("cycle".into(), count(&ids.cycles));
        imported
            .rows
            .insert("question".into(), count(&ids.questions));
        imported.rows.insert("review".into(), count(&ids.reviews));
        imported.rows.insert("calibration".into(), ids.calibrations);
        imported
            .rows
            .insert("objective".into(), count(&ids.objectives));
        imported
            .rows
            .insert("key-result".into(), count(&ids.key_results));
        imported.rows.insert("comment".into(), count(&ids.comments));
        imported
            .rows
            .insert("feedback-settings".into(), ids.feedback_cycles.len() as u64);
        imported
            .rows
            .insert("feedback-question".into(), count(&ids.feedback_questions));
        imported
            .rows
            .insert("feedback-request".into(), count(&ids.feedback_requests));
        imported
            .rows
            .insert("feedback-answer".into(), ids.feedback_answers);

        let detail = serde_json::to_value(&imported.rows).unwrap_or_default();
        self.record_audit(
            &mut *tx,
            None,
            "company_imported",
            None,
            &Client::system(),
            detail,
        )
        .await?;
        tx.commit().await?;
        self.policy_cache = None;
        Ok(imported)
    }

    /// Rewrites the objectives answers of imported reviews under the new ids of the
    /// objectives they rate; an objective not in the file refuses the import.
    async fn finish_objective_answers(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        let pending = std::mem::take(&mut ids.pending_objective_answers);
        for p in pending {
            let PendingObjectives {
                review_id,
                old_id,
                cycle_id,
                reviewee,
                scale,
                mut answers,
                basis,
            } = p;
            let refuse =
                |why: &str| ActorError::Validation(format!("<review id=\"{old_id}\">: {why}"));
            let renamed = |old: &str| {
                ids.objectives
                    .0
                    .get(old)
                    .cloned()
                    .ok_or_else(|| refuse("rates an objective not in the file"))
            };
            // The reviewee's own objectives: a basis names only those.
            let owned: Vec<(String, String)> = sqlx::query_as(
                "SELECT company_id, id FROM objectives WHERE company_id = $1 AND owner_id = $2",
            )
            .bind(&self.id)
            .bind(&reviewee)
            .fetch_all(&mut **tx)
            .await?;
            if owned.iter().any(|(company, _)| *company != self.id) {
                return Err(ActorError::Validation("a foreign objective".into()));
            }
            let owned: HashSet<String> = owned.into_iter().map(|(_, id)| id).collect();
            let basis = match basis {
                Some(basis) => {
                    let mut new_basis = Basis::with_capacity(basis.len());
                    for (old, weight) in basis {
                        let new = renamed(&old)?;
                        if !owned.contains(&new) {
                            return Err(refuse(
                                "<objectives-basis> names an objective not of the reviewee",
                            ));
                        }
                        new_basis.push((new, weight));
                    }
                    Some(new_basis)
                }
                None => None,
            };
            // The same check as a save through the API: objectives of the reviewee
            // linked into the cycle (or in the basis the review was submitted on); one
            // of theirs rated and unlinked since stays, as a save may keep it.
            let mut linked = self.linked_weights(tx, &cycle_id, &reviewee).await?;
            if let Some(basis) = &basis {
                linked.extend(basis_weights(basis));
            }
            for answer in answers.values_mut() {
                let Answer::Objectives(rated) = answer else {
                    continue;
                };
                let mut new_ids = BTreeMap::new();
                for (old, value) in std::mem::take(rated) {
                    new_ids.insert(renamed(&old)?, value);
                }
                // Compared after the check's own trimming of comments.
                let kept: BTreeMap<String, ObjectiveAnswer> = new_ids
                    .iter()
                    .filter(|(id, _)| owned.contains(*id))
                    .map(|(id, value)| {
                        let comment = value
                            .comment
                            .as_ref()
                            .map(|c| c.trim().to_owned())
                            .filter(|c| !c.is_empty());
                        let value = ObjectiveAnswer {
                            rating: value.rating,
                            comment,
                        };
                        (id.clone(), value)
                    })
                    .collect();
                *rated =
                    check_objective_answers(new_ids, Some(&kept), scale, &linked).map_err(|e| {
                        match e {
                            ActorError::Validation(why) => refuse(&why),
                            other => other,
                        }
                    })?;
            }
            let sealed = self.sealed_answers(&review_id, &answers)?;
            let basis = basis.as_ref().map(basis_json).transpose()?;
            sqlx::query(
                "UPDATE reviews SET answers = $3, objectives_basis = $4 \
                 WHERE company_id = $1 AND id = $2",
            )
            .bind(&self.id)
            .bind(&review_id)
            .bind(&sealed)
            .bind(basis)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    async fn import_users(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wrapper: &Node,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        // Everyone first, then the reporting lines: a manager may come later in the file.
        for row in wrapper.all("user") {
            let id = ids.users.assign(row)?;
            let email = normalize_email(required(row, "email")?);
            if email.is_empty() || !email.contains('@') {
                return Err(invalid(row, "<email> is not an email address"));
            }
            let name = required(row, "name")?.trim();
            if name.is_empty() {
                return Err(invalid(row, "<name> is empty"));
            }
            // The stored roles this build knows; a new role is added here too.
            let role = one_of(row, "role", &["employee", "hr_admin", "hr_assistant"])?;
            let disabled = one_of(row, "disabled", &["true", "false"])? == "true";
            let created_at = time(row, "created-at")?.unwrap_or_else(now_ms);
            let department = row
                .get("department")
                .map(str::trim)
                .filter(|d| !d.is_empty());
            let inserted = sqlx::query(
                "INSERT INTO users (company_id, id, email, name, role, manager_id, \
                 password_hash, disabled, created_at, department) \
                 VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7, $8)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&email)
            .bind(name)
            .bind(role)
            .bind(i64::from(disabled))
            .bind(created_at)
            .bind(department)
            .execute(&mut **tx)
            .await;
            if inserted.is_err() {
                return Err(invalid(
                    row,
                    "the email is used by another user of the file",
                ));
            }
        }
        for row in wrapper.all("user") {
            let Some(manager) = row.get("manager-id") else {
                continue;
            };
            let id = ids
                .users
                .get(row, "user", row.get_attr("id").unwrap_or(""))?;
            let manager_id = ids.users.get(row, "manager", manager)?;
            if manager_id == id {
                return Err(invalid(row, "a user cannot be their own manager"));
            }
            sqlx::query("UPDATE users SET manager_id = $3 WHERE company_id = $1 AND id = $2")
                .bind(&self.id)
                .bind(&id)
                .bind(&manager_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    async fn import_cycles(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wrapper: &Node,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        for row in wrapper.all("cycle") {
            let id = ids.cycles.assign(row)?;
            let name = required(row, "name")?.trim();
            if name.is_empty() {
                return Err(invalid(row, "<name> is empty"));
            }
            let status = one_of(row, "status", &["open", "closed"])?;
            let created_by = ids.users.get(row, "user", required(row, "created-by")?)?;
            let created_at = time(row, "created-at")?.unwrap_or_else(now_ms);
            // A file written before cycles had phases: the database's defaults.
            let phase = match row.get("phase") {
                None => "self_review",
                Some(_) => one_of(
                    row,
                    "phase",
                    &[
                        "self_review",
                        "manager_review",
                        "sharing",
                        "sign_off",
                        "closed",
                    ],
                )?,
            };
            let min = optional_number(row, "rating-min")?.unwrap_or(1);
            let max = optional_number(row, "rating-max")?.unwrap_or(5);
            if min < 0 || min >= max || max > 100 {
                return Err(invalid(
                    row,
                    "the rating scale must go up from <rating-min> to <rating-max>, within \
                     0 to 100",
                ));
            }
            sqlx::query(
                "INSERT INTO cycles (company_id, id, name, status, due_at, created_by, \
                 created_at, phase, rating_min, rating_max, self_review_due_at, \
                 manager_review_due_at, sign_off_due_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(name)
            .bind(status)
            .bind(time(row, "due-at")?)
            .bind(&created_by)
            .bind(created_at)
            .bind(phase)
            .bind(min)
            .bind(max)
            .bind(time(row, "self-review-due-at")?)
            .bind(time(row, "manager-review-due-at")?)
            .bind(time(row, "sign-off-due-at")?)
            .execute(&mut **tx)
            .await?;
            ids.cycle_scales.insert(id.clone(), (min, max));

            let mut own = HashMap::new();
            for question in row.all("question") {
                let question_id = ids.questions.assign(question)?;
                own.insert(
                    question.get_attr("id").unwrap_or("").to_owned(),
                    question_id.clone(),
                );
                let kind = one_of(question, "kind", &["text", "rating", "objectives"])?;
                if kind == "objectives" {
                    ids.objective_questions.insert(question_id.clone());
                }
                sqlx::query(
                    "INSERT INTO questions (company_id, id, cycle_id, position, kind, prompt) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&self.id)
                .bind(&question_id)
                .bind(&id)
                .bind(number(question, "position")?)
                .bind(kind)
                .bind(required(question, "prompt")?)
                .execute(&mut **tx)
                .await?;
            }
            ids.cycle_questions.insert(id, own);
        }
        Ok(())
    }

    async fn import_reviews(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wrapper: &Node,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        let statuses = ["not_started", "draft", "submitted", "shared", "signed"];
        for row in wrapper.all("review") {
            let id = ids.reviews.assign(row)?;
            let cycle_id = ids.cycles.get(row, "cycle", required(row, "cycle-id")?)?;
            let reviewee = ids.users.get(row, "user", required(row, "reviewee-id")?)?;
            let reviewer = ids.users.get(row, "user", required(row, "reviewer-id")?)?;
            let kind = one_of(row, "kind", &["self", "manager"])?;
            let status = one_of(row, "status", &statuses)?;
            let version = number(row, "version")?;
            let updated_at = time(row, "updated-at")?.unwrap_or_else(now_ms);
            let questions = ids.cycle_questions.get(&cycle_id);
            let scale = ids.cycle_scales.get(&cycle_id).copied().unwrap_or((1, 5));
            let answers =
                read_answers_with(row, "answer", questions, scale, &ids.objective_questions)?;
            let sealed = self.sealed_answers(&id, &answers)?;
            let basis = read_basis(row)?;
            if basis.is_some() || answers.values().any(|a| matches!(a, Answer::Objectives(_))) {
                ids.pending_objective_answers.push(PendingObjectives {
                    review_id: id.clone(),
                    old_id: row.get_attr("id").unwrap_or("").to_owned(),
                    cycle_id: cycle_id.clone(),
                    reviewee: reviewee.clone(),
                    scale: RatingScale {
                        min: scale.0,
                        max: scale.1,
                    },
                    answers,
                    basis,
                });
            }
            let shared_by = match row.get("shared-by") {
                Some(old) => Some(ids.users.get(row, "user", old)?),
                None => None,
            };
            sqlx::query(
                "INSERT INTO reviews (company_id, id, cycle_id, reviewee_id, reviewer_id, kind, \
                 status, answers, version, updated_at, submitted_at, shared_at, shared_by, \
                 reviewee_signed_at, reviewer_signed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&cycle_id)
            .bind(&reviewee)
            .bind(&reviewer)
            .bind(kind)
            .bind(status)
            .bind(&sealed)
            .bind(version)
            .bind(updated_at)
            .bind(time(row, "submitted-at")?)
            .bind(time(row, "shared-at")?)
            .bind(shared_by)
            .bind(time(row, "reviewee-signed-at")?)
            .bind(time(row, "reviewer-signed-at")?)
            .execute(&mut **tx)
            .await?;
            self.import_calibration(tx, row, &id, &cycle_id, ids)
                .await?;
        }
        Ok(())
    }

    /// The `<calibration>` of an imported review, sealed for its new id.
    async fn import_calibration(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        row: &Node,
        review_id: &str,
        cycle_id: &str,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        let mut calibrations = row.all("calibration");
        let Some(calibration) = calibrations.next() else {
            return Ok(());
        };
        if calibrations.next().is_some() {
            return Err(invalid(row, "has more than one <calibration>"));
        }
        if required(row, "kind")? != "manager" {
            return Err(invalid(row, "only a manager review is calibrated"));
        }
        let questions = ids.cycle_questions.get(cycle_id);
        let (min, max) = ids.cycle_scales.get(cycle_id).copied().unwrap_or((1, 5));
        let mut ratings = BTreeMap::new();
        for rating in calibration.all("rating") {
            let old = rating.get_attr("question-id").unwrap_or("");
            let question = questions
                .and_then(|q| q.get(old))
                .ok_or_else(|| invalid(row, "calibrates a question not of its cycle"))?;
            let value: i64 = rating
                .text
                .trim()
                .parse()
                .ok()
                .filter(|r| (min..=max).contains(r))
                .ok_or_else(|| {
                    invalid(row, &format!("a calibrated rating is not {min} to {max}"))
                })?;
            ratings.insert(question.clone(), value);
        }
        if ratings.is_empty() {
            return Err(invalid(row, "its <calibration> has no <rating>"));
        }
        let calibrated_by = ids
            .users
            .get(row, "user", required(calibration, "calibrated-by")?)?;
        let calibrated_at = time(calibration, "calibrated-at")?.unwrap_or_else(now_ms);
        let json = serde_json::to_string(&ratings)
            .map_err(|_| invalid(row, "the calibration could not be stored"))?;
        sqlx::query(
            "INSERT INTO calibrations (company_id, review_id, ratings, calibrated_by, \
             calibrated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&self.id)
        .bind(review_id)
        .bind(self.seal(CALIBRATED_RATINGS, review_id, &json)?)
        .bind(&calibrated_by)
        .bind(calibrated_at)
        .execute(&mut **tx)
        .await?;
        ids.calibrations += 1;
        Ok(())
    }
}

impl CompanyHandle {
    /// Starts an XML export: checks that the principal is an HR admin who
    /// reauthenticated lately and that the operator switched XML export on for the
    /// company (`XmlExportDisabled` otherwise), checks the cycle of a cycle export
    /// (`NotFound` for another company's), and records the export in the trail.
    pub async fn begin_xml_export(
        &self,
        principal: Principal,
        scope: XmlScope,
        client: Client,
    ) -> Result<XmlExport, ActorError> {
        self.call(move |c| Box::pin(c.begin_xml_export(principal, scope, client)))
            .await
    }

    /// One page of a section of an XML export already begun: up to `limit` rows (each
    /// with its id, where the next page starts) whose ids sort after `after`.
    pub async fn xml_page(
        &self,
        principal: Principal,
        section: Section,
        scope: XmlScope,
        after: String,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        self.call(move |c| {
            Box::pin(async move {
                if !principal.roles.hr_admin {
                    return Err(ActorError::Forbidden);
                }
                c.xml_page(section, &scope, &principal.user_id, &after, limit)
                    .await
            })
        })
        .await
    }

    /// Imports a parsed whole-company export into this company, which must be empty
    /// (`Conflict` otherwise). A refused file (`Validation` names the element) writes
    /// nothing. The operator's command; audited as `company_imported`.
    pub async fn import_xml(&self, root: Node) -> Result<Imported, ActorError> {
        self.call(move |c| Box::pin(c.import_xml(root))).await
    }
}
