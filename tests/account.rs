//! Black-box tests of account security: the sign-in rate limits, the client address behind
//! a trusted proxy, reauthentication, the company's security policy (who may change it,
//! what it accepts, address ranges, remember-me), password changes, the user's own
//! sessions and the audit trail all of these leave.
//!
//! Each test starts its own server over a copy of the demo data, so the rate limits and
//! policies of one test never reach another. Rules are tables: one row per caller, route
//! or input. Every wait is for an answer or a frame, bounded by a timeout; nothing sleeps.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Client, PASSWORD, TestServer, code};
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The demo company most tests act in.
const COMPANY: &str = "acme";

/// The other demo company, which acme's rules must never reach.
const OTHER_COMPANY: &str = "globex";

/// An address inside the range the address-rule tests allow.
const INSIDE: &str = "203.0.113.50";

/// The range the address-rule tests allow.
const INSIDE_RANGE: &str = "203.0.113.0/24";

/// An address outside that range.
const OUTSIDE: &str = "198.51.100.7";

/// How long a frame or a close may take to arrive. They come within milliseconds; this
/// only bounds a failing test.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// The lifetime of a remember-me cookie with the default of 30 days, in seconds.
const REMEMBER_ME_SECONDS: u64 = 30 * 24 * 3600;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The email of a demo user of a company, by the local part.
fn email(local: &str, company: &str) -> String {
    format!("{local}@{company}.example")
}

/// Starts a server that believes `X-Forwarded-For` from loopback, as if a proxy on the
/// same host forwarded every request.
async fn behind_proxy() -> TestServer {
    TestServer::demo_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a range")];
    })
    .await
}

/// A client without a session. Its requests carry `X-Forwarded-For: forwarded_for` and
/// `User-Agent: user_agent` when given.
fn client(server: &TestServer, forwarded_for: Option<&str>, user_agent: Option<&str>) -> Client {
    let mut headers = HeaderMap::new();
    if let Some(address) = forwarded_for {
        let value = HeaderValue::from_str(address).expect("a header value");
        headers.insert("x-forwarded-for", value);
    }
    if let Some(agent) = user_agent {
        let value = HeaderValue::from_str(agent).expect("a header value");
        headers.insert("user-agent", value);
    }
    Client {
        http: reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("an HTTP client"),
        base: server.base.clone(),
        cookie: None,
    }
}

/// A client without a session, its requests forwarded from `address`.
fn from(server: &TestServer, address: &str) -> Client {
    client(server, Some(address), None)
}

/// What a sign-in attempt answered.
#[derive(Debug)]
struct Attempt {
    status: StatusCode,
    code: String,
    /// `kz_session=…`, when a session was opened.
    cookie: Option<String>,
    /// The session cookie's `Max-Age`, when it has one.
    max_age: Option<u64>,
    /// `kz_remember=…`, when a remember-me token was issued.
    remember: Option<String>,
    /// The remember-me cookie's `Max-Age`.
    remember_max_age: Option<u64>,
    /// The `Retry-After` header, when present.
    retry_after: Option<String>,
}

impl Attempt {
    /// The status and error code, for comparing sequences of attempts.
    fn outcome(&self) -> (u16, &str) {
        (self.status.as_u16(), self.code.as_str())
    }
}

/// Tries to sign in from `from`'s address and user agent.
async fn attempt(
    from: &Client,
    company: &str,
    email: &str,
    password: &str,
    remember_me: bool,
) -> Attempt {
    let body = json!({
        "company": company, "email": email, "password": password, "remember_me": remember_me
    });
    let response = from
        .http
        .post(format!("{}/api/v1/auth/login", from.base))
        .json(&body)
        .send()
        .await
        .expect("the login request is answered");
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = header("retry-after");
    let (cookie, max_age) = set_cookie(response.headers(), "kz_session");
    let (remember, remember_max_age) = set_cookie(response.headers(), "kz_remember");
    let text = response.text().await.expect("a readable body");
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Attempt {
        status,
        code: code(&body).to_owned(),
        cookie,
        max_age,
        remember,
        remember_max_age,
        retry_after,
    }
}

/// The `name=value` pair and the `Max-Age` of the cookie `name` that an answer sets.
fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> (Option<String>, Option<u64>) {
    let Some(attributes) = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').map(str::trim).collect::<Vec<_>>())
        .find(|attributes| attributes[0].starts_with(&format!("{name}=")))
    else {
        return (None, None);
    };
    let max_age = attributes
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .map(|seconds| seconds.parse().expect("Max-Age is a number"));
    (Some(attributes[0].to_owned()), max_age)
}

/// `from` with the session a successful attempt opened.
fn with_session(from: &Client, attempt: &Attempt) -> Client {
    assert_eq!(
        attempt.status,
        StatusCode::OK,
        "the sign-in succeeds: {attempt:?}"
    );
    Client {
        cookie: Some(attempt.cookie.clone().expect("a session cookie")),
        ..from.clone()
    }
}

/// `from` as a browser that comes back with the remember-me cookie a successful attempt
/// set, and no session.
fn returning(from: &Client, attempt: &Attempt) -> Client {
    Client {
        cookie: Some(attempt.remember.clone().expect("a remember-me cookie")),
        ..from.clone()
    }
}

/// Signs in from `from`'s address with the given password; must succeed.
async fn sign_in(from: &Client, company: &str, email: &str, password: &str) -> Client {
    let answer = attempt(from, company, email, password, false).await;
    with_session(from, &answer)
}

/// Signs in an acme demo user by the local part of the email, from `from`'s address.
async fn acme(from: &Client, local: &str) -> Client {
    sign_in(from, COMPANY, &email(local, COMPANY), PASSWORD).await
}

/// Checks that an attempt was refused by a rate limit with a usable `Retry-After`.
fn assert_rate_limited(attempt: &Attempt, at_most_seconds: u64) {
    assert_eq!(
        attempt.outcome(),
        (429, "rate_limited"),
        "rate limited: {attempt:?}"
    );
    let seconds: u64 = attempt
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in whole seconds: {attempt:?}"));
    assert!(
        (1..=at_most_seconds).contains(&seconds),
        "Retry-After from 1 to {at_most_seconds} seconds: {attempt:?}"
    );
}

/// How many attempts had each outcome: answered 401, refused 429, anything else.
fn tally(attempts: &[Attempt]) -> (usize, usize, usize) {
    let count = |outcome: (u16, &str)| attempts.iter().filter(|a| a.outcome() == outcome).count();
    let answered = count((401, "invalid_credentials"));
    let limited = count((429, "rate_limited"));
    (answered, limited, attempts.len() - answered - limited)
}

/// Sends a JSON body with PUT.
async fn put(client: &Client, path: &str, body: Value) -> (StatusCode, Value) {
    client
        .send(client.request(Method::PUT, path).json(&body))
        .await
}

/// Sends a DELETE.
async fn delete(client: &Client, path: &str) -> (StatusCode, Value) {
    client.send(client.request(Method::DELETE, path)).await
}

/// Confirms the password again.
async fn reauthenticate(client: &Client, password: &str) -> (StatusCode, Value) {
    let body = json!({ "password": password });
    client.post("/api/v1/auth/reauthenticate", body).await
}

/// Confirms the password again; must succeed.
async fn elevate(client: &Client) {
    let (status, body) = reauthenticate(client, PASSWORD).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "reauthenticated: {body}");
}

/// A security policy body.
fn policy(min_password_length: i64, remember_me_allowed: bool, ranges: &[&str]) -> Value {
    json!({
        "min_password_length": min_password_length,
        "remember_me_allowed": remember_me_allowed,
        "second_factor_required": false,
        "ip_ranges": ranges,
    })
}

/// The policy of a company that never changed it.
fn default_policy() -> Value {
    policy(8, true, &[])
}

/// Replaces the security policy.
async fn put_policy(hr: &Client, body: Value) -> (StatusCode, Value) {
    put(hr, "/api/v1/admin/security-policy", body).await
}

/// Reauthenticates the HR admin and replaces the policy; must succeed.
async fn change_policy(hr: &Client, body: Value) {
    elevate(hr).await;
    let (status, answer) = put_policy(hr, body).await;
    assert_eq!(status, StatusCode::OK, "the policy is saved: {answer}");
}

