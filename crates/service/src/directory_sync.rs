//! A directory sync (seed 003, docs/directory.md): an LDAP profile's servers are searched
//! through the attribute map, the answer is planned against the users of a call-control system
//! (`ldap::sync::plan`), and the plan is either answered (a dry run) or applied through the
//! users' use cases: a user the directory adds is created synced (its directory fields then
//! read-only), a stored user gets the directory's values, and a synced user who left the
//! directory is made inactive (kept, with their phones, until an administrator deletes them or
//! the directory has them again). Every change is audited on its own, a user that cannot be
//! written is reported with why while the rest go on, and the sync's summary is audited on
//! the profile and kept on it.

use crate::{Actor, Audit, Error, Result, Service};
use ldap::sync::{Person, Plan, Update};
use model::access::{Action, Resource};
use model::directory::{
    default_sync_filter, LdapSyncReport, LdapSyncRequest, SyncCreate, SyncFieldChange, SyncProblem,
    SyncUpdate, SYNC_REPORT_LIST,
};
use model::Outcome;
use model::{AppProfiles, NewUser, SystemKind};
use std::time::{Duration, Instant};
use store::audit::NewEntry;
use store::directory as dir;

/// How long one server has to answer a connection or an operation.
const LDAP_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries per page of a sync's search.
const PAGE_SIZE: i32 = 500;
/// Users written per transaction.
const CHUNK: usize = 500;

