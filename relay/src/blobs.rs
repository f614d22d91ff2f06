//! The blob seam: where the bytes of attachments live, behind `object_store`, so any relay
//! node can serve any file.
//!
//! By default a [`LocalFileSystem`] rooted at `<data_dir>/attachments` (the object key is the
//! file name, so files written before this seam keep working). With `blob_url` the store comes
//! from the URL: `file:///shared/dir` (a directory every node mounts) or `s3://bucket/prefix`
//! (any S3-compatible store, configured with the usual `AWS_*` environment variables).
//!
//! Only [`Blobs`] knows about `object_store`; callers see keys, byte streams and [`BlobError`].
//! This module imports nothing from the relay, so `config` can check a `blob_url` with
//! [`check_url`] without a cycle.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutPayload, WriteMultipart};
use url::Url;

/// Size of the parts of a streamed upload. S3 requires at least 5 MiB for every part but the
/// last, and a body smaller than one part is sent in one request (see [`Blobs::put`]).
const PART_BYTES: usize = 5 * 1024 * 1024;

/// Parts of one upload in flight at once: bounds the memory one upload holds to a few parts.
const PARTS_IN_FLIGHT: usize = 2;

/// What can go wrong with a blob. No `object_store` type leaks out except as a source.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no such file")]
    NotFound,
    /// The bytes to store could not be read (the client went away mid-upload).
    #[error("could not read the file to store: {0}")]
    Body(std::io::Error),
    #[error("the file store failed: {0}")]
    Store(#[source] object_store::Error),
    #[error("could not open the local file store at {path}: {source}")]
    LocalDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("blob_url {url:?}: {reason}")]
    Url { url: String, reason: String },
}

impl From<object_store::Error> for BlobError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => Self::NotFound,
            error => Self::Store(error),
        }
    }
}

/// A stored file being read: its size and its bytes as they arrive.
pub struct Blob {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, BlobError>>,
}

/// The file store of a node. Cheap to clone (the store is shared).
#[derive(Clone, Debug)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Where the keys live inside the store (`s3://bucket/prefix` → `prefix`).
    prefix: Path,
    /// The directory of a local store: its files are synced to disk before a put returns, as
    /// `LocalFileSystem` renames without `fsync` and an acknowledged upload must survive a
    /// power cut like an acknowledged message does. `None` for remote stores.
    local_root: Option<PathBuf>,
}

impl Blobs {
    /// The store `blob_url` names, or the local directory `local_dir` without one.
    pub fn open(blob_url: Option<&str>, local_dir: &FsPath) -> Result<Self, BlobError> {
        match blob_url {
            Some(url) => Self::from_url(url),
            None => Self::local(local_dir),
        }
    }

