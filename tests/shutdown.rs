//! The real `kaizen` binary under SIGTERM: it drains the requests in flight, exits 0,
//! and every save it acknowledged is in the database when it starts again.
//!
//! This runs the binary as an operator would (`kaizen serve --demo`), so it covers what
//! the in-process harness cannot: the signal handler, the exit status and a restart on
//! the same data directory.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// The demo users' password for these runs.
const PASSWORD: &str = "correct horse battery staple";

/// How long the binary may take to migrate, seed the demo and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a graceful shutdown may take.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bounds every request, so a writer never hangs on a server that went away.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How many employees save their self reviews at once.
const WRITERS: usize = 4;

/// How many saves are acknowledged before the signal goes out.
const SAVES_BEFORE_SIGNAL: usize = 40;

/// The prefix of the line the binary prints once it listens.
const LISTENING: &str = "Kaizen is listening on ";

/// A running `kaizen serve` process.
struct Kaizen {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    base: String,
    /// `127.0.0.1:<port>`.
    addr: String,
    /// Its log (standard error), for failure messages.
    log: std::path::PathBuf,
}

impl Kaizen {
    /// Starts the binary on a data directory, seeding the demo if it is empty, and
    /// waits until it prints the address it listens on.
    async fn start(data_dir: &Path, log: &Path) -> Kaizen {
        let log_file = std::fs::File::create(log).expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_kaizen"));
        // Settings of the environment the tests run in must not leak into the server.
        for (name, _) in std::env::vars() {
            if name.starts_with("KAIZEN_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--demo",
                "--bcrypt-cost",
                "10",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .env("KAIZEN_DEMO_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("the kaizen binary starts");

        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let find_address = async {
            while let Some(line) = lines.next_line().await.expect("readable stdout") {
                if let Some(rest) = line.strip_prefix(LISTENING) {
                    let url = rest.split_whitespace().next().unwrap_or("");
                    return Some(url.trim_end_matches('/').to_owned());
                }
            }
            None
        };
        let base = tokio::time::timeout(START_TIMEOUT, find_address)
            .await
            .unwrap_or_else(|_| panic!("no listening line in time; log:\n{}", read(log)))
            .unwrap_or_else(|| panic!("the binary ended before listening; log:\n{}", read(log)));
        // Keep reading stdout so that the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let addr = base
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("an http URL: {base}"))
            .to_owned();
        Kaizen {
            child,
            base,
            addr,
            log: log.to_owned(),
        }
    }

    /// Sends SIGTERM, as a service manager does.
    async fn terminate(&self) {
        let pid = self.child.id().expect("the process is running");
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {pid}");
    }

    /// Waits for the process to exit.
    async fn wait(&mut self) -> ExitStatus {
        match tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.expect("the exit status"),
            Err(_) => panic!("no exit within {EXIT_TIMEOUT:?}; log:\n{}", read(&self.log)),
        }
    }
}

/// A file's text, or a note that it cannot be read.
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({e})"))
}

/// A client of one server with one signed-in user.
struct Session {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Session {
    async fn sign_in(base: &str, email: &str) -> Session {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("an HTTP client");
        let response = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(
                &json!({"company": "acme", "email": email, "password": PASSWORD,
                          "remember_me": false}),
            )
            .send()
            .await
            .expect("the login is answered");
        assert_eq!(response.status(), StatusCode::OK, "{email} signs in");
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        Session {
            http,
            base: base.to_owned(),
            cookie,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("JSON")
    }

    /// The id of the user's own self review.
    async fn self_review(&self) -> String {
        let me = self.get("/api/v1/me").await;
        let reviews = self.get("/api/v1/reviews").await;
        reviews
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["kind"] == "self" && r["reviewer_id"] == me["id"])
            .and_then(|r| r["id"].as_str())
            .expect("a self review")
            .to_owned()
    }
}

/// What one writer saw: the last save the server acknowledged, and how it ended.
#[derive(Debug)]
struct Written {
    review_id: String,
    /// The version and the text of the last acknowledged save.
    acknowledged: Option<(i64, String)>,
    /// What ended the burst: a status other than 200, or a transport error.
    ended_by: String,
}

/// Saves drafts one after another until the server stops answering, counting each
/// acknowledged save in `acks`.
async fn burst(session: Session, acks: Arc<AtomicUsize>, enough: Arc<Notify>) -> Written {
    let review_id = session.self_review().await;
    let path = format!("{}/api/v1/reviews/{review_id}", session.base);
    let review = session.get(&format!("/api/v1/reviews/{review_id}")).await;
    let question = review["questions"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["kind"] == "text"))
        .and_then(|q| q["id"].as_str())
        .expect("a text question")
        .to_owned();
    let mut version = review["version"].as_i64().expect("a version");
    let mut acknowledged = None;

