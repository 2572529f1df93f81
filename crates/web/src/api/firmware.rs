//! Firmware loads (docs/firmware.md): the files of the firmware folder, the load chosen per
//! model (system, device pool or phone), and the phones not on their load.

use super::*;
use model::firmware::{Firmware, FirmwareFile, LoadChoice, LoadScope, PhoneOffLoad};

/// The firmware folder: its files, the loads among them (`.loads` manifests), and the loads
/// chosen.
#[utoipa::path(get, path = "/api/v1/firmware", tag = "firmware",
    responses((status = 200, body = Firmware)))]
pub(super) async fn get_firmware(
    State(s): State<AppState>,
    _a: Admin,
) -> ApiResult<Json<Firmware>> {
    Ok(Json(s.service.firmware().await?))
}

/// Puts a file into the firmware folder (the body, streamed to disk; at most 2 GiB), replacing
/// one of the same name. Phones read it over HTTP and TFTP by its name once the upload is
/// complete, never before.
#[utoipa::path(put, path = "/api/v1/firmware/files/{name}", tag = "firmware",
    params(("name" = String, Path, description = "the file's name: letters, digits, `.`, `-`, `_`")),
    request_body(content = String, content_type = "application/octet-stream"),
    responses((status = 200, body = FirmwareFile), (status = 422, body = ErrorBody)))]
pub(super) async fn upload_firmware(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
    body: axum::body::Body,
) -> ApiResult<Json<FirmwareFile>> {
    let reader = crate::body_reader(body.into_data_stream());
    Ok(Json(s.service.upload_firmware(&a, &name, reader).await?))
}

/// Deletes a file of the firmware folder; the manifest of a load still chosen is refused.
#[utoipa::path(delete, path = "/api/v1/firmware/files/{name}", tag = "firmware",
    params(("name" = String, Path, description = "the file's name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_firmware(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_firmware(&a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Chooses the load of a model: on a system (`scope: system`), in a device pool, or on one
/// phone; the narrowest applies. The load must be in the firmware folder. The phones it
/// reaches get new files and a resync.
#[utoipa::path(put, path = "/api/v1/firmware/loads", tag = "firmware", request_body = LoadChoice,
    responses((status = 200, body = LoadChoice), (status = 422, body = ErrorBody)))]
pub(super) async fn choose_load(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(c): Body<LoadChoice>,
) -> ApiResult<Json<LoadChoice>> {
    Ok(Json(s.service.choose_load(&a, &c).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoadKey {
    /// The call-control system (default: the first).
    #[serde(default)]
    system: String,
    model: String,
    scope: LoadScope,
    /// The device pool or the phone; empty for the system.
    #[serde(default)]
    target: String,
}

/// Removes a choice of load: its phones fall back to the wider choice, or keep what they run.
#[utoipa::path(delete, path = "/api/v1/firmware/loads", tag = "firmware", params(LoadKey),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn unchoose_load(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(k): Query<LoadKey>,
) -> ApiResult<StatusCode> {
    let c = LoadChoice {
        system: k.system,
        model: k.model,
        scope: k.scope,
        target: k.target,
        load: String::new(),
    };
    s.service.unchoose_load(&a, &c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The phones not on the load chosen for them: what they last reported (syslog `$SWVER`, or
/// the load's manifest fetched from their address), or nothing when they never said.
#[utoipa::path(get, path = "/api/v1/firmware/phones-off-load", tag = "firmware",
    responses((status = 200, body = Vec<PhoneOffLoad>)))]
pub(super) async fn phones_off_load(
    State(s): State<AppState>,
    _a: Admin,
) -> ApiResult<Json<Vec<PhoneOffLoad>>> {
    Ok(Json(s.service.phones_off_load().await?))
}
