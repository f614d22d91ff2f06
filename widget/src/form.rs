//! The email-capture form (W5) and "continue by email" (W6): its state, when it shows, and the
//! client-side checks.
//!
//! Pure data, no DOM and no socket, so the rules can be unit-tested natively; `ui::form` renders
//! it and `chat` feeds it the relay's answers. The checks mirror the relay's
//! (`relay/src/contacts.rs`, `validate_form`) so that a visitor hears about a mistake at once, in
//! their language, next to the field; the relay checks again and its refusals
//! ([`FormState::rejected`]) land next to the same fields. Nothing the visitor typed is ever
//! cleared by an error, a refusal or a lost connection: only [`FormState::accepted`] ends the
//! form.

use natter_protocol::visitor::{
    ClientFrame, FieldError, FieldRule, FormField, FormSettings, FormTrigger,
};

/// The longest value the relay accepts by default (`limits.max_contact_field_chars`). A relay
/// configured lower refuses longer values itself; that refusal is shown next to the field too.
pub const MAX_FIELD_CHARS: usize = 254;

/// The fewest digits the relay accepts in a phone number.
pub const MIN_PHONE_DIGITS: usize = 5;

/// What a phone number may contain besides digits (as the relay allows).
const PHONE_PUNCTUATION: &str = " +-()/.";

/// Every field, in the order the form shows them (and looks for the first invalid one).
pub const FIELDS: [FormField; 4] = [
    FormField::Email,
    FormField::Name,
    FormField::Phone,
    FormField::Company,
];

/// Why a field is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Required and empty.
    Missing,
    /// The email has no `@`, an empty part, no dot in the domain, or whitespace.
    NotAnEmail,
    /// Too few digits, or characters a phone number does not have.
    NotAPhone,
    /// Longer than [`MAX_FIELD_CHARS`].
    TooLong,
    /// The relay refused a value these checks accept (e.g. a relay configured with a lower
    /// length limit). Its message is in English.
    Refused(String),
}

/// What the visitor typed, exactly as typed (trimmed only when checked and sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    pub email: String,
    pub name: String,
    pub phone: String,
    pub company: String,
}

impl Values {
    pub fn get(&self, field: FormField) -> &str {
        match field {
            FormField::Email => &self.email,
            FormField::Name => &self.name,
            FormField::Phone => &self.phone,
            FormField::Company => &self.company,
        }
    }

    fn set(&mut self, field: FormField, value: String) {
        let slot = match field {
            FormField::Email => &mut self.email,
            FormField::Name => &mut self.name,
            FormField::Phone => &mut self.phone,
            FormField::Company => &mut self.company,
        };
        *slot = value;
    }
}

/// Where a submission stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Phase {
    /// Being filled in (again, after an error).
    #[default]
    Editing,
    /// Sent on the socket; waiting for `form_accepted` or `form_rejected`.
    Submitting,
    /// The relay stored it: replies can reach the visitor at this email. `true` when no agent
    /// was online then, so the answer will come by email too (W6).
    Accepted(String, bool),
}

/// A problem with the submission as a whole, shown under the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormNotice {
    /// The socket was down (or dropped before the answer): nothing was sent, try again.
    NotSent,
    /// The relay could not store it; try again.
    ServerError,
}

/// Where (and whether) the form shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Hidden,
    /// `before_first_message`: the form comes first and the composer waits for it.
    Gate,
    /// A card at the end of the thread, which the visitor may put off with "Not now".
    Card,
    /// While no agent is online (W6): "continue by email", under the away message.
    Away,
    /// The form was accepted on this page: a short confirmation where it was.
    Confirmation,
}

/// What the form's placement depends on besides its own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// The thread has a message from the visitor (sent or still pending).
    pub visitor_wrote: bool,
    /// Whether any agent is online (W6).
    pub agents_online: bool,
}

/// The form's whole state. One per widget; lives in `Chat::form`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormState {
    /// The site's form, from the welcome; `None` before the first welcome (the form never
    /// shows before the widget knows whether the site wants it).
    pub settings: Option<FormSettings>,
    /// The relay already has the visitor's email (welcome, `identified`): never ask again.
    pub known_email: Option<String>,
    pub values: Values,
    /// One problem per field at most, in [`FIELDS`] order.
    pub errors: Vec<(FormField, Problem)>,
    pub phase: Phase,
    pub notice: Option<FormNotice>,
    /// The visitor chose "Not now" in this page session.
    pub dismissed: bool,
    /// Asks the view to focus a field: the first invalid one after a failed submission. The
    /// number grows with each request, so asking for the same field twice focuses it twice.
    pub focus: Option<(FormField, u32)>,
}

