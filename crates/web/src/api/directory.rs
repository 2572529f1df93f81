//! The corporate directory: LDAP servers and LDAP profiles (docs/directory.md). Each is keyed by
//! its name or id.

use super::*;

/// Finds LDAP servers; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/ldap-servers", tag = "directory", params(ListParams), responses((status = 200, body = Page<LdapServer>)))]
pub(super) async fn list_ldap_servers(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<LdapServer>>> {
    let f = find(&q, &[], &["name"])?;
    Ok(Json(s.service.find_ldap_servers(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/ldap-servers", tag = "directory", request_body = NewLdapServer,
    responses((status = 201, body = LdapServer), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_ldap_server(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewLdapServer>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_ldap_server(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/ldap-servers/{key}", tag = "directory", params(("key" = String, Path, description = "name or id")),
    responses((status = 200, body = LdapServer), (status = 404, body = ErrorBody)))]
pub(super) async fn get_ldap_server(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
) -> ApiResult<Json<LdapServer>> {
    Ok(Json(s.service.ldap_server(&key).await?))
}

#[utoipa::path(patch, path = "/api/v1/ldap-servers/{key}", tag = "directory", params(("key" = String, Path, description = "name or id")),
    request_body = LdapServerPatch, responses((status = 200, body = LdapServer), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_ldap_server(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Body(b): Body<LdapServerPatch>,
) -> ApiResult<Json<LdapServer>> {
    Ok(Json(s.service.update_ldap_server(&a, &key, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/ldap-servers/{key}", tag = "directory", params(("key" = String, Path, description = "name or id")),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_ldap_server(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_ldap_server(&a, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Finds LDAP profiles; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/ldap-profiles", tag = "directory", params(ListParams), responses((status = 200, body = Page<LdapProfile>)))]
pub(super) async fn list_ldap_profiles(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<LdapProfile>>> {
    let f = find(&q, &[], &["name"])?;
    Ok(Json(s.service.find_ldap_profiles(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/ldap-profiles", tag = "directory", request_body = NewLdapProfile,
    responses((status = 201, body = LdapProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_ldap_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewLdapProfile>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_ldap_profile(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/ldap-profiles/{key}", tag = "directory", params(("key" = String, Path, description = "name or id")),
    responses((status = 200, body = LdapProfile), (status = 404, body = ErrorBody)))]
pub(super) async fn get_ldap_profile(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
) -> ApiResult<Json<LdapProfile>> {
    Ok(Json(s.service.ldap_profile(&key).await?))
}

#[utoipa::path(patch, path = "/api/v1/ldap-profiles/{key}", tag = "directory", params(("key" = String, Path, description = "name or id")),
    request_body = LdapProfilePatch, responses((status = 200, body = LdapProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_ldap_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Body(b): Body<LdapProfilePatch>,
) -> ApiResult<Json<LdapProfile>> {
    Ok(Json(s.service.update_ldap_profile(&a, &key, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/ldap-profiles/{key}", tag = "directory", params(("key" = String, Path, description = "name or id")),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_ldap_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_ldap_profile(&a, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The LDAP attribute map: which directory attribute holds each user field (global to every
/// LDAP server).
#[utoipa::path(get, path = "/api/v1/ldap-attribute-map", tag = "directory", responses((status = 200, body = AttributeMap)))]
pub(super) async fn get_attribute_map(
    State(s): State<AppState>,
    _a: Admin,
) -> ApiResult<Json<AttributeMap>> {
    Ok(Json(s.service.ldap_attribute_map().await?))
}

/// Saves the attribute map: the user ID mapped, an LDAP attribute paired with one field at
/// most, a photo URL template (`%%uid%%`) at most 50 characters.
#[utoipa::path(put, path = "/api/v1/ldap-attribute-map", tag = "directory", request_body = AttributeMap,
    responses((status = 200, body = AttributeMap), (status = 422, body = ErrorBody)))]
pub(super) async fn put_attribute_map(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<AttributeMap>,
) -> ApiResult<Json<AttributeMap>> {
    Ok(Json(s.service.set_ldap_attribute_map(&a, b).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreDefaults {
    directory_type: DirectoryType,
}

/// "Restore Defaults": the factory attribute map of a directory type.
#[utoipa::path(post, path = "/api/v1/ldap-attribute-map/restore-defaults", tag = "directory", request_body = RestoreDefaults,
    responses((status = 200, body = AttributeMap)))]
pub(super) async fn restore_attribute_map(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<RestoreDefaults>,
) -> ApiResult<Json<AttributeMap>> {
    Ok(Json(
        s.service
            .restore_ldap_attribute_map(&a, b.directory_type)
            .await?,
    ))
}

/// Syncs users from the profile's directory: with `dry_run`, answers the plan (who would be
/// created, updated with which fields, made inactive, and the entries passed over with why)
/// and changes nothing. A directory that does not answer or refuses the bind is a 502 and
/// nothing changes; a user that cannot be written is listed under `failed` while the rest go on.
#[utoipa::path(post, path = "/api/v1/ldap-profiles/{key}/sync", tag = "directory", params(("key" = String, Path, description = "name or id")),
    request_body = LdapSyncRequest,
    responses((status = 200, body = LdapSyncReport), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub(super) async fn sync_ldap_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Body(b): Body<LdapSyncRequest>,
) -> ApiResult<Json<LdapSyncReport>> {
    Ok(Json(s.service.sync_ldap_profile(&a, &key, b).await?))
}
