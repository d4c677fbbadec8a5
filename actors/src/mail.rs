//! Outgoing email and SMS. Real delivery (SMTP, an SMS gateway) is outside Kaizen's
//! control, so in development and tests every message is a JSON file in a directory
//! (`--mail-dir`) that people and tests read.

use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// One outgoing message, as written to the mail directory.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// What it is: `password_reset`, `password_changed`, `second_factor_changed`, …
    pub kind: &'static str,
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// The link it carries, if any (e.g. the reset link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The code it carries, if any (e.g. an SMS code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Where messages go.
#[derive(Debug, Clone, Default)]
pub struct Mailer {
    dir: Option<Arc<PathBuf>>,
    sequence: Arc<AtomicU64>,
}

impl Mailer {
    /// Delivers into `dir` as files; `None` delivers nowhere (and says so in the log).
    pub fn new(dir: Option<PathBuf>) -> Mailer {
        Mailer {
            dir: dir.map(Arc::new),
            sequence: Arc::default(),
        }
    }

    /// Whether messages are delivered anywhere.
    pub fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// Sends a message in the background, off the caller's task: file I/O runs on the
    /// blocking pool. The file is written under a temporary name and renamed, so a
    /// reader never sees half a message.
    pub fn send(&self, message: Message) {
        let Some(dir) = self.dir.clone() else {
            // Limitation: without --mail-dir nothing is delivered (no SMTP yet).
            tracing::info!(
                kind = message.kind,
                "email not sent: no mail transport configured"
            );
            return;
        };
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{n:06}-{}", crate::db::now_ms(), message.kind);
        tokio::task::spawn_blocking(move || {
            let written = std::fs::create_dir_all(dir.as_ref()).and_then(|()| {
                let json = serde_json::to_vec_pretty(&message).map_err(std::io::Error::other)?;
                let temporary = dir.join(format!(".{name}.tmp"));
                // Owner-only from the start: messages carry reset links and codes.
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&temporary)?;
                std::io::Write::write_all(&mut file, &json)?;
                drop(file);
                std::fs::rename(&temporary, dir.join(format!("{name}.json")))
            });
            if let Err(error) = written {
                tracing::error!(%error, kind = message.kind, "an email could not be delivered");
            }
        });
    }
}