    /// A store in a local directory, created if missing.
    pub fn local(dir: &FsPath) -> Result<Self, BlobError> {
        let failed = |source| BlobError::LocalDir {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        let root = std::fs::canonicalize(dir).map_err(failed)?;
        let store = LocalFileSystem::new_with_prefix(&root)?;
        tracing::info!(dir = %root.display(), "attachments stored in a local directory");
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::default(),
            local_root: Some(root),
        })
    }

    /// The store a `file:///…` or `s3://bucket/prefix` URL names; S3 reads `AWS_*` from the
    /// environment (credentials, region, endpoint for S3-compatible stores). Nothing is
    /// contacted yet: a wrong credential shows on the first upload.
    pub fn from_url(url: &str) -> Result<Self, BlobError> {
        let (parsed, scheme) = parse(url)?;
        if scheme == ObjectStoreScheme::Local {
            // A shared directory: the same checks and fsync as the default store.
            let dir = parsed
                .to_file_path()
                .map_err(|()| invalid(url, "not a local path"))?;
            return Self::local(&dir);
        }
        let aws = std::env::vars().filter(|(key, _)| key.starts_with("AWS_"));
        let (store, prefix) = object_store::parse_url_opts(&parsed, aws)
            .map_err(|error| invalid(url, &error.to_string()))?;
        tracing::info!(store = %store, prefix = %prefix, "attachments stored in an object store");
        Ok(Self {
            store: Arc::from(store),
            prefix,
            local_root: None,
        })
    }

    /// Stores `body` under `key`, failing as soon as it passes `limit` bytes; returns the
    /// size. Nothing is left under `key` (nor any part) when it fails.
    ///
    /// A body up to one part ([`PART_BYTES`]) is buffered and sent in one request: chat
    /// attachments are nearly all that small, and one PUT is one round trip where a multipart
    /// upload is three. A larger body switches to a multipart upload that streams the rest, so
    /// an upload holds a few parts in memory whatever `max_attachment_bytes` is.
    pub async fn put<S>(&self, key: &str, body: S, limit: u64) -> Result<u64, BlobError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let mut body = body;
        let mut first = Vec::new();
        let mut size = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::Body)?;
            size = within(size, &chunk, limit)?;
            first.push(chunk);
            if size >= PART_BYTES as u64 {
                return self.put_multipart(key, first, body, size, limit).await;
            }
        }
        self.store
            .put(&self.location(key), PutPayload::from_iter(first))
            .await?;
        self.sync(key).await?;
        Ok(size)
    }

    /// Stores bytes that arrived whole (an email's attachment).
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        self.store
            .put(&self.location(key), PutPayload::from_bytes(bytes))
            .await?;
        self.sync(key).await
    }

    /// The file under `key`, as a stream ([`BlobError::NotFound`] if there is none).
    pub async fn get(&self, key: &str) -> Result<Blob, BlobError> {
        let result = self.store.get(&self.location(key)).await?;
        let size = result.meta.size;
        let stream = result.into_stream().map_err(BlobError::from).boxed();
        Ok(Blob { size, stream })
    }

    /// Removes the file under `key`; a missing one is not an error (it is gone either way).
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.location(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(BlobError::Store(error)),
        }
    }

    /// [`Self::delete`] for clean-ups on a path that already failed: logs, never fails.
    pub async fn discard(&self, key: &str) {
        if let Err(error) = self.delete(key).await {
            tracing::warn!(%error, key, "could not remove a file nothing refers to");
        }
    }

    fn location(&self, key: &str) -> Path {
        self.prefix.clone().join(key)
    }

    /// Streams the rest of a large body into a multipart upload that starts with `first`.
    async fn put_multipart<S>(
        &self,
        key: &str,
        first: Vec<Bytes>,
        rest: S,
        size: u64,
        limit: u64,
    ) -> Result<u64, BlobError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let location = self.location(key);
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        first.into_iter().for_each(|chunk| writer.put(chunk));
        match feed(&mut writer, rest, size, limit).await {
            Ok(size) => {
                writer.finish().await?;
                self.sync(key).await?;
                Ok(size)
            }
            Err(error) => {
                // S3 keeps the parts of an unfinished upload (and bills them) until aborted.
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, %location, "could not abort an upload");
                }
                Err(error)
            }
        }
    }

    /// Flushes a local file to disk; nothing to do for a remote store.
    async fn sync(&self, key: &str) -> Result<(), BlobError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let path = root.join(key);
        let synced = tokio::task::spawn_blocking(move || std::fs::File::open(path)?.sync_all())
            .await
            .map_err(std::io::Error::other)
            .and_then(|synced| synced);
        synced.map_err(|source| {
            BlobError::Store(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(source),
            })
        })
    }
}

/// Writes the rest of a body into a multipart upload within the limit; returns the size.
async fn feed<S>(
    writer: &mut WriteMultipart,
    mut rest: S,
    mut size: u64,
    limit: u64,
) -> Result<u64, BlobError>
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
{
    while let Some(chunk) = rest.next().await {
        let chunk = chunk.map_err(BlobError::Body)?;
        size = within(size, &chunk, limit)?;
        // Back-pressure: the client's upload waits for the store rather than piling up.
        writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        writer.put(chunk);
    }
    Ok(size)
}

/// The size after `chunk`, or [`BlobError::TooLarge`] once it passes `limit`.
fn within(size: u64, chunk: &Bytes, limit: u64) -> Result<u64, BlobError> {
    let size = size + chunk.len() as u64;
    if size > limit {
        return Err(BlobError::TooLarge { limit });
    }
    Ok(size)
}

/// Checks a `blob_url` at configuration load: a URL, of a scheme this build stores to.
pub fn check_url(url: &str) -> Result<(), BlobError> {
    parse(url).map(|_| ())
}

/// The URL and its scheme, if this build supports it (`file`, and S3 with the `aws` feature).
fn parse(url: &str) -> Result<(Url, ObjectStoreScheme), BlobError> {
    let parsed = Url::parse(url).map_err(|error| invalid(url, &error.to_string()))?;
    let unsupported = || {
        invalid(
            url,
            "unsupported store; use file:///absolute/dir or s3://bucket/prefix",
        )
    };
    let (scheme, _) = ObjectStoreScheme::parse(&parsed).map_err(|_| unsupported())?;
    match scheme {
        ObjectStoreScheme::Local | ObjectStoreScheme::AmazonS3 => Ok((parsed, scheme)),
        _ => Err(unsupported()),
    }
}

