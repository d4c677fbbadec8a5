//! Password reset end to end through the `--mail-dir` sink: the emailed link, its single
//! use, the answer that never tells whether an account exists, and owner-only mail files.

#[allow(dead_code)]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{Client, PASSWORD, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The messages in the mail directory, oldest first.
fn messages(dir: &std::path::Path) -> Vec<(Value, u32)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("a mail file");
            let mode = std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode();
            (serde_json::from_str(&text).expect("JSON"), mode)
        })
        .collect()
}

async fn reset_request(client: &Client, email: &str) -> StatusCode {
    let body = json!({ "company": "acme", "email": email });
    client.post("/api/v1/auth/password-reset", body).await.0
}

async fn login(client: &Client, password: &str) -> StatusCode {
    let body = json!({"company": "acme", "email": "employee3@acme.example",
                      "password": password, "remember_me": false});
    client.post("/api/v1/auth/login", body).await.0
}

#[tokio::test]
async fn a_reset_link_arrives_by_mail_works_once_and_unknown_accounts_look_the_same() {
    let mail = tempfile::tempdir().expect("a directory");
    let dir = mail.path().to_path_buf();
    let server = TestServer::demo_with(|config| config.mail_dir = Some(dir.clone())).await;
    let visitor = server.anonymous();

    assert_eq!(
        reset_request(&visitor, "nobody@acme.example").await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        reset_request(&visitor, "employee3@acme.example").await,
        StatusCode::ACCEPTED
    );
    // The mail is written off the request's path: wait for it (bounded).
    let mut found = Vec::new();
    for _ in 0..100 {
        found = messages(&dir);
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        found.len(),
        1,
        "only the real account gets a mail: {found:?}"
    );
    let (message, mode) = &found[0];
    assert_eq!(message["kind"], "password_reset");
    assert_eq!(message["to"], "employee3@acme.example");
    assert_eq!(
        mode & 0o077,
        0,
        "mail files are readable by their owner only"
    );
    let link = message["link"].as_str().expect("a link");
    let token = link
        .split("/#/reset/")
        .nth(1)
        .expect("a reset token in the link");

    let new_password = "lantern harbor quietly 8812";
    let body = json!({ "token": token, "new_password": new_password });
    let (status, answer) = visitor
        .post("/api/v1/auth/password-reset/complete", body.clone())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let (status, _) = visitor
        .post("/api/v1/auth/password-reset/complete", body)
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a link works once"
    );

    assert_eq!(login(&visitor, PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&visitor, new_password).await, StatusCode::OK);
}