/// The company's security policy as its HR admin reads it.
async fn read_policy(hr: &Client) -> Value {
    let (status, body) = hr.get("/api/v1/admin/security-policy").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Changes the signed-in user's password.
async fn change_password(client: &Client, current: &str, new: &str) -> (StatusCode, Value) {
    let body = json!({ "current_password": current, "new_password": new });
    put(client, "/api/v1/me/password", body).await
}

/// The status and error code `GET /api/v1/me` answers.
async fn me(client: &Client) -> (u16, String) {
    let (status, body) = client.get("/api/v1/me").await;
    (status.as_u16(), code(&body).to_owned())
}

/// The signed-in user's id.
async fn my_id(client: &Client) -> String {
    let (status, body) = client.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

/// The signed-in user's sessions.
async fn own_sessions(client: &Client) -> Vec<Value> {
    let (status, body) = client.get("/api/v1/me/sessions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("a list of sessions").clone()
}

/// The session making the request, as the sessions list shows it; there must be
/// exactly one marked current.
async fn current_session(client: &Client) -> Value {
    let sessions = own_sessions(client).await;
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(
        current.len(),
        1,
        "exactly one current session: {sessions:?}"
    );
    current[0].clone()
}

/// The id of the session making the request.
async fn current_session_id(client: &Client) -> String {
    let session = current_session(client).await;
    session["id"].as_str().expect("an id").to_owned()
}

/// The id of the company's open cycle.
async fn open_cycle(hr: &Client) -> String {
    let (status, cycles) = hr.get("/api/v1/cycles").await;
    assert_eq!(status, StatusCode::OK, "{cycles}");
    cycles
        .as_array()
        .and_then(|list| list.iter().find(|c| c["status"] == "open"))
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("an open cycle in {cycles}"))
        .to_owned()
}

/// Opens a live connection with `client`'s session from the server's own page,
/// forwarded from `forwarded_for` when given.
async fn connect(
    server: &TestServer,
    client: &Client,
    forwarded_for: Option<&str>,
) -> Result<Socket, tungstenite::Error> {
    let mut request = server
        .live_url()
        .into_client_request()
        .expect("a WebSocket request");
    let headers = request.headers_mut();
    let cookie = client.cookie.as_deref().expect("a signed-in client");
    headers.insert("cookie", cookie.parse().expect("a header value"));
    headers.insert("origin", server.base.parse().expect("a header value"));
    if let Some(address) = forwarded_for {
        headers.insert("x-forwarded-for", address.parse().expect("a header value"));
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// Opens a live connection; it must open.
async fn open_socket(server: &TestServer, client: &Client, forwarded_for: Option<&str>) -> Socket {
    connect(server, client, forwarded_for)
        .await
        .expect("the live connection opens")
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

/// The next frame, close or silence within [`FRAME_TIMEOUT`]; pings and pongs are
/// skipped (the client library answers pings itself).
async fn next(socket: &mut Socket) -> Next {
    let deadline = tokio::time::Instant::now() + FRAME_TIMEOUT;
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

/// Subscribes to the cycle's topic and waits for its snapshot.
async fn follow_cycle(socket: &mut Socket, cycle_id: &str) {
    let topic = format!("cycle:{cycle_id}");
    let message = json!({"type": "subscribe", "topic": topic});
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("the subscription is sent");
    match next(socket).await {
        Next::Frame(frame) if frame["type"] == "snapshot" && frame["topic"] == topic => {}
        other => panic!("expected the snapshot of {topic}, got {other:?}"),
    }
}

/// Waits for the server to close the socket for an ended session: a close frame with
/// code 4001 (session ended), or the stream simply ending.
async fn assert_closes(socket: &mut Socket, why: &str) {
    match next(socket).await {
        Next::Closed(None) | Next::Closed(Some(4001)) => {}
        other => panic!("{why}: expected the socket to close with 4001, got {other:?}"),
    }
}

/// Checks that the socket is still served: the answer to a malformed message comes back.
async fn assert_open(socket: &mut Socket, why: &str) {
    socket
        .send(Message::text("ping?"))
        .await
        .unwrap_or_else(|e| panic!("{why}: the socket takes a message: {e}"));
    match next(socket).await {
        Next::Frame(frame) if frame["type"] == "error" && frame["code"] == "bad_request" => {}
        other => panic!("{why}: expected the socket to answer, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Sign-in rate limits
// ---------------------------------------------------------------------------------------

/// Twelve wrong passwords for one account at once from one address: the account and
/// address limit lets five through to a password check and refuses the rest, counted
/// exactly however the attempts interleave. The right password is refused too while
/// limited, and the real user at another address signs in.
#[tokio::test]
async fn parallel_wrong_passwords_for_one_account_get_five_answers_then_rate_limited() {
    let server = behind_proxy().await;
    let attacker = from(&server, OUTSIDE);
    let account = email("employee1", COMPANY);

    let guesses: Vec<String> = (0..12).map(|n| format!("guess-{n}")).collect();
    let attempts = join_all(
        guesses
            .iter()
            .map(|guess| attempt(&attacker, COMPANY, &account, guess, false)),
    )
    .await;
    assert_eq!(tally(&attempts), (5, 7, 0), "{attempts:#?}");
    for refused in attempts.iter().filter(|a| a.status.as_u16() == 429) {
        assert_rate_limited(refused, 30);
    }

    let right = attempt(&attacker, COMPANY, &account, PASSWORD, false).await;
    assert_rate_limited(&right, 30);

    let user = attempt(&from(&server, INSIDE), COMPANY, &account, PASSWORD, false).await;
    assert_eq!(user.outcome(), (200, ""), "{user:?}");
}

/// The limits are checked before the account is looked up, so an unknown email and an
/// unknown company get exactly the answers a real account gets: five 401s, then 429s.
#[tokio::test]
async fn an_unknown_account_is_limited_exactly_like_a_real_one() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let accounts = [
        (
            "real account, wrong password",
            COMPANY,
            email("employee1", COMPANY),
        ),
        ("unknown email", COMPANY, email("nobody", COMPANY)),
        ("unknown company", "initech", email("employee1", "initech")),
    ];
    let mut expected = vec![(401, "invalid_credentials"); 5];
    expected.extend([(429, "rate_limited"); 2]);

    for (case, company, account) in accounts {
        let mut attempts = Vec::new();
        for n in 0..expected.len() {
            let password = format!("wrong-password-{n}");
            attempts.push(attempt(&visitor, company, &account, &password, false).await);
        }
        let outcomes: Vec<(u16, &str)> = attempts.iter().map(Attempt::outcome).collect();
        assert_eq!(outcomes, expected, "{case}");
        for refused in &attempts[5..] {
            assert_rate_limited(refused, 30);
        }
    }
}

/// One address trying many accounts gets thirty attempts at once, then a 429; another
/// address is not held up by it.
#[tokio::test]
async fn one_address_trying_many_accounts_is_limited_after_thirty_attempts() {
    let server = behind_proxy().await;
    let attacker = from(&server, OUTSIDE);
    let accounts: Vec<String> = (0..34)
        .map(|n| email(&format!("guess{n}"), COMPANY))
        .collect();

    let started = std::time::Instant::now();
    let attempts = join_all(
        accounts
            .iter()
            .map(|account| attempt(&attacker, COMPANY, account, "wrong-password", false)),
    )
    .await;
    // One more attempt is earned every 2 s. The burst takes milliseconds, but a loaded
    // machine may stretch it, and only then may more than thirty be answered.
    let earned = (started.elapsed().as_secs() / 2) as usize;
    let (answered, limited, other) = tally(&attempts);
    assert!(
        (30..=30 + earned).contains(&answered) && answered + limited == 34 && other == 0,
        "thirty answered ({earned} more earned while sending): {attempts:#?}"
    );
    for refused in attempts.iter().filter(|a| a.status.as_u16() == 429) {
        assert_rate_limited(refused, 2);
    }

    let elsewhere = attempt(
        &from(&server, INSIDE),
        COMPANY,
        &email("guess0", COMPANY),
        "wrong-password",
        false,
    )
    .await;
    assert_eq!(
        elsewhere.outcome(),
        (401, "invalid_credentials"),
        "{elsewhere:?}"
    );
}

/// Attempts on one account from many addresses (a botnet) are limited too: twenty at
/// once, then 429.
#[tokio::test]
async fn an_account_tried_from_many_addresses_is_limited_after_twenty_attempts() {
    let server = behind_proxy().await;
    let bots: Vec<Client> = (1..=24)
        .map(|n| from(&server, &format!("198.51.100.{n}")))
        .collect();
    let account = email("employee1", COMPANY);

    let attempts = join_all(
        bots.iter()
            .map(|bot| attempt(bot, COMPANY, &account, "wrong-password", false)),
    )
    .await;
    assert_eq!(tally(&attempts), (20, 4, 0), "{attempts:#?}");
    for refused in attempts.iter().filter(|a| a.status.as_u16() == 429) {
        assert_rate_limited(refused, 15);
    }
}

/// An attacker at one address who keeps trying after being refused must not use up
/// the account's budget for everyone else: attempts refused by the account-and-address
/// limit never reach a password check and must not count against the account.
#[tokio::test]
async fn one_address_cannot_lock_an_account_out_for_other_addresses() {
    let server = behind_proxy().await;
    let attacker = from(&server, OUTSIDE);
    let account = email("employee1", COMPANY);

    let guesses: Vec<String> = (0..25).map(|n| format!("guess-{n}")).collect();
    let attempts = join_all(
        guesses
            .iter()
            .map(|guess| attempt(&attacker, COMPANY, &account, guess, false)),
    )
    .await;
    assert_eq!(tally(&attempts), (5, 20, 0), "{attempts:#?}");

    let user = attempt(&from(&server, INSIDE), COMPANY, &account, PASSWORD, false).await;
    assert_eq!(
        user.outcome(),
        (200, ""),
        "the real user at another address signs in: {user:?}"
    );
}

/// A successful sign-in forgets the account's failures from that address: after four
/// typos and a success, five more wrong passwords are answered before the limit bites.
#[tokio::test]
async fn a_successful_sign_in_forgets_the_accounts_failures_from_that_address() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let account = email("employee1", COMPANY);

    for n in 0..4 {
        let typo = attempt(&visitor, COMPANY, &account, &format!("typo-{n}"), false).await;
        assert_eq!(typo.outcome(), (401, "invalid_credentials"), "{typo:?}");
    }
    let success = attempt(&visitor, COMPANY, &account, PASSWORD, false).await;
    assert_eq!(success.outcome(), (200, ""), "{success:?}");

    for n in 0..5 {
        let typo = attempt(&visitor, COMPANY, &account, &format!("later-{n}"), false).await;
        assert_eq!(typo.outcome(), (401, "invalid_credentials"), "{typo:?}");
    }
    let limited = attempt(&visitor, COMPANY, &account, "one-too-many", false).await;
    assert_rate_limited(&limited, 30);
}

// ---------------------------------------------------------------------------------------
// The client address
// ---------------------------------------------------------------------------------------

/// Without a trusted proxy, `X-Forwarded-For` is the client's own claim and is ignored:
/// sessions record the TCP peer and rate limits key on it, whatever the header says.
#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let server = TestServer::demo().await;

    let spoofer = from(&server, "203.0.113.9");
    let session = acme(&spoofer, "employee1").await;
    let current = current_session(&session).await;
    assert_eq!(current["ip"], "127.0.0.1", "{current}");

    let account = email("employee2", COMPANY);
    for n in 1..=5 {
        let spoofed = from(&server, &format!("203.0.113.{n}"));
        let answer = attempt(&spoofed, COMPANY, &account, "wrong-password", false).await;
        assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");
    }
    let fresh_claim = from(&server, "203.0.113.99");
    let answer = attempt(&fresh_claim, COMPANY, &account, "wrong-password", false).await;
    assert_rate_limited(&answer, 30);
}

/// Behind a trusted proxy the client is the rightmost hop of `X-Forwarded-For` that is
/// not itself a trusted proxy; hops further left were written by the client and prove
/// nothing.
#[tokio::test]
async fn forwarded_for_from_a_trusted_proxy_names_the_client() {
    let server = behind_proxy().await;
    let cases = [
        (Some("203.0.113.9"), "203.0.113.9"),
        (Some("198.51.100.1, 203.0.113.9"), "203.0.113.9"),
        (Some("203.0.113.9, 127.0.0.1"), "203.0.113.9"),
        (Some("::ffff:203.0.113.10"), "203.0.113.10"),
        (Some("2001:db8::7"), "2001:db8::7"),
        // A trusted proxy that names no client leaves the client unknown, never the
        // proxy itself; so do unreadable hops. Hops with ports are read.
        (None, "0.0.0.0"),
        (Some("unknown"), "0.0.0.0"),
        (Some("203.0.113.9:5555"), "203.0.113.9"),
        (Some("[2001:db8::1]:443"), "2001:db8::1"),
    ];
    for (forwarded_for, expected) in cases {
        let visitor = client(&server, forwarded_for, None);
        let session = acme(&visitor, "employee1").await;
        let current = current_session(&session).await;
        assert_eq!(current["ip"], expected, "X-Forwarded-For {forwarded_for:?}");
    }
}

/// Behind a trusted proxy each forwarded address has its own budget, and a client cannot
/// escape its budget by writing another address to the left of its own.
#[tokio::test]
async fn rate_limits_key_on_the_forwarded_client_address() {
    let server = behind_proxy().await;
    let account = email("employee2", COMPANY);
    let first = from(&server, OUTSIDE);

    for _ in 0..5 {
        let answer = attempt(&first, COMPANY, &account, "wrong-password", false).await;
        assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");
    }
    let again = attempt(&first, COMPANY, &account, "wrong-password", false).await;
    assert_rate_limited(&again, 30);

    let disguised = from(&server, &format!("198.51.100.8, {OUTSIDE}"));
    let answer = attempt(&disguised, COMPANY, &account, "wrong-password", false).await;
    assert_rate_limited(&answer, 30);

    let second = from(&server, "198.51.100.8");
    let answer = attempt(&second, COMPANY, &account, "wrong-password", false).await;
    assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");
}

/// An account is one account however its company and email are written: case and
/// surrounding spaces do not buy an attacker fresh attempts.
#[tokio::test]
async fn the_limit_counts_an_account_however_it_is_written() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let spellings = [
        ("acme", "employee1@acme.example"),
        ("ACME", "employee1@acme.example"),
        ("acme", "Employee1@ACME.example"),
        (" acme ", " employee1@acme.example "),
        ("Acme", "EMPLOYEE1@Acme.Example"),
    ];
    for (company, account) in spellings {
        let answer = attempt(&visitor, company, account, "wrong-password", false).await;
        assert_eq!(
            answer.outcome(),
            (401, "invalid_credentials"),
            "{account:?}"
        );
    }
    let answer = attempt(&visitor, COMPANY, "EMPLOYEE1@acme.example", "wrong", false).await;
    assert_rate_limited(&answer, 30);
}

/// An IPv6 client usually holds a whole /64, so the address limits key on the /64: a
/// client cannot rotate through its own network for fresh attempts, while a neighbouring
/// network has its own budget.
#[tokio::test]
async fn ipv6_clients_share_a_budget_per_64_bit_network() {
    let server = behind_proxy().await;
    let account = email("employee2", COMPANY);
    for n in 1..=5 {
        let rotating = from(&server, &format!("2001:db8:1:2::{n}"));
        let answer = attempt(&rotating, COMPANY, &account, "wrong-password", false).await;
        assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");
    }
    let same_network = from(&server, "2001:db8:1:2:ffff:ffff:ffff:ffff");
    let answer = attempt(&same_network, COMPANY, &account, "wrong-password", false).await;
    assert_rate_limited(&answer, 30);

    let next_network = from(&server, "2001:db8:1:3::1");
    let answer = attempt(&next_network, COMPANY, &account, "wrong-password", false).await;
    assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");
}

// ---------------------------------------------------------------------------------------
// Reauthentication
// ---------------------------------------------------------------------------------------

/// Reauthentication takes the current password and nothing else.
#[tokio::test]
async fn reauthentication_accepts_only_the_current_password() {
    let server = TestServer::demo().await;
    let employee = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;

    let (status, body) = reauthenticate(&employee, "not my password").await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (401, "invalid_credentials"),
        "{body}"
    );
    let (status, body) = reauthenticate(&employee, PASSWORD).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, body) = reauthenticate(&server.anonymous(), PASSWORD).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (401, "unauthenticated"),
        "{body}"
    );
}

/// Password checks of a signed-in user are limited per user, not per session: five at
/// once, then 429 even for the right password and from the user's other sessions, and
/// password changes share the budget. Other users are not affected.
#[tokio::test]
async fn reauthentication_attempts_are_limited_per_user() {
    let server = TestServer::demo().await;
    let hr = email("hr", COMPANY);
    let first = server.sign_in(COMPANY, &hr).await;
    let second = server.sign_in(COMPANY, &hr).await;
    let colleague = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;

    let guesses: Vec<String> = (0..8).map(|n| format!("guess-{n}")).collect();
    let answers = join_all(guesses.iter().map(|guess| reauthenticate(&first, guess))).await;
    let outcomes: Vec<(u16, &str)> = answers
        .iter()
        .map(|(status, body)| (status.as_u16(), code(body)))
        .collect();
    let count = |outcome| outcomes.iter().filter(|o| **o == outcome).count();
    assert_eq!(count((401, "invalid_credentials")), 5, "{outcomes:?}");
    assert_eq!(count((429, "rate_limited")), 3, "{outcomes:?}");

    let refusals = [
        ("the right password", reauthenticate(&first, PASSWORD).await),
        ("another session", reauthenticate(&second, PASSWORD).await),
        (
            "a password change",
            change_password(&second, PASSWORD, "quiet harbor lantern 4217").await,
        ),
    ];
    for (case, (status, body)) in refusals {
        assert_eq!(
            (status.as_u16(), code(&body)),
            (429, "rate_limited"),
            "{case}: {body}"
        );
    }

    let (status, body) = reauthenticate(&colleague, PASSWORD).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "another user: {body}");
}

/// Changing the policy needs a reauthentication of the same session: none, or a failed
/// one, is 403 `reauthentication_required`; the admin's other session is not elevated
/// by it.
#[tokio::test]
async fn changing_the_security_policy_needs_a_recent_reauthentication() {
    let server = TestServer::demo().await;
    let hr = email("hr", COMPANY);
    let admin = server.sign_in(COMPANY, &hr).await;
    let other_tab = server.sign_in(COMPANY, &hr).await;
    let stricter = policy(10, true, &[]);

    let (status, body) = put_policy(&admin, stricter.clone()).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (403, "reauthentication_required"),
        "{body}"
    );

    let (status, _) = reauthenticate(&admin, "not my password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = put_policy(&admin, stricter.clone()).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (403, "reauthentication_required"),
        "after a failed reauthentication: {body}"
    );

    elevate(&admin).await;
    let (status, body) = put_policy(&admin, stricter.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, stricter);
    assert_eq!(read_policy(&admin).await, stricter);

    let (status, body) = put_policy(&other_tab, default_policy()).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (403, "reauthentication_required"),
        "another session of the same admin: {body}"
    );
}

