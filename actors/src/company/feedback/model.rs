//! The shapes of 360 feedback that clients see and send.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{Answer, Answers, NewQuestion, Question};

/// Who nominates the reviewers of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Nominator {
    /// The subject chooses their reviewers; their manager approves.
    Reviewee,
    /// The subject's manager chooses (approved at once).
    Manager,
    /// HR admins choose (approved at once).
    Hr,
}

impl Nominator {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Nominator::Reviewee => "reviewee",
            Nominator::Manager => "manager",
            Nominator::Hr => "hr",
        }
    }

    pub(crate) fn parse(name: &str) -> Nominator {
        match name {
            "manager" => Nominator::Manager,
            "hr" => Nominator::Hr,
            _ => Nominator::Reviewee,
        }
    }
}

/// A cycle's feedback settings, as `GET /api/v1/cycles/{id}/feedback` shows them. A
/// cycle whose feedback was never set up answers the defaults with `enabled: false`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackSettings {
    /// The cycle.
    pub cycle_id: String,
    /// The cycle's name.
    pub cycle_name: String,
    /// Whether nominations may be made.
    pub enabled: bool,
    /// Who nominates reviewers.
    pub nominated_by: Nominator,
    /// The fewest reviewers (nominations not rejected) a subject must have.
    pub min: i64,
    /// The most reviewers a subject may have.
    pub max: i64,
    /// Whether authors stay hidden from everyone, HR admins included.
    pub anonymous: bool,
    /// Whether HR closed the feedback: no more submissions, results released.
    pub closed: bool,
    /// The questionnaire reviewers answer, in order.
    pub questions: Vec<Question>,
}

/// What `PUT /api/v1/cycles/{id}/feedback` takes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackSettingsUpdate {
    /// Whether nominations may be made.
    pub enabled: bool,
    /// Who nominates reviewers.
    pub nominated_by: Nominator,
    /// The fewest reviewers per subject (1 to 20).
    pub min: i64,
    /// The most reviewers per subject (`min` to 20).
    pub max: i64,
    /// Anonymous or named; fixed once the first nomination exists.
    pub anonymous: bool,
    /// A new questionnaire (1 to 20 questions); only before anyone started writing.
    /// Absent: the current one, or a default one for a new setup.
    #[serde(default)]
    pub questions: Option<Vec<NewQuestion>>,
}

/// Where a nomination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Waiting for the subject's manager (or HR).
    Pending,
    /// The reviewer is asked for feedback.
    Approved,
    /// Turned down; the reviewer never hears of it.
    Rejected,
}

impl Approval {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Approval::Pending => "pending",
            Approval::Approved => "approved",
            Approval::Rejected => "rejected",
        }
    }

    pub(crate) fn parse(name: &str) -> Approval {
        match name {
            "approved" => Approval::Approved,
            "rejected" => Approval::Rejected,
            _ => Approval::Pending,
        }
    }
}

/// How far a reviewer has come with a feedback request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackStatus {
    /// Nothing saved yet.
    NotStarted,
    /// Saved, not submitted.
    Draft,
    /// Handed in.
    Submitted,
}

impl FeedbackStatus {
    pub(crate) fn parse(name: &str) -> FeedbackStatus {
        match name {
            "draft" => FeedbackStatus::Draft,
            "submitted" => FeedbackStatus::Submitted,
            _ => FeedbackStatus::NotStarted,
        }
    }
}

/// What `POST /api/v1/cycles/{id}/nominations` takes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNominations {
    /// Who the feedback is about.
    pub subject_id: String,
    /// The colleagues asked for feedback.
    pub reviewer_ids: Vec<String>,
}

/// A nomination as the subject, their managers and HR admins see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Nomination {
    /// The nomination's id.
    pub id: String,
    /// The cycle.
    pub cycle_id: String,
    /// Who the feedback is about.
    pub subject_id: String,
    /// Their name.
    pub subject_name: String,
    /// Who is asked.
    pub reviewer_id: String,
    /// Their name.
    pub reviewer_name: String,
    /// Who nominated them.
    pub nominated_by: String,
    /// The manager's decision.
    pub status: Approval,
    /// When the nomination was made, RFC 3339 UTC.
    pub created_at: String,
    /// When it was decided, RFC 3339 UTC.
    pub decided_at: Option<String>,
    /// The reviewer's progress: named feedback only. Anonymous feedback shows it to
    /// nobody but the reviewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<FeedbackStatus>,
}

