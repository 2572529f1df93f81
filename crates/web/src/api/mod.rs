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
    /// `exact` counts every match. By default a list counts matches up to 1,000 and past that
    /// answers `"total": 1000, "total_exact": false` (a broad prefix among a million users
    /// answers in milliseconds).
    count: Option<String>,
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
        count_up_to: Some(model::Find::LIST_COUNT),
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
            "count" => {
                f.count_up_to = match v.as_str() {
                    "exact" => None,
                    "capped" => Some(model::Find::LIST_COUNT),
                    _ => return Err(ApiError::bad_request("count is `exact` or `capped`", Some("count".into()))),
                }
            }
            k if filters.contains(&k) => f.filters.push((k.to_string(), v.clone())),
            other => {
                return Err(ApiError::bad_request(
                    format!(
                        "`{other}` is not a parameter here; use q, system, sort, order, limit, offset, count{}{}",
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
        total_exact: true,
        limit: f.limit,
        offset: f.offset,
    }
}

fn created<T: serde::Serialize>(v: T) -> impl IntoResponse {
    (StatusCode::CREATED, Json(v))
}

mod access;
mod cluster;
mod device_profiles;
mod device_types;
mod directory;
mod firmware;
mod imports;
mod licensing;
mod lines;
mod parameters;
mod phone_files;
mod phone_services;
mod phones;
mod self_provisioning;
mod soft_clients;
mod systems;
mod templates;
mod users;
mod voicemail;
use access::*;
use cluster::*;
use device_profiles::*;
use device_types::*;
use directory::*;
use firmware::*;
use imports::*;
use licensing::*;
use lines::*;
use parameters::*;
use phone_files::*;
use phone_services::*;
use phones::*;
use self_provisioning::*;
use soft_clients::*;
use systems::*;
use templates::*;
use users::*;
use voicemail::*;

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
        .routes(routes!(metrics))
        .routes(routes!(whoami))
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(list_admins, create_admin))
        .routes(routes!(update_admin, delete_admin))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
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
        .routes(routes!(list_rts, create_rt))
        .routes(routes!(get_rt, update_rt, delete_rt))
        .routes(routes!(list_sts, create_st))
        .routes(routes!(get_st, update_st, delete_st))
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
        .routes(routes!(set_phone_profile_key, remove_phone_profile_key))
        .routes(routes!(set_system_profile_key, remove_system_profile_key))
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
        .routes(routes!(list_device_templates, create_device_template))
        .routes(routes!(
            get_device_template,
            update_device_template,
            delete_device_template
        ))
        .routes(routes!(list_line_templates, create_line_template))
        .routes(routes!(
            get_line_template,
            update_line_template,
            delete_line_template
        ))
        .routes(routes!(list_user_profiles, create_user_profile))
        .routes(routes!(create_claim))
        .routes(routes!(list_ldap_servers, create_ldap_server))
        .routes(routes!(
            get_ldap_server,
            update_ldap_server,
            delete_ldap_server
        ))
        .routes(routes!(list_ldap_profiles, create_ldap_profile))
        .routes(routes!(
            get_ldap_profile,
            update_ldap_profile,
            delete_ldap_profile
        ))
        .routes(routes!(sync_ldap_profile))
        .routes(routes!(rehome))
        .routes(routes!(list_subclusters, create_subcluster))
        .routes(routes!(
            get_subcluster,
            update_subcluster,
            delete_subcluster
        ))
        .routes(routes!(list_proxy_profiles, create_proxy_profile))
        .routes(routes!(
            get_proxy_profile,
            update_proxy_profile,
            delete_proxy_profile
        ))
        .routes(routes!(cti_from_systems))
        .routes(routes!(list_cti_servers, create_cti_server))
        .routes(routes!(
            get_cti_server,
            update_cti_server,
            delete_cti_server
        ))
        .routes(routes!(list_cti_profiles, create_cti_profile))
        .routes(routes!(
            get_cti_profile,
            update_cti_profile,
            delete_cti_profile
        ))
        .routes(routes!(get_soft_client_settings, put_soft_client_settings))
        .routes(routes!(test_dial_rules))
        .routes(routes!(set_user_dnd))
        .routes(routes!(list_people, add_person))
        .routes(routes!(user_logins))
        .routes(routes!(login_state, login))
        .routes(routes!(logout))
        .routes(routes!(list_logins))
        .routes(routes!(call_outcome))
        .routes(routes!(get_firmware))
        .routes(routes!(upload_firmware, delete_firmware))
        .routes(routes!(choose_load, unchoose_load))
        .routes(routes!(phones_off_load))
        .routes(routes!(get_cluster))
        .routes(routes!(forget_node))
        .routes(routes!(licence_report))
        .routes(routes!(upload_licence))
        .routes(routes!(delete_licence))
        .routes(routes!(calculate_units))
        .routes(routes!(licensed_users))
        .routes(routes!(assign_capabilities))
        .routes(routes!(list_dial_rules, create_dial_rule))
        .routes(routes!(get_dial_rule, update_dial_rule, delete_dial_rule))
        .routes(routes!(get_attribute_map, put_attribute_map))
        .routes(routes!(restore_attribute_map))
        .routes(routes!(auto_registration_status))
        .routes(routes!(
            get_user_profile,
            update_user_profile,
            delete_user_profile
        ))
}

