//! CSV imports (background jobs) and exports.

use super::*;

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

pub(super) fn bulk_kind(kind: &str) -> ApiResult<bulk::Kind> {
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
    responses((status = 202, body = ImportJob), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn start_import(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(p): Query<ImportParams>,
    body: axum::body::Body,
) -> ApiResult<impl IntoResponse> {
    let kind = bulk_kind(&p.kind)?;
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
    // Refused before a byte of the file is read; then the file goes to disk as it arrives.
    s.service.may_import(&a, &opts).await?;
    let file =
        service::Spooled::write(crate::body_reader(body.into_data_stream()), &opts.source).await?;
    let job = s.service.spawn_import(&a, opts, file).await?;
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
pub(super) async fn list_imports(
    State(s): State<AppState>,
    _a: Admin,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<ImportJob>>> {
    let (limit, offset) = super::page_of(p.limit, p.offset)?;
    Ok(Json(s.service.import_jobs(limit, offset).await?))
}

/// One import job: its state and how many rows it has committed (ok, failed) so far.
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, body = ImportJob), (status = 404, body = ErrorBody)))]
pub(super) async fn get_import(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<i64>,
) -> ApiResult<Json<ImportJob>> {
    Ok(Json(s.service.import_job(id).await?))
}

/// Runs for real, as a new job (202), the file dry-run job `id` checked, with its kind, mode and
/// template: the file is kept with the dry run's job for one run (of the latest 10 dry runs,
/// within `[import] keep_dry_runs_mb`). Only the administrator who ran the dry run (or one
/// whose roles allow everything) may run it.
#[utoipa::path(post, path = "/api/v1/imports/{id}/run", tag = "imports", params(("id" = i64, Path)),
    responses((status = 202, body = ImportJob), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn run_import(
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
pub(super) async fn import_errors(
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
pub(super) async fn import_errors_csv(
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
pub(super) async fn export_csv(
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

pub(super) fn csv_download(name: &str, body: Vec<u8>) -> impl IntoResponse {
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