// ---------------------------------------------------------------------------------------
// The security policy
// ---------------------------------------------------------------------------------------

/// Only HR admins read and change the policy; employees and managers get 403 `forbidden`
/// even after reauthenticating.
#[tokio::test]
async fn only_hr_admins_read_and_change_the_security_policy() {
    let server = TestServer::demo().await;
    let callers = [
        ("employee1", 403, "forbidden", 403, "forbidden"),
        ("manager", 403, "forbidden", 403, "forbidden"),
        ("ceo", 403, "forbidden", 403, "forbidden"),
        ("hr", 200, "", 200, ""),
    ];
    for (local, get_status, get_code, put_status, put_code) in callers {
        let caller = server.sign_in(COMPANY, &email(local, COMPANY)).await;
        let (status, body) = caller.get("/api/v1/admin/security-policy").await;
        assert_eq!(
            (status.as_u16(), code(&body)),
            (get_status, get_code),
            "GET as {local}: {body}"
        );
        if status == StatusCode::OK {
            assert_eq!(body, default_policy(), "the default policy");
        }

        elevate(&caller).await;
        let (status, body) = put_policy(&caller, policy(9, true, &[])).await;
        assert_eq!(
            (status.as_u16(), code(&body)),
            (put_status, put_code),
            "PUT as {local}: {body}"
        );
    }
}

