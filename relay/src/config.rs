//! The relay's configuration: defaults, then `natter.toml` (if present), then `NATTER_…`
//! environment variables (`__` separates nesting: `NATTER_LIMITS__MAX_MESSAGE_CHARS=2000`).
//!
//! Every limit the relay enforces is a named field of [`Limits`] with its default here, so it
//! can be changed without a rebuild and tested at and past its edge.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use natter_protocol::visitor::{FieldRule, FormSettings, FormTrigger, Theme};
use serde::{Deserialize, Serialize};

/// The commented example configuration, printed by `natter-relay print-config`.
pub const EXAMPLE_CONFIG: &str = include_str!("../natter.example.toml");

/// The site key of the demo site that exists when no site is configured (R7).
pub const DEMO_SITE_KEY: &str = "demo";

/// The demo site's identity secret. Known to everyone: never use it for a real site.
pub const DEMO_IDENTITY_SECRET: &str = "demo-identity-secret-not-for-production";

/// The keys of [`Config`], for picking them out of the environment.
const TOP_LEVEL_KEYS: [&str; 19] = [
    "addr",
    "data_dir",
    "database_url",
    "bus_url",
    "bus_prefix",
    "blob_url",
    "public_url",
    "secret",
    "admin_email",
    "admin_password",
    "secure_cookies",
    "assets",
    "sites",
    "limits",
    "attachments",
    "jobs",
    "mail",
    "metrics_listen",
    "metrics_token",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Where the SQLite database, the secret key and (later) attachments live.
    pub data_dir: PathBuf,
    /// `sqlite://…` (default: `<data_dir>/natter.db`).
    pub database_url: Option<String>,
    /// `nats://…` to connect several relay nodes; unset: this node alone (in memory).
    pub bus_url: Option<String>,
    /// The NATS subject prefix the nodes of one installation share (`<prefix>.events`), so
    /// two installations on one NATS server never hear each other.
    pub bus_prefix: String,
    /// Where attachments are stored: `file:///shared/dir` or `s3://bucket/prefix` (with the
    /// `AWS_*` environment variables), so every node serves every file. Unset: the local
    /// `attachments.dir`, for a single node.
    pub blob_url: Option<String>,
    /// The URL visitors and agents reach the relay at; only used in printed links.
    pub public_url: Option<String>,
    /// Key for signing visitor ids. Default: generated once into `<data_dir>/secret.key`.
    pub secret: Option<Secret>,
    /// Email of the first admin, created on first start when there is no agent yet.
    pub admin_email: String,
    /// Password of the first admin; generated and printed once when unset.
    pub admin_password: Option<Secret>,
    /// Mark cookies `Secure`. Turn on whenever the relay is reached over https.
    pub secure_cookies: bool,
    pub assets: AssetsConfig,
    pub sites: Vec<SiteConfig>,
    pub limits: Limits,
    pub attachments: AttachmentsConfig,
    pub jobs: JobsConfig,
    pub mail: MailConfig,
    /// A separate address serving Prometheus `/metrics` (e.g. `127.0.0.1:9090`); unset: none.
    /// Keep it private (loopback or an internal network): it answers without a token unless
    /// `metrics_token` is set too.
    pub metrics_listen: Option<SocketAddr>,
    /// Serves `/metrics` on the public port too, to `Authorization: Bearer <metrics_token>`
    /// (and requires it on `metrics_listen`). Unset: `/metrics` is not on the public port.
    pub metrics_token: Option<Secret>,
}

/// How a connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP, upgraded with STARTTLS (required: a server without it is refused).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// No TLS at all: only for a server on loopback (tests, a local MTA).
    None,
}

