//! What keeps other web pages out of a server that can start processes, as Jupyter's server
//! does by default:
//!
//! - a random token, made at start and printed in the address (`/?token=…`): a page opened with
//!   it gets it as an HttpOnly, SameSite=Strict cookie (and is sent on without it in the
//!   address); API clients send `Authorization: Bearer <token>`. Every request that changes
//!   something (any method but GET and HEAD; a prediction changes nothing) needs it: 403 and a
//!   JSON error without it;
//! - those requests are refused when their `Origin` is not the server's own, or the browser says
//!   they come from another site (`Sec-Fetch-Site`);
//! - on a loopback address, every request whose `Host` is not a loopback name (with the bound
//!   port, if it names one) is refused: a foreign domain resolved to 127.0.0.1 (DNS rebinding)
//!   gets nothing, not even a page to read.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand::Rng;

use crate::api::ApiError;

/// The server's token and what its own `Host` looks like.
pub struct Guard {
    token: String,
    port: u16,
    loopback: bool,
}

/// Host names that reach a loopback address without a DNS lookup an attacker controls.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl Guard {
    /// A guard for a server bound at `addr`; `token` is made at random where not given.
    pub fn new(addr: SocketAddr, token: Option<String>) -> Self {
        let token = token.unwrap_or_else(|| {
            // 192 bits from the thread RNG (a CSPRNG seeded by the OS), as hex.
            let bytes: [u8; 24] = rand::rng().random();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        });
        Self {
            token,
            port: addr.port(),
            loopback: addr.ip().is_loopback(),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The cookie's name: cookies are kept per host, not per port, so two servers on one machine
    /// must not share one.
    fn cookie_name(&self) -> String {
        format!("mnist_token_{}", self.port)
    }

    /// Whether `host` (the `Host` header) names this server on a loopback address.
    fn host_allowed(&self, host: Option<&str>) -> bool {
        if !self.loopback {
            return true;
        }
        let Some(host) = host else { return false };
        let (name, port) = match host.rsplit_once(':') {
            // `[::1]` alone has colons inside its brackets but no port.
            Some((name, port)) if !port.ends_with(']') => (name, Some(port)),
            _ => (host, None),
        };
        let port_ok = port.is_none_or(|p| p.parse::<u16>() == Ok(self.port));
        port_ok && LOOPBACK_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The token the request carries: `Authorization: Bearer`, the cookie, or `?token=`.
    fn presented<'a>(&self, headers: &'a HeaderMap, query: Option<&'a str>) -> Vec<&'a str> {
        let mut found = Vec::new();
        if let Some(bearer) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            found.push(bearer.trim());
        }
        let cookie = self.cookie_name();
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=')
                    && k == cookie
                {
                    found.push(v);
                }
            }
        }
        if let Some(t) = query.and_then(query_token) {
            found.push(t);
        }
        found
    }

    fn accepts(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        self.presented(headers, query)
            .iter()
            .any(|t| same(t.as_bytes(), self.token.as_bytes()))
    }
}

/// `token=…` in a query string.
fn query_token(query: &str) -> Option<&str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// The query string without its `token=…`.
fn without_token(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.starts_with("token=") && !pair.is_empty())
        .collect::<Vec<_>>()
        .join("&")
}

/// Equality in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refused(why: String) -> Response {
    ApiError(StatusCode::FORBIDDEN, why).into_response()
}

/// Whether a request changes something: every method but GET, HEAD and OPTIONS, except a
/// prediction (it computes an answer and keeps nothing).
fn changes(method: &Method, path: &str) -> bool {
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let predicts = path.starts_with("/api/runs/") && path.ends_with("/predict");
    !reads && !predicts
}

