//! Black-box tests of the audit trail and the exports, against the real server: browsing
//! with filters and pages, who may see and export what, reauthentication, the record
//! every export leaves, CSV that survives a round trip (formula injection included), a
//! real Excel workbook, and a trail the database refuses to change.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::io::Read;

use common::{Client, PASSWORD, TestServer, code};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ACME: &str = "acme";
const HR: &str = "hr@acme.example";
const EMPLOYEE: &str = "employee1@acme.example";
const MANAGER: &str = "manager@acme.example";

/// Values a spreadsheet would misread or that break naive CSV, each with what a
/// spreadsheet must get from the export.
const TRICKY: [(&str, &str); 12] = [
    ("=1+1", "'=1+1"),
    ("+x", "'+x"),
    ("-x", "'-x"),
    ("@x", "'@x"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("say \"hi\"", "say \"hi\""),
    ("a,b", "a,b"),
    ("two\nlines\r\nthree", "two\nlines\r\nthree"),
    ("Zoë, 日本語 🚀", "Zoë, 日本語 🚀"),
    (
        "=HYPERLINK(\"http://x.example\",\"y\")",
        "'=HYPERLINK(\"http://x.example\",\"y\")",
    ),
    ("1-2 is fine", "1-2 is fine"),
];

/// Parses RFC 4180 text: records end with CRLF, fields may be quoted, quotes inside
/// are doubled. Anything else (a bare line break outside quotes, text after a closing
/// quote, an unterminated quote) fails the test.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut after_quote = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    after_quote = true;
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !after_quote => quoted = true,
            ',' => {
                record.push(std::mem::take(&mut field));
                after_quote = false;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "a bare CR outside quotes");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                after_quote = false;
            }
            '\n' => panic!("a bare LF outside quotes in {text:?}"),
            _ => {
                assert!(!after_quote, "text after a closing quote");
                field.push(c);
            }
        }
    }
    assert!(!quoted, "an unterminated quote");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record does not end with CRLF"
    );
    records
}

/// GET with the session; the status, the headers and the raw body.
async fn fetch(client: &Client, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = client
        .request(reqwest::Method::GET, path)
        .send()
        .await
        .expect("the request is answered");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("a body").to_vec();
    (status, headers, body)
}

/// Confirms the password again; must succeed.
async fn elevate(client: &Client) {
    let body = json!({ "password": PASSWORD });
    let (status, answer) = client.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "reauthenticated: {answer}");
}

/// The signed-in user's id.
async fn my_id(client: &Client) -> String {
    let (_, me) = client.get("/api/v1/me").await;
    me["id"].as_str().expect("an id").to_owned()
}

