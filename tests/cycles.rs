//! Review cycles in phases: self review → manager review → sharing → sign-off → closed,
//! with calibration, signatures, reminders, progress breakdowns, the HR assistant role
//! and skip-level visibility, all over HTTP against a real server.

#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Client, PASSWORD, TestServer, code};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const COMPANY: &str = "acme";
const OTHER_COMPANY: &str = "globex";
const HOUR_MS: i64 = 3_600_000;

/// How long a test waits for something the server does in the background.
const WAIT: Duration = Duration::from_secs(10);

fn email(local: &str, company: &str) -> String {
    format!("{local}@{company}.example")
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_millis()).expect("a sane time")
}

/// An RFC 3339 time `offset_ms` from now.
fn at(offset_ms: i64) -> String {
    kaizen_actors::model::rfc3339(now_ms() + offset_ms)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Answers the body of a call that must succeed with `status`.
async fn expect(status: StatusCode, answer: (StatusCode, Value), what: &str) -> Value {
    let (got, body) = answer;
    assert_eq!(got, status, "{what}: {body}");
    body
}

async fn put(client: &Client, path: &str, body: Value) -> (StatusCode, Value) {
    client
        .send(client.request(Method::PUT, path).json(&body))
        .await
}

async fn elevate(client: &Client) {
    let body = json!({ "password": PASSWORD });
    let (status, body) = client.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn my_id(client: &Client) -> String {
    let me = expect(StatusCode::OK, client.get("/api/v1/me").await, "me").await;
    text(&me["id"])
}

/// acme's people the tests act as, signed in.
struct Acme {
    server: TestServer,
    hr: Client,
    employee: Client,
    employee_id: String,
    peer_id: String,
    manager: Client,
    manager_id: String,
    other_manager: Client,
    ceo: Client,
    /// employee20, made an HR assistant.
    assistant: Client,
    /// globex's HR admin.
    outsider: Client,
    mail_dir: PathBuf,
}

impl Acme {
    async fn start() -> Acme {
        Acme::start_with(|_| {}).await
    }

    async fn start_with(change: impl FnOnce(&mut kaizen::ServeConfig)) -> Acme {
        let mail_dir = tempfile::tempdir().expect("a mail directory").keep();
        let dir = mail_dir.clone();
        let server = TestServer::demo_with(move |config| {
            config.mail_dir = Some(dir);
            change(config);
        })
        .await;
        let sign_in = |local: &str| {
            let address = email(local, COMPANY);
            let server = &server;
            async move { server.sign_in(COMPANY, &address).await }
        };
        let hr = sign_in("hr").await;
        let employee = sign_in("employee1").await;
        let peer = sign_in("employee2").await;
        let manager = sign_in("manager").await;
        let other_manager = sign_in("lead").await;
        let ceo = sign_in("ceo").await;
        let outsider = server
            .sign_in(OTHER_COMPANY, &email("hr", OTHER_COMPANY))
            .await;

        // employee20 becomes an HR assistant; roles are read per request.
        let assistant = sign_in("employee20").await;
        let assistant_id = my_id(&assistant).await;
        elevate(&hr).await;
        let path = format!("/api/v1/admin/users/{assistant_id}");
        let update = json!({ "role": "hr_assistant" });
        let answer = hr
            .send(hr.request(Method::PATCH, &path).json(&update))
            .await;
        expect(StatusCode::OK, answer, "making an HR assistant").await;

        Acme {
            employee_id: my_id(&employee).await,
            peer_id: my_id(&peer).await,
            manager_id: my_id(&manager).await,
            server,
            hr,
            employee,
            manager,
            other_manager,
            ceo,
            assistant,
            outsider,
            mail_dir,
        }
    }

    /// Creates a cycle as HR; answers it.
    async fn create(&self, body: Value) -> Value {
        let answer = self.hr.post("/api/v1/cycles", body).await;
        expect(StatusCode::CREATED, answer, "creating a cycle").await
    }

    /// The review of `kind` about `reviewee` in `cycle`, as `client` lists it.
    async fn review_id(&self, client: &Client, cycle: &str, kind: &str, reviewee: &str) -> String {
        let list = expect(StatusCode::OK, client.get("/api/v1/reviews").await, "list").await;
        let found = list.as_array().and_then(|list| {
            list.iter().find(|r| {
                r["cycle_id"] == cycle && r["kind"] == kind && r["reviewee_id"] == reviewee
            })
        });
        text(&found.unwrap_or_else(|| panic!("a {kind} review in {list}"))["id"])
    }

    async fn review(&self, client: &Client, id: &str) -> (StatusCode, Value) {
        client.get(&format!("/api/v1/reviews/{id}")).await
    }

    /// Saves `answers` and submits, as the writer.
    async fn write(&self, client: &Client, id: &str, answers: Value) -> (StatusCode, Value) {
        let (_, review) = self.review(client, id).await;
        let body = json!({ "answers": answers, "version": review["version"] });
        let path = format!("/api/v1/reviews/{id}");
        let (status, saved) = client
            .send(client.request(Method::PATCH, &path).json(&body))
            .await;
        if status != StatusCode::OK {
            return (status, saved);
        }
        client.post(&format!("{path}/submit"), json!(null)).await
    }

    async fn advance(&self, cycle: &str) -> Value {
        let answer = self
            .hr
            .post(&format!("/api/v1/cycles/{cycle}/advance"), json!(null))
            .await;
        expect(StatusCode::OK, answer, "advancing").await
    }

    async fn progress(&self, cycle: &str) -> Value {
        let path = format!("/api/v1/cycles/{cycle}/progress");
        expect(StatusCode::OK, self.hr.get(&path).await, "progress").await
    }
}

/// A cycle about the given people with a text and a rating question on `scale`.
fn cycle_body(name: &str, participants: &[&str], scale: (i64, i64), deadlines: Value) -> Value {
    json!({
        "name": name,
        "questions": [
            { "kind": "text", "prompt": "What went well?" },
            { "kind": "rating", "prompt": "Overall?" },
        ],
        "participants": participants,
        "rating_scale": { "min": scale.0, "max": scale.1 },
        "deadlines": deadlines,
    })
}

/// The answers for a cycle made by [`cycle_body`].
fn answers(cycle: &Value, rating: i64) -> Value {
    let questions = cycle["questions"].as_array().expect("questions");
    json!({
        text(&questions[0]["id"]): "Shipped the thing.",
        text(&questions[1]["id"]): rating,
    })
}

fn rating_question(cycle: &Value) -> String {
    text(&cycle["questions"][1]["id"])
}

// ---------------------------------------------------------------------------------------
// The phase flow
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_cycle_moves_through_its_phases_to_a_review_signed_by_both() {
    let acme = Acme::start().await;
    let deadlines = json!({
        "self_review": at(24 * HOUR_MS),
        "manager_review": at(48 * HOUR_MS),
        "sign_off": at(96 * HOUR_MS),
    });
    let cycle = acme
        .create(cycle_body(
            "Phased",
            &[&acme.employee_id],
            (1, 10),
            deadlines,
        ))
        .await;
    let id = text(&cycle["id"]);
    assert_eq!(cycle["phase"], "self_review");
    assert_eq!(cycle["rating_scale"], json!({ "min": 1, "max": 10 }));
    assert!(cycle["deadlines"]["sign_off"].is_string(), "{cycle}");
    let listed = expect(StatusCode::OK, acme.hr.get("/api/v1/cycles").await, "list").await;
    let found = listed
        .as_array()
        .and_then(|l| l.iter().find(|c| c["id"] == id.as_str()));
    assert_eq!(found, Some(&cycle));

    let own = acme
        .review_id(&acme.employee, &id, "self", &acme.employee_id)
        .await;
    let managed = acme
        .review_id(&acme.manager, &id, "manager", &acme.employee_id)
        .await;

    // Ratings follow the cycle's scale: 10 is fine here, 11 is not.
    let (status, body) = acme.write(&acme.employee, &own, answers(&cycle, 11)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The manager drafts early but submits only after the self review.
    let (status, body) = acme
        .write(&acme.manager, &managed, answers(&cycle, 6))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = acme.write(&acme.employee, &own, answers(&cycle, 10)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = acme
        .write(&acme.manager, &managed, answers(&cycle, 6))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Sharing waits for its phase.
    let share = format!("/api/v1/reviews/{managed}/share");
    let sign = format!("/api/v1/reviews/{managed}/sign");
    let (status, body) = acme.manager.post(&share, json!(null)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(acme.advance(&id).await["phase"], "manager_review");
    assert_eq!(acme.advance(&id).await["phase"], "sharing");
    assert_eq!(
        acme.review(&acme.employee, &managed).await.0,
        StatusCode::NOT_FOUND
    );

    // HR calibrates 6 to 8: both are kept.
    let question = rating_question(&cycle);
    let calibrate = format!("/api/v1/cycles/{id}/calibration/{managed}");
    let body = json!({ "ratings": { question.clone(): 8 } });
    let entry = expect(
        StatusCode::OK,
        put(&acme.hr, &calibrate, body).await,
        "calibrating",
    )
    .await;
    assert_eq!(entry["ratings"][&question], 6);
    assert_eq!(entry["calibrated"][&question], 8);
    let view = acme
        .hr
        .get(&format!("/api/v1/cycles/{id}/calibration"))
        .await;
    let view = expect(StatusCode::OK, view, "calibration view").await;
    let entries = view["reviews"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{view}");
    assert_eq!(entries[0]["ratings"][&question], 6);
    assert_eq!(entries[0]["calibrated"][&question], 8);
    // The reviews export carries both: the manager's 6 and, beside it, the calibrated 8.
    elevate(&acme.hr).await;
    let response = acme
        .hr
        .request(Method::GET, &format!("/api/v1/cycles/{id}/reviews.csv"))
        .send()
        .await
        .expect("the export is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let csv = response.text().await.expect("a CSV body");
    let mut lines = csv.lines();
    let header = lines.next().expect("a header");
    assert!(
        header.ends_with(",What went well?,Overall?,Overall? (calibrated)"),
        "{header}"
    );
    let row = lines
        .find(|line| line.starts_with(managed.as_str()))
        .unwrap_or_else(|| panic!("the manager review in {csv}"));
    assert!(row.ends_with(",Shipped the thing.,6,8"), "{row}");

    // Shared: the reviewee reads it with the calibrated rating; the manager sees both.
    let shared = expect(
        StatusCode::OK,
        acme.manager.post(&share, json!(null)).await,
        "share",
    )
    .await;
    assert_eq!(shared["status"], "shared");
    assert!(shared["shared_at"].is_string(), "{shared}");
    let seen = expect(
        StatusCode::OK,
        acme.review(&acme.employee, &managed).await,
        "read",
    )
    .await;
    assert_eq!(seen["answers"][&question], 8, "{seen}");
    assert!(seen.get("calibrated_ratings").is_none(), "{seen}");
    let (_, written) = acme.review(&acme.manager, &managed).await;
    assert_eq!(written["answers"][&question], 6, "{written}");
    assert_eq!(written["calibrated_ratings"][&question], 8, "{written}");
    // Once shared, calibration is over.
    let body = json!({ "ratings": { question.clone(): 2 } });
    assert_eq!(
        put(&acme.hr, &calibrate, body).await.0,
        StatusCode::CONFLICT
    );

    // Signing waits for its phase, then takes both signatures.
    assert_eq!(
        acme.employee.post(&sign, json!(null)).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(acme.advance(&id).await["phase"], "sign_off");
    let once = expect(
        StatusCode::OK,
        acme.employee.post(&sign, json!(null)).await,
        "sign",
    )
    .await;
    assert_eq!(once["status"], "shared");
    assert!(once["reviewee_signed_at"].is_string(), "{once}");
    assert!(once["reviewer_signed_at"].is_null(), "{once}");
    assert_eq!(
        acme.employee.post(&sign, json!(null)).await.0,
        StatusCode::CONFLICT
    );
    let both = expect(
        StatusCode::OK,
        acme.manager.post(&sign, json!(null)).await,
        "sign",
    )
    .await;
    assert_eq!(both["status"], "signed");
    assert!(both["reviewer_signed_at"].is_string(), "{both}");

    let progress = acme.progress(&id).await;
    assert_eq!(progress["phase"], "sign_off");
    assert_eq!(progress["by_kind"]["manager"]["signed"], 1, "{progress}");
    assert_eq!(progress["by_kind"]["self"]["submitted"], 1, "{progress}");

    // Every step is in the trail.
    let trail = expect(
        StatusCode::OK,
        acme.hr.get("/api/v1/admin/audit?limit=200").await,
        "audit",
    )
    .await;
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "cycle_phase_advanced",
        "review_calibrated",
        "review_shared",
        "review_signed",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(
        !trail.to_string().contains("Shipped the thing"),
        "no content in the trail"
    );

    // Closed: nothing moves any more.
    let closed = acme
        .hr
        .post(&format!("/api/v1/cycles/{id}/close"), json!(null))
        .await;
    let closed = expect(StatusCode::OK, closed, "closing").await;
    assert_eq!(
        (&closed["phase"], &closed["status"]),
        (&json!("closed"), &json!("closed"))
    );
    let again = acme
        .hr
        .post(&format!("/api/v1/cycles/{id}/advance"), json!(null))
        .await;
    assert_eq!(again.0, StatusCode::CONFLICT);
    let (status, _) = acme.write(&acme.employee, &own, answers(&cycle, 3)).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn advancing_from_a_phase_the_cycle_already_left_is_a_conflict() {
    let acme = Acme::start().await;
    let cycle = acme
        .create(cycle_body("Twice", &[&acme.employee_id], (1, 5), json!({})))
        .await;
    let id = text(&cycle["id"]);
    let path = format!("/api/v1/cycles/{id}/advance");

    // Two clicks on "Move to manager review": the first moves, the second, naming the
    // phase it was shown, is refused instead of skipping to sharing.
    let from = json!({ "from": "self_review" });
    let first = acme.hr.post(&path, from.clone()).await;
    assert_eq!(
        expect(StatusCode::OK, first, "the first click").await["phase"],
        "manager_review"
    );
    let (status, body) = acme.hr.post(&path, from).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
    let (status, body) = acme.hr.post(&path, json!({ "from": "nowhere" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A precondition sent without a content type is refused, not ignored.
    let bare = acme
        .hr
        .request(Method::POST, &path)
        .body(r#"{"from": "self_review"}"#);
    let (status, body) = acme.hr.send(bare).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (_, cycles) = acme.hr.get("/api/v1/cycles").await;
    let phase = cycles
        .as_array()
        .and_then(|l| l.iter().find(|c| c["id"] == id.as_str()))
        .map(|c| c["phase"].clone());
    assert_eq!(phase, Some(json!("manager_review")), "nothing skipped");
}

#[tokio::test]
async fn a_manager_submits_without_the_self_review_once_the_self_phase_ended() {
    let acme = Acme::start().await;
    let cycle = acme
        .create(cycle_body(
            "Late self",
            &[&acme.employee_id],
            (1, 5),
            json!({}),
        ))
        .await;
    let id = text(&cycle["id"]);
    let managed = acme
        .review_id(&acme.manager, &id, "manager", &acme.employee_id)
        .await;
    let (status, _) = acme
        .write(&acme.manager, &managed, answers(&cycle, 4))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    acme.advance(&id).await;
    let (status, body) = acme
        .write(&acme.manager, &managed, answers(&cycle, 4))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn bad_cycle_definitions_are_refused_whole() {
    let acme = Acme::start().await;
    let before = acme.hr.get("/api/v1/cycles").await;
    let base = || cycle_body("Bad", &[&acme.employee_id], (1, 5), json!({}));
    let mut backwards = base();
    backwards["deadlines"] =
        json!({ "self_review": at(48 * HOUR_MS), "manager_review": at(HOUR_MS) });
    let mut scale = base();
    scale["rating_scale"] = json!({ "min": 5, "max": 5 });
    let mut both = base();
    both["departments"] = json!(["Sales"]);
    let mut unknown = cycle_body("Bad", &[], (1, 5), json!({}));
    unknown
        .as_object_mut()
        .expect("an object")
        .remove("participants");
    unknown["departments"] = json!(["Nowhere"]);
    let mut time = base();
    time["deadlines"] = json!({ "sign_off": "next tuesday" });
    for (what, body) in [
        ("deadlines out of order", backwards),
        ("an empty scale", scale),
        ("participants and departments", both),
        ("an unknown department", unknown),
        ("a deadline that is no time", time),
    ] {
        let (status, answer) = acme.hr.post("/api/v1/cycles", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {answer}");
        assert_eq!(code(&answer), "validation_failed", "{what}");
    }
    let mut extra = base();
    extra["phase"] = json!("sign_off");
    let (status, answer) = acme.hr.post("/api/v1/cycles", extra).await;
    assert!(
        status.is_client_error(),
        "an unknown field is refused: {answer}"
    );
    assert_eq!(acme.hr.get("/api/v1/cycles").await, before);
}

// ---------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Employee,
    Manager,
    OtherManager,
    Hr,
    Assistant,
    Outsider,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Progress,
    Calibration,
    Calibrate,
    Reminders,
    Advance,
    Share,
    Sign,
    Close,
    ReadSettings,
    ReadReview,
}

#[tokio::test]
async fn each_role_gets_the_expected_answer_on_every_cycle_route() {
    use Route::*;
    use Who::*;
    let acme = Acme::start().await;
    let cycle = acme
        .create(cycle_body("Roles", &[&acme.employee_id], (1, 5), json!({})))
        .await;
    let id = text(&cycle["id"]);
    let own = acme
        .review_id(&acme.employee, &id, "self", &acme.employee_id)
        .await;
    let managed = acme
        .review_id(&acme.manager, &id, "manager", &acme.employee_id)
        .await;
    acme.write(&acme.employee, &own, answers(&cycle, 3)).await;
    let (status, body) = acme
        .write(&acme.manager, &managed, answers(&cycle, 4))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    acme.advance(&id).await;
    let client = |who| match who {
        Employee => &acme.employee,
        Manager => &acme.manager,
        OtherManager => &acme.other_manager,
        Hr => &acme.hr,
        Assistant => &acme.assistant,
        Outsider => &acme.outsider,
    };
    let calibration = json!({ "ratings": { rating_question(&cycle): 5 } });

    // Rows run in order: the phase is manager review; an HR assistant moves it to
    // sharing, the manager shares, HR moves it to sign-off, both sign.
    let table: &[(Who, Route, u16)] = &[
        (Employee, Progress, 403),
        (Manager, Progress, 403),
        (OtherManager, Progress, 403),
        (Hr, Progress, 200),
        (Assistant, Progress, 200),
        (Outsider, Progress, 404),
        (Employee, Calibration, 403),
        (Manager, Calibration, 403),
        (Assistant, Calibration, 403),
        (Hr, Calibration, 200),
        (Outsider, Calibration, 404),
        (Employee, Calibrate, 403),
        (Manager, Calibrate, 403),
        (OtherManager, Calibrate, 403),
        (Assistant, Calibrate, 403),
        (Outsider, Calibrate, 404),
        (Hr, Calibrate, 200),
        (Employee, Reminders, 403),
        (Manager, Reminders, 403),
        (Hr, Reminders, 200),
        (Assistant, Reminders, 200),
        (Employee, ReadReview, 404),
        (OtherManager, ReadReview, 404),
        (Assistant, ReadReview, 404),
        (Outsider, ReadReview, 404),
        (Manager, ReadReview, 200),
        (Hr, ReadReview, 200),
        (Employee, Advance, 403),
        (Manager, Advance, 403),
        (Outsider, Advance, 404),
        (Assistant, Advance, 200),
        (Employee, Share, 404),
        (OtherManager, Share, 404),
        (Assistant, Share, 404),
        (Outsider, Share, 404),
        (Manager, Share, 200),
        (Hr, Share, 409),
        (Employee, ReadReview, 200),
        (Hr, Advance, 200),
        (OtherManager, Sign, 404),
        (Assistant, Sign, 404),
        (Outsider, Sign, 404),
        (Hr, Sign, 403),
        (Employee, Sign, 200),
        (Manager, Sign, 200),
        (Employee, Close, 403),
        (Manager, Close, 403),
        (Outsider, Close, 404),
        (Assistant, Close, 200),
        (Employee, ReadSettings, 403),
        (Manager, ReadSettings, 403),
        (Assistant, ReadSettings, 403),
        (Hr, ReadSettings, 200),
    ];
    let mut failures = Vec::new();
    for &(who, route, expected) in table {
        let caller = client(who);
        let answer = match route {
            Progress => caller.get(&format!("/api/v1/cycles/{id}/progress")).await,
            Calibration => {
                caller
                    .get(&format!("/api/v1/cycles/{id}/calibration"))
                    .await
            }
            Calibrate => {
                let path = format!("/api/v1/cycles/{id}/calibration/{managed}");
                put(caller, &path, calibration.clone()).await
            }
            Reminders => caller.post("/api/v1/reminders/run", json!(null)).await,
            Advance => {
                caller
                    .post(&format!("/api/v1/cycles/{id}/advance"), json!(null))
                    .await
            }
            Close => {
                caller
                    .post(&format!("/api/v1/cycles/{id}/close"), json!(null))
                    .await
            }
            Share => {
                caller
                    .post(&format!("/api/v1/reviews/{managed}/share"), json!(null))
                    .await
            }
            Sign => {
                caller
                    .post(&format!("/api/v1/reviews/{managed}/sign"), json!(null))
                    .await
            }
            ReadSettings => caller.get("/api/v1/admin/review-settings").await,
            ReadReview => acme.review(caller, &managed).await,
        };
        if answer.0.as_u16() != expected {
            failures.push(format!(
                "{who:?} {route:?}: expected {expected}, got {} {}",
                answer.0, answer.1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn an_hr_assistant_runs_cycles_without_seeing_content() {
    let acme = Acme::start().await;
    let me = expect(StatusCode::OK, acme.assistant.get("/api/v1/me").await, "me").await;
    assert_eq!(me["roles"], json!(["employee", "hr_assistant"]));

    let body = cycle_body("Assisted", &[&acme.employee_id], (1, 5), json!({}));
    let created = acme.assistant.post("/api/v1/cycles", body).await;
    let cycle = expect(StatusCode::CREATED, created, "an assistant creates a cycle").await;
    let id = text(&cycle["id"]);
    let listed = expect(
        StatusCode::OK,
        acme.assistant.get("/api/v1/cycles").await,
        "list",
    )
    .await;
    assert!(
        listed.as_array().is_some_and(|l| l.len() >= 2),
        "every cycle: {listed}"
    );

    // Reviews of others stay closed to them, in this cycle and in the demo's.
    let own = acme
        .review_id(&acme.employee, &id, "self", &acme.employee_id)
        .await;
    assert_eq!(
        acme.review(&acme.assistant, &own).await.0,
        StatusCode::NOT_FOUND
    );
    let audit = acme.assistant.get("/api/v1/admin/audit").await;
    assert_eq!(audit.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn managers_see_skip_level_reviews_only_when_the_company_allows_it() {
    let acme = Acme::start().await;
    let cycle = acme
        .create(cycle_body(
            "Skip",
            &[&acme.employee_id, &acme.manager_id],
            (1, 5),
            json!({}),
        ))
        .await;
    let id = text(&cycle["id"]);
    let own = acme
        .review_id(&acme.employee, &id, "self", &acme.employee_id)
        .await;
    let managers_own = acme
        .review_id(&acme.manager, &id, "self", &acme.manager_id)
        .await;

    // On by default: the CEO above the direct manager reads it too.
    let settings = acme.hr.get("/api/v1/admin/review-settings").await;
    let settings = expect(StatusCode::OK, settings, "settings").await;
    assert_eq!(settings, json!({ "skip_level_visible": true }));
    assert_eq!(acme.review(&acme.ceo, &own).await.0, StatusCode::OK);

    // Changing it needs the password again and is audited.
    let off = json!({ "skip_level_visible": false });
    let fresh = acme.server.sign_in(COMPANY, &email("hr", COMPANY)).await;
    let (status, body) = put(&fresh, "/api/v1/admin/review-settings", off.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "reauthentication_required");
    let answer = put(&acme.hr, "/api/v1/admin/review-settings", off.clone()).await;
    assert_eq!(expect(StatusCode::OK, answer, "switching off").await, off);
    let trail = acme
        .hr
        .get("/api/v1/admin/audit?kind=review_settings_changed")
        .await;
    assert_eq!(
        trail.1["entries"].as_array().map(Vec::len),
        Some(1),
        "{}",
        trail.1
    );

    // Off: the direct manager reads, the CEO above them does not, but still reads the
    // review of their own direct report.
    assert_eq!(acme.review(&acme.manager, &own).await.0, StatusCode::OK);
    assert_eq!(acme.review(&acme.ceo, &own).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        acme.review(&acme.ceo, &managers_own).await.0,
        StatusCode::OK
    );

    // On again: the CEO reads it too; people beside or below never do.
    let on = json!({ "skip_level_visible": true });
    let answer = put(&acme.hr, "/api/v1/admin/review-settings", on.clone()).await;
    assert_eq!(expect(StatusCode::OK, answer, "switching on").await, on);
    assert_eq!(acme.review(&acme.ceo, &own).await.0, StatusCode::OK);
    assert_eq!(
        acme.review(&acme.other_manager, &own).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        acme.review(&acme.employee, &managers_own).await.0,
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn progress_breaks_down_by_department_and_manager_and_counts_overdue() {
    let acme = Acme::start().await;
    let csv = "email,name,department,manager_email,role\r\n\
               employee1@acme.example,Ada Employee1,Sales,manager@acme.example,\r\n\
               employee2@acme.example,Ben Employee2,Sales,manager@acme.example,\r\n\
               report1@acme.example,Robin Report1,Support,lead@acme.example,\r\n";
    let request = acme
        .hr
        .request(Method::POST, "/api/v1/admin/users/import?dry_run=false")
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv);
    expect(StatusCode::OK, acme.hr.send(request).await, "import").await;

    let mut body = cycle_body("By department", &[], (1, 5), json!({}));
    body.as_object_mut()
        .expect("an object")
        .remove("participants");
    body["departments"] = json!(["Sales", "Support"]);
    body["deadlines"] = json!({ "self_review": at(-HOUR_MS), "manager_review": at(HOUR_MS) });
    let cycle = acme.create(body).await;
    let id = text(&cycle["id"]);
    let own = acme
        .review_id(&acme.employee, &id, "self", &acme.employee_id)
        .await;
    acme.write(&acme.employee, &own, answers(&cycle, 3)).await;

    let progress = acme.progress(&id).await;
    assert_eq!(progress["total"], 6, "{progress}");
    assert_eq!(progress["submitted"], 1, "{progress}");
    // Two self reviews are past their deadline; manager reviews are not due yet.
    assert_eq!(progress["overdue"], 2, "{progress}");
    assert_eq!(progress["by_kind"]["self"]["overdue"], 2, "{progress}");
    assert_eq!(progress["by_department"]["Sales"]["total"], 4, "{progress}");
    assert_eq!(
        progress["by_department"]["Sales"]["submitted"], 1,
        "{progress}"
    );
    assert_eq!(
        progress["by_department"]["Support"]["total"], 2,
        "{progress}"
    );
    assert_eq!(
        progress["by_department"]["Support"]["overdue"], 1,
        "{progress}"
    );
    let managers = progress["by_manager"].as_array().expect("a list");
    let of = |id: &str| {
        managers
            .iter()
            .find(|m| m["manager_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {progress}"))
            .clone()
    };
    let manager = of(&acme.manager_id);
    assert_eq!(manager["manager_name"], "Morgan Lee");
    assert_eq!(
        (manager["total"].as_i64(), manager["overdue"].as_i64()),
        (Some(4), Some(1))
    );
    let total: i64 = managers.iter().filter_map(|m| m["total"].as_i64()).sum();
    assert_eq!(total, 6);
}

/// Opens a live connection as `client` and subscribes to the cycle; answers the socket
/// after its snapshot.
async fn follow(
    server: &TestServer,
    client: &Client,
    cycle: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = server.live_url().into_client_request().expect("a request");
    let headers = request.headers_mut();
    let cookie = client.cookie.as_deref().expect("signed in");
    headers.insert("cookie", HeaderValue::from_str(cookie).expect("a header"));
    headers.insert(
        "origin",
        HeaderValue::from_str(&server.base).expect("a header"),
    );
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

async fn next_frame(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a readable frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("JSON");
        }
    }
}

#[tokio::test]
async fn sharing_and_signing_publish_progress_shaped_like_the_get() {
    let acme = Acme::start().await;
    let cycle = acme
        .create(cycle_body("Live", &[&acme.employee_id], (1, 5), json!({})))
        .await;
    let id = text(&cycle["id"]);
    let own = acme
        .review_id(&acme.employee, &id, "self", &acme.employee_id)
        .await;
    let managed = acme
        .review_id(&acme.manager, &id, "manager", &acme.employee_id)
        .await;
    acme.write(&acme.employee, &own, answers(&cycle, 3)).await;
    acme.write(&acme.manager, &managed, answers(&cycle, 4))
        .await;
    acme.advance(&id).await;
    acme.advance(&id).await;

    let mut socket = follow(&acme.server, &acme.hr, &id).await;
    let share = format!("/api/v1/reviews/{managed}/share");
    expect(
        StatusCode::OK,
        acme.manager.post(&share, json!(null)).await,
        "share",
    )
    .await;
    let event = next_frame(&mut socket).await;
    assert_eq!(
        (&event["type"], &event["event"]),
        (&json!("event"), &json!("progress"))
    );
    assert_eq!(event["data"]["shared"], 1, "{event}");
    let got = acme.progress(&id).await;
    assert_eq!(event["data"], got, "the event is the GET's body");

    acme.advance(&id).await;
    let phase = next_frame(&mut socket).await;
    assert_eq!(phase["data"]["phase"], "sign_off", "{phase}");
    let sign = format!("/api/v1/reviews/{managed}/sign");
    expect(
        StatusCode::OK,
        acme.employee.post(&sign, json!(null)).await,
        "sign",
    )
    .await;
    next_frame(&mut socket).await;
    expect(
        StatusCode::OK,
        acme.manager.post(&sign, json!(null)).await,
        "sign",
    )
    .await;
    let signed = next_frame(&mut socket).await;
    assert_eq!(signed["data"]["signed"], 1, "{signed}");
}

// ---------------------------------------------------------------------------------------
// Reminders
// ---------------------------------------------------------------------------------------

/// The cycle reminders in the mail directory.
fn reminders(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
        .filter(|m| m["kind"] == "cycle_reminder")
        .collect()
}

/// Waits until the mail directory holds `n` reminders; answers them.
async fn wait_for_reminders(dir: &Path, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = reminders(dir);
        if found.len() >= n {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} reminders expected, found {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn recipients(mails: &[Value]) -> Vec<String> {
    let mut to: Vec<String> = mails.iter().map(|m| text(&m["to"])).collect();
    to.sort();
    to
}

#[tokio::test]
async fn reminders_go_out_once_before_and_after_a_deadline() {
    let acme = Acme::start().await;
    let deadlines = json!({ "self_review": at(-HOUR_MS), "manager_review": at(HOUR_MS) });
    let cycle = acme
        .create(cycle_body(
            "Reminded",
            &[&acme.employee_id, &acme.peer_id],
            (1, 5),
            deadlines,
        ))
        .await;
    let id = text(&cycle["id"]);

    // employee2 is done; employee1 is overdue, the manager's reviews come up soon.
    let peer = acme
        .server
        .sign_in(COMPANY, &email("employee2", COMPANY))
        .await;
    let done = acme.review_id(&peer, &id, "self", &acme.peer_id).await;
    acme.write(&peer, &done, answers(&cycle, 3)).await;
    let run = acme.hr.post("/api/v1/reminders/run", json!(null)).await;
    let run = expect(StatusCode::OK, run, "a run").await;
    assert_eq!(run["sent"], 2, "{run}");
    let mails = wait_for_reminders(&acme.mail_dir, 2).await;
    assert_eq!(
        recipients(&mails),
        vec![email("employee1", COMPANY), email("manager", COMPANY)]
    );
    let overdue = mails
        .iter()
        .find(|m| m["to"] == email("employee1", COMPANY).as_str())
        .expect("employee1's");
    assert!(text(&overdue["subject"]).contains("Overdue"), "{overdue}");
    assert!(text(&overdue["body"]).contains("Reminded"), "{overdue}");
    assert!(text(&overdue["link"]).ends_with("/#/reviews"), "{overdue}");

    // A second run sends nothing new.
    let again = acme
        .assistant
        .post("/api/v1/reminders/run", json!(null))
        .await;
    assert_eq!(expect(StatusCode::OK, again, "again").await["sent"], 0);
    let trail = acme
        .hr
        .get("/api/v1/admin/audit?kind=cycle_reminder_sent")
        .await;
    assert_eq!(
        trail.1["entries"].as_array().map(Vec::len),
        Some(2),
        "{}",
        trail.1
    );
    assert_eq!(reminders(&acme.mail_dir).len(), 2);
}

#[tokio::test]
async fn the_periodic_task_sends_due_reminders_by_itself() {
    let acme = Acme::start_with(|config| config.reminder_every = Duration::from_millis(100)).await;
    let deadlines = json!({ "self_review": at(-HOUR_MS) });
    acme.create(cycle_body(
        "Periodic",
        &[&acme.employee_id],
        (1, 5),
        deadlines,
    ))
    .await;
    let mails = wait_for_reminders(&acme.mail_dir, 1).await;
    assert_eq!(recipients(&mails), vec![email("employee1", COMPANY)]);
}

#[tokio::test]
async fn the_import_grants_and_the_directory_shows_the_hr_assistant_role() {
    let acme = Acme::start().await;
    let csv = "email,name,department,manager_email,role\r\n\
               employee3@acme.example,Cleo Employee3,,manager@acme.example,hr_assistant\r\n\
               employee4@acme.example,Dev Employee4,,manager@acme.example,hr_helper\r\n";
    let request = acme
        .hr
        .request(Method::POST, "/api/v1/admin/users/import?dry_run=false")
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv);
    let (status, report) = acme.hr.send(request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert!(report.to_string().contains("hr_helper"), "{report}");

    let csv = csv.lines().take(2).collect::<Vec<_>>().join("\r\n");
    let request = acme
        .hr
        .request(Method::POST, "/api/v1/admin/users/import?dry_run=false")
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv);
    expect(StatusCode::OK, acme.hr.send(request).await, "import").await;
    let users = expect(
        StatusCode::OK,
        acme.hr.get("/api/v1/admin/users").await,
        "users",
    )
    .await;
    let roles: Vec<(&str, &str)> = users
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|u| Some((u["email"].as_str()?, u["role"].as_str()?)))
        .filter(|(_, role)| *role == "hr_assistant")
        .collect();
    let mut emails: Vec<&str> = roles.iter().map(|(email, _)| *email).collect();
    emails.sort_unstable();
    assert_eq!(
        emails,
        vec![
            "assistant@acme.example",
            "employee20@acme.example",
            "employee3@acme.example"
        ],
        "the demo's assistant and the two imported ones"
    );
    let assistant = acme
        .server
        .sign_in(COMPANY, &email("employee3", COMPANY))
        .await;
    let body = cycle_body("Imported role", &[&acme.employee_id], (1, 5), json!({}));
    let (status, created) = assistant.post("/api/v1/cycles", body).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the new role runs cycles: {created}"
    );
}
