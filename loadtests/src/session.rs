//! One simulated person's connection to the server, and timed requests.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, HeaderValue, ORIGIN, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::config::Config;
use crate::stats::{Kind, Outcome, Recorder};

/// A signed-in (or signing-in) user.
///
/// Each has its own client and cookie jar, as separate browsers would: the
/// server sees one session and one connection pool per person, not one
/// shared keep-alive connection carrying everybody.
pub(crate) struct Session {
    http: reqwest::Client,
    /// Kept to copy the session cookie into the WebSocket upgrade, which
    /// does not go through reqwest.
    jar: Arc<Jar>,
    /// The address this person's connections leave from; `None` when the
    /// system chooses. The WebSocket binds it too, as a browser's would
    /// come from the same machine.
    pub(crate) source: Option<IpAddr>,
    pub(crate) company: String,
    pub(crate) email: String,
    /// The user's id as the server spells it (a string, whatever its form).
    pub(crate) user_id: Option<String>,
}

/// A server answer: status and JSON body (`Null` when empty or not JSON).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    /// `Retry-After` of a 429, in whole seconds as the server sends it.
    pub(crate) retry_after: Option<Duration>,
}

/// How a sign-in ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignIn {
    Accepted,
    /// 429: the server asks to wait this long before the next attempt.
    Throttled(Duration),
    /// Any other answer: the server will not let this person in.
    Failed,
    /// No answer at all (timeout, refused connection).
    Unanswered,
}

impl Session {
    /// A fresh, signed-out person of `company`, connecting from `source`.
    pub(crate) fn new(
        config: &Config,
        company: &str,
        email: String,
        source: Option<IpAddr>,
    ) -> Result<Session> {
        let jar = Arc::new(Jar::default());

        // The server's own Origin on every request, as its pages send it:
        // state-changing requests are checked against it.
        let mut headers = HeaderMap::new();
        let origin = HeaderValue::from_str(&config.origin).context("--origin is not a header")?;
        headers.insert(ORIGIN, origin);

        // No proxy: the target is a local server, and a proxy from the
        // environment would both distort latencies and send the load elsewhere.
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_provider(Arc::clone(&jar))
            .no_proxy()
            .local_address(source)
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .build()
            .context("building an HTTP client")?;
        Ok(Session {
            http,
            jar,
            source,
            company: company.to_owned(),
            email,
            user_id: None,
        })
    }

    /// Signs in with the demo password, recorded under `kind`.
    pub(crate) async fn login(&mut self, config: &Config, rec: &Recorder, kind: Kind) -> SignIn {
        let body = json!({
            "company": self.company,
            "email": self.email,
            "password": config.password,
            "remember_me": false,
        });
        let url = config.url("/api/v1/auth/login");
        let Some(reply) = self.send(rec, kind, Method::POST, &url, Some(&body)).await else {
            return SignIn::Unanswered;
        };
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return SignIn::Throttled(reply.retry_after.unwrap_or(Duration::from_secs(1)));
        }
        if !reply.status.is_success() {
            return SignIn::Failed;
        }
        self.user_id = reply.body.pointer("/user/id").and_then(id_text);
        if self.user_id.is_none() {
            rec.fault(kind, "no_user_id");
        }
        SignIn::Accepted
    }

    /// Signs out, ending the session on the server; true when it answered
    /// with success.
    pub(crate) async fn logout(&self, config: &Config, rec: &Recorder) -> bool {
        let url = config.url("/api/v1/auth/logout");
        let reply = self.send(rec, Kind::Logout, Method::POST, &url, None).await;
        reply.is_some_and(|reply| reply.status.is_success())
    }

    /// The `Cookie` header the browser would send to the server.
    pub(crate) fn cookie_header(&self, config: &Config) -> Option<String> {
        let value = self.jar.cookies(&config.base)?;
        value.to_str().ok().map(str::to_owned)
    }

    /// Sends one request and records its latency and outcome under `kind`.
    /// `None` means no answer arrived (timeout, refused, broken body).
    pub(crate) async fn send(
        &self,
        rec: &Recorder,
        kind: Kind,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Option<Reply> {
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }

        // The latency covers the whole body, as a browser waits for it.
        let started = Instant::now();
        let result = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(response.headers());
                response
                    .bytes()
                    .await
                    .map(|bytes| (status, retry_after, bytes))
            }
            Err(error) => Err(error),
        };
        match result {
            Ok((status, retry_after, bytes)) => {
                rec.sample(kind, started, Outcome::Status(status.as_u16()));
                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                Some(Reply {
                    status,
                    body,
                    retry_after,
                })
            }
            Err(error) => {
                rec.sample(kind, started, Outcome::Failed(failure_name(&error)));
                None
            }
        }
    }
}

/// An id field as text: the contract does not fix whether ids are numbers
/// or strings, and paths need them as text either way.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// `Retry-After` in its delay-seconds form; the HTTP-date form is not
/// used by Kaizen and reads as absent.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// A short, stable name for a transport failure, used as the error key.
fn failure_name(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "broken_body"
    } else {
        "transport"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_of;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Accepts one HTTP request, answers 204 and returns the peer address.
    async fn answer_once(listener: tokio::net::TcpListener) -> IpAddr {
        let (mut stream, peer) = listener.accept().await.expect("accepted");
        let mut request = Vec::new();
        let mut buffer = [0; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut buffer).await.expect("readable");
            assert!(read > 0, "the client closed before the end of its request");
            request.extend_from_slice(&buffer[..read]);
        }
        let answer = b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";
        stream.write_all(answer).await.expect("writable");
        peer.ip()
    }

    // Only Linux routes the whole of 127.0.0.0/8 to the loopback interface.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn requests_leave_from_the_person_s_own_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let base_url = format!("http://{}", listener.local_addr().expect("bound"));
        let config = config_of(&["--base-url", &base_url]).expect("valid flags");
        let source: IpAddr = "127.0.0.7".parse().expect("an address");
        let email = "employee1@acme.example".to_owned();
        let session = Session::new(&config, "acme", email, Some(source)).expect("a client");
        let rec = Recorder::new(Instant::now());

        let server = tokio::spawn(answer_once(listener));
        let url = config.url("/healthz");
        let reply = session
            .send(&rec, Kind::List, Method::GET, &url, None)
            .await;
        assert_eq!(reply.map(|r| r.status), Some(StatusCode::NO_CONTENT));
        assert_eq!(server.await.expect("the server task"), source);
    }

    #[test]
    fn retry_after_reads_whole_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        let date = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        headers.insert(RETRY_AFTER, date);
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn ids_may_be_strings_or_numbers() {
        assert_eq!(id_text(&json!("a1b2")), Some("a1b2".to_owned()));
        assert_eq!(id_text(&json!(42)), Some("42".to_owned()));
        assert_eq!(id_text(&json!("")), None);
        assert_eq!(id_text(&json!(null)), None);
    }
}
