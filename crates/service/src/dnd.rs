//! Do Not Disturb (seed 003): a user's DND on every device associated with them, and what a
//! call on a line meets ([`model::dnd::call_outcome`]).

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::dnd::{self, CallOutcome, Endpoint, Forwards, UserDndSet};
use model::rules::DeviceClass;
use model::DndMode;

impl Service {
    /// Sets (or clears) a user's DND on every phone associated with them, shared ones too;
    /// each phone whose mode changed gets a new file and a resync.
    pub async fn set_user_dnd(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        mode: DndMode,
    ) -> Result<UserDndSet> {
        let u = self.user(key, system).await?;
        let a = Audit {
            action: Action::Update,
            resource: Resource::User,
            target: u.user_id.clone(),
            system: u.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let phones = store::devices::associated_phones(tx.conn(), u.id).await?;
            let mut changed = Vec::new();
            for (id, name) in &phones {
                let d = store::devices::by_id(tx.conn(), *id).await?;
                if d.row.dnd != mode {
                    store::devices::set_dnd(tx.conn(), *id, mode.as_str()).await?;
                    crate::devices::changed(tx, *id, std::iter::empty());
                    changed.push(name.clone());
                }
            }
            Ok(UserDndSet {
                user_id: u.user_id.clone(),
                system: u.system.clone(),
                dnd: mode,
                devices: phones.into_iter().map(|(_, n)| n).collect(),
                changed,
            })
        })
        .await
    }

    /// What happens to a call on a line (`caller` `internal` or `external`: which forwards
    /// apply), by the DND modes of the phones it appears on and its forwards.
    pub async fn call_outcome(
        &self,
        key: &str,
        partition: Option<&str>,
        system: Option<&str>,
        caller: &str,
    ) -> Result<CallOutcome> {
        let external = match caller {
            "" | "internal" => false,
            "external" => true,
            other => {
                return Err(Error::invalid(
                    "caller",
                    format!("caller {other:?}: say internal or external"),
                ))
            }
        };
        let line = self.line(key, partition, system).await?;
        let mut c = self.store.read().await?;
        let mut endpoints = Vec::new();
        for a in &line.appearances {
            let Some((id, class)) = store::devices::id_by_name(&mut c, &a.device).await? else {
                continue;
            };
            if class != DeviceClass::Phone
                || endpoints.iter().any(|e: &Endpoint| e.device == a.device)
            {
                continue;
            }
            let d = store::devices::by_id(&mut c, id).await?;
            endpoints.push(Endpoint {
                device: d.row.name.clone(),
                soft_client: self.is_soft_client(&d.row.model),
                model: d.row.model.clone(),
                dnd: d.row.dnd,
            });
        }
        let f = Forwards {
            all: line.forward_all.clone(),
            busy: if external {
                &line.forward_busy_external
            } else {
                &line.forward_busy_internal
            }
            .clone(),
            no_answer: if external {
                &line.forward_no_answer_external
            } else {
                &line.forward_no_answer_internal
            }
            .clone(),
        };
        let mut o = dnd::call_outcome(&endpoints, &f);
        o.pattern = line.pattern;
        o.partition = line.partition;
        o.system = line.system;
        o.caller = if external { "external" } else { "internal" }.into();
        Ok(o)
    }
}
