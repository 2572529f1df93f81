//! Dialtone's use cases: each one reads what it needs, checks every rule, writes in one
//! transaction and records what it did in the audit log. Front ends (REST API, CLI, later the
//! web console and CSV jobs) call these and nothing below them.
#![forbid(unsafe_code)]

mod access;
pub use access::{Session, SESSION_IDLE};
mod auth;
mod cluster;
pub use cluster::{Node, SCHEDULER};
mod import;
mod import_jobs;
pub use import::{keep_to_one_cpu, ImportMode, ImportOptions, ImportReport, KEPT_BYTES};
mod contacts;
mod crypto;
mod devices;
mod directory;
mod directory_sync;
mod dnd;
mod extension_mobility;
mod firmware;
pub use firmware::MAX_UPLOAD_BYTES as MAX_FIRMWARE_UPLOAD_BYTES;
mod http_credentials;
mod licensing;
pub use licensing::{licence_key_pair, sign_licence, LicenceKey};
mod lines;
mod parameters;
mod people;
mod phone_files;
mod phone_services;
mod prefetch;
mod resync;
mod rotation;
pub use rotation::{key_opens, Rotation};
mod secrets;
pub use secrets::{hashing_cpus, HASH_BATCH};
mod self_care;
pub use self_care::{EndUserSession, SelfCare};
mod self_provisioning;
mod soft_client;
mod spool;
pub use self_provisioning::{
    AutoRefusal, AutoRegistration, Claim, ClaimError, CLAIM_ATTEMPTS, CLAIM_LOCKOUT,
};
pub use soft_client::{home_of, PresenceNode};
pub use spool::{Spooled, MAX_IMPORT_BYTES};
mod systems;
mod templates;
pub mod throttle;
mod universal_templates;
mod user_profiles;
mod users;
mod voicemail;
mod voicemail_records;

pub use auth::{hash_secret, verify_secret};
pub use crypto::SecretKey;
pub use http_credentials::{http_username, DeviceCredential};
pub use phone_files::{FileChanges, PhoneConfig, PhoneConfigs, PhoneDirectory, PhoneKeys};
/// How long this process trusts the generation it read before asking the database again: the
/// most a change committed by another process or node takes to reach this one's phone files.
pub use store::GENERATION_RECHECK;

/// The current time as Dialtone records it: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    store::now()
}
use store::Store;

use model::access::{Action, Resource};
use model::{BatchFailure, BatchResult, Catalog, Invalid, Outcome, System, SystemKind};
use store::audit::NewEntry;
use store::WriteTx;

/// Who is acting: an administrator's name, `cli`, or `system`, with what their roles allow.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    /// `None`: everything (the CLI, the system itself, a superadmin).
    privileges: Option<std::sync::Arc<[model::Privilege]>>,
    /// The hash of the token or console session this request came through, if one: a password
    /// change ends the administrator's other credentials, not this one.
    credential: Option<std::sync::Arc<str>>,
}

