//! The security headers of the console at `/inbox/` (S5): a strict Content-Security-Policy,
//! no framing, no referrer, no MIME sniffing, on its HTML and on every asset.
//!
//! The policy allows scripts only from the relay itself (no inline script: `cargo xtask`
//! moves Trunk's inline bootstrap into a file, see `xtask/src/frontends.rs`), and
//! `'wasm-unsafe-eval'` — what compiling the console's WebAssembly needs — never
//! `'unsafe-eval'`. Connections go to the relay alone: `'self'` and, for browsers that do not
//! count same-host WebSockets as `'self'`, `ws:`/`wss:` of the host the page was loaded from.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

/// Everything but `connect-src`, which names the request's host.
const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' blob:; font-src 'self'; manifest-src 'self'; \
     form-action 'self'; base-uri 'none'; object-src 'none'; frame-src 'none'; \
     frame-ancestors 'none'";

/// `Referrer-Policy`: links in messages must not tell other sites which conversation they
/// were clicked in.
const REFERRER_POLICY: &str = "no-referrer";

/// Sets the console's security headers on `response`, whatever it is (page, asset, 404).
pub async fn headers(request_headers: HeaderMap, mut response: Response) -> Response {
    let host = request_headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&policy(host)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static(REFERRER_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The policy for a page loaded from `host` (the `Host` header). A host that is not a plain
/// `name[:port]` (or `[v6]:port`) is left out rather than copied into the header.
fn policy(host: Option<&str>) -> String {
    let sockets = host
        .filter(|host| is_plain_host(host))
        .map(|host| format!(" ws://{host} wss://{host}"))
        .unwrap_or_default();
    format!("{POLICY}; connect-src 'self'{sockets}")
}

fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_relays_own_sockets_and_no_inline_script_or_eval() {
        let policy = policy(Some("chat.example.com:8080"));
        assert!(policy
            .contains("connect-src 'self' ws://chat.example.com:8080 wss://chat.example.com:8080"));
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval';"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("'unsafe-inline'"));
        assert!(!policy.contains("'unsafe-eval'"));
    }

    #[test]
    fn a_strange_host_header_is_not_copied_into_the_policy() {
        for host in ["evil.example; script-src *", "a b", "", "x\"y"] {
            assert!(
                policy(Some(host)).ends_with("connect-src 'self'"),
                "{host:?}"
            );
        }
        assert!(policy(None).ends_with("connect-src 'self'"));
        assert!(policy(Some("[::1]:3000")).ends_with("ws://[::1]:3000 wss://[::1]:3000"));
    }
}
