//! Which phones a resync request names, and whether the administrator may resync them.

use crate::{opt, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::rules::DeviceClass;
use std::collections::BTreeSet;

impl Service {
    /// The phones a resync request names (id, name), each once.
    ///
    /// Telling a phone to resync needs `update` on `phone` for its system: a phone named that
    /// `actor` may not update is refused (403, audited); `all`, a pool or a model select the
    /// phones of the systems they may update (403 when that is none of those matching). The
    /// request is audited with how many phones it names.
    pub async fn select_phones(
        &self,
        actor: &Actor,
        r: &model::ResyncRequest,
    ) -> Result<Vec<(i64, String)>> {
        let pool = opt(r.device_pool.as_deref());
        let model_name = opt(r.model.as_deref());
        if r.devices.is_empty() && pool.is_none() && model_name.is_none() && !r.all {
            return Err(Error::invalid(
                "devices",
                "say which phones: `devices` (names), `device_pool`, `model`, or `all`: true",
            ));
        }
        let mut c = self.store.read().await?;
        let systems = self.systems_in(&mut c).await?;
        let system_of = |id: i64| {
            systems
                .iter()
                .find(|s| s.id == id)
                .map_or("", |s| s.name.as_str())
        };
        let may = |system_id: i64| actor.may(system_of(system_id), "phone", "update");
        let mut out: Vec<(i64, String)> = Vec::new();
        let mut refused: Vec<(String, &str)> = Vec::new();
        for (i, name) in r.devices.iter().enumerate() {
            let id = self
                .device_id(&mut c, DeviceClass::Phone, name)
                .await
                .map_err(|e| match e {
                    Error::NotFound(m) => Error::invalid(format!("devices[{i}]"), m),
                    e => e,
                })?;
            let row = store::devices::by_id(&mut c, id).await?.row;
            if may(row.system_id) {
                out.push((id, row.name));
            } else {
                refused.push((row.name, system_of(row.system_id)));
            }
        }
        // What the request names, for the audit log.
        let mut named: Vec<String> = Vec::new();
        if !r.devices.is_empty() {
            named.push(if r.devices.len() <= 5 {
                r.devices.join(", ")
            } else {
                model::counted(r.devices.len() as u64, "phone", "phones")
            });
        }
        if r.all {
            named.push("every phone".into());
        } else {
            if let Some(p) = &pool {
                named.push(format!("device pool {p}"));
            }
            if let Some(m) = &model_name {
                named.push(format!("model {m}"));
            }
        }
        let named = named.join(", ");
        let mut left_out = 0;
        if r.all || pool.is_some() || model_name.is_some() {
            let (pool, model_name) = if r.all {
                (None, None)
            } else {
                (pool.as_deref(), model_name.as_deref())
            };
            let found = store::devices::phones_where(&mut c, pool, model_name).await?;
            if found.is_empty() && !r.all {
                return Err(Error::invalid(
                    if pool.is_some() {
                        "device_pool"
                    } else {
                        "model"
                    },
                    "no phone matches: check the device pool's or the model's name",
                ));
            }
            let mine: Vec<(i64, String)> = found
                .iter()
                .filter(|(_, _, system)| may(*system))
                .map(|(id, name, _)| (*id, name.clone()))
                .collect();
            left_out = found.len() - mine.len();
            if mine.is_empty() && left_out > 0 {
                refused.push((
                    format!(
                        "{} ({})",
                        if r.all {
                            "every phone"
                        } else {
                            "the phones selected"
                        },
                        model::counted(left_out as u64, "phone", "phones")
                    ),
                    "",
                ));
            }
            out.extend(mine);
        }
        drop(c);
        let audit = |target: String| Audit {
            action: Action::Resync,
            resource: Resource::Phone,
            target,
            system: String::new(),
        };
        if !refused.is_empty() {
            let names: Vec<String> = refused
                .iter()
                .map(|(n, sys)| {
                    if sys.is_empty() {
                        n.clone()
                    } else {
                        format!("{n} (on {sys})")
                    }
                })
                .collect();
            let e = Error::Forbidden(format!(
                "{} may not resync {}: none of their roles gives (SYSTEM, phone, update) for it",
                actor.name,
                names.join(", ")
            ));
            self.audit_failure(actor, &audit(named), &e).await;
            return Err(e);
        }
        let mut seen = BTreeSet::new();
        out.retain(|(id, _)| seen.insert(*id));
        let mut detail = model::counted(out.len() as u64, "phone", "phones");
        if left_out > 0 {
            detail.push_str(&format!(
                "; {} of systems they may not update left out",
                model::counted(left_out as u64, "phone", "phones")
            ));
        }
        self.note(actor, &audit(named), &detail).await?;
        Ok(out)
    }
}
