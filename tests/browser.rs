//! End-to-end tests in a real headless Chromium, driven over WebDriver.
//!
//! Each test starts the real server with the demo data and its own
//! ChromeDriver, then clicks through the web app as people would. They need
//! Debian's `chromium` and `chromium-driver`, which `scripts/test` installs;
//! without them a test prints `SKIPPED` and passes, except in CI (the `CI`
//! environment variable is set), where it fails.
//!
//! On failure, a screenshot and the HTML of every open browser window are
//! saved to `target/browser-failures/`.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod webdriver;

use std::time::Duration;

use kaizen_actors::db::now_ms;
use kaizen_actors::totp::{code_at, from_base32, step_of};
use serde_json::Value;
use webdriver::{Driver, Result, Session, wait_until};

/// The demo company everybody below signs in to.
const COMPANY: &str = "acme";

/// The demo HR admin, who watches the cycle dashboard.
const HR: &str = "hr@acme.example";

/// A demo employee whose self review in the open cycle is not submitted yet.
const EMPLOYEE: &str = "employee1@acme.example";

/// How long the dashboard may take to show a submission pushed to it.
const LIVE_UPDATE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many recovery codes turning on 2-step verification hands out.
const RECOVERY_CODES: usize = 10;

/// A CSS selector for the element with this `data-testid`.
fn testid(id: &str) -> String {
    format!(r#"[data-testid="{id}"]"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_self_review_updates_the_open_hr_dashboard_live() {
    const TEST: &str = "submitted_self_review_updates_the_open_hr_dashboard_live";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| submit_while_hr_watches(driver, &server))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_in_one_review_see_each_other_and_the_answer_each_is_in() {
    const TEST: &str = "two_people_in_one_review_see_each_other_and_the_answer_each_is_in";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| two_in_one_review(driver, &server))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_typed_while_the_server_is_away_are_saved_when_it_is_back() {
    const TEST: &str = "edits_typed_while_the_server_is_away_are_saved_when_it_is_back";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let mut server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| edit_through_a_restart(driver, &mut server))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_changing_one_answer_get_the_conflict_screen_and_keep_both() {
    const TEST: &str = "two_browsers_changing_one_answer_get_the_conflict_screen_and_keep_both";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| one_answer_from_two_browsers(driver, &server))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_shows_a_login_error() {
    const TEST: &str = "wrong_password_shows_a_login_error";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| async move {
            let browser = driver.new_session().await?;
            sign_in(&browser, &server.base, EMPLOYEE, "not-the-demo-password").await?;

            // The error appears and the browser stays on the sign-in page.
            let error = browser.wait_for(&testid("login-error")).await?;
            let message = error.text().await?;
            assert!(!message.trim().is_empty(), "login-error is shown but empty");
            let url = browser.current_url().await?;
            assert!(url.ends_with("#/login"), "left the sign-in page for {url}");

            browser.quit().await
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_enrolls_an_authenticator_and_signs_in_with_it() {
    const TEST: &str = "an_employee_enrolls_an_authenticator_and_signs_in_with_it";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| {
            enroll_then_sign_in_with_the_app(driver, &server)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_filters_the_audit_log_and_downloads_it_after_the_password() {
    const TEST: &str = "hr_filters_the_audit_log_and_downloads_it_after_the_password";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| walk_the_audit_log(driver, &server))
        .await;
}

/// HR opens the audit log from the top bar, narrows it to sign-ins, and
/// downloads it as CSV: the password is asked first, and the download is
/// then in the trail itself.
async fn walk_the_audit_log(driver: Driver, server: &common::TestServer) -> Result<()> {
    let browser = driver.new_session().await?;
    sign_in(&browser, &server.base, HR, &server.password).await?;
    browser.wait_for(&testid("reviews-mine")).await?;
    browser.click(&testid("nav-audit")).await?;
    browser.wait_for(&testid("audit-table")).await?;

    // Only sign-ins once the kind is applied.
    browser.fill(&testid("audit-kind"), "signed_in").await?;
    browser.click(&testid("audit-apply")).await?;
    wait_until("only sign-ins listed", webdriver::TIMEOUT, async || {
        let rows = browser.find_all(&testid("audit-row")).await?;
        let mut actions = Vec::new();
        for row in &rows {
            actions.push(row.attribute("data-action").await?.unwrap_or_default());
        }
        let only = !actions.is_empty() && actions.iter().all(|a| a == "signed_in");
        Ok(only.then_some(()))
    })
    .await?;

    // The download asks for the password, then succeeds.
    browser.click(&testid("audit-download-csv")).await?;
    browser.wait_for(&testid("reauth-dialog")).await?;
    browser
        .fill(&testid("reauth-password"), &server.password)
        .await?;
    browser.click(&testid("reauth-submit")).await?;
    let message = browser
        .wait_for_text(&testid("audit-message"), "a download message", |text| {
            !text.trim().is_empty()
        })
        .await?;
    assert!(message.contains("kaizen-audit.csv"), "{message}");

    // The export is in the trail, under the HR admin's name.
    let hr_api = server.sign_in(COMPANY, HR).await;
    let (_, page) = hr_api.get("/api/v1/admin/audit?kind=export").await;
    assert_eq!(page["entries"][0]["action"], "export_audit_csv", "{page}");
    assert_eq!(page["entries"][0]["actor"]["email"], HR);

    browser.quit().await
}

/// An employee turns on an authenticator app from the account page, as an
/// app would: the key shown on the page gives the codes. Signing in again
/// then asks for a code, and the app's next one lets them in.
async fn enroll_then_sign_in_with_the_app(
    driver: Driver,
    server: &common::TestServer,
) -> Result<()> {
    let (base, password) = (&server.base, &server.password);
    let browser = driver.new_session().await?;

    // The employee signs in with the password alone and opens the account page.
    sign_in(&browser, base, EMPLOYEE, password).await?;
    browser.wait_for(&testid("reviews-mine")).await?;
    browser.click(&testid("nav-account")).await?;

    // Setting up the app is a sensitive change: the password is asked again.
    browser.click(&testid("totp-setup")).await?;
    browser.wait_for(&testid("reauth-dialog")).await?;
    browser.fill(&testid("reauth-password"), password).await?;
    browser.click(&testid("reauth-submit")).await?;

    // The key is shown in groups of four; the app's current code turns it on.
    let shown = browser
        .wait_for(&testid("totp-secret"))
        .await?
        .text()
        .await?;
    let base32: String = shown.split_whitespace().collect();
    let secret = from_base32(&base32)
        .unwrap_or_else(|| panic!("totp-secret is not a base32 key: {shown:?}"));
    let code = code_at(&secret, step_of(now_ms()));
    browser.fill(&testid("totp-code"), &code).await?;
    browser.click(&testid("totp-confirm")).await?;

    // The recovery codes are shown once, all of them at the same time.
    browser.wait_for(&testid("recovery-codes")).await?;
    let codes = browser.find_all(&testid("recovery-code")).await?;
    assert_eq!(codes.len(), RECOVERY_CODES, "recovery codes shown");
    for code in &codes {
        let text = code.text().await?;
        assert!(!text.trim().is_empty(), "an empty recovery code is shown");
    }

    // Signing out and in again now stops at the code step.
    browser.click(&testid("sign-out")).await?;
    browser.wait_for(&testid("login-company")).await?;
    sign_in(&browser, base, EMPLOYEE, password).await?;
    browser.wait_for(&testid("second-factor-code")).await?;

    // The current step's code was spent turning the app on; the server
    // accepts one step of clock skew, so the next step's code works now.
    let code = code_at(&secret, step_of(now_ms()) + 1);
    browser.fill(&testid("second-factor-code"), &code).await?;
    browser.click(&testid("second-factor-submit")).await?;

    // The employee is in: their reviews, and the app shown as on.
    browser.wait_for(&testid("reviews-mine")).await?;
    let url = browser.current_url().await?;
    assert!(
        url.ends_with("#/reviews"),
        "signed in to {url}, not the reviews"
    );
    browser.click(&testid("nav-account")).await?;
    let status = browser.wait_for(&testid("factor-status")).await?;
    let totp = status.attribute("data-totp").await?;
    assert_eq!(
        totp.as_deref(),
        Some("true"),
        "the account page's 2-step status"
    );

    browser.quit().await
}

/// HR opens the live dashboard of the open cycle; an employee fills in and
/// submits their self review in a second browser; the dashboard's
/// submitted count goes up by one without the page being reloaded.
async fn submit_while_hr_watches(driver: Driver, server: &common::TestServer) -> Result<()> {
    let (base, password) = (&server.base, &server.password);
    let cycle_id = open_cycle_id(server).await;

    // HR signs in and follows the link to the open cycle's dashboard.
    let hr = driver.new_session().await?;
    sign_in(&hr, base, HR, password).await?;
    let cycle_link = format!(r#"{}[data-cycle-id="{cycle_id}"] a"#, testid("cycle-link"));
    hr.click(&cycle_link).await?;
    hr.wait_for_text(&testid("live-status"), "\"Live\"", |text| {
        text.trim() == "Live"
    })
    .await?;
    let submitted_before = read_count(&hr, "progress-submitted").await?;

    // A marker on the page's window survives anything but a reload.
    hr.execute("window.kaizenNotReloaded = true;", vec![])
        .await?;

    // The employee signs in and opens their self review from the list.
    let employee = driver.new_session().await?;
    sign_in(&employee, base, EMPLOYEE, password).await?;
    let item_css = format!("{} {}", testid("reviews-mine"), testid("review-item"));
    let item = employee.wait_for(&item_css).await?;
    let review_id = item
        .attribute("data-review-id")
        .await?
        .expect("a review item carries data-review-id");
    let status = item.attribute("data-status").await?;
    assert!(
        matches!(status.as_deref(), Some("not_started" | "draft")),
        "the self review is not editable: {status:?}"
    );
    employee.click(&format!("{item_css} a")).await?;
    employee.wait_for(&testid("review-submit")).await?;

    // Every question gets an answer: words for text, a click for a rating.
    let employee_api = server.sign_in(COMPANY, EMPLOYEE).await;
    let review_path = format!("/api/v1/reviews/{review_id}");
    let (_, review) = employee_api.get(&review_path).await;
    let questions = review["questions"].as_array().cloned().unwrap_or_default();
    assert!(
        !questions.is_empty(),
        "the self review has no questions: {review}"
    );
    let mut typed = Vec::new();
    for (index, question) in questions.iter().enumerate() {
        let qid = json_id(&question["id"]);
        let answer = match question["kind"].as_str() {
            Some("rating") => {
                let radio = testid(&format!("answer-{qid}-4"));
                employee.click(&format!("label:has(> {radio})")).await?;
                Value::from(4)
            }
            _ => {
                let words = format!("Answer {}: shipped the billing migration.", index + 1);
                employee
                    .fill(&testid(&format!("answer-{qid}")), &words)
                    .await?;
                Value::from(words)
            }
        };
        typed.push((qid, answer));
    }

    // Autosave confirms, then the review is submitted.
    wait_until(
        "save-status to report saved",
        webdriver::TIMEOUT,
        async || {
            let status = employee.find(&testid("save-status")).await?;
            let saved = status.attribute("data-state").await?.as_deref() == Some("saved");
            let text = status.text().await?;
            Ok((saved && text.starts_with("Saved")).then_some(()))
        },
    )
    .await?;
    employee.click(&testid("review-submit")).await?;
    employee
        .wait_for_text(&testid("review-status"), "\"Submitted\"", |text| {
            text.trim().eq_ignore_ascii_case("submitted")
        })
        .await?;

    // The server holds what was typed.
    let (_, stored) = employee_api.get(&review_path).await;
    assert_eq!(stored["status"], "submitted", "server state: {stored}");
    for (qid, answer) in &typed {
        assert_eq!(&stored["answers"][qid], answer, "answer to {qid}: {stored}");
    }

    // HR's open dashboard counts the submission, pushed over the live socket.
    let expected = submitted_before + 1;
    hr.wait_for_text_within(
        &testid("progress-submitted"),
        &format!("{expected}"),
        LIVE_UPDATE_TIMEOUT,
        |text| first_number(text) == Some(expected),
    )
    .await?;
    let kept = hr
        .execute("return window.kaizenNotReloaded === true;", vec![])
        .await?;
    assert_eq!(kept, Value::Bool(true), "the HR dashboard was reloaded");

    employee.quit().await?;
    hr.quit().await
}

/// The writer of a self review and their manager open it in two browsers: each sees
/// the other, the manager sees which answer the writer is in and what they wrote.
async fn two_in_one_review(driver: Driver, server: &common::TestServer) -> Result<()> {
    let (base, password) = (&server.base, &server.password);
    let writer_api = server.sign_in(COMPANY, "employee2@acme.example").await;
    let (_, me) = writer_api.get("/api/v1/me").await;
    let writer_name = me["name"].as_str().expect("a name").to_owned();
    let manager_api = server.sign_in(COMPANY, "manager@acme.example").await;
    let (_, boss) = manager_api.get("/api/v1/me").await;
    let manager_name = boss["name"].as_str().expect("a name").to_owned();
    let (_, reviews) = writer_api.get("/api/v1/reviews").await;
    let review = reviews
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["kind"] == "self" && r["reviewer_id"] == me["id"])
        .expect("the writer's self review")
        .clone();
    let review_id = json_id(&review["id"]);
    let (_, full) = writer_api
        .get(&format!("/api/v1/reviews/{review_id}"))
        .await;
    let text_q = full["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .find(|q| q["kind"] == "text")
        .map(|q| json_id(&q["id"]))
        .expect("a text question");

    // Both open the review.
    let writer = driver.new_session().await?;
    sign_in(&writer, base, "employee2@acme.example", password).await?;
    writer.wait_for(&testid("reviews-mine")).await?;
    writer
        .goto(&format!("{base}/#/reviews/{review_id}"))
        .await?;
    writer.wait_for(&testid("review-submit")).await?;
    let manager = driver.new_session().await?;
    sign_in(&manager, base, "manager@acme.example", password).await?;
    manager.wait_for(&testid("reviews-mine")).await?;
    manager
        .goto(&format!("{base}/#/reviews/{review_id}"))
        .await?;

    // Each sees the other.
    manager
        .wait_for_text_within(
            &testid("presence"),
            "the writer's name",
            LIVE_UPDATE_TIMEOUT,
            |t| t.contains(&writer_name),
        )
        .await?;
    writer
        .wait_for_text_within(
            &testid("presence"),
            "the manager's name",
            LIVE_UPDATE_TIMEOUT,
            |t| t.contains(&manager_name),
        )
        .await?;

    // The writer goes into a text answer: the manager sees them there.
    writer.click(&testid(&format!("answer-{text_q}"))).await?;
    manager
        .wait_for_text_within(
            &testid(&format!("presence-{text_q}")),
            "the writer in that answer",
            LIVE_UPDATE_TIMEOUT,
            |t| t.contains(&writer_name),
        )
        .await?;

    // What the writer types reaches the manager's page once it is saved.
    writer
        .fill(
            &testid(&format!("answer-{text_q}")),
            "Typed while the manager watched",
        )
        .await?;
    manager
        .wait_for_text_within(
            &testid(&format!("answer-{text_q}")),
            "the writer's words",
            LIVE_UPDATE_TIMEOUT,
            |t| t.contains("Typed while the manager watched"),
        )
        .await?;

    writer.quit().await?;
    manager.quit().await
}

/// A demo employee's self review: its id and its first text question.
struct SelfReview {
    id: String,
    text_q: String,
}

/// Finds `email`'s self review in the open cycle through the API.
async fn self_review(server: &common::TestServer, email: &str) -> SelfReview {
    let api = server.sign_in(COMPANY, email).await;
    let (_, me) = api.get("/api/v1/me").await;
    let (_, reviews) = api.get("/api/v1/reviews").await;
    let id = reviews
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["kind"] == "self" && r["reviewer_id"] == me["id"])
        .map(|r| json_id(&r["id"]))
        .expect("the employee's self review");
    let (_, full) = api.get(&format!("/api/v1/reviews/{id}")).await;
    let text_q = full["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .find(|q| q["kind"] == "text")
        .map(|q| json_id(&q["id"]))
        .expect("a text question");
    SelfReview { id, text_q }
}

/// Signs `email` in in a new browser and opens the review's editor.
async fn open_editor(
    driver: &Driver,
    server: &common::TestServer,
    email: &str,
    review_id: &str,
) -> Result<Session> {
    let browser = driver.new_session().await?;
    sign_in(&browser, &server.base, email, &server.password).await?;
    browser.wait_for(&testid("reviews-mine")).await?;
    browser
        .goto(&format!("{}/#/reviews/{review_id}", server.base))
        .await?;
    browser.wait_for(&testid("review-submit")).await?;
    Ok(browser)
}

/// Waits until the save status reports `state` (its `data-state`).
async fn wait_for_save_state(browser: &Session, state: &str) -> Result<()> {
    wait_until(
        &format!("save-status to be {state}"),
        webdriver::TIMEOUT,
        async || {
            let status = browser.find(&testid("save-status")).await?;
            let now = status.attribute("data-state").await?;
            Ok((now.as_deref() == Some(state)).then_some(()))
        },
    )
    .await
}

/// Waits until the editor's live connection is in `state` (`data-state` of its note).
async fn wait_for_live_state(browser: &Session, state: &str) -> Result<()> {
    wait_until(
        &format!("the editor's connection to be {state}"),
        webdriver::TIMEOUT,
        async || {
            let note = browser.find(&testid("review-live-status")).await?;
            let now = note.attribute("data-state").await?;
            Ok((now.as_deref() == Some(state)).then_some(()))
        },
    )
    .await
}

/// The writer has a review open when the server goes away (a restart): the editor says
/// it is reconnecting, keeps what is typed meanwhile, and saves it once the server is
/// back on the same address, without a reload.
async fn edit_through_a_restart(driver: Driver, server: &mut common::TestServer) -> Result<()> {
    let review = self_review(server, EMPLOYEE).await;
    let browser = open_editor(&driver, server, EMPLOYEE, &review.id).await?;
    let live_status = testid("review-live-status");
    wait_for_live_state(&browser, "live").await?;
    browser
        .execute("window.kaizenNotReloaded = true;", vec![])
        .await?;

    // The server goes away: the page says so.
    server.shut_down_for_now().await;
    browser
        .wait_for_text(&live_status, "\"Reconnecting…\"", |text| {
            text.starts_with("Reconnecting…")
        })
        .await?;

    // What is typed now cannot be saved, and is kept.
    let answer = testid(&format!("answer-{}", review.text_q));
    let words = "Typed while the server was away";
    browser.fill(&answer, words).await?;
    wait_for_save_state(&browser, "error").await?;

    // The server is back: the page reconnects and saves what was typed.
    server.start_again().await;
    wait_for_save_state(&browser, "saved").await?;
    wait_for_live_state(&browser, "live").await?;
    let api = server.sign_in(COMPANY, EMPLOYEE).await;
    let (_, stored) = api.get(&format!("/api/v1/reviews/{}", review.id)).await;
    assert_eq!(stored["answers"][&review.text_q], words, "{stored}");
    let kept = browser
        .execute("return window.kaizenNotReloaded === true;", vec![])
        .await?;
    assert_eq!(kept, Value::Bool(true), "the editor was reloaded");

    browser.quit().await
}

/// The writer has their review open in two browsers. One loses the network and changes
/// an answer; the other changes the same answer and saves it. When the first is back
/// online, its save is refused as a conflict: the page shows the other version in the
/// field and its own under it, and "Use my version" saves its own, which the other
/// browser then shows.
async fn one_answer_from_two_browsers(driver: Driver, server: &common::TestServer) -> Result<()> {
    let review = self_review(server, EMPLOYEE).await;
    let away = open_editor(&driver, server, EMPLOYEE, &review.id).await?;
    let here = open_editor(&driver, server, EMPLOYEE, &review.id).await?;
    let answer = testid(&format!("answer-{}", review.text_q));
    let recovered = testid(&format!("recovered-{}", review.text_q));

    away.set_network_offline(true).await?;
    let mine = "My words, typed offline";
    away.fill(&answer, mine).await?;
    wait_for_save_state(&away, "error").await?;

    let theirs = "Their words, saved first";
    here.fill(&answer, theirs).await?;
    wait_for_save_state(&here, "saved").await?;

    // Back online: the conflict screen, with both versions.
    away.set_network_offline(false).await?;
    away.wait_for(&testid("review-conflict")).await?;
    away.wait_for_text(&recovered, "my version", |text| text.contains(mine))
        .await?;
    let field = away.find(&answer).await?.property("value").await?;
    assert_eq!(field, Value::from(theirs), "their version is in the field");

    // Keeping mine saves it, and the other browser shows it.
    away.click(&format!("{recovered} button")).await?;
    wait_for_save_state(&away, "saved").await?;
    let api = server.sign_in(COMPANY, EMPLOYEE).await;
    let (_, stored) = api.get(&format!("/api/v1/reviews/{}", review.id)).await;
    assert_eq!(stored["answers"][&review.text_q], mine, "{stored}");
    wait_until(
        "the other browser to show my version",
        webdriver::TIMEOUT,
        async || {
            let value = here.find(&answer).await?.property("value").await?;
            Ok((value == mine).then_some(()))
        },
    )
    .await?;

    away.quit().await?;
    here.quit().await
}

/// Signs in through the login form. Waiting for what comes next is left to
/// the caller, since a wrong password stays on the form.
async fn sign_in(browser: &Session, base: &str, email: &str, password: &str) -> Result<()> {
    browser.goto(&format!("{base}/#/login")).await?;
    browser.fill(&testid("login-company"), COMPANY).await?;
    browser.fill(&testid("login-email"), email).await?;
    browser.fill(&testid("login-password"), password).await?;
    browser.click(&testid("login-submit")).await
}

/// Reads a dashboard number once it shows one.
async fn read_count(browser: &Session, id: &str) -> Result<u64> {
    let text = browser
        .wait_for_text(&testid(id), "a number", |text| first_number(text).is_some())
        .await?;
    Ok(first_number(&text).expect("accepted only with a number"))
}

/// The first run of digits in `text`, e.g. 3 in "3 of 42".
fn first_number(text: &str) -> Option<u64> {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// An id from the API as text, whether the server sends it as a string or
/// as a number.
fn json_id(id: &Value) -> String {
    match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The id of the demo's open cycle, asked of the API as the HR admin.
async fn open_cycle_id(server: &common::TestServer) -> String {
    let hr_api = server.sign_in(COMPANY, HR).await;
    let (_, cycles) = hr_api.get("/api/v1/cycles").await;
    let open = cycles
        .as_array()
        .and_then(|cycles| cycles.iter().find(|cycle| cycle["status"] == "open"))
        .unwrap_or_else(|| panic!("the demo has no open cycle: {cycles}"));
    json_id(&open["id"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_of_a_closed_cycle_are_no_longer_to_do() {
    const TEST: &str = "reviews_of_a_closed_cycle_are_no_longer_to_do";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    let cycle = open_cycle_id(&server).await;
    let hr_api = server.sign_in(COMPANY, HR).await;
    let (status, body) = hr_api
        .post(
            &format!("/api/v1/cycles/{cycle}/close"),
            serde_json::json!({}),
        )
        .await;
    assert!(status.is_success(), "closing the cycle: {status} {body}");

    driver
        .run(TEST, |driver| async move {
            let browser = driver.new_session().await?;
            sign_in(&browser, &server.base, EMPLOYEE, &server.password).await?;
            browser.wait_for(&testid("reviews-mine")).await?;
            let items = browser
                .execute(
                    r#"return [...document.querySelectorAll(
                        '[data-testid=reviews-mine] [data-testid=review-item]')].map((li) => ({
                        closed: li.dataset.closed === "true",
                        badge: li.querySelector(".badge").textContent,
                    }));"#,
                    vec![],
                )
                .await?;
            let items = items.as_array().cloned().unwrap_or_default();
            assert!(!items.is_empty(), "employee1 writes no reviews");
            for item in &items {
                assert_eq!(item["closed"], true, "a closed cycle's review: {item}");
                assert_eq!(item["badge"], "Closed", "a closed cycle's review: {item}");
            }
            browser.quit().await
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_runs_a_cycle_through_its_phases_and_both_sign_in_the_browser() {
    const TEST: &str = "hr_runs_a_cycle_through_its_phases_and_both_sign_in_the_browser";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| run_a_cycle(driver, &server))
        .await;
}

/// HR creates a cycle on the cycles page and moves it on; the reviews are
/// written over the API; the manager shares and signs with the buttons under
/// the review, the employee signs over the API, and HR's dashboard shows the
/// phase with the breakdowns.
async fn run_a_cycle(driver: Driver, server: &common::TestServer) -> Result<()> {
    const NAME: &str = "Browser cycle";
    let hr = driver.new_session().await?;
    sign_in(&hr, &server.base, HR, &server.password).await?;
    hr.wait_for(&testid("reviews-mine")).await?;
    hr.click(&testid("nav-cycles")).await?;
    hr.wait_for(&testid("cycle-list")).await?;
    hr.fill("#cycle-name", NAME).await?;
    hr.click(&testid("cycle-create")).await?;
    hr.wait_for_text(&testid("cycle-message"), "the cycle created", |t| {
        t.contains("Created")
    })
    .await?;

    // The ids behind the page, over the API.
    let api_hr = server.sign_in(COMPANY, HR).await;
    let employee = server.sign_in(COMPANY, EMPLOYEE).await;
    let manager = server.sign_in(COMPANY, "manager@acme.example").await;
    let (_, cycles) = api_hr.get("/api/v1/cycles").await;
    let cycle = cycles
        .as_array()
        .and_then(|l| l.iter().find(|c| c["name"] == NAME))
        .expect("the new cycle is listed")
        .clone();
    let cycle_id = cycle["id"].as_str().unwrap_or_default().to_owned();
    let card = format!(r#"[data-cycle-id="{cycle_id}"]"#);
    let (_, me) = employee.get("/api/v1/me").await;
    let find = async |client: &common::Client, kind: &str| -> String {
        let (_, list) = client.get("/api/v1/reviews").await;
        let found = list.as_array().and_then(|l| {
            l.iter().find(|r| {
                r["cycle_id"] == cycle_id.as_str()
                    && r["kind"] == kind
                    && r["reviewee_id"] == me["id"]
            })
        });
        found.expect("the review")["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let own = find(&employee, "self").await;
    let managed = find(&manager, "manager").await;
    for (client, id) in [(&employee, &own), (&manager, &managed)] {
        let (_, review) = client.get(&format!("/api/v1/reviews/{id}")).await;
        let mut answers = serde_json::Map::new();
        for q in review["questions"].as_array().into_iter().flatten() {
            let answer = if q["kind"] == "rating" {
                Value::from(4)
            } else {
                Value::from("Done well.")
            };
            answers.insert(q["id"].as_str().unwrap_or_default().to_owned(), answer);
        }
        let body = serde_json::json!({ "answers": answers, "version": review["version"] });
        let path = format!("/api/v1/reviews/{id}");
        let (status, body) = client
            .send(client.request(reqwest::Method::PATCH, &path).json(&body))
            .await;
        assert!(status.is_success(), "{body}");
        let (status, body) = client
            .post(&format!("{path}/submit"), serde_json::json!(null))
            .await;
        assert!(status.is_success(), "{body}");
    }

    // HR moves it on with the page's buttons: manager review, then sharing.
    for phase in ["manager_review", "sharing"] {
        hr.click(&format!(r#"{card} [data-testid="cycle-advance"]"#))
            .await?;
        hr.wait_for(&format!(r#"{card}[data-phase="{phase}"]"#))
            .await?;
    }

    // The manager shares from the review page.
    let boss = driver.new_session().await?;
    sign_in(
        &boss,
        &server.base,
        "manager@acme.example",
        &server.password,
    )
    .await?;
    boss.wait_for(&testid("reviews-mine")).await?;
    boss.goto(&format!("{}/#/reviews/{managed}", server.base))
        .await?;
    boss.click(&testid("review-share")).await?;
    boss.wait_for_text(&testid("review-status"), "Shared", |t| t == "Shared")
        .await?;

    // Sign-off: the employee signs over the API, the manager with the button.
    hr.click(&format!(r#"{card} [data-testid="cycle-advance"]"#))
        .await?;
    hr.wait_for(&format!(r#"{card}[data-phase="sign_off"]"#))
        .await?;
    let (status, body) = employee
        .post(
            &format!("/api/v1/reviews/{managed}/sign"),
            serde_json::json!(null),
        )
        .await;
    assert!(status.is_success(), "{body}");
    boss.goto(&format!("{}/#/reviews", server.base)).await?;
    boss.wait_for(&testid("reviews-mine")).await?;
    boss.goto(&format!("{}/#/reviews/{managed}", server.base))
        .await?;
    boss.click(&testid("review-sign")).await?;
    boss.wait_for_text(&testid("review-status"), "Signed", |t| t == "Signed")
        .await?;

    // HR's dashboard shows the phase and the breakdown by manager.
    hr.goto(&format!("{}/#/cycles/{cycle_id}", server.base))
        .await?;
    hr.wait_for_text(&testid("progress-phase"), "the sign-off phase", |t| {
        t.contains("Sign-off")
    })
    .await?;
    hr.wait_for(&testid("breakdowns")).await?;
    Ok(())
}
