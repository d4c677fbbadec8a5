//! Black-box tests of 2-step verification: setting up an authenticator app, the
//! half-signed-in session a password alone opens for its user, completing sign-in with a
//! code or a recovery code, replays, wrong-code limits, trusted devices, remember-me, the
//! company's requirement, removing the app, and the audit trail all of this leaves.
//!
//! Codes are computed here from the secret the server hands out, as an authenticator app
//! would. The server accepts each time step once and one step of clock skew either way, so
//! a test confirms the app with the current step's code and signs in with a later step's
//! (the next one, or the current one if time moved on): both are always within the
//! window, even when a step turns over in between. No test signs one user in with two
//! app codes, which would mean waiting for the clock.
//!
//! Each test starts its own server over a copy of the demo data, so rate limits and
//! policies never leak between tests. Every wait is for an answer; nothing sleeps.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::collections::HashSet;

use common::{Client, PASSWORD, TestServer, code};
use kaizen_actors::db::now_ms;
use kaizen_actors::totp::{code_at, from_base32, step_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite};

/// The demo company every test acts in.
const COMPANY: &str = "acme";

/// Starting and removing an authenticator app.
const TOTP: &str = "/api/v1/me/second-factor/totp";

/// Confirming an authenticator app with its first code.
const CONFIRM: &str = "/api/v1/me/second-factor/totp/confirm";

/// The second step of sign-in.
const VERIFY: &str = "/api/v1/auth/second-factor";

/// The company's security policy.
const POLICY: &str = "/api/v1/admin/security-policy";

/// How long a trusted device skips the code: 30 days, in seconds.
const TRUSTED_DEVICE_SECONDS: u64 = 30 * 24 * 3600;

/// The lifetime of a remember-me cookie with the default of 30 days, in seconds.
const REMEMBER_ME_SECONDS: u64 = 30 * 24 * 3600;

/// Wrong codes a pending sign-in may get; the last of them voids it.
const MAX_FACTOR_FAILURES: usize = 5;

/// Codes a user may try at once over all their pending sign-ins (`limits::code_checks`).
const CODE_BURST: usize = 10;

/// After the burst, one more code every this many seconds.
const CODE_PERIOD_SECONDS: u64 = 30;

/// How many recovery codes a confirmed app comes with.
const RECOVERY_CODES: usize = 10;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The email of an acme demo user, by the local part.
fn email(local: &str) -> String {
    format!("{local}@{COMPANY}.example")
}

/// One `Set-Cookie` header: the `name=value` pair and its attributes.
#[derive(Debug, Clone)]
struct SetCookie {
    pair: String,
    attributes: Vec<String>,
}

impl SetCookie {
    fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';').map(|p| p.trim().to_owned());
        SetCookie {
            pair: parts.next().unwrap_or_default(),
            attributes: parts.collect(),
        }
    }

    fn name(&self) -> &str {
        self.pair.split_once('=').map_or("", |(name, _)| name)
    }

    fn value(&self) -> &str {
        self.pair.split_once('=').map_or("", |(_, value)| value)
    }

    /// `Max-Age` in seconds, when the cookie has one.
    fn max_age(&self) -> Option<u64> {
        self.attributes
            .iter()
            .find_map(|a| a.strip_prefix("Max-Age="))
            .map(|seconds| seconds.parse().expect("Max-Age is a number"))
    }

    /// Whether a flag attribute such as `HttpOnly` is set.
    fn has(&self, flag: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(flag))
    }
}

/// A whole HTTP answer: status, JSON body, cookies set and `Retry-After`.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Value,
    cookies: Vec<SetCookie>,
    retry_after: Option<String>,
}

impl Answer {
    /// The status and error code, for comparing outcomes in one assertion.
    fn outcome(&self) -> (u16, &str) {
        (self.status.as_u16(), code(&self.body))
    }

    /// The cookie of that name the answer set, if any.
    fn cookie(&self, name: &str) -> Option<&SetCookie> {
        self.cookies.iter().find(|c| c.name() == name)
    }

    /// The session cookie the answer set; it must have set one.
    fn session(&self) -> &SetCookie {
        self.cookie("kz_session")
            .unwrap_or_else(|| panic!("a session cookie: {self:?}"))
    }
}

/// Sends a request and reads the whole answer.
async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the request is answered");
    let status = response.status();
    let headers = response.headers();
    let cookies = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(SetCookie::parse)
        .collect();
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("a readable body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        body,
        cookies,
        retry_after,
    }
}

/// Signs an acme user in with the password, sending a trusted-device cookie when given.
async fn login(
    server: &TestServer,
    local: &str,
    remember_me: bool,
    device: Option<&str>,
) -> Answer {
    let body = json!({
        "company": COMPANY, "email": email(local), "password": PASSWORD,
        "remember_me": remember_me,
    });
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&body);
    if let Some(device) = device {
        request = request.header("cookie", format!("kz_device={device}"));
    }
    answer(request).await
}

/// The `status` a successful sign-in answered; the sign-in must have answered 200.
fn sign_in_status(answer: &Answer) -> &str {
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "the password is accepted: {answer:?}"
    );
    answer.body["status"].as_str().unwrap_or("")
}

