//! Starting and stopping the server: migrations, demo data, the listener, and a shutdown
//! that loses no accepted write.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kaizen_actors::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ServeConfig;
use crate::http::{AppState, router};
use crate::listener::{LimitedListener, PeerAddr};
use crate::metrics::Metrics;
use crate::password::Hasher;

/// How long shutdown waits for live connections to take their goodbye.
const LIVE_DRAIN: Duration = Duration::from_secs(10);

/// Entry point for starting a server in this process.
pub struct Server;

/// A server that is running; dropping it does not stop it, [`RunningServer::shutdown`]
/// does.
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    registry: Arc<Registry>,
}

impl Server {
    /// Opens and migrates the database, seeds the demo if asked and the database is
    /// empty, binds the listener and starts serving.
    pub async fn start(mut config: ServeConfig) -> anyhow::Result<RunningServer> {
        let db = config.db.open().await.context("cannot open the database")?;
        tracing::info!(backend = ?db.backend(), "database ready, migrations applied");
        let keyring = crate::keys::for_serve(&config.keys, &config.db, &db)
            .await
            .context("cannot use the field-encryption keys")?;
        // The keyring has them now; the configuration lives on in the HTTP state.
        config.keys.keys = None;
        let mut settings = config.actor_settings();
        settings.keyring = keyring;
        let registry = Registry::new(db, settings);
        let hasher =
            Hasher::new(config.bcrypt_cost).context("cannot start the password workers")?;

        if config.demo {
            let password = config.demo_password.clone().filter(|p| !p.is_empty());
            let size = crate::demo::DemoSize {
                companies: usize::from(config.demo_companies),
                employees: usize::from(config.demo_employees),
            };
            if crate::demo::seed_if_empty(&registry, &hasher, password, size).await? {
                tracing::info!("demo data seeded");
            }
        }
        hasher.warm_up().await;

        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let connections = TaskTracker::new();
        let schedule = config.backup_schedule();
        let reminder_every = config.reminder_every;
        let database_url = config.db.database_url.clone();
        let state = AppState {
            registry: registry.clone(),
            config: Arc::new(config),
            hasher,
            sign_in_limits: Default::default(),
            reset_limits: Default::default(),
            password_checks: Arc::new(crate::limits::password_checks()),
            code_checks: Arc::new(crate::limits::code_checks()),
            sms_sends: Arc::new(crate::limits::sms_sends()),
            lockouts_audited: Arc::new(crate::limits::lockouts_audited()),
            metrics: Arc::new(Metrics::default()),
            shutdown: shutdown.clone(),
            connections: connections.clone(),
        };
        let app = router(state).into_make_service_with_connect_info::<PeerAddr>();
        tracing::info!(%addr, "listening");

        let backups = schedule.map(|schedule| {
            tracing::info!(every = ?schedule.every, dir = %schedule.dir.display(),
                keep = schedule.keep, "scheduled backups on");
            let db = registry.db().clone();
            tokio::spawn(crate::backup::run_schedule(
                db,
                database_url,
                schedule,
                shutdown.clone(),
            ))
        });
        let reminders = tokio::spawn(crate::reminders::run(
            registry.clone(),
            reminder_every,
            shutdown.clone(),
        ));
        let stop = shutdown.clone();
        let task = tokio::spawn({
            let registry = registry.clone();
            async move {
                // Stop accepting, finish the requests in flight (each of which waits for
                // its actor command), then let live connections close with "going away".
                axum::serve(LimitedListener::new(listener), app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                    .context("the server failed")?;
                connections.close();
                if tokio::time::timeout(LIVE_DRAIN, connections.wait())
                    .await
                    .is_err()
                {
                    tracing::warn!("some live connections did not close in time");
                }

                // Actors drain their mailboxes before they stop, a backup in progress
                // finishes; then the pool closes.
                registry.shutdown().await;
                if let Some(backups) = backups {
                    let _ = backups.await;
                }
                let _ = reminders.await;
                registry.db().close().await;
                tracing::info!("shut down cleanly");
                Ok(())
            }
        });
        Ok(RunningServer {
            addr,
            shutdown,
            task,
            registry,
        })
    }
}

impl RunningServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The company actors, for tests that look behind the HTTP layer.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Begins a graceful shutdown and waits for it to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("the server task failed")?
    }

    /// A token that starts the shutdown when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Runs `kaizen serve` until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn serve_until_signal(config: ServeConfig) -> anyhow::Result<()> {
    // Listen for SIGTERM before anything starts, so that none arrives unhandled.
    let signal = shutdown_signal()?;
    let server = Server::start(config).await?;
    let token = server.shutdown_token();
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutdown signal received; draining");
        token.cancel();
    });
    println!(
        "Kaizen is listening on http://{}/ — sign in there.",
        server.addr()
    );
    server.wait().await
}

/// A future that completes at SIGTERM or Ctrl-C; the SIGTERM handler is installed now.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
