//! Several nodes, one blob store (issue 16): two relay nodes in one process with their own
//! data directories, one SQLite database and one `blob_url = file:///…` directory. A file a
//! visitor uploads on node A downloads byte-for-byte on node B, which never saw the upload.
//!
//! S3 cannot be reached from the test machines; it goes through the same `object_store` seam,
//! configured as the README's "Attachments storage" says.

use std::path::Path;

use anyhow::Result;
use natter_protocol::Attachment;
use natter_relay::config::Secret;
use natter_relay::testing::{self, TestRelay};
use reqwest::StatusCode;

use crate::attachments::{upload, PNG_SIGNATURE};
use crate::support::VisitorClient;

/// Two nodes sharing a database and a blob store, and nothing else on disk.
struct TwoNodes {
    a: TestRelay,
    b: TestRelay,
    blobs: tempfile::TempDir,
    // Declared last: dropped after both nodes.
    _database: tempfile::TempDir,
}

async fn two_nodes() -> Result<TwoNodes> {
    let database = tempfile::tempdir()?;
    let blobs = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}", database.path().join("natter.db").display());
    let blob_url = url_of(blobs.path())?;
    let a = node(&database_url, &blob_url).await;
    let b = node(&database_url, &blob_url).await;
    assert_ne!(
        a.state.config.data_dir, b.state.config.data_dir,
        "each node has its own data directory"
    );
    Ok(TwoNodes {
        a,
        b,
        blobs,
        _database: database,
    })
}

async fn node(database_url: &str, blob_url: &str) -> TestRelay {
    let (database_url, blob_url) = (database_url.to_owned(), blob_url.to_owned());
    testing::spawn_with(move |config| {
        config.database_url = Some(database_url);
        config.blob_url = Some(blob_url);
        // Nodes of one deployment share the signing secret, as they share the database.
        config.secret = Some(Secret::new("two-nodes-test-secret"));
    })
    .await
}

/// `file:///…` of a directory.
fn url_of(dir: &Path) -> Result<String> {
    let dir = dir.canonicalize()?;
    Ok(format!("file://{}", dir.display()))
}

/// A PNG of `size` bytes whose bytes differ all along, so a shifted or truncated copy shows.
fn varied_png(size: usize) -> Vec<u8> {
    let mut bytes = PNG_SIGNATURE.to_vec();
    let mut state: u32 = 0x2545_f491;
    while bytes.len() < size {
        // xorshift: cheap, deterministic, no pattern a chunk boundary could hide.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

async fn upload_on_a_download_on_b(nodes: &TwoNodes, size: usize) -> Result<()> {
    let visitor = VisitorClient::connect(&nodes.a, None).await?;
    let sent = varied_png(size);
    let response = upload(&nodes.a, &visitor, "image/png", "plan.png", sent.clone()).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let attachment: Attachment = response.json().await?;
    assert_eq!(attachment.size, size as u64);

    // In the shared store, and not in either node's own directory.
    let key = attachment.id.0.to_string();
    assert!(nodes.blobs.path().join(&key).is_file());
    for node in [&nodes.a, &nodes.b] {
        assert!(!node.state.config.attachments_dir().join(&key).exists());
    }

    let download = reqwest::get(nodes.b.http_url(&attachment.url)).await?;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(
        download.headers()["content-length"],
        size.to_string().as_str()
    );
    let received = download.bytes().await?;
    assert!(
        received == sent,
        "node B serves node A's file byte-for-byte"
    );
    Ok(())
}

#[tokio::test]
async fn a_file_uploaded_on_node_a_downloads_byte_for_byte_on_node_b() -> Result<()> {
    let nodes = two_nodes().await?;
    upload_on_a_download_on_b(&nodes, 300 * 1024).await
}

#[tokio::test]
async fn a_file_larger_than_one_part_streams_across_nodes_too() -> Result<()> {
    // Past 5 MiB the upload goes to the store in parts (a multipart upload on S3).
    let nodes = two_nodes().await?;
    upload_on_a_download_on_b(&nodes, 6 * 1024 * 1024 + 123).await
}

#[tokio::test]
async fn without_the_token_node_b_serves_nothing() -> Result<()> {
    let nodes = two_nodes().await?;
    let visitor = VisitorClient::connect(&nodes.a, None).await?;
    let response = upload(
        &nodes.a,
        &visitor,
        "text/plain",
        "a.txt",
        b"secret".to_vec(),
    )
    .await?;
    let attachment: Attachment = response.json().await?;
    let guessed = format!("/v1/attachments/{}/not-the-token", attachment.id.0);
    let download = reqwest::get(nodes.b.http_url(&guessed)).await?;
    assert_eq!(download.status(), StatusCode::NOT_FOUND);
    Ok(())
}
