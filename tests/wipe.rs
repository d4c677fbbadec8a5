//! Wiping a company's content: who may, the reauthentication, the operator's master
//! password for older companies, a second admin's confirmation, what goes and what stays.

#[allow(dead_code)]
mod common;

use common::{Client, PASSWORD, TestServer, code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const COMPANY: &str = "acme";
const OTHER: &str = "globex";

fn email(local: &str, company: &str) -> String {
    format!("{local}@{company}.example")
}

/// A read-write connection to the server's database, for what only the operator or time
/// can do (age a company, expire a request) and to count rows.
async fn database(server: &TestServer) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(server.data_dir.path().join("kaizen.sqlite3"))
        .busy_timeout(std::time::Duration::from_secs(10));
    sqlx::sqlite::SqlitePool::connect_with(options)
        .await
        .expect("the database opens")
}

/// Rows of `table` that belong to the company with `slug`.
async fn rows(server: &TestServer, table: &str, slug: &str) -> i64 {
    let pool = database(server).await;
    let sql = format!(
        "SELECT COUNT(*) FROM {table} WHERE company_id = (SELECT id FROM companies WHERE slug = $1)"
    );
    let (n,): (i64,) = sqlx::query_as(&sql)
        .bind(slug)
        .fetch_one(&pool)
        .await
        .expect("counted");
    pool.close().await;
    n
}

/// The audit actions recorded for a company, oldest first.
async fn audit_actions(server: &TestServer, slug: &str) -> Vec<String> {
    let pool = database(server).await;
    let actions: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_events WHERE company_id = \
         (SELECT id FROM companies WHERE slug = $1) ORDER BY at, rowid",
    )
    .bind(slug)
    .fetch_all(&pool)
    .await
    .expect("read");
    pool.close().await;
    actions.into_iter().map(|(a,)| a).collect()
}

/// Makes a company older than four weeks.
async fn age(server: &TestServer, slug: &str) {
    let pool = database(server).await;
    let month_ago = kaizen_actors::db::now_ms() - 29 * 24 * 3_600_000;
    sqlx::query("UPDATE companies SET created_at = $1 WHERE slug = $2")
        .bind(month_ago)
        .bind(slug)
        .execute(&pool)
        .await
        .expect("aged");
    pool.close().await;
}

async fn elevate(client: &Client) {
    let (status, body) = client
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn wipe(client: &Client, body: Value) -> (StatusCode, Value) {
    client.post("/api/v1/admin/wipe", body).await
}

/// Runs `kaizen company issue-wipe-password` against the server's data directory and
/// answers the password it printed.
async fn issue_master_password(server: &TestServer, slug: &str) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_kaizen"))
        .args(["company", "issue-wipe-password", slug, "--data-dir"])
        .arg(server.data_dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed
        .lines()
        .last()
        .expect("the password on the last line")
        .trim()
        .to_owned()
}

/// The only HR admin of a young company wipes at once: content rows are gone, people and
/// the audit trail stay, every session of the company ends, the other company is untouched.
#[tokio::test]
async fn the_only_admin_of_a_young_company_wipes_at_once() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let employee = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;
    let elsewhere = server.sign_in(OTHER, &email("employee1", OTHER)).await;
    let before_other = rows(&server, "reviews", OTHER).await;
    let users_before = rows(&server, "users", COMPANY).await;
    assert!(rows(&server, "reviews", COMPANY).await > 0);

    let (status, body) = wipe(&hr, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "reauthentication_required"),
        "{body}"
    );
    let (status, _) = wipe(&employee, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "employees may not wipe");
    assert!(
        rows(&server, "reviews", COMPANY).await > 0,
        "nothing went yet"
    );

    elevate(&hr).await;
    let (status, body) = wipe(&hr, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "wiped");
    assert!(
        body["deleted"]["reviews"].as_u64().unwrap_or(0) > 0,
        "{body}"
    );

    for table in ["reviews", "questions", "cycles", "sessions"] {
        assert_eq!(rows(&server, table, COMPANY).await, 0, "{table} is empty");
    }
    assert_eq!(
        rows(&server, "users", COMPANY).await,
        users_before,
        "people stay"
    );
    assert_eq!(rows(&server, "reviews", OTHER).await, before_other);
    for (who, client, status) in [
        ("the admin", &hr, 401),
        ("an employee", &employee, 401),
        ("another company's user", &elsewhere, 200),
    ] {
        let (got, _) = client.get("/api/v1/me").await;
        assert_eq!(got.as_u16(), status, "{who}");
    }
    let again = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;
    let (status, reviews) = again.get("/api/v1/reviews").await;
    assert_eq!((status, reviews), (StatusCode::OK, json!([])));

    let actions = audit_actions(&server, COMPANY).await;
    for wanted in ["wipe_refused", "company_wiped"] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} in {actions:?}"
        );
    }
}

