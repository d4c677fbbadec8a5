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
