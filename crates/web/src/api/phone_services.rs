//! IP phone services.

use super::*;

/// Finds IP phone services; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/services", tag = "services", params(ListParams), responses((status = 200, body = Page<PhoneService>)))]
pub(super) async fn list_services(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<PhoneService>>> {
    let f = crate::auth::within(&a, "service", find(&q, &[], &["name"])?);
    Ok(Json(s.service.find_services(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/services", tag = "services", request_body = NewPhoneService,
    responses((status = 201, body = PhoneService), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_service(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewPhoneService>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_service(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/services/{key}", tag = "services", params(("key" = String, Path, description = "name or id")),
    responses((status = 200, body = PhoneService), (status = 404, body = ErrorBody)))]
pub(super) async fn get_service(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
) -> ApiResult<Json<PhoneService>> {
    Ok(Json(s.service.service(&key).await?))
}

#[utoipa::path(patch, path = "/api/v1/services/{key}", tag = "services", params(("key" = String, Path, description = "name or id")),
    request_body = PhoneServicePatch, responses((status = 200, body = PhoneService), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_service(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Body(b): Body<PhoneServicePatch>,
) -> ApiResult<Json<PhoneService>> {
    Ok(Json(s.service.update_service(&a, &key, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/services/{key}", tag = "services", params(("key" = String, Path, description = "name or id")),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_service(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_service(&a, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
