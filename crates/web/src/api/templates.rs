//! User, phone and device-profile templates, and applying them.

use super::*;

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
pub(super) async fn list_templates(
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
pub(super) async fn create_template(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewTemplate>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_template(&a, b).await?))
}

pub(super) fn template_kind(kind: &str) -> ApiResult<TemplateKind> {
    Ok(TemplateKind::parse(kind).map_err(service::Error::from)?)
}

#[utoipa::path(get, path = "/api/v1/templates/{kind}/{name}", tag = "templates",
    params(("kind" = String, Path, description = "user, phone or device_profile"), ("name" = String, Path)),
    responses((status = 200, body = Template), (status = 404, body = ErrorBody)))]
pub(super) async fn get_template(
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
pub(super) async fn update_template(
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
pub(super) async fn delete_template(
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
pub(super) async fn apply_template(
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
pub(super) async fn found_keys(
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
