//! Licence units (docs/licensing.md): licence files, the unit report, the calculator, the
//! status summary and capabilities given in bulk.

use super::*;
use model::licensing::{
    Calculation, CapabilitiesAssignment, Licence, LicenceReport, LicensedUser, UsedBy,
};

/// The licence unit report: per kind of unit (device, presence user, soft client) the units
/// authorised by the licences that have not expired, used (counted from the directory) and
/// remaining; the licences; and what uses the units.
#[utoipa::path(get, path = "/api/v1/licensing", tag = "licensing",
    responses((status = 200, body = LicenceReport)))]
pub(super) async fn licence_report(
    State(s): State<AppState>,
    _a: Admin,
) -> ApiResult<Json<LicenceReport>> {
    Ok(Json(s.service.licence_report().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LicenceUpload {
    /// The file's name: it must end in `.lic`.
    file_name: String,
}

/// Uploads a licence file (the body, as the seller sent it). Its name must end in `.lic`, its
/// signature must be made by the key whose public half this server is configured with, and a
/// licence is uploaded once.
#[utoipa::path(post, path = "/api/v1/licensing/licences", tag = "licensing", params(LicenceUpload),
    request_body(content = String, content_type = "application/octet-stream"),
    responses((status = 201, body = Licence), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn upload_licence(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(p): Query<LicenceUpload>,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    let l = s.service.upload_licence(&a, &p.file_name, &body).await?;
    Ok((StatusCode::CREATED, Json(l)))
}

/// Removes a licence, unless what is used would then exceed what the others authorise.
#[utoipa::path(delete, path = "/api/v1/licensing/licences/{id}", tag = "licensing",
    params(("id" = String, Path, description = "the licence's id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_licence(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.delete_licence(&a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The licence unit calculator: the units that many phones, soft phones (on their own or
/// adjunct to a primary phone) and capabilities need, and what would remain.
#[utoipa::path(post, path = "/api/v1/licensing/calculator", tag = "licensing", request_body = UsedBy,
    responses((status = 200, body = Calculation), (status = 422, body = ErrorBody)))]
pub(super) async fn calculate_units(
    State(s): State<AppState>,
    _a: Admin,
    Body(b): Body<UsedBy>,
) -> ApiResult<Json<Calculation>> {
    Ok(Json(s.service.calculate_units(&b).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 1000 (default 50).
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The licensing status summary: users with a capability, by user ID, each with primary
/// extension, the number of devices associated with them and of their contacts.
#[utoipa::path(get, path = "/api/v1/licensing/users", tag = "licensing", params(PageParams),
    responses((status = 200, body = Page<LicensedUser>)))]
pub(super) async fn licensed_users(
    State(s): State<AppState>,
    _a: Admin,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<LicensedUser>>> {
    let (limit, offset) = super::page_of(p.limit, p.offset)?;
    Ok(Json(s.service.licensed_users(limit, offset).await?))
}

/// Gives (or takes away) Enable CUP and Enable CUPC for many users: each succeeds or fails on
/// its own, and a user the licences leave no units for fails with the numbers.
#[utoipa::path(post, path = "/api/v1/licensing/capabilities", tag = "licensing", request_body = CapabilitiesAssignment,
    responses((status = 200, body = BatchResult), (status = 422, body = ErrorBody)))]
pub(super) async fn assign_capabilities(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<CapabilitiesAssignment>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.assign_capabilities(&a, &b).await?))
}