/// One page of the trail; must be answered with 200.
async fn page(hr: &Client, query: &str) -> Value {
    let (status, body) = hr.get(&format!("/api/v1/admin/audit?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

fn entries(page: &Value) -> Vec<Value> {
    page["entries"].as_array().cloned().unwrap_or_default()
}

fn actions(page: &Value) -> Vec<String> {
    entries(page)
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The id of acme's (or globex's) open demo cycle.
async fn open_cycle(hr: &Client) -> String {
    let (_, cycles) = hr.get("/api/v1/cycles").await;
    cycles
        .as_array()
        .and_then(|list| list.iter().find(|c| c["status"] == "open"))
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("an open cycle in {cycles}"))
        .to_owned()
}

/// Signs in with a chosen User-Agent; answers the client.
async fn sign_in_as_browser(server: &TestServer, email: &str, agent: &str) -> Client {
    let mut client = server.anonymous();
    let body = json!({ "company": ACME, "email": email, "password": PASSWORD });
    let response = client
        .http
        .post(format!("{}/api/v1/auth/login", server.base))
        .header("user-agent", agent)
        .json(&body)
        .send()
        .await
        .expect("the login is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    client.cookie = Some(cookie.split(';').next().unwrap().to_owned());
    client
}

#[tokio::test]
async fn hr_browses_the_trail_newest_first_by_time_person_and_kind() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    let employee = server.sign_in(ACME, EMPLOYEE).await;
    let employee_id = my_id(&employee).await;
    let wrong = json!({ "company": ACME, "email": EMPLOYEE, "password": "not it at all" });
    let (status, _) = server.anonymous().post("/api/v1/auth/login", wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Newest first, each entry with who, what, where and when.
    let all = page(&hr, "limit=500").await;
    let list = entries(&all);
    assert!(!list.is_empty());
    let times: Vec<&str> = list.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(
        list[0]["action"], "sign_in_failed",
        "the newest: {}",
        list[0]
    );
    assert_eq!(list[0]["detail"]["reason"], "wrong_password");
    assert_eq!(list[0]["detail"]["factor"], "password");
    let signed_in = list
        .iter()
        .find(|e| e["action"] == "signed_in" && e["actor"]["id"] == employee_id.as_str())
        .unwrap_or_else(|| panic!("the employee's sign-in in {all}"));
    assert_eq!(signed_in["actor"]["email"], EMPLOYEE);
    assert_eq!(signed_in["ip"], "127.0.0.1");
    assert!(signed_in["at"].as_str().unwrap().ends_with('Z'));

    // An exact action, and an action's start.
    let exact = page(&hr, "kind=signed_in").await;
    assert!(actions(&exact).len() >= 2);
    assert!(actions(&exact).iter().all(|a| a == "signed_in"), "{exact}");
    let prefix = page(&hr, "kind=sign_in").await;
    assert!(actions(&prefix).contains(&"sign_in_failed".to_owned()));
    assert!(actions(&prefix).iter().all(|a| a.starts_with("sign_in")));
    // `_` is no wildcard: "signed_in" does not start with "sign_in".
    assert!(!actions(&prefix).contains(&"signed_in".to_owned()));

    // A person: what they did and what was done to them.
    let theirs = page(&hr, &format!("person={employee_id}")).await;
    assert!(!entries(&theirs).is_empty());
    for entry in entries(&theirs) {
        let about = entry["actor"]["id"] == employee_id.as_str()
            || entry["target"]["id"] == employee_id.as_str();
        assert!(about, "not about the employee: {entry}");
    }

    // A time range.
    let newest = list[0]["at"].as_str().unwrap();
    let from_newest = page(&hr, &format!("from={newest}")).await;
    assert!(entries(&from_newest).iter().any(|e| e["at"] == newest));
    let before_newest = page(&hr, &format!("to={newest}&kind=sign_in_failed")).await;
    assert!(entries(&before_newest).is_empty(), "{before_newest}");
    let ancient = page(&hr, "to=2000-01-01T00:00:00Z").await;
    assert!(entries(&ancient).is_empty());
    assert!(ancient["next"].is_null());
}

#[tokio::test]
async fn pages_follow_each_other_without_gaps_or_repeats() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    let whole = entries(&page(&hr, "limit=500").await);
    assert!(whole.len() > 7, "enough events to page: {}", whole.len());

    let mut walked = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let answer = page(&hr, &query).await;
        let got = entries(&answer);
        assert!(got.len() <= 3);
        walked.extend(got);
        match answer["next"].as_str() {
            Some(next) => query = format!("limit=3&before={next}"),
            None => break,
        }
    }
    let ids = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&walked), ids(&whole));
}

#[tokio::test]
async fn unreadable_filters_are_refused_with_validation_failed() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    for query in [
        "limit=0",
        "limit=501",
        "limit=many",
        "from=yesterday",
        "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        "kind=sign%25",
        "before=garbage",
        "colour=red",
        "person=zzz",
        "person=00000000-0000-4000-8000-00000000000",
    ] {
        let (status, body) = hr.get(&format!("/api/v1/admin/audit?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(code(&body), "validation_failed", "{query}");
    }
    // A well-formed id of nobody here (another company's reads alike) finds nothing.
    let nobody = page(&hr, "person=00000000-0000-4000-8000-000000000000").await;
    assert!(entries(&nobody).is_empty(), "{nobody}");
}

/// Every route of this feature, relative to a cycle id.
fn routes(cycle_id: &str) -> [String; 5] {
    [
        "/api/v1/admin/audit".to_owned(),
        "/api/v1/admin/audit.csv".to_owned(),
        "/api/v1/admin/audit.xlsx".to_owned(),
        "/api/v1/users.csv".to_owned(),
        format!("/api/v1/cycles/{cycle_id}/reviews.csv"),
    ]
}

#[tokio::test]
async fn only_hr_admins_browse_and_export() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    let cycle = open_cycle(&hr).await;
    for email in [EMPLOYEE, MANAGER] {
        let client = server.sign_in(ACME, email).await;
        elevate(&client).await;
        for route in routes(&cycle) {
            let (status, body) = client.get(&route).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{email} {route}: {body}");
            assert_eq!(code(&body), "forbidden", "{email} {route}");
        }
    }
    for route in routes(&cycle) {
        let (status, _) = server.anonymous().get(&route).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{route}");
    }
}

