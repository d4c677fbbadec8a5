//! The live gateway, `GET /api/v1/live`: one WebSocket per browser tab, carrying the
//! topics it subscribes to.
//!
//! Each connection has a reader (the client's subscribe and unsubscribe messages,
//! heartbeats, revocation and shutdown), a writer draining a bounded outbound queue, and
//! one forwarder per subscribed topic. A forwarder that cannot hand its frames to a full
//! queue falls behind its topic's broadcast channel; when that channel reports the lag,
//! the forwarder resumes from its last sequence number or takes a fresh snapshot. So a
//! slow client costs a bounded amount of memory and never holds up anyone else.
//!
//! Access is checked again while a subscription lasts: when the company's actor says that
//! somebody's access may have shrunk ([`RECHECK_ALL`]), and before any frame of a later
//! access epoch, a forwarder authorizes its topic again; a topic its viewer may no longer
//! read ends with a `forbidden` error frame.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use kaizen_actors::company::{RECHECK_ALL, TopicAccess, Viewer};
use kaizen_actors::live::{Frame, Subscription};
use kaizen_actors::model::Principal;
use kaizen_actors::{ActorError, CompanyHandle};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
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

/// The largest message a client may send; subscribe and presence messages are tiny.
/// A larger one closes the connection with [`CLOSE_TOO_BIG`].
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

/// The WebSocket layer's own limit, above [`MAX_CLIENT_MESSAGE`] so that a message a
/// little too large is read and answered with a close code; beyond this the library drops
/// the connection without one, before buffering more.
const MAX_PROTOCOL_MESSAGE: usize = 4 * MAX_CLIENT_MESSAGE;

/// The read buffer a connection starts with (the library's default is 128 KiB, taken
/// up front by every connection). Clients send small messages; a larger one grows it.
const READ_BUFFER: usize = 4 * 1024;

/// Messages a client may send: a burst of this many, then [`MESSAGES_PER_SECOND`].
const MESSAGE_BURST: f64 = 40.0;
const MESSAGES_PER_SECOND: f64 = 20.0;

/// Messages refused (over the rate, unreadable, unknown) a client may send before it is
/// closed with [`CLOSE_POLICY`]: a burst of this many, then one more every
/// [`VIOLATION_REFILL`]. A client with a bug gets error frames; a flood gets closed.
const VIOLATION_BURST: f64 = 10.0;
const VIOLATION_REFILL: Duration = Duration::from_secs(6);

/// Topics one connection may follow at once.
const MAX_SUBSCRIPTIONS: usize = 16;

/// How often the server pings, and how long a peer may stay silent before it is dead.
const PING_INTERVAL: Duration = Duration::from_secs(20);
const DEAD_AFTER: Duration = Duration::from_secs(50);

/// How long a closing connection waits for the client's answering close.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// How long one frame may take to write before the client counts as stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Close codes, as listed in the README. RFC 6455's own: going away (shutdown), policy
/// violation (too many refused messages), message too big.
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;

/// Kaizen's own codes (4000–4999 are for applications): the server lost track of a
/// subscription and the client should reconnect and subscribe again with `since`; the
/// session ended (logout, revocation, timeout, address no longer allowed).
const CLOSE_RESYNC: u16 = 4000;
const CLOSE_SESSION_ENDED: u16 = 4001;

/// What the writer sends.
enum Outbound {
    Frame(Arc<Frame>),
    Text(String),
    Ping,
}

/// Why a connection is closed: a close code and its reason.
type Close = (u16, &'static str);

/// A token bucket: `capacity` at most, refilled at `per_second`.
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    updated: Instant,
}

impl Bucket {
    fn new(capacity: f64, per_second: f64) -> Bucket {
        Bucket {
            tokens: capacity,
            capacity,
            per_second,
            updated: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.updated).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.capacity);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe {
        topic: String,
        since: Option<u64>,
    },
    Unsubscribe {
        topic: String,
    },
    /// Which answer of a followed review the viewer is in (`null`: none).
    Presence {
        topic: String,
        #[serde(default)]
        answer: Option<String>,
    },
}

