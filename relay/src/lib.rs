//! The Natter relay: holds visitors' and agents' WebSockets, stores every message, serves the
//! agent API and the front-ends.
//!
//! # Layout
//! - [`config`]: layered configuration and every limit.
//! - [`gateway`]: the widget's door, the visitor socket (hello, identity, history, sending).
//! - [`conversations`]: the domain; `open` and the one `append` every door calls.
//! - [`jobs`]: the runner of the persisted jobs queue (what must happen after a message).
//! - [`store`]: records, the storage traits and the SQLite backend.
//! - [`events`], [`hub`], [`broker`]: what happened; this node's fan-out to its sockets; the
//!   carrier between nodes (in memory, or NATS with `bus_url`).
//! - [`presence`]: who is online (I3, W6).
//! - [`clock`]: the injectable wall clock.
//! - [`inbox`]: the agent API (the agents' door), its authentication and its socket.
//! - [`identity`]: signed visitor ids and token helpers.
//! - [`contacts`]: `identify` (S2): identity tokens, verified and unverified contacts.
//! - `demo`: the demo site's token signer (`POST /demo/identity-token`).
//! - [`assets`]: the loader, widget, console and demo pages.
//! - [`attachments`]: uploads (size, type and signature checks), capability-URL downloads.
//! - [`blobs`]: where attachments' bytes live (a local directory, or `blob_url`: S3 or a
//!   shared directory), so any node serves any file.
//! - [`metrics`]: Prometheus metrics (every metric name) and the `/metrics` endpoint, never
//!   public by default (`metrics_listen`, `metrics_token`).
//! - [`backup`]: `natter-relay backup`/`restore`: an online SQLite snapshot and the
//!   attachments in one tar file.
//! - [`mail`]: email continuity: the outbox jobs, the reply address and magic link, and the
//!   inbound email door (`POST /v1/mail/inbound`, `natter-relay ingest-mail`).
//!
//! The binary (`main.rs`) only parses flags and calls [`start`] then [`serve`]; tests do the
//! same through [`testing::spawn`] (feature `testing`).

pub mod assets;
pub mod attachments;
pub mod backup;
pub mod blobs;
pub mod broker;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod conversations;
mod demo;
pub mod error;
pub mod events;
pub mod gateway;
pub mod hub;
pub mod identity;
pub mod inbox;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod presence;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod typing;

use std::future::Future;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use natter_protocol::agent::Role;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::assets::Loader;
use crate::broker::{Broker, MemoryBroker};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::events::NodeId;
use crate::hub::Hub;
use crate::identity::VisitorSigner;
use crate::jobs::JobRunner;
use crate::store::Store;

/// The channel-neutral core of a node, shared by every door and by the jobs: configuration,
/// storage, live fan-out, time, presence and the jobs runner. Nothing web-specific, so the
/// domain (`conversations`) and future doors without a socket (inbound mail, webhooks) use it
/// as it is. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    /// This node's live fan-out (and, through its broker, the other nodes').
    pub hub: Arc<Hub>,
    pub clock: Arc<dyn Clock>,
    /// Agents and visitors online now (inbox dots, I3).
    pub presence: Arc<dyn presence::Presence>,
    /// What must happen after a message (emails, webhooks, sends).
    pub jobs: Arc<JobRunner>,
    /// Signs and checks the reply address and the magic link of emails (E3, E6).
    pub mail_tokens: mail::tokens::MailTokens,
    /// Where attachments' bytes live (shared by every node with `blob_url`).
    pub blobs: blobs::Blobs,
}

/// Everything a request handler or socket task needs: the [`Core`] (reached through `Deref`,
/// so `state.store` reads as before) and the web parts. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub visitor_signer: VisitorSigner,
    /// `/natter.js`, rendered once at start-up.
    pub loader: Arc<Loader>,
    /// Flips to `true` when the relay shuts down, so socket tasks can close cleanly.
    pub shutdown: watch::Receiver<bool>,
    shutdown_sender: Arc<watch::Sender<bool>>,
    /// Background tasks (the job runner, the broker feed), awaited on shutdown.
    tasks: TaskTracker,
}

