//! The device type catalogue.

use super::*;

/// The device type catalogue; `q` is a prefix of the model. Filter: `family`.
#[utoipa::path(get, path = "/api/v1/device-types", tag = "device types", params(ListParams), responses((status = 200, body = Page<DeviceType>)))]
pub(super) async fn list_device_types(
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
pub(super) async fn get_device_type(
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
