//! The one helper every integration test uses: a real relay on `127.0.0.1:0` with a temporary
//! SQLite database, torn down when the handle drops.
//!
//! The listener is bound before the server task starts, so the relay accepts connections as
//! soon as [`spawn`] returns: no sleeps.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::{Config, Secret};
use crate::{AppState, Parts};

/// The first admin's credentials in every test relay.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// A running relay. Dropping it shuts the relay down and deletes its data.
pub struct TestRelay {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when the test set `metrics_listen` (bound on its port, 0
    /// picking a free one).
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _data_dir: tempfile::TempDir,
}

impl TestRelay {
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// As if the broker had lost events from other nodes: every socket of this relay must
    /// resynchronise (a NATS outage, a slow consumer).
    pub fn lose_events_from_other_nodes(&self) {
        self.state.hub.missed_from_other_nodes(1);
    }

    /// Stops the relay gracefully and waits until it has.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A relay with the default configuration (demo site, default limits).
pub async fn spawn() -> TestRelay {
    spawn_with(|_| {}).await
}

/// A relay whose configuration `adjust` may change (limits, sites) before it starts.
///
/// # Panics
/// When the relay cannot start: a test cannot go on without it.
pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestRelay {
    spawn_with_parts(adjust, Parts::default()).await
}

/// With `NATTER_TEST_LOG` set (an env-filter such as `natter_relay=debug`), the relays of a
/// test log through the test harness: how to see why a test failed on a loaded CI machine.
fn log_when_asked() {
    if let Ok(filter) = std::env::var("NATTER_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// A relay with the given parts: a [`crate::clock::ManualClock`] the test moves instead of
/// sleeping, or a broker shared with another node started in the same test.
///
/// # Panics
/// When the relay cannot start: a test cannot go on without it.
pub async fn spawn_with_parts(adjust: impl FnOnce(&mut Config), parts: Parts) -> TestRelay {
    log_when_asked();
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let mut config = Config {
        data_dir: data_dir.path().to_path_buf(),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        ..Config::default()
    };
    // Tests that need the built front-ends point these at real builds.
    config.assets.widget_dir = PathBuf::from("/nonexistent/widget");
    config.assets.console_dir = PathBuf::from("/nonexistent/console");
    adjust(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let metrics_listener = match config.metrics_listen {
        Some(metrics_addr) => Some(
            TcpListener::bind(metrics_addr)
                .await
                .expect("bind the metrics address"),
        ),
        None => None,
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(|listener| listener.local_addr().expect("local address"));
    let (state, _report) = crate::start_with(config, parts)
        .await
        .expect("relay starts");
    let (shutdown, shutdown_received) = oneshot::channel::<()>();
    let task = tokio::spawn({
        let state = state.clone();
        async move {
            let stop = async move {
                let _ = shutdown_received.await;
            };
            let served = crate::serve_with_metrics(listener, metrics_listener, state, stop);
            if let Err(error) = served.await {
                tracing::error!(%error, "test relay failed");
            }
        }
    });
    TestRelay {
        addr,
        metrics_addr,
        state,
        shutdown: Some(shutdown),
        task: Some(task),
        _data_dir: data_dir,
    }
}
