//! Objectives and comments against the real server: creating, reading, changing and
//! aligning objectives, who sees and changes what, comments that follow the rule of what
//! they comment on, the CSV export, and that no written content reaches the database
//! in clear.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use common::{Client, DB_FILE, TestServer, code};
use kaizen_actors::model::{Answers, ReviewStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

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

/// Creates an objective that must be created; answers it.
async fn create(client: &Client, body: Value) -> Value {
    let (status, created) = client.post("/api/v1/objectives", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn delete(client: &Client, path: &str) -> (StatusCode, Value) {
    client
        .send(client.request(reqwest::Method::DELETE, path))
        .await
}

async fn put(client: &Client, path: &str, body: Value) -> (StatusCode, Value) {
    client
        .send(client.request(reqwest::Method::PUT, path).json(&body))
        .await
}

async fn me(client: &Client) -> String {
    text(&ok(client, "/api/v1/me").await["id"])
}

fn ids(list: &Value) -> Vec<String> {
    items(list).iter().map(|o| text(&o["id"])).collect()
}

#[tokio::test]
async fn an_employee_creates_reads_and_changes_an_objective_with_versions() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let employee_id = me(&employee).await;

    // The body the API promises, nothing more: a personal draft of the caller.
    let created = create(
        &employee,
        json!({ "title": "Learn Rust", "description": "Ownership first",
                "due_at": "2026-12-31T17:00:00Z" }),
    )
    .await;
    assert_eq!(created["level"], "person");
    assert_eq!(created["owner_id"], employee_id.as_str());
    assert_eq!(created["status"], "draft");
    assert_eq!(created["version"], 1);
    assert_eq!(created["due_at"], "2026-12-31T17:00:00Z");
    assert_eq!(created["can_edit"], true);
    let id = text(&created["id"]);
    let path = format!("/api/v1/objectives/{id}");

    let read = ok(&employee, &path).await;
    assert_eq!(read["title"], "Learn Rust");
    assert_eq!(read["description"], "Ownership first");
    assert!(ids(&ok(&employee, "/api/v1/objectives").await).contains(&id));
    let own = ok(
        &employee,
        &format!("/api/v1/objectives?owner_id={employee_id}"),
    )
    .await;
    assert!(
        items(&own)
            .iter()
            .all(|o| o["owner_id"] == employee_id.as_str())
    );
    assert!(ids(&own).contains(&id));

    // A change names its version; the answer carries the next one.
    let (status, changed) = employee
        .patch(
            &path,
            json!({ "version": 1, "status": "on_track", "weight": 40 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["status"], "on_track");
    assert_eq!(changed["weight"], 40);
    assert_eq!(changed["title"], "Learn Rust");
    assert_eq!(changed["version"], 2);

    // A change based on the old version is refused and changes nothing.
    let (status, refused) = employee
        .patch(&path, json!({ "version": 1, "title": "Stale" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(code(&refused), "conflict");
    assert_eq!(ok(&employee, &path).await["title"], "Learn Rust");

    // Key results: a percentage and a measured one; the objective's progress is
    // their mean.
    let (status, with_kr) = employee
        .post(
            &format!("{path}/key-results"),
            json!({ "title": "Finish the book", "progress": 50 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{with_kr}");
    let (status, with_kr) = employee
        .post(
            &format!("{path}/key-results"),
            json!({ "title": "Ship 4 crates", "target": 4, "current": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{with_kr}");
    let krs = items(&with_kr["key_results"]);
    assert_eq!(krs[1]["progress"], 25);
    assert_eq!(with_kr["progress"], 38);
    let measured = text(&krs[1]["id"]);
    let (status, updated) = employee
        .patch(
            &format!("{path}/key-results/{measured}"),
            json!({ "current": 3 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["key_results"][1]["progress"], 75);
    assert_eq!(updated["progress"], 63);
    let (status, refused) = employee
        .patch(
            &format!("{path}/key-results/{measured}"),
            json!({ "progress": 10 }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");

    // Bad input is refused whole.
    for body in [
        json!({ "title": "" }),
        json!({ "title": "x", "weight": 0 }),
        json!({ "title": "x", "due_at": "tomorrow" }),
        json!({ "title": "x", "key_results": [{ "title": "y", "progress": 101 }] }),
        json!({ "title": "x", "colour": "blue" }),
    ] {
        let (status, body) = employee.post("/api/v1/objectives", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }

    // Archived: hidden from the list, still readable, listed on request.
    let (status, _) = delete(&employee, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!ids(&ok(&employee, "/api/v1/objectives").await).contains(&id));
    assert!(ids(&ok(&employee, "/api/v1/objectives?archived=true").await).contains(&id));
    assert_eq!(ok(&employee, &path).await["archived"], true);
    server.stop().await;
}

#[tokio::test]
async fn a_personal_objective_is_seen_and_changed_along_the_reporting_line_only() {
    let server = TestServer::demo().await;
    let owner = server.sign_in("acme", "employee1@acme.example").await;
    let created = create(&owner, json!({ "title": "Present at the all-hands" })).await;
    let id = text(&created["id"]);
    let path = format!("/api/v1/objectives/{id}");

    // (company, email, sees it, may change it)
    let table = [
        ("acme", "employee1@acme.example", true, true),
        ("acme", "manager@acme.example", true, true),
        ("acme", "ceo@acme.example", true, true),
        ("acme", "hr@acme.example", true, true),
        ("acme", "lead@acme.example", false, false),
        ("acme", "employee2@acme.example", false, false),
        ("acme", "report1@acme.example", false, false),
        ("globex", "hr@globex.example", false, false),
        ("globex", "employee1@globex.example", false, false),
    ];
    let mut version = 1;
    for (company, email, sees, changes) in table {
        let client = server.sign_in(company, email).await;
        let (status, body) = client.get(&path).await;
        let expected = if sees {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, expected, "{email} reads: {body}");
        let listed = ids(&ok(&client, "/api/v1/objectives").await).contains(&id);
        assert_eq!(listed, sees, "{email} lists it");
        let (status, body) = client
            .patch(&path, json!({ "version": version, "status": "at_risk" }))
            .await;
        let expected = match (sees, changes) {
            (_, true) => StatusCode::OK,
            (true, false) => StatusCode::FORBIDDEN,
            (false, _) => StatusCode::NOT_FOUND,
        };
        assert_eq!(status, expected, "{email} changes: {body}");
        if changes {
            version += 1;
        }
        let (status, _) = client.get(&format!("{path}/comments")).await;
        assert_eq!(status == StatusCode::OK, sees, "{email} reads its comments");
    }
    server.stop().await;
}

#[tokio::test]
async fn company_and_team_objectives_are_seen_by_all_and_changed_by_their_editors() {
    let server = TestServer::demo().await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let peer = server.sign_in("acme", "report1@acme.example").await;

    let company = create(&hr, json!({ "title": "Win the year", "level": "company" })).await;
    let company_id = text(&company["id"]);
    let team = create(
        &manager,
        json!({ "title": "Faster releases", "level": "team", "parent_id": company_id }),
    )
    .await;
    let team_id = text(&team["id"]);

    // Everyone in the company sees both, so they can align to them.
    for client in [&employee, &peer] {
        for id in [&company_id, &team_id] {
            let seen = ok(client, &format!("/api/v1/objectives/{id}")).await;
            assert_eq!(seen["can_edit"], false);
            let (status, _) = client
                .patch(
                    &format!("/api/v1/objectives/{id}"),
                    json!({ "version": 1, "title": "Mine now" }),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
    }
    let aligned = create(
        &employee,
        json!({ "title": "Automate the release notes", "parent_id": team_id }),
    )
    .await;
    assert_eq!(aligned["parent_id"], team_id.as_str());

    // Who may create what.
    let (status, body) = employee
        .post(
            "/api/v1/objectives",
            json!({ "title": "x", "level": "company" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = employee
        .post(
            "/api/v1/objectives",
            json!({ "title": "x", "level": "team" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let employee_id = me(&employee).await;
    let (status, body) = peer
        .post(
            "/api/v1/objectives",
            json!({ "title": "x", "owner_id": employee_id }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let for_report = create(
        &manager,
        json!({ "title": "Mentor a new joiner", "owner_id": employee_id }),
    )
    .await;
    assert_eq!(for_report["owner_id"], employee_id.as_str());
    let hr_id = me(&hr).await;
    let (status, body) = manager
        .post(
            "/api/v1/objectives",
            json!({ "title": "x", "owner_id": hr_id }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // A person's objective cannot carry a team objective.
    let (status, body) = manager
        .post(
            "/api/v1/objectives",
            json!({ "title": "x", "level": "team", "parent_id": aligned["id"] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn parents_of_another_company_or_out_of_sight_are_refused_and_ids_answer_404() {
    let server = TestServer::demo().await;
    let globex = server.sign_in("globex", "hr@globex.example").await;
    let foreign = create(
        &globex,
        json!({ "title": "Globex plan", "level": "company" }),
    )
    .await;
    let foreign_id = text(&foreign["id"]);
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let hr = server.sign_in("acme", "hr@acme.example").await;

    for client in [&employee, &hr] {
        let (status, body) = client
            .post(
                "/api/v1/objectives",
                json!({ "title": "Aligned abroad", "parent_id": foreign_id }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let path = format!("/api/v1/objectives/{foreign_id}");
        assert_eq!(client.get(&path).await.0, StatusCode::NOT_FOUND);
        let (status, _) = client
            .patch(&path, json!({ "version": 1, "title": "Taken" }))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(delete(client, &path).await.0, StatusCode::NOT_FOUND);
        let (status, _) = client
            .post(&format!("{path}/comments"), json!({ "body": "hello" }))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!ids(&ok(client, "/api/v1/objectives").await).contains(&foreign_id));
    }

    // Someone else's personal objective out of one's sight is no parent either.
    let other = server.sign_in("acme", "employee2@acme.example").await;
    let hidden = create(&other, json!({ "title": "Private plan" })).await;
    let (status, body) = employee
        .post(
            "/api/v1/objectives",
            json!({ "title": "Riding along", "parent_id": hidden["id"] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        ok(&globex, &format!("/api/v1/objectives/{foreign_id}")).await["title"],
        "Globex plan"
    );
    server.stop().await;
}

#[tokio::test]
async fn alignment_loops_and_too_deep_trees_are_refused() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let root = create(&employee, json!({ "title": "Level 1" })).await;
    let mut chain = vec![text(&root["id"])];
    for level in 2..=6 {
        let parent = chain.last().cloned();
        let next = create(
            &employee,
            json!({ "title": format!("Level {level}"), "parent_id": parent }),
        )
        .await;
        chain.push(text(&next["id"]));
    }

    // A seventh level is too deep.
    let (status, body) = employee
        .post(
            "/api/v1/objectives",
            json!({ "title": "Level 7", "parent_id": chain[5] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The root below its own descendant, or below itself, would be a loop.
    let root_path = format!("/api/v1/objectives/{}", chain[0]);
    for parent in [&chain[1], &chain[5], &chain[0]] {
        let (status, body) = employee
            .patch(&root_path, json!({ "version": 1, "parent_id": parent }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    assert!(ok(&employee, &root_path).await["parent_id"].is_null());

    // Moving a subtree under another tree counts its height too.
    let other = create(&employee, json!({ "title": "Other root" })).await;
    let (status, body) = employee
        .patch(
            &root_path,
            json!({ "version": 1, "parent_id": other["id"] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let third = format!("/api/v1/objectives/{}", chain[3]);
    let (status, body) = employee
        .patch(&third, json!({ "version": 1, "parent_id": other["id"] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = employee
        .patch(&third, json!({ "version": 2, "parent_id": null }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["parent_id"].is_null());
    server.stop().await;
}

/// The node titled `title` among `nodes`, searched depth first.
fn node<'a>(nodes: &'a Value, title: &str) -> Option<&'a Value> {
    items(nodes).iter().find_map(|n| {
        if n["title"] == title {
            Some(n)
        } else {
            node(&n["children"], title)
        }
    })
}

fn child_titles(node: &Value) -> Vec<String> {
    items(&node["children"])
        .iter()
        .map(|c| text(&c["title"]))
        .collect()
}

#[tokio::test]
async fn the_demo_tree_nests_company_team_and_personal_objectives_by_sight() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;

    let tree = ok(&employee, "/api/v1/objectives/tree").await;
    let roots: Vec<String> = items(&tree).iter().map(|n| text(&n["title"])).collect();
    assert_eq!(
        roots[..2],
        ["Delight our customers", "Grow a healthy business"]
    );
    let company = node(&tree, "Delight our customers").expect("the company objective");
    assert_eq!(company["level"], "company");
    assert_eq!(child_titles(company), ["Ship the self-service onboarding"]);
    let team = node(&tree, "Ship the self-service onboarding").expect("the team objective");
    assert_eq!(child_titles(team), ["Design the new onboarding checklist"]);
    let own = &team["children"][0];
    assert_eq!(own["key_results"].as_array().map(Vec::len), Some(2));
    assert_eq!(own["key_results"][0]["progress"], 60);

    // The manager sees both reports' objectives below the team's.
    let tree = ok(&manager, "/api/v1/objectives/tree").await;
    let team = node(&tree, "Ship the self-service onboarding").expect("the team objective");
    assert_eq!(
        child_titles(team),
        [
            "Design the new onboarding checklist",
            "Write the onboarding help articles"
        ]
    );
    assert!(node(&tree, "Learn the billing system").is_some());

    // Globex has its own tree, and nothing of acme's.
    let globex = server.sign_in("globex", "employee1@globex.example").await;
    let theirs = ok(&globex, "/api/v1/objectives").await;
    let mine = ok(&employee, "/api/v1/objectives").await;
    for id in ids(&mine) {
        assert!(!ids(&theirs).contains(&id));
    }
    assert!(!ids(&theirs).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn objective_comments_follow_the_objective_and_authors_delete_their_own() {
    let server = TestServer::demo().await;
    let owner = server.sign_in("acme", "employee1@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let peer = server.sign_in("acme", "employee2@acme.example").await;
    let objective = create(&owner, json!({ "title": "Run a workshop" })).await;
    let comments = format!("/api/v1/objectives/{}/comments", text(&objective["id"]));

    let (status, comment) = manager
        .post(&comments, json!({ "body": "Count me in" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    assert_eq!(comment["mine"], true);
    let listed = ok(&owner, &comments).await;
    assert_eq!(listed[0]["body"], "Count me in");
    assert_eq!(listed[0]["author_name"], "Morgan Lee");
    assert_eq!(listed[0]["mine"], false);

    // Out of sight: the comments are not there either.
    assert_eq!(peer.get(&comments).await.0, StatusCode::NOT_FOUND);
    let (status, _) = peer.post(&comments, json!({ "body": "Hi" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = owner.post(&comments, json!({ "body": "  " })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Only the author deletes a comment.
    let one = format!("{comments}/{}", text(&comment["id"]));
    assert_eq!(delete(&owner, &one).await.0, StatusCode::FORBIDDEN);
    assert_eq!(delete(&manager, &one).await.0, StatusCode::NO_CONTENT);
    assert_eq!(delete(&manager, &one).await.0, StatusCode::NOT_FOUND);
    assert!(items(&ok(&owner, &comments).await).is_empty());
    server.stop().await;
}

/// The manager review of employee1 in the demo cycle: written by manager@.
async fn manager_review_of_employee1(manager: &Client, employee_id: &str) -> String {
    let reviews = ok(manager, "/api/v1/reviews").await;
    let review = items(&reviews)
        .iter()
        .find(|r| r["kind"] == "manager" && r["reviewee_id"] == employee_id)
        .unwrap_or_else(|| panic!("a manager review of employee1 in {reviews}"));
    text(&review["id"])
}

#[tokio::test]
async fn review_comments_reach_the_subject_only_once_the_review_is_shared() {
    let server = TestServer::demo().await;
    let subject = server.sign_in("acme", "employee1@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let peer = server.sign_in("acme", "employee2@acme.example").await;
    let other_manager = server.sign_in("acme", "lead@acme.example").await;
    let globex = server.sign_in("globex", "hr@globex.example").await;
    let review_id = manager_review_of_employee1(&manager, &me(&subject).await).await;
    let comments = format!("/api/v1/reviews/{review_id}/comments");

    let (status, comment) = manager
        .post(&comments, json!({ "body": "Strong quarter overall" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    let (status, _) = hr.post(&comments, json!({ "body": "Agreed" })).await;
    assert_eq!(status, StatusCode::CREATED);

    // Before sharing: the writer and HR read them; the subject and others do not.
    assert_eq!(items(&ok(&manager, &comments).await).len(), 2);
    assert_eq!(items(&ok(&hr, &comments).await).len(), 2);
    for client in [&subject, &peer, &other_manager, &globex] {
        assert_eq!(client.get(&comments).await.0, StatusCode::NOT_FOUND);
        let (status, _) = client.post(&comments, json!({ "body": "Me?" })).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // Shared (there is no share route in this slice: the actor puts it there).
    let company = server
        .server()
        .registry()
        .by_slug("acme")
        .await
        .expect("the registry answers")
        .expect("acme exists");
    company
        .seed_review(review_id.clone(), ReviewStatus::Shared, Answers::new())
        .await
        .expect("the review is shared");
    let seen = ok(&subject, &comments).await;
    assert_eq!(seen[0]["body"], "Strong quarter overall");
    let (status, _) = subject
        .post(&comments, json!({ "body": "Thank you" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for client in [&peer, &other_manager, &globex] {
        assert_eq!(client.get(&comments).await.0, StatusCode::NOT_FOUND);
    }
    server.stop().await;
}

#[tokio::test]
async fn linked_objectives_show_to_the_subjects_reviewers_in_that_cycle() {
    let server = TestServer::demo().await;
    let subject = server.sign_in("acme", "employee1@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let peer = server.sign_in("acme", "employee2@acme.example").await;
    let cycles = ok(&subject, "/api/v1/cycles").await;
    let cycle_id = text(&cycles[0]["id"]);
    let review_id = manager_review_of_employee1(&manager, &me(&subject).await).await;
    let linked_path = format!("/api/v1/reviews/{review_id}/objectives");

    let objective = create(&subject, json!({ "title": "Close the year strong" })).await;
    let link = format!(
        "/api/v1/objectives/{}/cycles/{cycle_id}",
        text(&objective["id"])
    );
    let (status, linked) = put(&subject, &link, json!({ "weight": 30 })).await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["cycles"][0]["cycle_id"], cycle_id.as_str());
    assert_eq!(linked["cycles"][0]["weight"], 30);
    let (status, _) = put(&peer, &link, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let shown = ok(&manager, &linked_path).await;
    assert_eq!(ids(&shown), [text(&objective["id"])]);
    assert_eq!(peer.get(&linked_path).await.0, StatusCode::NOT_FOUND);

    let (status, _) = delete(&subject, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(items(&ok(&manager, &linked_path).await).is_empty());
    let (status, _) = put(
        &subject,
        &format!(
            "/api/v1/objectives/{}/cycles/no-such-cycle",
            text(&objective["id"])
        ),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn objectives_csv_is_for_reauthenticated_hr_admins_and_neutralizes_formulas() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let dangerous = [
        "=SUM(A1:A2)",
        "+1 more",
        "-1 less",
        "@mention",
        "\ttabbed",
        "\rreturn",
    ];
    for title in dangerous {
        create(
            &employee,
            json!({ "title": "Safe title", "description": title }),
        )
        .await;
    }
    create(
        &employee,
        json!({ "title": "Quoted, \"really\"", "key_results": [{ "title": "=1+1", "progress": 5 }] }),
    )
    .await;

    let (status, body) = employee.get("/api/v1/objectives.csv").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = hr.get("/api/v1/objectives.csv").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "reauthentication_required");

    let (status, _) = hr
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": server.password }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = hr
        .request(reqwest::Method::GET, "/api/v1/objectives.csv")
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let csv = response.text().await.expect("a body");
    assert!(csv.starts_with(
        "objective_id,level,owner_id,owner_name,owner_email,parent_id,title,description,\
         status,progress,weight,due_at,archived,created_at,updated_at,key_results\r\n"
    ));
    assert!(csv.contains(",'=SUM(A1:A2),"), "{csv}");
    assert!(csv.contains(",'+1 more,"));
    assert!(csv.contains(",'-1 less,"));
    assert!(csv.contains(",'@mention,"));
    assert!(csv.contains(",'\ttabbed,"));
    assert!(csv.contains(",\"'\rreturn\","));
    assert!(csv.contains(",\"Quoted, \"\"really\"\"\","));
    assert!(csv.contains(",'=1+1: 5%\r\n"), "{csv}");
    // The demo's objectives of both levels are in, and nothing of globex.
    assert!(csv.contains("Delight our customers"));
    assert!(csv.contains("employee2@acme.example"));
    assert!(!csv.contains("globex.example"));

    let trail = ok(&hr, "/api/v1/admin/audit?kind=export_objectives_csv").await;
    assert_eq!(items(&trail["entries"]).len(), 1, "{trail}");
    server.stop().await;
}

#[tokio::test]
async fn objective_and_comment_text_never_reaches_the_database_in_clear() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let objective = create(
        &employee,
        json!({ "title": "Narwhal-umbrella objective title",
                "description": "Pelican-lantern description",
                "key_results": [{ "title": "Walrus-teapot key result", "progress": 10 }] }),
    )
    .await;
    let (status, _) = manager
        .post(
            &format!("/api/v1/objectives/{}/comments", text(&objective["id"])),
            json!({ "body": "Otter-kettle objective comment" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let review_id = manager_review_of_employee1(&manager, &me(&employee).await).await;
    let (status, _) = manager
        .post(
            &format!("/api/v1/reviews/{review_id}/comments"),
            json!({ "body": "Heron-mitten review comment" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Move everything into the main file, then read every byte of every file.
    let options =
        sqlx::sqlite::SqliteConnectOptions::new().filename(server.data_dir.path().join(DB_FILE));
    let pool = sqlx::sqlite::SqlitePool::connect_with(options)
        .await
        .expect("the database opens");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .expect("the log checkpoints");
    let (title,): (String,) = sqlx::query_as("SELECT title FROM objectives WHERE id = ?")
        .bind(text(&objective["id"]))
        .fetch_one(&pool)
        .await
        .expect("the row is there");
    pool.close().await;
    assert!(title.starts_with("v1:"), "{title}");
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(server.data_dir.path()).expect("the directory lists") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with(DB_FILE) {
            bytes.extend(std::fs::read(&path).expect("a database file reads"));
        }
    }
    let contains = |needle: &str| {
        bytes
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    };
    // Names stay plain, so the search does find what is stored in clear…
    assert!(contains("employee1@acme.example"));
    // …and none of the written content. (Needles are not hex-like.)
    for needle in [
        "Narwhal-umbrella",
        "Pelican-lantern",
        "Walrus-teapot",
        "Otter-kettle",
        "Heron-mitten",
        "Delight our customers",
    ] {
        assert!(!contains(needle), "{needle:?} is in the database file");
    }
    server.stop().await;
}

/// The next frame of `type` (and, for events, named `name`) on a live socket, skipping
/// presence and other frames; fails after five seconds.
async fn next_frame_of(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    kind: &str,
    name: &str,
) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} {name} within five seconds"))
            .expect("the socket stays open")
            .expect("a readable frame");
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(text.as_str()).expect("a JSON frame");
            if frame["type"] == kind && (kind != "event" || frame["event"] == name) {
                return frame;
            }
        }
    }
}

#[tokio::test]
async fn a_review_comment_reaches_the_reviews_live_followers() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;

    let server = TestServer::demo().await;
    let manager = server.sign_in("acme", "manager@acme.example").await;
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let review_id = manager_review_of_employee1(&manager, &me(&employee).await).await;

    // HR follows the review live.
    let mut request = server
        .live_url()
        .into_client_request()
        .expect("a WebSocket request");
    let cookie = hr.cookie.clone().expect("a session cookie");
    let headers = request.headers_mut();
    headers.insert("cookie", HeaderValue::from_str(&cookie).expect("a header"));
    headers.insert(
        "origin",
        HeaderValue::from_str(&server.base).expect("a header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the live connection opens");
    let subscribe = json!({ "type": "subscribe", "topic": format!("review:{review_id}") });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("the subscription is sent");
    let snapshot = next_frame_of(&mut socket, "snapshot", "").await;
    assert_eq!(snapshot["topic"], format!("review:{review_id}"));

    let comments = format!("/api/v1/reviews/{review_id}/comments");
    let (status, comment) = manager
        .post(&comments, json!({ "body": "Let us talk on Monday" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    let event = next_frame_of(&mut socket, "event", "comment").await;
    assert_eq!(event["topic"], format!("review:{review_id}"));
    assert_eq!(event["data"]["body"], "Let us talk on Monday");
    assert_eq!(event["data"]["id"], comment["id"]);

    let (status, _) = delete(&manager, &format!("{comments}/{}", text(&comment["id"]))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let event = next_frame_of(&mut socket, "event", "comment_deleted").await;
    assert_eq!(event["data"]["id"], comment["id"]);
    server.stop().await;
}

#[tokio::test]
async fn control_and_text_reordering_characters_are_refused_in_titles_and_comments() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let refused = [
        json!({ "title": "a\u{0}b" }),
        json!({ "title": "bell\u{7}" }),
        json!({ "title": "x\u{202E}gpj.exe" }),
        json!({ "title": "two\nlines" }),
        json!({ "title": "Fine", "description": "escape \u{1b}[31m" }),
        json!({ "title": "Fine", "key_results": [{ "title": "k\u{2066}r", "progress": 1 }] }),
    ];
    for body in refused {
        let (status, answer) = employee.post("/api/v1/objectives", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(code(&answer), "validation_failed", "{answer}");
    }

    // Line breaks and tabs stay welcome where text has lines.
    let objective = create(
        &employee,
        json!({ "title": "Fine", "description": "first\r\n\tsecond" }),
    )
    .await;
    let path = format!(
        "/api/v1/objectives/{}/comments",
        objective["id"].as_str().unwrap()
    );
    let (status, answer) = employee
        .post(&path, json!({ "body": "hidden \u{202E}txt.exe" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = employee
        .post(&path, json!({ "body": "line one\nline two" }))
        .await;
    assert!(status.is_success(), "{answer}");
}

#[tokio::test]
async fn key_result_values_beyond_a_trillion_are_refused_with_a_clear_message() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let objective = create(&employee, json!({ "title": "Measured" })).await;
    let path = format!("/api/v1/objectives/{}/key-results", text(&objective["id"]));

    // Raw bodies, because some of these numbers have no JSON value in Rust.
    let refused = [
        r#"{"title":"k","target":1e308}"#,
        r#"{"title":"k","target":10,"current":-1e308}"#,
        r#"{"title":"k","start":1000000000001,"target":1}"#,
        r#"{"title":"k","target":1e309}"#,
        r#"{"title":"k","start":-1e400,"target":1}"#,
        r#"{"title":"k","progress":1e30}"#,
        r#"{"title":"k","progress":99999999999999999999999}"#,
    ];
    for raw in refused {
        let request = employee
            .request(reqwest::Method::POST, &path)
            .header("content-type", "application/json")
            .body(raw);
        let (status, answer) = employee.send(request).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{raw}: {answer}");
        assert_eq!(code(&answer), "validation_failed", "{raw}: {answer}");
    }
    let (_, answer) = employee
        .post(&path, json!({ "title": "k", "target": 1e300 }))
        .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1e12")),
        "{answer}"
    );
    let body = json!({ "title": "x", "key_results": [{ "title": "k", "target": -1e13 }] });
    let (status, answer) = employee.post("/api/v1/objectives", body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    // The bounds themselves are fine, and a change beyond them is refused too.
    let (status, created) = employee
        .post(
            &path,
            json!({ "title": "k", "start": -1e12, "current": 0, "target": 1e12 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["key_results"][0]["progress"], 50);
    let kr = text(&created["key_results"][0]["id"]);
    let (status, answer) = employee
        .patch(&format!("{path}/{kr}"), json!({ "current": 1e308 }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let unchanged = ok(
        &employee,
        &format!("/api/v1/objectives/{}", text(&objective["id"])),
    )
    .await;
    assert_eq!(unchanged["key_results"][0]["current"], 0.0, "{unchanged}");
    server.stop().await;
}

#[tokio::test]
async fn a_malformed_owner_filter_is_refused_and_a_foreign_owner_matches_nothing() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let foreign = server.sign_in("globex", "employee1@globex.example").await;
    create(&employee, json!({ "title": "Mine" })).await;
    create(&foreign, json!({ "title": "Theirs" })).await;
    let own_id = me(&employee).await;
    let foreign_id = me(&foreign).await;

    for owner in ["zzz", "1", "'%20OR%201=1", &own_id[..35]] {
        let (status, answer) = employee
            .get(&format!("/api/v1/objectives?owner_id={owner}"))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{owner}: {answer}"
        );
        assert_eq!(code(&answer), "validation_failed", "{answer}");
        let (status, _) = employee
            .get(&format!("/api/v1/objectives/tree?owner_id={owner}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{owner}");
    }

    // Another company's user looks exactly like a made-up id: nothing.
    let made_up = "0b9d3a8e-5b8f-4c1e-9a63-2f4d5e6a7b8c";
    for owner in [foreign_id.as_str(), made_up] {
        let listed = ok(&employee, &format!("/api/v1/objectives?owner_id={owner}")).await;
        assert_eq!(listed, json!([]), "{owner}");
    }
    let own = ok(&employee, &format!("/api/v1/objectives?owner_id={own_id}")).await;
    assert!(!items(&own).is_empty(), "{own}");
    server.stop().await;
}