/// A client carrying the session cookie an answer set.
fn with_session(server: &TestServer, answer: &Answer) -> Client {
    Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
        cookie: Some(answer.session().pair.clone()),
    }
}

/// Signs in with the password alone; the user must owe a code.
async fn pending(server: &TestServer, local: &str) -> Client {
    let answer = login(server, local, false, None).await;
    assert_eq!(
        sign_in_status(&answer),
        "second_factor_required",
        "{answer:?}"
    );
    with_session(server, &answer)
}

/// Signs in with the password alone; sign-in must be complete at once.
async fn signed_in(server: &TestServer, local: &str) -> Client {
    let answer = login(server, local, false, None).await;
    assert_eq!(sign_in_status(&answer), "signed_in", "{answer:?}");
    with_session(server, &answer)
}

/// Sends a second-factor code for a pending sign-in.
async fn submit(client: &Client, method: &str, code: &str, trust_device: bool) -> Answer {
    let body = json!({ "method": method, "code": code, "trust_device": trust_device });
    answer(client.request(Method::POST, VERIFY).json(&body)).await
}

/// Completes a pending sign-in with a code; answers the fully signed-in client.
async fn complete(server: &TestServer, client: &Client, method: &str, code: &str) -> Client {
    let answer = submit(client, method, code, false).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "the code is accepted: {answer:?}"
    );
    assert_eq!(answer.body["status"], "signed_in", "{answer:?}");
    with_session(server, &answer)
}

/// Sends a request without a body.
async fn call(client: &Client, method: Method, path: &str) -> (StatusCode, Value) {
    client.send(client.request(method, path)).await
}

/// Sends a JSON body with any method.
async fn call_with(
    client: &Client,
    method: Method,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    client.send(client.request(method, path).json(body)).await
}

/// `GET /api/v1/me`: the status and error code, if any.
async fn me(client: &Client) -> (u16, String) {
    let (status, body) = client.get("/api/v1/me").await;
    (status.as_u16(), code(&body).to_owned())
}

/// The user id of a fully signed-in client.
async fn user_id(client: &Client) -> String {
    let (status, body) = client.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

/// Confirms the password again; must succeed.
async fn reauthenticate(client: &Client) {
    let body = json!({ "password": PASSWORD });
    let (status, answer) = client.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "reauthenticated: {answer}");
}

/// Signs out.
async fn logout(client: &Client) -> StatusCode {
    call(client, Method::POST, "/api/v1/auth/logout").await.0
}

/// An authenticator app as the test holds it: the secret and what confirming answered.
struct Authenticator {
    /// The secret as the server gave it, base32.
    secret_text: String,
    /// The secret's bytes.
    secret: Vec<u8>,
    /// The time step whose code confirmed the app; the server accepts no code of it or
    /// an earlier step again.
    confirmed_step: i64,
    /// The recovery codes, as shown once.
    recovery_codes: Vec<String>,
}

impl Authenticator {
    /// A code the server has not seen: the step after the confirming one, or the
    /// current step if time has moved on. Either is within the accepted skew of the
    /// server's clock, which reads no earlier than this one.
    fn next_code(&self) -> String {
        let step = step_of(now_ms()).max(self.confirmed_step + 1);
        code_at(&self.secret, step)
    }

    /// A six-digit code that is no code of any step near now.
    fn wrong_code(&self) -> String {
        wrong_code(&self.secret)
    }
}

/// A six-digit code that is none of the codes of `secret` a few steps around now.
fn wrong_code(secret: &[u8]) -> String {
    let now = step_of(now_ms());
    let near: HashSet<String> = (now - 4..=now + 4).map(|s| code_at(secret, s)).collect();
    (0u32..)
        .map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
        .find(|candidate| !near.contains(candidate))
        .expect("a six-digit code that is wrong")
}

/// Starts setting up an app; must succeed. Answers the whole setup body.
async fn start_setup(client: &Client) -> Value {
    let (status, body) = call(client, Method::POST, TOTP).await;
    assert_eq!(status, StatusCode::OK, "the setup starts: {body}");
    body
}

