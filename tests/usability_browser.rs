//! Usability of the web app in a real headless Chromium: every screen on a phone
//! (390×844, emulated with touch and the page's viewport meta tag) and on a laptop
//! (1366×768), and the main path — sign in, write and submit a review, move through
//! the navigation, open and close a dialog — with the keyboard alone.
//!
//! What is measured runs as JavaScript in the page (see [`AUDIT_JS`]): no sideways
//! scrolling of the page, text of at least 14px and form fields of at least 16px (so
//! that phones do not zoom into them), controls at least 40px tall on the phone,
//! tables that reflow or scroll inside their own box, an accessible name on every
//! field and button, headings in order and a `lang` on the page. Skipped (loudly)
//! without Chromium, like the other browser tests; failures leave a screenshot in
//! `target/browser-failures/`.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod webdriver;

use kaizen_actors::db::now_ms;
use kaizen_actors::totp::{code_at, from_base32, step_of};
use serde_json::{Value, json};
use webdriver::{Driver, Error, Result, Session, Viewport, key, wait_until};

/// A phone in portrait: the CSS size of a current mid-size phone.
const PHONE: Viewport = Viewport {
    width: 390,
    height: 844,
    mobile: true,
};

/// A common laptop screen.
const LAPTOP: Viewport = Viewport {
    width: 1366,
    height: 768,
    mobile: false,
};

/// The demo company everybody below signs in to.
const COMPANY: &str = "acme";

/// How many key presses may lead from one control to the next one a test is after;
/// the longest page walked (the account page) has fewer stops before its target.
const MAX_TAB_STOPS: usize = 60;

/// Measures the page on screen and answers a list of problems, one sentence each.
/// `arguments[0].phone` turns on the checks that only apply to a small touch screen.
const AUDIT_JS: &str = r##"
const phone = arguments[0].phone;
const problems = [];
const vw = document.documentElement.clientWidth;

const describe = (el) => {
  let text = el.tagName.toLowerCase();
  const testid = el.getAttribute("data-testid");
  if (el.id) text += "#" + el.id;
  if (testid) text += `[data-testid=${testid}]`;
  if (typeof el.className === "string" && el.className.trim()) {
    text += "." + el.className.trim().split(/\s+/).join(".");
  }
  const words = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 40);
  return words ? `${text} "${words}"` : text;
};
const shown = (el) => {
  const rect = el.getBoundingClientRect();
  if (rect.width < 1 || rect.height < 1) return false;
  const style = getComputedStyle(el);
  return style.visibility !== "hidden" && !el.closest(".sr-only");
};
const nameOf = (el) => {
  const label = (el.getAttribute("aria-label") || "").trim();
  if (label) return label;
  const by = el.getAttribute("aria-labelledby");
  if (by) {
    const text = by.split(/\s+/).map((id) => document.getElementById(id))
      .filter(Boolean).map((e) => e.textContent.trim()).join(" ").trim();
    if (text) return text;
  }
  if (el.labels && el.labels.length) {
    const text = [...el.labels].map((l) => l.textContent.trim()).join(" ").trim();
    if (text) return text;
  }
  return (el.getAttribute("title") || "").trim();
};

