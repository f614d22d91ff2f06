//! Who a visitor is (S2, I16): `identify` from the host page, with or without a signed token.
//!
//! A token is an HS256 JWT the site's own server signs with the site's identity secret:
//! claims `email`, optional `name`, and `exp`, which must be near (see
//! `Limits::identity_token_max_lifetime_secs`). A valid token links the visitor to the verified
//! contact for that email, whose conversation then shows on every device they log in on.
//! Without a token the details are kept as an unverified contact of this visitor only: typing
//! someone's email never opens their history.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use natter_protocol::visitor::{FieldError, FieldRule, FormField, FormSettings};

use crate::config::{Limits, SiteConfig};

/// What `identify` says about the visitor, validated.
pub use crate::store::ContactDetails;

/// Why `identify` was refused. The messages are shown to the host's developer in the console.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentifyError {
    #[error("email {0:?} is not a valid address")]
    InvalidEmail(String),
    #[error("{field} is too long ({chars} characters; the limit is {limit})")]
    TooLong {
        field: &'static str,
        chars: usize,
        limit: usize,
    },
    #[error("this site has no identity secret configured, so identity tokens cannot be checked")]
    NoSecret,
    #[error("the identity token has expired")]
    Expired,
    #[error("the identity token is not signed with this site's identity secret")]
    BadSignature,
    #[error("the identity token must be an HS256 JWT")]
    WrongAlgorithm,
    #[error("the identity token is malformed: {0}")]
    Malformed(String),
    #[error("the identity token lives too long: exp must be within {max_secs} seconds")]
    TooLongLived { max_secs: u64 },
    #[error("the identity token is for {token_email:?}, not {claimed_email:?}")]
    EmailMismatch {
        token_email: String,
        claimed_email: String,
    },
}

/// The claims of an identity token.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdentityClaims {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// Checks the shape and size of the visitor-supplied details. Non-ASCII addresses are
/// accepted (W6: better than refusing them); whitespace, a missing `@` or an empty part is not.
pub fn validate_details(
    details: ContactDetails,
    limits: &Limits,
) -> Result<ContactDetails, IdentifyError> {
    let limit = limits.max_contact_field_chars;
    let check = |field: &'static str, value: &str| {
        let chars = value.chars().count();
        if chars > limit {
            Err(IdentifyError::TooLong {
                field,
                chars,
                limit,
            })
        } else {
            Ok(())
        }
    };
    let email = details.email.trim().to_owned();
    check("email", &email)?;
    if !is_plausible_email(&email) {
        return Err(IdentifyError::InvalidEmail(email));
    }
    let clean =
        |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let (name, phone, company) = (
        clean(details.name),
        clean(details.phone),
        clean(details.company),
    );
    for (field, value) in [("name", &name), ("phone", &phone), ("company", &company)] {
        if let Some(value) = value {
            check(field, value)?;
        }
    }
    Ok(ContactDetails {
        email,
        name,
        phone,
        company,
    })
}

/// Checks an email-capture form submission against the site's form (W5). Every refused field
/// gets its own message, so the widget can show each next to its field; nothing is stored
/// unless every field passes.
pub fn validate_form(
    form: &FormSettings,
    submitted: ContactDetails,
    limits: &Limits,
) -> Result<ContactDetails, Vec<FieldError>> {
    let limit = limits.max_contact_field_chars;
    let mut errors = Vec::new();
    let mut refuse = |field, message: String| errors.push(FieldError { field, message });

    let email = submitted.email.trim().to_owned();
    if email.is_empty() {
        refuse(FormField::Email, "Please enter your email address.".into());
    } else if email.chars().count() > limit {
        refuse(
            FormField::Email,
            format!("An email address has at most {limit} characters."),
        );
    } else if !is_plausible_email(&email) {
        refuse(
            FormField::Email,
            "This does not look like an email address (name@example.com).".into(),
        );
    }

    let mut field = |field: FormField, rule: FieldRule, value: Option<String>, label: &str| {
        let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        match (rule, &value) {
            (FieldRule::Off, _) => None,
            (FieldRule::Required, None) => {
                refuse(field, format!("Please enter your {label}."));
                None
            }
            (_, Some(text)) if text.chars().count() > limit => {
                refuse(
                    field,
                    format!("Your {label} has at most {limit} characters."),
                );
                None
            }
            (_, Some(text)) if field == FormField::Phone && !is_plausible_phone(text) => {
                refuse(
                    field,
                    "A phone number has digits, and may have +, spaces, dashes and brackets."
                        .into(),
                );
                None
            }
            _ => value,
        }
    };
    let name = field(FormField::Name, form.name, submitted.name, "name");
    let phone = field(
        FormField::Phone,
        form.phone,
        submitted.phone,
        "phone number",
    );
    let company = field(
        FormField::Company,
        form.company,
        submitted.company,
        "company",
    );
    if errors.is_empty() {
        Ok(ContactDetails {
            email,
            name,
            phone,
            company,
        })
    } else {
        Err(errors)
    }
}

