//! Importing the org chart from CSV.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kaizen_actors::company::people::{ImportReport, MAX_IMPORT_ROWS, PersonRow};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::Session;

/// Options of an import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// Only check the file and report what would change.
    #[serde(default)]
    pub dry_run: bool,
}

/// The columns an import reads; `email` and `name` are required, the others optional.
const COLUMNS: [&str; 5] = ["email", "name", "department", "manager_email", "role"];

/// Creates and updates people from a CSV file (`Content-Type: text/csv`, UTF-8, a header
/// row naming `email`, `name` and optionally `department`, `manager_email`, `role`). A row
/// whose email exists updates that person; others are created without a password (they
/// set one with the password reset). All or nothing: with any error the answer is 422,
/// `errors` names every bad row and nothing is written. HR admins, reauthenticated.
#[utoipa::path(post, path = "/api/v1/admin/users/import", tag = "admin",
    params(ImportOptions),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 422, body = ImportReport),
              (status = 403, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn import_people(
    session: Session,
    Query(options): Query<ImportOptions>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv"))
        });
    if !is_csv {
        return Err(ApiError::UnsupportedMediaType(
            "send the file as text/csv (Content-Type: text/csv)",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::Validation("the file is not UTF-8".into()))?;
    let rows = people_from_csv(text).map_err(ApiError::Validation)?;
    let report = session
        .company
        .import_people(session.principal, rows, options.dry_run, session.client)
        .await?;
    if report.errors.is_empty() {
        return Ok(Json(report).into_response());
    }
    let message = format!(
        "{} problem(s) in the file; nothing was imported",
        report.errors.len()
    );
    let body = serde_json::json!({
        "error": { "code": "validation_failed", "message": message },
        "errors": report.errors,
    });
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
}

/// Reads the people of an import file.
fn people_from_csv(text: &str) -> Result<Vec<PersonRow>, String> {
    let records = parse_csv(text)?;
    let mut records = records.into_iter();
    let header = records.next().ok_or("the file is empty")?;
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    for name in &header {
        if !COLUMNS.contains(&name.as_str()) {
            let shown: String = name.chars().take(40).collect();
            return Err(format!(
                "unknown column {shown:?}; the columns are {}",
                COLUMNS.join(", ")
            ));
        }
    }
    let position = |name: &str| header.iter().position(|h| h == name);
    let (Some(email), Some(name)) = (position("email"), position("name")) else {
        return Err("the header must name the columns email and name".into());
    };
    let (department, manager, role) = (
        position("department"),
        position("manager_email"),
        position("role"),
    );
    let mut people = Vec::new();
    for (index, record) in records.enumerate() {
        let line = index + 2;
        if record.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        if people.len() == MAX_IMPORT_ROWS {
            return Err(format!(
                "an import may carry at most {MAX_IMPORT_ROWS} people"
            ));
        }
        if record.len() != header.len() {
            return Err(format!(
                "row {line} has {} fields where the header has {}",
                record.len(),
                header.len()
            ));
        }
        let field = |at: Option<usize>| at.map(|i| record[i].clone()).unwrap_or_default();
        people.push(PersonRow {
            line,
            email: field(Some(email)),
            name: field(Some(name)),
            department: field(department),
            manager_email: field(manager),
            role: field(role),
        });
    }
    Ok(people)
}

/// Splits RFC 4180 text into records of fields: commas, double-quoted fields with `""`
/// for a quote, CRLF or LF line ends, an optional UTF-8 byte-order mark. A record's number
/// in errors is its position (the first is 1), which is its line when no field spans lines.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut started = false;
    while let Some(c) = chars.next() {
        started = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => {
                return Err(format!(
                    "record {}: a quote inside an unquoted field",
                    records.len() + 1
                ));
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                started = false;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is never closed".into());
    }
    if started {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_quotes_commas_newlines_and_both_line_ends() {
        let text = "\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",\n";
        assert_eq!(
            parse_csv(text).expect("valid"),
            vec![
                vec!["a".to_owned(), "b".to_owned()],
                vec!["x, y".to_owned(), "say \"hi\"".to_owned()],
                vec!["two\nlines".to_owned(), String::new()],
            ]
        );
        assert_eq!(
            parse_csv("a,b").expect("no final newline"),
            vec![vec!["a", "b"]]
        );
        assert!(parse_csv("\"open").is_err());
        assert!(parse_csv("a\"b").is_err());
    }

    #[test]
    fn people_need_known_columns_and_whole_rows() {
        let people =
            people_from_csv("Email,Name,Role\nann@x.example,Ann,hr_admin\n\n").expect("valid");
        assert_eq!(people.len(), 1);
        assert_eq!((people[0].line, people[0].role.as_str()), (2, "hr_admin"));
        assert!(people_from_csv("email,salary\n").is_err(), "unknown column");
        assert!(people_from_csv("name\nAnn\n").is_err(), "no email column");
        assert!(
            people_from_csv("email,name\nann@x.example\n").is_err(),
            "short row"
        );
        assert!(people_from_csv("").is_err());
    }
}
