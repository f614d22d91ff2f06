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
/// The tag after the name of the site's chatbot, so nobody takes it for a colleague.
pub const BOT_LABEL: &str = "bot";
pub const VIA_EMAIL: &str = "via email";
pub const VIA_MESSENGER: &str = "via Messenger";

// How far the email carrying an agent's message got (E1), and inbound email from another
// address than the contact's (E3).
pub const EMAIL_PENDING: &str = "Sending by email…";
pub const EMAIL_SENT: &str = "Sent by email";
pub const UNVERIFIED_SENDER_HELP: &str =
    "This email did not come from the contact's address; it was not merged into the contact";

/// "Email not delivered: 550 mailbox unavailable".
pub fn email_failed(detail: Option<&str>) -> String {
    match detail.map(str::trim).filter(|detail| !detail.is_empty()) {
        Some(detail) => format!("Email not delivered: {detail}"),
        None => "Email not delivered".to_owned(),
    }
}

pub fn unverified_sender(address: &str) -> String {
    format!("Unverified sender: {address}")
}

// Inbox list filters, dots and presence (I2, I3, I8).
pub const SEARCH: &str = "Search";
pub const SEARCH_PLACEHOLDER: &str = "Search messages and contacts…";
pub const FILTER_STATUS: &str = "Status";
pub const FILTER_ASSIGNEE: &str = "Assignee";
pub const FILTER_CHANNEL: &str = "Channel filter";
pub const ALL_STATUSES: &str = "Open and complete";
pub const OPEN: &str = "Open";
pub const COMPLETE: &str = "Complete";
pub const EVERYONE: &str = "All";
pub const MINE: &str = "Mine";
pub const UNASSIGNED: &str = "Unassigned";
pub const ALL_CHANNELS: &str = "All channels";
pub const CHANNEL_CHAT: &str = "Web chat";
pub const CHANNEL_EMAIL: &str = "Email";
pub const CHANNEL_MESSENGER: &str = "Messenger";
pub const SHOW_BLOCKED: &str = "Blocked";
pub const LOAD_MORE: &str = "Load more";
pub const DOT_NEW: &str = "New";
pub const DOT_MISSED: &str = "Missed";
pub const VISITOR_ONLINE: &str = "Visitor online";

pub fn waiting(count: u64) -> String {
    if count == 1 {
        "1 conversation is waiting for you.".to_owned()
    } else {
        format!("{count} conversations are waiting for you.")
    }
}

// Thread actions (I8–I11).
pub const ASSIGN: &str = "Assign to";
pub const AGENTS: &str = "Agents";
pub const GROUPS: &str = "Groups";
pub const MARK_COMPLETE: &str = "Complete";
pub const REOPEN: &str = "Reopen";
pub const BLOCK: &str = "Block contact";
pub const UNBLOCK: &str = "Unblock contact";
pub const DELETE: &str = "Delete";
pub const CONFIRM_DELETE: &str =
    "Delete this conversation for everyone? This cannot be undone and is recorded in the audit log.";
pub const INTERNAL_COMMENT: &str = "Internal comment";

// Composer (I5, I6, I7).
pub const MODE: &str = "Reply or comment";
pub const MODE_REPLY: &str = "Reply";
pub const MODE_COMMENT: &str = "Internal comment";
pub const COMMENT_PLACEHOLDER: &str = "Write an internal comment. Only agents see it.";
pub const ADD_COMMENT: &str = "Add comment";
pub const CHANNEL: &str = "Channel";
pub const NO_EMAIL_KNOWN: &str = "no email address known";
/// After "Email — " in the channel picker: the relay has no mail server (E1).
pub const EMAIL_OFF: &str = "Email is not set up on this relay";
/// The email's subject (I6); empty uses the conversation's subject.
pub const SUBJECT: &str = "Subject";
pub const SUBJECT_PLACEHOLDER: &str = "Re: the conversation's subject";
pub const EMAIL_TEMPLATE: &str = "Email template";
pub const NOT_CHAT: &str = "not a web chat";
pub const NOT_MESSENGER: &str = "not a Messenger conversation";
pub const SAVED_RESPONSES: &str = "Saved responses";
pub const CATEGORY: &str = "Category";
pub const CHOOSE_CATEGORY: &str = "Choose a category";
pub const NO_SAVED_RESPONSES: &str = "No saved responses yet. Admins add them under Admin.";

pub fn cannot_insert(problem: &str) -> String {
    format!("Cannot insert this saved response: {problem}.")
}