fn invalid(url: &str, reason: &str) -> BlobError {
    BlobError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&[u8]]) -> impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin {
        let chunks: Vec<_> = chunks
            .iter()
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        futures_util::stream::iter(chunks)
    }

    async fn read(blobs: &Blobs, key: &str) -> Result<Vec<u8>, BlobError> {
        let blob = blobs.get(key).await?;
        let chunks: Vec<Bytes> = blob.stream.try_collect().await?;
        Ok(chunks.concat())
    }

    fn entries(dir: &FsPath) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_local_store_puts_gets_and_deletes_under_the_plain_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = Blobs::local(&dir.path().join("attachments")).expect("store");
        let key = uuid::Uuid::new_v4().to_string();
        let size = blobs
            .put(&key, body(&[b"hello ", b"world"]), 100)
            .await
            .expect("put");
        assert_eq!(size, 11);
        // The key is the file name, as before the seam: old files keep working.
        let on_disk = std::fs::read(dir.path().join("attachments").join(&key)).expect("file");
        assert_eq!(on_disk, b"hello world");
        assert_eq!(read(&blobs, &key).await.expect("get"), b"hello world");
        assert_eq!(blobs.get(&key).await.expect("get").size, 11);

        blobs.delete(&key).await.expect("delete");
        assert!(matches!(blobs.get(&key).await, Err(BlobError::NotFound)));
        blobs.delete(&key).await.expect("deleting twice is fine");
    }

    #[tokio::test]
    async fn a_missing_object_is_not_found() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = Blobs::local(dir.path()).expect("store");
        assert!(matches!(
            blobs.get("nothing-here").await,
            Err(BlobError::NotFound)
        ));
    }

    #[tokio::test]
    async fn the_size_limit_at_and_past_the_edge_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = Blobs::local(dir.path()).expect("store");
        let at = blobs.put("at", body(&[b"12345", b"678"]), 8).await;
        assert_eq!(at.expect("at the limit"), 8);
        let past = blobs.put("past", body(&[b"12345", b"6789"]), 8).await;
        assert!(matches!(past, Err(BlobError::TooLarge { limit: 8 })));
        assert_eq!(entries(dir.path()), ["at"]);
    }

    #[tokio::test]
    async fn a_large_body_streams_in_parts_and_is_cut_off_past_the_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = Blobs::local(dir.path()).expect("store");
        let chunk = vec![7u8; 1024 * 1024];
        let chunks = vec![chunk.as_slice(); 12];
        let limit = 12 * 1024 * 1024;
        let size = blobs.put("big", body(&chunks), limit).await.expect("put");
        assert_eq!(size, limit);
        let read_back = read(&blobs, "big").await.expect("get");
        assert_eq!(read_back.len() as u64, limit);
        assert!(read_back.iter().all(|&byte| byte == 7));

        let past = blobs.put("too-big", body(&chunks), limit - 1).await;
        assert!(matches!(past, Err(BlobError::TooLarge { .. })));
        assert_eq!(
            entries(dir.path()),
            ["big"],
            "no part or staging file is left"
        );
    }

    #[tokio::test]
    async fn a_failing_body_stores_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = Blobs::local(dir.path()).expect("store");
        let failing = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"half")),
            Err(std::io::Error::other("client went away")),
        ]);
        let put = blobs.put("half", failing, 100).await;
        assert!(matches!(put, Err(BlobError::Body(_))));
        assert!(entries(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn a_file_url_is_a_shared_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = Url::from_directory_path(dir.path()).expect("url");
        let blobs = Blobs::open(Some(url.as_str()), FsPath::new("/unused")).expect("store");
        blobs
            .put_bytes("shared", Bytes::from_static(b"x"))
            .await
            .expect("put");
        assert_eq!(
            std::fs::read(dir.path().join("shared")).expect("file"),
            b"x"
        );
    }

    #[test]
    fn an_s3_url_builds_a_store_without_contacting_it() {
        // Building must not need the network: a node starts even while the store is away,
        // and the first upload reports what is wrong. (No S3 is reachable from the tests.)
        let blobs = Blobs::from_url("s3://natter-files/attachments").expect("store");
        assert_eq!(blobs.prefix.as_ref(), "attachments");
        assert_eq!(blobs.location("id").as_ref(), "attachments/id");
        assert!(blobs.local_root.is_none());
    }

    #[test]
    fn only_file_and_s3_urls_are_accepted() {
        assert!(check_url("file:///srv/natter/attachments").is_ok());
        assert!(check_url("s3://bucket/natter").is_ok());
        for bad in [
            "gs://bucket/x",
            "memory:///",
            "ftp://host/x",
            "not a url",
            "file://host/x",
        ] {
            let error = check_url(bad).expect_err(bad).to_string();
            assert!(error.contains("blob_url"), "{bad}: {error}");
        }
        let error = check_url("gs://bucket").expect_err("gs").to_string();
        assert!(error.contains("s3://bucket/prefix"), "{error}");
    }
}
