//! User profiles (self-provisioning, docs/self-provisioning.md): the universal templates a
//! user's phones and lines get, whether the user may provision their own phones, and how many.

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::self_provisioning::check_phone_limit;
use model::{Name, NewUserProfile, Page, SystemKind, UserProfile, UserProfilePatch};
use store::universal_templates::{self as ut, TemplateKind};
use store::user_profiles::{self as up, ProfileRow};

/// The template a profile names, on the profile's system: `None` for none (`""`).
async fn template_id(
    conn: &mut store::Conn,
    kind: TemplateKind,
    system_id: i64,
    system: &str,
    name: Option<&str>,
) -> Result<Option<i64>> {
    let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let (field, noun) = match kind {
        TemplateKind::Device => ("device_template", "universal device template"),
        TemplateKind::Line => ("line_template", "universal line template"),
    };
    match ut::id_on(conn, kind, system_id, n).await? {
        Some(id) => Ok(Some(id)),
        None => Err(Error::invalid(
            field,
            format!("there is no {noun} {n} on {system}: add it first"),
        )),
    }
}

impl Service {
    async fn user_profile_id(
        &self,
        conn: &mut store::Conn,
        key: &str,
        system: Option<&str>,
    ) -> Result<i64> {
        let mut found = up::ids_by_name(conn, key).await?;
        if let Some(sys) = system.filter(|s| !s.is_empty()) {
            let id = self
                .systems_in(conn)
                .await?
                .iter()
                .find(|s| s.name == sys)
                .map(|s| s.id);
            found.retain(|(_, s)| Some(*s) == id);
        }
        match found.len() {
            1 => Ok(found[0].0),
            0 => match key.parse::<i64>() {
                Ok(id) => up::by_id(conn, id)
                    .await
                    .map(|p| p.id)
                    .map_err(|e| crate::nf(e, || format!("there is no user profile {key}"))),
                Err(_) => Err(Error::NotFound(format!("there is no user profile {key}"))),
            },
            _ => Err(Error::Ambiguous(format!(
                "user profile {key} exists on several systems: choose one with ?system=NAME"
            ))),
        }
    }

    pub async fn find_user_profiles(&self, f: &model::Find) -> Result<Page<UserProfile>> {
        let mut c = self.store.read().await?;
        Ok(up::find(&mut c, f).await?)
    }

    pub async fn user_profile(&self, key: &str, system: Option<&str>) -> Result<UserProfile> {
        let mut c = self.store.read().await?;
        let id = self.user_profile_id(&mut c, key, system).await?;
        Ok(up::by_id(&mut c, id).await?)
    }

    pub async fn create_user_profile(
        &self,
        actor: &Actor,
        req: NewUserProfile,
    ) -> Result<UserProfile> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::UserProfile,
            target: req.name.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::CallControl)
                .await?;
            a.system = sys.name.clone();
            let name = Name::parse("name", &req.name)?;
            check_phone_limit(req.phone_limit)?;
            if up::on_system(tx.conn(), sys.id, name.as_str())
                .await?
                .is_some()
            {
                return Err(Error::conflict(
                    "name",
                    format!("user profile {name} already exists on {}", sys.name),
                ));
            }
            let row = ProfileRow {
                system_id: sys.id,
                name: name.into_string(),
                description: req.description.trim().into(),
                device_template_id: template_id(
                    tx.conn(),
                    TemplateKind::Device,
                    sys.id,
                    &sys.name,
                    req.device_template.as_deref(),
                )
                .await?,
                line_template_id: template_id(
                    tx.conn(),
                    TemplateKind::Line,
                    sys.id,
                    &sys.name,
                    req.line_template.as_deref(),
                )
                .await?,
                allow_self_provisioning: req.allow_self_provisioning,
                phone_limit: req.phone_limit,
            };
            let id = up::insert(tx.conn(), &row).await?;
            Ok(up::by_id(tx.conn(), id).await?)
        })
        .await
    }

    pub async fn update_user_profile(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        p: UserProfilePatch,
    ) -> Result<UserProfile> {
        crate::need_version(p.version)?;
        let current = {
            let mut c = self.store.read().await?;
            let id = self.user_profile_id(&mut c, key, system).await?;
            up::by_id(&mut c, id).await?
        };
        let a = Audit {
            action: Action::Update,
            resource: Resource::UserProfile,
            target: current.name.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            if let Some(s) = p.system.as_deref().filter(|s| *s != current.system) {
                return Err(Error::invalid(
                    "system",
                    format!(
                        "a user profile cannot move from {} to {s}: add it on {s} instead",
                        current.system
                    ),
                ));
            }
            let sys = store::systems::by_name(tx.conn(), &current.system).await?;
            let name = Name::parse("name", p.name.as_deref().unwrap_or(&current.name))?;
            let phone_limit = p.phone_limit.unwrap_or(current.phone_limit);
            check_phone_limit(phone_limit)?;
            if name.as_str() != current.name
                && up::on_system(tx.conn(), sys.id, name.as_str())
                    .await?
                    .is_some()
            {
                return Err(Error::conflict(
                    "name",
                    format!("user profile {name} already exists on {}", sys.name),
                ));
            }
            let device = p
                .device_template
                .as_deref()
                .or(current.device_template.as_deref());
            let line = p
                .line_template
                .as_deref()
                .or(current.line_template.as_deref());
            let row = ProfileRow {
                system_id: sys.id,
                name: name.into_string(),
                description: p
                    .description
                    .as_deref()
                    .unwrap_or(&current.description)
                    .trim()
                    .into(),
                device_template_id: template_id(
                    tx.conn(),
                    TemplateKind::Device,
                    sys.id,
                    &sys.name,
                    device,
                )
                .await?,
                line_template_id: template_id(
                    tx.conn(),
                    TemplateKind::Line,
                    sys.id,
                    &sys.name,
                    line,
                )
                .await?,
                allow_self_provisioning: p
                    .allow_self_provisioning
                    .unwrap_or(current.allow_self_provisioning),
                phone_limit,
            };
            let written = up::update(tx.conn(), current.id, p.version, &current.name, &row).await;
            crate::unless_stale(
                written,
                async || Ok(up::by_id(tx.conn(), current.id).await?),
            )
            .await?;
            Ok(up::by_id(tx.conn(), current.id).await?)
        })
        .await
    }

    pub async fn delete_user_profile(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
    ) -> Result<()> {
        let current = self.user_profile(key, system).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::UserProfile,
            target: current.name.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let sys = store::systems::by_name(tx.conn(), &current.system).await?;
            let users = up::users_of(tx.conn(), sys.id, &current.name, 11).await?;
            if !users.is_empty() {
                let more = if users.len() > 10 { ", …" } else { "" };
                return Err(Error::conflict(
                    "name",
                    format!(
                        "user profile {} is the profile of {}{more}: give them another first",
                        current.name,
                        users
                            .iter()
                            .take(10)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            Ok(up::delete(tx.conn(), current.id).await?)
        })
        .await
    }

    /// Checks that a user's profile names a user profile of their system (`None` or `""`:
    /// none).
    pub(crate) async fn check_user_profile(
        &self,
        conn: &mut store::Conn,
        system_id: i64,
        system: &str,
        name: Option<&str>,
    ) -> Result<Option<String>> {
        let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        match up::on_system(conn, system_id, n).await? {
            Some(p) => Ok(Some(p.name)),
            None => Err(Error::invalid(
                "user_profile",
                format!("there is no user profile {n} on {system}: add it first (user-profiles)"),
            )),
        }
    }
}
