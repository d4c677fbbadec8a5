//! Backups and restores through the real binary: `kaizen backup` while the server serves
//! and saves drafts, `kaizen restore --verify` into a separate data directory, refusals of
//! changed backups and of targets that hold data, and scheduled backups with retention.

#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Client, TestServer};
use kaizen::{ServeConfig, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::Command;

const COMPANY: &str = "acme";

/// Runs the `kaizen` binary with `args` and waits for it.
async fn kaizen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kaizen"))
        .args(args)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the kaizen binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn manifest(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.manifest.json", file.display()))
}

/// The id of `client`'s own self review.
async fn own_self_review(client: &Client) -> String {
    let (_, me) = client.get("/api/v1/me").await;
    let (_, reviews) = client.get("/api/v1/reviews").await;
    reviews
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["kind"] == "self" && r["reviewer_id"] == me["id"])
        .and_then(|r| r["id"].as_str())
        .expect("a self review")
        .to_owned()
}

/// Saves drafts of `client`'s self review until `stop`, counting the saves.
async fn keep_saving(client: Client, stop: Arc<AtomicBool>, saves: Arc<AtomicUsize>) {
    let id = own_self_review(&client).await;
    let path = format!("/api/v1/reviews/{id}");
    while !stop.load(Ordering::Relaxed) {
        let (_, review) = client.get(&path).await;
        let question = review["questions"][0]["id"].as_str().expect("a question");
        let n = saves.load(Ordering::Relaxed);
        let body = json!({"answers": {question: format!("draft {n}")},
                          "version": review["version"]});
        let (status, body) = client.patch(&path, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        saves.fetch_add(1, Ordering::Relaxed);
    }
}

/// A backup taken while drafts are being saved restores into a separate data directory,
/// verifies against its manifest, and a server on the restored data signs users in and
/// shows their reviews.
#[tokio::test]
async fn a_backup_taken_while_serving_restores_and_verifies() {
    let server = TestServer::demo().await;
    let writer = server
        .sign_in(COMPANY, &format!("employee1@{COMPANY}.example"))
        .await;
    let (stop, saves) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let saving = tokio::spawn(keep_saving(writer.clone(), stop.clone(), saves.clone()));
    while saves.load(Ordering::Relaxed) < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let scratch = tempfile::tempdir().expect("a directory");
    let file = scratch.path().join("nightly.sqlite3");
    let data_dir = server.data_dir.path();
    let backup = kaizen(&["backup", "--data-dir", path(data_dir), "--out", path(&file)]).await;
    stop.store(true, Ordering::Relaxed);
    saving.await.expect("the saves all succeeded");
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(file.exists() && manifest(&file).exists());
    assert!(
        !scratch.path().join("nightly.sqlite3.partial").exists(),
        "no partial file is left"
    );
    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(manifest(&file)).expect("a manifest"))
            .expect("JSON");
    assert_eq!(recorded["format"], "kaizen-backup/1");
    assert!(
        recorded["census"]["tables"]["reviews"].is_object(),
        "{recorded}"
    );

    let restored = scratch.path().join("restored");
    // Without the keyring the encrypted answers cannot be checked: refused.
    let blind = scratch.path().join("blind");
    let restore = kaizen(&[
        "restore",
        path(&file),
        "--data-dir",
        path(&blind),
        "--verify",
    ])
    .await;
    assert!(!restore.status.success(), "{}", text(&restore));
    assert!(text(&restore).contains("keyring"), "{}", text(&restore));
    // With another keyring nothing decrypts: refused, naming the place, not the content.
    let stranger = scratch.path().join("stranger.keyring");
    kaizen_actors::crypto::Keyring::create(&stranger).expect("a new keyring");
    let wrong = scratch.path().join("wrong");
    let restore = kaizen(&[
        "restore",
        path(&file),
        "--data-dir",
        path(&wrong),
        "--verify",
        "--keyring",
        path(&stranger),
    ])
    .await;
    assert!(!restore.status.success(), "{}", text(&restore));
    assert!(
        text(&restore).contains("do not decrypt") && !text(&restore).contains("draft "),
        "{}",
        text(&restore)
    );

    let keyring = path(&server.keyring);
    let restore = kaizen(&[
        "restore",
        path(&file),
        "--data-dir",
        path(&restored),
        "--verify",
        "--keyring",
        keyring,
    ])
    .await;
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(
        text(&restore).contains("verified"),
        "it says it verified: {}",
        text(&restore)
    );

    // The restored installation works on its own.
    let mut config = ServeConfig::for_tests(restored.clone());
    config.keys.keyring = Some(server.keyring.clone());
    let running = Server::start(config)
        .await
        .expect("a server on the restored data");
    let client = Client {
        http: reqwest::Client::new(),
        base: format!("http://{}", running.addr()),
        cookie: None,
    };
    let (status, body) = client
        .post(
            "/api/v1/auth/login",
            json!({"company": COMPANY, "email": format!("employee1@{COMPANY}.example"),
                   "password": common::PASSWORD, "remember_me": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    running.shutdown().await.expect("a clean shutdown");
}

/// A changed backup file, a manifest that does not match the database, a target that
/// already holds data, and a missing manifest with --verify are all refused clearly.
#[tokio::test]
async fn restore_refuses_changed_backups_and_targets_that_hold_data() {
    let server = TestServer::demo().await;
    let scratch = tempfile::tempdir().expect("a directory");
    let file = scratch.path().join("b.sqlite3");
    let data_dir = server.data_dir.path();
    let backup = kaizen(&["backup", "--data-dir", path(data_dir), "--out", path(&file)]).await;
    assert!(backup.status.success(), "{}", text(&backup));

    let odd = scratch.path().join("night #1? 100%.sqlite3");
    let backup = kaizen(&["backup", "--data-dir", path(data_dir), "--out", path(&odd)]).await;
    assert!(
        backup.status.success(),
        "any file name works: {}",
        text(&backup)
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&odd).expect("the backup").permissions(),
    );
    assert_eq!(mode & 0o077, 0, "only the owner may read a backup");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(manifest(&odd))
            .expect("the manifest")
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "only the owner may read its manifest");

    let again = kaizen(&["backup", "--data-dir", path(data_dir), "--out", path(&file)]).await;
    assert!(!again.status.success(), "a backup never overwrites");
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    let into_live = kaizen(&["restore", path(&file), "--data-dir", path(data_dir)]).await;
    assert!(!into_live.status.success());
    assert!(
        text(&into_live).contains("already holds a database"),
        "{}",
        text(&into_live)
    );

    // A flipped byte: the checksum catches it before anything is restored.
    let damaged = scratch.path().join("damaged.sqlite3");
    let mut bytes = std::fs::read(&file).expect("the backup");
    bytes[5000] ^= 0xff;
    std::fs::write(&damaged, bytes).expect("written");
    std::fs::copy(manifest(&file), manifest(&damaged)).expect("copied");
    let target = scratch.path().join("t1");
    let restore = kaizen(&[
        "restore",
        path(&damaged),
        "--data-dir",
        path(&target),
        "--verify",
    ])
    .await;
    assert!(!restore.status.success());
    assert!(text(&restore).contains("SHA-256"), "{}", text(&restore));
    assert!(
        !target.join("kaizen.sqlite3").exists(),
        "nothing was restored"
    );

    // A manifest that records other counts: the census names the difference.
    let mut recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(manifest(&file)).expect("a manifest"))
            .expect("JSON");
    let users = recorded["census"]["tables"]["users"]
        .as_object_mut()
        .expect("users per company");
    let (company, count) = users.iter_mut().next().expect("a company with users");
    let company = company.clone();
    *count = json!(count.as_i64().expect("a count") + 1);
    std::fs::write(manifest(&file), recorded.to_string()).expect("written");
    let target = scratch.path().join("t2");
    let restore = kaizen(&[
        "restore",
        path(&file),
        "--data-dir",
        path(&target),
        "--verify",
    ])
    .await;
    assert!(!restore.status.success(), "{}", text(&restore));
    let said = text(&restore);
    assert!(
        said.contains("table users") && said.contains(&company),
        "names the table and company: {said}"
    );
    let left: Vec<_> = std::fs::read_dir(&target)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "a restore that fails its checks leaves nothing: {left:?}"
    );

    // Not a database at all: said plainly, at once.
    let garbage = scratch.path().join("garbage.sqlite3");
    std::fs::write(&garbage, b"this is not a database").expect("written");
    let target = scratch.path().join("t4");
    let restore = kaizen(&["restore", path(&garbage), "--data-dir", path(&target)]).await;
    assert!(!restore.status.success());
    assert!(
        text(&restore).contains("not a SQLite database"),
        "{}",
        text(&restore)
    );
    assert!(!target.join("kaizen.sqlite3").exists());

    std::fs::remove_file(manifest(&file)).expect("removed");
    let target = scratch.path().join("t3");
    let restore = kaizen(&[
        "restore",
        path(&file),
        "--data-dir",
        path(&target),
        "--verify",
    ])
    .await;
    assert!(!restore.status.success());
    assert!(text(&restore).contains("manifest"), "{}", text(&restore));
}

