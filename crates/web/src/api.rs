//! The REST API under `/api/v1/`. Each handler authenticates the administrator, turns the
//! request into a service call and the answer into JSON; the OpenAPI document is built from the
//! same handlers.

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Json, Router};
use model::*;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A JSON body whose errors come back as our JSON errors, naming the field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rej) => {
                let text = match &rej {
                    JsonRejection::JsonDataError(e) => {
                        use std::error::Error;
                        e.source()
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| e.body_text())
                    }
                    other => other.body_text(),
                };
                let field = ["unknown field `", "missing field `"].iter().find_map(|p| {
                    text.find(p)
                        .and_then(|i| text[i + p.len()..].split('`').next().map(str::to_string))
                });
                let field = field.or_else(|| {
                    text.split(':')
                        .next()
                        .filter(|f| !f.contains(' '))
                        .map(str::to_string)
                });
                Err(ApiError::bad_request(
                    format!("the request body is not what this endpoint takes: {text}"),
                    field,
                ))
            }
        }
    }
}

/// Paging, order and finding, shared by every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Prefix to find (case-insensitive) in the record's names.
    q: Option<String>,
    /// Only records of this product system.
    system: Option<String>,
    /// Field to sort by (see the endpoint).
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<i64>,
}

/// Selects a record that several systems or partitions may hold.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyParams {
    /// The product system, when the key exists on several.
    system: Option<String>,
    /// The partition (lines), when the pattern exists in several.
    partition: Option<String>,
}

const USER_FILTERS: &[&str] = &[
    "user_id",
    "first_name",
    "last_name",
    "department",
    "conflicts",
];
const USER_SORTS: &[&str] = &["last_name", "first_name", "user_id", "updated_at"];
const PHONE_FILTERS: &[&str] = &[
    "model",
    "device_pool",
    "owner_user_id",
    "mac",
    "line",
    "description",
];
const PROFILE_FILTERS: &[&str] = &["model", "line", "description"];
const DEVICE_SORTS: &[&str] = &["name", "model", "description", "updated_at"];

fn find(q: &BTreeMap<String, String>, filters: &[&str], sorts: &[&str]) -> ApiResult<model::Find> {
    let mut f = model::Find {
        limit: 50,
        ..Default::default()
    };
    for (k, v) in q {
        match k.as_str() {
            "q" => f.q = Some(v.clone()).filter(|v| !v.is_empty()),
            "system" => f.system = Some(v.clone()).filter(|v| !v.is_empty()),
            "sort" => {
                if !sorts.contains(&v.as_str()) {
                    return Err(ApiError::bad_request(format!("cannot sort by `{v}`; sort by one of: {}", sorts.join(", ")), Some("sort".into())));
                }
                f.sort = Some(v.clone());
            }
            "order" => {
                f.descending = match v.as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => return Err(ApiError::bad_request("order is `asc` or `desc`", Some("order".into()))),
                }
            }
            "limit" => {
                f.limit = v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| ApiError::bad_request("limit is 1 to 1000", Some("limit".into())))?
            }
            "offset" => {
                f.offset = v.parse().ok().filter(|n| *n >= 0).ok_or_else(|| ApiError::bad_request("offset is 0 or more", Some("offset".into())))?
            }
            k if filters.contains(&k) => f.filters.push((k.to_string(), v.clone())),
            other => {
                return Err(ApiError::bad_request(
                    format!(
                        "`{other}` is not a parameter here; use q, system, sort, order, limit, offset{}{}",
                        if filters.is_empty() { "" } else { " or the filters " },
                        filters.join(", ")
                    ),
                    Some(other.to_string()),
                ))
            }
        }
    }
    Ok(f)
}

/// A page of a short list held in memory (systems, classes of service, the catalogue), found and
/// paged like the lists the database answers.
fn in_memory<T>(items: Vec<T>, f: &model::Find, key: impl Fn(&T) -> &str) -> Page<T> {
    let q = f.q.as_deref().unwrap_or("").to_lowercase();
    let mut items: Vec<T> = items
        .into_iter()
        .filter(|x| key(x).to_lowercase().starts_with(&q))
        .collect();
    items.sort_by(|a, b| key(a).cmp(key(b)));
    if f.descending {
        items.reverse();
    }
    let total = items.len() as i64;
    let items = items
        .into_iter()
        .skip(f.offset as usize)
        .take(f.limit as usize)
        .collect();
    Page {
        items,
        total,
        limit: f.limit,
        offset: f.offset,
    }
}

fn created<T: serde::Serialize>(v: T) -> impl IntoResponse {
    (StatusCode::CREATED, Json(v))
}

// --- health, identity, tokens ---------------------------------------------------------------

/// Liveness and database check; no authentication.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "ok"), (status = 503, body = ErrorBody)))]
async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    match s.service.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

/// The administrator the credentials belong to.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "admin", responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
async fn whoami(Admin(a): Admin) -> Json<WhoAmI> {
    Json(WhoAmI {
        privileges: a.privileges().map(<[Privilege]>::to_vec),
        username: a.name,
    })
}

// --- administrators and roles ---------------------------------------------------------------

/// Roles: the built-in `superadmin` and `Full Provisioning`, and those made here.
#[utoipa::path(get, path = "/api/v1/roles", tag = "admin", responses((status = 200, body = Vec<Role>)))]
async fn list_roles(State(s): State<AppState>, _a: Admin) -> ApiResult<Json<Vec<Role>>> {
    Ok(Json(s.service.roles().await?))
}

