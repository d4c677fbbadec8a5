//! One simulated person's connection to the server, and timed requests.

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
    /// Any other answer, or none.
    Failed,
}

impl Session {
    /// A fresh, signed-out person of `company`.
    pub(crate) fn new(config: &Config, company: &str, email: String) -> Result<Session> {
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
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .build()
            .context("building an HTTP client")?;
        Ok(Session {
            http,
            jar,
            company: company.to_owned(),
            email,
            user_id: None,
        })
    }

    /// Signs in with the demo password.
    pub(crate) async fn login(&mut self, config: &Config, rec: &Recorder) -> SignIn {
        let body = json!({
            "company": self.company,
            "email": self.email,
            "password": config.password,
            "remember_me": false,
        });
        let url = config.url("/api/v1/auth/login");
        let Some(reply) = self
            .send(rec, Kind::Login, Method::POST, &url, Some(&body))
            .await
        else {
            return SignIn::Failed;
        };
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return SignIn::Throttled(reply.retry_after.unwrap_or(Duration::from_secs(1)));
        }
        if !reply.status.is_success() {
            return SignIn::Failed;
        }
        self.user_id = reply.body.pointer("/user/id").and_then(id_text);
        if self.user_id.is_none() {
            rec.fault(Kind::Login, "no_user_id");
        }
        SignIn::Accepted
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
