//! The administrators' web console on the admin listener: server-rendered pages (minijinja
//! templates compiled into the binary), htmx for the partial updates, every asset embedded.
//! Plain URLs that the browser's Back and Refresh keep working on: every form that changes
//! something answers with a redirect to the page that shows the result (Post/Redirect/Get).
//!
//! A log-in makes a session (an HttpOnly, SameSite=Strict cookie holding a random id; the
//! database holds its hash) that ends on log-out or after `SESSION_IDLE` without a request.
//! Every form that changes something carries the session's CSRF token. What an administrator's
//! roles do not allow is not shown; the service refuses it all the same.

use crate::AppState;
use axum::extract::{FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::{context, Environment, Value};
use model::*;
use service::{Actor, Session};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const COOKIE: &str = "dialtone_session";
const PAGE: i64 = 50;

mod devices;
mod records;
use devices::Dev;
use records::Res;

pub(crate) fn routes() -> Router<AppState> {
    let r = Router::new();
    let r = record_routes(r, Res::Line, "/lines", get(lines));
    let r = record_routes(
        r,
        Res::Subscriber,
        "/voicemail-subscribers",
        get(voicemail_subscribers),
    );
    let r = record_routes(r, Res::System, "/systems", get(systems));
    let r = device_routes(r, Dev::Phone, "/phones", get(phones));
    let r = device_routes(r, Dev::Profile, "/device-profiles", get(device_profiles));
    r.route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/", get(dashboard))
        .route("/users", get(users).post(create_user))
        .route("/users/new", get(new_user))
        .route("/users/{key}", get(user).post(update_user))
        .route("/users/{key}/edit", get(edit_user))
        .route("/users/{key}/delete", post(delete_user))
        .route("/templates", get(templates).post(create_template))
        .route("/templates/new", get(new_template))
        .route(
            "/templates/{kind}/{name}",
            get(template).post(update_template),
        )
        .route("/templates/{kind}/{name}/edit", get(edit_template))
        .route("/templates/{kind}/{name}/delete", post(delete_template))
        .route(
            "/templates/{kind}/{name}/apply",
            get(confirm_apply).post(apply),
        )
        .route(
            "/delete-found/{kind}",
            get(confirm_delete_found).post(delete_found),
        )
        .route("/admins", get(admins).post(create_admin))
        .route("/admins/{username}", post(update_admin))
        .route("/roles", post(create_role))
        .route("/roles/{name}/delete", post(delete_role))
        .route("/status", get(status))
        .route("/audit", get(audit))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/run", post(run_job))
        .route("/jobs/{id}/errors.csv", get(job_errors_csv))
        .route("/imports/new", get(new_import))
        .route(
            "/imports",
            post(start_import).layer(axum::extract::DefaultBodyLimit::max(
                crate::api::MAX_IMPORT_BYTES,
            )),
        )
        .route("/exports/{file}", get(export))
        .route("/assets/htmx.min.js", get(htmx))
        .route("/assets/style.css", get(style))
}

/// The pages of records edited through their fields ([`records`]): the list at `base` (and
/// adding to it), `base/new`, `base/{key}` (and saving it), `…/edit`, `…/delete`.
fn record_routes(
    r: Router<AppState>,
    res: Res,
    base: &str,
    list: axum::routing::MethodRouter<AppState>,
) -> Router<AppState> {
    type Pairs = Form<Vec<(String, String)>>;
    r.route(
        base,
        list.post(
            move |State(s): State<AppState>, c: Console, Form(p): Pairs| {
                records::create(s, c, res, p)
            },
        ),
    )
    .route(
        &format!("{base}/new"),
        get(
            move |State(s): State<AppState>, c: Console, Query(at): Query<records::At>| {
                records::new(s, c, res, at)
            },
        ),
    )
    .route(
        &format!("{base}/{{key}}"),
        get(
            move |State(s): State<AppState>,
                  c: Console,
                  Path(key): Path<String>,
                  Query(at): Query<records::At>| records::view(s, c, res, key, at),
        )
        .post(
            move |State(s): State<AppState>,
                  c: Console,
                  Path(key): Path<String>,
                  Query(at): Query<records::At>,
                  Form(p): Pairs| records::update(s, c, res, key, at, p),
        ),
    )
    .route(
        &format!("{base}/{{key}}/edit"),
        get(
            move |State(s): State<AppState>,
                  c: Console,
                  Path(key): Path<String>,
                  Query(at): Query<records::At>| records::edit(s, c, res, key, at),
        ),
    )
    .route(
        &format!("{base}/{{key}}/delete"),
        post(
            move |State(s): State<AppState>,
                  c: Console,
                  Path(key): Path<String>,
                  Query(at): Query<records::At>,
                  Form(f): Form<CsrfForm>| records::delete(s, c, res, key, at, f.csrf),
        ),
    )
}

/// The pages of phones or device profiles ([`devices`]), as [`record_routes`] for records.
fn device_routes(
    r: Router<AppState>,
    dev: Dev,
    base: &str,
    list: axum::routing::MethodRouter<AppState>,
) -> Router<AppState> {
    type Pairs = Form<Vec<(String, String)>>;
    r.route(
        base,
        list.post(
            move |State(s): State<AppState>, c: Console, Form(p): Pairs| {
                devices::create(s, c, dev, p)
            },
        ),
    )
    .route(
        &format!("{base}/new"),
        get(move |State(s): State<AppState>, c: Console| devices::new(s, c, dev)),
    )
    .route(
        &format!("{base}/{{name}}"),
        get(
            move |State(s): State<AppState>, c: Console, Path(name): Path<String>| {
                devices::view(s, c, dev, name)
            },
        )
        .post(
            move |State(s): State<AppState>,
                  c: Console,
                  Path(name): Path<String>,
                  Form(p): Pairs| { devices::update(s, c, dev, name, p) },
        ),
    )
    .route(
        &format!("{base}/{{name}}/edit"),
        get(
            move |State(s): State<AppState>, c: Console, Path(name): Path<String>| {
                devices::edit(s, c, dev, name)
            },
        ),
    )
    .route(
        &format!("{base}/{{name}}/delete"),
        post(
            move |State(s): State<AppState>,
                  c: Console,
                  Path(name): Path<String>,
                  Form(f): Form<CsrfForm>| devices::delete(s, c, dev, name, f.csrf),
        ),
    )
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        for (name, src) in [
            ("base.html", include_str!("../templates/base.html")),
            ("login.html", include_str!("../templates/login.html")),
            (
                "dashboard.html",
                include_str!("../templates/dashboard.html"),
            ),
            ("phones.html", include_str!("../templates/phones.html")),
            ("pages.html", include_str!("../templates/pages.html")),
            ("device.html", include_str!("../templates/device.html")),
            (
                "device_form.html",
                include_str!("../templates/device_form.html"),
            ),
            ("stale.html", include_str!("../templates/stale.html")),
            ("list.html", include_str!("../templates/list.html")),
            ("import.html", include_str!("../templates/import.html")),
            ("job.html", include_str!("../templates/job.html")),
            ("error.html", include_str!("../templates/error.html")),
            (
                "template_form.html",
                include_str!("../templates/template_form.html"),
            ),
            (
                "record_form.html",
                include_str!("../templates/record_form.html"),
            ),
            ("record.html", include_str!("../templates/record.html")),
            ("fields.html", include_str!("../templates/fields.html")),
            (
                "user_form.html",
                include_str!("../templates/user_form.html"),
            ),
            ("user.html", include_str!("../templates/user.html")),
            ("admins.html", include_str!("../templates/admins.html")),
            ("batch.html", include_str!("../templates/batch.html")),
            ("confirm.html", include_str!("../templates/confirm.html")),
            ("template.html", include_str!("../templates/template.html")),
        ] {
            e.add_template(name, src)
                .expect("the console's templates parse (a test renders each)");
        }
        e
    })
}