/// The middleware: the `Host` check on every request, `Origin` and token on those that change
/// something, and the cookie for a page opened with the token.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !guard.host_allowed(host) {
        return refused(format!(
            "Host `{}` is not this server's: it answers to localhost, 127.0.0.1 or [::1] on port \
             {} (a foreign name pointing at this machine is refused)",
            host.unwrap_or(""),
            guard.port
        ));
    }
    let (method, uri) = (request.method(), request.uri());
    let query = uri.query();
    if changes(method, uri.path()) {
        let own = host.map(|h| format!("http://{h}"));
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if Some(origin) != own.as_deref() {
                return refused(format!(
                    "a request from the page at `{origin}`: only this server's own pages may \
                     change runs"
                ));
            }
        }
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        if matches!(site, Some("cross-site" | "same-site")) {
            return refused(
                "a request from another site: only this server's own pages may change runs".into(),
            );
        }
        if !guard.accepts(headers, query) {
            return refused(
                "this needs the server's token: open the address `mnist serve` printed \
                 (…/?token=…), or send `Authorization: Bearer <token>`"
                    .into(),
            );
        }
        return next.run(request).await;
    }
    // A page opened with the token: keep it in a cookie and take it out of the address bar
    // (and so out of the history and of what a screenshot shows).
    if *method == Method::GET
        && let Some(t) = query.and_then(query_token)
        && same(t.as_bytes(), guard.token.as_bytes())
        && !uri.path().starts_with("/api/")
    {
        let rest = without_token(query.unwrap_or(""));
        let target = if rest.is_empty() {
            uri.path().to_string()
        } else {
            format!("{}?{rest}", uri.path())
        };
        let mut response = Redirect::to(&target).into_response();
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            guard.cookie_name(),
            guard.token
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new("127.0.0.1:8080".parse().unwrap(), Some("t0k3n".into()))
    }

    #[test]
    fn hosts_on_loopback() {
        let g = guard();
        for ok in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "LOCALHOST",
            "[::1]",
        ] {
            assert!(g.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "localhost:8081",
            "127.0.0.1:80",
            "localhost.evil.example:8080",
            "127.0.0.1:x",
            "",
        ] {
            assert!(!g.host_allowed(Some(bad)), "{bad}");
        }
        assert!(!g.host_allowed(None));
        // Bound to every interface, the user chose to be reached by other names.
        let open = Guard::new("0.0.0.0:8080".parse().unwrap(), None);
        assert!(open.host_allowed(Some("my-laptop.lan:8080")));
    }

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (
            Guard::new("127.0.0.1:1".parse().unwrap(), None),
            Guard::new("127.0.0.1:1".parse().unwrap(), None),
        );
        assert_eq!(a.token().len(), 48);
        assert_ne!(a.token(), b.token());
    }

    #[test]
    fn the_token_comes_from_the_header_the_cookie_or_the_query() {
        let g = guard();
        let mut h = HeaderMap::new();
        assert!(!g.accepts(&h, None));
        h.insert(header::AUTHORIZATION, "Bearer t0k3n".parse().unwrap());
        assert!(g.accepts(&h, None));
        h.insert(header::AUTHORIZATION, "Bearer t0k3N".parse().unwrap());
        assert!(!g.accepts(&h, None));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=b; mnist_token_8080=t0k3n".parse().unwrap(),
        );
        assert!(g.accepts(&h, None));
        // Another port's cookie is another server's.
        h.insert(header::COOKIE, "mnist_token_8081=t0k3n".parse().unwrap());
        assert!(!g.accepts(&h, None));
        assert!(g.accepts(&HeaderMap::new(), Some("x=1&token=t0k3n")));
        assert!(!g.accepts(&HeaderMap::new(), Some("token=t0k3")));
        assert_eq!(without_token("a=1&token=t0k3n&b=2"), "a=1&b=2");
    }

    #[test]
    fn what_changes_something() {
        assert!(changes(&Method::POST, "/api/runs"));
        assert!(changes(&Method::DELETE, "/api/runs/x"));
        assert!(changes(&Method::POST, "/api/configs/check"));
        assert!(!changes(&Method::POST, "/api/runs/x/predict"));
        assert!(!changes(&Method::GET, "/api/runs"));
    }
}
