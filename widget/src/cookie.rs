//! The `natter_vid` cookie that keeps the signed visitor id on the host site (W2).
//!
//! It is a first-party cookie of the host page, written from JS: `SameSite=Lax`, `Secure` on
//! https, `Path=/`, 30 days from the last visit. The loader renews it on every page view (only
//! if it exists); the app writes it after each welcome, because the relay may have issued a
//! fresh id, but only when [`crate::consent`] allows storing anything. `natter('reset')` and a
//! withdrawn consent [`delete`] it.

use natter_protocol::{VISITOR_COOKIE, VISITOR_COOKIE_MAX_AGE_SECS};
use wasm_bindgen::JsCast;
use web_sys::HtmlDocument;

use crate::log;

/// The visitor id stored in the cookie, if there is one.
pub fn read() -> Option<String> {
    let all = document()?.cookie().ok()?;
    let raw = find(&all)?;
    // The value was written percent-encoded; fall back to the raw text if it is not.
    Some(
        js_sys::decode_uri_component(raw)
            .ok()
            .and_then(|decoded| decoded.as_string())
            .unwrap_or_else(|| raw.to_owned()),
    )
}

/// Stores `visitor` for 30 days.
pub fn write(visitor: &str) {
    let Some(document) = document() else { return };
    let value: String = js_sys::encode_uri_component(visitor).into();
    let cookie = format!(
        "{VISITOR_COOKIE}={value}; Max-Age={VISITOR_COOKIE_MAX_AGE_SECS}; Path=/; SameSite=Lax{}",
        if is_https() { "; Secure" } else { "" }
    );
    if document.set_cookie(&cookie).is_err() {
        log::warn("cannot store the visitor cookie");
    }
}

/// Removes the cookie (logout, or consent withdrawn).
pub fn delete() {
    let Some(document) = document() else { return };
    let cookie = format!("{VISITOR_COOKIE}=; Max-Age=0; Path=/; SameSite=Lax");
    if document.set_cookie(&cookie).is_err() {
        log::warn("cannot delete the visitor cookie");
    }
}

/// The raw value of the visitor cookie in a `document.cookie` string; empty values count as
/// absent.
fn find(cookies: &str) -> Option<&str> {
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().strip_prefix(VISITOR_COOKIE)?.strip_prefix('='))
        .find(|value| !value.is_empty())
}

fn document() -> Option<HtmlDocument> {
    web_sys::window()?.document()?.dyn_into().ok()
}

fn is_https() -> bool {
    web_sys::window()
        .and_then(|window| window.location().protocol().ok())
        .is_some_and(|protocol| protocol == "https:")
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn finds_the_visitor_cookie_among_others() {
        assert_eq!(find("a=1; natter_vid=abc.def; b=2"), Some("abc.def"));
        assert_eq!(find("natter_vid=xyz"), Some("xyz"));
        assert_eq!(find("natter_vid_old=1; x=natter_vid"), None);
        assert_eq!(find("natter_vid="), None);
        assert_eq!(find(""), None);
    }
}
