//! The company guard on objectives and comments against a real database: an objective
//! or a comment whose person belongs to another company, planted with foreign keys
//! switched off, fails the whole command, changes nothing and is recorded.

use kaizen_actors::company::NewUser;
use kaizen_actors::company::comment::{Commented, NewComment};
use kaizen_actors::company::objective::{NewObjective, ObjectiveFilter, ObjectiveUpdate};
use kaizen_actors::crypto::{KeySet, Keyring};
use kaizen_actors::model::{Client, Principal, Roles, Stage, UserRole};
use kaizen_actors::sqlx::{self, Executor};
use kaizen_actors::{ActorError, CompanyHandle, Db, Registry, directory};

fn principal(company: &CompanyHandle, user_id: &str, manager: bool) -> Principal {
    Principal {
        company_id: company.company_id().to_owned(),
        user_id: user_id.to_owned(),
        session_id: String::new(),
        elevated_until: 0,
        stage: Stage::Full,
        roles: Roles {
            manager,
            hr_admin: false,
            hr_assistant: false,
        },
    }
}

async fn user(company: &CompanyHandle, email: &str, manager: Option<&str>) -> String {
    let new = NewUser {
        email: email.to_owned(),
        name: email.to_owned(),
        role: UserRole::Employee,
        manager_id: manager.map(str::to_owned),
        password_hash: None,
    };
    company.add_user(new).await.expect("the user is added")
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

/// Runs `sql` (binding `a`, `b`) with foreign keys off, as a bug or a tampered database
/// could.
async fn corrupt(db: &Db, sql: &str, a: &str, b: &str) {
    let mut conn = db.pool().acquire().await.unwrap();
    conn.execute("PRAGMA foreign_keys = OFF").await.unwrap();
    sqlx::query(sql)
        .bind(a)
        .bind(b)
        .execute(&mut *conn)
        .await
        .unwrap();
    conn.execute("PRAGMA foreign_keys = ON").await.unwrap();
}

fn new_objective(title: &str) -> NewObjective {
    NewObjective {
        title: title.to_owned(),
        description: String::new(),
        parent_id: None,
        due_at: None,
        level: None,
        owner_id: None,
        status: None,
        weight: None,
        key_results: Vec::new(),
    }
}

#[tokio::test]
async fn a_foreign_owner_or_author_fails_the_command_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(dir.path()).await.unwrap();
    db.migrate().await.unwrap();
    let a = directory::create_company(&db, "acme", "Acme")
        .await
        .unwrap();
    let b = directory::create_company(&db, "globex", "Globex")
        .await
        .unwrap();
    let settings = kaizen_actors::company::Settings {
        keyring: std::sync::Arc::new(Keyring::from_keys(KeySet::generate())),
        ..Default::default()
    };
    let registry = Registry::new(db.clone(), settings);
    let acme = registry.by_id(&a.id).await.unwrap().unwrap();
    let globex = registry.by_id(&b.id).await.unwrap().unwrap();
    let manager_id = user(&acme, "manager@acme.example", None).await;
    let employee_id = user(&acme, "employee@acme.example", Some(&manager_id)).await;
    let outsider = user(&globex, "spy@globex.example", None).await;
    let manager = principal(&acme, &manager_id, true);
    let employee = principal(&acme, &employee_id, false);

    let own = acme
        .create_objective(employee.clone(), new_objective("Mine"), Client::system())
        .await
        .unwrap();
    let other = acme
        .create_objective(
            employee.clone(),
            new_objective("Also mine"),
            Client::system(),
        )
        .await
        .unwrap();
    acme.add_comment(
        manager.clone(),
        Commented::Objective(own.id.clone()),
        NewComment {
            body: "Nice".into(),
        },
        Client::system(),
    )
    .await
    .unwrap();

    // An objective owned by another company's user fails the whole list and any
    // change through it.
    corrupt(
        &db,
        "UPDATE objectives SET owner_id = $1 WHERE id = $2",
        &outsider,
        &other.id,
    )
    .await;
    let listed = acme
        .list_objectives(manager.clone(), ObjectiveFilter::default())
        .await;
    assert!(
        matches!(listed, Err(ActorError::SecurityViolation(_))),
        "{listed:?}"
    );
    let update = ObjectiveUpdate {
        version: 1,
        title: Some("Changed".into()),
        ..Default::default()
    };
    let changed = acme
        .update_objective(employee.clone(), other.id.clone(), update, Client::system())
        .await;
    assert!(
        matches!(changed, Err(ActorError::SecurityViolation(_))),
        "{changed:?}"
    );
    let (version,): (i64,) = sqlx::query_as("SELECT version FROM objectives WHERE id = $1")
        .bind(&other.id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(version, 1);
    assert_eq!(security_events(&db, acme.company_id()).await, 2);

    // A comment whose author is another company's user fails its list.
    corrupt(
        &db,
        "UPDATE comments SET author_id = $1 WHERE objective_id = $2",
        &outsider,
        &own.id,
    )
    .await;
    let comments = acme
        .list_comments(employee.clone(), Commented::Objective(own.id.clone()))
        .await;
    assert!(
        matches!(comments, Err(ActorError::SecurityViolation(_))),
        "{comments:?}"
    );
    assert_eq!(security_events(&db, acme.company_id()).await, 3);
    registry.shutdown().await;
}
