//! The guard table: every HTTP route and every live topic, with what each kind of
//! caller gets from it. One line per route, so that a new route is one new line.
//!
//! - `every_route_has_a_row` walks the server's own OpenAPI document (the routes are
//!   registered from it, so it lists exactly what is served) and fails naming every
//!   route without a row, and every row whose route is gone.
//! - `every_cell_holds_against_a_running_demo_server` sends each row's request as each
//!   caller to a demo server and checks the outcome.
//! - `topics_are_guarded_like_their_routes` does the same for live topics.
//! - `two_companies_never_read_each_others_data` mixes random operations of two
//!   companies and checks that no answer of one carries the other's data.
//!
//! Columns (the callers): anonymous; `employee1`, who writes and is the subject of the
//! self review the table uses; `manager@`, the subject's manager; `lead@`, a manager
//! outside the subject's line; the HR admin; an HR assistant; installation support
//! staff; and the HR admin of the other demo company, using this company's ids.
//!
//! The HR assistant is the demo's `assistant@`. Installation support signs in under
//! `/api/v1/installation` with its own cookie, which no company route reads: to every
//! company route it is as anonymous (401), and it never gets a company's content.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::collections::{BTreeSet, HashMap};

use common::{Client, PASSWORD, TestServer, code};
use futures_util::{SinkExt, StreamExt};
use kaizen::net::Cidr;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// What a caller gets from a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Allowed: any 2xx.
    Ok,
    /// Allowed, with a documented answer that is not 2xx (a stale version's 409, a
    /// wrong code's 401, missing answers' 422).
    Is(u16),
    /// Refused by role: 403 `forbidden` (or `reauthentication_required`, which only
    /// ever comes after the role passed, is never accepted here).
    Refused,
    /// 404 `not_found`: another company's id, or an object the caller may not know of.
    NotFound,
    /// 401 `unauthenticated`: no session.
    Unauth,
    /// No such caller in this build: not checked.
    Skip,
}
use Expect::*;

/// The callers, in column order.
const CALLERS: [&str; 8] = [
    "anonymous",
    "employee",
    "manager of the subject",
    "other manager",
    "hr_admin",
    "hr_assistant",
    "installation support",
    "another company's hr_admin",
];

/// What fills a path's `{id}`.
#[derive(Debug, Clone, Copy)]
enum Fill {
    /// The path has no id.
    No,
    /// `employee1`'s self review in the demo cycle.
    SelfReview,
    /// The demo cycle.
    Cycle,
    /// `employee5` (so that ending their sessions disturbs no caller).
    User,
    /// An id nothing has.
    MadeUp,
    /// `manager@`'s (not started) manager review of `employee1`.
    ManagerReview,
    /// The demo cycle and `manager@`'s review of `employee1` in it.
    Calibration,
    /// A personal objective of `employee1` (with key results).
    Objective,
    /// A second personal objective of `employee1`, for archiving.
    SpareObjective,
    /// The first key result of [`Fill::Objective`].
    KeyResult,
    /// [`Fill::Objective`] and the demo cycle.
    ObjectiveCycle,
    /// A comment of `employee1` on [`Fill::Objective`].
    ObjectiveComment,
    /// A comment of `employee1` on their self review.
    ReviewComment,
    /// `employee1`'s feedback request about `employee3`.
    FeedbackRequest,
    /// The demo cycle and `employee1` as the subject of feedback.
    FeedbackSubject,
    /// The first and the second pending nomination of `employee2`'s reviewers.
    FirstNomination,
    SecondNomination,
    /// The company's slug (`acme`), for the installation's routes.
    Slug,
}

