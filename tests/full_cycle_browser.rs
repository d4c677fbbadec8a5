//! One whole review cycle with 360 feedback, walked through the web app's screens in a
//! real headless Chromium: HR creates the cycle and turns anonymous feedback on for it,
//! the employee writes the self review and nominates colleagues, the manager approves
//! them, the colleagues write their feedback, the manager writes the manager review, HR
//! moves the phases on, calibrates a rating and releases the feedback, the manager
//! shares, both sign, and the employee reads the review with the calibrated rating and
//! the feedback without any author.
//!
//! Every step goes through a screen. The API is only read, to check what the screens
//! stored. Skipped (loudly) without Chromium, as in `tests/browser.rs`; a failure leaves
//! a screenshot of every open window in `target/browser-failures/`.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod webdriver;

use std::collections::HashMap;

use serde_json::Value;
use webdriver::{Driver, Element, Result, Session, TIMEOUT, wait_until};

/// The demo company everybody below signs in to.
const COMPANY: &str = "acme";

/// The demo HR admin, who runs the cycle.
const HR: &str = "hr@acme.example";

/// The demo manager of every `employeeN@`.
const MANAGER: &str = "manager@acme.example";

/// The one person reviewed in the new cycle. The demo's own cycle has them only as a
/// pending reviewer of someone else, so nothing of theirs is in this cycle's way.
const SUBJECT: &str = "employee6@acme.example";

/// The colleagues the subject asks for feedback, each with the words they write. Three,
/// because the feedback form's defaults ask for at least three reviewers.
const PEERS: [(&str, &str); 3] = [
    (
        "employee7@acme.example",
        "Explains the billing code patiently.",
    ),
    (
        "employee8@acme.example",
        "Reviews pull requests the same day.",
    ),
    (
        "employee9@acme.example",
        "Keeps the on-call notes up to date.",
    ),
];

/// The ratings the colleagues give, in the order of [`PEERS`]: their mean is 4.
const PEER_RATINGS: [u8; 3] = [3, 4, 5];

/// The new cycle's name, unlike the demo's.
const CYCLE: &str = "Full cycle in the browser";

/// The manager's rating, and the one HR calibrates it to.
const MANAGER_RATING: u8 = 3;
const CALIBRATED_RATING: u8 = 5;

/// What the employee and the manager write in the text answers of their reviews.
const SELF_WORDS: &str = "Shipped the invoice export on time.";
const MANAGER_WORDS: &str = "Led the invoice export and mentored two people.";

