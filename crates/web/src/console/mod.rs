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
use axum::extract::{ConnectInfo, FromRequestParts, Multipart, Path, Query, State};
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

mod admins;
mod assets;
mod chart;
mod devices;
mod firmware;
mod found;
mod help;
mod imports;
mod ldap_sync;
mod licensing;
mod lists;
mod login;
mod overview;
mod phones;
mod record_fields;
mod record_lists;
mod records;
mod self_care;
mod soft_clients;
mod stale;
mod templates;
mod users;
use admins::*;
use assets::*;
use devices::Dev;
use found::*;
use imports::*;
use lists::*;
use login::*;
use overview::*;
use phones::*;
use record_lists::*;
use records::Res;
use self_care::*;
use stale::*;
use templates::*;
use users::*;

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
    let r = record_routes(
        r,
        Res::DeviceTemplate,
        "/universal-device-templates",
        get(universal_device_templates),
    );
    let r = record_routes(
        r,
        Res::LineTemplate,
        "/universal-line-templates",
        get(universal_line_templates),
    );
    let r = record_routes(r, Res::UserProfile, "/user-profiles", get(user_profiles));
    let r = record_routes(
        r,
        Res::RestrictionTable,
        "/restriction-tables",
        get(record_lists::restriction_tables),
    );
    let r = record_routes(
        r,
        Res::SubscriberTemplate,
        "/subscriber-templates",
        get(record_lists::subscriber_templates),
    );
    let r = record_routes(r, Res::LdapServer, "/ldap-servers", get(ldap_servers));
    let r = record_routes(r, Res::LdapProfile, "/ldap-profiles", get(ldap_profiles));
    let r = model::soft_client::ClientKind::ALL
        .into_iter()
        .fold(r, |r, kind| {
            let list = get(
                move |State(s): State<AppState>,
                      c: Console,
                      Query(q): Query<BTreeMap<String, String>>| {
                    record_lists::client_records(s, c, kind, q)
                },
            );
            record_routes(r, Res::Client(kind), &format!("/{}", kind.path()), list)
        });
    let r = r
        .route(
            "/soft-clients",
            get(soft_clients::page).post(soft_clients::save),
        )
        .route("/soft-clients/rehome", post(soft_clients::rehome))
        .route(
            "/dial-rules/test",
            get(soft_clients::dial_test_page).post(soft_clients::dial_test_run),
        )
        .route(
            "/soft-clients/cti-from-systems",
            post(soft_clients::cti_from_systems),
        );
    let r = r.route(
        "/ldap-profiles/{key}/sync",
        get(ldap_sync::page).post(ldap_sync::run),
    );
    let r = device_routes(r, Dev::Phone, "/phones", get(phones));
    let r = device_routes(r, Dev::Profile, "/device-profiles", get(device_profiles));
    r.route("/self-care", get(self_care))
        .route("/self-care/login", post(self_care_login))
        .route("/self-care/claim", post(self_care_claim))
        .route("/self-care/logout", post(self_care_logout))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/", get(dashboard))
        .route("/users", get(users).post(create_user))
        .route("/people", get(people))
        .route(
            "/people/new",
            get(lists::new_person).post(lists::add_person),
        )
        .route("/users/new", get(new_user))
        .route("/users/{key}", get(user).post(update_user))
        .route("/users/{key}/edit", get(edit_user))
        .route("/users/{key}/delete", post(delete_user))
        .route("/users/{key}/capabilities", post(user_capabilities))
        .route("/phones/{name}/em/{what}", post(devices::phone_login))
        .route("/users/{key}/dnd", post(user_dnd))
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
        .route("/firmware", get(firmware::firmware_page))
        .route(
            "/firmware/upload",
            post(firmware::upload).layer(axum::extract::DefaultBodyLimit::max(
                service::MAX_FIRMWARE_UPLOAD_BYTES as usize + (1 << 20),
            )),
        )
        .route("/firmware/files/{name}/delete", post(firmware::delete))
        .route("/firmware/loads", post(firmware::choose))
        .route("/firmware/loads/remove", post(firmware::unchoose))
        .route("/licensing", get(licensing::licensing_page))
        .route("/licensing/upload", post(licensing::upload_licence))
        .route(
            "/licensing/licences/{id}/remove",
            post(licensing::remove_licence),
        )
        .route("/licensing/calculator", post(licensing::calculate))
        .route("/licensing/users", get(licensing::licensed_users))
        .route(
            "/licensing/capabilities",
            get(licensing::capabilities_page).post(licensing::assign_capabilities),
        )
        .route("/status", get(status))
        .route("/audit", get(audit))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/run", post(run_job))
        .route("/jobs/{id}/errors.csv", get(job_errors_csv))
        .route("/imports/new", get(new_import))
        .route(
            "/imports",
            // The file's own limit answers first: the form's fields are a few hundred bytes.
            post(start_import).layer(axum::extract::DefaultBodyLimit::max(
                service::MAX_IMPORT_BYTES as usize + (64 << 10),
            )),
        )
        .route("/exports/{file}", get(export))
        .route("/help/csv", get(help::csv_help))
        .route("/assets/htmx.min.js", get(htmx))
        .route("/assets/style.css", get(style))
        .route("/assets/console.js", get(console_js))
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
        // `{{ kind|words }}`: "device-profiles" as "Device profiles".
        e.add_filter("words", |s: String| lists::words(&s));
        // `{{ job.created_at|when }}`: a stored time as <time>, which console.js shows in the
        // reader's time zone.
        e.add_filter("when", |s: String| {
            let s = lists::html_escape(&s);
            Value::from_safe_string(format!(r#"<time datetime="{s}">{s}</time>"#))
        });
        // `{% if c is timestamp %}`: a stored time (RFC 3339), shown as <time>.
        e.add_test("timestamp", |s: String| {
            let b = s.as_bytes();
            b.len() >= 20
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && b[..4].iter().all(u8::is_ascii_digit)
        });
        // `{{ n|counted("record", "records") }}`: "1 record", "2 records".
        e.add_filter("counted", |n: Value, one: String, many: String| {
            model::counted(n, &one, &many)
        });
        // `{{ status.state|state }}`: "never_seen" as "Never seen".
        e.add_filter("state", |s: String| lists::state_words(&s).to_string());
        for (name, src) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("login.html", include_str!("../../templates/login.html")),
            (
                "self_care.html",
                include_str!("../../templates/self_care.html"),
            ),
            (
                "dashboard.html",
                include_str!("../../templates/dashboard.html"),
            ),
            ("phones.html", include_str!("../../templates/phones.html")),
            ("pages.html", include_str!("../../templates/pages.html")),
            ("headers.html", include_str!("../../templates/headers.html")),
            (
                "help_csv.html",
                include_str!("../../templates/help_csv.html"),
            ),
            ("device.html", include_str!("../../templates/device.html")),
            (
                "device_form.html",
                include_str!("../../templates/device_form.html"),
            ),
            ("stale.html", include_str!("../../templates/stale.html")),
            ("list.html", include_str!("../../templates/list.html")),
            ("import.html", include_str!("../../templates/import.html")),
            ("job.html", include_str!("../../templates/job.html")),
            ("error.html", include_str!("../../templates/error.html")),
            (
                "template_form.html",
                include_str!("../../templates/template_form.html"),
            ),
            (
                "record_form.html",
                include_str!("../../templates/record_form.html"),
            ),
            (
                "ldap_sync.html",
                include_str!("../../templates/ldap_sync.html"),
            ),
            (
                "soft_clients.html",
                include_str!("../../templates/soft_clients.html"),
            ),
            (
                "dial_test.html",
                include_str!("../../templates/dial_test.html"),
            ),
            ("record.html", include_str!("../../templates/record.html")),
            ("fields.html", include_str!("../../templates/fields.html")),
            (
                "user_form.html",
                include_str!("../../templates/user_form.html"),
            ),
            ("user.html", include_str!("../../templates/user.html")),
            ("admins.html", include_str!("../../templates/admins.html")),
            ("batch.html", include_str!("../../templates/batch.html")),
            (
                "person_form.html",
                include_str!("../../templates/person_form.html"),
            ),
            (
                "firmware.html",
                include_str!("../../templates/firmware.html"),
            ),
            (
                "licensing.html",
                include_str!("../../templates/licensing.html"),
            ),
            (
                "licensed_users.html",
                include_str!("../../templates/licensed_users.html"),
            ),
            (
                "capabilities.html",
                include_str!("../../templates/capabilities.html"),
            ),
            ("confirm.html", include_str!("../../templates/confirm.html")),
            (
                "template.html",
                include_str!("../../templates/template.html"),
            ),
        ] {
            e.add_template(name, src)
                .expect("the console's templates parse (a test renders each)");
        }
        e
    })
}

