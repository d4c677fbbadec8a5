//! An HR dashboard: one WebSocket on `/api/v1/live`, subscribed to the
//! open cycle's progress topic.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::{COOKIE, ORIGIN};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::accounting::SocketTracker;
use crate::config::Config;
use crate::session::Session;
use crate::stats::{Kind, Outcome, Recorder};

pub(crate) type Socket = WebSocketStream<TcpStream>;

/// How long the upgrade plus the snapshot may take before the dashboard
/// counts as failed.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A frame from the server, reduced to what the accounting needs.
#[derive(Debug, PartialEq)]
enum Frame {
    Snapshot {
        topic: String,
        seq: u64,
        count: u64,
    },
    Progress {
        topic: String,
        seq: u64,
        count: u64,
    },
    Error,
    /// Well-formed but not of interest (another event name, say).
    Other,
}

/// A subscribed socket and the tracker its events go into.
pub(crate) struct Dashboard {
    socket: Socket,
    topic: String,
    pub(crate) tracker: Arc<Mutex<SocketTracker>>,
}

/// Opens the socket as `session`, subscribes to `cycle:<cycle_id>` and waits
/// for the snapshot. The whole exchange is one `subscribe` sample.
pub(crate) async fn subscribe(
    config: &Config,
    session: &Session,
    cycle_id: &str,
    rec: &Recorder,
) -> Option<Dashboard> {
    let topic = format!("cycle:{cycle_id}");
    let started = Instant::now();
    let result = tokio::time::timeout(SUBSCRIBE_TIMEOUT, open(config, session, &topic)).await;
    let outcome = match result {
        Ok(Ok((socket, tracker))) => {
            rec.sample(Kind::Subscribe, started, Outcome::Subscribed);
            let tracker = Arc::new(Mutex::new(tracker));
            return Some(Dashboard {
                socket,
                topic,
                tracker,
            });
        }
        Ok(Err(outcome)) => outcome,
        Err(_) => Outcome::Failed("timeout"),
    };
    rec.sample(Kind::Subscribe, started, outcome);
    None
}

async fn open(
    config: &Config,
    session: &Session,
    topic: &str,
) -> Result<(Socket, SocketTracker), Outcome> {
    let mut socket = upgrade(config, session).await?;
    let subscribe = json!({ "type": "subscribe", "topic": topic }).to_string();
    socket
        .send(Message::text(subscribe))
        .await
        .map_err(|_| Outcome::Failed("ws_send"))?;

    // Events sent before the snapshot are not counted: the snapshot is the
    // baseline. The caller's timeout bounds this loop.
    while let Some(message) = socket.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        match parse(&text) {
            Some(Frame::Snapshot {
                topic: got,
                seq,
                count,
            }) if got == topic => {
                return Ok((socket, SocketTracker::from_snapshot(seq, count)));
            }
            Some(Frame::Error) => return Err(Outcome::Failed("ws_error_frame")),
            None => return Err(Outcome::Failed("bad_frame")),
            Some(_) => {}
        }
    }
    Err(Outcome::Failed("ws_closed"))
}

/// Opens a live connection as `session`, from its source address, subscribed to
/// nothing yet.
pub(crate) async fn upgrade(config: &Config, session: &Session) -> Result<Socket, Outcome> {
    let cookie = session
        .cookie_header(config)
        .ok_or(Outcome::Failed("no_cookie"))?;
    upgrade_with(config, &cookie, session.source).await
}

/// Opens a live connection with a session's `cookie` header from `source`: the tabs
/// of one browser share a session, and many sockets need more than one address's
/// ports.
pub(crate) async fn upgrade_with(
    config: &Config,
    cookie: &str,
    source: Option<IpAddr>,
) -> Result<Socket, Outcome> {
    // The upgrade carries what a browser would: the session cookie and the
    // page's Origin, which the server checks against its own.
    let mut request = config
        .live_url
        .as_str()
        .into_client_request()
        .map_err(|_| Outcome::Failed("bad_ws_url"))?;
    let headers = request.headers_mut();
    let origin =
        HeaderValue::from_str(&config.origin).map_err(|_| Outcome::Failed("bad_origin"))?;
    headers.insert(ORIGIN, origin);
    let cookie = HeaderValue::from_str(cookie).map_err(|_| Outcome::Failed("bad_cookie"))?;
    headers.insert(COOKIE, cookie);

    // The connection is opened here rather than by the WebSocket library so
    // that it leaves from the person's own source address.
    let stream = connect(config, source)
        .await
        .map_err(|_| Outcome::Failed("ws_connect"))?;
    let (socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|error| match error {
            WsError::Http(response) => Outcome::Status(response.status().as_u16()),
            _ => Outcome::Failed("ws_connect"),
        })?;
    Ok(socket)
}

