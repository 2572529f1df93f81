//! What the phones' data plane asks of the directory: everything a device's files are made of,
//! read for one device or many in one snapshot and a fixed number of statements; the change
//! journal that says which devices a committed write reached; and the records the data plane
//! writes (requests seen, resync reports, NOTIFY outcomes, file digests).

use crate::{DeviceCredential, Result, Service};
use model::files::FileLine;
use model::provisioning::{self, Origin, Resolved};
use model::rules::DeviceClass;
use model::status::{ResyncReport, Seen};
use model::{DndMode, Mac, ProfileEncryption, Secret, SecurityMode, SpeedDial, System};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use store::{changes, configs, Change};

/// Which phones to read: by id, by MAC, by device name (any case).
#[derive(Debug, Clone, Default)]
pub struct PhoneKeys {
    pub ids: Vec<i64>,
    pub macs: Vec<Mac>,
    pub names: Vec<String>,
}

/// A phone as its files show it, every reference resolved and every secret opened.
#[derive(Clone)]
pub struct PhoneConfig {
    pub id: i64,
    pub name: String,
    /// 12 upper-case hex digits.
    pub mac: Option<String>,
    pub model: String,
    pub protocol: String,
    pub description: String,
    pub device_pool: String,
    pub security_mode: Option<SecurityMode>,
    pub dnd: DndMode,
    pub expansion_modules: Vec<String>,
    pub speed_dials: Vec<SpeedDial>,
    /// Where the phone listens for SIP when not where its requests come from.
    pub sip_contact: Option<String>,
    pub system: Arc<System>,
    /// The owner's user ID and SIP digest credential (the lines' auth name and password).
    pub owner: Option<(String, Secret)>,
    /// The phone's own HTTP credential, when it has one.
    pub http_credential: Option<DeviceCredential>,
    /// The key of its encrypted MPP profile when its system's `profile_encryption` is on: its
    /// own, else its system's; `None` when off or there is none.
    pub profile_key: Option<Secret>,
    /// Auto-registered and not claimed: its files lead to the self-provisioning service.
    pub auto_registered: bool,
    /// By button.
    pub lines: Vec<FileLine>,
    /// The provisioning parameters: defaults under the system's, pool's, model's and its own.
    pub parameters: Arc<Resolved>,
    /// A soft client's servers besides call control (its owner's profiles, the presence nodes,
    /// the shared settings); `None` for other phones, and for a soft client with no owner.
    pub soft_client: Option<Arc<model::soft_client::ClientFile>>,
    /// The firmware load chosen for it (its own, its pool's or its system's for its model).
    pub load: Option<String>,
    /// The corporate directory another vendor's phone searches: its owner's LDAP profile
    /// (docs/directory.md), with the bind password; `None` for Cisco phones, and for a phone
    /// whose owner has none.
    pub directory: Option<Arc<PhoneDirectory>>,
}

/// An LDAP profile as a desk phone searches with it: its servers, base and bind account, and
/// the attributes the installation's attribute map names (never `Debug`: it has the password).
#[derive(Clone)]
pub struct PhoneDirectory {
    pub ldap: model::soft_client::ClientLdap,
    /// The bind password (empty with an anonymous bind or none set).
    pub password: Secret,
}

impl std::fmt::Debug for PhoneDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneDirectory")
            .field("profile", &self.ldap.profile)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PhoneConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("model", &self.model)
            .field("system", &self.system.name)
            .finish_non_exhaustive()
    }
}

/// Phones read in one snapshot, and the generation that snapshot saw.
#[derive(Debug, Clone)]
pub struct PhoneConfigs {
    pub generation: i64,
    /// In id order.
    pub phones: Vec<PhoneConfig>,
}

/// The devices the writes after a generation reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileChanges {
    /// The generation these changes run up to.
    pub through: i64,
    /// Set when every device is to be looked at again (a change of everything, or a journal
    /// pruned past the generation asked about): the generation of the newest such change.
    pub all: Option<i64>,
    /// Each device reached and the generation of the newest change that reached it.
    pub devices: Vec<(i64, i64)>,
}

