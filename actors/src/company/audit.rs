//! The audit trail: writing events safely, and reading them back for HR admins with
//! filters and keyset paging.
//!
//! Every value that reaches the trail from outside (a typed email, a browser's
//! User-Agent) is neutralized when it is stored: control characters, line breaks and
//! bidirectional overrides are written as visible `\u{…}` escapes, so that no entry can
//! forge a second log line or hide its own text. Spreadsheet formulas are a matter of
//! the export formats and are neutralized there.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Company, CompanyHandle};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, Principal, parse_rfc3339};

/// The most entries one page may have.
pub const MAX_PAGE: i64 = 500;

/// Entries on a page when the caller names no limit.
const DEFAULT_PAGE: i64 = 100;

/// How long one client address refused by the company's ranges stays out of the trail
/// after its refusal was written (five minutes): a refused browser retries every few
/// seconds, and the trail needs the fact, not every retry.
const REFUSAL_AUDIT_MS: i64 = 5 * 60_000;

/// How many refused addresses are remembered for that; past it, old ones are dropped.
const MAX_REFUSALS_REMEMBERED: usize = 10_000;

/// The longest `kind` filter accepted.
const MAX_KIND_LEN: usize = 64;

/// Whether a character is written as an escape: controls (line breaks, tabs, escape
/// sequences, C1 controls) and the invisible characters that reorder text.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether written text holds characters that have no place in it: controls (other
/// than line breaks and tabs where `lines` allows them) and the invisible characters
/// that reorder text, which could disguise it wherever it is shown.
pub(crate) fn unsafe_in_text(text: &str, lines: bool) -> bool {
    text.chars()
        .any(|c| is_unsafe(c) && !(lines && matches!(c, '\n' | '\r' | '\t')))
}

/// Writes control characters, line breaks and bidirectional overrides as visible
/// escapes (`\u{a}`), so that a value can go into a log line, a table cell or a CSV
/// field without breaking out of it or disguising itself.
pub fn neutralize(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Neutralizes every string (keys included) inside a JSON value.
fn neutralize_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(neutralize(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(neutralize_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (neutralize(&key), neutralize_json(value)))
                .collect(),
        ),
        other => other,
    }
}

/// What `GET /api/v1/admin/audit` (and its exports) filter by; every field is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Events at or after this time (RFC 3339).
    #[serde(default)]
    pub from: Option<String>,
    /// Events before this time (RFC 3339).
    #[serde(default)]
    pub to: Option<String>,
    /// A user id: events this user did or that were done to them.
    #[serde(default)]
    pub person: Option<String>,
    /// An action (`signed_in`) or the start of one (`sign_in`, `export`).
    #[serde(default)]
    pub kind: Option<String>,
    /// The `next` cursor of the previous page: events older than its last entry.
    #[serde(default)]
    pub before: Option<String>,
    /// Entries per page, 1 to 500 (100 when absent).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// The filter after its values were checked.
#[derive(Debug, Clone)]
pub(super) struct Checked {
    from: Option<i64>,
    to: Option<i64>,
    person: Option<String>,
    /// The kind as a `LIKE` pattern (`_` and `%` escaped) matching it and its longer forms.
    kind: Option<String>,
    before: Option<(i64, String)>,
    limit: i64,
}

fn time(name: &str, text: Option<&str>) -> Result<Option<i64>, ActorError> {
    text.map(|text| {
        parse_rfc3339(text).ok_or_else(|| {
            ActorError::Validation(format!(
                "{name} must be an RFC 3339 time such as 2026-01-31T09:00:00Z"
            ))
        })
    })
    .transpose()
}

impl AuditFilter {
    /// Checks the filter's values.
    pub(super) fn check(&self) -> Result<Checked, ActorError> {
        let from = time("from", self.from.as_deref())?;
        let to = time("to", self.to.as_deref())?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(ActorError::Validation("from must not be after to".into()));
        }
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ActorError::Validation(format!(
                "limit must be from 1 to {MAX_PAGE}"
            )));
        }
        let kind = match self.kind.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(kind) => {
                let plain = kind.len() <= MAX_KIND_LEN
                    && kind
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !plain {
                    return Err(ActorError::Validation(
                        "kind must be an action or its start: lowercase letters, digits and _"
                            .into(),
                    ));
                }
                Some(format!("{}%", kind.replace('_', "\\_")))
            }
        };
        let before = match self.before.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(parse_cursor(cursor).ok_or_else(|| {
                ActorError::Validation("before must be the next cursor of a page".into())
            })?),
        };
        let person = self
            .person
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        // A malformed id is refused; another company's well-formed one finds nothing,
        // as a made-up one does.
        if person
            .as_deref()
            .is_some_and(|p| !crate::db::is_id_shaped(p))
        {
            return Err(ActorError::Validation("person must be a user id".into()));
        }
        Ok(Checked {
            from,
            to,
            person,
            kind,
            before,
            limit,
        })
    }
}