/// A policy that breaks a rule is refused with 422 and changes nothing; the bounds of
/// the minimum length are accepted.
#[tokio::test]
async fn security_policies_that_break_a_rule_are_refused() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    elevate(&hr).await;

    let with = |key: &str, value: Value| {
        let mut body = default_policy();
        body[key] = value;
        body
    };
    let mut unknown_field = default_policy();
    unknown_field["lockout_minutes"] = json!(5);
    let mut missing_field = default_policy();
    missing_field
        .as_object_mut()
        .expect("an object")
        .remove("ip_ranges");
    let too_many_ranges: Vec<String> = (0..101).map(|n| format!("10.0.{n}.0/24")).collect();
    let refused = [
        ("an unknown field", unknown_field),
        ("a missing field", missing_field),
        (
            "a minimum length as a string",
            with("min_password_length", json!("12")),
        ),
        (
            "a minimum length of 7",
            with("min_password_length", json!(7)),
        ),
        (
            "a minimum length of 0",
            with("min_password_length", json!(0)),
        ),
        (
            "a negative minimum length",
            with("min_password_length", json!(-8)),
        ),
        (
            "a minimum length of 129",
            with("min_password_length", json!(129)),
        ),
        (
            "a prefix over 32",
            with("ip_ranges", json!(["203.0.113.0/33"])),
        ),
        (
            "an IPv6 prefix over 128",
            with("ip_ranges", json!(["2001:db8::/129"])),
        ),
        (
            "a truncated address",
            with("ip_ranges", json!(["203.0.113/24"])),
        ),
        (
            "an empty prefix",
            with("ip_ranges", json!(["203.0.113.0/"])),
        ),
        ("a word", with("ip_ranges", json!(["the office"]))),
        (
            "a good and a bad range",
            with("ip_ranges", json!([INSIDE_RANGE, "x/8"])),
        ),
        ("101 ranges", with("ip_ranges", json!(too_many_ranges))),
    ];
    for (case, body) in refused {
        let (status, answer) = put_policy(&hr, body).await;
        assert_eq!(
            (status.as_u16(), code(&answer)),
            (422, "validation_failed"),
            "{case}: {answer}"
        );
    }
    assert_eq!(read_policy(&hr).await, default_policy(), "nothing changed");

    for length in [8, 128] {
        let (status, answer) = put_policy(&hr, policy(length, true, &[])).await;
        assert_eq!(status, StatusCode::OK, "a minimum of {length}: {answer}");
        assert_eq!(read_policy(&hr).await["min_password_length"], length);
    }
}

/// Ranges that would lock the admin out are refused with 409 unless confirmed; ranges
/// that include the admin's address need no confirmation.
#[tokio::test]
async fn ranges_that_exclude_the_callers_own_address_need_confirmation() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    elevate(&hr).await;

    let (status, body) = put_policy(&hr, policy(8, true, &[INSIDE_RANGE])).await;
    assert_eq!((status.as_u16(), code(&body)), (409, "conflict"), "{body}");
    assert_eq!(read_policy(&hr).await, default_policy(), "nothing changed");

    let including = policy(8, true, &[INSIDE_RANGE, "127.0.0.0/8"]);
    let (status, body) = put_policy(&hr, including.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(read_policy(&hr).await, including);

    let mut confirmed = policy(8, true, &[INSIDE_RANGE]);
    confirmed["confirm_own_address_excluded"] = json!(true);
    let (status, body) = put_policy(&hr, confirmed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, policy(8, true, &[INSIDE_RANGE]));
    assert_eq!(
        me(&hr).await,
        (403, "ip_not_allowed".to_owned()),
        "the admin locked themselves out, as confirmed"
    );
}

/// Acme's policy — a longer minimum, no remember-me, an address range that excludes
/// loopback — does not reach globex.
#[tokio::test]
async fn another_companys_policy_is_untouched() {
    let server = TestServer::demo().await;
    let acme_hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let mut strict = policy(20, false, &[INSIDE_RANGE]);
    strict["confirm_own_address_excluded"] = json!(true);
    change_policy(&acme_hr, strict).await;

    let visitor = server.anonymous();
    let acme_user = attempt(
        &visitor,
        COMPANY,
        &email("employee1", COMPANY),
        PASSWORD,
        false,
    )
    .await;
    assert_eq!(
        acme_user.outcome(),
        (403, "ip_not_allowed"),
        "acme's rule holds"
    );

    let globex_hr = server
        .sign_in(OTHER_COMPANY, &email("hr", OTHER_COMPANY))
        .await;
    assert_eq!(read_policy(&globex_hr).await, default_policy());

    let account = email("employee1", OTHER_COMPANY);
    let remembered = attempt(&visitor, OTHER_COMPANY, &account, PASSWORD, true).await;
    assert_eq!(remembered.outcome(), (200, ""), "{remembered:?}");
    assert_eq!(remembered.remember_max_age, Some(REMEMBER_ME_SECONDS));

    let globex_user = with_session(&visitor, &remembered);
    let (status, body) = change_password(&globex_user, PASSWORD, "tide pool 42").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "globex keeps 8: {body}");
}

// ---------------------------------------------------------------------------------------
// Address ranges
// ---------------------------------------------------------------------------------------

/// Outside the company's ranges every route answers 403 `ip_not_allowed`, sign-in and
/// the live connection included, for a session opened inside; nothing the refused
/// requests asked for happens. Inside, everything works.
#[tokio::test]
async fn address_ranges_refuse_every_route_outside_them() {
    let server = behind_proxy().await;
    let inside = from(&server, INSIDE);
    let hr = acme(&inside, "hr").await;
    let cycle_id = open_cycle(&hr).await;
    let session_id = current_session_id(&hr).await;
    change_policy(&hr, policy(8, true, &[INSIDE_RANGE])).await;

    let outside = Client {
        cookie: hr.cookie.clone(),
        ..from(&server, OUTSIDE)
    };
    let new_password = json!({"current_password": PASSWORD, "new_password": "tide pool 42"});
    let routes = [
        (Method::GET, "/api/v1/me".to_owned(), None),
        (Method::GET, "/api/v1/cycles".to_owned(), None),
        (
            Method::GET,
            format!("/api/v1/cycles/{cycle_id}/progress"),
            None,
        ),
        (Method::GET, "/api/v1/reviews".to_owned(), None),
        (Method::GET, "/api/v1/me/sessions".to_owned(), None),
        (
            Method::GET,
            "/api/v1/admin/security-policy".to_owned(),
            None,
        ),
        (
            Method::PUT,
            "/api/v1/admin/security-policy".to_owned(),
            Some(default_policy()),
        ),
        (
            Method::POST,
            "/api/v1/auth/reauthenticate".to_owned(),
            Some(json!({"password": PASSWORD})),
        ),
        (
            Method::PUT,
            "/api/v1/me/password".to_owned(),
            Some(new_password),
        ),
        (
            Method::DELETE,
            format!("/api/v1/me/sessions/{session_id}"),
            None,
        ),
        (Method::POST, "/api/v1/auth/logout".to_owned(), None),
    ];
    for (method, path, body) in routes {
        let mut request = outside.request(method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, answer) = outside.send(request).await;
        assert_eq!(
            (status.as_u16(), code(&answer)),
            (403, "ip_not_allowed"),
            "{method} {path} from outside: {answer}"
        );
    }

    let sign_ins = [
        ("hr", PASSWORD),
        ("employee1", PASSWORD),
        ("employee1", "wrong-password"),
    ];
    for (local, password) in sign_ins {
        let answer = attempt(
            &from(&server, OUTSIDE),
            COMPANY,
            &email(local, COMPANY),
            password,
            false,
        )
        .await;
        assert_eq!(
            answer.outcome(),
            (403, "ip_not_allowed"),
            "sign-in of {local} from outside: {answer:?}"
        );
        assert_eq!(answer.cookie, None, "no session from outside");
    }
    match connect(&server, &hr, Some(OUTSIDE)).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 403),
        Err(other) => panic!("expected the upgrade to be refused with 403, got {other}"),
        Ok(_) => panic!("a live connection opened from outside the ranges"),
    }

    // Inside, the session is intact and nothing the refused requests asked for happened.
    assert_eq!(me(&hr).await, (200, String::new()));
    assert_eq!(current_session_id(&hr).await, session_id);
    assert_eq!(read_policy(&hr).await, policy(8, true, &[INSIDE_RANGE]));
    acme(&inside, "employee1").await;
    let mut socket = open_socket(&server, &hr, Some(INSIDE)).await;
    follow_cycle(&mut socket, &cycle_id).await;
}