fn is_plausible_email(email: &str) -> bool {
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

fn is_plausible_phone(phone: &str) -> bool {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    digits >= 5
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()/.".contains(c))
}

/// Verifies an identity token for `site` and returns its claims. `claimed_email`, the email
/// passed next to the token, must match the token's.
pub fn verify_token(
    site: &SiteConfig,
    token: &str,
    claimed_email: &str,
    limits: &Limits,
    now_secs: u64,
) -> Result<IdentityClaims, IdentifyError> {
    let secret = site
        .identity_secret
        .as_ref()
        .ok_or(IdentifyError::NoSecret)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp"]);
    validation.leeway = limits.identity_token_leeway_secs;
    let decoded = jsonwebtoken::decode::<IdentityClaims>(
        token,
        &DecodingKey::from_secret(secret.expose().as_bytes()),
        &validation,
    )
    .map_err(|error| match error.kind() {
        ErrorKind::ExpiredSignature => IdentifyError::Expired,
        ErrorKind::InvalidSignature => IdentifyError::BadSignature,
        ErrorKind::InvalidAlgorithm => IdentifyError::WrongAlgorithm,
        _ => IdentifyError::Malformed(error.to_string()),
    })?;
    let claims = decoded.claims;
    let max_secs = limits.identity_token_max_lifetime_secs;
    if claims.exp > now_secs.saturating_add(max_secs) {
        return Err(IdentifyError::TooLongLived { max_secs });
    }
    if !claims
        .email
        .trim()
        .eq_ignore_ascii_case(claimed_email.trim())
    {
        return Err(IdentifyError::EmailMismatch {
            token_email: claims.email,
            claimed_email: claimed_email.to_owned(),
        });
    }
    Ok(claims)
}

/// Signs an identity token: what a site's server does (used by the demo's logged-in page and
/// by tests; the README shows the same in a few lines of Rust, Node and Python).
pub fn sign_token(
    secret: &str,
    claims: &IdentityClaims,
) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    const NOW: u64 = 1_800_000_000;

    fn site(secret: &str) -> SiteConfig {
        SiteConfig {
            identity_secret: Some(Secret::new(secret)),
            ..SiteConfig::demo()
        }
    }

    fn token(secret: &str, email: &str, exp: u64) -> String {
        sign_token(
            secret,
            &IdentityClaims {
                email: email.into(),
                name: Some("Ada".into()),
                exp,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_valid_token_verifies() {
        let claims = verify_token(
            &site("s3cret"),
            &token("s3cret", "ada@example.com", NOW + 60),
            "Ada@Example.com",
            &Limits::default(),
            NOW,
        )
        .unwrap();
        assert_eq!(claims.email, "ada@example.com");
        assert_eq!(claims.name.as_deref(), Some("Ada"));
    }

    #[test]
    fn bad_tokens_are_refused_with_the_reason() {
        let limits = Limits::default();
        let verify =
            |token: &str, email: &str| verify_token(&site("s3cret"), token, email, &limits, NOW);
        // jsonwebtoken checks exp against the real clock; an exp far in the past is expired.
        assert_eq!(
            verify(
                &token("s3cret", "ada@example.com", 1_000),
                "ada@example.com"
            )
            .unwrap_err(),
            IdentifyError::Expired
        );
        assert_eq!(
            verify(
                &token("other-site", "ada@example.com", NOW + 60),
                "ada@example.com"
            )
            .unwrap_err(),
            IdentifyError::BadSignature
        );
        assert!(matches!(
            verify("not.a.jwt", "ada@example.com"),
            Err(IdentifyError::Malformed(_))
        ));
        assert!(matches!(
            verify(
                &token("s3cret", "ada@example.com", NOW + 60),
                "eve@example.com"
            ),
            Err(IdentifyError::EmailMismatch { .. })
        ));
        assert_eq!(
            verify_token(
                &SiteConfig {
                    identity_secret: None,
                    ..SiteConfig::demo()
                },
                "x",
                "a@b.c",
                &limits,
                NOW
            )
            .unwrap_err(),
            IdentifyError::NoSecret
        );
    }

    #[test]
    fn token_lifetime_at_and_past_the_limit() {
        let limits = Limits {
            identity_token_max_lifetime_secs: 600,
            ..Limits::default()
        };
        let verify = |exp| {
            verify_token(
                &site("k"),
                &token("k", "a@b.co", exp),
                "a@b.co",
                &limits,
                NOW,
            )
        };
        assert!(verify(NOW + 600).is_ok());
        assert_eq!(
            verify(NOW + 601).unwrap_err(),
            IdentifyError::TooLongLived { max_secs: 600 }
        );
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        // {"alg":"none"} with the claims and no signature.
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let claims = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            format!(r#"{{"email":"a@b.co","exp":{}}}"#, NOW + 60),
        );
        let result = verify_token(
            &site("k"),
            &format!("{header}.{claims}."),
            "a@b.co",
            &Limits::default(),
            NOW,
        );
        assert!(result.is_err());
    }

    #[test]
    fn the_form_reports_every_refused_field_and_ignores_fields_that_are_off() {
        let form = FormSettings {
            when: natter_protocol::visitor::FormTrigger::BeforeFirstMessage,
            name: FieldRule::Required,
            phone: FieldRule::Optional,
            company: FieldRule::Off,
        };
        let submitted = |email: &str, name: Option<&str>, phone: Option<&str>| ContactDetails {
            email: email.into(),
            name: name.map(Into::into),
            phone: phone.map(Into::into),
            company: Some("ignored, the field is off".into()),
        };
        let errors = validate_form(
            &form,
            submitted("nope", None, Some("call me")),
            &Limits::default(),
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec![FormField::Email, FormField::Name, FormField::Phone]
        );

        let ok = validate_form(
            &form,
            submitted(" a@b.co ", Some("Ada"), Some("+49 (30) 123-45")),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(ok.email, "a@b.co");
        assert_eq!(ok.company, None, "an off field is never stored");

        let limits = Limits {
            max_contact_field_chars: 6,
            ..Limits::default()
        };
        assert!(
            validate_form(&form, submitted("a@b.co", Some("Ada Lo"), None), &limits).is_ok(),
            "at the limit"
        );
        let errors =
            validate_form(&form, submitted("a@b.co", Some("Ada Lov"), None), &limits).unwrap_err();
        assert_eq!(errors[0].field, FormField::Name);
    }

    #[test]
    fn details_are_validated_at_and_past_the_edge() {
        let limits = Limits {
            max_contact_field_chars: 12,
            ..Limits::default()
        };
        let details = |email: &str, name: Option<&str>| ContactDetails {
            email: email.into(),
            name: name.map(Into::into),
            phone: None,
            company: None,
        };
        assert!(
            validate_details(details("abcd@efg.hij", None), &limits).is_ok(),
            "12 characters"
        );
        assert!(matches!(
            validate_details(details("abcde@efg.hij", None), &limits),
            Err(IdentifyError::TooLong {
                field: "email",
                chars: 13,
                limit: 12
            })
        ));
        assert!(
            validate_details(details("jürgen@bü.de", Some("  ")), &limits).is_ok(),
            "non-ASCII accepted"
        );
        for bad in ["no-at-sign", "a@b", "a b@c.de", "@c.de", "a@.de"] {
            assert!(
                matches!(
                    validate_details(details(bad, None), &limits),
                    Err(IdentifyError::InvalidEmail(_))
                ),
                "{bad}"
            );
        }
        let cleaned =
            validate_details(details(" a@b.co ", Some("  ")), &Limits::default()).unwrap();
        assert_eq!((cleaned.email.as_str(), cleaned.name), ("a@b.co", None));
    }
}
