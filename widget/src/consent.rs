//! Consent mode (W14): whether the widget may store anything on the visitor's device.
//!
//! A site with `consent_required` (sent in the welcome's settings) wants no cookie and no
//! storage until the visitor interacts with the widget (clicks the launcher, types or clicks
//! in the panel) or the host calls `natter('consent', true)`. Until then the visitor id lives
//! only in memory, for this page. The host can also withdraw consent with
//! `natter('consent', false)`, on any site: the cookie is deleted and not written again.
//!
//! The same rule covers the widget's other storage: the outbox of unsent messages in
//! `localStorage` (W4) and the form's "Not now" in `sessionStorage` (W5) are written only when
//! [`Consent::may_store`] allows, and withdrawing consent clears the outbox.

/// What the visitor or the host said about storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Consent {
    /// Nothing said yet.
    #[default]
    Unknown,
    /// The visitor interacted, the host called `natter('consent', true)`, or a visitor cookie
    /// already existed (it was written with consent on an earlier visit).
    Granted,
    /// The host called `natter('consent', false)`.
    Withdrawn,
}

impl Consent {
    /// The visitor interacted with the widget: that is consent, unless the host withdrew it.
    pub fn interacted(self) -> Self {
        match self {
            Self::Unknown => Self::Granted,
            other => other,
        }
    }

    /// Whether the visitor cookie may be written. `consent_required` is the site setting from
    /// the last welcome, `None` before the first one (nothing is known, so nothing is written).
    pub fn may_store(self, consent_required: Option<bool>) -> bool {
        match self {
            Self::Granted => true,
            Self::Withdrawn => false,
            Self::Unknown => consent_required == Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Consent::{self, *};

    #[test]
    fn a_consent_site_stores_nothing_until_consent() {
        assert!(!Unknown.may_store(Some(true)));
        assert!(!Unknown.may_store(None));
        assert!(Unknown.interacted().may_store(Some(true)));
        assert!(Granted.may_store(Some(true)));
    }

    #[test]
    fn other_sites_store_unless_the_host_withdrew_consent() {
        assert!(Unknown.may_store(Some(false)));
        assert!(!Withdrawn.may_store(Some(false)));
        assert_eq!(Withdrawn.interacted(), Withdrawn);
        assert_eq!(Consent::default(), Unknown);
    }
}
