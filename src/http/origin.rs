//! Cross-site request rules: which requests come from the server's own pages.

use axum::http::{HeaderMap, Method, Uri, header};

/// Whether a request's `Origin` is the server's own (by its `Host`) or explicitly allowed.
/// A request without `Origin` is not from a browser page and passes: it is judged by its
/// session alone, and a non-browser client could write any `Origin` anyway.
pub fn origin_allowed(headers: &HeaderMap, uri: &Uri, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let Some(host) = host else { return false };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// Whether a state-changing request may go on: `Sec-Fetch-Site`, when the browser sends
/// it, must say same-origin (or a user action such as a bookmark); `Origin`, when sent,
/// must be the server's own. Safe methods always pass.
pub fn request_allowed(
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    allowed: &[String],
) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        let origin_listed = headers
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .is_some_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)));
        if !matches!(site, "same-origin" | "none") && !origin_listed {
            return false;
        }
    }
    origin_allowed(headers, uri, allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cross_site_posts_are_refused_and_own_or_headerless_ones_pass() {
        let uri = Uri::from_static("/api/v1/auth/logout");
        let post = Method::POST;
        let host = ("host", "kaizen.test:8080");
        let cases = [
            (vec![host], true),
            (vec![host, ("origin", "http://kaizen.test:8080")], true),
            (vec![host, ("origin", "https://evil.test")], false),
            (vec![host, ("origin", "null")], false),
            (vec![host, ("sec-fetch-site", "cross-site")], false),
            (vec![host, ("sec-fetch-site", "same-site")], false),
            (vec![host, ("sec-fetch-site", "same-origin")], true),
            (
                vec![
                    host,
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "http://evil.test"),
                ],
                false,
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                request_allowed(&post, &headers(&pairs), &uri, &[]),
                expected,
                "{pairs:?}"
            );
        }
        let evil = headers(&[host, ("origin", "https://evil.test")]);
        assert!(request_allowed(&Method::GET, &evil, &uri, &[]));
        assert!(request_allowed(
            &post,
            &evil,
            &uri,
            &["https://evil.test".to_owned()]
        ));
    }
}
