//! Self-provisioning records: universal device templates, universal line templates and user
//! profiles (docs/self-provisioning.md). Each is keyed by its name (with `?system=` when the
//! name exists on several systems) or its id.

use super::*;

/// Finds universal device templates; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/universal-device-templates", tag = "self-provisioning", params(ListParams),
    responses((status = 200, body = Page<UniversalDeviceTemplate>)))]
pub(super) async fn list_device_templates(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<UniversalDeviceTemplate>>> {
    let f = crate::auth::within(&a, "universal_device_template", find(&q, &[], &["name"])?);
    Ok(Json(s.service.find_device_templates(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/universal-device-templates", tag = "self-provisioning", request_body = NewUniversalDeviceTemplate,
    responses((status = 201, body = UniversalDeviceTemplate), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_device_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewUniversalDeviceTemplate>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_device_template(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/universal-device-templates/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 200, body = UniversalDeviceTemplate), (status = 404, body = ErrorBody)))]
pub(super) async fn get_device_template(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<UniversalDeviceTemplate>> {
    Ok(Json(
        s.service.device_template(&key, k.system.as_deref()).await?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/universal-device-templates/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams), request_body = UniversalDeviceTemplatePatch,
    responses((status = 200, body = UniversalDeviceTemplate), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_device_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<UniversalDeviceTemplatePatch>,
) -> ApiResult<Json<UniversalDeviceTemplate>> {
    Ok(Json(
        s.service
            .update_device_template(&a, &key, k.system.as_deref(), b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/universal-device-templates/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_device_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_device_template(&a, &key, k.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Finds universal line templates; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/universal-line-templates", tag = "self-provisioning", params(ListParams),
    responses((status = 200, body = Page<UniversalLineTemplate>)))]
pub(super) async fn list_line_templates(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<UniversalLineTemplate>>> {
    let f = crate::auth::within(&a, "universal_line_template", find(&q, &[], &["name"])?);
    Ok(Json(s.service.find_line_templates(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/universal-line-templates", tag = "self-provisioning", request_body = NewUniversalLineTemplate,
    responses((status = 201, body = UniversalLineTemplate), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_line_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewUniversalLineTemplate>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_line_template(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/universal-line-templates/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 200, body = UniversalLineTemplate), (status = 404, body = ErrorBody)))]
pub(super) async fn get_line_template(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<UniversalLineTemplate>> {
    Ok(Json(
        s.service.line_template(&key, k.system.as_deref()).await?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/universal-line-templates/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams), request_body = UniversalLineTemplatePatch,
    responses((status = 200, body = UniversalLineTemplate), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_line_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<UniversalLineTemplatePatch>,
) -> ApiResult<Json<UniversalLineTemplate>> {
    Ok(Json(
        s.service
            .update_line_template(&a, &key, k.system.as_deref(), b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/universal-line-templates/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_line_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_line_template(&a, &key, k.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Finds user profiles; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/user-profiles", tag = "self-provisioning", params(ListParams),
    responses((status = 200, body = Page<UserProfile>)))]
pub(super) async fn list_user_profiles(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<UserProfile>>> {
    let f = crate::auth::within(&a, "user_profile", find(&q, &[], &["name"])?);
    Ok(Json(s.service.find_user_profiles(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/user-profiles", tag = "self-provisioning", request_body = NewUserProfile,
    responses((status = 201, body = UserProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_user_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewUserProfile>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_user_profile(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/user-profiles/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 200, body = UserProfile), (status = 404, body = ErrorBody)))]
pub(super) async fn get_user_profile(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<UserProfile>> {
    Ok(Json(
        s.service.user_profile(&key, k.system.as_deref()).await?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/user-profiles/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams), request_body = UserProfilePatch,
    responses((status = 200, body = UserProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_user_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<UserProfilePatch>,
) -> ApiResult<Json<UserProfile>> {
    Ok(Json(
        s.service
            .update_user_profile(&a, &key, k.system.as_deref(), b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/user-profiles/{key}", tag = "self-provisioning",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_user_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_user_profile(&a, &key, k.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Claims an auto-registered phone for a user, as the IVR or the phone's service would (the
/// same checks, the same lock-out), and tells the phone to resync.
#[utoipa::path(post, path = "/api/v1/self-provisioning/claims", tag = "self-provisioning", request_body = ClaimRequest,
    responses((status = 201, body = Claimed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn create_claim(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<ClaimRequest>,
) -> ApiResult<impl IntoResponse> {
    let c = service::Claim {
        phone: b.phone,
        user: b.user,
        secret: b.secret,
        via: "api",
        system: None,
        authenticated: false,
    };
    Ok(created(
        crate::claims::claim(&s.service, s.resync.as_ref(), &a, &c).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct StatusParams {
    /// The call-control system (needed when there are several).
    system: Option<String>,
}

/// Where auto-registration stands: the range, numbers taken and free, phones not yet claimed,
/// and this server's counts since it started.
#[utoipa::path(get, path = "/api/v1/self-provisioning/status", tag = "self-provisioning", params(StatusParams),
    responses((status = 200, body = AutoRegistrationStatus)))]
pub(super) async fn auto_registration_status(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<StatusParams>,
) -> ApiResult<Json<AutoRegistrationStatus>> {
    let mut st = s
        .service
        .auto_registration_status(q.system.as_deref())
        .await?;
    (st.registered_here, st.refused_here) = s.provisioner.auto_registration_counts();
    Ok(Json(st))
}
