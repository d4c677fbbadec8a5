//! The domain model shared by the actors and the HTTP layer: principals, cycles, reviews
//! and their progress. These are the shapes clients see, so each derives its schema for
//! the OpenAPI document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The authenticated caller of a command, as the session layer established it.
///
/// A principal is only ever built from a session row the company's own actor checked;
/// nothing a client sends can change its company or roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The company whose actor answered for this session.
    pub company_id: String,
    /// The signed-in user.
    pub user_id: String,
    /// The session the request came with, so that logout can end exactly it.
    pub session_id: String,
    /// What the user may do.
    pub roles: Roles,
    /// Until when (UTC ms) the session may take sensitive actions; the password was
    /// given again shortly before.
    pub elevated_until: i64,
    /// How far sign-in has come; only [`Stage::Full`] sessions reach the product.
    pub stage: Stage,
}

/// How far a session's sign-in has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Signed in completely.
    Full,
    /// The password was right; a second factor is still due.
    SecondFactor,
    /// The company requires 2-step verification and the user has none yet: they may
    /// only enroll.
    Enrollment,
}

impl Stage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Full => "full",
            Stage::SecondFactor => "second_factor",
            Stage::Enrollment => "enrollment",
        }
    }

    /// Parses a stored name; anything unknown is the most restricted stage.
    pub fn parse(name: &str) -> Stage {
        match name {
            "full" => Stage::Full,
            "enrollment" => Stage::Enrollment,
            _ => Stage::SecondFactor,
        }
    }
}

impl Principal {
    /// Whether the session reauthenticated recently enough for a sensitive action.
    pub fn is_elevated(&self) -> bool {
        self.elevated_until > crate::db::now_ms()
    }
}

/// Where a request came from, for the audit trail and address rules.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client address (TCP peer, or as a trusted proxy reported it).
    pub ip: std::net::IpAddr,
    /// The browser's User-Agent, cut to a sane length.
    pub user_agent: String,
}

impl Client {
    /// The server itself, for what it does on its own (emails, the operator's commands,
    /// the demo seed): address `0.0.0.0`, browser `kaizen`.
    pub fn system() -> Client {
        Client {
            ip: std::net::Ipv4Addr::UNSPECIFIED.into(),
            user_agent: "kaizen".into(),
        }
    }
}

/// The roles of a user. Every user is an employee; "manager" is derived from reporting
/// lines at sign-in and on every request, so it follows the org chart without a grant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    /// Has at least one direct report.
    pub manager: bool,
    /// Runs cycles and sees the company's content.
    pub hr_admin: bool,
    /// Runs cycles (creates, advances, watches, reminds) without seeing any written
    /// content: no answers, no ratings.
    pub hr_assistant: bool,
}

impl Roles {
    /// The role names shown to clients, employee first.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = vec!["employee"];
        if self.manager {
            names.push("manager");
        }
        if self.hr_admin {
            names.push("hr_admin");
        }
        if self.hr_assistant {
            names.push("hr_assistant");
        }
        names
    }

    /// Whether the user runs review cycles: HR admins and HR assistants.
    pub fn runs_cycles(&self) -> bool {
        self.hr_admin || self.hr_assistant
    }
}

/// The stored role of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Writes their own reviews; becomes a manager by having reports.
    Employee,
    /// Runs cycles, sees dashboards and content, sets policy.
    HrAdmin,
    /// Runs cycles and sees dashboards, but no written content.
    HrAssistant,
}

impl UserRole {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserRole::Employee => "employee",
            UserRole::HrAdmin => "hr_admin",
            UserRole::HrAssistant => "hr_assistant",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(name: &str) -> Option<UserRole> {
        match name {
            "employee" => Some(UserRole::Employee),
            "hr_admin" => Some(UserRole::HrAdmin),
            "hr_assistant" => Some(UserRole::HrAssistant),
            _ => None,
        }
    }
}

/// The signed-in user as `GET /api/v1/me` shows them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    /// The user's id.
    pub id: String,
    /// The company's slug, as typed at sign-in.
    pub company: String,
    /// Lowercased email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `employee`, and `manager` / `hr_admin` / `hr_assistant` where they apply.
    pub roles: Vec<String>,
    /// The user's manager, if any.
    pub manager_id: Option<String>,
}

