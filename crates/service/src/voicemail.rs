//! Voicemail subscribers, classes of service, distribution lists.

use crate::{nf, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::{
    BatchRequest, BatchResult, ClassOfService, ClassOfServicePatch, DirectoryNumber,
    DistributionList, DistributionListPatch, Name, NewClassOfService, NewDistributionList,
    NewVoicemailSubscriber, Page, Pin, RestrictionEntry, SystemKind, UserId, VoicemailSubscriber,
    VoicemailSubscriberPatch,
};
use store::voicemail::{CosRow, SubscriberRow, TemplateRow};
use store::Conn;

/// The class of service a new voicemail system starts with.
pub const DEFAULT_COS: &str = "Default Subscriber";
pub const DEFAULT_TEMPLATE: &str = "DefaultSubscriber";
/// The restriction tables a voicemail system starts with (Cisco Unity's predefined ones), which
/// may be modified: for transfers, message notifications (outdial) and faxes.
pub const DEFAULT_TABLES: [&str; 3] = ["Default Transfer", "Default Outdial", "Default Fax"];

/// Creates the settings a voicemail system starts with: the predefined restriction tables
/// (international numbers blocked, the rest allowed), a class of service naming them, and the
/// default subscriber template with that class of service.
pub(crate) async fn create_defaults(conn: &mut Conn, system_id: i64) -> Result<()> {
    let table = vec![
        RestrictionEntry {
            pattern: "9011*".into(),
            allowed: false,
        },
        RestrictionEntry {
            pattern: "*".into(),
            allowed: true,
        },
    ];
    let mut ids = [0i64; 3];
    for (i, name) in DEFAULT_TABLES.iter().enumerate() {
        ids[i] = store::voicemail::insert_rt(conn, system_id, name, &table).await?;
    }
    let cos_id = store::voicemail::insert_cos(
        conn,
        &CosRow {
            system_id,
            name: DEFAULT_COS.into(),
            max_message_seconds: 300,
            send_to_public_lists: true,
            secure_logon: false,
            directory_listing: true,
            transfer: ids[0],
            notification: ids[1],
            fax: ids[2],
        },
    )
    .await?;
    store::voicemail::insert_st(
        conn,
        &TemplateRow {
            system_id,
            name: DEFAULT_TEMPLATE.into(),
            cos_id,
            pin_hash: None,
            lists: Vec::new(),
        },
    )
    .await?;
    Ok(())
}

/// The id of restriction table `name` on a system (empty: the predefined one for `field`).
async fn table_id(conn: &mut Conn, system: &str, field: &str, name: &str) -> Result<i64> {
    let default = match field {
        "transfer_restriction" => DEFAULT_TABLES[0],
        "notification_restriction" => DEFAULT_TABLES[1],
        _ => DEFAULT_TABLES[2],
    };
    let name = if name.trim().is_empty() {
        default
    } else {
        name.trim()
    };
    store::voicemail::rt_ids(conn, name, Some(system))
        .await?
        .into_iter()
        .next()
        .map(|(id, _)| id)
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("there is no restriction table `{name}` on {system}"),
            )
        })
}

/// Checks a class of service's settings into a row.
async fn cos_row(
    conn: &mut Conn,
    system_id: i64,
    system: &str,
    req: NewClassOfService,
) -> Result<CosRow> {
    let name = Name::parse("name", &req.name)?;
    let max = req.max_message_seconds.unwrap_or(300);
    if !(1..=3600).contains(&max) {
        return Err(Error::invalid(
            "max_message_seconds",
            "the longest message is 1 to 3600 seconds",
        ));
    }
    Ok(CosRow {
        system_id,
        name: name.into_string(),
        max_message_seconds: max,
        send_to_public_lists: req.send_to_public_lists,
        secure_logon: req.secure_logon,
        directory_listing: req.directory_listing,
        transfer: table_id(
            conn,
            system,
            "transfer_restriction",
            &req.transfer_restriction,
        )
        .await?,
        notification: table_id(
            conn,
            system,
            "notification_restriction",
            &req.notification_restriction,
        )
        .await?,
        fax: table_id(conn, system, "fax_restriction", &req.fax_restriction).await?,
    })
}

