//! Black-box tests of the live gateway, `GET /api/v1/live`: who may connect and
//! subscribe, the snapshot and the progress events of a cycle with their sequence
//! numbers, resuming after a gap, company isolation, and how sockets end (logout,
//! shutdown, abuse).
//!
//! Every wait is for a frame, bounded by a timeout; nothing sleeps. Where a test must
//! show that a frame did *not* come, it makes something else happen that must come
//! next, so a stray frame would arrive first and fail the test.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Client, TestServer, code};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The demo company most tests act in.
const COMPANY: &str = "acme";

/// The other demo company.
const OTHER_COMPANY: &str = "globex";

/// How long a frame may take to arrive. Frames come within milliseconds; this only
/// bounds a failing test.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// How long shutdown may take to say goodbye on an open socket.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The email of a demo user.
fn email(local: &str, company: &str) -> String {
    format!("{local}@{company}.example")
}

/// Opens a live connection with an optional `Cookie` and `Origin`.
async fn connect(
    server: &TestServer,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Socket, tungstenite::Error> {
    let mut request = server
        .live_url()
        .into_client_request()
        .expect("a WebSocket request");
    let headers = request.headers_mut();
    if let Some(cookie) = cookie {
        headers.insert("cookie", HeaderValue::from_str(cookie).expect("a header"));
    }
    if let Some(origin) = origin {
        headers.insert("origin", HeaderValue::from_str(origin).expect("a header"));
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// Opens a live connection as the signed-in `client`, from the server's own page.
async fn open(server: &TestServer, client: &Client) -> Socket {
    connect(server, client.cookie.as_deref(), Some(&server.base))
        .await
        .expect("the live connection opens")
}

/// The HTTP status a refused upgrade answered.
fn refused_status(result: Result<Socket, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected the upgrade to be refused, but it was accepted"),
    }
}

/// Sends a JSON text frame.
async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("the frame is sent");
}

/// Subscribes to a cycle's topic, optionally resuming after `since`.
async fn subscribe(socket: &mut Socket, cycle_id: &str, since: Option<u64>) {
    let mut message = json!({"type": "subscribe", "topic": format!("cycle:{cycle_id}")});
    if let Some(since) = since {
        message["since"] = json!(since);
    }
    send(socket, message).await;
}

/// What a socket yielded next.
#[derive(Debug)]
enum Next {
    /// A JSON text frame.
    Frame(Value),
    /// A close frame with its code, or the end of the stream (`None`).
    Closed(Option<u16>),
    /// Nothing within the time allowed.
    Silent,
}

/// The next frame, close or silence within `wait`; pings and pongs are skipped (the
/// client library answers pings itself).
async fn next_within(socket: &mut Socket, wait: Duration) -> Next {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return Next::Silent,
            Ok(None) | Ok(Some(Err(_))) => return Next::Closed(None),
            Ok(Some(Ok(Message::Text(text)))) => {
                let value = serde_json::from_str(text.as_str())
                    .unwrap_or_else(|_| panic!("a JSON frame, got {text}"));
                return Next::Frame(value);
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Next::Closed(frame.map(|f| u16::from(f.code)));
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// The next JSON frame; fails the test on close or silence.
async fn next_frame(socket: &mut Socket) -> Value {
    match next_within(socket, FRAME_TIMEOUT).await {
        Next::Frame(value) => value,
        other => panic!("expected a frame within {FRAME_TIMEOUT:?}, got {other:?}"),
    }
}

/// The next frame, which must be a snapshot of the cycle; answers it.
async fn next_snapshot(socket: &mut Socket, cycle_id: &str) -> Value {
    let frame = next_frame(socket).await;
    assert_eq!(frame["type"], "snapshot", "{frame}");
    assert_eq!(frame["topic"], format!("cycle:{cycle_id}"), "{frame}");
    assert!(frame["seq"].is_u64(), "{frame}");
    frame
}

/// The next frame, which must be a progress event of the cycle; answers it.
async fn next_event(socket: &mut Socket, cycle_id: &str) -> Value {
    let frame = next_frame(socket).await;
    assert_eq!(frame["type"], "event", "{frame}");
    assert_eq!(frame["event"], "progress", "{frame}");
    assert_eq!(frame["topic"], format!("cycle:{cycle_id}"), "{frame}");
    frame
}

/// A frame's sequence number.
fn seq(frame: &Value) -> u64 {
    frame["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("a seq in {frame}"))
}

/// A count in a progress body.
fn count(progress: &Value, key: &str) -> i64 {
    progress[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} in {progress}"))
}

/// A company of the demo as the tests use it: its HR admin, one employee and the ids.
struct Company {
    hr: Client,
    employee: Client,
    cycle_id: String,
    /// The employee's self review.
    review_id: String,
}

impl Company {
    async fn sign_in(server: &TestServer, company: &str, employee: &str) -> Company {
        let hr = server.sign_in(company, &email("hr", company)).await;
        let employee = server.sign_in(company, &email(employee, company)).await;
        let (_, cycles) = hr.get("/api/v1/cycles").await;
        let cycle_id = cycles[0]["id"].as_str().expect("the demo cycle").to_owned();
        let (_, me) = employee.get("/api/v1/me").await;
        let (_, reviews) = employee.get("/api/v1/reviews").await;
        let review_id = reviews
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["kind"] == "self" && r["reviewer_id"] == me["id"])
            .and_then(|r| r["id"].as_str())
            .expect("the employee's self review")
            .to_owned();
        Company {
            hr,
            employee,
            cycle_id,
            review_id,
        }
    }

    /// The cycle's progress over HTTP.
    async fn progress(&self) -> Value {
        let path = format!("/api/v1/cycles/{}/progress", self.cycle_id);
        let (status, body) = self.hr.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The employee saves a draft of their self review; answers the review's questions.
    async fn save_draft(&self, complete: bool) -> Value {
        let path = format!("/api/v1/reviews/{}", self.review_id);
        let (_, review) = self.employee.get(&path).await;
        let mut answers = serde_json::Map::new();
        if complete {
            for q in review["questions"].as_array().expect("questions") {
                let answer = if q["kind"] == "rating" {
                    json!(3)
                } else {
                    json!("An answer")
                };
                answers.insert(q["id"].as_str().expect("an id").to_owned(), answer);
            }
        }
        let body = json!({"answers": answers, "version": review["version"]});
        let (status, saved) = self.employee.patch(&path, body).await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        review
    }

    /// The employee submits their self review.
    async fn submit(&self) {
        let path = format!("/api/v1/reviews/{}/submit", self.review_id);
        let (status, body) = self
            .employee
            .send(self.employee.request(Method::POST, &path))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// A barrier on a socket: the server handles a connection's messages in order, so once
/// the answer to a malformed message is back, every message sent before it was handled.
async fn barrier(socket: &mut Socket) {
    socket.send(Message::text("barrier")).await.expect("sent");
    let frame = next_frame(socket).await;
    assert_eq!(
        (frame["type"].as_str(), frame["code"].as_str()),
        (Some("error"), Some("bad_request")),
        "{frame}"
    );
}

// ---------------------------------------------------------------------------------------
// Who may connect and subscribe
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_upgrade_without_a_live_session_is_refused_with_401() {
    let server = TestServer::demo().await;
    let leaving = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let logout = leaving.request(Method::POST, "/api/v1/auth/logout");
    assert_eq!(leaving.send(logout).await.0, StatusCode::NO_CONTENT);
    let ended = leaving.cookie.clone().expect("a cookie");

    let cases = [
        ("no cookie", None),
        ("garbage cookie", Some("kz_session=garbage")),
        ("a logged-out session", Some(ended.as_str())),
    ];
    for (case, cookie) in cases {
        let result = connect(&server, cookie, Some(&server.base)).await;
        assert_eq!(refused_status(result), 401, "{case}");
    }
}

#[tokio::test]
async fn an_upgrade_is_accepted_only_from_the_own_or_an_allowed_origin() {
    let allowed = "https://app.example";
    let server = TestServer::demo_with(|config| {
        config.allowed_origins = vec![allowed.to_owned()];
    })
    .await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let cookie = hr.cookie.as_deref();

    let cases = [
        ("another site", "https://evil.example", false),
        ("an opaque origin", "null", false),
        ("a sibling port", "http://127.0.0.1:1", false),
        ("the server's own", server.base.as_str(), true),
        ("an allowed origin", allowed, true),
    ];
    for (case, origin, accepted) in cases {
        let result = connect(&server, cookie, Some(origin)).await;
        if accepted {
            let mut socket = result.unwrap_or_else(|e| panic!("{case}: accepted, got {e}"));
            // It is a working connection: it answers a subscribe.
            let (_, cycles) = hr.get("/api/v1/cycles").await;
            let cycle_id = cycles[0]["id"].as_str().expect("a cycle").to_owned();
            subscribe(&mut socket, &cycle_id, None).await;
            next_snapshot(&mut socket, &cycle_id).await;
        } else {
            assert_eq!(refused_status(result), 403, "{case}");
        }
    }
}

#[tokio::test]
async fn only_hr_admins_may_follow_a_cycle() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let manager = server.sign_in(COMPANY, &email("manager", COMPANY)).await;

    // A real sequence number with an event after it, to try a replay with.
    let mut dashboard = open(&server, &acme.hr).await;
    subscribe(&mut dashboard, &acme.cycle_id, None).await;
    let snapshot = next_snapshot(&mut dashboard, &acme.cycle_id).await;
    acme.save_draft(false).await;
    next_event(&mut dashboard, &acme.cycle_id).await;

    for (who, client) in [("employee", &acme.employee), ("manager", &manager)] {
        let mut socket = open(&server, client).await;
        for since in [None, Some(seq(&snapshot))] {
            subscribe(&mut socket, &acme.cycle_id, since).await;
            let frame = next_frame(&mut socket).await;
            assert_eq!(frame["type"], "error", "{who}, since {since:?}: {frame}");
            assert_eq!(
                frame["code"], "forbidden",
                "{who}, since {since:?}: {frame}"
            );
        }

        // A refusal is no reason to drop the connection.
        barrier(&mut socket).await;
    }
}

#[tokio::test]
async fn another_companys_cycle_looks_exactly_like_a_made_up_one() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let globex = Company::sign_in(&server, OTHER_COMPANY, "employee1").await;
    let mut socket = open(&server, &globex.hr).await;

    // The error frame names the topic it answers; everything else must be the same.
    let without_topic = |mut frame: Value| {
        frame.as_object_mut().expect("an object").remove("topic");
        frame
    };
    subscribe(&mut socket, &acme.cycle_id, None).await;
    let foreign = next_frame(&mut socket).await;
    assert_eq!(foreign["topic"], format!("cycle:{}", acme.cycle_id));
    subscribe(&mut socket, &uuid::Uuid::new_v4().to_string(), None).await;
    let made_up = next_frame(&mut socket).await;
    send(
        &mut socket,
        json!({"type": "subscribe", "topic": "not-a-topic"}),
    )
    .await;
    let no_topic = next_frame(&mut socket).await;

    assert_eq!(foreign["type"], "error");
    assert_eq!(foreign["code"], "not_found", "{foreign}");
    assert_eq!(without_topic(foreign.clone()), without_topic(made_up));
    assert_eq!(without_topic(foreign.clone()), without_topic(no_topic));

    // Asking for a replay of acme's events from a real sequence number changes nothing.
    let mut dashboard = open(&server, &acme.hr).await;
    subscribe(&mut dashboard, &acme.cycle_id, None).await;
    let snapshot = next_snapshot(&mut dashboard, &acme.cycle_id).await;
    acme.save_draft(false).await;
    next_event(&mut dashboard, &acme.cycle_id).await;
    subscribe(&mut socket, &acme.cycle_id, Some(seq(&snapshot))).await;
    let replay = next_frame(&mut socket).await;
    assert_eq!(without_topic(replay), without_topic(foreign));

    // Globex's HR does follow globex's own cycle on the same socket.
    subscribe(&mut socket, &globex.cycle_id, None).await;
    next_snapshot(&mut socket, &globex.cycle_id).await;
}

#[tokio::test]
async fn malformed_messages_get_bad_request_and_the_socket_stays_usable() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut socket = open(&server, &acme.hr).await;
    let topic = format!("cycle:{}", acme.cycle_id);

    let cases = [
        ("not JSON", Message::text("{not json")),
        (
            "unknown type",
            Message::text(json!({"type": "dance"}).to_string()),
        ),
        (
            "no type",
            Message::text(json!({"topic": topic}).to_string()),
        ),
        (
            "subscribe without a topic",
            Message::text(json!({"type": "subscribe"}).to_string()),
        ),
        (
            "unknown field",
            Message::text(json!({"type": "subscribe", "topic": topic, "x": 1}).to_string()),
        ),
        (
            "since as text",
            Message::text(json!({"type": "subscribe", "topic": topic, "since": "1"}).to_string()),
        ),
        ("binary frame", Message::binary(b"{}".to_vec())),
    ];
    for (case, message) in cases {
        socket.send(message).await.expect("sent");
        let frame = next_frame(&mut socket).await;
        assert_eq!(frame["type"], "error", "{case}: {frame}");
        assert_eq!(frame["code"], "bad_request", "{case}: {frame}");
        assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    subscribe(&mut socket, &acme.cycle_id, None).await;
    next_snapshot(&mut socket, &acme.cycle_id).await;
}

// ---------------------------------------------------------------------------------------
// Snapshots, events and resuming
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_dashboard_gets_a_snapshot_then_an_event_for_each_status_change() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut socket = open(&server, &acme.hr).await;

    subscribe(&mut socket, &acme.cycle_id, None).await;
    let snapshot = next_snapshot(&mut socket, &acme.cycle_id).await;
    let start = acme.progress().await;
    assert_eq!(snapshot["data"], start, "the snapshot is GET progress");

    // The first save: not started → draft.
    acme.save_draft(false).await;
    let drafted = next_event(&mut socket, &acme.cycle_id).await;
    assert_eq!(seq(&drafted), seq(&snapshot) + 1);
    let data = &drafted["data"];
    assert_eq!(count(data, "draft"), count(&start, "draft") + 1);
    assert_eq!(count(data, "not_started"), count(&start, "not_started") - 1);
    assert_eq!(
        data["by_kind"]["self"]["draft"],
        count(&start["by_kind"]["self"], "draft") + 1
    );
    assert_eq!(*data, acme.progress().await, "the event is GET progress");

    // A later save changes no status and sends nothing: the next frame is the submit's.
    acme.save_draft(true).await;
    acme.submit().await;
    let submitted = next_event(&mut socket, &acme.cycle_id).await;
    assert_eq!(seq(&submitted), seq(&drafted) + 1, "{submitted}");
    let data = &submitted["data"];
    assert_eq!(count(data, "submitted"), count(&start, "submitted") + 1);
    assert_eq!(count(data, "draft"), count(&start, "draft"));
    assert_eq!(*data, acme.progress().await);
}

#[tokio::test]
async fn resubscribing_with_since_replays_exactly_the_missed_events() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let other = Company::sign_in(&server, COMPANY, "employee2").await;
    let mut live = open(&server, &acme.hr).await;
    subscribe(&mut live, &acme.cycle_id, None).await;
    let snapshot = next_snapshot(&mut live, &acme.cycle_id).await;

    acme.save_draft(true).await;
    let first = next_event(&mut live, &acme.cycle_id).await;
    acme.submit().await;
    let second = next_event(&mut live, &acme.cycle_id).await;
    drop(live);

    // A dashboard that saw only the snapshot gets both events, in order, as sent live.
    let mut resumed = open(&server, &acme.hr).await;
    subscribe(&mut resumed, &acme.cycle_id, Some(seq(&snapshot))).await;
    assert_eq!(next_frame(&mut resumed).await, first);
    assert_eq!(next_frame(&mut resumed).await, second);
    // Nothing more was replayed: the next frame is a new change's event.
    other.save_draft(false).await;
    let third = next_event(&mut resumed, &acme.cycle_id).await;
    assert_eq!(seq(&third), seq(&second) + 1);

    // One that saw the first event gets only the ones after it.
    let mut later = open(&server, &acme.hr).await;
    subscribe(&mut later, &acme.cycle_id, Some(seq(&first))).await;
    assert_eq!(next_frame(&mut later).await, second);
    assert_eq!(next_frame(&mut later).await, third);
}

#[tokio::test]
async fn since_zero_or_from_the_future_gets_a_fresh_snapshot() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut live = open(&server, &acme.hr).await;
    subscribe(&mut live, &acme.cycle_id, None).await;
    next_snapshot(&mut live, &acme.cycle_id).await;
    acme.save_draft(false).await;
    let event = next_event(&mut live, &acme.cycle_id).await;

    for since in [0, seq(&event) + 1_000, u64::MAX] {
        let mut socket = open(&server, &acme.hr).await;
        subscribe(&mut socket, &acme.cycle_id, Some(since)).await;
        let snapshot = next_snapshot(&mut socket, &acme.cycle_id).await;
        assert_eq!(seq(&snapshot), seq(&event), "since {since}");
        assert_eq!(snapshot["data"], event["data"], "since {since}");
    }
}

#[tokio::test]
async fn unsubscribing_stops_the_events() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut socket = open(&server, &acme.hr).await;
    let topic = format!("cycle:{}", acme.cycle_id);
    subscribe(&mut socket, &acme.cycle_id, None).await;
    next_snapshot(&mut socket, &acme.cycle_id).await;

    send(&mut socket, json!({"type": "unsubscribe", "topic": topic})).await;
    barrier(&mut socket).await;
    acme.save_draft(false).await;

    // Had the event been forwarded, it would come before this subscribe's snapshot.
    subscribe(&mut socket, &acme.cycle_id, None).await;
    let snapshot = next_snapshot(&mut socket, &acme.cycle_id).await;
    assert_eq!(snapshot["data"], acme.progress().await);
}