impl Actor {
    /// An actor that may do everything (the CLI on the database, the system).
    pub fn new(name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            privileges: None,
            credential: None,
        }
    }

    /// The same actor, acting through the credential whose hash is `hash`.
    pub(crate) fn through(mut self, hash: String) -> Actor {
        self.credential = Some(hash.into());
        self
    }

    /// An administrator with the privileges their roles give.
    pub fn with_privileges(name: impl Into<String>, privileges: Vec<model::Privilege>) -> Actor {
        let all = privileges
            .iter()
            .any(|p| p.system == "*" && p.resource == "*" && p.action == "*");
        Actor {
            name: name.into(),
            privileges: (!all).then(|| privileges.into()),
            credential: None,
        }
    }

    /// Whether this actor may do `action` (`create`, `update`, `delete`) to `resource` on
    /// `system` (`""` for records of no system).
    pub fn may(&self, system: &str, resource: &str, action: &str) -> bool {
        match &self.privileges {
            None => true,
            Some(ps) => ps.iter().any(|p| p.allows(system, resource, action)),
        }
    }

    /// Whether this actor may do `action` to `resource` on at least one system.
    pub fn may_somewhere(&self, resource: &str, action: &str) -> bool {
        match &self.privileges {
            None => true,
            Some(ps) => ps.iter().any(|p| {
                (p.resource == "*" || p.resource == resource)
                    && (p.action == "*" || p.action == action)
            }),
        }
    }

    /// Whether this actor may see `resource` records of `system` (`""`: of no system).
    pub fn may_read(&self, system: &str, resource: &str) -> bool {
        match &self.privileges {
            None => true,
            Some(ps) => ps.iter().any(|p| p.reads(system, resource)),
        }
    }

    /// The systems whose `resource` records this actor may see: `None` for every one (a
    /// privilege on `*`), else those named (empty: none).
    pub fn readable_systems(&self, resource: &str) -> Option<Vec<String>> {
        let ps = self.privileges.as_ref()?;
        let mine = ps
            .iter()
            .filter(|p| p.resource == "*" || p.resource == resource);
        let mut systems = Vec::new();
        for p in mine {
            if p.system == "*" {
                return None;
            }
            if !systems.contains(&p.system) {
                systems.push(p.system.clone());
            }
        }
        Some(systems)
    }

    /// The privileges, `None` meaning every one.
    pub fn privileges(&self) -> Option<&[model::Privilege]> {
        self.privileges.as_deref()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field is wrong; the message says how to fix it.
    #[error("{0}")]
    Invalid(Invalid),
    #[error("{0}")]
    NotFound(String),
    /// The change collides with what is stored (a duplicate, or a record still in use).
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// The record changed since the caller read it; `current` is what is stored now.
    #[error("the record changed since you read it (now version {version}): read it again and redo your change")]
    Stale {
        version: i64,
        current: Box<serde_json::Value>,
    },
    /// A natural key names records on several systems.
    #[error("{0}")]
    Ambiguous(String),
    #[error("{0}")]
    Unauthorized(String),
    /// An upload larger than the most the use case takes.
    #[error("{0}")]
    TooLarge(String),
    /// Too many failed attempts: the caller must wait `retry_after` seconds.
    #[error("{message}")]
    Throttled { message: String, retry_after: u64 },
    /// The actor's roles do not allow the change.
    #[error("{0}")]
    Forbidden(String),
    /// A server Dialtone depends on (an LDAP directory) did not answer or refused it.
    #[error("{0}")]
    Upstream(String),
    /// The database is unavailable for now (unreachable, or restarting): try again later.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Self {
        Error::Invalid(e)
    }
}

impl From<store::Error> for Error {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NotFound => Error::NotFound("not found".into()),
            store::Error::Unique(m) => {
                // Checks run before every insert; this is the race they cannot see: another
                // change added the same key between the check and the write.
                let field = unique_field(&m);
                Error::Conflict {
                    field: field.map(str::to_string),
                    message: format!(
                        "{} already exists: another change added it at the same moment; read it and try again",
                        field.unwrap_or("the record")
                    ),
                }
            }
            store::Error::InUse(m) => Error::Conflict {
                field: None,
                message: format!("still in use: {m}"),
            },
            store::Error::Stale => Error::Conflict {
                field: Some("version".into()),
                message: "the record changed meanwhile: read it again".into(),
            },
            store::Error::Config(m) => Error::Internal(m),
            store::Error::Db(m) => Error::Internal(m),
            store::Error::Unavailable(m) => {
                Error::Unavailable(format!("the database is unavailable, try again: {m}"))
            }
        }
    }
}