    for n in 0.. {
        let answer = format!("Save number {n}");
        let sent = session
            .http
            .patch(&path)
            .header("cookie", &session.cookie)
            .json(&json!({"answers": {question.clone(): answer}, "version": version}))
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                return Written {
                    review_id,
                    acknowledged,
                    ended_by: format!("transport: {error}"),
                };
            }
        };
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != StatusCode::OK {
            return Written {
                review_id,
                acknowledged,
                ended_by: format!("{status} {body}"),
            };
        }
        version = body["version"].as_i64().expect("the new version");
        acknowledged = Some((version, answer));
        if acks.fetch_add(1, Ordering::SeqCst) + 1 == SAVES_BEFORE_SIGNAL {
            enough.notify_one();
        }
    }
    unreachable!("the loop only ends by returning")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_in_flight_saves_exits_0_and_loses_no_acknowledged_save() {
    let data = tempfile::tempdir().expect("a data directory");
    let logs = tempfile::tempdir().expect("a log directory");
    let first_log = logs.path().join("first.log");
    let mut kaizen = Kaizen::start(data.path(), &first_log).await;

    // Employees save their self reviews as fast as the server acknowledges them.
    let mut sessions = Vec::new();
    for n in 1..=WRITERS {
        let email = format!("employee{n}@acme.example");
        sessions.push(Session::sign_in(&kaizen.base, &email).await);
    }
    let acks = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let writers: Vec<_> = sessions
        .into_iter()
        .map(|session| tokio::spawn(burst(session, acks.clone(), enough.clone())))
        .collect();

    // Mid-burst, with saves in flight, the service manager asks the server to stop.
    tokio::time::timeout(Duration::from_secs(60), enough.notified())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{SAVES_BEFORE_SIGNAL} saves in time; log:\n{}",
                read(&first_log)
            )
        });
    kaizen.terminate().await;
    let status = kaizen.wait().await;
    assert_eq!(
        status.code(),
        Some(0),
        "a clean exit; log:\n{}",
        read(&first_log)
    );

    // The writers all stop: the server no longer answers.
    let mut written = Vec::new();
    for writer in writers {
        let done = tokio::time::timeout(REQUEST_TIMEOUT * 2, writer)
            .await
            .expect("the writer ends")
            .expect("the writer does not panic");
        written.push(done);
    }
    assert!(acks.load(Ordering::SeqCst) >= SAVES_BEFORE_SIGNAL);
    for w in &written {
        // A 409 would mean a save was stored without its acknowledgement arriving.
        assert!(
            !w.ended_by.starts_with("409"),
            "{w:?}; log:\n{}",
            read(&first_log)
        );
    }

    // And the listener is gone with the process.
    let connect = tokio::net::TcpStream::connect(&kaizen.addr).await;
    assert!(
        connect.is_err(),
        "nothing listens on {} any more",
        kaizen.addr
    );

    // Restarted on the same data, the server has exactly the acknowledged saves.
    let second_log = logs.path().join("second.log");
    let mut restarted = Kaizen::start(data.path(), &second_log).await;
    for (n, w) in written.iter().enumerate() {
        let session =
            Session::sign_in(&restarted.base, &format!("employee{}@acme.example", n + 1)).await;
        let review = session
            .get(&format!("/api/v1/reviews/{}", w.review_id))
            .await;
        let (version, answer) = w
            .acknowledged
            .clone()
            .unwrap_or_else(|| panic!("writer {n} had a save acknowledged: {w:?}"));
        assert_eq!(review["version"], version, "writer {n}: {w:?}\n{review}");
        assert_eq!(review["status"], "draft");
        let answers = review["answers"].as_object().expect("answers");
        assert!(
            answers.values().any(|a| *a == answer.as_str()),
            "writer {n}: the last acknowledged answer {answer:?} in {review}"
        );
    }

    restarted.terminate().await;
    let status = restarted.wait().await;
    assert_eq!(status.code(), Some(0), "log:\n{}", read(&second_log));
}