#[tokio::test]
async fn every_dashboard_hears_every_event_and_another_company_hears_none() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let globex = Company::sign_in(&server, OTHER_COMPANY, "employee1").await;
    let second_hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let mut first = open(&server, &acme.hr).await;
    let mut second = open(&server, &second_hr).await;
    let mut outsider = open(&server, &globex.hr).await;
    subscribe(&mut first, &acme.cycle_id, None).await;
    subscribe(&mut second, &acme.cycle_id, None).await;
    subscribe(&mut outsider, &globex.cycle_id, None).await;
    let snapshot = next_snapshot(&mut first, &acme.cycle_id).await;
    assert_eq!(next_snapshot(&mut second, &acme.cycle_id).await, snapshot);
    let globex_snapshot = next_snapshot(&mut outsider, &globex.cycle_id).await;

    acme.save_draft(true).await;
    acme.submit().await;
    for socket in [&mut first, &mut second] {
        let drafted = next_event(socket, &acme.cycle_id).await;
        let submitted = next_event(socket, &acme.cycle_id).await;
        assert_eq!(seq(&drafted), seq(&snapshot) + 1);
        assert_eq!(seq(&submitted), seq(&snapshot) + 2);
    }

    // Acme's events have gone out. Had globex's dashboard been sent one, it would come
    // before the event of this globex save.
    globex.save_draft(false).await;
    let own = next_event(&mut outsider, &globex.cycle_id).await;
    assert_eq!(seq(&own), seq(&globex_snapshot) + 1);
    assert_eq!(own["data"], globex.progress().await);
    // And nothing trails behind it. This is the one wait for silence: a leaked frame
    // would already be queued by now, so a short window suffices and keeps the test fast.
    let after = next_within(&mut outsider, Duration::from_millis(300)).await;
    assert!(matches!(after, Next::Silent), "{after:?}");
}

