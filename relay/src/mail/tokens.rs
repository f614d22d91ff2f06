//! The two signed tokens email carries (E3, E6), both HMAC-SHA256 under the relay's secret
//! with their own domain-separation prefix, so one can never pass for the other or for a
//! visitor id:
//! - the reply address `reply+<conversation hex><mac hex>@<inbound domain>`: lower-case hex
//!   only, because MTAs and mail clients may change the case of a local part, and short
//!   enough for the 64-octet local-part limit (RFC 5321 §4.5.3.1.1). It does not expire: a
//!   reply months later still belongs to its conversation.
//! - the magic link `<conversation>.<expires>.<mac>` (base64url), which opens the widget on
//!   the conversation until it expires.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use natter_protocol::{ConversationId, UnixMillis};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The reply address's local part starts with this; the token follows.
pub const REPLY_PREFIX: &str = "reply+";
/// Bytes of MAC kept in a reply address (80 bits: the address stays under 64 octets).
const REPLY_MAC_BYTES: usize = 10;
/// Bytes of MAC kept in a magic link.
const LINK_MAC_BYTES: usize = 16;

/// What a magic link turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCheck {
    Valid(ConversationId),
    /// Signed by us, but older than its lifetime.
    Expired,
    /// Altered, truncated or not ours.
    Invalid,
}

/// Issues and checks reply addresses and magic links.
#[derive(Clone)]
pub struct MailTokens {
    key: Vec<u8>,
}

impl MailTokens {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, purpose: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC accepts keys of any length; this cannot fail.
        let mut hmac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        hmac.update(purpose);
        for part in parts {
            hmac.update(b"\0");
            hmac.update(part);
        }
        hmac.finalize().into_bytes().to_vec()
    }

    /// `reply+TOKEN@domain` for a conversation.
    pub fn reply_address(&self, conversation: ConversationId, domain: &str) -> String {
        let id = conversation.0.simple().to_string();
        let mac = self.mac(b"natter-reply-v1", &[id.as_bytes()]);
        format!(
            "{REPLY_PREFIX}{id}{}@{domain}",
            hex::encode(&mac[..REPLY_MAC_BYTES])
        )
    }

    /// The conversation a reply address names, if it is one of ours for `domain` and its MAC
    /// is right. Case-insensitive, as mail systems may change the case.
    pub fn conversation_of(&self, address: &str, domain: &str) -> Option<ConversationId> {
        let address = address.trim().to_ascii_lowercase();
        let (local, at) = address.rsplit_once('@')?;
        if !at.eq_ignore_ascii_case(domain) {
            return None;
        }
        let token = local.strip_prefix(REPLY_PREFIX)?;
        if token.len() != 32 + 2 * REPLY_MAC_BYTES {
            return None;
        }
        let (id, mac) = token.split_at(32);
        let mac = hex::decode(mac).ok()?;
        let expected = self.mac(b"natter-reply-v1", &[id.as_bytes()]);
        if !crate::identity::constant_time_eq(&mac, &expected[..REPLY_MAC_BYTES]) {
            return None;
        }
        Uuid::parse_str(id).ok().map(ConversationId)
    }

    /// A magic link token for a conversation, valid until `expires_at`.
    pub fn magic_link(&self, conversation: ConversationId, expires_at: UnixMillis) -> String {
        let id = URL_SAFE_NO_PAD.encode(conversation.0.as_bytes());
        let expires = expires_at.to_string();
        let mac = self.mac(b"natter-link-v1", &[id.as_bytes(), expires.as_bytes()]);
        format!(
            "{id}.{expires}.{}",
            URL_SAFE_NO_PAD.encode(&mac[..LINK_MAC_BYTES])
        )
    }

    /// Checks a magic link at `now`. The MAC is checked before the time, so an altered expiry
    /// is `Invalid`, never `Expired`.
    pub fn check_link(&self, token: &str, now: UnixMillis) -> LinkCheck {
        self.parse_link(token, now).unwrap_or(LinkCheck::Invalid)
    }

    fn parse_link(&self, token: &str, now: UnixMillis) -> Option<LinkCheck> {
        let mut parts = token.trim().split('.');
        let (id, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.mac(b"natter-link-v1", &[id.as_bytes(), expires.as_bytes()]);
        if !crate::identity::constant_time_eq(&mac, &expected[..LINK_MAC_BYTES]) {
            return None;
        }
        let expires_at: UnixMillis = expires.parse().ok()?;
        let id = Uuid::from_slice(&URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
        Some(if now > expires_at {
            LinkCheck::Expired
        } else {
            LinkCheck::Valid(ConversationId(id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation() -> ConversationId {
        ConversationId(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef))
    }

    #[test]
    fn a_reply_address_names_its_conversation_in_any_case_and_fits_a_local_part() {
        let tokens = MailTokens::new(b"secret");
        let address = tokens.reply_address(conversation(), "in.example.com");
        let local = address.split('@').next().unwrap();
        assert!(local.len() <= 64, "{local}");
        assert_eq!(
            tokens.conversation_of(&address, "in.example.com"),
            Some(conversation())
        );
        assert_eq!(
            tokens.conversation_of(&address.to_uppercase(), "IN.example.com"),
            Some(conversation())
        );
    }

    #[test]
    fn a_forged_or_foreign_reply_address_names_nothing() {
        let tokens = MailTokens::new(b"secret");
        let address = tokens.reply_address(conversation(), "in.example.com");
        assert_eq!(tokens.conversation_of(&address, "other.example"), None);
        assert_eq!(
            MailTokens::new(b"other").conversation_of(&address, "in.example.com"),
            None
        );
        // Another conversation's id with this one's MAC.
        let forged = address.replacen("0123", "0124", 1);
        assert_eq!(tokens.conversation_of(&forged, "in.example.com"), None);
        assert_eq!(
            tokens.conversation_of("reply+@in.example.com", "in.example.com"),
            None
        );
        assert_eq!(
            tokens.conversation_of("ada@in.example.com", "in.example.com"),
            None
        );
    }

    #[test]
    fn a_magic_link_opens_until_it_expires_and_never_when_altered() {
        let tokens = MailTokens::new(b"secret");
        let link = tokens.magic_link(conversation(), 1_000);
        assert_eq!(
            tokens.check_link(&link, 1_000),
            LinkCheck::Valid(conversation())
        );
        assert_eq!(tokens.check_link(&link, 1_001), LinkCheck::Expired);
        let longer = link.replacen(".1000.", ".9999999.", 1);
        assert_eq!(tokens.check_link(&longer, 1_001), LinkCheck::Invalid);
        assert_eq!(tokens.check_link("garbage", 0), LinkCheck::Invalid);
        assert_eq!(
            tokens.check_link(&format!("{link}.x"), 0),
            LinkCheck::Invalid
        );
        assert_eq!(
            MailTokens::new(b"other").check_link(&link, 0),
            LinkCheck::Invalid
        );
    }
}