impl FormState {
    /// A welcome arrived with the site's form settings and the email the relay knows, if any.
    pub fn welcome(&mut self, settings: FormSettings, known_email: Option<String>) {
        self.settings = Some(settings);
        if known_email.is_some() {
            self.known_email = known_email;
        }
    }

    /// The relay learned the visitor's email another way (`identify`).
    pub fn known(&mut self, email: String) {
        self.known_email = Some(email);
    }

    /// `natter('reset')`: a new, anonymous visitor follows, who has given nothing yet. The
    /// site's settings stay until the next welcome; "Not now" stays for the page session.
    pub fn forgotten(&mut self) {
        *self = Self {
            settings: self.settings.take(),
            dismissed: self.dismissed,
            ..Self::default()
        };
    }

    /// Where the form shows now.
    pub fn placement(&self, situation: Situation) -> Placement {
        if matches!(self.phase, Phase::Accepted(..)) {
            return Placement::Confirmation;
        }
        let Some(settings) = &self.settings else {
            return Placement::Hidden;
        };
        if self.known_email.is_some() {
            return Placement::Hidden;
        }
        match settings.when {
            FormTrigger::Never => Placement::Hidden,
            // A visitor who already wrote (the site switched modes, or an older conversation)
            // is not stopped any more: the form becomes a card like `after_first_message`.
            FormTrigger::BeforeFirstMessage if !situation.visitor_wrote => Placement::Gate,
            FormTrigger::BeforeFirstMessage | FormTrigger::AfterFirstMessage
                if situation.visitor_wrote && !self.dismissed =>
            {
                Placement::Card
            }
            // An agent coming online takes the card away, unless the visitor has started
            // filling it in: taking half-typed details away would lose what they typed.
            FormTrigger::WhenOffline
                if !self.dismissed && (!situation.agents_online || self.touched()) =>
            {
                Placement::Away
            }
            _ => Placement::Hidden,
        }
    }

    /// The fields this site asks for, with their rule. Email is always there and required.
    pub fn fields(&self) -> Vec<(FormField, FieldRule)> {
        let settings = self.settings.clone().unwrap_or_default();
        FIELDS
            .into_iter()
            .map(|field| {
                let rule = match field {
                    FormField::Email => FieldRule::Required,
                    FormField::Name => settings.name,
                    FormField::Phone => settings.phone,
                    FormField::Company => settings.company,
                };
                (field, rule)
            })
            .filter(|(_, rule)| *rule != FieldRule::Off)
            .collect()
    }

    /// Whether the visitor has put anything into the form.
    pub fn touched(&self) -> bool {
        self.values != Values::default()
            || !self.errors.is_empty()
            || self.phase == Phase::Submitting
            || self.notice.is_some()
    }

