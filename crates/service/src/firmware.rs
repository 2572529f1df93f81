//! Firmware loads (docs/firmware.md): the files sit in the firmware folder (put there by hand or
//! uploaded); a load is named by its `.loads` file; each model is given a load per system, which
//! a device pool or one phone may override. Phones read the files over HTTP and TFTP; their
//! own files name the load (`<loadInformation>`, MPP's `Upgrade_Rule`).

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::firmware::{self as fw, Firmware, FirmwareFile, LoadChoice, LoadScope, PhoneOffLoad};
use model::rules::DeviceClass;
use model::{DeviceFamily, SystemKind};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// The largest file an upload may bring (a phone load's biggest file is a few hundred MB).
pub const MAX_UPLOAD_BYTES: u64 = 2 << 30;

impl Service {
    /// Where firmware files are read from and uploaded to.
    pub fn with_firmware_folder(mut self, folder: impl Into<PathBuf>) -> Service {
        self.firmware_folder = std::sync::Arc::new(folder.into());
        self
    }

    pub fn firmware_folder(&self) -> &Path {
        &self.firmware_folder
    }

    /// The file `name` of the firmware folder, when it is one a phone may read.
    pub fn firmware_file(&self, name: &str) -> Option<PathBuf> {
        fw::check_file_name(name).ok()?;
        let p = self.firmware_folder.join(name);
        std::fs::metadata(&p).ok()?.is_file().then_some(p)
    }

    /// The files in the firmware folder, by name (a missing folder holds none).
    pub async fn firmware_files(&self) -> Result<Vec<FirmwareFile>> {
        let folder = self.firmware_folder.as_ref().clone();
        tokio::task::spawn_blocking(move || list_folder(&folder))
            .await
            .map_err(|e| Error::Internal(format!("listing the firmware folder: {e}")))?
    }

    /// The firmware folder, its loads, and the loads chosen.
    pub async fn firmware(&self) -> Result<Firmware> {
        let files = self.firmware_files().await?;
        let mut c = self.store.read().await?;
        let choices = store::firmware::list(&mut c).await?;
        Ok(Firmware {
            folder: self.firmware_folder.display().to_string(),
            loads: files.iter().filter_map(|f| f.load.clone()).collect(),
            files,
            choices: choices.into_iter().map(|c| c.choice).collect(),
        })
    }

    /// Writes a file into the firmware folder from `body` (at most [`MAX_UPLOAD_BYTES`]): to a
    /// hidden temporary file first, renamed over the name once complete, so a phone never
    /// reads half a file. Replacing a file is an update.
    pub async fn upload_firmware(
        &self,
        actor: &Actor,
        name: &str,
        mut body: impl AsyncRead + Unpin,
    ) -> Result<FirmwareFile> {
        let name = name.trim();
        let target = self.firmware_folder.join(name);
        let exists = fw::check_file_name(name).is_ok() && target.is_file();
        let a = Audit {
            action: if exists {
                Action::Update
            } else {
                Action::Create
            },
            resource: Resource::Firmware,
            target: name.to_string(),
            system: String::new(),
        };
        let checked = async {
            fw::check_file_name(name)?;
            let act = if exists { "update" } else { "create" };
            if !actor.may("", "firmware", act) {
                return Err(Error::Forbidden(format!(
                    "{} may not {act} firmware: none of their roles gives (*, firmware, {act})",
                    actor.name
                )));
            }
            tokio::fs::create_dir_all(&*self.firmware_folder)
                .await
                .map_err(|e| io_error("creating the firmware folder", &self.firmware_folder, e))?;
            let tmp = self
                .firmware_folder
                .join(format!(".upload-{}-{name}", std::process::id()));
            let written = async {
                let mut f = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| io_error("creating", &tmp, e))?;
                let mut limited = (&mut body).take(MAX_UPLOAD_BYTES + 1);
                let n = tokio::io::copy(&mut limited, &mut f).await.map_err(|e| {
                    Error::invalid("file", format!("the upload of {name} broke off: {e}"))
                })?;
                if n > MAX_UPLOAD_BYTES {
                    return Err(Error::invalid(
                        "file",
                        format!(
                            "{name} is larger than {} bytes, the most an upload may bring",
                            MAX_UPLOAD_BYTES
                        ),
                    ));
                }
                if n == 0 {
                    return Err(Error::invalid(
                        "file",
                        format!("{name} is empty: nothing was uploaded"),
                    ));
                }
                f.flush().await.map_err(|e| io_error("writing", &tmp, e))?;
                f.sync_all()
                    .await
                    .map_err(|e| io_error("writing", &tmp, e))?;
                Ok(())
            }
            .await;
            if let Err(e) = written {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
            Ok(tmp)
        }
        .await;
        let tmp = match checked {
            Ok(t) => t,
            Err(e) => {
                self.audit_failure(actor, &a, &e).await;
                return Err(e);
            }
        };
        self.change(actor, a, async |_tx| {
            tokio::fs::rename(&tmp, &target)
                .await
                .map_err(|e| io_error("renaming into place", &target, e))?;
            Ok(())
        })
        .await?;
        let files = self.firmware_files().await?;
        files
            .into_iter()
            .find(|f| f.name == name)
            .ok_or_else(|| Error::Internal(format!("{name} was written and is gone")))
    }

