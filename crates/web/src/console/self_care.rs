//! The self-care page (`/self-care`): an end user logs in with their user ID and password, sees
//! their phones and their limit, and claims a phone by its MAC or the number it shows. Its
//! session is the user's own (cookie `dialtone_self_care`), never an administrator's.

use super::*;

const SELF_CARE_COOKIE: &str = "dialtone_self_care";

fn set_cookie(value: &str, headers: &HeaderMap, max_age: u64) -> String {
    format!(
        "{SELF_CARE_COOKIE}={value}; Path=/self-care; HttpOnly; SameSite=Strict;{} Max-Age={max_age}",
        if login::secure_context(headers) { " Secure;" } else { "" },
    )
}

async fn session(s: &AppState, headers: &HeaderMap) -> Option<service::EndUserSession> {
    let id = cookie(headers, SELF_CARE_COOKIE).filter(|c| !c.is_empty())?;
    s.service.end_user_session(&id).await.ok().flatten()
}

/// The log-in form, with the systems to choose from when there are several call-control ones.
async fn login_form(
    s: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    error: Option<String>,
) -> Response {
    let systems: Vec<String> = s
        .service
        .systems()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x.kind == SystemKind::CallControl)
        .map(|x| x.name)
        .collect();
    let systems = (systems.len() > 1).then_some(systems);
    let note = (!login::secure_context(headers)).then_some(login::PLAIN_HTTP);
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    (
        status,
        render("self_care.html", context! { user_id, error, note, systems }),
    )
        .into_response()
}

async fn page(s: &AppState, u: &service::EndUserSession, notice: Option<Value>) -> Response {
    let care = match s.service.self_care(u).await {
        Ok(c) => c,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    let n = care.phones.len();
    let (limit, may_claim) = match &care.profile {
        Some(p) if p.allow_self_provisioning => (
            format!(
                "You have {n} phone{} of the {} your profile ({}) allows.",
                if n == 1 { "" } else { "s" },
                p.phone_limit,
                p.name
            ),
            (n as i64) < p.phone_limit,
        ),
        Some(p) => (
            format!(
                "Your profile ({}) does not let you add phones yourself: ask an administrator.",
                p.name
            ),
            false,
        ),
        None => (
            "You have no user profile, so you cannot add phones yourself: ask an administrator."
                .to_string(),
            false,
        ),
    };
    let phones: Vec<Value> = care
        .phones
        .iter()
        .map(|p| {
            let lines: Vec<String> = p.lines.iter().map(|l| l.pattern.clone()).collect();
            context! { name => p.name, model => p.model, description => p.description, lines => lines.join(", ") }
        })
        .collect();
    render(
        "self_care.html",
        context! { user => context! { display => u.display, user_id => u.user_id, csrf => u.csrf }, phones, limit, may_claim, notice },
    )
}

pub(super) async fn self_care(State(s): State<AppState>, headers: HeaderMap) -> Response {
    match session(&s, &headers).await {
        Some(u) => page(&s, &u, None).await,
        None => login_form(&s, &headers, "", None).await,
    }
}

#[derive(serde::Deserialize)]
pub(super) struct SelfCareLogin {
    user_id: String,
    password: String,
    #[serde(default)]
    system: String,
}

pub(super) async fn self_care_login(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<SelfCareLogin>,
) -> Response {
    if let Some(from) = super::login::foreign_origin(&headers) {
        let error =
            format!("This log-in was sent from another site ({from}): log in from this page.");
        let page = login_form(&s, &headers, "", Some(error)).await;
        return (StatusCode::FORBIDDEN, page).into_response();
    }
    let system = (!f.system.is_empty()).then_some(f.system.as_str());
    match s
        .service
        .end_user_log_in(system, &f.user_id, &f.password)
        .await
    {
        Ok((id, _)) => (
            [(
                header::SET_COOKIE,
                set_cookie(&id, &headers, service::SESSION_IDLE.as_secs() * 48),
            )],
            Redirect::to("/self-care"),
        )
            .into_response(),
        Err(e) => login_form(&s, &headers, &f.user_id, Some(e.to_string())).await,
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct ClaimForm {
    csrf: String,
    phone: String,
}

pub(super) async fn self_care_claim(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<ClaimForm>,
) -> Response {
    let Some(u) = session(&s, &headers).await else {
        return login_form(
            &s,
            &headers,
            "",
            Some("Your session ended: log in again.".into()),
        )
        .await;
    };
    if !constant_time_eq(f.csrf.as_bytes(), u.csrf.as_bytes()) {
        return (
            StatusCode::FORBIDDEN,
            "this form is out of date: reload the page\n",
        )
            .into_response();
    }
    let c = service::Claim {
        phone: f.phone.trim().to_string(),
        user: u.user_id.clone(),
        secret: None,
        via: "self-care",
        system: Some(u.system.clone()),
        authenticated: true,
    };
    let notice = match crate::claims::claim(
        &s.service,
        s.resync.as_ref(),
        &Actor::new("self-care"),
        &c,
    )
    .await
    {
        Ok(done) => {
            context! { kind => "good", text => format!("{} is yours now, with extension {}: it restarts with its new settings.", done.phone, done.extension) }
        }
        Err(e) => context! { kind => "bad", text => e.message },
    };
    page(&s, &u, Some(notice)).await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct LogoutForm {
    csrf: String,
}

pub(super) async fn self_care_logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    if let (Some(id), Some(u)) = (
        cookie(&headers, SELF_CARE_COOKIE),
        session(&s, &headers).await,
    ) {
        if constant_time_eq(f.csrf.as_bytes(), u.csrf.as_bytes()) {
            let _ = s.service.end_user_log_out(&id).await;
        }
    }
    (
        [(header::SET_COOKIE, set_cookie("", &headers, 0))],
        Redirect::to("/self-care"),
    )
        .into_response()
}
