//! Evicting idle company actors against a real database: commands sent while an actor
//! is being evicted reach a fresh actor, and nothing is lost.

use std::sync::Arc;
use std::time::Duration;

use kaizen_actors::company::{NewUser, Settings};
use kaizen_actors::model::UserRole;
use kaizen_actors::{CompanyHandle, Registry, directory};

/// How long an actor may idle here: short, so that it is evicted between bursts.
const IDLE: Duration = Duration::from_millis(20);

/// How long a test waits for an eviction before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

fn new_user(email: String) -> NewUser {
    NewUser {
        name: email.clone(),
        email,
        role: UserRole::Employee,
        manager_id: None,
        password_hash: None,
    }
}

/// Waits until the registry has evicted more than `seen` actors; answers the new count.
async fn eviction_after(registry: &Registry, seen: usize) -> usize {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let evictions = registry.stats().actor_evictions;
        if evictions > seen {
            return evictions;
        }
        assert!(tokio::time::Instant::now() < deadline, "no eviction came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eviction_during_traffic_loses_no_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = kaizen_actors::Db::open_sqlite(dir.path()).await.unwrap();
    db.migrate().await.unwrap();
    let acme = directory::create_company(&db, "acme", "Acme")
        .await
        .unwrap();
    let settings = Settings {
        idle_eviction: IDLE,
        ..Settings::default()
    };
    let registry = Registry::new(db.clone(), settings);
    let handle: CompanyHandle = registry.by_id(&acme.id).await.unwrap().unwrap();

    // A trickle of writers that pause about as long as the actor may idle, so that
    // their commands keep landing around evictions, and bursts between evictions.
    let trickle = {
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut added = Vec::new();
            for n in 0..60 {
                let email = format!("trickle{n}@acme.example");
                let id = handle.add_user(new_user(email.clone())).await;
                added.push((email, id.expect("every command is answered")));
                tokio::time::sleep(IDLE + Duration::from_millis(n % 7)).await;
            }
            added
        })
    };
    let handle = Arc::new(handle);
    let mut added = Vec::new();
    let mut evictions = 0;
    for round in 0..5 {
        evictions = eviction_after(&registry, evictions).await;
        let burst: Vec<_> = (0..20)
            .map(|n| {
                let handle = handle.clone();
                let email = format!("burst{round}-{n}@acme.example");
                tokio::spawn(async move {
                    let id = handle.add_user(new_user(email.clone())).await;
                    (email, id.expect("every command is answered"))
                })
            })
            .collect();
        for task in burst {
            added.push(task.await.unwrap());
        }
    }
    added.extend(trickle.await.unwrap());

    // Every user written is there, read back through a fresh actor.
    assert!(registry.stats().actor_evictions >= 5);
    for (email, id) in added {
        let found = handle.user_id_by_email(email.clone()).await.unwrap();
        assert_eq!(found.as_deref(), Some(id.as_str()), "{email}");
    }
    registry.shutdown().await;
    assert_eq!(registry.stats().actors_alive, 0);
}

#[tokio::test]
async fn evicted_actors_of_several_companies_answer_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = kaizen_actors::Db::open_sqlite(dir.path()).await.unwrap();
    db.migrate().await.unwrap();
    let acme = directory::create_company(&db, "acme", "Acme")
        .await
        .unwrap();
    let globex = directory::create_company(&db, "globex", "Globex")
        .await
        .unwrap();
    let settings = Settings {
        idle_eviction: IDLE,
        ..Settings::default()
    };
    let registry = Registry::new(db.clone(), settings);
    let acme = registry.by_id(&acme.id).await.unwrap().unwrap();
    let globex = registry.by_id(&globex.id).await.unwrap().unwrap();
    acme.add_user(new_user("a@acme.example".into()))
        .await
        .unwrap();
    globex
        .add_user(new_user("b@globex.example".into()))
        .await
        .unwrap();

    // Both idle, both evicted; each answers again with its own company's data.
    eviction_after(&registry, 1).await;
    let found = |handle: &CompanyHandle, email: &str| {
        let (handle, email) = (handle.clone(), email.to_owned());
        async move { handle.user_id_by_email(email).await.unwrap() }
    };
    assert!(found(&acme, "a@acme.example").await.is_some());
    assert!(found(&globex, "b@globex.example").await.is_some());
    assert!(found(&acme, "b@globex.example").await.is_none());
    registry.shutdown().await;
}