/// An IPv4 address written as IPv4-mapped IPv6 is the IPv4 address, for the ranges as
/// for everything else.
#[tokio::test]
async fn ipv4_mapped_ipv6_addresses_count_as_ipv4() {
    let server = behind_proxy().await;
    let hr = acme(&from(&server, INSIDE), "hr").await;
    change_policy(&hr, policy(8, true, &[INSIDE_RANGE])).await;

    let cases = [
        ("::ffff:203.0.113.50", 200, ""),
        ("::ffff:cb00:7132", 200, ""),
        ("::ffff:198.51.100.7", 403, "ip_not_allowed"),
    ];
    for (address, status, error) in cases {
        let visitor = from(&server, address);
        let answer = attempt(
            &visitor,
            COMPANY,
            &email("employee1", COMPANY),
            PASSWORD,
            false,
        )
        .await;
        assert_eq!(answer.outcome(), (status, error), "sign-in from {address}");
        let session = Client {
            cookie: hr.cookie.clone(),
            ..visitor
        };
        assert_eq!(
            me(&session).await,
            (status, error.to_owned()),
            "GET /me from {address}"
        );
    }
}

/// An IPv6 range admits the addresses in it and no others, IPv4 ones included.
#[tokio::test]
async fn an_ipv6_range_admits_its_addresses_only() {
    let server = behind_proxy().await;
    let hr = acme(&from(&server, "2001:db8:1::5"), "hr").await;
    elevate(&hr).await;
    let (status, body) = put_policy(&hr, policy(8, true, &["2001:db9::/32"])).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (409, "conflict"),
        "a range without the forwarded address needs confirmation: {body}"
    );
    change_policy(&hr, policy(8, true, &["2001:db8::/32"])).await;

    let cases = [
        ("2001:db8:ffff::9", 200, ""),
        ("2001:db8::1", 200, ""),
        ("2001:db9::1", 403, "ip_not_allowed"),
        ("2001:db7:ffff::1", 403, "ip_not_allowed"),
        (INSIDE, 403, "ip_not_allowed"),
    ];
    for (address, status, error) in cases {
        let answer = attempt(
            &from(&server, address),
            COMPANY,
            &email("employee1", COMPANY),
            PASSWORD,
            false,
        )
        .await;
        assert_eq!(answer.outcome(), (status, error), "sign-in from {address}");
    }
    assert_eq!(me(&hr).await, (200, String::new()), "the admin stays in");
}

/// A new rule closes, within seconds, the open live connections of addresses it
/// excludes; connections from addresses it allows carry on.
#[tokio::test]
async fn a_new_range_closes_open_sockets_from_addresses_it_excludes() {
    let server = behind_proxy().await;
    let inside_hr = acme(&from(&server, INSIDE), "hr").await;
    let outside_hr = acme(&from(&server, OUTSIDE), "hr").await;
    let cycle_id = open_cycle(&inside_hr).await;

    let mut inside_socket = open_socket(&server, &inside_hr, Some(INSIDE)).await;
    follow_cycle(&mut inside_socket, &cycle_id).await;
    let mut outside_socket = open_socket(&server, &outside_hr, Some(OUTSIDE)).await;
    follow_cycle(&mut outside_socket, &cycle_id).await;

    change_policy(&inside_hr, policy(8, true, &[INSIDE_RANGE])).await;

    assert_closes(&mut outside_socket, "the excluded address's socket").await;
    assert_open(&mut inside_socket, "the allowed address's socket").await;
}

// ---------------------------------------------------------------------------------------
// Remember-me
// ---------------------------------------------------------------------------------------

/// "Remember me" gives a remember-me cookie with `Max-Age` (the configured 30 days) and
/// marks the session; an ordinary sign-in gives none. The session cookie itself always
/// ends with the browser.
#[tokio::test]
async fn remember_me_sign_in_sets_a_lasting_cookie_and_an_ordinary_one_does_not() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let account = email("employee1", COMPANY);

    for (remember_me, max_age) in [(true, Some(REMEMBER_ME_SECONDS)), (false, None)] {
        let answer = attempt(&visitor, COMPANY, &account, PASSWORD, remember_me).await;
        assert_eq!(answer.max_age, None, "{answer:?}");
        assert_eq!(
            answer.remember_max_age, max_age,
            "remember_me {remember_me}: {answer:?}"
        );
        assert_eq!(answer.remember.is_some(), remember_me, "{answer:?}");
        let session = with_session(&visitor, &answer);
        let current = current_session(&session).await;
        assert_eq!(current["remember_me"], remember_me, "{current}");
    }
}

/// Switching remember-me off ends every remember-me session of the company but the
/// admin's own (which carries on as an ordinary one) and closes their sockets; ordinary
/// sessions and other companies are untouched, and later sign-ins get no `Max-Age`.
#[tokio::test]
async fn switching_remember_me_off_ends_every_other_remember_me_session() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let remembered = |company: &'static str, local: &'static str| {
        let visitor = visitor.clone();
        async move {
            let answer = attempt(&visitor, company, &email(local, company), PASSWORD, true).await;
            assert_eq!(
                answer.remember_max_age,
                Some(REMEMBER_ME_SECONDS),
                "{answer:?}"
            );
            (
                with_session(&visitor, &answer),
                returning(&visitor, &answer),
            )
        }
    };
    let (admin, admin_token) = remembered(COMPANY, "hr").await;
    let (admin_elsewhere, _) = remembered(COMPANY, "hr").await;
    let (employee_remembered, employee_token) = remembered(COMPANY, "employee1").await;
    let employee_ordinary = acme(&visitor, "employee2").await;
    let (other_company, other_company_token) = remembered(OTHER_COMPANY, "employee1").await;
    let mut remembered_socket = open_socket(&server, &employee_remembered, None).await;
    let mut ordinary_socket = open_socket(&server, &employee_ordinary, None).await;

    change_policy(&admin, policy(8, false, &[])).await;

    let sessions = [
        ("the admin's own session", &admin, 200, ""),
        (
            "the admin's other remember-me session",
            &admin_elsewhere,
            401,
            "unauthenticated",
        ),
        (
            "an employee's remember-me session",
            &employee_remembered,
            401,
            "unauthenticated",
        ),
        (
            "an employee's ordinary session",
            &employee_ordinary,
            200,
            "",
        ),
        (
            "another company's remember-me session",
            &other_company,
            200,
            "",
        ),
    ];
    for (case, session, status, error) in sessions {
        assert_eq!(me(session).await, (status, error.to_owned()), "{case}");
    }
    let tokens = [
        ("the admin's own token", &admin_token, 401),
        ("an employee's token", &employee_token, 401),
        ("another company's token", &other_company_token, 200),
    ];
    for (case, token, status) in tokens {
        assert_eq!(me(token).await.0, status, "{case}");
    }
    assert_closes(
        &mut remembered_socket,
        "the ended remember-me session's socket",
    )
    .await;
    assert_open(&mut ordinary_socket, "the ordinary session's socket").await;
    let own = current_session(&admin).await;
    assert_eq!(
        own["remember_me"], false,
        "the admin's session is ordinary now: {own}"
    );

    let later = attempt(
        &visitor,
        COMPANY,
        &email("employee3", COMPANY),
        PASSWORD,
        true,
    )
    .await;
    assert_eq!(later.remember, None, "{later:?}");
    let later = with_session(&visitor, &later);
    assert_eq!(current_session(&later).await["remember_me"], false);

    let account = email("employee2", OTHER_COMPANY);
    let elsewhere = attempt(&visitor, OTHER_COMPANY, &account, PASSWORD, true).await;
    assert_eq!(
        elsewhere.remember_max_age,
        Some(REMEMBER_ME_SECONDS),
        "{elsewhere:?}"
    );
}