#[tokio::test]
async fn exports_need_a_recent_password_and_each_is_audited() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    let hr_id = my_id(&hr).await;
    let cycle = open_cycle(&hr).await;
    let exports = &routes(&cycle)[1..];

    // Without the password again: refused, and nothing is recorded.
    for route in exports {
        let (status, body) = hr.get(route).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}: {body}");
        assert_eq!(code(&body), "reauthentication_required", "{route}");
    }
    assert!(entries(&page(&hr, "kind=export").await).is_empty());

    // With it: every export answers, and leaves its own event.
    elevate(&hr).await;
    for route in exports {
        let (status, headers, _) = fetch(&hr, route).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename="),
            "{disposition}"
        );
    }
    let recorded = page(&hr, "kind=export").await;
    let mut got = actions(&recorded);
    got.sort();
    assert_eq!(
        got,
        [
            "export_audit_csv",
            "export_audit_xlsx",
            "export_reviews_csv",
            "export_users_csv"
        ]
    );
    for entry in entries(&recorded) {
        assert_eq!(entry["actor"]["id"], hr_id.as_str(), "{entry}");
    }
    let reviews = entries(&recorded)
        .into_iter()
        .find(|e| e["action"] == "export_reviews_csv")
        .unwrap();
    assert_eq!(reviews["target"]["id"], cycle.as_str());
}

#[tokio::test]
async fn another_companys_cycle_exports_exactly_like_a_made_up_one() {
    let server = TestServer::demo().await;
    let globex_cycle = open_cycle(&server.sign_in("globex", "hr@globex.example").await).await;
    let hr = server.sign_in(ACME, HR).await;
    elevate(&hr).await;
    let foreign = hr
        .get(&format!("/api/v1/cycles/{globex_cycle}/reviews.csv"))
        .await;
    let made_up = hr
        .get("/api/v1/cycles/00000000-0000-4000-8000-000000000000/reviews.csv")
        .await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND, "{}", foreign.1);
    assert_eq!(foreign, made_up);
    assert_eq!(code(&foreign.1), "not_found");
}

