//! Black-box tests of working together in one review: the `review:<id>` live topic with
//! its presence and `saved` events, resuming it, slow viewers, losing it when the right
//! to read it goes, and saves of the same review from two places at once.
//!
//! Every wait is for a frame, bounded by a timeout; nothing sleeps. Where a test must
//! show that a frame did *not* come, it makes something else happen that must come
//! next, so a stray frame would arrive first and fail the test.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Client, PASSWORD, TestServer, code};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a frame may take to arrive. Frames come within milliseconds; this only
/// bounds a failing test. Presence of a vanished connection is swept within seconds.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The email of a demo user of acme.
fn email(local: &str) -> String {
    format!("{local}@acme.example")
}

/// Opens a live connection as the signed-in `client`, from the server's own page.
async fn open(server: &TestServer, client: &Client) -> Socket {
    let mut request = server.live_url().into_client_request().expect("a request");
    let headers = request.headers_mut();
    let cookie = client.cookie.as_deref().expect("a signed-in client");
    headers.insert("cookie", HeaderValue::from_str(cookie).expect("a header"));
    headers.insert(
        "origin",
        HeaderValue::from_str(&server.base).expect("a header"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the live connection opens")
        .0
}

/// Sends a JSON text frame.
async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("the frame is sent");
}

/// Subscribes to a review's topic, optionally resuming after `since`.
async fn subscribe(socket: &mut Socket, review_id: &str, since: Option<u64>) {
    let mut message = json!({"type": "subscribe", "topic": format!("review:{review_id}")});
    if let Some(since) = since {
        message["since"] = json!(since);
    }
    send(socket, message).await;
}

/// Says which answer of the review this connection is in.
async fn presence(socket: &mut Socket, review_id: &str, answer: Option<&str>) {
    let message =
        json!({"type": "presence", "topic": format!("review:{review_id}"), "answer": answer});
    send(socket, message).await;
}

/// The next JSON frame; pings are skipped. Fails the test on close or silence.
async fn next_frame(socket: &mut Socket) -> Value {
    let deadline = tokio::time::Instant::now() + FRAME_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => panic!("no frame within {FRAME_TIMEOUT:?}"),
            Ok(Some(Ok(Message::Text(text)))) => {
                return serde_json::from_str(text.as_str()).expect("a JSON frame");
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(other) => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// The next frame, which must be of `kind` ("snapshot", "presence", "saved" or "error").
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    let frame = next_frame(socket).await;
    let found = match frame["type"].as_str() {
        Some("event") => frame["event"].as_str().unwrap_or(""),
        other => other.unwrap_or(""),
    };
    assert_eq!(found, kind, "{frame}");
    frame
}

/// A frame's sequence number.
fn seq(frame: &Value) -> u64 {
    frame["seq"].as_u64().expect("a seq")
}

/// The presence list of a snapshot or presence event, as (name, answer) pairs, sorted.
fn viewers(frame: &Value) -> Vec<(String, Option<String>)> {
    let list = frame["data"]["presence"]
        .as_array()
        .expect("a presence list");
    let mut pairs: Vec<_> = list
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("a name").to_owned(),
                p["answer"].as_str().map(str::to_owned),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

/// One employee's self review in acme, with two sessions of its writer and the
/// employee's manager.
struct Review {
    id: String,
    path: String,
    /// The writer, signed in once…
    writer: Client,
    /// …and once more, as in a second browser.
    writer2: Client,
    manager: Client,
    /// The writer's name as the presence list shows it.
    writer_name: String,
    manager_name: String,
    /// Question ids: the first text and the first rating question.
    text_q: String,
    rating_q: String,
}

impl Review {
    async fn open(server: &TestServer, employee: &str) -> Review {
        let writer = server.sign_in("acme", &email(employee)).await;
        let writer2 = server.sign_in("acme", &email(employee)).await;
        let manager = server.sign_in("acme", &email("manager")).await;
        let (_, me) = writer.get("/api/v1/me").await;
        let (_, boss) = manager.get("/api/v1/me").await;
        let (_, reviews) = writer.get("/api/v1/reviews").await;
        let id = reviews
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["kind"] == "self" && r["reviewer_id"] == me["id"])
            .and_then(|r| r["id"].as_str())
            .expect("the employee's self review")
            .to_owned();
        let path = format!("/api/v1/reviews/{id}");
        let (_, review) = writer.get(&path).await;
        let questions = review["questions"].as_array().expect("questions");
        let first = |kind: &str| {
            questions
                .iter()
                .find(|q| q["kind"] == kind)
                .and_then(|q| q["id"].as_str())
                .expect("a question of each kind")
                .to_owned()
        };
        Review {
            text_q: first("text"),
            rating_q: first("rating"),
            id,
            path,
            writer,
            writer2,
            manager,
            writer_name: me["name"].as_str().expect("a name").to_owned(),
            manager_name: boss["name"].as_str().expect("a name").to_owned(),
        }
    }

    /// The review as `client` reads it now.
    async fn read(&self, client: &Client) -> Value {
        let (status, review) = client.get(&self.path).await;
        assert_eq!(status, StatusCode::OK, "{review}");
        review
    }

    /// Saves `answers` as `client` against `version`; answers the status and body.
    async fn save(&self, client: &Client, answers: Value, version: i64) -> (StatusCode, Value) {
        client
            .patch(&self.path, json!({"answers": answers, "version": version}))
            .await
    }
}

/// The version of a review body.
fn version(review: &Value) -> i64 {
    review["version"].as_i64().expect("a version")
}

// ---------------------------------------------------------------------------------------
// Who may follow a review
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_review_is_followed_by_exactly_those_who_may_read_it() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee1").await;
    let hr = server.sign_in("acme", &email("hr")).await;
    let colleague = server.sign_in("acme", &email("employee2")).await;
    let foreign_hr = server.sign_in("globex", "hr@globex.example").await;

    for (who, client) in [
        ("writer", &review.writer),
        ("manager", &review.manager),
        ("hr", &hr),
    ] {
        let mut socket = open(&server, client).await;
        subscribe(&mut socket, &review.id, None).await;
        let snapshot = next_of(&mut socket, "snapshot").await;
        assert_eq!(
            snapshot["data"]["version"],
            json!(review.read(&review.writer).await["version"]),
            "{who}"
        );
    }

    // A colleague, and another company's HR admin, get what a made-up id gets.
    for client in [&colleague, &foreign_hr] {
        let mut socket = open(&server, client).await;
        subscribe(&mut socket, &review.id, None).await;
        let refused = next_of(&mut socket, "error").await;
        subscribe(&mut socket, "no-such-review", None).await;
        let made_up = next_of(&mut socket, "error").await;
        assert_eq!(refused["code"], "not_found", "{refused}");
        assert_eq!(refused["message"], made_up["message"]);
    }
}

// ---------------------------------------------------------------------------------------
// Presence
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn viewers_see_each_other_join_move_between_answers_and_leave() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee3").await;
    let mut writer = open(&server, &review.writer).await;
    let mut manager = open(&server, &review.manager).await;

    subscribe(&mut writer, &review.id, None).await;
    let snapshot = next_of(&mut writer, "snapshot").await;
    assert_eq!(viewers(&snapshot), vec![(review.writer_name.clone(), None)]);
    let me = snapshot["data"]["you"]
        .as_u64()
        .expect("the own viewer number");
    assert_eq!(snapshot["data"]["presence"][0]["viewer"], json!(me));

    // The manager joins: both see both.
    subscribe(&mut manager, &review.id, None).await;
    let snapshot = next_of(&mut manager, "snapshot").await;
    let both = {
        let mut both = vec![
            (review.manager_name.clone(), None),
            (review.writer_name.clone(), None),
        ];
        both.sort();
        both
    };
    assert_eq!(viewers(&snapshot), both);
    assert_eq!(viewers(&next_of(&mut writer, "presence").await), both);

    // The writer moves into an answer, then out of it.
    presence(&mut writer, &review.id, Some(&review.text_q)).await;
    let moved = next_of(&mut manager, "presence").await;
    assert!(viewers(&moved).contains(&(review.writer_name.clone(), Some(review.text_q.clone()))));
    presence(&mut writer, &review.id, None).await;
    assert_eq!(viewers(&next_of(&mut manager, "presence").await), both);
    // The mover hears of its own moves too, in the same order.
    assert_eq!(
        viewers(&next_of(&mut writer, "presence").await),
        viewers(&moved)
    );
    assert_eq!(viewers(&next_of(&mut writer, "presence").await), both);

    // The manager unsubscribes: the writer sees the list without them.
    let topic = format!("review:{}", review.id);
    send(&mut manager, json!({"type": "unsubscribe", "topic": topic})).await;
    let left = next_of(&mut writer, "presence").await;
    assert_eq!(viewers(&left), vec![(review.writer_name.clone(), None)]);
}

