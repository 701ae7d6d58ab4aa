//! The governance dashboard: counts across the bundles the caller may read (every
//! project for governance admins).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::ApiQuery;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::governance::bundle::dashboard::{self, Dashboard};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    /// Only this project (id or name).
    pub project: Option<String>,
    /// Only bundles following this policy (id or name), and only its approvals and findings.
    pub policy: Option<String>,
}

#[utoipa::path(get, path = "/dashboard", tag = "dashboard", params(DashboardQuery),
    responses((status = 200, body = Dashboard), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<DashboardQuery>,
) -> ApiResult<Json<Dashboard>> {
    Ok(Json(
        dashboard::dashboard(&state, &caller.user, query.project.as_deref(), query.policy.as_deref()).await?,
    ))
}
