//! Every string the visitor can see or hear, in one table.
//!
//! Translations (W11) come later: they will replace this module's constants with a lookup, so
//! no other module may contain visible English text. The launcher's own labels live in
//! `loader/natter.js` too and must stay equal to [`OPEN_CHAT`] and [`CLOSE_CHAT`].

/// The launcher's accessible name while the panel is closed.
pub const OPEN_CHAT: &str = "Open chat";
/// The launcher's accessible name while the panel is open.
pub const CLOSE_CHAT: &str = "Close chat";
/// The accessible name of the panel (`role="dialog"`).
pub const PANEL_LABEL: &str = "Chat";
/// The panel's heading.
pub const TITLE: &str = "Chat with us";
/// The accessible name of the button that closes the panel.
pub const MINIMIZE: &str = "Minimize chat";
/// The accessible name of the message list (`role="log"`).
pub const LOG_LABEL: &str = "Messages";
/// Shown instead of the message list while the thread is empty.
pub const EMPTY_THREAD: &str = "Ask us anything. We usually reply within a few minutes.";
/// The label of the composer's text area.
pub const MESSAGE_LABEL: &str = "Message";
/// The composer's placeholder.
pub const MESSAGE_PLACEHOLDER: &str = "Write a message…";
/// The composer's submit button.
pub const SEND: &str = "Send";
/// Read by screen readers before the visitor's own messages.
pub const YOU: &str = "You";
/// Delivery state of a visitor message not yet acknowledged.
pub const SENDING: &str = "Sending…";
/// Delivery state of a visitor message stored by the relay.
pub const SENT: &str = "Sent";
/// Delivery state of a visitor message the relay refused.
pub const FAILED: &str = "Failed";
/// The button that sends a failed message again.
pub const RETRY: &str = "Retry";
/// Channel labels (W3).
pub const CHANNEL_CHAT: &str = "Chat";
pub const CHANNEL_EMAIL: &str = "Email";
pub const CHANNEL_MESSENGER: &str = "Messenger";
/// Status line while the first connection is being made.
pub const CONNECTING: &str = "Connecting…";
/// Status line while the connection is being restored.
pub const RECONNECTING: &str = "Connection lost. Reconnecting…";
/// Status line when the relay refused the widget for good (terminal close code).
pub const UNAVAILABLE: &str = "Chat is unavailable right now. Please try again later.";
/// Separates the parts of a message's small meta line.
pub const META_SEPARATOR: &str = " · ";