/// One write of a plan.
enum Op<'a> {
    Create(&'a Person),
    Update(&'a Update),
    Deactivate(i64, i64, &'a str),
}

impl Op<'_> {
    fn user_id(&self) -> &str {
        match self {
            Op::Create(p) => &p.user_id,
            Op::Update(u) => &u.person.user_id,
            Op::Deactivate(_, _, id) => id,
        }
    }
}

/// Counts of what was written, to go back to when a chunk is run again.
#[derive(Clone, Copy)]
struct Mark {
    created: usize,
    updated: usize,
    deactivated: usize,
    failed: usize,
}

impl Service {
    /// Syncs the users of a call-control system from an LDAP profile's directory (or, for a dry
    /// run, answers what it would do). The directory not answering, or refusing the bind, is an
    /// error and nothing changes.
    pub async fn sync_ldap_profile(
        &self,
        actor: &Actor,
        key: &str,
        req: LdapSyncRequest,
    ) -> Result<LdapSyncReport> {
        let started = Instant::now();
        let (stored, query, map, system, users) = {
            let mut c = self.store.read().await?;
            let id = self.ldap_profile_id(&mut c, key).await?;
            let stored = dir::profile_by_id(&mut c, id).await?;
            let p = &stored.profile;
            let mut servers = Vec::new();
            for name in std::iter::once(&p.primary_server).chain(&p.backup_servers) {
                let sid = dir::server_id(&mut c, name)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("there is no LDAP server {name}")))?;
                servers.push(dir::server_by_id(&mut c, sid).await?);
            }
            let system = self
                .pick_system(&mut c, req.system.as_deref(), SystemKind::CallControl)
                .await?;
            let map = self.ldap_attribute_map_in(&mut c).await?;
            let users = dir::known_users(&mut c, system.id).await?;
            let bind = match (&stored.password_enc, p.anonymous_bind) {
                (_, true) => None,
                (Some(sealed), false) => Some((p.bind_dn.clone(), self.key.open(sealed)?)),
                (None, false) => Some((p.bind_dn.clone(), String::new())),
            };
            let filter = if p.sync_filter.trim().is_empty() {
                default_sync_filter(servers[0].directory_type).to_string()
            } else {
                p.sync_filter.clone()
            };
            let query = ldap::Query {
                servers: servers
                    .iter()
                    .map(|s| ldap::Server {
                        name: s.name.clone(),
                        host: s.host.clone(),
                        port: s.port,
                        security: s.security,
                        ca_file: s.ca_file.clone(),
                    })
                    .collect(),
                bind,
                base: p.search_context.clone(),
                recursive: p.recursive,
                filter,
                attributes: ldap::sync::attributes(&map.fields),
                timeout: LDAP_TIMEOUT,
                page_size: PAGE_SIZE,
            };
            (stored, query, map, system, users)
        };
        let profile = stored.profile.name.clone();
        let found = match ldap::search(&query).await {
            Ok(f) => f,
            Err(e) => {
                let e = Error::Upstream(format!("the sync of {profile} read nothing: {e}"));
                if !req.dry_run {
                    self.audit_sync(actor, &stored.profile, Outcome::Failed, &e.to_string())
                        .await;
                }
                return Err(e);
            }
        };
        let plan = ldap::sync::plan(&found.entries, &map.fields, &profile, &users);
        let mut report = report_of(&plan, &profile, &system.name, req.dry_run);
        report.entries = found.entries.len();
        report.server = found.server.clone();
        report.unreachable = found
            .unreachable
            .iter()
            .map(|(s, why)| format!("{s}: {why}"))
            .collect();
        if !req.dry_run {
            report = self
                .apply_on_own_thread(actor, plan, &profile, &system.name, report)
                .await?;
            let outcome = match (
                report.failed_users,
                report.created + report.updated + report.deactivated,
            ) {
                (0, _) => Outcome::Ok,
                (_, 0) => Outcome::Failed,
                _ => Outcome::Partial,
            };
            let mut detail = report.summary();
            for f in report.failed.iter().take(100) {
                detail.push_str(&format!("; {}: {}", f.key, f.reason));
            }
            self.audit_sync(actor, &stored.profile, outcome, &detail)
                .await;
        }
        report.took_ms = started.elapsed().as_millis() as u64;
        tracing::info!(profile, system = %system.name, dry_run = req.dry_run, took_ms = report.took_ms, "LDAP sync: {}", report.summary());
        Ok(report)
    }

    /// [`Service::apply_sync`] as an import job runs: on a thread of its own kept to one CPU,
    /// with a connection of its own opened there (see `keep_to_one_cpu`); the caller awaits the
    /// report.
    async fn apply_on_own_thread(
        &self,
        actor: &Actor,
        plan: ldap::sync::Plan,
        profile: &str,
        system: &str,
        mut report: LdapSyncReport,
    ) -> Result<LdapSyncReport> {
        let (svc, actor) = (self.clone(), actor.clone());
        let (profile, system) = (profile.to_string(), system.to_string());
        let (done, answer) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("ldap-sync-{profile}"))
            .spawn(move || {
                crate::keep_to_one_cpu();
                let r = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(async {
                        let svc = match svc.store.detached().await {
                            Ok(store) => Service { store, ..svc },
                            Err(err) => {
                                tracing::warn!(%err, "an LDAP sync runs on the shared connections");
                                svc
                            }
                        };
                        svc.apply_sync(&actor, &plan, &profile, &system, &mut report)
                            .await
                            .map(|()| report)
                    }),
                    Err(e) => Err(Error::Internal(format!(
                        "the sync could not start its runtime: {e}"
                    ))),
                };
                let _ = done.send(r);
            })
            .map_err(|e| Error::Internal(format!("cannot start the sync's thread: {e}")))?;
        answer
            .await
            .map_err(|_| Error::Internal("the sync's thread ended without an answer".into()))?
    }

    /// Writes a plan, a few hundred users to a transaction (a chunk whose write fails is run
    /// again a user at a time, so that the failing user fails alone and says why).
    async fn apply_sync(
        &self,
        actor: &Actor,
        plan: &Plan,
        profile: &str,
        system: &str,
        report: &mut LdapSyncReport,
    ) -> Result<()> {
        let ops: Vec<Op> = plan
            .create
            .iter()
            .map(Op::Create)
            .chain(plan.update.iter().map(Op::Update))
            .chain(
                plan.gone
                    .iter()
                    .map(|(id, v, u)| Op::Deactivate(*id, *v, u)),
            )
            .collect();
        let svc = self.batched();
        svc.store.set_optimistic(true);
        let mark = |r: &LdapSyncReport| Mark {
            created: r.created,
            updated: r.updated,
            deactivated: r.deactivated,
            failed: r.failed_users,
        };
        let back_to = |r: &mut LdapSyncReport, m: Mark| {
            r.created = m.created;
            r.updated = m.updated;
            r.deactivated = m.deactivated;
            r.failed_users = m.failed;
            r.failed.truncate(m.failed.min(SYNC_REPORT_LIST));
        };
        let mut pending: Vec<&Op> = Vec::new();
        let mut before = mark(report);
        for op in &ops {
            svc.apply_op(actor, op, profile, system, report).await;
            pending.push(op);
            if svc.store.poisoned() {
                svc.rollback_batch().await;
                svc.store.set_optimistic(false);
                back_to(report, before);
                for op in &pending {
                    svc.apply_op(actor, op, profile, system, report).await;
                }
            }
            if pending.len() >= CHUNK {
                svc.commit_batch().await?;
                svc.store
                    .set_optimistic(report.failed_users == before.failed);
                pending.clear();
                before = mark(report);
            }
        }
        svc.commit_batch().await?;
        Ok(())
    }

    /// Writes one user of a plan, counting it in `report`.
    async fn apply_op(
        &self,
        actor: &Actor,
        op: &Op<'_>,
        profile: &str,
        system: &str,
        report: &mut LdapSyncReport,
    ) {
        let r = match op {
            Op::Create(p) => {
                let f = &p.fields;
                let req = NewUser {
                    user_id: p.user_id.clone(),
                    system: Some(system.to_string()),
                    first_name: f.first_name.clone(),
                    last_name: f.last_name.clone(),
                    display_name: f.display_name.clone(),
                    department: f.department.clone(),
                    manager: f.manager.clone(),
                    mail: f.mail.clone(),
                    telephone_number: f.telephone_number.clone(),
                    app_profiles: AppProfiles {
                        ldap: Some(profile.to_string()),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                self.insert_user(actor, req, true)
                    .await
                    .map(|_| report.created += 1)
            }
            Op::Update(u) => {
                let a = Audit {
                    action: Action::Update,
                    resource: Resource::User,
                    target: u.person.user_id.clone(),
                    system: system.to_string(),
                };
                self.change(actor, a, async |tx| {
                    // The files of the user's phones carry the user's name.
                    tx.changed(store::Change::Owner(u.id));
                    match dir::write_synced(tx.conn(), u.id, u.version, &u.person.fields, profile)
                        .await
                    {
                        Err(store::Error::Stale) => Err(Error::conflict(
                            "version",
                            "the user changed while the sync ran: the next sync writes it",
                        )),
                        r => Ok(r?),
                    }
                })
                .await
                .map(|_| report.updated += 1)
            }
            Op::Deactivate(id, version, user_id) => {
                let a = Audit {
                    action: Action::Update,
                    resource: Resource::User,
                    target: user_id.to_string(),
                    system: system.to_string(),
                };
                self.change(actor, a, async |tx| {
                    tx.changed(store::Change::Owner(*id));
                    match dir::deactivate(tx.conn(), *id, *version).await {
                        Err(store::Error::Stale) => Err(Error::conflict(
                            "version",
                            "the user changed while the sync ran: the next sync makes them inactive",
                        )),
                        r => Ok(r?),
                    }
                })
                .await
                .map(|_| report.deactivated += 1)
            }
        };
        match r {
            Ok(()) => {}
            // A poisoned chunk is run again: what failed is found then.
            Err(_) if self.store.poisoned() => {}
            Err(e) => {
                report.failed_users += 1;
                if report.failed.len() < SYNC_REPORT_LIST {
                    report.failed.push(SyncProblem {
                        key: op.user_id().to_string(),
                        reason: match e.field() {
                            Some(f) if f != "version" => format!("{f}: {e}"),
                            _ => e.to_string(),
                        },
                    });
                }
            }
        }
    }

    /// The audit entry of a sync (its summary), kept on the profile too.
    async fn audit_sync(
        &self,
        actor: &Actor,
        p: &model::LdapProfile,
        result: Outcome,
        detail: &str,
    ) {
        let write = async {
            let mut tx = self.store.write().await?;
            dir::record_sync(tx.conn(), p.id, detail).await?;
            store::audit::append(
                tx.conn(),
                &NewEntry {
                    actor: &actor.name,
                    action: Action::Sync.as_str(),
                    resource: Resource::LdapProfile.as_str(),
                    target: &p.name,
                    system: "",
                    result,
                    detail,
                },
            )
            .await?;
            tx.commit().await
        };
        if let Err(err) = write.await {
            tracing::error!(%err, profile = %p.name, "could not record an LDAP sync");
        }
    }

    /// Runs the scheduled syncs that are due (each profile with an interval, once its last
    /// sync is that old); answers how many ran. A failed sync is logged and recorded on its
    /// profile, and tried again at the next interval.
    pub async fn run_due_ldap_syncs(&self, actor: &Actor) -> Result<usize> {
        let due = {
            let mut c = self.store.read().await?;
            dir::scheduled_profiles(&mut c).await?
        };
        let mut ran = 0;
        for (name, hours, last) in due {
            // Stored times are ISO 8601 in UTC of one width: they sort as they compare.
            let since = store::time_ago(Duration::from_secs(u64::from(hours) * 3600));
            if last.is_some_and(|t| t > since) {
                continue;
            }
            ran += 1;
            if let Err(err) = self
                .sync_ldap_profile(actor, &name, LdapSyncRequest::default())
                .await
            {
                tracing::warn!(profile = %name, %err, "the scheduled LDAP sync failed");
            }
        }
        Ok(ran)
    }
}

/// A plan as the report lists it.
fn report_of(plan: &Plan, profile: &str, system: &str, dry_run: bool) -> LdapSyncReport {
    LdapSyncReport {
        profile: profile.to_string(),
        system: system.to_string(),
        dry_run,
        to_create: plan.create.len(),
        to_update: plan.update.len(),
        unchanged: plan.unchanged,
        to_deactivate: plan.gone.len(),
        skipped_entries: plan.skipped.len(),
        create: plan
            .create
            .iter()
            .take(SYNC_REPORT_LIST)
            .map(|p| SyncCreate {
                user_id: p.user_id.clone(),
                dn: p.dn.clone(),
                fields: p.fields.clone(),
            })
            .collect(),
        update: plan
            .update
            .iter()
            .take(SYNC_REPORT_LIST)
            .map(|u| SyncUpdate {
                user_id: u.person.user_id.clone(),
                changes: u
                    .changes
                    .iter()
                    .map(|(f, had, has)| SyncFieldChange {
                        field: f.to_string(),
                        stored: had.clone(),
                        directory: has.clone(),
                    })
                    .collect(),
                becomes_synced: u.becomes_synced,
                reactivated: u.reactivated,
            })
            .collect(),
        deactivate: plan
            .gone
            .iter()
            .take(SYNC_REPORT_LIST)
            .map(|g| g.2.clone())
            .collect(),
        skipped: plan
            .skipped
            .iter()
            .take(SYNC_REPORT_LIST)
            .map(|(dn, why)| SyncProblem {
                key: dn.clone(),
                reason: why.clone(),
            })
            .collect(),
        ..Default::default()
    }
}