impl std::ops::Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

/// The parts a relay node is made of that tests or several nodes in one process may share or
/// replace; [`Parts::default`] is a single node on its own.
pub struct Parts {
    pub clock: Arc<dyn Clock>,
    pub broker: Arc<dyn Broker>,
    /// Job handlers by kind, registered before the node's runner starts.
    pub job_handlers: Vec<(String, Arc<dyn jobs::JobHandler>)>,
}

impl Default for Parts {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            broker: Arc::new(MemoryBroker::default()),
            job_handlers: Vec::new(),
        }
    }
}

/// What start-up did that the operator must hear about.
#[derive(Debug, Default)]
pub struct StartupReport {
    /// The first admin was created now: their email, and the password if it was generated.
    pub admin_created: Option<(String, Option<String>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("could not read or create the secret key: {0}")]
    Secret(std::io::Error),
    #[error("could not open the database: {0}")]
    Store(#[from] error::StoreError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    #[error("could not create the first admin: {0}")]
    Admin(#[from] inbox::auth::CreateAgentError),
    #[error(transparent)]
    Mail(#[from] mail::smtp::MailerConfigError),
    #[error("could not join the other relay nodes: {0}")]
    Bus(#[from] broker::nats::NatsError),
    #[error("could not open the attachments store: {0}")]
    Blobs(#[from] blobs::BlobError),
}

/// Opens the store (running migrations), loads the secret, renders the loader and creates the
/// first admin if there is no agent yet. With `bus_url` it joins the other nodes over NATS.
pub async fn start(config: Config) -> Result<(AppState, StartupReport), StartError> {
    let mut parts = Parts::default();
    if let Some(url) = &config.bus_url {
        let broker = broker::nats::NatsBroker::connect(url, &config.bus_prefix).await?;
        parts.broker = Arc::new(broker);
    }
    start_with(config, parts).await
}

/// [`start`] with the given parts (a test clock, a broker shared with other nodes).
pub async fn start_with(
    config: Config,
    parts: Parts,
) -> Result<(AppState, StartupReport), StartError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|error| StartError::DataDir(config.data_dir.display().to_string(), error))?;
    let secret = match &config.secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => identity::load_or_create_secret(&config.data_dir.join("secret.key"))
            .map_err(StartError::Secret)?,
    };
    let store = store::open(&config.database_url()).await?;
    let (shutdown_sender, shutdown) = watch::channel(false);
    let node = NodeId::random();
    let hub = Hub::new(node, parts.broker);
    let presence = presence::NodePresence::new(
        hub.clone(),
        parts.clock.clone(),
        presence::PresenceTimes {
            agent_grace: std::time::Duration::from_secs(config.limits.agent_presence_grace_secs),
            visitor_grace: std::time::Duration::from_secs(
                config.limits.visitor_presence_grace_secs,
            ),
            heartbeat: std::time::Duration::from_millis(config.limits.presence_heartbeat_ms),
        },
    );
    let mut runner = JobRunner::new(
        store.clone(),
        parts.clock.clone(),
        config.jobs.clone(),
        node.0.to_string(),
    );
    for (kind, handler) in parts.job_handlers {
        runner.register(&kind, handler);
    }
    let config = Arc::new(config);
    let mail_tokens = mail::tokens::MailTokens::new(&secret);
    let blobs = blobs::Blobs::open(config.blob_url.as_deref(), &config.attachments_dir())?;
    if let Some(mailer) = mail::smtp::Mailer::from_config(&config.mail)? {
        let handler = Arc::new(mail::outbox::MailJobs {
            store: store.clone(),
            hub: hub.clone(),
            clock: parts.clock.clone(),
            config: config.clone(),
            tokens: mail_tokens.clone(),
            mailer,
        });
        runner.register(mail::outbox::REPLY_JOB, handler.clone());
        runner.register(mail::outbox::UNREAD_JOB, handler);
    }
    let jobs = Arc::new(runner);
    // Once per process: every node in it records into the same recorder.
    metrics::handle();
    let tasks = TaskTracker::new();
    tasks.spawn(metrics::upkeep(shutdown.clone()));
    tasks.spawn(hub.clone().forward_from_broker(shutdown.clone()));
    tasks.spawn(jobs.clone().run(shutdown.clone()));
    tasks.spawn(presence.clone().beat(shutdown.clone()));
    let state = AppState {
        loader: Arc::new(Loader::render(&config.assets.widget_dir)),
        core: Core {
            config,
            store,
            hub,
            clock: parts.clock,
            presence,
            jobs,
            mail_tokens,
            blobs,
        },
        visitor_signer: VisitorSigner::new(&secret),
        shutdown,
        shutdown_sender: Arc::new(shutdown_sender),
        tasks,
    };

    let mut report = StartupReport::default();
    if state.store.agent_count().await? == 0 {
        let email = state.config.admin_email.clone();
        let (password, generated) = match &state.config.admin_password {
            Some(password) => (password.expose().to_owned(), false),
            None => (identity::random_token()[..20].to_owned(), true),
        };
        inbox::auth::create_agent(&state, &email, "Admin", &password, Role::Admin).await?;
        report.admin_created = Some((email, generated.then_some(password)));
    }
    Ok((state, report))
}

/// All routes of the relay. Every request gets an `x-request-id` (a proxy's, or a new UUID),
/// carried by the request's log span, and answered back — except on the static assets
/// (`/natter.js`, `/widget/*`, `/inbox/*`): every host page's visitors download those, and
/// the widget's download budget counts its headers.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route(
            natter_protocol::visitor::VISITOR_WS_PATH,
            get(gateway::upgrade),
        )
        .merge(inbox::router())
        .merge(demo::router())
        .merge(attachments::router())
        .merge(mail::http::router());
    if let Some(token) = &config.metrics_token {
        router = router.merge(metrics::router(Some(token.clone())));
    }
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .merge(assets::router(
            config.assets.widget_dir.clone(),
            config.assets.console_dir.clone(),
        ))
        .with_state(state)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The span every log line of a request carries: its id, method and route. The route
/// template, never the path: capability URLs (`/v1/attachments/{id}/{token}`) hold secrets.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(other)", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        route,
    )
}

