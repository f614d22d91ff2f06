//! Prometheus metrics (R6): the name of every metric the relay records, one small function per
//! thing measured (so call sites stay one line), the recorder and the `/metrics` endpoint.
//!
//! The recorder is process-wide (the `metrics` facade has one global recorder) and installed
//! once, by the first node that starts: tests start many relays in one process, and they all
//! record into, and render from, the same [`handle`]. Counters therefore count for the
//! process, not for one node.
//!
//! `/metrics` is never public by default. It is served
//! - on `metrics_listen` (a separate address, e.g. `127.0.0.1:9090`, for a scraper on the
//!   same machine or a private network), and/or
//! - on the public port when `metrics_token` is set, to requests with
//!   `Authorization: Bearer <metrics_token>` (the token is also required on `metrics_listen`
//!   when both are set).
//!
//! With neither, nothing serves it.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use natter_protocol::{Channel, ErrorCode};
use tokio::sync::watch;

use crate::config::Secret;
use crate::identity::constant_time_eq;

/// Where the metrics are served, on the public port (with a token) and on `metrics_listen`.
pub const METRICS_PATH: &str = "/metrics";

/// Gauge: sockets open now, by `kind` (`visitor`, `agent`).
pub const SOCKETS_OPEN: &str = "natter_sockets_open";
/// Counter: messages stored (resends not counted), by `channel` (`chat`, `email`,
/// `messenger`).
pub const MESSAGES_APPENDED: &str = "natter_messages_appended_total";
/// Histogram: how long `conversations::append` waits for the store's commit, in seconds.
pub const APPEND_SECONDS: &str = "natter_append_duration_seconds";
/// Counter: events this node lost from the broker (other nodes' events, NATS drops).
pub const BUS_LOST_EVENTS: &str = "natter_bus_lost_events_total";
/// Counter: times the broker reported lost events and every socket was told to resynchronise.
pub const BUS_RESYNCS: &str = "natter_bus_resyncs_total";
/// Counter: sockets that missed hub events and caught up from the store (`kind`: `visitor`
/// resends missed messages, `agent` gets `resync` and re-fetches).
pub const SOCKET_CATCH_UPS: &str = "natter_socket_catch_ups_total";
/// Counter: errors answered, by `code` (the protocol's `ErrorCode`, as on the wire) and `via`
/// (`socket`: an error frame; `http`: an HTTP error body).
pub const ERRORS: &str = "natter_errors_total";
/// Counter: requests or frames refused by a rate limit, by `limit` (the limit's name).
/// Recorded by the rate limiters with `metrics::counter!(RATE_LIMITED, "limit" => name)`.
pub const RATE_LIMITED: &str = "natter_rate_limited_total";

/// Every metric above, for checks that a dashboard or a document names them all.
pub const ALL: [&str; 8] = [
    SOCKETS_OPEN,
    MESSAGES_APPENDED,
    APPEND_SECONDS,
    BUS_LOST_EVENTS,
    BUS_RESYNCS,
    SOCKET_CATCH_UPS,
    ERRORS,
    RATE_LIMITED,
];

/// Bucket bounds of [`APPEND_SECONDS`]: a group commit takes a few milliseconds on a local
/// disk; the top buckets catch a stalled disk.
const APPEND_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How often histograms are folded into their buckets between scrapes, so recorded samples
/// never pile up in memory when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The kinds of socket counted in [`SOCKETS_OPEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    Visitor,
    Agent,
}

impl SocketKind {
    fn label(self) -> &'static str {
        match self {
            Self::Visitor => "visitor",
            Self::Agent => "agent",
        }
    }
}

/// Counts a socket as open while it lives (in [`SOCKETS_OPEN`]).
#[must_use = "the socket counts as open only while this lives"]
pub struct OpenSocket(SocketKind);

impl OpenSocket {
    /// One more socket of `kind` is open, until the returned value drops.
    pub fn count(kind: SocketKind) -> Self {
        metrics::gauge!(SOCKETS_OPEN, "kind" => kind.label()).increment(1.0);
        Self(kind)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        metrics::gauge!(SOCKETS_OPEN, "kind" => self.0.label()).decrement(1.0);
    }
}

/// A message was stored (not a resend); the store took `took` to commit it.
pub fn message_appended(channel: Channel, took: Duration) {
    metrics::counter!(MESSAGES_APPENDED, "channel" => channel_label(channel)).increment(1);
    metrics::histogram!(APPEND_SECONDS).record(took.as_secs_f64());
}

/// The broker reported `missed` lost events: every socket resynchronises.
pub fn bus_lost(missed: u64) {
    metrics::counter!(BUS_LOST_EVENTS).increment(missed);
    metrics::counter!(BUS_RESYNCS).increment(1);
}

/// A socket missed hub events and catches up from the store.
pub fn socket_caught_up(kind: SocketKind) {
    metrics::counter!(SOCKET_CATCH_UPS, "kind" => kind.label()).increment(1);
}

/// An error frame went out on a socket.
pub fn socket_error(code: ErrorCode) {
    metrics::counter!(ERRORS, "code" => error_code_label(code), "via" => "socket").increment(1);
}