/// Email (E1–E6): the SMTP server for outbound mail, the reply address, the inbound endpoint
/// and the magic link. Without `smtp_host` the relay sends no email and the console says so.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP server; unset turns outbound email off.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    /// Gives up on an SMTP conversation after this long (then retried with backoff).
    pub smtp_timeout_ms: u64,
    /// The From address of every email; the From name is the site's name.
    pub from_address: String,
    /// The domain of the reply address `reply+TOKEN@inbound_domain` (E3). The MTA for this
    /// domain pipes mail to `natter-relay ingest-mail` or posts it to the inbound endpoint.
    /// Unset: emails carry no reply address, and replies reach `from_address`.
    pub inbound_domain: Option<String>,
    /// Bearer secret of `POST /v1/mail/inbound`; unset turns the endpoint off.
    pub ingest_secret: Option<Secret>,
    /// The relay `natter-relay ingest-mail` posts to (default: `http://<addr>`).
    pub ingest_url: Option<String>,
    /// How long the magic link in an email opens the conversation (E6).
    pub magic_link_ttl_ms: i64,
    /// How many earlier messages an email shows below the new ones (the recent thread).
    pub transcript_messages: u32,
    /// Largest inbound email accepted, in bytes (attachments included).
    pub max_inbound_bytes: usize,
}

impl MailConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let (local, domain) = self.from_address.rsplit_once('@').unwrap_or(("", ""));
        if local.is_empty() || domain.is_empty() || self.from_address.contains(char::is_whitespace)
        {
            return Err(ConfigError(format!(
                "mail.from_address must be an email address, not {:?}",
                self.from_address
            )));
        }
        if let Some(domain) = &self.inbound_domain {
            let plain = !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !plain {
                return Err(ConfigError(format!(
                    "mail.inbound_domain must be a domain name like reply.shop.example, not {domain:?}"
                )));
            }
        }
        Ok(())
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_ms: 30_000,
            from_address: "natter@localhost".into(),
            inbound_domain: None,
            ingest_secret: None,
            ingest_url: None,
            magic_link_ttl_ms: 7 * 24 * 3_600_000,
            transcript_messages: 20,
            max_inbound_bytes: 25 * 1024 * 1024,
        }
    }
}

/// How the jobs queue runs (emails, webhooks, sends that must happen after a message).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// How often a node looks for due jobs when it was not told of a new one.
    pub poll_ms: u64,
    /// How long a claimed job is leased to its worker; a node that dies mid-job loses the
    /// lease after this and another node runs it.
    pub lease_ms: u64,
    /// Jobs claimed at once.
    pub batch: u32,
    /// The first retry waits this long; each next one twice as long, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Attempts before a job is given up and kept as failed.
    pub max_attempts: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            poll_ms: 1_000,
            lease_ms: 60_000,
            batch: 16,
            backoff_base_ms: 5_000,
            backoff_max_ms: 3_600_000,
            max_attempts: 12,
        }
    }
}

/// Where uploaded files go and which kinds are accepted (W8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// Default: `<data_dir>/attachments`.
    pub dir: Option<PathBuf>,
    /// MIME types visitors and agents may upload. Each is checked against the file's first
    /// bytes where the format has a signature, so a renamed executable is refused.
    pub allowed_types: Vec<String>,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        Self {
            dir: None,
            allowed_types: [
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "text/plain",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            bus_url: None,
            bus_prefix: crate::broker::nats::DEFAULT_PREFIX.to_owned(),
            blob_url: None,
            public_url: None,
            secret: None,
            admin_email: "admin@example.com".into(),
            admin_password: None,
            secure_cookies: false,
            assets: AssetsConfig::default(),
            sites: vec![SiteConfig::demo()],
            limits: Limits::default(),
            attachments: AttachmentsConfig::default(),
            jobs: JobsConfig::default(),
            mail: MailConfig::default(),
            metrics_listen: None,
            metrics_token: None,
        }
    }
}