#[tokio::test]
async fn a_viewer_whose_connection_dies_leaves_the_list() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee4").await;
    let mut writer = open(&server, &review.writer).await;
    let mut manager = open(&server, &review.manager).await;
    subscribe(&mut writer, &review.id, None).await;
    next_of(&mut writer, "snapshot").await;
    subscribe(&mut manager, &review.id, None).await;
    next_of(&mut manager, "snapshot").await;
    next_of(&mut writer, "presence").await;

    // The manager's connection vanishes without a close frame.
    drop(manager);

    let left = next_of(&mut writer, "presence").await;
    assert_eq!(viewers(&left), vec![(review.writer_name.clone(), None)]);
}

#[tokio::test]
async fn presence_needs_a_followed_review_and_one_of_its_questions() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee5").await;
    let mut socket = open(&server, &review.writer).await;

    presence(&mut socket, &review.id, None).await;
    let unfollowed = next_of(&mut socket, "error").await;
    assert_eq!(unfollowed["code"], "not_found", "{unfollowed}");

    subscribe(&mut socket, &review.id, None).await;
    next_of(&mut socket, "snapshot").await;
    presence(&mut socket, &review.id, Some("no-such-question")).await;
    let unknown = next_of(&mut socket, "error").await;
    assert_eq!(unknown["code"], "validation_failed", "{unknown}");

    let cycle_topic = json!({"type": "presence", "topic": "cycle:x", "answer": null});
    send(&mut socket, cycle_topic).await;
    assert_eq!(next_of(&mut socket, "error").await["code"], "bad_request");

    // The socket still works: a real move is echoed to the mover too.
    presence(&mut socket, &review.id, Some(&review.rating_q)).await;
    let moved = next_of(&mut socket, "presence").await;
    assert_eq!(
        viewers(&moved),
        vec![(review.writer_name.clone(), Some(review.rating_q.clone()))]
    );
}

