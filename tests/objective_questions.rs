//! The objectives question of a review cycle against the real server: a rating per
//! objective of the reviewee linked into the cycle, its validation, the weighted score
//! in the review, the CSV and the XML round trip, and who reads any of it.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::process::Output;

use common::{Client, TestServer, code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::Command;

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

fn items(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
}

async fn ok(client: &Client, path: &str) -> Value {
    let (status, body) = client.get(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

async fn me(client: &Client) -> String {
    text(&ok(client, "/api/v1/me").await["id"])
}

async fn put(client: &Client, path: &str, body: Value) -> (StatusCode, Value) {
    client
        .send(client.request(reqwest::Method::PUT, path).json(&body))
        .await
}

async fn delete(client: &Client, path: &str) -> (StatusCode, Value) {
    client
        .send(client.request(reqwest::Method::DELETE, path))
        .await
}

/// A cycle for `participants` asking a text and an objectives question; answers the
/// cycle's id and the two question ids.
async fn objectives_cycle(hr: &Client, participants: &[&str]) -> (String, String, String) {
    let (status, cycle) = hr
        .post(
            "/api/v1/cycles",
            json!({ "name": "Objectives 2026", "participants": participants,
                    "questions": [
                        { "kind": "text", "prompt": "What went well?" },
                        { "kind": "objectives", "prompt": "How did your objectives go?" }
                    ] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    assert_eq!(cycle["questions"][1]["kind"], "objectives");
    (
        text(&cycle["id"]),
        text(&cycle["questions"][0]["id"]),
        text(&cycle["questions"][1]["id"]),
    )
}

/// Creates an objective of the caller; answers its id.
async fn objective(client: &Client, title: &str) -> String {
    let (status, created) = client
        .post("/api/v1/objectives", json!({ "title": title }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    text(&created["id"])
}

/// Links an objective into a cycle with an optional weight.
async fn link(client: &Client, objective: &str, cycle: &str, weight: Option<i64>) {
    let path = format!("/api/v1/objectives/{objective}/cycles/{cycle}");
    let (status, body) = put(client, &path, json!({ "weight": weight })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The id of the review of `kind` about `reviewee` in `cycle` that `writer` writes.
async fn review_of(writer: &Client, cycle: &str, reviewee: &str, kind: &str) -> String {
    let list = ok(writer, "/api/v1/reviews").await;
    let found = items(&list)
        .iter()
        .find(|r| r["cycle_id"] == cycle && r["reviewee_id"] == reviewee && r["kind"] == kind)
        .unwrap_or_else(|| panic!("a {kind} review in {list}"));
    text(&found["id"])
}

/// Saves answers on the review's current version.
async fn save(client: &Client, review: &str, answers: Value) -> (StatusCode, Value) {
    let path = format!("/api/v1/reviews/{review}");
    let version = ok(client, &path).await["version"].clone();
    client
        .patch(&path, json!({ "answers": answers, "version": version }))
        .await
}

#[tokio::test]
async fn an_objectives_question_rates_linked_objectives_and_scores_them_by_weight() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let employee_id = me(&employee).await;
    let (cycle, text_q, objectives_q) = objectives_cycle(&hr, &[&employee_id]).await;

    // Two objectives linked (one weighted 3, one without a weight, counting 1), one
    // left out of the cycle.
    let shipped = objective(&employee, "Ship the billing rewrite").await;
    let mentor = objective(&employee, "Mentor a new hire").await;
    let unlinked = objective(&employee, "Not in this cycle").await;
    link(&employee, &shipped, &cycle, Some(3)).await;
    link(&employee, &mentor, &cycle, None).await;

    let review = review_of(&employee, &cycle, &employee_id, "self").await;
    let path = format!("/api/v1/reviews/{review}");
    let read = ok(&employee, &path).await;
    let listed: Vec<(String, String, Value, i64)> = items(&read["objectives"])
        .iter()
        .map(|o| {
            (
                text(&o["id"]),
                text(&o["title"]),
                o["weight"].clone(),
                o["score_weight"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                shipped.clone(),
                "Ship the billing rewrite".into(),
                json!(3),
                3
            ),
            (mentor.clone(), "Mentor a new hire".into(), Value::Null, 1),
        ]
    );
    assert!(read["objectives_score"].is_null(), "{read}");
    assert!(!read.to_string().contains(&unlinked));

    // Rated: (3·5 + 1·2) / 4 = 4.25; the comment is kept with its rating.
    let (status, body) = save(
        &employee,
        &review,
        json!({ text_q.clone(): "A good year",
                objectives_q.clone(): { shipped.clone(): { "rating": 5, "comment": "Shipped early" } } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let read = ok(&employee, &path).await;
    assert_eq!(read["objectives_score"], 5.0, "{read}");

    // Not every linked objective rated yet: the objectives question is still missing.
    let submit = format!("{path}/submit");
    let (status, body) = employee.post(&submit, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("How did your objectives go?")),
        "{body}"
    );

    let answer = json!({ shipped.clone(): { "rating": 5, "comment": "Shipped early" },
                         mentor.clone(): { "rating": 2 } });
    let (status, body) = save(&employee, &review, json!({ objectives_q.clone(): answer })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let read = ok(&employee, &path).await;
    assert_eq!(read["objectives_score"], 4.25, "{read}");
    assert_eq!(read["answers"][&objectives_q], answer);

    let (status, submitted) = employee.post(&submit, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["objectives_score"], 4.25);

    // The other cycles' reviews are unchanged: no objectives fields at all.
    let list = ok(&employee, "/api/v1/reviews").await;
    let other = items(&list)
        .iter()
        .find(|r| r["cycle_id"] != cycle.as_str())
        .expect("the demo cycle's self review");
    let other = ok(
        &employee,
        &format!("/api/v1/reviews/{}", text(&other["id"])),
    )
    .await;
    assert!(other.get("objectives").is_none(), "{other}");
    assert!(other.get("objectives_score").is_none(), "{other}");
    server.stop().await;
}

#[tokio::test]
async fn objectives_answers_are_validated_without_telling_whose_an_id_is() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let colleague = server.sign_in("acme", "employee2@acme.example").await;
    let foreign = server.sign_in("globex", "employee1@globex.example").await;
    let employee_id = me(&employee).await;
    let colleague_id = me(&colleague).await;

    // Two objectives questions in one cycle are refused.
    let (status, body) = hr
        .post(
            "/api/v1/cycles",
            json!({ "name": "Twice", "questions": [
                { "kind": "objectives", "prompt": "One" },
                { "kind": "objectives", "prompt": "Two" } ] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "validation_failed");

    let (cycle, text_q, objectives_q) = objectives_cycle(&hr, &[&employee_id, &colleague_id]).await;
    let own = objective(&employee, "Own objective").await;
    link(&employee, &own, &cycle, Some(2)).await;
    // The colleague's objective is linked into the same cycle, for the colleague.
    let theirs = objective(&colleague, "Colleague objective").await;
    link(&colleague, &theirs, &cycle, None).await;
    let other_company = objective(&foreign, "Globex objective").await;
    let review = review_of(&employee, &cycle, &employee_id, "self").await;

    // A made-up id, a colleague's objective and another company's objective get the
    // same answer: the message names only the id the caller sent.
    let refusal = |id: &str| {
        format!("objective {id} is not an objective of the reviewee linked to this cycle")
    };
    for id in ["no-such-objective", theirs.as_str(), other_company.as_str()] {
        let answer = json!({ objectives_q.clone(): { id: { "rating": 3 } } });
        let (status, body) = save(&employee, &review, answer).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{id}: {body}");
        assert_eq!(code(&body), "validation_failed");
        assert_eq!(body["error"]["message"], refusal(id), "{body}");
    }

    // Ratings off the scale, a wrong shape, unknown fields and long comments.
    let bad = [
        json!({ objectives_q.clone(): { own.clone(): { "rating": 6 } } }),
        json!({ objectives_q.clone(): { own.clone(): { "rating": 0 } } }),
        json!({ objectives_q.clone(): 4 }),
        json!({ objectives_q.clone(): "five" }),
        json!({ text_q.clone(): { own.clone(): { "rating": 4 } } }),
        json!({ objectives_q.clone(): { own.clone(): { "rating": 4, "comment": "x".repeat(2001) } } }),
    ];
    for answers in bad {
        let (status, body) = save(&employee, &review, answers.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{answers}: {body}"
        );
    }
    let unknown_field =
        json!({ objectives_q.clone(): { own.clone(): { "rating": 4, "weight": 9 } } });
    let (status, _) = save(&employee, &review, unknown_field).await;
    assert!(status.is_client_error(), "{status}");

    // 360 feedback asks no objectives question.
    let feedback = json!({ "enabled": true, "nominated_by": "reviewee", "min": 1, "max": 3,
        "anonymous": false, "questions": [{ "kind": "objectives", "prompt": "Objectives?" }] });
    let (status, body) = put(&hr, &format!("/api/v1/cycles/{cycle}/feedback"), feedback).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Nothing of that was stored.
    let read = ok(&employee, &format!("/api/v1/reviews/{review}")).await;
    assert!(read["answers"].get(&objectives_q).is_none(), "{read}");
    server.stop().await;
}

#[tokio::test]
async fn unlinked_objectives_keep_their_answers_but_leave_the_score() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let employee_id = me(&employee).await;
    let (cycle, text_q, objectives_q) = objectives_cycle(&hr, &[&employee_id]).await;
    let first = objective(&employee, "First").await;
    let second = objective(&employee, "Second").await;
    link(&employee, &first, &cycle, Some(3)).await;
    link(&employee, &second, &cycle, Some(1)).await;
    let review = review_of(&employee, &cycle, &employee_id, "self").await;
    let path = format!("/api/v1/reviews/{review}");
    let answer = json!({ first.clone(): { "rating": 5 }, second.clone(): { "rating": 1 } });
    let (status, body) = save(
        &employee,
        &review,
        json!({ text_q.clone(): "Done", objectives_q.clone(): answer.clone() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ok(&employee, &path).await["objectives_score"], 4.0);

    // Unlinked: the rating stays in the answer, the score forgets it.
    let unlink = format!("/api/v1/objectives/{first}/cycles/{cycle}");
    let (status, _) = delete(&employee, &unlink).await;
    assert_eq!(status, StatusCode::OK);
    let read = ok(&employee, &path).await;
    assert_eq!(read["answers"][&objectives_q], answer);
    assert_eq!(read["objectives_score"], 1.0, "{read}");
    assert_eq!(items(&read["objectives"]).len(), 1);

    // Saving the answer as it is keeps the unlinked rating; changing it is refused.
    let (status, body) = save(&employee, &review, json!({ objectives_q.clone(): answer })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed = json!({ objectives_q.clone(): { first.clone(): { "rating": 2 },
                                                 second.clone(): { "rating": 1 } } });
    let (status, body) = save(&employee, &review, changed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A newly linked objective must be rated before submitting.
    let third = objective(&employee, "Third").await;
    link(&employee, &third, &cycle, None).await;
    let (status, _) = employee.post(&format!("{path}/submit"), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let rated = json!({ objectives_q.clone(): { first.clone(): { "rating": 5 },
        second.clone(): { "rating": 1 }, third.clone(): { "rating": 3 } } });
    let (status, body) = save(&employee, &review, rated).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = employee.post(&format!("{path}/submit"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // (1·1 + 1·3) / 2: the unlinked objective still counts for nothing.
    assert_eq!(body["objectives_score"], 2.0);
    server.stop().await;
}

#[tokio::test]
async fn without_linked_objectives_a_review_submits_and_only_its_readers_see_them() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let colleague = server.sign_in("acme", "employee2@acme.example").await;
    let other_manager = server.sign_in("acme", "lead@acme.example").await;
    let assistant = server.sign_in("acme", "assistant@acme.example").await;
    let globex_hr = server.sign_in("globex", "hr@globex.example").await;
    let employee_id = me(&employee).await;
    let colleague_id = me(&colleague).await;
    let (cycle, text_q, objectives_q) = objectives_cycle(&hr, &[&employee_id, &colleague_id]).await;

    // The colleague has nothing linked: the text answer alone is enough.
    let review = review_of(&colleague, &cycle, &colleague_id, "self").await;
    let (status, body) = save(&colleague, &review, json!({ text_q.clone(): "Fine" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = colleague
        .post(&format!("/api/v1/reviews/{review}/submit"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["objectives"], json!([]));
    assert!(body["objectives_score"].is_null());

    // The manager rates employee1's linked objective in the manager review.
    let secret = objective(&employee, "Secret plan title").await;
    link(&employee, &secret, &cycle, Some(4)).await;
    let review = review_of(&manager, &cycle, &employee_id, "manager").await;
    let path = format!("/api/v1/reviews/{review}");
    let answer =
        json!({ objectives_q.clone(): { secret.clone(): { "rating": 4, "comment": "Strong" } } });
    let (status, body) = save(&manager, &review, answer).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Its readers see the objective's title and the score: writer and HR admin.
    for reader in [&manager, &hr] {
        let read = ok(reader, &path).await;
        assert_eq!(read["objectives"][0]["title"], "Secret plan title");
        assert_eq!(read["objectives_score"], 4.0);
    }
    // Nobody else learns anything through it: the subject before it is shared, a
    // colleague, another manager, the HR assistant (no written content) and another
    // company's HR admin all get the 404 of an unknown review.
    for (who, reader) in [
        ("subject", &employee),
        ("colleague", &colleague),
        ("other manager", &other_manager),
        ("HR assistant", &assistant),
        ("globex HR", &globex_hr),
    ] {
        let (status, body) = reader.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {body}");
        assert!(!body.to_string().contains("Secret plan"), "{who}: {body}");
    }
    // Only the writer saves: HR reads but cannot answer for the manager.
    let again = json!({ objectives_q.clone(): { secret.clone(): { "rating": 1 } } });
    let (status, _) = save(&hr, &review, again).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Calibration lists rating questions only; objectives ratings are not calibrated
    // and the view still works for the HR admin, and not for the assistant.
    let calibration = format!("/api/v1/cycles/{cycle}/calibration");
    let view = ok(&hr, &calibration).await;
    assert_eq!(view["questions"], json!([]), "{view}");
    assert_eq!(assistant.get(&calibration).await.0, StatusCode::FORBIDDEN);
    server.stop().await;
}

/// Confirms the password again; must succeed.
async fn elevate(client: &Client, password: &str) {
    let body = json!({ "password": password });
    let (status, answer) = client.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "reauthenticated: {answer}");
}

/// GET with the session: the status and the raw body.
async fn fetch(client: &Client, path: &str) -> (StatusCode, String) {
    let response = client
        .request(reqwest::Method::GET, path)
        .send()
        .await
        .expect("the request is answered");
    let status = response.status();
    (status, response.text().await.expect("a body"))
}

#[tokio::test]
async fn the_reviews_csv_holds_the_objectives_score() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let employee_id = me(&employee).await;
    let (cycle, _, objectives_q) = objectives_cycle(&hr, &[&employee_id]).await;
    let first = objective(&employee, "=Formula looking title").await;
    let second = objective(&employee, "Second").await;
    link(&employee, &first, &cycle, Some(2)).await;
    link(&employee, &second, &cycle, Some(1)).await;
    let review = review_of(&employee, &cycle, &employee_id, "self").await;
    let answer = json!({ objectives_q: { first: { "rating": 4 }, second: { "rating": 3 } } });
    let (status, body) = save(&employee, &review, answer).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    elevate(&hr, &server.password).await;
    let (status, csv) = fetch(&hr, &format!("/api/v1/cycles/{cycle}/reviews.csv")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let header = csv.lines().next().expect("a header");
    assert!(
        header.ends_with(",What went well?,How did your objectives go?"),
        "{header}"
    );
    let row = csv
        .lines()
        .find(|l| l.starts_with(&review))
        .unwrap_or_else(|| panic!("the review's row in {csv}"));
    // (2·4 + 1·3) / 3 = 3.67; titles stay out of the CSV.
    assert!(row.ends_with(",,3.67"), "{row}");
    assert!(!csv.contains("Formula looking"), "{csv}");
    server.stop().await;
}

/// A company with one cycle asking an objectives question and a shared manager review
/// that rates two objectives linked with weights 3 and 1 (and one unlinked since).
const RATED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<kaizen-export format-version="1" scope="company">
  <company id="co" slug="rated"><name>Rated</name></company>
  <users>
    <user id="u-hr"><email>hr@rated.example</email><name>Harper</name><role>hr_admin</role>
      <disabled>false</disabled><created-at>2026-01-01T09:00:00.000Z</created-at></user>
    <user id="u-mgr"><email>mgr@rated.example</email><name>Morgan</name><role>employee</role>
      <disabled>false</disabled><created-at>2026-01-01T09:00:00.000Z</created-at></user>
    <user id="u-emp"><email>emp@rated.example</email><name>Emery</name><role>employee</role>
      <manager-id>u-mgr</manager-id><disabled>false</disabled>
      <created-at>2026-01-01T09:00:00.000Z</created-at></user>
  </users>
  <cycles>
    <cycle id="c1"><name>Rated 2026</name><status>open</status>
      <created-by>u-hr</created-by><created-at>2026-02-01T09:00:00.000Z</created-at>
      <phase>sharing</phase><rating-min>1</rating-min><rating-max>5</rating-max>
      <question id="q1"><position>0</position><kind>objectives</kind><prompt>Objectives</prompt></question>
    </cycle>
  </cycles>
  <reviews>
    <review id="r1"><cycle-id>c1</cycle-id><reviewee-id>u-emp</reviewee-id>
      <reviewer-id>u-mgr</reviewer-id><kind>manager</kind><status>submitted</status>
      <version>3</version><updated-at>2026-03-20T09:00:00.000Z</updated-at>
      <submitted-at>2026-03-20T09:00:00.000Z</submitted-at>
      <objectives-score>4.50</objectives-score>
      <answer question-id="q1" kind="objectives">
        <objective objective-id="o1" rating="5">Great &lt;work&gt;</objective>
        <objective objective-id="o2" rating="3"></objective>
        <objective objective-id="o3" rating="1">Dropped later</objective>
      </answer></review>
  </reviews>
  <objectives>
    <objective id="o1"><level>person</level><owner-id>u-emp</owner-id>
      <title>Ship it</title><description></description><status>done</status>
      <version>1</version><created-by>u-emp</created-by>
      <created-at>2026-02-02T09:00:00.000Z</created-at>
      <updated-at>2026-02-02T09:00:00.000Z</updated-at>
      <cycle-link cycle-id="c1"><weight>3</weight><linked-by>u-emp</linked-by>
        <linked-at>2026-02-04T09:00:00.000Z</linked-at></cycle-link></objective>
    <objective id="o2"><level>person</level><owner-id>u-emp</owner-id>
      <title>Teach it</title><description></description><status>on_track</status>
      <version>1</version><created-by>u-emp</created-by>
      <created-at>2026-02-02T09:00:00.000Z</created-at>
      <updated-at>2026-02-02T09:00:00.000Z</updated-at>
      <cycle-link cycle-id="c1"><linked-by>u-emp</linked-by>
        <linked-at>2026-02-05T09:00:00.000Z</linked-at></cycle-link></objective>
    <objective id="o3"><level>person</level><owner-id>u-emp</owner-id>
      <title>Dropped</title><description></description><status>draft</status>
      <version>1</version><created-by>u-emp</created-by>
      <created-at>2026-02-02T09:00:00.000Z</created-at>
      <updated-at>2026-02-02T09:00:00.000Z</updated-at></objective>
  </objectives>
</kaizen-export>
"#;

/// Runs the `kaizen` binary with `args` and waits for it.
async fn kaizen(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kaizen"));
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if stdin.is_some() {
        command.stdin(std::process::Stdio::piped());
    }
    let mut child = command.spawn().expect("the kaizen binary runs");
    if let Some(text) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut input = child.stdin.take().expect("a standard input");
        input.write_all(text.as_bytes()).await.expect("stdin");
    }
    child
        .wait_with_output()
        .await
        .expect("the kaizen binary ends")
}

/// Runs an operator command against the server's data directory; it must succeed.
async fn operator(server: &TestServer, args: &[&str], stdin: Option<&str>) -> String {
    let database = server.database_options();
    let keyring = server.keyring.to_str().expect("a UTF-8 path");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(database.iter().map(String::as_str));
    if args[0] == "import" {
        all.extend(["--keyring", keyring]);
    }
    let output = kaizen(&all, stdin).await;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{args:?}: {printed}");
    printed
}

/// Imports `xml` into a new company `slug` and signs in an HR admin added to it, with
/// its XML export switched on and the password confirmed.
async fn import_and_sign_in(server: &TestServer, slug: &str, xml: &str) -> Client {
    let dir = server.data_dir.path();
    operator(server, &["company", "create", slug, "--name", slug], None).await;
    let file = dir.join(format!("{slug}.xml"));
    std::fs::write(&file, xml).expect("the file is written");
    let file = file.to_str().expect("a UTF-8 path");
    operator(server, &["import", "--company", slug, file], None).await;
    let email = format!("exporter@{slug}.example");
    let password = "quiet lantern orbit 4821";
    operator(
        server,
        &[
            "user",
            "add",
            "--company",
            slug,
            "--email",
            &email,
            "--name",
            "Exporter",
            "--role",
            "hr-admin",
            "--password-stdin",
        ],
        Some(&format!("{password}\n")),
    )
    .await;
    operator(server, &["company", "enable-xml-export", slug], None).await;
    let mut client = server.anonymous();
    let login = json!({ "company": slug, "email": email, "password": password });
    let response = client
        .request(reqwest::Method::POST, "/api/v1/auth/login")
        .json(&login)
        .send()
        .await
        .expect("the login is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().expect("a cookie");
    client.cookie = Some(cookie.split(';').next().expect("a cookie").to_owned());
    elevate(&client, password).await;
    client
}

#[tokio::test]
async fn objectives_answers_and_their_score_survive_an_xml_round_trip() {
    let server = TestServer::demo().await;
    let hr = import_and_sign_in(&server, "rated", RATED).await;

    // Imported: the answer names the new objectives, and the score is (3·5 + 1·3) / 4;
    // the objective not linked keeps its rating and counts for nothing.
    let list = ok(&hr, "/api/v1/objectives?archived=true").await;
    let id_of = |title: &str| {
        items(&list)
            .iter()
            .find(|o| o["title"] == title)
            .map(|o| text(&o["id"]))
            .unwrap_or_else(|| panic!("{title} in {list}"))
    };
    let (ship, teach, dropped) = (id_of("Ship it"), id_of("Teach it"), id_of("Dropped"));
    let (_, cycles) = hr.get("/api/v1/cycles").await;
    let cycle = &cycles[0];
    let question = text(&cycle["questions"][0]["id"]);
    assert_eq!(cycle["questions"][0]["kind"], "objectives");
    let progress = ok(
        &hr,
        &format!("/api/v1/cycles/{}/calibration", text(&cycle["id"])),
    )
    .await;
    let review = text(&progress["reviews"][0]["review_id"]);
    let read = ok(&hr, &format!("/api/v1/reviews/{review}")).await;
    assert_eq!(
        read["answers"][&question],
        json!({ ship.clone(): { "rating": 5, "comment": "Great <work>" },
                teach.clone(): { "rating": 3 },
                dropped.clone(): { "rating": 1, "comment": "Dropped later" } }),
        "{read}"
    );
    assert_eq!(read["objectives_score"], 4.5, "{read}");

    // Exported again: the same answer under the new ids, and the same score.
    let (status, xml) = fetch(&hr, "/api/v1/admin/export.xml").await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(
        xml.contains("<objectives-score>4.50</objectives-score>"),
        "{xml}"
    );
    assert!(xml.contains("kind=\"objectives\""), "{xml}");
    for (id, rating) in [(&ship, 5), (&teach, 3), (&dropped, 1)] {
        let element = format!("objective-id=\"{id}\" rating=\"{rating}\"");
        assert!(xml.contains(&element), "{element} in {xml}");
    }

    // And that export imports again, keeping the score.
    let copy = import_and_sign_in(&server, "rated-copy", &xml).await;
    let (_, cycles) = copy.get("/api/v1/cycles").await;
    let calibration = format!("/api/v1/cycles/{}/calibration", text(&cycles[0]["id"]));
    let view = ok(&copy, &calibration).await;
    let review = text(&view["reviews"][0]["review_id"]);
    let read = ok(&copy, &format!("/api/v1/reviews/{review}")).await;
    assert_eq!(read["objectives_score"], 4.5, "{read}");
    server.stop().await;
}

#[tokio::test]
async fn an_answer_rating_an_objective_not_in_the_file_refuses_the_import() {
    let server = TestServer::demo().await;
    operator(
        &server,
        &["company", "create", "broken", "--name", "broken"],
        None,
    )
    .await;
    let xml = RATED.replace("objective-id=\"o2\"", "objective-id=\"o-missing\"");
    let file = server.data_dir.path().join("broken.xml");
    std::fs::write(&file, xml).expect("the file is written");
    let database = server.database_options();
    let keyring = server.keyring.to_str().expect("a UTF-8 path");
    let file = file.to_str().expect("a UTF-8 path");
    let mut args = vec!["import", "--company", "broken", file, "--keyring", keyring];
    args.extend(database.iter().map(String::as_str));
    let output = kaizen(&args, None).await;
    assert!(!output.status.success());
    let printed = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        printed.contains("rates an objective not in the file"),
        "{printed}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_objectives_answer() {
    let server = TestServer::demo().await;
    let (status, document) = server.anonymous().get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let schemas = &document["components"]["schemas"];
    assert!(
        schemas["QuestionKind"]["enum"]
            .as_array()
            .is_some_and(|kinds| kinds.contains(&json!("objectives"))),
        "{}",
        schemas["QuestionKind"]
    );
    let answer = &schemas["ObjectiveAnswer"];
    assert!(answer["properties"]["rating"].is_object(), "{answer}");
    assert!(answer["properties"]["comment"].is_object(), "{answer}");
    assert!(
        schemas["Answer"].to_string().contains("ObjectiveAnswer"),
        "{}",
        schemas["Answer"]
    );
    // A review flattens its summary in: its own fields are the second part.
    let review = &schemas["Review"]["allOf"][1]["properties"];
    assert!(review["objectives_score"].is_object(), "{review}");
    assert!(
        review["objectives"].to_string().contains("ReviewObjective"),
        "{review}"
    );
    server.stop().await;
}

async fn advance(hr: &Client, cycle: &str) {
    let (status, body) = hr
        .post(&format!("/api/v1/cycles/{cycle}/advance"), json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_submitted_review_keeps_its_score_and_late_link_changes_are_refused() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let employee_id = me(&employee).await;
    let (cycle, text_q, objectives_q) = objectives_cycle(&hr, &[&employee_id]).await;
    let first = objective(&employee, "First").await;
    let second = objective(&employee, "Second").await;
    link(&employee, &first, &cycle, Some(50)).await;
    link(&employee, &second, &cycle, Some(50)).await;
    advance(&hr, &cycle).await;

    // The manager rates both (5 and 1, weights 50/50: 3.0) and submits.
    let review = review_of(&manager, &cycle, &employee_id, "manager").await;
    let path = format!("/api/v1/reviews/{review}");
    let answer = json!({ first.clone(): { "rating": 5 }, second.clone(): { "rating": 1 } });
    let (status, body) = save(
        &manager,
        &review,
        json!({ text_q: "Fine", objectives_q.clone(): answer }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, submitted) = manager.post(&format!("{path}/submit"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["objectives_score"], 3.0, "{submitted}");

    // While reviews are still written the employee may re-weight and unlink, but the
    // submitted review stays on what it was submitted on.
    link(&employee, &first, &cycle, Some(100)).await;
    link(&employee, &second, &cycle, Some(1)).await;
    let read = ok(&manager, &path).await;
    assert_eq!(read["objectives_score"], 3.0, "{read}");
    let (status, _) = delete(
        &employee,
        &format!("/api/v1/objectives/{second}/cycles/{cycle}"),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let read = ok(&manager, &path).await;
    assert_eq!(read["objectives_score"], 3.0, "{read}");
    let weights: Vec<(String, Value)> = items(&read["objectives"])
        .iter()
        .map(|o| (text(&o["id"]), o["weight"].clone()))
        .collect();
    assert_eq!(
        weights,
        [(first.clone(), json!(50)), (second.clone(), json!(50))]
    );

    // From sharing on, links are refused: the reviewee cannot move anything.
    advance(&hr, &cycle).await;
    let (status, shared) = manager.post(&format!("{path}/share"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{shared}");
    let third = objective(&employee, "Third").await;
    for (objective, weight) in [
        (&first, json!(1)),
        (&second, json!(100)),
        (&third, json!(5)),
    ] {
        let link_path = format!("/api/v1/objectives/{objective}/cycles/{cycle}");
        let (status, body) = put(&employee, &link_path, json!({ "weight": weight })).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(code(&body), "conflict");
    }
    let (status, body) = delete(
        &employee,
        &format!("/api/v1/objectives/{first}/cycles/{cycle}"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let read = ok(&employee, &path).await;
    assert_eq!(read["objectives_score"], 3.0, "{read}");

    // The reviews CSV and the XML export carry the frozen score too.
    elevate(&hr, &server.password).await;
    let (status, csv) = fetch(&hr, &format!("/api/v1/cycles/{cycle}/reviews.csv")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let row = csv
        .lines()
        .find(|l| l.starts_with(&review))
        .unwrap_or_else(|| panic!("the review's row in {csv}"));
    assert!(row.ends_with(",3.00") || row.ends_with(",3"), "{row}");
    operator(&server, &["company", "enable-xml-export", "acme"], None).await;
    let (status, xml) = fetch(&hr, &format!("/api/v1/cycles/{cycle}/export.xml")).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    let frozen = format!(
        "<objectives-score>3.00</objectives-score><objectives-basis>\
         <objective objective-id=\"{first}\" weight=\"50\""
    );
    assert!(
        xml.replace(['\n', ' '], "")
            .contains(&frozen.replace(' ', "")),
        "{xml}"
    );

    // Closed: still refused.
    let (status, body) = hr
        .post(&format!("/api/v1/cycles/{cycle}/close"), json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let link_path = format!("/api/v1/objectives/{third}/cycles/{cycle}");
    let (status, body) = put(&employee, &link_path, json!({ "weight": 5 })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn linking_into_a_cycle_one_cannot_see_answers_as_for_a_made_up_one() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let other = server.sign_in("acme", "employee2@acme.example").await;
    let other_id = me(&other).await;
    let (cycle, _, _) = objectives_cycle(&hr, &[&other_id]).await;
    let mine = objective(&employee, "Mine").await;
    let made_up = "00000000-0000-4000-8000-000000000000";
    let mut answers = Vec::new();
    for target in [cycle.as_str(), made_up] {
        let path = format!("/api/v1/objectives/{mine}/cycles/{target}");
        let (status, body) = put(&employee, &path, json!({ "weight": 5 })).await;
        answers.push((status, body));
    }
    assert_eq!(answers[0].0, StatusCode::NOT_FOUND, "{}", answers[0].1);
    assert_eq!(answers[0], answers[1]);
    // The other employee links their own objective: they are reviewed in it.
    let theirs = objective(&other, "Theirs").await;
    link(&other, &theirs, &cycle, None).await;
    server.stop().await;
}

#[tokio::test]
async fn control_characters_are_refused_in_answers_and_objective_comments() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let employee_id = me(&employee).await;
    let (cycle, text_q, objectives_q) = objectives_cycle(&hr, &[&employee_id]).await;
    let mine = objective(&employee, "Mine").await;
    link(&employee, &mine, &cycle, None).await;
    let review = review_of(&employee, &cycle, &employee_id, "self").await;
    for bad in [
        "nul\u{0}here",
        "bell\u{7}",
        "esc\u{1b}[31m",
        "odd\u{202E}txt",
    ] {
        let (status, body) = save(&employee, &review, json!({ text_q.clone(): bad })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(code(&body), "validation_failed");
        let answer = json!({ mine.clone(): { "rating": 3, "comment": bad } });
        let (status, body) =
            save(&employee, &review, json!({ objectives_q.clone(): answer })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(code(&body), "validation_failed");
    }
    // Line breaks, tabs and ordinary Unicode are fine.
    let fine = "Très bien\tdone 🎉\r\nשלום, مرحبا";
    let answer = json!({ mine.clone(): { "rating": 3, "comment": fine } });
    let (status, body) = save(
        &employee,
        &review,
        json!({ text_q.clone(): fine, objectives_q.clone(): answer }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.stop().await;
}

/// Runs `kaizen import` of `xml` into a new company and answers what it printed on
/// failure (the import must fail).
async fn refused_import(server: &TestServer, slug: &str, xml: &str) -> String {
    operator(server, &["company", "create", slug, "--name", slug], None).await;
    let file = server.data_dir.path().join(format!("{slug}.xml"));
    std::fs::write(&file, xml).expect("the file is written");
    let database = server.database_options();
    let keyring = server.keyring.to_str().expect("a UTF-8 path");
    let file = file.to_str().expect("a UTF-8 path");
    let mut args = vec!["import", "--company", slug, file, "--keyring", keyring];
    args.extend(database.iter().map(String::as_str));
    let output = kaizen(&args, None).await;
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[tokio::test]
async fn the_import_checks_objectives_answers_as_the_api_does() {
    let server = TestServer::demo().await;
    // A rating of the manager's own objective, not linked to the cycle.
    let foreign = RATED
        .replace(
            "<objective objective-id=\"o3\" rating=\"1\">Dropped later</objective>",
            "<objective objective-id=\"o3\" rating=\"1\">Dropped later</objective>\n        \
             <objective objective-id=\"o4\" rating=\"5\"></objective>",
        )
        .replace(
            "  </objectives>",
            "    <objective id=\"o4\"><level>person</level><owner-id>u-mgr</owner-id>
      <title>Not theirs</title><description></description><status>draft</status>
      <version>1</version><created-by>u-mgr</created-by>
      <created-at>2026-02-02T09:00:00.000Z</created-at>
      <updated-at>2026-02-02T09:00:00.000Z</updated-at></objective>
  </objectives>",
        );
    let printed = refused_import(&server, "foreign", &foreign).await;
    assert!(
        printed.contains("is not an objective of the reviewee linked"),
        "{printed}"
    );
    // A comment longer than the API takes.
    let long = RATED.replace("Great &lt;work&gt;", &"x".repeat(5_000));
    let printed = refused_import(&server, "long", &long).await;
    assert!(printed.contains("at most 2000"), "{printed}");
    server.stop().await;
}

#[tokio::test]
async fn an_imported_basis_freezes_the_score_and_names_only_the_reviewees_objectives() {
    let server = TestServer::demo().await;
    let basis = "<objectives-basis><objective objective-id=\"o1\" weight=\"1\"/>\
                 <objective objective-id=\"o2\" weight=\"1\"/></objectives-basis>";
    let frozen = RATED.replace(
        "<objectives-score>4.50</objectives-score>",
        &format!("<objectives-score>4.00</objectives-score>{basis}"),
    );
    let hr = import_and_sign_in(&server, "frozen", &frozen).await;
    let (_, cycles) = hr.get("/api/v1/cycles").await;
    let calibration = format!("/api/v1/cycles/{}/calibration", text(&cycles[0]["id"]));
    let view = ok(&hr, &calibration).await;
    let review = text(&view["reviews"][0]["review_id"]);
    let read = ok(&hr, &format!("/api/v1/reviews/{review}")).await;
    // (1·5 + 1·3) / 2, not the links' (3·5 + 1·3) / 4.
    assert_eq!(read["objectives_score"], 4.0, "{read}");

    let foreign = frozen
        .replace(
            "<objective objective-id=\"o2\" weight=\"1\"/>",
            "<objective objective-id=\"o4\"/>",
        )
        .replace(
            "  </objectives>",
            "    <objective id=\"o4\"><level>person</level><owner-id>u-mgr</owner-id>
      <title>Not theirs</title><description></description><status>draft</status>
      <version>1</version><created-by>u-mgr</created-by>
      <created-at>2026-02-02T09:00:00.000Z</created-at>
      <updated-at>2026-02-02T09:00:00.000Z</updated-at></objective>
  </objectives>",
        );
    let printed = refused_import(&server, "foreign-basis", &foreign).await;
    assert!(printed.contains("not of the reviewee"), "{printed}");
    server.stop().await;
}
