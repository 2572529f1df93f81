//! Provisioning parameter sets, and the parameters a phone resolves to.

use super::*;

/// Selects the parameter set of a scope.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeParams {
    /// The device pool, the model or the phone; left out for `system`.
    #[serde(default)]
    target: String,
    /// The product system (not needed for `device`, nor when there is one).
    system: Option<String>,
}

pub(super) fn scope(s: &str) -> ApiResult<ParamScope> {
    ParamScope::parse(s).ok_or_else(|| {
        ApiError::bad_request(
            format!("scope `{s}` is not system, device_pool, model or device"),
            Some("scope".into()),
        )
    })
}

/// The provisioning parameters set at every scope (system, device pool, model, device).
#[utoipa::path(get, path = "/api/v1/parameters", tag = "provisioning", params(KeyParams), responses((status = 200, body = Vec<ParameterSet>)))]
pub(super) async fn list_parameters(
    State(s): State<AppState>,
    _a: Admin,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<Vec<ParameterSet>>> {
    Ok(Json(s.service.parameter_sets(k.system.as_deref()).await?))
}

/// Sets the provisioning parameters of a scope, replacing the values set there before (send the
/// `version` read when the set exists). Values follow the phone's rules (docs/phones.md, "Profile
/// rules and resync (MPP)").
#[utoipa::path(put, path = "/api/v1/parameters/{scope}", tag = "provisioning",
    params(("scope" = String, Path, description = "system, device_pool, model or device"), ScopeParams),
    request_body = ParameterSetInput,
    responses((status = 200, body = ParameterSet), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn set_parameters(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(sc): Path<String>,
    Query(q): Query<ScopeParams>,
    Body(b): Body<ParameterSetInput>,
) -> ApiResult<Json<ParameterSet>> {
    Ok(Json(
        s.service
            .set_parameters(&a, scope(&sc)?, &q.target, q.system.as_deref(), b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/parameters/{scope}", tag = "provisioning",
    params(("scope" = String, Path, description = "system, device_pool, model or device"), ScopeParams),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(super) async fn delete_parameters(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(sc): Path<String>,
    Query(q): Query<ScopeParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_parameters(&a, scope(&sc)?, &q.target, q.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The provisioning parameters a phone gets: each value with where it came from, what the
/// phone will do with them, and the values it will ignore.
#[utoipa::path(get, path = "/api/v1/phones/{name}/parameters", tag = "provisioning", params(("name" = String, Path)),
    responses((status = 200, body = ResolvedParameters), (status = 404, body = ErrorBody)))]
pub(super) async fn phone_parameters(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<ResolvedParameters>> {
    Ok(Json(s.service.phone_parameters(&name).await?))
}