/// An HTTP error body went out.
pub fn http_error(code: ErrorCode) {
    metrics::counter!(ERRORS, "code" => error_code_label(code), "via" => "http").increment(1);
}

fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Chat => "chat",
        Channel::Email => "email",
        Channel::Messenger => "messenger",
    }
}

/// The code as it is on the wire (`bad_frame`, `rate_limited`, …), so dashboards and client
/// logs use the same words.
fn error_code_label(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The process's Prometheus recorder, installed as the global `metrics` recorder on first use.
/// Idempotent: every later call returns the same handle.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(APPEND_SECONDS.to_owned()), APPEND_BUCKETS)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "append latency buckets refused; using a summary");
                PrometheusBuilder::new()
            });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            // Only when the relay is embedded in a program that installed its own recorder.
            tracing::warn!("another metrics recorder is installed; /metrics stays empty");
        }
        describe();
        register_zeros();
        handle
    })
}

/// The series with known labels start at 0, so a fresh relay's `/metrics` shows them and
/// rates over the first scrapes are right.
fn register_zeros() {
    for kind in [SocketKind::Visitor, SocketKind::Agent] {
        metrics::gauge!(SOCKETS_OPEN, "kind" => kind.label()).increment(0.0);
        metrics::counter!(SOCKET_CATCH_UPS, "kind" => kind.label()).increment(0);
    }
    for channel in [Channel::Chat, Channel::Email, Channel::Messenger] {
        metrics::counter!(MESSAGES_APPENDED, "channel" => channel_label(channel)).increment(0);
    }
    metrics::counter!(BUS_LOST_EVENTS).increment(0);
    metrics::counter!(BUS_RESYNCS).increment(0);
}

/// Help texts shown in the exposition (`# HELP`).
fn describe() {
    metrics::describe_gauge!(SOCKETS_OPEN, "Sockets open now, by kind");
    metrics::describe_counter!(MESSAGES_APPENDED, "Messages stored, by channel");
    metrics::describe_histogram!(
        APPEND_SECONDS,
        metrics::Unit::Seconds,
        "Time the store took to commit a message"
    );
    metrics::describe_counter!(BUS_LOST_EVENTS, "Events lost from the broker");
    metrics::describe_counter!(BUS_RESYNCS, "Resynchronisations after lost broker events");
    metrics::describe_counter!(
        SOCKET_CATCH_UPS,
        "Sockets that caught up after missed events"
    );
    metrics::describe_counter!(ERRORS, "Errors answered, by code and via");
    metrics::describe_counter!(RATE_LIMITED, "Requests refused by a rate limit, by limit");
}

/// Folds histogram samples into buckets every few seconds until shutdown.
pub async fn upkeep(mut shutdown: watch::Receiver<bool>) {
    let handle = handle();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(UPKEEP_EVERY) => handle.run_upkeep(),
            _ = shutdown.changed() => return,
        }
    }
}

/// `GET /metrics`, answering only requests with `Authorization: Bearer <token>` when a token
/// is given.
pub fn router<S: Clone + Send + Sync + 'static>(token: Option<Secret>) -> Router<S> {
    Router::new()
        .route(METRICS_PATH, get(render))
        .with_state(token)
}

async fn render(State(token): State<Option<Secret>>, headers: HeaderMap) -> Response {
    if let Some(token) = &token {
        if !bearer_matches(&headers, token) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a valid bearer token is required\n",
            )
                .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response()
}

fn bearer_matches(headers: &HeaderMap, token: &Secret) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.expose().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_labelled_as_on_the_wire() {
        assert_eq!(error_code_label(ErrorCode::RateLimited), "rate_limited");
        assert_eq!(error_code_label(ErrorCode::BadFrame), "bad_frame");
    }

    #[test]
    fn the_bearer_token_must_match_exactly() {
        let token = Secret::new("s3cret");
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().expect("header value"));
            bearer_matches(&headers, &token)
        };
        assert!(with("Bearer s3cret"));
        assert!(!with("Bearer s3cret2"));
        assert!(!with("Bearer s3cre"));
        assert!(!with("Basic s3cret"));
        assert!(!bearer_matches(&HeaderMap::new(), &token));
    }

    #[test]
    fn installing_twice_gives_the_same_handle_and_records_render() {
        assert!(std::ptr::eq(handle(), handle()));
        let fresh = handle().render();
        assert!(
            fresh.contains("natter_messages_appended_total{channel=\"messenger\"}"),
            "{fresh}"
        );
        let _socket = OpenSocket::count(SocketKind::Agent);
        message_appended(Channel::Email, Duration::from_millis(3));
        let text = handle().render();
        assert!(
            text.contains("natter_messages_appended_total{channel=\"email\"}"),
            "{text}"
        );
        assert!(
            text.contains("natter_sockets_open{kind=\"agent\"}"),
            "{text}"
        );
        assert!(
            text.contains("natter_append_duration_seconds_bucket"),
            "{text}"
        );
    }
}
