//! IP phone services.

use crate::{nf, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::{
    Name, NewPhoneService, Page, PhoneService, PhoneServicePatch, ServiceParameter, SystemKind,
};
use store::services::ServiceRow;

fn check(url: &str, params: &[ServiceParameter]) -> Result<()> {
    let u = url.trim();
    if !(u.starts_with("http://") || u.starts_with("https://"))
        || u.len() < 10
        || u.chars().any(char::is_whitespace)
    {
        return Err(Error::invalid(
            "url",
            format!("`{url}` is not an http:// or https:// URL"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in params.iter().enumerate() {
        let n = p.name.trim();
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::invalid(
                format!("parameters[{i}].name"),
                "a parameter name is letters, digits and `_`",
            ));
        }
        if !seen.insert(n) {
            return Err(Error::invalid(
                format!("parameters[{i}].name"),
                format!("parameter {n} is listed twice"),
            ));
        }
    }
    Ok(())
}

impl Service {
    pub async fn find_services(&self, f: &model::Find) -> Result<Page<PhoneService>> {
        let mut c = self.store.read().await?;
        Ok(store::services::find(&mut c, f).await?)
    }

    async fn service_id(&self, conn: &mut store::Conn, key: &str) -> Result<i64> {
        let found = store::services::ids_by_name(conn, key).await?;
        match found.len() {
            1 => Ok(found[0].0),
            0 => match key.parse::<i64>() {
                Ok(id) => store::services::by_id(conn, id)
                    .await
                    .map(|s| s.id)
                    .map_err(|e| nf(e, || format!("there is no IP phone service {key}"))),
                Err(_) => Err(Error::NotFound(format!(
                    "there is no IP phone service {key}"
                ))),
            },
            _ => Err(Error::Ambiguous(format!(
                "IP phone service {key} exists on several systems: address it by id"
            ))),
        }
    }

    pub async fn service(&self, key: &str) -> Result<PhoneService> {
        let mut c = self.store.read().await?;
        let id = self.service_id(&mut c, key).await?;
        Ok(store::services::by_id(&mut c, id).await?)
    }

    pub async fn create_service(
        &self,
        actor: &Actor,
        req: NewPhoneService,
    ) -> Result<PhoneService> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::Service,
            target: req.name.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::CallControl)
                .await?;
            a.system = sys.name.clone();
            let name = Name::parse("name", &req.name)?;
            check(&req.url, &req.parameters)?;
            if store::services::ids_by_name(tx.conn(), name.as_str())
                .await?
                .iter()
                .any(|(_, s)| *s == sys.id)
            {
                return Err(Error::conflict(
                    "name",
                    format!("IP phone service {name} already exists on {}", sys.name),
                ));
            }
            let id = store::services::insert(
                tx.conn(),
                &ServiceRow {
                    system_id: sys.id,
                    name: name.into_string(),
                    url: req.url.trim().into(),
                    description: req.description.trim().into(),
                    parameters: req.parameters.clone(),
                },
            )
            .await?;
            Ok(store::services::by_id(tx.conn(), id).await?)
        })
        .await
    }

    pub async fn update_service(
        &self,
        actor: &Actor,
        key: &str,
        p: PhoneServicePatch,
    ) -> Result<PhoneService> {
        crate::need_version(p.version)?;
        let current = self.service(key).await?;
        let a = Audit {
            action: Action::Update,
            resource: Resource::Service,
            target: current.name.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            if let Some(s) = p.system.as_deref().filter(|s| *s != current.system) {
                return Err(Error::invalid(
                    "system",
                    format!(
                        "a service cannot move from {} to {s}: delete it and add it again",
                        current.system
                    ),
                ));
            }
            let name = Name::parse("name", p.name.as_deref().unwrap_or(&current.name))?;
            let url = p.url.clone().unwrap_or(current.url.clone());
            let params = p.parameters.clone().unwrap_or(current.parameters.clone());
            check(&url, &params)?;
            let sys = store::systems::by_name(tx.conn(), &current.system).await?;
            if name.as_str() != current.name
                && store::services::ids_by_name(tx.conn(), name.as_str())
                    .await?
                    .iter()
                    .any(|(_, s)| *s == sys.id)
            {
                return Err(Error::conflict(
                    "name",
                    format!("IP phone service {name} already exists on {}", sys.name),
                ));
            }
            let row = ServiceRow {
                system_id: sys.id,
                name: name.into_string(),
                url: url.trim().into(),
                description: p
                    .description
                    .clone()
                    .unwrap_or(current.description.clone())
                    .trim()
                    .into(),
                parameters: params,
            };
            let written = store::services::update(tx.conn(), current.id, p.version, &row).await;
            crate::unless_stale(written, async || {
                Ok(store::services::by_id(tx.conn(), current.id).await?)
            })
            .await?;
            let subscribed: Vec<i64> = store::services::subscribed_devices(tx.conn(), current.id)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            store::devices::touch(tx.conn(), &subscribed).await?;
            Ok(store::services::by_id(tx.conn(), current.id).await?)
        })
        .await
    }

    pub async fn delete_service(&self, actor: &Actor, key: &str) -> Result<()> {
        let current = self.service(key).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Service,
            target: current.name.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let subs = store::services::subscribed_devices(tx.conn(), current.id).await?;
            if !subs.is_empty() {
                let names: Vec<String> = subs.into_iter().map(|(_, n)| n).take(10).collect();
                return Err(Error::conflict(
                    "name",
                    format!(
                        "{} is subscribed by {}: unsubscribe them first",
                        current.name,
                        names.join(", ")
                    ),
                ));
            }
            Ok(store::services::delete(tx.conn(), current.id).await?)
        })
        .await
    }
}
