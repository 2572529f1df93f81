//! CSV import: each row of a file ([`bulk`]) becomes the use case it asks for (add, modify or
//! delete one record), in its own transaction, so a bad row fails alone and says why (line,
//! column, reason) while the others go in. A dry run runs every row to its end against what is
//! stored and rolls each back. The job is one audit entry, with every failed row in its detail.

use crate::{Actor, Error, Result, Service};
use bulk::{Kind, RowError};
use model::*;
use serde_json::{Map, Value};
use store::audit::NewEntry;

/// What each row does to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    Add,
    Modify,
    Delete,
}

impl ImportMode {
    pub fn parse(s: &str) -> Option<ImportMode> {
        match s {
            "add" => Some(ImportMode::Add),
            "modify" => Some(ImportMode::Modify),
            "delete" => Some(ImportMode::Delete),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ImportMode::Add => "add",
            ImportMode::Modify => "modify",
            ImportMode::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: Kind,
    pub mode: ImportMode,
    pub dry_run: bool,
    /// Stop at the first failed row (the rows before it stay done).
    pub stop_on_error: bool,
    /// The file's name, for the audit log.
    pub source: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    pub rows: u64,
    pub ok: u64,
    /// Of the ok rows in add mode: the record was there already, as the row has it (a file
    /// imported again after an interruption finishes the job instead of failing).
    pub unchanged: u64,
    pub failed: u64,
    /// Every problem of every failed row, in file order.
    pub errors: Vec<RowError>,
    pub dry_run: bool,
    /// True when `stop_on_error` ended the job before the end of the file.
    pub stopped: bool,
}

impl ImportReport {
    /// `N rows: A ok, B failed`.
    pub fn summary(&self) -> String {
        format!(
            "{} rows: {} ok, {} failed{}{}{}",
            self.rows,
            self.ok,
            self.failed,
            if self.unchanged > 0 {
                format!("; {} of the ok were there already", self.unchanged)
            } else {
                String::new()
            },
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
            if self.stopped {
                " (stopped at the first failure)"
            } else {
                ""
            }
        )
    }
}

fn text<'a>(r: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

/// A row's record as the use case's input type.
fn input<T: serde::de::DeserializeOwned>(r: Map<String, Value>) -> Result<T> {
    serde_json::from_value(Value::Object(r)).map_err(|e| Error::invalid("", e.to_string()))
}

/// The row's fields as a patch carrying `version`, without the fields that name the record.
fn patch<T: serde::de::DeserializeOwned>(
    mut r: Map<String, Value>,
    keys: &[&str],
    version: i64,
) -> Result<T> {
    for k in keys {
        r.remove(*k);
    }
    r.insert("version".into(), Value::from(version));
    input(r)
}

/// A phone named by the row: its device name, or `SEP` + its MAC.
fn phone_name(r: &Map<String, Value>) -> Result<String> {
    if let Some(n) = text(r, "name") {
        return Ok(n.to_string());
    }
    let mac = Mac::parse(text(r, "mac").unwrap_or(""))?;
    Ok(format!("SEP{}", mac.as_str()))
}

impl Service {
    /// Imports the rows of `rows` as `opts` says; `progress` is told after each row how many
    /// rows are done.
    pub async fn import<R: std::io::Read>(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        rows: bulk::Reader<R>,
        mut progress: impl FnMut(&ImportReport),
    ) -> Result<ImportReport> {
        let svc = if opts.dry_run {
            self.dry_run()
        } else {
            self.clone()
        };
        let mut report = ImportReport {
            dry_run: opts.dry_run,
            ..Default::default()
        };
        for row in rows {
            report.rows += 1;
            let errors = match row.record {
                Err(errors) => errors,
                Ok(record) => match svc.import_row(actor, opts, record.clone()).await {
                    Ok(()) => Vec::new(),
                    Err(Error::Conflict { .. })
                        if opts.mode == ImportMode::Add
                            && svc.already_there(opts.kind, &record).await =>
                    {
                        report.unchanged += 1;
                        Vec::new()
                    }
                    Err(e) => {
                        let column = e
                            .field()
                            .filter(|f| !f.is_empty())
                            .and_then(|f| bulk::column_for(opts.kind, f, &record));
                        vec![RowError {
                            line: row.line,
                            column,
                            reason: e.to_string(),
                        }]
                    }
                },
            };
            if errors.is_empty() {
                report.ok += 1;
            } else {
                report.failed += 1;
                report.errors.extend(errors);
            }
            progress(&report);
            if opts.stop_on_error && report.failed > 0 {
                report.stopped = true;
                break;
            }
        }
        if !opts.dry_run {
            self.audit_import(actor, opts, &report).await?;
        }
        Ok(report)
    }

    async fn audit_import(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        report: &ImportReport,
    ) -> Result<()> {
        let result = match (report.ok, report.failed) {
            (_, 0) => Outcome::Ok,
            (0, _) => Outcome::Failed,
            _ => Outcome::Partial,
        };
        let mut detail = format!("{} ({} mode)", report.summary(), opts.mode.name());
        for e in report.errors.iter().take(1000) {
            detail.push_str("; ");
            detail.push_str(&e.to_string());
        }
        if report.errors.len() > 1000 {
            detail.push_str(&format!("; and {} more", report.errors.len() - 1000));
        }
        let mut tx = self.store.write().await?;
        store::audit::append(
            tx.conn(),
            &NewEntry {
                actor: &actor.name,
                action: "import",
                resource: opts.kind.name(),
                target: &opts.source,
                system: "",
                result,
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn import_row(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        r: Map<String, Value>,
    ) -> Result<()> {
        use ImportMode::*;
        let system = text(&r, "system").map(str::to_string);
        let system = system.as_deref();
        match (opts.kind, opts.mode) {
            (Kind::Users, Add) => drop(self.create_user(actor, input(r)?).await?),
            (Kind::Users, Modify) => {
                let key = text(&r, "user_id").unwrap_or("").to_string();
                let current = self.stored(opts.kind, &r).await?;
                let mut r = r;
                // ENABLE CUP alone leaves ENABLE CUPC as it is (the patch sets both).
                if let Some(Value::Object(given)) = r.get_mut("capabilities") {
                    let mut both = match &current["capabilities"] {
                        Value::Object(m) => m.clone(),
                        _ => Map::new(),
                    };
                    both.extend(std::mem::take(given));
                    *given = both;
                }
                let p = patch(r, &["user_id", "system"], version(&current))?;
                drop(self.update_user(actor, &key, system, p).await?)
            }
            (Kind::Users, Delete) => {
                let key = text(&r, "user_id").unwrap_or("");
                self.delete_user(actor, key, system).await?
            }
            // A user's application profiles: the row sets them (add and modify alike);
            // delete clears them.
            (Kind::AppProfiles, mode) => {
                let key = text(&r, "user_id").unwrap_or("").to_string();
                let v = version(&self.stored(opts.kind, &r).await?);
                let profiles = if mode == Delete {
                    Value::Object(Map::new())
                } else {
                    r.get("app_profiles")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Map::new()))
                };
                let mut m = Map::new();
                m.insert("app_profiles".into(), profiles);
                drop(
                    self.update_user(actor, &key, system, patch(m, &[], v)?)
                        .await?,
                )
            }
            (Kind::Lines, Add) => drop(self.create_line(actor, input(r)?).await?),
            (Kind::Lines, Modify) | (Kind::Lines, Delete) => {
                let key = text(&r, "pattern").unwrap_or("").to_string();
                let partition = text(&r, "partition").map(str::to_string);
                let partition = Some(partition.as_deref().unwrap_or(""));
                if opts.mode == Delete {
                    return self.delete_line(actor, &key, partition, system).await;
                }
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch(r, &["pattern", "partition", "system"], v)?;
                drop(self.update_line(actor, &key, partition, system, p).await?)
            }
            (Kind::Phones, Add) => drop(self.create_phone(actor, input(r)?).await?),
            (Kind::Phones, Modify) => {
                let key = phone_name(&r)?;
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch(r, &["name", "mac", "system"], v)?;
                drop(self.update_phone(actor, &key, p).await?)
            }
            (Kind::Phones, Delete) => self.delete_phone(actor, &phone_name(&r)?).await?,
            (Kind::DeviceProfiles, Add) => {
                drop(self.create_device_profile(actor, input(r)?).await?)
            }
            (Kind::DeviceProfiles, Modify) => {
                let key = text(&r, "name").unwrap_or("").to_string();
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch(r, &["name"], v)?;
                drop(self.update_device_profile(actor, &key, p).await?)
            }
            (Kind::DeviceProfiles, Delete) => {
                let key = text(&r, "name").unwrap_or("");
                self.delete_device_profile(actor, key).await?
            }
            (Kind::VoicemailSubscribers, Add) => {
                drop(self.create_voicemail_subscriber(actor, input(r)?).await?)
            }
            (Kind::VoicemailSubscribers, Modify) => {
                let key = text(&r, "alias").unwrap_or("").to_string();
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch(r, &["alias", "system"], v)?;
                drop(
                    self.update_voicemail_subscriber(actor, &key, system, p)
                        .await?,
                )
            }
            (Kind::VoicemailSubscribers, Delete) => {
                let key = text(&r, "alias").unwrap_or("");
                self.delete_voicemail_subscriber(actor, key, system).await?
            }
        }
        Ok(())
    }
}

impl Service {
    /// Whether the record the row names is stored with every value the row gives. Rows with
    /// secrets never are (a stored secret is a hash: it cannot be compared here).
    async fn already_there(&self, kind: Kind, r: &Map<String, Value>) -> bool {
        if ["password", "pin", "digest_credential"]
            .iter()
            .any(|k| r.contains_key(*k))
        {
            return false;
        }
        match self.stored(kind, r).await {
            Ok(stored) => within(&Value::Object(r.clone()), &stored, ""),
            Err(_) => false,
        }
    }

    /// The record the row names, as the API answers it.
    async fn stored(&self, kind: Kind, r: &Map<String, Value>) -> Result<Value> {
        let system = text(r, "system");
        let key = |k: &str| text(r, k).unwrap_or("").to_string();
        match kind {
            Kind::Users | Kind::AppProfiles => json(self.user(&key("user_id"), system).await?),
            Kind::Lines => {
                let partition = Some(text(r, "partition").unwrap_or(""));
                json(self.line(&key("pattern"), partition, system).await?)
            }
            Kind::Phones => json(self.phone(&phone_name(r)?).await?),
            Kind::DeviceProfiles => json(self.device_profile(&key("name")).await?),
            Kind::VoicemailSubscribers => {
                json(self.voicemail_subscriber(&key("alias"), system).await?)
            }
        }
    }

    /// Every record of `kind`, as the API answers them (for `bulk::write`), read a page at a
    /// time in the order of their names.
    pub async fn export(&self, kind: Kind) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut f = store::Find {
            limit: 1000,
            ..Default::default()
        };
        loop {
            let (items, total) = match kind {
                Kind::Users | Kind::AppProfiles => {
                    let p = self.find_users(&f).await?;
                    (json_items(p.items)?, p.total)
                }
                Kind::Phones => {
                    let p = self.find_phones(&f).await?;
                    (json_items(p.items)?, p.total)
                }
                Kind::DeviceProfiles => {
                    let p = self.find_device_profiles(&f).await?;
                    (json_items(p.items)?, p.total)
                }
                Kind::Lines => {
                    let p = self.find_lines(&f).await?;
                    (json_items(p.items)?, p.total)
                }
                Kind::VoicemailSubscribers => {
                    let p = self.find_voicemail_subscribers(&f).await?;
                    (json_items(p.items)?, p.total)
                }
            };
            let n = items.len() as i64;
            out.extend(items);
            f.offset += n;
            if n == 0 || f.offset >= total {
                return Ok(out);
            }
        }
    }
}

fn json<T: serde::Serialize>(item: T) -> Result<Value> {
    serde_json::to_value(item).map_err(|e| Error::Internal(e.to_string()))
}

fn json_items<T: serde::Serialize>(items: Vec<T>) -> Result<Vec<Value>> {
    items.into_iter().map(json).collect()
}

/// The `version` of a record as the API answers it.
fn version(record: &Value) -> i64 {
    record["version"].as_i64().unwrap_or_default()
}

/// Whether every value of `row` is in `stored` (lists entry by entry, MACs in any spelling).
fn within(row: &Value, stored: &Value, key: &str) -> bool {
    match (row, stored) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| within(v, w, k))),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| within(v, w, key))
        }
        (Value::String(a), Value::String(b)) if key == "mac" => {
            matches!((Mac::parse(a), Mac::parse(b)), (Ok(x), Ok(y)) if x == y)
        }
        (a, b) => a == b,
    }
}