/// The request body.
#[derive(Debug, Clone, Copy)]
enum Payload {
    /// None.
    Empty,
    /// A JSON body.
    Json(&'static str),
    /// A CSV body.
    Csv(&'static str),
    /// A draft save of the review in the path, with its current version.
    ReviewSave,
    /// A status change of the objective in the path, with its current version.
    ObjectiveSave,
    /// A feedback draft of the request in the path, with the version the caller sees
    /// (or 1 for a caller who sees none).
    FeedbackSave,
    /// `employee1` nominating `employee8` as a reviewer in the demo cycle.
    Nominate,
}

/// One route: method, path as the OpenAPI document spells it, what fills its id, its
/// body, and the outcome for each caller in [`CALLERS`] order.
struct Row {
    method: &'static str,
    path: &'static str,
    fill: Fill,
    query: &'static str,
    body: Payload,
    /// Ends or changes what later rows need (a sign-out, a wipe): run after every other
    /// row, on a session of its own.
    last: bool,
    cells: [Expect; 8],
}

const fn row(method: &'static str, path: &'static str, fill: Fill, cells: [Expect; 8]) -> Row {
    Row {
        method,
        path,
        fill,
        query: "",
        body: Payload::Empty,
        last: false,
        cells,
    }
}

const fn with(mut r: Row, body: Payload) -> Row {
    r.body = body;
    r
}

const fn query(mut r: Row, query: &'static str) -> Row {
    r.query = query;
    r
}

const fn last(mut r: Row) -> Row {
    r.last = true;
    r
}

use Fill::{
    Calibration, Cycle, FeedbackRequest, FeedbackSubject, FirstNomination, KeyResult, MadeUp,
    ManagerReview, No, Objective, ObjectiveComment, ObjectiveCycle, ReviewComment,
    SecondNomination, SelfReview, Slug, SpareObjective, User,
};
use Payload::{Csv, FeedbackSave, Json, Nominate, ObjectiveSave, ReviewSave};

/// A sign-in as the table's own employee; valid for every caller.
const LOGIN: &str = r#"{"company": "acme", "email": "employee2@acme.example",
    "password": "correct horse battery staple"}"#;

/// The guard table. Columns: anonymous, employee, manager of the subject, other
/// manager, hr_admin, hr_assistant, installation support, another company.
#[rustfmt::skip]
const TABLE: &[Row] = &[
    // Signing in and out.
    with(row("POST", "/api/v1/auth/login", No,                   [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok]), Json(LOGIN)),
    last(row("POST", "/api/v1/auth/logout", No,                  [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok])),
    row("GET",  "/api/v1/me", No,                                [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    with(row("POST", "/api/v1/auth/reauthenticate", No,          [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]), Json(r#"{"password": "correct horse battery staple"}"#)),
    with(row("POST", "/api/v1/auth/second-factor", No,           [Unauth, Is(409), Is(409), Is(409), Is(409), Is(409), Unauth, Is(409)]), Json(r#"{"method": "totp", "code": "000000", "trust_device": false}"#)),
    row("POST", "/api/v1/auth/second-factor/sms", No,            [Unauth, Is(409), Is(409), Is(409), Is(409), Is(409), Unauth, Is(409)]),
    with(row("POST", "/api/v1/auth/password-reset", No,          [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok]), Json(r#"{"company": "acme", "email": "nobody@acme.example"}"#)),
    with(row("POST", "/api/v1/auth/password-reset/complete", No, [Is(422), Is(422), Is(422), Is(422), Is(422), Is(422), Is(422), Is(422)]), Json(r#"{"token": "made-up", "new_password": "quiet lantern orbit 4821"}"#)),
    with(row("POST", "/api/v1/password-strength", No,            [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok]), Json(r#"{"password": "hunter2"}"#)),
    // One's own account.
    with(row("PUT",  "/api/v1/me/password", No,                  [Unauth, Is(401), Is(401), Is(401), Is(401), Is(401), Unauth, Is(401)]), Json(r#"{"current_password": "wrong", "new_password": "quiet lantern orbit 4821"}"#)),
    row("GET",  "/api/v1/me/second-factor", No,                  [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    row("POST", "/api/v1/me/second-factor/totp", No,             [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    with(row("POST", "/api/v1/me/second-factor/totp/confirm", No, [Unauth, Is(401), Is(401), Is(401), Is(401), Is(401), Unauth, Is(401)]), Json(r#"{"code": "000000"}"#)),
    row("DELETE", "/api/v1/me/second-factor/totp", No,           [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    with(row("POST", "/api/v1/me/second-factor/sms", No,         [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]), Json(r#"{"phone": "+15550101010"}"#)),
    with(row("POST", "/api/v1/me/second-factor/sms/confirm", No, [Unauth, Is(401), Is(401), Is(401), Is(401), Is(401), Unauth, Is(401)]), Json(r#"{"code": "000000"}"#)),
    row("DELETE", "/api/v1/me/second-factor/sms", No,            [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    row("GET",  "/api/v1/me/sessions", No,                       [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    row("DELETE", "/api/v1/me/sessions/{id}", MadeUp,            [Unauth, NotFound, NotFound, NotFound, NotFound, NotFound, Unauth, NotFound]),
    // Cycles and reviews.
    row("GET",  "/api/v1/cycles", No,                            [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    with(row("POST", "/api/v1/cycles", No,                       [Unauth, Refused, Refused, Refused, Ok, Ok, Unauth, Ok]), Json(r#"{"name": "Guard table cycle", "questions": [{"kind": "text", "prompt": "Why?"}]}"#)),
    row("GET",  "/api/v1/cycles/{id}/progress", Cycle,           [Unauth, Refused, Refused, Refused, Ok, Ok, Unauth, NotFound]),
    row("GET",  "/api/v1/reviews", No,                           [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    row("GET",  "/api/v1/reviews/{id}", SelfReview,              [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]),
    with(row("PATCH", "/api/v1/reviews/{id}", SelfReview,        [Unauth, Ok, Refused, NotFound, Refused, NotFound, Unauth, NotFound]), ReviewSave),
    row("POST", "/api/v1/reviews/{id}/submit", SelfReview,       [Unauth, Is(422), Refused, NotFound, Refused, NotFound, Unauth, NotFound]),
    // Phased cycles (advancing and closing change the demo cycle: last).
    last(row("POST", "/api/v1/cycles/{id}/advance", Cycle,       [Unauth, Refused, Refused, Refused, Ok, Ok, Unauth, NotFound])),
    last(row("POST", "/api/v1/cycles/{id}/close", Cycle,         [Unauth, Refused, Refused, Refused, Ok, Is(409), Unauth, NotFound])),
    row("GET",  "/api/v1/cycles/{id}/calibration", Cycle,        [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, NotFound]),
    with(row("PUT", "/api/v1/cycles/{id}/calibration/{review_id}", Calibration, [Unauth, Refused, Refused, Refused, Is(409), Refused, Unauth, NotFound]), Json(r#"{"ratings": {}}"#)),
    row("POST", "/api/v1/reminders/run", No,                     [Unauth, Refused, Refused, Refused, Ok, Ok, Unauth, Ok]),
    row("POST", "/api/v1/reviews/{id}/share", ManagerReview,     [Unauth, NotFound, Is(409), NotFound, Is(409), NotFound, Unauth, NotFound]),
    row("POST", "/api/v1/reviews/{id}/sign", ManagerReview,      [Unauth, NotFound, Is(409), NotFound, Refused, NotFound, Unauth, NotFound]),
    row("GET",  "/api/v1/admin/review-settings", No,             [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    with(row("PUT", "/api/v1/admin/review-settings", No,         [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]), Json(r#"{"skip_level_visible": true}"#)),
    // Objectives: employee1's personal objective, seen by them, their managers and HR.
    row("GET",  "/api/v1/objectives", No,                        [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    with(row("POST", "/api/v1/objectives", No,                   [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]), Json(r#"{"title": "Guard table objective", "description": "Why not"}"#)),
    row("GET",  "/api/v1/objectives/tree", No,                   [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    row("GET",  "/api/v1/objectives/{id}", Objective,            [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]),
    with(row("PATCH", "/api/v1/objectives/{id}", Objective,      [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]), ObjectiveSave),
    last(row("DELETE", "/api/v1/objectives/{id}", SpareObjective, [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound])),
    with(row("POST", "/api/v1/objectives/{id}/key-results", Objective, [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]), Json(r#"{"title": "Guard key result", "progress": 10}"#)),
    with(row("PATCH", "/api/v1/objectives/{id}/key-results/{key_result_id}", KeyResult, [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]), Json(r#"{"title": "Guard key result"}"#)),
    last(row("DELETE", "/api/v1/objectives/{id}/key-results/{key_result_id}", KeyResult, [Unauth, Ok, Is(404), NotFound, Is(404), NotFound, Unauth, NotFound])),
    with(row("PUT", "/api/v1/objectives/{id}/cycles/{cycle_id}", ObjectiveCycle, [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]), Json(r#"{"weight": 10}"#)),
    last(row("DELETE", "/api/v1/objectives/{id}/cycles/{cycle_id}", ObjectiveCycle, [Unauth, Ok, Is(404), NotFound, Is(404), NotFound, Unauth, NotFound])),
    row("GET",  "/api/v1/objectives/{id}/comments", Objective,   [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]),
    with(row("POST", "/api/v1/objectives/{id}/comments", Objective, [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]), Json(r#"{"body": "Guard table comment"}"#)),
    last(row("DELETE", "/api/v1/objectives/{id}/comments/{comment_id}", ObjectiveComment, [Unauth, Ok, Refused, NotFound, Refused, NotFound, Unauth, NotFound])),
    // Comments on a review and its linked objectives: whoever reads the review.
    row("GET",  "/api/v1/reviews/{id}/objectives", SelfReview,   [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]),
    row("GET",  "/api/v1/reviews/{id}/comments", SelfReview,     [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]),
    with(row("POST", "/api/v1/reviews/{id}/comments", SelfReview, [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]), Json(r#"{"body": "Guard table comment"}"#)),
    last(row("DELETE", "/api/v1/reviews/{id}/comments/{comment_id}", ReviewComment, [Unauth, Ok, Refused, NotFound, Refused, NotFound, Unauth, NotFound])),
    // 360 feedback: the demo cycle's anonymous feedback, employee1 as its subject and as
    // the reviewer of employee3, employee2's nominations waiting for manager@.
    row("GET",  "/api/v1/feedback/cycles", No,                   [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    row("GET",  "/api/v1/cycles/{id}/feedback", Cycle,           [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, NotFound]),
    with(row("PUT", "/api/v1/cycles/{id}/feedback", Cycle,       [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, NotFound]), Json(r#"{"enabled": true, "nominated_by": "reviewee", "min": 2, "max": 5, "anonymous": true}"#)),
    row("GET",  "/api/v1/cycles/{id}/feedback/candidates", Cycle, [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, NotFound]),
    row("GET",  "/api/v1/cycles/{id}/feedback/overview", Cycle,  [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, NotFound]),
    row("GET",  "/api/v1/cycles/{id}/nominations", Cycle,        [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, NotFound]),
    with(row("POST", "/api/v1/cycles/{id}/nominations", Cycle,   [Unauth, Ok, Refused, Refused, Is(422), Refused, Unauth, NotFound]), Nominate),
    last(row("POST", "/api/v1/nominations/{id}/approve", FirstNomination, [Unauth, NotFound, Ok, NotFound, Is(409), NotFound, Unauth, NotFound])),
    last(row("POST", "/api/v1/nominations/{id}/reject", SecondNomination, [Unauth, NotFound, Ok, NotFound, Is(409), NotFound, Unauth, NotFound])),
    row("GET",  "/api/v1/feedback/requests", No,                 [Unauth, Ok, Ok, Ok, Ok, Ok, Unauth, Ok]),
    row("GET",  "/api/v1/feedback/requests/{id}", FeedbackRequest, [Unauth, Ok, NotFound, NotFound, NotFound, NotFound, Unauth, NotFound]),
    with(row("PATCH", "/api/v1/feedback/requests/{id}", FeedbackRequest, [Unauth, Ok, NotFound, NotFound, NotFound, NotFound, Unauth, NotFound]), FeedbackSave),
    last(row("POST", "/api/v1/feedback/requests/{id}/submit", FeedbackRequest, [Unauth, Is(422), NotFound, NotFound, NotFound, NotFound, Unauth, NotFound])),
    query(row("GET", "/api/v1/feedback/results", FeedbackSubject, [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound]), "?cycle_id={cycle_id}&subject_id={subject_id}"),
    // Closing releases the results and ends the writing: after the rows above.
    last(row("POST", "/api/v1/cycles/{id}/feedback/close", Cycle, [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, NotFound])),
    row("GET",  "/api/v1/live", No,                              [Unauth, Is(400), Is(400), Is(400), Is(400), Is(400), Unauth, Is(400)]),
    // HR administration.
    row("GET",  "/api/v1/admin/security-policy", No,             [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    with(row("PUT", "/api/v1/admin/security-policy", No,         [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]), Json(r#"{"min_password_length": 8, "remember_me_allowed": true, "second_factor_required": false, "ip_ranges": []}"#)),
    row("GET",  "/api/v1/admin/users", No,                       [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    with(row("PATCH", "/api/v1/admin/users/{id}", User,          [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, NotFound]), Json(r#"{"disabled": false}"#)),
    row("DELETE", "/api/v1/admin/users/{id}/sessions", User,     [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, NotFound]),
    query(with(row("POST", "/api/v1/admin/users/import", No,     [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]), Csv("email,name\r\nemployee5@acme.example,Eli Employee5\r\n")), "?dry_run=true"),
    row("GET",  "/api/v1/admin/audit", No,                       [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    row("POST", "/api/v1/admin/wipe/{id}/confirm", MadeUp,       [Unauth, Refused, Refused, Refused, NotFound, Refused, Unauth, NotFound]),
    last(with(row("POST", "/api/v1/admin/wipe", No,              [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]), Json("{}"))),
    // Exports (the callers reauthenticated first).
    row("GET",  "/api/v1/admin/audit.csv", No,                   [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    row("GET",  "/api/v1/admin/audit.xlsx", No,                  [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    row("GET",  "/api/v1/users.csv", No,                         [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    row("GET",  "/api/v1/cycles/{id}/reviews.csv", Cycle,        [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, NotFound]),
    row("GET",  "/api/v1/admin/export.xml", No,                  [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    row("GET",  "/api/v1/cycles/{id}/export.xml", Cycle,         [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, NotFound]),
    row("GET",  "/api/v1/feedback.csv", No,                      [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    row("GET",  "/api/v1/objectives.csv", No,                    [Unauth, Refused, Refused, Refused, Ok, Refused, Unauth, Ok]),
    // Operations.
    row("GET",  "/healthz", No,                                  [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok]),
    row("GET",  "/readyz", No,                                   [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok]),
    row("GET",  "/metrics", No,                                  [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok]),
    // The installation's staff. Support reads; the operator's switches refuse it.
    with(row("POST", "/api/v1/installation/login", No,           [Is(401), Is(401), Is(401), Is(401), Is(401), Is(401), Is(401), Is(401)]), Json(r#"{"email": "nobody@example.com", "password": "wrong"}"#)),
    last(row("POST", "/api/v1/installation/logout", No,          [Unauth, Unauth, Unauth, Unauth, Unauth, Unauth, Ok, Unauth])),
    row("GET",  "/api/v1/installation/companies", No,            [Unauth, Unauth, Unauth, Unauth, Unauth, Unauth, Ok, Unauth]),
    row("GET",  "/api/v1/installation/companies/{slug}", Slug,     [Unauth, Unauth, Unauth, Unauth, Unauth, Unauth, Ok, Unauth]),
    row("GET",  "/api/v1/installation/companies/{slug}/audit", Slug, [Unauth, Unauth, Unauth, Unauth, Unauth, Unauth, Ok, Unauth]),
    with(row("PUT", "/api/v1/installation/companies/{slug}/xml-export", Slug, [Unauth, Unauth, Unauth, Unauth, Unauth, Unauth, Refused, Unauth]), Json(r#"{"enabled": true}"#)),
    row("POST", "/api/v1/installation/companies/{slug}/wipe-password", Slug, [Unauth, Unauth, Unauth, Unauth, Unauth, Unauth, Refused, Unauth]),
    row("POST", "/api/v1/installation/backups", No,              [Unauth, Unauth, Unauth, Unauth, Unauth, Unauth, Refused, Unauth]),
];

/// A live topic and what subscribing to it answers each caller: `Ok` a snapshot,
/// `Refused` / `NotFound` an error frame with that code, `Unauth` no upgrade at all.
struct TopicRow {
    topic: &'static str,
    fill: Fill,
    cells: [Expect; 8],
}

#[rustfmt::skip]
const TOPICS: &[TopicRow] = &[
    TopicRow { topic: "cycle:{id}",  fill: Cycle,      cells: [Unauth, Refused, Refused, Refused, Ok, Ok, Unauth, NotFound] },
    TopicRow { topic: "review:{id}", fill: SelfReview, cells: [Unauth, Ok, Ok, NotFound, Ok, NotFound, Unauth, NotFound] },
];

/// The (method, path) pairs the server serves, from its OpenAPI document.
fn served_routes() -> BTreeSet<(String, String)> {
    let document = kaizen::http::openapi();
    let mut routes = BTreeSet::new();
    for (path, item) in &document.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("PUT", item.put.is_some()),
            ("POST", item.post.is_some()),
            ("DELETE", item.delete.is_some()),
            ("PATCH", item.patch.is_some()),
            ("HEAD", item.head.is_some()),
            ("OPTIONS", item.options.is_some()),
        ];
        for (method, present) in methods {
            if present {
                routes.insert((method.to_owned(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn every_route_has_a_row() {
    let served = served_routes();
    let rows: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(rows.len(), TABLE.len(), "a route has two rows");
    let missing: Vec<String> = served
        .difference(&rows)
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    let stale: Vec<String> = rows
        .difference(&served)
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the guard table: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows of routes that are not served: {stale:?}"
    );
}

/// The demo ids the table's paths use.
struct Ids {
    self_review: String,
    manager_review: String,
    cycle: String,
    user: String,
    objective: String,
    spare_objective: String,
    key_result: String,
    objective_comment: String,
    review_comment: String,
    subject: String,
    reviewer: String,
    feedback_request: String,
    nominations: [String; 2],
}

impl Ids {
    /// What replaces each placeholder of a path.
    fn fill(&self, fill: Fill) -> Vec<(&'static str, &str)> {
        match fill {
            Fill::No => vec![],
            Fill::SelfReview => vec![("{id}", &self.self_review)],
            Fill::Cycle => vec![("{id}", &self.cycle)],
            Fill::User => vec![("{id}", &self.user)],
            Fill::MadeUp => vec![("{id}", "00000000-0000-4000-8000-000000000000")],
            Fill::ManagerReview => vec![("{id}", &self.manager_review)],
            Fill::Calibration => vec![("{id}", &self.cycle), ("{review_id}", &self.manager_review)],
            Fill::Objective => vec![("{id}", &self.objective)],
            Fill::SpareObjective => vec![("{id}", &self.spare_objective)],
            Fill::KeyResult => vec![
                ("{id}", &self.objective),
                ("{key_result_id}", &self.key_result),
            ],
            Fill::ObjectiveCycle => vec![("{id}", &self.objective), ("{cycle_id}", &self.cycle)],
            Fill::ObjectiveComment => {
                vec![
                    ("{id}", &self.objective),
                    ("{comment_id}", &self.objective_comment),
                ]
            }
            Fill::ReviewComment => {
                vec![
                    ("{id}", &self.self_review),
                    ("{comment_id}", &self.review_comment),
                ]
            }
            Fill::FeedbackRequest => vec![("{id}", &self.feedback_request)],
            Fill::FeedbackSubject => {
                vec![("{cycle_id}", &self.cycle), ("{subject_id}", &self.subject)]
            }
            Fill::FirstNomination => vec![("{id}", &self.nominations[0])],
            Fill::SecondNomination => vec![("{id}", &self.nominations[1])],
            Fill::Slug => vec![("{slug}", "acme")],
        }
    }

    /// `template` (a path or a topic) with its placeholders filled.
    fn path(&self, template: &str, fill: Fill) -> String {
        self.fill(fill)
            .into_iter()
            .fold(template.to_owned(), |path, (from, to)| {
                path.replace(from, to)
            })
    }
}

/// Signs in from a distinct forwarded address, so that the table's many sign-ins do not
/// run into the per-address limit (the server trusts loopback as a proxy here).
async fn sign_in(server: &TestServer, company: &str, email: &str, n: u32) -> Client {
    let mut client = server.anonymous();
    let body = json!({ "company": company, "email": email, "password": PASSWORD });
    let response = client
        .request(Method::POST, "/api/v1/auth/login")
        .header("x-forwarded-for", format!("198.51.100.{}", n % 250 + 1))
        .json(&body)
        .send()
        .await
        .expect("the login is answered");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{email} of {company} signs in"
    );
    let cookie = response.headers()["set-cookie"].to_str().expect("a cookie");
    client.cookie = Some(cookie.split(';').next().expect("a cookie").to_owned());
    let body = json!({ "password": PASSWORD });
    let (status, _) = client.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{email} reauthenticates");
    client
}

/// Who each column is: a company and an email, or nobody.
fn caller(column: usize) -> Option<(&'static str, &'static str)> {
    match column {
        1 => Some(("acme", "employee1@acme.example")),
        2 => Some(("acme", "manager@acme.example")),
        3 => Some(("acme", "lead@acme.example")),
        4 => Some(("acme", "hr@acme.example")),
        5 => Some(("acme", "assistant@acme.example")),
        7 => Some(("globex", "hr@globex.example")),
        _ => None,
    }
}

/// The column of installation support.
const SUPPORT: usize = 6;

/// The support staff account of the table's server.
const SUPPORT_EMAIL: &str = "support@kaizen.example";

/// Signs in as installation support (the account is added once per server), with the
/// staff cookie only.
async fn support_sign_in(server: &TestServer) -> Client {
    let db = server.server().registry().db();
    if kaizen_actors::staff::find_login(db, SUPPORT_EMAIL)
        .await
        .expect("staff lookup")
        .is_none()
    {
        let hash = kaizen::password::Hasher::new(10)
            .expect("password workers")
            .hash(PASSWORD)
            .await
            .expect("a hash");
        let role = kaizen_actors::staff::StaffRole::Support;
        kaizen_actors::staff::add(db, SUPPORT_EMAIL, "Sam Support", role, &hash)
            .await
            .expect("support is added");
    }
    let mut client = server.anonymous();
    let body = json!({ "email": SUPPORT_EMAIL, "password": PASSWORD });
    let response = client
        .request(Method::POST, "/api/v1/installation/login")
        .json(&body)
        .send()
        .await
        .expect("the login is answered");
    assert_eq!(response.status(), StatusCode::OK, "support signs in");
    let cookie = response.headers()["set-cookie"].to_str().expect("a cookie");
    client.cookie = Some(cookie.split(';').next().expect("a cookie").to_owned());
    client
}

/// A demo server that trusts loopback as a proxy and delivers mail to a directory in its
/// data directory (removed with it).
async fn server() -> TestServer {
    TestServer::demo_with(|config| {
        config.trusted_proxies = vec!["127.0.0.0/8".parse::<Cidr>().expect("a CIDR")];
        config.mail_dir = Some(config.db.data_dir.join("mail"));
    })
    .await
}

/// The demo ids, read as the callers see them.
async fn demo_ids(server: &TestServer) -> Ids {
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let (_, me) = employee.get("/api/v1/me").await;
    let me = me["id"].as_str().expect("an id").to_owned();
    let (_, reviews) = employee.get("/api/v1/reviews").await;
    let self_review = reviews
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|r| r["kind"] == "self" && r["reviewer_id"] == me.as_str())
        })
        .and_then(|r| r["id"].as_str())
        .expect("employee1's self review")
        .to_owned();
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let (_, cycles) = hr.get("/api/v1/cycles").await;
    let cycle = cycles[0]["id"].as_str().expect("the demo cycle").to_owned();
    let (_, users) = hr.get("/api/v1/admin/users").await;
    let user = users
        .as_array()
        .and_then(|l| l.iter().find(|u| u["email"] == "employee5@acme.example"))
        .and_then(|u| u["id"].as_str())
        .expect("employee5")
        .to_owned();
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let (_, reviews) = manager.get("/api/v1/reviews").await;
    let manager_review = reviews
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|r| r["kind"] == "manager" && r["reviewee_id"] == me.as_str())
        })
        .and_then(|r| r["id"].as_str())
        .expect("manager@'s review of employee1")
        .to_owned();

    // employee1's objective with key results, a spare one, and a comment on each of
    // the objective and the self review, all of their own.
    let (_, objectives) = employee
        .get(&format!("/api/v1/objectives?owner_id={me}"))
        .await;
    let objective = objectives
        .as_array()
        .and_then(|l| {
            l.iter().find(|o| {
                o["level"] == "person" && o["key_results"].as_array().is_some_and(|k| !k.is_empty())
            })
        })
        .expect("employee1's objective with key results");
    let key_result = text(&objective["key_results"][0]["id"]);
    let objective = text(&objective["id"]);
    let spare = json!({ "title": "Spare objective", "description": "" });
    let (status, spare) = employee.post("/api/v1/objectives", spare).await;
    assert_eq!(status, StatusCode::CREATED, "{spare}");
    let comment = json!({ "body": "Mine to delete" });
    let path = format!("/api/v1/objectives/{objective}/comments");
    let (status, objective_comment) = employee.post(&path, comment.clone()).await;
    assert!(status.is_success(), "{objective_comment}");
    let path = format!("/api/v1/reviews/{self_review}/comments");
    let (status, review_comment) = employee.post(&path, comment).await;
    assert!(status.is_success(), "{review_comment}");
    // employee1's feedback request, employee2's pending nominations, and employee8 as a
    // reviewer to nominate.
    let (_, requests) = employee.get("/api/v1/feedback/requests").await;
    let feedback_request = text(&requests[0]["id"]);
    let (_, nominations) = manager
        .get(&format!("/api/v1/cycles/{cycle}/nominations"))
        .await;
    let pending: Vec<String> = nominations
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["status"] == "pending")
        .filter_map(|n| n["id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        pending.len() >= 2,
        "employee2's nominations wait: {nominations}"
    );
    let reviewer = users
        .as_array()
        .and_then(|l| l.iter().find(|u| u["email"] == "employee8@acme.example"))
        .and_then(|u| u["id"].as_str())
        .expect("employee8")
        .to_owned();
    Ids {
        subject: me.clone(),
        reviewer,
        feedback_request,
        nominations: [pending[0].clone(), pending[1].clone()],
        self_review,
        manager_review,
        cycle,
        user,
        objective,
        spare_objective: text(&spare["id"]),
        key_result,
        objective_comment: text(&objective_comment["id"]),
        review_comment: text(&review_comment["id"]),
    }
}

/// A JSON string as an owned string.
fn text(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// Sends a row's request as the caller of `column` and answers the status and body.
/// Each column comes from its own address, so that the per-address limits of
/// anonymous routes (password reset) count each caller apart.
async fn send(
    row: &Row,
    ids: &Ids,
    column: usize,
    client: &Client,
    hr: &Client,
) -> (StatusCode, Value) {
    let path = ids.path(&format!("{}{}", row.path, row.query), row.fill);
    let method = Method::from_bytes(row.method.as_bytes()).expect("a method");
    let request = client
        .request(method, &path)
        .header("x-forwarded-for", format!("203.0.113.{}", column + 1));
    let request = match row.body {
        Payload::Empty => request,
        Payload::Json(text) => request
            .header("content-type", "application/json")
            .body(text.to_owned()),
        Payload::Csv(text) => request
            .header("content-type", "text/csv")
            .body(text.to_owned()),
        Payload::ReviewSave => {
            let (_, review) = hr.get(&path).await;
            request.json(&json!({ "version": review["version"], "answers": {} }))
        }
        Payload::FeedbackSave => {
            let (_, feedback) = client.get(&path).await;
            let version = feedback["version"].as_i64().unwrap_or(1);
            request.json(&json!({ "version": version, "answers": {} }))
        }
        Payload::Nominate => request.json(&json!({
            "subject_id": ids.subject,
            "reviewer_ids": [ids.reviewer],
        })),
        Payload::ObjectiveSave => {
            let (_, objective) = hr.get(&path).await;
            request.json(&json!({ "version": objective["version"], "status": "on_track" }))
        }
    };
    client.send(request).await
}

/// Whether an answer is what the cell expects.
fn holds(expect: Expect, status: StatusCode, body: &Value) -> bool {
    match expect {
        Ok => status.is_success(),
        Is(wanted) => status.as_u16() == wanted,
        Refused => status == StatusCode::FORBIDDEN && code(body) == "forbidden",
        NotFound => status == StatusCode::NOT_FOUND && code(body) == "not_found",
        Unauth => status == StatusCode::UNAUTHORIZED && code(body) == "unauthenticated",
        Skip => true,
    }
}

#[tokio::test]
async fn every_cell_holds_against_a_running_demo_server() {
    let server = server().await;
    kaizen_actors::directory::set_xml_export(server.server().registry().db(), "acme", true)
        .await
        .expect("XML export switched on");
    kaizen_actors::directory::set_xml_export(server.server().registry().db(), "globex", true)
        .await
        .expect("XML export switched on");
    let ids = demo_ids(&server).await;

    let mut n = 0;
    let mut sessions: HashMap<usize, Client> = HashMap::new();
    for column in 0..CALLERS.len() {
        if let Some((company, email)) = caller(column) {
            n += 1;
            sessions.insert(column, sign_in(&server, company, email, n).await);
        }
    }
    sessions.insert(SUPPORT, support_sign_in(&server).await);
    let hr = sessions[&4].clone();

    // Rows that end or change what others need run last, refusals before the allowed
    // calls, each allowed call on a session of its own. Among them the rows that move
    // the cycle on (closing its feedback, advancing, closing it) come after the rest, as
    // a closed cycle or one past its writing phases refuses much of it, and the wipe of
    // the company's data comes after everything.
    let mut failures = Vec::new();
    let rank = |r: &&Row| match (r.last, r.path) {
        (false, _) => 0,
        (true, "/api/v1/admin/wipe") => 3,
        (
            true,
            "/api/v1/cycles/{id}/feedback/close"
            | "/api/v1/cycles/{id}/advance"
            | "/api/v1/cycles/{id}/close",
        ) => 2,
        (true, _) => 1,
    };
    let mut ordered: Vec<&Row> = TABLE.iter().collect();
    ordered.sort_by_key(rank);
    for row in ordered {
        let mut columns: Vec<usize> = (0..CALLERS.len()).collect();
        if row.last {
            columns.sort_by_key(|c| matches!(row.cells[*c], Ok | Is(_)));
        }
        for column in columns {
            let expect = row.cells[column];
            if expect == Skip {
                continue;
            }
            let client = match (caller(column), row.last) {
                (None, true) if column == SUPPORT => support_sign_in(&server).await,
                (None, false) if column == SUPPORT => sessions[&SUPPORT].clone(),
                (None, _) => server.anonymous(),
                (Some((company, email)), true) => {
                    n += 1;
                    sign_in(&server, company, email, n).await
                }
                (Some(_), false) => sessions[&column].clone(),
            };
            let (status, body) = send(row, &ids, column, &client, &hr).await;
            if !holds(expect, status, &body) {
                failures.push(format!(
                    "{} {} as {}: expected {expect:?}, got {status} {} {}",
                    row.method,
                    row.path,
                    CALLERS[column],
                    code(&body),
                    body["error"]["message"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "cells that do not hold:\n{}",
        failures.join("\n")
    );
}

/// Subscribes to `topic` as `client` and answers the first frame, or `None` when the
/// upgrade itself was refused.
async fn subscribe(server: &TestServer, client: &Client, topic: &str) -> Option<Value> {
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.live_url(),
        )
        .expect("a request");
    if let Some(cookie) = &client.cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("a header"));
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.ok()?;
    let subscribe = json!({ "type": "subscribe", "topic": topic }).to_string();
    socket
        .send(Message::Text(subscribe.into()))
        .await
        .expect("the subscription is sent");
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an answer in time")
            .expect("a frame")
            .expect("a readable frame");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).ok(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("a text frame, not {other:?}"),
        }
    }
}

#[tokio::test]
async fn topics_are_guarded_like_their_routes() {
    let server = server().await;
    let ids = demo_ids(&server).await;
    let mut failures = Vec::new();
    for (n, row) in TOPICS.iter().enumerate() {
        let topic = ids.path(row.topic, row.fill);
        for (column, who) in CALLERS.iter().enumerate() {
            let expect = row.cells[column];
            if expect == Skip {
                continue;
            }
            let client = match caller(column) {
                None if column == SUPPORT => support_sign_in(&server).await,
                None => server.anonymous(),
                Some((company, email)) => {
                    let seq = u32::try_from(n * 10 + column).unwrap_or(0);
                    sign_in(&server, company, email, seq).await
                }
            };
            let frame = subscribe(&server, &client, &topic).await;
            let got = match &frame {
                None => Unauth,
                Some(f) if f["type"] == "snapshot" => Ok,
                Some(f) if f["code"] == "forbidden" => Refused,
                Some(f) if f["code"] == "not_found" => NotFound,
                Some(f) => panic!("an unexpected frame {f}"),
            };
            if got != expect {
                failures.push(format!(
                    "{} as {who}: expected {expect:?}, got {got:?}",
                    row.topic
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One step of the mixed workload: which company acts and what it does.
#[derive(Debug, Clone)]
enum Op {
    /// The company's employee saves a marked answer into their self review.
    Save(usize, u32),
    /// A read by the company's HR admin or employee of a route without ids.
    Read(usize, usize),
    /// A read of the other company's review by id, which must be 404.
    Cross(usize),
}

/// The reads of [`Op::Read`], by HR admin (true) or employee.
const READS: [(bool, &str); 7] = [
    (false, "/api/v1/reviews"),
    (false, "/api/v1/me"),
    (true, "/api/v1/cycles"),
    (true, "/api/v1/admin/users"),
    (true, "/api/v1/admin/audit"),
    (true, "/api/v1/users.csv"),
    (true, "/api/v1/admin/export.xml"),
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..1000u32).prop_map(|(c, n)| Op::Save(c, n)),
        (0..2usize, 0..READS.len()).prop_map(|(c, r)| Op::Read(c, r)),
        (0..2usize).prop_map(Op::Cross),
    ]
}

/// One company's callers and what is known of it.
struct Side {
    slug: &'static str,
    employee: Client,
    hr: Client,
    review: String,
    question: String,
    /// Ids of this company's users, reviews and cycles: none may show up in the other's
    /// answers.
    ids: Vec<String>,
}

async fn side(server: &TestServer, slug: &'static str, n: u32) -> Side {
    let employee = sign_in(server, slug, &format!("employee1@{slug}.example"), n).await;
    let hr = sign_in(server, slug, &format!("hr@{slug}.example"), n + 1).await;
    let (_, me) = employee.get("/api/v1/me").await;
    let (_, reviews) = employee.get("/api/v1/reviews").await;
    let review = reviews
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|r| r["kind"] == "self" && r["reviewer_id"] == me["id"])
        })
        .and_then(|r| r["id"].as_str())
        .expect("a self review")
        .to_owned();
    let (_, full) = employee.get(&format!("/api/v1/reviews/{review}")).await;
    let question = full["questions"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["kind"] == "text"))
        .and_then(|q| q["id"].as_str())
        .expect("a text question")
        .to_owned();
    let mut ids = vec![review.clone(), question.clone()];
    let (_, users) = hr.get("/api/v1/admin/users").await;
    ids.extend(
        users
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["id"].as_str().map(str::to_owned)),
    );
    let (_, cycles) = hr.get("/api/v1/cycles").await;
    ids.extend(
        cycles
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str().map(str::to_owned)),
    );
    Side {
        slug,
        employee,
        hr,
        review,
        question,
        ids,
    }
}

/// Runs one operation; answers the text of what was read, if anything.
async fn run(op: &Op, sides: &[Side; 2]) -> Option<(usize, String)> {
    match op {
        Op::Save(c, n) => {
            let side = &sides[*c];
            let path = format!("/api/v1/reviews/{}", side.review);
            let (_, review) = side.employee.get(&path).await;
            let marker = format!("secret-of-{}-{n}", side.slug);
            let body =
                json!({ "version": review["version"], "answers": { &side.question: marker } });
            let (status, body) = side.employee.patch(&path, body).await;
            assert!(
                status.is_success() || status == StatusCode::CONFLICT,
                "{body}"
            );
            None
        }
        Op::Read(c, r) => {
            let (by_hr, path) = READS[*r];
            let side = &sides[*c];
            let client = if by_hr { &side.hr } else { &side.employee };
            let response = client
                .request(Method::GET, path)
                .send()
                .await
                .expect("answered");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            Some((*c, response.text().await.expect("a body")))
        }
        Op::Cross(c) => {
            let other = &sides[1 - *c];
            let side = &sides[*c];
            let (status, body) = side
                .hr
                .get(&format!("/api/v1/reviews/{}", other.review))
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
            Some((*c, body.to_string()))
        }
    }
}

#[test]
fn two_companies_never_read_each_others_data() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let (server, sides) = runtime.block_on(async {
        let server = server().await;
        for slug in ["acme", "globex"] {
            kaizen_actors::directory::set_xml_export(server.server().registry().db(), slug, true)
                .await
                .expect("XML export switched on");
        }
        let sides = [
            side(&server, "acme", 1).await,
            side(&server, "globex", 3).await,
        ];
        (server, sides)
    });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 12,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..12), |ops| {
            runtime.block_on(async {
                for op in &ops {
                    let Some((c, text)) = run(op, &sides).await else {
                        continue;
                    };
                    let other = &sides[1 - c];
                    prop_assert!(
                        !text.contains(&format!("secret-of-{}", other.slug)),
                        "{op:?} read the other company's content"
                    );
                    prop_assert!(
                        !text.contains(&format!("@{}.example", other.slug)),
                        "{op:?} read the other company's people"
                    );
                    if let Some(id) = other.ids.iter().find(|id| text.contains(id.as_str())) {
                        prop_assert!(false, "{op:?} read the other company's id {id}");
                    }
                }
                Result::<(), TestCaseError>::Ok(())
            })
        })
        .expect("no read crosses companies");
    runtime.block_on(server.stop());
}
