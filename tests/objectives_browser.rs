//! The objectives screen in a real headless Chromium: the tree, a comment on one's own
//! objective and a new objective through the form. Skipped (loudly) without Chromium,
//! like the other browser tests; failures leave a screenshot in
//! `target/browser-failures/`.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod webdriver;

use webdriver::{Driver, Result};

/// A CSS selector for the element with this `data-testid`.
fn testid(id: &str) -> String {
    format!(r#"[data-testid="{id}"]"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_comments_on_an_objective_and_creates_one_in_the_tree() {
    const TEST: &str = "an_employee_comments_on_an_objective_and_creates_one_in_the_tree";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    driver
        .run(TEST, |driver| walk_objectives(driver, &server))
        .await;
}

async fn walk_objectives(driver: Driver, server: &common::TestServer) -> Result<()> {
    let browser = driver.new_session().await?;
    browser.goto(&format!("{}/#/login", server.base)).await?;
    browser.fill(&testid("login-company"), "acme").await?;
    browser
        .fill(&testid("login-email"), "employee1@acme.example")
        .await?;
    browser
        .fill(&testid("login-password"), &server.password)
        .await?;
    browser.click(&testid("login-submit")).await?;
    browser.wait_for(&testid("reviews-mine")).await?;

    // The tree starts with the company's objectives.
    browser.click(&testid("nav-objectives")).await?;
    browser
        .wait_for_text(
            &testid("objective-title"),
            "the first company objective",
            |t| t == "Delight our customers",
        )
        .await?;

    // One's own objective opens with its key results and comments; a comment added
    // shows up under the manager's.
    let own = format!(
        r#"{}[data-level="person"] {}"#,
        testid("objective-node"),
        testid("objective-toggle")
    );
    browser.click(&own).await?;
    browser
        .wait_for_text(
            &testid("objective-comments"),
            "the manager's comment",
            |t| t.contains("interview notes"),
        )
        .await?;
    browser
        .fill(&testid("comment-body"), "Six interviews done")
        .await?;
    browser.click(&testid("comment-submit")).await?;
    browser
        .wait_for_text(&testid("objective-comments"), "both comments", |t| {
            t.contains("interview notes") && t.contains("Six interviews done")
        })
        .await?;

    // A new objective through the form lands in the tree.
    browser.click(&testid("objective-new")).await?;
    browser
        .fill(&testid("objective-form-title"), "Speak at a meetup")
        .await?;
    browser.click(&testid("objective-form-submit")).await?;
    browser
        .wait_for_text(&testid("objectives-tree"), "the new objective", |t| {
            t.contains("Speak at a meetup")
        })
        .await?;
    browser.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_shows_its_linked_objectives_and_takes_comments() {
    const TEST: &str = "a_review_shows_its_linked_objectives_and_takes_comments";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    // Through the API: an objective of employee1 linked into the open cycle.
    let api = server.sign_in("acme", "employee1@acme.example").await;
    let (_, cycles) = api.get("/api/v1/cycles").await;
    let cycle_id = cycles[0]["id"].as_str().expect("a cycle").to_owned();
    let (_, created) = api
        .post(
            "/api/v1/objectives",
            serde_json::json!({ "title": "Linked for the review" }),
        )
        .await;
    let objective_id = created["id"].as_str().expect("an objective").to_owned();
    let link = format!("/api/v1/objectives/{objective_id}/cycles/{cycle_id}");
    let (status, _) = api
        .send(
            api.request(reqwest::Method::PUT, &link)
                .json(&serde_json::json!({ "weight": 50 })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);

    driver
        .run(TEST, |driver| comment_on_review(driver, &server))
        .await;
}

async fn comment_on_review(driver: Driver, server: &common::TestServer) -> Result<()> {
    let browser = driver.new_session().await?;
    browser.goto(&format!("{}/#/login", server.base)).await?;
    browser.fill(&testid("login-company"), "acme").await?;
    browser
        .fill(&testid("login-email"), "employee1@acme.example")
        .await?;
    browser
        .fill(&testid("login-password"), &server.password)
        .await?;
    browser.click(&testid("login-submit")).await?;
    browser
        .click(&format!("{} a", testid("review-item")))
        .await?;
    browser
        .wait_for_text(&testid("review-objectives"), "the linked objective", |t| {
            t.contains("Linked for the review (weight 50)")
        })
        .await?;
    browser
        .fill(&testid("review-comment-body"), "Notes for our talk")
        .await?;
    browser.click(&testid("review-comment-submit")).await?;
    browser
        .wait_for_text(&testid("review-comments"), "the comment", |t| {
            t.contains("Notes for our talk")
        })
        .await?;
    browser.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_editor_rates_each_linked_objective_and_shows_the_weighted_score() {
    const TEST: &str = "the_review_editor_rates_each_linked_objective_and_shows_the_weighted_score";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    // Through the API: a cycle for employee1 with an objectives question, and two of
    // employee1's objectives linked into it with weights 3 and 1.
    let hr = server.sign_in("acme", "hr@acme.example").await;
    let api = server.sign_in("acme", "employee1@acme.example").await;
    let (_, me) = api.get("/api/v1/me").await;
    let (status, cycle) = hr
        .post(
            "/api/v1/cycles",
            serde_json::json!({ "name": "Objectives in the browser",
                "participants": [me["id"]],
                "questions": [{ "kind": "objectives", "prompt": "Rate your objectives" }] }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{cycle}");
    let cycle_id = cycle["id"].as_str().expect("a cycle").to_owned();
    let question = cycle["questions"][0]["id"]
        .as_str()
        .expect("a question")
        .to_owned();
    let mut objectives = Vec::new();
    for (title, weight) in [("Ship the rewrite", 3), ("Mentor someone", 1)] {
        let (_, created) = api
            .post("/api/v1/objectives", serde_json::json!({ "title": title }))
            .await;
        let id = created["id"].as_str().expect("an objective").to_owned();
        let link = format!("/api/v1/objectives/{id}/cycles/{cycle_id}");
        let request = api
            .request(reqwest::Method::PUT, &link)
            .json(&serde_json::json!({ "weight": weight }));
        assert_eq!(api.send(request).await.0, reqwest::StatusCode::OK);
        objectives.push(id);
    }
    let (_, reviews) = api.get("/api/v1/reviews").await;
    let review = reviews
        .as_array()
        .and_then(|l| l.iter().find(|r| r["cycle_id"] == cycle_id.as_str()))
        .and_then(|r| r["id"].as_str())
        .expect("the new self review")
        .to_owned();

    driver
        .run(TEST, |driver| {
            rate_objectives(driver, &server, &review, &question, &objectives)
        })
        .await;

    // What the browser saved is what the server scores: (3·4 + 1·2) / 4 = 3.5.
    let (_, read) = api.get(&format!("/api/v1/reviews/{review}")).await;
    assert_eq!(read["status"], "submitted", "{read}");
    assert_eq!(read["objectives_score"], 3.5, "{read}");
    assert_eq!(
        read["answers"][&question][&objectives[0]]["comment"],
        "On time"
    );
}

async fn rate_objectives(
    driver: Driver,
    server: &common::TestServer,
    review: &str,
    question: &str,
    objectives: &[String],
) -> Result<()> {
    let browser = driver.new_session().await?;
    browser.goto(&format!("{}/#/login", server.base)).await?;
    browser.fill(&testid("login-company"), "acme").await?;
    browser
        .fill(&testid("login-email"), "employee1@acme.example")
        .await?;
    browser
        .fill(&testid("login-password"), &server.password)
        .await?;
    browser.click(&testid("login-submit")).await?;
    browser.wait_for(&testid("reviews-mine")).await?;
    browser
        .goto(&format!("{}/#/reviews/{review}", server.base))
        .await?;

    // Each objective is listed with its title, weight and progress.
    browser
        .wait_for_text(
            &testid(&format!("answer-{question}")),
            "the objectives",
            |t| {
                t.contains("Ship the rewrite")
                    && t.contains("weight 3")
                    && t.contains("Mentor someone")
                    && t.contains("progress 0%")
            },
        )
        .await?;
    let score = testid(&format!("answer-{question}-score"));
    browser
        .wait_for_text(&score, "no score yet", |t| t.contains("not rated yet"))
        .await?;

    // The first objective by click, the second by keyboard: focus its rating 1 and
    // move to 2 with the arrow key, as a radio group does.
    let (first, second) = (&objectives[0], &objectives[1]);
    browser
        .click(&testid(&format!("answer-{question}-{first}-4")))
        .await?;
    browser
        .fill(
            &testid(&format!("answer-{question}-{first}-comment")),
            "On time",
        )
        .await?;
    browser
        .click(&testid(&format!("answer-{question}-{second}-1")))
        .await?;
    browser
        .find(&testid(&format!("answer-{question}-{second}-1")))
        .await?
        .send_keys("\u{E014}")
        .await?;
    browser
        .wait_for_text(&score, "the weighted score", |t| t.contains("3.50 / 5"))
        .await?;
    browser
        .wait_for_text(&testid("save-status"), "the save", |t| {
            t.starts_with("Saved")
        })
        .await?;
    browser.click(&testid("review-submit")).await?;
    browser
        .wait_for_text(&testid("review-status"), "the submitted review", |t| {
            t.contains("Submitted")
        })
        .await?;

    // Read-only now: the score stays in view.
    browser
        .wait_for_text(&score, "the score after submitting", |t| {
            t.contains("3.50 / 5")
        })
        .await?;
    browser.quit().await
}