// Files in replies (I13) and typing (W7, I15).
pub const ATTACH_FILES: &str = "Attach files";
pub const DROP_FILES: &str = "Drop files to attach them to the reply";
pub const FILES_TO_SEND: &str = "Files to send";
pub const FILE_READY: &str = "Ready";
pub const WAIT_FOR_UPLOADS: &str = "Wait until the files are uploaded, then send.";
pub const OPENS_IN_NEW_TAB: &str = "(opens in a new tab)";
/// The list's preview of a conversation whose last message is files only.
pub const FILES_PREVIEW: &str = "Files";

pub fn uploading(name: &str) -> String {
    format!("Uploading {name}")
}

pub fn remove_file(name: &str) -> String {
    format!("Remove {name}")
}

pub fn upload_failed(name: &str, reason: &str) -> String {
    format!("{name} could not be uploaded: {reason}")
}

/// "Ada is typing…", "Ada and Bea are typing…".
pub fn typing(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [rest @ .., last] => format!("{} and {last} are typing…", rest.join(", ")),
    }
}

// Contact panel (I12).
pub const CONTACT: &str = "Contact";
pub const CONTACT_HINT: &str = "Open a conversation to see who you are talking to.";
pub const FULL_NAME: &str = "Full name";
pub const PHONE: &str = "Phone";
pub const ACCOUNT: &str = "Account";
pub const NOT_KNOWN: &str = "—";
pub const VERIFIED: &str = "verified";
pub const UNVERIFIED: &str = "unverified";
pub const EDIT_CONTACT: &str = "Edit contact";
pub const ADD_CONTACT: &str = "Add contact details";
pub const SAVE: &str = "Save";
pub const CANCEL: &str = "Cancel";
pub const OTHER_CONVERSATIONS: &str = "Other conversations";
pub const EMAIL_BOUNCING: &str =
    "Email bounced — no automatic emails go to this address until it is changed; a reply by email may bounce again";
pub const NONE: &str = "None";

// Admin screen (I1, I6, I11).
pub const ADMIN: &str = "Admin";
pub const BACK_TO_INBOX: &str = "Back to inbox";
pub const TITLE: &str = "Title";
pub const RESPONSE_TEXT: &str = "Response text";
pub const TEMPLATE_SUBJECT: &str = "Subject (email template)";
pub const TEMPLATE_SUBJECT_HELP: &str =
    "With a subject, this is an email template, offered when replying by email. Leave it empty for a saved response.";
pub const EMAIL_TEMPLATES: &str = "Email templates";
pub const NO_EMAIL_TEMPLATES: &str = "No email templates yet.";
pub const TAGS_HELP: &str = "Tags: {{contact.first_name | \"there\"}}, {{contact.name}}, {{contact.email}}, {{contact.phone}}, {{contact.company}}, {{agent.name}}, {{agent.first_name}}.";
pub const ADD_SAVED_RESPONSE: &str = "Add saved response";
pub const EDIT: &str = "Edit";
pub const ADD_AGENT: &str = "Add agent";
pub const GROUP_NAME: &str = "Group name";
pub const MEMBERS: &str = "Members";
pub const ADD_GROUP: &str = "Add group";
pub const ADMIN_ROLE: &str = "Admin";
pub const ENABLE: &str = "Enable";
pub const DISABLE: &str = "Disable";
pub const AUDIT_LOG: &str = "Audit log";

// Inbound email that did not become a message (E3, E5), for admins.
pub const INBOUND_EMAIL: &str = "Inbound email";
pub const INBOUND_EMAIL_INTRO: &str =
    "Emails that could not be routed to a conversation (kept), and auto-replies and bounces (ignored).";
pub const NO_INBOUND_EMAIL: &str = "No inbound email was kept or ignored.";
pub const INBOUND_UNAVAILABLE: &str = "This relay does not offer the inbound email log.";
pub const RECEIVED: &str = "Received";
pub const OUTCOME: &str = "Outcome";
pub const REASON: &str = "Reason";
pub const FROM: &str = "From";
pub const SIZE: &str = "Size";
pub const RAW_EMAIL: &str = "Raw email";
pub const KEPT: &str = "kept";
pub const IGNORED: &str = "ignored";
pub const DOWNLOAD: &str = "Download";

/// The accessible name of a row's download link: which email it is.
pub fn download_raw(from: &str, received: &str) -> String {
    format!("Download the raw email from {from}, received {received}")
}
pub const REFRESH: &str = "Refresh";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_names_everyone_typing() {
        assert_eq!(typing(&["Ada".into()]), "Ada is typing…");
        assert_eq!(
            typing(&["Ada".into(), "Bea".into(), "Cy".into()]),
            "Ada, Bea and Cy are typing…"
        );
    }
}