// ---------------------------------------------------------------------------------------
// Saved events and resuming
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_save_tells_every_viewer_the_version_and_the_changed_answers() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee6").await;
    let mut manager = open(&server, &review.manager).await;
    subscribe(&mut manager, &review.id, None).await;
    next_of(&mut manager, "snapshot").await;

    let base = version(&review.read(&review.writer).await);
    let answers =
        json!({review.text_q.clone(): "Shipped the importer", review.rating_q.clone(): 4});
    let (status, saved) = review.save(&review.writer, answers.clone(), base).await;
    assert_eq!(status, StatusCode::OK, "{saved}");

    let event = next_of(&mut manager, "saved").await;
    assert_eq!(event["data"]["version"], saved["version"]);
    assert_eq!(event["data"]["status"], "draft");
    let mut changed: Vec<&str> = event["data"]["changed"]
        .as_array()
        .expect("changed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    changed.sort();
    let mut expected = vec![review.text_q.as_str(), review.rating_q.as_str()];
    expected.sort();
    assert_eq!(changed, expected);
    assert_eq!(event["data"]["answers"], answers);
}

#[tokio::test]
async fn resuming_replays_missed_saves_or_sends_a_snapshot_after_a_gap() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee7").await;
    let mut viewer = open(&server, &review.manager).await;
    subscribe(&mut viewer, &review.id, None).await;
    let start = seq(&next_of(&mut viewer, "snapshot").await);
    drop(viewer);

    // Three saves while away (the viewer leaving is one more event).
    let mut current = version(&review.read(&review.writer).await);
    for n in 0..3 {
        let answers = json!({review.text_q.clone(): format!("draft {n}")});
        let (status, saved) = review.save(&review.writer, answers, current).await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        current = saved["version"].as_i64().expect("a version");
    }

    let mut back = open(&server, &review.manager).await;
    subscribe(&mut back, &review.id, Some(start)).await;
    let mut saves = Vec::new();
    let mut last = start;
    while saves.len() < 3 {
        let frame = next_frame(&mut back).await;
        assert_eq!(frame["type"], "event", "a replay, not a snapshot: {frame}");
        assert_eq!(seq(&frame), last + 1, "no gap, no repeat");
        last = seq(&frame);
        if frame["event"] == "saved" {
            saves.push(frame["data"]["version"].as_i64().expect("a version"));
        }
    }
    assert_eq!(saves, vec![current - 2, current - 1, current]);
    drop(back);

    // More saves than the topic remembers: the next resume gets a snapshot.
    for n in 0..260 {
        let answers = json!({review.text_q.clone(): format!("again {n}")});
        let (status, saved) = review.save(&review.writer, answers, current).await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        current = saved["version"].as_i64().expect("a version");
    }
    let mut late = open(&server, &review.manager).await;
    subscribe(&mut late, &review.id, Some(last)).await;
    let snapshot = next_of(&mut late, "snapshot").await;
    assert_eq!(snapshot["data"]["version"], json!(current));
}

