//! 360 feedback in a real headless Chromium: a reviewer finishes and submits a draft,
//! a manager approves a nomination. Skipped (loudly) without Chromium, as in
//! `tests/browser.rs`.

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod webdriver;

use std::time::Duration;

use webdriver::{Driver, Result, Session, wait_until};

fn testid(id: &str) -> String {
    format!(r#"[data-testid="{id}"]"#)
}

async fn sign_in(browser: &Session, base: &str, email: &str, password: &str) -> Result<()> {
    browser.goto(&format!("{base}/#/login")).await?;
    browser.fill(&testid("login-company"), "acme").await?;
    browser.fill(&testid("login-email"), email).await?;
    browser.fill(&testid("login-password"), password).await?;
    browser.click(&testid("login-submit")).await?;
    browser.wait_for(&testid("reviews-mine")).await?;
    browser.click(&testid("nav-feedback")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_submits_feedback_and_a_manager_approves_a_nomination() {
    const TEST: &str = "a_reviewer_submits_feedback_and_a_manager_approves_a_nomination";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    driver
        .run(TEST, |driver| async move {
            // employee4 has a draft about employee1 in the demo.
            let browser = driver.new_session().await?;
            sign_in(
                &browser,
                &server.base,
                "employee4@acme.example",
                &server.password,
            )
            .await?;
            let draft = r#"[data-testid="feedback-request"][data-status="draft"] a"#;
            browser.click(draft).await?;
            browser
                .fill("textarea.input", "Finished in the browser.")
                .await?;
            browser.click(&testid("feedback-submit")).await?;
            browser
                .wait_for(r#"[data-testid="feedback-request"][data-status="submitted"]"#)
                .await?;
            browser.quit().await?;

            // The manager sees the nominations waiting for them and approves one.
            let browser = driver.new_session().await?;
            sign_in(
                &browser,
                &server.base,
                "manager@acme.example",
                &server.password,
            )
            .await?;
            let approve = testid("nomination-approve");
            browser.wait_for(&approve).await?;
            let before = browser.find_all(&approve).await?.len();
            browser.click(&approve).await?;
            // The page reloads after the decision: wait for it to list one fewer.
            wait_until("one approval fewer", Duration::from_secs(10), async || {
                let left = browser.find_all(&approve).await?.len();
                Ok((left + 1 == before).then_some(()))
            })
            .await?;
            browser.quit().await
        })
        .await;
}
