//! The demo data's shape against the real server: the fixed points other tests and
//! people trying Kaizen rely on, a cycle in every phase behind the main one, named and
//! anonymous 360 feedback, and the objective tree.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::collections::BTreeSet;

use common::{Client, TestServer};
use kaizen::demo::{CLOSED_CYCLE, DEMO_CYCLE, SELF_REVIEW_CYCLE, SHARING_CYCLE, SIGN_OFF_CYCLE};
use reqwest::StatusCode;
use serde_json::{Value, json};

const COMPANIES: [&str; 2] = ["acme", "globex"];

async fn ok(client: &Client, path: &str) -> Value {
    let (status, body) = client.get(path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

fn items(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list: {value}"))
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a string: {value}"))
        .to_owned()
}

async fn me(client: &Client) -> Value {
    ok(client, "/api/v1/me").await
}

/// The cycle named `name` in a cycle list.
fn named<'a>(cycles: &'a Value, name: &str) -> &'a Value {
    items(cycles)
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {cycles}"))
}

/// The reviews a client writes or receives in `cycle`.
async fn reviews_in(client: &Client, cycle: &str) -> Vec<Value> {
    items(&ok(client, "/api/v1/reviews").await)
        .iter()
        .filter(|r| r["cycle_id"] == cycle)
        .cloned()
        .collect()
}

fn statuses(reviews: &[Value]) -> Vec<String> {
    let mut all: Vec<String> = reviews.iter().map(|r| text(&r["status"])).collect();
    all.sort();
    all
}

