//! The company guard against a real database: a row of another company that reaches an
//! actor, here planted by corrupting a reference with foreign keys switched off, aborts
//! the whole command, leaves nothing written and is recorded as a security event.

use kaizen_actors::alert::Alerts;
use kaizen_actors::company::NewUser;
use kaizen_actors::crypto::{KeySet, Keyring, REVIEW_ANSWERS};
use kaizen_actors::mail::Mailer;
use kaizen_actors::model::{
    Answer, Client, DraftUpdate, NewCycle, NewQuestion, Principal, QuestionKind, ReviewKind, Roles,
    Stage, UserRole,
};
use kaizen_actors::sqlx::{self, Executor};
use kaizen_actors::{ActorError, CompanyHandle, Db, Registry, directory};

struct World {
    _dir: tempfile::TempDir,
    /// Where the operator's alert emails are delivered.
    mail: tempfile::TempDir,
    alerts: std::sync::Arc<Alerts>,
    db: Db,
    keyring: std::sync::Arc<Keyring>,
    registry: std::sync::Arc<Registry>,
    acme: CompanyHandle,
    manager: Principal,
    outsider_id: String,
}

fn principal(company: &CompanyHandle, user_id: &str, roles: Roles) -> Principal {
    Principal {
        company_id: company.company_id().to_owned(),
        user_id: user_id.to_owned(),
        session_id: String::new(),
        elevated_until: 0,
        stage: Stage::Full,
        roles,
    }
}

async fn user(
    company: &CompanyHandle,
    email: &str,
    role: UserRole,
    manager: Option<&str>,
) -> String {
    let new = NewUser {
        email: email.to_owned(),
        name: email.to_owned(),
        role,
        manager_id: manager.map(str::to_owned),
        password_hash: None,
    };
    company.add_user(new).await.expect("the user is added")
}

/// Two companies; in acme a manager with three reports, an HR admin and an open cycle.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(dir.path()).await.unwrap();
    db.migrate().await.unwrap();
    let a = directory::create_company(&db, "acme", "Acme")
        .await
        .unwrap();
    let b = directory::create_company(&db, "globex", "Globex")
        .await
        .unwrap();
    let keyring = std::sync::Arc::new(Keyring::from_keys(KeySet::generate()));
    let mail = tempfile::tempdir().unwrap();
    let mailer = Mailer::new(Some(mail.path().to_path_buf()));
    let alerts = std::sync::Arc::new(Alerts::new(mailer, Some("ops@example.com".into())));
    let settings = kaizen_actors::company::Settings {
        keyring: keyring.clone(),
        alerts: alerts.clone(),
        ..Default::default()
    };
    let registry = Registry::new(db.clone(), settings);
    let acme = registry.by_id(&a.id).await.unwrap().unwrap();
    let globex = registry.by_id(&b.id).await.unwrap().unwrap();

    let hr = user(&acme, "hr@acme.example", UserRole::HrAdmin, None).await;
    let manager = user(&acme, "manager@acme.example", UserRole::Employee, None).await;
    for n in 1..=3 {
        let email = format!("employee{n}@acme.example");
        user(&acme, &email, UserRole::Employee, Some(&manager)).await;
    }
    let outsider_id = user(&globex, "spy@globex.example", UserRole::Employee, None).await;

    let hr = principal(
        &acme,
        &hr,
        Roles {
            hr_admin: true,
            ..Roles::default()
        },
    );
    let new = NewCycle {
        name: "2026".into(),
        questions: vec![NewQuestion {
            kind: QuestionKind::Text,
            prompt: "How?".into(),
        }],
        ..NewCycle::default()
    };
    acme.create_cycle(hr, new, Client::system()).await.unwrap();
    let manager = principal(
        &acme,
        &manager,
        Roles {
            manager: true,
            ..Roles::default()
        },
    );
    World {
        _dir: dir,
        mail,
        alerts,
        db,
        keyring,
        registry,
        acme,
        manager,
        outsider_id,
    }
}

