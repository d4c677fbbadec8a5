//! Alerts on security events over the real server: a request from outside a company's
//! address ranges raises an alert that shows in `/metrics` and reaches the operator's
//! address as an email, at most once per kind in the window.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{PASSWORD, TestServer, code};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The security alerts delivered to the mail directory so far.
fn alert_mails(dir: &Path) -> Vec<Value> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
                .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
                .filter(|mail: &Value| mail["kind"] == "security_alert")
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_refused_address_alerts_the_operator_and_counts_in_metrics() {
    let mail = tempfile::tempdir().expect("a mail directory");
    let mail_dir = mail.path().to_path_buf();
    let server = TestServer::demo_with(|config| {
        config.mail_dir = Some(mail_dir);
        config.alert_email = Some("ops@example.com".into());
    })
    .await;

    // The company allows only an address range the test does not come from.
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let (status, _) = hr
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let policy = json!({ "min_password_length": 8, "remember_me_allowed": true,
        "second_factor_required": false, "ip_ranges": ["10.0.0.0/8"],
        "confirm_own_address_excluded": true });
    let request = hr
        .request(reqwest::Method::PUT, "/api/v1/admin/security-policy")
        .json(&policy);
    let (status, body) = hr.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = hr.get("/api/v1/me").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "ip_not_allowed")
    );

    // One email to the operator, within a deadline (it is written off the request).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mails = loop {
        let mails = alert_mails(mail.path());
        if !mails.is_empty() || Instant::now() > deadline {
            break mails;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], "ops@example.com");
    assert!(
        mails[0]["subject"]
            .as_str()
            .unwrap_or("")
            .contains("ip_refused")
    );

    let metrics = server
        .anonymous()
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("a body");
    assert!(
        metrics.contains("kaizen_security_alerts_total{kind=\"ip_refused\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}