/// An event's time as RFC 3339 UTC with exactly three decimals, so that the times of a
/// page, an export or a spreadsheet column sort correctly as text.
fn event_time(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A page cursor: the time and id of the last entry shown, `<ms>.<id>`.
fn cursor(at: i64, id: &str) -> String {
    format!("{at}.{id}")
}

fn parse_cursor(text: &str) -> Option<(i64, String)> {
    let (at, id) = text.split_once('.')?;
    let plausible =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    plausible.then_some((at.parse().ok()?, id.to_owned()))
}

/// A user named by an audit event. Name and email are absent when the id names no user
/// of the company (any more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditPerson {
    /// The user's id, or the object's id when the target is not a user.
    pub id: String,
    /// Display name, if the id is a user's.
    pub name: Option<String>,
    /// Email address, if the id is a user's.
    pub email: Option<String>,
}

/// One event of the audit trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// The event's id.
    pub id: String,
    /// When it happened, RFC 3339 UTC.
    pub at: String,
    /// Who did it; absent for the system and for unknown accounts.
    pub actor: Option<AuditPerson>,
    /// What happened, e.g. `signed_in`, `review_submitted`, `export_users_csv`.
    pub action: String,
    /// What it was done to (a user, a review, a cycle, a session), if anything.
    pub target: Option<AuditPerson>,
    /// The client address (`0.0.0.0` for the server itself).
    pub ip: String,
    /// The browser's User-Agent (`kaizen` for the server itself).
    pub user_agent: String,
    /// Non-confidential facts about the event, e.g. the reason of a refusal.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    company_id: String,
    id: String,
    at: i64,
    actor_id: Option<String>,
    action: String,
    target_id: Option<String>,
    ip: String,
    user_agent: String,
    detail: String,
    actor_company_id: Option<String>,
    actor_name: Option<String>,
    actor_email: Option<String>,
    target_company_id: Option<String>,
    target_name: Option<String>,
    target_email: Option<String>,
}

impl Owned for AuditRow {
    const TABLE: &'static str = "audit_events";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        let mut owners = vec![self.company_id.as_str()];
        owners.extend(self.actor_company_id.as_deref());
        owners.extend(self.target_company_id.as_deref());
        owners
    }
}

impl AuditRow {
    fn entry(self) -> AuditEntry {
        let person = |id: Option<String>, name, email| id.map(|id| AuditPerson { id, name, email });
        AuditEntry {
            at: event_time(self.at),
            actor: person(self.actor_id, self.actor_name, self.actor_email),
            target: person(self.target_id, self.target_name, self.target_email),
            action: self.action,
            ip: self.ip,
            user_agent: self.user_agent,
            detail: serde_json::from_str(&self.detail).unwrap_or(serde_json::Value::Null),
            id: self.id,
        }
    }
}

/// The addresses whose refusal was written to the trail lately, and when.
#[derive(Debug, Default)]
pub(super) struct RefusalsAudited(HashMap<IpAddr, i64>);

impl RefusalsAudited {
    /// Whether a refusal of `ip` at `now` should be written; remembers that it was.
    fn should_audit(&mut self, ip: IpAddr, now: i64) -> bool {
        if self
            .0
            .get(&ip)
            .is_some_and(|at| now - at < REFUSAL_AUDIT_MS)
        {
            return false;
        }
        if self.0.len() >= MAX_REFUSALS_REMEMBERED {
            self.0.retain(|_, at| now - *at < REFUSAL_AUDIT_MS);
            if self.0.len() >= MAX_REFUSALS_REMEMBERED {
                // Limitation: a flood from more addresses than this within five
                // minutes is written for the first ones only; the log still says so.
                tracing::warn!("too many refused addresses at once to audit each");
                return false;
            }
        }
        self.0.insert(ip, now);
        true
    }
}