impl Error {
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid(i) => Some(&i.field),
            Error::Conflict { field, .. } => field.as_deref(),
            Error::Stale { .. } => Some("version"),
            _ => None,
        }
    }
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid(Invalid::new(field, message))
    }
    pub(crate) fn conflict(field: &str, message: impl Into<String>) -> Error {
        Error::Conflict {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

/// The request field behind a unique constraint, from the database's message (SQLite names the
/// columns, PostgreSQL the constraint, which carries them).
fn unique_field(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    [
        ("name_lc", "name"),
        ("mac", "mac"),
        ("pattern", "pattern"),
        ("user_id", "user_id"),
        ("alias", "alias"),
        ("username", "username"),
        ("name", "name"),
    ]
    .iter()
    .find(|(needle, _)| m.contains(needle))
    .map(|(_, field)| *field)
}

/// What one change did, for the audit log.
pub(crate) struct Audit {
    pub action: Action,
    pub resource: Resource,
    pub target: String,
    pub system: String,
}

impl Audit {
    /// The audit log's entry of this change by `actor`.
    fn entry<'a>(&'a self, actor: &'a Actor, result: Outcome, detail: &'a str) -> NewEntry<'a> {
        NewEntry {
            actor: &actor.name,
            action: self.action.as_str(),
            resource: self.resource.as_str(),
            target: &self.target,
            system: &self.system,
            result,
            detail,
        }
    }
}

/// Dialtone's use cases over one store.
#[derive(Clone)]
pub struct Service {
    store: Store,
    catalog: &'static Catalog,
    auth: auth::AuthCache,
    key: std::sync::Arc<SecretKey>,
    /// Held shared while this service may seal under `key`, so that no rotation runs meanwhile.
    _key_lock: Option<std::sync::Arc<std::sync::Mutex<store::rekey::KeyLock>>>,
    /// Every use case checks and writes as usual, then rolls back (and audits nothing).
    dry_run: bool,
    /// Set while an import runs: the product systems, read once (an import adds none).
    systems: Option<std::sync::Arc<tokio::sync::OnceCell<Vec<System>>>>,
    /// Set while an import runs: the default LDAP and CTI gateway profiles a new user gets,
    /// read once (users, phones and lines files change neither).
    new_user_defaults: Option<std::sync::Arc<tokio::sync::OnceCell<NewUserDefaults>>>,
    /// Set while an import runs: the ids its chunk's rows look up ([`prefetch`]).
    ids: Option<std::sync::Arc<std::sync::Mutex<prefetch::Ids>>>,
    /// The product systems as last read for phone files, and the generation they were read at.
    systems_at: std::sync::Arc<std::sync::Mutex<Option<SystemsAt>>>,
    /// Wrong self-provisioning secrets, per user and per phone.
    attempts: std::sync::Arc<self_provisioning::Attempts>,
    /// The key licences are checked with; none: licence units are not enforced.
    licence_key: Option<licensing::LicenceKey>,
    /// Set while an import or sync runs: licence units authorised and used as this batch
    /// last counted them ([`Service::check_units`]).
    units: Option<std::sync::Arc<std::sync::Mutex<Option<licensing::Tally>>>>,
    /// Where firmware files are (docs/firmware.md).
    firmware_folder: std::sync::Arc<std::path::PathBuf>,
    /// The bytes of dry runs' files kept (sealed) to run for real.
    kept_bytes: u64,
    /// End users' and phones' passwords and PINs checked at once (argon2: 19 MiB and a CPU
    /// each for tens of milliseconds): a flood of them waits its turn.
    checks: std::sync::Arc<tokio::sync::Semaphore>,
    /// Set while an import runs: passwords and PINs are sealed for the background hasher
    /// instead of hashed on the import's one CPU (docs/csv.md).
    seal_secrets: bool,
    /// Import rows committed since the start, by kind: (ok, failed) (`/metrics`).
    imported:
        std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<&'static str, (u64, u64)>>>,
    /// This process as a node of the cluster ([`cluster`]).
    node: std::sync::Arc<cluster::Node>,
}

/// The default LDAP profile and CTI gateway profile, by name.
pub(crate) type NewUserDefaults = (Option<String>, Option<String>);

/// The product systems read at a generation.
type SystemsAt = (i64, std::sync::Arc<Vec<System>>);

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The name of the call-control system the first start creates.
pub const FIRST_SYSTEM: &str = "default";

