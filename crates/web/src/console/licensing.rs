//! Licensing (docs/licensing.md): the licence unit report with the licences and their upload,
//! the calculator, the licensed users (the status summary) and capabilities given to the users
//! a find holds (seed 003: "System > Licensing").

use super::*;

#[derive(serde::Deserialize, Default)]
pub(super) struct LicensingQuery {
    #[serde(default)]
    done: String,
}

/// `/licensing`: units authorised, used and remaining; the licences; the upload; the calculator.
pub(super) async fn licensing_page(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<LicensingQuery>,
) -> Response {
    let done = match q.done.as_str() {
        "uploaded" => Some("The licence is uploaded."),
        "removed" => Some("The licence is removed."),
        _ => None,
    };
    licensing(&s, &c, done, None, None, &UsedBy::default()).await
}

use model::licensing::{Calculation, UsedBy};

async fn licensing(
    s: &AppState,
    c: &Console,
    done: Option<&str>,
    error: Option<String>,
    calc: Option<Calculation>,
    counts: &UsedBy,
) -> Response {
    let report = match s.service.licence_report().await {
        Ok(r) => r,
        Err(e) => return c.failed(e),
    };
    let units: Vec<Value> = report
        .units
        .iter()
        .map(|u| {
            context! {
                kind => match u.kind {
                    model::licensing::UnitKind::Device => "Device",
                    model::licensing::UnitKind::PresenceUser => "Presence user (Enable CUP)",
                    model::licensing::UnitKind::SoftClient => "Soft client (Enable CUPC)",
                },
                key => u.kind.as_str(),
                authorised => u.authorised, used => u.used, remaining => u.remaining,
            }
        })
        .collect();
    let a = c.actor();
    let mut r = render(
        "licensing.html",
        c.page(
            "licensing",
            "Licensing",
            context! {
                enforced => report.enforced,
                units,
                licences => report.licences,
                used_by => report.used_by,
                may_upload => a.may("", "licence", "create"),
                may_remove => a.may("", "licence", "delete"),
                done, error => error.clone(), calc, counts,
            },
        ),
    );
    if error.is_some() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

/// The upload form: a `.lic` file.
pub(super) async fn upload_licence(
    State(s): State<AppState>,
    c: Console,
    form: Multipart,
) -> Response {
    let (fields, file) = match read_upload(&c, form).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let csrf = fields.get("csrf").cloned().unwrap_or_default();
    if let Some(r) = c.forged(&csrf) {
        return r;
    }
    let Some((name, bytes)) = file.filter(|(n, _)| !n.is_empty()) else {
        let e = "choose the licence file (.lic) to upload".to_string();
        return licensing(&s, &c, None, Some(e), None, &UsedBy::default()).await;
    };
    match s.service.upload_licence(c.actor(), &name, &bytes).await {
        Ok(_) => Redirect::to("/licensing?done=uploaded").into_response(),
        Err(e) => licensing(&s, &c, None, Some(e.to_string()), None, &UsedBy::default()).await,
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn remove_licence(
    State(s): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    match s.service.delete_licence(c.actor(), &id).await {
        Ok(()) => Redirect::to("/licensing?done=removed").into_response(),
        Err(e) => licensing(&s, &c, None, Some(e.to_string()), None, &UsedBy::default()).await,
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct CalculatorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    desk_phones: String,
    #[serde(default)]
    soft_phones: String,
    #[serde(default)]
    adjunct_soft_phones: String,
    #[serde(default)]
    presence_users: String,
    #[serde(default)]
    soft_client_users: String,
}

/// The licence unit calculator.
pub(super) async fn calculate(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<CalculatorForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let mut counts = UsedBy::default();
    let mut wrong = None;
    for (label, v, slot) in [
        ("Desk phones", &f.desk_phones, &mut counts.desk_phones),
        ("Soft phones", &f.soft_phones, &mut counts.soft_phones),
        (
            "Adjunct soft phones",
            &f.adjunct_soft_phones,
            &mut counts.adjunct_soft_phones,
        ),
        (
            "Users with Enable CUP",
            &f.presence_users,
            &mut counts.presence_users,
        ),
        (
            "Users with Enable CUPC",
            &f.soft_client_users,
            &mut counts.soft_client_users,
        ),
    ] {
        let v = v.trim();
        match v.parse() {
            Ok(n) => *slot = n,
            Err(_) if v.is_empty() => {}
            Err(_) => wrong = wrong.or(Some(format!("{label}: {v:?} is not a count"))),
        }
    }
    if let Some(e) = wrong {
        return licensing(&s, &c, None, Some(e), None, &counts).await;
    }
    match s.service.calculate_units(&counts).await {
        Ok(calc) => licensing(&s, &c, None, None, Some(calc), &counts).await,
        Err(e) => licensing(&s, &c, None, Some(e.to_string()), None, &counts).await,
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct OffsetQuery {
    #[serde(default)]
    offset: i64,
}

/// `/licensing/users`: the status summary.
pub(super) async fn licensed_users(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<OffsetQuery>,
) -> Response {
    match s.service.licensed_users(PAGE, q.offset).await {
        Ok(p) => {
            let next = (p.offset + p.limit < p.total).then_some(p.offset + p.limit);
            let prev = (p.offset > 0).then_some((p.offset - p.limit).max(0));
            render(
                "licensed_users.html",
                c.page("licensing", "Licensed users", context! { p, next, prev }),
            )
        }
        Err(e) => c.failed(e),
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct CapabilitiesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    presence: String,
    #[serde(default)]
    soft_client: String,
}

/// `/licensing/capabilities`: the users a find holds, and the capabilities to give them.
pub(super) async fn capabilities_page(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let find = q.get("q").cloned().unwrap_or_default();
    let f = model::Find {
        q: Some(find.clone()).filter(|q| !q.is_empty()),
        limit: PAGE,
        count_up_to: Some(model::Find::LIST_COUNT),
        ..Default::default()
    };
    match s.service.find_users(&f).await {
        Ok(p) => render(
            "capabilities.html",
            c.page(
                "licensing",
                "Capabilities assignment",
                context! { q => find, p },
            ),
        ),
        Err(e) => c.failed(e),
    }
}

fn choice(v: &str) -> Option<bool> {
    match v {
        "set" => Some(true),
        "clear" => Some(false),
        _ => None,
    }
}

/// Gives the capabilities to every user the find holds, each on their own.
pub(super) async fn assign_capabilities(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<CapabilitiesForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let find = model::Find {
        q: Some(f.q.trim().to_string()).filter(|q| !q.is_empty()),
        ..Default::default()
    };
    let all = match s
        .service
        .assign_capabilities_found(c.actor(), find, choice(&f.presence), choice(&f.soft_client))
        .await
    {
        Ok(r) => r,
        Err(e) => return c.failed(e),
    };
    render(
        "batch.html",
        c.page(
            "licensing",
            "Capabilities assigned",
            context! { heading => "Assigning capabilities", done => "assigned", link => "/users/", r => all },
        ),
    )
}