/// What a browser got when it came back with only its remember-me cookie.
#[derive(Debug)]
struct Return {
    status: StatusCode,
    /// `kz_session=…` of the session minted for it.
    session: Option<String>,
    /// `kz_remember=…` of the rotated token, or an empty value when the cookie is deleted.
    remember: Option<String>,
    remember_max_age: Option<u64>,
}

/// Asks for `/api/v1/me` with whatever cookie `browser` holds.
async fn come_back(browser: &Client) -> Return {
    let response = browser
        .request(Method::GET, "/api/v1/me")
        .send()
        .await
        .expect("the request is answered");
    let (session, _) = set_cookie(response.headers(), "kz_session");
    let (remember, remember_max_age) = set_cookie(response.headers(), "kz_remember");
    Return {
        status: response.status(),
        session,
        remember,
        remember_max_age,
    }
}

/// `browser` holding exactly `cookie`.
fn holding(browser: &Client, cookie: &str) -> Client {
    Client {
        cookie: Some(cookie.to_owned()),
        ..browser.clone()
    }
}

/// A browser that comes back without a session is signed in again by its remember-me
/// token, which rotates; the minted session ends with the browser; the new token works in
/// turn, and the chain's end does not move.
#[tokio::test]
async fn a_remember_me_token_signs_a_returning_browser_in_and_rotates() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let account = email("employee1", COMPANY);
    let answer = attempt(&visitor, COMPANY, &account, PASSWORD, true).await;
    let first = returning(&visitor, &answer);

    let back = come_back(&first).await;
    assert_eq!(back.status, StatusCode::OK, "{back:?}");
    let session = back.session.clone().expect("a new session cookie");
    let rotated = back.remember.clone().expect("a rotated remember-me cookie");
    assert_ne!(
        Some(&rotated),
        answer.remember.as_ref(),
        "the token rotated"
    );
    let max_age = back.remember_max_age.expect("a lasting cookie");
    assert!(
        max_age <= REMEMBER_ME_SECONDS && max_age + 60 > REMEMBER_ME_SECONDS,
        "rotation keeps the chain's end: {back:?}"
    );

    let minted = holding(&visitor, &session);
    let (status, me) = minted.get("/api/v1/me").await;
    assert_eq!(
        (status, me["email"].as_str()),
        (StatusCode::OK, Some(account.as_str()))
    );
    let current = current_session(&minted).await;
    assert_eq!(current["remember_me"], true, "{current}");
    assert_eq!(
        own_sessions(&minted).await.len(),
        2,
        "the sign-in's session and the minted one"
    );

    let again = come_back(&holding(&visitor, &rotated)).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the rotated token works: {again:?}"
    );
    assert!(again.remember.is_some(), "and rotates too: {again:?}");

    let events = audit_events(&server, COMPANY).await;
    let by_token = events
        .iter()
        .filter(|e| {
            let detail: Value = serde_json::from_str(&e.detail).expect("JSON detail");
            e.action == "signed_in" && detail["factor"] == "remember_me"
        })
        .count();
    assert_eq!(by_token, 2, "both returns are audited: {events:#?}");
}

/// A replaced token used again after the grace for parallel requests was copied: it is
/// refused, its cookie deleted, the whole chain and the sessions it minted end, and the
/// user is told.
#[tokio::test]
async fn a_replaced_remember_me_token_used_again_ends_its_chain() {
    let server = TestServer::demo_with(|config| config.remember_rotation_grace_ms = 0).await;
    let visitor = server.anonymous();
    let account = email("employee1", COMPANY);
    let answer = attempt(&visitor, COMPANY, &account, PASSWORD, true).await;
    let signed_in = with_session(&visitor, &answer);
    let stolen = returning(&visitor, &answer);

    let back = come_back(&stolen).await;
    assert_eq!(back.status, StatusCode::OK, "{back:?}");
    let minted = holding(&visitor, &back.session.expect("a session"));
    let rotated = holding(&visitor, &back.remember.expect("a rotated token"));
    let mut socket = open_socket(&server, &minted, None).await;
    tokio::time::sleep(Duration::from_millis(5)).await;

    let replay = come_back(&stolen).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{replay:?}");
    assert_eq!(replay.session, None, "{replay:?}");
    assert_eq!(
        replay.remember.as_deref(),
        Some("kz_remember="),
        "the dead cookie is deleted: {replay:?}"
    );
    assert_eq!(me(&minted).await.0, 401, "the minted session ended");
    assert_closes(&mut socket, "the minted session's socket").await;
    assert_eq!(
        come_back(&rotated).await.status,
        StatusCode::UNAUTHORIZED,
        "the chain's newest token ended too"
    );
    assert_eq!(
        me(&signed_in).await.0,
        401,
        "the sign-in that started the chain shared the copied browser: it ends too"
    );

    let events = audit_events(&server, COMPANY).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "remember_me_reused")
            .count(),
        1,
        "{events:#?}"
    );
}

/// Within the grace, a replaced token is a request the browser sent in parallel: it gets
/// a session of its own and no new token (the browser has the rotated one).
#[tokio::test]
async fn a_replaced_remember_me_token_works_within_the_grace_without_rotating() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let account = email("employee1", COMPANY);
    let answer = attempt(&visitor, COMPANY, &account, PASSWORD, true).await;
    let browser = returning(&visitor, &answer);

    let first = come_back(&browser).await;
    let parallel = come_back(&browser).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(parallel.status, StatusCode::OK, "{parallel:?}");
    assert!(parallel.session.is_some(), "{parallel:?}");
    assert_eq!(parallel.remember, None, "no second rotation: {parallel:?}");
    let rotated = holding(&visitor, &first.remember.expect("the rotated token"));
    assert_eq!(come_back(&rotated).await.status, StatusCode::OK);
}

/// Signing out, or ending a session from the list, makes its remember-me token useless;
/// another browser's token of the same user keeps working.
#[tokio::test]
async fn ending_a_session_ends_its_remember_me_token_and_no_other() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let account = email("employee1", COMPANY);
    let sign_in_remembered = || async {
        let answer = attempt(&visitor, COMPANY, &account, PASSWORD, true).await;
        let both = format!(
            "{}; {}",
            answer.cookie.clone().expect("a session"),
            answer.remember.clone().expect("a token")
        );
        (
            holding(&visitor, &both),
            with_session(&visitor, &answer),
            returning(&visitor, &answer),
        )
    };
    let (laptop, _, laptop_token) = sign_in_remembered().await;
    let (_, phone, phone_token) = sign_in_remembered().await;
    let (_, tablet, tablet_token) = sign_in_remembered().await;

    let response = laptop
        .request(Method::POST, "/api/v1/auth/logout")
        .send()
        .await
        .expect("logout is answered");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (remember, max_age) = set_cookie(response.headers(), "kz_remember");
    assert_eq!(
        (remember.as_deref(), max_age),
        (Some("kz_remember="), Some(0)),
        "signing out deletes the cookie"
    );
    assert_eq!(
        come_back(&laptop_token).await.status,
        StatusCode::UNAUTHORIZED
    );

    let tablet_id = current_session_id(&tablet).await;
    let (status, _) = delete(&phone, &format!("/api/v1/me/sessions/{tablet_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        come_back(&tablet_token).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(come_back(&phone_token).await.status, StatusCode::OK);
}

/// Changing the password ends every remember-me token of the user, the one of the browser
/// that changed it included (that cookie may be the copied one the user reacts to); the
/// changing session itself carries on, and other users are untouched.
#[tokio::test]
async fn a_password_change_ends_every_remember_me_token_of_the_user() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let account = email("employee1", COMPANY);
    let laptop = attempt(&visitor, COMPANY, &account, PASSWORD, true).await;
    let phone = attempt(&visitor, COMPANY, &account, PASSWORD, true).await;
    let colleague = attempt(
        &visitor,
        COMPANY,
        &email("employee2", COMPANY),
        PASSWORD,
        true,
    )
    .await;

    let changer = with_session(&visitor, &phone);
    let (status, body) = change_password(&changer, PASSWORD, "quiet harbor lantern 4217").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let laptop_back = come_back(&returning(&visitor, &laptop)).await;
    assert_eq!(
        laptop_back.status,
        StatusCode::UNAUTHORIZED,
        "{laptop_back:?}"
    );
    let phone_back = come_back(&returning(&visitor, &phone)).await;
    assert_eq!(
        phone_back.status,
        StatusCode::UNAUTHORIZED,
        "{phone_back:?}"
    );
    assert_eq!(me(&changer).await.0, 200, "the changing session carries on");
    let colleague_back = come_back(&returning(&visitor, &colleague)).await;
    assert_eq!(colleague_back.status, StatusCode::OK, "{colleague_back:?}");
}

