//! Objectives: one tree per company (company → team → person), with key results, links
//! into review cycles, and the rules of who sees and changes what.
//!
//! Company and team objectives are seen by everyone in the company, because people align
//! their own objectives to them. A person's objectives are seen by that person, their
//! managers up the reporting line and HR admins; the same people change them. Titles,
//! descriptions and key result titles are written content and sealed per field.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit::unsafe_in_text;
use super::{Company, CompanyHandle};
use crate::crypto::{KEY_RESULT_TITLE, OBJECTIVE_DESCRIPTION, OBJECTIVE_TITLE};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, Principal, parse_rfc3339, rfc3339};

mod key_result;
mod link;

pub(super) use link::LinkWeights;

/// The deepest an objective tree may grow, its root included: deeper alignment chains
/// are a mistake rather than a plan, and every check walks them.
pub const MAX_DEPTH: usize = 6;

/// The most key results one objective may have.
pub const MAX_KEY_RESULTS: usize = 20;

/// The longest title of an objective or a key result, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// The longest description of an objective, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;

/// How deep a reporting line is followed when looking for someone's reports.
const MAX_REPORTING_DEPTH: i64 = 32;

/// Where an objective sits in the company's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveLevel {
    /// The whole company's; owned by an HR admin.
    Company,
    /// A team's; owned by its manager.
    Team,
    /// One person's own.
    Person,
}

impl ObjectiveLevel {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveLevel::Company => "company",
            ObjectiveLevel::Team => "team",
            ObjectiveLevel::Person => "person",
        }
    }

    fn parse(name: &str) -> ObjectiveLevel {
        match name {
            "company" => ObjectiveLevel::Company,
            "team" => ObjectiveLevel::Team,
            _ => ObjectiveLevel::Person,
        }
    }

    /// 0 for company, 1 for team, 2 for person: a parent never ranks below its child.
    fn rank(self) -> u8 {
        match self {
            ObjectiveLevel::Company => 0,
            ObjectiveLevel::Team => 1,
            ObjectiveLevel::Person => 2,
        }
    }
}

/// How an objective is going, as its editors judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveStatus {
    /// Being written; not yet committed to.
    Draft,
    /// Going as planned.
    OnTrack,
    /// Might be missed.
    AtRisk,
    /// Will be missed without a change of course.
    OffTrack,
    /// Reached (or closed).
    Done,
}

impl ObjectiveStatus {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveStatus::Draft => "draft",
            ObjectiveStatus::OnTrack => "on_track",
            ObjectiveStatus::AtRisk => "at_risk",
            ObjectiveStatus::OffTrack => "off_track",
            ObjectiveStatus::Done => "done",
        }
    }

    fn parse(name: &str) -> ObjectiveStatus {
        match name {
            "on_track" => ObjectiveStatus::OnTrack,
            "at_risk" => ObjectiveStatus::AtRisk,
            "off_track" => ObjectiveStatus::OffTrack,
            "done" => ObjectiveStatus::Done,
            _ => ObjectiveStatus::Draft,
        }
    }
}

/// One key result: a percentage, or a measured value going from `start` to `target`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyResult {
    /// The key result's id.
    pub id: String,
    /// What is measured.
    pub title: String,
    /// 0 to 100; derived from the values when `target` is set.
    pub progress: i64,
    /// Where a measured key result started.
    pub start: Option<f64>,
    /// Where it stands now.
    pub current: Option<f64>,
    /// Where it should get; `null` for a plain percentage.
    pub target: Option<f64>,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
}

/// An objective brought into a review cycle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CycleLink {
    /// The cycle.
    pub cycle_id: String,
    /// The objective's weight in that cycle, 1 to 100, if given.
    pub weight: Option<i64>,
}

/// An objective as its readers see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Objective {
    /// The objective's id.
    pub id: String,
    /// Company, team or person.
    pub level: ObjectiveLevel,
    /// Who is answerable for it.
    pub owner_id: String,
    /// The owner's name.
    pub owner_name: String,
    /// The objective it contributes to, if any.
    pub parent_id: Option<String>,
    /// Its title.
    pub title: String,
    /// Its description (may be empty).
    pub description: String,
    /// How it is going.
    pub status: ObjectiveStatus,
    /// Its weight among the owner's objectives, 1 to 100, if given.
    pub weight: Option<i64>,
    /// When it is due, RFC 3339 UTC.
    pub due_at: Option<String>,
    /// The mean progress of its key results, 0 to 100 (100 for a done objective
    /// without key results).
    pub progress: i64,
    /// Its key results, in order.
    pub key_results: Vec<KeyResult>,
    /// The review cycles it is linked into.
    pub cycles: Vec<CycleLink>,
    /// Whether it was archived (hidden from lists unless asked for).
    pub archived: bool,
    /// Whether the caller may change it.
    pub can_edit: bool,
    /// The version a change must name.
    pub version: i64,
    /// Who created it.
    pub created_by: String,
    /// When it was created, RFC 3339 UTC.
    pub created_at: String,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
}

/// An objective with the visible objectives aligned to it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectiveNode {
    /// The objective.
    #[serde(flatten)]
    pub objective: Objective,
    /// The objectives aligned to it that the caller may see.
    #[schema(no_recursion)]
    pub children: Vec<ObjectiveNode>,
}