/// Confirms the app of a started setup with the current step's code; must succeed.
async fn confirm_setup(client: &Client, setup: &Value) -> Authenticator {
    let secret_text = setup["secret"].as_str().expect("a secret").to_owned();
    let secret = from_base32(&secret_text).expect("the secret is base32");
    let step = step_of(now_ms());
    let body = json!({ "code": code_at(&secret, step) });
    let (status, answer) = client.post(CONFIRM, body).await;
    assert_eq!(status, StatusCode::OK, "the app is confirmed: {answer}");
    let recovery_codes = answer["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("a code as text").to_owned())
        .collect();
    Authenticator {
        secret_text,
        secret,
        confirmed_step: step,
        recovery_codes,
    }
}

/// Reauthenticates a fully signed-in client and sets up an app for its user.
async fn enroll(client: &Client) -> Authenticator {
    reauthenticate(client).await;
    let setup = start_setup(client).await;
    confirm_setup(client, &setup).await
}

/// Signs an acme user in and sets up an app for them; the session stays signed in.
async fn enrolled(server: &TestServer, local: &str) -> (Client, Authenticator) {
    let client = server.sign_in(COMPANY, &email(local)).await;
    let authenticator = enroll(&client).await;
    (client, authenticator)
}

/// Opens a live connection with a cookie, from the server's own page.
async fn connect_live(server: &TestServer, cookie: &str) -> Result<Socket, tungstenite::Error> {
    let mut request = server
        .live_url()
        .into_client_request()
        .expect("a WebSocket request");
    let headers = request.headers_mut();
    headers.insert("cookie", HeaderValue::from_str(cookie).expect("a header"));
    let origin = HeaderValue::from_str(&server.base).expect("a header");
    headers.insert("origin", origin);
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// The status and error code of a refused upgrade.
fn refusal(result: Result<Socket, tungstenite::Error>) -> (u16, String) {
    match result {
        Err(tungstenite::Error::Http(response)) => {
            let body: Value = response
                .body()
                .as_deref()
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .unwrap_or(Value::Null);
            (response.status().as_u16(), code(&body).to_owned())
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected the upgrade to be refused, but it was accepted"),
    }
}

/// A security policy body, the defaults but for the second-factor requirement.
fn policy(second_factor_required: bool) -> Value {
    json!({
        "min_password_length": 8,
        "remember_me_allowed": true,
        "second_factor_required": second_factor_required,
        "ip_ranges": [],
    })
}

/// Makes acme require 2-step verification, as its HR admin.
async fn require_second_factor(server: &TestServer) {
    let hr = server.sign_in(COMPANY, &email("hr")).await;
    reauthenticate(&hr).await;
    let (status, body) = call_with(&hr, Method::PUT, POLICY, &policy(true)).await;
    assert_eq!(status, StatusCode::OK, "the policy is saved: {body}");
    assert_eq!(body["second_factor_required"], true, "{body}");
}

/// A route that needs a complete sign-in, with the body it is called with.
struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    /// What it answers a complete sign-in, called in table order; `None` for a call
    /// that would change the account for the rest of the test.
    signed_in: Option<u16>,
}

impl Route {
    fn new(method: Method, path: &str, body: Option<Value>, signed_in: Option<u16>) -> Route {
        Route {
            method,
            path: path.to_owned(),
            body,
            signed_in,
        }
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    async fn call(&self, client: &Client) -> (StatusCode, Value) {
        match &self.body {
            Some(body) => call_with(client, self.method.clone(), &self.path, body).await,
            None => call(client, self.method.clone(), &self.path).await,
        }
    }
}

/// A review the user writes and the version a save must name.
async fn own_review(client: &Client) -> (String, i64) {
    let me = user_id(client).await;
    let (status, reviews) = client.get("/api/v1/reviews").await;
    assert_eq!(status, StatusCode::OK, "{reviews}");
    let own = reviews
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["reviewer_id"] == me.as_str())
        .unwrap_or_else(|| panic!("a review the user writes: {reviews}"));
    let id = own["id"].as_str().expect("an id").to_owned();
    (id, own["version"].as_i64().expect("a version"))
}

/// Every kind of route a session that is not fully signed in must not reach, each with
/// a body that would work for a complete sign-in: reads, writes, the account, admin
/// settings and reauthentication.
fn routes_beyond_sign_in(review: &(String, i64), cycle_id: &str) -> Vec<Route> {
    let (review_id, version) = review;
    let review_path = format!("/api/v1/reviews/{review_id}");
    let new_cycle = json!({
        "name": "Reached without a second factor",
        "questions": [{ "kind": "text", "prompt": "Anything?" }],
    });
    let password = json!({ "current_password": PASSWORD, "new_password": "short" });
    vec![
        Route::new(Method::GET, "/api/v1/me", None, Some(200)),
        Route::new(Method::GET, "/api/v1/cycles", None, Some(200)),
        Route::new(Method::GET, "/api/v1/reviews", None, Some(200)),
        Route::new(Method::GET, &review_path, None, Some(200)),
        Route::new(Method::POST, "/api/v1/cycles", Some(new_cycle), Some(201)),
        // Saving at the version read before proves that nothing was saved meanwhile.
        Route::new(
            Method::PATCH,
            &review_path,
            Some(json!({ "answers": {}, "version": version })),
            Some(200),
        ),
        Route::new(
            Method::GET,
            &format!("/api/v1/cycles/{cycle_id}/progress"),
            None,
            Some(200),
        ),
        Route::new(Method::GET, "/api/v1/me/sessions", None, Some(200)),
        Route::new(Method::GET, POLICY, None, Some(200)),
        // The right current password and a too-short new one: refused on its merits.
        Route::new(
            Method::PUT,
            "/api/v1/me/password",
            Some(password),
            Some(422),
        ),
        Route::new(
            Method::POST,
            "/api/v1/auth/reauthenticate",
            Some(json!({ "password": PASSWORD })),
            Some(204),
        ),
        Route::new(Method::DELETE, TOTP, None, None),
    ]
}

/// Calls every route as `client` and lists each that did not answer 401
/// `second_factor_required`, with what it answered.
async fn reached(client: &Client, routes: &[Route]) -> Vec<String> {
    let mut reached = Vec::new();
    for route in routes {
        let (status, body) = route.call(client).await;
        if (status.as_u16(), code(&body)) != (401, "second_factor_required") {
            reached.push(format!("{} answered {status}: {body}", route.label()));
        }
    }
    reached
}

/// The id of acme's open demo cycle.
async fn cycle_id(client: &Client) -> String {
    let (status, cycles) = client.get("/api/v1/cycles").await;
    assert_eq!(status, StatusCode::OK, "{cycles}");
    cycles[0]["id"].as_str().expect("a cycle").to_owned()
}

/// One row of `audit_events`.
#[derive(Debug, sqlx::FromRow)]
struct AuditRow {
    action: String,
    actor_id: Option<String>,
    detail: String,
}

impl AuditRow {
    fn detail(&self) -> Value {
        serde_json::from_str(&self.detail).expect("the detail is JSON")
    }
}

/// Opens the server's database read-only, to look behind the API.
async fn database(server: &TestServer) -> sqlx::sqlite::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(server.data_dir.path().join("kaizen.sqlite3"))
        .read_only(true);
    sqlx::sqlite::SqlitePool::connect_with(options)
        .await
        .expect("the database opens read-only")
}

/// Every audit event of acme, oldest first.
async fn audit_events(server: &TestServer) -> Vec<AuditRow> {
    let pool = database(server).await;
    let rows = sqlx::query_as::<_, AuditRow>(
        "SELECT a.action, a.actor_id, a.detail \
         FROM audit_events a JOIN companies c ON c.id = a.company_id \
         WHERE c.slug = ?1 ORDER BY a.at, a.rowid",
    )
    .bind(COMPANY)
    .fetch_all(&pool)
    .await
    .expect("the audit trail reads");
    pool.close().await;
    rows
}

/// The audit events of one user with one action.
fn events<'a>(rows: &'a [AuditRow], user_id: &str, action: &str) -> Vec<&'a AuditRow> {
    rows.iter()
        .filter(|r| r.action == action && r.actor_id.as_deref() == Some(user_id))
        .collect()
}

