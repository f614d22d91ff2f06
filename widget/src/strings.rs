//! Every string the visitor can see or hear, in English, German and French (W11).
//!
//! One [`Strings`] table per [`Locale`]; no other module may contain visible text, so a missing
//! translation is a compile error (a table without a field does not build). The locale comes
//! from the host page's `<html lang>` or `natter('set', {locale})`; anything else falls back to
//! English. The launcher's labels before the app loads live in `loader/natter.js` too; a test
//! below keeps the two in step.

/// A language the widget speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Locale {
    #[default]
    En,
    De,
    Fr,
}

impl Locale {
    /// The locale for a BCP 47 tag such as `de`, `de-CH` or `FR_fr`; `None` for languages the
    /// widget does not speak.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let language = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match language.as_str() {
            "en" => Some(Self::En),
            "de" => Some(Self::De),
            "fr" => Some(Self::Fr),
            _ => None,
        }
    }

    /// [`Locale::from_tag`], falling back to English.
    pub fn resolve(tag: &str) -> Self {
        Self::from_tag(tag).unwrap_or_default()
    }

    /// The language code, for the panel's `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }

    /// The table of this locale's strings.
    pub fn strings(self) -> &'static Strings {
        match self {
            Self::En => &EN,
            Self::De => &DE,
            Self::Fr => &FR,
        }
    }
}

/// The visible strings of one language.
#[derive(Debug)]
pub struct Strings {
    /// The launcher's accessible name while the panel is closed.
    pub open_chat: &'static str,
    /// The launcher's accessible name while the panel is open.
    pub close_chat: &'static str,
    /// The launcher's name when the app could not be loaded. Only the loader draws it; it is
    /// here so that every translation lives in one table (a test checks the loader's copy).
    #[allow(dead_code)]
    pub offline: &'static str,
    /// The accessible name of the panel (`role="dialog"`).
    pub panel_label: &'static str,
    /// The panel's heading.
    pub title: &'static str,
    /// The accessible name of the button that closes the panel.
    pub minimize: &'static str,
    /// The accessible name of the message list (`role="log"`).
    pub log_label: &'static str,
    /// Shown instead of the message list while the thread is empty.
    pub empty_thread: &'static str,
    /// The label of the composer's text area.
    pub message_label: &'static str,
    /// The composer's placeholder.
    pub message_placeholder: &'static str,
    /// The composer's submit button.
    pub send: &'static str,
    /// Read by screen readers before the visitor's own messages.
    pub you: &'static str,
    /// Delivery state of a visitor message not yet acknowledged.
    pub sending: &'static str,
    /// Delivery state of a visitor message stored by the relay.
    pub sent: &'static str,
    /// Delivery state of a visitor message the relay refused.
    pub failed: &'static str,
    /// The button that sends a failed message again.
    pub retry: &'static str,
    /// Channel labels (W3).
    pub channel_chat: &'static str,
    pub channel_email: &'static str,
    pub channel_messenger: &'static str,
    /// Status line while the first connection is being made.
    pub connecting: &'static str,
    /// Status line while the connection is being restored.
    pub reconnecting: &'static str,
    /// Status line when the relay refused the widget for good (terminal close code).
    pub unavailable: &'static str,
    /// Alert: the relay refused a message as invalid (in practice: too long).
    pub not_sent: &'static str,
    /// Alert: the visitor is rate-limited (S3).
    pub too_fast: &'static str,
    /// Alert: the relay failed to store a message; it can be retried.
    pub server_error: &'static str,
    /// Status line for a blocked contact (I10): neutral, nothing for the visitor to do.
    pub received: &'static str,
    /// Separates the parts of a message's small meta line.
    pub meta_separator: &'static str,
}

