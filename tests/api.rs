//! Black-box tests of the HTTP API of the first slice: sign-in and sessions, the role
//! and company rules of every route, reviews and cycles, refused input, cross-site
//! requests and the operator's endpoints.
//!
//! Each test starts its own server over a copy of the demo data, so tests may change
//! what they like. Role and company rules are tables: one row per caller and route.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use common::{Client, TestServer, code};
use kaizen_actors::model::{Answer, Answers, ReviewStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The demo company most tests act in.
const COMPANY: &str = "acme";

/// The other demo company, whose people must never reach acme's data.
const OTHER_COMPANY: &str = "globex";

/// The demo's open cycle.
const DEMO_CYCLE: &str = "2026 Annual Review";

/// The email of a demo user of a company, by the local part.
fn email(local: &str, company: &str) -> String {
    format!("{local}@{company}.example")
}

/// GETs a resource that must answer 200 and returns its body.
async fn ok(client: &Client, path: &str) -> Value {
    let (status, body) = client.get(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// The signed-in user's id.
async fn my_id(client: &Client) -> String {
    text(&ok(client, "/api/v1/me").await["id"])
}

/// A JSON string's value; panics on anything else.
fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

/// The items of a JSON array; panics on anything else.
fn items(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {value}"))
}

/// The id of the caller's own self review in the demo cycle.
async fn own_self_review(client: &Client) -> String {
    let me = my_id(client).await;
    let reviews = ok(client, "/api/v1/reviews").await;
    let own = items(&reviews)
        .iter()
        .find(|r| r["kind"] == "self" && r["reviewer_id"] == me.as_str())
        .unwrap_or_else(|| panic!("a self review among {reviews}"));
    text(&own["id"])
}

/// The id of the manager review `manager` writes about `reviewee_id`.
async fn manager_review_of(manager: &Client, reviewee_id: &str) -> String {
    let reviews = ok(manager, "/api/v1/reviews").await;
    let review = items(&reviews)
        .iter()
        .find(|r| r["kind"] == "manager" && r["reviewee_id"] == reviewee_id)
        .unwrap_or_else(|| panic!("a manager review of {reviewee_id} among {reviews}"));
    text(&review["id"])
}

/// The id of the demo cycle as an HR admin sees it.
async fn demo_cycle(hr: &Client) -> String {
    let cycles = ok(hr, "/api/v1/cycles").await;
    let cycle = items(&cycles)
        .iter()
        .find(|c| c["name"] == DEMO_CYCLE)
        .unwrap_or_else(|| panic!("the demo cycle among {cycles}"));
    text(&cycle["id"])
}

/// Answers for every question of a review: text questions get text, ratings a 4.
fn complete_answers(review: &Value) -> Value {
    let mut answers = serde_json::Map::new();
    for question in items(&review["questions"]) {
        let answer = match question["kind"].as_str() {
            Some("rating") => json!(4),
            _ => json!(format!("An answer to {}", question["prompt"])),
        };
        answers.insert(text(&question["id"]), answer);
    }
    Value::Object(answers)
}

/// The id of the first question of a kind in a review's questionnaire.
fn question_of_kind(review: &Value, kind: &str) -> String {
    let question = items(&review["questions"])
        .iter()
        .find(|q| q["kind"] == kind)
        .unwrap_or_else(|| panic!("a {kind} question in {review}"));
    text(&question["id"])
}

/// Whether a body has the documented error shape with a snake_case code.
fn assert_error_shape(body: &Value, context: &str) {
    let error_code = code(body);
    assert!(
        !error_code.is_empty()
            && error_code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'),
        "{context}: a snake_case error code in {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{context}: an error message in {body}"
    );
}

/// The error code every refusal status maps to.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "validation_failed",
        _ => "",
    }
}

/// A valid new cycle, for the routes that create one.
fn new_cycle(name: &str) -> Value {
    json!({
        "name": name,
        "questions": [
            {"kind": "text", "prompt": "What did you learn?"},
            {"kind": "rating", "prompt": "How was the half year?"}
        ]
    })
}

/// The acme demo seen through the API: three people signed in and the ids aimed at.
struct Acme {
    server: TestServer,
    /// employee1, who reports to the manager.
    employee: Client,
    /// The manager of employee1..employee20.
    manager: Client,
    /// The HR admin.
    hr: Client,
    /// The demo cycle.
    cycle_id: String,
    /// employee1's id.
    employee_id: String,
    /// employee1's self review, written by employee1.
    own_review: String,
    /// The manager's review of employee1.
    manager_review: String,
    /// employee2's self review.
    peer_review: String,
}

impl Acme {
    async fn start() -> Acme {
        let server = TestServer::demo().await;
        let emails = ["employee1", "manager", "hr", "employee2"].map(|l| email(l, COMPANY));
        let (employee, manager, hr, peer) = tokio::join!(
            server.sign_in(COMPANY, &emails[0]),
            server.sign_in(COMPANY, &emails[1]),
            server.sign_in(COMPANY, &emails[2]),
            server.sign_in(COMPANY, &emails[3]),
        );
        let employee_id = my_id(&employee).await;
        Acme {
            cycle_id: demo_cycle(&hr).await,
            own_review: own_self_review(&employee).await,
            manager_review: manager_review_of(&manager, &employee_id).await,
            peer_review: own_self_review(&peer).await,
            employee_id,
            employee,
            manager,
            hr,
            server,
        }
    }

    /// A review as the HR admin sees it (HR may read every review).
    async fn review(&self, id: &str) -> Value {
        ok(&self.hr, &format!("/api/v1/reviews/{id}")).await
    }

    /// A review's current version.
    async fn version(&self, id: &str) -> i64 {
        self.review(id).await["version"]
            .as_i64()
            .expect("a numeric version")
    }

    /// The demo cycle's progress.
    async fn progress(&self) -> Value {
        ok(
            &self.hr,
            &format!("/api/v1/cycles/{}/progress", self.cycle_id),
        )
        .await
    }

    /// Saves a draft of a review as `writer`, based on its current version.
    async fn save(&self, writer: &Client, id: &str, answers: Value) -> (StatusCode, Value) {
        let version = self.version(id).await;
        let body = json!({"answers": answers, "version": version});
        writer.patch(&format!("/api/v1/reviews/{id}"), body).await
    }

    /// Submits a review as `writer`, with no body, as the web app does.
    async fn submit(&self, writer: &Client, id: &str) -> (StatusCode, Value) {
        let path = format!("/api/v1/reviews/{id}/submit");
        writer.send(writer.request(Method::POST, &path)).await
    }
}

// ---------------------------------------------------------------------------------------
// Sign-in and sessions
// ---------------------------------------------------------------------------------------

/// Signs in over HTTP and answers the status, the body and the `Set-Cookie` header.
async fn login(server: &TestServer, body: Value) -> (StatusCode, Value, Option<String>) {
    let response = server
        .anonymous()
        .request(Method::POST, "/api/v1/auth/login")
        .json(&body)
        .send()
        .await
        .expect("the login request is answered");
    let status = response.status();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().expect("an ASCII cookie").to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, cookie)
}

/// A client carrying a given `Cookie` header.
fn with_cookie(server: &TestServer, cookie: &str) -> Client {
    let mut client = server.anonymous();
    client.cookie = Some(cookie.to_owned());
    client
}

