//! Templates: named partial records of users, phones and device profiles, applied to stored
//! records (each change validated like any other) or filling the cells an import leaves empty.

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::templates::template_name;
use model::*;
use serde_json::{Map, Value};

impl Service {
    /// Templates of `kind` (all kinds when `None`) whose name starts with `prefix`.
    pub async fn templates(
        &self,
        kind: Option<TemplateKind>,
        prefix: &str,
    ) -> Result<Vec<Template>> {
        let mut c = self.store.read().await?;
        Ok(store::templates::list(&mut c, kind, prefix).await?)
    }

    pub async fn template(&self, kind: TemplateKind, name: &str) -> Result<Template> {
        let mut c = self.store.read().await?;
        store::templates::by_name(&mut c, kind, name)
            .await
            .map_err(|e| crate::nf(e, || not_found(kind, name)))
    }

    pub async fn create_template(&self, actor: &Actor, req: NewTemplate) -> Result<Template> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::Template,
            target: format!("{} {}", req.kind.as_str(), req.name),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let name = template_name(&req.name)?;
            req.kind.check_fields(&req.fields)?;
            let t = Template {
                id: 0,
                kind: req.kind,
                name,
                description: req.description.trim().to_string(),
                fields: req.fields.clone(),
                version: 1,
                created_at: String::new(),
                updated_at: String::new(),
            };
            match store::templates::insert(tx.conn(), &t).await {
                Err(store::Error::Unique(_)) => return Err(duplicate(&t)),
                r => r?,
            };
            Ok(store::templates::by_name(tx.conn(), t.kind, &t.name).await?)
        })
        .await
    }

    pub async fn update_template(
        &self,
        actor: &Actor,
        kind: TemplateKind,
        name: &str,
        p: TemplatePatch,
    ) -> Result<Template> {
        crate::need_version(p.version)?;
        let current = self.template(kind, name).await?;
        let a = Audit {
            action: Action::Update,
            resource: Resource::Template,
            target: format!("{} {name}", kind.as_str()),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            if current.version != p.version {
                return Err(crate::stale(&current));
            }
            let mut t = current.clone();
            if let Some(n) = &p.name {
                t.name = template_name(n)?;
            }
            if let Some(d) = &p.description {
                t.description = d.trim().to_string();
            }
            if let Some(f) = &p.fields {
                kind.check_fields(f)?;
                t.fields = f.clone();
            }
            match store::templates::update(tx.conn(), &t, p.version).await {
                Err(store::Error::Unique(_)) => return Err(duplicate(&t)),
                r => r?,
            }
            Ok(store::templates::by_name(tx.conn(), kind, &t.name).await?)
        })
        .await
    }

    pub async fn delete_template(
        &self,
        actor: &Actor,
        kind: TemplateKind,
        name: &str,
    ) -> Result<()> {
        let current = self.template(kind, name).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Template,
            target: format!("{} {name}", kind.as_str()),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            Ok(store::templates::delete(tx.conn(), current.id).await?)
        })
        .await
    }

    /// Applies a template to each record `targets` name (user IDs, device names): every field
    /// the template holds, but those that name a record, replaces the record's. Each record
    /// changes or fails on its own, validated like any change; the result says which did what.
    pub async fn apply_template(
        &self,
        actor: &Actor,
        kind: TemplateKind,
        name: &str,
        targets: &[String],
        system: Option<&str>,
    ) -> Result<BatchResult> {
        let t = self.template(kind, name).await?;
        if targets.is_empty() {
            return Err(Error::invalid(
                "targets",
                "name the records to apply the template to (or a find that finds some)",
            ));
        }
        let t = &t;
        self.batch(
            actor,
            Action::ApplyTemplate,
            Resource::of_template(kind),
            targets,
            |key| async move { self.apply_one(actor, t, &key, system).await },
        )
        .await
    }

    /// The keys (user IDs, device names) of every record of `kind` that `f` finds, over all its
    /// pages.
    pub async fn found_keys(&self, kind: TemplateKind, f: model::Find) -> Result<Vec<String>> {
        Ok(self
            .found(kind, f)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// The key and product system of every record of `kind` that `f` finds, over all its pages.
    pub async fn found(
        &self,
        kind: TemplateKind,
        mut f: model::Find,
    ) -> Result<Vec<(String, String)>> {
        f.limit = 1000;
        f.offset = 0;
        // Pages follow each other until one says none follows; no page needs the full count.
        f.count_up_to = Some(model::Find::LIST_COUNT);
        let mut keys = Vec::new();
        loop {
            let (page, more): (Vec<(String, String)>, bool) = match kind {
                TemplateKind::User => {
                    let p = self.find_users(&f).await?;
                    let more = p.has_next();
                    let page = p.items.into_iter().map(|u| (u.user_id, u.system));
                    (page.collect(), more)
                }
                TemplateKind::Phone => {
                    let p = self.find_phones(&f).await?;
                    let more = p.has_next();
                    (
                        p.items.into_iter().map(|d| (d.name, d.system)).collect(),
                        more,
                    )
                }
                TemplateKind::DeviceProfile => {
                    let p = self.find_device_profiles(&f).await?;
                    let more = p.has_next();
                    (
                        p.items.into_iter().map(|d| (d.name, d.system)).collect(),
                        more,
                    )
                }
            };
            let n = page.len() as i64;
            keys.extend(page);
            f.offset += n;
            if n == 0 || !more {
                return Ok(keys);
            }
        }
    }

    /// Deletes every record of `kind` that `f` finds, each on its own (one batch per product
    /// system, so that a user ID on two systems names one user in each).
    pub async fn delete_found(
        &self,
        actor: &Actor,
        kind: TemplateKind,
        f: model::Find,
    ) -> Result<BatchResult> {
        self.found_per_system(kind, f, |req| async move {
            match kind {
                TemplateKind::User => self.delete_users(actor, &req).await,
                TemplateKind::Phone => self.delete_phones(actor, &req).await,
                TemplateKind::DeviceProfile => self.delete_device_profiles(actor, &req).await,
            }
        })
        .await
    }

    /// Runs `each` on what `f` finds, one batch per product system (a user ID on two systems
    /// names one user in each), and answers what the batches did together.
    pub(crate) async fn found_per_system<F, Fut>(
        &self,
        kind: TemplateKind,
        f: model::Find,
        each: F,
    ) -> Result<BatchResult>
    where
        F: Fn(BatchRequest) -> Fut,
        Fut: std::future::Future<Output = Result<BatchResult>>,
    {
        let mut by_system: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (key, system) in self.found(kind, f).await? {
            by_system.entry(system).or_default().push(key);
        }
        let mut all = BatchResult {
            result: Outcome::Ok,
            succeeded: Vec::new(),
            failed: Vec::new(),
        };
        for (system, targets) in by_system {
            let r = each(BatchRequest {
                targets,
                system: Some(system),
            })
            .await?;
            all.succeeded.extend(r.succeeded);
            all.failed.extend(r.failed);
        }
        all.result = match (all.succeeded.is_empty(), all.failed.is_empty()) {
            (_, true) => Outcome::Ok,
            (true, false) => Outcome::Failed,
            (false, false) => Outcome::Partial,
        };
        Ok(all)
    }

    async fn apply_one(
        &self,
        actor: &Actor,
        t: &Template,
        key: &str,
        system: Option<&str>,
    ) -> Result<()> {
        let mut fields = t.fields.clone();
        for k in t.kind.keys() {
            fields.remove(*k);
        }
        match t.kind {
            TemplateKind::User => {
                let current = serde_json::to_value(self.user(key, system).await?)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                merge_capabilities(&current, &mut fields);
                let p = as_patch(fields, &current)?;
                self.update_user(actor, key, system, p).await.map(drop)
            }
            TemplateKind::Phone => {
                let current = serde_json::to_value(self.phone(key).await?)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let p = as_patch(fields, &current)?;
                self.update_phone(actor, key, p).await.map(drop)
            }
            TemplateKind::DeviceProfile => {
                let current = serde_json::to_value(self.device_profile(key).await?)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let p = as_patch(fields, &current)?;
                self.update_device_profile(actor, key, p).await.map(drop)
            }
        }
    }
}

/// A template's fields as a patch of the record read as `current` (its version guards it).
fn as_patch<T: serde::de::DeserializeOwned>(
    mut fields: Map<String, Value>,
    current: &Value,
) -> Result<T> {
    fields.insert("version".into(), current["version"].clone());
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| Error::invalid("fields", format!("the template does not apply: {e}")))
}

