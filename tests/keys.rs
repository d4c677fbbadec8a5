//! Field encryption against the real server and a real SQLite file: no written content
//! or secret reaches the database in clear, altered and moved values fail loudly, a
//! rotation under concurrent writes loses nothing, and the server refuses to start
//! without the right keys.

// The shared harness serves many test files; this one uses part of it.
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Client, DB_FILE, TestServer, code};
use kaizen::config::{DbArgs, KeyArgs};
use kaizen::{ServeConfig, Server};
use kaizen_actors::crypto::{ENCRYPTED_FIELDS, Keyring, store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// A JSON string's value; panics on anything else.
fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

/// GETs a resource that must answer 200 and returns its body.
async fn ok(client: &Client, path: &str) -> Value {
    let (status, body) = client.get(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// The caller's own self review in the demo cycle, as `GET /api/v1/reviews/{id}` shows it.
async fn own_self_review(client: &Client) -> Value {
    let me = text(&ok(client, "/api/v1/me").await["id"]);
    let reviews = ok(client, "/api/v1/reviews").await;
    let own = reviews
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["kind"] == "self" && r["reviewer_id"] == me.as_str())
        .unwrap_or_else(|| panic!("a self review among {reviews}"));
    ok(client, &format!("/api/v1/reviews/{}", text(&own["id"]))).await
}

/// The id of the first text question of a review.
fn text_question(review: &Value) -> String {
    let questions = review["questions"].as_array().expect("questions");
    let question = questions
        .iter()
        .find(|q| q["kind"] == "text")
        .unwrap_or_else(|| panic!("a text question in {review}"));
    text(&question["id"])
}

/// Saves one text answer as a draft; answers the new version.
async fn save(client: &Client, review: &Value, version: i64, answer: &str) -> i64 {
    let id = text(&review["id"]);
    let body = json!({ "answers": { text_question(review): answer }, "version": version });
    let (status, saved) = client.patch(&format!("/api/v1/reviews/{id}"), body).await;
    assert_eq!(status, StatusCode::OK, "saved: {saved}");
    saved["version"].as_i64().expect("a version")
}

/// A read-write connection to a server's database, to look behind the API and to
/// damage it on purpose.
async fn database(dir: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(dir.join(DB_FILE));
    SqlitePool::connect_with(options)
        .await
        .expect("the database opens")
}

/// The stored answers of a review.
async fn stored_answers(pool: &SqlitePool, review_id: &str) -> String {
    sqlx::query_scalar("SELECT answers FROM reviews WHERE id = ?1")
        .bind(review_id)
        .fetch_one(pool)
        .await
        .expect("the review is stored")
}

async fn store_answers(pool: &SqlitePool, review_id: &str, value: &str) {
    sqlx::query("UPDATE reviews SET answers = ?2 WHERE id = ?1")
        .bind(review_id)
        .bind(value)
        .execute(pool)
        .await
        .expect("the review is changed");
}

/// Every byte of the database's files (main file, write-ahead log, shared memory).
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the data directory lists") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with(DB_FILE) {
            bytes.extend(std::fs::read(&path).expect("a database file reads"));
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn no_answer_or_authenticator_secret_reaches_the_database_file_in_clear() {
    let server = TestServer::demo().await;
    let employee = server.sign_in("acme", "employee1@acme.example").await;
    let review = own_self_review(&employee).await;
    let marker = "Zebra-quokka marker 7f3a: écrit en clair? ✓";
    let version = review["version"].as_i64().expect("a version");
    save(&employee, &review, version, marker).await;
    let shown = own_self_review(&employee).await;
    assert_eq!(shown["answers"][text_question(&review)], marker);

    // An authenticator secret, as enrollment hands it out.
    let (status, _) = employee
        .post(
            "/api/v1/auth/reauthenticate",
            json!({ "password": server.password }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, enrollment) = employee
        .post("/api/v1/me/second-factor/totp", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{enrollment}");
    let secret = text(&enrollment["secret"]);

    // Move everything into the main file, then read every byte of every file.
    let pool = database(server.data_dir.path()).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .expect("the log checkpoints");
    let stored = stored_answers(&pool, &text(&review["id"])).await;
    pool.close().await;
    let bytes = database_bytes(server.data_dir.path());

    // The search does find what is stored in clear (names and emails stay plain)…
    assert!(contains(&bytes, "employee1@acme.example"));
    // …and finds neither the answer, nor a part of it, nor the secret.
    assert!(stored.starts_with("v1:"), "{stored}");
    // (Needles are not hex-like: hashes and ids stored in hex could contain those.)
    for needle in [marker, "Zebra-quokka", "quokka marker", secret.as_str()] {
        assert!(
            !contains(&bytes, needle),
            "{needle:?} is in the database file"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn altered_or_moved_answers_answer_decryption_failed_and_never_blank() {
    let server = TestServer::demo().await;
    let acme = server.sign_in("acme", "employee1@acme.example").await;
    let other = server.sign_in("acme", "employee2@acme.example").await;
    let globex = server.sign_in("globex", "employee1@globex.example").await;
    let review = own_self_review(&acme).await;
    let other_review = own_self_review(&other).await;
    let globex_review = own_self_review(&globex).await;
    let id = text(&review["id"]);
    let version = review["version"].as_i64().expect("a version");
    save(&acme, &review, version, "Only for this review").await;

    let pool = database(server.data_dir.path()).await;
    let sealed = stored_answers(&pool, &id).await;
    let path = format!("/api/v1/reviews/{id}");
    let expect_refused = |client: Client, path: String| async move {
        let (status, body) = client.get(&path).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {body}");
        assert_eq!(code(&body), "decryption_failed", "{body}");
        assert!(!body.to_string().contains("Only for this review"));
    };

    // One flipped byte anywhere (nonce, ciphertext or tag) is refused.
    let (prefix, encoded) = sealed.split_once(':').expect("a sealed value");
    let bytes = STANDARD.decode(encoded).expect("base64");
    for index in [0, 12, bytes.len() / 2, bytes.len() - 1] {
        let mut flipped = bytes.clone();
        flipped[index] ^= 0x20;
        let altered = format!("{prefix}:{}", STANDARD.encode(&flipped));
        store_answers(&pool, &id, &altered).await;
        expect_refused(acme.clone(), path.clone()).await;
    }
    store_answers(&pool, &id, &sealed).await;
    assert_eq!(
        ok(&acme, &path).await["answers"][text_question(&review)],
        "Only for this review"
    );

    // The same value copied into another review of the company, or of another company,
    // does not open there.
    let other_id = text(&other_review["id"]);
    store_answers(&pool, &other_id, &sealed).await;
    expect_refused(other.clone(), format!("/api/v1/reviews/{other_id}")).await;
    let globex_id = text(&globex_review["id"]);
    store_answers(&pool, &globex_id, &sealed).await;
    expect_refused(globex.clone(), format!("/api/v1/reviews/{globex_id}")).await;

    // Saving on top of an undecryptable value is refused too: nothing is overwritten
    // with a blank.
    let body = json!({ "answers": {}, "version": other_review["version"] });
    let (status, body) = other
        .patch(&format!("/api/v1/reviews/{other_id}"), body)
        .await;
    assert_eq!(code(&body), "decryption_failed", "{status} {body}");
    assert_eq!(stored_answers(&pool, &other_id).await, sealed);
    pool.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_rotation_under_concurrent_writes_loses_nothing() {
    let server = TestServer::demo().await;
    let writers = ["employee1", "employee2", "employee3", "employee4"];
    let mut clients = Vec::new();
    for local in writers {
        let client = server
            .sign_in("acme", &format!("{local}@acme.example"))
            .await;
        let review = own_self_review(&client).await;
        clients.push((client, review));
    }

    // Writers save drafts through the server until the rotation has finished; each
    // remembers its last acknowledged answer.
    let done = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (client, review) in clients {
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut version = review["version"].as_i64().expect("a version");
            let mut last = String::new();
            let mut writes = 0;
            while !done.load(Ordering::Acquire) || writes < 3 {
                last = format!("write {writes} of {}", text(&review["id"]));
                version = save(&client, &review, version, &last).await;
                writes += 1;
            }
            (client, review, last, writes)
        }));
    }

    // The rotation runs as `kaizen keys rotate` would, with its own connections.
    let keys = KeyArgs {
        keyring: Some(server.keyring.clone()),
        keys: None,
    };
    let db_args = DbArgs {
        data_dir: server.data_dir.path().to_path_buf(),
        database_url: None,
    };
    kaizen::keys::rotate(&keys, &db_args)
        .await
        .expect("the rotation finishes");
    done.store(true, Ordering::Release);

    for task in tasks {
        let (client, review, last, writes) = task.await.expect("a writer");
        assert!(writes > 3, "the writer kept writing during the rotation");
        let path = format!("/api/v1/reviews/{}", text(&review["id"]));
        let shown = ok(&client, &path).await;
        assert_eq!(shown["answers"][text_question(&review)], last.as_str());
    }

    // Every encrypted value of every company now uses version 2, and nothing else.
    let db = db_args.open().await.expect("the database opens");
    let keyring = Keyring::load(&server.keyring).expect("the keyring reads");
    assert_eq!(keyring.keys().versions(), vec![1, 2]);
    let (usages, unsealed) = store::usage(&db, &keyring).await.expect("usage counts");
    assert_eq!(unsealed, 0);
    let by_version: Vec<(u32, i64)> = usages.iter().map(|u| (u.version, u.values)).collect();
    assert_eq!(by_version[0], (1, 0), "{usages:?}");
    assert_eq!(by_version[1].0, 2);
    assert!(by_version[1].1 > 0);
    for field in ENCRYPTED_FIELDS {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {} NOT LIKE 'v2:%'",
            field.table, field.column
        );
        let (left,): (i64,) = kaizen_actors::sqlx::query_as(&sql)
            .fetch_one(db.pool())
            .await
            .expect("a count");
        assert_eq!(left, 0, "{field:?}");
    }
    db.close().await;
    server.stop().await;
}

/// A configuration over a copy of the demo data in `dir`, with `keys` as the keys.
fn config_in(dir: &Path, keys: KeyArgs) -> ServeConfig {
    let mut config = ServeConfig::for_tests(dir.to_path_buf());
    config.keys = keys;
    config
}

/// Starting must fail, with a message that contains `expected`.
async fn refused(config: ServeConfig, expected: &str) {
    match Server::start(config).await {
        Ok(server) => {
            server.shutdown().await.expect("a clean shutdown");
            panic!("the server started; expected a refusal containing {expected:?}");
        }
        Err(error) => {
            let message = format!("{error:#}");
            assert!(message.contains(expected), "{message}");
        }
    }
}

#[tokio::test]
async fn the_server_refuses_to_start_without_the_right_keys() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_, keyring) = common::copy_template(dir.path());
    let file = |path: &Path| KeyArgs {
        keyring: Some(path.to_path_buf()),
        keys: None,
    };

    // No key at all, for a database with encrypted content.
    refused(config_in(dir.path(), KeyArgs::default()), "no keyring").await;
    assert!(
        !dir.path().join("keyring").exists(),
        "no keyring was created"
    );

    // Another key under the same version.
    let wrong = dir.path().join("wrong.keyring");
    Keyring::create(&wrong).expect("a keyring");
    refused(
        config_in(dir.path(), file(&wrong)),
        "key version 1 of the keyring is not",
    )
    .await;

    // A keyring without the version the data uses.
    let missing = dir.path().join("missing.keyring");
    std::fs::write(&missing, format!("2:{}\n", STANDARD.encode([9u8; 32]))).expect("written");
    refused(
        config_in(dir.path(), file(&missing)),
        "encrypted with key version 1, which the keyring does not hold",
    )
    .await;

    // A named keyring that is not there, or broken.
    refused(
        config_in(dir.path(), file(&dir.path().join("nowhere"))),
        "cannot read the keyring file",
    )
    .await;
    std::fs::write(&missing, "1:short\n").expect("written");
    refused(config_in(dir.path(), file(&missing)), "entry 1").await;

    // Both a file and KAIZEN_KEYS.
    let both = KeyArgs {
        keyring: Some(keyring.clone()),
        keys: Some(format!("1:{}", STANDARD.encode([1u8; 32]))),
    };
    refused(config_in(dir.path(), both), "not both").await;

    // None of the refusals left a trace: the right keyring still starts it.
    let server = Server::start(config_in(dir.path(), file(&keyring)))
        .await
        .expect("the server starts with its own keyring");
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn a_new_data_directory_gets_a_private_keyring_and_a_database_url_does_not() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data");
    let server = Server::start(config_in(&data, KeyArgs::default()))
        .await
        .expect("a first start creates a keyring");
    server.shutdown().await.expect("a clean shutdown");
    let keyring = data.join("keyring");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keyring)
            .expect("a keyring")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The next start uses it; without it the start is refused.
    let server = Server::start(config_in(&data, KeyArgs::default()))
        .await
        .expect("the second start finds the keyring");
    server.shutdown().await.expect("a clean shutdown");
    std::fs::rename(&keyring, dir.path().join("moved")).expect("moved away");
    refused(config_in(&data, KeyArgs::default()), "no keyring").await;
    assert!(!keyring.exists());

    // A database named by URL never gets a keyring of its own.
    let mut config = config_in(&dir.path().join("unused"), KeyArgs::default());
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("url.sqlite3").display()
    );
    config.db.database_url = Some(url);
    refused(config, "needs --keyring").await;

    // Keys from the environment need no file.
    let mut config = config_in(&dir.path().join("env"), KeyArgs::default());
    config.keys.keys = Some(format!("1:{}", STANDARD.encode([3u8; 32])));
    let server = Server::start(config)
        .await
        .expect("starts with KAIZEN_KEYS");
    server.shutdown().await.expect("a clean shutdown");
    assert!(!dir.path().join("env").join("keyring").exists());
}