#[tokio::test]
async fn each_company_has_a_cycle_in_every_phase_behind_the_main_one() {
    let server = TestServer::demo().await;
    for slug in COMPANIES {
        let hr = server.sign_in(slug, &format!("hr@{slug}.example")).await;
        let cycles = ok(&hr, "/api/v1/cycles").await;
        assert_eq!(cycles[0]["name"], DEMO_CYCLE, "{slug}: {cycles}");
        assert_eq!(cycles[0]["phase"], "manager_review");
        let phases: BTreeSet<String> = items(&cycles).iter().map(|c| text(&c["phase"])).collect();
        let every: BTreeSet<String> = [
            "self_review",
            "manager_review",
            "sharing",
            "sign_off",
            "closed",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(phases, every, "{slug}");
        for (name, phase) in [
            (SELF_REVIEW_CYCLE, "self_review"),
            (SHARING_CYCLE, "sharing"),
            (SIGN_OFF_CYCLE, "sign_off"),
            (CLOSED_CYCLE, "closed"),
        ] {
            let cycle = named(&cycles, name);
            assert_eq!(cycle["phase"], phase, "{slug}: {cycle}");
            assert!(
                text(&cycle["created_at"]) < text(&cycles[0]["created_at"]),
                "{slug}: {name} began before the main cycle"
            );
        }

        // The closed cycle is history: every review signed, some ratings calibrated.
        let closed = text(&named(&cycles, CLOSED_CYCLE)["id"]);
        let progress = ok(&hr, &format!("/api/v1/cycles/{closed}/progress")).await;
        assert_eq!(progress["total"], 8, "{progress}");
        assert_eq!(progress["by_kind"]["manager"]["signed"], 4, "{progress}");
        assert_eq!(progress["by_kind"]["self"]["submitted"], 4, "{progress}");
        let calibration = ok(&hr, &format!("/api/v1/cycles/{closed}/calibration")).await;
        let calibrated = items(&calibration["reviews"])
            .iter()
            .filter(|r| !r["calibrated"].is_null())
            .count();
        assert_eq!(calibrated, 2, "{calibration}");

        // Sharing: some manager reviews shared, others waiting.
        let sharing = text(&named(&cycles, SHARING_CYCLE)["id"]);
        let progress = ok(&hr, &format!("/api/v1/cycles/{sharing}/progress")).await;
        let managers = &progress["by_kind"]["manager"];
        assert_eq!(
            (
                &managers["shared"],
                &managers["submitted"],
                &managers["draft"]
            ),
            (&json!(2), &json!(1), &json!(1)),
            "{progress}"
        );

        // Sign-off: signed by both, by one side only, and not yet.
        let director = server
            .sign_in(slug, &format!("director@{slug}.example"))
            .await;
        let sign_off = text(&named(&cycles, SIGN_OFF_CYCLE)["id"]);
        let written: Vec<Value> = reviews_in(&director, &sign_off)
            .await
            .into_iter()
            .filter(|r| r["kind"] == "manager")
            .collect();
        assert_eq!(statuses(&written), ["shared", "shared", "shared", "signed"]);
        let signed_by = |side: &str| written.iter().filter(|r| !r[side].is_null()).count();
        assert_eq!(
            (
                signed_by("reviewee_signed_at"),
                signed_by("reviewer_signed_at")
            ),
            (2, 2)
        );

        // Self review: the phase has just begun.
        let started = text(&named(&cycles, SELF_REVIEW_CYCLE)["id"]);
        let progress = ok(&hr, &format!("/api/v1/cycles/{started}/progress")).await;
        let own = &progress["by_kind"]["self"];
        assert_eq!(
            (&own["submitted"], &own["draft"], &own["not_started"]),
            (&json!(1), &json!(2), &json!(2)),
            "{progress}"
        );
        assert_eq!(progress["by_department"]["Marketing"]["total"], 10);

        // The HR assistant sees the same list, main cycle first.
        let assistant = server
            .sign_in(slug, &format!("assistant@{slug}.example"))
            .await;
        assert_eq!(ok(&assistant, "/api/v1/cycles").await, cycles);
    }
    server.stop().await;
}

#[tokio::test]
async fn the_main_team_has_only_the_main_cycle_and_unsubmitted_self_reviews() {
    for slug in COMPANIES {
        // A server each: one address signing in this many people is rate-limited.
        let server = TestServer::demo().await;
        let manager = server
            .sign_in(slug, &format!("manager@{slug}.example"))
            .await;
        let manager_id = text(&me(&manager).await["id"]);
        let cycles = ok(&manager, "/api/v1/cycles").await;
        assert_eq!(items(&cycles).len(), 1, "{cycles}");
        assert_eq!(cycles[0]["name"], DEMO_CYCLE);
        let main = text(&cycles[0]["id"]);

        // manager@ writes the manager review of each of the twenty, and their own self
        // review is a draft.
        let reviews = ok(&manager, "/api/v1/reviews").await;
        assert!(
            items(&reviews)
                .iter()
                .all(|r| r["cycle_id"] == main.as_str())
        );
        let written = items(&reviews)
            .iter()
            .filter(|r| r["kind"] == "manager" && r["reviewer_id"] == manager_id.as_str())
            .count();
        assert_eq!(written, 20, "{reviews}");
        let own: Vec<&Value> = items(&reviews)
            .iter()
            .filter(|r| r["kind"] == "self")
            .collect();
        assert_eq!(own.len(), 1);
        assert_eq!(own[0]["status"], "draft");

        for n in 1..=20 {
            let employee = server
                .sign_in(slug, &format!("employee{n}@{slug}.example"))
                .await;
            let profile = me(&employee).await;
            assert_eq!(profile["manager_id"], manager_id.as_str(), "{profile}");
            let cycles = ok(&employee, "/api/v1/cycles").await;
            assert_eq!(items(&cycles).len(), 1, "employee{n}: {cycles}");
            assert_eq!(cycles[0]["id"], main.as_str());
            let reviews = ok(&employee, "/api/v1/reviews").await;
            assert_eq!(items(&reviews).len(), 1, "employee{n}: {reviews}");
            let own = &reviews[0];
            assert_eq!(
                (&own["kind"], &own["status"], &own["reviewee_id"]),
                (&json!("self"), &json!("not_started"), &profile["id"]),
                "employee{n}"
            );
        }

        // The roles the demo announces.
        let roles =
            |profile: Value| -> Vec<String> { items(&profile["roles"]).iter().map(text).collect() };
        assert!(roles(me(&manager).await).contains(&"manager".to_owned()));
        let hr = server.sign_in(slug, &format!("hr@{slug}.example")).await;
        assert!(roles(me(&hr).await).contains(&"hr_admin".to_owned()));
        let assistant = server
            .sign_in(slug, &format!("assistant@{slug}.example"))
            .await;
        assert!(roles(me(&assistant).await).contains(&"hr_assistant".to_owned()));
        server.stop().await;
    }
}

#[tokio::test]
async fn named_feedback_shows_its_authors_and_anonymous_feedback_does_not() {
    let server = TestServer::demo().await;
    for slug in COMPANIES {
        let hr = server.sign_in(slug, &format!("hr@{slug}.example")).await;
        let cycles = ok(&hr, "/api/v1/cycles").await;
        let sign_off = text(&named(&cycles, SIGN_OFF_CYCLE)["id"]);
        let main = text(&cycles[0]["id"]);

        // The named feedback's cycle: closed, so its results are out.
        let settings = ok(&hr, "/api/v1/feedback/cycles").await;
        let of = |cycle: &str| {
            items(&settings)
                .iter()
                .find(|s| s["cycle_id"] == cycle)
                .unwrap_or_else(|| panic!("{cycle} in {settings}"))
                .clone()
        };
        assert_eq!(
            (&of(&sign_off)["anonymous"], &of(&sign_off)["closed"]),
            (&json!(false), &json!(true))
        );
        assert_eq!(
            (&of(&main)["anonymous"], &of(&main)["closed"]),
            (&json!(true), &json!(false))
        );

        // Nominations in every state: approved, declined, still waiting.
        let subject = server
            .sign_in(slug, &format!("marketing1@{slug}.example"))
            .await;
        let subject_id = text(&me(&subject).await["id"]);
        let all = ok(&hr, &format!("/api/v1/cycles/{sign_off}/nominations")).await;
        let decisions: BTreeSet<String> = items(&all).iter().map(|n| text(&n["status"])).collect();
        assert_eq!(
            decisions,
            ["approved", "pending", "rejected"]
                .map(str::to_owned)
                .into()
        );

        // The subject reads who said what.
        let path = format!("/api/v1/feedback/results?cycle_id={sign_off}&subject_id={subject_id}");
        let results = ok(&subject, &path).await;
        assert_eq!(results["released"], true, "{results}");
        assert_eq!(results["anonymous"], false);
        let mut authors: Vec<String> = items(&results["named"])
            .iter()
            .map(|n| text(&n["author_name"]))
            .collect();
        authors.sort();
        assert_eq!(authors, ["Omar Hill", "Pia Stone"], "{results}");

        // The main cycle's anonymous feedback, once HR releases it, names no one.
        let employee = server
            .sign_in(slug, &format!("employee1@{slug}.example"))
            .await;
        let employee_id = text(&me(&employee).await["id"]);
        let (status, body) = hr
            .post(&format!("/api/v1/cycles/{main}/feedback/close"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let path = format!("/api/v1/feedback/results?cycle_id={main}&subject_id={employee_id}");
        let results = ok(&employee, &path).await;
        assert_eq!(results["released"], true, "{results}");
        assert_eq!(results["anonymous"], true);
        assert!(items(&results["named"]).is_empty(), "{results}");
        let shown = results.to_string();
        for n in 2..=4 {
            let reviewer = server
                .sign_in(slug, &format!("employee{n}@{slug}.example"))
                .await;
            let profile = me(&reviewer).await;
            assert!(!shown.contains(&text(&profile["id"])), "{shown}");
            assert!(!shown.contains(&text(&profile["name"])), "{shown}");
        }
    }
    server.stop().await;
}

/// The titles and levels of a tree's nodes, depth first.
fn walk(nodes: &Value, found: &mut Vec<(String, String, usize)>, depth: usize) {
    for node in items(nodes) {
        found.push((text(&node["title"]), text(&node["level"]), depth));
        walk(&node["children"], found, depth + 1);
    }
}

#[tokio::test]
async fn the_objective_tree_has_every_level_key_results_comments_and_cycle_weights() {
    let server = TestServer::demo().await;
    for slug in COMPANIES {
        let director = server
            .sign_in(slug, &format!("director@{slug}.example"))
            .await;
        let tree = ok(&director, "/api/v1/objectives/tree").await;
        let mut nodes = Vec::new();
        walk(&tree, &mut nodes, 0);
        let at = |title: &str| {
            nodes
                .iter()
                .find(|n| n.0 == title)
                .unwrap_or_else(|| panic!("{title} in {nodes:?}"))
                .clone()
        };
        assert_eq!(at("Grow a healthy business").1, "company");
        assert_eq!(
            at("Fill the sales pipeline"),
            ("Fill the sales pipeline".into(), "team".into(), 1)
        );
        let own = at("Run the customer webinar series");
        assert_eq!((own.1.as_str(), own.2), ("person", 2));

        // Key results of both kinds: measured from a start to a target, and percentages.
        let objectives = ok(&director, "/api/v1/objectives").await;
        let by_title = |title: &str| {
            items(&objectives)
                .iter()
                .find(|o| o["title"] == title)
                .unwrap_or_else(|| panic!("{title} in {objectives}"))
                .clone()
        };
        let webinars = by_title("Run the customer webinar series");
        let results = items(&webinars["key_results"]);
        assert!(results.iter().any(|k| !k["target"].is_null()), "{webinars}");
        assert!(results.iter().any(|k| k["target"].is_null()), "{webinars}");

        // Weighted into the team's cycles.
        let hr = server.sign_in(slug, &format!("hr@{slug}.example")).await;
        let cycles = ok(&hr, "/api/v1/cycles").await;
        let sign_off = text(&named(&cycles, SIGN_OFF_CYCLE)["id"]);
        let weights: Vec<(String, Value)> = items(&webinars["cycles"])
            .iter()
            .map(|l| (text(&l["cycle_id"]), l["weight"].clone()))
            .collect();
        assert!(
            weights.contains(&(sign_off.clone(), json!(60))),
            "{webinars}"
        );
        let review = reviews_in(&director, &sign_off)
            .await
            .into_iter()
            .find(|r| r["kind"] == "manager" && r["reviewee_id"] == webinars["owner_id"])
            .expect("the director's review of marketing1");
        let linked = ok(
            &director,
            &format!("/api/v1/reviews/{}/objectives", text(&review["id"])),
        )
        .await;
        assert_eq!(
            linked[0]["title"], "Run the customer webinar series",
            "{linked}"
        );

        // A conversation in comments.
        let comments = ok(
            &director,
            &format!("/api/v1/objectives/{}/comments", text(&webinars["id"])),
        )
        .await;
        assert_eq!(items(&comments).len(), 2, "{comments}");
    }
    server.stop().await;
}