/// A feedback request as its reviewer sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackRequest {
    /// The request's id (the nomination's).
    pub id: String,
    /// The cycle.
    pub cycle_id: String,
    /// The cycle's name.
    pub cycle_name: String,
    /// Who the feedback is about.
    pub subject_id: String,
    /// Their name.
    pub subject_name: String,
    /// Whether the feedback is anonymous.
    pub anonymous: bool,
    /// How far the reviewer has come.
    pub status: FeedbackStatus,
    /// Whether the feedback is closed (no more saves or submissions).
    pub closed: bool,
    /// The version a draft save must name.
    pub version: i64,
}

/// A feedback request with its questionnaire and the reviewer's answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackRequestDetail {
    /// Everything the list shows.
    #[serde(flatten)]
    pub request: FeedbackRequest,
    /// The questionnaire.
    pub questions: Vec<Question>,
    /// The draft, or the submitted answers of named feedback. Empty once anonymous
    /// feedback is submitted: the server no longer knows which answers were these.
    pub answers: Answers,
}

/// What a draft save answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackSaved {
    /// The new version, for the next save.
    pub version: i64,
    /// `draft`.
    pub status: FeedbackStatus,
}

/// The answers to one question, put together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuestionResult {
    /// The question.
    pub question_id: String,
    /// What it asked.
    pub prompt: String,
    /// Text or rating.
    pub kind: crate::model::QuestionKind,
    /// The text answers, sorted alphabetically (never in the order they came in).
    pub texts: Vec<String>,
    /// How many gave each rating, 1 to 5 (rating questions).
    pub ratings: Option<[i64; 5]>,
    /// The mean rating, rounded to two decimals (rating questions with answers).
    pub average: Option<f64>,
}

/// One reviewer's named feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NamedFeedback {
    /// The author.
    pub author_id: String,
    /// Their name.
    pub author_name: String,
    /// When it was submitted, RFC 3339 UTC.
    pub submitted_at: String,
    /// Their answers by question id.
    #[schema(value_type = BTreeMap<String, Answer>)]
    pub answers: BTreeMap<String, Answer>,
}

/// The feedback about one subject in one cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeedbackResults {
    /// The cycle.
    pub cycle_id: String,
    /// Who the feedback is about.
    pub subject_id: String,
    /// Their name.
    pub subject_name: String,
    /// Whether the feedback is anonymous.
    pub anonymous: bool,
    /// Whether results are shown: once the feedback is closed, and for anonymous
    /// feedback only with at least two answers.
    pub released: bool,
    /// Why not: `feedback_open` or `too_few_answers`.
    pub withheld: Option<String>,
    /// How many answered (released results only).
    pub responses: Option<i64>,
    /// Each question's answers put together (released results only).
    pub questions: Vec<QuestionResult>,
    /// Each author's answers, named feedback only.
    pub named: Vec<NamedFeedback>,
}

/// One subject's feedback in numbers, for HR admins.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubjectOverview {
    /// Who the feedback is about.
    pub subject_id: String,
    /// Their name.
    pub subject_name: String,
    /// Nominations waiting for a decision.
    pub pending: i64,
    /// Approved nominations: reviewers asked.
    pub approved: i64,
    /// Rejected nominations.
    pub rejected: i64,
    /// Submitted answers; `null` for anonymous feedback still open, and for anonymous
    /// feedback about the caller or someone they manage.
    pub submitted: Option<i64>,
}

/// One line of `feedback.csv`: one answer to one question.
#[derive(Debug, Clone)]
pub struct FeedbackExportLine {
    /// The cycle.
    pub cycle_id: String,
    /// The cycle's name.
    pub cycle_name: String,
    /// Who the feedback is about.
    pub subject_id: String,
    /// Their name.
    pub subject_name: String,
    /// Whether the feedback is anonymous (then the author fields are empty).
    pub anonymous: bool,
    /// The author of named feedback.
    pub author_id: Option<String>,
    /// Their name.
    pub author_name: Option<String>,
    /// When named feedback was submitted, RFC 3339 UTC.
    pub submitted_at: Option<String>,
    /// The question's prompt.
    pub question: String,
    /// The answer: text, or the rating as a number.
    pub answer: String,
}

/// A colleague a nominator may choose.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Candidate {
    /// The user's id.
    pub id: String,
    /// Their name.
    pub name: String,
}