#[tokio::test]
async fn answers_stored_in_clear_before_encryption_are_sealed_at_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_, keyring) = common::copy_template(dir.path());

    // Make the copy look like a database from before field encryption.
    let pool = database(dir.path()).await;
    let review_id: String = sqlx::query_scalar(
        "SELECT r.id FROM reviews r JOIN users u ON u.id = r.reviewer_id \
         WHERE u.email = 'employee1@acme.example' AND r.kind = 'self'",
    )
    .fetch_one(&pool)
    .await
    .expect("a review");
    let question_id: String = sqlx::query_scalar(
        "SELECT q.id FROM questions q JOIN reviews r ON r.cycle_id = q.cycle_id \
         WHERE r.id = ?1 AND q.kind = 'text' ORDER BY q.position LIMIT 1",
    )
    .bind(&review_id)
    .fetch_one(&pool)
    .await
    .expect("a question");
    let old = json!({ question_id.clone(): "Written before encryption" }).to_string();
    store_answers(&pool, &review_id, &old).await;
    sqlx::query("UPDATE field_encryption SET plaintext_sealed_at = NULL")
        .execute(&pool)
        .await
        .expect("reset");

    let config = config_in(
        dir.path(),
        KeyArgs {
            keyring: Some(keyring),
            keys: None,
        },
    );
    let server = Server::start(config).await.expect("the server starts");
    let stored = stored_answers(&pool, &review_id).await;
    assert!(stored.starts_with("v1:"), "{stored}");
    pool.close().await;

    let base = format!("http://{}", server.addr());
    let client = Client {
        http: reqwest::Client::new(),
        base,
        cookie: None,
    };
    let body = json!({ "company": "acme", "email": "employee1@acme.example",
        "password": common::PASSWORD, "remember_me": false });
    let response = client
        .request(reqwest::Method::POST, "/api/v1/auth/login")
        .json(&body)
        .send()
        .await
        .expect("answered");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let client = Client {
        cookie: Some(cookie),
        ..client
    };
    let review = ok(&client, &format!("/api/v1/reviews/{review_id}")).await;
    assert_eq!(review["answers"][question_id], "Written before encryption");
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn phone_numbers_stored_in_clear_are_sealed_at_start_and_still_get_codes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mail = tempfile::tempdir().expect("a mail directory");
    let (_, keyring) = common::copy_template(dir.path());
    let phone = "+15557654321";

    // A confirmed SMS factor as an earlier version stored it: the number in clear, and
    // the start-up pass marked as done before numbers were sealed.
    let pool = database(dir.path()).await;
    let (company_id, user_id): (String, String) =
        sqlx::query_as("SELECT company_id, id FROM users WHERE email = 'employee1@acme.example'")
            .fetch_one(&pool)
            .await
            .expect("employee1");
    sqlx::query(
        "INSERT INTO sms_factors (company_id, user_id, phone, confirmed, code_hash, \
         code_expires_at, created_at) VALUES (?1, ?2, ?3, 1, NULL, 0, 0)",
    )
    .bind(&company_id)
    .bind(&user_id)
    .bind(phone)
    .execute(&pool)
    .await
    .expect("a factor in clear");
    sqlx::query("UPDATE field_encryption SET plaintext_sealed_at = NULL")
        .execute(&pool)
        .await
        .expect("reset");

    let mut config = config_in(
        dir.path(),
        KeyArgs {
            keyring: Some(keyring),
            keys: None,
        },
    );
    config.mail_dir = Some(mail.path().to_path_buf());
    let server = Server::start(config).await.expect("the server starts");
    let stored: String = sqlx::query_scalar("SELECT phone FROM sms_factors WHERE user_id = ?1")
        .bind(&user_id)
        .fetch_one(&pool)
        .await
        .expect("the factor");
    pool.close().await;
    assert!(stored.starts_with("v1:"), "sealed: {stored}");
    assert!(!stored.contains("5557654321"));

    // Signing in still texts the code to the number.
    let mut client = Client {
        http: reqwest::Client::new(),
        base: format!("http://{}", server.addr()),
        cookie: None,
    };
    let body = json!({ "company": "acme", "email": "employee1@acme.example",
        "password": common::PASSWORD, "remember_me": false });
    let response = client
        .request(reqwest::Method::POST, "/api/v1/auth/login")
        .json(&body)
        .send()
        .await
        .expect("answered");
    let cookie = response.headers()["set-cookie"].to_str().expect("a cookie");
    client.cookie = Some(cookie.split(';').next().expect("a cookie").to_owned());
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["status"], "second_factor_required", "{answer}");
    let (status, body) = client
        .post("/api/v1/auth/second-factor/sms", json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let texts: Vec<Value> = std::fs::read_dir(mail.path())
        .expect("the mail directory lists")
        .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(|message: &Value| message["kind"] == "sms")
        .collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0]["to"], phone);
    server.shutdown().await.expect("a clean shutdown");
}