pub(crate) fn check_restrictions(field: &str, entries: &[RestrictionEntry]) -> Result<()> {
    for (i, e) in entries.iter().enumerate() {
        let p = e.pattern.trim();
        if p.is_empty()
            || p.len() > 40
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '*' | '?' | '#' | '+'))
        {
            return Err(Error::invalid(
                format!("{field}[{i}].pattern"),
                "a restriction pattern is digits, `?` (one digit), `*` (any digits), `#` and `+`",
            ));
        }
    }
    Ok(())
}

impl Service {
    async fn subscriber_id(&self, conn: &mut Conn, key: &str, system: Option<&str>) -> Result<i64> {
        let found = store::voicemail::ids_by_alias(conn, key, system).await?;
        crate::one_by_key_or_id("voicemail subscriber", key, found, async |id| {
            store::voicemail::by_id(conn, id).await.is_ok()
        })
        .await
    }

    pub async fn find_voicemail_subscribers(
        &self,
        f: &model::Find,
    ) -> Result<Page<VoicemailSubscriber>> {
        let mut c = self.store.read().await?;
        Ok(store::voicemail::find(&mut c, f).await?)
    }

    pub async fn voicemail_subscriber(
        &self,
        key: &str,
        system: Option<&str>,
    ) -> Result<VoicemailSubscriber> {
        let mut c = self.store.read().await?;
        let id = self.subscriber_id(&mut c, key, system).await?;
        Ok(store::voicemail::by_id(&mut c, id).await?.subscriber)
    }

