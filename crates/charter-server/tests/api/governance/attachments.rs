//! `/api/v1/bundles/{id}/attachments`: typed links, and files streamed into blob
//! storage with their SHA-256 and streamed back.

use charter_domain::Role;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{INTAKE, answer, approver_group, bundle, project, published_policy, roomy, upload};
use crate::harness::{Auth, TestApp};

on_every_backend!(
    uploads_stream_into_storage_and_back_with_their_hash(roomy),
    attachments_by_reference_say_what_they_point_at(roomy),
);

/// Deterministic bytes that are not text.
fn content(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// The bytes of an API path, and the response's headers.
async fn download<'a>(
    app: &TestApp,
    path: &str,
    who: impl Into<Auth<'a>>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = who
        .into()
        .apply(app.request(Method::GET, path))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

async fn setup(app: &TestApp) -> (crate::harness::TestUser, String) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    project(app, &olga, "helpbot").await;
    let nb = bundle(app, &olga, "helpbot", "HelpBot", &["Intake"]).await;
    (olga, nb["id"].as_str().unwrap().to_owned())
}

async fn uploads_stream_into_storage_and_back_with_their_hash(app: &TestApp) {
    let (olga, id) = setup(app).await;
    let bytes = content(200 * 1024);
    let expected = hex::encode(Sha256::digest(&bytes));

    let request = Auth::from(&olga)
        .apply(app.request(
            Method::POST,
            &format!("/bundles/{id}/attachments/upload?name=model card v2.pdf&kind=report"),
        ))
        .header("content-type", "application/pdf")
        .body(bytes.clone());
    let reply = app.send(request).await;
    let att = reply.expect(201).clone();
    let att_id = att["id"].as_str().unwrap().to_owned();
    assert!(att_id.starts_with("att_"));
    assert_eq!(att["sha256"], expected.as_str());
    assert_eq!(att["size"], bytes.len());
    assert_eq!(
        (att["kind"].as_str(), att["name"].as_str()),
        (Some("report"), Some("model card v2.pdf"))
    );
    assert_eq!(att["reference"]["content_type"], "application/pdf");
    assert_eq!(att["bundle_id"], id.as_str());
    let event = app.last_event("attachment.added").await;
    assert_eq!(event.target_id, id);
    assert!(event.payload.contains(&expected), "{}", event.payload);

    // Stored under bundles/<bundle>/<attachment>/<safe name>.
    let stored = app.state.blobs.list(&format!("bundles/{id}")).await.unwrap();
    assert_eq!(
        stored,
        [(format!("bundles/{id}/{att_id}/model_card_v2.pdf"), bytes.len() as u64)]
    );

    // Streamed back whole, with its length and digest.
    let path = att["content_url"].as_str().unwrap();
    assert_eq!(path, format!("/bundles/{id}/attachments/{att_id}/content"));
    let (status, headers, body) = download(app, path, &olga).await;
    assert_eq!(status, 200);
    assert_eq!(hex::encode(Sha256::digest(&body)), expected);
    assert_eq!(body, bytes);
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("content-length"), bytes.len().to_string());
    assert_eq!(header("content-type"), "application/pdf");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"model_card_v2.pdf\""
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("repr-digest").starts_with("sha-256=:"));

    // A file question takes it.
    answer(app, &olga, &id, "Intake", "model-card", json!(att_id))
        .await
        .expect(200);

    // Content that could run as a page here is served as bytes.
    let request = Auth::from(&olga)
        .apply(app.request(Method::POST, &format!("/bundles/{id}/attachments/upload?name=x.html")))
        .header("content-type", "text/html")
        .body("<script>alert(1)</script>");
    let html = app.send(request).await.expect(201).clone();
    let (_, headers, _) = download(app, html["content_url"].as_str().unwrap(), &olga).await;
    assert_eq!(headers["content-type"], "application/octet-stream");

    // Larger than the body limit: 413 before anything is stored (Content-Length)…
    let before = app.audit_count().await;
    let reply = upload(app, &olga, &id, "name=big.bin", content(300 * 1024)).await;
    let message = reply.expect_error(413, "payload_too_large");
    assert!(message.contains("server.body_limit_bytes"), "{message}");
    // …and also while streaming, when the client does not say how long it is.
    let (status, text) = chunked_upload(app, &olga.token, &id, 300 * 1024).await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains("payload_too_large") && text.contains("server.body_limit_bytes"),
        "{text}"
    );
    assert_eq!(app.audit_count().await, before, "nothing attached");
    assert_eq!(
        app.state.blobs.list(&format!("bundles/{id}")).await.unwrap().len(),
        2,
        "no partial blob left behind"
    );

    // Mistakes and strangers.
    upload(app, &olga, &id, "kind=file", "x")
        .await
        .expect_error(400, "invalid_request");
    upload(app, &olga, &id, "name=x&kind=model_version", "x")
        .await
        .expect_error(400, "invalid_request");
    let otto = app.user("otto", Role::Practitioner).await;
    upload(app, &otto, &id, "name=x", "x")
        .await
        .expect_error(403, "forbidden");
    let (status, _, _) = download(app, path, &otto).await;
    assert_eq!(status, 403);
    let other = bundle(app, &olga, "helpbot", "Other", &["Intake"]).await;
    let elsewhere = format!(
        "/bundles/{}/attachments/{att_id}/content",
        other["id"].as_str().unwrap()
    );
    app.get(&elsewhere, &olga).await.expect_error(404, "not_found");
    app.verify_audit().await;
}