/// A key result as it is created.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyResult {
    /// What is measured (1–200 characters).
    pub title: String,
    /// 0 to 100, for a plain percentage (0 when absent).
    #[serde(default)]
    pub progress: Option<i64>,
    /// Start value of a measured key result (0 when absent).
    #[serde(default)]
    pub start: Option<f64>,
    /// Current value of a measured key result (the start when absent).
    #[serde(default)]
    pub current: Option<f64>,
    /// Target value: makes the key result measured.
    #[serde(default)]
    pub target: Option<f64>,
}

/// What `POST /api/v1/objectives` takes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewObjective {
    /// The title (1–200 characters).
    pub title: String,
    /// The description (up to 5,000 characters).
    #[serde(default)]
    pub description: String,
    /// The objective it contributes to.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// When it is due, RFC 3339.
    #[serde(default)]
    pub due_at: Option<String>,
    /// Company, team or person (the default).
    #[serde(default)]
    pub level: Option<ObjectiveLevel>,
    /// Its owner; the caller when absent.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// How it is going; `draft` when absent.
    #[serde(default)]
    pub status: Option<ObjectiveStatus>,
    /// Its weight, 1 to 100.
    #[serde(default)]
    pub weight: Option<i64>,
    /// Its key results (up to 20).
    #[serde(default)]
    pub key_results: Vec<NewKeyResult>,
}

/// Reads a field that may be absent (keep), `null` (clear) or a value (set).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// What `PATCH /api/v1/objectives/{id}` takes; absent fields stay as they are, `null`
/// clears an optional one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveUpdate {
    /// The version the change was based on; a stale one answers 409 `conflict`.
    pub version: i64,
    /// A new title.
    #[serde(default)]
    pub title: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// A new status.
    #[serde(default)]
    pub status: Option<ObjectiveStatus>,
    /// A new weight, or `null` for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub weight: Option<Option<i64>>,
    /// A new due time, or `null` for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Option<String>>,
    /// A new parent, or `null` to make it a root.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
    /// Archive (true) or restore (false).
    #[serde(default)]
    pub archived: Option<bool>,
}

/// What `PATCH /api/v1/objectives/{id}/key-results/{key_result_id}` takes; absent
/// fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyResultUpdate {
    /// The objective's version this change was based on; when given and stale, 409.
    #[serde(default)]
    pub version: Option<i64>,
    /// A new title.
    #[serde(default)]
    pub title: Option<String>,
    /// New progress of a plain percentage, 0 to 100.
    #[serde(default)]
    pub progress: Option<i64>,
    /// A new start value.
    #[serde(default)]
    pub start: Option<f64>,
    /// A new current value.
    #[serde(default)]
    pub current: Option<f64>,
    /// A new target value (makes a percentage measured).
    #[serde(default)]
    pub target: Option<f64>,
}

/// What `PUT /api/v1/objectives/{id}/cycles/{cycle_id}` takes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CycleLinkUpdate {
    /// The objective's weight in the cycle, 1 to 100.
    #[serde(default)]
    pub weight: Option<i64>,
}

/// What `GET /api/v1/objectives` (and `/tree`) filter by.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ObjectiveFilter {
    /// Only the objectives of this owner.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Only objectives of this level.
    #[serde(default)]
    pub level: Option<ObjectiveLevel>,
    /// Archived objectives too (false when absent).
    #[serde(default)]
    pub archived: Option<bool>,
}

