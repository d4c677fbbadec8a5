//! The shared harness of the black-box tests: a real server on an ephemeral loopback
//! port, seeded with the demo data, and a small client that signs in and speaks JSON.
//!
//! By default every server gets its own copy of a SQLite demo database. With
//! `KAIZEN_TEST_POSTGRES_URL` set (`scripts/test` sets it for its PostgreSQL pass, on a
//! throwaway cluster of its own), every server gets its own PostgreSQL database instead,
//! copied from a demo database seeded once per test process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use kaizen::config::{DbArgs, KeyArgs};
use kaizen::password::Hasher;
use kaizen::{RunningServer, ServeConfig, Server};
use kaizen_actors::Registry;
use reqwest::StatusCode;
use serde_json::Value;

/// The password of every demo user in tests.
pub const PASSWORD: &str = "correct horse battery staple";

/// The database file's name inside a data directory.
pub const DB_FILE: &str = "kaizen.sqlite3";

/// The keyring file the template's database was sealed with, created in the template's
/// data directory on its first start; each test server gets a copy.
const KEYRING_FILE: &str = "keyring";

/// A demo database seeded once per test process and copied for each server: seeding
/// hashes dozens of passwords, copying a file takes a millisecond.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("demo-template-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let seeded = dir.clone();
        // Its own thread and runtime, so the seed outlives whichever test asked first.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for seeding");
            runtime.block_on(async {
                let db_args = DbArgs {
                    data_dir: seeded,
                    database_url: None,
                };
                let db = db_args.open().await.expect("the template database opens");
                // As a first `serve` would: a new keyring in the data directory.
                let keyring = kaizen::keys::for_serve(&KeyArgs::default(), &db_args, &db)
                    .await
                    .expect("the template gets a keyring");
                let registry = seed_demo(db, keyring).await;
                // Move everything out of the write-ahead log: only the main file is
                // copied, and closing the pool does not always checkpoint first.
                kaizen_actors::sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(registry.db().pool())
                    .await
                    .expect("the template checkpoints");
                registry.db().close().await;
            });
        })
        .join()
        .expect("seeding finished");
        dir
    })
}

/// The environment variable naming the PostgreSQL server the tests run on: a URL of a
/// superuser's connection to its maintenance database (`postgres://user@host/postgres`),
/// or unset for SQLite.
pub const POSTGRES_URL_VAR: &str = "KAIZEN_TEST_POSTGRES_URL";

/// The PostgreSQL server of this test process, when [`POSTGRES_URL_VAR`] names one.
fn postgres_url() -> Option<&'static reqwest::Url> {
    static URL: OnceLock<Option<reqwest::Url>> = OnceLock::new();
    URL.get_or_init(|| {
        let raw = std::env::var(POSTGRES_URL_VAR).ok()?;
        if raw.trim().is_empty() {
            return None;
        }
        // A value that is set but unusable fails the run: falling back to SQLite would
        // pass a PostgreSQL run that never touched PostgreSQL.
        let url = reqwest::Url::parse(raw.trim())
            .unwrap_or_else(|error| panic!("{POSTGRES_URL_VAR} is not a URL: {error}"));
        assert!(
            matches!(url.scheme(), "postgres" | "postgresql"),
            "{POSTGRES_URL_VAR} must be a postgres:// URL"
        );
        Some(url)
    })
    .as_ref()
}

/// Whether this test process runs its servers on PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_url().is_some()
}