impl FileChanges {
    pub fn is_empty(&self) -> bool {
        self.all.is_none() && self.devices.is_empty()
    }
}

impl Service {
    /// Records that `actor` was shown `phone`'s `file` (of `system`) with its secrets in clear,
    /// which their role's `read_secrets` privilege allowed.
    pub async fn note_secrets_read(
        &self,
        actor: &crate::Actor,
        phone: &str,
        system: &str,
        file: &str,
    ) -> Result<()> {
        let a = crate::Audit {
            action: model::access::Action::ReadSecrets,
            resource: model::access::Resource::Phone,
            target: phone.to_string(),
            system: system.to_string(),
        };
        self.note(actor, &a, &format!("{file}, with its passwords in clear"))
            .await
    }

    /// The phones `keys` name (those that exist), read in one snapshot with a fixed number of
    /// statements however many they are.
    pub async fn phone_configs(&self, keys: &PhoneKeys) -> Result<PhoneConfigs> {
        let keys = configs::Keys {
            ids: keys.ids.clone(),
            macs: keys.macs.iter().map(|m| m.as_str().to_string()).collect(),
            names: keys.names.clone(),
        };
        let mut snap = self.store.snapshot().await?;
        let generation = snap.generation().await?;
        if keys.is_empty() {
            snap.finish().await?;
            return Ok(PhoneConfigs {
                generation,
                phones: Vec::new(),
            });
        }
        let mut devices = configs::devices(snap.conn(), &keys).await?;
        devices.retain(|d| d.class == DeviceClass::Phone);
        let (systems, sets, loads, system_keys) = if devices.is_empty() {
            (Arc::default(), Vec::new(), Vec::new(), Vec::new())
        } else {
            let mut ids: Vec<i64> = devices.iter().map(|d| d.system_id).collect();
            ids.sort_unstable();
            ids.dedup();
            (
                self.systems_at(snap.conn(), generation).await?,
                configs::parameters(snap.conn(), &devices).await?,
                store::firmware::of_systems(snap.conn(), &ids).await?,
                store::systems::profile_keys(snap.conn()).await?,
            )
        };
        // Soft clients' owners and what their files share, read only when there are some.
        let is_soft = |model: &str| {
            self.catalog
                .get(model)
                .is_some_and(|t| t.naming == model::Naming::Upc)
        };
        let soft_owners: Vec<i64> = devices
            .iter()
            .filter(|d| is_soft(&d.model))
            .filter_map(|d| d.owner_id)
            .collect();
        let soft = if soft_owners.is_empty() {
            None
        } else {
            Some((
                self.client_shared(snap.conn()).await?,
                store::soft_client::owners(snap.conn(), &soft_owners).await?,
            ))
        };
        // Other vendors' desk phones search their owners' LDAP profiles: read only when there
        // are some.
        let is_vendor = |model: &str| {
            self.catalog
                .get(model)
                .is_some_and(|t| t.family.is_other_vendor())
        };
        let vendor_owners: Vec<i64> = devices
            .iter()
            .filter(|d| is_vendor(&d.model))
            .filter_map(|d| d.owner_id)
            .collect();
        let directories = if vendor_owners.is_empty() {
            None
        } else {
            let attributes = crate::soft_client::client_attributes(
                &self.ldap_attribute_map_in(snap.conn()).await?,
            );
            let mut profiles = HashMap::new();
            for (mut ldap, sealed) in store::directory::client_profiles(snap.conn()).await? {
                ldap.attributes = attributes.clone();
                let password = match (&sealed, ldap.anonymous_bind) {
                    (Some(enc), false) => Secret::new(self.key.open(enc)?),
                    _ => Secret::default(),
                };
                if ldap.anonymous_bind {
                    ldap.bind_dn.clear();
                }
                profiles.insert(
                    ldap.profile.clone(),
                    Arc::new(PhoneDirectory { ldap, password }),
                );
            }
            Some((
                store::soft_client::owners(snap.conn(), &vendor_owners).await?,
                profiles,
            ))
        };
        snap.finish().await?;
        let systems: HashMap<i64, Arc<System>> = systems
            .iter()
            .map(|s| (s.id, Arc::new(s.clone())))
            .collect();
        let sets: HashMap<(&str, i64, &str), &BTreeMap<String, String>> = sets
            .iter()
            .map(|s| {
                (
                    (s.scope.as_str(), s.system_id, s.target.as_str()),
                    &s.values,
                )
            })
            .collect();
        let mut loads_of: HashMap<(i64, &str), Vec<&model::firmware::LoadChoice>> = HashMap::new();
        for c in &loads {
            loads_of
                .entry((c.system_id, c.choice.model.as_str()))
                .or_default()
                .push(&c.choice);
        }
        // Phones of one system, pool and model without sets of their own share one resolution.
        let mut shared: HashMap<(i64, &str, &str), Arc<Resolved>> = HashMap::new();
        let mut phones = Vec::with_capacity(devices.len());
        for d in &devices {
            let Some(system) = systems.get(&d.system_id) else {
                continue;
            };
            let own = sets.get(&("device", d.system_id, d.name.as_str())).copied();
            let layers = |own: Option<&BTreeMap<String, String>>| {
                let mut layers: Vec<(Origin, &BTreeMap<String, String>)> = Vec::new();
                if let Some(v) = sets.get(&("system", d.system_id, "")) {
                    layers.push((Origin::System(system.name.clone()), v));
                }
                if !d.device_pool.is_empty() {
                    if let Some(v) = sets.get(&("device_pool", d.system_id, d.device_pool.as_str()))
                    {
                        layers.push((Origin::DevicePool(d.device_pool.clone()), v));
                    }
                }
                if let Some(v) = sets.get(&("model", d.system_id, d.model.as_str())) {
                    layers.push((Origin::Model(d.model.clone()), v));
                }
                if let Some(v) = own {
                    layers.push((Origin::Device(d.name.clone()), v));
                }
                Arc::new(provisioning::resolve(&layers))
            };
            let parameters = match own {
                Some(_) => layers(own),
                None => shared
                    .entry((d.system_id, d.device_pool.as_str(), d.model.as_str()))
                    .or_insert_with(|| layers(None))
                    .clone(),
            };
            let owner = match (&d.owner_user_id, &d.owner_digest_enc) {
                (Some(u), Some(enc)) => Some((u.clone(), Secret::new(self.key.open(enc)?))),
                (Some(u), None) => Some((u.clone(), Secret::default())),
                _ => None,
            };
            let http_credential = d
                .http_password_enc
                .as_deref()
                .map(|enc| {
                    Ok::<_, crate::Error>(DeviceCredential {
                        username: crate::http_username(d.mac.as_deref(), &d.name),
                        password: Secret::new(self.key.open(enc)?),
                    })
                })
                .transpose()?;
            let profile_key = if system.settings.profile_encryption == ProfileEncryption::Off {
                None
            } else {
                d.profile_key_enc
                    .as_deref()
                    .or_else(|| {
                        system_keys
                            .iter()
                            .find(|(id, _)| *id == d.system_id)
                            .map(|(_, k)| k.as_str())
                    })
                    .map(|enc| self.key.open(enc).map(Secret::new))
                    .transpose()?
            };
            phones.push(PhoneConfig {
                id: d.id,
                name: d.name.clone(),
                mac: d.mac.clone(),
                model: d.model.clone(),
                protocol: d.protocol.clone(),
                description: d.description.clone(),
                device_pool: d.device_pool.clone(),
                security_mode: d.security_mode,
                dnd: d.dnd,
                expansion_modules: d.expansion_modules.clone(),
                speed_dials: d.speed_dials.clone(),
                sip_contact: d.sip_contact.clone(),
                system: system.clone(),
                owner,
                http_credential,
                profile_key,
                auto_registered: d.auto_registered,
                // A device profile's lines on this phone's own buttons: those past them are not
                // shown (the login says which).
                lines: match &d.profile {
                    Some(_) => {
                        let cap = self.button_capacity(&d.model, &d.expansion_modules);
                        d.lines
                            .iter()
                            .filter(|l| l.button <= cap)
                            .cloned()
                            .collect()
                    }
                    None => d.lines.clone(),
                },
                parameters,
                soft_client: match (&soft, d.owner_id) {
                    (Some((shared, owners)), Some(o)) if is_soft(&d.model) => {
                        owners.get(&o).map(|o| Arc::new(shared.file(o)))
                    }
                    _ => None,
                },
                load: loads_of
                    .get(&(d.system_id, d.model.as_str()))
                    .and_then(|c| {
                        model::firmware::chosen(c.iter().copied(), &d.name, &d.device_pool)
                    })
                    .map(|c| c.load.clone()),
                directory: match (&directories, d.owner_id) {
                    (Some((owners, profiles)), Some(o)) if is_vendor(&d.model) => owners
                        .get(&o)
                        .and_then(|op| op.ldap.as_ref())
                        .and_then(|name| profiles.get(name))
                        .cloned(),
                    _ => None,
                },
            });
        }
        Ok(PhoneConfigs { generation, phones })
    }