impl Company {
    /// Appends one event through `executor`: the pool, or the transaction of the write it
    /// describes, so that the change and its record commit together.
    pub(super) async fn record_audit<'e, E>(
        &self,
        executor: E,
        actor: Option<&str>,
        action: &str,
        target: Option<&str>,
        client: &Client,
        detail: serde_json::Value,
    ) -> Result<(), sqlx::Error>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        sqlx::query(
            "INSERT INTO audit_events (company_id, id, at, actor_id, action, target_id, ip, \
             user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&self.id)
        .bind(new_id())
        .bind(now_ms())
        .bind(actor.map(neutralize))
        .bind(neutralize(action))
        .bind(target.map(neutralize))
        .bind(client.ip.to_string())
        .bind(neutralize(&client.user_agent))
        .bind(neutralize_json(detail).to_string())
        .execute(executor)
        .await
        .map(|_| ())
    }

    /// Records that the company's ranges refused `ip`, at most once per address every
    /// few minutes.
    pub(super) async fn audit_refused_address(&mut self, ip: IpAddr) {
        if !self.refusals_audited.should_audit(ip, now_ms()) {
            return;
        }
        let client = Client {
            ip,
            user_agent: String::new(),
        };
        let detail = serde_json::json!({ "reason": "ip_not_allowed" });
        self.audit(None, "security_ip_refused", None, &client, detail)
            .await;
        let detail = format!("a request from {ip}, outside the company's address ranges");
        self.alerts.raise("ip_refused", Some(&self.id), &detail);
    }

    /// One page of the trail for an HR admin, newest first.
    pub(super) async fn audit_page(
        &self,
        principal: &Principal,
        filter: &AuditFilter,
    ) -> Result<AuditPage, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        self.read_audit_page(filter).await
    }

    /// One page of the trail, whoever asks: the callers check their own rules.
    async fn read_audit_page(&self, filter: &AuditFilter) -> Result<AuditPage, ActorError> {
        let filter = filter.check()?;

        // The query grows with the filters given; each value is bound, never spliced.
        let mut sql = String::from(
            "SELECT a.company_id, a.id, a.at, a.actor_id, a.action, a.target_id, a.ip, \
             a.user_agent, a.detail, u.company_id AS actor_company_id, u.name AS actor_name, \
             u.email AS actor_email, t.company_id AS target_company_id, \
             t.name AS target_name, t.email AS target_email \
             FROM audit_events a LEFT JOIN users u ON u.id = a.actor_id \
             LEFT JOIN users t ON t.id = a.target_id WHERE a.company_id = $1",
        );
        let mut n = 1;
        let mut arg = || {
            n += 1;
            format!("${n}")
        };
        if filter.from.is_some() {
            sql.push_str(&format!(" AND a.at >= {}", arg()));
        }
        if filter.to.is_some() {
            sql.push_str(&format!(" AND a.at < {}", arg()));
        }
        if filter.person.is_some() {
            let person = arg();
            sql.push_str(&format!(
                " AND (a.actor_id = {person} OR a.target_id = {person})"
            ));
        }
        if filter.kind.is_some() {
            sql.push_str(&format!(" AND a.action LIKE {} ESCAPE '\\'", arg()));
        }
        if filter.before.is_some() {
            let (at, id) = (arg(), arg());
            sql.push_str(&format!(
                " AND (a.at < {at} OR (a.at = {at} AND a.id < {id}))"
            ));
        }
        sql.push_str(&format!(" ORDER BY a.at DESC, a.id DESC LIMIT {}", arg()));

        let mut query = sqlx::query_as::<_, AuditRow>(&sql).bind(&self.id);
        if let Some(from) = filter.from {
            query = query.bind(from);
        }
        if let Some(to) = filter.to {
            query = query.bind(to);
        }
        if let Some(person) = &filter.person {
            query = query.bind(person.clone());
        }
        if let Some(kind) = &filter.kind {
            query = query.bind(kind.clone());
        }
        if let Some((at, id)) = &filter.before {
            query = query.bind(*at).bind(id.clone());
        }
        let mut rows = query
            .bind(filter.limit + 1)
            .fetch_all(self.db.pool())
            .await?;
        self.check_all(&rows)?;

        // One row more than asked for tells that an older page exists.
        let more = rows.len() > usize::try_from(filter.limit).unwrap_or(usize::MAX);
        rows.truncate(usize::try_from(filter.limit).unwrap_or(usize::MAX));
        let next = more
            .then(|| rows.last().map(|row| cursor(row.at, &row.id)))
            .flatten();
        Ok(AuditPage {
            entries: rows.into_iter().map(AuditRow::entry).collect(),
            next,
        })
    }
}

