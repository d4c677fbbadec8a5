//! 360 feedback over HTTP: nominations and their limits, approval by the subject's
//! managers only, the email to approved reviewers, and anonymity — no route, export or
//! audit entry the subject or manager can see tells who wrote an anonymous answer, and
//! their views are the same whichever reviewer wrote which answer.

#[allow(dead_code)]
mod common;

use std::path::Path;
use std::time::Duration;

use common::{Client, DB_FILE, PASSWORD, TestServer, code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// GETs a resource that must answer 200.
async fn ok(client: &Client, path: &str) -> Value {
    let (status, body) = client.get(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

async fn put(client: &Client, path: &str, body: Value) -> (StatusCode, Value) {
    client
        .send(client.request(Method::PUT, path).json(&body))
        .await
}

async fn user_id(client: &Client) -> String {
    text(&ok(client, "/api/v1/me").await["id"])
}

/// The people of acme the tests use, signed in, with their ids.
struct Acme {
    hr: Client,
    manager: Client,
    /// Manages report1..4, not employee1.
    other_manager: Client,
    /// employee1..6; employee1 is the usual subject.
    employees: Vec<Client>,
    ids: Vec<String>,
}

async fn acme(server: &TestServer) -> Acme {
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let other_manager = server.sign_in("acme", "lead@acme.example").await;
    let mut employees = Vec::new();
    let mut ids = Vec::new();
    for n in 1..=6 {
        let client = server
            .sign_in("acme", &format!("employee{n}@acme.example"))
            .await;
        ids.push(user_id(&client).await);
        employees.push(client);
    }
    Acme {
        hr,
        manager,
        other_manager,
        employees,
        ids,
    }
}

/// A new cycle with feedback set up as given; answers its id.
async fn cycle_with_feedback(hr: &Client, name: &str, settings: Value) -> String {
    let (status, cycle) = hr
        .post(
            "/api/v1/cycles",
            json!({ "name": name, "questions": [{"kind": "text", "prompt": "How was it?"}] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let id = text(&cycle["id"]);
    let (status, body) = put(hr, &format!("/api/v1/cycles/{id}/feedback"), settings).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

fn settings(nominated_by: &str, min: i64, max: i64, anonymous: bool) -> Value {
    json!({ "enabled": true, "nominated_by": nominated_by, "min": min, "max": max,
            "anonymous": anonymous,
            "questions": [{"kind": "text", "prompt": "What should they keep doing?"},
                          {"kind": "rating", "prompt": "Collaboration (1-5)"}] })
}

async fn nominate(
    client: &Client,
    cycle: &str,
    subject: &str,
    reviewers: &[&str],
) -> (StatusCode, Value) {
    client
        .post(
            &format!("/api/v1/cycles/{cycle}/nominations"),
            json!({ "subject_id": subject, "reviewer_ids": reviewers }),
        )
        .await
}

/// The reviewer's request about `subject` in `cycle`.
async fn request_about(reviewer: &Client, cycle: &str, subject: &str) -> Value {
    let requests = ok(reviewer, "/api/v1/feedback/requests").await;
    let found = requests
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["cycle_id"] == cycle && r["subject_id"] == subject)
        .unwrap_or_else(|| panic!("a request about {subject} among {requests}"))
        .clone();
    ok(
        reviewer,
        &format!("/api/v1/feedback/requests/{}", text(&found["id"])),
    )
    .await
}

/// Writes and submits feedback: `words` for the text question, `rating` for the other.
async fn give_feedback(reviewer: &Client, cycle: &str, subject: &str, words: &str, rating: i64) {
    let request = request_about(reviewer, cycle, subject).await;
    let id = text(&request["id"]);
    let mut answers = serde_json::Map::new();
    for q in request["questions"].as_array().expect("questions") {
        let answer = if q["kind"] == "rating" {
            json!(rating)
        } else {
            json!(words)
        };
        answers.insert(text(&q["id"]), answer);
    }
    let path = format!("/api/v1/feedback/requests/{id}");
    let body = json!({ "answers": answers, "version": request["version"] });
    let (status, saved) = reviewer.patch(&path, body).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (status, submitted) = reviewer.post(&format!("{path}/submit"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
}

async fn close(hr: &Client, cycle: &str) {
    let (status, body) = hr
        .post(&format!("/api/v1/cycles/{cycle}/feedback/close"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn results_path(cycle: &str, subject: &str) -> String {
    format!("/api/v1/feedback/results?cycle_id={cycle}&subject_id={subject}")
}

#[tokio::test]
async fn nominations_stay_within_min_and_max_and_name_active_colleagues_only() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Limits", settings("reviewee", 2, 3, true)).await;
    let subject = &a.employees[0];
    let [s, e2, e3, e4, e5, _] = [0, 1, 2, 3, 4, 5].map(|n| a.ids[n].as_str());
    let globex = server.sign_in("globex", "employee2@globex.example").await;
    let foreign = user_id(&globex).await;

    let refused: [(&[&str], &str); 6] = [
        (&[], "nobody"),
        (&[s, e2], "the subject themselves"),
        (&[e2], "fewer than min"),
        (&[e2, e3, e4, e5], "more than max"),
        (&[e2, foreign.as_str()], "another company's user"),
        (&[e2, e2], "the same reviewer twice"),
    ];
    for (reviewers, why) in refused {
        let (status, body) = nominate(subject, &cycle, s, reviewers).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {body}");
        assert_eq!(code(&body), "validation_failed");
    }
    let (status, created) = nominate(subject, &cycle, s, &[e2, e3]).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(
        created
            .as_array()
            .expect("a list")
            .iter()
            .all(|n| n["status"] == "pending")
    );
    let (status, _) = nominate(subject, &cycle, s, &[e4]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = nominate(subject, &cycle, s, &[e5]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "past max: {body}");
    let (status, body) = nominate(subject, &cycle, s, &[e2]).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nominated twice: {body}"
    );

    // In reviewee mode only the subject (or HR) nominates for the subject.
    let (status, _) = nominate(&a.employees[1], &cycle, s, &[e5]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Another company's cycle is a made-up one.
    let (status, body) = nominate(&globex, &cycle, &foreign, &[e2]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn only_the_subjects_managers_and_hr_admins_approve_nominations() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Approval", settings("reviewee", 1, 5, true)).await;
    let subject = a.ids[0].as_str();
    let reviewers: Vec<&str> = a.ids[1..5].iter().map(String::as_str).collect();
    let (status, created) = nominate(&a.employees[0], &cycle, subject, &reviewers).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let nominations: Vec<String> = created
        .as_array()
        .expect("a list")
        .iter()
        .map(|n| text(&n["id"]))
        .collect();
    let globex_hr = server.sign_in("globex", "hr@globex.example").await;

    // Who may not decide, tried on one pending nomination.
    let refused: [(&Client, StatusCode, &str); 5] = [
        (
            &a.employees[5],
            StatusCode::NOT_FOUND,
            "an unrelated employee",
        ),
        (&a.employees[1], StatusCode::NOT_FOUND, "the nominee"),
        (&a.employees[0], StatusCode::FORBIDDEN, "the subject"),
        (&a.other_manager, StatusCode::NOT_FOUND, "another manager"),
        (
            &globex_hr,
            StatusCode::NOT_FOUND,
            "another company's HR admin",
        ),
    ];
    for (caller, expected, who) in refused {
        for action in ["approve", "reject"] {
            let path = format!("/api/v1/nominations/{}/{action}", nominations[0]);
            let (status, body) = caller.post(&path, json!({})).await;
            assert_eq!(status, expected, "{who} {action}: {body}");
        }
    }

    // The manager and an HR admin may.
    let (status, body) = a
        .manager
        .post(
            &format!("/api/v1/nominations/{}/approve", nominations[0]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "approved");
    let (status, body) =
        a.hr.post(
            &format!("/api/v1/nominations/{}/reject", nominations[1]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "rejected");
    // A decision is final.
    let (status, _) =
        a.hr.post(
            &format!("/api/v1/nominations/{}/approve", nominations[1]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Only the approved reviewer is asked.
    let asked = ok(&a.employees[1], "/api/v1/feedback/requests").await;
    assert!(
        asked
            .as_array()
            .expect("a list")
            .iter()
            .any(|r| r["cycle_id"] == cycle.as_str())
    );
    let not_asked = ok(&a.employees[2], "/api/v1/feedback/requests").await;
    assert!(
        !not_asked
            .as_array()
            .expect("a list")
            .iter()
            .any(|r| r["cycle_id"] == cycle.as_str())
    );
    server.stop().await;
}

#[tokio::test]
async fn approved_reviewers_are_emailed_and_the_mail_is_audited() {
    let mail = tempfile::tempdir().expect("a directory");
    let dir = mail.path().to_path_buf();
    let server = TestServer::demo_with(|config| config.mail_dir = Some(dir.clone())).await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Mail", settings("manager", 1, 3, true)).await;
    // Nominated by the manager: approved at once.
    let (status, created) = nominate(&a.manager, &cycle, &a.ids[0], &[&a.ids[1]]).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created[0]["status"], "approved");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let message = loop {
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                p.extension().is_some_and(|e| e == "json")
                    && std::fs::read_to_string(p).is_ok_and(|t| t.contains("feedback_requested"))
            })
        });
        if let Some(path) = found {
            let text = std::fs::read_to_string(path).expect("the mail reads");
            break serde_json::from_str::<Value>(&text).expect("JSON");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no feedback mail arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(message["to"], "employee2@acme.example");
    assert!(text(&message["link"]).ends_with("/#/feedback"));

    let (status, _) =
        a.hr.post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let trail = ok(&a.hr, "/api/v1/admin/audit?kind=email_sent").await;
    assert!(
        trail["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| {
                e["detail"]["kind"] == "feedback_requested"
                    && e["detail"]["to"] == "employee2@acme.example"
            }),
        "{trail}"
    );
    let trail = ok(&a.hr, "/api/v1/admin/audit?kind=feedback_nominated").await;
    let here = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["detail"]["cycle_id"] == cycle.as_str())
        .count();
    assert_eq!(here, 1, "{trail}");
    server.stop().await;
}

/// Everything the subject and their manager can fetch about the feedback of `cycle`.
async fn subject_views(a: &Acme, cycle: &str) -> Vec<Value> {
    let subject = &a.ids[0];
    let mut views = Vec::new();
    for client in [&a.employees[0], &a.manager] {
        views.push(ok(client, &results_path(cycle, subject)).await);
        let mut nominations = ok(
            client,
            &format!("/api/v1/cycles/{cycle}/nominations?subject_id={subject}"),
        )
        .await;
        // Ids and times of nominations differ from run to run whoever writes.
        for n in nominations.as_array_mut().expect("a list") {
            let n = n.as_object_mut().expect("an object");
            n.remove("id");
            n.remove("created_at");
            n.remove("decided_at");
        }
        views.push(nominations);
        views.push(ok(client, &format!("/api/v1/cycles/{cycle}/feedback")).await);
        views.push(ok(client, "/api/v1/feedback/requests").await);
    }
    views
}

#[tokio::test]
async fn anonymous_results_never_show_authors_and_wait_for_close_and_two_answers() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Anonymous", settings("manager", 1, 4, true)).await;
    let subject = a.ids[0].clone();
    let (status, body) = nominate(
        &a.manager,
        &cycle,
        &subject,
        &[&a.ids[1], &a.ids[2], &a.ids[3]],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // One answer in: nobody learns even that, not the subject, manager or HR.
    give_feedback(&a.employees[1], &cycle, &subject, "Kestrel answer", 5).await;
    for client in [&a.employees[0], &a.manager, &a.hr] {
        let results = ok(client, &results_path(&cycle, &subject)).await;
        assert_eq!(results["released"], false);
        assert_eq!(results["withheld"], "feedback_open");
        assert!(results["responses"].is_null() && results["questions"] == json!([]));
    }
    // Nobody sees a nominee's progress on anonymous feedback.
    for client in [&a.employees[0], &a.manager, &a.hr] {
        let list = ok(client, &format!("/api/v1/cycles/{cycle}/nominations")).await;
        for n in list.as_array().expect("a list") {
            assert!(n.get("progress").is_none(), "{n}");
        }
    }
    // HR admins see no count of anonymous answers while the feedback is open.
    let overview = ok(&a.hr, &format!("/api/v1/cycles/{cycle}/feedback/overview")).await;
    assert!(overview[0]["submitted"].is_null(), "{overview}");
    for client in [&a.employees[0], &a.manager] {
        let (status, _) = client
            .get(&format!("/api/v1/cycles/{cycle}/feedback/overview"))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // The author cannot read it back either: the answers no longer belong to anyone.
    let mine = request_about(&a.employees[1], &cycle, &subject).await;
    assert_eq!(mine["status"], "submitted");
    assert_eq!(mine["answers"], json!({}));

    give_feedback(&a.employees[2], &cycle, &subject, "Albatross answer", 3).await;
    let (status, body) = a.employees[0]
        .post(&format!("/api/v1/cycles/{cycle}/feedback/close"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    close(&a.hr, &cycle).await;

    // Released: per question, texts sorted, ratings counted, nobody named.
    for client in [&a.employees[0], &a.manager, &a.hr] {
        let results = ok(client, &results_path(&cycle, &subject)).await;
        assert_eq!(results["released"], true, "{results}");
        assert_eq!(results["responses"], 2);
        assert_eq!(results["named"], json!([]));
        assert_eq!(
            results["questions"][0]["texts"],
            json!(["Albatross answer", "Kestrel answer"])
        );
        assert_eq!(results["questions"][1]["ratings"], json!([0, 0, 1, 0, 1]));
        assert_eq!(results["questions"][1]["average"], 4.0);
        let shown = results.to_string();
        for n in 1..=3 {
            assert!(!shown.contains(&a.ids[n]), "a reviewer's id in {shown}");
        }
        assert!(
            !shown.contains("Employee2") && !shown.contains("Employee3"),
            "{shown}"
        );
    }
    // Everyone else: 404, like a made-up subject.
    for client in [&a.employees[1], &a.other_manager] {
        let (status, _) = client.get(&results_path(&cycle, &subject)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let globex = server.sign_in("globex", "hr@globex.example").await;
    let (status, _) = globex.get(&results_path(&cycle, &subject)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The trail (HR admins only) has no entry per anonymous draft or submission: not
    // who wrote, not about whom, not when. The close records how many answers came.
    let (status, _) =
        a.hr.post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let trail = ok(&a.hr, "/api/v1/admin/audit?kind=feedback_").await;
    let entries = trail["entries"].as_array().expect("entries");
    // The demo's named feedback has entries of its own; this cycle's writing has none.
    let written = entries
        .iter()
        .filter(|e| e["action"] == "feedback_submitted" || e["action"] == "feedback_draft_saved")
        .filter(|e| e["detail"]["anonymous"] != false || e["detail"]["cycle_id"] == cycle.as_str())
        .count();
    assert_eq!(written, 0, "{trail}");
    let closed = entries
        .iter()
        .find(|e| e["action"] == "feedback_closed" && e["target"]["id"] == cycle.as_str())
        .unwrap_or_else(|| panic!("the close is audited: {trail}"));
    assert_eq!(
        closed["detail"],
        json!({ "anonymous": true, "answers": 2 }),
        "{closed}"
    );
    // The subject and manager cannot read the trail at all.
    for client in [&a.employees[0], &a.manager] {
        let (status, _) = client.get("/api/v1/admin/audit").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    server.stop().await;
}

#[tokio::test]
async fn fewer_than_two_anonymous_answers_release_nothing() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Too few", settings("hr", 1, 3, true)).await;
    let (status, body) = nominate(&a.hr, &cycle, &a.ids[0], &[&a.ids[1], &a.ids[2]]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = nominate(&a.hr, &cycle, &a.ids[3], &[&a.ids[1]]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    give_feedback(&a.employees[1], &cycle, &a.ids[0], "Lonely answer", 2).await;
    close(&a.hr, &cycle).await;

    // One answer about employee1, none about employee4: both withheld alike.
    for subject in [&a.ids[0], &a.ids[3]] {
        for client in [&a.manager, &a.hr] {
            let results = ok(client, &results_path(&cycle, subject)).await;
            assert_eq!(results["released"], false, "{results}");
            assert_eq!(results["withheld"], "too_few_answers");
            assert!(results["responses"].is_null());
            assert_eq!(results["questions"], json!([]));
        }
    }
    // Closed is closed: no more writing.
    let request = request_about(&a.employees[2], &cycle, &a.ids[0]).await;
    let path = format!("/api/v1/feedback/requests/{}/submit", text(&request["id"]));
    let (status, _) = a.employees[2].post(&path, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    server.stop().await;
}

#[tokio::test]
async fn named_feedback_shows_its_authors() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Named", settings("manager", 1, 3, false)).await;
    let (status, body) = nominate(&a.manager, &cycle, &a.ids[0], &[&a.ids[1]]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    give_feedback(&a.employees[1], &cycle, &a.ids[0], "Signed answer", 4).await;
    let list = ok(
        &a.employees[0],
        &format!("/api/v1/cycles/{cycle}/nominations"),
    )
    .await;
    assert_eq!(list[0]["progress"], "submitted", "{list}");
    close(&a.hr, &cycle).await;
    let results = ok(&a.employees[0], &results_path(&cycle, &a.ids[0])).await;
    assert_eq!(results["released"], true, "{results}");
    assert_eq!(results["named"][0]["author_id"], a.ids[1].as_str());
    server.stop().await;
}

/// Runs one anonymous round in which employee2 writes `first` and employee3 `second`,
/// then answers what the subject and manager see before and after the close.
async fn anonymous_round(first: (&str, i64), second: (&str, i64)) -> (Vec<Value>, Vec<Value>) {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Swap", settings("manager", 1, 4, true)).await;
    let subject = a.ids[0].clone();
    let (status, body) = nominate(
        &a.manager,
        &cycle,
        &subject,
        &[&a.ids[1], &a.ids[2], &a.ids[3]],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    give_feedback(&a.employees[1], &cycle, &subject, first.0, first.1).await;
    give_feedback(&a.employees[2], &cycle, &subject, second.0, second.1).await;
    let before = subject_views(&a, &cycle).await;
    close(&a.hr, &cycle).await;
    let after = subject_views(&a, &cycle).await;
    // Each run makes its own cycle and questions, with fresh random ids: name them by
    // place instead, so that only what the authors did can differ.
    let setup = ok(&a.hr, &format!("/api/v1/cycles/{cycle}/feedback")).await;
    let mut ids = vec![(cycle.clone(), "CYCLE".to_owned())];
    for (n, q) in setup["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .enumerate()
    {
        ids.push((text(&q["id"]), format!("QUESTION{n}")));
    }
    let strip = |views: Vec<Value>| -> Vec<Value> {
        views
            .into_iter()
            .map(|v| {
                let mut shown = v.to_string();
                for (id, name) in &ids {
                    shown = shown.replace(id, name);
                }
                serde_json::from_str(&shown).expect("JSON")
            })
            .collect()
    };
    server.stop().await;
    (strip(before), strip(after))
}

#[tokio::test]
async fn the_subjects_views_are_the_same_whichever_reviewer_wrote_which_answer() {
    let answers = [
        (("Precise and kind", 5), ("Late with reviews", 2)),
        (("=SUM(A1)", 1), ("zzz last", 4)),
    ];
    for (x, y) in answers {
        let (before_xy, after_xy) = anonymous_round(x, y).await;
        let (before_yx, after_yx) = anonymous_round(y, x).await;
        assert_eq!(before_xy, before_yx);
        assert_eq!(after_xy, after_yx);
        // The views do show the answers, so the comparison is not vacuous.
        assert!(
            after_xy[0]
                .to_string()
                .contains(x.0.trim_start_matches('='))
        );
    }
}

#[tokio::test]
async fn feedback_csv_names_no_anonymous_author_and_neutralizes_formulas() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let named = cycle_with_feedback(&a.hr, "Named CSV", settings("manager", 1, 3, false)).await;
    let anonymous = cycle_with_feedback(&a.hr, "Anon CSV", settings("manager", 1, 3, true)).await;
    let (status, _) = nominate(&a.manager, &named, &a.ids[0], &[&a.ids[5]]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = nominate(&a.manager, &anonymous, &a.ids[0], &[&a.ids[1], &a.ids[2]]).await;
    assert_eq!(status, StatusCode::CREATED);
    give_feedback(
        &a.employees[5],
        &named,
        &a.ids[0],
        "=HYPERLINK(\"http://x\")",
        3,
    )
    .await;
    give_feedback(&a.employees[1], &anonymous, &a.ids[0], "Heron words", 4).await;
    give_feedback(&a.employees[2], &anonymous, &a.ids[0], "+Ibis words", 5).await;

    // Needs a fresh password, like every export.
    let (status, body) = a.hr.get("/api/v1/feedback.csv").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "reauthentication_required");
    let (status, _) =
        a.hr.post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let csv = |hr: &Client| {
        let request = hr.request(Method::GET, "/api/v1/feedback.csv");
        async move {
            let response = request.send().await.expect("answered");
            assert_eq!(response.status(), StatusCode::OK);
            response.text().await.expect("a body")
        }
    };

    // Before the close: named feedback is there, anonymous feedback is not.
    let open = csv(&a.hr).await;
    assert!(open.starts_with("cycle_id,cycle_name,subject_id,subject_name,anonymous,author_id"));
    assert!(open.contains("'=HYPERLINK(\"\"http://x\"\")"), "{open}");
    assert!(open.contains(&a.ids[5]), "the named author is shown");
    assert!(!open.contains("Heron words"), "{open}");

    close(&a.hr, &anonymous).await;
    let closed = csv(&a.hr).await;
    assert!(
        closed.contains("Heron words") && closed.contains("'+Ibis words"),
        "{closed}"
    );
    for n in [1, 2] {
        assert!(
            !closed.contains(&a.ids[n]),
            "an anonymous author's id in {closed}"
        );
        assert!(!closed.contains(&format!("Employee{}", n + 1)), "{closed}");
    }
    let anonymous_lines: Vec<&str> = closed.lines().filter(|l| l.contains(",true,")).collect();
    assert_eq!(anonymous_lines.len(), 4, "{closed}");
    for line in anonymous_lines {
        assert!(line.contains(",true,,,,"), "no author columns: {line}");
    }
    server.stop().await;
}

/// Every byte of the database's files.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the data directory lists") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with(DB_FILE) {
            bytes.extend(std::fs::read(&path).expect("a database file reads"));
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn feedback_text_never_reaches_the_database_file_in_clear() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Sealed", settings("manager", 1, 3, true)).await;
    let (status, _) = nominate(&a.manager, &cycle, &a.ids[0], &[&a.ids[1], &a.ids[2]]).await;
    assert_eq!(status, StatusCode::CREATED);
    // One submitted, one left as a draft.
    give_feedback(
        &a.employees[1],
        &cycle,
        &a.ids[0],
        "Platypus-wombat submitted",
        4,
    )
    .await;
    let draft = request_about(&a.employees[2], &cycle, &a.ids[0]).await;
    let question = text(&draft["questions"][0]["id"]);
    let (status, _) = a.employees[2]
        .patch(
            &format!("/api/v1/feedback/requests/{}", text(&draft["id"])),
            json!({ "answers": { question: "Platypus-wombat draft" }, "version": draft["version"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let options =
        sqlx::sqlite::SqliteConnectOptions::new().filename(server.data_dir.path().join(DB_FILE));
    let pool = sqlx::sqlite::SqlitePool::connect_with(options)
        .await
        .expect("the database opens");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .expect("the log checkpoints");
    let (anonymous_authors,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM feedback_answers WHERE anonymous = 1 \
         AND (author_id IS NOT NULL OR request_id IS NOT NULL OR submitted_at IS NOT NULL)",
    )
    .fetch_one(&pool)
    .await
    .expect("a count");
    assert_eq!(anonymous_authors, 0);
    pool.close().await;
    let bytes = database_bytes(server.data_dir.path());
    assert!(
        contains(&bytes, "employee1@acme.example"),
        "the search finds plain text"
    );
    for needle in ["Platypus-wombat", "wombat submitted", "wombat draft"] {
        assert!(
            !contains(&bytes, needle),
            "{needle:?} is in the database file"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn the_demo_shows_feedback_in_every_state() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    // The main cycle's feedback comes first; the demo's named feedback is elsewhere.
    let cycles = ok(&a.hr, "/api/v1/feedback/cycles").await;
    let main = ok(&a.hr, "/api/v1/cycles").await;
    assert_eq!(cycles[0]["cycle_id"], main[0]["id"], "{cycles}");
    let cycle = text(&cycles[0]["cycle_id"]);
    assert_eq!(cycles[0]["anonymous"], true);
    assert_eq!(cycles[0]["closed"], false);

    // employee1's reviewers are approved; employee2's wait for the manager.
    let about = |n: usize| format!("/api/v1/cycles/{cycle}/nominations?subject_id={}", a.ids[n]);
    let first = ok(&a.employees[0], &about(0)).await;
    assert_eq!(first.as_array().expect("a list").len(), 3, "{first}");
    assert!(
        first
            .as_array()
            .expect("a list")
            .iter()
            .all(|n| n["status"] == "approved")
    );
    let second = ok(&a.manager, &about(1)).await;
    assert!(
        second
            .as_array()
            .expect("a list")
            .iter()
            .all(|n| n["status"] == "pending")
    );

    // Requests in every state; employee1 is asked about employee3.
    let statuses = |requests: Value| -> Vec<String> {
        requests
            .as_array()
            .expect("a list")
            .iter()
            .map(|r| text(&r["status"]))
            .collect()
    };
    assert_eq!(
        statuses(ok(&a.employees[1], "/api/v1/feedback/requests").await),
        ["submitted"]
    );
    assert_eq!(
        statuses(ok(&a.employees[3], "/api/v1/feedback/requests").await),
        ["draft"]
    );
    let asked = ok(&a.employees[0], "/api/v1/feedback/requests").await;
    assert_eq!(asked[0]["subject_id"], a.ids[2].as_str(), "{asked}");
    assert_eq!(asked[0]["status"], "not_started");

    // Two answers about employee1: withheld until HR closes, then released.
    let results = ok(&a.employees[0], &results_path(&cycle, &a.ids[0])).await;
    assert_eq!(results["withheld"], "feedback_open");
    close(&a.hr, &cycle).await;
    let results = ok(&a.employees[0], &results_path(&cycle, &a.ids[0])).await;
    assert_eq!(results["released"], true, "{results}");
    assert_eq!(results["responses"], 2);
    server.stop().await;
}

#[tokio::test]
async fn every_feedback_route_answers_each_role_as_its_guard_says() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Guards", settings("manager", 1, 3, true)).await;
    let subject = a.ids[0].clone();
    let (status, created) = nominate(&a.manager, &cycle, &subject, &[&a.ids[1]]).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let request = text(&created[0]["id"]);
    let globex = server.sign_in("globex", "hr@globex.example").await;
    let nobody = server.anonymous();
    let reviewer = &a.employees[1];
    let unrelated = &a.employees[5];

    const OK: StatusCode = StatusCode::OK;
    const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
    const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;
    const UNAUTHENTICATED: StatusCode = StatusCode::UNAUTHORIZED;
    let settings_path = format!("/api/v1/cycles/{cycle}/feedback");
    let overview = format!("/api/v1/cycles/{cycle}/feedback/overview");
    let nominations = format!("/api/v1/cycles/{cycle}/nominations");
    let request_path = format!("/api/v1/feedback/requests/{request}");
    let results = results_path(&cycle, &subject);

    // (path, [unauthenticated, unrelated employee, reviewer, subject, manager,
    //         other manager, HR admin, another company's HR admin])
    let reads: [(&str, [StatusCode; 8]); 5] = [
        (
            &settings_path,
            [UNAUTHENTICATED, OK, OK, OK, OK, OK, OK, NOT_FOUND],
        ),
        (
            &overview,
            [
                UNAUTHENTICATED,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                FORBIDDEN,
                OK,
                NOT_FOUND,
            ],
        ),
        (
            &nominations,
            [UNAUTHENTICATED, OK, OK, OK, OK, OK, OK, NOT_FOUND],
        ),
        (
            &request_path,
            [
                UNAUTHENTICATED,
                NOT_FOUND,
                OK,
                NOT_FOUND,
                NOT_FOUND,
                NOT_FOUND,
                NOT_FOUND,
                NOT_FOUND,
            ],
        ),
        (
            &results,
            [
                UNAUTHENTICATED,
                NOT_FOUND,
                NOT_FOUND,
                OK,
                OK,
                NOT_FOUND,
                OK,
                NOT_FOUND,
            ],
        ),
    ];
    let callers = [
        &nobody,
        unrelated,
        reviewer,
        &a.employees[0],
        &a.manager,
        &a.other_manager,
        &a.hr,
        &globex,
    ];
    for (path, expected) in reads {
        for (caller, want) in callers.iter().zip(expected) {
            let (status, body) = caller.get(path).await;
            assert_eq!(status, want, "GET {path}: {body}");
        }
    }

    // Lists answer only what the caller may see: the unrelated employee sees no
    // nomination, the subject and manager see theirs.
    let seen = |body: Value| body.as_array().map_or(0, Vec::len);
    assert_eq!(seen(ok(unrelated, &nominations).await), 0);
    assert_eq!(seen(ok(&a.other_manager, &nominations).await), 0);
    assert_eq!(seen(ok(&a.employees[0], &nominations).await), 1);
    assert_eq!(seen(ok(&a.manager, &nominations).await), 1);

    // Writing HR's settings and closing: HR admins of the company only.
    let update = settings("manager", 1, 3, true);
    let close_path = format!("/api/v1/cycles/{cycle}/feedback/close");
    for (caller, want) in [
        (unrelated, FORBIDDEN),
        (&a.manager, FORBIDDEN),
        (&a.employees[0], FORBIDDEN),
        (&globex, NOT_FOUND),
    ] {
        let (status, body) = put(caller, &settings_path, update.clone()).await;
        assert_eq!(status, want, "PUT settings: {body}");
        let (status, body) = caller.post(&close_path, json!({})).await;
        assert_eq!(status, want, "close: {body}");
    }
    // Only the reviewer writes their request; everyone else gets the made-up id's 404.
    let body = json!({ "answers": {}, "version": 1 });
    for caller in [unrelated, &a.employees[0], &a.manager, &a.hr, &globex] {
        let (status, _) = caller.patch(&request_path, body.clone()).await;
        assert_eq!(status, NOT_FOUND);
        let (status, _) = caller
            .post(&format!("{request_path}/submit"), json!({}))
            .await;
        assert_eq!(status, NOT_FOUND);
    }
    let (status, _) = reviewer.patch(&request_path, body).await;
    assert_eq!(status, OK);
    // Unknown fields are refused.
    let (status, _) = put(
        &a.hr,
        &settings_path,
        json!({ "enabled": true, "extra": 1 }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop().await;
}

#[tokio::test]
async fn a_reader_who_wrote_one_of_two_anonymous_answers_gets_no_results() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let cycle = cycle_with_feedback(&a.hr, "Two answers", settings("hr", 1, 3, true)).await;
    let manager_id = user_id(&a.manager).await;
    let subject = a.ids[4].clone();

    // HR asks the subject's manager and one colleague; both answer.
    let (status, body) = nominate(&a.hr, &cycle, &subject, &[&manager_id, &a.ids[5]]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    give_feedback(&a.manager, &cycle, &subject, "Written by the manager", 1).await;
    give_feedback(
        &a.employees[5],
        &cycle,
        &subject,
        "Written by the colleague",
        5,
    )
    .await;
    close(&a.hr, &cycle).await;

    // The manager wrote one of the two: the other would be the colleague's, so the
    // manager sees nothing; the subject and HR, who wrote neither, see both.
    let path = results_path(&cycle, &subject);
    let managers = ok(&a.manager, &path).await;
    assert_eq!(managers["released"], false, "{managers}");
    assert_eq!(managers["withheld"], "too_few_answers", "{managers}");
    assert!(!managers.to_string().contains("Written by"), "{managers}");
    for reader in [&a.employees[4], &a.hr] {
        let results = ok(reader, &path).await;
        assert_eq!(results["released"], true, "{results}");
        assert_eq!(results["responses"], 2, "{results}");
    }
    server.stop().await;
}

#[tokio::test]
async fn nothing_in_a_closed_cycle_changes_but_it_stays_readable() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let subject = &a.ids[0];
    let body = json!({ "name": "Closing", "participants": [subject],
        "questions": [{"kind": "text", "prompt": "How was it?"}] });
    let (status, cycle) = a.hr.post("/api/v1/cycles", body).await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle = text(&cycle["id"]);
    let feedback = format!("/api/v1/cycles/{cycle}/feedback");
    let (status, body) = put(&a.hr, &feedback, settings("hr", 1, 3, true)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = nominate(&a.hr, &cycle, subject, &[&a.ids[1], &a.ids[2]]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request = request_about(&a.employees[1], &cycle, subject).await;
    let request_path = format!("/api/v1/feedback/requests/{}", text(&request["id"]));
    let reviews = ok(&a.employees[0], "/api/v1/reviews").await;
    let review = reviews
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["cycle_id"] == cycle.as_str())
        .unwrap_or_else(|| panic!("a review in {reviews}"))
        .clone();
    let comments = format!("/api/v1/reviews/{}/comments", text(&review["id"]));
    let (status, body) = a.employees[0]
        .post(&comments, json!({ "body": "Before the close" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) =
        a.hr.post(&format!("/api/v1/cycles/{cycle}/close"), json!(null))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = put(&a.hr, &feedback, settings("hr", 1, 3, true)).await;
    assert_eq!(status, StatusCode::CONFLICT, "feedback setup: {body}");
    let (status, body) = nominate(&a.hr, &cycle, subject, &[&a.ids[3]]).await;
    assert_eq!(status, StatusCode::CONFLICT, "nomination: {body}");
    let question = text(&request["questions"][0]["id"]);
    let draft = json!({ "answers": { question: "Late words" }, "version": request["version"] });
    let (status, body) = a.employees[1].patch(&request_path, draft).await;
    assert_eq!(status, StatusCode::CONFLICT, "draft: {body}");
    let (status, body) = a.employees[1]
        .post(&format!("{request_path}/submit"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "submission: {body}");
    let (status, body) = a.employees[0]
        .post(&comments, json!({ "body": "After the close" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "comment: {body}");

    // Reading goes on; the request shows writing has ended.
    let shown = ok(&a.employees[1], &request_path).await;
    assert_eq!(shown["closed"], true, "{shown}");
    ok(&a.hr, &feedback).await;
    ok(&a.hr, &format!("/api/v1/cycles/{cycle}/nominations")).await;
    let listed = ok(&a.employees[0], &comments).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    // Closing the feedback writes nothing but the release: still possible.
    close(&a.hr, &cycle).await;
}

#[tokio::test]
async fn the_questionnaire_answers_alike_before_and_after_a_first_draft() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let subject = &a.ids[0];
    let same = settings("hr", 1, 3, true);
    let cycle = cycle_with_feedback(&a.hr, "Drafted", same.clone()).await;
    let feedback = format!("/api/v1/cycles/{cycle}/feedback");
    let (status, body) = nominate(&a.hr, &cycle, subject, &[&a.ids[1], &a.ids[2]]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut changed = same.clone();
    changed["questions"] = json!([{"kind": "text", "prompt": "Something else?"}]);

    let before = (
        put(&a.hr, &feedback, same.clone()).await,
        put(&a.hr, &feedback, changed.clone()).await,
    );
    // A reviewer saves a first draft.
    let request = request_about(&a.employees[1], &cycle, subject).await;
    let question = text(&request["questions"][0]["id"]);
    let path = format!("/api/v1/feedback/requests/{}", text(&request["id"]));
    let draft = json!({ "answers": { question: "Draft" }, "version": request["version"] });
    let (status, body) = a.employees[1].patch(&path, draft).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = (
        put(&a.hr, &feedback, same.clone()).await,
        put(&a.hr, &feedback, changed.clone()).await,
    );

    assert_eq!(before.0.0, StatusCode::OK, "{}", before.0.1);
    assert_eq!(before.1.0, StatusCode::CONFLICT, "{}", before.1.1);
    assert_eq!(before.0.1["questions"], after.0.1["questions"]);
    assert_eq!(
        (before.0.0, before.1),
        (after.0.0, after.1),
        "the setup answers alike whether or not anyone wrote"
    );
    // The questions the reviewer answers kept their ids.
    let again = request_about(&a.employees[1], &cycle, subject).await;
    assert_eq!(again["questions"], request["questions"]);
}

#[tokio::test]
async fn a_malformed_subject_id_is_refused_and_a_foreign_one_lists_nothing() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    let globex = server.sign_in("globex", "hr@globex.example").await;
    let foreign = user_id(&globex).await;
    let cycle = cycle_with_feedback(&a.hr, "Filtered", settings("hr", 1, 3, true)).await;
    let (status, body) = nominate(&a.hr, &cycle, &a.ids[0], &[&a.ids[1]]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = format!("/api/v1/cycles/{cycle}/nominations");
    let (status, body) = a.hr.get(&format!("{path}?subject_id=bad")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
    let made_up = ok(
        &a.hr,
        &format!("{path}?subject_id=00000000-0000-4000-8000-000000000000"),
    )
    .await;
    let theirs = ok(&a.hr, &format!("{path}?subject_id={foreign}")).await;
    assert_eq!(made_up, json!([]));
    assert_eq!(theirs, made_up);
}

#[tokio::test]
async fn feedback_belongs_to_the_people_of_its_cycle() {
    let server = TestServer::demo().await;
    let a = acme(&server).await;
    // A cycle for employee1 and employee2 only, its feedback nominated by the reviewees.
    let (status, cycle) =
        a.hr.post(
            "/api/v1/cycles",
            json!({ "name": "Two people", "participants": [a.ids[0], a.ids[1]],
                    "questions": [{"kind": "text", "prompt": "How was it?"}] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle = text(&cycle["id"]);
    let (status, body) = put(
        &a.hr,
        &format!("/api/v1/cycles/{cycle}/feedback"),
        settings("reviewee", 1, 3, true),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let listed = |list: &Value| {
        list.as_array()
            .expect("a list")
            .iter()
            .any(|c| c["cycle_id"] == cycle.as_str())
    };
    // Outside the cycle: not listed, and no nominating oneself into it.
    let outsider = &a.employees[5];
    assert!(!listed(&ok(outsider, "/api/v1/feedback/cycles").await));
    let (status, body) = nominate(outsider, &cycle, &a.ids[5], &[&a.ids[0]]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "validation_failed");
    assert!(
        listed(&ok(&a.employees[0], "/api/v1/feedback/cycles").await),
        "a reviewee sees the cycle's feedback"
    );
    assert!(listed(&ok(&a.hr, "/api/v1/feedback/cycles").await));

    // A reviewee nominates the outsider, who then sees the cycle to answer in it.
    let (status, body) = nominate(&a.employees[0], &cycle, &a.ids[0], &[&a.ids[5]]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(listed(&ok(outsider, "/api/v1/feedback/cycles").await));
    server.stop().await;
}