/// How many rows of a per-user table belong to a user.
async fn rows_of(server: &TestServer, table: &str, user_id: &str) -> i64 {
    let pool = database(server).await;
    let (count,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE user_id = ?1"))
            .bind(user_id)
            .fetch_one(&pool)
            .await
            .expect("the table reads");
    pool.close().await;
    count
}

// ---------------------------------------------------------------------------------------
// Setting up an authenticator app
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn enrolling_an_authenticator_needs_a_recent_reauthentication() {
    let server = TestServer::demo().await;
    let client = server.sign_in(COMPANY, &email("employee1")).await;

    let (status, body) = call(&client, Method::POST, TOTP).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (403, "reauthentication_required"),
        "{body}"
    );

    reauthenticate(&client).await;
    let (status, body) = call(&client, Method::POST, TOTP).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_new_authenticator_comes_with_its_secret_otpauth_uri_and_qr_code() {
    let server = TestServer::demo().await;
    let client = server.sign_in(COMPANY, &email("employee1")).await;
    reauthenticate(&client).await;
    let setup = start_setup(&client).await;

    // The secret is base32 of 160 random bits, as authenticator apps take it.
    let secret = setup["secret"].as_str().expect("a secret");
    let bytes = from_base32(secret).expect("the secret is base32");
    assert_eq!(bytes.len(), 20, "a 160-bit secret: {secret}");

    // The URI an app scans carries that secret and names the issuer.
    let uri = setup["otpauth_uri"].as_str().expect("a URI");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(uri.contains("issuer="), "{uri}");

    // The QR code is an SVG document rendered by the server.
    let svg = setup["qr_svg"].as_str().expect("an SVG");
    assert!(svg.starts_with("<?xml") || svg.contains("<svg"), "{svg}");

    // Starting again before confirming hands out a fresh secret.
    let again = start_setup(&client).await;
    assert_ne!(again["secret"], setup["secret"]);
}

#[tokio::test]
async fn confirming_needs_a_right_code_and_answers_ten_distinct_recovery_codes() {
    let server = TestServer::demo().await;
    let client = server.sign_in(COMPANY, &email("employee1")).await;
    reauthenticate(&client).await;
    let setup = start_setup(&client).await;
    let secret = from_base32(setup["secret"].as_str().expect("a secret")).expect("base32");

    let wrong = json!({ "code": wrong_code(&secret) });
    let (status, body) = client.post(CONFIRM, wrong).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (401, "invalid_credentials"),
        "{body}"
    );

    let authenticator = confirm_setup(&client, &setup).await;
    let codes = &authenticator.recovery_codes;
    assert_eq!(codes.len(), RECOVERY_CODES, "{codes:?}");
    let distinct: HashSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), RECOVERY_CODES, "all different: {codes:?}");
    assert!(
        codes.iter().all(|c| c.len() >= 10),
        "long enough to resist guessing: {codes:?}"
    );

    // A confirmed app is not replaced behind the user's back: remove it first.
    let (status, body) = call(&client, Method::POST, TOTP).await;
    assert_eq!((status.as_u16(), code(&body)), (409, "conflict"), "{body}");
}