    /// The product systems as they are at `generation` (read in a snapshot at it): kept from
    /// one batch of phone files to the next until a write moves the generation.
    async fn systems_at(
        &self,
        conn: &mut store::Conn,
        generation: i64,
    ) -> Result<Arc<Vec<System>>> {
        if let Some((g, s)) = self.systems_at.lock().expect("systems lock").as_ref() {
            if *g == generation {
                return Ok(s.clone());
            }
        }
        let mut systems = self.systems_in(conn).await?;
        // A system that names no TFTP servers gives its soft clients the cluster's nodes: the
        // first three by name, a primary and two backups as the clients take them.
        let nodes = store::cluster::tftp_hosts(conn).await?;
        if !nodes.is_empty() {
            for s in systems
                .iter_mut()
                .filter(|s| s.settings.tftp_servers.is_empty())
            {
                s.settings.tftp_servers = nodes.iter().take(3).cloned().collect();
            }
        }
        let s = Arc::new(systems);
        *self.systems_at.lock().expect("systems lock") = Some((generation, s.clone()));
        Ok(s)
    }

    /// The ids of every phone (not device profiles), in id order.
    pub async fn phone_ids(&self) -> Result<Vec<i64>> {
        let mut c = self.store.read().await?;
        Ok(store::devices::phone_ids(&mut c).await?)
    }