/// The kind of a question in a cycle's questionnaire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Free text, up to [`MAX_TEXT_ANSWER_CHARS`] characters.
    Text,
    /// A whole number on the cycle's rating scale (1 to 5 unless set otherwise).
    Rating,
    /// A rating on the cycle's scale, and an optional comment, for each of the
    /// reviewee's objectives linked into the cycle (review cycles only; at most one
    /// per cycle). Answered as [`Answer::Objectives`].
    Objectives,
}

impl QuestionKind {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Text => "text",
            QuestionKind::Rating => "rating",
            QuestionKind::Objectives => "objectives",
        }
    }

    /// Parses a stored name; an unknown one reads as text, the kind that asks least.
    pub fn parse(name: &str) -> QuestionKind {
        match name {
            "rating" => QuestionKind::Rating,
            "objectives" => QuestionKind::Objectives,
            _ => QuestionKind::Text,
        }
    }
}

/// The longest comment on one objective in an objectives answer, in characters.
pub const MAX_OBJECTIVE_COMMENT_CHARS: usize = 2_000;

/// The longest text answer accepted, in characters.
pub const MAX_TEXT_ANSWER_CHARS: usize = 20_000;

/// One question of a cycle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Question {
    /// The question's id; answers are keyed by it.
    pub id: String,
    /// Text, rating or objectives (review cycles only, at most one per cycle).
    pub kind: QuestionKind,
    /// What the question asks.
    pub prompt: String,
}

/// A review cycle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Cycle {
    /// The cycle's id.
    pub id: String,
    /// Its name, e.g. "2026 Annual Review".
    pub name: String,
    /// `open` or `closed`.
    pub status: String,
    /// When reviews are due, RFC 3339 UTC.
    pub due_at: Option<String>,
    /// When the cycle was created, RFC 3339 UTC.
    pub created_at: String,
    /// The questionnaire, in order.
    pub questions: Vec<Question>,
    /// The phase the cycle is in.
    pub phase: Phase,
    /// The scale rating answers are given on.
    pub rating_scale: RatingScale,
    /// The deadline of each phase that has one, RFC 3339 UTC.
    pub deadlines: Deadlines,
}

/// The phases of a cycle, in order. HR moves a cycle forward one phase at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Everyone writes their self review. Managers may draft theirs already.
    SelfReview,
    /// Managers write and submit their reviews.
    ManagerReview,
    /// HR calibrates ratings; managers (or HR admins) share submitted manager reviews
    /// with their reviewees.
    Sharing,
    /// Reviewee and manager each sign the shared review.
    SignOff,
    /// Done: nothing in the cycle changes any more.
    Closed,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 5] = [
        Phase::SelfReview,
        Phase::ManagerReview,
        Phase::Sharing,
        Phase::SignOff,
        Phase::Closed,
    ];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::SelfReview => "self_review",
            Phase::ManagerReview => "manager_review",
            Phase::Sharing => "sharing",
            Phase::SignOff => "sign_off",
            Phase::Closed => "closed",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|phase| phase.as_str() == name)
    }

    /// The phase after this one; `Closed` stays closed.
    pub fn next(self) -> Phase {
        match self {
            Phase::SelfReview => Phase::ManagerReview,
            Phase::ManagerReview => Phase::Sharing,
            Phase::Sharing => Phase::SignOff,
            Phase::SignOff | Phase::Closed => Phase::Closed,
        }
    }
}

/// The whole numbers a rating answer may take, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingScale {
    /// The lowest rating (0 to 99).
    pub min: i64,
    /// The highest rating (above `min`, at most 100).
    pub max: i64,
}

impl Default for RatingScale {
    fn default() -> Self {
        RatingScale { min: 1, max: 5 }
    }
}

impl RatingScale {
    /// Whether `rating` is on the scale.
    pub fn contains(self, rating: i64) -> bool {
        (self.min..=self.max).contains(&rating)
    }
}

/// The deadline of each phase that has one, RFC 3339. Sharing has none of its own: it
/// is done when sign-off can begin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// When self reviews are due.
    #[serde(default)]
    pub self_review: Option<String>,
    /// When manager reviews are due.
    #[serde(default)]
    pub manager_review: Option<String>,
    /// When shared reviews must be signed by both.
    #[serde(default)]
    pub sign_off: Option<String>,
}

