//! Reads the boot object the loader (`loader/natter.js`) passes to [`crate::api::mount`].
//!
//! The loader owns the host element, the shadow root, the launcher button and the event
//! listeners of the page (`natter('on', …)`); the app only receives references to them here.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlElement;

use crate::strings::Locale;

/// Everything the loader hands to the app.
#[derive(Clone)]
pub struct Boot {
    /// The empty `.natter-app` container inside the shadow root: the app mounts here.
    pub root: HtmlElement,
    /// The loader's launcher button; the app keeps its `aria-expanded` / `aria-label` in sync.
    pub launcher: HtmlElement,
    /// The relay's origin, e.g. `https://chat.example.com` (no trailing slash).
    pub relay: String,
    /// The site key from the embed snippet's `data-site`.
    pub site: String,
    /// The language at mount time: `natter('set', {locale})` or the page's `<html lang>`.
    pub locale: Locale,
    /// `emit(name, detail)`: delivers a widget event to the host's `natter('on', …)` listeners.
    pub emit: Function,
    /// An email's magic-link token (E6), which the loader took out of the page's address.
    pub link: Option<String>,
}

/// Reads and validates the boot object; the error says what is wrong.
pub fn read(boot: &JsValue) -> Result<Boot, String> {
    if !boot.is_object() {
        return Err(
            "mount() needs the loader's boot object: the app is started by natter.js".into(),
        );
    }
    Ok(Boot {
        root: typed(boot, "root", "an HTML element")?,
        launcher: typed(boot, "launcher", "an HTML element")?,
        relay: text(boot, "relay")?,
        site: text(boot, "site")?,
        locale: Locale::resolve(&field(boot, "locale")?.as_string().unwrap_or_default()),
        emit: typed(boot, "emit", "a function")?,
        link: field(boot, "link")?
            .as_string()
            .filter(|link| !link.is_empty()),
    })
}

fn field(boot: &JsValue, name: &str) -> Result<JsValue, String> {
    Reflect::get(boot, &JsValue::from_str(name)).map_err(|_| format!("cannot read boot.{name}"))
}

fn typed<T: JsCast>(boot: &JsValue, name: &str, what: &str) -> Result<T, String> {
    field(boot, name)?
        .dyn_into::<T>()
        .map_err(|_| format!("boot.{name} is not {what}"))
}

fn text(boot: &JsValue, name: &str) -> Result<String, String> {
    field(boot, name)?
        .as_string()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| format!("boot.{name} is not a non-empty string"))
}