/// An uploaded file as a multipart form carries it: its name (empty when the browser sent none)
/// and its bytes.
type Upload = (String, bytes::Bytes);

/// A multipart form's text fields and its `file`; or the page saying the upload broke off.
async fn read_upload(
    c: &Console,
    mut form: Multipart,
) -> Result<(BTreeMap<String, String>, Option<Upload>), Box<Response>> {
    let broke = |e: String| Box::new(c.error(StatusCode::BAD_REQUEST, "The upload broke off", &e));
    let mut fields = BTreeMap::new();
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(|e| broke(e.to_string()))? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let fname = field.file_name().unwrap_or("").to_string();
            file = Some((
                fname,
                field.bytes().await.map_err(|e| broke(e.to_string()))?,
            ));
        } else {
            fields.insert(name, field.text().await.unwrap_or_default());
        }
    }
    Ok((fields, file))
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
        // What an administrator uses every day, then the rest by what it is about.
        const MAIN: &[(&str, &str, &str)] = &[
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
            ("firmware", "/firmware", "Firmware"),
            ("status", "/status", "Status"),
            ("audit", "/audit", "Audit log"),
        ];
        type Links = &'static [(&'static str, &'static str, &'static str)];
        const MORE: &[(&str, Links)] = &[
            (
                "Directory",
                &[
                    ("people", "/people", "Users and subscribers"),
                    ("ldap-profiles", "/ldap-profiles", "LDAP profiles"),
                    ("ldap-servers", "/ldap-servers", "LDAP servers"),
                ],
            ),
            (
                "Voicemail",
                &[
                    (
                        "subscriber-templates",
                        "/subscriber-templates",
                        "Subscriber templates",
                    ),
                    (
                        "restriction-tables",
                        "/restriction-tables",
                        "Restriction tables",
                    ),
                ],
            ),
            (
                "Soft clients",
                &[
                    (
                        "presence-subclusters",
                        "/presence-subclusters",
                        "Presence subclusters",
                    ),
                    ("proxy-profiles", "/proxy-profiles", "Proxy profiles"),
                    (
                        "cti-gateway-servers",
                        "/cti-gateway-servers",
                        "CTI gateway servers",
                    ),
                    (
                        "cti-gateway-profiles",
                        "/cti-gateway-profiles",
                        "CTI gateway profiles",
                    ),
                    ("soft-clients", "/soft-clients", "Soft-client settings"),
                ],
            ),
            (
                "Self-provisioning",
                &[
                    ("user-profiles", "/user-profiles", "User profiles"),
                    (
                        "universal-device-templates",
                        "/universal-device-templates",
                        "Device templates",
                    ),
                    (
                        "universal-line-templates",
                        "/universal-line-templates",
                        "Line templates",
                    ),
                ],
            ),
            (
                "Administration",
                &[
                    ("dial-rules", "/dial-rules", "Dial rules"),
                    ("licensing", "/licensing", "Licensing"),
                    ("systems", "/systems", "Systems"),
                    ("admins", "/admins", "Administrators"),
                ],
            ),
        ];
        // Only what the administrator may see.
        let links = |items: &[(&str, &str, &str)]| -> Vec<Value> {
            items
                .iter()
                .filter(|(key, _, _)| {
                    crate::auth::resource_of(key)
                        .is_none_or(|r| crate::auth::may_see(self.actor(), r))
                })
                .map(|(key, href, label)| context! { key, href, label })
                .collect()
        };
        let nav = links(MAIN);
        let more: Vec<Value> = MORE
            .iter()
            .map(|(group, items)| context! { group, links => links(items) })
            .filter(|g| g.get_attr("links").is_ok_and(|l| l.len().unwrap_or(0) > 0))
            .collect();
        let more_here = MORE
            .iter()
            .any(|(_, items)| items.iter().any(|(key, _, _)| *key == here));
        context! {
            admin => self.actor().name,
            csrf => self.session.csrf,
            nav, more, more_here,
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
            service::Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "Too large"),
            service::Error::Upstream(_) => {
                (StatusCode::BAD_GATEWAY, "The directory did not answer")
            }
            service::Error::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable",
            ),
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
            Ok(Some(session)) => {
                let c = Console { session };
                // A page of records the administrator may not see, on any system.
                let first = parts.uri.path().trim_start_matches('/').split('/').next();
                if let Some(resource) = first.and_then(crate::auth::resource_of) {
                    if !crate::auth::may_see(c.actor(), resource) {
                        return Err(c.error(
                            StatusCode::FORBIDDEN,
                            "Not yours to see",
                            &crate::auth::cannot_read(c.actor(), resource, None)
                                .detail
                                .message,
                        ));
                    }
                }
                Ok(c)
            }
            Ok(None) => Err(to_login(true)),
            Err(e) => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the database: {e}"),
            )
                .into_response()),
        }
    }
}

/// `s` percent-encoded for a URL path or query (`/` kept).
pub(crate) fn urlencode(s: &str) -> String {
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

/// The page of a line (a directory number is unique per system and partition).
fn line_path(pattern: &str, partition: &str, system: &str, then: &str) -> String {
    format!(
        "/lines/{}{then}?partition={}&system={}",
        urlencode(pattern),
        urlencode(partition),
        urlencode(system)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_page_has_inline_script_or_style() {
        // The Content-Security-Policy runs only the console's own files: an inline handler, a
        // script without `src`, a `javascript:` link or a style attribute would silently do
        // nothing in a browser.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
            for bad in [
                " onclick=",
                " onsubmit=",
                " onchange=",
                " onload=",
                " style=",
                "javascript:",
                "<style",
            ] {
                if text.contains(bad) {
                    found.push(format!("{}: {bad}", path.display()));
                }
            }
            if text
                .match_indices("<script")
                .any(|(i, _)| !text[i..].split('>').next().unwrap_or("").contains(" src="))
            {
                found.push(format!("{}: an inline <script>", path.display()));
            }
        }
        assert!(found.is_empty(), "{found:#?}");
    }

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
