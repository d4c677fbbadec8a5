//! Importing the org chart: people created and updated in one run, checked as a whole
//! first. Any error anywhere means nothing is written, and every row's errors are named.

use std::collections::{HashMap, HashSet};

use futures_util::future::BoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::user::{USER_COLUMNS, UserRow, plausible_email};
use super::{Company, CompanyHandle};
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::model::{Client, Principal, UserRole, normalize_email};

/// The most people one import may carry.
pub const MAX_IMPORT_ROWS: usize = 20_000;

/// One person of an org-chart import, as read from a CSV row.
#[derive(Debug, Clone)]
pub struct PersonRow {
    /// The row's number in the file (the header is row 1), for error reports.
    pub line: usize,
    /// The key: an existing user with this email is updated, otherwise one is created.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Department; empty clears it.
    pub department: String,
    /// The manager's email: a user already in the company or one in the same file;
    /// empty for no manager.
    pub manager_email: String,
    /// `employee`, `hr_admin` or `hr_assistant`; empty keeps an existing user's role (new users are
    /// employees).
    pub role: String,
}

/// A problem with one row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// The row's number in the file (the header is row 1).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// What an import did, or would do (dry run), or why it did nothing.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// People added.
    pub created: usize,
    /// People whose name, department, manager or role changed.
    pub updated: usize,
    /// People in the file already exactly so.
    pub unchanged: usize,
    /// Every problem found; when there is any, nothing was written.
    pub errors: Vec<RowError>,
    /// Whether this was only a check.
    pub dry_run: bool,
}

/// A row after checking: what the person will be.
struct Planned {
    line: usize,
    email: String,
    name: String,
    department: Option<String>,
    manager_email: Option<String>,
    role: Option<UserRole>,
}