/// A page's `limit` (1 to 1000, 50 when not given) and `offset` (0 or more), or 400.
pub(crate) fn page_of(limit: Option<i64>, offset: Option<i64>) -> ApiResult<(i64, i64)> {
    let limit = limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit is 1 to 1000",
            Some("limit".into()),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad_request(
            "offset is 0 or more",
            Some("offset".into()),
        ));
    }
    Ok((limit, offset))
}

/// The OpenAPI document of the API, as served at `/api/v1/openapi.json`.
pub fn openapi() -> String {
    document(api_router().split_for_parts().1)
}

/// `api` with what every operation shares written out (see [`complete`]), as JSON.
fn document(mut api: utoipa::openapi::OpenApi) -> String {
    api.info.version = env!("CARGO_PKG_VERSION").to_string();
    let mut doc = serde_json::to_value(&api).expect("the OpenAPI document serialises");
    complete(&mut doc);
    serde_json::to_string_pretty(&doc).expect("the OpenAPI document serialises")
}

/// Writes into every operation what the API answers for all of them, so that a client
/// generated from the document (or a checker like schemathesis) knows every answer: 400 for a
/// body or query the endpoint does not take, 401 without credentials, 429 while a log-in
/// waits, 403 when a change is not one's roles', 404 for a path naming nothing; `limit` is 1
/// to 1000 and `offset` at least 0; a patch's `version` is required (a change without the
/// version read first is refused).
fn complete(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let error = |what: &str| {
        json!({
            "description": what,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        })
    };
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, ops) in paths.iter_mut() {
            let Some(ops) = ops.as_object_mut() else {
                continue;
            };
            for (method, op) in ops.iter_mut() {
                let public = op.get("security").is_some_and(|s| {
                    s.as_array().is_some_and(|a| {
                        a.iter()
                            .all(|x| x.as_object().is_some_and(|o| o.is_empty()))
                    })
                });
                let takes = op.get("parameters").is_some() || op.get("requestBody").is_some();
                let responses = op["responses"].as_object_mut().expect("responses");
                let mut add = |status: &str, what: &str| {
                    responses.entry(status).or_insert_with(|| error(what));
                };
                if takes {
                    add("400", "the query or the body is not what the endpoint takes (malformed JSON, an unknown field, a wrong type, a parameter out of range)");
                }
                if !public {
                    add("401", "no credentials, or wrong ones");
                    add("429", "too many failed log-ins from this address or to this account: wait `Retry-After` seconds");
                    if method != "get" {
                        add("403", "none of the administrator's roles allows it");
                    }
                }
                if path.contains('{') {
                    add("404", "the path names no record");
                }
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    for p in params {
                        let range = match p["name"].as_str() {
                            Some("limit") if p["in"] == "query" => {
                                json!({"minimum": 1, "maximum": 1000})
                            }
                            Some("offset") if p["in"] == "query" => json!({"minimum": 0}),
                            _ => continue,
                        };
                        if let (Some(schema), Some(range)) =
                            (p["schema"].as_object_mut(), range.as_object())
                        {
                            schema.extend(range.clone());
                        }
                    }
                }
            }
        }
    }
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for (name, schema) in schemas.iter_mut() {
            let patch = name.ends_with("Patch") || name == "HttpCredentialInput";
            if !patch || schema["properties"].get("version").is_none() {
                continue;
            }
            if let Some(v) = schema["properties"]["version"].as_object_mut() {
                v.remove("default");
                v.insert("minimum".into(), json!(1));
            }
            let required = schema
                .as_object_mut()
                .expect("a schema")
                .entry("required")
                .or_insert_with(|| json!([]));
            if let Some(r) = required.as_array_mut() {
                if !r.iter().any(|x| x == "version") {
                    r.insert(0, json!("version"));
                }
            }
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    let (router, api) = api_router().split_for_parts();
    let doc = document(api);
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