impl Config {
    /// Loads defaults, then the TOML file (if it exists), then the environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .merge(Env::prefixed("NATTER_").split("__").filter(|key| {
                // Other NATTER_ variables (NATTER_CONFIG, tooling) are not config keys;
                // unknown keys in the file are still refused.
                let top = key
                    .as_str()
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                TOP_LEVEL_KEYS.contains(&top.as_str())
            }))
            .extract::<Config>()
            .map_err(|error| ConfigError(error.to_string()))?
            .validated()
    }

    /// Defaults, then a TOML document, validated: what [`Config::load`] does without the
    /// file system and the environment (the config fuzz target feeds it arbitrary text).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract::<Config>()
            .map_err(|error| ConfigError(error.to_string()))?
            .validated()
    }

    /// Refuses values that parse but cannot work.
    pub fn validated(self) -> Result<Self, ConfigError> {
        self.mail.validate()?;
        if let Some(token) = &self.metrics_token {
            if token.expose().chars().count() < MIN_METRICS_TOKEN_CHARS {
                return Err(ConfigError(format!(
                    "metrics_token must have at least {MIN_METRICS_TOKEN_CHARS} characters"
                )));
            }
        }
        if let Some(url) = &self.blob_url {
            crate::blobs::check_url(url).map_err(|error| ConfigError(error.to_string()))?;
        }
        let subject_token = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.bus_prefix.is_empty()
            || !self
                .bus_prefix
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(subject_token))
        {
            return Err(ConfigError(format!(
                "bus_prefix must be NATS subject tokens (letters, digits, - and _, joined by dots), not {:?}",
                self.bus_prefix
            )));
        }
        if self.limits.presence_heartbeat_ms == 0 {
            return Err(ConfigError(
                "limits.presence_heartbeat_ms must be at least 1".into(),
            ));
        }
        for site in &self.sites {
            if let Some(url) = &site.url {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ConfigError(format!(
                        "site {:?}: url must be an http(s) address, not {url:?}",
                        site.key
                    )));
                }
            }
            let color = site.theme.color.as_str();
            let is_hex_colour = color.len() == 7
                && color.starts_with('#')
                && color[1..].chars().all(|c| c.is_ascii_hexdigit());
            if !is_hex_colour {
                return Err(ConfigError(format!(
                    "site {:?}: theme.color must look like #1d4ed8, not {color:?}",
                    site.key
                )));
            }
            if let Some(text) = &site.theme.launcher_text {
                let fits = !text.trim().is_empty()
                    && text.chars().count() <= MAX_LAUNCHER_TEXT_CHARS
                    && !text.chars().any(char::is_control);
                if !fits {
                    return Err(ConfigError(format!(
                        "site {:?}: theme.launcher_text must be one line of 1 to \
                         {MAX_LAUNCHER_TEXT_CHARS} characters, not {text:?}",
                        site.key
                    )));
                }
            }
        }
        Ok(self)
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("natter.db").display()))
    }

    /// Where uploaded files are kept.
    pub fn attachments_dir(&self) -> PathBuf {
        self.attachments
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("attachments"))
    }

    pub fn site(&self, key: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|site| site.key == key)
    }
}

/// `url` with its password (if any) replaced by `***`, for printing a database or bus URL.
pub fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A shorter `metrics_token` is refused: it guards the public port, so it must not be
/// guessable (`openssl rand -hex 16` gives 32 characters).
pub const MIN_METRICS_TOKEN_CHARS: usize = 16;

/// The launcher's text (W13) sits on one line next to the icon: a few words, not a sentence.
pub const MAX_LAUNCHER_TEXT_CHARS: usize = 40;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Where the built front-ends are. Relative paths are relative to the working directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssetsConfig {
    /// Trunk's output for the widget: the loader `natter.js`, the JS glue and the `.wasm`.
    pub widget_dir: PathBuf,
    /// Trunk's output for the console, served at `/inbox/`.
    pub console_dir: PathBuf,
}

impl Default for AssetsConfig {
    fn default() -> Self {
        Self {
            widget_dir: PathBuf::from("widget/dist"),
            console_dir: PathBuf::from("console/dist"),
        }
    }
}