#[tokio::test]
async fn confirming_ends_the_users_other_sessions_and_keeps_this_one() {
    let server = TestServer::demo().await;
    let current = server.sign_in(COMPANY, &email("employee1")).await;
    let other = server.sign_in(COMPANY, &email("employee1")).await;
    let colleague = server.sign_in(COMPANY, &email("employee2")).await;
    reauthenticate(&current).await;
    let setup = start_setup(&current).await;

    // An app not yet confirmed changes nothing: the password alone still signs in.
    let later = signed_in(&server, "employee1").await;

    confirm_setup(&current, &setup).await;
    assert_eq!(
        me(&current).await,
        (200, String::new()),
        "this session stays"
    );
    for (who, client) in [("an older session", &other), ("a later session", &later)] {
        assert_eq!(
            me(client).await,
            (401, "unauthenticated".into()),
            "{who} ends"
        );
    }
    assert_eq!(
        me(&colleague).await,
        (200, String::new()),
        "another user's session stays"
    );
}

// ---------------------------------------------------------------------------------------
// The half-signed-in session
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_password_sign_in_with_a_factor_is_only_half_signed_in() {
    let server = TestServer::demo().await;
    enrolled(&server, "employee1").await;

    let answer = login(&server, "employee1", false, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, json!({ "status": "second_factor_required" }));
    assert!(answer.body.get("user").is_none(), "no user yet: {answer:?}");
    let cookie = answer.session();
    assert!(!cookie.value().is_empty(), "a session cookie: {cookie:?}");
    assert!(cookie.has("HttpOnly"), "{cookie:?}");
}

#[tokio::test]
async fn a_half_signed_in_session_reaches_no_route_but_the_second_factor_ones() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr")).await;
    let review = own_review(&hr).await;
    let cycle = cycle_id(&hr).await;
    let authenticator = enroll(&hr).await;

    // Every ordinary route, and setting up another app, is closed.
    let pending = pending(&server, "hr").await;
    let mut routes = routes_beyond_sign_in(&review, &cycle);
    // Reauthenticated by then, a complete sign-in hears the app is already set up.
    routes.push(Route::new(Method::POST, TOTP, None, Some(409)));
    let reached_pending = reached(&pending, &routes).await;

    // The same calls with the sign-in complete work, so it was the missing code that
    // closed them, and nothing the pending session sent was carried out.
    let full = complete(&server, &pending, "totp", &authenticator.next_code()).await;
    let mut unexpected = Vec::new();
    for route in &routes {
        let Some(status) = route.signed_in else {
            continue;
        };
        let (got, body) = route.call(&full).await;
        if got.as_u16() != status {
            unexpected.push(format!("{} answered {got}: {body}", route.label()));
        }
    }

    assert!(
        reached_pending.is_empty(),
        "a half-signed-in session reached: {reached_pending:#?}"
    );
    assert!(
        unexpected.is_empty(),
        "a signed-in session answered unexpectedly: {unexpected:#?}"
    );
}

/// Confirming an app is not one of the two second-factor endpoints a half-signed-in
/// session may call, so it answers like every other route.
#[tokio::test]
async fn a_half_signed_in_session_cannot_confirm_an_app() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;
    let pending = pending(&server, "employee1").await;

    for (case, typed) in [
        ("a wrong code", authenticator.wrong_code()),
        ("a right code", authenticator.next_code()),
    ] {
        let (status, body) = pending.post(CONFIRM, json!({ "code": typed })).await;
        assert_eq!(
            (status.as_u16(), code(&body)),
            (401, "second_factor_required"),
            "{case}: {body}"
        );
    }
    assert_eq!(me(&pending).await, (401, "second_factor_required".into()));
}

#[tokio::test]
async fn a_half_signed_in_session_cannot_open_a_live_connection() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "hr").await;
    let pending = pending(&server, "hr").await;
    let pending_cookie = pending.cookie.clone().expect("a cookie");

    let refused = refusal(connect_live(&server, &pending_cookie).await);
    assert_eq!(refused, (401, "second_factor_required".into()));

    // With the code given, the new session connects; the pending cookie still cannot.
    let full = complete(&server, &pending, "totp", &authenticator.next_code()).await;
    let full_cookie = full.cookie.clone().expect("a cookie");
    connect_live(&server, &full_cookie)
        .await
        .expect("a complete sign-in connects");
    let refused = refusal(connect_live(&server, &pending_cookie).await);
    assert_eq!(refused, (401, "unauthenticated".into()));
}

#[tokio::test]
async fn a_half_signed_in_session_can_sign_out() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;
    let pending = pending(&server, "employee1").await;

    assert_eq!(logout(&pending).await, StatusCode::NO_CONTENT);
    let answer = submit(&pending, "totp", &authenticator.next_code(), false).await;
    assert_eq!(
        answer.outcome(),
        (401, "unauthenticated"),
        "the signed-out sign-in cannot be completed: {answer:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Completing sign-in
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_right_code_completes_sign_in_under_a_new_token() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;
    let pending = pending(&server, "employee1").await;

    let answer = submit(&pending, "totp", &authenticator.next_code(), false).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["status"], "signed_in", "{answer:?}");
    assert_eq!(
        answer.body["user"]["email"],
        email("employee1"),
        "{answer:?}"
    );
    let renewed = answer.session();
    assert_ne!(
        Some(&renewed.pair),
        pending.cookie.as_ref(),
        "the session continues under a fresh token"
    );

    let full = with_session(&server, &answer);
    assert_eq!(me(&full).await, (200, String::new()));
    assert_eq!(
        me(&pending).await,
        (401, "unauthenticated".into()),
        "the pending token is void"
    );
    let again = submit(&pending, "totp", &authenticator.wrong_code(), false).await;
    assert_eq!(again.outcome(), (401, "unauthenticated"), "{again:?}");
}