#[tokio::test]
async fn sign_in_answers_the_user_and_sets_an_http_only_same_site_cookie() {
    let server = TestServer::demo().await;
    let manager = server.sign_in(COMPANY, &email("manager", COMPANY)).await;
    let manager_id = my_id(&manager).await;

    let (status, body, cookie) = login(
        &server,
        json!({"company": COMPANY, "email": email("employee1", COMPANY),
               "password": server.password, "remember_me": false}),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "signed_in");
    let user = &body["user"];
    assert!(user["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(user["company"], COMPANY);
    assert_eq!(user["email"], email("employee1", COMPANY));
    assert!(user["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(user["roles"], json!(["employee"]));
    assert_eq!(user["manager_id"], manager_id.as_str());

    let cookie = cookie.expect("a session cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes[0].starts_with("kz_session="), "{cookie}");
    for wanted in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} in {cookie}");
    }
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Expires"),
        "without remember me the cookie ends with the browser: {cookie}"
    );

    // The cookie works, and names the same user.
    let client = with_cookie(&server, attributes[0]);
    assert_eq!(ok(&client, "/api/v1/me").await, *user);
}

#[tokio::test]
async fn remember_me_adds_a_lasting_cookie_beside_the_browser_session_one() {
    let server = TestServer::demo().await;

    let response = server
        .anonymous()
        .request(Method::POST, "/api/v1/auth/login")
        .json(
            &json!({"company": COMPANY, "email": email("employee1", COMPANY),
                      "password": server.password, "remember_me": true}),
        )
        .send()
        .await
        .expect("the login request is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("an ASCII cookie").to_owned())
        .collect();
    let named = |name: &str| {
        cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("a {name} cookie in {cookies:?}"))
    };
    let session = named("kz_session");
    assert!(
        !session.contains("Max-Age") && !session.contains("Expires"),
        "the session itself still ends with the browser: {session}"
    );
    let remember = named("kz_remember");
    assert!(
        remember.contains(&format!("Max-Age={}", 30 * 24 * 3600)),
        "the demo's 30 remember-me days: {remember}"
    );
    for wanted in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(remember.contains(wanted), "{wanted} in {remember}");
    }
    let token = |cookie: &str| cookie.split(';').next().unwrap_or("").to_owned();
    assert_ne!(
        token(session).split_once('=').map(|(_, v)| v.to_owned()),
        token(remember).split_once('=').map(|(_, v)| v.to_owned()),
        "the remember-me token is not the session token"
    );
}

#[tokio::test]
async fn roles_follow_the_stored_role_and_the_reporting_lines() {
    let server = TestServer::demo().await;
    let cases = [
        ("employee1", json!(["employee"])),
        ("manager", json!(["employee", "manager"])),
        ("hr", json!(["employee", "hr_admin"])),
        ("lead", json!(["employee", "manager"])),
    ];
    for (local, roles) in cases {
        let client = server.sign_in(COMPANY, &email(local, COMPANY)).await;
        assert_eq!(ok(&client, "/api/v1/me").await["roles"], roles, "{local}");
    }
}

#[tokio::test]
async fn every_failed_sign_in_gets_the_same_401_and_no_cookie() {
    let server = TestServer::demo().await;
    let employee = email("employee1", COMPANY);
    let attempts = [
        (
            "wrong password",
            COMPANY,
            employee.as_str(),
            "not the password",
        ),
        ("empty password", COMPANY, employee.as_str(), ""),
        (
            "unknown email",
            COMPANY,
            "nobody@acme.example",
            server.password.as_str(),
        ),
        (
            "unknown company",
            "initech",
            employee.as_str(),
            server.password.as_str(),
        ),
        (
            "user of another company",
            OTHER_COMPANY,
            employee.as_str(),
            server.password.as_str(),
        ),
    ];

    let mut bodies = Vec::new();
    for (case, company, email, password) in attempts {
        let (status, body, cookie) = login(
            &server,
            json!({"company": company, "email": email, "password": password,
                   "remember_me": false}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_eq!(code(&body), "invalid_credentials", "{case}");
        assert_eq!(cookie, None, "{case}: no cookie on failure");
        bodies.push((case, body));
    }
    for (case, body) in &bodies[1..] {
        assert_eq!(
            body, &bodies[0].1,
            "{case} must not be told apart from a wrong password"
        );
    }
}

#[tokio::test]
async fn each_sign_in_issues_a_new_token_and_both_stay_valid() {
    let server = TestServer::demo().await;
    let user = email("employee1", COMPANY);

    let first = server.sign_in(COMPANY, &user).await;
    let second = server.sign_in(COMPANY, &user).await;

    assert_ne!(first.cookie, second.cookie);
    assert_eq!(
        ok(&first, "/api/v1/me").await,
        ok(&second, "/api/v1/me").await
    );
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server_and_only_that_one() {
    let server = TestServer::demo().await;
    let user = email("employee1", COMPANY);
    let leaving = server.sign_in(COMPANY, &user).await;
    let staying = server.sign_in(COMPANY, &user).await;

    let response = leaving
        .request(Method::POST, "/api/v1/auth/logout")
        .send()
        .await
        .expect("logout is answered");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for name in ["kz_session", "kz_remember"] {
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")),
            "the browser is told to drop {name}: {cleared:?}"
        );
    }

    // The old cookie, replayed as if it had been kept, is dead on the server.
    let (status, body) = leaving.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "unauthenticated");
    let (status, _) = leaving
        .send(leaving.request(Method::POST, "/api/v1/auth/logout"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a second logout");

    // The same user's other session is untouched.
    ok(&staying, "/api/v1/me").await;
}

/// One route of the slice, with the ids it needs filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Logout,
    Me,
    ListCycles,
    CreateCycle,
    Progress,
    ListReviews,
    GetReview,
    PatchReview,
    SubmitReview,
    Live,
}

impl Route {
    /// Every route of the slice that needs a session.
    const SIGNED_IN: [Route; 10] = [
        Route::Logout,
        Route::Me,
        Route::ListCycles,
        Route::CreateCycle,
        Route::Progress,
        Route::ListReviews,
        Route::GetReview,
        Route::PatchReview,
        Route::SubmitReview,
        Route::Live,
    ];

    /// The method and path, with `cycle` and `review` for the ids in it.
    fn target(self, cycle: &str, review: &str) -> (Method, String) {
        match self {
            Route::Logout => (Method::POST, "/api/v1/auth/logout".into()),
            Route::Me => (Method::GET, "/api/v1/me".into()),
            Route::ListCycles => (Method::GET, "/api/v1/cycles".into()),
            Route::CreateCycle => (Method::POST, "/api/v1/cycles".into()),
            Route::Progress => (Method::GET, format!("/api/v1/cycles/{cycle}/progress")),
            Route::ListReviews => (Method::GET, "/api/v1/reviews".into()),
            Route::GetReview => (Method::GET, format!("/api/v1/reviews/{review}")),
            Route::PatchReview => (Method::PATCH, format!("/api/v1/reviews/{review}")),
            Route::SubmitReview => (Method::POST, format!("/api/v1/reviews/{review}/submit")),
            Route::Live => (Method::GET, "/api/v1/live".into()),
        }
    }

    /// Calls the route as `client`; a PATCH names `version` and sends `answers`.
    async fn call(
        self,
        client: &Client,
        cycle: &str,
        review: &str,
        answers: Value,
        version: i64,
    ) -> (StatusCode, Value) {
        let (method, path) = self.target(cycle, review);
        let request = client.request(method, &path);
        let request = match self {
            Route::CreateCycle => request.json(&new_cycle("Table cycle")),
            Route::PatchReview => request.json(&json!({"answers": answers, "version": version})),
            _ => request,
        };
        client.send(request).await
    }
}

#[tokio::test]
async fn every_route_refuses_a_missing_or_bad_session_with_401() {
    let acme = Acme::start().await;
    let server = &acme.server;
    let real = acme.employee.cookie.clone().expect("a cookie");
    let company_id = real
        .trim_start_matches("kz_session=")
        .split('.')
        .next()
        .expect("the company part")
        .to_owned();
    let globex = server
        .sign_in(OTHER_COMPANY, &email("employee1", OTHER_COMPANY))
        .await;
    let globex_token = globex
        .cookie
        .as_deref()
        .and_then(|c| c.split_once('.'))
        .map(|(_, token)| token.to_owned())
        .expect("a globex token");
    let mut tampered = real.clone();
    let last = if tampered.ends_with('A') { "B" } else { "A" };
    tampered.replace_range(tampered.len() - 1.., last);

    let sessions = [
        ("no cookie", None),
        ("garbage", Some("kz_session=garbage".to_owned())),
        ("empty", Some("kz_session=".to_owned())),
        (
            "well-formed, unknown company",
            Some(format!(
                "kz_session={}.{}",
                uuid::Uuid::new_v4(),
                "a".repeat(43)
            )),
        ),
        (
            "real company, made-up token",
            Some(format!("kz_session={company_id}.{}", "a".repeat(43))),
        ),
        ("real token, one character changed", Some(tampered)),
        (
            "another cookie name",
            Some(real.replacen("kz_session", "session", 1)),
        ),
        (
            "a globex token under acme's company id",
            Some(format!("kz_session={company_id}.{globex_token}")),
        ),
    ];
    let version = acme.version(&acme.own_review).await;

    for (case, cookie) in &sessions {
        let mut client = server.anonymous();
        client.cookie = cookie.clone();
        for route in Route::SIGNED_IN {
            let (status, body) = route
                .call(
                    &client,
                    &acme.cycle_id,
                    &acme.own_review,
                    json!({}),
                    version,
                )
                .await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
                "{case}: {route:?}: {body}"
            );
        }
    }

    // Nothing was changed by any of them.
    assert_eq!(acme.version(&acme.own_review).await, version);
    ok(&acme.employee, "/api/v1/me").await;
}

// ---------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------

/// Who calls, in the roles table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// employee1.
    Employee,
    /// employee1's manager.
    Manager,
    /// The HR admin.
    Hr,
    /// A manager with other reports (the lead).
    OtherManager,
    /// The manager's manager (the CEO), above employee1 in the reporting line.
    SkipLevel,
}

/// Which review a review route aims at, in the roles table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aim {
    /// employee1's self review.
    Own,
    /// The manager's review of employee1.
    ManagerReview,
    /// employee2's self review.
    Peer,
}

