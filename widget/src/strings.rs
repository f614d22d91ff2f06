//! Every string the visitor can see or hear, in English, German and French (W11).
//!
//! One [`Strings`] table per [`Locale`]; no other module may contain visible text, so a missing
//! translation is a compile error (a table without a field does not build). The locale comes
//! from the host page's `<html lang>` or `natter('set', {locale})`; anything else falls back to
//! English. The launcher's labels before the app loads live in `loader/natter.js` too; a test
//! below keeps the two in step.

use natter_protocol::files::SizeUnits;

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
    /// Channel labels (W3): a message's meta line says which channel it came by.
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
    /// Delivery state of the newest visitor message an agent has read (W4).
    pub read: &'static str,
    /// An agent is typing (W7); `{name}` is replaced by the agent's display name.
    pub agent_typing: &'static str,
    /// The form's heading when it comes before the chat (`before_first_message`).
    pub form_gate_title: &'static str,
    /// Under that heading: why the email is asked for.
    pub form_gate_intro: &'static str,
    /// The heading of the form card after the visitor's first message.
    pub form_card_title: &'static str,
    /// Under that heading.
    pub form_card_intro: &'static str,
    /// The heading of the form card while no agent is online (W6).
    pub form_away_title: &'static str,
    /// Under that heading: the reply will come by email.
    pub form_away_intro: &'static str,
    /// Form field labels (W5).
    pub form_email: &'static str,
    pub form_name: &'static str,
    pub form_phone: &'static str,
    /// The "account" field: the company the visitor works for.
    pub form_company: &'static str,
    /// After the label of an optional field.
    pub form_optional: &'static str,
    /// The submit button of the form that comes before the chat.
    pub form_start: &'static str,
    /// The submit button of the form card.
    pub form_submit: &'static str,
    /// Puts the form card off for this page session.
    pub form_not_now: &'static str,
    /// The confirmation once the relay stored the form; `{email}` is replaced.
    pub form_thanks: &'static str,
    /// The same while no agent is online (W6): the answer will also come by email.
    pub form_thanks_away: &'static str,
    /// Shown next to a required field left empty.
    pub form_missing_email: &'static str,
    pub form_missing_name: &'static str,
    pub form_missing_phone: &'static str,
    pub form_missing_company: &'static str,
    /// Shown next to an email address that cannot be one.
    pub form_not_an_email: &'static str,
    /// Shown next to a phone number with too few digits or other characters.
    pub form_not_a_phone: &'static str,
    /// Shown next to a value over the length limit; `{max}` is replaced.
    pub form_too_long: &'static str,
    /// Shown next to a field the relay refused for a reason the widget cannot name.
    pub form_refused: &'static str,
    /// Under the form when it could not be sent (no connection); nothing is lost.
    pub form_not_sent: &'static str,
    /// Shown in an empty thread while no agent is online (no promise of a quick reply).
    pub empty_thread_away: &'static str,
    /// The paperclip button's accessible name (W8).
    pub attach_files: &'static str,
    /// Shown over the panel while files are dragged over it.
    pub drop_files: &'static str,
    /// The accessible name of the list of files about to be sent.
    pub files_to_send: &'static str,
    /// A file's upload progress bar; `{name}` is the file name.
    pub uploading_file: &'static str,
    /// A file uploaded and waiting for Send.
    pub file_ready: &'static str,
    /// The button that takes a file out of the message; `{name}` is the file name.
    pub remove_file: &'static str,
    /// Send was pressed while files are still uploading.
    pub sending_after_upload: &'static str,
    /// A file of a type the site does not accept; `{allowed}` lists the kinds it does.
    pub file_type_refused: &'static str,
    /// A file over the size limit; `{size}` and `{limit}` are sizes such as "24 MB".
    pub file_too_large: &'static str,
    /// An empty file.
    pub file_empty: &'static str,
    /// More files than one message may carry; `{limit}` is the number.
    pub too_many_files: &'static str,
    /// The relay refused an upload; `{reason}` is the relay's own (English) explanation.
    pub upload_refused: &'static str,
    /// An upload got no answer.
    pub upload_failed: &'static str,
    /// Kinds of files in the list of allowed types ("images, PDF, text files").
    pub kind_images: &'static str,
    pub kind_text: &'static str,
    /// Separates the items of such a list.
    pub list_separator: &'static str,
    /// Size units and the decimal separator, for "2.4 MB".
    pub size_units: SizeUnits<'static>,
    /// Read by screen readers after a link to an attachment.
    pub opens_in_new_tab: &'static str,
    /// Added to the launcher's name while agent messages are unread (W9): one, several
    /// (`{count}` is replaced).
    pub unread_one: &'static str,
    pub unread_many: &'static str,
    /// The panel's notice when an email's magic link (E6) has expired or is not valid: the
    /// chat opens as usual.
    pub link_failed: &'static str,
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
    channel_email: "by email",
    channel_messenger: "via Messenger",
    connecting: "Connecting…",
    reconnecting: "Connection lost. Reconnecting…",
    unavailable: "Chat is unavailable right now. Please try again later.",
    not_sent: "Your message could not be sent. It may be too long.",
    too_fast: "You are sending messages too quickly. Please wait a moment.",
    server_error: "Something went wrong on our side. Please try again.",
    received: "Thanks, your message has been received.",
    meta_separator: " · ",
    read: "Read",
    agent_typing: "{name} is typing…",
    form_gate_title: "Before we start",
    form_gate_intro: "Leave your email so we can reply even after you leave this page.",
    form_card_title: "Don’t miss our reply",
    form_card_intro: "Leave your email and we’ll send our reply there too.",
    form_away_title: "Continue by email",
    form_away_intro: "We’re away — leave your email and we’ll reply there.",
    form_email: "Email",
    form_name: "Full name",
    form_phone: "Phone",
    form_company: "Company",
    form_optional: "(optional)",
    form_start: "Start the chat",
    form_submit: "Send my details",
    form_not_now: "Not now",
    form_thanks: "Thanks! We’ll reply to {email} here and by email.",
    form_thanks_away: "Thanks! We’ll also answer by email at {email}.",
    form_missing_email: "Please enter your email address.",
    form_missing_name: "Please enter your name.",
    form_missing_phone: "Please enter your phone number.",
    form_missing_company: "Please enter your company.",
    form_not_an_email: "This doesn’t look like an email address (name@example.com).",
    form_not_a_phone:
        "This doesn’t look like a phone number. Use digits, and + ( ) - / . or spaces if you like.",
    form_too_long: "This is too long: at most {max} characters.",
    form_refused: "We could not accept this. It may be too long.",
    form_not_sent:
        "Not sent: the connection was lost. Your details are still here; please try again.",
    empty_thread_away: "Ask us anything.",
    attach_files: "Attach files",
    drop_files: "Drop files here to attach them",
    files_to_send: "Files to send",
    uploading_file: "Uploading {name}",
    file_ready: "Ready to send",
    remove_file: "Remove {name}",
    sending_after_upload: "Sending as soon as the files are uploaded…",
    file_type_refused: "{name}: this type of file can't be sent. Allowed: {allowed}.",
    file_too_large: "{name} is {size}; the limit is {limit}.",
    file_empty: "{name} is empty.",
    too_many_files: "You can send up to {limit} files with one message.",
    upload_refused: "{name} could not be sent: {reason}",
    upload_failed: "{name} could not be uploaded. Check your connection and try again.",
    kind_images: "images",
    kind_text: "text files",
    list_separator: ", ",
    size_units: SizeUnits::ENGLISH,
    opens_in_new_tab: "(opens in a new tab)",
    unread_one: "1 unread message",
    unread_many: "{count} unread messages",
    link_failed: "This link has expired or is not valid. You can keep chatting here.",
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
    channel_email: "per E-Mail",
    channel_messenger: "über Messenger",
    connecting: "Verbindung wird hergestellt …",
    reconnecting: "Verbindung unterbrochen. Wird wiederhergestellt …",
    unavailable: "Der Chat ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal.",
    not_sent: "Ihre Nachricht konnte nicht gesendet werden. Vielleicht ist sie zu lang.",
    too_fast: "Sie senden zu schnell. Bitte warten Sie einen Moment.",
    server_error: "Bei uns ist etwas schiefgelaufen. Bitte versuchen Sie es noch einmal.",
    received: "Danke, Ihre Nachricht ist angekommen.",
    meta_separator: " · ",
    read: "Gelesen",
    agent_typing: "{name} schreibt …",
    form_gate_title: "Bevor es losgeht",
    form_gate_intro: "Hinterlassen Sie Ihre E-Mail-Adresse, damit wir Ihnen auch antworten können, nachdem Sie die Seite verlassen haben.",
    form_card_title: "Verpassen Sie keine Antwort",
    form_card_intro: "Hinterlassen Sie Ihre E-Mail-Adresse, dann schicken wir unsere Antwort auch dorthin.",
    form_away_title: "Weiter per E-Mail",
    form_away_intro: "Wir sind gerade nicht da – hinterlassen Sie Ihre E-Mail-Adresse, dann antworten wir Ihnen dort.",
    form_email: "E-Mail-Adresse",
    form_name: "Vor- und Nachname",
    form_phone: "Telefonnummer",
    form_company: "Firma",
    form_optional: "(optional)",
    form_start: "Chat beginnen",
    form_submit: "Angaben senden",
    form_not_now: "Nicht jetzt",
    form_thanks: "Danke! Wir antworten Ihnen hier und per E-Mail an {email}.",
    form_thanks_away: "Danke! Wir antworten Ihnen auch per E-Mail an {email}.",
    form_missing_email: "Bitte geben Sie Ihre E-Mail-Adresse ein.",
    form_missing_name: "Bitte geben Sie Ihren Namen ein.",
    form_missing_phone: "Bitte geben Sie Ihre Telefonnummer ein.",
    form_missing_company: "Bitte geben Sie Ihre Firma an.",
    form_not_an_email: "Das sieht nicht nach einer E-Mail-Adresse aus (name@beispiel.de).",
    form_not_a_phone: "Das sieht nicht nach einer Telefonnummer aus. Erlaubt sind Ziffern und, wenn Sie möchten, + ( ) - / . und Leerzeichen.",
    form_too_long: "Das ist zu lang: höchstens {max} Zeichen.",
    form_refused: "Das konnten wir so nicht annehmen. Vielleicht ist es zu lang.",
    form_not_sent: "Nicht gesendet: Die Verbindung ist unterbrochen. Ihre Angaben bleiben erhalten; bitte versuchen Sie es noch einmal.",
    empty_thread_away: "Fragen Sie uns einfach.",
    attach_files: "Dateien anhängen",
    drop_files: "Dateien hier ablegen, um sie anzuhängen",
    files_to_send: "Anhänge",
    uploading_file: "{name} wird hochgeladen",
    file_ready: "Bereit zum Senden",
    remove_file: "{name} entfernen",
    sending_after_upload: "Wird gesendet, sobald die Dateien hochgeladen sind …",
    file_type_refused: "{name}: Dateien dieses Typs können nicht gesendet werden. Erlaubt sind {allowed}.",
    file_too_large: "{name} ist {size} groß; erlaubt sind höchstens {limit}.",
    file_empty: "{name} ist leer.",
    too_many_files: "Mit einer Nachricht können Sie höchstens {limit} Dateien senden.",
    upload_refused: "{name} konnte nicht gesendet werden: {reason}",
    upload_failed: "{name} konnte nicht hochgeladen werden. Bitte prüfen Sie Ihre Verbindung und versuchen Sie es noch einmal.",
    kind_images: "Bilder",
    kind_text: "Textdateien",
    list_separator: ", ",
    size_units: SizeUnits {
        bytes: "Byte",
        kb: "KB",
        mb: "MB",
        decimal_separator: ",",
    },
    opens_in_new_tab: "(öffnet in einem neuen Tab)",
    unread_one: "1 ungelesene Nachricht",
    unread_many: "{count} ungelesene Nachrichten",
    link_failed: "Dieser Link ist abgelaufen oder ungültig. Sie können hier weiterschreiben.",
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
    channel_email: "par e-mail",
    channel_messenger: "via Messenger",
    connecting: "Connexion…",
    reconnecting: "Connexion perdue. Reconnexion…",
    unavailable: "Le chat est indisponible pour le moment. Veuillez réessayer plus tard.",
    not_sent: "Votre message n’a pas pu être envoyé. Il est peut-être trop long.",
    too_fast: "Vous envoyez des messages trop vite. Veuillez patienter un instant.",
    server_error: "Un problème est survenu de notre côté. Veuillez réessayer.",
    received: "Merci, votre message a bien été reçu.",
    meta_separator: " · ",
    read: "Lu",
    agent_typing: "{name} est en train d’écrire…",
    form_gate_title: "Avant de commencer",
    form_gate_intro: "Laissez-nous votre adresse e-mail pour que nous puissions vous répondre même après votre départ de la page.",
    form_card_title: "Ne manquez pas notre réponse",
    form_card_intro: "Laissez-nous votre adresse e-mail\u{a0}: nous y enverrons aussi notre réponse.",
    form_away_title: "Continuer par e-mail",
    form_away_intro: "Nous sommes absents pour le moment — laissez-nous votre adresse e-mail et nous vous y répondrons.",
    form_email: "Adresse e-mail",
    form_name: "Nom complet",
    form_phone: "Téléphone",
    form_company: "Entreprise",
    form_optional: "(facultatif)",
    form_start: "Commencer la discussion",
    form_submit: "Envoyer mes coordonnées",
    form_not_now: "Plus tard",
    form_thanks: "Merci\u{202f}! Nous vous répondrons ici et par e-mail à {email}.",
    form_thanks_away: "Merci\u{202f}! Nous vous répondrons aussi par e-mail à {email}.",
    form_missing_email: "Veuillez saisir votre adresse e-mail.",
    form_missing_name: "Veuillez saisir votre nom.",
    form_missing_phone: "Veuillez saisir votre numéro de téléphone.",
    form_missing_company: "Veuillez indiquer votre entreprise.",
    form_not_an_email: "Cette adresse e-mail ne semble pas valide (nom@exemple.fr).",
    form_not_a_phone: "Ce numéro de téléphone ne semble pas valide. Utilisez des chiffres et, si vous le souhaitez, + ( ) - / . ou des espaces.",
    form_too_long: "C’est trop long\u{a0}: {max} caractères au maximum.",
    form_refused: "Nous n’avons pas pu accepter cette valeur. Elle est peut-être trop longue.",
    form_not_sent: "Non envoyé\u{a0}: la connexion a été perdue. Vos informations sont conservées\u{a0}; veuillez réessayer.",
    empty_thread_away: "Posez-nous vos questions.",
    attach_files: "Joindre des fichiers",
    drop_files: "Déposez vos fichiers ici pour les joindre",
    files_to_send: "Pièces jointes",
    uploading_file: "Envoi de {name} en cours",
    file_ready: "Prêt à envoyer",
    remove_file: "Retirer {name}",
    sending_after_upload: "Le message partira dès que les fichiers seront chargés…",
    file_type_refused: "{name}\u{a0}: ce type de fichier ne peut pas être envoyé. Types acceptés\u{a0}: {allowed}.",
    file_too_large: "{name} fait {size}\u{a0}; la limite est de {limit}.",
    file_empty: "{name} est vide.",
    too_many_files: "Vous pouvez envoyer au maximum {limit} fichiers par message.",
    upload_refused: "{name} n’a pas pu être envoyé\u{a0}: {reason}",
    upload_failed: "{name} n’a pas pu être envoyé. Vérifiez votre connexion et réessayez.",
    kind_images: "images",
    kind_text: "fichiers texte",
    list_separator: ", ",
    size_units: SizeUnits {
        bytes: "octets",
        kb: "Ko",
        mb: "Mo",
        decimal_separator: ",",
    },
    opens_in_new_tab: "(s’ouvre dans un nouvel onglet)",
    unread_one: "1 message non lu",
    unread_many: "{count} messages non lus",
    link_failed: "Ce lien a expiré ou n’est pas valide. Vous pouvez continuer à discuter ici.",
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