impl CompanyHandle {
    /// One page of the company's audit trail, newest first (HR admins).
    pub async fn audit_page(
        &self,
        principal: Principal,
        filter: AuditFilter,
    ) -> Result<AuditPage, ActorError> {
        self.call(move |c| Box::pin(async move { c.audit_page(&principal, &filter).await }))
            .await
    }

    /// One page of the company's audit trail for the installation's staff (support
    /// and operators), who are no members of the company. The trail holds no written
    /// content; the HTTP layer admits staff sessions only.
    pub async fn installation_audit_page(
        &self,
        filter: AuditFilter,
    ) -> Result<AuditPage, ActorError> {
        let mut page = self
            .call(move |c| Box::pin(async move { c.read_audit_page(&filter).await }))
            .await?;
        for entry in &mut page.entries {
            without_people(entry);
        }
        Ok(page)
    }
}

/// Takes people's names and email addresses out of an entry for installation staff,
/// who see who did what by id only: the people are the company's, not theirs.
fn without_people(entry: &mut AuditEntry) {
    for person in [&mut entry.actor, &mut entry.target].into_iter().flatten() {
        person.name = None;
        person.email = None;
    }
    hide_addresses(&mut entry.detail);
}

/// Replaces every string holding an email address (a failed sign-in's `email`, an
/// email's `to`) at any depth.
fn hide_addresses(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) if text.contains('@') => {
            *text = "[hidden]".to_owned();
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(hide_addresses),
        serde_json::Value::Object(map) => map.values_mut().for_each(hide_addresses),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_become_visible_escapes() {
        assert_eq!(neutralize("plain é 日本"), "plain é 日本");
        assert_eq!(neutralize("a\nb"), "a\\u{a}b");
        assert_eq!(neutralize("a\r\n\tb"), "a\\u{d}\\u{a}\\u{9}b");
        assert_eq!(neutralize("\u{1b}[31m"), "\\u{1b}[31m");
        assert_eq!(neutralize("x\u{202E}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(neutralize("\u{85}"), "\\u{85}");
    }

    #[test]
    fn json_strings_and_keys_are_neutralized_at_every_depth() {
        let value = serde_json::json!({ "e\nmail": ["x\r", { "y": "\u{7}" }], "n": 1 });
        let clean = neutralize_json(value);
        assert_eq!(
            clean,
            serde_json::json!({ "e\\u{a}mail": ["x\\u{d}", { "y": "\\u{7}" }], "n": 1 })
        );
    }

    #[test]
    fn filters_are_checked() {
        let bad = |filter: AuditFilter| filter.check().is_err();
        assert!(bad(AuditFilter {
            limit: Some(0),
            ..Default::default()
        }));
        assert!(bad(AuditFilter {
            limit: Some(MAX_PAGE + 1),
            ..Default::default()
        }));
        assert!(bad(AuditFilter {
            from: Some("yesterday".into()),
            ..Default::default()
        }));
        assert!(bad(AuditFilter {
            from: Some("2026-02-01T00:00:00Z".into()),
            to: Some("2026-01-01T00:00:00Z".into()),
            ..Default::default()
        }));
        assert!(bad(AuditFilter {
            kind: Some("sign%".into()),
            ..Default::default()
        }));
        assert!(bad(AuditFilter {
            before: Some("12.not'an id".into()),
            ..Default::default()
        }));
        let good = AuditFilter {
            kind: Some("sign_in".into()),
            before: Some(cursor(17, "0b9d3a8e-5b8f")),
            limit: Some(MAX_PAGE),
            ..Default::default()
        }
        .check()
        .unwrap();
        assert_eq!(good.kind.as_deref(), Some("sign\\_in%"));
        assert_eq!(good.before, Some((17, "0b9d3a8e-5b8f".into())));
    }

    #[test]
    fn event_times_have_a_fixed_width() {
        assert_eq!(event_time(1_767_225_600_540), "2026-01-01T00:00:00.540Z");
        assert_eq!(event_time(1_767_225_600_000), "2026-01-01T00:00:00.000Z");
        assert_eq!(
            parse_rfc3339(&event_time(1_767_225_600_007)),
            Some(1_767_225_600_007)
        );
    }

    #[test]
    fn a_refused_address_is_audited_once_per_window() {
        let mut seen = RefusalsAudited::default();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(seen.should_audit(ip, 0));
        assert!(!seen.should_audit(ip, REFUSAL_AUDIT_MS - 1));
        assert!(seen.should_audit(ip, REFUSAL_AUDIT_MS));
        assert!(seen.should_audit("203.0.113.10".parse().unwrap(), 1));
    }
}
