//! The XML export and `kaizen import`: who may export, the operator's switch, streaming
//! content out decrypted, and a round trip export → import into an empty company →
//! export that keeps every row, reference and answer; a refused file writes nothing.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use common::{Client, PASSWORD, TestServer, code};
use kaizen::export::xml::parse;
use kaizen_actors::company::xml::Node;
use reqwest::StatusCode;
use serde_json::json;
use tokio::process::Command;

const ACME: &str = "acme";
const HR: &str = "hr@acme.example";

/// The password of the HR admin added to the imported copy.
const EXPORTER_PASSWORD: &str = "quiet lantern orbit 4821";

/// Runs the `kaizen` binary with `args` and waits for it.
async fn kaizen(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kaizen"));
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if stdin.is_some() {
        command.stdin(std::process::Stdio::piped());
    }
    let mut child = command.spawn().expect("the kaizen binary runs");
    if let Some(text) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut input = child.stdin.take().expect("a standard input");
        input.write_all(text.as_bytes()).await.expect("stdin");
    }
    child
        .wait_with_output()
        .await
        .expect("the kaizen binary ends")
}

fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs an operator command against the server's data directory; it must succeed.
async fn operator(server: &TestServer, args: &[&str], stdin: Option<&str>) -> String {
    let database = server.database_options();
    let keyring = server.keyring.to_str().expect("a UTF-8 path");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(database.iter().map(String::as_str));
    if args[0] == "import" {
        all.extend(["--keyring", keyring]);
    }
    let output = kaizen(&all, stdin).await;
    assert!(
        output.status.success(),
        "{args:?}: {}",
        output_text(&output)
    );
    output_text(&output)
}

/// Confirms the password again; must succeed.
async fn elevate(client: &Client) {
    let body = json!({ "password": PASSWORD });
    let (status, answer) = client.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "reauthenticated: {answer}");
}

/// GET with the session; the status, the content type and the raw body.
async fn fetch(client: &Client, path: &str) -> (StatusCode, String, String) {
    let response = client
        .request(reqwest::Method::GET, path)
        .send()
        .await
        .expect("the request is answered");
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, kind, response.text().await.expect("a body"))
}

/// The company's export as a signed-in, reauthenticated HR admin; must succeed.
async fn export_company(hr: &Client) -> String {
    let (status, kind, body) = fetch(hr, "/api/v1/admin/export.xml").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(kind.starts_with("application/xml"), "{kind}");
    body
}

/// The id of the company's open demo cycle.
async fn open_cycle(hr: &Client) -> String {
    let (_, cycles) = hr.get("/api/v1/cycles").await;
    cycles
        .as_array()
        .and_then(|list| list.iter().find(|c| c["status"] == "open"))
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("an open cycle in {cycles}"))
        .to_owned()
}

