//! Provisioning parameter profiles: set per system, device pool, model or device; resolved per
//! device, the most specific value winning, with where each came from.

use crate::{nf, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::provisioning::{self, Origin};
use model::rules::DeviceClass;
use model::{
    FieldWarning, ParamScope, ParameterSet, ParameterSetInput, ResolvedParameter,
    ResolvedParameters, SystemKind,
};
use std::collections::BTreeMap;
use store::Conn;

fn warnings(w: &[model::Invalid]) -> Vec<FieldWarning> {
    w.iter()
        .map(|i| FieldWarning {
            field: i.field.clone(),
            message: i.message.clone(),
        })
        .collect()
}

fn view(s: store::parameters::ParameterSet) -> ParameterSet {
    let checked = provisioning::resolve(&[(Origin::Default, &s.values)]);
    ParameterSet {
        scope: ParamScope::parse(&s.scope).unwrap_or(ParamScope::System),
        system: s.system,
        target: s.target,
        values: s.values,
        version: s.version,
        updated_at: s.updated_at,
        warnings: warnings(&checked.warnings),
    }
}

/// The devices a parameter set of `scope` reaches.
async fn scope_change(
    conn: &mut Conn,
    scope: ParamScope,
    system: i64,
    target: &str,
) -> Result<store::Change> {
    Ok(match scope {
        ParamScope::System => store::Change::System(system),
        ParamScope::DevicePool => store::Change::DevicePool {
            system,
            pool: target.to_string(),
        },
        ParamScope::Model => store::Change::Model {
            system,
            model: target.to_string(),
        },
        ParamScope::Device => match store::devices::id_by_name(conn, target).await? {
            Some((id, _)) => store::Change::Device(id),
            None => store::Change::System(system),
        },
    })
}

impl Service {
    /// The system and the stored target of a scope: a system (`""`), a device pool, a model of
    /// the catalogue, or a phone (whose system it is).
    async fn param_target(
        &self,
        conn: &mut Conn,
        scope: ParamScope,
        target: &str,
        system: Option<&str>,
    ) -> Result<(model::System, String)> {
        let target = target.trim();
        match scope {
            ParamScope::Device => {
                let (id, class) =
                    store::devices::id_by_name(conn, target)
                        .await?
                        .ok_or_else(|| {
                            Error::invalid("target", format!("there is no phone {target}"))
                        })?;
                if class != DeviceClass::Phone {
                    return Err(Error::invalid(
                        "target",
                        format!("{target} is a device profile: parameters are set on phones"),
                    ));
                }
                let d = store::devices::by_id(conn, id).await?;
                let sys = store::systems::by_id(conn, d.row.system_id).await?;
                Ok((sys, d.row.name))
            }
            _ => {
                let sys = self
                    .pick_system(conn, system, SystemKind::CallControl)
                    .await?;
                let t = match scope {
                    ParamScope::System => String::new(),
                    ParamScope::DevicePool => {
                        if target.is_empty() {
                            return Err(Error::invalid("target", "name the device pool"));
                        }
                        target.to_string()
                    }
                    _ => self
                        .catalog
                        .get(target)
                        .map(|t| t.model.clone())
                        .ok_or_else(|| {
                            Error::invalid(
                                "target",
                                format!(
                                    "there is no model `{target}`; the models are: {}",
                                    self.catalog.model_names()
                                ),
                            )
                        })?,
                };
                Ok((sys, t))
            }
        }
    }

    pub async fn parameter_sets(&self, system: Option<&str>) -> Result<Vec<ParameterSet>> {
        let mut c = self.store.read().await?;
        let sys_id = match system {
            Some(s) => Some(
                store::systems::by_name(&mut c, s)
                    .await
                    .map_err(|e| nf(e, || format!("there is no product system `{s}`")))?
                    .id,
            ),
            None => None,
        };
        Ok(store::parameters::list(&mut c, sys_id)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// Sets the parameters of a scope (replacing the values set there before; a set that exists
    /// is changed only with the version read).
    pub async fn set_parameters(
        &self,
        actor: &Actor,
        scope: ParamScope,
        target: &str,
        system: Option<&str>,
        input: ParameterSetInput,
    ) -> Result<ParameterSet> {
        let a = Audit {
            action: Action::Set,
            resource: Resource::Parameters,
            target: format!("{}:{target}", scope.as_str()),
            system: system.unwrap_or_default().to_string(),
        };
        // The target and system are named as found (a device pool's name as stored).
        self.change_named(actor, a, async |tx, a| {
            let (sys, t) = self.param_target(tx.conn(), scope, target, system).await?;
            a.target = format!("{}:{t}", scope.as_str());
            a.system = sys.name.clone();
            let change = scope_change(tx.conn(), scope, sys.id, &t).await?;
            tx.changed(change);
            let mut values = BTreeMap::new();
            for (k, v) in &input.values {
                let (v, _) =
                    provisioning::check(k, v).map_err(|e| Error::Invalid(e.within("values")))?;
                values.insert(k.clone(), v);
            }
            match store::parameters::get(tx.conn(), scope.as_str(), sys.id, &t).await? {
                Some(existing) => {
                    let version = input.version.ok_or_else(|| {
                        Error::invalid(
                            "version",
                            format!(
                                "parameters are set on {} already: send the version you read ({})",
                                a.target, existing.version
                            ),
                        )
                    })?;
                    match store::parameters::update(tx.conn(), existing.id, version, &values).await
                    {
                        Err(store::Error::Stale) => return Err(crate::stale(&view(existing))),
                        r => r?,
                    }
                }
                None => {
                    store::parameters::insert(tx.conn(), scope.as_str(), sys.id, &t, &values)
                        .await?
                }
            }
            Ok(view(
                store::parameters::get(tx.conn(), scope.as_str(), sys.id, &t)
                    .await?
                    .ok_or(Error::Internal("the set just written is gone".into()))?,
            ))
        })
        .await
    }

    pub async fn delete_parameters(
        &self,
        actor: &Actor,
        scope: ParamScope,
        target: &str,
        system: Option<&str>,
    ) -> Result<()> {
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Parameters,
            target: format!("{}:{target}", scope.as_str()),
            system: system.unwrap_or_default().to_string(),
        };
        self.change_named(actor, a, async |tx, a| {
            let (sys, t) = self.param_target(tx.conn(), scope, target, system).await?;
            a.target = format!("{}:{t}", scope.as_str());
            a.system = sys.name.clone();
            let change = scope_change(tx.conn(), scope, sys.id, &t).await?;
            tx.changed(change);
            let existing = store::parameters::get(tx.conn(), scope.as_str(), sys.id, &t)
                .await?
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "no parameters are set on {} of {}",
                        a.target, sys.name
                    ))
                })?;
            store::parameters::delete(tx.conn(), existing.id).await?;
            Ok(())
        })
        .await
    }

    /// The parameters a phone gets: defaults, then its system's, its device pool's, its
    /// model's and its own values.
    pub async fn phone_parameters(&self, name: &str) -> Result<ResolvedParameters> {
        let mut c = self.store.read().await?;
        let (id, class) = store::devices::id_by_name(&mut c, name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no phone {name}")))?;
        if class != DeviceClass::Phone {
            return Err(Error::NotFound(format!(
                "{name} is a device profile, not a phone"
            )));
        }
        let d = store::devices::by_id(&mut c, id).await?;
        let sid = d.row.system_id;
        let wanted = [
            (
                ParamScope::System,
                String::new(),
                Origin::System(d.system.clone()),
            ),
            (
                ParamScope::DevicePool,
                d.row.device_pool.clone(),
                Origin::DevicePool(d.row.device_pool.clone()),
            ),
            (
                ParamScope::Model,
                d.row.model.clone(),
                Origin::Model(d.row.model.clone()),
            ),
            (
                ParamScope::Device,
                d.row.name.clone(),
                Origin::Device(d.row.name.clone()),
            ),
        ];
        let mut sets = Vec::new();
        for (scope, target, origin) in wanted {
            if scope == ParamScope::DevicePool && target.is_empty() {
                continue;
            }
            if let Some(s) = store::parameters::get(&mut c, scope.as_str(), sid, &target).await? {
                sets.push((origin, s.values));
            }
        }
        let layers: Vec<(Origin, &BTreeMap<String, String>)> =
            sets.iter().map(|(o, v)| (o.clone(), v)).collect();
        let r = provisioning::resolve(&layers);
        let parameters = provisioning::PARAMS
            .iter()
            .map(|p| {
                let (value, origin) = r.values[p.key].clone();
                let (origin, origin_target) = match origin {
                    Origin::Default => ("default", String::new()),
                    Origin::System(s) => ("system", s),
                    Origin::DevicePool(s) => ("device_pool", s),
                    Origin::Model(s) => ("model", s),
                    Origin::Device(s) => ("device", s),
                };
                ResolvedParameter {
                    key: p.key.into(),
                    web_name: p.web_name.into(),
                    value,
                    origin: origin.into(),
                    origin_target,
                }
            })
            .collect();
        Ok(ResolvedParameters {
            device: d.row.name.clone(),
            parameters,
            behaviour: r.behaviour(),
            warnings: warnings(&r.warnings),
        })
    }
}