/// One website that embeds the widget.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The public key in the snippet's `data-site`.
    pub key: String,
    pub name: String,
    /// Origins allowed to open the widget socket (S1), e.g. `https://shop.example`.
    /// `*` allows any origin; only sensible for the demo.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The secret the site's server signs identity tokens with (HS256, S2). Without one,
    /// `identify` with a token is refused and only unverified emails are stored.
    #[serde(default)]
    pub identity_secret: Option<Secret>,
    /// Consent mode (W14): the widget writes no cookie or storage before the visitor
    /// interacts with it or the host calls `natter('consent', true)`.
    #[serde(default)]
    pub consent_required: bool,
    /// The email-capture form: when it shows and which fields it asks for (W5).
    #[serde(default)]
    pub form: FormSettings,
    /// Colour (`#rrggbb`), side, launcher text, light/dark/auto (W13).
    #[serde(default)]
    pub theme: Theme,
    /// Shown in the widget when no agent is online (W6).
    #[serde(default)]
    pub away_message: Option<String>,
    /// The page the widget lives on: the magic link in emails opens it (E6). Without it,
    /// emails carry no link.
    #[serde(default)]
    pub url: Option<String>,
    /// An agent's chat message the visitor has not seen for this long goes out by email (E2).
    #[serde(default = "default_unread_email_after_ms")]
    pub unread_email_after_ms: i64,
    /// Email to this address (e.g. `support@shop.example`) without a reply token lands in
    /// this site's inbox (E4). With one site only, every such email does.
    #[serde(default)]
    pub inbound_address: Option<String>,
}

/// E2: ten minutes, as the product promises.
fn default_unread_email_after_ms() -> i64 {
    600_000
}

impl SiteConfig {
    pub fn demo() -> Self {
        Self {
            key: DEMO_SITE_KEY.into(),
            name: "Demo site".into(),
            allowed_origins: vec!["*".into()],
            // Public on purpose: the demo's logged-in page signs tokens with it. Real sites
            // set their own secret and keep it on their server.
            identity_secret: Some(Secret::new(DEMO_IDENTITY_SECRET)),
            consent_required: false,
            form: FormSettings {
                when: FormTrigger::AfterFirstMessage,
                name: FieldRule::Optional,
                phone: FieldRule::Off,
                company: FieldRule::Off,
            },
            theme: Theme::default(),
            away_message: Some(
                "We're away right now. Leave a message and we'll answer as soon as we're back."
                    .into(),
            ),
            url: None,
            unread_email_after_ms: default_unread_email_after_ms(),
            inbound_address: None,
        }
    }

    /// Whether a page at `origin` may use this site's widget. A missing Origin header (a
    /// non-browser client) is allowed only when any origin is.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.iter().any(|allowed| allowed == "*") {
            return true;
        }
        match origin {
            Some(origin) => self
                .allowed_origins
                .iter()
                .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin)),
            None => false,
        }
    }
}