async fn ready(State(state): State<AppState>) -> StatusCode {
    match state.store.ping().await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Serves on an already-bound listener until `shutdown` completes, then tells every socket to
/// close and waits for in-flight requests. Messages are stored before they are acknowledged,
/// so nothing acknowledged is lost by stopping.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics_listener = match state.config.metrics_listen {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    serve_with_metrics(listener, metrics_listener, state, shutdown).await
}

/// [`serve`], with `/metrics` on `metrics_listener` (already bound to `metrics_listen`, so the
/// caller knows its address) until the relay stops.
pub async fn serve_with_metrics(
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Some(metrics_listener) = metrics_listener {
        let app = metrics::router(state.config.metrics_token.clone());
        let mut stopped = state.shutdown.clone();
        state.tasks.spawn(async move {
            let served = axum::serve(metrics_listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stopped| *stopped).await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the metrics listener failed");
            }
        });
    }
    let sender = state.shutdown_sender.clone();
    let stop_tasks = state.shutdown_sender.clone();
    let tasks = state.tasks.clone();
    let app = router(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = sender.send(true);
        })
        .await;
    // Background tasks and sockets stop at the same signal; wait for them, so a job's attempt
    // is never cut off half-way (its lease would make it run again, but later than it needs
    // to) and every socket gets its reconnect close code (4000) rather than a dropped
    // connection. Bounded: a client that does not read cannot hold the shutdown.
    let _ = stop_tasks.send(true);
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sockets or jobs did not finish within {SHUTDOWN_GRACE:?}");
    }
    served
}

/// How long a shutdown waits for sockets to close and jobs to finish their attempt.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// [`start`] then [`serve`].
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (state, _report) = start(config).await?;
    serve(listener, state, shutdown)
        .await
        .map_err(StartError::Serve)
}
