//! Console logging with a `[natter]` prefix, so host-page developers know who is talking.
//!
//! The widget never panics on bad input; it reports here and carries on.

use wasm_bindgen::JsValue;

/// Logs an error to the browser console.
pub fn error(message: &str) {
    web_sys::console::error_1(&JsValue::from_str(&format!("[natter] {message}")));
}

/// Logs a warning to the browser console.
pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("[natter] {message}")));
}
