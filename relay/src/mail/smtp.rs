//! Outbound SMTP (E1) with lettre: host, port, STARTTLS / implicit TLS / none, credentials and a
//! timeout from `[mail]`. A send either succeeds, fails for now (connection refused, timeout,
//! 4xx: the outbox retries with backoff) or fails for good (5xx: recorded on the message).

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{MailConfig, SmtpTls};

/// Why an email was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: the server is unreachable, timed out or answered 4xx.
    #[error("{0}")]
    Transient(String),
    /// The server refused it for good (5xx).
    #[error("{0}")]
    Permanent(String),
}

/// The SMTP server of `[mail]`.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid SMTP settings: {0}")]
pub struct MailerConfigError(String);

impl Mailer {
    /// The transport `[mail]` describes, or `None` when no SMTP host is set (email off).
    pub fn from_config(config: &MailConfig) -> Result<Option<Self>, MailerConfigError> {
        let Some(host) = config.smtp_host.as_deref() else {
            return Ok(None);
        };
        let builder = match config.smtp_tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|error| MailerConfigError(error.to_string()))?;
        let mut builder = builder
            .port(config.smtp_port)
            .timeout(Some(Duration::from_millis(config.smtp_timeout_ms)));
        if let (Some(user), Some(password)) = (&config.smtp_username, &config.smtp_password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Some(Self {
            transport: builder.build(),
        }))
    }

    /// Hands one email to the server.
    pub async fn send(&self, email: lettre::Message) -> Result<(), SendError> {
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(SendError::Permanent(describe(&error))),
            Err(error) => Err(SendError::Transient(describe(&error))),
        }
    }
}

/// What went wrong, as agents see it on the message: the server's code and words when it
/// answered (`550 5.1.1 No such user here`), else what failed on the way. lettre's own text
/// repeats the code (`permanent error (550): …`), so only the server's words are kept.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let text = error.to_string();
    match (error.status(), text.split_once("): ")) {
        (Some(code), Some((_, words))) => format!("{code} {words}"),
        (Some(code), None) => format!("{code} {text}"),
        (None, _) => text,
    }
}