    /// Deletes a file of the firmware folder; refused for the manifest of a load still chosen.
    pub async fn delete_firmware(&self, actor: &Actor, name: &str) -> Result<()> {
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Firmware,
            target: name.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let Some(path) = self.firmware_file(name) else {
                return Err(Error::NotFound(format!("there is no firmware file {name}")));
            };
            if let Some(load) = fw::load_of_file(name) {
                let using = store::firmware::using(tx.conn(), load).await?;
                if !using.is_empty() {
                    return Err(Error::conflict(
                        "name",
                        format!(
                            "load {load} is chosen for {}: choose another load for them first",
                            using
                                .iter()
                                .map(|c| describe(&c.choice))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    ));
                }
            }
            tokio::fs::remove_file(&path)
                .await
                .map_err(|e| io_error("deleting", &path, e))?;
            Ok(())
        })
        .await
    }

    /// Chooses the load of a model on a system, a device pool or one phone. The load must be in
    /// the firmware folder; the phones it reaches get new files (and a resync).
    pub async fn choose_load(&self, actor: &Actor, req: &LoadChoice) -> Result<LoadChoice> {
        let a = Audit {
            action: Action::Set,
            resource: Resource::Firmware,
            target: describe(req),
            system: req.system.clone(),
        };
        let loads: Vec<String> = self
            .firmware_files()
            .await?
            .into_iter()
            .filter_map(|f| f.load)
            .collect();
        self.change_named(actor, a, async |tx, a| {
            let (sys_id, c) = self.load_target(tx.conn(), req).await?;
            fw::check_load(&c.load)?;
            let Some(load) = loads.iter().find(|l| l.eq_ignore_ascii_case(&c.load)) else {
                return Err(Error::invalid(
                    "load",
                    format!(
                        "there is no load {} in the firmware folder ({}): put {}{} there, or upload it, first{}",
                        c.load,
                        self.firmware_folder.display(),
                        c.load,
                        fw::LOADS_SUFFIX,
                        if loads.is_empty() { String::new() } else { format!("; the loads there are: {}", loads.join(", ")) }
                    ),
                ));
            };
            let c = LoadChoice { load: load.clone(), ..c };
            a.target = describe(&c);
            a.system = c.system.clone();
            store::firmware::set(tx.conn(), sys_id, &c).await?;
            let change = self.load_change(tx.conn(), sys_id, &c).await?;
            tx.changed(change);
            Ok(c)
        })
        .await
    }

    /// Removes a choice of load: the phones it reached fall back to the wider one (or none).
    pub async fn unchoose_load(&self, actor: &Actor, req: &LoadChoice) -> Result<()> {
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Firmware,
            target: describe(req),
            system: req.system.clone(),
        };
        self.change_named(actor, a, async |tx, a| {
            let (sys_id, c) = self.load_target(tx.conn(), req).await?;
            a.target = describe(&c);
            a.system = c.system.clone();
            if !store::firmware::remove(tx.conn(), sys_id, &c.model, c.scope, &c.target).await? {
                return Err(Error::NotFound(format!(
                    "no load is chosen for {}",
                    describe(&c)
                )));
            }
            let change = self.load_change(tx.conn(), sys_id, &c).await?;
            tx.changed(change);
            Ok(())
        })
        .await
    }

    /// The phones not on the load chosen for them (those that never said what they run
    /// included), by name.
    pub async fn phones_off_load(&self) -> Result<Vec<PhoneOffLoad>> {
        let mut c = self.store.read().await?;
        let choices = store::firmware::list(&mut c).await?;
        let phones = store::firmware::phones(&mut c).await?;
        let mut out = Vec::new();
        for p in phones {
            let mine = choices
                .iter()
                .filter(|c| c.system_id == p.system_id && c.choice.model == p.model)
                .map(|c| &c.choice);
            let Some(chosen) = fw::chosen(mine, &p.name, &p.device_pool) else {
                continue;
            };
            if !p.firmware.is_empty() && fw::runs(&p.firmware, &chosen.load) {
                continue;
            }
            out.push(PhoneOffLoad {
                phone: p.name,
                model: p.model,
                system: p.system,
                chosen: chosen.load.clone(),
                chosen_by: chosen.scope,
                running: (!p.firmware.is_empty()).then_some(p.firmware),
            });
        }
        Ok(out)
    }

    /// A phone fetched the manifest of `load`: enterprise phones say no more about their
    /// firmware, and install what they fetch, so it is recorded as what the phone runs.
    pub async fn record_load(&self, device_id: i64, load: &str) -> Result<()> {
        let mut tx = self.store.write_unversioned().await?;
        store::firmware::record_fetched(tx.conn(), device_id, load).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The system and the stored form of a choice's target, checked: a model of the catalogue
    /// with firmware (not a soft client), a named device pool, or a phone of that model.
    async fn load_target(
        &self,
        conn: &mut store::Conn,
        req: &LoadChoice,
    ) -> Result<(i64, LoadChoice)> {
        let model = req.model.trim();
        let t = self.catalog.get(model).ok_or_else(|| {
            Error::invalid(
                "model",
                format!(
                    "there is no model `{model}`; the models are: {}",
                    self.catalog.model_names()
                ),
            )
        })?;
        if t.family == DeviceFamily::SoftClient {
            return Err(Error::invalid(
                "model",
                format!("{} is a soft client: it has no firmware load", t.model),
            ));
        }
        let target = req.target.trim();
        let (sys, target) = match req.scope {
            LoadScope::Device => {
                let id = self.device_id(conn, DeviceClass::Phone, target).await?;
                let d = store::devices::by_id(conn, id).await?;
                if !d.row.model.eq_ignore_ascii_case(&t.model) {
                    return Err(Error::invalid(
                        "model",
                        format!("{} is a {}, not a {}", d.row.name, d.row.model, t.model),
                    ));
                }
                let sys = store::systems::by_id(conn, d.row.system_id).await?;
                (sys, d.row.name)
            }
            scope => {
                let sys = self
                    .pick_system(
                        conn,
                        Some(req.system.trim()).filter(|s| !s.is_empty()),
                        SystemKind::CallControl,
                    )
                    .await?;
                let target = match scope {
                    LoadScope::DevicePool if target.is_empty() => {
                        return Err(Error::invalid("target", "name the device pool"))
                    }
                    LoadScope::DevicePool => target.to_string(),
                    _ => String::new(),
                };
                (sys, target)
            }
        };
        Ok((
            sys.id,
            LoadChoice {
                system: sys.name,
                model: t.model.clone(),
                scope: req.scope,
                target,
                load: req.load.trim().to_string(),
            },
        ))
    }

    /// The phones a choice reaches, for the change journal.
    async fn load_change(
        &self,
        conn: &mut store::Conn,
        system: i64,
        c: &LoadChoice,
    ) -> Result<store::Change> {
        Ok(match c.scope {
            LoadScope::Device => match store::devices::id_by_name(conn, &c.target).await? {
                Some((id, _)) => store::Change::Device(id),
                None => store::Change::System(system),
            },
            _ => store::Change::Model {
                system,
                model: c.model.clone(),
            },
        })
    }
}

/// A choice as messages and the audit log name it: `7841 on cucm`, `7841 in pool Lab`,
/// `7841 SEP001122334455`.
fn describe(c: &LoadChoice) -> String {
    match c.scope {
        LoadScope::System if c.system.is_empty() => format!("model {}", c.model),
        LoadScope::System => format!("model {} on {}", c.model, c.system),
        LoadScope::DevicePool => format!("model {} in device pool {}", c.model, c.target),
        LoadScope::Device => format!("model {} on phone {}", c.model, c.target),
    }
}

fn io_error(doing: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("{doing} {}: {e}", path.display()))
}

fn list_folder(folder: &Path) -> Result<Vec<FirmwareFile>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("reading", folder, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| io_error("reading", folder, e))?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if fw::check_file_name(&name).is_err() {
            continue;
        }
        let Ok(m) = e.metadata() else { continue };
        if !m.is_file() {
            continue;
        }
        let modified = m
            .modified()
            .ok()
            .map(|t| store::format_time(time::OffsetDateTime::from(t)))
            .unwrap_or_default();
        out.push(FirmwareFile {
            load: fw::load_of_file(&name).map(str::to_string),
            name,
            bytes: m.len(),
            modified,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