#[tokio::test]
async fn a_viewer_that_never_reads_holds_up_nobody() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee8").await;

    // A viewer with a tiny receive buffer that never reads after subscribing.
    let stuck_socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    stuck_socket
        .set_recv_buffer_size(4096)
        .expect("a small buffer");
    let addr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let stream = stuck_socket.connect(addr).await.expect("connected");
    let mut request = server.live_url().into_client_request().expect("a request");
    let cookie = review.manager.cookie.clone().expect("a cookie");
    request
        .headers_mut()
        .insert("cookie", HeaderValue::from_str(&cookie).expect("a header"));
    let (mut stuck, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .expect("the stuck viewer connects");
    subscribe(&mut stuck, &review.id, None).await;

    let mut reader = open(&server, &review.manager).await;
    subscribe(&mut reader, &review.id, None).await;
    let mut last = seq(&next_of(&mut reader, "snapshot").await);

    // Large saves, far more than the stuck viewer's buffers and queue hold.
    let big = "x".repeat(19_000);
    let mut current = version(&review.read(&review.writer).await);
    for n in 0..400 {
        let answers = json!({review.text_q.clone(): format!("{n} {big}")});
        let (status, saved) = review.save(&review.writer, answers, current).await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        current = saved["version"].as_i64().expect("a version");

        // The reader gets every event, in order, while the other viewer is stuck.
        loop {
            let frame = next_frame(&mut reader).await;
            assert_eq!(seq(&frame), last + 1, "{frame}");
            last = seq(&frame);
            if frame["event"] == "saved" {
                assert_eq!(frame["data"]["version"], json!(current));
                break;
            }
        }
    }

    // The stuck viewer holds at most its queue: once a write has been stuck for the
    // server's write timeout it is dropped, rather than buffered without end.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let (_, metrics) = server.anonymous().get("/metrics").await;
        let metrics = metrics.as_str().unwrap_or_default().to_owned();
        let open: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("kaizen_live_connections "))
            .and_then(|v| v.trim().parse().ok())
            .expect("the connection gauge");
        if open == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck viewer was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(stuck);
}

#[tokio::test]
async fn the_review_snapshot_follows_the_status_after_submit() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee9").await;
    let mut viewer = open(&server, &review.manager).await;
    subscribe(&mut viewer, &review.id, None).await;
    next_of(&mut viewer, "snapshot").await;

    let current = review.read(&review.writer).await;
    let mut answers = serde_json::Map::new();
    for q in current["questions"].as_array().expect("questions") {
        let id = q["id"].as_str().expect("an id").to_owned();
        answers.insert(
            id,
            if q["kind"] == "rating" {
                json!(5)
            } else {
                json!("Done")
            },
        );
    }
    let (status, _) = review
        .save(&review.writer, Value::Object(answers), version(&current))
        .await;
    assert_eq!(status, StatusCode::OK);
    next_of(&mut viewer, "saved").await;
    let (status, body) = review
        .writer
        .post(&format!("{}/submit", review.path), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let submitted = next_of(&mut viewer, "saved").await;
    assert_eq!(submitted["data"]["status"], "submitted");
    assert_eq!(submitted["data"]["version"], body["version"]);
    assert_eq!(code(&body), "");
}

// ---------------------------------------------------------------------------------------
// Saves of one review from two places
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn saves_of_different_answers_on_one_version_both_stay() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee10").await;
    let base = version(&review.read(&review.writer).await);

    let first = json!({review.text_q.clone(): "From the laptop"});
    let (status, body) = review.save(&review.writer, first, base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = json!({review.rating_q.clone(): 2});
    let (status, saved) = review.save(&review.writer2, second, base).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], json!(base + 2));

    let stored = review.read(&review.manager).await;
    assert_eq!(stored["answers"][&review.text_q], "From the laptop");
    assert_eq!(stored["answers"][&review.rating_q], 2);
    assert_eq!(version(&stored), base + 2);
}

