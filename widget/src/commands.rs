//! The host commands the loader forwards to the app, checked (W10).
//!
//! The loader checks command names and the arguments of the commands it handles itself
//! (`on`, `off`, `show`, `hide`, `consent`, `set`, `destroy`); everything that needs the app is
//! checked here. A bad argument is one console error that names the command and says what it
//! expected, and the command is dropped: the host's code never sees an exception.

use js_sys::{Object, Reflect};
use natter_protocol::visitor::ClientFrame;
use wasm_bindgen::JsValue;

use crate::strings::Locale;

/// What `identify` accepts, for error messages.
const IDENTIFY_SHAPE: &str =
    "{email: string, name?: string, phone?: string, company?: string, token?: string}";

/// One command for the app.
#[derive(Debug)]
pub enum Command {
    Open,
    Close,
    Toggle,
    /// The visitor clicked the launcher: toggle (or, for a click before the app loaded, open),
    /// and count it as an interaction (consent).
    Launcher {
        open: bool,
    },
    /// A `ClientFrame::Identify`, ready to send.
    Identify(ClientFrame),
    /// `set({locale})`. `None`: the language is not supported, so English.
    SetLocale(Option<Locale>, String),
    Reset,
    Consent(bool),
    Destroy,
}

impl Command {
    /// Reads one forwarded `natter(name, arg)` call; the error is the console message.
    pub fn parse(name: &str, arg: &JsValue) -> Result<Self, String> {
        Ok(match name {
            "open" => Self::Open,
            "close" => Self::Close,
            "toggle" => Self::Toggle,
            "launcher" => Self::Launcher {
                open: arg.as_bool() == Some(true),
            },
            "reset" => Self::Reset,
            "destroy" => Self::Destroy,
            "identify" => Self::Identify(identify(arg)?),
            "consent" => Self::Consent(
                arg.as_bool()
                    .ok_or(r#"natter("consent"): expected true or false"#)?,
            ),
            "set" => {
                let tag = Reflect::get(arg, &JsValue::from_str("locale"))
                    .ok()
                    .and_then(|locale| locale.as_string())
                    .ok_or(r#"natter("set"): expected {locale: 'en', 'de' or 'fr'}"#)?;
                Self::SetLocale(Locale::from_tag(&tag), tag)
            }
            other => return Err(format!("the app does not know the command \"{other}\"")),
        })
    }
}

fn identify(arg: &JsValue) -> Result<ClientFrame, String> {
    let expected =
        |problem: &str| format!(r#"natter("identify"): expected {IDENTIFY_SHAPE}; {problem}"#);
    if !arg.is_object() {
        return Err(expected("got no object"));
    }
    for key in Object::keys(&Object::from(arg.clone())).iter() {
        let key = key.as_string().unwrap_or_default();
        if !["email", "name", "phone", "company", "token"].contains(&key.as_str()) {
            return Err(expected(&format!("\"{key}\" is not one of these")));
        }
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        let value = Reflect::get(arg, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        match value.as_string() {
            Some(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_owned())),
            _ => Err(expected(&format!("{key} is not a non-empty string"))),
        }
    };
    Ok(ClientFrame::Identify {
        email: text("email")?.ok_or_else(|| expected("email is missing"))?,
        name: text("name")?,
        phone: text("phone")?,
        company: text("company")?,
        token: text("token")?,
    })
}