/// Capabilities the change leaves out keep their stored value (a patch sets them all).
pub(crate) fn merge_capabilities(current: &Value, r: &mut Map<String, Value>) {
    if let Some(Value::Object(given)) = r.get_mut("capabilities") {
        let mut both = match &current["capabilities"] {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        both.extend(std::mem::take(given));
        *given = both;
    }
}

/// Fills what `row` leaves out with the template's `fields` (objects field by field; a list the
/// row gives is the row's).
pub(crate) fn fill(row: &mut Map<String, Value>, fields: &Map<String, Value>) {
    for (k, v) in fields {
        match (row.get_mut(k), v) {
            (None, v) => {
                row.insert(k.clone(), v.clone());
            }
            (Some(Value::Object(r)), Value::Object(t)) => fill(r, t),
            _ => {}
        }
    }
}

fn not_found(kind: TemplateKind, name: &str) -> String {
    format!(
        "there is no {} template `{name}`",
        kind.as_str().replace('_', " ")
    )
}

fn duplicate(t: &Template) -> Error {
    Error::conflict(
        "name",
        format!(
            "a {} template named `{}` already exists: change it, or choose another name",
            t.kind.as_str().replace('_', " "),
            t.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_template_fills_only_what_the_row_leaves_out() {
        let mut row =
            json!({"user_id": "jdoe", "department": "Sales", "capabilities": {"cup": true}})
                .as_object()
                .unwrap()
                .clone();
        let t = json!({"department": "Support", "manager": "boss", "capabilities": {"cup": false, "cupc": true}});
        fill(&mut row, t.as_object().unwrap());
        assert_eq!(
            Value::Object(row),
            json!({"user_id": "jdoe", "department": "Sales", "manager": "boss", "capabilities": {"cup": true, "cupc": true}})
        );
    }
}