#[tokio::test]
async fn saves_of_the_same_answer_conflict_with_both_versions_and_lose_nothing() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee11").await;
    let base = version(&review.read(&review.writer).await);
    let first = json!({review.text_q.clone(): "Mine, from the laptop"});
    let (status, body) = review.save(&review.writer, first, base).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The second place changed the same answer, and another one, on the old version:
    // nothing of it is written, and both versions come back.
    let second = json!({review.text_q.clone(): "Mine, from the phone", review.rating_q.clone(): 5});
    let (status, refused) = review.save(&review.writer2, second, base).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(code(&refused), "conflict");
    let conflict = &refused["error"]["conflict"];
    assert_eq!(conflict["version"], json!(base + 1));
    assert_eq!(
        conflict["answers"],
        json!([{
            "question_id": review.text_q,
            "yours": "Mine, from the phone",
            "theirs": "Mine, from the laptop",
            "their_version": base + 1,
        }])
    );
    let stored = review.read(&review.writer).await;
    assert_eq!(stored["answers"][&review.text_q], "Mine, from the laptop");
    assert!(
        stored["answers"].get(&review.rating_q).is_none(),
        "{stored}"
    );

    // The user picks the phone's text on the current version: it is saved.
    let chosen = json!({review.text_q.clone(): "Mine, from the phone", review.rating_q.clone(): 5});
    let (status, body) = review.save(&review.writer2, chosen, base + 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = review.read(&review.writer).await;
    assert_eq!(stored["answers"][&review.text_q], "Mine, from the phone");
    assert_eq!(stored["answers"][&review.rating_q], 5);
}

#[tokio::test]
async fn sending_the_stored_answer_again_on_an_old_version_is_no_conflict() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee12").await;
    let base = version(&review.read(&review.writer).await);
    let same = json!({review.text_q.clone(): "Agreed"});
    let (status, _) = review.save(&review.writer, same.clone(), base).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = review.save(&review.writer2, same, base).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A version from the future is refused.
    let (status, body) = review.save(&review.writer, json!({}), base + 10).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

// ---------------------------------------------------------------------------------------
// Idle actors
// ---------------------------------------------------------------------------------------

/// A counter or gauge from `/metrics`.
async fn metric(server: &TestServer, name: &str) -> u64 {
    let (_, text) = server.anonymous().get("/metrics").await;
    let text = text.as_str().unwrap_or_default().to_owned();
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[tokio::test]
async fn an_actor_followed_live_stays_and_an_idle_one_comes_back() {
    let server = TestServer::demo_with(|config| config.actor_idle_seconds = 1).await;
    let review = Review::open(&server, "employee13").await;
    let mut viewer = open(&server, &review.manager).await;
    subscribe(&mut viewer, &review.id, None).await;
    let mut last = seq(&next_of(&mut viewer, "snapshot").await);

    // Globex's actor, used after acme's, goes idle and is evicted… (Acme's may have
    // been evicted too before the viewer subscribed, on a slow machine: only the
    // actors alive tell that globex's is gone while acme's stays.)
    let globex = server.sign_in("globex", "hr@globex.example").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metric(&server, "kaizen_actors_alive").await != 1
        || metric(&server, "kaizen_actor_evictions_total").await == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "globex's actor was never evicted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // …while acme's, followed live, kept its topic: the next save arrives in sequence.
    let base = version(&review.read(&review.writer).await);
    let answers = json!({review.text_q.clone(): "Still here"});
    let (status, _) = review.save(&review.writer, answers, base).await;
    assert_eq!(status, StatusCode::OK);
    let saved = next_of(&mut viewer, "saved").await;
    assert_eq!(seq(&saved), last + 1);
    last = seq(&saved);
    assert!(last > 0);
    assert_eq!(metric(&server, "kaizen_actors_alive").await, 1);

    // The evicted company answers as before.
    let (status, me) = globex.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
}

// ---------------------------------------------------------------------------------------
// Losing the right to read
// ---------------------------------------------------------------------------------------

/// Imports `csv` as the org chart, as the signed-in HR admin (reauthenticated first).
async fn import_people(hr: &Client, csv: String) {
    let (status, body) = hr
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let request = hr
        .request(Method::POST, "/api/v1/admin/users/import?dry_run=false")
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv);
    let (status, report) = hr.send(request).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["updated"], json!(1), "{report}");
}

