//! Anonymous 360 feedback against its hardest reader: an HR admin who is the subject.
//! They read the audit trail and its export, the nominations, the overview, the
//! results, the feedback and XML exports and the cycle's live topic. Two runs differ
//! in one thing only — which of two nominated reviewers answered — and everything the
//! subject (and the subject's manager) can see must be the same in both, once the
//! random ids and times of each run are named by kind.

#[allow(dead_code)]
mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Client, PASSWORD, TestServer};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const ACME: &str = "acme";

/// How long a live frame may take; frames come within milliseconds, this only bounds a
/// failing test.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// GETs a resource that must answer 200; answers its body (text when not JSON).
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

async fn my_id(client: &Client) -> String {
    text(&ok(client, "/api/v1/me").await["id"])
}

/// Confirms the password again, as exports need.
async fn elevate(client: &Client) {
    let body = json!({ "password": PASSWORD });
    let (status, answer) = client.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "reauthenticated: {answer}");
}

/// Whether `text[at..]` starts with something shaped like a UUID.
fn uuid_at(text: &[u8], at: usize) -> bool {
    let shape = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".as_bytes();
    text.len() >= at + shape.len()
        && shape.iter().zip(&text[at..]).all(|(s, c)| match s {
            b'-' => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether `text[at..]` starts with an RFC 3339 time; answers its length.
fn time_at(text: &[u8], at: usize) -> Option<usize> {
    let shape = "dddd-dd-ddTdd:dd:dd".as_bytes();
    let fits = text.len() >= at + shape.len()
        && shape.iter().zip(&text[at..]).all(|(s, c)| match s {
            b'd' => c.is_ascii_digit(),
            other => c == other,
        });
    if !fits {
        return None;
    }
    let mut end = at + shape.len();
    if text.get(end) == Some(&b'.') {
        end += 1;
        while text.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    match text.get(end) {
        Some(b'Z') => Some(end + 1 - at),
        Some(b'+' | b'-') if text.len() >= end + 6 => Some(end + 6 - at),
        _ => Some(end - at),
    }
}

/// Names the run's random ids `ID` and its times `TIME`. The demo's people have the
/// same ids in every run (each server starts from a copy of one seeded database), so
/// their ids stay: which person a view names must not change between the runs.
fn normalise(shown: &str, people: &HashSet<String>) -> String {
    let bytes = shown.as_bytes();
    let mut out = String::with_capacity(shown.len());
    let mut at = 0;
    while at < bytes.len() {
        if uuid_at(bytes, at) {
            let id = &shown[at..at + 36];
            out.push_str(if people.contains(id) { id } else { "ID" });
            at += 36;
        } else if let Some(len) = time_at(bytes, at) {
            out.push_str("TIME");
            at += len;
        } else {
            let c = shown[at..].chars().next().expect("a character");
            out.push(c);
            at += c.len_utf8();
        }
    }
    out
}

/// Sorts the elements `<tag …>…</tag>` of an XML text among themselves, and the
/// `<answer …>` elements inside each: the file lists rows and answers in the order of
/// random ids, which differs from run to run.
fn sort_elements(xml: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag} "), format!("</{tag}>"));
    let (mut before, mut items, mut rest) = (String::new(), Vec::new(), xml);
    let mut place = None;
    while let Some(start) = rest.find(&open) {
        let end = start + rest[start..].find(&close).expect("a closing tag") + close.len();
        before.push_str(&rest[..start]);
        place.get_or_insert(before.len());
        let item = &rest[start..end];
        // The answers inside a row come in the order of their questions' random ids.
        items.push(if tag == "answer" {
            item.to_owned()
        } else {
            sort_elements(item, "answer")
        });
        rest = &rest[end..];
    }
    items.sort();
    let place = place.unwrap_or(before.len());
    format!(
        "{}{}{}{rest}",
        &before[..place],
        items.concat(),
        &before[place..]
    )
}

/// Every page of the audit trail, each entry without its id and time, sorted: entries
/// of the same millisecond come in the order of their random ids.
async fn audit_trail(client: &Client, people: &HashSet<String>) -> Vec<String> {
    let mut entries = Vec::new();
    let mut path = "/api/v1/admin/audit?limit=500".to_owned();
    loop {
        let page = ok(client, &path).await;
        for entry in page["entries"].as_array().expect("entries") {
            let mut entry = entry.clone();
            let fields = entry.as_object_mut().expect("an object");
            fields.remove("id");
            fields.remove("at");
            entries.push(normalise(&entry.to_string(), people));
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/admin/audit?limit=500&before={next}"),
            None => break,
        }
    }
    entries.sort();
    entries
}

/// A CSV export's lines after the header, normalised and sorted.
async fn csv_lines(client: &Client, path: &str, people: &HashSet<String>) -> Vec<String> {
    let body = text(&ok(client, path).await);
    let mut lines: Vec<String> = body.lines().map(|l| normalise(l, people)).collect();
    lines.sort();
    lines
}

/// The views of the subject (an HR admin) and the subject's manager on one cycle.
async fn views(
    subject: &Client,
    manager: &Client,
    cycle: &str,
    subject_id: &str,
    people: &HashSet<String>,
) -> Vec<(String, String)> {
    let mut views = Vec::new();
    let mut add = |name: &str, shown: String| views.push((name.to_owned(), shown));

    let trail = audit_trail(subject, people).await;
    add("audit trail", trail.join("\n"));
    elevate(subject).await;
    let exported = csv_lines(subject, "/api/v1/admin/audit.csv", people).await;
    add("audit.csv", exported.join("\n"));
    let answers = csv_lines(subject, "/api/v1/feedback.csv", people).await;
    add("feedback.csv", answers.join("\n"));

    let overview = ok(
        subject,
        &format!("/api/v1/cycles/{cycle}/feedback/overview"),
    )
    .await;
    add("overview", normalise(&overview.to_string(), people));
    for (who, client) in [("subject", subject), ("manager", manager)] {
        let path = format!("/api/v1/cycles/{cycle}/nominations?subject_id={subject_id}");
        let mut nominations: Vec<String> = ok(client, &path)
            .await
            .as_array()
            .expect("a list")
            .iter()
            .map(|n| normalise(&n.to_string(), people))
            .collect();
        nominations.sort();
        add(&format!("nominations ({who})"), nominations.join("\n"));
        let path = format!("/api/v1/feedback/results?cycle_id={cycle}&subject_id={subject_id}");
        let results = ok(client, &path).await;
        add(
            &format!("results ({who})"),
            normalise(&results.to_string(), people),
        );
    }
    let xml = text(&ok(subject, &format!("/api/v1/cycles/{cycle}/export.xml")).await);
    let xml = normalise(&xml, people);
    // Reviews, nominations and answers all come in the order of their random ids.
    let xml = sort_elements(&xml, "review");
    let xml = sort_elements(&sort_elements(&xml, "feedback-request"), "feedback-answer");
    add("export.xml", xml);
    views
}

/// A live connection of `client` following `cycle`, past its first snapshot.
async fn follow(server: &TestServer, client: &Client, cycle: &str) -> LiveSocket {
    let mut request = server
        .live_url()
        .into_client_request()
        .expect("a WebSocket request");
    let headers = request.headers_mut();
    let cookie = client.cookie.as_deref().expect("signed in");
    headers.insert("cookie", HeaderValue::from_str(cookie).expect("a header"));
    let origin = HeaderValue::from_str(&server.base).expect("a header");
    headers.insert("origin", origin);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the live connection opens");
    let subscribe = json!({ "type": "subscribe", "topic": format!("cycle:{cycle}") });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");
    let snapshot = next_frame(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    socket
}

type LiveSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON text frame; fails the test on close or silence.
async fn next_frame(socket: &mut LiveSocket) -> Value {
    loop {
        let message = tokio::time::timeout(FRAME_TIMEOUT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("a JSON frame");
        }
    }
}

/// Saves a full draft of the reviewer's request about `subject`; answers its path.
async fn draft(reviewer: &Client, cycle: &str, subject: &str, words: &str) -> String {
    let requests = ok(reviewer, "/api/v1/feedback/requests").await;
    let request = requests
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["cycle_id"] == cycle && r["subject_id"] == subject)
        .unwrap_or_else(|| panic!("a request about {subject} among {requests}"));
    let path = format!("/api/v1/feedback/requests/{}", text(&request["id"]));
    let detail = ok(reviewer, &path).await;
    let mut answers = serde_json::Map::new();
    for q in detail["questions"].as_array().expect("questions") {
        let answer = if q["kind"] == "rating" {
            json!(4)
        } else {
            json!(words)
        };
        answers.insert(text(&q["id"]), answer);
    }
    let body = json!({ "answers": answers, "version": detail["version"] });
    let (status, saved) = reviewer.patch(&path, body).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    path
}

async fn submit(reviewer: &Client, path: &str) {
    let (status, body) = reviewer.post(&format!("{path}/submit"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// What one run shows: the views of the subject and their manager while the feedback
/// is open and once it is closed, the frames the subject's live topic carried, and —
/// as a control — what the two nominated reviewers see of their own requests.
struct World {
    seen: Vec<(String, String)>,
    control: Vec<String>,
    /// The subject's audit trail before the run's cycle: the demo's own entries.
    before: String,
}

/// One run: the CEO nominates three reviewers for the HR admin, all three write a
/// draft, the third and `answering` (0 or 1) of the first two submit.
async fn world(answering: usize) -> World {
    let server = TestServer::demo().await;
    xml_export_on(&server).await;
    let subject = server.sign_in(ACME, "hr@acme.example").await;
    let manager = server.sign_in(ACME, "ceo@acme.example").await;
    let mut reviewers = Vec::new();
    let mut people = HashSet::new();
    for n in 1..=3 {
        let email = format!("employee{n}@acme.example");
        let client = server.sign_in(ACME, &email).await;
        people.insert(my_id(&client).await);
        reviewers.push(client);
    }
    let subject_id = my_id(&subject).await;
    people.insert(subject_id.clone());
    people.insert(my_id(&manager).await);
    let before = audit_trail(&subject, &people).await.join("\n");

    // A cycle about the HR admin, with anonymous feedback the CEO nominates for.
    let body = json!({ "name": "About HR", "participants": [subject_id],
        "questions": [{"kind": "text", "prompt": "How was the year?"}] });
    let (status, cycle) = subject.post("/api/v1/cycles", body).await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle = text(&cycle["id"]);
    let settings = json!({ "enabled": true, "nominated_by": "manager", "min": 2, "max": 3,
        "anonymous": true,
        "questions": [{"kind": "text", "prompt": "What should they keep doing?"},
                      {"kind": "rating", "prompt": "Collaboration (1-5)"}] });
    let request = subject
        .request(Method::PUT, &format!("/api/v1/cycles/{cycle}/feedback"))
        .json(&settings);
    let (status, body) = subject.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<String> = people_ids(&reviewers).await;
    let body = json!({ "subject_id": subject_id, "reviewer_ids": ids });
    let (status, body) = manager
        .post(&format!("/api/v1/cycles/{cycle}/nominations"), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The subject follows the cycle live while the reviewers write.
    let mut socket = follow(&server, &subject, &cycle).await;
    let mut paths = Vec::new();
    for (n, reviewer) in reviewers.iter().enumerate() {
        let words = if n == 2 {
            "Clear goals"
        } else {
            "Kind and precise"
        };
        paths.push(draft(reviewer, &cycle, &subject_id, words).await);
    }
    submit(&reviewers[2], &paths[2]).await;
    submit(&reviewers[answering], &paths[answering]).await;

    // The subject's own self review moves the cycle's progress: every event published
    // before it (the actor publishes in order) has arrived once its event has.
    let self_review = own_review(&subject, &cycle).await;
    let mut frames = Vec::new();
    let save = json!({ "answers": {}, "version": self_review["version"] });
    let path = format!("/api/v1/reviews/{}", text(&self_review["id"]));
    let (status, body) = subject.patch(&path, save).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    loop {
        let mut frame = next_frame(&mut socket).await;
        let last = frame["event"] == "progress" && frame["data"]["draft"].as_i64() == Some(1);
        // Sequence numbers start from the clock at each start of the server.
        frame.as_object_mut().expect("an object").remove("seq");
        frames.push(normalise(&frame.to_string(), &people));
        if last {
            break;
        }
    }

    let mut seen = vec![("live frames".to_owned(), frames.join("\n"))];
    for (name, shown) in views(&subject, &manager, &cycle, &subject_id, &people).await {
        seen.push((format!("{name}, open"), shown));
    }
    let (status, body) = subject
        .post(&format!("/api/v1/cycles/{cycle}/feedback/close"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (name, shown) in views(&subject, &manager, &cycle, &subject_id, &people).await {
        seen.push((format!("{name}, closed"), shown));
    }
    let mut control = Vec::new();
    for reviewer in &reviewers[..2] {
        let requests = ok(reviewer, "/api/v1/feedback/requests").await;
        control.push(normalise(&requests.to_string(), &people));
    }
    server.stop().await;
    World {
        seen,
        control,
        before,
    }
}

async fn people_ids(clients: &[Client]) -> Vec<String> {
    let mut ids = Vec::new();
    for client in clients {
        ids.push(my_id(client).await);
    }
    ids
}

/// The signed-in user's self review in `cycle`.
async fn own_review(client: &Client, cycle: &str) -> Value {
    let me = my_id(client).await;
    let reviews = ok(client, "/api/v1/reviews").await;
    reviews
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["cycle_id"] == cycle && r["reviewer_id"] == me.as_str())
        .unwrap_or_else(|| panic!("a self review in {cycle} among {reviews}"))
        .clone()
}

/// Lets acme export XML, as its operator would.
async fn xml_export_on(server: &TestServer) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_kaizen"))
        .args(["company", "enable-xml-export", ACME])
        .args(server.database_options())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("the kaizen binary runs");
    assert!(output.status.success(), "{output:?}");
}

#[tokio::test]
async fn an_hr_admin_subject_sees_the_same_whichever_reviewer_answered() {
    let first = world(0).await;
    let second = world(1).await;

    // The runs do differ: each reviewer sees their own progress.
    assert_ne!(first.control, second.control);

    assert_eq!(first.seen.len(), second.seen.len());
    for ((name, a), (_, b)) in first.seen.iter().zip(&second.seen) {
        let differ = a.lines().zip(b.lines()).position(|(x, y)| x != y);
        assert_eq!(
            a,
            b,
            "{name} differs between the runs, first at line {differ:?}: {:?} / {:?}",
            differ.and_then(|n| a.lines().nth(n)),
            differ.and_then(|n| b.lines().nth(n)),
        );
    }

    // The views are not empty: released results show the two answers, the trail shows
    // the nominations and the close with its count.
    let find = |name: &str| {
        first
            .seen
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, shown)| shown.clone())
            .unwrap_or_else(|| panic!("a view named {name}"))
    };
    let results = find("results (subject), closed");
    assert!(results.contains("Clear goals") && results.contains("Kind and precise"));
    assert!(find("results (subject), open").contains("feedback_open"));
    let trail = find("audit trail, closed");
    assert!(trail.contains("feedback_nominated"), "{trail}");
    assert!(trail.contains(r#""answers":2"#), "{trail}");
    // The demo's named feedback has entries of its own; the run adds none.
    for action in ["feedback_submitted", "feedback_draft_saved"] {
        assert_eq!(
            trail.matches(action).count(),
            first.before.matches(action).count(),
            "{trail}"
        );
    }
    let xml = find("export.xml, closed");
    assert!(xml.contains("<feedback-request "), "{xml}");
    assert!(!xml.contains("<status>submitted"), "{xml}");
    assert_eq!(xml.matches("<feedback-answer ").count(), 2, "{xml}");
    let xml = find("export.xml, open");
    assert!(!xml.contains("<feedback-answer "), "{xml}");
}

#[tokio::test]
async fn anonymous_answers_are_not_counted_while_the_feedback_is_open() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, "hr@acme.example").await;
    let manager = server.sign_in(ACME, "manager@acme.example").await;
    let subject = server.sign_in(ACME, "employee1@acme.example").await;
    let subject_id = my_id(&subject).await;
    let mut reviewers = Vec::new();
    for n in 2..=3 {
        let email = format!("employee{n}@acme.example");
        reviewers.push(server.sign_in(ACME, &email).await);
    }
    let body = json!({ "name": "Counted", "questions": [{"kind": "text", "prompt": "How?"}] });
    let (status, cycle) = hr.post("/api/v1/cycles", body).await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle = text(&cycle["id"]);
    let settings = json!({ "enabled": true, "nominated_by": "manager", "min": 2, "max": 2,
        "anonymous": true });
    let request = hr
        .request(Method::PUT, &format!("/api/v1/cycles/{cycle}/feedback"))
        .json(&settings);
    let (status, body) = hr.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json!({ "subject_id": subject_id, "reviewer_ids": people_ids(&reviewers).await });
    let (status, body) = manager
        .post(&format!("/api/v1/cycles/{cycle}/nominations"), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for reviewer in &reviewers {
        let path = draft(reviewer, &cycle, &subject_id, "Fine").await;
        submit(reviewer, &path).await;
    }

    // Open: HR sees who was asked, no count of answers.
    let overview_path = format!("/api/v1/cycles/{cycle}/feedback/overview");
    let overview = ok(&hr, &overview_path).await;
    let row = &overview[0];
    assert_eq!(row["subject_id"], subject_id.as_str(), "{overview}");
    assert_eq!(row["approved"], 2, "{overview}");
    assert!(row["submitted"].is_null(), "{overview}");

    // Closed: the final count.
    let (status, body) = hr
        .post(&format!("/api/v1/cycles/{cycle}/feedback/close"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let overview = ok(&hr, &overview_path).await;
    assert_eq!(overview[0]["submitted"], 2, "{overview}");
    server.stop().await;
}

/// The `<feedback-answer>` elements of a cycle's XML export, as exported by `client`.
async fn exported_answers(client: &Client, cycle: &str) -> Vec<String> {
    let xml = text(&ok(client, &format!("/api/v1/cycles/{cycle}/export.xml")).await);
    xml.split("<feedback-answer ")
        .skip(1)
        .map(|rest| {
            rest.split("</feedback-answer>")
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_xml_export_holds_back_anonymous_answers_as_the_results_do() {
    let server = TestServer::demo().await;
    xml_export_on(&server).await;
    let hr = server.sign_in(ACME, "hr@acme.example").await;
    let mut employees = Vec::new();
    for n in 1..=3 {
        let email = format!("employee{n}@acme.example");
        employees.push(server.sign_in(ACME, &email).await);
    }
    let ids = people_ids(&employees).await;
    let manager = server.sign_in(ACME, "manager@acme.example").await;
    let manager_id = my_id(&manager).await;
    let hr_id = my_id(&hr).await;

    let body = json!({ "name": "Exported", "questions": [{"kind": "text", "prompt": "How?"}] });
    let (status, cycle) = hr.post("/api/v1/cycles", body).await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle = text(&cycle["id"]);
    let settings = json!({ "enabled": true, "nominated_by": "hr", "min": 1, "max": 3,
        "anonymous": true, "questions": [{"kind": "text", "prompt": "What stands out?"}] });
    let request = hr
        .request(Method::PUT, &format!("/api/v1/cycles/{cycle}/feedback"))
        .json(&settings);
    let (status, body) = hr.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // About employee1: the exporting HR admin and employee2 answer, one besides HR's own.
    // About the manager: employee2 and employee3 answer. About employee3: employee1 alone.
    let plan = [
        (ids[0].clone(), vec![hr_id.clone(), ids[1].clone()]),
        (manager_id.clone(), vec![ids[1].clone(), ids[2].clone()]),
        (ids[2].clone(), vec![ids[0].clone()]),
    ];
    for (subject, reviewers) in &plan {
        let body = json!({ "subject_id": subject, "reviewer_ids": reviewers });
        let (status, body) = hr
            .post(&format!("/api/v1/cycles/{cycle}/nominations"), body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let writer = |id: &str| {
        if id == hr_id {
            &hr
        } else {
            &employees[ids.iter().position(|e| e == id).expect("an employee")]
        }
    };
    for (subject, reviewers) in &plan {
        for reviewer in reviewers {
            let path = draft(writer(reviewer), &cycle, subject, "Secret words").await;
            submit(writer(reviewer), &path).await;
        }
    }

    // Open: no answer at all, whoever it is about.
    elevate(&hr).await;
    assert!(exported_answers(&hr, &cycle).await.is_empty());
    let csv = text(&ok(&hr, "/api/v1/feedback.csv").await);
    assert!(!csv.contains("Secret words"), "{csv}");

    // Closed: only the manager's two answers are released to HR, as in the results
    // and in feedback.csv.
    let (status, body) = hr
        .post(&format!("/api/v1/cycles/{cycle}/feedback/close"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answers = exported_answers(&hr, &cycle).await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    for answer in &answers {
        assert!(answer.contains(&format!("<subject-id>{manager_id}</subject-id>")));
        assert!(answer.contains("Secret words"), "{answer}");
        assert!(!answer.contains("author-id") && !answer.contains("submitted-at"));
    }
    for (subject, _) in &plan {
        let path = format!("/api/v1/feedback/results?cycle_id={cycle}&subject_id={subject}");
        let results = ok(&hr, &path).await;
        assert_eq!(results["released"], *subject == manager_id, "{results}");
    }
    let csv = text(&ok(&hr, "/api/v1/feedback.csv").await);
    let lines: Vec<&str> = csv.lines().filter(|l| l.contains("Secret words")).collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines.iter().all(|l| l.contains(&manager_id)), "{csv}");

    // The whole-company export follows the same rule.
    let xml = text(&ok(&hr, "/api/v1/admin/export.xml").await);
    assert_eq!(xml.matches("Secret words").count(), 2);
    server.stop().await;
}
