//! The records a voicemail system keeps besides its subscribers (seed 000): restriction tables,
//! named and shared by classes of service, and subscriber templates, what a new subscriber gets
//! when it does not say otherwise.

use crate::voicemail::{check_restrictions, DEFAULT_TABLES, DEFAULT_TEMPLATE};
use crate::{hash_secret, nf, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::{
    Name, NewRestrictionTable, NewSubscriberTemplate, Pin, RestrictionTable, RestrictionTablePatch,
    SubscriberTemplate, SubscriberTemplatePatch, SystemKind,
};
use store::voicemail::TemplateRow;
use store::Conn;

impl Service {
    async fn rt_id(&self, conn: &mut Conn, key: &str, system: Option<&str>) -> Result<i64> {
        let found = store::voicemail::rt_ids(conn, key.trim(), system).await?;
        crate::one_by_key_or_id("restriction table", key, found, async |id| {
            store::voicemail::rt_by_id(conn, id).await.is_ok()
        })
        .await
    }

    async fn st_id(&self, conn: &mut Conn, key: &str, system: Option<&str>) -> Result<i64> {
        let found = store::voicemail::st_ids(conn, key.trim(), system).await?;
        crate::one_by_key_or_id("subscriber template", key, found, async |id| {
            store::voicemail::st_by_id(conn, id).await.is_ok()
        })
        .await
    }

    // --- restriction tables -------------------------------------------------------------

    pub async fn restriction_tables(&self, system: Option<&str>) -> Result<Vec<RestrictionTable>> {
        let mut c = self.store.read().await?;
        Ok(store::voicemail::list_rts(&mut c, system).await?)
    }

    /// A restriction table by name (or id).
    pub async fn restriction_table(
        &self,
        key: &str,
        system: Option<&str>,
    ) -> Result<RestrictionTable> {
        let mut c = self.store.read().await?;
        let id = self.rt_id(&mut c, key, system).await?;
        Ok(store::voicemail::rt_by_id(&mut c, id).await?)
    }

    pub async fn create_restriction_table(
        &self,
        actor: &Actor,
        req: NewRestrictionTable,
    ) -> Result<RestrictionTable> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::RestrictionTable,
            target: req.name.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::Voicemail)
                .await?;
            a.system = sys.name.clone();
            let name = Name::parse("name", &req.name)?.into_string();
            check_restrictions("entries", &req.entries)?;
            if !store::voicemail::rt_ids(tx.conn(), &name, Some(&sys.name))
                .await?
                .is_empty()
            {
                return Err(Error::conflict(
                    "name",
                    format!("restriction table {name} already exists on {}", sys.name),
                ));
            }
            let id = store::voicemail::insert_rt(tx.conn(), sys.id, &name, &req.entries).await?;
            Ok(store::voicemail::rt_by_id(tx.conn(), id).await?)
        })
        .await
    }

    /// Changes a restriction table's name or rows: every class of service naming it follows.
    pub async fn update_restriction_table(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        p: RestrictionTablePatch,
    ) -> Result<RestrictionTable> {
        crate::need_version(p.version)?;
        let cur = self.restriction_table(key, system).await?;
        let a = Audit {
            action: Action::Update,
            resource: Resource::RestrictionTable,
            target: cur.name.clone(),
            system: cur.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let name = match &p.name {
                Some(n) => Name::parse("name", n)?.into_string(),
                None => cur.name.clone(),
            };
            let entries = p.entries.clone().unwrap_or(cur.entries.clone());
            check_restrictions("entries", &entries)?;
            if name != cur.name
                && !store::voicemail::rt_ids(tx.conn(), &name, Some(&cur.system))
                    .await?
                    .is_empty()
            {
                return Err(Error::conflict(
                    "name",
                    format!("restriction table {name} already exists on {}", cur.system),
                ));
            }
            let written =
                store::voicemail::update_rt(tx.conn(), cur.id, p.version, &name, &entries).await;
            crate::unless_stale(written, async || {
                Ok(store::voicemail::rt_by_id(tx.conn(), cur.id).await?)
            })
            .await?;
            Ok(store::voicemail::rt_by_id(tx.conn(), cur.id).await?)
        })
        .await
    }

    /// Deletes a restriction table no class of service names.
    pub async fn delete_restriction_table(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
    ) -> Result<()> {
        let cur = self.restriction_table(key, system).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::RestrictionTable,
            target: cur.name.clone(),
            system: cur.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let t = store::voicemail::rt_by_id(tx.conn(), cur.id)
                .await
                .map_err(|e| nf(e, || format!("there is no restriction table {key}")))?;
            if !t.used_by.is_empty() {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "classes of service {} name restriction table {}: give them another first",
                        t.used_by.join(", "),
                        t.name
                    ),
                ));
            }
            if DEFAULT_TABLES.contains(&t.name.as_str()) {
                tracing::info!(table = %t.name, "a predefined restriction table is deleted");
            }
            Ok(store::voicemail::delete_rt(tx.conn(), cur.id).await?)
        })
        .await
    }

    // --- subscriber templates -----------------------------------------------------------

    pub async fn subscriber_templates(
        &self,
        system: Option<&str>,
    ) -> Result<Vec<SubscriberTemplate>> {
        let mut c = self.store.read().await?;
        Ok(store::voicemail::list_sts(&mut c, system)
            .await?
            .into_iter()
            .map(|t| t.template)
            .collect())
    }

    /// A subscriber template by name (or id).
    pub async fn subscriber_template(
        &self,
        key: &str,
        system: Option<&str>,
    ) -> Result<SubscriberTemplate> {
        let mut c = self.store.read().await?;
        let id = self.st_id(&mut c, key, system).await?;
        Ok(store::voicemail::st_by_id(&mut c, id).await?.template)
    }

    /// A template's fields checked into a row: its class of service and lists exist on its
    /// system, its default PIN is a PIN (hashed; `keep` when none is given).
    async fn template_row(
        &self,
        conn: &mut Conn,
        system_id: i64,
        system: &str,
        t: &NewSubscriberTemplate,
        keep_pin: Option<String>,
    ) -> Result<TemplateRow> {
        let name = Name::parse("name", &t.name)?.into_string();
        let cos = if t.class_of_service.trim().is_empty() {
            crate::voicemail::DEFAULT_COS
        } else {
            t.class_of_service.trim()
        };
        let cos_id = store::voicemail::cos_id(conn, system_id, cos)
            .await?
            .ok_or_else(|| {
                Error::invalid(
                    "class_of_service",
                    format!("there is no class of service `{cos}` on {system}"),
                )
            })?;
        let mut lists = Vec::new();
        for (i, n) in t.distribution_lists.iter().enumerate() {
            let id = store::voicemail::dl_id(conn, system_id, n.trim())
                .await?
                .ok_or_else(|| {
                    Error::invalid(
                        format!("distribution_lists[{i}]"),
                        format!("there is no public distribution list `{n}` on {system}"),
                    )
                })?;
            if !lists.contains(&id) {
                lists.push(id);
            }
        }
        let pin_hash = match t.default_pin.as_ref().map(model::Secret::expose) {
            Some("") => None,
            Some(p) => Some(hash_secret(
                Pin::parse(p)
                    .map_err(|e| Error::invalid("default_pin", e.message))?
                    .expose(),
            )?),
            None => keep_pin,
        };
        Ok(TemplateRow {
            system_id,
            name,
            cos_id,
            pin_hash,
            lists,
        })
    }

    pub async fn create_subscriber_template(
        &self,
        actor: &Actor,
        req: NewSubscriberTemplate,
    ) -> Result<SubscriberTemplate> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::SubscriberTemplate,
            target: req.name.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::Voicemail)
                .await?;
            a.system = sys.name.clone();
            let row = self
                .template_row(tx.conn(), sys.id, &sys.name, &req, None)
                .await?;
            if !store::voicemail::st_ids(tx.conn(), &row.name, Some(&sys.name))
                .await?
                .is_empty()
            {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "subscriber template {} already exists on {}",
                        row.name, sys.name
                    ),
                ));
            }
            let id = store::voicemail::insert_st(tx.conn(), &row).await?;
            Ok(store::voicemail::st_by_id(tx.conn(), id).await?.template)
        })
        .await
    }

    /// Changes a template: subscribers made from it keep what they got (a template applies
    /// when a subscriber is made), and follow a new name.
    pub async fn update_subscriber_template(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        p: SubscriberTemplatePatch,
    ) -> Result<SubscriberTemplate> {
        crate::need_version(p.version)?;
        let cur = {
            let mut c = self.store.read().await?;
            let id = self.st_id(&mut c, key, system).await?;
            store::voicemail::st_by_id(&mut c, id).await?
        };
        let ct = cur.template.clone();
        let a = Audit {
            action: Action::Update,
            resource: Resource::SubscriberTemplate,
            target: ct.name.clone(),
            system: ct.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let spec = NewSubscriberTemplate {
                name: p.name.clone().unwrap_or(ct.name.clone()),
                system: None,
                class_of_service: p.class_of_service.clone().unwrap_or(ct.class_of_service.clone()),
                distribution_lists: p.distribution_lists.clone().unwrap_or(ct.distribution_lists.clone()),
                default_pin: p.default_pin.clone(),
            };
            if ct.name == DEFAULT_TEMPLATE && spec.name != DEFAULT_TEMPLATE {
                return Err(Error::invalid(
                    "name",
                    format!("{DEFAULT_TEMPLATE} is the default template: it keeps its name (make another template instead)"),
                ));
            }
            let row = self.template_row(tx.conn(), cur.system_id, &ct.system, &spec, cur.pin_hash.clone()).await?;
            if row.name != ct.name
                && !store::voicemail::st_ids(tx.conn(), &row.name, Some(&ct.system)).await?.is_empty()
            {
                return Err(Error::conflict(
                    "name",
                    format!("subscriber template {} already exists on {}", row.name, ct.system),
                ));
            }
            let written = store::voicemail::update_st(tx.conn(), ct.id, p.version, &ct.name, &row).await;
            crate::unless_stale(written, async || Ok(store::voicemail::st_by_id(tx.conn(), ct.id).await?.template)).await?;
            Ok(store::voicemail::st_by_id(tx.conn(), ct.id).await?.template)
        })
        .await
    }

    /// Deletes a template no subscriber was made from; the default one stays.
    pub async fn delete_subscriber_template(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
    ) -> Result<()> {
        let cur = self.subscriber_template(key, system).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::SubscriberTemplate,
            target: cur.name.clone(),
            system: cur.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let t = store::voicemail::st_by_id(tx.conn(), cur.id).await?.template;
            if t.name == DEFAULT_TEMPLATE {
                return Err(Error::conflict(
                    "name",
                    format!("{DEFAULT_TEMPLATE} is the default subscriber template: it can be changed, not deleted"),
                ));
            }
            if t.subscribers > 0 {
                return Err(Error::conflict(
                    "name",
                    format!("{} subscribers were made from {}: it stays while they name it", t.subscribers, t.name),
                ));
            }
            Ok(store::voicemail::delete_st(tx.conn(), cur.id).await?)
        })
        .await
    }
}
