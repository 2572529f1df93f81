//! What phones fetch, as administrators see it: the files, their preview, the phones' status, their HTTP credentials and resync on demand.

use super::*;

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PhoneFiles {
    pub device: String,
    pub files: Vec<String>,
}

/// The files a phone fetches.
#[utoipa::path(get, path = "/api/v1/phones/{name}/files", tag = "provisioning", params(("name" = String, Path)),
    responses((status = 200, body = PhoneFiles), (status = 404, body = ErrorBody)))]
pub(super) async fn phone_files(
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
    /// Where the phone reached the server, as `http://host[:port]`, `https://host[:port]` or
    /// `tftp://host:port` (a name or another node of the cluster): the file as a phone that
    /// came that way gets it. Given, it decides `via`.
    base: Option<String>,
}

/// A `base` the preview takes: a scheme, then a host and port only.
fn checked_base(b: &str) -> ApiResult<String> {
    let bad = |why: &str| {
        ApiError::bad_request(
            format!("base: `{b}` {why}; write http://host[:port], https://host[:port] or tftp://host:port"),
            Some("base".into()),
        )
    };
    let (scheme, rest) = b.split_once("://").ok_or_else(|| bad("has no scheme"))?;
    if !matches!(scheme, "http" | "https" | "tftp") {
        return Err(bad("is not http, https or tftp"));
    }
    if rest.is_empty()
        || rest.len() > 255
        || !rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return Err(bad("is not a host and port alone"));
    }
    Ok(b.to_string())
}

/// The bytes the phone gets for one of its files. The SIP and HTTP passwords in it are shown
/// only to an administrator whose roles give `read_secrets` on the phone's system (and each such
/// read is audited); to others they are replaced by `********` (the answer says so in
/// `X-Dialtone-Masked: true`).
#[utoipa::path(get, path = "/api/v1/phones/{name}/files/{file}", tag = "provisioning", params(("name" = String, Path), ("file" = String, Path), ViaParams),
    responses((status = 200, description = "the file", content_type = "text/xml"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn phone_file(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path((name, file)): Path<(String, String)>,
    Query(v): Query<ViaParams>,
) -> ApiResult<axum::response::Response> {
    let http = Some(s.phone_base_url.clone()).filter(|u| !u.is_empty());
    let off =
        |what: &str| ApiError::bad_request(format!("via: the {what} is off"), Some("via".into()));
    let base_url = match (v.base.as_deref(), v.via.as_deref()) {
        (Some(b), _) => checked_base(b)?,
        (None, via) => match via {
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
        },
    };
    let phone = s.service.phone(&name).await?;
    crate::auth::readable(&a, "phone", &phone.system)?;
    match s
        .provisioner
        .preview(&name, &file, &base_url)
        .await
        .map_err(provision_error)?
    {
        Some(p) => {
            let clear = a.may(&phone.system, "phone", "read_secrets");
            let bytes = if !p.has_secrets() {
                p.bytes.clone()
            } else if clear {
                s.service
                    .note_secrets_read(&a, &phone.name, &phone.system, &file)
                    .await?;
                p.bytes.clone()
            } else {
                p.masked()
            };
            let masked = if p.has_secrets() && !clear {
                "true"
            } else {
                "false"
            };
            Ok((
                [
                    (axum::http::header::CONTENT_TYPE, p.content_type),
                    (
                        axum::http::header::HeaderName::from_static("x-dialtone-masked"),
                        masked,
                    ),
                ],
                bytes,
            )
                .into_response())
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
pub(super) async fn resync(
    State(s): State<AppState>,
    Admin(a): Admin,
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
                retry_after: None,
            },
        });
    };
    let phones = s.service.select_phones(&a, &b).await?;
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
/// resync); `q` is a prefix of the device name. Failing phones come first, then those never
/// seen, then the rest, each by name.
#[utoipa::path(get, path = "/api/v1/status", tag = "provisioning",
    params(("state" = Option<String>, Query), ("q" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Page<DeviceStatus>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn list_status(
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
    s.flush_seen().await;
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
pub(super) async fn set_http_credential(
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
pub(super) async fn remove_http_credential(
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

/// Sets the phone's own key for its encrypted MPP profile (over its system's key; system setting
/// `profile_encryption`). It goes, sealed, into the store and, in clear, into the phone's own
/// profile rule (`[--key …]`); it is never returned.
#[utoipa::path(put, path = "/api/v1/phones/{name}/profile-key", tag = "provisioning", params(("name" = String, Path)),
    request_body = ProfileKeyInput,
    responses((status = 200, body = Phone), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn set_phone_profile_key(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<ProfileKeyInput>,
) -> ApiResult<Json<Phone>> {
    Ok(Json(s.service.set_phone_profile_key(&a, &name, b).await?))
}

/// Removes the phone's own profile key (its system's key serves, if it has one).
#[utoipa::path(delete, path = "/api/v1/phones/{name}/profile-key", tag = "provisioning", params(("name" = String, Path), VersionParam),
    responses((status = 200, body = Phone), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn remove_phone_profile_key(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Query(q): Query<VersionParam>,
) -> ApiResult<Json<Phone>> {
    Ok(Json(
        s.service
            .remove_phone_profile_key(&a, &name, q.version)
            .await?,
    ))
}

/// Sets the key the system's MPP phones decrypt their profiles with (system setting
/// `profile_encryption`); a phone's own key wins over it. Never returned.
#[utoipa::path(put, path = "/api/v1/systems/{name}/profile-key", tag = "systems", params(("name" = String, Path)),
    request_body = ProfileKeyInput,
    responses((status = 200, body = System), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn set_system_profile_key(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Body(b): Body<ProfileKeyInput>,
) -> ApiResult<Json<System>> {
    Ok(Json(s.service.set_system_profile_key(&a, &name, b).await?))
}

/// Removes the system's profile key.
#[utoipa::path(delete, path = "/api/v1/systems/{name}/profile-key", tag = "systems", params(("name" = String, Path), VersionParam),
    responses((status = 200, body = System), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn remove_system_profile_key(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    Query(q): Query<VersionParam>,
) -> ApiResult<Json<System>> {
    Ok(Json(
        s.service
            .remove_system_profile_key(&a, &name, q.version)
            .await?,
    ))
}

/// What the phone last fetched, from which address, with which user agent.
#[utoipa::path(get, path = "/api/v1/phones/{name}/status", tag = "provisioning", params(("name" = String, Path)),
    responses((status = 200, body = DeviceStatus), (status = 404, body = ErrorBody)))]
pub(super) async fn phone_status(
    State(s): State<AppState>,
    _a: Admin,
    Path(name): Path<String>,
) -> ApiResult<Json<DeviceStatus>> {
    s.flush_seen().await;
    Ok(Json(s.service.phone_status(&name).await?))
}

pub(super) fn provision_error(e: provision::Error) -> ApiError {
    match e {
        provision::Error::Service(e) => e.into(),
        other => service::Error::Internal(other.to_string()).into(),
    }
}