/// A disabled user's token signs nobody in.
#[tokio::test]
async fn a_disabled_users_remember_me_token_signs_nobody_in() {
    let server = TestServer::demo().await;
    let visitor = server.anonymous();
    let answer = attempt(
        &visitor,
        COMPANY,
        &email("employee1", COMPANY),
        PASSWORD,
        true,
    )
    .await;
    let user_id = my_id(&with_session(&visitor, &answer)).await;
    let hr = acme(&visitor, "hr").await;
    elevate(&hr).await;
    let (status, body) = hr
        .send(
            hr.request(Method::PATCH, &format!("/api/v1/admin/users/{user_id}"))
                .json(&json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let back = come_back(&returning(&visitor, &answer)).await;
    assert_eq!(back.status, StatusCode::UNAUTHORIZED, "{back:?}");
}

// ---------------------------------------------------------------------------------------
// Password change
// ---------------------------------------------------------------------------------------

/// A new password must pass the rules: the current password right, the company's
/// minimum length in characters (which the policy can raise), not a common password,
/// not built from the user's name or email. A refused change changes nothing.
#[tokio::test]
async fn password_changes_that_break_a_rule_are_refused() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    // Morgan Lee, manager@acme.example.
    let user = server.sign_in(COMPANY, &email("manager", COMPANY)).await;
    let good = "quiet harbor lantern 4217";

    let at_minimum_8 = [
        (
            "a wrong current password",
            "not my password",
            good,
            401,
            "invalid_credentials",
        ),
        (
            "7 characters",
            PASSWORD,
            "Tide 7!",
            422,
            "validation_failed",
        ),
        (
            "a common password",
            PASSWORD,
            "password123",
            422,
            "validation_failed",
        ),
        (
            "a common password, spaced",
            PASSWORD,
            "Password 123",
            422,
            "validation_failed",
        ),
        (
            "the user's first name",
            PASSWORD,
            "Morgan-tide-pool-42",
            422,
            "validation_failed",
        ),
        (
            "the email's local part",
            PASSWORD,
            "tide-pool-manager-42",
            422,
            "validation_failed",
        ),
    ];
    for (case, current, new, status, error) in at_minimum_8 {
        let (got, body) = change_password(&user, current, new).await;
        assert_eq!(
            (got.as_u16(), code(&body)),
            (status, error),
            "{case}: {body}"
        );
    }

    change_policy(&hr, policy(24, true, &[])).await;
    let cyrillic_23: String = "тихий сад у моря ночью и звёзды".chars().take(23).collect();
    assert!(
        cyrillic_23.len() > 24,
        "more bytes than the minimum's characters"
    );
    let at_minimum_24 = [
        ("20 characters", "tide pool lantern 42".to_owned()),
        ("23 two-byte characters", cyrillic_23),
    ];
    for (case, new) in at_minimum_24 {
        assert!(new.chars().count() < 24, "{case}");
        let (got, body) = change_password(&user, PASSWORD, &new).await;
        assert_eq!(
            (got.as_u16(), code(&body)),
            (422, "validation_failed"),
            "{case} under a minimum of 24: {body}"
        );
    }

    let account = email("manager", COMPANY);
    let unchanged = attempt(&server.anonymous(), COMPANY, &account, PASSWORD, false).await;
    assert_eq!(
        unchanged.outcome(),
        (200, ""),
        "the refused changes changed nothing"
    );
    let (got, body) = change_password(&user, PASSWORD, good).await;
    assert_eq!(
        got,
        StatusCode::NO_CONTENT,
        "25 characters under 24: {body}"
    );
}

/// A long password in any script is accepted whole; afterwards only it signs in.
#[tokio::test]
async fn a_long_password_in_any_script_is_accepted() {
    let server = TestServer::demo().await;
    let user = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;
    let new = "ключ-от-сада-и-луны-🌙".repeat(4);
    assert!(new.chars().count() >= 64);

    let (status, body) = change_password(&user, PASSWORD, &new).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let visitor = server.anonymous();
    let account = email("employee1", COMPANY);
    let old = attempt(&visitor, COMPANY, &account, PASSWORD, false).await;
    assert_eq!(
        old.outcome(),
        (401, "invalid_credentials"),
        "the old password"
    );
    let fresh = attempt(&visitor, COMPANY, &account, &new, false).await;
    assert_eq!(fresh.outcome(), (200, ""), "the new password");
}

/// A password change ends every other session of the user and closes their sockets; the
/// session that made the change and other users carry on.
#[tokio::test]
async fn changing_the_password_ends_every_other_session_of_the_user() {
    let server = TestServer::demo().await;
    let account = email("employee1", COMPANY);
    let changer = server.sign_in(COMPANY, &account).await;
    let laptop = server.sign_in(COMPANY, &account).await;
    let phone = server.sign_in(COMPANY, &account).await;
    let colleague = server.sign_in(COMPANY, &email("employee2", COMPANY)).await;
    let mut laptop_socket = open_socket(&server, &laptop, None).await;
    let mut colleague_socket = open_socket(&server, &colleague, None).await;
    let new = "quiet harbor lantern 4217";

    let (status, body) = change_password(&changer, PASSWORD, new).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let sessions = [
        ("the session that changed it", &changer, 200, ""),
        ("the user's laptop", &laptop, 401, "unauthenticated"),
        ("the user's phone", &phone, 401, "unauthenticated"),
        ("a colleague", &colleague, 200, ""),
    ];
    for (case, session, status, error) in sessions {
        assert_eq!(me(session).await, (status, error.to_owned()), "{case}");
    }
    assert_closes(&mut laptop_socket, "the laptop's socket").await;
    assert_open(&mut colleague_socket, "the colleague's socket").await;
    assert_eq!(
        own_sessions(&changer).await.len(),
        1,
        "only the current one is left"
    );

    let visitor = server.anonymous();
    let old = attempt(&visitor, COMPANY, &account, PASSWORD, false).await;
    assert_eq!(
        old.outcome(),
        (401, "invalid_credentials"),
        "the old password"
    );
    let fresh = attempt(&visitor, COMPANY, &account, new, false).await;
    assert_eq!(fresh.outcome(), (200, ""), "the new password");
}

/// bcrypt reads only 72 bytes; two passwords that share those must still be different
/// passwords, at sign-in and at reauthentication.
#[tokio::test]
async fn passwords_sharing_their_first_72_bytes_are_different_passwords() {
    let server = TestServer::demo().await;
    let account = email("employee3", COMPANY);
    let user = server.sign_in(COMPANY, &account).await;
    let prefix: String = "Quiet lanterns drift over the harbor while seven gulls argue about bread"
        .chars()
        .take(72)
        .collect();
    assert_eq!(prefix.len(), 72);
    let chosen = format!("{prefix} at the north gate");
    let lookalike = format!("{prefix} at the south gate");

    let (status, body) = change_password(&user, PASSWORD, &chosen).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let visitor = server.anonymous();
    let tries = [
        (
            "a different tail",
            lookalike.as_str(),
            401,
            "invalid_credentials",
        ),
        (
            "the first 72 bytes alone",
            prefix.as_str(),
            401,
            "invalid_credentials",
        ),
        ("the chosen password", chosen.as_str(), 200, ""),
    ];
    for (case, password, status, error) in tries {
        let answer = attempt(&visitor, COMPANY, &account, password, false).await;
        assert_eq!(answer.outcome(), (status, error), "sign-in with {case}");
    }
    let (status, body) = reauthenticate(&user, &lookalike).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (401, "invalid_credentials"),
        "reauthentication with a different tail: {body}"
    );
}

// ---------------------------------------------------------------------------------------
// Own sessions
// ---------------------------------------------------------------------------------------

/// The sessions list shows the user's own sessions only, each with its address and
/// browser, and marks exactly the one making the request as current.
#[tokio::test]
async fn own_sessions_are_listed_with_the_current_one_marked() {
    let server = TestServer::demo().await;
    let account = email("employee1", COMPANY);
    let agents = [
        "kaizen-test/laptop",
        "kaizen-test/phone",
        "kaizen-test/tablet",
    ];
    let mut devices = Vec::new();
    for agent in agents {
        let browser = client(&server, None, Some(agent));
        devices.push(sign_in(&browser, COMPANY, &account, PASSWORD).await);
    }
    let colleague = server.sign_in(COMPANY, &email("employee2", COMPANY)).await;

    let mut ids = Vec::new();
    for (agent, device) in agents.iter().zip(&devices) {
        let sessions = own_sessions(device).await;
        assert_eq!(sessions.len(), agents.len(), "{sessions:?}");
        let current = current_session(device).await;
        assert_eq!(current["user_agent"], *agent, "{current}");
        assert_eq!(current["ip"], "127.0.0.1", "{current}");
        assert_eq!(current["remember_me"], false, "{current}");
        let mut listed: Vec<&str> = sessions
            .iter()
            .map(|s| s["user_agent"].as_str().expect("a user agent"))
            .collect();
        listed.sort_unstable();
        assert_eq!(listed, agents, "every device of the user, once");
        for session in &sessions {
            for field in ["id", "created_at", "last_seen_at"] {
                assert!(session[field].is_string(), "{field} in {session}");
            }
        }
        ids.push(current["id"].as_str().expect("an id").to_owned());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), agents.len(), "distinct ids");

    let theirs = own_sessions(&colleague).await;
    assert_eq!(
        theirs.len(),
        1,
        "a colleague sees only their own: {theirs:?}"
    );
    assert!(!ids.iter().any(|id| theirs[0]["id"] == id.as_str()));
}

