//! Operations (R6): `/metrics` counts what happened and is never public by default (a bearer
//! token on the public port, or a separate address), and a backup taken while the relay runs
//! restores into a fresh data directory with its messages, files and visitors.
//!
//! Metrics are process-wide (one recorder for every relay in this test binary), so the checks
//! compare a scrape before and after with "at least": other tests running at the same time
//! only add.

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use futures_util::SinkExt;
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{Attachment, ClientMessageId, ErrorCode};
use natter_relay::config::Secret;
use natter_relay::testing::{self, TestRelay};
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::attachments::upload;
use crate::support::{next_frame_raw, send_frame, VisitorClient};

const TOKEN: &str = "metrics-token-for-the-ops-test";

/// The value of one sample line (`name{labels} value`) in a Prometheus text exposition; 0 when
/// the series has not been recorded yet.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
        .unwrap_or(0.0)
}

async fn scrape(url: &str, token: Option<&str>) -> Result<reqwest::Response> {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Ok(request.send().await?)
}

async fn metrics_text(relay: &TestRelay) -> Result<String> {
    let response = scrape(&relay.http_url("/metrics"), Some(TOKEN)).await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(response.text().await?)
}

const CHAT_APPENDED: &str = "natter_messages_appended_total{channel=\"chat\"}";
const APPENDS_TIMED: &str = "natter_append_duration_seconds_count";
const VISITOR_SOCKETS: &str = "natter_sockets_open{kind=\"visitor\"}";
const BAD_FRAME_ERRORS: &str = "natter_errors_total{code=\"bad_frame\",via=\"socket\"}";
const UNAUTHORIZED_ERRORS: &str = "natter_errors_total{code=\"unauthorized\",via=\"http\"}";
const BUS_RESYNCS: &str = "natter_bus_resyncs_total";
const VISITOR_CATCH_UPS: &str = "natter_socket_catch_ups_total{kind=\"visitor\"}";

#[tokio::test]
async fn metrics_count_messages_sockets_errors_and_resyncs_behind_a_token() -> Result<()> {
    let relay = testing::spawn_with(|config| {
        config.metrics_token = Some(Secret::new(TOKEN));
    })
    .await;
    let before = metrics_text(&relay).await?;

    let mut visitor = VisitorClient::connect(&relay, None).await?;
    visitor.send_text("hello, is anyone there?").await?;
    // A frame that is not JSON: an error frame, and the socket goes on.
    visitor
        .socket
        .send(WsMessage::text("this is not json"))
        .await?;
    match visitor.next().await? {
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        } => {}
        other => bail!("expected a bad_frame error, got {other:?}"),
    }
    // A wrong password: an HTTP error body with its code.
    let login = reqwest::Client::new()
        .post(relay.http_url("/v1/agent/login"))
        .json(&serde_json::json!({ "email": "admin@example.com", "password": "wrong" }))
        .send()
        .await?;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
    // Lost broker events: the node resyncs and the socket catches up, ending with an
    // availability frame.
    relay.lose_events_from_other_nodes();
    loop {
        if let ServerFrame::Availability { .. } = next_frame_raw(&mut visitor.socket).await? {
            break;
        }
    }

    let after = metrics_text(&relay).await?;
    for (series, at_least) in [
        (CHAT_APPENDED, 1.0),
        (APPENDS_TIMED, 1.0),
        (BAD_FRAME_ERRORS, 1.0),
        (UNAUTHORIZED_ERRORS, 1.0),
        (BUS_RESYNCS, 1.0),
        (VISITOR_CATCH_UPS, 1.0),
    ] {
        let moved = sample(&after, series) - sample(&before, series);
        assert!(moved >= at_least, "{series} moved by {moved}:\n{after}");
    }
    assert!(sample(&after, VISITOR_SOCKETS) >= 1.0, "{after}");
    assert!(
        after.contains("natter_append_duration_seconds_bucket{le=\"0.005\"}"),
        "append latency is a histogram with buckets:\n{after}"
    );
    Ok(())
}