    /// The id of the device holding `mac`, if any.
    pub async fn device_with_mac(&self, mac: &Mac) -> Result<Option<i64>> {
        let mut c = self.store.read().await?;
        Ok(store::devices::by_mac(&mut c, mac.as_str())
            .await?
            .map(|(id, _)| id))
    }

    /// The one device that made requests from `ip`, if exactly one did.
    pub async fn device_at(&self, ip: &str) -> Result<Option<i64>> {
        let mut c = self.store.read().await?;
        Ok(store::status::device_by_ip(&mut c, ip).await?)
    }

    /// The address each of these devices last made a request or sent a report from.
    pub async fn last_addresses(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        let mut c = self.store.read().await?;
        Ok(configs::last_addresses(&mut c, ids).await?)
    }

    /// The generation: a number every committed write increases (this process's at once,
    /// another's within [`store::GENERATION_RECHECK`]).
    pub async fn generation(&self) -> Result<i64> {
        Ok(self.store.generation().await?)
    }

    /// The devices reached by the writes committed after generation `after`.
    pub async fn changes_since(&self, after: i64) -> Result<FileChanges> {
        let mut snap = self.store.snapshot().await?;
        let through = snap.generation().await?;
        if through <= after {
            snap.finish().await?;
            return Ok(FileChanges {
                through,
                ..Default::default()
            });
        }
        let Some(entries) = changes::since(snap.conn(), after).await? else {
            snap.finish().await?;
            return Ok(FileChanges {
                through,
                all: Some(through),
                devices: Vec::new(),
            });
        };
        let mut all = None;
        let mut reached: HashMap<i64, i64> = HashMap::new();
        for e in &entries {
            match &e.change {
                Change::All => all = Some(e.generation),
                Change::Device(id) => {
                    reached.insert(*id, e.generation);
                }
                scope => {
                    for id in changes::devices_in(snap.conn(), scope).await? {
                        reached.insert(id, e.generation);
                    }
                }
            }
        }
        snap.finish().await?;
        let mut devices: Vec<(i64, i64)> = reached.into_iter().collect();
        devices.sort_unstable();
        Ok(FileChanges {
            through,
            all,
            devices,
        })
    }