/// Closes a cycle's feedback: anonymous answers are exported only once released.
async fn close_feedback(hr: &Client, cycle: &str) {
    let (status, body) = hr
        .post(
            &format!("/api/v1/cycles/{cycle}/feedback/close"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn section<'a>(root: &'a Node, name: &'a str) -> &'a Node {
    root.all(name)
        .next()
        .unwrap_or_else(|| panic!("a <{name}> section"))
}

/// An export with every id replaced by what it names (an email, a cycle's name, a
/// question's place), as sorted lines: two exports of the same content compare equal
/// whatever ids their rows got. Users whose email is in `skip` are left out.
fn canonical(xml: &str, skip: &[&str]) -> Vec<String> {
    let root = parse(xml.as_bytes()).expect("the export parses");
    assert_eq!(root.name, "kaizen-export");
    assert_eq!(root.get_attr("format-version"), Some("1"));
    let field = |node: &Node, name: &str| node.get(name).unwrap_or("-").to_owned();
    let id = |node: &Node| node.get_attr("id").expect("an id").to_owned();

    let users = section(&root, "users");
    let emails: HashMap<String, String> = users
        .all("user")
        .map(|u| (id(u), field(u, "email")))
        .collect();
    let email = |old: &str| emails.get(old).cloned().unwrap_or_else(|| "?".into());
    let cycles = section(&root, "cycles");
    let mut cycle_names = HashMap::new();
    let mut questions = HashMap::new();
    let mut lines = Vec::new();
    let company = root.all("company").next().expect("a <company>");
    lines.push(format!(
        "company skip-level-visible={}",
        field(company, "skip-level-visible")
    ));
    for u in users.all("user") {
        if skip.contains(&field(u, "email").as_str()) {
            continue;
        }
        lines.push(format!(
            "user {} name={} role={} manager={} department={} disabled={} created={}",
            field(u, "email"),
            field(u, "name"),
            field(u, "role"),
            u.get("manager-id").map(email).unwrap_or_default(),
            field(u, "department"),
            field(u, "disabled"),
            field(u, "created-at"),
        ));
    }
    for c in cycles.all("cycle") {
        let name = field(c, "name");
        cycle_names.insert(id(c), name.clone());
        lines.push(format!(
            "cycle {name} status={} due={} by={} created={} phase={} scale={}..{} \
             deadlines={}/{}/{}",
            field(c, "status"),
            field(c, "due-at"),
            email(&field(c, "created-by")),
            field(c, "created-at"),
            field(c, "phase"),
            field(c, "rating-min"),
            field(c, "rating-max"),
            field(c, "self-review-due-at"),
            field(c, "manager-review-due-at"),
            field(c, "sign-off-due-at"),
        ));
        for q in c.all("question") {
            let place = format!("{name}#{}", field(q, "position"));
            questions.insert(id(q), place.clone());
            lines.push(format!(
                "question {place} {} {}",
                field(q, "kind"),
                field(q, "prompt")
            ));
        }
    }
    for r in section(&root, "reviews").all("review") {
        let mut answers: Vec<String> = r
            .all("answer")
            .map(|a| {
                let question = a.get_attr("question-id").unwrap_or("");
                format!(
                    "{}={}:{}",
                    questions.get(question).cloned().unwrap_or_default(),
                    a.get_attr("kind").unwrap_or(""),
                    a.text
                )
            })
            .collect();
        answers.sort();
        let calibration: Vec<String> = r
            .all("calibration")
            .map(|c| {
                let ratings: Vec<String> = c
                    .all("rating")
                    .map(|rating| {
                        let question = rating.get_attr("question-id").unwrap_or("");
                        format!(
                            "{}={}",
                            questions.get(question).cloned().unwrap_or_default(),
                            rating.text
                        )
                    })
                    .collect();
                format!(
                    "by {} at {} {}",
                    email(&field(c, "calibrated-by")),
                    field(c, "calibrated-at"),
                    ratings.join(",")
                )
            })
            .collect();
        lines.push(format!(
            "review {} {} by {} {} {} v{} updated={} submitted={} shared={}@{} \
             signed={}/{} answers={answers:?} calibration={calibration:?}",
            cycle_names
                .get(&field(r, "cycle-id"))
                .cloned()
                .unwrap_or_default(),
            email(&field(r, "reviewee-id")),
            email(&field(r, "reviewer-id")),
            field(r, "kind"),
            field(r, "status"),
            field(r, "version"),
            field(r, "updated-at"),
            field(r, "submitted-at"),
            r.get("shared-by").map(email).unwrap_or_default(),
            field(r, "shared-at"),
            field(r, "reviewee-signed-at"),
            field(r, "reviewer-signed-at"),
        ));
    }
    let objectives = section(&root, "objectives");
    let titles: HashMap<String, String> = objectives
        .all("objective")
        .map(|o| (id(o), field(o, "title")))
        .collect();
    let title = |old: &str| titles.get(old).cloned().unwrap_or_else(|| "?".into());
    for o in objectives.all("objective") {
        lines.push(format!(
            "objective {} level={} owner={} parent={} description={} status={} weight={} \
             due={} archived={} v{} by={} created={} updated={}",
            field(o, "title"),
            field(o, "level"),
            email(&field(o, "owner-id")),
            o.get("parent-id").map(title).unwrap_or_default(),
            field(o, "description"),
            field(o, "status"),
            field(o, "weight"),
            field(o, "due-at"),
            field(o, "archived-at"),
            field(o, "version"),
            email(&field(o, "created-by")),
            field(o, "created-at"),
            field(o, "updated-at"),
        ));
        for k in o.all("key-result") {
            lines.push(format!(
                "key-result {}#{} {} progress={} {}/{}/{} updated={}",
                field(o, "title"),
                field(k, "position"),
                field(k, "title"),
                field(k, "progress"),
                field(k, "start-value"),
                field(k, "current-value"),
                field(k, "target-value"),
                field(k, "updated-at"),
            ));
        }
        for l in o.all("cycle-link") {
            lines.push(format!(
                "cycle-link {} -> {} weight={} by={} at={}",
                field(o, "title"),
                cycle_names
                    .get(l.get_attr("cycle-id").unwrap_or(""))
                    .cloned()
                    .unwrap_or_default(),
                field(l, "weight"),
                email(&field(l, "linked-by")),
                field(l, "linked-at"),
            ));
        }
    }
    let reviews: HashMap<String, String> = section(&root, "reviews")
        .all("review")
        .map(|r| {
            let what = format!(
                "{}/{}/{}",
                cycle_names
                    .get(&field(r, "cycle-id"))
                    .cloned()
                    .unwrap_or_default(),
                email(&field(r, "reviewee-id")),
                field(r, "kind")
            );
            (id(r), what)
        })
        .collect();
    for c in section(&root, "comments").all("comment") {
        lines.push(format!(
            "comment on review={} objective={} by {} at {}: {}",
            c.get("review-id")
                .and_then(|r| reviews.get(r).cloned())
                .unwrap_or_default(),
            c.get("objective-id").map(title).unwrap_or_default(),
            email(&field(c, "author-id")),
            field(c, "created-at"),
            field(c, "body"),
        ));
    }
    let mut feedback_questions = HashMap::new();
    for f in section(&root, "feedback").all("feedback-settings") {
        let cycle = cycle_names
            .get(f.get_attr("cycle-id").unwrap_or(""))
            .cloned()
            .unwrap_or_default();
        lines.push(format!(
            "feedback {cycle} enabled={} by={} {}..{} anonymous={} closed={} updated={}",
            field(f, "enabled"),
            field(f, "nominated-by"),
            field(f, "min-reviewers"),
            field(f, "max-reviewers"),
            field(f, "anonymous"),
            field(f, "closed-at"),
            field(f, "updated-at"),
        ));
        for q in f.all("question") {
            let place = format!("{cycle}#feedback#{}", field(q, "position"));
            feedback_questions.insert(id(q), place.clone());
            lines.push(format!(
                "feedback-question {place} {} {}",
                field(q, "kind"),
                field(q, "prompt")
            ));
        }
    }
    let answers_of = |row: &Node| {
        let mut answers: Vec<String> = row
            .all("answer")
            .map(|a| {
                let question = a.get_attr("question-id").unwrap_or("");
                format!(
                    "{}={}:{}",
                    feedback_questions
                        .get(question)
                        .cloned()
                        .unwrap_or_default(),
                    a.get_attr("kind").unwrap_or(""),
                    a.text
                )
            })
            .collect();
        answers.sort();
        answers
    };
    let mut requests = HashMap::new();
    for r in section(&root, "feedback-requests").all("feedback-request") {
        let what = format!(
            "{}/{}/{}",
            cycle_names
                .get(&field(r, "cycle-id"))
                .cloned()
                .unwrap_or_default(),
            email(&field(r, "subject-id")),
            email(&field(r, "reviewer-id")),
        );
        requests.insert(id(r), what.clone());
        lines.push(format!(
            "feedback-request {what} nominated={} {} decided={}@{} created={} {} v{} \
             updated={} draft={:?}",
            email(&field(r, "nominated-by")),
            field(r, "approval"),
            r.get("decided-by").map(email).unwrap_or_default(),
            field(r, "decided-at"),
            field(r, "created-at"),
            field(r, "status"),
            field(r, "version"),
            field(r, "updated-at"),
            answers_of(r),
        ));
    }
    for a in section(&root, "feedback-answers").all("feedback-answer") {
        lines.push(format!(
            "feedback-answer {} about {} anonymous={} by={} request={} at={} answers={:?}",
            cycle_names
                .get(&field(a, "cycle-id"))
                .cloned()
                .unwrap_or_default(),
            email(&field(a, "subject-id")),
            field(a, "anonymous"),
            a.get("author-id").map(email).unwrap_or_default(),
            a.get("request-id")
                .and_then(|r| requests.get(r).cloned())
                .unwrap_or_default(),
            field(a, "submitted-at"),
            answers_of(a),
        ));
    }
    lines.sort();
    lines
}

#[tokio::test]
async fn xml_export_needs_the_operators_switch_an_hr_admin_and_a_recent_password() {
    let server = TestServer::demo().await;
    let hr = server.sign_in(ACME, HR).await;
    let cycle = open_cycle(&hr).await;
    let paths = [
        "/api/v1/admin/export.xml".to_owned(),
        format!("/api/v1/cycles/{cycle}/export.xml"),
    ];

    // Off by default: even a reauthenticated HR admin is refused, with its own code.
    elevate(&hr).await;
    for path in &paths {
        let (status, body) = hr.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(code(&body), "xml_export_disabled", "{path}");
    }

    operator(&server, &["company", "enable-xml-export", ACME], None).await;
    let employee = server.sign_in(ACME, "employee1@acme.example").await;
    elevate(&employee).await;
    let fresh_hr = server.sign_in(ACME, HR).await;
    for path in &paths {
        let (status, body) = employee.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "employee {path}: {body}");
        assert_eq!(code(&body), "forbidden");
        let (status, body) = fresh_hr.get(path).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "no reauthentication {path}: {body}"
        );
        assert_eq!(code(&body), "reauthentication_required");
        let (status, _, body) = fetch(&hr, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            body.trim_end().ends_with("</kaizen-export>"),
            "{path}: complete"
        );
    }

    // Each export is in the trail, and switching it off again closes it at once.
    let (_, trail) = hr.get("/api/v1/admin/audit?kind=export_").await;
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"export_company_xml"), "{actions:?}");
    assert!(actions.contains(&"export_cycle_xml"), "{actions:?}");
    operator(&server, &["company", "disable-xml-export", ACME], None).await;
    let (status, body) = hr.get(&paths[0]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "xml_export_disabled")
    );
}

