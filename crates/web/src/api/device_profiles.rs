//! Device profiles (extension mobility).

use super::*;

/// Finds device profiles. `q` is a prefix of the name. Filters: `model`, `line`,
/// `description`. Sorts: `name`, `model`, `description`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/device-profiles", tag = "device profiles", params(ListParams), responses((status = 200, body = Page<DeviceProfile>)))]
pub(super) async fn list_profiles(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<DeviceProfile>>> {
    let f = crate::auth::within(
        &a,
        "device_profile",
        find(&q, PROFILE_FILTERS, DEVICE_SORTS)?,
    );
    Ok(Json(s.service.find_device_profiles(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/device-profiles", tag = "device profiles", request_body = NewDeviceProfile,
    responses((status = 201, body = DeviceProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewDeviceProfile>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_device_profile(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/device-profiles/{name}", tag = "device profiles", params(("name" = String, Path, description = "name or id")),
    responses((status = 200, body = DeviceProfile), (status = 404, body = ErrorBody)))]
pub(super) async fn get_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<DeviceProfile>> {
    let r = s.service.device_profile(&name).await?;
    crate::auth::readable(&a, "device_profile", &r.system)?;
    Ok(Json(r))
}

#[utoipa::path(patch, path = "/api/v1/device-profiles/{name}", tag = "device profiles", params(("name" = String, Path, description = "name or id")),
    request_body = DeviceProfilePatch, responses((status = 200, body = DeviceProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<DeviceProfilePatch>,
) -> ApiResult<Json<DeviceProfile>> {
    Ok(Json(s.service.update_device_profile(&a, &name, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/device-profiles/{name}", tag = "device profiles", params(("name" = String, Path, description = "name or id")),
    responses((status = 204), (status = 409, body = ErrorBody, description = "in use as a logout profile")))]
pub(super) async fn delete_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_device_profile(&a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/device-profiles/batch-delete", tag = "device profiles", request_body = BatchRequest,
    responses((status = 200, body = BatchResult)))]
pub(super) async fn delete_profiles(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_device_profiles(&a, &b).await?))
}
