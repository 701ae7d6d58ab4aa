//! The audit trail: list, export, one event, verify, checkpoints (governance admins).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use charter_domain::audit::AuditEvent;
use charter_domain::time::{parse_instant, rfc3339};
use charter_store::audit::AuditFilter;
use serde::{Deserialize, Serialize};

use super::{ApiQuery, Page};
use crate::auth::GovernanceAdmin;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEventResponse {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Stable id, `evt_…`.
    pub id: String,
    pub occurred_at: String,
    /// `user`, `token` or `system`.
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_name: String,
    /// The token id when a token acted.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub actor_token: String,
    /// `noun.verb`, e.g. `user.created`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// What changed: before/after where it applies.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub request_id: String,
    pub client_addr: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&AuditEvent> for AuditEventResponse {
    fn from(e: &AuditEvent) -> Self {
        Self {
            seq: e.seq,
            id: e.id.clone(),
            occurred_at: rfc3339(e.occurred_at),
            actor_kind: e.actor_kind.clone(),
            actor_id: e.actor_id.clone(),
            actor_name: e.actor_name.clone(),
            actor_token: e.actor_token.clone(),
            action: e.action.clone(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::String(e.payload.clone())),
            request_id: e.request_id.clone(),
            client_addr: e.client_addr.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

/// Filters shared by the list, the export, the audit page and the CLI.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Events at or after this time (RFC 3339, date, or epoch ms).
    pub since: Option<String>,
    /// Events before this time.
    pub until: Option<String>,
    /// Actor username or id.
    pub actor: Option<String>,
    /// Action, or a prefix ending in `*` such as `user.*`.
    pub action: Option<String>,
    /// Target type (`user`) or `type:id`.
    pub target: Option<String>,
    /// `desc` (newest first, default) or `asc`.
    pub order: Option<String>,
    /// Continue from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// For the export: `json` (default) or `csv`.
    pub format: Option<String>,
}

impl AuditQuery {
    /// The store filter these parameters describe, each mistake named.
    pub fn to_filter(&self) -> ApiResult<AuditFilter> {
        let time = |field: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
            v.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_instant(s).map_err(|e| ApiError::invalid(format!("{field}: {e}"))))
                .transpose()
        };
        let ascending = match self.order.as_deref().unwrap_or("desc") {
            "desc" | "" => false,
            "asc" => true,
            other => return Err(ApiError::invalid(format!("order: `{other}` must be `asc` or `desc`"))),
        };
        let after_seq = self
            .cursor
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| ApiError::invalid(format!("cursor: `{c}` is not a cursor from a previous page")))
            })
            .transpose()?;
        let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(AuditFilter {
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            actor: nonempty(&self.actor),
            action: nonempty(&self.action),
            target: nonempty(&self.target),
            ascending,
            after_seq,
            limit: None,
        })
    }

    pub fn page_size(&self) -> ApiResult<i64> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=1000).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::invalid(format!("limit: {n} is outside 1–1000"))),
        }
    }
}

/// One page of events, with the cursor for the next.
pub async fn page(state: &AppState, query: &AuditQuery) -> ApiResult<Page<AuditEventResponse>> {
    let mut filter = query.to_filter()?;
    let size = query.page_size()?;
    filter.limit = Some(size + 1);
    let mut events = state.store.audit_events(&filter).await?;
    let more = events.len() as i64 > size;
    events.truncate(size as usize);
    let next_cursor = more.then(|| events.last().map(|e| e.seq.to_string())).flatten();
    Ok(Page {
        items: events.iter().map(AuditEventResponse::from).collect(),
        next_cursor,
    })
}

#[utoipa::path(get, path = "/audit-events", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEventResponse>), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    _gov: GovernanceAdmin,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEventResponse>>> {
    Ok(Json(page(&state, &query).await?))
}

/// CSV columns of an export, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "seq",
    "id",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_token",
    "action",
    "target_type",
    "target_id",
    "payload",
    "request_id",
    "client_addr",
    "prev_hash",
    "hash",
];

/// One CSV line for an event (RFC 4180 quoting).
pub fn csv_line(e: &AuditEvent) -> String {
    let fields = [
        e.seq.to_string(),
        e.id.clone(),
        rfc3339(e.occurred_at),
        e.actor_kind.clone(),
        e.actor_id.clone(),
        e.actor_name.clone(),
        e.actor_token.clone(),
        e.action.clone(),
        e.target_type.clone(),
        e.target_id.clone(),
        e.payload.clone(),
        e.request_id.clone(),
        e.client_addr.clone(),
        e.prev_hash.clone(),
        e.hash.clone(),
    ];
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    quoted.join(",")
}

