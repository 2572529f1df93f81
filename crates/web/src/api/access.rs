//! Health, the caller's identity, API tokens, administrators, roles and the audit log.

use super::*;

/// Liveness and database check; no authentication.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, description = "ok"), (status = 503, body = ErrorBody)))]
pub(super) async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    match s.service.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

/// What this node counts, in the Prometheus text format (version 0.0.4): phone requests by
/// protocol and outcome, render cache lookups, render time, NOTIFYs by outcome, syslog
/// datagrams, import rows, the database pool. Any administrator (a token works as a bearer,
/// for a Prometheus scrape job); docs/operations.md.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"), (status = 401, body = ErrorBody)))]
pub(super) async fn metrics(
    State(s): State<AppState>,
    _a: Admin,
) -> ApiResult<axum::response::Response> {
    let m = s.provisioner.metrics();
    let (files, bytes) = s.provisioner.cached();
    m.set_cached(files as u64, bytes);
    let c = s.reports.counts();
    let scrape = provision::metrics::Scrape {
        import_rows: s.service.imported_rows(),
        pool: s.service.pool_stats(),
        syslog: vec![
            ("resync_report", c.events),
            ("other", c.other),
            ("malformed", c.malformed),
            ("unknown_device", c.unknown_device),
            ("dropped", c.dropped),
        ],
    };
    let text = m
        .encode(&scrape)
        .map_err(|e| service::Error::Internal(format!("writing the metrics: {e}")))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            provision::metrics::CONTENT_TYPE,
        )],
        text,
    )
        .into_response())
}

/// The administrator the credentials belong to.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "admin", responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub(super) async fn whoami(Admin(a): Admin) -> Json<WhoAmI> {
    Json(WhoAmI {
        privileges: a.privileges().map(<[Privilege]>::to_vec),
        username: a.name,
    })
}

/// Roles: the built-in `superadmin` and `Full Provisioning`, and those made here.
#[utoipa::path(get, path = "/api/v1/roles", tag = "admin", responses((status = 200, body = Vec<Role>)))]
pub(super) async fn list_roles(State(s): State<AppState>, _a: Admin) -> ApiResult<Json<Vec<Role>>> {
    Ok(Json(s.service.roles().await?))
}

/// Adds a role: privileges (product system, resource, action), `*` standing for any.
#[utoipa::path(post, path = "/api/v1/roles", tag = "admin", request_body = NewRole,
    responses((status = 201, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_role(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewRole>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_role(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/roles/{name}", tag = "admin", params(("name" = String, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody)))]
pub(super) async fn get_role(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<Role>> {
    Ok(Json(s.service.role(&name).await?))
}

#[utoipa::path(patch, path = "/api/v1/roles/{name}", tag = "admin", params(("name" = String, Path)), request_body = RolePatch,
    responses((status = 200, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_role(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<RolePatch>,
) -> ApiResult<Json<Role>> {
    Ok(Json(s.service.update_role(&a, &name, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "admin", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn delete_role(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_role(&a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/admins", tag = "admin", responses((status = 200, body = Vec<Administrator>)))]
pub(super) async fn list_admins(
    State(s): State<AppState>,
    _a: Admin,
) -> ApiResult<Json<Vec<Administrator>>> {
    Ok(Json(s.service.administrators().await?))
}

/// Adds an administrator with roles.
#[utoipa::path(post, path = "/api/v1/admins", tag = "admin", request_body = NewAdministrator,
    responses((status = 201, body = Administrator), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_admin(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewAdministrator>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_administrator(&a, b).await?))
}

/// Sets an administrator's password or roles.
#[utoipa::path(patch, path = "/api/v1/admins/{username}", tag = "admin", params(("username" = String, Path)), request_body = AdministratorPatch,
    responses((status = 200, body = Administrator), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_admin(
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
pub(super) async fn delete_admin(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_administrator(&a, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an API token for the calling administrator (shown once), good for
/// `expires_in_days` (90 when left out, at most 3650). A change of the administrator's password
/// ends their other tokens.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "admin", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_token(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewToken>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(
        s.service
            .create_token(&a, &b.name, b.expires_in_days)
            .await?,
    ))
}

/// The calling administrator's API tokens: id, name, when made and when they expire (never the
/// tokens themselves).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin",
    responses((status = 200, body = Vec<model::TokenInfo>), (status = 401, body = ErrorBody)))]
pub(super) async fn list_tokens(
    State(s): State<AppState>,
    Admin(a): Admin,
) -> ApiResult<Json<Vec<model::TokenInfo>>> {
    Ok(Json(s.service.tokens(&a).await?))
}

/// Revokes one of the calling administrator's tokens: it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn revoke_token(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.service.revoke_token(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log, newest first (`order=asc`: oldest first). Filters: `actor`, `action`,
/// `resource`, `target`, `system`, `result`, `since`, `until`; `q` is a prefix of the target.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(ListParams),
    responses((status = 200, body = Page<AuditEntry>), (status = 401, body = ErrorBody)))]
pub(super) async fn audit(
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
    if !q.contains_key("order") {
        f.descending = true;
    }
    if let Some(sys) = f.system.take() {
        f.filters.push(("system".into(), sys));
    }
    Ok(Json(s.service.audit(&f).await?))
}
