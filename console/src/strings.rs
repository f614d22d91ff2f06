//! Every string the console shows, in one table.
//!
//! The console is English-only today; translations come later. Keeping every visible word here
//! (and nowhere else) means a translation is one file, and reviewers can read the whole voice of
//! the product at a glance. Browser tests rely on some of these exact texts (accessible names), so
//! change them together with the tests.

/// Page heading of the login screen and the product name in the inbox header.
pub const PRODUCT_NAME: &str = "Natter inbox";

// Startup.
pub const LOADING: &str = "Loading…";

// Login screen.
pub const LOGIN_INTRO: &str = "Log in to answer your visitors.";
pub const EMAIL: &str = "Email";
pub const PASSWORD: &str = "Password";
pub const LOG_IN: &str = "Log in";
pub const LOGIN_FIELDS_REQUIRED: &str = "Enter your email and password.";
pub const SESSION_ENDED: &str = "Your session has ended. Please log in again.";

// Inbox header.
pub const LOG_OUT: &str = "Log out";
pub const LIVE_CONNECTING: &str = "Connecting…";
pub const LIVE_CONNECTED: &str = "Live";
pub const LIVE_RECONNECTING: &str = "Reconnecting…";
pub const LIVE_STOPPED: &str = "Live updates stopped. Reload the page.";
/// Prefix of the screen-reader-only "Logged in as …" text in the header.
pub const SIGNED_IN_AS: &str = "Logged in as";

// Conversation list.
pub const CONVERSATIONS: &str = "Conversations";
pub const NO_CONVERSATIONS: &str =
    "No conversations yet. They appear here the moment a visitor writes.";
pub const LOADING_CONVERSATIONS: &str = "Loading conversations…";
pub const NO_MESSAGES_YET: &str = "No messages yet";

// Thread pane.
pub const SELECT_CONVERSATION: &str = "Select a conversation";
pub const MESSAGES: &str = "Messages";
pub const LOADING_MESSAGES: &str = "Loading messages…";
pub const REPLY: &str = "Reply";
pub const REPLY_PLACEHOLDER: &str = "Write a reply. Enter sends, Shift+Enter adds a line.";
pub const SEND: &str = "Send";
pub const YOU_SUFFIX: &str = " (you)";
pub const VIA_EMAIL: &str = "via email";
pub const VIA_MESSENGER: &str = "via Messenger";

// Errors that the console words itself (the relay's own messages are shown as sent).
pub const NETWORK_ERROR: &str =
    "Cannot reach the Natter server. Check your connection and try again.";
pub const BAD_RESPONSE: &str = "The server sent an answer the inbox does not understand.";

/// Shown when the relay answered with an error status but no readable error body.
pub fn http_error(status: u16) -> String {
    format!("The server answered with an error ({status}). Please try again.")
}

// Relative times in the conversation list: "now", "5 min", "2 h", "3 d".
pub const JUST_NOW: &str = "now";

pub fn minutes_ago(n: i64) -> String {
    format!("{n} min")
}

pub fn hours_ago(n: i64) -> String {
    format!("{n} h")
}

pub fn days_ago(n: i64) -> String {
    format!("{n} d")
}
