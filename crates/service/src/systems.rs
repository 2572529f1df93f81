//! Product systems.

use crate::{nf, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::{Name, NewSystem, System, SystemKind, SystemPatch};

/// Where a system's self-provisioning authentication code's hash is kept.
pub(crate) fn authentication_code_setting(system_id: i64) -> String {
    format!("self_provisioning.authentication_code.{system_id}")
}

impl Service {
    pub async fn systems(&self) -> Result<Vec<System>> {
        let mut c = self.store.read().await?;
        Ok(store::systems::list(&mut c).await?)
    }

    pub async fn system(&self, key: &str) -> Result<System> {
        let mut c = self.store.read().await?;
        let by_name = store::systems::by_name(&mut c, key).await;
        match (by_name, key.parse::<i64>()) {
            (Ok(s), _) => Ok(s),
            (Err(store::Error::NotFound), Ok(id)) => store::systems::by_id(&mut c, id)
                .await
                .map_err(|e| nf(e, || format!("there is no product system `{key}`"))),
            (Err(e), _) => Err(nf(e, || format!("there is no product system `{key}`"))),
        }
    }

    pub async fn create_system(&self, actor: &Actor, req: NewSystem) -> Result<System> {
        let kind = req.kind.unwrap_or(SystemKind::CallControl);
        let a = Audit {
            action: Action::Create,
            resource: Resource::System,
            target: req.name.clone(),
            system: req.name.clone(),
        };
        self.change(actor, a, async |tx| {
            let name = Name::parse("name", &req.name)?;
            if store::systems::by_name(tx.conn(), name.as_str())
                .await
                .is_ok()
            {
                return Err(Error::conflict(
                    "name",
                    format!("a product system named {name} already exists: choose another name"),
                ));
            }
            let mut settings = req.settings.clone().unwrap_or_default();
            settings.check()?;
            self.check_auto_registration(tx.conn(), None, &settings)
                .await?;
            let code = settings.self_provisioning.authentication_code.take();
            settings.self_provisioning.has_authentication_code = false;
            let id = store::systems::insert(
                tx.conn(),
                name.as_str(),
                kind,
                req.description.trim(),
                &settings,
            )
            .await?;
            if kind == SystemKind::Voicemail {
                crate::voicemail::create_defaults(tx.conn(), id).await?;
            }
            if code.as_ref().is_some_and(|c| !c.expose().is_empty()) {
                let mut s = store::systems::by_id(tx.conn(), id).await?;
                self.set_authentication_code(tx.conn(), &mut s, code)
                    .await?;
                store::systems::update(tx.conn(), &s, s.version).await?;
            }
            Ok(store::systems::by_id(tx.conn(), id).await?)
        })
        .await
    }

    pub async fn update_system(
        &self,
        actor: &Actor,
        key: &str,
        patch: SystemPatch,
    ) -> Result<System> {
        crate::need_version(patch.version)?;
        let current = self.system(key).await?;
        let a = Audit {
            action: Action::Update,
            resource: Resource::System,
            target: current.name.clone(),
            system: current.name.clone(),
        };
        self.change(actor, a, async |tx| {
            let mut s = current.clone();
            if let Some(n) = &patch.name {
                s.name = Name::parse("name", n)?.into_string();
            }
            if let Some(d) = &patch.description {
                s.description = d.trim().to_string();
            }
            if let Some(settings) = &patch.settings {
                settings.check()?;
                self.check_auto_registration(tx.conn(), Some(s.id), settings).await?;
                let mut settings = settings.clone();
                let code = settings.self_provisioning.authentication_code.take();
                settings.self_provisioning.has_authentication_code =
                    s.settings.self_provisioning.has_authentication_code;
                s.settings = settings;
                self.set_authentication_code(tx.conn(), &mut s, code).await?;
            }
            if let Some(k) = patch.kind {
                if k != s.kind {
                    let usage = store::systems::usage(tx.conn(), s.id).await?;
                    if !usage.is_empty() {
                        return Err(Error::invalid("kind", format!("{} holds records already: a system's kind cannot change while it has any", s.name)));
                    }
                    s.kind = k;
                }
            }
            if s.name != current.name && store::systems::by_name(tx.conn(), &s.name).await.is_ok() {
                return Err(Error::conflict("name", format!("a product system named {} already exists", s.name)));
            }
            tx.changed(store::Change::System(s.id));
            let written = store::systems::update(tx.conn(), &s, patch.version).await;
            crate::unless_stale(written, async || Ok(store::systems::by_id(tx.conn(), s.id).await?)).await?;
            Ok(store::systems::by_id(tx.conn(), s.id).await?)
        })
        .await
    }

    /// The templates auto-registration names are on the system (a new system has none yet).
    async fn check_auto_registration(
        &self,
        conn: &mut store::Conn,
        system_id: Option<i64>,
        s: &model::SystemSettings,
    ) -> Result<()> {
        use store::universal_templates::{id_on, TemplateKind};
        for (kind, name, noun) in [
            (
                TemplateKind::Device,
                &s.auto_registration_device_template,
                "universal device template",
            ),
            (
                TemplateKind::Line,
                &s.auto_registration_line_template,
                "universal line template",
            ),
        ] {
            let n = name.trim();
            if n.is_empty() {
                continue;
            }
            let found = match system_id {
                Some(id) => id_on(conn, kind, id, n).await?.is_some(),
                None => false,
            };
            if !found {
                return Err(Error::invalid(
                    format!("settings.{}", kind.auto_registration_setting()),
                    format!("there is no {noun} {n} on this system: add it first"),
                ));
            }
        }
        Ok(())
    }

    /// Keeps, replaces (hashed) or removes (`""`) a system's self-provisioning authentication
    /// code; the settings say whether one is set.
    async fn set_authentication_code(
        &self,
        conn: &mut store::Conn,
        s: &mut System,
        code: Option<model::Secret>,
    ) -> Result<()> {
        let key = authentication_code_setting(s.id);
        match code {
            None => {}
            Some(c) if c.expose().is_empty() => {
                store::admins::remove_setting(conn, &key).await?;
                s.settings.self_provisioning.has_authentication_code = false;
            }
            Some(c) => {
                let hash = crate::hash_secret(c.expose())?;
                store::admins::set_setting(conn, &key, &hash).await?;
                s.settings.self_provisioning.has_authentication_code = true;
            }
        }
        Ok(())
    }

    pub async fn delete_system(&self, actor: &Actor, key: &str) -> Result<()> {
        let s = self.system(key).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::System,
            target: s.name.clone(),
            system: s.name.clone(),
        };
        self.change(actor, a, async |tx| {
            let usage = store::systems::usage(tx.conn(), s.id).await?;
            if !usage.is_empty() {
                let what: Vec<String> = usage.iter().map(|(t, n)| format!("{n} {t}")).collect();
                return Err(Error::conflict(
                    "system",
                    format!(
                        "{} still holds {}: delete them first",
                        s.name,
                        what.join(", ")
                    ),
                ));
            }
            if s.kind == SystemKind::CallControl {
                let others = store::systems::list(tx.conn())
                    .await?
                    .into_iter()
                    .filter(|o| o.kind == SystemKind::CallControl)
                    .count();
                if others <= 1 {
                    return Err(Error::conflict(
                        "system",
                        "this is the last call-control system: add another before deleting it",
                    ));
                }
            }
            store::systems::delete(tx.conn(), s.id).await?;
            store::admins::remove_setting(tx.conn(), &authentication_code_setting(s.id)).await?;
            Ok(())
        })
        .await
    }
}