/// Adds a role: privileges (product system, resource, action), `*` standing for any.
#[utoipa::path(post, path = "/api/v1/roles", tag = "admin", request_body = NewRole,
    responses((status = 201, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_role(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewRole>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_role(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/roles/{name}", tag = "admin", params(("name" = String, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody)))]
async fn get_role(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<Role>> {
    Ok(Json(s.service.role(&name).await?))
}

#[utoipa::path(patch, path = "/api/v1/roles/{name}", tag = "admin", params(("name" = String, Path)), request_body = RolePatch,
    responses((status = 200, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_role(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<RolePatch>,
) -> ApiResult<Json<Role>> {
    Ok(Json(s.service.update_role(&a, &name, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "admin", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_role(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_role(&a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/admins", tag = "admin", responses((status = 200, body = Vec<Administrator>)))]
async fn list_admins(State(s): State<AppState>, _a: Admin) -> ApiResult<Json<Vec<Administrator>>> {
    Ok(Json(s.service.administrators().await?))
}

/// Adds an administrator with roles.
#[utoipa::path(post, path = "/api/v1/admins", tag = "admin", request_body = NewAdministrator,
    responses((status = 201, body = Administrator), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_admin(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewAdministrator>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_administrator(&a, b).await?))
}

/// Sets an administrator's password or roles.
#[utoipa::path(patch, path = "/api/v1/admins/{username}", tag = "admin", params(("username" = String, Path)), request_body = AdministratorPatch,
    responses((status = 200, body = Administrator), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_admin(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(username): Path<String>,
    Body(b): Body<AdministratorPatch>,
) -> ApiResult<Json<Administrator>> {
    Ok(Json(
        s.service.update_administrator(&a, &username, b).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/admins/{username}", tag = "admin", params(("username" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_admin(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_administrator(&a, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an API token for the calling administrator (shown once).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "admin", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody)))]
async fn create_token(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewToken>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_token(&a, &b.name).await?))
}

/// The audit log, newest first. Filters: `actor`, `action`, `resource`, `target`, `system`,
/// `result`, `since`, `until`; `q` is a prefix of the target.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(ListParams),
    responses((status = 200, body = Page<AuditEntry>), (status = 401, body = ErrorBody)))]
async fn audit(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    let f = find(
        &q,
        &[
            "actor", "action", "resource", "target", "result", "since", "until",
        ],
        &[],
    )?;
    let mut f = f;
    if let Some(sys) = f.system.take() {
        f.filters.push(("system".into(), sys));
    }
    Ok(Json(s.service.audit(&f).await?))
}

// --- systems --------------------------------------------------------------------------------

/// Product systems (call-control and voicemail); `q` is a prefix of the name. Filter: `kind`.
#[utoipa::path(get, path = "/api/v1/systems", tag = "systems", params(ListParams), responses((status = 200, body = Page<System>)))]
async fn list_systems(
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
async fn create_system(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewSystem>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_system(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/systems/{key}", tag = "systems", params(("key" = String, Path, description = "name or id")),
    responses((status = 200, body = System), (status = 404, body = ErrorBody)))]
async fn get_system(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
) -> ApiResult<Json<System>> {
    Ok(Json(s.service.system(&key).await?))
}

#[utoipa::path(patch, path = "/api/v1/systems/{key}", tag = "systems", params(("key" = String, Path, description = "name or id")),
    request_body = SystemPatch, responses((status = 200, body = System), (status = 409, body = ErrorBody)))]
async fn update_system(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Body(b): Body<SystemPatch>,
) -> ApiResult<Json<System>> {
    Ok(Json(s.service.update_system(&a, &key, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/systems/{key}", tag = "systems", params(("key" = String, Path, description = "name or id")),
    responses((status = 204), (status = 409, body = ErrorBody)))]
async fn delete_system(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_system(&a, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- users ----------------------------------------------------------------------------------

/// Finds end users. `q` is a prefix of user ID, first or last name. Filters: `user_id`,
/// `first_name`, `last_name`, `department`, `conflicts=true`. Sorts: `last_name`, `first_name`,
/// `user_id`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListParams), responses((status = 200, body = Page<User>)))]
async fn list_users(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<User>>> {
    let f = find(&q, USER_FILTERS, USER_SORTS)?;
    Ok(Json(s.service.find_users(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewUser>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_user(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{key}", tag = "users", params(("key" = String, Path, description = "user ID or id"), KeyParams),
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the user ID exists on several systems")))]
async fn get_user(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.service.user(&key, k.system.as_deref()).await?))
}

#[utoipa::path(patch, path = "/api/v1/users/{key}", tag = "users", params(("key" = String, Path, description = "user ID or id"), KeyParams),
    request_body = UserPatch, responses((status = 200, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_user(
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
async fn delete_user(
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
async fn delete_users(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_users(&a, &b).await?))
}

// --- voicemail ------------------------------------------------------------------------------

/// Finds voicemail subscribers. `q` is a prefix of alias, first or last name. Filters: `alias`,
/// `extension`, `class_of_service`. Sorts: `last_name`, `alias`, `extension`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/voicemail-subscribers", tag = "voicemail", params(ListParams),
    responses((status = 200, body = Page<VoicemailSubscriber>)))]
async fn list_subscribers(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<VoicemailSubscriber>>> {
    let f = find(
        &q,
        &["alias", "extension", "class_of_service"],
        &["last_name", "alias", "extension", "updated_at"],
    )?;
    Ok(Json(s.service.find_voicemail_subscribers(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/voicemail-subscribers", tag = "voicemail", request_body = NewVoicemailSubscriber,
    responses((status = 201, body = VoicemailSubscriber), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_subscriber(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewVoicemailSubscriber>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_voicemail_subscriber(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/voicemail-subscribers/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "alias or id"), KeyParams), responses((status = 200, body = VoicemailSubscriber), (status = 404, body = ErrorBody)))]
async fn get_subscriber(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<VoicemailSubscriber>> {
    Ok(Json(
        s.service
            .voicemail_subscriber(&key, k.system.as_deref())
            .await?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/voicemail-subscribers/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "alias or id"), KeyParams), request_body = VoicemailSubscriberPatch,
    responses((status = 200, body = VoicemailSubscriber), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_subscriber(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<VoicemailSubscriberPatch>,
) -> ApiResult<Json<VoicemailSubscriber>> {
    Ok(Json(
        s.service
            .update_voicemail_subscriber(&a, &key, k.system.as_deref(), b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/voicemail-subscribers/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "alias or id"), KeyParams), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_subscriber(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_voicemail_subscriber(&a, &key, k.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/voicemail-subscribers/batch-delete", tag = "voicemail", request_body = BatchRequest,
    responses((status = 200, body = BatchResult)))]
async fn delete_subscribers(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_voicemail_subscribers(&a, &b).await?))
}

/// Classes of service; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/classes-of-service", tag = "voicemail", params(ListParams), responses((status = 200, body = Page<ClassOfService>)))]
async fn list_cos(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<ClassOfService>>> {
    let f = find(&q, &[], &["name"])?;
    let items = s.service.classes_of_service(f.system.as_deref()).await?;
    Ok(Json(in_memory(items, &f, |x| &x.name)))
}

#[utoipa::path(post, path = "/api/v1/classes-of-service", tag = "voicemail", request_body = NewClassOfService,
    responses((status = 201, body = ClassOfService), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_cos(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewClassOfService>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_class_of_service(&a, b).await?))
}

#[utoipa::path(patch, path = "/api/v1/classes-of-service/{id}", tag = "voicemail", params(("id" = i64, Path)),
    request_body = ClassOfServicePatch, responses((status = 200, body = ClassOfService), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_cos(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
    Body(b): Body<ClassOfServicePatch>,
) -> ApiResult<Json<ClassOfService>> {
    Ok(Json(s.service.update_class_of_service(&a, id, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/classes-of-service/{id}", tag = "voicemail", params(("id" = i64, Path)),
    responses((status = 204), (status = 409, body = ErrorBody)))]
async fn delete_cos(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.service.delete_class_of_service(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Public distribution lists; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/distribution-lists", tag = "voicemail", params(ListParams), responses((status = 200, body = Page<DistributionList>)))]
async fn list_dls(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<DistributionList>>> {
    let f = find(&q, &[], &["name"])?;
    let items = s.service.distribution_lists(f.system.as_deref()).await?;
    Ok(Json(in_memory(items, &f, |x| &x.name)))
}

#[utoipa::path(post, path = "/api/v1/distribution-lists", tag = "voicemail", request_body = NewDistributionList,
    responses((status = 201, body = DistributionList), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_dl(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewDistributionList>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_distribution_list(&a, b).await?))
}

#[utoipa::path(patch, path = "/api/v1/distribution-lists/{id}", tag = "voicemail", params(("id" = i64, Path)),
    request_body = DistributionListPatch, responses((status = 200, body = DistributionList), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_dl(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
    Body(b): Body<DistributionListPatch>,
) -> ApiResult<Json<DistributionList>> {
    Ok(Json(s.service.update_distribution_list(&a, id, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/distribution-lists/{id}", tag = "voicemail", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_dl(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.service.delete_distribution_list(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- device types ---------------------------------------------------------------------------

/// The device type catalogue; `q` is a prefix of the model. Filter: `family`.
#[utoipa::path(get, path = "/api/v1/device-types", tag = "device types", params(ListParams), responses((status = 200, body = Page<DeviceType>)))]
async fn list_device_types(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<DeviceType>>> {
    let f = find(&q, &["family"], &["model"])?;
    let family = f
        .filters
        .iter()
        .find(|(k, _)| k == "family")
        .map(|(_, v)| v.clone());
    let items = s
        .service
        .catalog()
        .all()
        .filter(|t| {
            family.as_deref().is_none_or(|fam| {
                serde_json::to_value(t.family)
                    .ok()
                    .and_then(|v| v.as_str().map(|x| x == fam))
                    .unwrap_or(false)
            })
        })
        .cloned()
        .collect();
    Ok(Json(in_memory(items, &f, |x| &x.model)))
}

#[utoipa::path(get, path = "/api/v1/device-types/{model}", tag = "device types", params(("model" = String, Path)),
    responses((status = 200, body = DeviceType), (status = 404, body = ErrorBody)))]
async fn get_device_type(
    State(s): State<AppState>,
    _a: Admin,
    Path(m): Path<String>,
) -> ApiResult<Json<DeviceType>> {
    s.service
        .catalog()
        .get(&m)
        .cloned()
        .map(Json)
        .ok_or_else(|| {
            service::Error::NotFound(format!(
                "there is no model {m}; the models are: {}",
                s.service.catalog().model_names()
            ))
            .into()
        })
}

// --- phones ---------------------------------------------------------------------------------

/// Finds phones. `q` is a prefix of the device name. Filters: `model`, `device_pool`,
/// `owner_user_id`, `mac`, `line` (a directory number on the phone), `description` (prefix).
/// Sorts: `name`, `model`, `description`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/phones", tag = "phones", params(ListParams), responses((status = 200, body = Page<Phone>)))]
async fn list_phones(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<Phone>>> {
    let f = find(&q, PHONE_FILTERS, DEVICE_SORTS)?;
    Ok(Json(s.service.find_phones(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/phones", tag = "phones", request_body = NewPhone,
    responses((status = 201, body = Phone), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_phone(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewPhone>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_phone(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/phones/{name}", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    responses((status = 200, body = Phone), (status = 404, body = ErrorBody)))]
async fn get_phone(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<Phone>> {
    Ok(Json(s.service.phone(&name).await?))
}

#[utoipa::path(patch, path = "/api/v1/phones/{name}", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    request_body = PhonePatch, responses((status = 200, body = Phone), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_phone(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<PhonePatch>,
) -> ApiResult<Json<Phone>> {
    Ok(Json(s.service.update_phone(&a, &name, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/phones/{name}", tag = "phones", params(("name" = String, Path, description = "device name or id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_phone(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_phone(&a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/phones/batch-delete", tag = "phones", request_body = BatchRequest, responses((status = 200, body = BatchResult)))]
async fn delete_phones(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_phones(&a, &b).await?))
}

// --- lines ----------------------------------------------------------------------------------

/// Finds lines. `q` is a prefix of the pattern. Filters: `partition`, `pattern`, `shared=true`.
/// Sorts: `pattern`, `partition`, `description`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/lines", tag = "lines", params(ListParams), responses((status = 200, body = Page<Line>)))]
async fn list_lines(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<Line>>> {
    let f = find(
        &q,
        &["partition", "pattern", "shared"],
        &["pattern", "partition", "description", "updated_at"],
    )?;
    Ok(Json(s.service.find_lines(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/lines", tag = "lines", request_body = NewLine,
    responses((status = 201, body = Line), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_line(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewLine>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_line(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/lines/{key}", tag = "lines", params(("key" = String, Path, description = "pattern or id"), KeyParams),
    responses((status = 200, body = Line), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn get_line(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<Line>> {
    Ok(Json(
        s.service
            .line(&key, k.partition.as_deref(), k.system.as_deref())
            .await?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/lines/{key}", tag = "lines", params(("key" = String, Path, description = "pattern or id"), KeyParams),
    request_body = LinePatch, responses((status = 200, body = Line), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_line(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<LinePatch>,
) -> ApiResult<Json<Line>> {
    Ok(Json(
        s.service
            .update_line(&a, &key, k.partition.as_deref(), k.system.as_deref(), b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/lines/{key}", tag = "lines", params(("key" = String, Path, description = "pattern or id"), KeyParams),
    responses((status = 204), (status = 409, body = ErrorBody)))]
async fn delete_line(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_line(&a, &key, k.partition.as_deref(), k.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/lines/batch-delete", tag = "lines", request_body = BatchRequest, responses((status = 200, body = BatchResult)))]
async fn delete_lines(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_lines(&a, &b).await?))
}

// --- device profiles ------------------------------------------------------------------------

/// Finds device profiles. `q` is a prefix of the name. Filters: `model`, `line`,
/// `description`. Sorts: `name`, `model`, `description`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/device-profiles", tag = "device profiles", params(ListParams), responses((status = 200, body = Page<DeviceProfile>)))]
async fn list_profiles(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<DeviceProfile>>> {
    let f = find(&q, PROFILE_FILTERS, DEVICE_SORTS)?;
    Ok(Json(s.service.find_device_profiles(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/device-profiles", tag = "device profiles", request_body = NewDeviceProfile,
    responses((status = 201, body = DeviceProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewDeviceProfile>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_device_profile(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/device-profiles/{name}", tag = "device profiles", params(("name" = String, Path, description = "name or id")),
    responses((status = 200, body = DeviceProfile), (status = 404, body = ErrorBody)))]
async fn get_profile(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<DeviceProfile>> {
    Ok(Json(s.service.device_profile(&name).await?))
}

#[utoipa::path(patch, path = "/api/v1/device-profiles/{name}", tag = "device profiles", params(("name" = String, Path, description = "name or id")),
    request_body = DeviceProfilePatch, responses((status = 200, body = DeviceProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<DeviceProfilePatch>,
) -> ApiResult<Json<DeviceProfile>> {
    Ok(Json(s.service.update_device_profile(&a, &name, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/device-profiles/{name}", tag = "device profiles", params(("name" = String, Path, description = "name or id")),
    responses((status = 204), (status = 409, body = ErrorBody, description = "in use as a logout profile")))]
async fn delete_profile(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_device_profile(&a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/device-profiles/batch-delete", tag = "device profiles", request_body = BatchRequest,
    responses((status = 200, body = BatchResult)))]
async fn delete_profiles(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_device_profiles(&a, &b).await?))
}

// --- provisioning parameters ----------------------------------------------------------------

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

fn scope(s: &str) -> ApiResult<ParamScope> {
    ParamScope::parse(s).ok_or_else(|| {
        ApiError::bad_request(
            format!("scope `{s}` is not system, device_pool, model or device"),
            Some("scope".into()),
        )
    })
}

/// The provisioning parameters set at every scope (system, device pool, model, device).
#[utoipa::path(get, path = "/api/v1/parameters", tag = "provisioning", params(KeyParams), responses((status = 200, body = Vec<ParameterSet>)))]
async fn list_parameters(
    State(s): State<AppState>,
    _a: Admin,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<Vec<ParameterSet>>> {
    Ok(Json(s.service.parameter_sets(k.system.as_deref()).await?))
}

/// Sets the provisioning parameters of a scope, replacing the values set there before (send
/// the `version` read when the set exists). Values follow the phone's rules (seeds 002/004).
#[utoipa::path(put, path = "/api/v1/parameters/{scope}", tag = "provisioning",
    params(("scope" = String, Path, description = "system, device_pool, model or device"), ScopeParams),
    request_body = ParameterSetInput,
    responses((status = 200, body = ParameterSet), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_parameters(
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
async fn delete_parameters(
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
async fn phone_parameters(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<ResolvedParameters>> {
    Ok(Json(s.service.phone_parameters(&name).await?))
}

// --- phone files ----------------------------------------------------------------------------

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PhoneFiles {
    pub device: String,
    pub files: Vec<String>,
}

/// The files a phone fetches.
#[utoipa::path(get, path = "/api/v1/phones/{name}/files", tag = "provisioning", params(("name" = String, Path)),
    responses((status = 200, body = PhoneFiles), (status = 404, body = ErrorBody)))]
async fn phone_files(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<PhoneFiles>> {
    let files = s
        .provisioner
        .files_of(&name)
        .await
        .map_err(provision_error)?;
    let device = s.service.phone(&name).await?.name;
    Ok(Json(PhoneFiles { device, files }))
}

/// How the phone fetches the file previewed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViaParams {
    /// `http` (the default when the phone HTTP listener is on) or `tftp`: an MPP file's default
    /// profile rule points back at the server the way the phone reached it.
    via: Option<String>,
}

/// The exact bytes the phone gets for one of its files.
#[utoipa::path(get, path = "/api/v1/phones/{name}/files/{file}", tag = "provisioning", params(("name" = String, Path), ("file" = String, Path), ViaParams),
    responses((status = 200, description = "the file", content_type = "text/xml"), (status = 404, body = ErrorBody)))]
async fn phone_file(
    State(s): State<AppState>,
    _a: Admin,
    Path((name, file)): Path<(String, String)>,
    Query(v): Query<ViaParams>,
) -> ApiResult<axum::response::Response> {
    let http = Some(s.phone_base_url.clone()).filter(|u| !u.is_empty());
    let off =
        |what: &str| ApiError::bad_request(format!("via: the {what} is off"), Some("via".into()));
    let base_url = match v.via.as_deref() {
        None => http.or(s.tftp_base_url.clone()).unwrap_or_default(),
        Some("http") => http.ok_or_else(|| off("phone HTTP listener"))?,
        Some("tftp") => s
            .tftp_base_url
            .clone()
            .ok_or_else(|| off("TFTP listener"))?,
        Some(other) => {
            return Err(ApiError::bad_request(
                format!("via: `{other}` is not http or tftp"),
                Some("via".into()),
            ))
        }
    };
    match s
        .provisioner
        .preview(&name, &file, &base_url)
        .await
        .map_err(provision_error)?
    {
        Some((bytes, content_type)) => {
            Ok(([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response())
        }
        None => {
            let files = s
                .provisioner
                .files_of(&name)
                .await
                .map_err(provision_error)?;
            Err(service::Error::NotFound(format!(
                "{name} does not fetch {file}; it fetches {}",
                files.join(", ")
            ))
            .into())
        }
    }
}

/// Sends resync NOTIFYs to the phones named (`Event: check-sync` to enterprise phones,
/// `Event: resync` to MPP phones with Resync From SIP on), at the server's pace (`sip.rate` per
/// second). Answers at once with what was queued and what was skipped and why; each NOTIFY's
/// outcome goes to the phone's status (`GET /api/v1/status`).
#[utoipa::path(post, path = "/api/v1/resync", tag = "provisioning", request_body = ResyncRequest,
    responses((status = 202, body = ResyncAnswer), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resync(
    State(s): State<AppState>,
    _a: Admin,
    Body(b): Body<ResyncRequest>,
) -> ApiResult<(StatusCode, Json<ResyncAnswer>)> {
    let Some(engine) = &s.resync else {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            detail: crate::error::ErrorDetail {
                code: "conflict",
                message: "this server sends no NOTIFYs: start it with --sip ADDR (or sip.listen in the configuration)".into(),
                field: None,
                version: None,
                current: None,
            },
        });
    };
    let phones = s.service.select_phones(&b).await?;
    let ids: Vec<i64> = phones.iter().map(|(id, _)| *id).collect();
    let (queued, skipped) = engine.request(&ids).await.map_err(provision_error)?;
    let name = |id: i64| {
        phones
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(ResyncAnswer {
            queued,
            skipped: skipped
                .into_iter()
                .map(|(id, why)| ResyncSkipped {
                    device: name(id),
                    reason: why.to_string(),
                })
                .collect(),
        }),
    ))
}

/// Phones' status: what each last fetched, its resync reports over syslog, the NOTIFYs sent to
/// it. `state` filters: `never_seen`, `failing`, `not_resynced` (its file changed after its last
/// resync); `q` is a prefix of the device name.
#[utoipa::path(get, path = "/api/v1/status", tag = "provisioning",
    params(("state" = Option<String>, Query), ("q" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Page<DeviceStatus>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_status(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<DeviceStatus>>> {
    let mut state = None;
    let mut rest = BTreeMap::new();
    for (k, v) in q {
        if k == "state" {
            state = Some(v);
        } else {
            rest.insert(k, v);
        }
    }
    let f = find(&rest, &[], &[])?;
    if f.system.is_some() {
        return Err(ApiError::bad_request(
            "`system` is not a parameter here; use state, q, limit, offset",
            Some("system".into()),
        ));
    }
    Ok(Json(
        s.service
            .device_statuses(
                state.as_deref(),
                f.q.as_deref().unwrap_or(""),
                f.limit,
                f.offset,
            )
            .await?,
    ))
}

/// Sets the phone's own HTTP password, which MPP phones send (Basic or Digest, user name: the
/// MAC in lower case) for files that need it (system setting `phone_auth`). It goes, sealed, into
/// the store and, in clear, into the phone's own profile rule; it is never returned.
#[utoipa::path(put, path = "/api/v1/phones/{name}/http-credential", tag = "provisioning", params(("name" = String, Path)),
    request_body = HttpCredentialInput,
    responses((status = 200, body = Phone), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_http_credential(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<HttpCredentialInput>,
) -> ApiResult<Json<Phone>> {
    Ok(Json(s.service.set_phone_http_password(&a, &name, b).await?))
}

/// The version of the record read before a change.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionParam {
    /// Required; left out, the answer says so (422 naming `version`).
    #[serde(default)]
    version: i64,
}

/// Removes the phone's HTTP password.
#[utoipa::path(delete, path = "/api/v1/phones/{name}/http-credential", tag = "provisioning", params(("name" = String, Path), VersionParam),
    responses((status = 200, body = Phone), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_http_credential(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Query(q): Query<VersionParam>,
) -> ApiResult<Json<Phone>> {
    Ok(Json(
        s.service
            .remove_phone_http_password(&a, &name, q.version)
            .await?,
    ))
}

/// What the phone last fetched, from which address, with which user agent.
#[utoipa::path(get, path = "/api/v1/phones/{name}/status", tag = "provisioning", params(("name" = String, Path)),
    responses((status = 200, body = DeviceStatus), (status = 404, body = ErrorBody)))]
async fn phone_status(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<DeviceStatus>> {
    Ok(Json(s.service.phone_status(&name).await?))
}

fn provision_error(e: provision::Error) -> ApiError {
    match e {
        provision::Error::Service(e) => e.into(),
        other => service::Error::Internal(other.to_string()).into(),
    }
}

// --- IP phone services ----------------------------------------------------------------------

/// Finds IP phone services; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/services", tag = "services", params(ListParams), responses((status = 200, body = Page<PhoneService>)))]
async fn list_services(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<PhoneService>>> {
    let f = find(&q, &[], &["name"])?;
    Ok(Json(s.service.find_services(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/services", tag = "services", request_body = NewPhoneService,
    responses((status = 201, body = PhoneService), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_service(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewPhoneService>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_service(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/services/{key}", tag = "services", params(("key" = String, Path, description = "name or id")),
    responses((status = 200, body = PhoneService), (status = 404, body = ErrorBody)))]
async fn get_service(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
) -> ApiResult<Json<PhoneService>> {
    Ok(Json(s.service.service(&key).await?))
}

#[utoipa::path(patch, path = "/api/v1/services/{key}", tag = "services", params(("key" = String, Path, description = "name or id")),
    request_body = PhoneServicePatch, responses((status = 200, body = PhoneService), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_service(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Body(b): Body<PhoneServicePatch>,
) -> ApiResult<Json<PhoneService>> {
    Ok(Json(s.service.update_service(&a, &key, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/services/{key}", tag = "services", params(("key" = String, Path, description = "name or id")),
    responses((status = 204), (status = 409, body = ErrorBody)))]
async fn delete_service(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_service(&a, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- wiring ---------------------------------------------------------------------------------

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Dialtone", description = "The REST API of Dialtone, a voice provisioning server."),
    modifiers(&Security),
    security(("basic" = []), ("bearer" = []))
)]
struct ApiDoc;

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(whoami))
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(list_admins, create_admin))
        .routes(routes!(update_admin, delete_admin))
        .routes(routes!(create_token))
        .routes(routes!(audit))
        .routes(routes!(list_systems, create_system))
        .routes(routes!(get_system, update_system, delete_system))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(delete_users))
        .routes(routes!(list_subscribers, create_subscriber))
        .routes(routes!(
            get_subscriber,
            update_subscriber,
            delete_subscriber
        ))
        .routes(routes!(delete_subscribers))
        .routes(routes!(list_cos, create_cos))
        .routes(routes!(update_cos, delete_cos))
        .routes(routes!(list_dls, create_dl))
        .routes(routes!(update_dl, delete_dl))
        .routes(routes!(list_device_types))
        .routes(routes!(get_device_type))
        .routes(routes!(list_phones, create_phone))
        .routes(routes!(get_phone, update_phone, delete_phone))
        .routes(routes!(delete_phones))
        .routes(routes!(list_lines, create_line))
        .routes(routes!(get_line, update_line, delete_line))
        .routes(routes!(delete_lines))
        .routes(routes!(list_profiles, create_profile))
        .routes(routes!(get_profile, update_profile, delete_profile))
        .routes(routes!(delete_profiles))
        .routes(routes!(list_parameters))
        .routes(routes!(set_parameters, delete_parameters))
        .routes(routes!(phone_parameters))
        .routes(routes!(phone_files))
        .routes(routes!(phone_file))
        .routes(routes!(phone_status))
        .routes(routes!(set_http_credential, remove_http_credential))
        .routes(routes!(list_status))
        .routes(routes!(resync))
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service, delete_service))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(apply_template))
        .routes(routes!(list_imports, start_import))
        .routes(routes!(get_import))
        .routes(routes!(run_import))
        .routes(routes!(import_errors))
        .routes(routes!(import_errors_csv))
        .routes(routes!(export_csv))
}

// --- templates ------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateParams {
    /// `user`, `phone` or `device_profile`.
    kind: Option<String>,
    /// Prefix of the name.
    q: Option<String>,
}

/// Finds templates: of one kind (`kind`), by the start of their name (`q`).
#[utoipa::path(get, path = "/api/v1/templates", tag = "templates", params(TemplateParams), responses((status = 200, body = Vec<Template>)))]
async fn list_templates(
    State(s): State<AppState>,
    _a: Admin,
    Query(p): Query<TemplateParams>,
) -> ApiResult<Json<Vec<Template>>> {
    let kind = p
        .kind
        .as_deref()
        .map(TemplateKind::parse)
        .transpose()
        .map_err(service::Error::from)?;
    Ok(Json(
        s.service
            .templates(kind, p.q.as_deref().unwrap_or(""))
            .await?,
    ))
}

/// Adds a template: any subset of the fields of a new user, phone or device profile. The values
/// are not checked until the template is applied; the name and the field names are.
#[utoipa::path(post, path = "/api/v1/templates", tag = "templates", request_body = NewTemplate,
    responses((status = 201, body = Template), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewTemplate>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_template(&a, b).await?))
}

fn template_kind(kind: &str) -> ApiResult<TemplateKind> {
    Ok(TemplateKind::parse(kind).map_err(service::Error::from)?)
}

#[utoipa::path(get, path = "/api/v1/templates/{kind}/{name}", tag = "templates",
    params(("kind" = String, Path, description = "user, phone or device_profile"), ("name" = String, Path)),
    responses((status = 200, body = Template), (status = 404, body = ErrorBody)))]
async fn get_template(
    State(s): State<AppState>,
    _a: Admin,
    Path((kind, name)): Path<(String, String)>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        s.service.template(template_kind(&kind)?, &name).await?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/templates/{kind}/{name}", tag = "templates",
    params(("kind" = String, Path, description = "user, phone or device_profile"), ("name" = String, Path)),
    request_body = TemplatePatch, responses((status = 200, body = Template), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path((kind, name)): Path<(String, String)>,
    Body(b): Body<TemplatePatch>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        s.service
            .update_template(&a, template_kind(&kind)?, &name, b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/templates/{kind}/{name}", tag = "templates",
    params(("kind" = String, Path, description = "user, phone or device_profile"), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path((kind, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_template(&a, template_kind(&kind)?, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Applies a template to the records named in `targets`, or to every record `find` finds (the
/// list's query parameters, e.g. `{"q": "SEP0C", "model": "8861"}`). Each record changes or
/// fails on its own, validated like any change; the answer says which.
#[utoipa::path(post, path = "/api/v1/templates/{kind}/{name}/apply", tag = "templates",
    params(("kind" = String, Path, description = "user, phone or device_profile"), ("name" = String, Path)),
    request_body = ApplyTemplate, responses((status = 200, body = BatchResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn apply_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path((kind, name)): Path<(String, String)>,
    Body(b): Body<ApplyTemplate>,
) -> ApiResult<Json<BatchResult>> {
    let kind = template_kind(&kind)?;
    let mut targets = b.targets.clone();
    if let Some(q) = &b.find {
        targets.extend(found_keys(&s, kind, q).await?);
    }
    Ok(Json(
        s.service
            .apply_template(&a, kind, &name, &targets, b.system.as_deref())
            .await?,
    ))
}

/// The keys (user IDs, device names) of every record a find finds.
async fn found_keys(
    s: &AppState,
    kind: TemplateKind,
    q: &BTreeMap<String, String>,
) -> ApiResult<Vec<String>> {
    let filters = match kind {
        TemplateKind::User => USER_FILTERS,
        TemplateKind::Phone => PHONE_FILTERS,
        TemplateKind::DeviceProfile => PROFILE_FILTERS,
    };
    Ok(s.service.found_keys(kind, find(q, filters, &[])?).await?)
}

// --- CSV imports and exports ----------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// users, phones, device-profiles, lines, voicemail-subscribers or app-profiles.
    kind: String,
    /// add (default), modify or delete.
    mode: Option<String>,
    /// Check every row against what is stored, write nothing.
    dry_run: Option<bool>,
    /// Stop at the first failed row.
    stop_on_error: Option<bool>,
    /// A template of the file's kind filling the cells the file leaves empty.
    template: Option<String>,
    /// The file's name, for the job list and the audit log.
    source: Option<String>,
}

/// The largest CSV file an upload may carry.
pub(crate) const MAX_IMPORT_BYTES: usize = 256 << 20;

fn bulk_kind(kind: &str) -> ApiResult<bulk::Kind> {
    bulk::Kind::parse(kind).ok_or_else(|| {
        ApiError::bad_request(
            format!(
                "`{kind}` is not a kind of file: {}",
                bulk::Kind::ALL.map(|k| k.name()).join(", ")
            ),
            Some("kind".into()),
        )
    })
}

/// Starts an import of the CSV file in the body (UTF-8, with or without a BOM) as a job that
/// runs in the background: the answer (202) is the job; `GET /api/v1/imports/{id}` follows
/// it. A file whose header line is wrong is refused at once (422), before any row.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", params(ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 202, body = ImportJob), (status = 422, body = ErrorBody)))]
async fn start_import(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(p): Query<ImportParams>,
    body: axum::body::Body,
) -> ApiResult<impl IntoResponse> {
    let kind = bulk_kind(&p.kind)?;
    // A whole company's file is a few tens of megabytes: more than the 2 MB other requests get.
    let body = axum::body::to_bytes(body, MAX_IMPORT_BYTES)
        .await
        .map_err(|_| {
            let mut e = ApiError::bad_request(
                format!(
                    "the file is larger than {} MB (or the upload broke off): split it",
                    MAX_IMPORT_BYTES >> 20
                ),
                Some("file".into()),
            );
            e.status = StatusCode::PAYLOAD_TOO_LARGE;
            e
        })?;
    let m = p.mode.as_deref().unwrap_or("add");
    let mode = service::ImportMode::parse(m).ok_or_else(|| {
        ApiError::bad_request(
            format!("mode `{m}`: say add, modify or delete"),
            Some("mode".into()),
        )
    })?;
    let opts = service::ImportOptions {
        kind,
        mode,
        dry_run: p.dry_run.unwrap_or(false),
        stop_on_error: p.stop_on_error.unwrap_or(false),
        template: p.template.filter(|t| !t.is_empty()),
        source: p.source.unwrap_or_else(|| "upload".into()),
    };
    let job = s.service.spawn_import(&a, opts, body).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 1000 (default 50).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<i64>,
}

/// Import jobs, the newest first.
#[utoipa::path(get, path = "/api/v1/imports", tag = "imports", params(PageParams), responses((status = 200, body = Page<ImportJob>)))]
async fn list_imports(
    State(s): State<AppState>,
    _a: Admin,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<ImportJob>>> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit is 1 to 1000",
            Some("limit".into()),
        ));
    }
    let offset = p.offset.unwrap_or(0).max(0);
    Ok(Json(s.service.import_jobs(limit, offset).await?))
}

/// One import job: its state and how many rows it has committed (ok, failed) so far.
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, body = ImportJob), (status = 404, body = ErrorBody)))]
async fn get_import(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<i64>,
) -> ApiResult<Json<ImportJob>> {
    Ok(Json(s.service.import_job(id).await?))
}

/// Runs for real, as a new job (202), the file dry-run job `id` checked, with its kind, mode and
/// template: the file is kept with the dry run's job for one run (of the latest 10 dry runs).
#[utoipa::path(post, path = "/api/v1/imports/{id}/run", tag = "imports", params(("id" = i64, Path)),
    responses((status = 202, body = ImportJob), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn run_import(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let job = s.service.run_checked(&a, id).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// A failed row of an import: its line in the file, the column, and why.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RowErrorBody {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

/// The failed rows of an import job so far, in file order.
#[utoipa::path(get, path = "/api/v1/imports/{id}/errors", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<RowErrorBody>), (status = 404, body = ErrorBody)))]
async fn import_errors(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<RowErrorBody>>> {
    Ok(Json(
        s.service
            .import_errors(id)
            .await?
            .into_iter()
            .map(|e| RowErrorBody {
                line: e.line,
                column: e.column,
                reason: e.reason,
            })
            .collect(),
    ))
}

/// The failed rows of an import job as a CSV file (`LINE,COLUMN,REASON`), to download.
#[utoipa::path(get, path = "/api/v1/imports/{id}/errors.csv", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ErrorBody)))]
async fn import_errors_csv(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let errors = s.service.import_errors(id).await?;
    Ok(csv_download(
        &format!("import-{id}-errors.csv"),
        bulk::write_errors(&errors),
    ))
}

/// Every record of a kind as a CSV file, in the columns the import takes.
#[utoipa::path(get, path = "/api/v1/exports/{kind}", tag = "imports",
    params(("kind" = String, Path, description = "users, phones, device-profiles, lines, voicemail-subscribers or app-profiles")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody)))]
async fn export_csv(
    State(s): State<AppState>,
    _a: Admin,
    Path(kind): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let kind = bulk_kind(&kind)?;
    let records = s.service.export(kind).await?;
    let mut out = Vec::new();
    bulk::write(kind, &records, &mut out).map_err(|e| service::Error::Internal(e.to_string()))?;
    Ok(csv_download(&format!("{}.csv", kind.name()), out))
}

fn csv_download(name: &str, body: Vec<u8>) -> impl IntoResponse {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
}

/// The OpenAPI document of the API, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut api) = api_router().split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_string();
    api
}

pub(crate) fn routes() -> Router<AppState> {
    let (router, mut api) = api_router().split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_string();
    let doc = api
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    doc.clone(),
                )
            }),
        )
        .fallback(no_endpoint)
        .method_not_allowed_fallback(wrong_method)
}

/// A path the API does not have: said in JSON like every other error, not an empty 404.
async fn no_endpoint(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    let mut e = ApiError::bad_request(
        format!(
            "there is no endpoint {method} {}: the endpoints are listed in /api/v1/openapi.json \
             (scopes and filters go in the query, e.g. /api/v1/parameters/model?target=8861)",
            uri.path()
        ),
        None,
    );
    e.status = axum::http::StatusCode::NOT_FOUND;
    e.detail.code = "not_found";
    e
}

async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    let mut e = ApiError::bad_request(
        format!(
            "{} does not take {method}: /api/v1/openapi.json lists the methods it takes",
            uri.path()
        ),
        None,
    );
    e.status = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    e
}