/// A question as HR writes it when creating a cycle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuestion {
    /// Text, rating or objectives (review cycles only, at most one per cycle).
    pub kind: QuestionKind,
    /// What the question asks (1–1000 characters).
    pub prompt: String,
}

/// What `POST /api/v1/cycles` takes. Only `name` and `questions` are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCycle {
    /// The cycle's name (1–200 characters).
    pub name: String,
    /// The questionnaire (1–50 questions).
    pub questions: Vec<NewQuestion>,
    /// The users who are reviewed; every active user when absent (and no
    /// `departments` are given).
    #[serde(default)]
    pub participants: Option<Vec<String>>,
    /// Review the active users of these departments instead of everyone; not together
    /// with `participants`.
    #[serde(default)]
    pub departments: Option<Vec<String>>,
    /// When reviews are due, RFC 3339.
    #[serde(default)]
    pub due_at: Option<String>,
    /// The rating scale; 1 to 5 when absent.
    #[serde(default)]
    pub rating_scale: Option<RatingScale>,
    /// A deadline per phase, each optional; they must not go back in time.
    #[serde(default)]
    pub deadlines: Option<Deadlines>,
}

/// Who writes a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    /// The reviewee reviews themselves.
    #[serde(rename = "self")]
    SelfReview,
    /// The reviewee's manager reviews them.
    Manager,
}

impl ReviewKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReviewKind::SelfReview => "self",
            ReviewKind::Manager => "manager",
        }
    }
}

/// Where a review stands. Drafts become `draft` at the first save; the order of the
/// variants is the order of the phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Nobody has saved anything yet.
    NotStarted,
    /// Saved but not submitted; only the writer can read a draft's progress live.
    Draft,
    /// Handed in; no more edits.
    Submitted,
    /// Shared with the reviewee.
    Shared,
    /// Signed off by both the reviewee and the manager.
    Signed,
}

impl ReviewStatus {
    /// Every status, in phase order.
    pub const ALL: [ReviewStatus; 5] = [
        ReviewStatus::NotStarted,
        ReviewStatus::Draft,
        ReviewStatus::Submitted,
        ReviewStatus::Shared,
        ReviewStatus::Signed,
    ];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::NotStarted => "not_started",
            ReviewStatus::Draft => "draft",
            ReviewStatus::Submitted => "submitted",
            ReviewStatus::Shared => "shared",
            ReviewStatus::Signed => "signed",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<ReviewStatus> {
        ReviewStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
    }

    /// Whether the writer may still change the answers.
    pub fn is_editable(self) -> bool {
        matches!(self, ReviewStatus::NotStarted | ReviewStatus::Draft)
    }
}

/// One answer: text for a text question, a number on the cycle's scale for a rating,
/// and for an objectives question an object keyed by objective id, e.g.
/// `{"<objective id>": {"rating": 4, "comment": "Shipped early"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Answer {
    /// A rating from 1 to 5.
    Rating(i64),
    /// Free text.
    Text(String),
    /// A rating per objective, keyed by objective id: only objectives of the reviewee
    /// that are linked into the cycle. The whole object replaces the stored one.
    Objectives(BTreeMap<String, ObjectiveAnswer>),
}

/// The answer about one objective in an objectives question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveAnswer {
    /// A whole number on the cycle's rating scale.
    pub rating: i64,
    /// An optional comment (written content, sealed with the other answers), at most
    /// 2,000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One of the reviewee's objectives linked into a review's cycle, as the review's
/// readers see it next to an objectives question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReviewObjective {
    /// The objective's id: the key of its answer.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its weight in the cycle as linked (1 to 100), if one was given.
    pub weight: Option<i64>,
    /// The weight the score uses: the linked weight, or 1 when none was given.
    pub score_weight: i64,
    /// The mean progress of its key results, 0 to 100.
    pub progress: i64,
    /// How it is going, as its editors judge it (`draft`, `on_track`, …).
    pub status: String,
}

