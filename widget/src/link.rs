//! The magic link of an email (E6): `#natter-link=TOKEN` in the address of the site's page.
//!
//! The relay's emails link to the site's page with the token in the fragment, which browsers
//! never send to the site's server. On mount the widget takes the token out of the address bar
//! at once, keeping the rest of the URL, so a reload, a bookmark or a shared address does not
//! carry it again; the chat then opens and the token goes in the next hello only (see
//! `Chat::start`). The token is used as it stands: the relay makes it fragment-safe.

use wasm_bindgen::prelude::*;

use crate::log;

/// The fragment parameter the relay's emails use.
const KEY: &str = "natter-link=";

#[wasm_bindgen]
extern "C" {
    /// `history.replaceState`, bound here rather than through web-sys's `History`, which the
    /// widget does not otherwise need.
    #[wasm_bindgen(js_namespace = history, js_name = replaceState, catch)]
    fn replace_state(state: &JsValue, unused: &str, url: &str) -> Result<(), JsValue>;
}

/// Takes the magic-link token out of the page's address, if there is one.
pub fn take() -> Option<String> {
    let location = web_sys::window()?.location();
    let (token, rest) = split(&location.hash().ok()?)?;
    let url = format!(
        "{}{}{rest}",
        location.pathname().ok()?,
        location.search().ok()?
    );
    if replace_state(&JsValue::NULL, "", &url).is_err() {
        log::warn("cannot remove the link from the address bar");
    }
    Some(token)
}

/// Splits a fragment (`#natter-link=T`, or `#a&natter-link=T&b`) into the token and what is
/// left of the fragment (`#a&b`, or nothing). `None` without a token.
fn split(hash: &str) -> Option<(String, String)> {
    let fragment = hash.strip_prefix('#').unwrap_or(hash);
    let mut token = None;
    let rest: Vec<&str> = fragment
        .split('&')
        .filter(|part| match part.strip_prefix(KEY) {
            Some(value) => {
                token = Some(value);
                false
            }
            None => true,
        })
        .collect();
    let token = token.filter(|token| !token.is_empty())?.to_owned();
    let rest = rest.join("&");
    let rest = if rest.is_empty() {
        rest
    } else {
        format!("#{rest}")
    };
    Some((token, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_taken_and_the_rest_of_the_fragment_kept() {
        assert_eq!(
            split("#natter-link=abc.def"),
            Some(("abc.def".into(), String::new()))
        );
        assert_eq!(
            split("#top&natter-link=t0k&x=1"),
            Some(("t0k".into(), "#top&x=1".into()))
        );
        assert_eq!(split("#natter-link="), None, "an empty token is no link");
        assert_eq!(split("#section-2"), None);
        assert_eq!(split(""), None);
    }
}