// The page never scrolls sideways; name the outermost boxes that stick out.
if (document.documentElement.scrollWidth > vw) {
  const culprits = [...document.querySelectorAll("body *")].filter((el) => shown(el)
    && el.getBoundingClientRect().right > vw + 0.5
    && (!el.parentElement || el.parentElement.getBoundingClientRect().right <= vw + 0.5));
  problems.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${vw}px viewport: `
    + culprits.slice(0, 4).map(describe).join(", "));
}

// Readable text: 14px at least wherever text is shown.
for (const el of document.querySelectorAll("body *")) {
  if (!shown(el)) continue;
  const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  if (!own) continue;
  const size = parseFloat(getComputedStyle(el).fontSize);
  if (size < 13.99) problems.push(`text of ${size}px (under 14px): ${describe(el)}`);
}

// Form fields of 16px at least, or phones zoom in when one is focused.
const NOT_TEXT = ["checkbox", "radio", "hidden", "range", "color", "file", "submit", "button"];
for (const el of document.querySelectorAll("input, select, textarea")) {
  if (!shown(el) || NOT_TEXT.includes(el.type)) continue;
  const size = parseFloat(getComputedStyle(el).fontSize);
  if (size < 15.99) problems.push(`a field with ${size}px text (under 16px): ${describe(el)}`);
}

// Controls big enough for a finger on the phone: a check box counts with its label.
if (phone) {
  const controls = "button, a.button, [role=button], input, select, textarea, nav a, .topbar a,"
    + " a.back, a.review-link, a.cycle-link";
  for (const el of document.querySelectorAll(controls)) {
    if (!shown(el) || el.type === "hidden" || el.classList.contains("skip-link")) continue;
    let height = el.getBoundingClientRect().height;
    if ((el.type === "checkbox" || el.type === "radio") && el.labels) {
      for (const label of el.labels) height = Math.max(height, label.getBoundingClientRect().height);
    }
    if (height < 39.5) problems.push(`a control ${Math.round(height)}px tall (under 40px): ${describe(el)}`);
  }
}

// Tables reflow into blocks, or scroll inside a box of their own within the viewport.
for (const table of document.querySelectorAll("table")) {
  if (!shown(table) || getComputedStyle(table).display !== "table") continue;
  let scroller = null;
  for (let p = table.parentElement; p && p !== document.body; p = p.parentElement) {
    if (["auto", "scroll"].includes(getComputedStyle(p).overflowX)) {
      scroller = p;
      break;
    }
  }
  if (!scroller) problems.push(`a table that neither reflows nor scrolls in its own box: ${describe(table)}`);
  else if (scroller.getBoundingClientRect().right > vw + 0.5) {
    problems.push(`a table's scrolling box is wider than the viewport: ${describe(scroller)}`);
  }
}

// Every field, button and link has a name a screen reader can say.
for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden" || el.getAttribute("aria-hidden") === "true") continue;
  if (!nameOf(el)) problems.push(`a field without a label, aria-label or aria-labelledby: ${describe(el)}`);
}
for (const el of document.querySelectorAll("button, [role=button], a[href]")) {
  if (!el.textContent.trim() && !nameOf(el)) problems.push(`a control without text or aria-label: ${describe(el)}`);
}

// Headings start at one h1 and go down one level at a time.
// Visually hidden headings count: screen readers read them.
const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
  .filter((h) => h.getClientRects().length > 0);
const h1s = headings.filter((h) => h.tagName === "H1").length;
if (h1s !== 1) problems.push(`${h1s} h1 headings instead of one`);
let previous = 0;
for (const heading of headings) {
  const level = Number(heading.tagName[1]);
  if (level > previous + 1) problems.push(`${describe(heading)} follows an h${previous}`);
  previous = level;
}

if (!document.documentElement.lang) problems.push("the page has no lang");
if (!document.querySelector("main")) problems.push("the page has no main landmark");
return problems;
"##;

/// What the focused element is and whether it shows that it has the focus.
const FOCUS_JS: &str = r##"
const el = document.activeElement;
if (!el || el === document.body) return { tag: "body", visible: false, indicator: false, describe: "body" };
const style = getComputedStyle(el);
const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
const shadow = style.boxShadow && style.boxShadow !== "none";
const rect = el.getBoundingClientRect();
const words = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 40);
return {
  tag: el.tagName.toLowerCase(),
  tabbable: el.tabIndex >= 0,
  indicator: Boolean(outline || shadow),
  visible: rect.width > 0 && rect.height > 0 && rect.bottom > 0 && rect.top < innerHeight,
  inDialog: Boolean(el.closest("dialog[open]")),
  testid: el.getAttribute("data-testid"),
  describe: `${el.tagName.toLowerCase()}${el.className ? "." + String(el.className).split(/\s+/).join(".") : ""} "${words}"`,
};
"##;

/// A CSS selector for the element with this `data-testid`.
fn testid(id: &str) -> String {
    format!(r#"[data-testid="{id}"]"#)
}

/// Runs [`AUDIT_JS`] on the page shown and fails with every problem it finds.
async fn audit(browser: &Session, screen: &str, phone: bool) -> Result<()> {
    let problems = browser
        .execute(AUDIT_JS, vec![json!({ "phone": phone })])
        .await?;
    let problems: Vec<String> = problems
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| p.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        problems.is_empty(),
        "{screen} ({}): {} problem(s):\n  {}",
        if phone { "phone" } else { "laptop" },
        problems.len(),
        problems.join("\n  ")
    );
    Ok(())
}

