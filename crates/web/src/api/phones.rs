//! Phones.

use super::*;

/// Finds phones. `q` is a prefix of the device name. Filters: `model`, `device_pool`,
/// `owner_user_id`, `mac`, `line` (a directory number on the phone), `description` (prefix).
/// Sorts: `name`, `model`, `description`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/phones", tag = "phones", params(ListParams), responses((status = 200, body = Page<Phone>)))]
pub(super) async fn list_phones(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<Phone>>> {
    let f = crate::auth::within(&a, "phone", find(&q, PHONE_FILTERS, DEVICE_SORTS)?);
    Ok(Json(s.service.find_phones(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/phones", tag = "phones", request_body = NewPhone,
    responses((status = 201, body = Phone), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_phone(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewPhone>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_phone(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/phones/{name}", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    responses((status = 200, body = Phone), (status = 404, body = ErrorBody)))]
pub(super) async fn get_phone(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<Phone>> {
    let r = s.service.phone(&name).await?;
    crate::auth::readable(&a, "phone", &r.system)?;
    Ok(Json(r))
}

#[utoipa::path(patch, path = "/api/v1/phones/{name}", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    request_body = PhonePatch, responses((status = 200, body = Phone), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_phone(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<PhonePatch>,
) -> ApiResult<Json<Phone>> {
    Ok(Json(s.service.update_phone(&a, &name, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/phones/{name}", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_phone(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_phone(&a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/phones/batch-delete", tag = "phones", request_body = BatchRequest, responses((status = 200, body = BatchResult)))]
pub(super) async fn delete_phones(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_phones(&a, &b).await?))
}

/// Who is logged in on the phone (extension mobility), and the profile it loads otherwise.
#[utoipa::path(get, path = "/api/v1/phones/{name}/login", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    responses((status = 200, body = model::extension_mobility::LoginState), (status = 404, body = ErrorBody)))]
pub(super) async fn login_state(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<model::extension_mobility::LoginState>> {
    Ok(Json(s.service.login_state(&name).await?))
}

/// Logs a user in on the phone with their PIN: the phone runs their device profile (their
/// default one) on its own model and is told to resync. Three wrong PINs lock the user and the
/// phone out for a while.
#[utoipa::path(post, path = "/api/v1/phones/{name}/login", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    request_body = model::extension_mobility::LoginRequest,
    responses((status = 200, body = model::extension_mobility::LoginState), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn login(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<model::extension_mobility::LoginRequest>,
) -> ApiResult<Json<model::extension_mobility::LoginState>> {
    Ok(Json(s.service.login(&a, &name, &b).await?))
}

/// Logs whoever is logged in out of the phone: it loads its logout profile (or its own
/// settings) and is told to resync.
#[utoipa::path(post, path = "/api/v1/phones/{name}/logout", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    responses((status = 200, body = model::extension_mobility::LoginState), (status = 409, body = ErrorBody)))]
pub(super) async fn logout(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<model::extension_mobility::LoginState>> {
    Ok(Json(s.service.logout(&a, &name).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginsParams {
    /// Page size, 1 to 1000 (default 50).
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Every extension mobility login, by phone.
#[utoipa::path(get, path = "/api/v1/logins", tag = "phones", params(LoginsParams),
    responses((status = 200, body = Page<model::extension_mobility::Login>)))]
pub(super) async fn list_logins(
    State(s): State<AppState>,
    _a: Admin,
    Query(p): Query<LoginsParams>,
) -> ApiResult<Json<Page<model::extension_mobility::Login>>> {
    let (limit, offset) = super::page_of(p.limit, p.offset)?;
    Ok(Json(s.service.logins(limit, offset).await?))
}
