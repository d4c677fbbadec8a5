//! Extractors: the JSON body with our error codes, the signed-in session, the client's
//! address.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use kaizen_actors::CompanyHandle;
use kaizen_actors::company::Redemption;
use kaizen_actors::model::{Client, Principal, Stage};
use serde::de::DeserializeOwned;

use super::AppState;
use super::auth::{named_cookie, session_cookie};
use super::error::ApiError;
use crate::net::{Cidr, canonical};
use crate::token;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "kz_session";

/// The name of the remember-me cookie.
pub const REMEMBER_COOKIE: &str = "kz_remember";

/// A JSON body. Malformed JSON is a 400 `bad_request`; well-formed JSON of the wrong
/// shape (unknown field, wrong type, missing field, a number beyond every numeric
/// type) is a 422 `validation_failed`.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(error)) => {
                Err(ApiError::Validation(error.body_text()))
            }
            // A number too large for any numeric type (`1e400`) is well-formed JSON that
            // the parser refuses as a syntax error: it is a value out of range, not a
            // malformed body.
            Err(JsonRejection::JsonSyntaxError(error))
                if error.body_text().contains("number out of range") =>
            {
                Err(ApiError::Validation(
                    "a number in the body is out of range".into(),
                ))
            }
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(ApiError::BadRequest("the body is not valid JSON".into()))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType(
                "send the body as application/json",
            )),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(_) => Err(ApiError::BadRequest("the body could not be read".into())),
        }
    }
}

/// An optional JSON body: none when the request has neither a body nor a
/// `Content-Type` (a bare `POST`), otherwise read like [`ApiJson`].
impl<T, S> axum::extract::OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, ApiError> {
        // A body without a type is refused like any (415), never silently ignored.
        let headers = request.headers();
        let sized = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|length| length != "0");
        let chunked = headers.contains_key(axum::http::header::TRANSFER_ENCODING);
        if !headers.contains_key(axum::http::header::CONTENT_TYPE) && !sized && !chunked {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}

/// Query parameters. Parameters that cannot be read (unknown names, wrong types) are a
/// 422 `validation_failed`, like a body of the wrong shape.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::Validation(rejection.body_text())),
        }
    }
}

/// A signed-in caller: who they are and their company's actor.
pub struct Session {
    /// The caller.
    pub principal: Principal,
    /// The actor of the caller's company.
    pub company: CompanyHandle,
    /// The hash of the session's token, to re-check the session later (live connections).
    pub token_hash: String,
    /// Where the request came from.
    pub client: Client,
}

/// Reads a cookie's value by name.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Splits the value of a session or remember-me cookie into the company id and the token.
/// The company travels in the cookie so that the token is looked up by that company's
/// actor and no other.
fn parse_token_cookie(headers: &HeaderMap, name: &str) -> Option<(String, String)> {
    let value = cookie(headers, name)?;
    let (company, token) = value.split_once('.')?;
    let plausible_company =
        company.len() == 36 && company.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !plausible_company || !token::is_well_formed(token) {
        return None;
    }
    Some((company.to_owned(), token.to_owned()))
}

/// The cookie value for a new session or remember-me token.
pub fn session_cookie_value(company_id: &str, token: &str) -> String {
    format!("{company_id}.{token}")
}

/// Cookies an extractor wants set on the response: a session minted from a remember-me
/// token, the rotated token. The `mint_cookies` middleware puts an empty one into every
/// request and copies what it holds into the response.
#[derive(Clone, Default)]
pub struct CookieSlot(Arc<Mutex<Vec<HeaderValue>>>);

impl CookieSlot {
    fn push(&self, cookie: HeaderValue) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cookie);
    }

    fn take(&self) -> Vec<HeaderValue> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Middleware: lets extractors set cookies (see [`CookieSlot`]).