/// Render events as CSV (with header) or a JSON array.
pub fn render_export(events: &[AuditEvent], csv: bool) -> String {
    if csv {
        let mut out = CSV_COLUMNS.join(",");
        out.push('\n');
        for e in events {
            out.push_str(&csv_line(e));
            out.push('\n');
        }
        out
    } else {
        let items: Vec<AuditEventResponse> = events.iter().map(AuditEventResponse::from).collect();
        serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
    }
}

#[utoipa::path(get, path = "/audit-events/export", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "Every matching event, oldest first, as CSV or a JSON array"), (status = 400, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn export_audit_events(
    State(state): State<AppState>,
    _gov: GovernanceAdmin,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let csv = match query.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => return Err(ApiError::invalid(format!("format: `{other}` must be `csv` or `json`"))),
    };
    let mut filter = query.to_filter()?;
    filter.ascending = query.order.as_deref() != Some("desc");
    let events = state.store.audit_events(&filter).await?;
    let (content_type, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/json", "json")
    };
    let mut response = (StatusCode::OK, render_export(&events, csv)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"charter-audit.{ext}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/audit-events/{id}", tag = "audit", params(("id" = String, Path, description = "Event id, `evt_…`")),
    responses((status = 200, body = AuditEventResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_audit_event(
    State(state): State<AppState>,
    _gov: GovernanceAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditEventResponse>> {
    Ok(Json(AuditEventResponse::from(&state.store.audit_event(&id).await?)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyResponse {
    /// Whether the whole chain and every checkpoint verified.
    pub ok: bool,
    /// Events checked.
    pub events: u64,
    pub head_seq: i64,
    pub head_hash: String,
    /// Checkpoints whose signatures and hashes matched.
    pub checkpoints: u64,
    pub last_checkpoint_seq: i64,
    /// Events after the newest checkpoint (vouched for by the chain alone).
    pub unsigned_tail: i64,
    /// When `ok` is false: what broke, at which event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_event_id: Option<String>,
}

/// Verify the chain (shared by the API and the audit page).
pub async fn verify(state: &AppState) -> ApiResult<VerifyResponse> {
    match state.store.verify_audit(&state.audit_key.verifying_key(), |_| {}).await {
        Ok(r) => Ok(VerifyResponse {
            ok: true,
            events: r.events,
            head_seq: r.head.seq,
            head_hash: r.head.hash.clone(),
            checkpoints: r.checkpoints,
            last_checkpoint_seq: r.last_checkpoint_seq,
            unsigned_tail: r.unsigned_tail(),
            error: None,
            broken_seq: None,
            broken_event_id: None,
        }),
        Err(charter_store::StoreError::Chain(b)) => Ok(VerifyResponse {
            ok: false,
            events: 0,
            head_seq: 0,
            head_hash: String::new(),
            checkpoints: 0,
            last_checkpoint_seq: 0,
            unsigned_tail: 0,
            error: Some(b.to_string()),
            broken_seq: Some(b.seq()),
            broken_event_id: b.event_id().map(str::to_owned),
        }),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(post, path = "/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyResponse)), security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn verify_audit(State(state): State<AppState>, _gov: GovernanceAdmin) -> ApiResult<Json<VerifyResponse>> {
    Ok(Json(verify(&state).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointResponse {
    pub seq: i64,
    pub head_hash: String,
    pub created_at: String,
    pub public_key: String,
    pub signature: String,
}

#[utoipa::path(get, path = "/audit/checkpoints", tag = "audit",
    responses((status = 200, body = Vec<CheckpointResponse>)), security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_checkpoints(
    State(state): State<AppState>,
    _gov: GovernanceAdmin,
) -> ApiResult<Json<Vec<CheckpointResponse>>> {
    Ok(Json(
        state
            .store
            .checkpoints()
            .await?
            .into_iter()
            .map(|c| CheckpointResponse {
                seq: c.seq,
                head_hash: c.head_hash,
                created_at: rfc3339(c.created_at),
                public_key: c.public_key,
                signature: c.signature,
            })
            .collect(),
    ))
}
