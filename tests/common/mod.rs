//! The shared harness of the black-box tests: a real server on an ephemeral loopback
//! port, seeded with the demo data, and a small client that signs in and speaks JSON.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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
    server: Option<RunningServer>,
    /// How the server was started, to start it again on the same address and data.
    config: ServeConfig,
}

impl TestServer {
    /// Starts a server on the demo data.
    pub async fn demo() -> TestServer {
        TestServer::demo_with(|_| {}).await
    }

    /// Starts a server on the demo data with a changed configuration.
    pub async fn demo_with(change: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let (_, keyring) = copy_template(data_dir.path());
        let mut config = ServeConfig::for_tests(data_dir.path().to_path_buf());
        config.keys.keyring = Some(keyring.clone());
        change(&mut config);
        let server = Server::start(config.clone())
            .await
            .expect("the server starts");
        // A restart comes back on the same port, so that pages and cookies still fit.
        config.bind = server.addr();
        TestServer {
            base: format!("http://{}", server.addr()),
            password: PASSWORD.to_owned(),
            data_dir,
            keyring,
            server: Some(server),
            config,
        }
    }

    /// The running server, for tests that look behind the HTTP layer.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("the server is running")
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