#[tokio::test]
async fn a_totp_code_is_accepted_only_once_and_a_replay_is_audited() {
    let server = TestServer::demo().await;
    let (client, authenticator) = enrolled(&server, "employee1").await;
    let user = user_id(&client).await;
    let code = authenticator.next_code();

    // The code that confirmed the app does not sign in.
    let first = pending(&server, "employee1").await;
    let confirming = code_at(&authenticator.secret, authenticator.confirmed_step);
    let answer = submit(&first, "totp", &confirming, false).await;
    assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");

    // A fresh code signs in once; the same code on another sign-in is refused.
    complete(&server, &first, "totp", &code).await;
    let second = pending(&server, "employee1").await;
    let replay = submit(&second, "totp", &code, false).await;
    assert_eq!(replay.outcome(), (401, "invalid_credentials"), "{replay:?}");
    assert_eq!(
        me(&second).await,
        (401, "second_factor_required".into()),
        "the replay signed nobody in"
    );

    let rows = audit_events(&server).await;
    let reused = events(&rows, &user, "second_factor_reused");
    assert!(!reused.is_empty(), "the replay is audited: {rows:#?}");
    assert_eq!(reused[0].detail()["method"], "totp", "{reused:?}");
}

/// Codes are checked and spent in one step: the same code sent on two sign-ins at the
/// same moment completes only one of them.
#[tokio::test]
async fn a_code_sent_twice_at_once_signs_in_only_once() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;
    let recovery = authenticator.recovery_codes[0].clone();

    for (method, code) in [("totp", authenticator.next_code()), ("recovery", recovery)] {
        let one = pending(&server, "employee1").await;
        let two = pending(&server, "employee1").await;
        let (a, b) = tokio::join!(
            submit(&one, method, &code, false),
            submit(&two, method, &code, false)
        );
        let mut outcomes = vec![a.outcome(), b.outcome()];
        outcomes.sort_unstable();
        assert_eq!(
            outcomes,
            vec![(200, ""), (401, "invalid_credentials")],
            "{method}: {a:?} {b:?}"
        );
    }
}

#[tokio::test]
async fn each_recovery_code_works_once_whatever_its_case_and_dashes() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;
    let first = &authenticator.recovery_codes[0];
    let second = &authenticator.recovery_codes[1];
    assert!(
        first.contains('-'),
        "recovery codes are shown in groups: {first}"
    );

    // Lowercase with the dash works once.
    let pending_one = pending(&server, "employee1").await;
    let typed = first.to_lowercase();
    let full = complete(&server, &pending_one, "recovery", &typed).await;
    assert_eq!(me(&full).await, (200, String::new()));

    // The same code in capitals without the dash is the same, used, code.
    let pending_two = pending(&server, "employee1").await;
    let retyped = first.to_uppercase().replace('-', "");
    let answer = submit(&pending_two, "recovery", &retyped, false).await;
    assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");

    // Another code works, typed without the dash.
    let other = second.to_lowercase().replace('-', "");
    let full = complete(&server, &pending_two, "recovery", &other).await;
    assert_eq!(me(&full).await, (200, String::new()));
}

// ---------------------------------------------------------------------------------------
// Wrong codes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn five_wrong_codes_void_the_pending_sign_in() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;
    let voided = pending(&server, "employee1").await;

    let mut outcomes = Vec::new();
    for _ in 0..MAX_FACTOR_FAILURES {
        let answer = submit(&voided, "totp", &authenticator.wrong_code(), false).await;
        outcomes.push((answer.status.as_u16(), code(&answer.body).to_owned()));
    }
    let mut expected = vec![(401, "invalid_credentials".to_owned()); MAX_FACTOR_FAILURES - 1];
    expected.push((401, "unauthenticated".to_owned()));
    assert_eq!(outcomes, expected);

    // The void sign-in is gone for good, even with the right code.
    let answer = submit(&voided, "totp", &authenticator.next_code(), false).await;
    assert_eq!(answer.outcome(), (401, "unauthenticated"), "{answer:?}");
    assert_eq!(me(&voided).await, (401, "unauthenticated".into()));

    // Signing in again starts over.
    let again = pending(&server, "employee1").await;
    complete(&server, &again, "totp", &authenticator.next_code()).await;
}