pub const EN: Strings = Strings {
    open_chat: "Open chat",
    close_chat: "Close chat",
    offline: "Chat is offline",
    panel_label: "Chat",
    title: "Chat with us",
    minimize: "Minimize chat",
    log_label: "Messages",
    empty_thread: "Ask us anything. We usually reply within a few minutes.",
    message_label: "Message",
    message_placeholder: "Write a message…",
    send: "Send",
    you: "You",
    sending: "Sending…",
    sent: "Sent",
    failed: "Failed",
    retry: "Retry",
    channel_chat: "Chat",
    channel_email: "Email",
    channel_messenger: "Messenger",
    connecting: "Connecting…",
    reconnecting: "Connection lost. Reconnecting…",
    unavailable: "Chat is unavailable right now. Please try again later.",
    not_sent: "Your message could not be sent. It may be too long.",
    too_fast: "You are sending messages too quickly. Please wait a moment.",
    server_error: "Something went wrong on our side. Please try again.",
    received: "Thanks, your message has been received.",
    meta_separator: " · ",
};

pub const DE: Strings = Strings {
    open_chat: "Chat öffnen",
    close_chat: "Chat schließen",
    offline: "Chat ist offline",
    panel_label: "Chat",
    title: "Schreiben Sie uns",
    minimize: "Chat minimieren",
    log_label: "Nachrichten",
    empty_thread: "Fragen Sie uns einfach. Wir antworten meist innerhalb weniger Minuten.",
    message_label: "Nachricht",
    message_placeholder: "Nachricht schreiben …",
    send: "Senden",
    you: "Sie",
    sending: "Wird gesendet …",
    sent: "Gesendet",
    failed: "Nicht gesendet",
    retry: "Erneut senden",
    channel_chat: "Chat",
    channel_email: "E-Mail",
    channel_messenger: "Messenger",
    connecting: "Verbindung wird hergestellt …",
    reconnecting: "Verbindung unterbrochen. Wird wiederhergestellt …",
    unavailable: "Der Chat ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal.",
    not_sent: "Ihre Nachricht konnte nicht gesendet werden. Vielleicht ist sie zu lang.",
    too_fast: "Sie senden zu schnell. Bitte warten Sie einen Moment.",
    server_error: "Bei uns ist etwas schiefgelaufen. Bitte versuchen Sie es noch einmal.",
    received: "Danke, Ihre Nachricht ist angekommen.",
    meta_separator: " · ",
};

pub const FR: Strings = Strings {
    open_chat: "Ouvrir le chat",
    close_chat: "Fermer le chat",
    offline: "Chat hors ligne",
    panel_label: "Chat",
    title: "Discutez avec nous",
    minimize: "Réduire le chat",
    log_label: "Messages",
    empty_thread: "Posez-nous vos questions. Nous répondons généralement en quelques minutes.",
    message_label: "Message",
    message_placeholder: "Écrivez un message…",
    send: "Envoyer",
    you: "Vous",
    sending: "Envoi en cours…",
    sent: "Envoyé",
    failed: "Échec de l’envoi",
    retry: "Réessayer",
    channel_chat: "Chat",
    channel_email: "E-mail",
    channel_messenger: "Messenger",
    connecting: "Connexion…",
    reconnecting: "Connexion perdue. Reconnexion…",
    unavailable: "Le chat est indisponible pour le moment. Veuillez réessayer plus tard.",
    not_sent: "Votre message n’a pas pu être envoyé. Il est peut-être trop long.",
    too_fast: "Vous envoyez des messages trop vite. Veuillez patienter un instant.",
    server_error: "Un problème est survenu de notre côté. Veuillez réessayer.",
    received: "Merci, votre message a bien été reçu.",
    meta_separator: " · ",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_resolve_to_a_locale_with_english_as_fallback() {
        assert_eq!(Locale::resolve("de"), Locale::De);
        assert_eq!(Locale::resolve("de-CH"), Locale::De);
        assert_eq!(Locale::resolve("FR_fr"), Locale::Fr);
        assert_eq!(Locale::resolve("en-GB"), Locale::En);
        assert_eq!(Locale::from_tag("es"), None);
        assert_eq!(Locale::resolve("es"), Locale::En);
        assert_eq!(Locale::resolve(""), Locale::En);
    }

    #[test]
    fn the_loader_draws_the_same_launcher_labels() {
        let loader = include_str!("../loader/natter.js");
        for locale in [Locale::En, Locale::De, Locale::Fr] {
            let strings = locale.strings();
            for label in [strings.open_chat, strings.offline] {
                assert!(
                    loader.contains(label),
                    "{label:?} is missing from natter.js"
                );
            }
        }
    }
}