/// The weighted score of an objectives answer: Σ weight·rating / Σ weight over the
/// `linked` objectives (id → weight in the cycle, `None` counting as 1) that the answer
/// rates, rounded to two decimals. Ratings of objectives no longer linked are kept in
/// the answer but left out here. `None` when no linked objective is rated.
pub fn objectives_score(
    answer: &BTreeMap<String, ObjectiveAnswer>,
    linked: &BTreeMap<String, Option<i64>>,
) -> Option<f64> {
    let (mut sum, mut weights) = (0_i64, 0_i64);
    for (id, weight) in linked {
        if let Some(rated) = answer.get(id) {
            let weight = weight.unwrap_or(1);
            sum = sum.saturating_add(weight.saturating_mul(rated.rating));
            weights = weights.saturating_add(weight);
        }
    }
    // Ratings and weights are small whole numbers, so the f64 conversions are exact.
    (weights > 0).then(|| ((sum as f64 / weights as f64) * 100.0).round() / 100.0)
}

/// Answers keyed by question id.
pub type Answers = BTreeMap<String, Answer>;

/// A review in a list: who, what and where it stands, without the answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewSummary {
    /// The review's id.
    pub id: String,
    /// Its cycle.
    pub cycle_id: String,
    /// The cycle's name.
    pub cycle_name: String,
    /// The cycle's phase: a review of a closed cycle is no longer to do.
    pub cycle_phase: Phase,
    /// Who is reviewed.
    pub reviewee_id: String,
    /// The reviewee's name.
    pub reviewee_name: String,
    /// Who writes it.
    pub reviewer_id: String,
    /// The writer's name.
    pub reviewer_name: String,
    /// Self or manager review.
    pub kind: ReviewKind,
    /// Where it stands.
    pub status: ReviewStatus,
    /// The version a save must name.
    pub version: i64,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
    /// When it was shared with the reviewee, RFC 3339 UTC.
    pub shared_at: Option<String>,
    /// When the reviewee signed it, RFC 3339 UTC.
    pub reviewee_signed_at: Option<String>,
    /// When its writer (the manager) signed it, RFC 3339 UTC.
    pub reviewer_signed_at: Option<String>,
}

/// A whole review, answers included.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Review {
    /// Everything the list shows.
    #[serde(flatten)]
    pub summary: ReviewSummary,
    /// Answers keyed by question id.
    pub answers: Answers,
    /// The cycle's questionnaire.
    pub questions: Vec<Question>,
    /// The cycle's rating scale.
    pub rating_scale: RatingScale,
    /// Ratings HR calibrated, keyed by question id: shown to the writer, managers and
    /// HR admins. The reviewee gets them merged into `answers` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated_ratings: Option<BTreeMap<String, i64>>,
    /// For a cycle with an objectives question: the reviewee's objectives linked into
    /// the cycle, in link order. Absent for other cycles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objectives: Option<Vec<ReviewObjective>>,
    /// For a cycle with an objectives question: Σ weight·rating / Σ weight over the
    /// linked objectives its answer rates (a link without a weight counts 1), to two
    /// decimals; `null` while none is rated. Calibration does not change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objectives_score: Option<Option<f64>>,
}

/// What `PATCH /api/v1/reviews/{id}` takes. A `null` answer clears that question.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftUpdate {
    /// The answers to change, keyed by question id; others stay as they are.
    #[schema(value_type = BTreeMap<String, Answer>)]
    pub answers: BTreeMap<String, Option<Answer>>,
    /// The version this change was based on.
    pub version: i64,
}

/// Saves of the same answers from two places: what the 409 of
/// `PATCH /api/v1/reviews/{id}` carries so that the client can show both versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReviewConflict {
    /// The review's current version: send it with the answers the user settles on.
    pub version: i64,
    /// Each answer changed both by the caller and, since the caller's version, by
    /// someone else.
    pub answers: Vec<AnswerConflict>,
}

/// One answer two saves disagree on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AnswerConflict {
    /// The question.
    pub question_id: String,
    /// What the caller sent (`null`: clear it).
    pub yours: Option<Answer>,
    /// What is stored now (`null`: no answer).
    pub theirs: Option<Answer>,
    /// The version that stored it.
    pub their_version: i64,
}

/// What a saved draft answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Saved {
    /// The new version, for the next save.
    pub version: i64,
    /// Where the review stands now (`draft`).
    pub status: ReviewStatus,
    /// When it was saved, RFC 3339 UTC.
    pub updated_at: String,
}

/// Review counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    /// All reviews.
    pub total: i64,
    /// Not yet saved once.
    pub not_started: i64,
    /// Saved, not submitted.
    pub draft: i64,
    /// Submitted.
    pub submitted: i64,
    /// Shared with the reviewee.
    pub shared: i64,
    /// Signed off.
    pub signed: i64,
    /// Not finished although the deadline of its phase has passed: a self or manager
    /// review not submitted by its phase's deadline, a manager review not signed by
    /// both by the sign-off deadline.
    pub overdue: i64,
}