impl Company {
    async fn import_people(
        &mut self,
        principal: Principal,
        rows: Vec<PersonRow>,
        dry_run: bool,
        client: Client,
    ) -> Result<ImportReport, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        if !principal.is_elevated() {
            return Err(ActorError::ReauthenticationRequired);
        }
        if rows.len() > MAX_IMPORT_ROWS {
            return Err(ActorError::Validation(format!(
                "an import may carry at most {MAX_IMPORT_ROWS} people"
            )));
        }
        let mut tx = self.db.begin_write().await?;
        let existing: Vec<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE company_id = $1"
        ))
        .bind(&self.id)
        .fetch_all(&mut *tx)
        .await?;
        for person in &existing {
            self.check(person)?;
        }
        let by_email: HashMap<&str, &UserRow> =
            existing.iter().map(|p| (p.email.as_str(), p)).collect();
        let email_of: HashMap<&str, &str> = existing
            .iter()
            .map(|p| (p.id.as_str(), p.email.as_str()))
            .collect();

        let mut report = ImportReport {
            dry_run,
            ..ImportReport::default()
        };
        let planned = check_rows(&rows, &by_email, &mut report.errors);

        // The reporting lines after the import: the file's, and the rest as they are.
        let mut manager_of: HashMap<String, Option<String>> = existing
            .iter()
            .map(|p| {
                let manager = p.manager_id.as_deref().and_then(|id| email_of.get(id));
                (p.email.clone(), manager.map(|m| (*m).to_owned()))
            })
            .collect();
        for plan in &planned {
            manager_of.insert(plan.email.clone(), plan.manager_email.clone());
        }
        for plan in &planned {
            if let Some(loop_at) = reporting_loop(&plan.email, &manager_of) {
                report.errors.push(RowError {
                    line: plan.line,
                    message: format!("the reporting line loops back through {loop_at}"),
                });
            }
        }

        // The company must keep an active HR admin.
        let admins_after = existing
            .iter()
            .filter(|p| p.disabled == 0)
            .filter(|p| {
                let role = planned
                    .iter()
                    .find(|plan| plan.email == p.email)
                    .and_then(|plan| plan.role);
                role.map_or(p.role == "hr_admin", |r| r == UserRole::HrAdmin)
            })
            .count()
            + planned
                .iter()
                .filter(|plan| !by_email.contains_key(plan.email.as_str()))
                .filter(|plan| plan.role == Some(UserRole::HrAdmin))
                .count();
        if admins_after == 0 {
            // Name the rows that take the role away (or the header, if none does).
            let demoting: Vec<usize> = planned
                .iter()
                .filter(|plan| plan.role.is_some_and(|r| r != UserRole::HrAdmin))
                .filter(|plan| {
                    by_email
                        .get(plan.email.as_str())
                        .is_some_and(|p| p.role == "hr_admin" && p.disabled == 0)
                })
                .map(|plan| plan.line)
                .collect();
            for line in if demoting.is_empty() {
                vec![1]
            } else {
                demoting
            } {
                report.errors.push(RowError {
                    line,
                    message: "the import would leave no active HR admin".into(),
                });
            }
        }
        if !report.errors.is_empty() {
            report.errors.sort_by_key(|e| e.line);
            return Ok(report);
        }

        // Create first (without managers, who may be created later in the file), then
        // set every planned person's fields and manager.
        let now = now_ms();
        let mut ids: HashMap<String, String> = existing
            .iter()
            .map(|p| (p.email.clone(), p.id.clone()))
            .collect();
        for plan in planned
            .iter()
            .filter(|p| !by_email.contains_key(p.email.as_str()))
        {
            let id = new_id();
            sqlx::query(
                "INSERT INTO users (company_id, id, email, name, role, department, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&plan.email)
            .bind(&plan.name)
            .bind(plan.role.unwrap_or(UserRole::Employee).as_str())
            .bind(&plan.department)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            ids.insert(plan.email.clone(), id);
            report.created += 1;
        }
        let mut demoted = Vec::new();
        for plan in &planned {
            let manager_id = plan
                .manager_email
                .as_ref()
                .and_then(|email| ids.get(email))
                .cloned();
            let Some(id) = ids.get(&plan.email) else {
                continue;
            };
            let role = match (plan.role, by_email.get(plan.email.as_str())) {
                (Some(role), _) => role.as_str().to_owned(),
                (None, Some(before)) => before.role.clone(),
                (None, None) => UserRole::Employee.as_str().to_owned(),
            };
            if let Some(before) = by_email.get(plan.email.as_str()) {
                let same = before.name == plan.name
                    && before.department == plan.department
                    && before.manager_id == manager_id
                    && before.role == role;
                if same {
                    report.unchanged += 1;
                    continue;
                }
                report.updated += 1;
                if before.role == "hr_admin" && role != "hr_admin" {
                    demoted.push(id.clone());
                }
            }
            sqlx::query(
                "UPDATE users SET name = $3, department = $4, manager_id = $5, role = $6 \
                 WHERE company_id = $1 AND id = $2",
            )
            .bind(&self.id)
            .bind(id)
            .bind(&plan.name)
            .bind(&plan.department)
            .bind(&manager_id)
            .bind(&role)
            .execute(&mut *tx)
            .await?;
        }
        if dry_run {
            drop(tx);
            return Ok(report);
        }
        let mut ended = Vec::new();
        for id in &demoted {
            ended.extend(self.end_all_sessions(&mut tx, id).await?);
        }
        if !demoted.is_empty() {
            self.note_admin_removed(&mut tx).await?;
        }
        tx.commit().await?;
        self.revoke_all(&ended);
        // Changed reporting lines and roles change who may read which review: live
        // subscriptions are checked again.
        if report.updated > 0 {
            self.access_changed();
        }
        let detail = serde_json::json!({ "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "sessions_ended": ended.len() });
        self.audit(
            Some(&principal.user_id),
            "people_imported",
            None,
            &client,
            detail,
        )
        .await;
        Ok(report)
    }
}

/// Checks every row on its own and against the others; answers the plans of the rows
/// without errors.
fn check_rows(
    rows: &[PersonRow],
    existing: &HashMap<&str, &UserRow>,
    errors: &mut Vec<RowError>,
) -> Vec<Planned> {
    let in_file: HashSet<String> = rows.iter().map(|r| normalize_email(&r.email)).collect();
    let mut seen = HashSet::new();
    let mut planned = Vec::new();
    for row in rows {
        let mut problems = Vec::new();
        let email = normalize_email(&row.email);
        if !plausible_email(&email) {
            problems.push("the email address is not valid".to_owned());
        } else if !seen.insert(email.clone()) {
            problems.push(format!("{email} appears more than once"));
        }
        let name = row.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            problems.push("the name must have 1 to 200 printable characters".to_owned());
        }
        let department = row.department.trim().to_owned();
        if department.chars().count() > 100 || department.chars().any(char::is_control) {
            problems.push("the department must have at most 100 printable characters".to_owned());
        }
        let manager = normalize_email(&row.manager_email);
        if !manager.is_empty() {
            if manager == email {
                problems.push("a person cannot be their own manager".to_owned());
            } else if !in_file.contains(&manager) && !existing.contains_key(manager.as_str()) {
                problems.push(format!(
                    "the manager {manager} is neither in the file nor a user here"
                ));
            } else if existing
                .get(manager.as_str())
                .is_some_and(|m| m.disabled != 0)
            {
                problems.push(format!("the manager {manager} is disabled"));
            }
        }
        let role = match row.role.trim() {
            "" => None,
            other => UserRole::parse(other).or_else(|| {
                let shown: String = other.chars().take(40).collect();
                problems.push(format!(
                    "the role {shown:?} is not employee, hr_admin or hr_assistant"
                ));
                None
            }),
        };
        if problems.is_empty() {
            planned.push(Planned {
                line: row.line,
                email,
                name,
                department: (!department.is_empty()).then_some(department),
                manager_email: (!manager.is_empty()).then_some(manager),
                role,
            });
        } else {
            errors.extend(problems.into_iter().map(|message| RowError {
                line: row.line,
                message,
            }));
        }
    }
    planned
}

/// Follows the reporting line up from `email`; answers where it loops, if it does.
fn reporting_loop(email: &str, manager_of: &HashMap<String, Option<String>>) -> Option<String> {
    let mut seen = HashSet::from([email.to_owned()]);
    let mut at = email.to_owned();
    while let Some(Some(manager)) = manager_of.get(&at) {
        if !seen.insert(manager.clone()) {
            return Some(manager.clone());
        }
        at = manager.clone();
    }
    None
}

impl CompanyHandle {
    /// Creates and updates people from an org-chart import (HR admins, reauthenticated).
    /// All or nothing: with any error, nothing is written and every error is reported.
    pub async fn import_people(
        &self,
        principal: Principal,
        rows: Vec<PersonRow>,
        dry_run: bool,
        client: Client,
    ) -> Result<ImportReport, ActorError> {
        self.call(move |c| -> BoxFuture<'_, _> {
            Box::pin(c.import_people(principal, rows, dry_run, client))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_in_reporting_lines_are_found() {
        let lines: HashMap<String, Option<String>> = [
            ("a", Some("b")),
            ("b", Some("c")),
            ("c", Some("a")),
            ("d", Some("e")),
            ("e", None),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
        .collect();
        assert!(reporting_loop("a", &lines).is_some());
        assert_eq!(reporting_loop("d", &lines), None);
        assert_eq!(reporting_loop("unknown", &lines), None);
    }
}
