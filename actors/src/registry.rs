//! The registry of company actors: one actor per company, spawned on first use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::task::TaskTracker;

use crate::company::{ActorStats, CompanyHandle, Settings, Spawner};
use crate::db::Db;
use crate::directory::{self, CompanyRef};

/// Maps companies to their actors.
///
/// The map sits behind a `std::sync::Mutex`, not an async one: it is held only to look up
/// or insert a handle, never across an `.await`, and that is what makes "spawn on first
/// use" race-free: two requests for a new company see one insert, so one actor.
///
/// A handle stays in the map for the life of the process (it is small: the company's
/// ids and its revocation channel); the actor behind it is evicted when idle and
/// started again by the next command (see [`CompanyHandle`]).
pub struct Registry {
    actors: Mutex<HashMap<String, CompanyHandle>>,
    spawner: Arc<Spawner>,
}

/// Figures for the metrics endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryStats {
    /// Actors running now.
    pub actors_alive: usize,
    /// Commands waiting, over all mailboxes.
    pub mailbox_depth: usize,
    /// The fullest mailbox.
    pub mailbox_depth_max: usize,
    /// Commands that panicked since start.
    pub actor_panics: usize,
    /// Idle actors evicted since start.
    pub actor_evictions: usize,
    /// Live topic subscriptions over all companies.
    pub live_subscribers: usize,
}

impl Registry {
    /// A registry over `db`; every actor gets `settings`.
    pub fn new(db: Db, settings: Settings) -> Arc<Registry> {
        Arc::new(Registry {
            actors: Mutex::new(HashMap::new()),
            spawner: Arc::new(Spawner {
                db,
                settings,
                stats: Arc::new(ActorStats::default()),
                tracker: TaskTracker::new(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The operator's alerts on security events.
    pub fn alerts(&self) -> &Arc<crate::alert::Alerts> {
        &self.spawner.settings.alerts
    }

    /// The database, for the directory and health checks.
    pub fn db(&self) -> &Db {
        &self.spawner.db
    }

    /// The actor of the company with this slug, if there is such a company.
    pub async fn by_slug(&self, slug: &str) -> Result<Option<CompanyHandle>, sqlx::Error> {
        if !directory::is_valid_slug(slug) {
            return Ok(None);
        }
        Ok(directory::find_by_slug(&self.spawner.db, slug)
            .await?
            .and_then(|c| self.handle(&c)))
    }

    /// The actor of the company with this id, if there is such a company. Ids come from
    /// cookies, so an unknown id must not create an actor.
    pub async fn by_id(&self, id: &str) -> Result<Option<CompanyHandle>, sqlx::Error> {
        if let Some(handle) = self.lock().get(id) {
            return Ok(Some(handle.clone()));
        }
        Ok(directory::find_by_id(&self.spawner.db, id)
            .await?
            .and_then(|c| self.handle(&c)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CompanyHandle>> {
        // A panic while holding this lock cannot leave the map half-updated (inserts are
        // single calls), so a poisoned lock is safe to keep using.
        self.actors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The company's actor, spawned if it is not running. `None` once shutdown began.
    fn handle(&self, company: &CompanyRef) -> Option<CompanyHandle> {
        if self.spawner.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut actors = self.lock();
        let handle = actors.entry(company.id.clone()).or_insert_with(|| {
            CompanyHandle::spawn(&company.id, &company.slug, self.spawner.clone())
        });
        Some(handle.clone())
    }

    /// Current figures for metrics.
    pub fn stats(&self) -> RegistryStats {
        let actors = self.lock();
        let depths = actors.values().map(CompanyHandle::mailbox_depth);
        RegistryStats {
            actors_alive: self.spawner.stats.alive.load(Ordering::Relaxed),
            mailbox_depth: depths.clone().sum(),
            mailbox_depth_max: depths.max().unwrap_or(0),
            actor_panics: self.spawner.stats.panics.load(Ordering::Relaxed),
            actor_evictions: self.spawner.stats.evictions.load(Ordering::Relaxed),
            live_subscribers: self.spawner.stats.subscribers.load(Ordering::Relaxed),
        }
    }

    /// Stops every actor after it has run the commands already in its mailbox, and waits
    /// for them. No new actor starts after this is called.
    pub async fn shutdown(&self) {
        self.spawner.closed.store(true, Ordering::Release);
        let handles: Vec<CompanyHandle> = self.lock().drain().map(|(_, h)| h).collect();
        for handle in &handles {
            handle.stop().await;
        }
        drop(handles);
        self.spawner.tracker.close();
        self.spawner.tracker.wait().await;
    }
}
