//! Lines (directory numbers).

use crate::{nf, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::rules::{check_line_calls, DEFAULT_BUSY_TRIGGER, DEFAULT_MAX_CALLS};
use model::{
    BatchRequest, BatchResult, DirectoryNumber, Line, LinePatch, NewLine, Page, Partition,
    SystemKind,
};
use store::lines::LineRow;
use store::Conn as AnyConnection;

/// Parses and checks a line's fields into a row.
pub(crate) fn line_row(system_id: i64, l: &NewLine) -> Result<LineRow> {
    let pattern = DirectoryNumber::parse(&l.pattern)?;
    let partition = Partition::parse(&l.partition)?;
    let max_calls = l.max_calls.unwrap_or(DEFAULT_MAX_CALLS);
    let busy_trigger = l
        .busy_trigger
        .unwrap_or(DEFAULT_BUSY_TRIGGER.min(max_calls));
    check_line_calls(max_calls, busy_trigger)?;
    for (field, v) in [
        ("forward_all", &l.forward_all),
        ("forward_busy_internal", &l.forward_busy_internal),
        ("forward_busy_external", &l.forward_busy_external),
        ("forward_no_answer_internal", &l.forward_no_answer_internal),
        ("forward_no_answer_external", &l.forward_no_answer_external),
    ] {
        let v = v.trim();
        if !v.is_empty() && !v.eq_ignore_ascii_case("voicemail") {
            DirectoryNumber::parse(v)
                .map_err(|e| Error::invalid(field, format!("{}, or `voicemail`", e.message)))?;
        }
    }
    Ok(LineRow {
        system_id,
        pattern: pattern.into_string(),
        partition: partition.into_string(),
        description: l.description.trim().to_string(),
        alerting_name: l.alerting_name.trim().to_string(),
        forward_all: l.forward_all.trim().to_string(),
        forward_busy_internal: l.forward_busy_internal.trim().to_string(),
        forward_busy_external: l.forward_busy_external.trim().to_string(),
        forward_no_answer_internal: l.forward_no_answer_internal.trim().to_string(),
        forward_no_answer_external: l.forward_no_answer_external.trim().to_string(),
        pickup_group: l.pickup_group.trim().to_string(),
        voicemail_profile: l.voicemail_profile.trim().to_string(),
        max_calls,
        busy_trigger,
    })
}

fn duplicate(row: &LineRow, system: &str) -> Error {
    Error::conflict(
        "pattern",
        format!(
            "line {}{} already exists on {system}: use it (it becomes a shared line) or choose another pattern or partition",
            row.pattern,
            if row.partition.is_empty() { String::new() } else { format!(" in partition {}", row.partition) }
        ),
    )
}

impl Service {
    pub async fn find_lines(&self, f: &model::Find) -> Result<Page<Line>> {
        let mut c = self.store.read().await?;
        Ok(store::lines::find(&mut c, f).await?)
    }

    /// A line by id, or by pattern (with `partition` and `system` when it is ambiguous).
    pub async fn line_key(
        &self,
        conn: &mut AnyConnection,
        key: &str,
        partition: Option<&str>,
        system: Option<&str>,
    ) -> Result<i64> {
        let ids = store::lines::ids_by_pattern(conn, key, system).await?;
        let mut found = Vec::new();
        for id in ids {
            let l = store::lines::by_id(conn, id).await?;
            if partition.is_none_or(|p| p == l.partition) {
                let where_ = if l.partition.is_empty() {
                    l.system.clone()
                } else {
                    format!("{} (partition {})", l.system, l.partition)
                };
                found.push((id, where_));
            }
        }
        crate::one_by_key_or_id("line", key, found, async |id| {
            store::lines::by_id(conn, id).await.is_ok()
        })
        .await
        .map_err(|e| match e {
            Error::Ambiguous(m) => {
                Error::Ambiguous(m.replace("?system=NAME", "?system=NAME and ?partition=NAME"))
            }
            e => e,
        })
    }

    pub async fn line(
        &self,
        key: &str,
        partition: Option<&str>,
        system: Option<&str>,
    ) -> Result<Line> {
        let mut c = self.store.read().await?;
        let id = self.line_key(&mut c, key, partition, system).await?;
        Ok(store::lines::by_id(&mut c, id).await?)
    }

    pub async fn create_line(&self, actor: &Actor, req: NewLine) -> Result<Line> {
        let id = self.add_line(actor, req).await?;
        let mut c = self.store.read().await?;
        Ok(store::lines::by_id(&mut c, id).await?)
    }

    /// Creates a line and answers its id (an import needs no more).
    pub(crate) async fn add_line(&self, actor: &Actor, req: NewLine) -> Result<i64> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::Line,
            target: req.pattern.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::CallControl)
                .await?;
            a.system = sys.name.clone();
            let row = line_row(sys.id, &req)?;
            // The unique key (system, pattern, partition) finds a duplicate: no read first.
            match store::lines::insert_in(tx, &row).await {
                Err(store::Error::Unique(_)) => Err(duplicate(&row, &sys.name)),
                r => Ok(r?),
            }
        })
        .await
    }

    pub async fn update_line(
        &self,
        actor: &Actor,
        key: &str,
        partition: Option<&str>,
        system: Option<&str>,
        p: LinePatch,
    ) -> Result<Line> {
        crate::need_version(p.version)?;
        let current = self.line(key, partition, system).await?;
        let a = Audit {
            action: Action::Update,
            resource: Resource::Line,
            target: current.pattern.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            if let Some(s) = p.system.as_deref().filter(|s| *s != current.system) {
                return Err(Error::invalid(
                    "system",
                    format!(
                        "a line cannot move from {} to {s}: delete it and add it again on {s}",
                        current.system
                    ),
                ));
            }
            let c = current.clone();
            let spec = NewLine {
                pattern: p.pattern.clone().unwrap_or(c.pattern),
                partition: p.partition.clone().unwrap_or(c.partition),
                system: None,
                description: p.description.clone().unwrap_or(c.description),
                alerting_name: p.alerting_name.clone().unwrap_or(c.alerting_name),
                forward_all: p.forward_all.clone().unwrap_or(c.forward_all),
                forward_busy_internal: p
                    .forward_busy_internal
                    .clone()
                    .unwrap_or(c.forward_busy_internal),
                forward_busy_external: p
                    .forward_busy_external
                    .clone()
                    .unwrap_or(c.forward_busy_external),
                forward_no_answer_internal: p
                    .forward_no_answer_internal
                    .clone()
                    .unwrap_or(c.forward_no_answer_internal),
                forward_no_answer_external: p
                    .forward_no_answer_external
                    .clone()
                    .unwrap_or(c.forward_no_answer_external),
                pickup_group: p.pickup_group.clone().unwrap_or(c.pickup_group),
                voicemail_profile: p.voicemail_profile.clone().unwrap_or(c.voicemail_profile),
                max_calls: Some(p.max_calls.unwrap_or(c.max_calls)),
                busy_trigger: Some(p.busy_trigger.unwrap_or(c.busy_trigger)),
            };
            let sys = store::systems::by_name(tx.conn(), &current.system).await?;
            let row = line_row(sys.id, &spec)?;
            if (row.pattern != current.pattern || row.partition != current.partition)
                && store::lines::id_by_key(tx.conn(), sys.id, &row.pattern, &row.partition)
                    .await?
                    .is_some()
            {
                return Err(duplicate(&row, &sys.name));
            }
            let written = store::lines::update(tx.conn(), current.id, p.version, &row).await;
            crate::unless_stale(written, async || {
                Ok(store::lines::by_id(tx.conn(), current.id).await?)
            })
            .await?;
            // Devices showing the line now show something else.
            tx.changed(store::Change::Line(current.id));
            let devices = store::devices::ids_on_lines(tx.conn(), &[current.id]).await?;
            store::devices::touch(tx.conn(), &devices).await?;
            Ok(store::lines::by_id(tx.conn(), current.id).await?)
        })
        .await
    }

    pub async fn delete_line(
        &self,
        actor: &Actor,
        key: &str,
        partition: Option<&str>,
        system: Option<&str>,
    ) -> Result<()> {
        let current = self.line(key, partition, system).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Line,
            target: current.pattern.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            if !current.appearances.is_empty() {
                let on: Vec<&str> = current
                    .appearances
                    .iter()
                    .map(|a| a.device.as_str())
                    .collect();
                return Err(Error::conflict(
                    "pattern",
                    format!(
                        "line {} is on {}: remove it from those devices first",
                        current.pattern,
                        on.join(", ")
                    ),
                ));
            }
            store::lines::delete(tx.conn(), current.id)
                .await
                .map_err(|e| nf(e, || "line".into()))?;
            Ok(())
        })
        .await
    }

    pub async fn delete_lines(&self, actor: &Actor, req: &BatchRequest) -> Result<BatchResult> {
        let sys = req.system.as_deref();
        self.batch(
            actor,
            Action::BatchDelete,
            Resource::Line,
            &req.targets,
            |t| async move { self.delete_line(actor, &t, None, sys).await },
        )
        .await
    }
}