#[tokio::test]
async fn another_companys_cycle_exports_as_xml_exactly_like_a_made_up_one() {
    let server = TestServer::demo().await;
    let globex_cycle = open_cycle(&server.sign_in("globex", "hr@globex.example").await).await;
    operator(&server, &["company", "enable-xml-export", ACME], None).await;
    let hr = server.sign_in(ACME, HR).await;
    elevate(&hr).await;
    let foreign = hr
        .get(&format!("/api/v1/cycles/{globex_cycle}/export.xml"))
        .await;
    let made_up = hr
        .get("/api/v1/cycles/00000000-0000-4000-8000-000000000000/export.xml")
        .await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND, "{}", foreign.1);
    assert_eq!(foreign, made_up);
}

#[tokio::test]
async fn a_cycle_export_holds_that_cycle_and_its_reviews_only() {
    let server = TestServer::demo().await;
    operator(&server, &["company", "enable-xml-export", ACME], None).await;
    let hr = server.sign_in(ACME, HR).await;
    elevate(&hr).await;
    let cycle = open_cycle(&hr).await;
    close_feedback(&hr, &cycle).await;
    let (status, _, body) = fetch(&hr, &format!("/api/v1/cycles/{cycle}/export.xml")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let root = parse(body.as_bytes()).expect("the export parses");
    assert_eq!(root.get_attr("scope"), Some("cycle"));
    let cycles: Vec<&Node> = section(&root, "cycles").all("cycle").collect();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].get_attr("id"), Some(cycle.as_str()));
    let reviews: Vec<&Node> = section(&root, "reviews").all("review").collect();
    assert!(!reviews.is_empty());
    assert!(
        reviews
            .iter()
            .all(|r| r.get("cycle-id") == Some(cycle.as_str()))
    );

    // Its feedback, and no other cycle's; links to other cycles stay out.
    let of_cycle =
        |node: &Node| node.get("cycle-id").or(node.get_attr("cycle-id")) == Some(cycle.as_str());
    for (name, row) in [
        ("feedback", "feedback-settings"),
        ("feedback-requests", "feedback-request"),
        ("feedback-answers", "feedback-answer"),
    ] {
        let rows: Vec<&Node> = section(&root, name).all(row).collect();
        assert!(!rows.is_empty(), "the open cycle has <{row}> rows");
        assert!(
            rows.iter().all(|r| of_cycle(r)),
            "<{row}> of the cycle only"
        );
    }
    let links = section(&root, "objectives")
        .all("objective")
        .flat_map(|o| o.all("cycle-link"));
    assert!(links.into_iter().all(of_cycle));
    let review_ids: Vec<&str> = reviews.iter().filter_map(|r| r.get_attr("id")).collect();
    for comment in section(&root, "comments").all("comment") {
        let review = comment.get("review-id").expect("a comment on a review");
        assert!(
            review_ids.contains(&review),
            "a comment on the cycle's reviews"
        );
    }
}