#[tokio::test]
async fn review_csv_round_trips_tricky_answers_with_formulas_neutralized() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    let employee = server.sign_in(ACME, EMPLOYEE).await;
    let employee_id = my_id(&employee).await;

    // A cycle with one text question per tricky value, its prompt tricky too.
    let questions: Vec<Value> = TRICKY
        .iter()
        .map(|(value, _)| json!({ "kind": "text", "prompt": format!("Q {value}") }))
        .chain([json!({ "kind": "rating", "prompt": "=rating" })])
        .collect();
    let body = json!({ "name": "Tricky", "questions": questions,
        "participants": [employee_id] });
    let (status, cycle) = hr.post("/api/v1/cycles", body).await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle_id = cycle["id"].as_str().unwrap().to_owned();
    let question_ids: Vec<String> = cycle["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap().to_owned())
        .collect();

    // The employee answers every question of their self review.
    let (_, reviews) = employee.get("/api/v1/reviews").await;
    let review = reviews
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cycle_id"] == cycle_id.as_str() && r["kind"] == "self")
        .expect("the self review in the new cycle")
        .clone();
    let review_id = review["id"].as_str().unwrap();
    let mut answers = serde_json::Map::new();
    for ((value, _), id) in TRICKY.iter().zip(&question_ids) {
        answers.insert(id.clone(), json!(value));
    }
    answers.insert(question_ids[TRICKY.len()].clone(), json!(4));
    let save = json!({ "answers": answers, "version": review["version"] });
    let (status, saved) = employee
        .patch(&format!("/api/v1/reviews/{review_id}"), save)
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");

    // Exported, parsed back: every value as a spreadsheet must see it.
    elevate(&hr).await;
    let (status, headers, body) =
        fetch(&hr, &format!("/api/v1/cycles/{cycle_id}/reviews.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let text = String::from_utf8(body).expect("UTF-8");
    let records = parse_csv(&text);
    let header = &records[0];
    assert_eq!(header[0], "review_id");
    // One column per question, then one calibrated column for the one rating question.
    let first_question = header.len() - question_ids.len() - 1;
    for (n, (value, _)) in TRICKY.iter().enumerate() {
        assert_eq!(header[first_question + n], format!("Q {value}"));
    }
    assert_eq!(header[first_question + TRICKY.len()], "'=rating");
    assert_eq!(header[header.len() - 1], "'=rating (calibrated)");
    assert!(records[1..].iter().all(|r| r.len() == header.len()));
    let row = records
        .iter()
        .find(|r| r[0] == review_id)
        .unwrap_or_else(|| panic!("the review in {text:?}"));
    assert_eq!(row[6], "draft");
    for (n, (value, expected)) in TRICKY.iter().enumerate() {
        assert_eq!(row[first_question + n], *expected, "the answer {value:?}");
    }
    assert_eq!(row[first_question + TRICKY.len()], "4");
    // The manager review of the same person is there too, unanswered.
    assert_eq!(records.len(), 3, "header, self and manager review");

    // The trail says the draft was saved, never what it said.
    let trail = page(&hr, "kind=review_draft_saved").await;
    let saved = entries(&trail)
        .into_iter()
        .find(|e| e["target"]["id"] == review_id)
        .expect("the save is audited");
    assert_eq!(saved["actor"]["id"], employee_id.as_str());
    assert!(!saved.to_string().contains("HYPERLINK"), "{saved}");
    let created = page(&hr, "kind=cycle_created").await;
    assert_eq!(entries(&created)[0]["target"]["id"], cycle_id.as_str());
}

#[tokio::test]
async fn audit_csv_neutralizes_what_a_browser_sent() {
    let server = TestServer::demo().await;
    // A header may carry a tab (no line break); a typed email may carry anything.
    let agent = "=cmd|' /C calc'!A0\tforged";
    let _ = sign_in_as_browser(&server, EMPLOYEE, agent).await;
    let wrong = json!({ "company": ACME, "email": "=1+1\r\nforged@acme.example",
        "password": "not it at all" });
    let (status, _) = server.anonymous().post("/api/v1/auth/login", wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let hr = server.sign_in(ACME, HR).await;

    // Stored with its control characters as visible escapes.
    let failed = page(&hr, "kind=sign_in_failed").await;
    assert_eq!(
        entries(&failed)[0]["detail"]["email"],
        "=1+1\\u{d}\\u{a}forged@acme.example"
    );
    elevate(&hr).await;

    let (status, _, body) = fetch(&hr, "/api/v1/admin/audit.csv?kind=signed_in").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    let records = parse_csv(&text);
    let header = &records[0];
    assert_eq!(
        header.join(","),
        "time,actor_id,actor_name,actor_email,action,target_id,target_name,target_email,ip,user_agent,detail"
    );
    let rows: Vec<&Vec<String>> = records[1..].iter().collect();
    assert!(rows.iter().all(|r| r[4] == "signed_in"));
    let employee_row = rows
        .iter()
        .find(|r| r[3] == EMPLOYEE)
        .unwrap_or_else(|| panic!("the employee's sign-in in {text:?}"));
    // Stored with its tab escaped, exported with the formula neutralized.
    assert_eq!(employee_row[9], "'=cmd|' /C calc'!A0\\u{9}forged");
    let detail: Value = serde_json::from_str(&employee_row[10]).expect("JSON detail");
    assert_eq!(detail["factor"], "password");
}

#[tokio::test]
async fn users_csv_lists_everyone_with_their_manager() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    elevate(&hr).await;
    let (_, users) = hr.get("/api/v1/admin/users").await;
    let (status, _, body) = fetch(&hr, "/api/v1/users.csv").await;
    assert_eq!(status, StatusCode::OK);
    let records = parse_csv(&String::from_utf8(body).unwrap());
    assert_eq!(
        records[0],
        [
            "id",
            "email",
            "name",
            "role",
            "manager_id",
            "manager_email",
            "disabled"
        ]
    );
    assert_eq!(records.len() - 1, users.as_array().unwrap().len());
    let employee = records.iter().find(|r| r[1] == EMPLOYEE).unwrap();
    assert_eq!(employee[3], "employee");
    assert_eq!(employee[5], MANAGER);
    assert_eq!(employee[6], "false");
    let hr_row = records.iter().find(|r| r[1] == HR).unwrap();
    assert_eq!(hr_row[3], "hr_admin");
}

#[tokio::test]
async fn the_audit_workbook_is_a_zip_with_the_audit_log_sheet() {
    let server = TestServer::demo().await;
    let _ = sign_in_as_browser(&server, EMPLOYEE, "=1+1 spreadsheet").await;
    let hr = server.sign_in(ACME, HR).await;
    elevate(&hr).await;
    let (status, headers, body) = fetch(&hr, "/api/v1/admin/audit.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(body)).expect("a zip archive");
    let mut read = |name: &str| {
        let mut text = String::new();
        zip.by_name(name)
            .unwrap_or_else(|_| panic!("{name} in the workbook"))
            .read_to_string(&mut text)
            .expect("UTF-8 XML");
        text
    };
    let workbook = read("xl/workbook.xml");
    assert!(workbook.contains(r#"name="Audit log""#), "{workbook}");
    let sheet = read("xl/worksheets/sheet1.xml");
    assert!(sheet.contains("signed_in") && sheet.contains(EMPLOYEE));
    assert!(sheet.contains("=1+1 spreadsheet"));
    assert!(!sheet.contains("<f>"), "no cell is a formula");
    let styles = read("xl/styles.xml");
    assert!(styles.contains("quotePrefix=\"1\""), "{styles}");
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_audit_events() {
    let server = TestServer::demo().await;
    let _ = server.sign_in(ACME, HR).await;
    // The server's own connections, so the test holds on SQLite and PostgreSQL alike.
    let pool = server.server().registry().db().pool().clone();
    let count = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events")
            .fetch_one(&pool)
            .await
            .unwrap();
        n
    };
    let before = count().await;
    assert!(before > 0);
    let mut statements = vec![
        "UPDATE audit_events SET action = 'nothing_happened'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE action = 'signed_in'",
    ];
    // SQLite has no TRUNCATE; PostgreSQL's needs a trigger of its own.
    if common::on_postgres() {
        statements.push("TRUNCATE audit_events");
    }
    for statement in statements {
        let refused = sqlx::query(statement).execute(&pool).await;
        let error = refused.expect_err(statement).to_string();
        assert!(error.contains("append-only"), "{statement}: {error}");
    }
    assert_eq!(count().await, before);
    let (changed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE action = 'nothing_happened'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(changed, 0);
    server.stop().await;
}

#[tokio::test]
async fn role_grants_submits_and_refused_addresses_are_audited() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    let employee = server.sign_in(ACME, EMPLOYEE).await;
    let employee_id = my_id(&employee).await;

    // A role grant and its revocation.
    elevate(&hr).await;
    for role in ["hr_admin", "employee"] {
        let (status, body) = hr
            .patch(
                &format!("/api/v1/admin/users/{employee_id}"),
                json!({ "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let grants = page(&hr, "kind=role").await;
    assert_eq!(actions(&grants), ["role_revoked", "role_granted"]);
    assert!(
        entries(&grants)
            .iter()
            .all(|e| e["target"]["id"] == employee_id.as_str())
    );

    // A submitted review.
    let employee = server.sign_in(ACME, EMPLOYEE).await;
    let cycle = open_cycle(&hr).await;
    let (_, reviews) = employee.get("/api/v1/reviews").await;
    let review = reviews
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cycle_id"] == cycle.as_str() && r["reviewer_id"] == employee_id.as_str())
        .unwrap()
        .clone();
    let path = format!("/api/v1/reviews/{}", review["id"].as_str().unwrap());
    let (_, full) = employee.get(&path).await;
    let mut answers = serde_json::Map::new();
    for q in full["questions"].as_array().unwrap() {
        let answer = if q["kind"] == "rating" {
            json!(3)
        } else {
            json!("Fine.")
        };
        answers.insert(q["id"].as_str().unwrap().to_owned(), answer);
    }
    let save = json!({ "answers": answers, "version": full["version"] });
    assert_eq!(employee.patch(&path, save).await.0, StatusCode::OK);
    let (status, _) = employee.post(&format!("{path}/submit"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let submitted = page(&hr, "kind=review_submitted").await;
    assert_eq!(entries(&submitted)[0]["target"]["id"], review["id"]);
    assert_eq!(entries(&submitted)[0]["detail"]["cycle_id"], cycle.as_str());

    // An address outside the company's ranges is refused and recorded once, however
    // often it retries.
    let policy = json!({ "min_password_length": 8, "remember_me_allowed": true,
        "second_factor_required": false, "ip_ranges": ["192.0.2.0/24"],
        "confirm_own_address_excluded": true });
    let (status, body) = hr
        .send(
            hr.request(reqwest::Method::PUT, "/api/v1/admin/security-policy")
                .json(&policy),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..3 {
        let (status, body) = employee.get("/api/v1/me").await;
        assert_eq!(code(&body), "ip_not_allowed", "{status}");
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(server.data_dir.path().join("kaizen.sqlite3"))
        .read_only(true);
    let pool = sqlx::sqlite::SqlitePool::connect_with(options)
        .await
        .unwrap();
    let refused: Vec<(String, String)> =
        sqlx::query_as("SELECT ip, detail FROM audit_events WHERE action = 'security_ip_refused'")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "127.0.0.1");
    assert!(refused[0].1.contains("ip_not_allowed"));
}

#[tokio::test]
async fn an_hr_admin_exports_no_unshared_review_about_themselves() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    let ceo = server.sign_in(ACME, "ceo@acme.example").await;
    let employee = server.sign_in(ACME, EMPLOYEE).await;
    let (hr_id, employee_id) = (my_id(&hr).await, my_id(&employee).await);
    let body = json!({ "name": "About HR", "questions": [{"kind": "text", "prompt": "How?"}],
        "participants": [hr_id, employee_id] });
    let (status, cycle) = hr.post("/api/v1/cycles", body).await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle_id = cycle["id"].as_str().unwrap().to_owned();
    let question = cycle["questions"][0]["id"].as_str().unwrap().to_owned();

    // The CEO drafts the manager review of HR, the employee their self review.
    let write = |client: Client, reviewee: String, kind: &'static str, words: &'static str| {
        let (cycle_id, question) = (cycle_id.clone(), question.clone());
        async move {
            let (_, reviews) = client.get("/api/v1/reviews").await;
            let review = reviews
                .as_array()
                .unwrap()
                .iter()
                .find(|r| {
                    r["cycle_id"] == cycle_id.as_str()
                        && r["kind"] == kind
                        && r["reviewee_id"] == reviewee.as_str()
                })
                .expect("the review")
                .clone();
            let save = json!({ "answers": { question: words }, "version": review["version"] });
            let path = format!("/api/v1/reviews/{}", review["id"].as_str().unwrap());
            let (status, saved) = client.patch(&path, save).await;
            assert_eq!(status, StatusCode::OK, "{saved}");
        }
    };
    write(ceo, hr_id.clone(), "manager", "Private words about HR").await;
    write(employee, employee_id, "self", "Words HR may read").await;

    // HR's export of the cycle carries the employee's answer, not the one about HR.
    elevate(&hr).await;
    let (status, _, body) = fetch(&hr, &format!("/api/v1/cycles/{cycle_id}/reviews.csv")).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("Words HR may read"), "{text}");
    assert!(!text.contains("Private words about HR"), "{text}");

    // Nor do the XML exports, of the cycle and of the whole company.
    let db = server.server().registry().db();
    kaizen_actors::directory::set_xml_export(db, "acme", true)
        .await
        .expect("XML export switched on");
    for path in [
        format!("/api/v1/cycles/{cycle_id}/export.xml"),
        "/api/v1/admin/export.xml".to_owned(),
    ] {
        let (status, _, body) = fetch(&hr, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("Words HR may read"), "{path}");
        assert!(!text.contains("Private words about HR"), "{path}");
    }
    server.stop().await;
}