impl Service {
    /// The use cases over `store`, sealing secrets with `key` (`bootstrap` checks it).
    pub fn new(store: Store, key: SecretKey) -> Service {
        Service {
            store,
            catalog: Catalog::builtin(),
            auth: auth::AuthCache::default(),
            key: std::sync::Arc::new(key),
            _key_lock: None,
            dry_run: false,
            systems: None,
            new_user_defaults: None,
            ids: None,
            systems_at: Default::default(),
            attempts: Default::default(),
            licence_key: None,
            units: None,
            firmware_folder: std::sync::Arc::new("firmware".into()),
            kept_bytes: import::KEPT_BYTES,
            checks: std::sync::Arc::new(tokio::sync::Semaphore::new(secrets::CHECKING)),
            seal_secrets: false,
            imported: Default::default(),
            node: Default::default(),
        }
    }

    /// Keeps `lock` (the key lock, shared) as long as this service or a clone of it lives.
    pub fn with_key_lock(mut self, lock: store::rekey::KeyLock) -> Service {
        self._key_lock = Some(std::sync::Arc::new(std::sync::Mutex::new(lock)));
        self
    }

    /// Keeps at most `bytes` of dry runs' files (sealed) to run for real; a larger file's dry
    /// run is not kept.
    pub fn with_kept_dry_runs(mut self, bytes: u64) -> Service {
        self.kept_bytes = bytes;
        self
    }

    /// Import rows committed by this process since it started, by kind: (kind, ok, failed).
    pub fn imported_rows(&self) -> Vec<(String, u64, u64)> {
        let m = self.imported.lock().expect("import counts");
        m.iter()
            .map(|(k, (ok, failed))| (k.to_string(), *ok, *failed))
            .collect()
    }

    /// Counts import rows committed ([`Service::imported_rows`]).
    pub(crate) fn count_imported(&self, kind: &'static str, ok: u64, failed: u64) {
        let mut m = self.imported.lock().expect("import counts");
        let e = m.entry(kind).or_default();
        e.0 += ok;
        e.1 += failed;
    }

    /// The database pool: connections open, and idle among them.
    pub fn pool_stats(&self) -> (u64, u64) {
        self.store.pool_stats()
    }

    /// The same use cases, each run to its end in its transaction and then rolled back: every
    /// rule is checked against what is stored, and nothing is written (nor audited).
    pub fn dry_run(&self) -> Service {
        Service {
            dry_run: true,
            ..self.clone()
        }
    }

    /// The same use cases with their writes batched ([`Store::batched`]) and the product
    /// systems read once: for imports, which commit every few hundred rows.
    pub(crate) fn batched(&self) -> Service {
        Service {
            store: self.store.batched(),
            systems: Some(Default::default()),
            new_user_defaults: Some(Default::default()),
            ids: Some(Default::default()),
            units: Some(Default::default()),
            seal_secrets: true,
            ..self.clone()
        }
    }

    /// Every product system (read once by a batched service).
    pub(crate) async fn systems_in(&self, conn: &mut store::Conn) -> Result<Vec<System>> {
        match &self.systems {
            Some(cell) => Ok(cell
                .get_or_try_init(|| store::systems::list(conn))
                .await?
                .clone()),
            None => Ok(store::systems::list(conn).await?),
        }
    }

    /// The LDAP and CTI gateway profiles a new user gets when none is given (read once by a
    /// batched service: two statements a row less in a users import).
    pub(crate) async fn new_user_defaults(
        &self,
        conn: &mut store::Conn,
    ) -> Result<NewUserDefaults> {
        let read = async |conn: &mut store::Conn| -> Result<NewUserDefaults> {
            let ldap = store::directory::default_profile(conn).await?;
            let cti = crate::soft_client::default_cti_profile(conn).await?;
            Ok((ldap, cti))
        };
        match &self.new_user_defaults {
            Some(cell) => Ok(cell.get_or_try_init(|| read(conn)).await?.clone()),
            None => read(conn).await,
        }
    }

    /// Resolves the system a new record goes to: the one named, or the only one of its kind.
    pub(crate) async fn pick_system(
        &self,
        conn: &mut store::Conn,
        given: Option<&str>,
        kind: SystemKind,
    ) -> Result<System> {
        pick_system(self.systems_in(conn).await?, given, kind)
    }