/// Numbers live connections, for presence: unique within the process.
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

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
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_PROTOCOL_MESSAGE)
        .max_frame_size(MAX_PROTOCOL_MESSAGE);
    Ok(upgrade.on_upgrade(move |socket| connection(state, session, socket)))
}

async fn connection(state: AppState, session: Session, socket: WebSocket) {
    // Shutdown waits for every connection to say goodbye.
    let _tracked = state.connections.token();
    state.metrics.sockets(1);

    let (sink, mut stream) = socket.split();
    let (out, queue) = mpsc::channel(OUTBOUND_QUEUE);
    let (close_now, close_signal) = oneshot::channel();
    let writer = tokio::spawn(write(sink, queue, close_signal, state.metrics.clone()));
    // Forwarders that lose their topic ask the connection to close through this.
    let (closer, mut close_requests) = mpsc::channel::<Close>(1);
    let alive = Arc::new(());
    let mut live = Connection {
        viewer: Viewer::new(NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed), &alive),
        out,
        closer,
        recheck: watch::Sender::new(0),
        subscriptions: HashMap::new(),
        messages: Bucket::new(MESSAGE_BURST, MESSAGES_PER_SECOND),
        violations: Bucket::new(VIOLATION_BURST, 1.0 / VIOLATION_REFILL.as_secs_f64()),
    };
    let mut revocations = session.company.revocations();
    let mut ping = interval(PING_INTERVAL);
    let mut last_heard = Instant::now();

    let close = loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                break Some((CLOSE_GOING_AWAY, "server shutting down"));
            }
            _ = live.out.closed() => break None,
            Some(close) = close_requests.recv() => break Some(close),
            revoked = revocations.recv() => match revoked {
                Ok(id) if *id == *session.principal.session_id => {
                    break Some((CLOSE_SESSION_ENDED, "session ended"));
                }
                // Access may have shrunk, or notices were missed: check the session and
                // address again, then every topic.
                Ok(id) if &*id == RECHECK_ALL => {
                    if !still_signed_in(&session).await {
                        break Some((CLOSE_SESSION_ENDED, "session ended"));
                    }
                    live.recheck.send_modify(|n| *n += 1);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if !still_signed_in(&session).await {
                        break Some((CLOSE_SESSION_ENDED, "session ended"));
                    }
                    live.recheck.send_modify(|n| *n += 1);
                }
                Err(broadcast::error::RecvError::Closed) => {
                    break Some((CLOSE_GOING_AWAY, "server shutting down"));
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    break None;
                }
                let _ = live.out.try_send(Outbound::Ping);
            }
            message = stream.next() => {
                let Some(Ok(message)) = message else { break None };
                last_heard = Instant::now();
                let text = match message {
                    Message::Text(text) => Some(text),
                    Message::Binary(_) => None,
                    Message::Close(_) => break None,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                if let Some(close) = live.receive(&state, &session, text.as_deref()).await {
                    break Some(close);
                }
            }
        }
    };

    // Leave every review at once; the actor's sweep would notice within seconds anyway.
    drop(alive);
    for (topic, forwarder) in live.subscriptions.drain() {
        forwarder.abort();
        if let Some(review_id) = topic.strip_prefix("review:") {
            let connection = live.viewer.connection;
            let _ = session
                .company
                .leave_review(review_id.to_owned(), connection)
                .await;
        }
    }
    if let Some(close) = close {
        tracing::debug!(
            code = close.0,
            reason = close.1,
            "closing a live connection"
        );
        let _ = close_now.send(close);

        // Read on (and discard) until the client answers the close, for a moment: a
        // socket closed with unread data resets the connection, and the client could
        // lose the close frame and the last answers with it.
        let _ = timeout(CLOSE_LINGER, async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    drop(live);
    let _ = timeout(WRITE_TIMEOUT * 2, writer).await;
    state.metrics.sockets(-1);
}

/// One live connection's state, as its reader sees it.
struct Connection {
    /// This connection, for presence in reviews.
    viewer: Viewer,
    /// The writer's queue.
    out: mpsc::Sender<Outbound>,
    /// Handed to forwarders, to close the connection when a topic is lost.
    closer: mpsc::Sender<Close>,
    /// Bumped to make every forwarder authorize its topic again.
    recheck: watch::Sender<u64>,
    /// The forwarder of each followed topic.
    subscriptions: HashMap<String, JoinHandle<()>>,
    /// The client's message rate.
    messages: Bucket,
    /// The client's budget of refused messages.
    violations: Bucket,
}

impl Connection {
    /// Handles one message from the client (`None` for a binary one); answers the close
    /// to end the connection with, if it must end.
    async fn receive(
        &mut self,
        state: &AppState,
        session: &Session,
        text: Option<&str>,
    ) -> Option<Close> {
        if text.is_some_and(|t| t.len() > MAX_CLIENT_MESSAGE) {
            tracing::warn!("live message over the size limit; closing");
            return Some((CLOSE_TOO_BIG, "message too big"));
        }
        let reply = if !self.messages.take() {
            Some(error_frame(
                "rate_limited",
                &format!("at most {MESSAGES_PER_SECOND} messages a second"),
                None,
            ))
        } else {
            match text {
                Some(text) => self.handle(state, session, text).await,
                None => Some(error_frame("bad_request", "send JSON text frames", None)),
            }
        };

        // Every refusal spends from the violation budget; a client that keeps sending
        // what is refused is closed rather than answered forever.
        let reply = reply?;
        if !self.violations.take() {
            tracing::warn!("live client keeps sending refused messages; closing");
            return Some((CLOSE_POLICY, "too many refused messages"));
        }
        let _ = self.out.send(Outbound::Text(reply)).await;
        None
    }

    /// Handles one text message; answers an error frame to send back, if any.
    async fn handle(&mut self, state: &AppState, session: &Session, text: &str) -> Option<String> {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(_) => {
                return Some(error_frame(
                    "bad_request",
                    "expected a subscribe, unsubscribe or presence message",
                    None,
                ));
            }
        };
        match message {
            ClientMessage::Unsubscribe { topic } => {
                if let Some(forwarder) = self.subscriptions.remove(&topic) {
                    forwarder.abort();
                    if let Some(review_id) = topic.strip_prefix("review:") {
                        let connection = self.viewer.connection;
                        let _ = session
                            .company
                            .leave_review(review_id.to_owned(), connection)
                            .await;
                    }
                }
                None
            }
            ClientMessage::Presence { topic, answer } => {
                let Some(review_id) = topic.strip_prefix("review:") else {
                    let message = "presence is only for review topics";
                    return Some(error_frame("bad_request", message, Some(&topic)));
                };
                let following = self
                    .subscriptions
                    .get(&topic)
                    .is_some_and(|forwarder| !forwarder.is_finished());
                if !following {
                    let message = "subscribe to the review first";
                    return Some(error_frame("not_found", message, Some(&topic)));
                }
                let connection = self.viewer.connection;
                match session
                    .company
                    .move_viewer(review_id.to_owned(), connection, answer)
                    .await
                {
                    Ok(()) => None,
                    Err(error) => {
                        let error = ApiError::from(error);
                        let (_, code) = error.status_and_code();
                        Some(error_frame(code, &error.to_string(), Some(&topic)))
                    }
                }
            }
            ClientMessage::Subscribe { topic, since } => {
                self.subscriptions
                    .retain(|_, forwarder| !forwarder.is_finished());
                if !self.subscriptions.contains_key(&topic)
                    && self.subscriptions.len() >= MAX_SUBSCRIPTIONS
                {
                    let message = format!("at most {MAX_SUBSCRIPTIONS} topics per connection");
                    return Some(error_frame("bad_request", &message, Some(&topic)));
                }
                let principal = session.principal.clone();
                match session
                    .company
                    .subscribe(principal.clone(), topic.clone(), since, self.viewer.clone())
                    .await
                {
                    Ok(subscription) => {
                        let follower = Follower {
                            company: session.company.clone(),
                            principal,
                            token_hash: session.token_hash.clone(),
                            ip: session.client.ip,
                            viewer: self.viewer.clone(),
                            topic: topic.clone(),
                        };
                        let forwarder = tokio::spawn(forward(
                            follower,
                            subscription,
                            Outlets {
                                out: self.out.clone(),
                                closer: self.closer.clone(),
                                recheck: self.recheck.subscribe(),
                            },
                            state.metrics.clone(),
                        ));
                        if let Some(previous) = self.subscriptions.insert(topic, forwarder) {
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
}

/// Re-checks the session after missing revocation notices.
async fn still_signed_in(session: &Session) -> bool {
    let hash = session.token_hash.clone();
    let ip = session.client.ip;
    let principal = session.company.authenticate(hash, ip).await;
    matches!(principal, Ok(Some(p)) if p.stage == kaizen_actors::model::Stage::Full)
}

/// Who follows which topic, to subscribe again after a lag and to authorize it again.
struct Follower {
    company: CompanyHandle,
    /// The session as it was last authenticated.
    principal: Principal,
    /// The session's token hash and address, to authenticate it again.
    token_hash: String,
    ip: std::net::IpAddr,
    viewer: Viewer,
    topic: String,
}

/// Where a forwarder's frames and requests go.
struct Outlets {
    /// The connection's writer queue.
    out: mpsc::Sender<Outbound>,
    /// Asks the connection to close.
    closer: mpsc::Sender<Close>,
    /// Changes when the connection wants every topic authorized again.
    recheck: watch::Receiver<u64>,
}

/// Whether a forwarder goes on after authorizing its topic again.
enum Verdict {
    /// Still allowed: deliver frames up to this access epoch.
    Go(u64),
    /// The topic ended (refused, session over, actor gone); the connection was told.
    Stop,
}

impl Follower {
    /// Authenticates the session and authorizes the topic again. A topic no longer
    /// allowed is dropped with a `forbidden` error frame (and its presence left); an ended
    /// session closes the connection; a lost actor asks the client to resubscribe.
    async fn recheck(&mut self, outlets: &Outlets) -> Verdict {
        let access = self
            .company
            .recheck_topic(self.token_hash.clone(), self.ip, self.topic.clone())
            .await;
        match access {
            Ok(TopicAccess::Allowed { principal, epoch }) => {
                self.principal = principal;
                Verdict::Go(epoch)
            }
            Ok(TopicAccess::Refused) => {
                tracing::debug!("a live subscription lost its authorization; dropped");
                if let Some(review_id) = self.topic.strip_prefix("review:") {
                    let connection = self.viewer.connection;
                    let _ = self
                        .company
                        .leave_review(review_id.to_owned(), connection)
                        .await;
                }
                let frame = error_frame(
                    "forbidden",
                    "you may no longer follow this topic",
                    Some(&self.topic),
                );
                let _ = outlets.out.send(Outbound::Text(frame)).await;
                Verdict::Stop
            }
            Ok(TopicAccess::SessionEnded) => {
                let _ = outlets
                    .closer
                    .try_send((CLOSE_SESSION_ENDED, "session ended"));
                Verdict::Stop
            }
            // Fail closed: the client subscribes again, and is authorized then.
            Err(_) => {
                let _ = outlets
                    .closer
                    .try_send((CLOSE_RESYNC, "resubscribe with since"));
                Verdict::Stop
            }
        }
    }
}

/// Copies one topic's frames into the connection's queue, resyncing after a lag, and
/// authorizing the topic again when asked to and before any frame of a later access
/// epoch than the one it was authorized at.
async fn forward(
    mut follower: Follower,
    mut subscription: Subscription,
    mut outlets: Outlets,
    metrics: Arc<Metrics>,
) {
    let mut last_seq = 0;
    let mut authorized = subscription.epoch;
    loop {
        for frame in std::mem::take(&mut subscription.initial) {
            if frame.epoch > authorized {
                match follower.recheck(&outlets).await {
                    Verdict::Go(epoch) => authorized = epoch,
                    Verdict::Stop => return,
                }
            }
            last_seq = last_seq.max(frame.seq);
            if outlets.out.send(Outbound::Frame(frame)).await.is_err() {
                return;
            }
        }
        loop {
            let received = tokio::select! {
                changed = outlets.recheck.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    match follower.recheck(&outlets).await {
                        Verdict::Go(epoch) => authorized = authorized.max(epoch),
                        Verdict::Stop => return,
                    }
                    continue;
                }
                received = subscription.events.recv() => received,
            };
            match received {
                Ok(frame) if frame.seq <= last_seq => {}
                Ok(frame) => {
                    if frame.epoch > authorized {
                        match follower.recheck(&outlets).await {
                            Verdict::Go(epoch) => authorized = epoch,
                            Verdict::Stop => return,
                        }
                    }
                    last_seq = frame.seq;
                    if outlets.out.send(Outbound::Frame(frame)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                // The topic's actor ended under a subscriber: the client must start over.
                Err(broadcast::error::RecvError::Closed) => {
                    let _ = outlets
                        .closer
                        .try_send((CLOSE_RESYNC, "resubscribe with since"));
                    return;
                }
            }
        }

        // Fell behind: resume from the last frame sent, or start over from a snapshot,
        // as the session is now (it may have lost the topic meanwhile).
        metrics.resynced();
        let checked = match follower.recheck(&outlets).await {
            Verdict::Go(epoch) => epoch,
            Verdict::Stop => return,
        };
        let Follower {
            company,
            principal,
            viewer,
            topic,
            ..
        } = &follower;
        match company
            .subscribe(
                principal.clone(),
                topic.clone(),
                Some(last_seq),
                viewer.clone(),
            )
            .await
        {
            Ok(fresh) => {
                // Access that changed between the check and the subscription is checked
                // again before the first frame of the later epoch.
                authorized = checked.min(fresh.epoch);
                subscription = fresh;
            }
            Err(ActorError::Unavailable) => {
                let _ = outlets
                    .closer
                    .try_send((CLOSE_RESYNC, "resubscribe with since"));
                return;
            }
            Err(_) => {
                let frame = error_frame("not_found", "this topic stopped", Some(topic));
                let _ = outlets.out.send(Outbound::Text(frame)).await;
                return;
            }
        }
    }
}

/// Writes queued frames to the socket until the queue closes, a close is asked for, or
/// the client is stuck. A close goes out ahead of queued frames, except after the
/// client's own abuse, where the queued refusals go first.
async fn write(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Outbound>,
    mut close: oneshot::Receiver<Close>,
    metrics: Arc<Metrics>,
) {
    let mut close_pending = true;
    loop {
        let message = tokio::select! {
            biased;
            asked = &mut close, if close_pending => match asked {
                Ok((code, reason)) => {
                    // A client closed for what it sent first gets the answers already
                    // queued (the refusals that explain the close); a revoked session
                    // gets nothing more.
                    if code == CLOSE_POLICY || code == CLOSE_TOO_BIG {
                        while let Ok(queued) = queue.try_recv() {
                            let message = match queued {
                                Outbound::Frame(frame) => Message::Text(frame.text.as_ref().into()),
                                Outbound::Text(text) => Message::Text(text.into()),
                                Outbound::Ping => continue,
                            };
                            if !matches!(timeout(WRITE_TIMEOUT, sink.send(message)).await, Ok(Ok(()))) {
                                break;
                            }
                        }
                    }
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = timeout(WRITE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
                    break;
                }
                // The reader ended without a close frame: drain the queue as usual.
                Err(_) => {
                    close_pending = false;
                    continue;
                }
            },
            outbound = queue.recv() => match outbound {
                Some(Outbound::Frame(frame)) => Message::Text(frame.text.as_ref().into()),
                Some(Outbound::Text(text)) => Message::Text(text.into()),
                Some(Outbound::Ping) => Message::Ping(Default::default()),
                None => break,
            },
        };
        match timeout(WRITE_TIMEOUT, sink.send(message)).await {
            Ok(Ok(())) => metrics.frame_sent(),
            _ => break,
        }
    }
    let _ = timeout(WRITE_TIMEOUT, sink.close()).await;
}

fn error_frame(code: &str, message: &str, topic: Option<&str>) -> String {
    serde_json::json!({ "type": "error", "code": code, "message": message, "topic": topic })
        .to_string()
}
