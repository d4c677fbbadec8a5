//! Importing the org chart from CSV: create and update in one run, a report of every bad
//! row, and nothing written when any row is bad.

#[allow(dead_code)]
mod common;

use common::{Client, PASSWORD, TestServer, code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const COMPANY: &str = "acme";

async fn elevate(client: &Client) {
    let (status, body) = client
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn import(client: &Client, csv: &str, dry_run: bool) -> (StatusCode, Value) {
    let request = client
        .request(
            Method::POST,
            &format!("/api/v1/admin/users/import?dry_run={dry_run}"),
        )
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv.to_owned());
    client.send(request).await
}

async fn users(hr: &Client) -> Vec<Value> {
    let (status, body) = hr.get("/api/v1/admin/users").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("a list").clone()
}

fn by_email<'a>(users: &'a [Value], email: &str) -> &'a Value {
    users
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email} among the users"))
}

/// One file creates new people (one managed by another new person listed after them) and
/// updates existing ones; a dry run reports the same and writes nothing.
#[tokio::test]
async fn an_import_creates_and_updates_people_in_one_run() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, "hr@acme.example").await;
    elevate(&hr).await;
    let csv = "email,name,department,manager_email,role\r\n\
               new.report@acme.example,Nia Report,Sales,new.lead@acme.example,\r\n\
               new.lead@acme.example,\"Lee, Lead\",Sales,manager@acme.example,\r\n\
               EMPLOYEE1@acme.example,Employee One,Support,manager@acme.example,\r\n";

    let before = users(&hr).await.len();
    let (status, report) = import(&hr, csv, true).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (
            report["created"].clone(),
            report["updated"].clone(),
            report["dry_run"].clone()
        ),
        (json!(2), json!(1), json!(true)),
        "{report}"
    );
    assert_eq!(users(&hr).await.len(), before, "a dry run writes nothing");

    let (status, report) = import(&hr, csv, false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["created"].clone(), report["updated"].clone()),
        (json!(2), json!(1))
    );
    let people = users(&hr).await;
    assert_eq!(people.len(), before + 2);
    let lead = by_email(&people, "new.lead@acme.example");
    let report_user = by_email(&people, "new.report@acme.example");
    assert_eq!(lead["name"], "Lee, Lead");
    assert_eq!(
        report_user["manager_id"], lead["id"],
        "managed by a person created later"
    );
    assert_eq!(report_user["department"], "Sales");
    assert_eq!(
        by_email(&people, "employee1@acme.example")["department"],
        "Support"
    );

    let (status, report) = import(&hr, csv, false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["unchanged"], 3,
        "importing again changes nothing: {report}"
    );
}

/// Every bad row is reported with its line, and nothing at all is written.
#[tokio::test]
async fn a_file_with_bad_rows_is_refused_whole_with_every_error_named() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, "hr@acme.example").await;
    elevate(&hr).await;
    let before = users(&hr).await;
    let csv = "email,name,manager_email,role\n\
               fine@acme.example,Fine Person,,\n\
               not-an-email,Someone,,\n\
               loop.a@acme.example,Loop A,loop.b@acme.example,\n\
               loop.b@acme.example,Loop B,loop.a@acme.example,\n\
               ghost@acme.example,Ghost,nobody@acme.example,\n\
               fine@acme.example,Twice,,\n\
               boss@acme.example,Boss,,emperor\n\
               elsewhere@acme.example,Elsewhere,hr@globex.example,\n";
    let (status, body) = import(&hr, csv, false).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        "{body}"
    );
    let lines: Vec<u64> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["line"].as_u64().expect("a line"))
        .collect();
    for line in [3, 4, 5, 6, 7, 8, 9] {
        assert!(lines.contains(&line), "line {line} is reported: {body}");
    }
    assert!(!lines.contains(&2), "the good row is not: {body}");
    assert_eq!(users(&hr).await, before, "nothing was written");
}

/// Only reauthenticated HR admins import; a malformed file or a wrong type is refused.
#[tokio::test]
async fn only_reauthenticated_hr_admins_import_well_formed_csv() {
    let server = TestServer::demo().await;
    let csv = "email,name\nsomeone@acme.example,Someone\n";
    let employee = server.sign_in(COMPANY, "employee1@acme.example").await;
    elevate(&employee).await;
    let (status, _) = import(&employee, csv, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let hr = server.sign_in(COMPANY, "hr@acme.example").await;
    let (status, body) = import(&hr, csv, false).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "reauthentication_required")
    );
    elevate(&hr).await;
    let (status, body) = import(&hr, "email,name\n\"unclosed,x\n", false).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let (status, body) = hr
        .send(
            hr.request(Method::POST, "/api/v1/admin/users/import")
                .json(&json!({"email": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("text/csv"), "says which type: {body}");
    // The last HR admin cannot be demoted by an import.
    let (status, body) = import(&hr, "email,name,role\nhr@acme.example,HR,employee\n", false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"][0]["line"], 2,
        "the demoting row is named: {body}"
    );
}