pub async fn mint_cookies(mut request: Request, next: Next) -> Response {
    let slot = CookieSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    for cookie in slot.take() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The live session the session cookie names, if any.
async fn live_session(
    parts: &Parts,
    state: &AppState,
    client: &Client,
) -> Result<Option<Session>, ApiError> {
    let Some((company_id, token)) = parse_token_cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(company) = state.registry.by_id(&company_id).await? else {
        return Ok(None);
    };
    let token_hash = token::hash_token(&token);
    let principal = company.authenticate(token_hash.clone(), client.ip).await?;
    Ok(principal.map(|principal| Session {
        principal,
        company,
        token_hash,
        client: client.clone(),
    }))
}

/// Signs a browser that has no live session back in with its remember-me cookie: a new
/// session, and the token rotated. A token that no longer works has its cookie deleted.
async fn redeem_remembered(
    parts: &Parts,
    state: &AppState,
    client: &Client,
) -> Result<Option<Session>, ApiError> {
    let Some((company_id, token)) = parse_token_cookie(&parts.headers, REMEMBER_COOKIE) else {
        return Ok(None);
    };
    // Without a way to hand out the rotated token, rotating would sign the browser out.
    let Some(slot) = parts.extensions.get::<CookieSlot>() else {
        return Ok(None);
    };
    let secure = state.config.secure_cookies;
    let Some(company) = state.registry.by_id(&company_id).await? else {
        slot.push(named_cookie(REMEMBER_COOKIE, "", Some(0), secure));
        return Ok(None);
    };
    let (next_token, session_token) = (token::new_token(), token::new_token());
    let redemption = Redemption {
        token_hash: token::hash_token(&token),
        next_token_hash: token::hash_token(&next_token),
        session_token_hash: token::hash_token(&session_token),
        client: client.clone(),
    };
    let Some(redeemed) = company.redeem_remember(redemption).await? else {
        slot.push(named_cookie(REMEMBER_COOKIE, "", Some(0), secure));
        return Ok(None);
    };
    let session_value = session_cookie_value(&company_id, &session_token);
    slot.push(session_cookie(&session_value, None, secure));
    if redeemed.rotated {
        let seconds = (redeemed.expires_at - kaizen_actors::db::now_ms()).max(0) / 1000;
        let value = session_cookie_value(&company_id, &next_token);
        slot.push(named_cookie(REMEMBER_COOKIE, &value, Some(seconds), secure));
    }
    tracing::info!(user_id = %redeemed.principal.user_id, "signed in with remember-me");
    Ok(Some(Session {
        principal: redeemed.principal,
        company,
        token_hash: token::hash_token(&session_token),
        client: client.clone(),
    }))
}

/// A session at any stage of sign-in, for the few routes a half-signed-in session may
/// use: the second-factor step, enrolling a factor, and signing out.
pub struct PartialSession(pub Session);

impl FromRequestParts<AppState> for PartialSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = Client::from_request_parts(parts, state).await?;
        let mut session = live_session(parts, state, &client).await?;
        if session.is_none() {
            session = redeem_remembered(parts, state, &client).await?;
        }
        let session = session.ok_or(ApiError::Unauthenticated)?;
        let span = tracing::Span::current();
        span.record("company_id", session.principal.company_id.as_str());
        span.record("user_id", session.principal.user_id.as_str());
        Ok(PartialSession(session))
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    /// Only a complete sign-in passes: a session still owing its second factor gets
    /// `second_factor_required` on every route, export and live connection.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let PartialSession(session) = PartialSession::from_request_parts(parts, state).await?;
        if session.principal.stage != Stage::Full {
            return Err(ApiError::SecondFactorRequired);
        }
        Ok(session)
    }
}

/// The longest User-Agent kept for sessions and the audit trail.
const MAX_USER_AGENT: usize = 256;

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(MAX_USER_AGENT)
            .collect();
        Ok(Client { ip, user_agent })
    }
}

/// The id in a route's path. A path that cannot be read as one (bad percent-encoding,
/// invalid UTF-8) names nothing, so it answers the JSON 404 like any unknown id.
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(Id(id)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// Two ids in a route's path, e.g. a cycle's and one of its reviews'; read like [`Id`].
pub struct Ids(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path((first, second))) => Ok(Ids(first, second)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// The client's address: the TCP peer, or — only when the peer is a configured trusted
/// proxy — the last address in `X-Forwarded-For` that is not itself a trusted proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Works out the client address from the peer and the forwarded-for header.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }

    // Walk the chain from the nearest hop outwards; the first untrusted hop is the
    // client as far as anyone we trust can tell. Anything further left was written by
    // the client itself and proves nothing.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // A hop that cannot be read, or no hop at all, makes the client unknown: falling
    // back to the proxy's own address would let every client pass as the proxy.
    let mut client = UNKNOWN_CLIENT;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return UNKNOWN_CLIENT;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// The address of a client that a trusted proxy did not name readably. It matches no
/// company's ranges (short of 0.0.0.0/0) and shares one rate-limit budget.
pub const UNKNOWN_CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// Reads one hop: an address, or an address with a port (`203.0.113.9:5555`,
/// `[2001:db8::1]:443`) as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<crate::listener::PeerAddr>>()
            .map(|info| info.0.0.ip())
            .ok_or(ApiError::Internal)?;
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &[]), peer);
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(peer, &h, &trusted), peer);
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.2")]);
        let got = client_ip("10.0.0.1".parse().unwrap(), &h, &trusted);
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_unreadable_or_missing_hop_makes_the_client_unknown_not_the_proxy() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        for value in ["198.51.100.7, not-an-ip", "unknown", "", "_hidden"] {
            let h = headers(&[("x-forwarded-for", value)]);
            assert_eq!(client_ip(proxy, &h, &trusted), UNKNOWN_CLIENT, "{value:?}");
        }
        assert_eq!(
            client_ip(proxy, &HeaderMap::new(), &trusted),
            UNKNOWN_CLIENT
        );
    }

    #[test]
    fn hops_with_ports_are_read() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        for (value, client) in [
            ("203.0.113.9:5555", "203.0.113.9"),
            ("[2001:db8::1]:443", "2001:db8::1"),
        ] {
            let h = headers(&[("x-forwarded-for", value)]);
            assert_eq!(
                client_ip(proxy, &h, &trusted),
                client.parse::<IpAddr>().unwrap()
            );
        }
    }

    #[test]
    fn session_cookies_are_parsed_strictly() {
        let company = "0b9d3a8e-5b8f-4a43-9a51-7f3c0d7f3b10";
        let token = "a".repeat(43);
        let good = headers(&[(
            "cookie",
            &format!("x=1; {SESSION_COOKIE}={company}.{token}"),
        )]);
        assert_eq!(
            parse_token_cookie(&good, SESSION_COOKIE),
            Some((company.into(), token.clone()))
        );
        for bad in [
            format!("{SESSION_COOKIE}={company}"),
            format!("{SESSION_COOKIE}=x.{token}"),
        ] {
            assert_eq!(
                parse_token_cookie(&headers(&[("cookie", &bad)]), SESSION_COOKIE),
                None
            );
        }
    }
}