/// Goes to `hash` inside the app, waits until `ready` is displayed and nothing on the
/// page still reads as loading, then measures the screen.
async fn visit(browser: &Session, hash: &str, ready: &str, phone: bool) -> Result<()> {
    browser
        .execute("location.hash = arguments[0];", vec![json!(hash)])
        .await?;
    settle(browser, ready).await?;
    audit(browser, hash, phone).await
}

/// Waits until `ready` is displayed and no loading placeholder is left.
async fn settle(browser: &Session, ready: &str) -> Result<()> {
    browser.wait_for(ready).await?;
    wait_until(
        "the page to finish loading",
        webdriver::TIMEOUT,
        async || {
            let loading = browser.find_all(".loading").await?;
            Ok(loading.is_empty().then_some(()))
        },
    )
    .await
}

/// Signs `email` in through the form, from a fresh page load.
async fn sign_in(browser: &Session, base: &str, email: &str, password: &str) -> Result<()> {
    browser.goto(&format!("{base}/")).await?;
    browser.fill(&testid("login-company"), COMPANY).await?;
    browser.fill(&testid("login-email"), email).await?;
    browser.fill(&testid("login-password"), password).await?;
    browser.click(&testid("login-submit")).await
}

/// Ends the browser's session through the API and loads the sign-in page again.
async fn sign_out(browser: &Session, base: &str) -> Result<()> {
    browser
        .execute(
            "return fetch('/api/v1/auth/logout', { method: 'POST' }).then((r) => r.status);",
            vec![],
        )
        .await?;
    browser.goto(&format!("{base}/")).await?;
    browser.wait_for(&testid("login-company")).await.map(drop)
}

/// The `href` of the first element matching `css`.
async fn href_of(browser: &Session, css: &str) -> Result<String> {
    let link = browser.wait_for(css).await?;
    let href = link.attribute("href").await?;
    href.ok_or_else(|| Error::Protocol(format!("`{css}` has no href")))
}

/// What the page's data needs before the walk: employee5 with an authenticator app
/// (for the code step of sign-in) and a submitted manager review of employee2 (for
/// the share and sign block).
async fn prepare(server: &common::TestServer) {
    let employee = server.sign_in(COMPANY, "employee5@acme.example").await;
    let (status, _) = employee
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": server.password }),
        )
        .await;
    assert_eq!(status.as_u16(), 204, "employee5 confirms the password");
    let (status, setup) = employee
        .post("/api/v1/me/second-factor/totp", json!({}))
        .await;
    assert_eq!(status.as_u16(), 200, "the app setup starts: {setup}");
    let secret = from_base32(setup["secret"].as_str().expect("a secret")).expect("base32");
    let code = code_at(&secret, step_of(now_ms()));
    let (status, body) = employee
        .post(
            "/api/v1/me/second-factor/totp/confirm",
            json!({ "code": code }),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "the app is confirmed: {body}");

    // The manager writes and submits their review of employee2.
    let manager = server.sign_in(COMPANY, "manager@acme.example").await;
    let (_, reviews) = manager.get("/api/v1/reviews").await;
    let review = reviews
        .as_array()
        .expect("a list of reviews")
        .iter()
        .find(|r| {
            r["kind"] == "manager" && r["reviewee_name"].as_str().is_some_and(|n| n.contains('2'))
        })
        .expect("a manager review of employee2")
        .clone();
    let id = review["id"].as_str().expect("an id");
    let (_, full) = manager.get(&format!("/api/v1/reviews/{id}")).await;
    let mut answers = serde_json::Map::new();
    for question in full["questions"].as_array().expect("questions") {
        let answer = if question["kind"] == "rating" {
            json!(4)
        } else {
            json!("Steady and kind.")
        };
        answers.insert(question["id"].as_str().expect("an id").to_owned(), answer);
    }
    let (status, body) = manager
        .patch(
            &format!("/api/v1/reviews/{id}"),
            json!({ "version": full["version"], "answers": answers }),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "the manager review saves: {body}");
    let (status, body) = manager
        .post(&format!("/api/v1/reviews/{id}/submit"), json!({}))
        .await;
    assert_eq!(status.as_u16(), 200, "the manager review submits: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_fits_a_phone_and_a_laptop() {
    const TEST: &str = "every_screen_fits_a_phone_and_a_laptop";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    prepare(&server).await;

    driver
        .run(TEST, |driver| async move {
            walk_every_screen(&driver, &server, PHONE).await?;
            walk_every_screen(&driver, &server, LAPTOP).await
        })
        .await;
}