/// Ending one of the user's other sessions signs it out at once and closes its socket;
/// the id is gone afterwards.
#[tokio::test]
async fn ending_an_own_session_signs_it_out_and_closes_its_socket() {
    let server = TestServer::demo().await;
    let account = email("employee1", COMPANY);
    let here = server.sign_in(COMPANY, &account).await;
    let there = server.sign_in(COMPANY, &account).await;
    let mut there_socket = open_socket(&server, &there, None).await;
    let mut here_socket = open_socket(&server, &here, None).await;
    let there_id = current_session_id(&there).await;
    let path = format!("/api/v1/me/sessions/{there_id}");

    let (status, body) = delete(&here, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    assert_eq!(me(&there).await, (401, "unauthenticated".to_owned()));
    assert_closes(&mut there_socket, "the ended session's socket").await;
    assert_eq!(me(&here).await, (200, String::new()));
    assert_open(&mut here_socket, "the current session's socket").await;
    let left = own_sessions(&here).await;
    assert_eq!(left.len(), 1, "{left:?}");

    let (status, body) = delete(&here, &path).await;
    assert_eq!((status.as_u16(), code(&body)), (404, "not_found"), "{body}");
}

/// Another user's session id — same company or another — answers exactly like a
/// made-up one, and the session lives on.
#[tokio::test]
async fn another_users_session_id_answers_like_a_made_up_one() {
    let server = TestServer::demo().await;
    let caller = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;
    let colleague = server.sign_in(COMPANY, &email("employee2", COMPANY)).await;
    let admin = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let stranger = server
        .sign_in(OTHER_COMPANY, &email("employee1", OTHER_COMPANY))
        .await;

    let (status, made_up) = delete(&caller, "/api/v1/me/sessions/no-such-session").await;
    assert_eq!(
        (status.as_u16(), code(&made_up)),
        (404, "not_found"),
        "{made_up}"
    );

    let victims = [
        ("a colleague's session", &colleague),
        ("the HR admin's session", &admin),
        ("another company's session", &stranger),
    ];
    for (case, victim) in victims {
        let id = current_session_id(victim).await;
        let (status, body) = delete(&caller, &format!("/api/v1/me/sessions/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{case}: {body}");
        assert_eq!(body, made_up, "{case} answers like a made-up id");
        assert_eq!(me(victim).await, (200, String::new()), "{case} lives on");
        assert_eq!(current_session_id(victim).await, id);
    }
}

// ---------------------------------------------------------------------------------------
// The audit trail
// ---------------------------------------------------------------------------------------

/// One row of `audit_events`.
#[derive(Debug, sqlx::FromRow)]
struct AuditRow {
    action: String,
    actor_id: Option<String>,
    target_id: Option<String>,
    ip: String,
    user_agent: String,
    detail: String,
}

/// Every audit event of a company, read straight from the database, oldest first.
async fn audit_events(server: &TestServer, company: &str) -> Vec<AuditRow> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(server.data_dir.path().join("kaizen.sqlite3"))
        .read_only(true);
    let pool = sqlx::sqlite::SqlitePool::connect_with(options)
        .await
        .expect("the database opens read-only");
    let rows = sqlx::query_as::<_, AuditRow>(
        "SELECT a.action, a.actor_id, a.target_id, a.ip, a.user_agent, a.detail \
         FROM audit_events a JOIN companies c ON c.id = a.company_id \
         WHERE c.slug = ?1 ORDER BY a.at, a.rowid",
    )
    .bind(company)
    .fetch_all(&pool)
    .await
    .expect("the audit trail reads");
    pool.close().await;
    rows
}

/// Every column of every audit event of every company, as one text.
async fn audit_text(server: &TestServer) -> String {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(server.data_dir.path().join("kaizen.sqlite3"))
        .read_only(true);
    let pool = sqlx::sqlite::SqlitePool::connect_with(options)
        .await
        .expect("the database opens read-only");
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT company_id || ' ' || id || ' ' || at || ' ' || COALESCE(actor_id, '') \
         || ' ' || action || ' ' || COALESCE(target_id, '') || ' ' || ip || ' ' \
         || user_agent || ' ' || detail FROM audit_events",
    )
    .fetch_all(&pool)
    .await
    .expect("the audit trail reads");
    pool.close().await;
    let rows: Vec<String> = rows.into_iter().map(|(row,)| row).collect();
    rows.join("\n")
}

/// Sign-ins, failures, sign-outs, reauthentications, password changes, ended sessions
/// and policy changes are audited with who, from where and why, and no password ever
/// reaches the trail.
#[tokio::test]
async fn account_changes_are_audited_with_the_address_and_never_the_password() {
    let server = behind_proxy().await;
    let agent = "kaizen-audit-test";
    let browser = client(&server, Some(INSIDE), Some(agent));
    let account = email("employee1", COMPANY);
    let wrong_sign_in = "wrong-guess-7781";
    let wrong_reauth = "wrong-reauth-5523";
    let new_password = "quiet harbor lantern 4217";

    let failed = attempt(&browser, COMPANY, &account, wrong_sign_in, false).await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let unknown = email("nobody", COMPANY);
    let failed = attempt(&browser, COMPANY, &unknown, wrong_sign_in, false).await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);

    let user = sign_in(&browser, COMPANY, &account, PASSWORD).await;
    let other = sign_in(&browser, COMPANY, &account, PASSWORD).await;
    let user_id = my_id(&user).await;
    let other_id = current_session_id(&other).await;
    let (status, _) = reauthenticate(&user, wrong_reauth).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    elevate(&user).await;
    let (status, _) = delete(&user, &format!("/api/v1/me/sessions/{other_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = change_password(&user, PASSWORD, new_password).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = user
        .send(user.request(Method::POST, "/api/v1/auth/logout"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let hr = acme(&browser, "hr").await;
    let hr_id = my_id(&hr).await;
    change_policy(&hr, policy(12, true, &[])).await;

    let events = audit_events(&server, COMPANY).await;
    let of =
        |action: &str| -> Vec<&AuditRow> { events.iter().filter(|e| e.action == action).collect() };
    let expected = [
        ("signed_in", Some(user_id.as_str()), 2),
        ("signed_out", Some(user_id.as_str()), 1),
        ("reauthenticated", Some(user_id.as_str()), 1),
        ("reauthentication_failed", Some(user_id.as_str()), 1),
        ("password_changed", Some(user_id.as_str()), 1),
        ("session_ended", Some(user_id.as_str()), 1),
        ("security_policy_changed", Some(hr_id.as_str()), 1),
    ];
    for (action, actor, count) in expected {
        let rows: Vec<&AuditRow> = of(action)
            .into_iter()
            .filter(|e| e.actor_id.as_deref() == actor)
            .collect();
        assert_eq!(rows.len(), count, "{action} by {actor:?} in {events:#?}");
    }
    let session_ended = of("session_ended");
    assert_eq!(
        session_ended[0].target_id.as_deref(),
        Some(other_id.as_str())
    );

    let failures = of("sign_in_failed");
    let reasons: Vec<(Option<&str>, Value)> = failures
        .iter()
        .map(|e| {
            let detail: Value = serde_json::from_str(&e.detail).expect("JSON detail");
            (e.actor_id.as_deref(), detail["reason"].clone())
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (Some(user_id.as_str()), json!("wrong_password")),
            (None, json!("unknown_or_disabled_user")),
        ],
        "{failures:#?}"
    );

    // Events the client's requests caused carry its address and browser; events of the
    // server's own (such as the notice email about the password change) do not.
    let client_actions: Vec<&str> = expected
        .iter()
        .map(|(action, _, _)| *action)
        .chain(["sign_in_failed"])
        .collect();
    for event in events
        .iter()
        .filter(|e| client_actions.contains(&e.action.as_str()))
    {
        assert_eq!(event.ip, INSIDE, "the client's address: {event:?}");
        assert_eq!(event.user_agent, agent, "{event:?}");
    }
    let whole_trail = audit_text(&server).await;
    assert!(whole_trail.contains(&user_id), "the search sees the trail");
    for secret in [PASSWORD, wrong_sign_in, wrong_reauth, new_password] {
        assert!(
            !whole_trail.contains(secret),
            "{secret:?} is in the audit trail: {events:#?}"
        );
    }
}
