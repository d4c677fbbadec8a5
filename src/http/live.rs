//! The live gateway, `GET /api/v1/live`: one WebSocket per browser tab, carrying the
//! topics it subscribes to.
//!
//! Each connection has a reader (the client's subscribe and unsubscribe messages,
//! heartbeats, revocation and shutdown), a writer draining a bounded outbound queue, and
//! one forwarder per subscribed topic. A forwarder that cannot hand its frames to a full
//! queue falls behind its topic's broadcast channel; when that channel reports the lag,
//! the forwarder resumes from its last sequence number or takes a fresh snapshot. So a
//! slow client costs a bounded amount of memory and never holds up anyone else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use kaizen_actors::CompanyHandle;
use kaizen_actors::company::RECHECK_ALL;
use kaizen_actors::live::{Frame, Subscription};
use kaizen_actors::model::Principal;
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, interval, timeout};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::Session;
use super::origin::origin_allowed;
use crate::metrics::Metrics;

/// Frames waiting to be written to one connection. Beyond this the connection's
/// forwarders stop reading their topics and are resynced when they catch up.
const OUTBOUND_QUEUE: usize = 64;

/// The largest message a client may send; subscribe messages are tiny.
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

/// Topics one connection may follow at once.
const MAX_SUBSCRIPTIONS: usize = 16;

/// How often the server pings, and how long a peer may stay silent before it is dead.
const PING_INTERVAL: Duration = Duration::from_secs(20);
const DEAD_AFTER: Duration = Duration::from_secs(50);

/// How long one frame may take to write before the client counts as stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Close codes (RFC 6455): going away for shutdown, policy violation for an ended
/// session.
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;

