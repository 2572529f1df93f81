//! Logging in and out.

use super::*;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct LoginQuery {
    pub(super) next: String,
    pub(super) idle: Option<String>,
}

/// Whether the browser reached the console over HTTPS (directly, or through a proxy that says
/// so) or on this machine, where browsers keep `Secure` cookies on plain HTTP.
pub(super) fn secure_context(headers: &HeaderMap) -> bool {
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

/// Where a log-in form was sent from, when a browser says it was another site: a page
/// elsewhere posting the form would log the browser in as the attacker's account (log-in
/// CSRF). Browsers send `Sec-Fetch-Site` and `Origin` with every cross-site POST; a request
/// with neither (curl, a script) is not a browser's and is let through.
pub(super) fn foreign_origin(headers: &HeaderMap) -> Option<String> {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Some(get("origin").unwrap_or(site).to_string());
        }
    }
    let origin = get("origin")?;
    let host = get(header::HOST.as_str()).unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
        .unwrap_or("");
    (origin == "null" || !origin_host.eq_ignore_ascii_case(host)).then(|| origin.to_string())
}

pub(super) const PLAIN_HTTP: &str = "This page came over plain HTTP: your password and the session cross the network unencrypted. Put the console behind HTTPS (a proxy that sets X-Forwarded-Proto: https).";

pub(super) async fn login_page(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
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
pub(super) struct LoginForm {
    pub(super) username: String,
    pub(super) password: String,
    #[serde(default)]
    pub(super) next: String,
}

pub(super) async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Some(from) = foreign_origin(&headers) {
        tracing::warn!(origin = %from, source = %peer.ip(), "a log-in form sent from another site was refused");
        let error = format!(
            "This log-in was sent from another site ({from}): log in from the console's own page."
        );
        return (
            StatusCode::FORBIDDEN,
            render(
                "login.html",
                context! { next => local_path(&f.next), username => "", error },
            ),
        )
            .into_response();
    }
    match s
        .service
        .log_in(&f.username, &f.password, Some(peer.ip()))
        .await
    {
        Ok((id, _)) => {
            // `Secure` wherever the browser keeps it; over plain HTTP to another machine it
            // would drop the cookie, and the log-in page says why that is unsafe instead.
            let cookie = format!(
                "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict;{} Max-Age={}",
                if secure_context(&headers) {
                    " Secure;"
                } else {
                    ""
                },
                service::SESSION_IDLE.as_secs() * 48
            );
            (
                [(header::SET_COOKIE, cookie)],
                Redirect::to(local_path(&f.next)),
            )
                .into_response()
        }
        Err(e) => {
            let status = match &e {
                service::Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            (
                status,
                render(
                    "login.html",
                    context! { next => local_path(&f.next), username => f.username, error => e.to_string() },
                ),
            )
                .into_response()
        }
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

pub(super) async fn logout(
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