/// A form shown again with what was wrong is 422; a fresh one 200.
fn form_status(error: &Option<String>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// A page, or the error of rendering it (a bug: said plainly, logged).
fn render(name: &str, ctx: Value) -> Response {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "a console page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the page {name} did not render: {e}"),
            )
                .into_response()
        }
    }
}

/// A logged-in administrator.
pub(crate) struct Console {
    session: Session,
}

impl Console {
    fn actor(&self) -> &Actor {
        &self.session.actor
    }

    /// The context every page has: the administrator, the CSRF token, the menu.
    fn page(&self, here: &str, title: &str, extra: Value) -> Value {
        let nav: Vec<Value> = [
            ("phones", "/phones", "Phones"),
            ("users", "/users", "Users"),
            ("lines", "/lines", "Lines"),
            ("device-profiles", "/device-profiles", "Device profiles"),
            (
                "voicemail-subscribers",
                "/voicemail-subscribers",
                "Voicemail",
            ),
            ("templates", "/templates", "Templates"),
            ("jobs", "/jobs", "Imports"),
            ("status", "/status", "Status"),
            ("audit", "/audit", "Audit log"),
            ("systems", "/systems", "Systems"),
            ("admins", "/admins", "Administrators"),
        ]
        .into_iter()
        .map(|(key, href, label)| context! { key, href, label })
        .collect();
        context! {
            admin => self.actor().name,
            csrf => self.session.csrf,
            nav,
            here,
            title,
            ..extra
        }
    }

    /// The refusal of a form whose CSRF token is not this session's; `None` when it is.
    fn forged(&self, token: &str) -> Option<Response> {
        if !token.is_empty() && constant_time_eq(token.as_bytes(), self.session.csrf.as_bytes()) {
            None
        } else {
            Some(self.error(
                StatusCode::FORBIDDEN,
                "The form is out of date",
                "This form was not sent by this session (or its page is older than your last log-in): reload the page and try again.",
            ))
        }
    }

    fn error(&self, status: StatusCode, heading: &str, message: &str) -> Response {
        (
            status,
            render(
                "error.html",
                self.page("", heading, context! { heading, message }),
            ),
        )
            .into_response()
    }

