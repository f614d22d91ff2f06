//! Reads `window.__natterBoot`, the hand-over object the loader (`loader/natter.js`) sets
//! before it initialises the WASM module.
//!
//! The loader owns the host element, the shadow root and the launcher button; the app only
//! receives references to them here. Without a boot object (for example when Trunk's own
//! `index.html` is opened directly) the app must not start, so [`read`] returns an error.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlElement;

/// The name of the global the loader sets.
const BOOT_GLOBAL: &str = "__natterBoot";

/// Everything the loader hands to the app.
#[derive(Clone)]
pub struct Boot {
    /// The empty `.natter-app` container inside the shadow root: the app mounts here and
    /// receives `natter:toggle` events on it.
    pub root: HtmlElement,
    /// The loader's launcher button; the app keeps its `aria-expanded` / `aria-label` in sync.
    pub launcher: HtmlElement,
    /// The relay's origin, e.g. `https://chat.example.com` (no trailing slash).
    pub relay: String,
    /// The site key from the embed snippet's `data-site`.
    pub site: String,
    /// Whether the load was triggered by a click, so the panel starts open.
    pub open: bool,
}

/// Reads and validates the boot object; the error says what is wrong.
pub fn read() -> Result<Boot, String> {
    let window = web_sys::window().ok_or("no window")?;
    let boot = Reflect::get(&window, &JsValue::from_str(BOOT_GLOBAL))
        .map_err(|_| format!("cannot read window.{BOOT_GLOBAL}"))?;
    if boot.is_undefined() || boot.is_null() {
        return Err(format!(
            "window.{BOOT_GLOBAL} is missing: the app is started by natter.js, not on its own"
        ));
    }
    Ok(Boot {
        root: element(&boot, "root")?,
        launcher: element(&boot, "launcher")?,
        relay: text(&boot, "relay")?,
        site: text(&boot, "site")?,
        open: field(&boot, "open")?.is_truthy(),
    })
}

fn field(boot: &JsValue, name: &str) -> Result<JsValue, String> {
    Reflect::get(boot, &JsValue::from_str(name))
        .map_err(|_| format!("cannot read {BOOT_GLOBAL}.{name}"))
}

fn element(boot: &JsValue, name: &str) -> Result<HtmlElement, String> {
    field(boot, name)?
        .dyn_into::<HtmlElement>()
        .map_err(|_| format!("{BOOT_GLOBAL}.{name} is not an HTML element"))
}

fn text(boot: &JsValue, name: &str) -> Result<String, String> {
    field(boot, name)?
        .as_string()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| format!("{BOOT_GLOBAL}.{name} is not a non-empty string"))
}
