//! Three screens over APIs that had none, in a real headless Chromium: HR imports the
//! org chart (a dry run with a per-row report first), HR links an employee's objective
//! into a review cycle and unlinks it, HR edits a cycle's 360 feedback questions. Each
//! checks the outcome through the API. Skipped (loudly) without Chromium, like the
//! other browser tests; failures leave a screenshot in `target/browser-failures/`.

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod webdriver;

use serde_json::{Value, json};
use webdriver::{Result, Session, TIMEOUT, wait_until};

/// A CSS selector for the element with this `data-testid`.
fn testid(id: &str) -> String {
    format!(r#"[data-testid="{id}"]"#)
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

async fn sign_in(browser: &Session, base: &str, email: &str, password: &str) -> Result<()> {
    browser.goto(&format!("{base}/#/login")).await?;
    browser.fill(&testid("login-company"), "acme").await?;
    browser.fill(&testid("login-email"), email).await?;
    browser.fill(&testid("login-password"), password).await?;
    browser.click(&testid("login-submit")).await?;
    browser.wait_for(&testid("reviews-mine")).await.map(|_| ())
}

/// Sets a text field's value the way typing would (multi-line CSV included).
async fn set_value(browser: &Session, css: &str, value: &str) -> Result<()> {
    browser.wait_for(css).await?;
    browser
        .execute(
            r#"const el = document.querySelector(arguments[0]);
            el.value = arguments[1];
            el.dispatchEvent(new Event(el.tagName === "SELECT" ? "change" : "input", { bubbles: true }));"#,
            vec![json!(css), json!(value)],
        )
        .await
        .map(|_| ())
}

/// Waits for the import's message of `kind`, confirming the password when asked.
async fn import_message(browser: &Session, password: &str, kind: &str) -> Result<String> {
    let selector = format!(r#"{}[data-kind="{kind}"]"#, testid("people-import-message"));
    // The password dialog, once: polling it again while it closes would wait on it.
    let mut confirmed = false;
    wait_until("the import's answer", TIMEOUT, async || {
        if !confirmed && !browser.find_all("dialog[open]").await?.is_empty() {
            confirmed = true;
            browser.fill(&testid("reauth-password"), password).await?;
            browser.click(&testid("reauth-submit")).await?;
            return Ok(None);
        }
        match browser.find_all(&selector).await?.first() {
            Some(message) => Ok(Some(message.text().await?)),
            None => Ok(None),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_checks_then_imports_the_org_chart() {
    const TEST: &str = "hr_checks_then_imports_the_org_chart";
    let Some(driver) = webdriver::Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    let api = server.sign_in("acme", "hr@acme.example").await;
    let known = async || {
        let (_, users) = api.get("/api/v1/admin/users").await;
        users
            .as_array()
            .into_iter()
            .flatten()
            .find(|u| u["email"] == "new.hire@acme.example")
            .cloned()
    };
    driver
        .run(TEST, |driver| async move {
            let browser = driver.new_session().await?;
            sign_in(&browser, &server.base, "hr@acme.example", &server.password).await?;
            browser.click(&testid("nav-people")).await?;
            browser.wait_for(&testid("users-table")).await?;

            // A file with two bad rows: each is reported with its line, nothing written.
            set_value(
                &browser,
                &testid("people-import-text"),
                "email,name,manager_email\n\
                 new.hire@acme.example,New Hire,nobody@acme.example\n\
                 not-an-address,Broken Row,\n",
            )
            .await?;
            browser.click(&testid("people-import-check")).await?;
            let said = import_message(&browser, &server.password, "error").await?;
            assert!(said.contains("2 problems"), "the summary: {said}");
            let lines = browser
                .execute(
                    r#"return [...document.querySelectorAll('[data-testid=people-import-error]')]
                        .map((row) => row.dataset.line);"#,
                    vec![],
                )
                .await?;
            assert_eq!(lines, json!(["2", "3"]), "the rows reported");
            let import = browser.find(&testid("people-import-submit")).await?;
            assert_eq!(import.property("disabled").await?, json!(true));
            assert!(known().await.is_none(), "a bad file wrote something");

            // A good file: the dry run says what would change and writes nothing...
            set_value(
                &browser,
                &testid("people-import-text"),
                "email,name,department,manager_email\n\
                 new.hire@acme.example,New Hire,Research,manager@acme.example\n",
            )
            .await?;
            browser.click(&testid("people-import-check")).await?;
            let said = import_message(&browser, &server.password, "success").await?;
            assert!(said.contains("1 to create"), "the dry run: {said}");
            assert!(known().await.is_none(), "the dry run wrote the person");

            // ...then the import does it and says how many.
            browser.click(&testid("people-import-submit")).await?;
            let said = browser
                .wait_for_text(
                    &format!(
                        r#"{}[data-kind="success"]"#,
                        testid("people-import-message")
                    ),
                    "the import's counts",
                    |t| t.starts_with("Imported"),
                )
                .await?;
            assert!(said.contains("1 created"), "the import: {said}");
            let person = known().await.expect("the imported person");
            assert_eq!(person["name"], "New Hire");
            browser
                .wait_for_text(&testid("users-table"), "the new row", |t| {
                    t.contains("new.hire@acme.example")
                })
                .await?;
            browser.quit().await
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_links_an_objective_into_a_cycle_and_unlinks_it() {
    const TEST: &str = "hr_links_an_objective_into_a_cycle_and_unlinks_it";
    let Some(driver) = webdriver::Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    // employee1's objective, linked by HR (who sees every cycle, a closed one too).
    let api = server.sign_in("acme", "employee1@acme.example").await;
    let (_, mine) = api.get("/api/v1/cycles").await;
    let writing = |c: &&Value| c["phase"] == "self_review" || c["phase"] == "manager_review";
    let open = text_of(
        &mine
            .as_array()
            .into_iter()
            .flatten()
            .find(writing)
            .expect("a cycle in writing")["id"],
    );
    let (_, cycles) = server
        .sign_in("acme", "hr@acme.example")
        .await
        .get("/api/v1/cycles")
        .await;
    let cycles = cycles.as_array().cloned().unwrap_or_default();
    let past = text_of(
        &cycles
            .iter()
            .find(|c| !writing(c))
            .expect("a cycle past its reviews")["id"],
    );
    let (_, created) = api
        .post(
            "/api/v1/objectives",
            json!({ "title": "Ship the link screen" }),
        )
        .await;
    let objective = text_of(&created["id"]);
    let read_path = format!("/api/v1/objectives/{objective}");
    let links = async || {
        let (_, read) = api.get(&read_path).await;
        read["cycles"].clone()
    };
    driver
        .run(TEST, |driver| async move {
            let browser = driver.new_session().await?;
            sign_in(&browser, &server.base, "hr@acme.example", &server.password).await?;
            browser.click(&testid("nav-objectives")).await?;
            let node = format!(r#"[data-objective-id="{objective}"]"#);
            browser
                .click(&format!(
                    "{node} > .objective-row {}",
                    testid("objective-toggle")
                ))
                .await?;
            let select = format!("{node} {}", testid("objective-cycle-select"));
            wait_until("the cycles to choose from", TIMEOUT, async || {
                let options = browser.find_all(&format!("{select} option")).await?;
                Ok((options.len() > 1).then_some(()))
            })
            .await?;

            // Linked with a weight: the API has the link.
            set_value(&browser, &select, &open).await?;
            browser
                .fill(
                    &format!("{node} {}", testid("objective-cycle-weight")),
                    "40",
                )
                .await?;
            browser
                .click(&format!("{node} {}", testid("objective-cycle-link")))
                .await?;
            let linked = format!(
                r#"{node} {}[data-cycle-id="{open}"]"#,
                testid("objective-cycle")
            );
            browser
                .wait_for_text(&linked, "the link listed", |t| t.contains("weight 40"))
                .await?;
            assert_eq!(links().await, json!([{ "cycle_id": open, "weight": 40 }]));

            // A cycle past its reviews: the server's 409 is shown as an alert.
            set_value(&browser, &select, &past).await?;
            browser
                .click(&format!("{node} {}", testid("objective-cycle-link")))
                .await?;
            let alert = browser
                .wait_for_text(
                    &format!("{node} {} [role=alert]", testid("objective-cycles-message")),
                    "the refusal",
                    |t| t.starts_with("Not saved"),
                )
                .await?;
            assert!(
                !alert.contains("Someone changed"),
                "the wrong words: {alert}"
            );
            assert_eq!(links().await, json!([{ "cycle_id": open, "weight": 40 }]));

            // Unlinked: gone from the screen and from the API.
            browser
                .click(&format!("{linked} {}", testid("objective-cycle-unlink")))
                .await?;
            wait_until("the link to go", TIMEOUT, async || {
                Ok(browser.find_all(&linked).await?.is_empty().then_some(()))
            })
            .await?;
            assert_eq!(links().await, json!([]));
            browser.quit().await
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_edits_feedback_questions_until_someone_is_nominated() {
    const TEST: &str = "hr_edits_feedback_questions_until_someone_is_nominated";
    let Some(driver) = webdriver::Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    let api = server.sign_in("acme", "hr@acme.example").await;
    let (_, cycles) = api.get("/api/v1/cycles").await;
    let (_, with_feedback) = api.get("/api/v1/feedback/cycles").await;
    let with_feedback = with_feedback.as_array().cloned().unwrap_or_default();
    let set_up: Vec<String> = with_feedback
        .iter()
        .map(|f| text_of(&f["cycle_id"]))
        .collect();
    // An open cycle without feedback yet, and one whose reviewers are nominated.
    let fresh = cycles
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| {
            c["status"] != "closed"
                && c["phase"] != "closed"
                && !set_up.contains(&text_of(&c["id"]))
        })
        .map(|c| text_of(&c["id"]))
        .expect("an open cycle without feedback");
    let nominated = with_feedback
        .iter()
        .find(|f| f["closed"] == false)
        .map(|f| text_of(&f["cycle_id"]))
        .expect("a cycle with open feedback");
    let questions = async |cycle: &str| {
        let (_, settings) = api.get(&format!("/api/v1/cycles/{cycle}/feedback")).await;
        settings["questions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| json!({ "kind": q["kind"], "prompt": q["prompt"] }))
            .collect::<Vec<_>>()
    };
    let before = questions(&nominated).await;
    assert!(!before.is_empty(), "the demo feedback has no questions");
    driver
        .run(TEST, |driver| async move {
            let browser = driver.new_session().await?;
            sign_in(&browser, &server.base, "hr@acme.example", &server.password).await?;
            browser.click(&testid("nav-feedback")).await?;
            let form = format!(
                r#"{}[data-cycle-id="{fresh}"]"#,
                testid("feedback-settings")
            );
            let q = |what: &str, n: usize| format!(r#"{form} [id="fb-q-{fresh}-{what}-{n}"]"#);

            // Three questions, the rating one moved to the top, the last removed.
            for _ in 0..3 {
                browser
                    .click(&format!("{form} {}", testid("feedback-question-add")))
                    .await?;
            }
            browser.fill(&q("prompt", 0), "What went well?").await?;
            browser
                .fill(&q("prompt", 1), "How well do they listen?")
                .await?;
            set_value(&browser, &q("kind", 1), "rating").await?;
            browser.fill(&q("prompt", 2), "Left out").await?;
            browser.click(&q("up", 1)).await?;
            let focused = browser
                .execute("return document.activeElement.id;", vec![])
                .await?;
            assert_eq!(
                focused,
                json!(format!("fb-q-{fresh}-down-0")),
                "the moved question keeps the keyboard"
            );
            browser.click(&q("remove", 2)).await?;
            browser
                .click(&format!("{form} {}", testid("feedback-settings-save")))
                .await?;
            wait_until("the questions to be saved", TIMEOUT, async || {
                Ok((!questions(&fresh).await.is_empty()).then_some(()))
            })
            .await?;
            assert_eq!(
                questions(&fresh).await,
                vec![
                    json!({ "kind": "rating", "prompt": "How well do they listen?" }),
                    json!({ "kind": "text", "prompt": "What went well?" }),
                ]
            );

            // Once someone is nominated the questions are fixed: the 409 is shown.
            let form = format!(
                r#"{}[data-cycle-id="{nominated}"]"#,
                testid("feedback-settings")
            );
            browser
                .click(&format!("{form} {}", testid("feedback-question-add")))
                .await?;
            let last = before.len();
            browser
                .fill(
                    &format!(r#"{form} [id="fb-q-{nominated}-prompt-{last}"]"#),
                    "One more",
                )
                .await?;
            browser
                .click(&format!("{form} {}", testid("feedback-settings-save")))
                .await?;
            let alert = browser
                .wait_for_text(&format!("{form} [role=alert]"), "the refusal", |t| {
                    !t.is_empty()
                })
                .await?;
            assert!(alert.contains("cannot change"), "the refusal: {alert}");
            assert_eq!(questions(&nominated).await, before);
            browser.quit().await
        })
        .await;
}