#[tokio::test]
async fn each_role_gets_the_expected_answer_on_every_route() {
    use Aim::*;
    use Route::*;
    use Who::*;
    let acme = Acme::start().await;
    let other_manager = acme.server.sign_in(COMPANY, &email("lead", COMPANY)).await;
    let skip_level = acme.server.sign_in(COMPANY, &email("ceo", COMPANY)).await;
    let client = |who| match who {
        Employee => &acme.employee,
        Manager => &acme.manager,
        Hr => &acme.hr,
        OtherManager => &other_manager,
        SkipLevel => &skip_level,
    };
    let review = |aim| match aim {
        Own => acme.own_review.as_str(),
        ManagerReview => acme.manager_review.as_str(),
        Peer => acme.peer_review.as_str(),
    };

    // Rows run in order: the employee's draft save comes before their submit, which is
    // then refused only for the unanswered questions (422), i.e. after the role check.
    let table: &[(Who, Route, Aim, u16)] = &[
        (Employee, Me, Own, 200),
        (Manager, Me, Own, 200),
        (Hr, Me, Own, 200),
        (Employee, ListCycles, Own, 200),
        (Manager, ListCycles, Own, 200),
        (Hr, ListCycles, Own, 200),
        (Employee, CreateCycle, Own, 403),
        (Manager, CreateCycle, Own, 403),
        (SkipLevel, CreateCycle, Own, 403),
        (Hr, CreateCycle, Own, 201),
        (Employee, Progress, Own, 403),
        (Manager, Progress, Own, 403),
        (SkipLevel, Progress, Own, 403),
        (Hr, Progress, Own, 200),
        (Employee, ListReviews, Own, 200),
        (Manager, ListReviews, Own, 200),
        (Hr, ListReviews, Own, 200),
        // Reading: the writer, the subject's managers up the line (while the company's
        // skip-level setting is on, its default; tests/cycles.rs), and HR.
        (Employee, GetReview, Own, 200),
        (Manager, GetReview, Own, 200),
        (SkipLevel, GetReview, Own, 200),
        (Hr, GetReview, Own, 200),
        (OtherManager, GetReview, Own, 404),
        (Employee, GetReview, ManagerReview, 404),
        (Manager, GetReview, ManagerReview, 200),
        (Hr, GetReview, ManagerReview, 200),
        (OtherManager, GetReview, ManagerReview, 404),
        (Employee, GetReview, Peer, 404),
        (Manager, GetReview, Peer, 200),
        (Hr, GetReview, Peer, 200),
        // Writing: only the writer; those who may read get 403, the others 404.
        (Employee, PatchReview, Own, 200),
        (Manager, PatchReview, Own, 403),
        (SkipLevel, PatchReview, Own, 403),
        (Hr, PatchReview, Own, 403),
        (OtherManager, PatchReview, Own, 404),
        (Employee, PatchReview, ManagerReview, 404),
        (Manager, PatchReview, ManagerReview, 200),
        (Hr, PatchReview, ManagerReview, 403),
        (Employee, PatchReview, Peer, 404),
        (Manager, PatchReview, Peer, 403),
        (Hr, PatchReview, Peer, 403),
        (Employee, SubmitReview, Own, 422),
        (Manager, SubmitReview, Own, 403),
        (Hr, SubmitReview, Own, 403),
        (OtherManager, SubmitReview, Own, 404),
        (Employee, SubmitReview, ManagerReview, 404),
        (Manager, SubmitReview, ManagerReview, 422),
        (Hr, SubmitReview, ManagerReview, 403),
        (Employee, SubmitReview, Peer, 404),
        (Manager, SubmitReview, Peer, 403),
    ];

    let mut failures = Vec::new();
    for &(who, route, aim, expected) in table {
        let id = review(aim);
        let version = acme.version(id).await;
        let (status, body) = route
            .call(client(who), &acme.cycle_id, id, json!({}), version)
            .await;
        let expected = StatusCode::from_u16(expected).expect("a status");
        let code_ok = !expected.is_client_error() || code(&body) == code_for(expected);
        if status != expected || !code_ok {
            failures.push(format!(
                "{who:?} {route:?} {aim:?}: expected {expected}, got {status} {body}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn lists_show_the_reviews_the_caller_writes() {
    let acme = Acme::start().await;

    let employee_list = ok(&acme.employee, "/api/v1/reviews").await;
    let manager_list = ok(&acme.manager, "/api/v1/reviews").await;
    let ids =
        |list: &Value| -> Vec<String> { items(list).iter().map(|r| text(&r["id"])).collect() };

    assert_eq!(ids(&employee_list), vec![acme.own_review.clone()]);
    let manager_ids = ids(&manager_list);
    assert!(manager_ids.contains(&acme.manager_review));
    assert!(
        !manager_ids.contains(&acme.own_review),
        "reports' self reviews are not listed"
    );
    // The manager's own self review and one manager review per report.
    assert_eq!(manager_ids.len(), 1 + 20, "{manager_list}");
    let manager_id = my_id(&acme.manager).await;
    for review in items(&manager_list) {
        assert_eq!(review["reviewer_id"], manager_id.as_str(), "{review}");
        assert_eq!(review["cycle_name"], DEMO_CYCLE);
    }
}

#[tokio::test]
async fn a_subject_sees_a_review_about_them_only_once_it_is_shared() {
    let acme = Acme::start().await;
    let path = format!("/api/v1/reviews/{}", acme.manager_review);
    let listed = |list: Value| items(&list).iter().any(|r| r["id"] == acme.manager_review);

    // Not started: invisible to the subject.
    assert!(!listed(ok(&acme.employee, "/api/v1/reviews").await));
    assert_eq!(acme.employee.get(&path).await.0, StatusCode::NOT_FOUND);

    // Submitted: still invisible.
    let review = acme.review(&acme.manager_review).await;
    let (status, body) = acme
        .save(
            &acme.manager,
            &acme.manager_review,
            complete_answers(&review),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = acme.submit(&acme.manager, &acme.manager_review).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!listed(ok(&acme.employee, "/api/v1/reviews").await));
    assert_eq!(acme.employee.get(&path).await.0, StatusCode::NOT_FOUND);

    // Shared. The slice has no route to share a review yet, so the company's actor puts
    // it in that state, as the demo seed does.
    let company = acme
        .server
        .server()
        .registry()
        .by_slug(COMPANY)
        .await
        .expect("the registry answers")
        .expect("acme exists");
    let mut answers = Answers::new();
    for question in items(&review["questions"]) {
        let answer = match question["kind"].as_str() {
            Some("rating") => Answer::Rating(3),
            _ => Answer::Text("Shared words".into()),
        };
        answers.insert(text(&question["id"]), answer);
    }
    company
        .seed_review(acme.manager_review.clone(), ReviewStatus::Shared, answers)
        .await
        .expect("the review is shared");

    assert!(listed(ok(&acme.employee, "/api/v1/reviews").await));
    let seen = ok(&acme.employee, &path).await;
    assert_eq!(seen["status"], "shared");
    assert_eq!(seen["reviewee_id"], acme.employee_id.as_str());

    // Seeing is not writing, and a colleague still sees nothing.
    let (status, _) = acme
        .save(&acme.employee, &acme.manager_review, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let peer = acme
        .server
        .sign_in(COMPANY, &email("employee2", COMPANY))
        .await;
    assert_eq!(peer.get(&path).await.0, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------
// Companies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn another_companys_ids_answer_exactly_like_made_up_ids() {
    let acme = Acme::start().await;
    let before = acme.review(&acme.own_review).await;
    let real_question = question_of_kind(&before, "text");
    let version = before["version"].as_i64().expect("a version");
    let made_up = uuid::Uuid::new_v4().to_string();
    let globex = [("employee1", false), ("manager", false), ("hr", true)];
    let acme_ids = [
        ("cycle", Route::Progress, acme.cycle_id.as_str()),
        ("self review", Route::GetReview, acme.own_review.as_str()),
        (
            "manager review",
            Route::GetReview,
            acme.manager_review.as_str(),
        ),
        ("self review", Route::PatchReview, acme.own_review.as_str()),
        (
            "manager review",
            Route::PatchReview,
            acme.manager_review.as_str(),
        ),
        ("self review", Route::SubmitReview, acme.own_review.as_str()),
        (
            "manager review",
            Route::SubmitReview,
            acme.manager_review.as_str(),
        ),
    ];

    for (local, is_hr) in globex {
        let outsider = acme
            .server
            .sign_in(OTHER_COMPANY, &email(local, OTHER_COMPANY))
            .await;
        for (what, route, id) in acme_ids {
            // The strongest attempt: acme's real question id and current version.
            let answers = json!({ real_question.clone(): "Overwritten from globex" });
            let foreign = route
                .call(&outsider, id, id, answers.clone(), version)
                .await;
            let invented = route
                .call(&outsider, &made_up, &made_up, answers, version)
                .await;
            assert_eq!(
                foreign, invented,
                "{local}@globex on acme's {what} ({route:?}) must look like a made-up id"
            );
            // Progress is for HR alone: others are refused before any lookup.
            let expected = if route == Route::Progress && !is_hr {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(
                foreign.0, expected,
                "{local}@globex {route:?}: {}",
                foreign.1
            );
            assert_eq!(code(&foreign.1), code_for(expected));
        }
    }

    // Nothing of acme's changed.
    assert_eq!(acme.review(&acme.own_review).await, before);
}

#[tokio::test]
async fn hr_of_another_company_lists_none_of_acmes_cycles_or_reviews() {
    let acme = Acme::start().await;
    let globex_hr = acme
        .server
        .sign_in(OTHER_COMPANY, &email("hr", OTHER_COMPANY))
        .await;

    let cycles = ok(&globex_hr, "/api/v1/cycles").await;
    let reviews = ok(&globex_hr, "/api/v1/reviews").await;

    // Globex has its own demo cycles, under the same names with other ids, the main one
    // first.
    let names: Vec<&Value> = items(&cycles).iter().map(|c| &c["name"]).collect();
    let acme_cycles = ok(&acme.hr, "/api/v1/cycles").await;
    let acme_names: Vec<&Value> = items(&acme_cycles).iter().map(|c| &c["name"]).collect();
    assert_eq!(names, acme_names, "{cycles}");
    assert_eq!(names[0], DEMO_CYCLE, "{cycles}");
    for cycle in items(&cycles) {
        assert!(
            !items(&acme_cycles).iter().any(|c| c["id"] == cycle["id"]),
            "{cycle}"
        );
    }
    let globex_cycle = text(&items(&cycles)[0]["id"]);
    assert_ne!(globex_cycle, acme.cycle_id);
    let acme_reviews = [&acme.own_review, &acme.manager_review, &acme.peer_review];
    assert!(
        !items(&reviews).is_empty(),
        "globex's HR writes a self review"
    );
    for review in items(&reviews) {
        assert_eq!(review["cycle_id"], globex_cycle.as_str(), "{review}");
        assert!(!acme_reviews.iter().any(|id| review["id"] == id.as_str()));
    }
    // And globex's HR does reach globex's own progress.
    ok(
        &globex_hr,
        &format!("/api/v1/cycles/{globex_cycle}/progress"),
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Reviews
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn draft_saves_bump_the_version_and_merge_the_answers() {
    let acme = Acme::start().await;
    let review = acme.review(&acme.own_review).await;
    assert_eq!(review["status"], "not_started");
    let v = review["version"].as_i64().expect("a version");
    let text_q = question_of_kind(&review, "text");
    let rating_q = question_of_kind(&review, "rating");
    let path = format!("/api/v1/reviews/{}", acme.own_review);

    let (status, saved) = acme
        .employee
        .patch(
            &path,
            json!({"answers": {text_q.clone(): "Shipped it"}, "version": v}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], v + 1);
    assert_eq!(saved["status"], "draft");
    assert!(
        saved["updated_at"]
            .as_str()
            .is_some_and(|t| t.contains('T'))
    );

    // A second save changes only the questions it names.
    let (status, saved) = acme
        .employee
        .patch(
            &path,
            json!({"answers": {rating_q.clone(): 5}, "version": v + 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], v + 2);
    let stored = ok(&acme.employee, &path).await;
    assert_eq!(
        stored["answers"],
        json!({text_q.clone(): "Shipped it", rating_q.clone(): 5})
    );
    assert_eq!(stored["version"], v + 2);
    assert_eq!(stored["status"], "draft");
    assert_eq!(stored["updated_at"], saved["updated_at"]);

    // `null` clears an answer.
    let (status, _) = acme
        .employee
        .patch(&path, json!({"answers": {text_q: null}, "version": v + 2}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let stored = ok(&acme.employee, &path).await;
    assert_eq!(stored["answers"], json!({rating_q: 5}));
}

#[tokio::test]
async fn a_stale_or_future_version_is_refused_with_409_and_changes_nothing() {
    let acme = Acme::start().await;
    let review = acme.review(&acme.own_review).await;
    let v = review["version"].as_i64().expect("a version");
    let text_q = question_of_kind(&review, "text");
    let path = format!("/api/v1/reviews/{}", acme.own_review);
    let (status, _) = acme
        .employee
        .patch(
            &path,
            json!({"answers": {text_q.clone(): "First"}, "version": v}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let current = acme.review(&acme.own_review).await;

    for stale in [v, v + 5, 0, -1] {
        let (status, body) = acme
            .employee
            .patch(
                &path,
                json!({"answers": {text_q.clone(): "Lost"}, "version": stale}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "version {stale}: {body}");
        assert_eq!(code(&body), "conflict");
    }
    assert_eq!(acme.review(&acme.own_review).await, current);
}

#[tokio::test]
async fn invalid_answers_are_refused_with_422_and_change_nothing() {
    let acme = Acme::start().await;
    let review = acme.review(&acme.own_review).await;
    let text_q = question_of_kind(&review, "text");
    let rating_q = question_of_kind(&review, "rating");

    // A question of another cycle is as unknown to this review as a made-up one.
    let (status, other_cycle) = acme.hr.post("/api/v1/cycles", new_cycle("Other")).await;
    assert_eq!(status, StatusCode::CREATED, "{other_cycle}");
    let foreign_q = text(&other_cycle["questions"][0]["id"]);

    let made_up_q = uuid::Uuid::new_v4().to_string();
    let cases = [
        ("made-up question", json!({ made_up_q: "Hi" })),
        ("question of another cycle", json!({ foreign_q: "Hi" })),
        ("rating 0", json!({ rating_q.clone(): 0 })),
        ("rating 6", json!({ rating_q.clone(): 6 })),
        ("rating -1", json!({ rating_q.clone(): -1 })),
        ("rating as a string", json!({ rating_q.clone(): "3" })),
        ("rating as a fraction", json!({ rating_q.clone(): 3.5 })),
        ("rating as a boolean", json!({ rating_q.clone(): true })),
        (
            "text to a rating question",
            json!({ rating_q.clone(): "great" }),
        ),
        ("number to a text question", json!({ text_q.clone(): 4 })),
        (
            "object to a text question",
            json!({ text_q.clone(): {"a": 1} }),
        ),
        (
            "text too long",
            json!({ text_q.clone(): "x".repeat(20_001) }),
        ),
        (
            "one bad answer among good ones",
            json!({ text_q.clone(): "fine", rating_q.clone(): 9 }),
        ),
    ];
    let version = review["version"].as_i64().expect("a version");
    for (case, answers) in cases {
        let (status, body) = acme
            .employee
            .patch(
                &format!("/api/v1/reviews/{}", acme.own_review),
                json!({"answers": answers, "version": version}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {body}");
        assert_eq!(code(&body), "validation_failed", "{case}");
    }
    assert_eq!(acme.review(&acme.own_review).await, review);
}

#[tokio::test]
async fn submit_needs_every_question_answered_then_freezes_the_review() {
    let acme = Acme::start().await;
    let review = acme.review(&acme.own_review).await;
    let questions = items(&review["questions"]).clone();
    assert_eq!(questions.len(), 3, "the demo cycle has three questions");
    let first_text = question_of_kind(&review, "text");

    // Not started, partly answered, or with a blank text answer: refused.
    let (status, body) = acme.submit(&acme.employee, &acme.own_review).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let (status, _) = acme
        .save(
            &acme.employee,
            &acme.own_review,
            json!({ first_text.clone(): "Only this" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = acme.submit(&acme.employee, &acme.own_review).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let mut answers = complete_answers(&review);
    answers[&first_text] = json!("   ");
    let (status, _) = acme.save(&acme.employee, &acme.own_review, answers).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = acme.submit(&acme.employee, &acme.own_review).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        "a blank answer is no answer: {body}"
    );
    assert_eq!(acme.review(&acme.own_review).await["status"], "draft");

    // Complete: submitted, with the full review in the answer.
    let answers = complete_answers(&review);
    let (status, _) = acme
        .save(&acme.employee, &acme.own_review, answers.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = acme.version(&acme.own_review).await;
    let (status, submitted) = acme.submit(&acme.employee, &acme.own_review).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["id"], acme.own_review.as_str());
    assert_eq!(submitted["answers"], answers);
    assert_eq!(submitted["version"], before + 1);
    assert_eq!(submitted["questions"], json!(questions));
    assert_eq!(acme.review(&acme.own_review).await, submitted);

    // After submit: no more saves, with the current version or any other, and no
    // second submit.
    let path = format!("/api/v1/reviews/{}", acme.own_review);
    for version in [before + 1, before] {
        let (status, body) = acme
            .employee
            .patch(
                &path,
                json!({"answers": {first_text.clone(): "Late"}, "version": version}),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{body}"
        );
    }
    let (status, body) = acme.submit(&acme.employee, &acme.own_review).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
    assert_eq!(acme.review(&acme.own_review).await, submitted);
}

/// Reads the counts of a progress body: total, per status, per kind and status.
fn count(progress: &Value, path: &[&str]) -> i64 {
    let mut value = progress;
    for key in path {
        value = &value[*key];
    }
    value
        .as_i64()
        .unwrap_or_else(|| panic!("a count at {path:?} in {progress}"))
}

/// Checks that a progress body adds up: statuses to the total, kinds to the whole.
fn assert_progress_adds_up(progress: &Value) {
    let statuses = ["not_started", "draft", "submitted", "shared", "signed"];
    let sum = |prefix: &[&str]| -> i64 {
        statuses
            .iter()
            .map(|s| {
                let mut path = prefix.to_vec();
                path.push(s);
                count(progress, &path)
            })
            .sum()
    };
    assert_eq!(sum(&[]), count(progress, &["total"]), "{progress}");
    for status in statuses.iter().chain(&["total"]) {
        let kinds = count(progress, &["by_kind", "self", status])
            + count(progress, &["by_kind", "manager", status]);
        assert_eq!(kinds, count(progress, &[status]), "{status} in {progress}");
    }
    for kind in ["self", "manager"] {
        assert_eq!(
            sum(&["by_kind", kind]),
            count(progress, &["by_kind", kind, "total"])
        );
    }
}

/// The differences between two progress bodies, as (path, change) for every count that
/// moved.
fn progress_changes(before: &Value, after: &Value) -> Vec<(String, i64)> {
    let mut changes = Vec::new();
    let statuses = [
        "total",
        "not_started",
        "draft",
        "submitted",
        "shared",
        "signed",
    ];
    for prefix in [vec![], vec!["by_kind", "self"], vec!["by_kind", "manager"]] {
        for status in statuses {
            let mut path = prefix.clone();
            path.push(status);
            let change = count(after, &path) - count(before, &path);
            if change != 0 {
                changes.push((path.join("."), change));
            }
        }
    }
    changes
}

#[tokio::test]
async fn progress_counts_follow_first_saves_and_submits() {
    let acme = Acme::start().await;
    let start = acme.progress().await;
    assert_eq!(start["cycle_id"], acme.cycle_id.as_str());
    assert_progress_adds_up(&start);
    let review = acme.review(&acme.own_review).await;
    let moved = |list: &[(&str, i64)]| -> Vec<(String, i64)> {
        list.iter().map(|(p, c)| (p.to_string(), *c)).collect()
    };

    // The first save moves a review from not started to draft.
    let (status, _) = acme.save(&acme.employee, &acme.own_review, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let first = acme.progress().await;
    assert_progress_adds_up(&first);
    assert_eq!(
        progress_changes(&start, &first),
        moved(&[
            ("not_started", -1),
            ("draft", 1),
            ("by_kind.self.not_started", -1),
            ("by_kind.self.draft", 1),
        ])
    );

    // Later saves move nothing.
    let (status, _) = acme
        .save(&acme.employee, &acme.own_review, complete_answers(&review))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(acme.progress().await, first);

    // Submit moves it on to submitted.
    let (status, _) = acme.submit(&acme.employee, &acme.own_review).await;
    assert_eq!(status, StatusCode::OK);
    let submitted = acme.progress().await;
    assert_progress_adds_up(&submitted);
    assert_eq!(
        progress_changes(&first, &submitted),
        moved(&[
            ("draft", -1),
            ("submitted", 1),
            ("by_kind.self.draft", -1),
            ("by_kind.self.submitted", 1),
        ])
    );

    // A manager review counts under its own kind.
    let (status, _) = acme
        .save(&acme.manager, &acme.manager_review, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        progress_changes(&submitted, &acme.progress().await),
        moved(&[
            ("not_started", -1),
            ("draft", 1),
            ("by_kind.manager.not_started", -1),
            ("by_kind.manager.draft", 1),
        ])
    );

    // Refused changes move nothing.
    let settled = acme.progress().await;
    let (status, _) = acme.submit(&acme.employee, &acme.own_review).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = acme.submit(&acme.manager, &acme.manager_review).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(acme.progress().await, settled);
}

// ---------------------------------------------------------------------------------------
// Cycles
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn hr_creates_a_cycle_whose_participants_get_their_reviews() {
    let acme = Acme::start().await;
    let peer = acme
        .server
        .sign_in(COMPANY, &email("employee2", COMPANY))
        .await;
    let outsider = acme
        .server
        .sign_in(COMPANY, &email("employee3", COMPANY))
        .await;
    let peer_id = my_id(&peer).await;
    let body = json!({
        "name": "  2027 Mid-Year  ",
        "questions": [
            {"kind": "text", "prompt": "What did you learn?"},
            {"kind": "rating", "prompt": "How was the half year?"},
            {"kind": "text", "prompt": "What comes next?"}
        ],
        "participants": [acme.employee_id, peer_id, acme.employee_id],
        "due_at": "2027-06-30T17:00:00Z"
    });

    let (status, cycle) = acme.hr.post("/api/v1/cycles", body).await;

    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle_id = text(&cycle["id"]);
    assert_eq!(cycle["name"], "2027 Mid-Year");
    assert_eq!(cycle["status"], "open");
    assert_eq!(cycle["due_at"], "2027-06-30T17:00:00Z");
    assert!(
        cycle["created_at"]
            .as_str()
            .is_some_and(|t| t.contains('T'))
    );
    let questions = items(&cycle["questions"]);
    let kinds: Vec<&Value> = questions.iter().map(|q| &q["kind"]).collect();
    assert_eq!(kinds, vec!["text", "rating", "text"]);
    assert_eq!(questions[2]["prompt"], "What comes next?");
    assert!(
        questions
            .iter()
            .all(|q| q["id"].as_str().is_some_and(|id| !id.is_empty()))
    );

    // HR lists it as it was answered.
    let listed = ok(&acme.hr, "/api/v1/cycles").await;
    let found = items(&listed).iter().find(|c| c["id"] == cycle_id.as_str());
    assert_eq!(found, Some(&cycle));

    // Each participant (named twice, reviewed once) has a self review and their manager
    // a manager review; someone left out sees neither the cycle nor a review in it.
    let in_cycle = |list: &Value| -> Vec<Value> {
        items(list)
            .iter()
            .filter(|r| r["cycle_id"] == cycle_id.as_str())
            .cloned()
            .collect()
    };
    for (client, id) in [(&acme.employee, &acme.employee_id), (&peer, &peer_id)] {
        let own = in_cycle(&ok(client, "/api/v1/reviews").await);
        assert_eq!(own.len(), 1, "{own:?}");
        assert_eq!(own[0]["kind"], "self");
        assert_eq!(own[0]["reviewee_id"], id.as_str());
        assert_eq!(own[0]["status"], "not_started");
        assert_eq!(own[0]["cycle_name"], "2027 Mid-Year");
        let cycles = ok(client, "/api/v1/cycles").await;
        assert!(items(&cycles).iter().any(|c| c["id"] == cycle_id.as_str()));
    }
    let managed = in_cycle(&ok(&acme.manager, "/api/v1/reviews").await);
    let mut reviewees: Vec<String> = managed.iter().map(|r| text(&r["reviewee_id"])).collect();
    reviewees.sort();
    let mut expected = vec![acme.employee_id.clone(), peer_id.clone()];
    expected.sort();
    assert_eq!(reviewees, expected);
    assert!(managed.iter().all(|r| r["kind"] == "manager"));
    assert!(in_cycle(&ok(&outsider, "/api/v1/reviews").await).is_empty());
    let outsider_cycles = ok(&outsider, "/api/v1/cycles").await;
    assert!(
        !items(&outsider_cycles)
            .iter()
            .any(|c| c["id"] == cycle_id.as_str())
    );

    let progress = ok(&acme.hr, &format!("/api/v1/cycles/{cycle_id}/progress")).await;
    assert_eq!(count(&progress, &["total"]), 4);
    assert_eq!(count(&progress, &["not_started"]), 4);
    assert_progress_adds_up(&progress);
}

#[tokio::test]
async fn a_cycle_without_participants_named_includes_every_active_user() {
    let acme = Acme::start().await;

    let (status, cycle) = acme.hr.post("/api/v1/cycles", new_cycle("Everyone")).await;

    assert_eq!(status, StatusCode::CREATED, "{cycle}");
    let cycle_id = text(&cycle["id"]);
    let new = ok(&acme.hr, &format!("/api/v1/cycles/{cycle_id}/progress")).await;
    // A self review for every active user, a manager review for each with a manager.
    let users = ok(&acme.hr, "/api/v1/admin/users").await;
    let active: Vec<&Value> = items(&users)
        .iter()
        .filter(|u| u["disabled"] == false)
        .collect();
    let managed = active.iter().filter(|u| !u["manager_id"].is_null()).count();
    assert_eq!(
        count(&new, &["by_kind", "self", "total"]),
        active.len() as i64
    );
    assert_eq!(
        count(&new, &["by_kind", "manager", "total"]),
        managed as i64
    );
    assert_eq!(count(&new, &["not_started"]), count(&new, &["total"]));
    let employee_reviews = ok(&acme.employee, "/api/v1/reviews").await;
    assert!(
        items(&employee_reviews)
            .iter()
            .any(|r| r["cycle_id"] == cycle_id.as_str())
    );
}

#[tokio::test]
async fn invalid_cycles_are_refused_with_422_and_create_nothing() {
    let acme = Acme::start().await;
    let globex_employee = acme
        .server
        .sign_in(OTHER_COMPANY, &email("employee1", OTHER_COMPANY))
        .await;
    let globex_user = my_id(&globex_employee).await;
    let questions = new_cycle("x")["questions"].clone();
    let cycles_before = ok(&acme.hr, "/api/v1/cycles").await;

    let cases = [
        ("empty name", json!({"name": "", "questions": questions})),
        ("blank name", json!({"name": "   ", "questions": questions})),
        (
            "name too long",
            json!({"name": "n".repeat(201), "questions": questions}),
        ),
        ("no questions", json!({"name": "Q", "questions": []})),
        (
            "blank prompt",
            json!({"name": "Q", "questions": [{"kind": "text", "prompt": "  "}]}),
        ),
        (
            "unknown question kind",
            json!({"name": "Q", "questions": [{"kind": "essay", "prompt": "Why?"}]}),
        ),
        (
            "too many questions",
            json!({"name": "Q", "questions":
                vec![json!({"kind": "text", "prompt": "Why?"}); 51]}),
        ),
        (
            "due_at not a time",
            json!({"name": "Q", "questions": questions, "due_at": "tomorrow"}),
        ),
        (
            "due_at an impossible date",
            json!({"name": "Q", "questions": questions, "due_at": "2027-13-01T00:00:00Z"}),
        ),
        (
            "due_at without an offset",
            json!({"name": "Q", "questions": questions, "due_at": "2027-06-30T17:00:00"}),
        ),
        (
            "made-up participant",
            json!({"name": "Q", "questions": questions,
                   "participants": [uuid::Uuid::new_v4().to_string()]}),
        ),
        (
            "participant of another company",
            json!({"name": "Q", "questions": questions,
                   "participants": [acme.employee_id, globex_user]}),
        ),
        (
            "no participants",
            json!({"name": "Q", "questions": questions, "participants": []}),
        ),
    ];
    for (case, body) in cases {
        let (status, answer) = acme.hr.post("/api/v1/cycles", body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            "{case}: {answer}"
        );
    }
    assert_eq!(ok(&acme.hr, "/api/v1/cycles").await, cycles_before);
}

// ---------------------------------------------------------------------------------------
// Refused input
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_bodies_get_their_documented_error_codes() {
    let acme = Acme::start().await;
    let review = acme.review(&acme.own_review).await;
    let version = review["version"].as_i64().expect("a version");
    let patch = format!("/api/v1/reviews/{}", acme.own_review);
    let json = Some("application/json");
    let valid = format!(r#"{{"answers": {{}}, "version": {version}}}"#);
    let huge = format!(
        r#"{{"answers": {{"x": "{}"}}, "version": {version}}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let review_cases: [(&str, Option<&str>, String, u16); 10] = [
        ("malformed JSON", json, r#"{"answers": "#.into(), 400),
        ("not JSON", json, "hello".into(), 400),
        ("empty body", json, String::new(), 400),
        (
            "unknown field",
            json,
            format!(r#"{{"answers": {{}}, "version": {version}, "extra": 1}}"#),
            422,
        ),
        (
            "wrong type",
            json,
            r#"{"answers": {}, "version": "1"}"#.into(),
            422,
        ),
        ("missing field", json, r#"{"answers": {}}"#.into(), 422),
        (
            "array for an object",
            json,
            format!(r#"{{"answers": [], "version": {version}}}"#),
            422,
        ),
        ("no content type", None, valid.clone(), 415),
        ("text content type", Some("text/plain"), valid, 415),
        ("more than 1 MiB", json, huge, 413),
    ];
    let cycle_cases = [
        (
            "unknown field in a new cycle",
            r#"{"name": "Q", "questions": [], "owner": "me"}"#,
        ),
        (
            "unknown field in a question",
            r#"{"name": "Q", "questions": [{"kind": "text", "prompt": "P", "x": 1}]}"#,
        ),
    ];

    let mut answers = Vec::new();
    for (case, content_type, body, expected) in review_cases {
        let mut request = acme.employee.request(Method::PATCH, &patch).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        answers.push((case, acme.employee.send(request).await, expected));
    }
    for (case, body) in cycle_cases {
        let request = acme
            .hr
            .request(Method::POST, "/api/v1/cycles")
            .header("content-type", "application/json")
            .body(body);
        answers.push((case, acme.hr.send(request).await, 422));
    }

    for (case, (status, answer), expected) in answers {
        let expected = StatusCode::from_u16(expected).expect("a status");
        assert_eq!(status, expected, "{case}: {answer}");
        assert_eq!(code(&answer), code_for(expected), "{case}");
        assert_error_shape(&answer, case);
    }
    assert_eq!(acme.review(&acme.own_review).await, review);
}

#[tokio::test]
async fn malformed_sign_ins_get_422_and_no_cookie() {
    let server = TestServer::demo().await;
    let cases = [
        (
            "unknown field",
            json!({"company": COMPANY, "email": "e", "password": "p",
                   "remember_me": false, "admin": true}),
            422,
        ),
        (
            "missing password",
            json!({"company": COMPANY, "email": "e"}),
            422,
        ),
        (
            "remember_me as text",
            json!({"company": COMPANY, "email": "e", "password": "p",
                   "remember_me": "yes"}),
            422,
        ),
    ];
    for (case, body, expected) in cases {
        let (status, answer, cookie) = login(&server, body).await;
        assert_eq!(status.as_u16(), expected, "{case}: {answer}");
        assert_error_shape(&answer, case);
        assert_eq!(cookie, None);
    }
}

#[tokio::test]
async fn unknown_paths_answer_the_json_404() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;

    for path in ["/api/v1/nothing-here", "/api/v2/me", "/app/missing.js"] {
        let (status, body) = hr.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(code(&body), "not_found", "{path}");
        assert_error_shape(&body, path);
    }
}

#[tokio::test]
async fn a_method_a_route_does_not_take_answers_405_with_the_json_error_body() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;

    for (method, path) in [
        (Method::DELETE, "/api/v1/me"),
        (Method::PUT, "/api/v1/cycles"),
        (Method::GET, "/api/v1/auth/logout"),
    ] {
        let response = hr
            .request(method.clone(), path)
            .send()
            .await
            .expect("answered");
        let status = response.status();
        let allow = response.headers().get("allow").cloned();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let context = format!("{method} {path}");
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{context}: {body}");
        assert!(allow.is_some(), "{context}: an Allow header");
        assert_error_shape(&body, &context);
    }
}

// ---------------------------------------------------------------------------------------
// Cross-site requests
// ---------------------------------------------------------------------------------------

/// Request headers a browser might add, by name and value.
type Headers<'a> = Vec<(&'a str, &'a str)>;

#[tokio::test]
async fn state_changes_from_another_site_are_refused_and_own_or_headerless_ones_pass() {
    let acme = Acme::start().await;
    let own = acme.server.base.clone();
    let evil = "https://evil.example";
    let path = format!("/api/v1/reviews/{}", acme.own_review);
    let cases: [(&str, Headers, bool); 9] = [
        ("another site's Origin", vec![("origin", evil)], false),
        ("an opaque Origin", vec![("origin", "null")], false),
        (
            "Sec-Fetch-Site cross-site",
            vec![("sec-fetch-site", "cross-site")],
            false,
        ),
        (
            "Sec-Fetch-Site same-site",
            vec![("sec-fetch-site", "same-site")],
            false,
        ),
        (
            "same-origin fetch naming another Origin",
            vec![("sec-fetch-site", "same-origin"), ("origin", evil)],
            false,
        ),
        ("own Origin", vec![("origin", own.as_str())], true),
        (
            "same-origin fetch from the own Origin",
            vec![("sec-fetch-site", "same-origin"), ("origin", own.as_str())],
            true,
        ),
        (
            "a user's own navigation",
            vec![("sec-fetch-site", "none")],
            true,
        ),
        ("no such headers (not a browser)", vec![], true),
    ];

    for (case, headers, allowed) in cases {
        let version = acme.version(&acme.own_review).await;
        let mut request = acme
            .employee
            .request(Method::PATCH, &path)
            .json(&json!({"answers": {}, "version": version}));
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let (status, body) = acme.employee.send(request).await;
        let after = acme.version(&acme.own_review).await;
        if allowed {
            assert_eq!(status, StatusCode::OK, "{case}: {body}");
            assert_eq!(after, version + 1, "{case}");
        } else {
            assert_eq!(
                (status, code(&body)),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{case}"
            );
            assert_eq!(after, version, "{case}: nothing saved");
        }
    }
}

#[tokio::test]
async fn cross_site_logout_and_login_are_refused_and_the_session_survives() {
    let server = TestServer::demo().await;
    let employee = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;
    let evil = "https://evil.example";

    let forced_logout = employee
        .request(Method::POST, "/api/v1/auth/logout")
        .header("origin", evil);
    let (status, body) = employee.send(forced_logout).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    ok(&employee, "/api/v1/me").await;

    // Signing a victim's browser into the attacker's account is refused too.
    let forced_login = server
        .anonymous()
        .request(Method::POST, "/api/v1/auth/login")
        .header("origin", evil)
        .json(
            &json!({"company": COMPANY, "email": email("employee2", COMPANY),
                      "password": server.password, "remember_me": false}),
        );
    let (status, body) = employee.send(forced_login).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{body}"
    );

    // Reading is harmless and passes; the own page signs out.
    let read = employee
        .request(Method::GET, "/api/v1/me")
        .header("origin", evil);
    assert_eq!(employee.send(read).await.0, StatusCode::OK);
    let logout = employee
        .request(Method::POST, "/api/v1/auth/logout")
        .header("origin", &server.base);
    assert_eq!(employee.send(logout).await.0, StatusCode::NO_CONTENT);
    assert_eq!(employee.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let server = TestServer::demo().await;
    let anonymous = server.anonymous();

    for path in ["/healthz", "/readyz"] {
        let (status, body) = anonymous.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

#[tokio::test]
async fn metrics_expose_requests_latency_actors_mailboxes_and_live_connections() {
    let acme = Acme::start().await;
    ok(
        &acme.employee,
        &format!("/api/v1/reviews/{}", acme.own_review),
    )
    .await;

    let response = acme
        .server
        .anonymous()
        .request(Method::GET, "/metrics")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let metrics = response.text().await.expect("a body");

    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in\n{metrics}"))
    };
    assert!(value("kaizen_actors_alive") >= 1.0, "acme's actor runs");
    assert!(value("kaizen_actor_mailbox_depth") >= 0.0);
    assert_eq!(value("kaizen_live_connections"), 0.0);
    for line in [
        "# TYPE kaizen_http_requests_total counter",
        "# TYPE kaizen_http_request_duration_seconds histogram",
        r#"kaizen_http_requests_total{method="GET",route="/api/v1/reviews/{id}",status="200"}"#,
        r#"kaizen_http_request_duration_seconds_bucket{route="/api/v1/reviews/{id}",le="+Inf"}"#,
        r#"kaizen_http_request_duration_seconds_count{route="/api/v1/reviews/{id}"}"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    // Routes are labelled by pattern, never by the raw path with its ids.
    assert!(!metrics.contains(&acme.own_review), "no ids in labels");
}

/// Every (method, path) of the slice, as the OpenAPI document must list them.
const SLICE: [(&str, &str); 12] = [
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/cycles"),
    ("post", "/api/v1/cycles"),
    ("get", "/api/v1/cycles/{id}/progress"),
    ("get", "/api/v1/reviews"),
    ("get", "/api/v1/reviews/{id}"),
    ("patch", "/api/v1/reviews/{id}"),
    ("post", "/api/v1/reviews/{id}/submit"),
    ("get", "/api/v1/live"),
    ("get", "/healthz"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_nothing_that_is_not_served() {
    let server = TestServer::demo().await;
    let anonymous = server.anonymous();
    let (status, document) = anonymous.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with('3'))
    );
    let paths = document["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("paths in {document}"));

    for (method, path) in SLICE {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }

    // And every documented operation is served: none answers 404 or 405.
    let made_up = uuid::Uuid::new_v4().to_string();
    for (path, operations) in paths {
        let concrete = path.replace("{id}", &made_up);
        for method in operations.as_object().expect("operations").keys() {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let (status, body) = anonymous
                .send(anonymous.request(method.clone(), &concrete))
                .await;
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not served: {status} {body}"
            );
        }
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_the_security_headers() {
    let server = TestServer::demo().await;
    let employee = server.sign_in(COMPANY, &email("employee1", COMPANY)).await;
    let anonymous = server.anonymous();
    let requests = [
        ("health", anonymous.request(Method::GET, "/healthz")),
        ("the web app", anonymous.request(Method::GET, "/")),
        (
            "the API document",
            anonymous.request(Method::GET, "/api/openapi.json"),
        ),
        ("signed in", employee.request(Method::GET, "/api/v1/me")),
        (
            "unauthenticated",
            anonymous.request(Method::GET, "/api/v1/me"),
        ),
        (
            "unknown path",
            anonymous.request(Method::GET, "/api/v1/nothing"),
        ),
        (
            "cross-site refusal",
            employee
                .request(Method::POST, "/api/v1/auth/logout")
                .header("origin", "https://evil.example"),
        ),
        (
            "malformed body",
            employee
                .request(Method::POST, "/api/v1/cycles")
                .header("content-type", "application/json")
                .body("{"),
        ),
    ];

    let mut ids = Vec::new();
    for (case, request) in requests {
        let response = request.send().await.expect("answered");
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{case}: a {name} header ({})", response.status()))
                .to_owned()
        };
        let id = header("x-request-id");
        assert!(!id.is_empty(), "{case}");
        ids.push(id);
        assert_eq!(header("x-content-type-options"), "nosniff", "{case}");
        assert_eq!(header("x-frame-options"), "DENY", "{case}");
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{case}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{case}: {csp}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{case}");
        // No cookie is marked Secure on plain HTTP, so no HSTS either.
        assert!(headers.get("strict-transport-security").is_none(), "{case}");
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "a fresh request id each time: {ids:?}"
    );

    // API answers are never cached.
    let response = employee
        .request(Method::GET, "/api/v1/me")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn secure_cookies_mark_the_session_cookie_secure_and_send_hsts() {
    let server = TestServer::demo_with(|config| config.secure_cookies = true).await;

    let (status, _, cookie) = login(
        &server,
        json!({"company": COMPANY, "email": email("employee1", COMPANY),
               "password": server.password, "remember_me": false}),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.expect("a cookie");
    assert!(cookie.split(';').any(|a| a.trim() == "Secure"), "{cookie}");
    let response = server
        .anonymous()
        .request(Method::GET, "/healthz")
        .send()
        .await
        .expect("answered");
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .expect("ASCII");
    assert!(hsts.contains("max-age="), "{hsts}");
}

/// HR admins and managers are reviewed too: a review about them stays hidden from them
/// until it is shared, whatever their role lets them read about others.
#[tokio::test]
async fn an_hr_admin_cannot_read_the_unshared_review_about_themselves() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let ceo = server.sign_in(COMPANY, &email("ceo", COMPANY)).await;
    let hr_id = my_id(&hr).await;
    let review = manager_review_of(&ceo, &hr_id).await;
    let path = format!("/api/v1/reviews/{review}");

    let (status, body) = ceo.get(&path).await;
    assert_eq!(status, StatusCode::OK, "the writer reads it: {body}");
    let (status, body) = hr.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        body,
        hr.get(&format!("/api/v1/reviews/{}", uuid::Uuid::new_v4()))
            .await
            .1
    );
}

/// A path id that is not even readable text names nothing: the JSON 404, not a bare 400.
#[tokio::test]
async fn an_unreadable_path_id_answers_the_json_404() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    for path in ["/api/v1/reviews/%ff", "/api/v1/cycles/%ff%fe/progress"] {
        let (status, body) = hr.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(code(&body), "not_found", "{path}");
    }
}