/// `--backup-every` takes backups while serving, each with its manifest, and keeps only
/// the newest `--backup-keep`.
#[tokio::test]
async fn scheduled_backups_are_taken_and_old_ones_pruned() {
    let backups = tempfile::tempdir().expect("a directory");
    let dir = backups.path().to_path_buf();
    let server = TestServer::demo_with(|config| {
        config.backup_every = Some(Duration::from_millis(300));
        config.backup_dir = Some(dir.clone());
        config.backup_keep = 2;
    })
    .await;

    let list = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".sqlite3"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    // Wait (bounded) until the first backup has been pruned away.
    let mut first = None;
    let mut pruned = false;
    for _ in 0..300 {
        let names = list();
        if first.is_none() {
            first = names.first().cloned();
        } else if let Some(oldest) = &first
            && !names.contains(oldest)
            && names.len() == 2
        {
            pruned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pruned, "the oldest backup was pruned: {:?}", list());
    // Stopping waits for a backup in progress and its pruning.
    server.stop().await;
    let names = list();
    assert_eq!(names.len(), 2, "exactly --backup-keep are left: {names:?}");
    for name in names {
        let file = dir.join(&name);
        let recorded: Value =
            serde_json::from_str(&std::fs::read_to_string(manifest(&file)).unwrap_or_default())
                .unwrap_or(Value::Null);
        assert_eq!(recorded["format"], "kaizen-backup/1", "{name}");
    }
}