impl Counts {
    pub(crate) fn add(&mut self, status: ReviewStatus, n: i64) {
        self.total += n;
        let slot = match status {
            ReviewStatus::NotStarted => &mut self.not_started,
            ReviewStatus::Draft => &mut self.draft,
            ReviewStatus::Submitted => &mut self.submitted,
            ReviewStatus::Shared => &mut self.shared,
            ReviewStatus::Signed => &mut self.signed,
        };
        *slot += n;
    }
}

/// A cycle's progress: counts over all its reviews, and the same per review kind,
/// per reviewee department and per reviewee manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    /// The cycle.
    pub cycle_id: String,
    /// The phase the cycle is in.
    pub phase: Phase,
    /// Counts over every review of the cycle.
    #[serde(flatten)]
    pub counts: Counts,
    /// The same counts per review kind (`self`, `manager`).
    pub by_kind: BTreeMap<String, Counts>,
    /// The same counts per reviewee department; `""` holds reviewees without one.
    pub by_department: BTreeMap<String, Counts>,
    /// The same counts per reviewee's manager, by name; reviewees without a manager
    /// have `manager_id` null.
    pub by_manager: Vec<ManagerCounts>,
}

/// Progress counts of the reviews about one manager's direct reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ManagerCounts {
    /// The manager, or null for reviewees without one.
    pub manager_id: Option<String>,
    /// The manager's name.
    pub manager_name: Option<String>,
    /// The counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// One manager review in the calibration view: the manager's ratings and HR's.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CalibrationEntry {
    /// The manager review.
    pub review_id: String,
    /// Who is reviewed.
    pub reviewee_id: String,
    /// The reviewee's name.
    pub reviewee_name: String,
    /// The reviewee's department.
    pub department: Option<String>,
    /// The manager who wrote it.
    pub reviewer_id: String,
    /// The manager's name.
    pub reviewer_name: String,
    /// Where the review stands; ratings are calibrated while it is `submitted`.
    pub status: ReviewStatus,
    /// The manager's ratings, keyed by question id.
    pub ratings: BTreeMap<String, i64>,
    /// HR's calibrated ratings, keyed by question id, if any were set.
    pub calibrated: Option<BTreeMap<String, i64>>,
    /// When they were last set, RFC 3339 UTC.
    pub calibrated_at: Option<String>,
}

/// The calibration view of a cycle (HR admins).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Calibration {
    /// The cycle.
    pub cycle_id: String,
    /// The phase it is in.
    pub phase: Phase,
    /// The rating scale.
    pub rating_scale: RatingScale,
    /// The cycle's rating questions, in order.
    pub questions: Vec<Question>,
    /// One entry per manager review.
    pub reviews: Vec<CalibrationEntry>,
}

/// What `PUT /api/v1/cycles/{id}/calibration/{review_id}` takes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrationUpdate {
    /// Calibrated ratings keyed by rating question id; replaces earlier ones.
    pub ratings: BTreeMap<String, i64>,
}

/// What a reminder run answers.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct RemindersSent {
    /// Emails sent in this run.
    pub sent: i64,
}

/// A company's settings for reviews: `GET`/`PUT /api/v1/admin/review-settings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// Whether managers read the reviews of everyone below them in the reporting line
    /// (on) or of their direct reports only (off, the default).
    pub skip_level_visible: bool,
}

/// Formats stored milliseconds as RFC 3339 UTC for clients.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Parses an RFC 3339 time into stored milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A company's security policy, set by its HR admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecurityPolicy {
    /// The shortest password accepted (8 to 128 characters).
    pub min_password_length: i64,
    /// Whether users may choose "remember me"; switching it off ends every remember-me
    /// session of the company.
    pub remember_me_allowed: bool,
    /// Whether every user must use 2-step verification.
    pub second_factor_required: bool,
    /// IPv4 and IPv6 ranges (CIDR) from which the company may be used; empty means any
    /// address.
    pub ip_ranges: Vec<String>,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            min_password_length: 8,
            remember_me_allowed: true,
            second_factor_required: false,
            ip_ranges: Vec::new(),
        }
    }
}

