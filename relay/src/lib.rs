//! The Natter relay: holds visitors' and agents' WebSockets, stores every message, serves the
//! agent API and the front-ends.
//!
//! # Layout
//! - [`config`]: layered configuration and every limit.
//! - [`gateway`]: the visitor socket (hello, identity, history, sending).
//! - [`conversations`]: the domain; the one `append` every door calls.
//! - [`store`]: the `Store` trait and its SQLite backend.
//! - [`bus`]: fan-out of stored events to sockets (in-process; NATS later).
//! - [`inbox`]: the agent API, its authentication and its socket.
//! - [`identity`]: signed visitor ids and token helpers.
//! - [`contacts`]: `identify` (S2): identity tokens, verified and unverified contacts.
//! - `demo`: the demo site's token signer (`POST /demo/identity-token`).
//! - [`assets`]: the loader, widget, console and demo pages.
//! - [`attachments`]: uploads (size, type and signature checks), capability-URL downloads.
//!
//! The binary (`main.rs`) only parses flags and calls [`start`] then [`serve`]; tests do the
//! same through [`testing::spawn`] (feature `testing`).

pub mod assets;
pub mod attachments;
pub mod bus;
mod clock;
pub mod config;
pub mod contacts;
pub mod conversations;
mod demo;
pub mod error;
pub mod gateway;
pub mod identity;
pub mod inbox;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod typing;

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use natter_protocol::agent::Role;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::assets::Loader;
use crate::bus::{Bus, InProcessBus};
use crate::config::Config;
use crate::identity::VisitorSigner;
use crate::store::Store;

/// Everything a request handler or socket task needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    /// Agents and visitors online now (inbox dots, I3).
    pub presence: Arc<inbox::presence::Presence>,
    pub visitor_signer: VisitorSigner,
    /// `/natter.js`, rendered once at start-up.
    pub loader: Arc<Loader>,
    /// Flips to `true` when the relay shuts down, so socket tasks can close cleanly.
    pub shutdown: watch::Receiver<bool>,
    shutdown_sender: Arc<watch::Sender<bool>>,
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
}

/// Opens the store (running migrations), loads the secret, renders the loader and creates the
/// first admin if there is no agent yet.
pub async fn start(config: Config) -> Result<(AppState, StartupReport), StartError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|error| StartError::DataDir(config.data_dir.display().to_string(), error))?;
    let secret = match &config.secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => identity::load_or_create_secret(&config.data_dir.join("secret.key"))
            .map_err(StartError::Secret)?,
    };
    let store = store::open(&config.database_url()).await?;
    let (shutdown_sender, shutdown) = watch::channel(false);
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::default());
    let presence = inbox::presence::Presence::new(
        bus.clone(),
        std::time::Duration::from_secs(config.limits.agent_presence_grace_secs),
        std::time::Duration::from_secs(config.limits.visitor_presence_grace_secs),
    );
    let state = AppState {
        loader: Arc::new(Loader::render(&config.assets.widget_dir)),
        config: Arc::new(config),
        store,
        bus,
        presence,
        visitor_signer: VisitorSigner::new(&secret),
        shutdown,
        shutdown_sender: Arc::new(shutdown_sender),
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

/// All routes of the relay.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route(
            natter_protocol::visitor::VISITOR_WS_PATH,
            get(gateway::upgrade),
        )
        .merge(inbox::router())
        .merge(demo::router())
        .merge(attachments::router())
        .merge(assets::router(
            config.assets.widget_dir.clone(),
            config.assets.console_dir.clone(),
        ))
        .with_state(state)
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
    let sender = state.shutdown_sender.clone();
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = sender.send(true);
        })
        .await
}

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
