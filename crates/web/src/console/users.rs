//! End users: view with conflicts, add, edit, delete.

use super::*;

/// The text fields of the user form: (field, label, input type). Passwords and PINs are
/// write-only: left empty, they stay as they are.
pub(super) const USER_FIELDS: &[(&str, &str, &str)] = &[
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
    (
        "presence_home_node",
        "Presence home node (empty: the least loaded)",
        "text",
    ),
    ("app_profiles.ldap", "LDAP profile", "text"),
    ("app_profiles.cti", "CTI gateway profile", "text"),
    ("app_profiles.proxy", "Proxy profile", "text"),
    (
        "app_profiles.voicemail",
        "Voicemail profile (a voicemail system)",
        "text",
    ),
    ("app_profiles.conferencing", "Conferencing profile", "text"),
];

/// Sets `key` in `m`; a dotted key (`app_profiles.cti`) inside its object.
fn put(m: &mut serde_json::Map<String, serde_json::Value>, key: &str, value: &str) {
    match key.split_once('.') {
        Some((outer, inner)) => {
            let o = m
                .entry(outer.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(o) = o {
                o.insert(inner.to_string(), value.into());
            }
        }
        None => {
            m.insert(key.to_string(), value.into());
        }
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct SystemQuery {
    pub(super) system: Option<String>,
}

/// A stored record's `fields` (field, label, input type) as a form shows them: text as it is,
/// numbers written out, nothing for a field left unset (or write-only).
pub(super) fn form_values<T: serde::Serialize>(
    record: &T,
    fields: &[(&str, &str, &str)],
) -> BTreeMap<String, String> {
    let v = serde_json::to_value(record).unwrap_or_default();
    fields
        .iter()
        .map(|(f, _, _)| {
            let at = f
                .split('.')
                .fold(&v, |v, k| v.get(k).unwrap_or(&serde_json::Value::Null));
            let x = match at {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (f.to_string(), x)
        })
        .collect()
}

pub(super) fn form_map(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

pub(super) fn user_fields(values: &BTreeMap<String, String>) -> Vec<Value> {
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

pub(super) fn values_of(u: &User) -> BTreeMap<String, String> {
    let mut v = form_values(u, USER_FIELDS);
    v.insert("system".into(), u.system.clone());
    v.insert("version".into(), u.version.to_string());
    v
}

pub(super) async fn systems_of_kind(s: &AppState, kind: SystemKind) -> Vec<String> {
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

pub(super) async fn user_form(
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

pub(super) async fn user(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Query(q): Query<SystemQuery>,
) -> Response {
    user_page(&s, &c, &key, q.system.as_deref(), None, None).await
}

/// The user's page, with what a form on it did (`done`) or why it was refused (`error`).
async fn user_page(
    s: &AppState,
    c: &Console,
    key: &str,
    system: Option<&str>,
    done: Option<String>,
    error: Option<String>,
) -> Response {
    match s.service.user(key, system).await {
        Ok(u) if !c.actor().may_read(&u.system, "user") => {
            let why = crate::auth::cannot_read(c.actor(), "user", Some(&u.system));
            c.error(
                StatusCode::FORBIDDEN,
                "Not yours to see",
                &why.detail.message,
            )
        }
        Ok(u) => {
            let a = c.actor();
            let logins = s
                .service
                .user_logins(&u.user_id, Some(&u.system))
                .await
                .unwrap_or_default();
            let mut r = render(
                "user.html",
                c.page(
                    "users",
                    &format!("User {}", u.user_id),
                    context! { may_update => a.may(&u.system, "user", "update"), may_delete => a.may(&u.system, "user", "delete"), u, done, error => error.clone(), logins },
                ),
            );
            if error.is_some() {
                *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            }
            r
        }
        Err(e) => c.failed(e),
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct UserFeatureForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    presence: Option<String>,
    #[serde(default)]
    soft_client: Option<String>,
    #[serde(default)]
    dnd: String,
}

/// Enable CUP and Enable CUPC for one user (seed 003, "Assigning Capabilities to Users").
pub(super) async fn user_capabilities(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Query(q): Query<SystemQuery>,
    Form(f): Form<UserFeatureForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let p = UserPatch {
        version: f.version,
        capabilities: Some(Capabilities {
            presence: f.presence.is_some(),
            soft_client: f.soft_client.is_some(),
        }),
        ..Default::default()
    };
    let sys = q.system.as_deref();
    match s.service.update_user(c.actor(), &key, sys, p).await {
        Ok(_) => user_page(&s, &c, &key, sys, Some("Capabilities saved.".into()), None).await,
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => user_page(&s, &c, &key, sys, None, Some(e.to_string())).await,
    }
}

/// A user's Do Not Disturb, on every phone associated with them.
pub(super) async fn user_dnd(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Query(q): Query<SystemQuery>,
    Form(f): Form<UserFeatureForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let mode = match f.dnd.as_str() {
        "off" => DndMode::Off,
        "call_reject" => DndMode::CallReject,
        "ringer_off" => DndMode::RingerOff,
        other => {
            let e = format!("Do Not Disturb {other:?}: choose off, call reject or ringer off");
            return user_page(&s, &c, &key, q.system.as_deref(), None, Some(e)).await;
        }
    };
    let sys = q.system.as_deref();
    match s.service.set_user_dnd(c.actor(), &key, sys, mode).await {
        Ok(r) => {
            let done = if r.devices.is_empty() {
                "No phone is associated with this user: nothing to set.".to_string()
            } else {
                format!(
                    "Do Not Disturb {} on {} ({} changed and told to resync).",
                    mode.as_str().replace('_', " "),
                    r.devices.join(", "),
                    r.changed.len()
                )
            };
            user_page(&s, &c, &key, sys, Some(done), None).await
        }
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => user_page(&s, &c, &key, sys, None, Some(e.to_string())).await,
    }
}

pub(super) async fn new_user(State(s): State<AppState>, c: Console) -> Response {
    user_form(&s, &c, None, BTreeMap::new(), None).await
}

pub(super) async fn create_user(
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
            put(&mut m, k, x);
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

pub(super) async fn edit_user(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Query(q): Query<SystemQuery>,
) -> Response {
    match s.service.user(&key, q.system.as_deref()).await {
        Ok(u) if !c.actor().may_read(&u.system, "user") => {
            let why = crate::auth::cannot_read(c.actor(), "user", Some(&u.system));
            c.error(
                StatusCode::FORBIDDEN,
                "Not yours to see",
                &why.detail.message,
            )
        }
        Ok(u) => user_form(&s, &c, Some(&u.user_id), values_of(&u), None).await,
        Err(e) => c.failed(e),
    }
}

pub(super) async fn update_user(
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
            put(&mut m, f, &x);
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

pub(super) async fn delete_user(
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
