//! A typed HTTP client for Charter's `/api/v1`, used by the CLI's remote commands,
//! HelpBot and tests. It speaks only the public API, as any third-party program
//! would.
#![forbid(unsafe_code)]

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What went wrong talking to Charter.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Charter answered with its error body.
    #[error("{message} ({status} {code})")]
    Api {
        status: u16,
        code: String,
        message: String,
        details: Option<serde_json::Value>,
    },
    /// Charter could not be reached or answered something that is not Charter's.
    #[error("cannot reach Charter at {url}: {reason}")]
    Transport { url: String, reason: String },
}

/// A client bound to one Charter server and (optionally) one API token.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// A client from `CHARTER_URL` (default `http://127.0.0.1:8080`) and `CHARTER_TOKEN`.
    pub fn from_env() -> Self {
        let base = std::env::var("CHARTER_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
        Self::new(&base, std::env::var("CHARTER_TOKEN").ok().filter(|t| !t.is_empty()))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(&self, rb: reqwest::RequestBuilder, url: &str) -> Result<T, ClientError> {
        let rb = match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        };
        let transport = |e: reqwest::Error| ClientError::Transport {
            url: url.to_owned(),
            reason: e.to_string(),
        };
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            let body = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
            return serde_json::from_slice(body).map_err(|e| ClientError::Transport {
                url: url.to_owned(),
                reason: format!("the answer is not what Charter sends: {e}"),
            });
        }
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v["error"][name].as_str())
                .map(str::to_owned)
        };
        match (field("code"), field("message")) {
            (Some(code), Some(message)) => Err(ClientError::Api {
                status: status.as_u16(),
                code,
                message,
                details: parsed
                    .as_ref()
                    .map(|v| v["error"]["details"].clone())
                    .filter(|d| !d.is_null()),
            }),
            _ => Err(ClientError::Transport {
                url: url.to_owned(),
                reason: format!("HTTP {status} without a Charter error body (is this a Charter server?)"),
            }),
        }
    }

    /// `GET /api/v1{path}`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        self.send(self.http.get(&url), &url).await
    }

    /// `POST /api/v1{path}` with a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let url = self.url(path);
        self.send(self.http.post(&url).json(body), &url).await
    }

    /// `PUT /api/v1{path}` with a JSON body.
    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let url = self.url(path);
        self.send(self.http.put(&url).json(body), &url).await
    }

    /// `PATCH /api/v1{path}` with a JSON body.
    pub async fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let url = self.url(path);
        self.send(self.http.patch(&url).json(body), &url).await
    }

    /// `DELETE /api/v1{path}`.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        self.send(self.http.delete(&url), &url).await
    }

    /// Who the token belongs to (`GET /api/v1/me`).
    pub async fn me(&self) -> Result<serde_json::Value, ClientError> {
        self.get("/me").await
    }

    /// The server's version and backend (`GET /api/v1/version`).
    pub async fn version(&self) -> Result<serde_json::Value, ClientError> {
        self.get("/version").await
    }
}
