//! The server's configuration: every option is a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::net::Cidr;

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory of the embedded SQLite database (ignored with --database-url).
    #[arg(long, env = "KAIZEN_DATA_DIR", default_value = "./kaizen-data")]
    pub data_dir: PathBuf,

    /// A PostgreSQL (postgres://…) or SQLite (sqlite://…) URL instead of the data directory.
    #[arg(long, env = "KAIZEN_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    /// Opens the database and brings its schema up to date.
    pub async fn open(&self) -> anyhow::Result<kaizen_actors::Db> {
        let db = match &self.database_url {
            Some(url) => kaizen_actors::Db::connect(url).await?,
            None => kaizen_actors::Db::open_sqlite(&self.data_dir).await?,
        };
        db.migrate().await?;
        Ok(db)
    }
}

/// Where the keys of field encryption come from (see [`crate::keys`]).
#[derive(Clone, Default, Args)]
pub struct KeyArgs {
    /// The keyring file: `version:base64key` entries, one a line. Without it and without
    /// KAIZEN_KEYS, `<data-dir>/keyring` is used; the first start of a new SQLite database
    /// creates it.
    #[arg(long, env = "KAIZEN_KEYRING")]
    pub keyring: Option<PathBuf>,

    /// Keys given directly, from the environment variable KAIZEN_KEYS only (a flag would
    /// show them in process lists): `version:base64key` entries separated by commas or
    /// spaces.
    #[arg(skip = std::env::var("KAIZEN_KEYS").ok().filter(|keys| !keys.trim().is_empty()))]
    pub keys: Option<String>,
}

impl std::fmt::Debug for KeyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyArgs")
            .field("keyring", &self.keyring)
            .field("keys", &self.keys.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// How `kaizen serve` runs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address and port to listen on.
    #[arg(long, env = "KAIZEN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// Seed the demo companies when the database is empty.
    #[arg(long, env = "KAIZEN_DEMO")]
    pub demo: bool,

    /// How many demo companies to seed (acme, globex, then demo3, demo4, …).
    #[arg(long, env = "KAIZEN_DEMO_COMPANIES", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=500))]
    pub demo_companies: u16,

    /// How many employees report to each demo company's manager.
    #[arg(long, env = "KAIZEN_DEMO_EMPLOYEES", default_value_t = 20,
          value_parser = clap::value_parser!(u16).range(1..=5000))]
    pub demo_employees: u16,

    /// The password of every demo user; random ones are printed once when unset.
    #[arg(long, env = "KAIZEN_DEMO_PASSWORD", hide_env_values = true)]
    pub demo_password: Option<String>,

    /// bcrypt cost for password hashes (10 to 16; each step doubles the work).
    #[arg(long, env = "KAIZEN_BCRYPT_COST", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(10..=16))]
    pub bcrypt_cost: u32,

    /// The address users reach Kaizen at (scheme://host[:port]), for links in emails.
    /// Defaults to http://<bind>.
    #[arg(long, env = "KAIZEN_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Deliver every outgoing email and SMS as a JSON file in this directory.
    #[arg(long, env = "KAIZEN_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,

    /// The operator's address for security alerts (a cross-company read, a copied
    /// remember-me token, lockouts, refused addresses): at most one email per kind every
    /// five minutes, through the same delivery as every other email.
    #[arg(long, env = "KAIZEN_ALERT_EMAIL")]
    pub alert_email: Option<String>,

    /// A proxy whose X-Forwarded-For header is believed (repeatable, CIDR or address).
    /// Without one, the client address is always the TCP peer.
    #[arg(
        long = "trusted-proxy",
        env = "KAIZEN_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<Cidr>,

    /// Another origin (scheme://host:port) allowed to open live connections and send
    /// state-changing requests, besides the server's own (repeatable).
    #[arg(
        long = "allowed-origin",
        env = "KAIZEN_ALLOWED_ORIGIN",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "KAIZEN_SESSION_IDLE_MINUTES", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub session_idle_minutes: u32,

    /// Hours after sign-in after which a session ends whatever its use.
    #[arg(long, env = "KAIZEN_SESSION_MAX_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub session_max_hours: u32,

    /// Days after sign-in that a remember-me token signs the browser back in.
    #[arg(long, env = "KAIZEN_REMEMBER_ME_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=400))]
    pub remember_me_days: u32,

    /// How long a rotated remember-me token still works (milliseconds); not an option,
    /// tests shorten it.
    #[arg(skip = kaizen_actors::company::ROTATION_GRACE_MS)]
    pub remember_rotation_grace_ms: i64,

    /// Take a backup this often while serving, e.g. `24h`, `6h`, `30m` (off by default).
    #[arg(long, env = "KAIZEN_BACKUP_EVERY", value_parser = crate::backup::parse_period)]
    pub backup_every: Option<std::time::Duration>,

    /// Where scheduled backups go (default: `backups/` in the data directory).
    #[arg(long, env = "KAIZEN_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,

    /// How many scheduled backups to keep; older ones are deleted.
    #[arg(long, env = "KAIZEN_BACKUP_KEEP", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub backup_keep: u32,
    /// Seconds a company's actor may stay without commands and live subscribers before
    /// its memory is freed; the next request starts it again.
    #[arg(long, env = "KAIZEN_ACTOR_IDLE_SECONDS", default_value_t = 600,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub actor_idle_seconds: u32,

    /// How often cycle reminders are looked for and sent (e.g. `15m`): each person with
    /// unfinished work gets one email within two days of a phase deadline and one once
    /// it has passed.
    #[arg(long, env = "KAIZEN_REMINDER_EVERY", default_value = "15m",
          value_parser = crate::backup::parse_period)]
    pub reminder_every: std::time::Duration,

    /// Mark cookies Secure. Turn on whenever users reach Kaizen over HTTPS (behind a
    /// TLS-terminating proxy).
    #[arg(long, env = "KAIZEN_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