    pub fn catalog(&self) -> &'static Catalog {
        self.catalog
    }

    /// First-start set-up: a call-control system when there is none; the secret key's check value
    /// when there is none, and a refusal when the key is not the one the database was written with.
    pub async fn bootstrap(&self) -> Result<()> {
        let mut tx = self.store.write().await?;
        match store::admins::setting(tx.conn(), crypto::CHECK_SETTING).await? {
            Some(check) if !self.key.matches(&check) => {
                return Err(Error::Internal(
                    "the secret key is not the one this database was written with: give Dialtone that key \
                     (secret_key_file), or the sealed SIP credentials cannot be read"
                        .into(),
                ))
            }
            Some(_) => {}
            None => store::admins::set_setting(tx.conn(), crypto::CHECK_SETTING, &self.key.check_value()?).await?,
        }
        let systems = store::systems::list(tx.conn()).await?;
        if !systems.iter().any(|s| s.kind == SystemKind::CallControl) {
            store::systems::insert(
                tx.conn(),
                FIRST_SYSTEM,
                SystemKind::CallControl,
                "created at first start",
                &model::SystemSettings::default(),
            )
            .await?;
            store::audit::append(
                tx.conn(),
                &NewEntry {
                    actor: "system",
                    action: Action::Create.as_str(),
                    resource: Resource::System.as_str(),
                    target: FIRST_SYSTEM,
                    system: FIRST_SYSTEM,
                    result: Outcome::Ok,
                    detail: "first start",
                },
            )
            .await?;
        }
        tx.commit().await?;
        // Values in the retired per-device `parameters` were stored and never reached a file:
        // say where they belong now (they stay where they are).
        let mut c = self.store.read().await?;
        let retired = store::devices::with_retired_parameters(&mut c, 10).await?;
        if !retired.is_empty() {
            tracing::warn!(
                phones = %retired.join(", "),
                "these phones have values in the retired `parameters` field, which never reached their files: \
                 set them at device scope (PUT /api/v1/parameters/device?target=NAME) and they will"
            );
        }
        Ok(())
    }

    /// One change, the skeleton every write use case shares: `body` runs in one write
    /// transaction, then [`Service::finish`] checks that `actor` may do `a`, commits or rolls
    /// back, and audits it. (The record it changes is read before, on a read connection; a stale
    /// version is answered by [`unless_stale`] inside `body`.)
    pub(crate) async fn change<T>(
        &self,
        actor: &Actor,
        a: Audit,
        body: impl AsyncFnOnce(&mut WriteTx) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.store.write().await?;
        let r = body(&mut tx).await;
        self.finish(actor, tx, a, r).await
    }

    /// [`Service::change`] where `body` finds what it changes (a create picks the product
    /// system; a parameter set resolves its target): `body` names it in `a`, so the right
    /// checked and the audit entry name the record as found.
    pub(crate) async fn change_named<T>(
        &self,
        actor: &Actor,
        mut a: Audit,
        body: impl AsyncFnOnce(&mut WriteTx, &mut Audit) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.store.write().await?;
        let r = body(&mut tx, &mut a).await;
        self.finish(actor, tx, a, r).await
    }

    /// Commits `tx` with an audit entry when `r` is Ok; otherwise rolls back and records the
    /// failure in an audit entry of its own.
    pub(crate) async fn finish<T>(
        &self,
        actor: &Actor,
        mut tx: WriteTx,
        a: Audit,
        r: Result<T>,
    ) -> Result<T> {
        let resource = a.resource.as_str();
        let r = match (r, a.action.privilege(a.resource)) {
            (Ok(_), Some(act)) if !actor.may(&a.system, resource, act) => {
                Err(Error::Forbidden(format!(
                    "{} may not {act} {}{}: none of their roles gives ({}, {}, {act})",
                    actor.name,
                    resource.replace('_', " "),
                    if a.system.is_empty() {
                        String::new()
                    } else {
                        format!(" on {}", a.system)
                    },
                    if a.system.is_empty() { "*" } else { &a.system },
                    resource
                )))
            }
            (r, _) => r,
        };
        if self.dry_run {
            drop(tx);
            return r;
        }
        match r {
            Ok(v) => {
                tx.audit(&a.entry(actor, Outcome::Ok, ""));
                tx.commit().await?;
                Ok(v)
            }
            Err(e) => {
                drop(tx);
                self.audit_failure(actor, &a, &e).await;
                Err(e)
            }
        }
    }

    /// Audits `a`, done, with `detail`: for what is not a write of the store (a resync, a
    /// read of secrets).
    pub(crate) async fn note(&self, actor: &Actor, a: &Audit, detail: &str) -> Result<()> {
        let mut tx = self.store.write_unversioned().await?;
        store::audit::append(tx.conn(), &a.entry(actor, Outcome::Ok, detail)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn audit_failure(&self, actor: &Actor, a: &Audit, e: &Error) {
        // An optimistic import's failed write: the batch is replayed with savepoints, and the
        // replay records this failure.
        if self.store.poisoned() {
            return;
        }
        let text = e.to_string();
        let detail = match e.field() {
            Some(f) if !text.starts_with(&format!("{f}:")) => format!("{f}: {text}"),
            _ => text,
        };
        let write = async {
            let mut tx = self.store.write().await?;
            store::audit::append(tx.conn(), &a.entry(actor, Outcome::Failed, &detail)).await?;
            tx.commit().await
        };
        if let Err(err) = write.await {
            tracing::error!(%err, "could not write the audit entry of a failed change");
        }
    }

    /// Runs `one` for every target, each in its own transaction, and records the whole batch:
    /// which parts succeeded and which failed.
    pub(crate) async fn batch<F, Fut>(
        &self,
        actor: &Actor,
        action: Action,
        resource: Resource,
        targets: &[String],
        one: F,
    ) -> Result<BatchResult>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let mut succeeded = Vec::new();
        let mut failed = Vec::new();
        for t in targets {
            match one(t.clone()).await {
                Ok(()) => succeeded.push(t.clone()),
                Err(e) => failed.push(BatchFailure {
                    target: t.clone(),
                    field: e.field().map(str::to_string),
                    message: e.to_string(),
                }),
            }
        }
        let result = match (succeeded.is_empty(), failed.is_empty()) {
            (_, true) => Outcome::Ok,
            (true, false) => Outcome::Failed,
            (false, false) => Outcome::Partial,
        };
        // `2 succeeded: a1, a2. 1 failed: ghost (there is no user ghost).`
        let mut detail = format!("{} succeeded", succeeded.len());
        if !succeeded.is_empty() {
            detail.push_str(&format!(": {}", succeeded.join(", ")));
        }
        if !failed.is_empty() {
            let why: Vec<String> = failed
                .iter()
                .map(|f| format!("{} ({})", f.target, f.message))
                .collect();
            detail.push_str(&format!(". {} failed: {}", failed.len(), why.join("; ")));
        }
        detail.push('.');
        let mut tx = self.store.write().await?;
        store::audit::append(
            tx.conn(),
            &NewEntry {
                actor: &actor.name,
                action: action.as_str(),
                resource: resource.as_str(),
                target: &model::counted(targets.len(), "record", "records"),
                system: "",
                result,
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(BatchResult {
            result,
            succeeded,
            failed,
        })
    }

    pub async fn audit(&self, f: &model::Find) -> Result<model::Page<model::AuditEntry>> {
        let mut c = self.store.read().await?;
        Ok(store::audit::find(&mut c, f).await?)
    }
}

fn pick_system(systems: Vec<System>, given: Option<&str>, kind: SystemKind) -> Result<System> {
    let what = match kind {
        SystemKind::CallControl => "call-control",
        SystemKind::Voicemail => "voicemail",
    };
    match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(name) => {
            let s = systems
                .into_iter()
                .find(|s| s.name == name)
                .ok_or_else(|| {
                    Error::invalid("system", format!("there is no product system `{name}`"))
                })?;
            if s.kind != kind {
                return Err(Error::invalid(
                    "system",
                    format!(
                        "{name} is a {} system; this record belongs on a {what} system",
                        s.kind.as_str().replace('_', "-")
                    ),
                ));
            }
            Ok(s)
        }
        None => {
            let all: Vec<System> = systems.into_iter().filter(|s| s.kind == kind).collect();
            match all.len() {
                1 => Ok(all.into_iter().next().expect("one")),
                0 => Err(Error::invalid(
                    "system",
                    format!("there is no {what} system yet: add one first"),
                )),
                _ => Err(Error::invalid(
                    "system",
                    format!(
                        "there are {} {what} systems ({}): say which one",
                        all.len(),
                        all.iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
    }
}

/// A record's id from a natural key that may exist on several systems.
/// [`one_of`] for a key that may also be an id: when no record has the key and it is a number,
/// the record with that id, if `exists` says there is one.
pub(crate) async fn one_by_key_or_id(
    what: &str,
    key: &str,
    found: Vec<(i64, String)>,
    exists: impl AsyncFnOnce(i64) -> bool,
) -> Result<i64> {
    if found.is_empty() {
        if let Ok(id) = key.parse::<i64>() {
            if exists(id).await {
                return Ok(id);
            }
        }
    }
    one_of(what, key, found)
}

pub(crate) fn one_of(what: &str, key: &str, found: Vec<(i64, String)>) -> Result<i64> {
    match found.len() {
        0 => Err(Error::NotFound(format!("there is no {what} `{key}`"))),
        1 => Ok(found[0].0),
        _ => Err(Error::Ambiguous(format!(
            "{what} `{key}` exists on {}: choose a product system with ?system=NAME",
            found
                .iter()
                .map(|(_, s)| s.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        ))),
    }
}

/// The conflict of a write that sent an old version: it carries the record as it is now (its
/// `version` among its fields), so the caller can merge and send that version.
pub(crate) fn stale<T: serde::Serialize>(now: &T) -> Error {
    let current = serde_json::to_value(now).unwrap_or_default();
    Error::Stale {
        version: current["version"].as_i64().unwrap_or_default(),
        current: Box::new(current),
    }
}

/// A versioned write's outcome: on a stale version, the conflict carrying the record as `now`
/// reads it in the same transaction ([`stale`]); any other error as it is.
pub(crate) async fn unless_stale<W, T: serde::Serialize>(
    written: std::result::Result<W, store::Error>,
    now: impl AsyncFnOnce() -> Result<T>,
) -> Result<W> {
    match written {
        Err(store::Error::Stale) => Err(stale(&now().await?)),
        r => Ok(r?),
    }
}

/// A patch must carry the version it read (versions start at 1; 0 means it was left out).
pub(crate) fn need_version(v: i64) -> Result<()> {
    if v < 1 {
        return Err(Error::invalid("version", "send the `version` you read (GET the record first): it guards against overwriting someone else's change"));
    }
    Ok(())
}

/// Trims optional text and turns `""` into `None`.
pub(crate) fn opt(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Maps a store error of a lookup to "not found" with a message.
pub(crate) fn nf(e: store::Error, msg: impl FnOnce() -> String) -> Error {
    match e {
        store::Error::NotFound => Error::NotFound(msg()),
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_name_the_field_on_both_backends() {
        assert_eq!(
            unique_field("UNIQUE constraint failed: devices.name_lc"),
            Some("name")
        );
        assert_eq!(
            unique_field("duplicate key value violates unique constraint \"devices_name_lc_key\""),
            Some("name")
        );
        assert_eq!(
            unique_field(
                "UNIQUE constraint failed: lines.system_id, lines.pattern, lines.partition"
            ),
            Some("pattern")
        );
        assert_eq!(
            unique_field(
                "duplicate key value violates unique constraint \"users_system_id_user_id_key\""
            ),
            Some("user_id")
        );
        assert_eq!(
            unique_field("UNIQUE constraint failed: devices.mac"),
            Some("mac")
        );
        assert_eq!(unique_field("something else"), None);
    }
}