/// POST an upload with `Transfer-Encoding: chunked` (no Content-Length); the status
/// and the whole response as text.
async fn chunked_upload(app: &TestApp, token: &str, bundle: &str, len: usize) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/bundles/{bundle}/attachments/upload?name=chunked.bin HTTP/1.1\r\n\
         Host: {}\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in content(len).chunks(16 * 1024) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        // The server may answer and stop reading once the limit is passed.
        if stream.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    (status, text)
}

async fn attachments_by_reference_say_what_they_point_at(app: &TestApp) {
    let (olga, id) = setup(app).await;
    let path = format!("/bundles/{id}/attachments");
    let reply = app
        .post(
            &path,
            &olga,
            &json!({ "kind": "model_version", "name": "HelpBot model", "reference": { "model": "helpbot", "version": 3 } }),
        )
        .await;
    let model = reply.expect(201).clone();
    assert!(model["id"].as_str().unwrap().starts_with("att_"));
    assert_eq!(model["reference"], json!({ "model": "helpbot", "version": 3 }));
    assert_eq!(
        (model["sha256"].clone(), model["content_url"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(app.last_event("attachment.added").await.target_id, id);
    app.post(
        &path,
        &olga,
        &json!({ "kind": "app", "name": "HelpBot", "reference": { "url": "https://helpbot.example" } }),
    )
    .await
    .expect(201);

    for (body, says) in [
        (
            json!({ "kind": "model_version", "name": "m", "reference": { "model": "helpbot" } }),
            "version",
        ),
        (
            json!({ "kind": "file", "name": "f", "reference": { "a": 1 } }),
            "upload",
        ),
        (
            json!({ "kind": "report", "name": "r", "reference": "a string" }),
            "JSON object",
        ),
        (
            json!({ "kind": "report", "name": "", "reference": { "url": "x" } }),
            "name",
        ),
    ] {
        let reply = app.post(&path, &olga, &body).await;
        let message = reply.expect_error(400, "invalid_request");
        assert!(message.contains(says), "{body}: {message}");
    }
    app.post(
        &path,
        &olga,
        &json!({ "kind": "report", "name": "r", "reference": {}, "extra": 1 }),
    )
    .await
    .expect_error(400, "invalid_request");

    let reply = app.get(&path, &olga).await;
    let names: Vec<&str> = reply
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["HelpBot model", "HelpBot"]);
    let notebook = super::notebook(app, &olga, &id).await;
    assert_eq!(notebook["attachments"].as_array().unwrap().len(), 2);
    // A reference has no content to download.
    let content = format!("{path}/{}/content", model["id"].as_str().unwrap());
    app.get(&content, &olga).await.expect_error(404, "not_found");
    let otto = app.user("otto", Role::Practitioner).await;
    app.get(&path, &otto).await.expect_error(403, "forbidden");
}