    /// A service error as a page: 403 for what the roles do not allow, 404, or the message.
    fn failed(&self, e: service::Error) -> Response {
        let (status, heading) = match &e {
            service::Error::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
            service::Error::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            service::Error::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Not done"),
            service::Error::Conflict { .. }
            | service::Error::Stale { .. }
            | service::Error::Ambiguous(_) => (StatusCode::CONFLICT, "Not done"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
        };
        self.error(status, heading, &e.to_string())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = |ended: bool| {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let ended = if ended { "&idle=1" } else { "" };
            Redirect::to(&format!("/login?next={}{ended}", urlencode(&next))).into_response()
        };
        let Some(id) = cookie(&parts.headers, COOKIE).filter(|c| !c.is_empty()) else {
            return Err(to_login(false));
        };
        match state.service.session(&id).await {
            Ok(Some(session)) => Ok(Console { session }),
            Ok(None) => Err(to_login(true)),
            Err(e) => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the database: {e}"),
            )
                .into_response()),
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only a path of this site may be where a log-in goes next.
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

// --- log-in ---------------------------------------------------------------------------------

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct LoginQuery {
    next: String,
    idle: Option<String>,
}

/// Whether the browser reached the console over HTTPS (directly, or through a proxy that says
/// so) or on this machine, where browsers keep `Secure` cookies on plain HTTP.
fn secure_context(headers: &HeaderMap) -> bool {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    https || name == "localhost" || name.starts_with("127.") || name == "[::1]"
}

const PLAIN_HTTP: &str = "This page came over plain HTTP: your password and the session cross the network unencrypted. Put the console behind HTTPS (a proxy that sets X-Forwarded-Proto: https).";

async fn login_page(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let note = match (q.idle, secure_context(&headers)) {
        (Some(_), _) => {
            Some("Your session ended (30 minutes without use, or a log-out): log in again.")
        }
        (None, false) => Some(PLAIN_HTTP),
        (None, true) => None,
    };
    render(
        "login.html",
        context! { next => local_path(&q.next), username => "", note },
    )
}

#[derive(serde::Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    match s.service.log_in(&f.username, &f.password).await {
        Ok((id, _)) => {
            // `Secure` wherever the browser keeps it; over plain HTTP to another machine it
            // would drop the cookie, and the log-in page says why that is unsafe instead.
            let cookie = format!(
                "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict;{} Max-Age={}",
                if secure_context(&headers) { " Secure;" } else { "" },
                service::SESSION_IDLE.as_secs() * 48
            );
            (
                [(header::SET_COOKIE, cookie)],
                Redirect::to(local_path(&f.next)),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::UNAUTHORIZED,
            render(
                "login.html",
                context! { next => local_path(&f.next), username => f.username, error => e.to_string() },
            ),
        )
            .into_response(),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(s): State<AppState>,
    c: Console,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    if let Some(id) = cookie(&headers, COOKIE) {
        if let Err(e) = s.service.log_out(&id).await {
            return c.failed(e);
        }
    }
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0"),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

// --- overview -------------------------------------------------------------------------------

async fn dashboard(State(s): State<AppState>, c: Console) -> Response {
    let one = || model::Find {
        limit: 1,
        ..Default::default()
    };
    let counts = async {
        Ok::<_, service::Error>(context! {
            phones => s.service.find_phones(&one()).await?.total,
            users => s.service.find_users(&one()).await?.total,
            lines => s.service.find_lines(&one()).await?.total,
            profiles => s.service.find_device_profiles(&one()).await?.total,
        })
    };
    let status = async {
        Ok::<_, service::Error>(context! {
            never_seen => s.service.device_statuses(Some("never_seen"), "", 1, 0).await?.total,
            failing => s.service.device_statuses(Some("failing"), "", 1, 0).await?.total,
            not_resynced => s.service.device_statuses(Some("not_resynced"), "", 1, 0).await?.total,
        })
    };
    let conflicts = async {
        let mut f = one();
        f.filters.push(("conflicts".into(), "true".into()));
        s.service.find_users(&f).await.map(|p| p.total)
    };
    match (counts.await, status.await, conflicts.await) {
        (Ok(counts), Ok(status), Ok(conflicts)) => render(
            "dashboard.html",
            c.page("", "Overview", context! { counts, status, conflicts }),
        ),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => c.failed(e),
    }
}

// --- lists ----------------------------------------------------------------------------------

/// A list's query: `q`, `offset`, and the filters a list takes.
fn find_of(q: &BTreeMap<String, String>, filters: &[&str]) -> model::Find {
    let mut f = model::Find {
        q: q.get("q").filter(|v| !v.is_empty()).cloned(),
        limit: PAGE,
        offset: q
            .get("offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            .max(0),
        ..Default::default()
    };
    for k in filters {
        if let Some(v) = q.get(*k).filter(|v| !v.is_empty()) {
            f.filters.push((k.to_string(), v.clone()));
        }
    }
    f
}

/// Links to the previous and next pages of a list at `path`.
fn pages(path: &str, q: &BTreeMap<String, String>, f: &model::Find, total: i64) -> Value {
    let link = |offset: i64| {
        let mut q = q.clone();
        q.insert("offset".into(), offset.to_string());
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect();
        format!("{path}?{}", qs.join("&"))
    };
    context! {
        prev => (f.offset > 0).then(|| link((f.offset - PAGE).max(0))),
        next => (f.offset + PAGE < total).then(|| link(f.offset + PAGE)),
    }
}

/// The filters of the lists of phones, users and device profiles (and of deleting what they
/// find).
const PHONE_FILTERS: &[&str] = &["model", "device_pool", "owner_user_id", "line"];
const USER_FILTERS: &[&str] = &["department", "conflicts"];
const PROFILE_FILTERS: &[&str] = &["model"];

/// The list a found set can be deleted from: its path and its filters.
fn list_of(kind: TemplateKind) -> (&'static str, &'static [&'static str]) {
    match kind {
        TemplateKind::User => ("users", USER_FILTERS),
        TemplateKind::Phone => ("phones", PHONE_FILTERS),
        TemplateKind::DeviceProfile => ("device-profiles", PROFILE_FILTERS),
    }
}

/// Where the records a list found can be deleted all at once: only when the find says what to
/// look for (not the whole directory) and the administrator may delete such records somewhere.
fn delete_found_link(
    c: &Console,
    kind: TemplateKind,
    q: &BTreeMap<String, String>,
) -> Option<String> {
    let (here, filters) = list_of(kind);
    let asked: Vec<String> = q
        .iter()
        .filter(|(k, v)| !v.is_empty() && (*k == "q" || filters.contains(&k.as_str())))
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    (!asked.is_empty() && c.actor().may_somewhere(kind.as_str(), "delete"))
        .then(|| format!("/delete-found/{here}?{}", asked.join("&")))
}

async fn phones(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, PHONE_FILTERS);
    match s.service.find_phones(&f).await {
        Ok(page) => {
            let nav = pages("/phones", &q, &f, page.total);
            render(
                "phones.html",
                c.page(
                    "phones",
                    "Phones",
                    context! {
                        q => q.get("q").cloned().unwrap_or_default(),
                        may_create => c.actor().may_somewhere("phone", "create"),
                        delete_found => delete_found_link(&c, TemplateKind::Phone, &q),
                        page,
                        ..nav
                    },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

struct Listed {
    headers: &'static [&'static str],
    rows: Vec<Value>,
    total: i64,
}

/// A record's conflicts between product systems, in one line (what is wrong and how to resolve
/// it); empty when there is none.
fn conflicts_of(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| c.message.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A filter of a list: a text box, or a choice among `options`.
fn filter(q: &BTreeMap<String, String>, name: &str, label: &str, options: &[&str]) -> Value {
    context! { name, label, options, value => q.get(name).cloned().unwrap_or_default() }
}

/// How a plain list names itself: its path (and menu entry), title, what it lists, and what its
/// find box takes.
struct Words {
    here: &'static str,
    title: &'static str,
    noun: &'static str,
    placeholder: &'static str,
    /// A button beside the find box: (where, what it says).
    action: Option<(&'static str, &'static str)>,
    /// Filters beside the find box ([`filter`]).
    filters: Vec<Value>,
    /// Where the records found can be deleted all at once ([`delete_found_link`]).
    delete_found: Option<String>,
}

/// One of the plain lists: its rows, a link on the first cell, conflicts in red.
fn list_page(
    c: &Console,
    w: Words,
    q: &BTreeMap<String, String>,
    f: &model::Find,
    listed: service::Result<Listed>,
) -> Response {
    let Words {
        here,
        title,
        noun,
        placeholder,
        action,
        filters,
        delete_found,
    } = w;
    let filter_names: Vec<Value> = filters
        .iter()
        .map(|f| f.get_attr("name").unwrap_or_default())
        .collect();
    match listed {
        Ok(l) => {
            let keep: BTreeMap<&String, &String> = q
                .iter()
                .filter(|(k, _)| *k != "q" && *k != "offset")
                .collect();
            let nav = pages(&format!("/{here}"), q, f, l.total);
            render(
                "list.html",
                c.page(
                    here,
                    title,
                    context! {
                        path => format!("/{here}"),
                        q => q.get("q").cloned().unwrap_or_default(),
                        keep, noun, placeholder,
                        headers => l.headers,
                        action => action.map(|(href, label)| context! { href, label }),
                        filters, filter_names, delete_found,
                        rows => l.rows,
                        total => l.total,
                        ..nav
                    },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

async fn users(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, USER_FILTERS);
    let listed = s.service.find_users(&f).await.map(|p| Listed {
        headers: &["User ID", "Name", "System", "Department", "Primary extension", "Conflict"],
        total: p.total,
        rows: p
            .items
            .into_iter()
            .map(|u| {
                let conflict = conflicts_of(&u.conflicts);
                context! {
                    href => format!("/users/{}?system={}", urlencode(&u.user_id), urlencode(&u.system)),
                    conflict => (!conflict.is_empty()).then(|| conflict.clone()),
                    cells => vec![u.user_id, format!("{} {}", u.first_name, u.last_name), u.system, u.department, u.primary_extension.unwrap_or_default(), conflict],
                }
            })
            .collect(),
    });
    list_page(
        &c,
        Words {
            here: "users",
            title: "Users",
            noun: "users",
            placeholder: "User ID or name starts with…",
            action: c
                .actor()
                .may_somewhere("user", "create")
                .then_some(("/users/new", "Add a user")),
            filters: vec![
                filter(&q, "department", "Department", &[]),
                filter(&q, "conflicts", "Conflicts", &["true"]),
            ],
            delete_found: delete_found_link(&c, TemplateKind::User, &q),
        },
        &q,
        &f,
        listed,
    )
}

async fn lines(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &["partition", "shared"]);
    let listed = s.service.find_lines(&f).await.map(|p| Listed {
        headers: &[
            "Directory number",
            "Partition",
            "System",
            "Description",
            "Appears on",
        ],
        total: p.total,
        rows: p
            .items
            .into_iter()
            .map(|l| {
                let on = l
                    .appearances
                    .iter()
                    .map(|a| a.device.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                context! {
                    href => line_path(&l.pattern, &l.partition, &l.system, ""),
                    cells => vec![l.pattern, l.partition, l.system, l.description, on],
                }
            })
            .collect(),
    });
    list_page(
        &c,
        Words {
            here: "lines",
            title: "Lines",
            noun: "lines",
            placeholder: "Directory number starts with…",
            action: c
                .actor()
                .may_somewhere("line", "create")
                .then_some(("/lines/new", "Add a line")),
            filters: Vec::new(),
            delete_found: None,
        },
        &q,
        &f,
        listed,
    )
}

async fn device_profiles(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, PROFILE_FILTERS);
    let listed = s.service.find_device_profiles(&f).await.map(|p| Listed {
        headers: &["Name", "Model", "Description", "Lines"],
        total: p.total,
        rows: p
            .items
            .into_iter()
            .map(|d| {
                let lines = d
                    .lines
                    .iter()
                    .map(|l| l.pattern.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                context! {
                    href => format!("/device-profiles/{}", urlencode(&d.name)),
                    cells => vec![d.name, d.model, d.description, lines],
                }
            })
            .collect(),
    });
    list_page(
        &c,
        Words {
            here: "device-profiles",
            title: "Device profiles",
            noun: "device profiles",
            placeholder: "Name starts with…",
            action: c
                .actor()
                .may_somewhere("device_profile", "create")
                .then_some(("/device-profiles/new", "Add a device profile")),
            filters: Vec::new(),
            delete_found: delete_found_link(&c, TemplateKind::DeviceProfile, &q),
        },
        &q,
        &f,
        listed,
    )
}

async fn templates(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &[]);
    let listed = s
        .service
        .templates(None, f.q.as_deref().unwrap_or(""))
        .await
        .map(|all| {
            Listed {
        headers: &["Name", "Kind", "Description", "Fields"],
        total: all.len() as i64,
        rows: all
            .into_iter()
            .map(|t| {
                let fields = t.fields.keys().cloned().collect::<Vec<_>>().join(", ");
                context! {
                    href => format!("/templates/{}/{}", t.kind.as_str(), urlencode(&t.name)),
                    cells => vec![t.name, t.kind.as_str().replace('_', " "), t.description, fields],
                }
            })
            .collect(),
    }
        });
    list_page(
        &c,
        Words {
            here: "templates",
            title: "Templates",
            noun: "templates",
            placeholder: "Name starts with…",
            action: c
                .actor()
                .may("", "template", "create")
                .then_some(("/templates/new", "Add a template")),
            filters: Vec::new(),
            delete_found: None,
        },
        &q,
        &f,
        listed,
    )
}

async fn status(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &[]);
    let state = q.get("state").map(String::as_str);
    let listed = s
        .service
        .device_statuses(state, f.q.as_deref().unwrap_or(""), f.limit, f.offset)
        .await
        .map(|p| Listed {
            headers: &["Device", "State", "Last seen", "Firmware", "Last resync", "Last NOTIFY"],
            total: p.total,
            rows: p
                .items
                .into_iter()
                .map(|d| {
                    context! {
                        href => format!("/phones/{}", d.device),
                        conflict => (d.state == "failing").then(|| d.resync_error.clone().or(d.notify_outcome.clone()).unwrap_or_default()),
                        cells => vec![
                            d.device.clone(), d.state.clone(), d.last_seen.clone().unwrap_or_else(|| "never".into()),
                            d.firmware.clone().unwrap_or_default(), d.resync_succeeded_at.clone().or(d.resync_failed_at.clone()).unwrap_or_default(),
                            d.notify_outcome.clone().unwrap_or_default(),
                        ],
                    }
                })
                .collect(),
        });
    list_page(
        &c,
        Words {
            here: "status",
            title: "Device status",
            noun: "devices",
            placeholder: "Device name starts with…",
            action: None,
            filters: Vec::new(),
            delete_found: None,
        },
        &q,
        &f,
        listed,
    )
}

async fn audit(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut f = find_of(&q, &["actor", "action", "resource", "system", "result"]);
    f.descending = true;
    let listed = s.service.audit(&f).await.map(|p| Listed {
        headers: &["When", "Who", "Did", "What", "Target", "System", "Result", "Detail"],
        total: p.total,
        rows: p
            .items
            .into_iter()
            .map(|e| {
                let bad = e.result != Outcome::Ok;
                context! {
                    conflict => bad.then(|| e.detail.clone()),
                    cells => vec![e.at, e.actor, e.action, e.resource, e.target, e.system, e.result.as_str().to_string(), e.detail],
                }
            })
            .collect(),
    });
    list_page(
        &c,
        Words {
            here: "audit",
            title: "Audit log",
            noun: "entries",
            placeholder: "Target starts with…",
            action: None,
            filters: vec![
                filter(&q, "actor", "Who", &[]),
                filter(
                    &q,
                    "action",
                    "Did",
                    &[
                        "create",
                        "update",
                        "delete",
                        "batch_delete",
                        "apply_template",
                        "import",
                        "set_password",
                    ],
                ),
                filter(
                    &q,
                    "resource",
                    "What",
                    &[model::access::RESOURCES, &["token"]].concat(),
                ),
                filter(&q, "system", "System", &[]),
                filter(&q, "result", "Result", &["ok", "partial", "failed"]),
            ],
            delete_found: None,
        },
        &q,
        &f,
        listed,
    )
}

// --- phones ---------------------------------------------------------------------------------

/// An error with the field it is about, in the words of the form.
fn field_message(e: &service::Error) -> String {
    let text = e.to_string();
    match e.field() {
        Some(f) if !f.is_empty() && !text.starts_with(f) => {
            format!("{}: {text}", f.replace('_', " "))
        }
        _ => text,
    }
}

/// The models of the device type catalogue (with `profiles`, those that have device profiles).
fn models(s: &AppState, profiles: bool) -> Vec<String> {
    let mut m: Vec<String> = s
        .service
        .catalog()
        .devices()
        .filter(|t| !profiles || t.device_profile)
        .map(|t| t.model.clone())
        .collect();
    m.sort();
    m
}

// --- templates ------------------------------------------------------------------------------

/// Past this many records, applying a template warns that it may take a while.
const MANY: usize = 100;

fn what(kind: TemplateKind) -> &'static str {
    match kind {
        TemplateKind::User => "users",
        TemplateKind::Phone => "phones",
        TemplateKind::DeviceProfile => "device profiles",
    }
}

async fn template(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    match s.service.template(kind, &name).await {
        Ok(t) => render(
            "template.html",
            c.page(
                "templates",
                &format!("Template {}", t.name),
                context! {
                    may_apply => c.actor().may_somewhere(kind.as_str(), "update"),
                    may_change => c.actor().may("", "template", "update"),
                    what => what(kind),
                    t,
                },
            ),
        ),
        Err(e) => c.failed(e),
    }
}

/// The template form's values.
#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(default)]
struct TemplateForm {
    csrf: String,
    version: i64,
    kind: String,
    name: String,
    description: String,
    /// `FIELD=VALUE` lines.
    fields: String,
}

impl TemplateForm {
    fn of(t: &Template) -> TemplateForm {
        TemplateForm {
            version: t.version,
            kind: t.kind.as_str().into(),
            name: t.name.clone(),
            description: t.description.clone(),
            fields: t
                .fields
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            ..Default::default()
        }
    }

    /// The fields: a value that reads as JSON is JSON, any other is text.
    fn fields(&self) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let mut m = serde_json::Map::new();
        for (i, line) in self
            .fields
            .lines()
            .map(str::trim)
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
        {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("fields, line {}: `{line}`: write FIELD=VALUE", i + 1))?;
            let v = serde_json::from_str(v.trim())
                .unwrap_or_else(|_| serde_json::Value::from(v.trim()));
            m.insert(k.trim().to_string(), v);
        }
        Ok(m)
    }
}

fn template_form(
    c: &Console,
    editing: bool,
    form: &TemplateForm,
    error: Option<String>,
) -> Response {
    let kinds: Vec<&str> = TemplateKind::ALL.iter().map(|k| k.as_str()).collect();
    let status = form_status(&error);
    (
        status,
        render(
            "template_form.html",
            c.page(
                "templates",
                "Template",
                context! { editing, form, kinds, error },
            ),
        ),
    )
        .into_response()
}

async fn new_template(c: Console) -> Response {
    let form = TemplateForm {
        kind: "phone".into(),
        ..Default::default()
    };
    template_form(&c, false, &form, None)
}

async fn create_template(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<TemplateForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let r = match (TemplateKind::parse(&f.kind), f.fields()) {
        (Ok(kind), Ok(fields)) => {
            let req = NewTemplate {
                kind,
                name: f.name.clone(),
                description: f.description.clone(),
                fields,
            };
            s.service
                .create_template(c.actor(), req)
                .await
                .map_err(|e| field_message(&e))
        }
        (Err(e), _) => Err(e.to_string()),
        (_, Err(e)) => Err(e),
    };
    match r {
        Ok(t) => Redirect::to(&format!(
            "/templates/{}/{}",
            t.kind.as_str(),
            urlencode(&t.name)
        ))
        .into_response(),
        Err(e) => template_form(&c, false, &f, Some(e)),
    }
}

async fn edit_template(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    match s.service.template(kind, &name).await {
        Ok(t) => template_form(&c, true, &TemplateForm::of(&t), None),
        Err(e) => c.failed(e),
    }
}

async fn update_template(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
    Form(f): Form<TemplateForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    let fields = match f.fields() {
        Ok(x) => x,
        Err(e) => return template_form(&c, true, &f, Some(e)),
    };
    let p = TemplatePatch {
        version: f.version,
        name: Some(f.name.clone()),
        description: Some(f.description.clone()),
        fields: Some(fields),
    };
    match s.service.update_template(c.actor(), kind, &name, p).await {
        Ok(t) => Redirect::to(&format!(
            "/templates/{}/{}",
            t.kind.as_str(),
            urlencode(&t.name)
        ))
        .into_response(),
        Err(service::Error::Stale { .. }) => match s.service.template(kind, &name).await {
            Ok(now) => {
                let stored = TemplateForm::of(&now);
                let rows = vec![
                    row("Name", &f.name, &stored.name),
                    row("Description", &f.description, &stored.description),
                    row("Fields", &f.fields, &stored.fields),
                ];
                let hidden = vec![
                    hidden("kind", &f.kind),
                    hidden("name", &f.name),
                    hidden("description", &f.description),
                    hidden("fields", &f.fields),
                ];
                let path = format!("/templates/{}/{}", kind.as_str(), urlencode(&name));
                stale(
                    &c,
                    "templates",
                    "template",
                    &name,
                    f.version,
                    now.version,
                    rows,
                    hidden,
                    &path,
                )
            }
            Err(e) => c.failed(e),
        },
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => template_form(&c, true, &f, Some(field_message(&e))),
    }
}

async fn delete_template(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    match s.service.delete_template(c.actor(), kind, &name).await {
        Ok(()) => Redirect::to("/templates").into_response(),
        Err(e) => c.failed(e),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct ApplyForm {
    csrf: String,
    q: String,
}

/// The records a template would be applied to: those whose name starts with `q`.
async fn apply_targets(s: &AppState, kind: TemplateKind, q: &str) -> service::Result<Vec<String>> {
    if q.trim().is_empty() {
        return Ok(Vec::new());
    }
    let f = model::Find {
        q: Some(q.trim().to_string()),
        ..Default::default()
    };
    s.service.found_keys(kind, f).await
}

async fn confirm_apply(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
    Query(f): Query<ApplyForm>,
) -> Response {
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    let t = match s.service.template(kind, &name).await {
        Ok(t) => t,
        Err(e) => return c.failed(e),
    };
    match apply_targets(&s, kind, &f.q).await {
        Ok(targets) => {
            let n = targets.len();
            let path = format!("/templates/{}/{}", kind.as_str(), urlencode(&t.name));
            render(
                "confirm.html",
                c.page(
                    "templates",
                    &format!("Apply {}", t.name),
                    context! {
                        heading => format!("Apply {} to {n} {}", t.name, what(kind)),
                        none => format!("No {} name starts with “{}”.", what(kind), f.q),
                        verb => "changes", many => n > MANY, targets,
                        action => format!("{path}/apply"), hidden => vec![hidden("q", &f.q)],
                        button => format!("Apply to {n} records"), back => path,
                    },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

async fn apply(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
    Form(f): Form<ApplyForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    let r = match apply_targets(&s, kind, &f.q).await {
        Ok(targets) => {
            s.service
                .apply_template(c.actor(), kind, &name, &targets, None)
                .await
        }
        Err(e) => Err(e),
    };
    let link = match kind {
        TemplateKind::User => "/users?q=",
        TemplateKind::Phone => "/phones/",
        TemplateKind::DeviceProfile => "/device-profiles?q=",
    };
    match r {
        Ok(r) => render(
            "batch.html",
            c.page(
                "templates",
                "Template applied",
                context! { heading => format!("Template {name} applied"), done => "changed", link, r },
            ),
        ),
        Err(e) => c.failed(e),
    }
}

// --- deleting what a list found ------------------------------------------------------------

/// What `/delete-found/{kind}` deletes: the kind of records, the find of its list, and the
/// link back to it ([`delete_found_link`]); or the page saying why nothing is.
fn found_set(
    c: &Console,
    kind: &str,
    q: &BTreeMap<String, String>,
) -> Result<(TemplateKind, model::Find, String), Box<Response>> {
    let Some(k) = TemplateKind::ALL
        .into_iter()
        .find(|k| list_of(*k).0 == kind)
    else {
        return Err(Box::new(c.error(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("there is no list {kind} to delete from"),
        )));
    };
    let Some(link) = delete_found_link(c, k, q) else {
        return Err(Box::new(c.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not done",
            "say what to delete: find the records first (a whole directory is not deleted from here)",
        )));
    };
    let mut f = find_of(q, list_of(k).1);
    f.offset = 0;
    Ok((k, f, link))
}

/// Says how many records a list's find holds and asks before deleting them all (warning past
/// [`MANY`]); nothing when the find says nothing to look for.
async fn confirm_delete_found(
    State(s): State<AppState>,
    c: Console,
    Path(kind): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (k, f, link) = match found_set(&c, &kind, &q) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match s.service.found(k, f).await {
        Ok(found) => {
            let targets: Vec<String> = found.into_iter().map(|(key, _)| key).collect();
            let n = targets.len();
            let hidden: Vec<Value> = q
                .iter()
                .filter(|(k, _)| *k != "offset")
                .map(|(k, v)| hidden(k, v))
                .collect();
            render(
                "confirm.html",
                c.page(
                    &kind,
                    "Delete what was found",
                    context! {
                        heading => format!("Delete {n} {}", what(k)),
                        none => format!("The find holds no {}.", what(k)),
                        verb => "deletes", many => n > MANY, targets, hidden, danger => true,
                        action => link, button => format!("Delete {n} records"),
                        back => format!("/{kind}?{}", link.split_once('?').map(|(_, q)| q).unwrap_or("")),
                    },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

async fn delete_found(
    State(s): State<AppState>,
    c: Console,
    Path(kind): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let q = form_map(pairs);
    if let Some(r) = c.forged(q.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let (k, f, _) = match found_set(&c, &kind, &q) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match s.service.delete_found(c.actor(), k, f).await {
        Ok(r) => render(
            "batch.html",
            c.page(
                &kind,
                "Deleted",
                context! { heading => format!("Deleting {}", what(k)), done => "deleted", link => "", r },
            ),
        ),
        Err(e) => c.failed(e),
    }
}

// --- administrators and roles ---------------------------------------------------------------

async fn admins(State(s): State<AppState>, c: Console) -> Response {
    match (s.service.administrators().await, s.service.roles().await) {
        (Ok(admins), Ok(roles)) => render(
            "admins.html",
            c.page(
                "admins",
                "Administrators",
                context! {
                    may_admins => c.actor().may("", "admin", "create"),
                    may_roles => c.actor().may("", "role", "create"),
                    admins, roles,
                },
            ),
        ),
        (Err(e), _) | (_, Err(e)) => c.failed(e),
    }
}

async fn create_admin(
    State(s): State<AppState>,
    c: Console,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if let Some(r) = c.forged(&get("csrf")) {
        return r;
    }
    let req = NewAdministrator {
        username: get("username"),
        password: Secret::new(get("password")),
        roles: pairs
            .iter()
            .filter(|(k, _)| k == "roles")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    match s.service.create_administrator(c.actor(), req).await {
        Ok(_) => Redirect::to("/admins").into_response(),
        Err(e) => c.failed(e),
    }
}

/// Sets an administrator's roles (all of them: those selected), and the password when one is
/// given.
async fn update_admin(
    State(s): State<AppState>,
    c: Console,
    Path(username): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if let Some(r) = c.forged(&get("csrf")) {
        return r;
    }
    let password = get("password");
    let p = AdministratorPatch {
        password: (!password.is_empty()).then(|| Secret::new(password)),
        roles: Some(
            pairs
                .iter()
                .filter(|(k, _)| k == "roles")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
    };
    match s
        .service
        .update_administrator(c.actor(), &username, p)
        .await
    {
        Ok(_) => Redirect::to("/admins").into_response(),
        Err(e) => c.failed(e),
    }
}

async fn delete_role(
    State(s): State<AppState>,
    c: Console,
    Path(name): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    match s.service.delete_role(c.actor(), &name).await {
        Ok(()) => Redirect::to("/admins").into_response(),
        Err(e) => c.failed(e),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct RoleForm {
    csrf: String,
    name: String,
    privileges: String,
}

async fn create_role(State(s): State<AppState>, c: Console, Form(f): Form<RoleForm>) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let mut privileges = Vec::new();
    for part in f
        .privileges
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let w: Vec<&str> = part.split_whitespace().collect();
        let [system, resource, action] = w[..] else {
            return c.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not done",
                &format!("`{part}`: write a privilege as three words: system resource action (each may be *)"),
            );
        };
        privileges.push(Privilege {
            system: system.into(),
            resource: resource.into(),
            action: action.into(),
        });
    }
    match s
        .service
        .create_role(
            c.actor(),
            NewRole {
                name: f.name,
                description: String::new(),
                privileges,
            },
        )
        .await
    {
        Ok(_) => Redirect::to("/admins").into_response(),
        Err(e) => c.failed(e),
    }
}

// --- stale edits --------------------------------------------------------------------------

fn row(label: &str, yours: &str, now: &str) -> Value {
    context! { label, yours, now }
}

fn hidden(name: &str, value: &str) -> Value {
    context! { name, value }
}

/// The answer to a save whose record someone else saved meanwhile: both versions side by side,
/// "save mine over it" (against the version now stored) or "keep what is stored".
#[allow(clippy::too_many_arguments)]
fn stale(
    c: &Console,
    here: &str,
    noun: &str,
    name: &str,
    your_version: i64,
    now_version: i64,
    rows: Vec<Value>,
    hidden: Vec<Value>,
    path: &str,
) -> Response {
    (
        StatusCode::CONFLICT,
        render(
            "stale.html",
            c.page(
                here,
                &format!("{name} changed"),
                context! { name, noun, your_version, now_version, rows, hidden, action => path, back => path },
            ),
        ),
    )
        .into_response()
}

// --- users ----------------------------------------------------------------------------------

/// The text fields of the user form: (field, label, input type). Passwords and PINs are
/// write-only: left empty, they stay as they are.
const USER_FIELDS: &[(&str, &str, &str)] = &[
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("display_name", "Display name", "text"),
    ("department", "Department", "text"),
    ("manager", "Manager (user ID)", "text"),
    ("mail", "Mail", "text"),
    ("telephone_number", "Telephone number", "text"),
    ("primary_extension", "Primary extension", "text"),
    ("password", "Password", "password"),
    ("pin", "PIN", "password"),
];

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct SystemQuery {
    system: Option<String>,
}

/// A stored record's `fields` (field, label, input type) as a form shows them: text as it is,
/// numbers written out, nothing for a field left unset (or write-only).
fn form_values<T: serde::Serialize>(
    record: &T,
    fields: &[(&str, &str, &str)],
) -> BTreeMap<String, String> {
    let v = serde_json::to_value(record).unwrap_or_default();
    fields
        .iter()
        .map(|(f, _, _)| {
            let x = match &v[*f] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (f.to_string(), x)
        })
        .collect()
}

fn form_map(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

fn user_fields(values: &BTreeMap<String, String>) -> Vec<Value> {
    USER_FIELDS
        .iter()
        .map(|(name, label, ty)| {
            let value = if *ty == "password" {
                ""
            } else {
                values.get(*name).map(String::as_str).unwrap_or("")
            };
            context! { name, label, type => ty, value }
        })
        .collect()
}

fn values_of(u: &User) -> BTreeMap<String, String> {
    let mut v = form_values(u, USER_FIELDS);
    v.insert("system".into(), u.system.clone());
    v.insert("version".into(), u.version.to_string());
    v
}

async fn systems_of_kind(s: &AppState, kind: SystemKind) -> Vec<String> {
    s.service
        .systems()
        .await
        .map(|all| {
            all.into_iter()
                .filter(|x| x.kind == kind)
                .map(|x| x.name)
                .collect()
        })
        .unwrap_or_default()
}

async fn user_form(
    s: &AppState,
    c: &Console,
    key: Option<&str>,
    values: BTreeMap<String, String>,
    error: Option<String>,
) -> Response {
    let systems = systems_of_kind(s, SystemKind::CallControl).await;
    let title = match key {
        Some(k) => format!("Edit {k}"),
        None => "Add a user".into(),
    };
    let status = form_status(&error);
    (
        status,
        render(
            "user_form.html",
            c.page(
                "users",
                &title,
                context! { editing => key.is_some(), key, fields => user_fields(&values), form => values, systems, error },
            ),
        ),
    )
        .into_response()
}

async fn user(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Query(q): Query<SystemQuery>,
) -> Response {
    match s.service.user(&key, q.system.as_deref()).await {
        Ok(u) => {
            let a = c.actor();
            render(
                "user.html",
                c.page(
                    "users",
                    &format!("User {}", u.user_id),
                    context! { may_update => a.may(&u.system, "user", "update"), may_delete => a.may(&u.system, "user", "delete"), u },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

async fn new_user(State(s): State<AppState>, c: Console) -> Response {
    user_form(&s, &c, None, BTreeMap::new(), None).await
}

async fn create_user(
    State(s): State<AppState>,
    c: Console,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let v = form_map(pairs);
    if let Some(r) = c.forged(v.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let mut m = serde_json::Map::new();
    for k in ["user_id", "system"]
        .iter()
        .chain(USER_FIELDS.iter().map(|(f, _, _)| f))
    {
        if let Some(x) = v.get(*k).map(|x| x.trim()).filter(|x| !x.is_empty()) {
            m.insert(k.to_string(), x.into());
        }
    }
    let r = match serde_json::from_value::<NewUser>(serde_json::Value::Object(m)) {
        Ok(req) => s.service.create_user(c.actor(), req).await,
        Err(e) => Err(service::Error::Invalid(Invalid::new("", e.to_string()))),
    };
    match r {
        Ok(u) => Redirect::to(&format!(
            "/users/{}?system={}",
            urlencode(&u.user_id),
            urlencode(&u.system)
        ))
        .into_response(),
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => user_form(&s, &c, None, v, Some(field_message(&e))).await,
    }
}

async fn edit_user(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Query(q): Query<SystemQuery>,
) -> Response {
    match s.service.user(&key, q.system.as_deref()).await {
        Ok(u) => user_form(&s, &c, Some(&u.user_id), values_of(&u), None).await,
        Err(e) => c.failed(e),
    }
}

async fn update_user(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Query(q): Query<SystemQuery>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let mut v = form_map(pairs);
    if let Some(r) = c.forged(v.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let version: i64 = v.get("version").and_then(|x| x.parse().ok()).unwrap_or(0);
    let mut m = serde_json::Map::new();
    m.insert("version".into(), version.into());
    for (f, _, ty) in USER_FIELDS {
        let x = v.get(*f).map(|x| x.trim().to_string()).unwrap_or_default();
        // An empty password or PIN leaves it as it is.
        if *ty != "password" || !x.is_empty() {
            m.insert(f.to_string(), x.into());
        }
    }
    let r = match serde_json::from_value::<UserPatch>(serde_json::Value::Object(m)) {
        Ok(p) => {
            s.service
                .update_user(c.actor(), &key, q.system.as_deref(), p)
                .await
        }
        Err(e) => Err(service::Error::Invalid(Invalid::new("", e.to_string()))),
    };
    match r {
        Ok(u) => Redirect::to(&format!(
            "/users/{}?system={}",
            urlencode(&u.user_id),
            urlencode(&u.system)
        ))
        .into_response(),
        Err(service::Error::Stale { .. }) => {
            match s.service.user(&key, q.system.as_deref()).await {
                Ok(now) => {
                    let stored = values_of(&now);
                    let rows = USER_FIELDS
                        .iter()
                        .filter(|(_, _, ty)| *ty != "password")
                        .map(|(f, label, _)| {
                            row(
                                label,
                                v.get(*f).map(String::as_str).unwrap_or(""),
                                stored.get(*f).map(String::as_str).unwrap_or(""),
                            )
                        })
                        .collect();
                    let hidden = USER_FIELDS
                        .iter()
                        .filter(|(_, _, ty)| *ty != "password")
                        .map(|(f, _, _)| {
                            self::hidden(f, v.get(*f).map(String::as_str).unwrap_or(""))
                        })
                        .collect();
                    let path = format!(
                        "/users/{}?system={}",
                        urlencode(&now.user_id),
                        urlencode(&now.system)
                    );
                    stale(
                        &c,
                        "users",
                        "user",
                        &key,
                        version,
                        now.version,
                        rows,
                        hidden,
                        &path,
                    )
                }
                Err(e) => c.failed(e),
            }
        }
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => {
            v.insert("system".into(), q.system.clone().unwrap_or_default());
            user_form(&s, &c, Some(&key), v, Some(field_message(&e))).await
        }
    }
}

async fn delete_user(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Query(q): Query<SystemQuery>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    match s
        .service
        .delete_user(c.actor(), &key, q.system.as_deref())
        .await
    {
        Ok(()) => Redirect::to("/users").into_response(),
        Err(e) => c.failed(e),
    }
}

// --- device profiles, voicemail subscribers, systems -------------------------------------

fn links(items: impl IntoIterator<Item = (String, String)>) -> Vec<Value> {
    items
        .into_iter()
        .map(|(href, text)| context! { href, text })
        .collect()
}

async fn voicemail_subscribers(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &["class_of_service", "extension"]);
    let listed = s.service.find_voicemail_subscribers(&f).await.map(|p| Listed {
        headers: &["Alias", "Name", "System", "Extension", "Class of service", "Conflict"],
        total: p.total,
        rows: p
            .items
            .into_iter()
            .map(|v| {
                let conflict = conflicts_of(&v.conflicts);
                context! {
                    href => format!("/voicemail-subscribers/{}?system={}", urlencode(&v.alias), urlencode(&v.system)),
                    conflict => (!conflict.is_empty()).then(|| conflict.clone()),
                    cells => vec![v.alias, format!("{} {}", v.first_name, v.last_name), v.system, v.extension, v.class_of_service, conflict],
                }
            })
            .collect(),
    });
    list_page(
        &c,
        Words {
            here: "voicemail-subscribers",
            title: "Voicemail subscribers",
            noun: "subscribers",
            placeholder: "Alias or name starts with…",
            action: c
                .actor()
                .may_somewhere("voicemail_subscriber", "create")
                .then_some(("/voicemail-subscribers/new", "Add a subscriber")),
            filters: vec![filter(&q, "class_of_service", "Class of service", &[])],
            delete_found: None,
        },
        &q,
        &f,
        listed,
    )
}

async fn systems(State(s): State<AppState>, c: Console) -> Response {
    let listed = s.service.systems().await.map(|all| Listed {
        headers: &["Name", "Kind", "Description", "Version"],
        total: all.len() as i64,
        rows: all
            .into_iter()
            .map(|x| context! { href => format!("/systems/{}", urlencode(&x.name)), cells => vec![x.name, x.kind.as_str().replace('_', "-"), x.description, x.version.to_string()] })
            .collect(),
    });
    let q = BTreeMap::new();
    let f = find_of(&q, &[]);
    list_page(
        &c,
        Words {
            here: "systems",
            title: "Product systems",
            noun: "systems",
            placeholder: "",
            action: c
                .actor()
                .may_somewhere("system", "create")
                .then_some(("/systems/new", "Add a product system")),
            filters: Vec::new(),
            delete_found: None,
        },
        &q,
        &f,
        listed,
    )
}

// --- lines --------------------------------------------------------------------------------

/// The page of a line (a directory number is unique per system and partition).
fn line_path(pattern: &str, partition: &str, system: &str, then: &str) -> String {
    format!(
        "/lines/{}{then}?partition={}&system={}",
        urlencode(pattern),
        urlencode(partition),
        urlencode(system)
    )
}

// --- imports --------------------------------------------------------------------------------

async fn new_import(c: Console) -> Response {
    let kinds: Vec<&str> = bulk::Kind::ALL.iter().map(|k| k.name()).collect();
    render("import.html", c.page("jobs", "Import", context! { kinds }))
}

async fn start_import(State(s): State<AppState>, c: Console, mut form: Multipart) -> Response {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut file: Option<(String, bytes::Bytes)> = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                if name == "file" {
                    let fname = field.file_name().unwrap_or("upload.csv").to_string();
                    match field.bytes().await {
                        Ok(b) => file = Some((fname, b)),
                        Err(e) => {
                            return c.error(
                                StatusCode::BAD_REQUEST,
                                "The upload broke off",
                                &e.to_string(),
                            )
                        }
                    }
                } else {
                    let v = field.text().await.unwrap_or_default();
                    fields.insert(name, v);
                }
            }
            Ok(None) => break,
            Err(e) => {
                return c.error(
                    StatusCode::BAD_REQUEST,
                    "The upload broke off",
                    &e.to_string(),
                )
            }
        }
    }
    if let Some(r) = c.forged(fields.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let again = |error: String| {
        let kinds: Vec<&str> = bulk::Kind::ALL.iter().map(|k| k.name()).collect();
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(
                "import.html",
                c.page("jobs", "Import", context! { kinds, error }),
            ),
        )
            .into_response()
    };
    let Some((source, body)) = file.filter(|(_, b)| !b.is_empty()) else {
        return again("choose a CSV file".into());
    };
    let Some(kind) = fields.get("kind").and_then(|k| bulk::Kind::parse(k)) else {
        return again("choose the kind of records".into());
    };
    let Some(mode) =
        service::ImportMode::parse(fields.get("mode").map(String::as_str).unwrap_or("add"))
    else {
        return again("the mode is add, modify or delete".into());
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
    let id = match s.service.spawn_import(c.actor(), opts, body).await {
        Ok(j) => j.id,
        Err(e) => return again(e.to_string()),
    };
    Redirect::to(&format!("/jobs/{id}")).into_response()
}

async fn jobs(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &[]);
    let listed = s.service.import_jobs(f.limit, f.offset).await.map(|p| Listed {
        headers: &["Job", "Kind", "Mode", "File", "State", "Rows", "Ok", "Failed", "By", "Started"],
        total: p.total,
        rows: p
            .items
            .into_iter()
            .map(|j| {
                context! {
                    href => format!("/jobs/{}", j.id),
                    conflict => (j.failed > 0).then(|| format!("{} rows failed", j.failed)),
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
        },
        &q,
        &f,
        listed,
    )
}

async fn job(State(s): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
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
async fn run_job(
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
async fn export(State(s): State<AppState>, c: Console, Path(file): Path<String>) -> Response {
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

async fn job_errors_csv(State(s): State<AppState>, c: Console, Path(id): Path<i64>) -> Response {
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

// --- assets ---------------------------------------------------------------------------------

async fn htmx() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../assets/htmx-2.0.11.min.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/style.css"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders() {
        // Rendered with nothing (any name is an empty value): a filter or test that does not
        // exist, outside the loops an empty value skips, fails here instead of on a page.
        let mut e = env().clone();
        e.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for t in [
            "base.html",
            "login.html",
            "phones.html",
            "device.html",
            "device_form.html",
            "record.html",
            "record_form.html",
            "confirm.html",
            "batch.html",
            "fields.html",
            "stale.html",
            "list.html",
            "job.html",
            "import.html",
            "error.html",
            "dashboard.html",
        ] {
            e.get_template(t)
                .unwrap()
                .render(context! {})
                .unwrap_or_else(|err| panic!("{t}: {err}"));
        }
    }

    #[test]
    fn secure_cookies_where_browsers_keep_them() {
        let h = |host: &str, proto: Option<&str>| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, host.parse().unwrap());
            if let Some(p) = proto {
                m.insert("x-forwarded-proto", p.parse().unwrap());
            }
            secure_context(&m)
        };
        assert!(h("127.0.0.1:8080", None));
        assert!(h("localhost:8080", None));
        assert!(h("[::1]:8080", None));
        assert!(h("pbx.example.com", Some("https")));
        assert!(!h("pbx.example.com:8080", None));
        assert!(!h("10.0.0.5:8080", Some("http")));
    }

    #[test]
    fn a_log_in_only_goes_on_to_this_site() {
        assert_eq!(local_path("/phones?q=SEP"), "/phones?q=SEP");
        assert_eq!(local_path("//evil.example/x"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path("/\\evil"), "/");
    }
}