#[tokio::test]
async fn metrics_are_refused_without_the_token_and_not_public_by_default() -> Result<()> {
    let with_token = testing::spawn_with(|config| {
        config.metrics_token = Some(Secret::new(TOKEN));
    })
    .await;
    let url = with_token.http_url("/metrics");
    for token in [None, Some("wrong-token-of-enough-length"), Some("")] {
        let response = scrape(&url, token).await?;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(!response.text().await?.contains("natter_"), "{token:?}");
    }
    assert_eq!(scrape(&url, Some(TOKEN)).await?.status(), StatusCode::OK);

    // The default: nothing serves /metrics on the public port.
    let default = testing::spawn().await;
    let response = scrape(&default.http_url("/metrics"), None).await?;
    assert_ne!(response.status(), StatusCode::OK);
    assert!(!response.text().await?.contains("natter_"));

    // A separate address: served there (no token set, so none needed), not on the public port.
    let separate = testing::spawn_with(|config| {
        config.metrics_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let metrics_addr = separate.metrics_addr.context("metrics address bound")?;
    let public = scrape(&separate.http_url("/metrics"), None).await?;
    assert_ne!(public.status(), StatusCode::OK);
    let private = scrape(&format!("http://{metrics_addr}/metrics"), None).await?;
    assert_eq!(private.status(), StatusCode::OK);
    assert!(private.text().await?.contains("natter_sockets_open"));

    // Both: the separate address asks for the token too.
    let both = testing::spawn_with(|config| {
        config.metrics_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.metrics_token = Some(Secret::new(TOKEN));
    })
    .await;
    let both_url = format!(
        "http://{}/metrics",
        both.metrics_addr.context("metrics address bound")?
    );
    assert_eq!(
        scrape(&both_url, None).await?.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scrape(&both_url, Some(TOKEN)).await?.status(),
        StatusCode::OK
    );
    Ok(())
}

#[tokio::test]
async fn every_request_gets_a_request_id_and_keeps_a_proxys() -> Result<()> {
    let relay = testing::spawn().await;
    let fresh = reqwest::get(relay.http_url("/healthz")).await?;
    let id = fresh
        .headers()
        .get("x-request-id")
        .context("x-request-id on the answer")?
        .to_str()?;
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let kept = reqwest::Client::new()
        .get(relay.http_url("/healthz"))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await?;
    assert_eq!(kept.headers()["x-request-id"], "from-the-proxy-42");
    Ok(())
}

#[tokio::test]
async fn a_backup_taken_while_the_relay_runs_restores_messages_files_and_visitors() -> Result<()> {
    let relay = testing::spawn().await;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    visitor.send_text("first, before the backup").await?;
    let notes = b"order 1234: two blue mugs".to_vec();
    let attachment: Attachment = upload(&relay, &visitor, "text/plain", "notes.txt", notes.clone())
        .await?
        .json()
        .await?;
    send_frame(
        &mut visitor.socket,
        &ClientFrame::Send {
            client_id: ClientMessageId::new_random(),
            text: "here is my order".into(),
            attachments: vec![attachment.id],
        },
    )
    .await?;
    match visitor.next().await? {
        ServerFrame::Ack { .. } => {}
        other => bail!("expected ack, got {other:?}"),
    }

    let backups = tempfile::tempdir()?;
    let file = backups.path().join("natter-backup.tar");
    let config = relay.state.config.clone();
    let target = file.clone();
    let report =
        tokio::task::spawn_blocking(move || natter_relay::backup::backup(&config, &target))
            .await??;
    assert_eq!(report.attachment_files, 1);
    assert!(report.secret_included);
    // After the snapshot: not in the backup.
    visitor.send_text("after the backup").await?;

    let fresh = tempfile::tempdir()?;
    let mut restore_config = (*relay.state.config).clone();
    restore_config.data_dir = fresh.path().to_path_buf();
    let source = file.clone();
    let restored = tokio::task::spawn_blocking(move || {
        natter_relay::backup::restore(&restore_config, &source)
    })
    .await??;
    assert_eq!(restored.attachment_files, 1);
    assert!(restored.secret_restored);

    let data_dir = fresh.path().to_path_buf();
    let second = testing::spawn_with(|config| config.data_dir = data_dir).await;
    // The same visitor id still works (the secret key came along) and shows the history.
    let back = VisitorClient::connect(&second, Some(&visitor.token)).await?;
    assert_eq!(back.token, visitor.token, "the visitor id is still valid");
    let texts: Vec<&str> = back.history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["first, before the backup", "here is my order"]);
    assert_eq!(back.history[1].attachments, vec![attachment.clone()]);
    let download = reqwest::get(second.http_url(&attachment.url)).await?;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await?.to_vec(), notes);

    // A second restore into the same data directory is refused.
    let mut again = (*second.state.config).clone();
    again.data_dir = fresh.path().to_path_buf();
    let refused = natter_relay::backup::restore(&again, &file).unwrap_err();
    assert!(refused.to_string().contains("already exists"), "{refused}");
    Ok(())
}

#[test]
fn the_grafana_dashboard_and_the_readme_name_every_metric() -> Result<()> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!(
        "{root}/docs/grafana-dashboard.json"
    ))?)?;
    let queries: Vec<&str> = dashboard["panels"]
        .as_array()
        .context("panels")?
        .iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .filter_map(|target| target["expr"].as_str())
        .collect();
    let readme = std::fs::read_to_string(format!("{root}/README.md"))?;
    for name in natter_relay::metrics::ALL {
        assert!(
            queries.iter().any(|query| query.contains(name)),
            "no dashboard panel charts {name}"
        );
        assert!(readme.contains(name), "the README does not list {name}");
    }
    Ok(())
}