/// Points one review's reviewee at a user of another company, as a bug or a tampered
/// database could, bypassing the composite foreign keys that normally forbid it.
async fn corrupt(db: &Db, review_id: &str, foreign_user: &str) {
    let mut conn = db.pool().acquire().await.unwrap();
    conn.execute("PRAGMA foreign_keys = OFF").await.unwrap();
    sqlx::query("UPDATE reviews SET reviewee_id = $1 WHERE id = $2")
        .bind(foreign_user)
        .bind(review_id)
        .execute(&mut *conn)
        .await
        .unwrap();
    conn.execute("PRAGMA foreign_keys = ON").await.unwrap();
}

async fn security_events(db: &Db, company_id: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM security_events WHERE company_id = $1 \
         AND kind = 'cross_company_read'",
    )
    .bind(company_id)
    .fetch_one(db.pool())
    .await
    .unwrap();
    n
}

async fn review_state(db: &Db, review_id: &str) -> (String, i64, String) {
    sqlx::query_as("SELECT status, version, answers FROM reviews WHERE id = $1")
        .bind(review_id)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn one_foreign_row_fails_the_whole_list_and_is_recorded() {
    let w = world().await;
    let reviews = w.acme.list_reviews(w.manager.clone()).await.unwrap();
    let manager_reviews: Vec<_> = reviews
        .iter()
        .filter(|r| r.kind == ReviewKind::Manager)
        .collect();
    assert_eq!(
        manager_reviews.len(),
        3,
        "the manager writes one review per report"
    );

    corrupt(&w.db, &manager_reviews[1].id, &w.outsider_id).await;
    let result = w.acme.list_reviews(w.manager.clone()).await;
    assert!(
        matches!(result, Err(ActorError::SecurityViolation(_))),
        "nothing of the list is returned, not even the two good reviews: {result:?}"
    );
    assert_eq!(security_events(&w.db, w.acme.company_id()).await, 1);

    // The actor keeps serving its company after refusing.
    let own = w.acme.profile(w.manager.clone()).await.unwrap();
    assert_eq!(own.email, "manager@acme.example");
    w.registry.shutdown().await;
}

#[tokio::test]
async fn writes_through_a_foreign_row_change_nothing() {
    let w = world().await;
    let reviews = w.acme.list_reviews(w.manager.clone()).await.unwrap();
    let review = reviews
        .iter()
        .find(|r| r.kind == ReviewKind::Manager)
        .unwrap();
    let full = w
        .acme
        .get_review(w.manager.clone(), review.id.clone())
        .await
        .unwrap();
    let question = full.questions[0].id.clone();
    let update = DraftUpdate {
        answers: [(question.clone(), Some(Answer::Text("Solid year.".into())))].into(),
        version: full.summary.version,
    };
    let saved = w
        .acme
        .save_draft(
            w.manager.clone(),
            review.id.clone(),
            update,
            Client::system(),
        )
        .await
        .unwrap();
    let before = review_state(&w.db, &review.id).await;
    assert_eq!(before.1, saved.version);

    corrupt(&w.db, &review.id, &w.outsider_id).await;
    let submitted = w
        .acme
        .submit_review(w.manager.clone(), review.id.clone(), Client::system())
        .await;
    assert!(
        matches!(submitted, Err(ActorError::SecurityViolation(_))),
        "{submitted:?}"
    );
    let update = DraftUpdate {
        answers: [(question, Some(Answer::Text("Overwritten?".into())))].into(),
        version: saved.version,
    };
    let drafted = w
        .acme
        .save_draft(
            w.manager.clone(),
            review.id.clone(),
            update,
            Client::system(),
        )
        .await;
    assert!(
        matches!(drafted, Err(ActorError::SecurityViolation(_))),
        "{drafted:?}"
    );
    let read = w
        .acme
        .get_review(w.manager.clone(), review.id.clone())
        .await;
    assert!(
        matches!(read, Err(ActorError::SecurityViolation(_))),
        "{read:?}"
    );

    assert_eq!(
        review_state(&w.db, &review.id).await,
        before,
        "status, version, answers unchanged"
    );
    assert_eq!(security_events(&w.db, w.acme.company_id()).await, 3);
    w.registry.shutdown().await;
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let w = world().await;
    let reviews = w.acme.list_reviews(w.manager.clone()).await.unwrap();
    let review = reviews
        .iter()
        .find(|r| r.kind == ReviewKind::Manager)
        .unwrap();
    let full = w
        .acme
        .get_review(w.manager.clone(), review.id.clone())
        .await
        .unwrap();
    let question = full.questions[0].id.clone();
    let save = |text: &str, version| DraftUpdate {
        answers: [(question.clone(), Some(Answer::Text(text.into())))].into(),
        version,
    };
    let first = w
        .acme
        .save_draft(
            w.manager.clone(),
            review.id.clone(),
            save("first", 1),
            Client::system(),
        )
        .await;
    assert_eq!(first.unwrap().version, 2);
    let stale = w
        .acme
        .save_draft(
            w.manager.clone(),
            review.id.clone(),
            save("second", 1),
            Client::system(),
        )
        .await;
    // The same answer changed on both sides: both versions come back.
    let Err(ActorError::EditConflict(conflict)) = stale else {
        panic!("expected an edit conflict, got {stale:?}");
    };
    assert_eq!(conflict.version, 2);
    assert_eq!(conflict.answers.len(), 1);
    assert_eq!(conflict.answers[0].question_id, question);
    assert_eq!(
        conflict.answers[0].yours,
        Some(Answer::Text("second".into()))
    );
    assert_eq!(
        conflict.answers[0].theirs,
        Some(Answer::Text("first".into()))
    );
    assert_eq!(conflict.answers[0].their_version, 2);
    let (_, version, answers) = review_state(&w.db, &review.id).await;
    assert_eq!(version, 2);
    let answers = w
        .keyring
        .open(w.acme.company_id(), REVIEW_ANSWERS, &review.id, &answers)
        .unwrap();
    assert!(answers.contains("first") && !answers.contains("second"));
    w.registry.shutdown().await;
}

#[tokio::test]
async fn concurrent_first_use_spawns_one_actor_per_company() {
    let w = world().await;
    let ids: Vec<String> = directory::list(&w.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut lookups = Vec::new();
    for n in 0..64 {
        let registry = w.registry.clone();
        let id = ids[n % ids.len()].clone();
        lookups.push(tokio::spawn(async move {
            registry.by_id(&id).await.unwrap().unwrap()
        }));
    }
    for lookup in lookups {
        lookup.await.unwrap();
    }
    assert_eq!(w.registry.stats().actors_alive, 2);
    w.registry.shutdown().await;
    assert_eq!(w.registry.stats().actors_alive, 0);
}

/// The alert emails delivered so far, as JSON.
fn alert_mails(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "json").then_some(path)
        })
        .filter_map(|path| serde_json::from_slice(&std::fs::read(path).ok()?).ok())
        .filter(|mail: &serde_json::Value| mail["kind"] == "security_alert")
        .collect()
}

#[tokio::test]
async fn a_cross_company_read_alerts_the_operator_once_per_window() {
    let w = world().await;
    let reviews = w.acme.list_reviews(w.manager.clone()).await.unwrap();
    let review = reviews
        .iter()
        .find(|r| r.kind == ReviewKind::Manager)
        .unwrap();
    corrupt(&w.db, &review.id, &w.outsider_id).await;
    assert!(w.acme.list_reviews(w.manager.clone()).await.is_err());

    // The email is written off the actor's task: wait for it, with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mails = loop {
        let mails = alert_mails(w.mail.path());
        if !mails.is_empty() || std::time::Instant::now() > deadline {
            break mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], "ops@example.com");
    assert!(
        mails[0]["subject"]
            .as_str()
            .unwrap()
            .contains("cross_company_read")
    );

    // A second attempt is counted but not emailed again within the window.
    assert!(w.acme.list_reviews(w.manager.clone()).await.is_err());
    assert_eq!(w.alerts.counts(), vec![("cross_company_read", 2)]);
    w.registry.shutdown().await;
    assert_eq!(alert_mails(w.mail.path()).len(), 1);
}