/// What the writer sends.
enum Outbound {
    Frame(Arc<Frame>),
    Text(String),
    Ping,
    Close(u16, &'static str),
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe { topic: String, since: Option<u64> },
    Unsubscribe { topic: String },
}

/// Opens a live connection. The session cookie and the `Origin` are checked before the
/// upgrade: no session is a 401, another site's page a 403.
#[utoipa::path(get, path = "/api/v1/live", tag = "live",
    responses((status = 101, description = "Switching to the WebSocket protocol"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn live(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if !origin_allowed(&headers, &uri, &state.config.allowed_origins) {
        tracing::warn!("live connection from another origin refused");
        return Err(ApiError::Forbidden(
            "live connections are only for this server's pages",
        ));
    }
    let upgrade =
        upgrade.map_err(|_| ApiError::BadRequest("expected a WebSocket upgrade".into()))?;
    if state.shutdown.is_cancelled() {
        return Err(ApiError::Unavailable);
    }
    let upgrade = upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE);
    Ok(upgrade.on_upgrade(move |socket| connection(state, session, socket)))
}

async fn connection(state: AppState, session: Session, socket: WebSocket) {
    // Shutdown waits for every connection to say goodbye.
    let _tracked = state.connections.token();
    state.metrics.sockets(1);

    let (sink, mut stream) = socket.split();
    let (out, queue) = mpsc::channel(OUTBOUND_QUEUE);
    let writer = tokio::spawn(write(sink, queue, state.metrics.clone()));
    let mut revocations = session.company.revocations();
    let mut subscriptions: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut ping = interval(PING_INTERVAL);
    let mut last_heard = Instant::now();

    let close = loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                break Some((CLOSE_GOING_AWAY, "server shutting down"));
            }
            _ = out.closed() => break None,
            revoked = revocations.recv() => match revoked {
                Ok(id) if *id == *session.principal.session_id => {
                    break Some((CLOSE_POLICY, "session ended"));
                }
                // A policy change, or notices missed: check the session and address again.
                Ok(id) if &*id == RECHECK_ALL => {
                    if !still_signed_in(&session).await {
                        break Some((CLOSE_POLICY, "session ended"));
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if !still_signed_in(&session).await {
                        break Some((CLOSE_POLICY, "session ended"));
                    }
                }
                Err(broadcast::error::RecvError::Closed) => {
                    break Some((CLOSE_GOING_AWAY, "server shutting down"));
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    break None;
                }
                let _ = out.try_send(Outbound::Ping);
            }
            message = stream.next() => {
                let Some(Ok(message)) = message else { break None };
                last_heard = Instant::now();
                match message {
                    Message::Text(text) => {
                        let reply = handle(&state, &session, &out, &mut subscriptions, &text).await;
                        if let Some(reply) = reply {
                            let _ = out.send(Outbound::Text(reply)).await;
                        }
                    }
                    Message::Binary(_) => {
                        let reply = error_frame("bad_request", "send JSON text frames", None);
                        let _ = out.send(Outbound::Text(reply)).await;
                    }
                    Message::Close(_) => break None,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
        }
    };

    for (_, forwarder) in subscriptions.drain() {
        forwarder.abort();
    }
    if let Some((code, reason)) = close {
        let _ = out.send(Outbound::Close(code, reason)).await;
    }
    drop(out);
    let _ = timeout(WRITE_TIMEOUT * 2, writer).await;
    state.metrics.sockets(-1);
}

/// Re-checks the session after missing revocation notices.
async fn still_signed_in(session: &Session) -> bool {
    let hash = session.token_hash.clone();
    let ip = session.client.ip;
    let principal = session.company.authenticate(hash, ip).await;
    matches!(principal, Ok(Some(p)) if p.stage == kaizen_actors::model::Stage::Full)
}

/// Handles one client message; answers an error frame to send back, if any.
async fn handle(
    state: &AppState,
    session: &Session,
    out: &mpsc::Sender<Outbound>,
    subscriptions: &mut HashMap<String, JoinHandle<()>>,
    text: &str,
) -> Option<String> {
    let message = match serde_json::from_str::<ClientMessage>(text) {
        Ok(message) => message,
        Err(_) => {
            return Some(error_frame(
                "bad_request",
                "expected a subscribe or unsubscribe message",
                None,
            ));
        }
    };
    match message {
        ClientMessage::Unsubscribe { topic } => {
            if let Some(forwarder) = subscriptions.remove(&topic) {
                forwarder.abort();
            }
            None
        }
        ClientMessage::Subscribe { topic, since } => {
            subscriptions.retain(|_, forwarder| !forwarder.is_finished());
            if !subscriptions.contains_key(&topic) && subscriptions.len() >= MAX_SUBSCRIPTIONS {
                let message = format!("at most {MAX_SUBSCRIPTIONS} topics per connection");
                return Some(error_frame("bad_request", &message, Some(&topic)));
            }
            let principal = session.principal.clone();
            match session
                .company
                .subscribe(principal.clone(), topic.clone(), since)
                .await
            {
                Ok(subscription) => {
                    let forwarder = tokio::spawn(forward(
                        session.company.clone(),
                        principal,
                        topic.clone(),
                        subscription,
                        out.clone(),
                        state.metrics.clone(),
                    ));
                    if let Some(previous) = subscriptions.insert(topic, forwarder) {
                        previous.abort();
                    }
                    None
                }
                Err(error) => {
                    let (_, code) = ApiError::from(error).status_and_code();
                    Some(error_frame(
                        code,
                        "this topic cannot be followed",
                        Some(&topic),
                    ))
                }
            }
        }
    }
}

/// Copies one topic's frames into the connection's queue, resyncing after a lag.
async fn forward(
    company: CompanyHandle,
    principal: Principal,
    topic: String,
    mut subscription: Subscription,
    out: mpsc::Sender<Outbound>,
    metrics: Arc<Metrics>,
) {
    let mut last_seq = 0;
    loop {
        for frame in std::mem::take(&mut subscription.initial) {
            last_seq = last_seq.max(frame.seq);
            if out.send(Outbound::Frame(frame)).await.is_err() {
                return;
            }
        }
        loop {
            match subscription.events.recv().await {
                Ok(frame) if frame.seq <= last_seq => {}
                Ok(frame) => {
                    last_seq = frame.seq;
                    if out.send(Outbound::Frame(frame)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }

        // Fell behind: resume from the last frame sent, or start over from a snapshot.
        metrics.resynced();
        match company
            .subscribe(principal.clone(), topic.clone(), Some(last_seq))
            .await
        {
            Ok(fresh) => subscription = fresh,
            Err(_) => {
                let frame = error_frame("unavailable", "this topic stopped", Some(&topic));
                let _ = out.send(Outbound::Text(frame)).await;
                return;
            }
        }
    }
}

/// Writes queued frames to the socket until the queue closes or the client is stuck.
async fn write(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Outbound>,
    metrics: Arc<Metrics>,
) {
    while let Some(outbound) = queue.recv().await {
        let (message, last) = match outbound {
            Outbound::Frame(frame) => (Message::Text(frame.text.as_ref().into()), false),
            Outbound::Text(text) => (Message::Text(text.into()), false),
            Outbound::Ping => (Message::Ping(Default::default()), false),
            Outbound::Close(code, reason) => (
                Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })),
                true,
            ),
        };
        match timeout(WRITE_TIMEOUT, sink.send(message)).await {
            Ok(Ok(())) => metrics.frame_sent(),
            _ => break,
        }
        if last {
            break;
        }
    }
    let _ = timeout(WRITE_TIMEOUT, sink.close()).await;
}

fn error_frame(code: &str, message: &str, topic: Option<&str>) -> String {
    serde_json::json!({ "type": "error", "code": code, "message": message, "topic": topic })
        .to_string()
}