    /// The problem shown next to `field`, if any.
    pub fn problem(&self, field: FormField) -> Option<&Problem> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, problem)| problem)
    }

    /// The visitor typed into `field`. Its error goes: it was about the old value.
    pub fn edit(&mut self, field: FormField, value: String) {
        self.values.set(field, value);
        self.errors.retain(|(f, _)| *f != field);
    }

    /// "Not now".
    pub fn dismiss(&mut self) {
        self.dismissed = true;
    }

    /// The client-side check of one field, as the relay would check it.
    fn check(&self, field: FormField, rule: FieldRule) -> Option<Problem> {
        let value = self.values.get(field).trim();
        if value.is_empty() {
            return (rule == FieldRule::Required).then_some(Problem::Missing);
        }
        if value.chars().count() > MAX_FIELD_CHARS {
            return Some(Problem::TooLong);
        }
        match field {
            FormField::Email if !is_plausible_email(value) => Some(Problem::NotAnEmail),
            FormField::Phone if !is_plausible_phone(value) => Some(Problem::NotAPhone),
            _ => None,
        }
    }

    /// The visitor pressed submit. Checks every field; on a problem, shows them all, asks for
    /// focus on the first and returns `None`. Otherwise the form is submitting and this is the
    /// frame to send. A second press while one is on its way does nothing.
    pub fn submit(&mut self) -> Option<ClientFrame> {
        if self.phase != Phase::Editing {
            return None;
        }
        self.notice = None;
        self.errors = self
            .fields()
            .into_iter()
            .filter_map(|(field, rule)| self.check(field, rule).map(|problem| (field, problem)))
            .collect();
        if !self.errors.is_empty() {
            self.focus_first_error();
            return None;
        }
        self.phase = Phase::Submitting;
        let asked = |field: FormField| {
            let value = self.values.get(field).trim();
            let asked = self.fields().iter().any(|(f, _)| *f == field);
            (asked && !value.is_empty()).then(|| value.to_owned())
        };
        Some(ClientFrame::SubmitForm {
            email: self.values.email.trim().to_owned(),
            name: asked(FormField::Name),
            phone: asked(FormField::Phone),
            company: asked(FormField::Company),
        })
    }

    /// The frame could not be sent (no welcomed socket), or the socket dropped before the
    /// answer: say so; everything typed stays.
    pub fn not_sent(&mut self) {
        if self.phase == Phase::Submitting {
            self.phase = Phase::Editing;
            self.notice = Some(FormNotice::NotSent);
        }
    }

    /// The relay could not store the submission (an `internal` error frame).
    pub fn server_failed(&mut self) {
        if self.phase == Phase::Submitting {
            self.phase = Phase::Editing;
            self.notice = Some(FormNotice::ServerError);
        }
    }

    /// `form_accepted`; `away`: no agent was online (W6).
    pub fn accepted(&mut self, email: String, away: bool) {
        self.known_email = Some(email.clone());
        self.phase = Phase::Accepted(email, away);
        self.errors.clear();
        self.notice = None;
    }

    /// `form_rejected`: each refusal goes next to its field. Where the client's own check finds
    /// the reason, that (translated) reason is shown; otherwise the relay's.
    pub fn rejected(&mut self, refused: Vec<FieldError>) {
        self.phase = Phase::Editing;
        let rules = self.fields();
        self.errors = FIELDS
            .into_iter()
            .filter_map(|field| {
                let error = refused.iter().find(|error| error.field == field)?;
                let rule = rules
                    .iter()
                    .find(|(f, _)| *f == field)
                    .map_or(FieldRule::Optional, |(_, rule)| *rule);
                let problem = self
                    .check(field, rule)
                    .unwrap_or_else(|| Problem::Refused(error.message.clone()));
                Some((field, problem))
            })
            .collect();
        self.focus_first_error();
    }

    fn focus_first_error(&mut self) {
        if let Some((field, _)) = self.errors.first() {
            let generation = self.focus.map_or(0, |(_, n)| n.wrapping_add(1));
            self.focus = Some((*field, generation));
        }
    }
}