/// A company older than four weeks needs the operator's master password, which works
/// once; a wrong or missing one is refused and audited.
#[tokio::test]
async fn an_older_company_needs_the_operators_master_password_once() {
    let server = TestServer::demo().await;
    age(&server, COMPANY).await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    elevate(&hr).await;

    for body in [json!({}), json!({"master_password": "guessed"})] {
        let (status, answer) = wipe(&hr, body.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::FORBIDDEN, "master_password_required"),
            "{body}: {answer}"
        );
    }
    assert!(rows(&server, "reviews", COMPANY).await > 0, "nothing went");

    // Two passwords issued: only the newest works.
    let earlier = issue_master_password(&server, COMPANY).await;
    let master = issue_master_password(&server, COMPANY).await;
    assert_ne!(earlier, master);
    let (status, answer) = wipe(&hr, json!({ "master_password": earlier })).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a replaced password: {answer}"
    );

    let (status, answer) = wipe(&hr, json!({ "master_password": master })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(rows(&server, "reviews", COMPANY).await, 0);

    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    elevate(&hr).await;
    let (status, answer) = wipe(&hr, json!({ "master_password": master })).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::FORBIDDEN, "master_password_required"),
        "a spent password: {answer}"
    );
    let actions = audit_actions(&server, COMPANY).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "wipe_password_issued")
            .count(),
        2,
        "{actions:?}"
    );
}

/// With two HR admins, one asks and another confirms within the hour; the asker cannot
/// confirm their own request, and an expired request wipes nothing.
#[tokio::test]
async fn with_two_admins_a_second_one_must_confirm_in_time() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let manager = server.sign_in(COMPANY, &email("manager", COMPANY)).await;
    let (_, me) = manager.get("/api/v1/me").await;
    let manager_id = me["id"].as_str().expect("an id").to_owned();
    elevate(&hr).await;
    let (status, body) = hr
        .send(
            hr.request(Method::PATCH, &format!("/api/v1/admin/users/{manager_id}"))
                .json(&json!({ "role": "hr_admin" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = server.sign_in(COMPANY, &email("manager", COMPANY)).await;
    elevate(&second).await;

    // A request that expires unconfirmed wipes nothing.
    let (status, body) = wipe(&hr, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "awaiting_confirmation");
    let stale = body["request_id"]
        .as_str()
        .expect("a request id")
        .to_owned();
    let pool = database(&server).await;
    sqlx::query("UPDATE wipe_requests SET expires_at = 0 WHERE id = $1")
        .bind(&stale)
        .execute(&pool)
        .await
        .expect("expired");
    pool.close().await;
    let path = format!("/api/v1/admin/wipe/{stale}/confirm");
    let (status, body) = second.post(&path, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
    assert!(rows(&server, "reviews", COMPANY).await > 0);

    let (status, body) = wipe(&hr, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let request = body["request_id"]
        .as_str()
        .expect("a request id")
        .to_owned();
    let path = format!("/api/v1/admin/wipe/{request}/confirm");

    let (status, body) = hr.post(&path, json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "not by the admin who asked: {body}"
    );
    let employee = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;
    let (status, _) = employee.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not by an employee");
    let other_hr = server.sign_in(OTHER, &email("hr", OTHER)).await;
    elevate(&other_hr).await;
    let (status, body) = other_hr.post(&path, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "another company's admin learns nothing: {body}"
    );
    assert!(
        rows(&server, "reviews", COMPANY).await > 0,
        "nothing went yet"
    );

    let (status, body) = second.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(rows(&server, "reviews", COMPANY).await, 0);
    assert!(rows(&server, "reviews", OTHER).await > 0);
    let actions = audit_actions(&server, COMPANY).await;
    for wanted in [
        "wipe_requested",
        "wipe_refused",
        "wipe_confirmed",
        "company_wiped",
    ] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} in {actions:?}"
        );
    }
}

/// Demoting the other HR admins is no way around the second admin: for a week after an
/// admin lost the role, the one who is left cannot wipe alone.
#[tokio::test]
async fn demoting_the_other_admin_does_not_let_one_admin_wipe_alone() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let (_, me) = server
        .sign_in(COMPANY, &email("manager", COMPANY))
        .await
        .get("/api/v1/me")
        .await;
    let path = format!("/api/v1/admin/users/{}", me["id"].as_str().expect("an id"));
    elevate(&hr).await;
    for role in ["hr_admin", "employee"] {
        let (status, body) = hr
            .send(
                hr.request(Method::PATCH, &path)
                    .json(&json!({ "role": role })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let (status, body) = wipe(&hr, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
    assert!(rows(&server, "reviews", COMPANY).await > 0, "nothing went");
    let actions = audit_actions(&server, COMPANY).await;
    assert!(actions.iter().any(|a| a == "wipe_refused"), "{actions:?}");
}

/// After a wipe the database files hold nothing of the wiped content (here a question's
/// prompt): deleted pages are zeroed and the write-ahead log is emptied. (Object names,
/// such as the cycle's, stay in the audit trail by design.)
#[tokio::test]
async fn wiped_content_is_gone_from_the_database_files() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let marker = "WIPEMARKER-7f3a9c-cycle";
    let (status, body) = hr
        .post(
            "/api/v1/cycles",
            json!({"name": "Wipe test", "questions": [{"kind": "text", "prompt": marker}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let on_disk = |server: &TestServer| -> usize {
        ["kaizen.sqlite3", "kaizen.sqlite3-wal"]
            .iter()
            .filter_map(|name| std::fs::read(server.data_dir.path().join(name)).ok())
            .map(|bytes| {
                bytes
                    .windows(marker.len())
                    .filter(|w| *w == marker.as_bytes())
                    .count()
            })
            .sum()
    };
    assert!(
        on_disk(&server) > 0,
        "the search finds the marker before the wipe"
    );

    elevate(&hr).await;
    let (status, body) = wipe(&hr, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(on_disk(&server), 0, "no copy of the wiped content is left");
}
