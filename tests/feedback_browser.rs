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

/// HR's feedback page: setup is offered for open cycles only, with nominations not
/// yet open, and each nomination row keeps its text off the card's edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_sets_up_feedback_on_open_cycles_only() {
    const TEST: &str = "hr_sets_up_feedback_on_open_cycles_only";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    let hr_api = server.sign_in("acme", "hr@acme.example").await;
    let (_, cycles) = hr_api.get("/api/v1/cycles").await;
    let closed: Vec<String> = cycles
        .as_array()
        .into_iter()
        .flatten()
        .filter(|cycle| cycle["status"] == "closed" || cycle["phase"] == "closed")
        .map(|cycle| match &cycle["id"] {
            serde_json::Value::String(id) => id.clone(),
            other => other.to_string(),
        })
        .collect();
    assert!(!closed.is_empty(), "the demo has no closed cycle: {cycles}");
    driver
        .run(TEST, |driver| async move {
            let browser = driver.new_session().await?;
            sign_in(&browser, &server.base, "hr@acme.example", &server.password).await?;
            browser.wait_for(&testid("feedback-settings")).await?;
            let page = browser
                .execute(
                    r#"const closed = arguments[0];
                    const forms = [...document.querySelectorAll('[data-testid=feedback-settings]')];
                    return {
                        closedForms: forms.filter((f) => closed.includes(f.dataset.cycleId)).length,
                        setupTicked: [...document.querySelectorAll(
                            '[data-testid=feedback-setup] input[id^=fb-enabled-]')]
                            .filter((box) => box.checked).length,
                        paddings: [...document.querySelectorAll('[data-testid=nomination]')]
                            .map((li) => parseFloat(getComputedStyle(li).paddingLeft)),
                    };"#,
                    vec![serde_json::json!(closed)],
                )
                .await?;
            assert_eq!(page["closedForms"], 0, "setup for a closed cycle: {page}");
            assert_eq!(
                page["setupTicked"], 0,
                "nominations open before setup: {page}"
            );
            let paddings = page["paddings"].as_array().cloned().unwrap_or_default();
            assert!(!paddings.is_empty(), "HR sees no nominations: {page}");
            for padding in paddings {
                assert!(
                    padding.as_f64().unwrap_or(0.0) >= 8.0,
                    "a row without padding: {page}"
                );
            }
            browser.quit().await
        })
        .await;
}