/// Visits every screen as the demo user who has it, in one browser of `viewport`'s
/// size, and measures each.
async fn walk_every_screen(
    driver: &Driver,
    server: &common::TestServer,
    viewport: Viewport,
) -> Result<()> {
    let phone = viewport.mobile;
    let (base, password) = (&server.base, &server.password);
    let browser = driver.new_session_at(viewport).await?;
    browser.goto(&format!("{base}/")).await?;

    // The browser shows the page at the size asked for.
    let width = browser.execute("return window.innerWidth;", vec![]).await?;
    assert_eq!(width, json!(viewport.width), "the viewport's width");

    // Without a session: sign-in, its error, the reset request and the code step.
    settle(&browser, &testid("login-company")).await?;
    audit(&browser, "sign-in", phone).await?;
    sign_in(&browser, base, "employee1@acme.example", "not the password").await?;
    browser.wait_for(&testid("login-error")).await?;
    let role = browser
        .find(&testid("login-error"))
        .await?
        .attribute("role")
        .await?;
    assert_eq!(
        role.as_deref(),
        Some("alert"),
        "a sign-in error is announced"
    );
    audit(&browser, "sign-in with an error", phone).await?;
    visit(&browser, "#/reset-request", "form", phone).await?;
    sign_in(&browser, base, "employee5@acme.example", password).await?;
    settle(&browser, "#second-factor-code").await?;
    audit(&browser, "second step of sign-in", phone).await?;

    // An employee: reviews, the editor, objectives, feedback and the account.
    sign_in(&browser, base, "employee1@acme.example", password).await?;
    settle(&browser, &testid("reviews-mine")).await?;
    audit(&browser, "my reviews", phone).await?;
    check_navigation(&browser, phone).await?;
    let editor = href_of(&browser, &format!("{} a", testid("review-item"))).await?;
    visit(&browser, &hash_of(&editor), &testid("review-submit"), phone).await?;
    visit(&browser, "#/objectives", &testid("objective-title"), phone).await?;
    browser
        .click(&format!(
            r#"{}[data-level="person"] {}"#,
            testid("objective-node"),
            testid("objective-toggle")
        ))
        .await?;
    settle(&browser, &testid("objective-comments")).await?;
    audit(&browser, "an objective's details", phone).await?;
    visit(&browser, "#/feedback", &testid("feedback-request"), phone).await?;
    let write = href_of(&browser, &format!("{} a", testid("feedback-request"))).await?;
    visit(&browser, &hash_of(&write), "textarea", phone).await?;
    visit(
        &browser,
        "#/feedback",
        &testid("feedback-results-link"),
        phone,
    )
    .await?;
    let results = href_of(&browser, &testid("feedback-results-link")).await?;
    visit(&browser, &hash_of(&results), "h1", phone).await?;
    visit(&browser, "#/account", &testid("totp-setup"), phone).await?;
    sign_out(&browser, base).await?;

    // The manager: their reviews, a review to share, approvals in feedback.
    sign_in(&browser, base, "manager@acme.example", password).await?;
    settle(&browser, &testid("reviews-mine")).await?;
    audit(&browser, "the manager's reviews", phone).await?;
    let shareable = href_of(
        &browser,
        &format!(r#"{}[data-status="submitted"] a"#, testid("review-item")),
    )
    .await?;
    visit(
        &browser,
        &hash_of(&shareable),
        &testid("review-share"),
        phone,
    )
    .await?;
    visit(&browser, "#/feedback", &testid("feedback-requests"), phone).await?;
    sign_out(&browser, base).await?;

    // The HR admin: dashboards, cycles, calibration, people, security, audit log.
    sign_in(&browser, base, "hr@acme.example", password).await?;
    settle(&browser, &testid("cycles")).await?;
    audit(&browser, "HR's reviews", phone).await?;
    check_navigation(&browser, phone).await?;
    let dashboard = href_of(&browser, &format!("{} a", testid("cycle-link"))).await?;
    let dashboard = hash_of(&dashboard);
    visit(&browser, &dashboard, &testid("breakdowns"), phone).await?;
    visit(&browser, "#/admin/cycles", &testid("cycle"), phone).await?;
    visit(
        &browser,
        &format!("{dashboard}/calibration"),
        &testid("calibration"),
        phone,
    )
    .await?;
    visit(&browser, "#/feedback", &testid("feedback-settings"), phone).await?;
    visit(&browser, "#/admin/users", &testid("users-table"), phone).await?;
    // The org-chart import's report of a refused file.
    browser
        .fill(
            &testid("people-import-text"),
            "email,name\nnot-an-address,A name that is long enough to need wrapping on a phone\n",
        )
        .await?;
    browser.click(&testid("people-import-check")).await?;
    // The password dialog, once: polling it again while it closes would wait on it.
    let mut confirmed = false;
    wait_until("the import's report", webdriver::TIMEOUT, async || {
        if !confirmed && !browser.find_all("dialog[open]").await?.is_empty() {
            confirmed = true;
            browser.fill(&testid("reauth-password"), password).await?;
            browser.click(&testid("reauth-submit")).await?;
            return Ok(None);
        }
        let rows = browser.find_all(&testid("people-import-error")).await?;
        Ok((!rows.is_empty()).then_some(()))
    })
    .await?;
    audit(&browser, "the org-chart import's report", phone).await?;
    visit(&browser, "#/admin/security", "form", phone).await?;
    visit(&browser, "#/admin/audit", &testid("audit-table"), phone).await?;
    sign_out(&browser, base).await?;

    // The HR assistant: cycles and the dashboard, never written content.
    sign_in(&browser, base, "assistant@acme.example", password).await?;
    settle(&browser, &testid("reviews-mine")).await?;
    audit(&browser, "the assistant's reviews", phone).await?;
    visit(&browser, "#/admin/cycles", &testid("cycle"), phone).await?;
    visit(&browser, &dashboard, &testid("breakdowns"), phone).await?;
    browser.quit().await
}

/// The part of an address from `#` on.
fn hash_of(href: &str) -> String {
    href.find('#')
        .map(|at| href[at..].to_owned())
        .unwrap_or_else(|| href.to_owned())
}

/// The navigation can be reached: on a laptop every link is in sight; on the phone a
/// menu button opens it by keyboard (Enter), its links are big enough and inside the
/// screen, and Escape closes it with the focus back on the button.
async fn check_navigation(browser: &Session, phone: bool) -> Result<()> {
    let links = r#"nav[aria-label="Main"] a"#;
    if !phone {
        for link in browser.find_all(links).await? {
            assert!(link.displayed().await?, "a navigation link is hidden");
        }
        // The menu button is for phones only, and the top bar fits on one row.
        let bar = browser
            .execute(
                r#"const t = document.querySelector('[data-testid=menu-toggle]');
                return {
                    toggle: !!t && t.offsetParent !== null && getComputedStyle(t).display !== "none",
                    height: document.getElementById("topbar").getBoundingClientRect().height,
                };"#,
                vec![],
            )
            .await?;
        assert_eq!(
            bar["toggle"],
            json!(false),
            "the menu button shows on a laptop: {bar}"
        );
        let height = bar["height"].as_f64().unwrap_or(f64::MAX);
        assert!(height < 80.0, "the top bar wraps on a laptop: {bar}");
        return Ok(());
    }

    let toggle = browser.wait_for(&testid("menu-toggle")).await?;
    assert_eq!(
        toggle.attribute("aria-expanded").await?.as_deref(),
        Some("false"),
        "the menu starts closed"
    );
    browser
        .execute(
            "document.querySelector('[data-testid=menu-toggle]').focus();",
            vec![],
        )
        .await?;
    browser.press(&[key::ENTER]).await?;
    wait_until("the menu to open", webdriver::TIMEOUT, async || {
        let expanded = toggle.attribute("aria-expanded").await?;
        Ok((expanded.as_deref() == Some("true")).then_some(()))
    })
    .await?;
    let boxes = browser
        .execute(
            r#"return [...document.querySelectorAll(arguments[0])].map((a) => {
                const r = a.getBoundingClientRect();
                return { text: a.textContent, height: r.height, left: r.left, right: r.right };
            });"#,
            vec![json!(links)],
        )
        .await?;
    let boxes = boxes.as_array().cloned().unwrap_or_default();
    assert!(!boxes.is_empty(), "the open menu shows no links");
    for link in &boxes {
        let number = |key: &str| link[key].as_f64().unwrap_or(0.0);
        assert!(number("height") >= 39.5, "a small menu link: {link}");
        assert!(
            number("left") >= 0.0 && number("right") <= f64::from(PHONE.width),
            "a menu link outside the screen: {link}"
        );
    }
    audit(browser, "the open menu", true).await?;

    // Escape closes it and gives the focus back to the button.
    browser.press(&[key::TAB]).await?;
    browser.press(&[key::ESCAPE]).await?;
    let focus = browser.execute(FOCUS_JS, vec![]).await?;
    assert_eq!(
        focus["testid"], "menu-toggle",
        "focus after Escape: {focus}"
    );
    assert_eq!(
        toggle.attribute("aria-expanded").await?.as_deref(),
        Some("false"),
        "Escape closes the menu"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_signs_in_submits_a_review_and_uses_a_dialog() {
    const TEST: &str = "the_keyboard_alone_signs_in_submits_a_review_and_uses_a_dialog";
    let Some(driver) = Driver::start_or_skip(TEST).await else {
        return;
    };
    let server = common::TestServer::demo().await;
    driver
        .run(TEST, |driver| keyboard_only(driver, &server))
        .await;
}

/// Where the focus is now.
async fn focused(browser: &Session) -> Result<Value> {
    browser.execute(FOCUS_JS, vec![]).await
}

/// Presses `chord` (Tab or Shift+Tab) until the focused element matches `css`, and
/// checks at every stop on the way that the focus shows.
async fn tab_to(browser: &Session, chord: &[&str], css: &str) -> Result<()> {
    let mut stops = Vec::new();
    for _ in 0..MAX_TAB_STOPS {
        browser.press(chord).await?;
        let focus = focused(browser).await?;
        if focus["tabbable"] == true {
            assert_eq!(
                focus["indicator"], true,
                "no visible focus indicator on {}",
                focus["describe"]
            );
        }
        let here = browser
            .execute(
                "return document.activeElement.matches(arguments[0]);",
                vec![json!(css)],
            )
            .await?;
        if here == true {
            return Ok(());
        }
        stops.push(focus["describe"].as_str().unwrap_or_default().to_owned());
    }
    panic!(
        "`{css}` is not reached in {MAX_TAB_STOPS} key presses; the focus went:\n  {}",
        stops.join("\n  ")
    );
}

/// Signs in, writes and submits the self review, moves through the navigation and
/// opens and closes the password dialog, with key presses only.
async fn keyboard_only(driver: Driver, server: &common::TestServer) -> Result<()> {
    let browser = driver.new_session_at(LAPTOP).await?;
    browser.goto(&format!("{}/#/login", server.base)).await?;
    settle(&browser, &testid("login-company")).await?;

    // Sign in: the page puts the focus in the first field.
    tab_to(&browser, &[key::TAB], &testid("login-company")).await?;
    browser.type_text(COMPANY).await?;
    tab_to(&browser, &[key::TAB], &testid("login-email")).await?;
    browser.type_text("employee1@acme.example").await?;
    tab_to(&browser, &[key::TAB], &testid("login-password")).await?;
    browser.type_text(&server.password).await?;
    browser.press(&[key::ENTER]).await?;
    settle(&browser, &testid("reviews-mine")).await?;

    // On a page loaded afresh, the first Tab stop is the skip link, shown once
    // focused; Enter on it moves the focus to the content.
    browser.refresh().await?;
    settle(&browser, &testid("reviews-mine")).await?;
    audit(&browser, "my reviews", false).await?;
    browser.press(&[key::TAB]).await?;
    let focus = focused(&browser).await?;
    assert!(
        focus["describe"]
            .as_str()
            .is_some_and(|d| d.contains("skip-link")),
        "the first Tab stop is {focus}"
    );
    assert_eq!(focus["visible"], true, "the skip link shows when focused");
    assert_eq!(focus["indicator"], true, "the skip link shows its focus");
    browser.press(&[key::ENTER]).await?;
    let focus = focused(&browser).await?;
    assert_eq!(focus["tag"], "main", "the skip link moves to the content");

    // Open the self review and answer every question.
    tab_to(
        &browser,
        &[key::TAB],
        &format!("{} a.review-link", testid("reviews-mine")),
    )
    .await?;
    browser.press(&[key::ENTER]).await?;
    settle(&browser, &testid("review-submit")).await?;
    audit(&browser, "the review editor", false).await?;
    let status = browser.find(&testid("save-status")).await?;
    assert!(
        status.attribute("aria-live").await?.is_some()
            || status.attribute("role").await?.as_deref() == Some("status"),
        "the save status is announced"
    );
    let mut answered = 0;
    loop {
        tab_to(
            &browser,
            &[key::TAB],
            "textarea, .segment-input, [data-testid=review-submit]",
        )
        .await?;
        let focus = focused(&browser).await?;
        match focus["tag"].as_str() {
            Some("textarea") => browser.type_text("Shipped the new onboarding.").await?,
            Some("input") => browser.press(&[key::SPACE]).await?,
            _ => break,
        }
        answered += 1;
    }
    assert_eq!(answered, 3, "the demo review has three questions");

    // Ctrl+S saves now; the save is announced in the live region.
    browser.press(&[key::CONTROL, "s"]).await?;
    browser
        .wait_for_text(&testid("save-status"), "a saved state", |t| {
            t.to_lowercase().contains("saved") && !t.to_lowercase().contains("unsaved")
        })
        .await?;

    // Submit, with the focus on the button.
    let focus = focused(&browser).await?;
    assert_eq!(focus["testid"], "review-submit", "focus before submitting");
    browser.press(&[key::ENTER]).await?;
    browser
        .wait_for_text(&testid("review-status"), "Submitted", |t| t == "Submitted")
        .await?;
    let notice = browser
        .find(".notice-success")
        .await?
        .attribute("role")
        .await?;
    assert_eq!(
        notice.as_deref(),
        Some("status"),
        "the submission is announced"
    );

    // Back up to the navigation and on to the objectives.
    tab_to(&browser, &[key::SHIFT, key::TAB], &testid("nav-objectives")).await?;
    browser.press(&[key::ENTER]).await?;
    settle(&browser, &testid("objective-title")).await?;
    audit(&browser, "the objectives", false).await?;
    let current = browser
        .find(&testid("nav-objectives"))
        .await?
        .attribute("aria-current")
        .await?;
    assert_eq!(
        current.as_deref(),
        Some("page"),
        "the link says where we are"
    );

    // The account page's password dialog: focus moves in, stays in, Escape closes it
    // and the focus goes back to the button that opened it.
    tab_to(&browser, &[key::SHIFT, key::TAB], &testid("nav-account")).await?;
    browser.press(&[key::ENTER]).await?;
    settle(&browser, &testid("totp-setup")).await?;
    audit(&browser, "the account", false).await?;
    tab_to(&browser, &[key::TAB], &testid("totp-setup")).await?;
    browser.press(&[key::ENTER]).await?;
    browser.wait_for(&testid("reauth-dialog")).await?;
    let focus = focused(&browser).await?;
    assert_eq!(
        focus["inDialog"], true,
        "the dialog takes the focus: {focus}"
    );
    audit(&browser, "the password dialog", false).await?;
    for chord in [[key::TAB].as_slice(); 5]
        .into_iter()
        .chain([[key::SHIFT, key::TAB].as_slice(); 5])
    {
        browser.press(chord).await?;
        let focus = focused(&browser).await?;
        assert_eq!(
            focus["inDialog"], true,
            "the focus left the dialog: {focus}"
        );
        assert_eq!(focus["indicator"], true, "no focus indicator: {focus}");
    }
    browser.press(&[key::ESCAPE]).await?;
    wait_until("the dialog to close", webdriver::TIMEOUT, async || {
        let open = browser.find_all("dialog[open]").await?;
        Ok(open.is_empty().then_some(()))
    })
    .await?;
    let focus = focused(&browser).await?;
    assert_eq!(
        focus["testid"], "totp-setup",
        "the focus returns to the opener"
    );
    browser.quit().await
}