/// A CSS selector for the element with this `data-testid`.
fn testid(id: &str) -> String {
    format!(r#"[data-testid="{id}"]"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_cycle_with_anonymous_feedback_runs_from_creation_to_signatures_in_the_browser() {
    const TEST: &str =
        "one_cycle_with_anonymous_feedback_runs_from_creation_to_signatures_in_the_browser";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;

    driver
        .run(TEST, |driver| walk_one_cycle(driver, &server))
        .await;
}

/// A demo user as the People page shows them.
struct Person {
    id: String,
    name: String,
}

/// The whole cycle, screen by screen; see the file's comment.
async fn walk_one_cycle(driver: Driver, server: &common::TestServer) -> Result<()> {
    // HR reads the people's ids off the People page, creates the cycle for the
    // subject alone and turns anonymous feedback, nominated by the subject, on.
    let hr = signed_in(&driver, server, HR).await?;
    let people = people_by_email(&hr).await?;
    let person = |email: &str| {
        people
            .get(email)
            .unwrap_or_else(|| panic!("{email} is not on the People page"))
    };
    let subject = person(SUBJECT);
    let cycle_id = create_cycle(&hr, &subject.id).await?;
    set_up_feedback(&hr, &cycle_id).await?;

    // The employee writes and submits the self review, then nominates three colleagues.
    let employee = signed_in(&driver, server, SUBJECT).await?;
    open_review(&employee, "reviews-mine").await?;
    answer_and_submit(&employee, SELF_WORDS, 4).await?;
    let peer_ids: Vec<&str> = PEERS
        .iter()
        .map(|(email, _)| person(email).id.as_str())
        .collect();
    nominate(&employee, &cycle_id, &peer_ids).await?;

    // The manager approves the three nominations.
    let manager = signed_in(&driver, server, MANAGER).await?;
    approve_nominations(&manager, &cycle_id, PEERS.len()).await?;

    // Each colleague writes and submits their anonymous feedback.
    for ((email, words), rating) in PEERS.iter().zip(PEER_RATINGS) {
        let peer = signed_in(&driver, server, email).await?;
        write_feedback(&peer, &subject.name, words, rating).await?;
        peer.quit().await?;
    }

    // The manager writes and submits the manager review: the self review is in.
    let review_id = open_review(&manager, "reviews-mine").await?;
    let rating_q = answer_and_submit(&manager, MANAGER_WORDS, MANAGER_RATING).await?;

    // HR moves the cycle to the manager review, calibrates the manager's rating,
    // moves on to sharing and releases the feedback.
    advance(&hr, &cycle_id, "manager_review").await?;
    calibrate(&hr, &cycle_id, &review_id, &rating_q, CALIBRATED_RATING).await?;
    advance(&hr, &cycle_id, "sharing").await?;
    close_feedback(&hr, &cycle_id).await?;

    // The manager shares the review; the manager's own page tells of the calibration.
    let shared = open_review(&manager, "reviews-mine").await?;
    assert_eq!(shared, review_id, "the manager opened another review");
    manager.click(&testid("review-share")).await?;
    wait_for_status(&manager, "Shared").await?;
    manager.wait_for(&testid("review-calibrated")).await?;

    // HR opens the sign-off; the employee reads the shared review and signs it.
    advance(&hr, &cycle_id, "sign_off").await?;
    let about_me = open_review(&employee, "reviews-about-me").await?;
    assert_eq!(about_me, review_id, "the employee opened another review");
    employee.click(&testid("review-sign")).await?;
    employee
        .wait_for_text(&testid("signoff-facts"), "the reviewee's signature", |t| {
            t.contains("signed by the reviewee")
        })
        .await?;

    // The manager signs too: the review is signed.
    open_review(&manager, "reviews-mine").await?;
    manager.click(&testid("review-sign")).await?;
    wait_for_status(&manager, "Signed").await?;

    // The employee sees the signed review with both signatures and the calibrated
    // rating, and no hint that another rating exists.
    open_review(&employee, "reviews-about-me").await?;
    wait_for_status(&employee, "Signed").await?;
    let facts = employee
        .find(&testid("signoff-facts"))
        .await?
        .text()
        .await?;
    assert!(facts.contains("signed by the manager"), "{facts}");
    let rating = employee
        .find(&testid(&format!("answer-{rating_q}")))
        .await?;
    assert_eq!(
        rating.attribute("data-value").await?.as_deref(),
        Some(CALIBRATED_RATING.to_string().as_str()),
        "the employee's rating is the calibrated one: {}",
        rating.text().await?
    );
    let page = employee.find("main").await?.text().await?;
    assert!(page.contains(MANAGER_WORDS), "the manager's words: {page}");
    assert!(
        employee
            .find_all(&testid("review-calibrated"))
            .await?
            .is_empty(),
        "the reviewee is told of the calibration"
    );

    // The server agrees with the pages.
    check_stored_review(server, &review_id, &rating_q).await;

    // The employee reads the feedback results: every answer, nobody's name.
    read_feedback_results(&employee, &cycle_id, &people).await?;

    employee.quit().await?;
    manager.quit().await?;
    hr.quit().await
}

/// Opens a browser and signs `email` in through the form, up to "My reviews".
async fn signed_in(driver: &Driver, server: &common::TestServer, email: &str) -> Result<Session> {
    let browser = driver.new_session().await?;
    browser.goto(&format!("{}/#/login", server.base)).await?;
    browser.fill(&testid("login-company"), COMPANY).await?;
    browser.fill(&testid("login-email"), email).await?;
    browser
        .fill(&testid("login-password"), &server.password)
        .await?;
    browser.click(&testid("login-submit")).await?;
    browser.wait_for(&testid("reviews-mine")).await?;
    Ok(browser)
}

/// Every user on HR's People page, by email.
async fn people_by_email(hr: &Session) -> Result<HashMap<String, Person>> {
    hr.click(&testid("nav-people")).await?;
    hr.wait_for(&testid("users-table")).await?;
    let mut people = HashMap::new();
    for row in hr.find_all(&testid("user-row")).await? {
        let id = row.attribute("data-user-id").await?.unwrap_or_default();
        let email = only(&row, ".user-email").await?.text().await?;
        let name = only(&row, ".user-name > span").await?.text().await?;
        people.insert(email, Person { id, name });
    }
    assert!(
        people.contains_key(SUBJECT),
        "the People page lists {SUBJECT}"
    );
    Ok(people)
}

/// The first element inside `parent` matching `css`, which must be there.
async fn only(parent: &Element, css: &str) -> Result<Element> {
    let found = parent.find_all(css).await?.into_iter().next();
    Ok(found.unwrap_or_else(|| panic!("no `{css}` where it belongs")))
}

/// HR creates the cycle on the Cycles page for the subject alone (the form takes user
/// ids), with the form's questions: a text and a rating. Answers the cycle's id.
async fn create_cycle(hr: &Session, subject_id: &str) -> Result<String> {
    hr.click(&testid("nav-cycles")).await?;
    hr.wait_for(&testid("cycle-list")).await?;
    hr.fill("#cycle-name", CYCLE).await?;
    hr.click(r#"#cycle-who option[value="participants"]"#)
        .await?;
    hr.fill(r#"#cycle-who-list"#, subject_id).await?;
    hr.click(&testid("cycle-create")).await?;
    hr.wait_for_text(&testid("cycle-message"), "the cycle created", |t| {
        t.contains("Created")
    })
    .await?;

    // The new card, in the self review phase.
    wait_until("the new cycle's card", TIMEOUT, async || {
        for card in hr.find_all(&testid("cycle")).await? {
            if only(&card, "h3").await?.text().await? == CYCLE {
                let phase = card.attribute("data-phase").await?;
                assert_eq!(phase.as_deref(), Some("self_review"), "a new cycle's phase");
                return card.attribute("data-cycle-id").await;
            }
        }
        Ok(None)
    })
    .await
}

/// HR turns feedback on for the cycle on the Feedback page, opening nominations and
/// keeping the form's other defaults: anonymous, nominated by the person reviewed, three
/// to eight reviewers.
async fn set_up_feedback(hr: &Session, cycle_id: &str) -> Result<()> {
    hr.click(&testid("nav-feedback")).await?;
    let form = format!(
        r#"{}[data-cycle-id="{cycle_id}"]"#,
        testid("feedback-settings")
    );
    hr.wait_for(&form).await?;
    // Feedback that is off starts with nominations closed and anonymous: HR opens them.
    let checkbox = |name: &str| format!(r#"{form} [id="{name}-{cycle_id}"]"#);
    for (what, name, expected) in [
        ("nominations closed", "fb-enabled", false),
        ("anonymous", "fb-anon", true),
    ] {
        let checked = hr.find(&checkbox(name)).await?.property("checked").await?;
        assert_eq!(checked, Value::Bool(expected), "feedback starts {what}");
    }
    hr.click(&checkbox("fb-enabled")).await?;
    let opened = hr
        .find(&checkbox("fb-enabled"))
        .await?
        .property("checked")
        .await?;
    assert_eq!(opened, Value::Bool(true), "HR opens nominations");
    hr.click(&format!(r#"{form} button[type="submit"]"#))
        .await?;

    // The cycle now has a feedback section of its own that says how it is set up.
    hr.wait_for_text(&feedback_section(cycle_id), "the new setup", |t| {
        t.contains("Anonymous · nominated by the person reviewed · 3–8 reviewers")
    })
    .await?;
    Ok(())
}

/// The Feedback page's section about one cycle.
fn feedback_section(cycle_id: &str) -> String {
    format!(
        r#"{}[data-cycle-id="{cycle_id}"]"#,
        testid("feedback-cycle")
    )
}

/// Goes to "My reviews" through the top bar, opens the one review of the new cycle
/// under `section` and answers its id.
async fn open_review(browser: &Session, section: &str) -> Result<String> {
    browser.click(r##".topnav a[href="#/reviews"]"##).await?;
    let item = wait_until(
        &format!("a review of `{CYCLE}` under `{section}`"),
        TIMEOUT,
        async || {
            let groups = format!("{} .cycle-group", testid(section));
            for group in browser.find_all(&groups).await? {
                if only(&group, ".cycle-name").await?.text().await? == CYCLE {
                    return Ok(group.find_all(&testid("review-item")).await?.pop());
                }
            }
            Ok(None)
        },
    )
    .await?;
    let id = item
        .attribute("data-review-id")
        .await?
        .expect("a review item carries data-review-id");
    only(&item, "a").await?.click().await?;
    browser.wait_for(&testid("review-status")).await?;
    Ok(id)
}

/// Waits until the open review's status badge reads `label`.
async fn wait_for_status(browser: &Session, label: &str) -> Result<()> {
    browser
        .wait_for_text(&testid("review-status"), label, |t| t == label)
        .await
        .map(drop)
}

/// In the open editor, writes `words` into every text answer and picks `rating` for
/// every rating, waits for the autosave and submits. Answers the rating question's id.
async fn answer_and_submit(browser: &Session, words: &str, rating: u8) -> Result<String> {
    browser.wait_for(&testid("review-submit")).await?;
    let mut rating_q = None;
    for block in browser.find_all("[data-question-id]").await? {
        let qid = block
            .attribute("data-question-id")
            .await?
            .unwrap_or_default();
        // A rating question is a fieldset of radios, a text question a text area.
        if block.property("tagName").await? == "FIELDSET" {
            let radio = testid(&format!("answer-{qid}-{rating}"));
            browser.click(&format!("label:has(> {radio})")).await?;
            rating_q = Some(qid);
        } else {
            browser
                .fill(&testid(&format!("answer-{qid}")), words)
                .await?;
        }
    }
    let rating_q = rating_q.expect("the cycle has a rating question");

    // Autosave confirms, then the review is submitted.
    wait_until("the autosave", TIMEOUT, async || {
        let status = browser.find(&testid("save-status")).await?;
        Ok((status.attribute("data-state").await?.as_deref() == Some("saved")).then_some(()))
    })
    .await?;
    browser.click(&testid("review-submit")).await?;
    wait_for_status(browser, "Submitted").await?;
    Ok(rating_q)
}

/// The employee nominates `reviewers` on the Feedback page: they wait for approval.
async fn nominate(employee: &Session, cycle_id: &str, reviewers: &[&str]) -> Result<()> {
    employee.click(&testid("nav-feedback")).await?;
    let section = feedback_section(cycle_id);
    employee
        .click(&format!("{section} details > summary"))
        .await?;
    for id in reviewers {
        employee
            .click(&format!(r#"{section} [id="nominee-{id}"]"#))
            .await?;
    }
    employee
        .click(&format!(
            r#"{section} {} button[type="submit"]"#,
            testid("nominate-form")
        ))
        .await?;
    wait_for_nominations(employee, cycle_id, "pending", reviewers.len()).await
}

/// Waits until the cycle's section lists `count` nominations in `status`.
async fn wait_for_nominations(
    browser: &Session,
    cycle_id: &str,
    status: &str,
    count: usize,
) -> Result<()> {
    let css = format!(
        r#"{} {}[data-status="{status}"]"#,
        feedback_section(cycle_id),
        testid("nomination")
    );
    wait_until(
        &format!("{count} {status} nominations"),
        TIMEOUT,
        async || Ok((browser.find_all(&css).await?.len() == count).then_some(())),
    )
    .await
}

/// The manager approves every nomination waiting in the cycle, one at a time: the
/// page reloads after each decision.
async fn approve_nominations(manager: &Session, cycle_id: &str, count: usize) -> Result<()> {
    manager.click(&testid("nav-feedback")).await?;
    wait_for_nominations(manager, cycle_id, "pending", count).await?;
    let approve = format!(
        "{} {}",
        feedback_section(cycle_id),
        testid("nomination-approve")
    );
    for left in (0..count).rev() {
        manager.click(&approve).await?;
        wait_for_nominations(manager, cycle_id, "pending", left).await?;
    }
    wait_for_nominations(manager, cycle_id, "approved", count).await
}

/// A colleague opens their request about the subject in the new cycle, answers every
/// question and submits.
async fn write_feedback(peer: &Session, subject_name: &str, words: &str, rating: u8) -> Result<()> {
    peer.click(&testid("nav-feedback")).await?;
    let request = find_request(peer, subject_name).await?;
    assert_eq!(
        request.attribute("data-status").await?.as_deref(),
        Some("not_started"),
        "a new request"
    );
    assert!(
        request.text().await?.contains("anonymous"),
        "the request says it is anonymous"
    );
    only(&request, "a").await?.click().await?;
    peer.wait_for(&testid("feedback-submit")).await?;

    // Words for the text questions, a number for the rating.
    for input in peer
        .find_all(r#"[data-testid^="feedback-answer-"]"#)
        .await?
    {
        let css = testid(&input.attribute("data-testid").await?.unwrap_or_default());
        if input.property("tagName").await? == "SELECT" {
            peer.click(&format!(r#"{css} option[value="{rating}"]"#))
                .await?;
        } else {
            peer.fill(&css, words).await?;
        }
    }
    peer.click(&testid("feedback-submit")).await?;

    // Back on the list, the request is submitted.
    wait_until("the request to be submitted", TIMEOUT, async || {
        let request = find_request(peer, subject_name).await?;
        let status = request.attribute("data-status").await?;
        Ok((status.as_deref() == Some("submitted")).then_some(()))
    })
    .await
}

/// The Feedback page's request about `subject_name` in the new cycle.
async fn find_request(peer: &Session, subject_name: &str) -> Result<Element> {
    let about = format!("Feedback about {subject_name}");
    wait_until("the request about the subject", TIMEOUT, async || {
        for request in peer.find_all(&testid("feedback-request")).await? {
            let text = request.text().await?;
            if text.contains(&about) && text.contains(CYCLE) {
                return Ok(Some(request));
            }
        }
        Ok(None)
    })
    .await
}

/// HR moves the cycle to its next phase on the Cycles page and waits for `phase`.
async fn advance(hr: &Session, cycle_id: &str, phase: &str) -> Result<()> {
    hr.click(&testid("nav-cycles")).await?;
    let card = format!(r#"{}[data-cycle-id="{cycle_id}"]"#, testid("cycle"));
    hr.click(&format!("{card} {}", testid("cycle-advance")))
        .await?;
    hr.wait_for(&format!(r#"{card}[data-phase="{phase}"]"#))
        .await
        .map(drop)
}

/// HR opens the cycle's Calibration page from its card and sets the manager review's
/// rating to `rating`.
async fn calibrate(
    hr: &Session,
    cycle_id: &str,
    review_id: &str,
    question_id: &str,
    rating: u8,
) -> Result<()> {
    hr.click(&testid("nav-cycles")).await?;
    let card = format!(r#"{}[data-cycle-id="{cycle_id}"]"#, testid("cycle"));
    hr.click(&format!(r##"{card} a[href$="/calibration"]"##))
        .await?;

    // The row shows the manager's rating beside the input.
    let row = testid(&format!("calibration-{review_id}"));
    hr.wait_for_text(&row, "the manager's rating", |t| {
        t.contains(&format!("Manager: {MANAGER_RATING}"))
    })
    .await?;
    let input = testid(&format!("calibrate-{review_id}-{question_id}"));
    hr.fill(&input, &rating.to_string()).await?;
    hr.click(&testid(&format!("calibrate-save-{review_id}")))
        .await?;
    hr.wait_for_text(&format!("{row} .server-text"), "\"Saved\"", |t| {
        t == "Saved"
    })
    .await
    .map(drop)
}

/// HR closes the cycle's feedback on the Feedback page, confirming the dialog: the
/// results are released.
async fn close_feedback(hr: &Session, cycle_id: &str) -> Result<()> {
    hr.click(&testid("nav-feedback")).await?;
    let section = feedback_section(cycle_id);
    hr.click(&format!("{section} {}", testid("feedback-close")))
        .await?;
    hr.accept_alert().await?;
    hr.wait_for_text(&section, "the feedback closed", |t| {
        t.contains("closed: results released")
    })
    .await
    .map(drop)
}

/// The employee opens the results about themselves: all three colleagues' words and
/// ratings, and no colleague's name anywhere on the page.
async fn read_feedback_results(
    employee: &Session,
    cycle_id: &str,
    people: &HashMap<String, Person>,
) -> Result<()> {
    employee.click(&testid("nav-feedback")).await?;
    employee
        .click(&format!(
            "{} {}",
            feedback_section(cycle_id),
            testid("feedback-results-link")
        ))
        .await?;
    employee.wait_for(&testid("feedback-average")).await?;

    // Each text question lists every colleague's words; the rating is their mean.
    let mut texts = Vec::new();
    for item in employee.find_all(&testid("feedback-text")).await? {
        texts.push(item.text().await?);
    }
    for (_, words) in PEERS {
        let times = texts.iter().filter(|t| *t == words).count();
        assert_eq!(times, 2, "{words:?} once per text question: {texts:?}");
    }
    assert_eq!(texts.len(), 2 * PEERS.len(), "only the colleagues' words");
    let average = employee.find(&testid("feedback-average")).await?;
    let average = average.text().await?;
    assert!(
        average.starts_with("Average 4 ·"),
        "the mean rating: {average}"
    );

    // Nobody's authorship shows: no colleague's name or email, no list by author.
    let page = employee.find("main").await?.text().await?;
    assert!(page.contains("3 colleagues answered."), "{page}");
    assert!(page.contains("anonymous feedback"), "{page}");
    for (email, _) in PEERS {
        let peer = &people[email];
        assert!(!page.contains(&peer.name), "{} shown: {page}", peer.name);
        assert!(!page.contains(email), "{email} shown: {page}");
    }
    assert!(
        !page.contains("By author"),
        "answers listed by author: {page}"
    );
    assert!(
        employee
            .find_all(&testid("feedback-withheld"))
            .await?
            .is_empty(),
        "the results are withheld"
    );
    Ok(())
}

/// The signed review as the server keeps it: the employee reads the calibrated rating,
/// the manager their own beside HR's.
async fn check_stored_review(server: &common::TestServer, review_id: &str, rating_q: &str) {
    let path = format!("/api/v1/reviews/{review_id}");

    let (_, seen) = server.sign_in(COMPANY, SUBJECT).await.get(&path).await;
    assert_eq!(seen["status"], "signed", "{seen}");
    assert_eq!(seen["answers"][rating_q], CALIBRATED_RATING, "{seen}");

    let (_, written) = server.sign_in(COMPANY, MANAGER).await.get(&path).await;
    assert_eq!(written["answers"][rating_q], MANAGER_RATING, "{written}");
    assert_eq!(
        written["calibrated_ratings"][rating_q], CALIBRATED_RATING,
        "{written}"
    );
}