// ---------------------------------------------------------------------------------------
// How sockets end
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn logout_closes_that_sessions_sockets_and_no_others() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let staying = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let mut leaving_socket = open(&server, &acme.hr).await;
    let mut staying_socket = open(&server, &staying).await;
    subscribe(&mut leaving_socket, &acme.cycle_id, None).await;
    subscribe(&mut staying_socket, &acme.cycle_id, None).await;
    next_snapshot(&mut leaving_socket, &acme.cycle_id).await;
    next_snapshot(&mut staying_socket, &acme.cycle_id).await;

    let logout = acme.hr.request(Method::POST, "/api/v1/auth/logout");
    assert_eq!(acme.hr.send(logout).await.0, StatusCode::NO_CONTENT);

    match next_within(&mut leaving_socket, FRAME_TIMEOUT).await {
        Next::Closed(Some(4001)) => {}
        other => panic!("the logged-out socket closes with 4001, got {other:?}"),
    }
    acme.save_draft(false).await;
    next_event(&mut staying_socket, &acme.cycle_id).await;
}

#[tokio::test]
async fn a_demoted_hr_admin_hears_no_more_of_the_cycle_and_is_signed_out() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let (status, body) = acme
        .hr
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": server.password }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, users) = acme.hr.get("/api/v1/admin/users").await;
    let manager_id = users
        .as_array()
        .expect("a list")
        .iter()
        .find(|u| u["email"] == email("manager", COMPANY))
        .and_then(|u| u["id"].as_str())
        .expect("the demo manager")
        .to_owned();
    let path = format!("/api/v1/admin/users/{manager_id}");

    // The manager is made a second HR admin and follows the cycle.
    let (status, body) = acme.hr.patch(&path, json!({"role": "hr_admin"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second_admin = server.sign_in(COMPANY, &email("manager", COMPANY)).await;
    let mut demoted = open(&server, &second_admin).await;
    let mut staying = open(&server, &acme.hr).await;
    subscribe(&mut demoted, &acme.cycle_id, None).await;
    subscribe(&mut staying, &acme.cycle_id, None).await;
    next_snapshot(&mut demoted, &acme.cycle_id).await;
    next_snapshot(&mut staying, &acme.cycle_id).await;

    // Demoted: the next status change reaches the remaining admin only, and the
    // demoted admin's socket ends as signed out, with no event before that.
    let (status, body) = acme.hr.patch(&path, json!({"role": "employee"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    acme.save_draft(false).await;
    next_event(&mut staying, &acme.cycle_id).await;
    match next_within(&mut demoted, FRAME_TIMEOUT).await {
        Next::Closed(Some(4001)) => {}
        other => panic!("the demoted admin's socket closes with 4001, got {other:?}"),
    }
}

#[tokio::test]
async fn graceful_shutdown_closes_open_sockets_with_going_away() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut socket = open(&server, &acme.hr).await;
    subscribe(&mut socket, &acme.cycle_id, None).await;
    next_snapshot(&mut socket, &acme.cycle_id).await;

    let stopping = tokio::spawn(server.stop());
    let goodbye = next_within(&mut socket, SHUTDOWN_TIMEOUT).await;

    assert!(matches!(goodbye, Next::Closed(Some(1001))), "{goodbye:?}");
    tokio::time::timeout(SHUTDOWN_TIMEOUT, stopping)
        .await
        .expect("the server stops in time")
        .expect("the stop task ends");
}

#[tokio::test]
async fn a_message_over_16_kib_closes_with_1009() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut socket = open(&server, &acme.hr).await;

    let big = json!({"type": "subscribe", "topic": "x".repeat(20 * 1024)});
    send(&mut socket, big).await;

    let end = next_within(&mut socket, FRAME_TIMEOUT).await;
    assert!(matches!(end, Next::Closed(Some(1009))), "{end:?}");
}

#[tokio::test]
async fn a_flood_of_messages_is_refused_then_closed_with_1008() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut socket = open(&server, &acme.hr).await;
    let mut calm = open(&server, &acme.hr).await;

    // Harmless messages, far more than a second's worth; the server may close before
    // all are sent.
    let unsubscribe = json!({"type": "unsubscribe", "topic": "cycle:none"}).to_string();
    for _ in 0..1000 {
        if socket
            .send(Message::text(unsubscribe.clone()))
            .await
            .is_err()
        {
            break;
        }
    }

    let mut rate_limited = 0;
    let end = loop {
        match next_within(&mut socket, FRAME_TIMEOUT).await {
            Next::Frame(frame) => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                rate_limited += 1;
            }
            other => break other,
        }
    };
    assert!(
        rate_limited > 0,
        "refusals come before the close, got {end:?}"
    );
    assert!(matches!(end, Next::Closed(Some(1008))), "{end:?}");

    // Another connection of the same session is not affected.
    subscribe(&mut calm, &acme.cycle_id, None).await;
    next_snapshot(&mut calm, &acme.cycle_id).await;
}

#[tokio::test]
async fn garbled_messages_again_and_again_close_with_1008() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut socket = open(&server, &acme.hr).await;

    // Each garbled message is answered until the budget for refusals is spent.
    let mut answered = 0;
    let end = loop {
        if socket.send(Message::text("{garbled")).await.is_err() {
            break next_within(&mut socket, FRAME_TIMEOUT).await;
        }
        match next_within(&mut socket, FRAME_TIMEOUT).await {
            Next::Frame(frame) => {
                assert_eq!(frame["code"], "bad_request", "{frame}");
                answered += 1;
                assert!(answered <= 100, "the server never closed");
            }
            other => break other,
        }
    };
    assert!(answered >= 5, "a few mistakes are answered, not punished");
    assert!(matches!(end, Next::Closed(Some(1008))), "{end:?}");
}

#[tokio::test]
async fn an_oversized_frame_closes_the_socket_and_the_server_lives_on() {
    let server = TestServer::demo().await;
    let acme = Company::sign_in(&server, COMPANY, "employee1").await;
    let mut socket = open(&server, &acme.hr).await;

    // The server may close as soon as the frame's header announces its size, so the
    // send itself may fail; the socket's end is what counts.
    let huge = json!({"type": "subscribe", "topic": "x".repeat(100 * 1024)});
    let _ = socket.send(Message::text(huge.to_string())).await;
    let end = next_within(&mut socket, FRAME_TIMEOUT).await;
    assert!(
        matches!(end, Next::Closed(_)),
        "the socket is closed, got {end:?}"
    );

    let (status, _) = server.anonymous().get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let mut fresh = open(&server, &acme.hr).await;
    subscribe(&mut fresh, &acme.cycle_id, None).await;
    next_snapshot(&mut fresh, &acme.cycle_id).await;
    let (_, me) = acme.hr.get("/api/v1/me").await;
    assert_eq!(code(&me), "", "the session is still good: {me}");
}
