//! Administrators and roles.

use super::*;

pub(super) async fn admins(State(s): State<AppState>, c: Console) -> Response {
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

pub(super) async fn create_admin(
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
pub(super) async fn update_admin(
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

pub(super) async fn delete_role(
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
pub(super) struct RoleForm {
    pub(super) csrf: String,
    pub(super) name: String,
    pub(super) privileges: String,
}

pub(super) async fn create_role(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<RoleForm>,
) -> Response {
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
