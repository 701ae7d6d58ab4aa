//! CSS, scripts and icons, embedded in the binary and served from `/static/`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::UiError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "charter.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/charter.css"),
    },
    Asset {
        name: "charter.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/charter.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/htmx.min.js"),
    },
    // The policy editor (ui-gov): vendored CodeMirror 5 (static/VENDORED.md) and the
    // script that wires it to the live check.
    Asset {
        name: "codemirror.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/codemirror.js"),
    },
    Asset {
        name: "codemirror.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/codemirror.css"),
    },
    Asset {
        name: "codemirror-yaml.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/codemirror-yaml.js"),
    },
    Asset {
        name: "codemirror-lint.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/codemirror-lint.js"),
    },
    Asset {
        name: "codemirror-lint.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/codemirror-lint.css"),
    },
    Asset {
        name: "policy-editor.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/policy-editor.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../static/favicon.svg"),
    },
];

/// A digest of every asset: pages link `/static/x?v=<this>`, so a new build's assets
/// are fetched afresh although each response may be cached for a year.
pub fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut hasher = blake3::Hasher::new();
        for asset in ASSETS {
            hasher.update(asset.body);
        }
        hasher.finalize().to_hex()[..12].to_owned()
    });
    &VERSION
}

/// `GET /static/{file}`.
pub async fn get_asset(Path(file): Path<String>) -> Result<Response, UiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == file)
        .ok_or_else(|| UiError::not_found(format!("there is no file /static/{file}")))?;
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}
