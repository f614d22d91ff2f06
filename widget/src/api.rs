//! The app's side of the loader ↔ app contract: the two functions the loader calls on the
//! wasm-bindgen module (see the crate doc).
//!
//! - [`mount`] builds the app into the loader's shadow root. It is a function, not the module's
//!   start, because a page may `natter('destroy')` and `natter('init')` again: the module is
//!   instantiated once per page, the app mounted any number of times.
//! - [`command`] runs one forwarded `natter(name, arg)` call. `destroy` unmounts everything the
//!   app created: its DOM nodes, its reactive state, the socket, timers and page listeners.
//!
//! The mounted app lives in a thread-local; no borrow of it is held while a command runs, so a
//! command may safely lead to another one.

use std::{any::Any, cell::RefCell, rc::Rc};

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use crate::{boot, chat::Chat, commands::Command, log, ui};

/// The app while it is mounted.
struct Mounted {
    chat: Chat,
    /// Leptos's unmount handle: dropping it removes the nodes and disposes the reactive owner.
    _view: Box<dyn Any>,
}

thread_local! {
    static MOUNTED: RefCell<Option<Mounted>> = const { RefCell::new(None) };
}

/// Mounts the app with the loader's boot object (see [`boot::read`]).
#[wasm_bindgen]
pub fn mount(boot: JsValue) {
    let boot = match boot::read(&boot) {
        Ok(boot) => boot,
        Err(error) => {
            log::error(&error);
            return;
        }
    };
    // A page mounts once per loader start; a mount without a destroy in between replaces.
    unmount();
    let started = Rc::new(RefCell::new(None));
    let view = {
        let started = Rc::clone(&started);
        leptos::mount::mount_to(boot.root.clone(), move || {
            let chat = Chat::start(&boot);
            *started.borrow_mut() = Some(chat);
            view! { <ui::App boot chat /> }
        })
    };
    let chat = started.borrow_mut().take();
    if let Some(chat) = chat {
        MOUNTED.with(|mounted| {
            *mounted.borrow_mut() = Some(Mounted {
                chat,
                _view: Box::new(view),
            });
        });
    }
}

/// Runs one command the loader forwarded. Does nothing when the app is not mounted.
#[wasm_bindgen]
pub fn command(name: &str, arg: JsValue) {
    let Some(chat) = MOUNTED.with(|mounted| mounted.borrow().as_ref().map(|m| m.chat)) else {
        return;
    };
    let command = match Command::parse(name, &arg) {
        Ok(command) => command,
        Err(error) => {
            log::error(&error);
            return;
        }
    };
    match command {
        Command::Open => chat.set_open(true),
        Command::Close => chat.set_open(false),
        Command::Toggle => chat.toggle(),
        // A click while the app loaded means "open"; later clicks toggle.
        Command::Launcher { open: true } => {
            chat.interacted();
            chat.set_open(true);
        }
        Command::Launcher { open: false } => {
            chat.interacted();
            chat.toggle();
        }
        Command::Identify(frame) => chat.identify(frame),
        Command::SetLocale(locale, tag) => {
            if locale.is_none() {
                log::warn(&format!(
                    r#"natter("set"): locale "{tag}" is not supported, so English (expected 'en', 'de' or 'fr')"#
                ));
            }
            chat.locale.set(locale.unwrap_or_default());
        }
        Command::Reset => chat.reset(),
        Command::Consent(granted) => chat.set_consent(granted),
        Command::Destroy => unmount(),
    }
}

/// Stops the connection and unmounts the view, if the app is mounted.
fn unmount() {
    let mounted = MOUNTED.with(|mounted| mounted.borrow_mut().take());
    if let Some(mounted) = mounted {
        mounted.chat.stop();
        drop(mounted);
    }
}