#[tokio::test]
async fn a_manager_loses_a_followed_review_when_the_reporting_line_moves_away() {
    let server = TestServer::demo().await;
    let moving = Review::open(&server, "employee1").await;
    let staying = Review::open(&server, "employee2").await;
    let hr = server.sign_in("acme", &email("hr")).await;
    let mut manager = open(&server, &moving.manager).await;
    subscribe(&mut manager, &moving.id, None).await;
    next_of(&mut manager, "snapshot").await;
    subscribe(&mut manager, &staying.id, None).await;
    next_of(&mut manager, "snapshot").await;

    // The employee now reports to the HR admin instead.
    let csv = format!(
        "email,name,department,manager_email,role\r\n{},{},,{},\r\n",
        email("employee1"),
        moving.writer_name,
        email("hr")
    );
    import_people(&hr, csv).await;

    // The followed review is dropped at once, without waiting for its next event.
    let lost = next_of(&mut manager, "error").await;
    assert_eq!(lost["code"], "forbidden", "{lost}");
    assert_eq!(lost["topic"], format!("review:{}", moving.id), "{lost}");

    // Its saves no longer arrive; those of a review still managed do, next.
    let answers = json!({moving.text_q.clone(): "Written after the move"});
    let base = version(&moving.read(&moving.writer).await);
    let (status, body) = moving.save(&moving.writer, answers, base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answers = json!({staying.text_q.clone(): "Still managed"});
    let base = version(&staying.read(&staying.writer).await);
    let (status, body) = staying.save(&staying.writer, answers, base).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let saved = next_of(&mut manager, "saved").await;
    assert_eq!(saved["topic"], format!("review:{}", staying.id), "{saved}");
    assert_eq!(
        saved["data"]["answers"][&staying.text_q], "Still managed",
        "{saved}"
    );

    // Following it again is refused like any review one may not read.
    subscribe(&mut manager, &moving.id, None).await;
    let refused = next_of(&mut manager, "error").await;
    assert_eq!(refused["code"], "not_found", "{refused}");
}

#[tokio::test]
async fn a_viewer_who_loses_a_review_leaves_its_presence() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee3").await;
    let hr = server.sign_in("acme", &email("hr")).await;
    let mut writer = open(&server, &review.writer).await;
    let mut manager = open(&server, &review.manager).await;
    subscribe(&mut writer, &review.id, None).await;
    next_of(&mut writer, "snapshot").await;
    subscribe(&mut manager, &review.id, None).await;
    next_of(&mut manager, "snapshot").await;
    assert_eq!(viewers(&next_of(&mut writer, "presence").await).len(), 2);

    let csv = format!(
        "email,name,department,manager_email,role\r\n{},{},,{},\r\n",
        email("employee3"),
        review.writer_name,
        email("hr")
    );
    import_people(&hr, csv).await;

    assert_eq!(next_of(&mut manager, "error").await["code"], "forbidden");
    let left = next_of(&mut writer, "presence").await;
    assert_eq!(viewers(&left), vec![(review.writer_name.clone(), None)]);
}

#[tokio::test]
async fn a_manager_above_loses_a_followed_review_when_skip_level_reading_ends() {
    let server = TestServer::demo().await;
    let review = Review::open(&server, "employee4").await;
    let ceo = server.sign_in("acme", &email("ceo")).await;
    let mut above = open(&server, &ceo).await;
    subscribe(&mut above, &review.id, None).await;
    next_of(&mut above, "snapshot").await;

    // HR switches skip-level reading off: only the direct manager reads on.
    let hr = server.sign_in("acme", &email("hr")).await;
    let (status, body) = hr
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let off = json!({ "skip_level_visible": false });
    let request = hr
        .request(reqwest::Method::PUT, "/api/v1/admin/review-settings")
        .json(&off);
    let (status, body) = hr.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let lost = next_of(&mut above, "error").await;
    assert_eq!(lost["code"], "forbidden", "{lost}");
    assert_eq!(lost["topic"], format!("review:{}", review.id), "{lost}");
}
