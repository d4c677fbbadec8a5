//! The installation's staff: accounts made with `kaizen staff add`, sign-in under
//! `/api/v1/installation`, support seeing overviews and audit trails but no content,
//! operators switching XML export, issuing wipe passwords and taking backups, each
//! recorded in the company's trail; a staff session reaches no company route.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use common::{Client, TestServer, code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STAFF_PASSWORD: &str = "quiet lantern orbit 4821";

/// Adds a staff account through the CLI against the server's data directory.
async fn add_staff(server: &TestServer, role: &str, email: &str) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kaizen"))
        .args([
            "staff",
            "add",
            "--role",
            role,
            "--email",
            email,
            "--name",
            "Staff member",
            "--password-stdin",
            "--bcrypt-cost",
            "10",
            "--data-dir",
        ])
        .arg(server.data_dir.path())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{STAFF_PASSWORD}\n").as_bytes())
        .await
        .expect("the password is written");
    drop(stdin);
    let output = child.wait_with_output().await.expect("the binary ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Signs a staff member in; answers the client with the staff cookie.
async fn staff_sign_in(server: &TestServer, email: &str) -> Client {
    let mut client = server.anonymous();
    let body = json!({ "email": email, "password": STAFF_PASSWORD });
    let response = client
        .request(Method::POST, "/api/v1/installation/login")
        .json(&body)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().expect("a cookie");
    assert!(cookie.starts_with("kz_staff="), "{cookie}");
    client.cookie = Some(cookie.split(';').next().expect("a cookie").to_owned());
    client
}

fn actions(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn support_sees_overviews_and_trails_but_no_content_and_no_company_route() {
    let server = TestServer::demo().await;
    add_staff(&server, "support", "support@kaizen.example").await;
    let support = staff_sign_in(&server, "support@kaizen.example").await;

    let (status, companies) = support.get("/api/v1/installation/companies").await;
    assert_eq!(status, StatusCode::OK, "{companies}");
    let acme = companies
        .as_array()
        .and_then(|l| l.iter().find(|c| c["slug"] == "acme"))
        .expect("acme is listed");
    assert!(acme["users"].as_i64().unwrap_or(0) >= 20, "{acme}");
    let (status, one) = support.get("/api/v1/installation/companies/acme").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["cycles"][0]["name"], "2026 Annual Review", "{one}");
    assert_eq!(one["cycles"][0]["status"], "open");
    // No person of the company, no answer: counts, names of cycles and states only.
    let text = format!("{companies}{one}");
    assert!(
        !text.contains("@acme.example") && !text.contains("Demo answer"),
        "{text}"
    );

    let (status, trail) = support
        .get("/api/v1/installation/companies/acme/audit")
        .await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    assert!(!actions(&trail).is_empty());
    // The trail names people by id only: no name, no address, not even in the details
    // (the demo's seeding added every user, so each is someone's target).
    let text = trail.to_string();
    assert!(
        !text.contains("@acme.example") && !text.contains("Employee1"),
        "{text}"
    );
    let (status, body) = support
        .get("/api/v1/installation/companies/nope/audit")
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));

    // The operator's switches refuse support.
    for (method, path) in [
        (
            Method::PUT,
            "/api/v1/installation/companies/acme/xml-export",
        ),
        (
            Method::POST,
            "/api/v1/installation/companies/acme/wipe-password",
        ),
        (Method::POST, "/api/v1/installation/backups"),
    ] {
        let request = support
            .request(method, path)
            .json(&json!({ "enabled": true }));
        let (status, body) = support.send(request).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
    }

    // A staff session is nobody on the company routes.
    for path in [
        "/api/v1/me",
        "/api/v1/reviews",
        "/api/v1/admin/audit",
        "/api/v1/users.csv",
    ] {
        let (status, body) = support.get(path).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{path}"
        );
    }

    // The company's HR admins see that support looked at their trail.
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let (_, trail) = hr.get("/api/v1/admin/audit?kind=installation_").await;
    assert!(
        actions(&trail).contains(&"installation_audit_viewed".to_owned()),
        "{trail}"
    );
    // And a company session is nobody on the installation's routes.
    let (status, _) = hr.get("/api/v1/installation/companies").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn operators_switch_xml_export_issue_wipe_passwords_and_take_backups() {
    let server = TestServer::demo().await;
    add_staff(&server, "operator", "ops@kaizen.example").await;
    let operator = staff_sign_in(&server, "ops@kaizen.example").await;

    let hr = server.sign_in("acme", "hr@acme.example").await;
    let body = json!({ "password": common::PASSWORD });
    let (status, _) = hr.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = hr.get("/api/v1/admin/export.xml").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "xml_export_disabled")
    );

    let request = operator
        .request(
            Method::PUT,
            "/api/v1/installation/companies/acme/xml-export",
        )
        .json(&json!({ "enabled": true }));
    let (status, body) = operator.send(request).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let response = hr
        .request(Method::GET, "/api/v1/admin/export.xml")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);

    let (status, issued) = operator
        .post(
            "/api/v1/installation/companies/acme/wipe-password",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert!(issued["password"].as_str().is_some_and(|p| p.len() >= 20));

    let (status, taken) = operator
        .post("/api/v1/installation/backups", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{taken}");
    let file = std::path::PathBuf::from(taken["file"].as_str().expect("a file"));
    assert!(file.exists(), "{}", file.display());

    let (_, trail) = hr.get("/api/v1/admin/audit").await;
    let actions = actions(&trail);
    for action in ["xml_export_enabled", "installation_wipe_password_issued"] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action} in {actions:?}"
        );
    }

    // Signing out ends the staff session.
    let (status, _) = operator
        .post("/api/v1/installation/logout", json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = operator.get("/api/v1/installation/companies").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_wrong_staff_password_is_refused_like_a_users() {
    let server = TestServer::demo().await;
    add_staff(&server, "support", "support@kaizen.example").await;
    let client = server.anonymous();
    for email in ["support@kaizen.example", "nobody@kaizen.example"] {
        let body = json!({ "email": email, "password": "not the password" });
        let (status, answer) = client.post("/api/v1/installation/login", body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            "{email}"
        );
    }
}