impl ServeConfig {
    /// A configuration for tests and embedding: loopback on an ephemeral port, the given
    /// data directory, the cheapest bcrypt cost allowed. No keyring is named: a new data
    /// directory gets its own keyring file on start, and a test that brings a database
    /// sets `keys.keyring` to the keyring that goes with it.
    pub fn for_tests(data_dir: PathBuf) -> ServeConfig {
        ServeConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: DbArgs {
                data_dir,
                database_url: None,
            },
            keys: KeyArgs::default(),
            demo: false,
            demo_password: None,
            demo_companies: 2,
            demo_employees: 20,
            bcrypt_cost: 10,
            mail_dir: None,
            alert_email: None,
            public_url: None,
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            session_idle_minutes: 120,
            session_max_hours: 12,
            remember_me_days: 30,
            remember_rotation_grace_ms: kaizen_actors::company::ROTATION_GRACE_MS,
            backup_every: None,
            backup_dir: None,
            backup_keep: 7,
            actor_idle_seconds: 600,
            reminder_every: std::time::Duration::from_secs(15 * 60),
            secure_cookies: false,
        }
    }

    /// The backup schedule, when `--backup-every` asks for one.
    pub fn backup_schedule(&self) -> Option<crate::backup::Schedule> {
        Some(crate::backup::Schedule {
            every: self.backup_every?,
            dir: self
                .backup_dir
                .clone()
                .unwrap_or_else(|| self.db.data_dir.join("backups")),
            keep: self.backup_keep as usize,
        })
    }

    /// What every company actor is configured with, but for the keyring, which
    /// [`crate::keys::for_serve`] gives once it is checked.
    pub fn actor_settings(&self) -> kaizen_actors::company::Settings {
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind));
        let mailer = kaizen_actors::mail::Mailer::new(self.mail_dir.clone());
        let alerts = kaizen_actors::alert::Alerts::new(mailer.clone(), self.alert_email.clone());
        kaizen_actors::company::Settings {
            sessions: self.session_policy(),
            mailer,
            alerts: std::sync::Arc::new(alerts),
            public_url: public_url.trim_end_matches('/').into(),
            // No keys until the server has checked its keyring against the database.
            keyring: Default::default(),
            idle_eviction: std::time::Duration::from_secs(u64::from(self.actor_idle_seconds)),
        }
    }

    /// The session lifetimes for the actors.
    pub fn session_policy(&self) -> kaizen_actors::company::SessionPolicy {
        const MINUTE: i64 = 60_000;
        kaizen_actors::company::SessionPolicy {
            idle_timeout_ms: i64::from(self.session_idle_minutes) * MINUTE,
            absolute_timeout_ms: i64::from(self.session_max_hours) * 60 * MINUTE,
            remember_me_ms: i64::from(self.remember_me_days) * 24 * 60 * MINUTE,
            rotation_grace_ms: self.remember_rotation_grace_ms,
        }
    }
}