    /// Drops change-journal entries older than `age`; a reader further behind looks at
    /// everything instead.
    pub async fn prune_changes(&self, age: std::time::Duration) -> Result<u64> {
        let before = store::time_ago(age);
        let mut tx = self.store.write_unversioned().await?;
        let n = changes::prune(tx.conn(), &before).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Records requests devices made (without bumping the generation: no file changes with a
    /// status).
    pub async fn record_seen(&self, seen: &[Seen]) -> Result<()> {
        if seen.is_empty() {
            return Ok(());
        }
        // The firmware a User-Agent names, kept for the counts by firmware.
        let seen: Vec<Seen> = seen
            .iter()
            .map(|s| Seen {
                firmware: crate::devices::firmware_of(&s.user_agent).unwrap_or_default(),
                ..s.clone()
            })
            .collect();
        let mut tx = self.store.write_unversioned().await?;
        store::status::record(tx.conn(), &seen).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records resync reports phones sent over syslog.
    pub async fn record_reports(&self, reports: &[ResyncReport]) -> Result<()> {
        if reports.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.write_unversioned().await?;
        store::status::record_reports(tx.conn(), reports).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records how a resync NOTIFY to a device went.
    pub async fn record_notify(&self, device_id: i64, outcome: &str) -> Result<()> {
        let mut tx = self.store.write_unversioned().await?;
        store::status::record_notify(tx.conn(), device_id, &store::now(), outcome).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The recorded digests of these devices' files (those without one are left out).
    pub async fn file_digests(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        let mut c = self.store.read().await?;
        let mut out = HashMap::new();
        for part in ids.chunks(1000) {
            out.extend(store::status::file_digests_of(&mut c, part).await?);
        }
        Ok(out)
    }

    /// Moves each device's file digest from the old value to the new one, compare-and-set
    /// (of several nodes seeing the same change, one alone moves it). Answers the devices
    /// whose digest this call moved from a previous one (a first digest is a baseline). With
    /// `owe`, this node owes each of them a NOTIFY until [`Service::record_notify`] or
    /// [`Service::settle_notify`]: should it die first, another node sends it.
    pub async fn move_file_digests(
        &self,
        moves: &[(i64, String, String)],
        owe: bool,
    ) -> Result<Vec<i64>> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        let owed_by = if owe { self.node().run.as_str() } else { "" };
        let mut tx = self.store.write_unversioned().await?;
        let changed =
            store::status::move_file_digests(tx.conn(), moves, &store::now(), owed_by).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// The NOTIFY owed to a device needs no sending (it has no address).
    pub async fn settle_notify(&self, device_id: i64) -> Result<()> {
        let mut tx = self.store.write_unversioned().await?;
        store::status::settle_notify(tx.conn(), device_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes over the NOTIFYs owed by nodes that died: the devices this node now owes one.
    pub async fn claim_owed_notifies(&self) -> Result<Vec<i64>> {
        if self.node().run.is_empty() {
            return Ok(Vec::new());
        }
        let at = self.store.clock_ms().await?;
        let mut tx = self.store.write_unversioned().await?;
        let ids = store::status::claim_owed_notifies(
            tx.conn(),
            &self.node().run,
            at - model::cluster::NODE_DEAD_MS,
        )
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Closes the database connections (at shut-down).
    pub async fn close(&self) {
        self.store.close().await
    }
}
