//! Product systems: call-control clusters and voicemail systems.

use super::*;

/// Product systems (call-control and voicemail); `q` is a prefix of the name. Filter: `kind`.
#[utoipa::path(get, path = "/api/v1/systems", tag = "systems", params(ListParams), responses((status = 200, body = Page<System>)))]
pub(super) async fn list_systems(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<System>>> {
    let f = find(&q, &["kind"], &["name"])?;
    let kind = f
        .filters
        .iter()
        .find(|(k, _)| k == "kind")
        .map(|(_, v)| v.clone());
    let items = s
        .service
        .systems()
        .await?
        .into_iter()
        .filter(|x| kind.as_deref().is_none_or(|k| x.kind.as_str() == k))
        .collect();
    Ok(Json(in_memory(items, &f, |x| &x.name)))
}

#[utoipa::path(post, path = "/api/v1/systems", tag = "systems", request_body = NewSystem,
    responses((status = 201, body = System), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_system(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewSystem>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_system(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/systems/{key}", tag = "systems", params(("key" = String, Path, description = "name or id")),
    responses((status = 200, body = System), (status = 404, body = ErrorBody)))]
pub(super) async fn get_system(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
) -> ApiResult<Json<System>> {
    Ok(Json(s.service.system(&key).await?))
}

#[utoipa::path(patch, path = "/api/v1/systems/{key}", tag = "systems", params(("key" = String, Path, description = "name or id")),
    request_body = SystemPatch, responses((status = 200, body = System), (status = 409, body = ErrorBody)))]
pub(super) async fn update_system(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Body(b): Body<SystemPatch>,
) -> ApiResult<Json<System>> {
    Ok(Json(s.service.update_system(&a, &key, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/systems/{key}", tag = "systems", params(("key" = String, Path, description = "name or id")),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_system(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_system(&a, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
