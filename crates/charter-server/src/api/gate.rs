//! Gates: may a governed action (start an app, promote a model) happen in a
//! project? Anyone signed in who can read the project may ask; every answer is
//! audited (`gate.allowed` / `gate.denied`).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::ApiJson;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::governance::gate::{self, GateDecision};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateCheckRequest {
    /// `start_app`, `promote_model`, or another action a policy's gates name
    /// (Domino's `CreateApp`/`CreateEndpoint` are accepted).
    pub action: String,
    /// Project id (`prj_…`) or name.
    pub project: String,
    /// What the action is about (a model name, an app), recorded in the audit event.
    pub target: Option<String>,
}

#[utoipa::path(post, path = "/gates/check", tag = "gates", request_body = GateCheckRequest,
    responses((status = 200, body = GateDecision, description = "Allowed or not (with the approvals still missing); audited either way"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn check_gate(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<GateCheckRequest>,
) -> ApiResult<Json<GateDecision>> {
    let decision = gate::check_for(
        &state,
        &caller.audit(),
        &caller.user,
        &req.project,
        &req.action,
        req.target.as_deref(),
    )
    .await?;
    Ok(Json(decision))
}
