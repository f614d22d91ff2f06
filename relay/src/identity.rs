//! Signed visitor ids (W2, S2): `<id>.<mac>`, both base64url, where the MAC is
//! HMAC-SHA256 over the site key and the id under the relay's secret, truncated to 128 bits.
//!
//! The id alone is what the store knows; the MAC makes ids unforgeable, so a visitor cannot
//! claim another visitor's history by editing the cookie. A token is bound to its site: the
//! same cookie value presented to another site is refused.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of the random part of a visitor id, in bytes.
const VISITOR_ID_BYTES: usize = 16;
/// Length of the kept part of the MAC, in bytes.
const MAC_BYTES: usize = 16;
/// Length of a generated relay secret, in bytes.
const SECRET_BYTES: usize = 32;

/// A visitor id the relay issued: the random part, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct VisitorId(pub String);

/// Issues and verifies visitor tokens.
#[derive(Clone)]
pub struct VisitorSigner {
    key: Vec<u8>,
}

impl VisitorSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// A new visitor and its token.
    pub fn issue(&self, site: &str) -> (VisitorId, String) {
        let mut random = [0u8; VISITOR_ID_BYTES];
        rand::thread_rng().fill_bytes(&mut random);
        let id = URL_SAFE_NO_PAD.encode(random);
        let token = format!("{id}.{}", URL_SAFE_NO_PAD.encode(self.mac(site, &id)));
        (VisitorId(id), token)
    }

    /// The visitor a token names, if the token is well-formed and signed by us for this site.
    pub fn verify(&self, site: &str, token: &str) -> Option<VisitorId> {
        let (id, mac) = token.split_once('.')?;
        let id_bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
        if id_bytes.len() != VISITOR_ID_BYTES {
            return None;
        }
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if mac.len() != MAC_BYTES {
            return None;
        }
        self.hmac(site, id).verify_truncated_left(&mac).ok()?;
        Some(VisitorId(id.to_owned()))
    }

    fn hmac(&self, site: &str, id: &str) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        let mut hmac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        hmac.update(b"natter-visitor-v1\0");
        hmac.update(site.as_bytes());
        hmac.update(b"\0");
        hmac.update(id.as_bytes());
        hmac
    }

    fn mac(&self, site: &str, id: &str) -> Vec<u8> {
        self.hmac(site, id).finalize().into_bytes()[..MAC_BYTES].to_vec()
    }
}

/// Reads the relay secret from `path`, or creates it (owner-only permissions) on first start.
pub fn load_or_create_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim()).map_err(|error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a hex secret: {error}", path.display()),
            )
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; SECRET_BYTES];
            rand::thread_rng().fill_bytes(&mut secret);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path)?;
            file.write_all(hex::encode(&secret).as_bytes())?;
            file.sync_all()?;
            Ok(secret)
        }
        Err(error) => Err(error),
    }
}

/// A random opaque token (sessions, CSRF), base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two secrets in time that does not depend on where they differ, so response times
/// do not leak how much of a guessed token was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The hash under which a bearer token is stored, so a leaked database holds no live sessions.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_for_their_site_only() {
        let signer = VisitorSigner::new(b"key");
        let (id, token) = signer.issue("demo");
        assert_eq!(signer.verify("demo", &token), Some(id));
        assert_eq!(signer.verify("other", &token), None);
        assert_eq!(
            VisitorSigner::new(b"other key").verify("demo", &token),
            None
        );
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let signer = VisitorSigner::new(b"key");
        let (_, token) = signer.issue("demo");
        let (id, mac) = token.split_once('.').unwrap();
        let mut flipped = id.chars().collect::<Vec<_>>();
        flipped[0] = if flipped[0] == 'A' { 'B' } else { 'A' };
        let flipped: String = flipped.into_iter().collect();
        for bad in [
            format!("{flipped}.{mac}"),
            format!("{id}.{}", &mac[1..]),
            id.to_string(),
            String::new(),
            "..".into(),
            format!("{id}.{mac}.x"),
        ] {
            assert_eq!(signer.verify("demo", &bad), None, "accepted {bad:?}");
        }
    }

    #[test]
    fn the_secret_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = load_or_create_secret(&path).unwrap();
        assert_eq!(first.len(), SECRET_BYTES);
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
    }
}
