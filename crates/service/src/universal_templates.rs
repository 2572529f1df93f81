//! Universal device and line templates (self-provisioning, docs/self-provisioning.md): the
//! settings a user's new phone and line get from their user profile, and those of
//! auto-registered phones. The two kinds share every use case here, told apart by [`Kind`].

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::{
    DeviceTemplateSettings, Invalid, LineTemplateSettings, Name, NewUniversalDeviceTemplate,
    NewUniversalLineTemplate, Page, SystemKind, UniversalDeviceTemplate,
    UniversalDeviceTemplatePatch, UniversalLineTemplate, UniversalLineTemplatePatch,
};
use serde::{de::DeserializeOwned, Serialize};
use store::universal_templates::{self as ut, TemplateKind, TemplateRow};

/// What tells a device template from a line template.
trait Kind {
    const KIND: TemplateKind;
    const RESOURCE: Resource;
    const NOUN: &'static str;
    type Settings: Serialize + DeserializeOwned + Default + Clone;
    type Record: Serialize;
    fn check(s: &Self::Settings) -> std::result::Result<(), Invalid>;
    fn record(row: TemplateRow, settings: Self::Settings, used_by: Vec<String>) -> Self::Record;
}

struct Device;
struct Line;

impl Kind for Device {
    const KIND: TemplateKind = TemplateKind::Device;
    const RESOURCE: Resource = Resource::UniversalDeviceTemplate;
    const NOUN: &'static str = "universal device template";
    type Settings = DeviceTemplateSettings;
    type Record = UniversalDeviceTemplate;
    fn check(s: &DeviceTemplateSettings) -> std::result::Result<(), Invalid> {
        s.check()
    }
    fn record(
        r: TemplateRow,
        device: DeviceTemplateSettings,
        used_by: Vec<String>,
    ) -> Self::Record {
        UniversalDeviceTemplate {
            id: r.id,
            system: r.system,
            name: r.name,
            description: r.description,
            device,
            used_by,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl Kind for Line {
    const KIND: TemplateKind = TemplateKind::Line;
    const RESOURCE: Resource = Resource::UniversalLineTemplate;
    const NOUN: &'static str = "universal line template";
    type Settings = LineTemplateSettings;
    type Record = UniversalLineTemplate;
    fn check(s: &LineTemplateSettings) -> std::result::Result<(), Invalid> {
        s.check()
    }
    fn record(r: TemplateRow, line: LineTemplateSettings, used_by: Vec<String>) -> Self::Record {
        UniversalLineTemplate {
            id: r.id,
            system: r.system,
            name: r.name,
            description: r.description,
            line,
            used_by,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What a patch of either kind changes.
struct Patch<'a, S> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    settings: Option<&'a S>,
    system: Option<&'a str>,
}

/// The settings a template holds, as stored (a row written by an older Dialtone reads with
/// the defaults for what it lacks).
fn settings_of<K: Kind>(r: &TemplateRow) -> K::Settings {
    serde_json::from_str(&r.settings_json).unwrap_or_default()
}

/// What names a template besides user profiles: the auto-registration of its system.
async fn used_by<K: Kind>(
    svc: &Service,
    conn: &mut store::Conn,
    r: &TemplateRow,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = r
        .profiles
        .iter()
        .map(|p| format!("user profile {p}"))
        .collect();
    let sys = svc
        .systems_in(conn)
        .await?
        .into_iter()
        .find(|s| s.id == r.system_id);
    if let Some(s) = sys {
        let named = match K::KIND {
            TemplateKind::Device => &s.settings.auto_registration_device_template,
            TemplateKind::Line => &s.settings.auto_registration_line_template,
        };
        if *named == r.name {
            out.push(format!("auto-registration on {}", s.name));
        }
    }
    Ok(out)
}

async fn record<K: Kind>(
    svc: &Service,
    conn: &mut store::Conn,
    r: TemplateRow,
) -> Result<K::Record> {
    let settings = settings_of::<K>(&r);
    let used = used_by::<K>(svc, conn, &r).await?;
    Ok(K::record(r, settings, used))
}

impl Service {
    /// The id of the template a key names: its name (on `system` when given) or its id.
    async fn universal_template_id<K: Kind>(
        &self,
        conn: &mut store::Conn,
        key: &str,
        system: Option<&str>,
    ) -> Result<i64> {
        let mut found = ut::ids_by_name(conn, K::KIND, key).await?;
        if let Some(sys) = system.filter(|s| !s.is_empty()) {
            let systems = self.systems_in(conn).await?;
            let id = systems.iter().find(|s| s.name == sys).map(|s| s.id);
            found.retain(|(_, s)| Some(*s) == id);
        }
        match found.len() {
            1 => Ok(found[0].0),
            0 => match key.parse::<i64>() {
                Ok(id) => ut::by_id(conn, K::KIND, id)
                    .await
                    .map(|t| t.id)
                    .map_err(|e| crate::nf(e, || format!("there is no {} {key}", K::NOUN))),
                Err(_) => Err(Error::NotFound(format!("there is no {} {key}", K::NOUN))),
            },
            _ => Err(Error::Ambiguous(format!(
                "{} {key} exists on several systems: choose one with ?system=NAME",
                K::NOUN
            ))),
        }
    }

    async fn find_universal<K: Kind>(&self, f: &model::Find) -> Result<Page<K::Record>> {
        let mut c = self.store.read().await?;
        let page = ut::find(&mut c, K::KIND, f).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for r in page.items {
            items.push(record::<K>(self, &mut c, r).await?);
        }
        Ok(Page {
            items,
            total: page.total,
            total_exact: page.total_exact,
            limit: page.limit,
            offset: page.offset,
        })
    }

    async fn universal<K: Kind>(&self, key: &str, system: Option<&str>) -> Result<K::Record> {
        let mut c = self.store.read().await?;
        let id = self.universal_template_id::<K>(&mut c, key, system).await?;
        let r = ut::by_id(&mut c, K::KIND, id).await?;
        record::<K>(self, &mut c, r).await
    }

    async fn create_universal<K: Kind>(
        &self,
        actor: &Actor,
        name: &str,
        system: Option<&str>,
        description: &str,
        settings: &K::Settings,
    ) -> Result<K::Record> {
        let a = Audit {
            action: Action::Create,
            resource: K::RESOURCE,
            target: name.to_string(),
            system: system.unwrap_or_default().to_string(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), system, SystemKind::CallControl)
                .await?;
            a.system = sys.name.clone();
            let name = Name::parse("name", name)?;
            K::check(settings)?;
            if ut::id_on(tx.conn(), K::KIND, sys.id, name.as_str())
                .await?
                .is_some()
            {
                return Err(Error::conflict(
                    "name",
                    format!("{} {name} already exists on {}", K::NOUN, sys.name),
                ));
            }
            let json = serde_json::to_string(settings).expect("settings serialise");
            let id = ut::insert(
                tx.conn(),
                K::KIND,
                sys.id,
                name.as_str(),
                description.trim(),
                &json,
            )
            .await?;
            let r = ut::by_id(tx.conn(), K::KIND, id).await?;
            record::<K>(self, tx.conn(), r).await
        })
        .await
    }

    async fn update_universal<K: Kind>(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        version: i64,
        patch: Patch<'_, K::Settings>,
    ) -> Result<K::Record> {
        crate::need_version(version)?;
        let Patch {
            name: new_name,
            description,
            settings,
            system: moved_to,
        } = patch;
        let current = {
            let mut c = self.store.read().await?;
            let id = self.universal_template_id::<K>(&mut c, key, system).await?;
            ut::by_id(&mut c, K::KIND, id).await?
        };
        let a = Audit {
            action: Action::Update,
            resource: K::RESOURCE,
            target: current.name.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            if let Some(s) = moved_to.filter(|s| *s != current.system) {
                return Err(Error::invalid(
                    "system",
                    format!(
                        "a template cannot move from {} to {s}: add it on {s} instead",
                        current.system
                    ),
                ));
            }
            let name = Name::parse("name", new_name.unwrap_or(&current.name))?;
            let settings = match settings {
                Some(s) => s.clone(),
                None => settings_of::<K>(&current),
            };
            K::check(&settings)?;
            if name.as_str() != current.name {
                if ut::id_on(tx.conn(), K::KIND, current.system_id, name.as_str())
                    .await?
                    .is_some()
                {
                    return Err(Error::conflict(
                        "name",
                        format!("{} {name} already exists on {}", K::NOUN, current.system),
                    ));
                }
                // Auto-registration names its templates: a rename carries it along.
                self.rename_in_auto_registration(
                    tx,
                    K::KIND,
                    current.system_id,
                    &current.name,
                    name.as_str(),
                )
                .await?;
            }
            let json = serde_json::to_string(&settings).expect("settings serialise");
            let written = ut::update(
                tx.conn(),
                current.id,
                version,
                name.as_str(),
                description.unwrap_or(&current.description).trim(),
                &json,
            )
            .await;
            crate::unless_stale(written, async || {
                let r = ut::by_id(tx.conn(), K::KIND, current.id).await?;
                record::<K>(self, tx.conn(), r).await
            })
            .await?;
            let r = ut::by_id(tx.conn(), K::KIND, current.id).await?;
            record::<K>(self, tx.conn(), r).await
        })
        .await
    }

    async fn delete_universal<K: Kind>(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
    ) -> Result<()> {
        let current = {
            let mut c = self.store.read().await?;
            let id = self.universal_template_id::<K>(&mut c, key, system).await?;
            ut::by_id(&mut c, K::KIND, id).await?
        };
        let a = Audit {
            action: Action::Delete,
            resource: K::RESOURCE,
            target: current.name.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let r = ut::by_id(tx.conn(), K::KIND, current.id).await?;
            let used = used_by::<K>(self, tx.conn(), &r).await?;
            if !used.is_empty() {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "{} {} is used by {}: choose another template there first",
                        K::NOUN,
                        current.name,
                        used.join(", ")
                    ),
                ));
            }
            Ok(ut::delete(tx.conn(), current.id).await?)
        })
        .await
    }

    /// A system's auto-registration settings follow a template's rename.
    async fn rename_in_auto_registration(
        &self,
        tx: &mut store::WriteTx,
        kind: TemplateKind,
        system_id: i64,
        old: &str,
        new: &str,
    ) -> Result<()> {
        let mut sys = store::systems::by_id(tx.conn(), system_id).await?;
        let named = match kind {
            TemplateKind::Device => &mut sys.settings.auto_registration_device_template,
            TemplateKind::Line => &mut sys.settings.auto_registration_line_template,
        };
        if named == old {
            *named = new.to_string();
            store::systems::update(tx.conn(), &sys, sys.version).await?;
        }
        Ok(())
    }

    // The API of each kind.

    pub async fn find_device_templates(
        &self,
        f: &model::Find,
    ) -> Result<Page<UniversalDeviceTemplate>> {
        self.find_universal::<Device>(f).await
    }

    pub async fn device_template(
        &self,
        key: &str,
        system: Option<&str>,
    ) -> Result<UniversalDeviceTemplate> {
        self.universal::<Device>(key, system).await
    }

    pub async fn create_device_template(
        &self,
        actor: &Actor,
        req: NewUniversalDeviceTemplate,
    ) -> Result<UniversalDeviceTemplate> {
        self.create_universal::<Device>(
            actor,
            &req.name,
            req.system.as_deref(),
            &req.description,
            &req.device,
        )
        .await
    }

    pub async fn update_device_template(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        p: UniversalDeviceTemplatePatch,
    ) -> Result<UniversalDeviceTemplate> {
        self.update_universal::<Device>(
            actor,
            key,
            system,
            p.version,
            Patch {
                name: p.name.as_deref(),
                description: p.description.as_deref(),
                settings: p.device.as_ref(),
                system: p.system.as_deref(),
            },
        )
        .await
    }

    pub async fn delete_device_template(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
    ) -> Result<()> {
        self.delete_universal::<Device>(actor, key, system).await
    }

    pub async fn find_line_templates(
        &self,
        f: &model::Find,
    ) -> Result<Page<UniversalLineTemplate>> {
        self.find_universal::<Line>(f).await
    }

    pub async fn line_template(
        &self,
        key: &str,
        system: Option<&str>,
    ) -> Result<UniversalLineTemplate> {
        self.universal::<Line>(key, system).await
    }

    pub async fn create_line_template(
        &self,
        actor: &Actor,
        req: NewUniversalLineTemplate,
    ) -> Result<UniversalLineTemplate> {
        self.create_universal::<Line>(
            actor,
            &req.name,
            req.system.as_deref(),
            &req.description,
            &req.line,
        )
        .await
    }

    pub async fn update_line_template(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        p: UniversalLineTemplatePatch,
    ) -> Result<UniversalLineTemplate> {
        self.update_universal::<Line>(
            actor,
            key,
            system,
            p.version,
            Patch {
                name: p.name.as_deref(),
                description: p.description.as_deref(),
                settings: p.line.as_ref(),
                system: p.system.as_deref(),
            },
        )
        .await
    }

    pub async fn delete_line_template(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
    ) -> Result<()> {
        self.delete_universal::<Line>(actor, key, system).await
    }
}
