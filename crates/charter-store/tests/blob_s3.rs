//! Blob storage against a real S3-compatible server (moto's, in CI), when
//! `CHARTER_TEST_S3_ENDPOINT` names one; skipped loudly otherwise.

use bytes::Bytes;
use charter_store::BlobStore;
use charter_store::blob::BlobConfig;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Create a bucket with a bare `PUT /bucket` (moto accepts unsigned requests).
async fn create_bucket(endpoint: &str, bucket: &str) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("the S3 endpoint accepts connections");
    let request = format!("PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "creating the bucket: {response}");
}

#[tokio::test]
async fn blobs_round_trip_through_an_s3_compatible_server() {
    let Ok(endpoint) = std::env::var("CHARTER_TEST_S3_ENDPOINT") else {
        eprintln!("SKIPPED (s3): CHARTER_TEST_S3_ENDPOINT not set; blob storage was not tested against S3");
        return;
    };
    let bucket = format!("charter-test-{}", uuid_like());
    create_bucket(&endpoint, &bucket).await;
    let store = BlobStore::open(&BlobConfig::S3 {
        bucket,
        endpoint: Some(endpoint),
        region: "us-east-1".into(),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        allow_http: true,
    })
    .unwrap();

    // 20 MiB in 1 MiB chunks: several multipart parts, never held whole by the store.
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..20u8).map(|i| Ok(Bytes::from(vec![i; 1024 * 1024]))).collect();
    let stored = store
        .put_stream("evidence/bdl_1/model-card.bin", futures::stream::iter(chunks))
        .await
        .unwrap();
    assert_eq!(stored.size, 20 * 1024 * 1024);

    let back = store.get_bytes("evidence/bdl_1/model-card.bin").await.unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&back)),
        stored.sha256,
        "the bytes that come back are the bytes that went in"
    );
    assert_eq!(
        store.list("evidence").await.unwrap(),
        vec![("evidence/bdl_1/model-card.bin".to_owned(), stored.size)]
    );

    store.delete("evidence/bdl_1/model-card.bin").await.unwrap();
    assert!(store.list("evidence").await.unwrap().is_empty());
    assert!(store.put_bytes("../escape", Bytes::from_static(b"x")).await.is_err());
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", nanos, std::process::id())
}
