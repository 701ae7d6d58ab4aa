//! Blob storage (uploaded evidence, artifacts) behind `object_store`: a local
//! directory by default, any S3-compatible service by configuration.
//!
//! Writes stream in parts and hash as they go, so a large file is never held in
//! memory whole; keys are checked so that no key can step outside the store.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Where blobs live.
#[derive(Clone)]
pub enum BlobConfig {
    /// A directory on local disk (created if missing).
    Local { root: PathBuf },
    /// An S3-compatible bucket.
    S3 {
        bucket: String,
        /// Endpoint URL for non-AWS services (MinIO, Ceph, R2…).
        endpoint: Option<String>,
        region: String,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        /// Allow `http://` endpoints (local test services).
        allow_http: bool,
    },
}

impl std::fmt::Debug for BlobConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobConfig::Local { root } => f.debug_struct("Local").field("root", root).finish(),
            BlobConfig::S3 {
                bucket,
                endpoint,
                region,
                ..
            } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("endpoint", endpoint)
                .field("region", region)
                .finish_non_exhaustive(),
        }
    }
}

/// What a finished write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub key: String,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

/// A blob store handle: cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobStore({})", self.inner)
    }
}

fn blob_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Blob(e.to_string())
}

impl BlobStore {
    pub fn open(config: &BlobConfig) -> Result<Self, StoreError> {
        let inner: Arc<dyn ObjectStore> = match config {
            BlobConfig::Local { root } => {
                std::fs::create_dir_all(root)?;
                Arc::new(LocalFileSystem::new_with_prefix(root).map_err(blob_err)?)
            }
            BlobConfig::S3 {
                bucket,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
                allow_http,
            } => {
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_allow_http(*allow_http);
                if let Some(e) = endpoint {
                    b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
                }
                if let Some(k) = access_key_id {
                    b = b.with_access_key_id(k);
                }
                if let Some(s) = secret_access_key {
                    b = b.with_secret_access_key(s);
                }
                Arc::new(b.build().map_err(|e| StoreError::Config(format!("storage.s3: {e}")))?)
            }
        };
        Ok(Self { inner })
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Self {
        Self {
            inner: Arc::new(object_store::memory::InMemory::new()),
        }
    }

    /// Check a key: relative, `/`-separated, no empty, `.` or `..` segments.
    pub fn key(key: &str) -> Result<ObjectPath, StoreError> {
        let bad = |why: &str| StoreError::Blob(format!("`{key}` is not a valid storage key: {why}"));
        if key.is_empty() || key.starts_with('/') {
            return Err(bad("it must be a relative path"));
        }
        if key.contains('\\') || key.chars().any(char::is_control) {
            return Err(bad("it must not contain backslashes or control characters"));
        }
        if key.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
            return Err(bad("it must not contain empty, `.` or `..` segments"));
        }
        ObjectPath::parse(key).map_err(|e| bad(&e.to_string()))
    }

    /// Stream `body` into `key`, returning its size and SHA-256. On any error the
    /// partial upload is aborted and nothing is left under `key`.
    pub async fn put_stream<S, E>(&self, key: &str, body: S) -> Result<StoredBlob, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let path = Self::key(key)?;
        let upload = self.inner.put_multipart(&path).await.map_err(blob_err)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 * 1024 * 1024);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(StoreError::Blob(format!("upload of `{key}` was interrupted: {e}")));
                }
            };
            if let Err(e) = writer.wait_for_capacity(4).await {
                return Err(blob_err(e));
            }
            hasher.update(&chunk);
            size += chunk.len() as u64;
            writer.put(chunk);
        }
        writer.finish().await.map_err(blob_err)?;
        Ok(StoredBlob {
            key: key.to_owned(),
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Store a small value whole.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<StoredBlob, StoreError> {
        self.put_stream(key, futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]))
            .await
    }

    /// Stream a blob's content.
    pub async fn get(&self, key: &str) -> Result<(u64, BoxStream<'static, Result<Bytes, StoreError>>), StoreError> {
        let path = Self::key(key)?;
        let got = self.inner.get(&path).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound(format!("blob `{key}`")),
            other => blob_err(other),
        })?;
        let size = got.meta.size;
        Ok((size, got.into_stream().map_err(blob_err).boxed()))
    }

    /// Read a blob whole (small blobs only).
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, StoreError> {
        let (_, stream) = self.get(key).await?;
        let parts: Vec<Bytes> = stream.try_collect().await?;
        Ok(parts.concat().into())
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = Self::key(key)?;
        self.inner.delete(&path).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound(format!("blob `{key}`")),
            other => blob_err(other),
        })
    }

    /// One level of a directory-like listing under `prefix` (`""` for the root):
    /// the names of the sub-directories, and the files with their sizes. Names are
    /// relative to `prefix`; a prefix with nothing under it lists as empty.
    pub async fn list_dir(&self, prefix: &str) -> Result<(Vec<String>, Vec<(String, u64)>), StoreError> {
        let p = if prefix.is_empty() {
            None
        } else {
            Some(Self::key(prefix.trim_end_matches('/'))?)
        };
        let listed = match self.inner.list_with_delimiter(p.as_ref()).await {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => return Ok((Vec::new(), Vec::new())),
            Err(e) => return Err(blob_err(e)),
        };
        let base = |loc: &ObjectPath| loc.filename().unwrap_or_default().to_owned();
        let dirs = listed.common_prefixes.iter().map(base).collect();
        let files = listed.objects.iter().map(|m| (base(&m.location), m.size)).collect();
        Ok((dirs, files))
    }

    /// The size of one blob, or `None` when there is none.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let path = Self::key(key)?;
        match self.inner.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(blob_err(e)),
        }
    }

    /// Keys and sizes under a prefix (`""` for all).
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let p = if prefix.is_empty() {
            None
        } else {
            Some(Self::key(prefix.trim_end_matches('/'))?)
        };
        let metas: Vec<_> = self.inner.list(p.as_ref()).try_collect().await.map_err(blob_err)?;
        Ok(metas.into_iter().map(|m| (m.location.to_string(), m.size)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_store() {
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "a//b", "a/./b", "a\\b"] {
            assert!(BlobStore::key(bad).is_err(), "{bad}");
        }
        assert!(BlobStore::key("evidence/bdl_1/report.pdf").is_ok());
    }

    #[tokio::test]
    async fn a_streamed_blob_comes_back_whole_with_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(&BlobConfig::Local {
            root: dir.path().join("blobs"),
        })
        .unwrap();
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            (0..20).map(|i| Ok(Bytes::from(vec![i as u8; 1024 * 1024]))).collect();
        let stored = store
            .put_stream("a/big.bin", futures::stream::iter(chunks))
            .await
            .unwrap();
        assert_eq!(stored.size, 20 * 1024 * 1024);
        let back = store.get_bytes("a/big.bin").await.unwrap();
        assert_eq!(hex::encode(Sha256::digest(&back)), stored.sha256);
        assert_eq!(
            store.list("a").await.unwrap(),
            vec![("a/big.bin".to_owned(), stored.size)]
        );
        store.delete("a/big.bin").await.unwrap();
        assert!(matches!(store.get("a/big.bin").await, Err(StoreError::NotFound(_))));
    }
}
