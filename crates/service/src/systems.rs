//! Product systems.

use crate::{nf, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::{Name, NewSystem, System, SystemKind, SystemPatch};

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
            let settings = req.settings.clone().unwrap_or_default();
            settings.check()?;
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
                s.settings = settings.clone();
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
            Ok(())
        })
        .await
    }
}