/// What `PUT /api/v1/admin/security-policy` takes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdate {
    /// The new policy.
    #[serde(flatten)]
    pub policy: SecurityPolicy,
    /// Must be true to save address ranges that exclude the admin's own address.
    #[serde(default)]
    pub confirm_own_address_excluded: bool,
}

/// One of the user's own sessions, as `GET /api/v1/me/sessions` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// The session's id (not its token).
    pub id: String,
    /// Sign-in time, RFC 3339 UTC.
    pub created_at: String,
    /// Last use, RFC 3339 UTC (updated at most once a minute).
    pub last_seen_at: String,
    /// The address it signed in from.
    pub ip: String,
    /// The browser it signed in with.
    pub user_agent: String,
    /// Whether it is a remember-me session.
    pub remember_me: bool,
    /// Whether it is the session making this request.
    pub current: bool,
}

/// A user as HR admins see them in the directory.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The user's id.
    pub id: String,
    /// Lowercased email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// The stored role.
    pub role: UserRole,
    /// The user's manager, if any.
    pub manager_id: Option<String>,
    /// The user's department, if set.
    pub department: Option<String>,
    /// Whether the account is disabled (cannot sign in).
    pub disabled: bool,
}

/// What `PATCH /api/v1/admin/users/{id}` takes; absent fields stay as they are.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// A new stored role.
    #[serde(default)]
    pub role: Option<UserRole>,
    /// Disable (true) or enable (false) the account.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// Which second factors a user has, for their account page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FactorStatus {
    /// Whether an authenticator app is set up.
    pub totp: bool,
    /// The confirmed phone number for SMS codes, all but its last two digits hidden.
    pub sms_phone: Option<String>,
    /// Recovery codes not yet used.
    pub recovery_codes_left: i64,
    /// Browsers trusted to skip the code, still valid.
    pub trusted_devices: i64,
}

/// The one form of an email address used for storage, lookups and rate-limit keys:
/// trimmed, Unicode-normalized (NFKC, so look-alike compositions compare equal) and
/// lowercased.
pub fn normalize_email(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    email.trim().nfkc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{ObjectiveAnswer, normalize_email, objectives_score};

    #[test]
    fn the_objectives_score_weighs_rated_linked_objectives_only() {
        let rated = |rating| ObjectiveAnswer {
            rating,
            comment: None,
        };
        let answer: BTreeMap<String, ObjectiveAnswer> = [
            ("a".to_owned(), rated(5)),
            ("b".to_owned(), rated(2)),
            ("gone".to_owned(), rated(1)),
        ]
        .into();
        // Weight 3 and no weight (1): (15 + 2) / 4; "gone" is not linked any more and
        // "c" is linked but not rated yet, so neither counts.
        let linked: BTreeMap<String, Option<i64>> = [
            ("a".to_owned(), Some(3)),
            ("b".to_owned(), None),
            ("c".to_owned(), Some(50)),
        ]
        .into();
        assert_eq!(objectives_score(&answer, &linked), Some(4.25));

        // Two decimals, and nothing to score without a rated linked objective.
        let thirds: BTreeMap<String, Option<i64>> =
            [("a".to_owned(), Some(1)), ("b".to_owned(), Some(2))].into();
        assert_eq!(objectives_score(&answer, &thirds), Some(3.0));
        let one: BTreeMap<String, ObjectiveAnswer> =
            [("a".to_owned(), rated(4)), ("b".to_owned(), rated(3))].into();
        let uneven: BTreeMap<String, Option<i64>> =
            [("a".to_owned(), Some(2)), ("b".to_owned(), None)].into();
        assert_eq!(objectives_score(&one, &uneven), Some(3.67));
        assert_eq!(objectives_score(&answer, &BTreeMap::new()), None);
    }

    #[test]
    fn emails_compare_after_trimming_normalizing_and_folding_case() {
        assert_eq!(normalize_email("  Ada@ACME.example "), "ada@acme.example");
        // A fullwidth "Ａ" and a composed "é" reach the same key as their plain forms.
        assert_eq!(
            normalize_email("\u{FF21}da@acme.example"),
            "ada@acme.example"
        );
        assert_eq!(
            normalize_email("re\u{0301}my@acme.example"),
            normalize_email("r\u{e9}my@acme.example")
        );
    }
}