    async fn subscriber_row(
        &self,
        conn: &mut Conn,
        system_id: i64,
        system: &str,
        v: &NewVoicemailSubscriber,
        keep_pin: Option<String>,
        creating: bool,
    ) -> Result<(SubscriberRow, Vec<i64>)> {
        let alias = UserId::parse(&v.alias)
            .map_err(|e| Error::invalid("alias", e.message.replace("user ID", "alias")))?;
        if v.last_name.trim().is_empty() {
            return Err(Error::invalid(
                "last_name",
                "a voicemail subscriber needs a last name",
            ));
        }
        let extension = v.extension.trim();
        if extension.is_empty() {
            return Err(Error::invalid(
                "extension",
                "a voicemail subscriber needs an extension",
            ));
        }
        let extension = DirectoryNumber::parse(extension)
            .map_err(|e| Error::invalid("extension", e.message))?;
        // The template it is made from: at creation, what the subscriber does not say comes
        // from it (seed 000: "applied to all user accounts as the accounts are created").
        let template = if v.subscriber_template.trim().is_empty() {
            DEFAULT_TEMPLATE
        } else {
            v.subscriber_template.trim()
        };
        let Some((tid, _)) = store::voicemail::st_ids(conn, template, Some(system))
            .await?
            .into_iter()
            .next()
        else {
            let there: Vec<String> = store::voicemail::list_sts(conn, Some(system))
                .await?
                .into_iter()
                .map(|t| t.template.name)
                .collect();
            return Err(Error::invalid(
                "subscriber_template",
                format!(
                    "there is no subscriber template `{template}` on {system}; the templates are: {}",
                    if there.is_empty() { "none".to_string() } else { there.join(", ") }
                ),
            ));
        };
        let tpl = store::voicemail::st_by_id(conn, tid).await?;
        let cos_id = if v.class_of_service.trim().is_empty() && creating {
            tpl.cos_id
        } else {
            let cos_name = if v.class_of_service.trim().is_empty() {
                DEFAULT_COS
            } else {
                v.class_of_service.trim()
            };
            store::voicemail::cos_id(conn, system_id, cos_name)
                .await?
                .ok_or_else(|| {
                    Error::invalid(
                        "class_of_service",
                        format!("there is no class of service `{cos_name}` on {system}"),
                    )
                })?
        };
        let pin_hash = match v.pin.as_ref().map(model::Secret::expose) {
            Some(p) => Some(self.protect_secret(Pin::parse(p)?.expose())?),
            None if creating => tpl.pin_hash.clone(),
            None => keep_pin,
        };
        let mut lists = Vec::new();
        for (i, n) in v.distribution_lists.iter().enumerate() {
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
        if creating && v.distribution_lists.is_empty() {
            lists = tpl.list_ids.clone();
        }
        let template = tpl.template.name.clone();
        Ok((
            SubscriberRow {
                system_id,
                alias: alias.into_string(),
                first_name: v.first_name.trim().into(),
                last_name: v.last_name.trim().into(),
                display_name: v.display_name.trim().into(),
                extension: extension.into_string(),
                mail: v.mail.trim().into(),
                pin_hash,
                cos_id,
                subscriber_template: template,
            },
            lists,
        ))
    }

    pub async fn create_voicemail_subscriber(
        &self,
        actor: &Actor,
        req: NewVoicemailSubscriber,
    ) -> Result<VoicemailSubscriber> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::VoicemailSubscriber,
            target: req.alias.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::Voicemail)
                .await?;
            a.system = sys.name.clone();
            let (row, lists) = self
                .subscriber_row(tx.conn(), sys.id, &sys.name, &req, None, true)
                .await?;
            if !store::voicemail::ids_by_alias(tx.conn(), &row.alias, Some(&sys.name))
                .await?
                .is_empty()
            {
                return Err(Error::conflict(
                    "alias",
                    format!(
                        "voicemail subscriber {} already exists on {}",
                        row.alias, sys.name
                    ),
                ));
            }
            let id = store::voicemail::insert(tx.conn(), &row).await?;
            store::voicemail::set_lists(tx.conn(), id, &lists).await?;
            Ok(store::voicemail::by_id(tx.conn(), id).await?.subscriber)
        })
        .await
    }

    pub async fn update_voicemail_subscriber(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        p: VoicemailSubscriberPatch,
    ) -> Result<VoicemailSubscriber> {
        crate::need_version(p.version)?;
        let current = {
            let mut c = self.store.read().await?;
            let id = self.subscriber_id(&mut c, key, system).await?;
            store::voicemail::by_id(&mut c, id).await?
        };
        let cs = current.subscriber.clone();
        let a = Audit {
            action: Action::Update,
            resource: Resource::VoicemailSubscriber,
            target: current.subscriber.alias.clone(),
            system: current.subscriber.system.clone(),
        };
        self.change(actor, a, async |tx| {
            if let Some(s) = p.system.as_deref().filter(|s| *s != cs.system) {
                return Err(Error::invalid(
                    "system",
                    format!(
                        "a subscriber cannot move from {} to {s}: delete and add again",
                        cs.system
                    ),
                ));
            }
            if let Some(a) = p.alias.as_deref().filter(|a| *a != cs.alias) {
                return Err(Error::invalid(
                    "alias",
                    format!(
                        "an alias cannot change ({} to {a}): add a new subscriber",
                        cs.alias
                    ),
                ));
            }
            let spec = NewVoicemailSubscriber {
                alias: cs.alias.clone(),
                system: None,
                first_name: p.first_name.clone().unwrap_or(cs.first_name.clone()),
                last_name: p.last_name.clone().unwrap_or(cs.last_name.clone()),
                display_name: p.display_name.clone().unwrap_or(cs.display_name.clone()),
                extension: p.extension.clone().unwrap_or(cs.extension.clone()),
                mail: p.mail.clone().unwrap_or(cs.mail.clone()),
                pin: p.pin.clone(),
                class_of_service: p
                    .class_of_service
                    .clone()
                    .unwrap_or(cs.class_of_service.clone()),
                subscriber_template: p
                    .subscriber_template
                    .clone()
                    .unwrap_or(cs.subscriber_template.clone()),
                distribution_lists: p
                    .distribution_lists
                    .clone()
                    .unwrap_or(cs.distribution_lists.clone()),
            };
            let (row, lists) = self
                .subscriber_row(
                    tx.conn(),
                    current.row.system_id,
                    &cs.system,
                    &spec,
                    current.row.pin_hash.clone(),
                    false,
                )
                .await?;
            let written = store::voicemail::update(tx.conn(), cs.id, p.version, &row).await;
            crate::unless_stale(written, async || {
                Ok(store::voicemail::by_id(tx.conn(), cs.id).await?.subscriber)
            })
            .await?;
            store::voicemail::set_lists(tx.conn(), cs.id, &lists).await?;
            Ok(store::voicemail::by_id(tx.conn(), cs.id).await?.subscriber)
        })
        .await
    }

    pub async fn delete_voicemail_subscriber(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
    ) -> Result<()> {
        let current = self.voicemail_subscriber(key, system).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::VoicemailSubscriber,
            target: current.alias.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            Ok(store::voicemail::delete(tx.conn(), current.id).await?)
        })
        .await
    }

    pub async fn delete_voicemail_subscribers(
        &self,
        actor: &Actor,
        req: &BatchRequest,
    ) -> Result<BatchResult> {
        let sys = req.system.as_deref();
        self.batch(
            actor,
            Action::BatchDelete,
            Resource::VoicemailSubscriber,
            &req.targets,
            |t| async move { self.delete_voicemail_subscriber(actor, &t, sys).await },
        )
        .await
    }

    // --- classes of service -----------------------------------------------------------------

    pub async fn classes_of_service(&self, system: Option<&str>) -> Result<Vec<ClassOfService>> {
        let mut c = self.store.read().await?;
        Ok(store::voicemail::list_cos(&mut c, system).await?)
    }

    pub async fn create_class_of_service(
        &self,
        actor: &Actor,
        req: NewClassOfService,
    ) -> Result<ClassOfService> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::ClassOfService,
            target: req.name.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::Voicemail)
                .await?;
            a.system = sys.name.clone();
            let row = cos_row(tx.conn(), sys.id, &sys.name, req.clone()).await?;
            if store::voicemail::cos_id(tx.conn(), sys.id, &row.name)
                .await?
                .is_some()
            {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "class of service {} already exists on {}",
                        row.name, sys.name
                    ),
                ));
            }
            let id = store::voicemail::insert_cos(tx.conn(), &row).await?;
            Ok(store::voicemail::cos_by_id(tx.conn(), id).await?)
        })
        .await
    }

    pub async fn update_class_of_service(
        &self,
        actor: &Actor,
        id: i64,
        p: ClassOfServicePatch,
    ) -> Result<ClassOfService> {
        crate::need_version(p.version)?;
        let cur = {
            let mut c = self.store.read().await?;
            store::voicemail::cos_by_id(&mut c, id)
                .await
                .map_err(|e| nf(e, || format!("there is no class of service {id}")))?
        };
        let a = Audit {
            action: Action::Update,
            resource: Resource::ClassOfService,
            target: cur.name.clone(),
            system: cur.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let sys = store::systems::by_name(tx.conn(), &cur.system).await?;
            let row = cos_row(
                tx.conn(),
                sys.id,
                &sys.name,
                NewClassOfService {
                    name: p.name.clone().unwrap_or(cur.name.clone()),
                    system: None,
                    max_message_seconds: Some(
                        p.max_message_seconds.unwrap_or(cur.max_message_seconds),
                    ),
                    send_to_public_lists: p
                        .send_to_public_lists
                        .unwrap_or(cur.send_to_public_lists),
                    secure_logon: p.secure_logon.unwrap_or(cur.secure_logon),
                    directory_listing: p.directory_listing.unwrap_or(cur.directory_listing),
                    transfer_restriction: p
                        .transfer_restriction
                        .clone()
                        .unwrap_or(cur.transfer_restriction.clone()),
                    notification_restriction: p
                        .notification_restriction
                        .clone()
                        .unwrap_or(cur.notification_restriction.clone()),
                    fax_restriction: p
                        .fax_restriction
                        .clone()
                        .unwrap_or(cur.fax_restriction.clone()),
                },
            )
            .await?;
            if row.name != cur.name
                && store::voicemail::cos_id(tx.conn(), sys.id, &row.name)
                    .await?
                    .is_some()
            {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "class of service {} already exists on {}",
                        row.name, sys.name
                    ),
                ));
            }
            let written = store::voicemail::update_cos(tx.conn(), id, p.version, &row).await;
            crate::unless_stale(written, async || {
                Ok(store::voicemail::cos_by_id(tx.conn(), id).await?)
            })
            .await?;
            Ok(store::voicemail::cos_by_id(tx.conn(), id).await?)
        })
        .await
    }

    pub async fn delete_class_of_service(&self, actor: &Actor, id: i64) -> Result<()> {
        let cos = {
            let mut c = self.store.read().await?;
            store::voicemail::cos_by_id(&mut c, id)
                .await
                .map_err(|e| nf(e, || format!("there is no class of service {id}")))?
        };
        let a = Audit {
            action: Action::Delete,
            resource: Resource::ClassOfService,
            target: cos.name.clone(),
            system: cos.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let templates = store::voicemail::templates_using(tx.conn(), None, Some(id)).await?;
            if !templates.is_empty() {
                return Err(Error::conflict(
                    "class_of_service",
                    format!(
                        "subscriber templates {} give {}: give them another class of service first",
                        templates.join(", "),
                        cos.name
                    ),
                ));
            }
            let n = store::voicemail::cos_users(tx.conn(), id).await?;
            if n > 0 {
                return Err(Error::conflict(
                    "class_of_service",
                    format!(
                        "{n} subscribers use {}: move them to another class of service first",
                        cos.name
                    ),
                ));
            }
            Ok(store::voicemail::delete_cos(tx.conn(), id).await?)
        })
        .await
    }

    // --- distribution lists -----------------------------------------------------------------

    pub async fn distribution_lists(&self, system: Option<&str>) -> Result<Vec<DistributionList>> {
        let mut c = self.store.read().await?;
        Ok(store::voicemail::list_dls(&mut c, system).await?)
    }

    pub async fn create_distribution_list(
        &self,
        actor: &Actor,
        req: NewDistributionList,
    ) -> Result<DistributionList> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::DistributionList,
            target: req.name.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::Voicemail)
                .await?;
            a.system = sys.name.clone();
            let name = Name::parse("name", &req.name)?;
            if store::voicemail::dl_id(tx.conn(), sys.id, name.as_str())
                .await?
                .is_some()
            {
                return Err(Error::conflict(
                    "name",
                    format!("distribution list {name} already exists on {}", sys.name),
                ));
            }
            let id = store::voicemail::insert_dl(
                tx.conn(),
                sys.id,
                name.as_str(),
                req.description.trim(),
            )
            .await?;
            Ok(store::voicemail::dl_by_id(tx.conn(), id).await?)
        })
        .await
    }

    pub async fn update_distribution_list(
        &self,
        actor: &Actor,
        id: i64,
        p: DistributionListPatch,
    ) -> Result<DistributionList> {
        crate::need_version(p.version)?;
        let cur = {
            let mut c = self.store.read().await?;
            store::voicemail::dl_by_id(&mut c, id)
                .await
                .map_err(|e| nf(e, || format!("there is no distribution list {id}")))?
        };
        let a = Audit {
            action: Action::Update,
            resource: Resource::DistributionList,
            target: cur.name.clone(),
            system: cur.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let sys = store::systems::by_name(tx.conn(), &cur.system).await?;
            let name = Name::parse("name", p.name.as_deref().unwrap_or(&cur.name))?;
            if name.as_str() != cur.name
                && store::voicemail::dl_id(tx.conn(), sys.id, name.as_str())
                    .await?
                    .is_some()
            {
                return Err(Error::conflict(
                    "name",
                    format!("distribution list {name} already exists on {}", sys.name),
                ));
            }
            let description = p.description.clone().unwrap_or(cur.description.clone());
            let written = store::voicemail::update_dl(
                tx.conn(),
                id,
                p.version,
                name.as_str(),
                description.trim(),
            )
            .await;
            crate::unless_stale(written, async || {
                Ok(store::voicemail::dl_by_id(tx.conn(), id).await?)
            })
            .await?;
            Ok(store::voicemail::dl_by_id(tx.conn(), id).await?)
        })
        .await
    }

    pub async fn delete_distribution_list(&self, actor: &Actor, id: i64) -> Result<()> {
        let dl = {
            let mut c = self.store.read().await?;
            store::voicemail::dl_by_id(&mut c, id)
                .await
                .map_err(|e| nf(e, || format!("there is no distribution list {id}")))?
        };
        let a = Audit {
            action: Action::Delete,
            resource: Resource::DistributionList,
            target: dl.name.clone(),
            system: dl.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let templates = store::voicemail::templates_using(tx.conn(), Some(id), None).await?;
            if !templates.is_empty() {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "subscriber templates {} give {}: take it out of them first",
                        templates.join(", "),
                        dl.name
                    ),
                ));
            }
            Ok(store::voicemail::delete_dl(tx.conn(), id).await?)
        })
        .await
    }
}
