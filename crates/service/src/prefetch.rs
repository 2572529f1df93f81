//! The ids an import's rows look up, read a chunk at a time. A phones row looks up its owner
//! and each of its lines, a users row its primary extension: on PostgreSQL each lookup is a
//! round trip, more than the row's own insert costs. Before an add-mode chunk runs, the users
//! and lines its rows name are read in one statement each; a row's lookup takes the id from
//! here, and asks the database only for what is not here (a line an earlier row of the chunk
//! added). Only add mode: its rows delete nothing, so an id read before the chunk stays right
//! through it (a rolled-back row removes only what it added, which is never here).

use crate::{Result, Service};
use model::{DirectoryNumber, Partition};
use serde_json::{Map, Value};
use std::collections::HashMap;
use store::Conn;

/// Ids read for the chunk being imported.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    /// (system, pattern, partition) → line.
    lines: HashMap<(i64, String, String), i64>,
    /// (system, user ID) → user.
    users: HashMap<(i64, String), i64>,
}

impl Service {
    /// Reads the ids the add-mode rows `records` will look up (replacing the last chunk's).
    pub(crate) async fn prefetch_ids<'a>(
        &self,
        records: impl Iterator<Item = &'a Map<String, Value>>,
    ) -> Result<()> {
        let Some(cell) = &self.ids else {
            return Ok(());
        };
        let mut patterns: Vec<&str> = Vec::new();
        let mut users: Vec<&str> = Vec::new();
        let text = |v: Option<&'a Value>| v.and_then(Value::as_str).map(str::trim);
        for r in records {
            patterns.extend(text(r.get("primary_extension")));
            users.extend(text(r.get("owner_user_id")));
            if let Some(user) = r.get("user") {
                users.extend(text(user.get("user_id")));
                patterns.extend(text(user.get("primary_extension")));
            }
            for l in r
                .get("lines")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                patterns.extend(text(l.get("pattern")));
            }
        }
        patterns.retain(|p| !p.is_empty());
        users.retain(|u| !u.is_empty());
        patterns.sort_unstable();
        patterns.dedup();
        users.sort_unstable();
        users.dedup();
        let mut ids = Ids::default();
        if !patterns.is_empty() || !users.is_empty() {
            let mut c = self.store.read().await?;
            for (s, p, part, id) in store::lines::keys_with_patterns(&mut c, &patterns).await? {
                ids.lines.insert((s, p, part), id);
            }
            for (s, u, id) in store::users::keys_with_user_ids(&mut c, &users).await? {
                ids.users.insert((s, u), id);
            }
        }
        *cell.lock().expect("import ids") = ids;
        Ok(())
    }

    /// The line of a system by pattern and partition (read for the chunk, else asked).
    pub(crate) async fn line_id_by_key(
        &self,
        conn: &mut Conn,
        system_id: i64,
        pattern: &DirectoryNumber,
        partition: &Partition,
    ) -> Result<Option<i64>> {
        if let Some(cell) = &self.ids {
            let key = (
                system_id,
                pattern.as_str().to_string(),
                partition.as_str().to_string(),
            );
            if let Some(id) = cell.lock().expect("import ids").lines.get(&key) {
                return Ok(Some(*id));
            }
        }
        Ok(store::lines::id_by_key(conn, system_id, pattern.as_str(), partition.as_str()).await?)
    }

    /// [`Service::line_id_by_key`] from the text of a row: `partition` left out is `""`.
    pub(crate) async fn line_id(
        &self,
        conn: &mut Conn,
        system_id: i64,
        pattern: &str,
        partition: Option<&str>,
    ) -> Result<Option<i64>> {
        let p = DirectoryNumber::parse(pattern)?;
        let part = Partition::parse(partition.unwrap_or(""))?;
        self.line_id_by_key(conn, system_id, &p, &part).await
    }

    /// The user of a system by user ID (read for the chunk, else asked).
    pub(crate) async fn user_id_on_system(
        &self,
        conn: &mut Conn,
        system_id: i64,
        user_id: &str,
    ) -> Result<Option<i64>> {
        if let Some(cell) = &self.ids {
            let key = (system_id, user_id.to_string());
            if let Some(id) = cell.lock().expect("import ids").users.get(&key) {
                return Ok(Some(*id));
            }
        }
        Ok(store::users::id_on_system(conn, system_id, user_id).await?)
    }
}
