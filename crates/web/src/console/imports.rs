//! CSV imports as jobs with their progress and failed rows, and exports.

use super::*;

pub(super) async fn new_import(c: Console) -> Response {
    let kinds: Vec<&str> = bulk::Kind::ALL.iter().map(|k| k.name()).collect();
    render("import.html", c.page("jobs", "Import", context! { kinds }))
}

pub(super) async fn start_import(
    State(s): State<AppState>,
    c: Console,
    mut form: Multipart,
) -> Response {
    let again = |status: StatusCode, error: String| {
        let kinds: Vec<&str> = bulk::Kind::ALL.iter().map(|k| k.name()).collect();
        (
            status,
            render(
                "import.html",
                c.page("jobs", "Import", context! { kinds, error }),
            ),
        )
            .into_response()
    };
    // The form's fields come before its file (import.html): the CSRF token is checked before
    // the file is read, and the file goes to disk as it arrives.
    let mut fields = BTreeMap::new();
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return again(
                    StatusCode::BAD_REQUEST,
                    format!("the upload broke off: {e}"),
                )
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if name != "file" {
            fields.insert(name, field.text().await.unwrap_or_default());
            continue;
        }
        if let Some(r) = c.forged(fields.get("csrf").map(String::as_str).unwrap_or("")) {
            return r;
        }
        let source = match field.file_name().unwrap_or("") {
            "" => "upload.csv".to_string(),
            n => n.to_string(),
        };
        match service::Spooled::write(crate::body_reader(field), &source).await {
            Ok(f) => file = Some((source, f)),
            Err(e) => {
                let status = match e {
                    service::Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                return again(status, e.to_string());
            }
        }
    }
    if let Some(r) = c.forged(fields.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let bad = |e: &str| again(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
    let Some((source, body)) = file.filter(|(_, f)| !f.is_empty()) else {
        return bad("choose a CSV file");
    };
    let Some(kind) = fields.get("kind").and_then(|k| bulk::Kind::parse(k)) else {
        return bad("choose the kind of records");
    };
    let Some(mode) =
        service::ImportMode::parse(fields.get("mode").map(String::as_str).unwrap_or("add"))
    else {
        return bad("the mode is add, modify or delete");
    };
    let opts = service::ImportOptions {
        kind,
        mode,
        dry_run: fields.get("dry_run").is_some_and(|v| v == "true"),
        stop_on_error: false,
        template: fields
            .get("template")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
        source,
    };
    match s.service.spawn_import(c.actor(), opts, body).await {
        Ok(j) => Redirect::to(&format!("/jobs/{}", j.id)).into_response(),
        Err(e @ service::Error::Forbidden(_)) => again(StatusCode::FORBIDDEN, e.to_string()),
        Err(e) => bad(&e.to_string()),
    }
}

pub(super) async fn jobs(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &[]);
    let listed = s.service.import_jobs(f.limit, f.offset).await.map(|p| Listed {
        headers: &["Job", "Kind", "Mode", "File", "State", "Rows", "Ok", "Failed", "By", "Started"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|j| {
                context! {
                    href => format!("/jobs/{}", j.id),
                    conflict => (j.failed > 0).then(|| format!("{} failed", model::counted(j.failed, "row", "rows"))),
                    cells => vec![
                        j.id.to_string(), j.kind, format!("{}{}", j.mode, if j.dry_run { " (dry run)" } else { "" }), j.source,
                        j.state.as_str().to_string(), j.rows_done.to_string(), j.ok.to_string(), j.failed.to_string(), j.actor, j.created_at,
                    ],
                }
            })
            .collect(),
    });
    list_page(
        &c,
        Words {
            here: "jobs",
            title: "Imports",
            noun: "import jobs",
            placeholder: "",
            action: Some(("/imports/new", "Import a CSV file")),
            filters: Vec::new(),
            delete_found: None,
            extra: None,
        },
        &q,
        &f,
        listed,
    )
}

pub(super) async fn job(State(s): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
    let job = match s.service.import_job(id).await {
        Ok(j) => j,
        Err(e) => return c.failed(e),
    };
    let errors = match s.service.import_errors(id).await {
        Ok(e) => e,
        Err(e) => return c.failed(e),
    };
    let runnable = job.dry_run
        && job.state != JobState::Running
        && s.service.checked_file_kept(id).await.unwrap_or(false);
    let percent = match job.rows_total {
        Some(t) if t > 0 => (job.rows_done * 100 / t).min(100),
        _ if job.state == JobState::Running => 0,
        _ => 100,
    };
    render(
        "job.html",
        c.page(
            "jobs",
            &format!("Import job {id}"),
            context! { job, errors, percent, runnable },
        ),
    )
}

/// Runs for real the file a dry run checked, and shows the new job.
pub(super) async fn run_job(
    State(s): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    match s.service.run_checked(c.actor(), id).await {
        Ok(j) => Redirect::to(&format!("/jobs/{}", j.id)).into_response(),
        Err(e) => c.failed(e),
    }
}

/// Every record of a kind as a CSV file (`/exports/phones.csv`), in the columns the import
/// takes.
pub(super) async fn export(
    State(s): State<AppState>,
    c: Console,
    Path(file): Path<String>,
) -> Response {
    let Some(kind) = file.strip_suffix(".csv").and_then(bulk::Kind::parse) else {
        return c.error(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("there is no export {file}"),
        );
    };
    let records = match s.service.export(kind).await {
        Ok(r) => r,
        Err(e) => return c.failed(e),
    };
    let mut out = Vec::new();
    if let Err(e) = bulk::write(kind, &records, &mut out) {
        return c.failed(service::Error::Internal(e.to_string()));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        out,
    )
        .into_response()
}

pub(super) async fn job_errors_csv(
    State(s): State<AppState>,
    c: Console,
    Path(id): Path<i64>,
) -> Response {
    match s.service.import_errors(id).await {
        Ok(errors) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"import-{id}-errors.csv\""),
                ),
            ],
            bulk::write_errors(&errors),
        )
            .into_response(),
        Err(e) => c.failed(e),
    }
}