/// The URL of database `name` on the tests' PostgreSQL server.
fn postgres_database_url(name: &str) -> String {
    let mut url = postgres_url().expect("the tests run on PostgreSQL").clone();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Runs one statement on the maintenance database of the tests' PostgreSQL server, on a
/// connection of its own (`CREATE DATABASE` cannot run inside a pool's transaction).
async fn postgres_admin(statement: &str) -> Result<(), kaizen_actors::sqlx::Error> {
    use kaizen_actors::sqlx::{Connection, Executor, postgres::PgConnection};

    let url = postgres_url().expect("the tests run on PostgreSQL");
    let mut connection = PgConnection::connect(url.as_str()).await?;
    let result = connection.execute(statement).await.map(|_| ());
    connection.close().await?;
    result
}

/// The PostgreSQL demo database seeded once per test process, and its keyring.
struct PostgresTemplate {
    /// The database's name; every test server's database is a copy of it.
    name: String,
    /// The keyring the template was sealed with, created for it (a database given by
    /// URL never gets one from the server).
    keyring: PathBuf,
}

/// Seeds the PostgreSQL demo database once per test process. `CREATE DATABASE …
/// TEMPLATE` copies it in a few milliseconds, where seeding hashes dozens of passwords;
/// it is closed before anything copies it, as PostgreSQL requires.
fn postgres_template() -> &'static PostgresTemplate {
    static TEMPLATE: OnceLock<PostgresTemplate> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let pid = std::process::id();
        let name = format!("kaizen_template_{pid}");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("demo-template-postgres-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the template's keyring directory");
        let keyring = dir.join(KEYRING_FILE);
        let template = PostgresTemplate {
            name: name.clone(),
            keyring: keyring.clone(),
        };
        // Its own thread and runtime, so the seed outlives whichever test asked first.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for seeding");
            runtime.block_on(async {
                postgres_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .expect("an old template is dropped");
                postgres_admin(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("the PostgreSQL template database is created");
                let db_args = DbArgs {
                    data_dir: dir,
                    database_url: Some(postgres_database_url(&name)),
                };
                let db = db_args.open().await.expect("the template database opens");
                assert_eq!(db.backend(), kaizen_actors::db::Backend::Postgres);
                kaizen_actors::crypto::Keyring::create(&keyring)
                    .expect("the template's keyring is created");
                let key_args = KeyArgs {
                    keyring: Some(keyring),
                    keys: None,
                };
                let keyring = kaizen::keys::for_serve(&key_args, &db_args, &db)
                    .await
                    .expect("the template's keyring fits");
                let registry = seed_demo(db, keyring).await;
                registry.db().close().await;
            });
        })
        .join()
        .expect("seeding finished");
        template
    })
}

/// Seeds the demo companies into an empty database and stops its actors; answers the
/// registry, whose database the caller closes.
async fn seed_demo(
    db: kaizen_actors::Db,
    keyring: std::sync::Arc<kaizen_actors::crypto::Keyring>,
) -> std::sync::Arc<Registry> {
    let settings = kaizen_actors::company::Settings {
        keyring,
        ..Default::default()
    };
    let registry = Registry::new(db, settings);
    kaizen::demo::seed_if_empty(
        &registry,
        &Hasher::new(10).expect("password workers"),
        Some(PASSWORD.into()),
        kaizen::demo::DemoSize::default(),
    )
    .await
    .expect("the demo seeds");
    registry.shutdown().await;
    registry
}

/// A new PostgreSQL database holding a copy of the demo data; answers its name.
async fn copy_postgres_template() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let template = postgres_template();
    let name = format!(
        "kaizen_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    postgres_admin(&format!(
        "CREATE DATABASE {name} TEMPLATE {}",
        template.name
    ))
    .await
    .expect("a copy of the PostgreSQL template is created");
    name
}

/// Copies the seeded demo database into `dir` and its keyring to `dir/test.keyring`
/// (readable by its owner only: the copy keeps the mode); answers both paths. The
/// keyring is not named `keyring`, so only an explicit `--keyring` finds it.
pub fn copy_template(dir: &Path) -> (PathBuf, PathBuf) {
    let database = dir.join(DB_FILE);
    std::fs::copy(template().join(DB_FILE), &database).expect("the template database copies");
    let keyring = dir.join("test.keyring");
    std::fs::copy(template().join(KEYRING_FILE), &keyring).expect("the template keyring copies");
    (database, keyring)
}

/// A running server with its own copy of the demo data.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The demo users' password.
    pub password: String,
    /// The data directory, removed when the server is dropped.
    pub data_dir: tempfile::TempDir,
    /// The server's keyring file, a copy of the template's.
    pub keyring: PathBuf,
    /// The server's PostgreSQL database, dropped with the server; `None` on SQLite.
    postgres_database: Option<String>,
    server: Option<RunningServer>,
    /// How the server was started, to start it again on the same address and data.
    config: ServeConfig,
}

impl TestServer {
    /// Starts a server on the demo data.
    pub async fn demo() -> TestServer {
        TestServer::demo_with(|_| {}).await
    }