impl ObjectiveFilter {
    /// Refuses an owner that cannot be an id. A well-formed id that names nobody of the
    /// company (another company's user included) is no error: it matches nothing.
    fn check(&self) -> Result<(), ActorError> {
        match &self.owner_id {
            Some(owner) if !crate::db::is_id_shaped(owner) => Err(ActorError::Validation(
                "owner_id must be a user's id (a UUID such as \
                 0b9d3a8e-5b8f-4c1e-9a63-2f4d5e6a7b8c)"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}

/// One objective as the CSV export shows it.
#[derive(Debug, Clone)]
pub struct ExportedObjective {
    /// The objective as HR admins see it.
    pub objective: Objective,
    /// The owner's email.
    pub owner_email: String,
}

/// The columns of an objective with its owner, each with its own company for the
/// guard. The join matches on ids alone on purpose (see [`crate::guard`]).
const OBJECTIVE_SELECT: &str = "SELECT o.company_id, o.id, o.level, o.owner_id, \
     o.parent_id, o.title, o.description, o.status, o.weight, o.due_at, o.archived_at, \
     o.version, o.created_by, o.created_at, o.updated_at, u.company_id AS owner_company_id, \
     u.name AS owner_name, u.email AS owner_email FROM objectives o \
     JOIN users u ON u.id = o.owner_id";

#[derive(sqlx::FromRow)]
struct ObjectiveRow {
    company_id: String,
    id: String,
    level: String,
    owner_id: String,
    parent_id: Option<String>,
    title: String,
    description: String,
    status: String,
    weight: Option<i64>,
    due_at: Option<i64>,
    archived_at: Option<i64>,
    version: i64,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    owner_company_id: String,
    owner_name: String,
    owner_email: String,
}

impl Owned for ObjectiveRow {
    const TABLE: &'static str = "objectives";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.owner_company_id]
    }
}

impl ObjectiveRow {
    fn level(&self) -> ObjectiveLevel {
        ObjectiveLevel::parse(&self.level)
    }
}

#[derive(sqlx::FromRow)]
struct KeyResultRow {
    company_id: String,
    id: String,
    objective_id: String,
    title: String,
    progress: i64,
    start_value: Option<f64>,
    current_value: Option<f64>,
    target_value: Option<f64>,
    updated_at: i64,
}

impl Owned for KeyResultRow {
    const TABLE: &'static str = "key_results";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    company_id: String,
    objective_id: String,
    cycle_id: String,
    weight: Option<i64>,
}

impl Owned for LinkRow {
    const TABLE: &'static str = "objective_cycles";
    fn row_id(&self) -> &str {
        &self.objective_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    company_id: String,
    id: String,
    role: String,
    disabled: i64,
    reports: i64,
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

#[derive(sqlx::FromRow)]
struct IdRow {
    company_id: String,
    id: String,
}

impl Owned for IdRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// What a principal may see and change: themselves, HR admin or not, and everyone
/// below them in the reporting line.
pub(super) struct Sight {
    me: String,
    hr_admin: bool,
    reports: HashSet<String>,
}

impl Sight {
    fn sees(&self, row: &ObjectiveRow) -> bool {
        row.level() != ObjectiveLevel::Person || self.edits(row)
    }

    fn edits(&self, row: &ObjectiveRow) -> bool {
        row.owner_id == self.me || self.hr_admin || self.reports.contains(&row.owner_id)
    }

    /// Whether the principal may create or change objectives owned by `owner`.
    fn acts_for(&self, owner: &str) -> bool {
        owner == self.me || self.hr_admin || self.reports.contains(owner)
    }
}

/// Checks a title: trimmed, 1 to [`MAX_TITLE_CHARS`] characters, one line without
/// control or text-reordering characters.
fn title(name: &str, text: &str) -> Result<String, ActorError> {
    let text = text.trim();
    let length = text.chars().count();
    if length == 0 || length > MAX_TITLE_CHARS {
        return Err(ActorError::Validation(format!(
            "{name} must have 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    if unsafe_in_text(text, false) {
        return Err(ActorError::Validation(format!(
            "{name} may not hold control or text-reordering characters"
        )));
    }
    Ok(text.to_owned())
}

/// Checks a description. Kept as written: leading spaces can be layout; line breaks
/// and tabs are allowed, other control and text-reordering characters are not.
fn description(text: &str) -> Result<String, ActorError> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ActorError::Validation(format!(
            "the description may have at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if unsafe_in_text(text, true) {
        return Err(ActorError::Validation(
            "the description may not hold control or text-reordering characters".into(),
        ));
    }
    Ok(text.to_owned())
}

fn weight(value: Option<i64>) -> Result<Option<i64>, ActorError> {
    match value {
        Some(w) if !(1..=100).contains(&w) => Err(ActorError::Validation(
            "weight must be from 1 to 100".into(),
        )),
        other => Ok(other),
    }
}

fn due_at(text: Option<&str>) -> Result<Option<i64>, ActorError> {
    text.map(|text| {
        parse_rfc3339(text)
            .ok_or_else(|| ActorError::Validation("due_at must be an RFC 3339 time".into()))
    })
    .transpose()
}

/// The mean progress of key results, rounded; a done objective without any is 100.
fn mean_progress(key_results: &[KeyResult], status: ObjectiveStatus) -> i64 {
    if key_results.is_empty() {
        return if status == ObjectiveStatus::Done {
            100
        } else {
            0
        };
    }
    let sum: i64 = key_results.iter().map(|k| k.progress).sum();
    let n = i64::try_from(key_results.len()).unwrap_or(1);
    (sum + n / 2) / n
}

/// Whose key results and cycle links to load.
#[derive(Clone, Copy)]
enum Parts<'a> {
    /// Every objective's.
    All,
    /// One objective's.
    One(&'a str),
    /// A page of the export: up to `limit` objectives whose ids sort after `after`.
    Page(&'a str, i64),
}

impl Parts<'_> {
    /// The condition on `objective_id` after `company_id = $1`.
    fn condition(self) -> &'static str {
        match self {
            Parts::All => "",
            Parts::One(_) => " AND objective_id = $2",
            Parts::Page(..) => {
                " AND objective_id IN (SELECT id FROM objectives WHERE company_id = $1 \
                 AND id > $2 ORDER BY id LIMIT $3)"
            }
        }
    }
}

/// The objectives of a company by id, for walking its tree.
type Tree<'a> = HashMap<&'a str, &'a ObjectiveRow>;

/// How many objectives the chain from `id` up to its root holds, `id` included; `None`
/// when the chain loops or runs too deep to be valid.
fn depth(tree: &Tree<'_>, id: &str) -> Option<usize> {
    let mut current = Some(id);
    let mut n = 0;
    while let Some(id) = current {
        n += 1;
        if n > MAX_DEPTH + 1 {
            return None;
        }
        current = tree.get(id).and_then(|row| row.parent_id.as_deref());
    }
    Some(n)
}

/// How many levels the subtree below and including `id` spans.
fn height(rows: &[ObjectiveRow], id: &str, budget: usize) -> usize {
    if budget == 0 {
        return MAX_DEPTH + 1;
    }
    1 + rows
        .iter()
        .filter(|row| row.parent_id.as_deref() == Some(id))
        .map(|row| height(rows, &row.id, budget - 1))
        .max()
        .unwrap_or(0)
}

/// Whether `ancestor` is `id` or above it in the tree.
fn is_at_or_above(tree: &Tree<'_>, ancestor: &str, id: &str) -> bool {
    let mut current = Some(id);
    let mut steps = 0;
    while let Some(id) = current {
        if id == ancestor {
            return true;
        }
        steps += 1;
        if steps > MAX_DEPTH + 1 {
            return false;
        }
        current = tree.get(id).and_then(|row| row.parent_id.as_deref());
    }
    false
}

impl Company {
    /// Everyone below `user` in the reporting line.
    async fn reports_of(
        &self,
        conn: &mut sqlx::AnyConnection,
        user: &str,
    ) -> Result<HashSet<String>, ActorError> {
        let rows: Vec<IdRow> = sqlx::query_as(
            "WITH RECURSIVE below (id, depth) AS ( \
               SELECT id, 1 FROM users WHERE company_id = $1 AND manager_id = $2 \
               UNION ALL \
               SELECT u.id, below.depth + 1 FROM users u JOIN below \
               ON u.company_id = $1 AND u.manager_id = below.id WHERE below.depth < $3) \
             SELECT u.company_id, u.id FROM users u \
             WHERE u.company_id = $1 AND u.id IN (SELECT id FROM below)",
        )
        .bind(&self.id)
        .bind(user)
        .bind(MAX_REPORTING_DEPTH)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        Ok(rows.into_iter().map(|row| row.id).collect())
    }

    /// What `principal` may see and change among objectives.
    pub(super) async fn sight(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
    ) -> Result<Sight, ActorError> {
        Ok(Sight {
            me: principal.user_id.clone(),
            hr_admin: principal.roles.hr_admin,
            reports: self.reports_of(conn, &principal.user_id).await?,
        })
    }

    /// Every objective of the company, archived ones included.
    async fn objective_rows(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<Vec<ObjectiveRow>, ActorError> {
        let sql = format!("{OBJECTIVE_SELECT} WHERE o.company_id = $1 ORDER BY o.created_at, o.id");
        let rows: Vec<ObjectiveRow> = sqlx::query_as(&sql)
            .bind(&self.id)
            .fetch_all(&mut *conn)
            .await?;
        self.check_all(&rows)?;
        Ok(rows)
    }

    /// One objective, whoever may see it.
    async fn objective_row(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<ObjectiveRow, ActorError> {
        let sql = format!("{OBJECTIVE_SELECT} WHERE o.company_id = $1 AND o.id = $2");
        let row: ObjectiveRow = sqlx::query_as(&sql)
            .bind(&self.id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(ActorError::NotFound)?;
        self.check(&row)?;
        Ok(row)
    }

    /// Checks that `principal` may see objective `id`: `NotFound` otherwise, as for an
    /// id that does not exist. Comments use the same rule.
    pub(super) async fn check_objective_visible(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
        id: &str,
    ) -> Result<(), ActorError> {
        let row = self.objective_row(conn, id).await?;
        let sight = self.sight(conn, principal).await?;
        if sight.sees(&row) {
            Ok(())
        } else {
            Err(ActorError::NotFound)
        }
    }

    /// The key results and cycle links of the objectives `which` names.
    async fn objective_parts(
        &self,
        conn: &mut sqlx::AnyConnection,
        which: Parts<'_>,
    ) -> Result<
        (
            HashMap<String, Vec<KeyResult>>,
            HashMap<String, Vec<CycleLink>>,
        ),
        ActorError,
    > {
        let filter = which.condition();
        let sql = format!(
            "SELECT company_id, id, objective_id, title, progress, start_value, current_value, \
             target_value, updated_at FROM key_results WHERE company_id = $1{filter} \
             ORDER BY objective_id, position, id"
        );
        let query = sqlx::query_as::<_, KeyResultRow>(&sql).bind(&self.id);
        let query = match which {
            Parts::All => query,
            Parts::One(id) => query.bind(id),
            Parts::Page(after, limit) => query.bind(after).bind(limit),
        };
        let rows = query.fetch_all(&mut *conn).await?;
        self.check_all(&rows)?;
        let mut key_results: HashMap<String, Vec<KeyResult>> = HashMap::new();
        for row in rows {
            let title = self.open(KEY_RESULT_TITLE, &row.id, &row.title)?;
            key_results
                .entry(row.objective_id)
                .or_default()
                .push(KeyResult {
                    id: row.id,
                    title,
                    progress: row.progress,
                    start: row.start_value,
                    current: row.current_value,
                    target: row.target_value,
                    updated_at: rfc3339(row.updated_at),
                });
        }

        let sql = format!(
            "SELECT company_id, objective_id, cycle_id, weight FROM objective_cycles \
             WHERE company_id = $1{filter} ORDER BY objective_id, linked_at"
        );
        let query = sqlx::query_as::<_, LinkRow>(&sql).bind(&self.id);
        let query = match which {
            Parts::All => query,
            Parts::One(id) => query.bind(id),
            Parts::Page(after, limit) => query.bind(after).bind(limit),
        };
        let rows = query.fetch_all(&mut *conn).await?;
        self.check_all(&rows)?;
        let mut links: HashMap<String, Vec<CycleLink>> = HashMap::new();
        for row in rows {
            links.entry(row.objective_id).or_default().push(CycleLink {
                cycle_id: row.cycle_id,
                weight: row.weight,
            });
        }
        Ok((key_results, links))
    }

    /// An objective as `sight` sees it, its title and description opened.
    fn objective_view(
        &self,
        row: &ObjectiveRow,
        sight: &Sight,
        key_results: Vec<KeyResult>,
        cycles: Vec<CycleLink>,
    ) -> Result<Objective, ActorError> {
        let status = ObjectiveStatus::parse(&row.status);
        Ok(Objective {
            id: row.id.clone(),
            level: row.level(),
            owner_id: row.owner_id.clone(),
            owner_name: row.owner_name.clone(),
            parent_id: row.parent_id.clone(),
            title: self.open(OBJECTIVE_TITLE, &row.id, &row.title)?,
            description: self.open(OBJECTIVE_DESCRIPTION, &row.id, &row.description)?,
            status,
            weight: row.weight,
            due_at: row.due_at.map(rfc3339),
            progress: mean_progress(&key_results, status),
            key_results,
            cycles,
            archived: row.archived_at.is_some(),
            can_edit: sight.edits(row),
            version: row.version,
            created_by: row.created_by.clone(),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        })
    }

    /// One objective read again through `conn`, as `sight` sees it.
    async fn reload_objective(
        &self,
        conn: &mut sqlx::AnyConnection,
        sight: &Sight,
        id: &str,
    ) -> Result<Objective, ActorError> {
        let row = self.objective_row(conn, id).await?;
        let (mut key_results, mut links) = self.objective_parts(conn, Parts::One(id)).await?;
        self.objective_view(
            &row,
            sight,
            key_results.remove(id).unwrap_or_default(),
            links.remove(id).unwrap_or_default(),
        )
    }

    /// The objectives `principal` may see that pass `filter`, in tree order (level,
    /// then creation).
    async fn visible_objectives(
        &self,
        principal: &Principal,
        filter: &ObjectiveFilter,
    ) -> Result<Vec<Objective>, ActorError> {
        filter.check()?;
        let mut conn = self.db.pool().acquire().await?;
        let sight = self.sight(&mut conn, principal).await?;
        let mut rows = self.objective_rows(&mut conn).await?;
        let (mut key_results, mut links) = self.objective_parts(&mut conn, Parts::All).await?;
        drop(conn);
        let archived = filter.archived.unwrap_or(false);
        rows.retain(|row| {
            sight.sees(row)
                && (archived || row.archived_at.is_none())
                && filter.owner_id.as_ref().is_none_or(|o| *o == row.owner_id)
                && filter.level.is_none_or(|l| l == row.level())
        });
        rows.sort_by_key(|row| (row.level().rank(), row.created_at));
        rows.iter()
            .map(|row| {
                self.objective_view(
                    row,
                    &sight,
                    key_results.remove(&row.id).unwrap_or_default(),
                    links.remove(&row.id).unwrap_or_default(),
                )
            })
            .collect()
    }

    async fn list_objectives(
        &mut self,
        principal: Principal,
        filter: ObjectiveFilter,
    ) -> Result<Vec<Objective>, ActorError> {
        self.visible_objectives(&principal, &filter).await
    }

    async fn objective_tree(
        &mut self,
        principal: Principal,
        filter: ObjectiveFilter,
    ) -> Result<Vec<ObjectiveNode>, ActorError> {
        let objectives = self.visible_objectives(&principal, &filter).await?;

        // An objective whose parent the caller cannot see (or that the filter left out)
        // is a root of the caller's tree.
        let shown: HashSet<String> = objectives.iter().map(|o| o.id.clone()).collect();
        let mut children: HashMap<String, Vec<Objective>> = HashMap::new();
        let mut roots = Vec::new();
        for objective in objectives {
            match objective.parent_id.clone().filter(|p| shown.contains(p)) {
                Some(parent) => children.entry(parent).or_default().push(objective),
                None => roots.push(objective),
            }
        }
        fn grow(
            objective: Objective,
            children: &mut HashMap<String, Vec<Objective>>,
            budget: usize,
        ) -> ObjectiveNode {
            let below = children.remove(&objective.id).unwrap_or_default();
            let children = if budget == 0 {
                Vec::new()
            } else {
                below
                    .into_iter()
                    .map(|child| grow(child, children, budget - 1))
                    .collect()
            };
            ObjectiveNode {
                objective,
                children,
            }
        }
        Ok(roots
            .into_iter()
            .map(|root| grow(root, &mut children, MAX_DEPTH))
            .collect())
    }

    async fn get_objective(
        &mut self,
        principal: Principal,
        id: String,
    ) -> Result<Objective, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let sight = self.sight(&mut conn, &principal).await?;
        let row = self.objective_row(&mut conn, &id).await?;
        if !sight.sees(&row) {
            return Err(ActorError::NotFound);
        }
        self.reload_objective(&mut conn, &sight, &id).await
    }

    /// Checks a parent for an objective of `level`: one the caller sees, not archived,
    /// of the same or a higher level, and with room below it for `height` levels.
    /// `moving` is the objective being re-parented, which must not end up below itself.
    fn check_parent(
        rows: &[ObjectiveRow],
        sight: &Sight,
        parent_id: &str,
        level: ObjectiveLevel,
        moving: Option<&str>,
    ) -> Result<(), ActorError> {
        let tree: Tree<'_> = rows.iter().map(|row| (row.id.as_str(), row)).collect();
        let parent = tree
            .get(parent_id)
            .filter(|parent| sight.sees(parent))
            .ok_or_else(|| {
                ActorError::Validation("parent_id names no objective you can see".into())
            })?;
        if parent.archived_at.is_some() {
            return Err(ActorError::Validation(
                "an archived objective cannot take new alignments".into(),
            ));
        }
        if parent.level().rank() > level.rank() {
            return Err(ActorError::Validation(format!(
                "a {} objective cannot be aligned to a {} objective",
                level.as_str(),
                parent.level().as_str()
            )));
        }
        if let Some(moving) = moving
            && is_at_or_above(&tree, moving, parent_id)
        {
            return Err(ActorError::Validation(
                "an objective cannot be aligned to itself or to one aligned below it".into(),
            ));
        }
        let above = depth(&tree, parent_id).unwrap_or(MAX_DEPTH + 1);
        let below = moving.map_or(1, |id| height(rows, id, MAX_DEPTH + 1));
        if above + below > MAX_DEPTH {
            return Err(ActorError::Validation(format!(
                "an objective tree may be at most {MAX_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    /// Loads the future owner of an objective: an active user of this company.
    async fn owner_row(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<PersonRow, ActorError> {
        let row: Option<PersonRow> = sqlx::query_as(
            "SELECT u.company_id, u.id, u.role, u.disabled, (SELECT COUNT(*) FROM users r \
             WHERE r.company_id = $1 AND r.manager_id = u.id AND r.disabled = 0) AS reports \
             FROM users u WHERE u.company_id = $1 AND u.id = $2",
        )
        .bind(&self.id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = &row {
            self.check(row)?;
        }
        row.filter(|row| row.disabled == 0)
            .ok_or_else(|| ActorError::Validation("owner_id names no active user".into()))
    }

    async fn create_objective(
        &mut self,
        principal: Principal,
        new: NewObjective,
        client: Client,
    ) -> Result<Objective, ActorError> {
        let name = title("the title", &new.title)?;
        let text = description(&new.description)?;
        let weight = weight(new.weight)?;
        let due_at = due_at(new.due_at.as_deref())?;
        if new.key_results.len() > MAX_KEY_RESULTS {
            return Err(ActorError::Validation(format!(
                "an objective may have at most {MAX_KEY_RESULTS} key results"
            )));
        }
        let level = new.level.unwrap_or(ObjectiveLevel::Person);
        let owner_id = new
            .owner_id
            .clone()
            .unwrap_or_else(|| principal.user_id.clone());

        let mut tx = self.db.begin_write().await?;
        let sight = self.sight(&mut tx, &principal).await?;
        let owner = self.owner_row(&mut tx, &owner_id).await?;

        // Who may create what: company objectives HR admins, owned by an HR admin; team
        // objectives a manager for their own team (or someone above them, or HR); a
        // person's objectives that person, their managers and HR admins.
        match level {
            ObjectiveLevel::Company => {
                if !principal.roles.hr_admin {
                    return Err(ActorError::Forbidden);
                }
                if owner.role != "hr_admin" {
                    return Err(ActorError::Validation(
                        "company objectives are owned by an HR admin".into(),
                    ));
                }
            }
            ObjectiveLevel::Team => {
                if !sight.acts_for(&owner.id) {
                    return Err(ActorError::Forbidden);
                }
                if owner.reports == 0 {
                    return Err(ActorError::Validation(
                        "team objectives are owned by a manager".into(),
                    ));
                }
            }
            ObjectiveLevel::Person => {
                if !sight.acts_for(&owner.id) {
                    return Err(ActorError::Forbidden);
                }
            }
        }
        if let Some(parent_id) = &new.parent_id {
            let rows = self.objective_rows(&mut tx).await?;
            Self::check_parent(&rows, &sight, parent_id, level, None)?;
        }

        let now = now_ms();
        let id = new_id();
        let status = new.status.unwrap_or(ObjectiveStatus::Draft);
        let sealed_title = self.seal(OBJECTIVE_TITLE, &id, &name)?;
        let sealed_description = self.seal(OBJECTIVE_DESCRIPTION, &id, &text)?;
        sqlx::query(
            "INSERT INTO objectives (company_id, id, level, owner_id, parent_id, title, \
             description, status, weight, due_at, version, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $12)",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(level.as_str())
        .bind(&owner.id)
        .bind(&new.parent_id)
        .bind(&sealed_title)
        .bind(&sealed_description)
        .bind(status.as_str())
        .bind(weight)
        .bind(due_at)
        .bind(&principal.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (position, key_result) in new.key_results.iter().enumerate() {
            let position = i64::try_from(position).unwrap_or(i64::MAX);
            self.insert_key_result(&mut tx, &id, position, key_result, now)
                .await?;
        }

        let detail = serde_json::json!({ "level": level.as_str(), "owner_id": owner.id,
            "parent_id": new.parent_id, "key_results": new.key_results.len() });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "objective_created",
            Some(&id),
            &client,
            detail,
        )
        .await?;
        let objective = self.reload_objective(&mut tx, &sight, &id).await?;
        tx.commit().await?;
        Ok(objective)
    }

    /// Loads an objective for a change: `NotFound` if the principal can't see it,
    /// `Forbidden` if they can but may not change it, `Conflict` on a stale version.
    async fn load_editable(
        &self,
        conn: &mut sqlx::AnyConnection,
        sight: &Sight,
        id: &str,
        version: Option<i64>,
    ) -> Result<ObjectiveRow, ActorError> {
        let row = self.objective_row(conn, id).await?;
        if !sight.sees(&row) {
            return Err(ActorError::NotFound);
        }
        if !sight.edits(&row) {
            return Err(ActorError::Forbidden);
        }
        if version.is_some_and(|v| v != row.version) {
            return Err(ActorError::Conflict(format!(
                "the objective was changed meanwhile (it is at version {}); reload it",
                row.version
            )));
        }
        Ok(row)
    }

    /// Moves an objective to its next version; answers `Conflict` when somebody else
    /// did first.
    async fn bump(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
        version: i64,
        now: i64,
    ) -> Result<(), ActorError> {
        let done = sqlx::query(
            "UPDATE objectives SET version = version + 1, updated_at = $4 \
             WHERE company_id = $1 AND id = $2 AND version = $3",
        )
        .bind(&self.id)
        .bind(id)
        .bind(version)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Err(ActorError::Conflict(
                "the objective was changed meanwhile; reload it".into(),
            ));
        }
        Ok(())
    }

    async fn update_objective(
        &mut self,
        principal: Principal,
        id: String,
        update: ObjectiveUpdate,
        client: Client,
    ) -> Result<Objective, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let sight = self.sight(&mut tx, &principal).await?;
        let row = self
            .load_editable(&mut tx, &sight, &id, Some(update.version))
            .await?;

        // Check every field before writing any.
        let mut changed = Vec::new();
        let name = update
            .title
            .as_deref()
            .map(|t| title("the title", t))
            .transpose()?;
        let text = update.description.as_deref().map(description).transpose()?;
        let new_weight = update.weight.map(weight).transpose()?;
        let new_due = update
            .due_at
            .as_ref()
            .map(|d| due_at(d.as_deref()))
            .transpose()?;
        if let Some(Some(parent_id)) = &update.parent_id {
            let rows = self.objective_rows(&mut tx).await?;
            Self::check_parent(&rows, &sight, parent_id, row.level(), Some(&id))?;
        }

        let now = now_ms();
        let sealed_title = match &name {
            Some(name) => {
                changed.push("title");
                self.seal(OBJECTIVE_TITLE, &id, name)?
            }
            None => row.title.clone(),
        };
        let sealed_description = match &text {
            Some(text) => {
                changed.push("description");
                self.seal(OBJECTIVE_DESCRIPTION, &id, text)?
            }
            None => row.description.clone(),
        };
        let status = match update.status {
            Some(status) => {
                changed.push("status");
                status.as_str().to_owned()
            }
            None => row.status.clone(),
        };
        let weight = match new_weight {
            Some(w) => {
                changed.push("weight");
                w
            }
            None => row.weight,
        };
        let due = match new_due {
            Some(d) => {
                changed.push("due_at");
                d
            }
            None => row.due_at,
        };
        let parent = match update.parent_id {
            Some(p) => {
                changed.push("parent_id");
                p
            }
            None => row.parent_id.clone(),
        };
        let archived_at = match update.archived {
            Some(true) if row.archived_at.is_none() => {
                changed.push("archived");
                Some(now)
            }
            Some(false) if row.archived_at.is_some() => {
                changed.push("archived");
                None
            }
            _ => row.archived_at,
        };
        let done = sqlx::query(
            "UPDATE objectives SET title = $3, description = $4, status = $5, weight = $6, \
             due_at = $7, parent_id = $8, archived_at = $9, version = version + 1, \
             updated_at = $10 WHERE company_id = $1 AND id = $2 AND version = $11",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(&sealed_title)
        .bind(&sealed_description)
        .bind(&status)
        .bind(weight)
        .bind(due)
        .bind(&parent)
        .bind(archived_at)
        .bind(now)
        .bind(row.version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(ActorError::Conflict(
                "the objective was changed meanwhile; reload it".into(),
            ));
        }
        let detail = serde_json::json!({ "changed": changed, "version": row.version + 1 });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "objective_updated",
            Some(&id),
            &client,
            detail,
        )
        .await?;
        let objective = self.reload_objective(&mut tx, &sight, &id).await?;
        tx.commit().await?;
        Ok(objective)
    }

    async fn archive_objective(
        &mut self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<(), ActorError> {
        let mut tx = self.db.begin_write().await?;
        let sight = self.sight(&mut tx, &principal).await?;
        let row = self.load_editable(&mut tx, &sight, &id, None).await?;
        if row.archived_at.is_some() {
            return Ok(());
        }
        let now = now_ms();
        self.bump(&mut tx, &id, row.version, now).await?;
        sqlx::query("UPDATE objectives SET archived_at = $3 WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let actor = Some(principal.user_id.as_str());
        let detail = serde_json::json!({ "version": row.version + 1 });
        self.record_audit(
            &mut *tx,
            actor,
            "objective_archived",
            Some(&id),
            &client,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl CompanyHandle {
    /// The objectives the principal may see, filtered.
    pub async fn list_objectives(
        &self,
        principal: Principal,
        filter: ObjectiveFilter,
    ) -> Result<Vec<Objective>, ActorError> {
        self.call(move |c| Box::pin(c.list_objectives(principal, filter)))
            .await
    }

    /// The objectives the principal may see as a tree: each with those aligned to it.
    pub async fn objective_tree(
        &self,
        principal: Principal,
        filter: ObjectiveFilter,
    ) -> Result<Vec<ObjectiveNode>, ActorError> {
        self.call(move |c| Box::pin(c.objective_tree(principal, filter)))
            .await
    }

    /// One objective, if the principal may see it.
    pub async fn get_objective(
        &self,
        principal: Principal,
        id: String,
    ) -> Result<Objective, ActorError> {
        self.call(move |c| Box::pin(c.get_objective(principal, id)))
            .await
    }

    /// Creates an objective (see the module's rules of who may create which).
    pub async fn create_objective(
        &self,
        principal: Principal,
        new: NewObjective,
        client: Client,
    ) -> Result<Objective, ActorError> {
        self.call(move |c| Box::pin(c.create_objective(principal, new, client)))
            .await
    }

    /// Changes an objective by one who may; a stale version answers `Conflict`.
    pub async fn update_objective(
        &self,
        principal: Principal,
        id: String,
        update: ObjectiveUpdate,
        client: Client,
    ) -> Result<Objective, ActorError> {
        self.call(move |c| Box::pin(c.update_objective(principal, id, update, client)))
            .await
    }

    /// Archives an objective; archiving an archived one changes nothing.
    pub async fn archive_objective(
        &self,
        principal: Principal,
        id: String,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.archive_objective(principal, id, client)))
            .await
    }

    /// Adds a key result to an objective; answers the objective.
    pub async fn add_key_result(
        &self,
        principal: Principal,
        id: String,
        new: NewKeyResult,
        client: Client,
    ) -> Result<Objective, ActorError> {
        self.call(move |c| Box::pin(c.add_key_result(principal, id, new, client)))
            .await
    }

    /// Changes a key result (its progress, values or title); answers the objective.
    pub async fn update_key_result(
        &self,
        principal: Principal,
        id: String,
        key_result_id: String,
        update: KeyResultUpdate,
        client: Client,
    ) -> Result<Objective, ActorError> {
        self.call(move |c| {
            Box::pin(c.update_key_result(principal, id, key_result_id, update, client))
        })
        .await
    }

    /// Removes a key result; answers the objective.
    pub async fn delete_key_result(
        &self,
        principal: Principal,
        id: String,
        key_result_id: String,
        client: Client,
    ) -> Result<Objective, ActorError> {
        self.call(move |c| Box::pin(c.delete_key_result(principal, id, key_result_id, client)))
            .await
    }

    /// Links an objective into a review cycle (`Some`), or unlinks it (`None`).
    pub async fn link_objective_cycle(
        &self,
        principal: Principal,
        id: String,
        cycle_id: String,
        link: Option<CycleLinkUpdate>,
        client: Client,
    ) -> Result<Objective, ActorError> {
        self.call(move |c| Box::pin(c.link_cycle(principal, id, cycle_id, link, client, false)))
            .await
    }

    /// Demo seeding only: links an objective into a cycle like
    /// [`CompanyHandle::link_objective_cycle`], in any phase (the demo's cycles are
    /// created in their later phases before their objectives are linked).
    pub async fn seed_objective_cycle_link(
        &self,
        principal: Principal,
        id: String,
        cycle_id: String,
        link: CycleLinkUpdate,
    ) -> Result<Objective, ActorError> {
        let client = Client::system();
        self.call(move |c| {
            Box::pin(c.link_cycle(principal, id, cycle_id, Some(link), client, true))
        })
        .await
    }

    /// The review subject's objectives linked into the review's cycle, for whoever may
    /// read the review.
    pub async fn review_objectives(
        &self,
        principal: Principal,
        review_id: String,
    ) -> Result<Vec<Objective>, ActorError> {
        self.call(move |c| Box::pin(c.review_objectives(principal, review_id)))
            .await
    }

    /// One page of the objectives export, begun with
    /// [`CompanyHandle::begin_export`]: up to `limit` objectives whose ids sort after
    /// `after` (`""` for the first page).
    pub async fn objective_export_page(
        &self,
        principal: Principal,
        after: String,
        limit: i64,
    ) -> Result<Vec<ExportedObjective>, ActorError> {
        self.call(move |c| {
            Box::pin(async move { c.objective_export_page(&principal, &after, limit).await })
        })
        .await
    }
}