/// A TCP connection to the server, bound to `source` when one is given.
async fn connect(config: &Config, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let host = config.base.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = config.base.port_or_known_default().unwrap_or(80);
    let Some(source) = source else {
        return TcpStream::connect((host, port)).await;
    };

    // A source address is only given toward an IP literal of the same
    // family (see `SourceAddresses::toward`), so no name is resolved here.
    let server: IpAddr = host
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "host is not an address"))?;
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(SocketAddr::new(server, port)).await
}

impl Dashboard {
    /// Accounts every progress event until `stop` fires or `deadline`
    /// passes, then closes the socket politely.
    pub(crate) async fn watch(
        mut self,
        rec: Recorder,
        mut stop: watch::Receiver<bool>,
        deadline: Instant,
    ) {
        let mut closed_early = false;
        loop {
            let message = tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep_until(deadline.into()) => break,
                message = self.socket.next() => message,
            };
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    closed_early = true;
                    break;
                }
                Some(Ok(_)) => continue,
            };

            // Received time is taken right away, before any bookkeeping.
            let at = rec.now();
            let mut tracker = self.tracker.lock().unwrap_or_else(|p| p.into_inner());
            match parse(&text) {
                Some(Frame::Progress { topic, seq, count }) if topic == self.topic => {
                    tracker.on_event(seq, count, at);
                }
                Some(Frame::Error) | None => tracker.on_error(),
                Some(_) => {}
            }
        }
        if closed_early {
            self.tracker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .counts
                .closed_early = true;
        }

        // Best effort: a server that does not answer the close must not
        // hold the run open.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.close(None)).await;
    }
}

/// Reads a server frame; `None` when it does not follow the contract.
fn parse(text: &str) -> Option<Frame> {
    let value: Value = serde_json::from_str(text).ok()?;
    let topic = || {
        value
            .get("topic")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let seq = || value.get("seq").and_then(Value::as_u64);
    let count = || value.get("data").and_then(submitted_or_later);
    match value.get("type").and_then(Value::as_str)? {
        "snapshot" => Some(Frame::Snapshot {
            topic: topic()?,
            seq: seq()?,
            count: count()?,
        }),
        "event" if value.get("event").and_then(Value::as_str) == Some("progress") => {
            Some(Frame::Progress {
                topic: topic()?,
                seq: seq()?,
                count: count()?,
            })
        }
        "error" => Some(Frame::Error),
        _ => Some(Frame::Other),
    }
}

/// Reviews at `submitted` or beyond: a submit moves one review into this
/// set, and nothing in a load-test run moves one out.
fn submitted_or_later(progress: &Value) -> Option<u64> {
    let field = |name: &str| progress.get(name).and_then(Value::as_u64);
    let submitted = field("submitted")?;
    Some(submitted + field("shared").unwrap_or(0) + field("signed").unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_of;

    /// A listener on 127.0.0.1 and a configuration aimed at it.
    async fn local_server() -> (tokio::net::TcpListener, Config) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let port = listener.local_addr().expect("bound").port();
        let base_url = format!("http://127.0.0.1:{port}");
        let config = config_of(&["--base-url", &base_url]).expect("valid flags");
        (listener, config)
    }

    // Only Linux routes the whole of 127.0.0.0/8 to the loopback interface.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_socket_leaves_from_the_person_s_own_address() {
        let (listener, config) = local_server().await;
        let source: IpAddr = "127.0.0.9".parse().expect("an address");
        let (connected, accepted) = tokio::join!(connect(&config, Some(source)), listener.accept());
        let local = connected.expect("connected").local_addr().expect("bound");
        let (_, peer) = accepted.expect("accepted");
        assert_eq!(local.ip(), source);
        assert_eq!(peer.ip(), source);
    }

    #[tokio::test]
    async fn without_a_source_the_system_chooses() {
        let (listener, config) = local_server().await;
        let (connected, accepted) = tokio::join!(connect(&config, None), listener.accept());
        assert!(connected.is_ok());
        let (_, peer) = accepted.expect("accepted");
        assert!(peer.ip().is_loopback());
    }

    #[test]
    fn progress_event_counts_submitted_shared_and_signed() {
        let text = r#"{"type":"event","topic":"cycle:7","seq":12,"event":"progress",
            "data":{"total":40,"draft":3,"submitted":5,"shared":1,"signed":2}}"#;
        let frame = Frame::Progress {
            topic: "cycle:7".to_owned(),
            seq: 12,
            count: 8,
        };
        assert_eq!(parse(text), Some(frame));
    }

    #[test]
    fn snapshot_without_counts_breaks_the_contract() {
        let text = r#"{"type":"snapshot","topic":"cycle:7","seq":3,"data":{}}"#;
        assert_eq!(parse(text), None);
        assert_eq!(parse("not json"), None);
    }

    #[test]
    fn other_frames_are_recognised_but_not_counted() {
        assert_eq!(
            parse(r#"{"type":"error","code":"forbidden"}"#),
            Some(Frame::Error)
        );
        let other = r#"{"type":"event","topic":"cycle:7","seq":1,"event":"renamed"}"#;
        assert_eq!(parse(other), Some(Frame::Other));
    }
}