/// Every size and time limit the relay enforces.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest message text, in Unicode scalar values (S4).
    pub max_message_chars: usize,
    /// Largest WebSocket message the relay reads; larger ones close the socket (S4).
    pub max_frame_bytes: usize,
    /// Per-socket read buffer. The tungstenite default (128 KiB) would cost ~130 KB per idle
    /// visitor; a few KiB is plenty for chat frames.
    pub ws_read_buffer_bytes: usize,
    /// Per-socket write buffer (see `ws_read_buffer_bytes`).
    pub ws_write_buffer_bytes: usize,
    /// How long a new socket may wait before saying hello.
    pub hello_timeout_secs: u64,
    /// How many recent messages a welcome carries.
    pub history_page_size: u32,
    /// How long an agent session lasts without use.
    pub agent_session_hours: u64,
    /// Longest login field (email or password), to bound hashing work.
    pub max_credential_chars: usize,
    /// Longest contact field (email, name, phone, company) a visitor or host may set.
    pub max_contact_field_chars: usize,
    /// Identity tokens must expire within this many seconds of now: "short-lived" (S2), so
    /// a leaked token is useless soon.
    pub identity_token_max_lifetime_secs: u64,
    /// Clock skew tolerated when checking an identity token's `exp`.
    pub identity_token_leeway_secs: u64,
    /// Inbox (I3): a conversation nobody answered for this long shows a red dot.
    pub missed_after_secs: u64,
    /// Inbox (I3): an agent stays online this long after their last console socket closed.
    pub agent_presence_grace_secs: u64,
    /// Inbox (I3): a visitor stays online (green) this long after their last widget socket.
    pub visitor_presence_grace_secs: u64,
    /// Several nodes (R5): how often a node tells the others it is alive. A node silent for
    /// two beats is presumed dead, and its sockets' presence ends a grace period later.
    pub presence_heartbeat_ms: u64,
    /// Inbox (I2): conversations per page when the request does not say.
    pub inbox_page_size: u32,
    /// Inbox (I2): the most conversations one page may ask for.
    pub max_inbox_page_size: u32,
    /// Inbox (I2): longest search text.
    pub max_search_chars: usize,
    /// Inbox: longest agent name, group name, saved-response category and title.
    pub max_short_field_chars: usize,
    /// Inbox (I1): shortest password an admin may set for an agent.
    pub min_password_chars: usize,
    /// Inbox (I11): audit log entries returned.
    pub audit_page_size: u32,
    /// Inbox (I12): other conversations shown in the contact panel.
    pub contact_conversations_shown: u32,
    /// Largest attachment, in bytes (W8: 10 MB by default).
    pub max_attachment_bytes: u64,
    /// Most files on one message.
    pub max_attachments_per_message: usize,
    /// Typing (W7): a repeated "still typing" from one socket within this many milliseconds of
    /// the last one passed on is dropped, so a misbehaving client cannot flood agents' sockets.
    /// A change (typing ↔ stopped) always passes.
    pub typing_repeat_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_chars: 4000,
            max_frame_bytes: 64 * 1024,
            ws_read_buffer_bytes: 4 * 1024,
            ws_write_buffer_bytes: 4 * 1024,
            hello_timeout_secs: 10,
            history_page_size: 200,
            agent_session_hours: 7 * 24,
            max_credential_chars: 256,
            max_contact_field_chars: 254,
            identity_token_max_lifetime_secs: 3600,
            identity_token_leeway_secs: 30,
            missed_after_secs: 30,
            agent_presence_grace_secs: 10,
            visitor_presence_grace_secs: 5,
            presence_heartbeat_ms: 2000,
            inbox_page_size: 50,
            max_inbox_page_size: 200,
            max_search_chars: 200,
            max_short_field_chars: 100,
            min_password_chars: 8,
            audit_page_size: 200,
            contact_conversations_shown: 20,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_attachments_per_message: 10,
            typing_repeat_ms: 1_000,
        }
    }
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
// figment's Jail API returns its own (large) error type; not ours to box.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn bus_prefix_must_be_nats_subject_tokens_and_the_heartbeat_positive() {
        let with_prefix = |prefix: &str| Config {
            bus_prefix: prefix.into(),
            ..Config::default()
        };
        for good in ["natter", "natter-test-1f.shop_a"] {
            assert!(with_prefix(good).validated().is_ok(), "{good}");
        }
        for bad in ["", "a..b", "a b", "a.*", "a.>", "natter."] {
            let error = with_prefix(bad).validated().unwrap_err().to_string();
            assert!(error.contains("bus_prefix"), "{bad}: {error}");
        }
        let mut config = Config::default();
        config.limits.presence_heartbeat_ms = 1;
        assert!(config.clone().validated().is_ok());
        config.limits.presence_heartbeat_ms = 0;
        assert!(config.validated().is_err());
    }

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let from_example: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(EXAMPLE_CONFIG))
            .extract()
            .expect("example config parses");
        assert_eq!(from_example.addr, Config::default().addr);
        assert_eq!(
            from_example.limits.max_message_chars,
            Limits::default().max_message_chars
        );
        assert_eq!(from_example.jobs, JobsConfig::default());
    }

    #[test]
    fn every_top_level_key_is_listed_for_the_environment() {
        let json = serde_json::to_value(Config::default()).expect("config serialises");
        let keys: Vec<_> = json
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        for key in &keys {
            assert!(
                TOP_LEVEL_KEYS.contains(&key.as_str()),
                "{key} missing from TOP_LEVEL_KEYS"
            );
        }
        assert_eq!(keys.len(), TOP_LEVEL_KEYS.len());
    }

    #[test]
    fn the_environment_overrides_and_foreign_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("NATTER_ADMIN_PASSWORD", "from-env");
            jail.set_env("NATTER_LIMITS__MAX_MESSAGE_CHARS", "12");
            jail.set_env("NATTER_RELAY_BIN", "/not/a/config/key");
            let config = Config::load(Path::new("missing.toml")).expect("loads");
            assert_eq!(
                config.admin_password.as_ref().map(Secret::expose),
                Some("from-env")
            );
            assert_eq!(config.limits.max_message_chars, 12);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("natter.toml", "adress = \"127.0.0.1:1\"")?;
            assert!(Config::load(Path::new("natter.toml")).is_err());
            Ok(())
        });
    }

    #[test]
    fn a_bad_theme_colour_is_refused_at_load() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "natter.toml",
                "[[sites]]\nkey = \"shop\"\nname = \"Shop\"\n[sites.theme]\ncolor = \"blue\"",
            )?;
            let error = Config::load(Path::new("natter.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("theme.color"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn launcher_text_must_be_one_short_line() {
        let site = |text: &str| {
            let mut site = SiteConfig::demo();
            site.theme.launcher_text = Some(text.into());
            Config {
                sites: vec![site],
                ..Config::default()
            }
            .validated()
        };
        assert!(site("Chat with us").is_ok());
        assert!(site("Écrivez-nous").is_ok());
        for bad in [
            "",
            "   ",
            "two\nlines",
            &"x".repeat(MAX_LAUNCHER_TEXT_CHARS + 1),
        ] {
            let error = site(bad).unwrap_err().to_string();
            assert!(error.contains("theme.launcher_text"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let config = Config {
            admin_password: Some(Secret::new("hunter2")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn mail_settings_that_cannot_work_are_refused() {
        let mut config = Config::default();
        config.mail.from_address = "not an address".into();
        assert!(config.clone().validated().is_err());
        config.mail.from_address = "support@shop.example".into();
        config.mail.inbound_domain = Some("reply+x@shop.example".into());
        assert!(config.clone().validated().is_err());
        config.mail.inbound_domain = Some("reply.shop.example".into());
        config.sites[0].url = Some("javascript:alert(1)".into());
        assert!(config.clone().validated().is_err());
        config.sites[0].url = Some("https://shop.example/help".into());
        assert!(config.validated().is_ok());
    }

    #[test]
    fn blob_url_comes_from_the_environment_and_an_unknown_scheme_is_refused_at_load() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("NATTER_BLOB_URL", "s3://natter-files/attachments");
            let config = Config::load(Path::new("missing.toml")).expect("loads");
            assert_eq!(
                config.blob_url.as_deref(),
                Some("s3://natter-files/attachments")
            );
            jail.set_env("NATTER_BLOB_URL", "gs://natter-files");
            let error = Config::load(Path::new("missing.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("blob_url") && error.contains("s3://"),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_metrics_token_is_refused_below_its_minimum_length() {
        let with_token = |chars: usize| Config {
            metrics_token: Some(Secret::new("t".repeat(chars))),
            ..Config::default()
        };
        assert!(with_token(MIN_METRICS_TOKEN_CHARS).validated().is_ok());
        let error = with_token(MIN_METRICS_TOKEN_CHARS - 1)
            .validated()
            .unwrap_err()
            .to_string();
        assert!(error.contains("metrics_token"), "{error}");
        assert!(Config::default().metrics_token.is_none());
        assert!(Config::default().metrics_listen.is_none());
    }

    #[test]
    fn printed_urls_hide_their_password() {
        assert_eq!(
            without_password("postgres://natter:hunter2@db.example/natter"),
            "postgres://natter:***@db.example/natter"
        );
        assert_eq!(
            without_password("sqlite://data/natter.db"),
            "sqlite://data/natter.db"
        );
    }

    #[test]
    fn origin_allow_list() {
        let site = SiteConfig {
            key: "shop".into(),
            name: "Shop".into(),
            allowed_origins: vec!["https://shop.example/".into()],
            ..SiteConfig::demo()
        };
        assert!(site.allows_origin(Some("https://shop.example")));
        assert!(!site.allows_origin(Some("https://evil.example")));
        assert!(!site.allows_origin(None));
        assert!(SiteConfig::demo().allows_origin(None));
    }
}