/// Reads from a raw HTTP connection until `done` says the text read so far is complete,
/// or the peer closes.
async fn read_until(stream: &mut tokio::net::TcpStream, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    let mut buffer = [0u8; 4096];
    while !done(&text) {
        let read = tokio::time::timeout(REQUEST_TIMEOUT, stream.read(&mut buffer))
            .await
            .expect("the server answers in time");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buffer[..n])),
        }
    }
    text
}

/// Waits until nothing accepts connections on `addr` any more.
async fn wait_until_refused(addr: &str) {
    let refused = async {
        // Connection attempts are the event; the short pause only spaces them out.
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(EXIT_TIMEOUT, refused)
        .await
        .expect("the listener closes after SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_in_flight_when_sigterm_arrives_is_completed_and_kept() {
    let data = tempfile::tempdir().expect("a data directory");
    let logs = tempfile::tempdir().expect("a log directory");
    let log = logs.path().join("first.log");
    let mut kaizen = Kaizen::start(data.path(), &log).await;
    let session = Session::sign_in(&kaizen.base, "employee1@acme.example").await;
    let review_id = session.self_review().await;
    let review = session.get(&format!("/api/v1/reviews/{review_id}")).await;
    let version = review["version"].as_i64().expect("a version");
    let body = json!({"answers": {}, "version": version}).to_string();

    // Start a save and hold its body back. The server's "100 Continue" shows that the
    // request is in its handler, waiting for the body.
    let mut stream = tokio::net::TcpStream::connect(&kaizen.addr)
        .await
        .expect("a connection");
    let head = format!(
        "PATCH /api/v1/reviews/{review_id} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        kaizen.addr,
        session.cookie,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    let interim = read_until(&mut stream, |t| t.contains("\r\n\r\n")).await;
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");

    // The server is told to stop and stops accepting; only then does the body follow.
    kaizen.terminate().await;
    wait_until_refused(&kaizen.addr).await;
    stream
        .write_all(body.as_bytes())
        .await
        .expect("the body is sent");
    let answer = read_until(&mut stream, |t| t.contains("\"version\"")).await;

    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the save in flight is answered; got {answer:?}; log:\n{}",
        read(&log)
    );
    assert!(
        answer.contains(&format!("\"version\":{}", version + 1)),
        "{answer}"
    );
    let status = kaizen.wait().await;
    assert_eq!(status.code(), Some(0), "log:\n{}", read(&log));

    // The save it acknowledged is there after a restart.
    let mut restarted = Kaizen::start(data.path(), &logs.path().join("second.log")).await;
    let session = Session::sign_in(&restarted.base, "employee1@acme.example").await;
    let stored = session.get(&format!("/api/v1/reviews/{review_id}")).await;
    assert_eq!(stored["version"], version + 1);
    assert_eq!(stored["status"], "draft");
    restarted.terminate().await;
    assert_eq!(restarted.wait().await.code(), Some(0));
}