#[tokio::test]
async fn export_import_export_keeps_every_row_reference_and_answer() {
    let server = TestServer::demo().await;
    operator(&server, &["company", "enable-xml-export", ACME], None).await;
    let hr = server.sign_in(ACME, HR).await;
    elevate(&hr).await;

    // A tricky answer, so that escaping is part of the round trip.
    let employee = server.sign_in(ACME, "employee1@acme.example").await;
    let (_, reviews) = employee.get("/api/v1/reviews").await;
    let review_id = reviews[0]["id"].as_str().expect("a review").to_owned();
    let (_, review) = employee.get(&format!("/api/v1/reviews/{review_id}")).await;
    let question = review["questions"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["kind"] == "text"))
        .and_then(|q| q["id"].as_str())
        .expect("a text question")
        .to_owned();
    let tricky = "<b>&amp;</b> \"quoted\" ]]> line\r\nnext\ttab 日本 =1+1";
    let body = json!({ "version": review["version"], "answers": { &question: tricky } });
    let (status, saved) = employee
        .patch(&format!("/api/v1/reviews/{review_id}"), body)
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");

    // An objective brought into the open cycle, so that the links travel too.
    let cycle = open_cycle(&hr).await;
    let body = json!({ "title": "Ship the export", "description": "with <every> row" });
    let (status, objective) = employee.post("/api/v1/objectives", body).await;
    assert_eq!(status, StatusCode::CREATED, "{objective}");
    let objective_id = objective["id"].as_str().expect("an objective id");
    let link = format!("/api/v1/objectives/{objective_id}/cycles/{cycle}");
    let request = employee
        .request(reqwest::Method::PUT, &link)
        .json(&json!({ "weight": 30 }));
    let (status, linked) = employee.send(request).await;
    assert_eq!(status, StatusCode::OK, "{linked}");

    let first = export_company(&hr).await;
    assert!(
        !first.contains(":v1") && !first.contains(">v1:"),
        "content is decrypted"
    );
    let root = parse(first.as_bytes()).expect("the export parses");
    let answered = section(&root, "reviews")
        .all("review")
        .flat_map(|r| r.all("answer"))
        .any(|a| a.text == tricky);
    assert!(answered, "the tricky answer is in the export as written");

    // Into a new, empty company of the same installation, through the operator's CLI.
    let file = server.data_dir.path().join("acme.xml");
    std::fs::write(&file, &first).expect("the export is saved");
    let file = file.to_str().expect("a UTF-8 path");
    operator(
        &server,
        &["company", "create", "acme-copy", "--name", "Acme copy"],
        None,
    )
    .await;
    let printed = operator(&server, &["import", "--company", "acme-copy", file], None).await;
    assert!(printed.contains("imported into acme-copy"), "{printed}");

    // The same file again is refused: the company is no longer empty.
    let again = import_output(&server, "acme-copy", Path::new(file)).await;
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("not empty"),
        "{}",
        output_text(&again)
    );

    // An HR admin of the copy exports it again: the same content, row for row.
    let second = export_copy(&server, "acme-copy", "exporter@acme.example").await;
    let before = canonical(&first, &[]);
    let after = canonical(&second, &["exporter@acme.example"]);
    assert!(
        before.len() > 50,
        "the demo company has content: {}",
        before.len()
    );
    assert_eq!(before, after);
    let (first_root, second_root) = (
        parse(first.as_bytes()).expect("the export parses"),
        parse(second.as_bytes()).expect("the export parses"),
    );
    let counts = row_counts(&first_root);
    let mut second_counts = row_counts(&second_root);
    *second_counts.get_mut("user").expect("users") -= 1;
    assert_eq!(counts, second_counts, "every section keeps its rows");
    for element in NEW_ROWS {
        assert!(
            counts.get(*element).is_some_and(|n| *n > 0),
            "the demo company's export has <{element}> rows: {counts:?}"
        );
    }
    // An objective tree: some objective names its parent, and the copy keeps the link.
    let aligned = |root: &Node| {
        section(root, "objectives")
            .all("objective")
            .filter(|o| o.get("parent-id").is_some())
            .count()
    };
    assert!(aligned(&first_root) > 0, "the demo has aligned objectives");
    assert_eq!(aligned(&first_root), aligned(&second_root));

    // The copy's content lives under new ids, sealed for its new rows.
    let copy = parse(second.as_bytes()).expect("the second export parses");
    let company = copy.all("company").next().expect("a company element");
    assert_eq!(company.get_attr("slug"), Some("acme-copy"));
    assert!(!second.contains(&review_id), "reviews got new ids");

    // Imported people have no password: signing in as one of them fails.
    let anonymous = server.anonymous();
    let body = json!({ "company": "acme-copy", "email": HR, "password": PASSWORD });
    let (status, _) = anonymous.post("/api/v1/auth/login", body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The row elements of the sections added after users, cycles and reviews, which the
/// demo company's export must carry.
const NEW_ROWS: &[&str] = &[
    "objective",
    "key-result",
    "cycle-link",
    "comment",
    "feedback-settings",
    "feedback-request",
    "feedback-answer",
];

/// How many elements of each kind an export holds, rows and their nested rows.
fn row_counts(root: &Node) -> std::collections::BTreeMap<String, usize> {
    fn walk(node: &Node, counts: &mut std::collections::BTreeMap<String, usize>) {
        for child in &node.children {
            let nested = [
                "answer",
                "cycle-link",
                "calibration",
                "rating",
                "feedback-settings",
            ];
            if child.get_attr("id").is_some() || nested.contains(&child.name.as_str()) {
                *counts.entry(child.name.clone()).or_default() += 1;
            }
            walk(child, counts);
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for section in root.children.iter().filter(|c| c.name != "company") {
        walk(section, &mut counts);
    }
    counts
}

#[tokio::test]
async fn no_anonymous_feedback_answer_leads_to_its_author() {
    let server = TestServer::demo().await;
    operator(&server, &["company", "enable-xml-export", ACME], None).await;
    let hr = server.sign_in(ACME, HR).await;
    elevate(&hr).await;
    // Anonymous answers are exported once released: the demo's feedback is closed.
    let cycle = open_cycle(&hr).await;
    close_feedback(&hr, &cycle).await;
    for path in [
        "/api/v1/admin/export.xml".to_owned(),
        format!("/api/v1/cycles/{cycle}/export.xml"),
    ] {
        let (status, _, body) = fetch(&hr, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let root = parse(body.as_bytes()).expect("the export parses");
        let users: Vec<String> = section(&root, "users")
            .all("user")
            .filter_map(|u| u.get_attr("id").map(str::to_owned))
            .collect();
        // The nominations of anonymous feedback (the demo has named feedback too).
        let anonymous_cycles: Vec<&str> = section(&root, "feedback")
            .all("feedback-settings")
            .filter(|s| s.get("anonymous") == Some("true"))
            .filter_map(|s| s.get_attr("cycle-id"))
            .collect();
        let requests: Vec<&Node> = section(&root, "feedback-requests")
            .all("feedback-request")
            .filter(|r| {
                r.get("cycle-id")
                    .is_some_and(|c| anonymous_cycles.contains(&c))
            })
            .collect();
        let answers: Vec<&Node> = section(&root, "feedback-answers")
            .all("feedback-answer")
            .collect();
        let anonymous: Vec<&&Node> = answers
            .iter()
            .filter(|a| a.get("anonymous") == Some("true"))
            .collect();
        assert!(
            anonymous.len() >= 2,
            "{path}: the demo has anonymous answers"
        );
        // The nominations say who was asked, never whether, when or what they wrote.
        assert!(
            !requests.is_empty(),
            "{path}: and the requests they answered"
        );
        for request in &requests {
            let names: Vec<&str> = request.children.iter().map(|c| c.name.as_str()).collect();
            for progress in ["status", "version", "updated-at", "answer"] {
                assert!(!names.contains(&progress), "{path}: {names:?}");
            }
            assert!(names.contains(&"reviewer-id"), "{path}: {names:?}");
        }

        // Only the cycle, the subject, the flag and the answers: no author, request or
        // time, and no user id but the subject's anywhere in the element.
        for answer in &anonymous {
            let names: Vec<&str> = answer.children.iter().map(|c| c.name.as_str()).collect();
            assert!(
                names
                    .iter()
                    .all(|n| ["cycle-id", "subject-id", "anonymous", "answer"].contains(n)),
                "{path}: {names:?}"
            );
            let mut text = String::new();
            kaizen::export::xml::render(answer, 0, &mut text);
            let subject = answer.get("subject-id").expect("a subject");
            for user in users.iter().filter(|u| *u != subject) {
                assert!(!text.contains(user.as_str()), "{path}: {text}");
            }
            for request in &requests {
                let id = request.get_attr("id").expect("a request id");
                assert!(!text.contains(id), "{path}: {text}");
            }
        }

        // The section is in the order of the answers' random ids, not of submission.
        let ids: Vec<&str> = answers.iter().filter_map(|a| a.get_attr("id")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "{path}");
    }
}

/// A company the demo does not have: a phased cycle on a 1 to 10 scale with a shared,
/// signed and calibrated manager review, and named 360 feedback with a submitted answer
/// and a draft.
const PHASED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<kaizen-export format-version="1" scope="company">
  <company id="co" slug="phased"><name>Phased</name>
    <skip-level-visible>false</skip-level-visible></company>
  <users>
    <user id="u-hr"><email>hr@phased.example</email><name>Harper</name><role>hr_admin</role>
      <disabled>false</disabled><created-at>2026-01-01T09:00:00.000Z</created-at></user>
    <user id="u-mgr"><email>mgr@phased.example</email><name>Morgan</name><role>employee</role>
      <disabled>false</disabled><created-at>2026-01-01T09:00:00.000Z</created-at></user>
    <user id="u-emp"><email>emp@phased.example</email><name>Emery</name><role>employee</role>
      <manager-id>u-mgr</manager-id><department>Ops</department><disabled>false</disabled>
      <created-at>2026-01-01T09:00:00.000Z</created-at></user>
    <user id="u-peer"><email>peer@phased.example</email><name>Pat</name><role>employee</role>
      <manager-id>u-mgr</manager-id><disabled>false</disabled>
      <created-at>2026-01-01T09:00:00.000Z</created-at></user>
  </users>
  <cycles>
    <cycle id="c1"><name>Phased 2026</name><status>open</status>
      <created-by>u-hr</created-by><created-at>2026-02-01T09:00:00.000Z</created-at>
      <phase>sign_off</phase><rating-min>1</rating-min><rating-max>10</rating-max>
      <self-review-due-at>2026-03-01T09:00:00.000Z</self-review-due-at>
      <manager-review-due-at>2026-04-01T09:00:00.000Z</manager-review-due-at>
      <sign-off-due-at>2026-05-01T09:00:00.000Z</sign-off-due-at>
      <question id="q1"><position>0</position><kind>rating</kind><prompt>Impact</prompt></question>
      <question id="q2"><position>1</position><kind>text</kind><prompt>Notes</prompt></question>
    </cycle>
  </cycles>
  <reviews>
    <review id="r1"><cycle-id>c1</cycle-id><reviewee-id>u-emp</reviewee-id>
      <reviewer-id>u-mgr</reviewer-id><kind>manager</kind><status>shared</status>
      <version>3</version><updated-at>2026-03-20T09:00:00.000Z</updated-at>
      <submitted-at>2026-03-20T09:00:00.000Z</submitted-at>
      <shared-at>2026-04-02T09:00:00.000Z</shared-at><shared-by>u-mgr</shared-by>
      <reviewee-signed-at>2026-04-03T09:00:00.000Z</reviewee-signed-at>
      <answer question-id="q1" kind="rating">6</answer>
      <answer question-id="q2" kind="text">Steady</answer>
      <calibration><calibrated-by>u-hr</calibrated-by>
        <calibrated-at>2026-04-01T12:00:00.000Z</calibrated-at>
        <rating question-id="q1">8</rating></calibration></review>
  </reviews>
  <objectives>
    <objective id="o2"><level>team</level><owner-id>u-mgr</owner-id><parent-id>o1</parent-id>
      <title>Faster releases</title><description></description><status>at_risk</status>
      <version>2</version><created-by>u-mgr</created-by>
      <created-at>2026-02-02T09:00:00.000Z</created-at>
      <updated-at>2026-02-03T09:00:00.000Z</updated-at>
      <key-result id="k1"><position>0</position><title>Lead time</title><progress>25</progress>
        <start-value>10</start-value><current-value>8.5</current-value>
        <target-value>4</target-value><updated-at>2026-02-03T09:00:00.000Z</updated-at>
      </key-result>
      <cycle-link cycle-id="c1"><weight>40</weight><linked-by>u-mgr</linked-by>
        <linked-at>2026-02-04T09:00:00.000Z</linked-at></cycle-link></objective>
    <objective id="o1"><level>company</level><owner-id>u-hr</owner-id>
      <title>Ship well</title><description>Everything, &lt;always&gt;</description>
      <status>on_track</status><weight>50</weight><version>1</version>
      <created-by>u-hr</created-by><created-at>2026-02-01T09:00:00.000Z</created-at>
      <updated-at>2026-02-01T09:00:00.000Z</updated-at></objective>
  </objectives>
  <comments>
    <comment id="m1"><review-id>r1</review-id><author-id>u-emp</author-id>
      <body>Fair, thanks</body><created-at>2026-04-03T08:00:00.000Z</created-at></comment>
    <comment id="m2"><objective-id>o2</objective-id><author-id>u-hr</author-id>
      <body>Keep going</body><created-at>2026-02-05T08:00:00.000Z</created-at></comment>
  </comments>
  <feedback>
    <feedback-settings cycle-id="c1"><enabled>true</enabled><nominated-by>reviewee</nominated-by>
      <min-reviewers>1</min-reviewers><max-reviewers>3</max-reviewers>
      <anonymous>false</anonymous><updated-at>2026-02-01T10:00:00.000Z</updated-at>
      <question id="fq1"><position>0</position><kind>text</kind><prompt>Strengths</prompt></question>
      <question id="fq2"><position>1</position><kind>rating</kind><prompt>Overall</prompt></question>
    </feedback-settings>
  </feedback>
  <feedback-requests>
    <feedback-request id="fr1"><cycle-id>c1</cycle-id><subject-id>u-emp</subject-id>
      <reviewer-id>u-peer</reviewer-id><nominated-by>u-emp</nominated-by>
      <approval>approved</approval><decided-by>u-mgr</decided-by>
      <decided-at>2026-02-06T09:00:00.000Z</decided-at>
      <created-at>2026-02-05T09:00:00.000Z</created-at><status>submitted</status>
      <version>2</version><updated-at>2026-02-07T09:00:00.000Z</updated-at></feedback-request>
    <feedback-request id="fr2"><cycle-id>c1</cycle-id><subject-id>u-emp</subject-id>
      <reviewer-id>u-mgr</reviewer-id><nominated-by>u-emp</nominated-by>
      <approval>approved</approval><decided-by>u-hr</decided-by>
      <decided-at>2026-02-06T09:00:00.000Z</decided-at>
      <created-at>2026-02-05T09:00:00.000Z</created-at><status>draft</status>
      <version>1</version><updated-at>2026-02-08T09:00:00.000Z</updated-at>
      <answer question-id="fq1" kind="text">Half written</answer></feedback-request>
  </feedback-requests>
  <feedback-answers>
    <feedback-answer id="fa1"><cycle-id>c1</cycle-id><subject-id>u-emp</subject-id>
      <anonymous>false</anonymous><author-id>u-peer</author-id><request-id>fr1</request-id>
      <submitted-at>2026-02-08T09:00:00.000Z</submitted-at>
      <answer question-id="fq1" kind="text">Clear writing</answer>
      <answer question-id="fq2" kind="rating">4</answer></feedback-answer>
  </feedback-answers>
</kaizen-export>
"#;

#[tokio::test]
async fn phases_calibrations_signatures_and_named_feedback_survive_a_round_trip() {
    let server = TestServer::demo().await;
    let dir = server.data_dir.path();
    let mut exports = Vec::new();
    let mut content = PHASED.to_owned();
    let exporters = ["exporter@phased.example", "copier@phased.example"];
    for (slug, exporter) in ["phased", "phased-copy"].into_iter().zip(exporters) {
        operator(&server, &["company", "create", slug, "--name", slug], None).await;
        let file = dir.join(format!("{slug}.xml"));
        std::fs::write(&file, &content).expect("the file is written");
        let output = import_output(&server, slug, &file).await;
        let text = output_text(&output);
        assert!(output.status.success(), "{text}");
        for count in [
            "1 calibration",
            "2 comment",
            "1 feedback-answer",
            "2 feedback-question",
            "2 feedback-request",
            "1 feedback-settings",
            "1 key-result",
            "2 objective",
        ] {
            assert!(text.contains(count), "{count:?} in {text}");
        }
        content = export_copy(&server, slug, exporter).await;
        exports.push(content.clone());
    }
    let (first, second) = (
        canonical(&exports[0], &[]),
        canonical(&exports[1], &exporters[1..]),
    );
    assert_eq!(first, second);

    // The content itself came through, under new ids and references.
    let has = |prefix: &str, parts: &[&str]| {
        first
            .iter()
            .any(|l| l.starts_with(prefix) && parts.iter().all(|p| l.contains(p)))
    };
    assert!(has("company", &["skip-level-visible=false"]), "{first:#?}");
    assert!(
        has(
            "cycle Phased 2026",
            &["phase=sign_off", "scale=1..10", "deadlines=2026-03-01"]
        ),
        "{first:#?}"
    );
    assert!(
        has(
            "review Phased 2026 emp@phased.example by mgr@phased.example manager shared",
            &[
                "shared=mgr@phased.example@2026-04-02",
                "signed=2026-04-03T09:00:00Z/-",
                "Phased 2026#0=rating:6",
                "by hr@phased.example at 2026-04-01T12:00:00Z Phased 2026#0=8",
            ]
        ),
        "{first:#?}"
    );
    assert!(
        has(
            "objective Faster releases",
            &["parent=Ship well", "status=at_risk"]
        ),
        "{first:#?}"
    );
    assert!(
        has("key-result Faster releases#0 Lead time", &["10/8.5/4"]),
        "{first:#?}"
    );
    assert!(
        has("cycle-link Faster releases -> Phased 2026", &["weight=40"]),
        "{first:#?}"
    );
    assert!(
        has(
            "comment on review=Phased 2026/emp@phased.example/manager",
            &["Fair, thanks"]
        ),
        "{first:#?}"
    );
    assert!(
        has(
            "comment on review= objective=Faster releases",
            &["Keep going"]
        ),
        "{first:#?}"
    );
    assert!(
        has(
            "feedback-answer Phased 2026 about emp@phased.example anonymous=false",
            &[
                "by=peer@phased.example",
                "request=Phased 2026/emp@phased.example/peer@phased.example",
                "at=2026-02-08T09:00:00Z",
                "Phased 2026#feedback#0=text:Clear writing",
            ]
        ),
        "{first:#?}"
    );
    assert!(
        has(
            "feedback-request Phased 2026/emp@phased.example/mgr@phased.example",
            &["draft", "Half written"]
        ),
        "{first:#?}"
    );
    let root = parse(exports[1].as_bytes()).expect("the export parses");
    let named = section(&root, "feedback-answers")
        .all("feedback-answer")
        .next()
        .expect("the named answer");
    assert!(named.get_attr("id") != Some("fa1"), "new ids");
}

/// Adds an HR admin (`email`) to the imported company `slug`, switches
/// its XML export on and answers the company's export as that HR admin.
async fn export_copy(server: &TestServer, slug: &str, email: &str) -> String {
    operator(
        server,
        &[
            "user",
            "add",
            "--company",
            slug,
            "--email",
            email,
            "--name",
            "Exporter",
            "--role",
            "hr-admin",
            "--password-stdin",
        ],
        Some(&format!("{EXPORTER_PASSWORD}\n")),
    )
    .await;
    operator(server, &["company", "enable-xml-export", slug], None).await;
    let mut exporter = server.anonymous();
    let login = json!({ "company": slug, "email": email,
                        "password": EXPORTER_PASSWORD });
    let response = exporter
        .request(reqwest::Method::POST, "/api/v1/auth/login")
        .json(&login)
        .send()
        .await
        .expect("the login is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().expect("a cookie");
    exporter.cookie = Some(cookie.split(';').next().expect("a cookie").to_owned());
    let body = json!({ "password": EXPORTER_PASSWORD });
    let (status, _) = exporter.post("/api/v1/auth/reauthenticate", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    export_company(&exporter).await
}

/// Runs `kaizen import` into `slug`; answers its output whatever the outcome.
async fn import_output(server: &TestServer, slug: &str, file: &Path) -> Output {
    let database = server.database_options();
    let keyring = server.keyring.to_str().expect("a UTF-8 path");
    let file = file.to_str().expect("a UTF-8 path");
    let mut args = vec!["import", "--company", slug, file, "--keyring", keyring];
    args.extend(database.iter().map(String::as_str));
    kaizen(&args, None).await
}

#[tokio::test]
async fn a_refused_import_names_the_problem_and_writes_nothing() {
    let server = TestServer::demo().await;
    operator(
        &server,
        &["company", "create", "empty-co", "--name", "Empty"],
        None,
    )
    .await;
    let dir = server.data_dir.path();
    let user = "<user id=\"u1\"><email>a@empty.example</email><name>A</name>\
                <role>hr_admin</role><disabled>false</disabled></user>";
    let objective = |id: &str, parent: &str| {
        format!(
            "<objective id=\"{id}\"><level>company</level><owner-id>u1</owner-id>\
             <parent-id>{parent}</parent-id><title>T</title><status>draft</status>\
             <version>1</version><created-by>u1</created-by></objective>"
        )
    };
    let cases = [
        (
            "not-xml",
            "this is not XML".to_owned(),
            "not a Kaizen export",
        ),
        (
            "unclosed",
            "<kaizen-export format-version=\"1\" scope=\"company\"><users>".to_owned(),
            "not closed",
        ),
        (
            "doctype",
            "<!DOCTYPE x [<!ENTITY e \"boom\">]><kaizen-export/>".to_owned(),
            "document type",
        ),
        (
            "version",
            "<kaizen-export format-version=\"9\" scope=\"company\"/>".to_owned(),
            "format-version",
        ),
        (
            "cycle-scope",
            "<kaizen-export format-version=\"1\" scope=\"cycle\"/>".to_owned(),
            "whole-company",
        ),
        (
            // A valid user, then a review naming a cycle that is not in the file: the
            // user must not stay behind.
            "dangling",
            format!(
                "<kaizen-export format-version=\"1\" scope=\"company\"><users>{user}</users>\
                 <reviews><review id=\"r1\"><cycle-id>nope</cycle-id></review></reviews>\
                 </kaizen-export>"
            ),
            "<review id=\"r1\">",
        ),
        (
            "bad-role",
            format!(
                "<kaizen-export format-version=\"1\" scope=\"company\"><users>{}</users>\
                 </kaizen-export>",
                user.replace("hr_admin", "owner")
            ),
            "<role> must be one of",
        ),
        (
            "objective-loop",
            format!(
                "<kaizen-export format-version=\"1\" scope=\"company\"><users>{user}</users>\
                 <objectives>{}{}</objectives></kaizen-export>",
                objective("o1", "o2"),
                objective("o2", "o1")
            ),
            "its parents form a loop",
        ),
        (
            // An anonymous answer that names its author is refused, not stored.
            "anonymous-author",
            format!(
                "<kaizen-export format-version=\"1\" scope=\"company\"><users>{user}{}\
                 </users><cycles><cycle id=\"c1\"><name>C</name><status>open</status>\
                 <created-by>u1</created-by></cycle></cycles><feedback>\
                 <feedback-settings cycle-id=\"c1\"><enabled>true</enabled>\
                 <nominated-by>hr</nominated-by><min-reviewers>1</min-reviewers>\
                 <max-reviewers>2</max-reviewers><anonymous>true</anonymous>\
                 </feedback-settings></feedback><feedback-answers>\
                 <feedback-answer id=\"a1\"><cycle-id>c1</cycle-id><subject-id>u2</subject-id>\
                 <anonymous>true</anonymous><author-id>u1</author-id></feedback-answer>\
                 </feedback-answers></kaizen-export>",
                user.replace("u1", "u2").replace("a@", "b@")
            ),
            "an anonymous answer has no author",
        ),
    ];
    for (name, content, expected) in cases {
        let file = dir.join(format!("{name}.xml"));
        std::fs::write(&file, content).expect("the file is written");
        let output = import_output(&server, "empty-co", &file).await;
        let text = output_text(&output);
        assert!(!output.status.success(), "{name} is refused: {text}");
        assert!(text.contains(expected), "{name}: {expected:?} in {text}");
    }

    // Nothing was written: a valid import still finds the company empty.
    let file = dir.join("valid.xml");
    let valid = format!(
        "<kaizen-export format-version=\"1\" scope=\"company\"><users>{user}</users>\
         </kaizen-export>"
    );
    std::fs::write(&file, valid).expect("the file is written");
    let output = import_output(&server, "empty-co", &file).await;
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(
        output_text(&output).contains("1 user"),
        "{}",
        output_text(&output)
    );
}
