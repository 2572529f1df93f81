//! End users.

use super::*;

/// Finds end users. `q` is a prefix of user ID, first or last name. Filters: `user_id`,
/// `first_name`, `last_name`, `department`, `conflicts=true`. Sorts: `last_name`, `first_name`,
/// `user_id`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListParams), responses((status = 200, body = Page<User>)))]
pub(super) async fn list_users(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<User>>> {
    let f = crate::auth::within(&a, "user", find(&q, USER_FILTERS, USER_SORTS)?);
    Ok(Json(s.service.find_users(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_user(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewUser>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_user(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{key}", tag = "users", params(("key" = String, Path, description = "user ID or id"), KeyParams),
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the user ID exists on several systems")))]
pub(super) async fn get_user(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<User>> {
    let r = s.service.user(&key, k.system.as_deref()).await?;
    crate::auth::readable(&a, "user", &r.system)?;
    Ok(Json(r))
}

#[utoipa::path(patch, path = "/api/v1/users/{key}", tag = "users", params(("key" = String, Path, description = "user ID or id"), KeyParams),
    request_body = UserPatch, responses((status = 200, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_user(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<UserPatch>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        s.service
            .update_user(&a, &key, k.system.as_deref(), b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/users/{key}", tag = "users", params(("key" = String, Path, description = "user ID or id"), KeyParams),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(super) async fn delete_user(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service.delete_user(&a, &key, k.system.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes many users; each succeeds or fails on its own.
#[utoipa::path(post, path = "/api/v1/users/batch-delete", tag = "users", request_body = BatchRequest, responses((status = 200, body = BatchResult)))]
pub(super) async fn delete_users(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_users(&a, &b).await?))
}

/// Sets (or clears, with `off`) a user's Do Not Disturb on every phone associated with them,
/// shared ones too (seed 003); each phone whose mode changed gets its new file and a resync.
#[utoipa::path(put, path = "/api/v1/users/{key}/dnd", tag = "users", params(("key" = String, Path, description = "user ID or id"), KeyParams),
    request_body = model::dnd::UserDnd, responses((status = 200, body = model::dnd::UserDndSet), (status = 404, body = ErrorBody)))]
pub(super) async fn set_user_dnd(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<model::dnd::UserDnd>,
) -> ApiResult<Json<model::dnd::UserDndSet>> {
    Ok(Json(
        s.service
            .set_user_dnd(&a, &key, k.system.as_deref(), b.dnd)
            .await?,
    ))
}

/// The phones the user is logged in on (extension mobility).
#[utoipa::path(get, path = "/api/v1/users/{key}/logins", tag = "users", params(("key" = String, Path, description = "user ID or id"), KeyParams),
    responses((status = 200, body = Vec<model::extension_mobility::Login>), (status = 404, body = ErrorBody)))]
pub(super) async fn user_logins(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<Vec<model::extension_mobility::Login>>> {
    Ok(Json(
        s.service.user_logins(&key, k.system.as_deref()).await?,
    ))
}

/// Users and voicemail subscribers together (seed 000's "Manage User"): `q` is the start of an
/// ID or a name, `system` one product system; by ID, each with its conflicts between systems.
/// Pages through the first 1,000.
#[utoipa::path(get, path = "/api/v1/people", tag = "users", params(ListParams),
    responses((status = 200, body = Page<Person>), (status = 422, body = ErrorBody)))]
pub(super) async fn list_people(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<Person>>> {
    let f = crate::auth::within(&a, "user", find(&q, &[], &[])?);
    let subscribers = a.readable_systems("voicemail_subscriber");
    Ok(Json(s.service.find_people(&f, subscribers).await?))
}

/// Adds a person in one step (seed 000's "Manage User"): a call-control user and, with
/// `subscriber`, a voicemail subscriber whose alias, names, mail and PIN default to the user's.
/// Both are added or neither; errors name their part (`user.last_name`,
/// `subscriber.extension`).
#[utoipa::path(post, path = "/api/v1/people", tag = "users", request_body = NewPerson,
    responses((status = 201, body = PersonAdded), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn add_person(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewPerson>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.add_person(&a, b).await?))
}