    /// Starts a server on the demo data with a changed configuration: a copy of the
    /// SQLite template in its data directory, or with [`POSTGRES_URL_VAR`] set, a
    /// PostgreSQL database of its own.
    pub async fn demo_with(change: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = ServeConfig::for_tests(data_dir.path().to_path_buf());
        let (keyring, postgres_database) = if on_postgres() {
            let name = copy_postgres_template().await;
            let keyring = data_dir.path().join("test.keyring");
            std::fs::copy(&postgres_template().keyring, &keyring)
                .expect("the template keyring copies");
            config.db.database_url = Some(postgres_database_url(&name));
            (keyring, Some(name))
        } else {
            (copy_template(data_dir.path()).1, None)
        };
        config.keys.keyring = Some(keyring.clone());
        change(&mut config);
        let server = Server::start(config.clone())
            .await
            .expect("the server starts");
        if let Some(name) = &postgres_database {
            assert_on_postgres(&server, name).await;
        }
        // A restart comes back on the same port, so that pages and cookies still fit.
        config.bind = server.addr();
        TestServer {
            base: format!("http://{}", server.addr()),
            password: PASSWORD.to_owned(),
            data_dir,
            keyring,
            postgres_database,
            server: Some(server),
            config,
        }
    }

    /// The running server, for tests that look behind the HTTP layer.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("the server is running")
    }

    /// The options that point a `kaizen` command at this server's database:
    /// `--data-dir <dir>` on SQLite, `--database-url <url>` on PostgreSQL.
    pub fn database_options(&self) -> Vec<String> {
        match &self.config.db.database_url {
            Some(url) => vec!["--database-url".to_owned(), url.clone()],
            None => vec![
                "--data-dir".to_owned(),
                self.config.db.data_dir.to_string_lossy().into_owned(),
            ],
        }
    }

    /// The live endpoint's WebSocket URL.
    pub fn live_url(&self) -> String {
        format!("{}/api/v1/live", self.base.replacen("http://", "ws://", 1))
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("a clean shutdown");
        }
    }

    /// Shuts the server down gracefully and keeps its data, as for a restart: until
    /// [`TestServer::start_again`], nothing listens on its port.
    pub async fn shut_down_for_now(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("a clean shutdown");
        }
    }

    /// Starts the server again on the same port and data after
    /// [`TestServer::shut_down_for_now`]; sessions stay valid.
    pub async fn start_again(&mut self) {
        assert!(self.server.is_none(), "the server is still running");
        let server = Server::start(self.config.clone())
            .await
            .expect("the server starts again on its port");
        self.server = Some(server);
    }

    /// A client without a session.
    pub fn anonymous(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            cookie: None,
        }
    }

    /// Signs in a demo user and answers a client carrying the session.
    pub async fn sign_in(&self, company: &str, email: &str) -> Client {
        let mut client = self.anonymous();
        let body = serde_json::json!({
            "company": company, "email": email, "password": self.password, "remember_me": false
        });
        let response = client
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&body)
            .send()
            .await
            .expect("the login request is answered");
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{email} of {company} signs in"
        );
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        client.cookie = Some(cookie);
        client
    }
}

/// Fails unless the server really runs on PostgreSQL database `name`: a run meant for
/// PostgreSQL that quietly used SQLite would pass without testing anything.
async fn assert_on_postgres(server: &RunningServer, name: &str) {
    let db = server.registry().db();
    assert_eq!(
        db.backend(),
        kaizen_actors::db::Backend::Postgres,
        "the server runs on PostgreSQL"
    );
    // `current_database()` exists on PostgreSQL only, and names the copy made for us.
    let (current,): (String,) =
        kaizen_actors::sqlx::query_as("SELECT CAST(current_database() AS TEXT)")
            .fetch_one(db.pool())
            .await
            .expect("PostgreSQL names its database");
    assert_eq!(current, name, "the server uses its own database");
}

impl Drop for TestServer {
    /// Drops the server's PostgreSQL database (its connections are ended first, for a
    /// server never stopped); the throwaway cluster's removal catches what fails here.
    fn drop(&mut self) {
        let Some(name) = self.postgres_database.take() else {
            return;
        };
        // Drop may run inside a test's runtime, which must not block on itself: the
        // statement runs on a thread and runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping a database");
            runtime.block_on(postgres_admin(&format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("note: a test database was not dropped: {dropped:?}");
        }
    }
}

/// A JSON client with an optional session cookie.
#[derive(Clone)]
pub struct Client {
    /// The underlying HTTP client.
    pub http: reqwest::Client,
    /// The server's base URL.
    pub base: String,
    /// `kz_session=…`, once signed in.
    pub cookie: Option<String>,
}

impl Client {
    /// A request to `path` with the session cookie, if any.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    /// Sends a request and answers the status and the JSON body (`Null` when empty).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("the request is answered");
        let status = response.status();
        let text = response.text().await.expect("a readable body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    /// GET a JSON resource.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::POST, path).json(&body))
            .await
    }

    /// PATCH a JSON body.
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::PATCH, path).json(&body))
            .await
    }
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}
