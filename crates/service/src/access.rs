//! Administrators, roles and web console sessions.

use crate::auth::sha256_hex;
use crate::{hash_secret, Actor, Audit, Error, Result, Service};
use base64::Engine;
use model::access::{Action, Resource};
use model::*;
use rand::RngCore;

/// How long a web console session lasts without a request.
pub const SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// How often a session in use records that it was used.
pub(crate) const SESSION_TOUCH: std::time::Duration = std::time::Duration::from_secs(60);

/// A web console session: who, and the token its forms carry against CSRF.
#[derive(Clone)]
pub struct Session {
    pub actor: Actor,
    pub csrf: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("actor", &self.actor.name)
            .finish_non_exhaustive()
    }
}

pub(crate) fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Service {
    pub async fn roles(&self) -> Result<Vec<Role>> {
        let mut c = self.store.read().await?;
        Ok(store::admins::roles(&mut c)
            .await?
            .into_iter()
            .map(|r| r.role)
            .collect())
    }

    pub async fn role(&self, name: &str) -> Result<Role> {
        let mut c = self.store.read().await?;
        Ok(role_row(&mut c, name).await?.role)
    }

    pub async fn create_role(&self, actor: &Actor, req: NewRole) -> Result<Role> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::Role,
            target: req.name.clone(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let name = Name::parse("name", &req.name)?;
            check_privileges(&req.privileges)?;
            let role = Role {
                name: name.to_string(),
                description: req.description.trim().to_string(),
                builtin: false,
                privileges: req.privileges.clone(),
                version: 1,
                created_at: String::new(),
                updated_at: String::new(),
            };
            match store::admins::insert_role(tx.conn(), &role).await {
                Err(store::Error::Unique(_)) => {
                    return Err(Error::conflict(
                        "name",
                        format!(
                        "a role named `{name}` exists already: change it, or choose another name"
                    ),
                    ))
                }
                r => r?,
            };
            Ok(store::admins::role(tx.conn(), name.as_str())
                .await?
                .expect("the role just added")
                .role)
        })
        .await
    }

    pub async fn update_role(&self, actor: &Actor, name: &str, p: RolePatch) -> Result<Role> {
        crate::need_version(p.version)?;
        let a = Audit {
            action: Action::Update,
            resource: Resource::Role,
            target: name.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let row = role_row(tx.conn(), name).await?;
            if row.role.builtin {
                return Err(Error::invalid(
                    "name",
                    format!("{name} is built in: it cannot change (make a role of your own)"),
                ));
            }
            if row.role.version != p.version {
                return Err(crate::stale(&row.role));
            }
            let mut role = row.role.clone();
            if let Some(d) = &p.description {
                role.description = d.trim().to_string();
            }
            if let Some(ps) = &p.privileges {
                check_privileges(ps)?;
                role.privileges = ps.clone();
            }
            store::admins::update_role(tx.conn(), row.id, &role, p.version).await?;
            Ok(store::admins::role(tx.conn(), name)
                .await?
                .expect("the role just changed")
                .role)
        })
        .await
    }

    pub async fn delete_role(&self, actor: &Actor, name: &str) -> Result<()> {
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Role,
            target: name.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let row = role_row(tx.conn(), name).await?;
            if row.role.builtin {
                return Err(Error::invalid(
                    "name",
                    format!("{name} is built in: it cannot be removed"),
                ));
            }
            Ok(store::admins::delete_role(tx.conn(), row.id).await?)
        })
        .await
    }

    pub async fn administrators(&self) -> Result<Vec<Administrator>> {
        let mut c = self.store.read().await?;
        let mut out = Vec::new();
        for (id, username, created_at) in store::admins::list(&mut c).await? {
            out.push(Administrator {
                username,
                roles: store::admins::role_names(&mut c, id).await?,
                created_at,
            });
        }
        Ok(out)
    }

    pub async fn administrator(&self, username: &str) -> Result<Administrator> {
        self.administrators()
            .await?
            .into_iter()
            .find(|a| a.username == username)
            .ok_or_else(|| Error::NotFound(format!("there is no administrator `{username}`")))
    }

    pub async fn create_administrator(
        &self,
        actor: &Actor,
        req: NewAdministrator,
    ) -> Result<Administrator> {
        let name = Name::parse("username", &req.username)?;
        let pw = Password::parse("password", req.password.expose(), 8)?;
        let hash = hash_secret(pw.expose())?;
        let a = Audit {
            action: Action::Create,
            resource: Resource::Admin,
            target: name.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let roles = role_ids(tx.conn(), &req.roles).await?;
            let id = match store::admins::insert(tx.conn(), name.as_str(), &hash).await {
                Err(store::Error::Unique(_)) => {
                    return Err(Error::conflict(
                        "username",
                        format!("an administrator named `{name}` exists already"),
                    ))
                }
                r => r?,
            };
            store::admins::set_roles(tx.conn(), id, &roles).await?;
            Ok(())
        })
        .await?;
        self.administrator(name.as_str()).await
    }

    pub async fn update_administrator(
        &self,
        actor: &Actor,
        username: &str,
        p: AdministratorPatch,
    ) -> Result<Administrator> {
        let hash = match &p.password {
            Some(pw) => Some(hash_secret(
                Password::parse("password", pw.expose(), 8)?.expose(),
            )?),
            None => None,
        };
        let a = Audit {
            action: Action::Update,
            resource: Resource::Admin,
            target: username.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let admin = admin_row(tx.conn(), username).await?;
            if let Some(h) = &hash {
                store::admins::set_password(tx.conn(), admin.id, h).await?;
                // A new password ends the administrator's other sessions and tokens: whoever
                // held the old one keeps nothing of it.
                let keep = actor.credential.as_deref().unwrap_or("");
                store::admins::end_credentials(tx.conn(), admin.id, keep).await?;
            }
            if let Some(roles) = &p.roles {
                let ids = role_ids(tx.conn(), roles).await?;
                store::admins::set_roles(tx.conn(), admin.id, &ids).await?;
            }
            Ok(())
        })
        .await?;
        self.administrator(username).await
    }

    pub async fn delete_administrator(&self, actor: &Actor, username: &str) -> Result<()> {
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Admin,
            target: username.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            if username == actor.name {
                return Err(Error::invalid(
                    "username",
                    "you cannot remove yourself: another administrator can",
                ));
            }
            let admin = admin_row(tx.conn(), username).await?;
            Ok(store::admins::delete(tx.conn(), admin.id).await?)
        })
        .await
    }

    /// Logs an administrator in to the web console from `source`: a new session (its id for
    /// the cookie). Failures are throttled and audited as [`Service::authenticate_basic`]'s.
    pub async fn log_in(
        &self,
        username: &str,
        password: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<(String, Session)> {
        let actor = self.authenticate_basic(username, password, source).await?;
        let id = random_token();
        let csrf = random_token();
        let mut tx = self.store.write_unversioned().await?;
        let admin = store::admins::by_username(tx.conn(), username)
            .await?
            .ok_or_else(|| Error::Unauthorized("user name or password is wrong".into()))?;
        store::admins::insert_session(tx.conn(), &sha256_hex(&[id.as_bytes()]), admin.id, &csrf)
            .await?;
        tx.commit().await?;
        Ok((id, Session { actor, csrf }))
    }

    /// The session a cookie names, when it exists and was used within [`SESSION_IDLE`]; using it
    /// keeps it alive.
    pub async fn session(&self, id: &str) -> Result<Option<Session>> {
        let key = sha256_hex(&[id.as_bytes()]);
        let mut c = self.store.read().await?;
        let Some((admin, csrf, seen_at)) = store::admins::session(&mut c, &key).await? else {
            return Ok(None);
        };
        drop(c);
        if store::older_than(&seen_at, SESSION_IDLE) {
            let mut tx = self.store.write_unversioned().await?;
            store::admins::delete_session(tx.conn(), &key).await?;
            tx.commit().await?;
            return Ok(None);
        }
        // Written at most once a minute, not on every page and poll (a write takes SQLite's
        // write lock): a session then ends up to a minute before 30 idle minutes are over.
        if store::older_than(&seen_at, SESSION_TOUCH) {
            let mut tx = self.store.write_unversioned().await?;
            store::admins::touch_session(tx.conn(), &key).await?;
            tx.commit().await?;
        }
        Ok(Some(Session {
            actor: self.actor_of(&admin).await?.through(key),
            csrf,
        }))
    }

    pub async fn log_out(&self, id: &str) -> Result<()> {
        let mut tx = self.store.write_unversioned().await?;
        store::admins::delete_session(tx.conn(), &sha256_hex(&[id.as_bytes()])).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn role_row(conn: &mut store::Conn, name: &str) -> Result<store::admins::RoleRow> {
    store::admins::role(conn, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no role `{name}`")))
}

async fn admin_row(conn: &mut store::Conn, username: &str) -> Result<store::admins::AdminRow> {
    store::admins::by_username(conn, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no administrator `{username}`")))
}

fn check_privileges(ps: &[Privilege]) -> Result<()> {
    for (i, p) in ps.iter().enumerate() {
        p.check(&format!("privileges[{i}]"))?;
    }
    Ok(())
}

async fn role_ids(conn: &mut store::Conn, names: &[String]) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let r = store::admins::role(conn, n).await?.ok_or_else(|| {
            Error::invalid(format!("roles[{i}]"), format!("there is no role `{n}`"))
        })?;
        ids.push(r.id);
    }
    Ok(ids)
}