/// The relay's email rule: something before the last `@`, a dot inside the domain, no
/// whitespace or control characters. Non-ASCII addresses pass (W6: accepted end to end).
pub fn is_plausible_email(email: &str) -> bool {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// The relay's phone rule: at least [`MIN_PHONE_DIGITS`] digits and only digits and
/// `+ - ( ) / .` and spaces.
pub fn is_plausible_phone(phone: &str) -> bool {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    digits >= MIN_PHONE_DIGITS
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || PHONE_PUNCTUATION.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(when: FormTrigger, phone: FieldRule) -> FormState {
        let mut state = FormState::default();
        state.welcome(
            FormSettings {
                when,
                name: FieldRule::Optional,
                phone,
                company: FieldRule::Off,
            },
            None,
        );
        state
    }

    const WROTE: Situation = Situation {
        visitor_wrote: true,
        agents_online: true,
    };
    const FRESH: Situation = Situation {
        visitor_wrote: false,
        agents_online: true,
    };
    const AWAY: Situation = Situation {
        visitor_wrote: false,
        agents_online: false,
    };

    #[test]
    fn each_trigger_places_the_form() {
        let before = form(FormTrigger::BeforeFirstMessage, FieldRule::Off);
        assert_eq!(before.placement(FRESH), Placement::Gate);
        assert_eq!(before.placement(WROTE), Placement::Card);

        let after = form(FormTrigger::AfterFirstMessage, FieldRule::Off);
        assert_eq!(after.placement(FRESH), Placement::Hidden);
        assert_eq!(after.placement(WROTE), Placement::Card);

        let offline = form(FormTrigger::WhenOffline, FieldRule::Off);
        assert_eq!(offline.placement(FRESH), Placement::Hidden);
        assert_eq!(offline.placement(AWAY), Placement::Away);

        let never = form(FormTrigger::Never, FieldRule::Off);
        for situation in [FRESH, WROTE, AWAY] {
            assert_eq!(never.placement(situation), Placement::Hidden);
        }
        assert_eq!(
            FormState::default().placement(WROTE),
            Placement::Hidden,
            "nothing before the welcome"
        );
    }

    #[test]
    fn a_known_email_or_not_now_hides_it() {
        let mut known = form(FormTrigger::BeforeFirstMessage, FieldRule::Off);
        known.welcome(known.settings.clone().unwrap(), Some("a@b.co".into()));
        assert_eq!(known.placement(FRESH), Placement::Hidden);
        // A later welcome without it (another socket) does not forget it.
        known.welcome(known.settings.clone().unwrap(), None);
        assert_eq!(known.placement(FRESH), Placement::Hidden);

        let mut identified = form(FormTrigger::AfterFirstMessage, FieldRule::Off);
        identified.known("a@b.co".into());
        assert_eq!(identified.placement(WROTE), Placement::Hidden);

        let mut dismissed = form(FormTrigger::AfterFirstMessage, FieldRule::Off);
        dismissed.dismiss();
        assert_eq!(dismissed.placement(WROTE), Placement::Hidden);
        // After `reset` the new visitor has given nothing; "Not now" holds for the session.
        let mut reset = form(FormTrigger::AfterFirstMessage, FieldRule::Off);
        reset.edit(FormField::Email, "a@b.co".into());
        reset.accepted("a@b.co".into(), false);
        reset.forgotten();
        assert_eq!(reset.known_email, None);
        assert_eq!(reset.values, Values::default());
        assert_eq!(reset.placement(WROTE), Placement::Card);
        reset.dismiss();
        reset.forgotten();
        assert_eq!(reset.placement(WROTE), Placement::Hidden);

        let mut gate = form(FormTrigger::BeforeFirstMessage, FieldRule::Off);
        gate.dismiss();
        assert_eq!(
            gate.placement(FRESH),
            Placement::Gate,
            "the gate cannot be put off"
        );
    }

    #[test]
    fn an_agent_coming_online_keeps_a_half_filled_away_card() {
        let mut offline = form(FormTrigger::WhenOffline, FieldRule::Off);
        assert_eq!(offline.placement(AWAY), Placement::Away);
        offline.edit(FormField::Email, "ada@".into());
        assert_eq!(offline.placement(FRESH), Placement::Away);
        offline.edit(FormField::Email, String::new());
        assert_eq!(offline.placement(FRESH), Placement::Hidden);
    }

    #[test]
    fn submit_checks_every_field_keeps_the_values_and_focuses_the_first_problem() {
        let mut state = form(FormTrigger::AfterFirstMessage, FieldRule::Required);
        state.edit(FormField::Email, "ada at example".into());
        state.edit(FormField::Name, "Ada".into());
        assert_eq!(state.submit(), None);
        assert_eq!(
            state.errors,
            vec![
                (FormField::Email, Problem::NotAnEmail),
                (FormField::Phone, Problem::Missing)
            ]
        );
        assert_eq!(state.focus, Some((FormField::Email, 0)));
        assert_eq!(state.values.email, "ada at example");
        assert_eq!(state.values.name, "Ada");

        // Fixing the email clears its error only; the next failed submit focuses the phone.
        state.edit(FormField::Email, " ada@example.com ".into());
        assert_eq!(state.problem(FormField::Email), None);
        assert_eq!(state.problem(FormField::Phone), Some(&Problem::Missing));
        assert_eq!(state.submit(), None);
        assert_eq!(state.focus, Some((FormField::Phone, 1)));

        state.edit(FormField::Phone, "+49 (30) 123-45".into());
        let frame = state.submit();
        assert_eq!(
            frame,
            Some(ClientFrame::SubmitForm {
                email: "ada@example.com".into(),
                name: Some("Ada".into()),
                phone: Some("+49 (30) 123-45".into()),
                company: None,
            })
        );
        assert_eq!(state.phase, Phase::Submitting);
        assert_eq!(
            state.submit(),
            None,
            "no second submission while one is on its way"
        );
    }

    #[test]
    fn optional_and_off_fields() {
        let mut state = form(FormTrigger::AfterFirstMessage, FieldRule::Optional);
        state.edit(FormField::Email, "a@b.co".into());
        state.edit(FormField::Phone, "   ".into());
        state.edit(FormField::Company, "off, never sent".into());
        assert_eq!(
            state.submit(),
            Some(ClientFrame::SubmitForm {
                email: "a@b.co".into(),
                name: None,
                phone: None,
                company: None,
            })
        );
        assert_eq!(
            state.fields(),
            vec![
                (FormField::Email, FieldRule::Required),
                (FormField::Name, FieldRule::Optional),
                (FormField::Phone, FieldRule::Optional)
            ]
        );
    }

    #[test]
    fn length_is_checked_at_and_past_the_limit() {
        let mut state = form(FormTrigger::AfterFirstMessage, FieldRule::Off);
        let domain = "@example.com";
        let at_limit = format!("{}{domain}", "a".repeat(MAX_FIELD_CHARS - domain.len()));
        state.edit(FormField::Email, at_limit);
        assert!(state.submit().is_some());

        let mut state = form(FormTrigger::AfterFirstMessage, FieldRule::Off);
        let past = format!("{}{domain}", "a".repeat(MAX_FIELD_CHARS + 1 - domain.len()));
        state.edit(FormField::Email, past);
        assert_eq!(state.submit(), None);
        assert_eq!(state.problem(FormField::Email), Some(&Problem::TooLong));
    }

    #[test]
    fn the_email_and_phone_rules_match_the_relay() {
        for good in ["a@b.co", "jürgen@bü.de", "first.last+tag@sub.example.org"] {
            assert!(is_plausible_email(good), "{good}");
        }
        for bad in [
            "",
            "nope",
            "@b.co",
            "a@b",
            "a@.co",
            "a@b.co.",
            "a b@c.de",
            "a@b.c\u{7}o",
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
        assert!(is_plausible_phone("+49 (30) 123-45"));
        assert!(is_plausible_phone("030/1234.5"));
        assert!(!is_plausible_phone("1234"), "too few digits");
        assert!(!is_plausible_phone("call me 12345"));
    }

    #[test]
    fn answers_from_the_relay() {
        let mut state = form(FormTrigger::AfterFirstMessage, FieldRule::Optional);
        state.edit(FormField::Email, "a@b.co".into());
        state.edit(FormField::Phone, "12345".into());
        assert!(state.submit().is_some());
        // A relay with a lower length limit refuses what the client accepted: its reason shows.
        state.rejected(vec![FieldError {
            field: FormField::Phone,
            message: "Your phone number has at most 4 characters.".into(),
        }]);
        assert_eq!(state.phase, Phase::Editing);
        assert_eq!(
            state.problem(FormField::Phone),
            Some(&Problem::Refused(
                "Your phone number has at most 4 characters.".into()
            ))
        );
        assert_eq!(state.focus, Some((FormField::Phone, 0)));
        assert_eq!(state.values.phone, "12345", "nothing typed is lost");

        // The socket drops while the next submission is on its way: not sent, try again.
        state.edit(FormField::Phone, String::new());
        assert!(state.submit().is_some());
        state.not_sent();
        assert_eq!(state.notice, Some(FormNotice::NotSent));
        assert_eq!(state.phase, Phase::Editing);
        assert_eq!(state.values.email, "a@b.co");

        assert!(state.submit().is_some());
        assert_eq!(state.notice, None);
        state.server_failed();
        assert_eq!(state.notice, Some(FormNotice::ServerError));

        assert!(state.submit().is_some());
        state.accepted("a@b.co".into(), true);
        assert_eq!(state.placement(WROTE), Placement::Confirmation);
        assert_eq!(state.known_email.as_deref(), Some("a@b.co"));
        // A late "not sent" (the socket dropped after the answer) changes nothing.
        state.not_sent();
        assert_eq!(state.placement(WROTE), Placement::Confirmation);
    }
}
