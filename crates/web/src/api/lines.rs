//! Lines (directory numbers).

use super::*;

/// Finds lines. `q` is a prefix of the pattern. Filters: `partition`, `pattern`, `shared=true`.
/// Sorts: `pattern`, `partition`, `description`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/lines", tag = "lines", params(ListParams), responses((status = 200, body = Page<Line>)))]
pub(super) async fn list_lines(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<Line>>> {
    let f = crate::auth::within(
        &a,
        "line",
        find(
            &q,
            &["partition", "pattern", "shared"],
            &["pattern", "partition", "description", "updated_at"],
        )?,
    );
    Ok(Json(s.service.find_lines(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/lines", tag = "lines", request_body = NewLine,
    responses((status = 201, body = Line), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_line(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewLine>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_line(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/lines/{key}", tag = "lines", params(("key" = String, Path, description = "pattern or id"), KeyParams),
    responses((status = 200, body = Line), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn get_line(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<Line>> {
    let r = s
        .service
        .line(&key, k.partition.as_deref(), k.system.as_deref())
        .await?;
    crate::auth::readable(&a, "line", &r.system)?;
    Ok(Json(r))
}

#[utoipa::path(patch, path = "/api/v1/lines/{key}", tag = "lines", params(("key" = String, Path, description = "pattern or id"), KeyParams),
    request_body = LinePatch, responses((status = 200, body = Line), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_line(
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
pub(super) async fn delete_line(
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
pub(super) async fn delete_lines(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_lines(&a, &b).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallOutcomeParams {
    /// `internal` (default) or `external`: which of the line's forwards apply.
    caller: Option<String>,
    /// The product system, when the pattern exists on several.
    system: Option<String>,
    /// The partition, when the pattern exists in several.
    partition: Option<String>,
}

/// What happens to a call on the line, by the DND modes of the phones it appears on, its
/// shared appearances and its forwards (seed 003, Table 2-2): who is alerted and how, where the
/// call is forwarded, and what happens when nobody answers.
#[utoipa::path(get, path = "/api/v1/lines/{key}/call-outcome", tag = "lines", params(("key" = String, Path, description = "pattern or id"), CallOutcomeParams),
    responses((status = 200, body = model::dnd::CallOutcome), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn call_outcome(
    State(s): State<AppState>,
    _a: Admin,
    Path(key): Path<String>,
    Query(p): Query<CallOutcomeParams>,
) -> ApiResult<Json<model::dnd::CallOutcome>> {
    Ok(Json(
        s.service
            .call_outcome(
                &key,
                p.partition.as_deref(),
                p.system.as_deref(),
                p.caller.as_deref().unwrap_or(""),
            )
            .await?,
    ))
}