#[tokio::test]
async fn wrong_codes_are_rate_limited_per_user_across_sign_ins() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;
    let (_, colleague) = enrolled(&server, "employee2").await;

    // Two pending sign-ins spend the burst, five wrong codes each.
    let mut outcomes = Vec::new();
    for _ in 0..CODE_BURST / MAX_FACTOR_FAILURES {
        let pending = pending(&server, "employee1").await;
        for _ in 0..MAX_FACTOR_FAILURES {
            let answer = submit(&pending, "totp", &authenticator.wrong_code(), false).await;
            outcomes.push(answer.status.as_u16());
        }
    }
    assert_eq!(outcomes, vec![401; CODE_BURST], "the burst is answered");

    // A third sign-in is refused before its code is looked at, even the right one.
    let third = pending(&server, "employee1").await;
    for (case, code) in [
        ("a wrong code", authenticator.wrong_code()),
        ("the right code", authenticator.next_code()),
    ] {
        let answer = submit(&third, "totp", &code, false).await;
        assert_eq!(
            answer.outcome(),
            (429, "rate_limited"),
            "{case}: {answer:?}"
        );
        let seconds: u64 = answer
            .retry_after
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{case}: Retry-After in whole seconds: {answer:?}"));
        assert!(
            (1..=CODE_PERIOD_SECONDS).contains(&seconds),
            "{case}: Retry-After {seconds}"
        );
    }
    assert_eq!(
        me(&third).await,
        (401, "second_factor_required".into()),
        "a refused code signs nobody in"
    );

    // Another user's codes are counted apart.
    let other = pending(&server, "employee2").await;
    let answer = submit(&other, "totp", &colleague.wrong_code(), false).await;
    assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");
    complete(&server, &other, "totp", &colleague.next_code()).await;
}

// ---------------------------------------------------------------------------------------
// Trusted devices and remember-me
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_trusted_device_skips_the_code_for_its_own_user_only() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;
    let (_, _colleague) = enrolled(&server, "employee2").await;

    let pending = pending(&server, "employee1").await;
    let answer = submit(&pending, "totp", &authenticator.next_code(), true).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let device = answer
        .cookie("kz_device")
        .unwrap_or_else(|| panic!("a device cookie: {answer:?}"))
        .clone();
    assert!(device.has("HttpOnly"), "{device:?}");
    assert_eq!(device.max_age(), Some(TRUSTED_DEVICE_SECONDS), "{device:?}");
    let token = device.value();
    assert!(!token.is_empty(), "{device:?}");

    // This browser skips the code; the password alone completes the sign-in.
    let trusted = login(&server, "employee1", false, Some(token)).await;
    assert_eq!(sign_in_status(&trusted), "signed_in", "{trusted:?}");
    assert_eq!(trusted.body["user"]["email"], email("employee1"));
    assert_eq!(
        me(&with_session(&server, &trusted)).await,
        (200, String::new())
    );

    // Without the cookie a code is due, and the cookie does nothing for another user.
    let bare = login(&server, "employee1", false, None).await;
    assert_eq!(sign_in_status(&bare), "second_factor_required", "{bare:?}");
    let borrowed = login(&server, "employee2", false, Some(token)).await;
    assert_eq!(
        sign_in_status(&borrowed),
        "second_factor_required",
        "devices are trusted per user: {borrowed:?}"
    );
}

#[tokio::test]
async fn remember_me_is_granted_only_once_the_second_factor_is_given() {
    let server = TestServer::demo().await;
    let (_, authenticator) = enrolled(&server, "employee1").await;

    let answer = login(&server, "employee1", true, None).await;
    assert_eq!(
        sign_in_status(&answer),
        "second_factor_required",
        "{answer:?}"
    );
    assert!(
        answer.cookie("kz_remember").is_none(),
        "a pending sign-in is not remembered: {answer:?}"
    );

    let pending = with_session(&server, &answer);
    let answer = submit(&pending, "totp", &authenticator.next_code(), false).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.session().max_age(),
        None,
        "the session ends with the browser: {answer:?}"
    );
    let remember = answer
        .cookie("kz_remember")
        .unwrap_or_else(|| panic!("the completed sign-in is remembered: {answer:?}"));
    assert_eq!(remember.max_age(), Some(REMEMBER_ME_SECONDS), "{answer:?}");
    assert!(remember.has("HttpOnly"), "{answer:?}");

    // The remembered browser comes back without its session and is signed in again, with
    // no second factor asked: the token was issued only after it.
    let returning = Client {
        cookie: Some(remember.pair.clone()),
        ..pending.clone()
    };
    let (status, me) = returning.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email"], email("employee1"));
}

// ---------------------------------------------------------------------------------------
// The company's requirement
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_company_requirement_sends_users_without_a_factor_to_enrollment() {
    let server = TestServer::demo().await;
    let earlier = server.sign_in(COMPANY, &email("employee1")).await;
    let review = own_review(&earlier).await;
    let cycle = cycle_id(&earlier).await;
    require_second_factor(&server).await;

    let answer = login(&server, "employee1", false, None).await;
    assert_eq!(
        answer.body,
        json!({ "status": "second_factor_enrollment_required" }),
        "{answer:?}"
    );
    let enrolling = with_session(&server, &answer);

    // Only setting up an app is open; it needs no reauthentication right after the
    // password was given.
    let reached = reached(&enrolling, &routes_beyond_sign_in(&review, &cycle)).await;
    assert!(
        reached.is_empty(),
        "an enrolling session reached: {reached:#?}"
    );
    let setup = start_setup(&enrolling).await;
    let authenticator = confirm_setup(&enrolling, &setup).await;
    assert_eq!(authenticator.recovery_codes.len(), RECOVERY_CODES);

    // The same session is now fully signed in; the user's earlier one has ended.
    assert_eq!(me(&enrolling).await, (200, String::new()));
    let (status, body) = enrolling.get("/api/v1/reviews").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(me(&earlier).await, (401, "unauthenticated".into()));

    // From now on the password alone is not enough.
    pending(&server, "employee1").await;
}

#[tokio::test]
async fn an_enrolling_session_can_sign_out() {
    let server = TestServer::demo().await;
    require_second_factor(&server).await;

    let answer = login(&server, "employee2", false, None).await;
    let status = sign_in_status(&answer);
    assert_eq!(status, "second_factor_enrollment_required", "{answer:?}");
    let enrolling = with_session(&server, &answer);
    assert_eq!(logout(&enrolling).await, StatusCode::NO_CONTENT);
    assert_eq!(me(&enrolling).await, (401, "unauthenticated".into()));
    let (status, body) = call(&enrolling, Method::POST, TOTP).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (401, "unauthenticated"),
        "{body}"
    );
}

#[tokio::test]
async fn a_required_second_factor_cannot_be_removed() {
    let server = TestServer::demo().await;
    let (client, _) = enrolled(&server, "employee1").await;
    require_second_factor(&server).await;

    reauthenticate(&client).await;
    let (status, body) = call(&client, Method::DELETE, TOTP).await;
    assert_eq!((status.as_u16(), code(&body)), (409, "conflict"), "{body}");
    pending(&server, "employee1").await;
}

// ---------------------------------------------------------------------------------------
// Removing the app
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn disabling_needs_reauthentication_and_makes_sign_in_single_step_again() {
    let server = TestServer::demo().await;
    let (older, authenticator) = enrolled(&server, "employee1").await;
    let user = user_id(&older).await;

    // A second session, on a browser now trusted.
    let pending = pending(&server, "employee1").await;
    let answer = submit(&pending, "totp", &authenticator.next_code(), true).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let device = answer.cookie("kz_device").expect("a device cookie").clone();
    let current = with_session(&server, &answer);

    // Removing the app needs the password again, even in a fresh session.
    let (status, body) = call(&current, Method::DELETE, TOTP).await;
    let refused = (status.as_u16(), code(&body).to_owned());
    assert_eq!(refused, (403, "reauthentication_required".into()), "{body}");
    reauthenticate(&current).await;
    let (status, body) = call(&current, Method::DELETE, TOTP).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // The user's other sessions ended; this one goes on.
    assert_eq!(me(&older).await, (401, "unauthenticated".into()));
    assert_eq!(me(&current).await, (200, String::new()));

    // The password alone signs in again; recovery codes and devices are forgotten.
    signed_in(&server, "employee1").await;
    for table in ["totp_factors", "recovery_codes", "trusted_devices"] {
        assert_eq!(
            rows_of(&server, table, &user).await,
            0,
            "{table} of the user"
        );
    }

    // A new app starts from nothing: the old device and recovery codes do not count.
    let renewed = enroll(&current).await;
    let answer = login(&server, "employee1", false, Some(device.value())).await;
    assert_eq!(
        sign_in_status(&answer),
        "second_factor_required",
        "the old device is no longer trusted: {answer:?}"
    );
    let pending = with_session(&server, &answer);
    let old = &authenticator.recovery_codes[0];
    let answer = submit(&pending, "recovery", old, false).await;
    assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");
    complete(&server, &pending, "recovery", &renewed.recovery_codes[0]).await;
}

// ---------------------------------------------------------------------------------------
// The audit trail
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn second_factor_events_are_audited_without_codes_or_secrets() {
    let server = TestServer::demo().await;
    let (client, authenticator) = enrolled(&server, "employee1").await;
    let user = user_id(&client).await;

    let pending = pending(&server, "employee1").await;
    let wrong = authenticator.wrong_code();
    let answer = submit(&pending, "totp", &wrong, false).await;
    assert_eq!(answer.outcome(), (401, "invalid_credentials"), "{answer:?}");
    let right = authenticator.next_code();
    let full = complete(&server, &pending, "totp", &right).await;
    reauthenticate(&full).await;
    let (status, body) = call(&full, Method::DELETE, TOTP).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let rows = audit_events(&server).await;
    for action in [
        "second_factor_enabled",
        "second_factor_failed",
        "second_factor_disabled",
    ] {
        assert!(
            !events(&rows, &user, action).is_empty(),
            "{action} is audited: {rows:#?}"
        );
    }
    let failed = events(&rows, &user, "second_factor_failed");
    assert_eq!(failed[0].detail()["method"], "totp", "{failed:?}");
    let with_factor = events(&rows, &user, "signed_in")
        .into_iter()
        .filter(|r| r.detail()["factor"] == "password+totp")
        .count();
    assert_eq!(with_factor, 1, "one sign-in with the app: {rows:#?}");

    // No secret, code or recovery code in any form reaches the trail.
    let confirming = code_at(&authenticator.secret, authenticator.confirmed_step);
    let mut secrets = vec![authenticator.secret_text.clone(), confirming, right, wrong];
    for recovery in &authenticator.recovery_codes {
        secrets.push(recovery.clone());
        secrets.push(recovery.replace('-', ""));
    }
    for row in &rows {
        let text = row.detail.to_uppercase();
        for secret in &secrets {
            assert!(
                !text.contains(&secret.to_uppercase()),
                "{} leaks a code or secret: {}",
                row.action,
                row.detail
            );
        }
    }
}
