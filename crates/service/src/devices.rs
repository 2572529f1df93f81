//! Phones and device profiles: naming, what the model supports, lines (shared lines), services,
//! owners, secondary soft phones and logout profiles.

use crate::{nf, opt, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::rules::{
    assign_buttons, check_device_shape, device_type, protocol, DeviceClass, DeviceShape,
    DEFAULT_BUSY_TRIGGER, MAX_SECONDARY_PHONES,
};
use model::{
    AppearanceInput, BatchRequest, BatchResult, DeviceName, DeviceProfile, DeviceProfilePatch,
    DeviceType, DirectoryNumber, DndMode, Invalid, Line, Mac, Naming, NewDeviceProfile, NewLine,
    NewPhone, Page, Partition, Phone, PhonePatch, SecurityMode, SpeedDial, Subscription,
    SystemKind, UserId,
};
use std::collections::BTreeSet;
use store::devices::{AppearanceRow, DeviceRow, StoredDevice, SubscriptionRow};
use store::Conn as AnyConnection;

/// Everything a phone or a device profile can say about itself, before checking.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceSpec {
    pub(crate) name: Option<String>,
    pub(crate) mac: Option<String>,
    pub(crate) model: String,
    pub(crate) protocol: Option<String>,
    pub(crate) system: Option<String>,
    pub(crate) description: String,
    pub(crate) device_pool: String,
    pub(crate) button_template: String,
    pub(crate) softkey_template: String,
    pub(crate) calling_search_space: String,
    pub(crate) location: String,
    pub(crate) security_mode: Option<SecurityMode>,
    pub(crate) security_profile: String,
    pub(crate) allow_cti_control: Option<bool>,
    pub(crate) owner_user_id: Option<String>,
    pub(crate) dnd: DndMode,
    pub(crate) expansion_modules: Vec<String>,
    pub(crate) logout_profile: Option<String>,
    pub(crate) primary_phone: Option<String>,
    pub(crate) lines: Vec<AppearanceInput>,
    pub(crate) services: Vec<Subscription>,
    pub(crate) speed_dials: Vec<SpeedDial>,
    /// What is stored in the retired per-device `parameters` (kept as it is, never read).
    pub(crate) parameters: serde_json::Map<String, serde_json::Value>,
    /// A request gave `parameters`: refused (they are the device scope's).
    pub(crate) parameters_given: bool,
    pub(crate) mlpp_domain: String,
    pub(crate) mlpp_indication: bool,
    pub(crate) mlpp_preemption: bool,
    pub(crate) sip_contact: Option<String>,
    /// Kept through edits; set by auto-registration, cleared by a claim.
    pub(crate) auto_registered: bool,
}

impl From<NewPhone> for DeviceSpec {
    fn from(p: NewPhone) -> Self {
        DeviceSpec {
            name: p.name,
            mac: p.mac,
            model: p.model,
            protocol: p.protocol,
            system: p.system,
            description: p.description,
            device_pool: p.device_pool,
            button_template: p.button_template,
            softkey_template: p.softkey_template,
            calling_search_space: p.calling_search_space,
            location: p.location,
            security_mode: p.security_mode,
            security_profile: p.security_profile,
            allow_cti_control: p.allow_cti_control,
            owner_user_id: p.owner_user_id,
            dnd: p.dnd.unwrap_or_default(),
            expansion_modules: p.expansion_modules,
            logout_profile: p.logout_profile,
            primary_phone: p.primary_phone,
            lines: p.lines,
            services: p.services,
            speed_dials: p.speed_dials,
            parameters_given: !p.parameters.is_empty(),
            sip_contact: p.sip_contact,
            ..Default::default()
        }
    }
}

impl From<NewDeviceProfile> for DeviceSpec {
    fn from(p: NewDeviceProfile) -> Self {
        DeviceSpec {
            name: Some(p.name),
            model: p.model,
            protocol: p.protocol,
            system: p.system,
            description: p.description,
            button_template: p.button_template,
            softkey_template: p.softkey_template,
            mlpp_domain: p.mlpp_domain,
            mlpp_indication: p.mlpp_indication,
            mlpp_preemption: p.mlpp_preemption,
            expansion_modules: p.expansion_modules,
            lines: p.lines,
            services: p.services,
            speed_dials: p.speed_dials,
            ..Default::default()
        }
    }
}

/// The spec of a stored device: what a patch starts from.
pub(crate) fn spec_of(d: &StoredDevice) -> DeviceSpec {
    let r = &d.row;
    DeviceSpec {
        name: Some(r.name.clone()),
        mac: r.mac.clone(),
        model: r.model.clone(),
        protocol: Some(r.protocol.clone()),
        system: Some(d.system.clone()),
        description: r.description.clone(),
        device_pool: r.device_pool.clone(),
        button_template: r.button_template.clone(),
        softkey_template: r.softkey_template.clone(),
        calling_search_space: r.calling_search_space.clone(),
        location: r.location.clone(),
        security_mode: r.security_mode,
        security_profile: r.security_profile.clone(),
        allow_cti_control: Some(r.allow_cti_control),
        owner_user_id: d.owner_user_id.clone(),
        dnd: r.dnd,
        expansion_modules: r.expansion_modules.clone(),
        logout_profile: d.logout_profile.clone(),
        primary_phone: d.primary_phone.clone(),
        lines: d
            .appearances
            .iter()
            .map(|(_, a)| AppearanceInput {
                pattern: a.pattern.clone(),
                partition: a.partition.clone(),
                button: Some(a.button),
                label: a.label.clone(),
                display: a.display.clone(),
                external_mask: a.external_mask.clone(),
                ..Default::default()
            })
            .collect(),
        services: d.services.clone(),
        speed_dials: r.speed_dials.clone(),
        parameters: r.parameters.clone(),
        parameters_given: false,
        mlpp_domain: r.mlpp_domain.clone(),
        mlpp_indication: r.mlpp_indication,
        mlpp_preemption: r.mlpp_preemption,
        sip_contact: r.sip_contact.clone(),
        auto_registered: r.auto_registered,
    }
}

fn what(class: DeviceClass) -> &'static str {
    match class {
        DeviceClass::Phone => "phone",
        DeviceClass::DeviceProfile => "device profile",
    }
}

/// What a checked spec becomes.
pub(crate) struct Built {
    /// The name of the device's product system.
    pub(crate) system: String,
    pub(crate) row: DeviceRow,
    pub(crate) appearances: Vec<AppearanceRow>,
    pub(crate) subscriptions: Vec<SubscriptionRow>,
}

/// Whether an appearance gives any setting of its line.
fn has_line_settings(a: &AppearanceInput) -> bool {
    a.line_description.is_some()
        || a.alerting_name.is_some()
        || a.forward_all.is_some()
        || a.forward_busy_internal.is_some()
        || a.forward_busy_external.is_some()
        || a.forward_no_answer_internal.is_some()
        || a.forward_no_answer_external.is_some()
        || a.pickup_group.is_some()
        || a.voicemail_profile.is_some()
        || a.max_calls.is_some()
        || a.busy_trigger.is_some()
}

/// A stored line as the request that would make it.
fn new_line_of(l: &Line) -> NewLine {
    NewLine {
        pattern: l.pattern.clone(),
        partition: l.partition.clone(),
        system: None,
        description: l.description.clone(),
        alerting_name: l.alerting_name.clone(),
        forward_all: l.forward_all.clone(),
        forward_busy_internal: l.forward_busy_internal.clone(),
        forward_busy_external: l.forward_busy_external.clone(),
        forward_no_answer_internal: l.forward_no_answer_internal.clone(),
        forward_no_answer_external: l.forward_no_answer_external.clone(),
        pickup_group: l.pickup_group.clone(),
        voicemail_profile: l.voicemail_profile.clone(),
        max_calls: Some(l.max_calls),
        busy_trigger: Some(l.busy_trigger),
    }
}

/// Sets on `nl` the line settings the appearance gives.
fn overlay(nl: &mut NewLine, a: &AppearanceInput) {
    let text = [
        (&mut nl.description, &a.line_description),
        (&mut nl.alerting_name, &a.alerting_name),
        (&mut nl.forward_all, &a.forward_all),
        (&mut nl.forward_busy_internal, &a.forward_busy_internal),
        (&mut nl.forward_busy_external, &a.forward_busy_external),
        (
            &mut nl.forward_no_answer_internal,
            &a.forward_no_answer_internal,
        ),
        (
            &mut nl.forward_no_answer_external,
            &a.forward_no_answer_external,
        ),
        (&mut nl.pickup_group, &a.pickup_group),
        (&mut nl.voicemail_profile, &a.voicemail_profile),
    ];
    for (to, from) in text {
        if let Some(v) = from {
            *to = v.trim().to_string();
        }
    }
    if a.max_calls.is_some() {
        nl.max_calls = a.max_calls;
    }
    if a.busy_trigger.is_some() {
        nl.busy_trigger = a.busy_trigger;
    }
}

/// A line's error as the field of appearance `i` that gave the value.
fn line_field(e: Error, i: usize) -> Error {
    match e {
        Error::Invalid(mut inv) => {
            if inv.field == "description" {
                inv.field = "line_description".into();
            }
            Error::Invalid(inv.within(&format!("lines[{i}]")))
        }
        e => e,
    }
}

impl Service {
    /// Checks a spec against every rule and the stored records, creating the lines it names that
    /// do not exist yet (inside the caller's transaction).
    pub(crate) async fn build(
        &self,
        conn: &mut AnyConnection,
        class: DeviceClass,
        s: &DeviceSpec,
        this: Option<i64>,
    ) -> Result<Built> {
        let sys = self
            .pick_system(conn, s.system.as_deref(), SystemKind::CallControl)
            .await?;
        let t: &DeviceType = device_type(self.catalog, &s.model, class)?;
        let protocol = protocol(t, s.protocol.as_deref())?;

        // Owner (phones only): a user of the same system.
        let owner_uid = opt(s.owner_user_id.as_deref());
        let owner = match (&owner_uid, class) {
            (Some(_), DeviceClass::DeviceProfile) => {
                return Err(Error::invalid(
                    "owner_user_id",
                    "device profiles have users, not an owner: associate the profile with the user",
                ))
            }
            (Some(uid), _) => {
                let uid = UserId::parse(uid).map_err(|e| e.within("owner_user_id"))?;
                let id = self
                    .user_id_on_system(conn, sys.id, uid.as_str())
                    .await?
                    .ok_or_else(|| {
                        Error::invalid(
                            "owner_user_id",
                            format!("there is no user {uid} on {}: add the user first", sys.name),
                        )
                    })?;
                Some((id, uid))
            }
            (None, _) => None,
        };

        // Name and MAC.
        let (name, mac) = self
            .name_and_mac(conn, class, t, s, owner.as_ref().map(|(_, u)| u), this)
            .await?;
        // Run optimistically (an import), the unique keys of name and MAC refuse a duplicate at
        // the insert, and the replay with savepoints that follows words it as these checks do.
        if !self.store.optimistic() {
            // The MAC first: a hardware phone's name is made of it, and its column is the one
            // the file gave.
            if let Some(m) = &mac {
                if let Some((id, other)) = store::devices::by_mac(conn, m.as_str()).await? {
                    if Some(id) != this {
                        return Err(Error::conflict(
                            "mac",
                            format!(
                                "MAC {m} belongs to {other} already: each phone has its own MAC"
                            ),
                        ));
                    }
                }
            }
            if let Some((id, c)) = store::devices::id_by_name(conn, name.as_str()).await? {
                if Some(id) != this {
                    return Err(Error::conflict(
                        "name",
                        format!(
                            "a {} named {name} already exists: choose another name or change that {}",
                            what(c),
                            what(c)
                        ),
                    ));
                }
            }
        }

        if s.parameters_given {
            return Err(Error::invalid(
                "parameters",
                format!(
                    "a phone's own provisioning parameters are the device scope's: \
                     PUT /api/v1/parameters/device?target={} (docs/phones.md, \"Profile rules and resync\")",
                    s.name.as_deref().unwrap_or("NAME")
                ),
            ));
        }
        // What the model supports.
        let buttons = assign_buttons(&s.lines.iter().map(|l| l.button).collect::<Vec<_>>());
        check_device_shape(
            self.catalog,
            t,
            &DeviceShape {
                security_mode: s.security_mode,
                expansion_modules: &s.expansion_modules,
                buttons: &buttons,
            },
        )?;
        let allow_cti = s
            .allow_cti_control
            .unwrap_or(t.cti && class == DeviceClass::Phone);
        if allow_cti && !t.cti {
            return Err(Error::invalid(
                "allow_cti_control",
                format!(
                    "the {} cannot be controlled by CTI: set allow_cti_control to false",
                    t.model
                ),
            ));
        }
        if class == DeviceClass::DeviceProfile && s.mac.is_some() {
            return Err(Error::invalid(
                "mac",
                "a device profile has no hardware and no MAC",
            ));
        }

        // Logout profile (phones): a device profile of the same system.
        let logout_profile_id = match opt(s.logout_profile.as_deref()) {
            None => None,
            Some(lp) => {
                let (id, c) = store::devices::id_by_name(conn, &lp)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid("logout_profile", format!("there is no device profile {lp}"))
                    })?;
                if c != DeviceClass::DeviceProfile {
                    return Err(Error::invalid(
                        "logout_profile",
                        format!("{lp} is a phone, not a device profile"),
                    ));
                }
                let p = store::devices::by_id(conn, id).await?;
                if p.row.system_id != sys.id {
                    return Err(Error::invalid(
                        "logout_profile",
                        format!("{lp} is on {}, not on {}", p.system, sys.name),
                    ));
                }
                Some(id)
            }
        };

        // Secondary (adjunct) soft phones (docs/phones.md, "What each phone fetches"): only soft
        // clients, at most 2 per primary, and the primary is the phone that consumes the most
        // licenses (not a soft client).
        let primary_phone_id = match opt(s.primary_phone.as_deref()) {
            None => None,
            Some(pp) => {
                if !t.secondary {
                    let soft: Vec<&str> = self
                        .catalog
                        .devices()
                        .filter(|t| t.secondary)
                        .map(|t| t.model.as_str())
                        .collect();
                    return Err(Error::invalid(
                        "primary_phone",
                        format!("only soft clients ({}) can be secondary to a primary phone, not the {}", soft.join(", "), t.model),
                    ));
                }
                let (id, c) = store::devices::id_by_name(conn, &pp)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid("primary_phone", format!("there is no phone {pp}"))
                    })?;
                if c != DeviceClass::Phone || Some(id) == this {
                    return Err(Error::invalid(
                        "primary_phone",
                        format!("{pp} cannot be a primary phone of this device"),
                    ));
                }
                let p = store::devices::by_id(conn, id).await?;
                if p.row.system_id != sys.id {
                    return Err(Error::invalid(
                        "primary_phone",
                        format!("{pp} is on {}, not on {}", p.system, sys.name),
                    ));
                }
                if let Some(pt) = self.catalog.get(&p.row.model) {
                    if pt.family == model::DeviceFamily::SoftClient {
                        return Err(Error::invalid(
                            "primary_phone",
                            format!("{pp} is a soft client: the primary must be the hardware phone, and the soft phone its secondary"),
                        ));
                    }
                }
                let others = store::devices::count_secondaries(conn, id, this).await?;
                if others.len() >= MAX_SECONDARY_PHONES {
                    return Err(Error::conflict(
                        "primary_phone",
                        format!("{pp} has {MAX_SECONDARY_PHONES} secondary soft phones already ({}): a primary takes at most {MAX_SECONDARY_PHONES}", others.join(", ")),
                    ));
                }
                Some(id)
            }
        };

        // Lines: existing ones are shared, new ones are created with the model's defaults.
        let mut appearances = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, (l, button)) in s.lines.iter().zip(&buttons).enumerate() {
            let at = |e: Invalid| Error::Invalid(e.within(&format!("lines[{i}]")));
            let pattern = DirectoryNumber::parse(&l.pattern).map_err(at)?;
            let partition = Partition::parse(&l.partition).map_err(at)?;
            if !seen.insert((pattern.clone(), partition.clone())) {
                return Err(Error::invalid(
                    format!("lines[{i}].pattern"),
                    format!(
                        "line {pattern} is on this device twice: a line appears once per device"
                    ),
                ));
            }
            let stored = self
                .line_id_by_key(conn, sys.id, &pattern, &partition)
                .await?;
            let line_id = match stored {
                Some(id) => {
                    if has_line_settings(l) {
                        let now = store::lines::by_id(conn, id).await?;
                        let mut nl = new_line_of(&now);
                        overlay(&mut nl, l);
                        let row =
                            crate::lines::line_row(sys.id, &nl).map_err(|e| line_field(e, i))?;
                        if nl != new_line_of(&now) {
                            store::lines::update(conn, id, now.version, &row).await?;
                        }
                    }
                    id
                }
                None => {
                    let max_calls = t.max_calls_default as i64;
                    let mut nl = NewLine {
                        pattern: pattern.as_str().into(),
                        partition: partition.as_str().into(),
                        max_calls: Some(max_calls),
                        ..Default::default()
                    };
                    overlay(&mut nl, l);
                    if l.busy_trigger.is_none() {
                        nl.busy_trigger =
                            Some(DEFAULT_BUSY_TRIGGER.min(nl.max_calls.unwrap_or(max_calls)));
                    }
                    let row = crate::lines::line_row(sys.id, &nl).map_err(|e| line_field(e, i))?;
                    store::lines::insert(conn, &row).await?
                }
            };
            appearances.push(AppearanceRow {
                line_id,
                button: *button,
                label: l.label.trim().to_string(),
                display: l.display.trim().to_string(),
                external_mask: l.external_mask.trim().to_string(),
            });
        }

        // Service subscriptions: services of the same system, with their required parameters.
        let mut subscriptions = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, sub) in s.services.iter().enumerate() {
            let field = format!("services[{i}]");
            let svc = store::services::ids_by_name(conn, sub.service.trim())
                .await?
                .into_iter()
                .find(|(_, sid)| *sid == sys.id)
                .map(|(id, _)| id)
                .ok_or_else(|| {
                    Error::invalid(
                        format!("{field}.service"),
                        format!(
                            "there is no IP phone service `{}` on {}",
                            sub.service, sys.name
                        ),
                    )
                })?;
            if !seen.insert(svc) {
                return Err(Error::invalid(
                    format!("{field}.service"),
                    format!("{} is subscribed twice", sub.service),
                ));
            }
            let def = store::services::by_id(conn, svc).await?;
            for k in sub.parameters.keys() {
                if !def.parameters.iter().any(|p| &p.name == k) {
                    let known: Vec<&str> = def.parameters.iter().map(|p| p.name.as_str()).collect();
                    return Err(Error::invalid(
                        format!("{field}.parameters.{k}"),
                        format!(
                            "{} has no parameter `{k}`; its parameters: {}",
                            def.name,
                            if known.is_empty() {
                                "none".into()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
            }
            let mut params = sub.parameters.clone();
            for p in &def.parameters {
                if !params.contains_key(&p.name) {
                    if p.required && p.default.is_empty() {
                        return Err(Error::invalid(
                            format!("{field}.parameters.{}", p.name),
                            format!("{} needs the parameter {}", def.name, p.name),
                        ));
                    }
                    params.insert(p.name.clone(), p.default.clone());
                }
            }
            subscriptions.push(SubscriptionRow {
                service_id: svc,
                label: sub.label.trim().to_string(),
                parameters: params,
            });
        }

        // Speed dials.
        let mut positions = BTreeSet::new();
        for (i, sd) in s.speed_dials.iter().enumerate() {
            if sd.position < 1 || !positions.insert(sd.position) {
                return Err(Error::invalid(
                    format!("speed_dials[{i}].position"),
                    "give each speed dial its own position, from 1",
                ));
            }
            let n = sd.number.trim();
            if n.is_empty()
                || n.len() > 50
                || !n.chars().all(|c| c.is_ascii_digit() || "+*#,".contains(c))
            {
                return Err(Error::invalid(
                    format!("speed_dials[{i}].number"),
                    "a speed dial number is digits, `+`, `*`, `#` and `,` (a pause)",
                ));
            }
        }

        Ok(Built {
            system: sys.name.clone(),
            row: DeviceRow {
                class,
                name: name.into_string(),
                mac: mac.map(Mac::into_string),
                model: t.model.clone(),
                protocol,
                system_id: sys.id,
                description: s.description.trim().to_string(),
                device_pool: s.device_pool.trim().to_string(),
                button_template: s.button_template.trim().to_string(),
                softkey_template: s.softkey_template.trim().to_string(),
                calling_search_space: s.calling_search_space.trim().to_string(),
                location: s.location.trim().to_string(),
                security_mode: s.security_mode,
                security_profile: s.security_profile.trim().to_string(),
                allow_cti_control: allow_cti,
                owner_id: owner.map(|(id, _)| id),
                dnd: s.dnd,
                expansion_modules: s
                    .expansion_modules
                    .iter()
                    .map(|m| {
                        self.catalog
                            .get(m)
                            .map(|t| t.model.clone())
                            .unwrap_or_else(|| m.clone())
                    })
                    .collect(),
                logout_profile_id,
                primary_phone_id,
                speed_dials: s.speed_dials.clone(),
                parameters: s.parameters.clone(),
                mlpp_domain: s.mlpp_domain.trim().to_string(),
                mlpp_indication: s.mlpp_indication,
                mlpp_preemption: s.mlpp_preemption,
                sip_contact: sip_contact(class, s.sip_contact.as_deref())?,
                auto_registered: s.auto_registered,
            },
            appearances,
            subscriptions,
        })
    }

    /// The device name and MAC, by the model's naming rule.
    async fn name_and_mac(
        &self,
        conn: &mut AnyConnection,
        class: DeviceClass,
        t: &DeviceType,
        s: &DeviceSpec,
        owner: Option<&UserId>,
        this: Option<i64>,
    ) -> Result<(DeviceName, Option<Mac>)> {
        let given_name = opt(s.name.as_deref());
        let given_mac = match opt(s.mac.as_deref()) {
            Some(m) => Some(Mac::parse(&m)?),
            None => None,
        };
        if class == DeviceClass::DeviceProfile {
            let n = given_name
                .ok_or_else(|| Error::invalid("name", "a device profile needs a name"))?;
            return Ok((DeviceName::parse(&n)?, None));
        }
        match t.naming {
            Naming::Mac => {
                let from_name = match &given_name {
                    Some(n) => Some(DeviceName::parse_sep(n)?),
                    None => None,
                };
                match (from_name, given_mac) {
                    (Some(n), Some(m)) => {
                        if n.mac().as_ref() != Some(&m) {
                            return Err(Error::invalid("mac", format!("MAC {m} does not match the name {n}: the name is SEP followed by the MAC")));
                        }
                        Ok((n, Some(m)))
                    }
                    (Some(n), None) => {
                        let m = n.mac();
                        Ok((n, m))
                    }
                    (None, Some(m)) => Ok((DeviceName::from_mac(&m), Some(m))),
                    (None, None) => Err(Error::invalid(
                        "mac",
                        format!("a {} needs its MAC (or a name SEP<MAC>)", t.model),
                    )),
                }
            }
            Naming::Upc => {
                let owner = owner.ok_or_else(|| {
                    Error::invalid(
                        "owner_user_id",
                        format!("a {} is named after its user: give owner_user_id", t.model),
                    )
                })?;
                let derived = DeviceName::soft_phone(owner)?;
                if let Some(n) = &given_name {
                    if !n.eq_ignore_ascii_case(derived.as_str()) {
                        return Err(Error::invalid(
                            "name",
                            format!("the {} of user {owner} must be named {derived} (UPC + the user name in capitals, letters and digits only, at most 12): leave name out", t.model),
                        ));
                    }
                }
                if let Some((id, _)) = store::devices::id_by_name(conn, derived.as_str()).await? {
                    if Some(id) != this {
                        if let Some(other) = store::devices::owner_of(conn, id).await? {
                            if other != owner.as_str() {
                                return Err(Error::conflict(
                                    "owner_user_id",
                                    format!(
                                        "users {other} and {owner} both map to the soft-phone name {derived} (they collide): \
                                         give one of them another user name"
                                    ),
                                ));
                            }
                        }
                    }
                }
                if given_mac.is_some() {
                    return Err(Error::invalid("mac", format!("a {} has no MAC", t.model)));
                }
                Ok((derived, None))
            }
            Naming::Free => match (given_name, given_mac) {
                (Some(n), m) => {
                    let n = DeviceName::parse(&n)?;
                    if let (Some(nm), Some(m)) = (n.mac(), &m) {
                        if &nm != m {
                            return Err(Error::invalid(
                                "mac",
                                format!("MAC {m} does not match the name {n}"),
                            ));
                        }
                    }
                    let m = m.or_else(|| n.mac());
                    Ok((n, m))
                }
                (None, Some(m)) => Ok((DeviceName::from_mac(&m), Some(m))),
                (None, None) => Err(Error::invalid(
                    "name",
                    format!("a {} needs a name or a MAC", t.model),
                )),
            },
        }
    }

    pub(crate) async fn write_device(
        &self,
        tx: &mut store::WriteTx,
        id: Option<(i64, i64)>,
        b: &Built,
    ) -> store::Result<i64> {
        match id {
            None => store::devices::insert_new(tx, &b.row, &b.appearances, &b.subscriptions).await,
            Some((id, version)) => {
                let conn = tx.conn();
                store::devices::update(conn, id, version, &b.row).await?;
                store::devices::set_appearances(conn, id, &b.appearances).await?;
                store::devices::set_subscriptions(conn, id, &b.subscriptions).await?;
                Ok(id)
            }
        }
    }

    pub(crate) async fn device_id(
        &self,
        conn: &mut AnyConnection,
        class: DeviceClass,
        key: &str,
    ) -> Result<i64> {
        let by_name = store::devices::id_by_name(conn, key).await?;
        let found = match by_name {
            Some((id, c)) if c == class => Some(id),
            Some((_, c)) => {
                return Err(Error::NotFound(format!(
                    "{key} is a {}, not a {}",
                    what(c),
                    what(class)
                )));
            }
            None => match key.parse::<i64>() {
                Ok(id) => match store::devices::by_id(conn, id).await {
                    Ok(d) if d.row.class == class => Some(id),
                    _ => None,
                },
                Err(_) => None,
            },
        };
        found.ok_or_else(|| Error::NotFound(format!("there is no {} {key}", what(class))))
    }

    async fn create_device(
        &self,
        actor: &Actor,
        class: DeviceClass,
        spec: DeviceSpec,
    ) -> Result<StoredDevice> {
        let id = self.add_device(actor, class, spec).await?;
        let mut c = self.store.read().await?;
        Ok(store::devices::by_id(&mut c, id).await?)
    }

    /// Creates a device and answers its id (an import needs no more).
    pub(crate) async fn add_device(
        &self,
        actor: &Actor,
        class: DeviceClass,
        spec: DeviceSpec,
    ) -> Result<i64> {
        let target = spec
            .name
            .clone()
            .or(spec.mac.clone())
            .or(spec.owner_user_id.clone())
            .unwrap_or_else(|| spec.model.clone());
        let a = Audit {
            action: Action::Create,
            resource: Resource::of_class(class),
            target,
            system: spec.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let b = self.build(tx.conn(), class, &spec, None).await?;
            a.target = b.row.name.clone();
            let id = self.write_device(tx, None, &b).await?;
            self.check_units(tx.conn(), self.device_units(&b.row), "model")
                .await?;
            changed(tx, id, b.appearances.iter().map(|a| a.line_id));
            a.system = b.system.clone();
            Ok(id)
        })
        .await
    }

    async fn update_device<F>(
        &self,
        actor: &Actor,
        class: DeviceClass,
        key: &str,
        version: i64,
        system: Option<&str>,
        apply: F,
    ) -> Result<StoredDevice>
    where
        F: FnOnce(&mut DeviceSpec),
    {
        crate::need_version(version)?;
        let current = {
            let mut c = self.store.read().await?;
            let id = self.device_id(&mut c, class, key).await?;
            store::devices::by_id(&mut c, id).await?
        };
        let a = Audit {
            action: Action::Update,
            resource: Resource::of_class(class),
            target: current.row.name.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            if let Some(s) = system.map(str::trim).filter(|s| *s != current.system) {
                return Err(Error::invalid(
                    "system",
                    format!(
                        "a {} cannot move from {} to {s}: delete it and add it again on {s}",
                        what(class),
                        current.system
                    ),
                ));
            }
            let mut spec = spec_of(&current);
            apply(&mut spec);
            let b = self
                .build(tx.conn(), class, &spec, Some(current.id))
                .await?;
            match self.write_device(tx, Some((current.id, version)), &b).await {
                Err(store::Error::Stale) => {
                    let now = store::devices::by_id(tx.conn(), current.id).await?;
                    return Err(match class {
                        DeviceClass::Phone => crate::stale(&now.to_phone()),
                        DeviceClass::DeviceProfile => crate::stale(&now.to_profile()),
                    });
                }
                r => r?,
            };
            let added = self.device_units(&b.row) - self.device_units(&current.row);
            self.check_units(tx.conn(), added, "model").await?;
            let lines = current.appearances.iter().map(|(l, _)| *l);
            changed(
                tx,
                current.id,
                lines.chain(b.appearances.iter().map(|a| a.line_id)),
            );
            // A device profile's change reaches the phones running it (extension mobility).
            if class == DeviceClass::DeviceProfile {
                for p in store::extension_mobility::phones_running(tx.conn(), current.id).await? {
                    tx.changed(store::Change::Device(p));
                }
            }
            if b.row.name != current.row.name {
                store::parameters::device_renamed(
                    tx.conn(),
                    current.row.system_id,
                    &current.row.name,
                    Some(&b.row.name),
                )
                .await?;
            }
            Ok(store::devices::by_id(tx.conn(), current.id).await?)
        })
        .await
    }

    async fn delete_device(&self, actor: &Actor, class: DeviceClass, key: &str) -> Result<()> {
        let current = {
            let mut c = self.store.read().await?;
            let id = self.device_id(&mut c, class, key).await?;
            store::devices::by_id(&mut c, id).await?
        };
        let a = Audit {
            action: Action::Delete,
            resource: Resource::of_class(class),
            target: current.row.name.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            if !current.secondary_phones.is_empty() {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "{} is the primary phone of {}: delete or move its secondary soft phones first",
                        current.row.name,
                        current.secondary_phones.join(", ")
                    ),
                ));
            }
            let logins = store::extension_mobility::of_profile(tx.conn(), current.id).await?;
            if let Some(l) = logins.first() {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "{} is in use: {} is logged in on {} with it; log them out first",
                        current.row.name, l.login.user_id, l.login.phone
                    ),
                ));
            }
            if !current.logout_profile_of.is_empty() {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "{} is the logout profile of {}: give those phones another logout profile first",
                        current.row.name,
                        current.logout_profile_of.join(", ")
                    ),
                ));
            }
            changed(tx, current.id, current.appearances.iter().map(|(l, _)| *l));
            store::devices::delete(tx.conn(), current.id).await.map_err(|e| nf(e, || what(class).into()))?;
            store::parameters::device_renamed(tx.conn(), current.row.system_id, &current.row.name, None).await?;
            Ok(())
        })
        .await
    }

    // --- phones -----------------------------------------------------------------------------

    pub async fn find_phones(&self, f: &model::Find) -> Result<Page<Phone>> {
        let mut c = self.store.read().await?;
        let p = store::devices::find(&mut c, DeviceClass::Phone, f).await?;
        Ok(Page {
            items: p.items.iter().map(StoredDevice::to_phone).collect(),
            total: p.total,
            total_exact: p.total_exact,
            limit: p.limit,
            offset: p.offset,
        })
    }

    pub async fn phone(&self, key: &str) -> Result<Phone> {
        let mut c = self.store.read().await?;
        let id = self.device_id(&mut c, DeviceClass::Phone, key).await?;
        Ok(store::devices::by_id(&mut c, id).await?.to_phone())
    }

    pub async fn create_phone(&self, actor: &Actor, req: NewPhone) -> Result<Phone> {
        Ok(self
            .create_device(actor, DeviceClass::Phone, req.into())
            .await?
            .to_phone())
    }

    pub async fn update_phone(&self, actor: &Actor, key: &str, p: PhonePatch) -> Result<Phone> {
        let system = p.system.clone();
        let d = self
            .update_device(
                actor,
                DeviceClass::Phone,
                key,
                p.version,
                system.as_deref(),
                move |s| {
                    if let Some(v) = p.name {
                        s.name = Some(v);
                    }
                    if let Some(v) = p.mac {
                        s.mac = Some(v);
                    }
                    if let Some(v) = p.model {
                        s.model = v;
                    }
                    if let Some(v) = p.protocol {
                        s.protocol = Some(v);
                    }
                    if let Some(v) = p.description {
                        s.description = v;
                    }
                    if let Some(v) = p.device_pool {
                        s.device_pool = v;
                    }
                    if let Some(v) = p.button_template {
                        s.button_template = v;
                    }
                    if let Some(v) = p.softkey_template {
                        s.softkey_template = v;
                    }
                    if let Some(v) = p.calling_search_space {
                        s.calling_search_space = v;
                    }
                    if let Some(v) = p.location {
                        s.location = v;
                    }
                    if let Some(v) = p.sip_contact {
                        s.sip_contact = Some(v);
                    }
                    if let Some(v) = p.security_mode {
                        s.security_mode = Some(v);
                    }
                    if let Some(v) = p.security_profile {
                        s.security_profile = v;
                    }
                    if let Some(v) = p.allow_cti_control {
                        s.allow_cti_control = Some(v);
                    }
                    if let Some(v) = p.owner_user_id {
                        s.owner_user_id = Some(v);
                    }
                    if let Some(v) = p.dnd {
                        s.dnd = v;
                    }
                    if let Some(v) = p.expansion_modules {
                        s.expansion_modules = v;
                    }
                    if let Some(v) = p.logout_profile {
                        s.logout_profile = Some(v);
                    }
                    if let Some(v) = p.primary_phone {
                        s.primary_phone = Some(v);
                    }
                    if let Some(v) = p.lines {
                        s.lines = v;
                    }
                    if let Some(v) = p.services {
                        s.services = v;
                    }
                    if let Some(v) = p.speed_dials {
                        s.speed_dials = v;
                    }
                    if p.parameters.is_some_and(|v| !v.is_empty()) {
                        s.parameters_given = true;
                    }
                },
            )
            .await?;
        Ok(d.to_phone())
    }

    pub async fn delete_phone(&self, actor: &Actor, key: &str) -> Result<()> {
        self.delete_device(actor, DeviceClass::Phone, key).await
    }

    pub async fn delete_phones(&self, actor: &Actor, req: &BatchRequest) -> Result<BatchResult> {
        self.batch(
            actor,
            Action::BatchDelete,
            Resource::Phone,
            &req.targets,
            |t| async move { self.delete_phone(actor, &t).await },
        )
        .await
    }

    /// What a phone last fetched (recorded by the phone listeners).
    pub async fn phone_status(&self, key: &str) -> Result<model::DeviceStatus> {
        let mut c = self.store.read().await?;
        let id = self.device_id(&mut c, DeviceClass::Phone, key).await?;
        let row = store::status::of_device(&mut c, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no phone {key}")))?;
        Ok(status_of(row))
    }

    /// Phones by model and firmware (reported, fetched, or named by their last request; empty
    /// when none), most first: (model, firmware, phones).
    pub async fn phones_by_firmware(&self) -> Result<Vec<(String, String, i64)>> {
        let mut c = self.store.read().await?;
        Ok(store::status::by_model_and_firmware(&mut c).await?)
    }

    /// Phones' status, filtered by state (`never_seen`, `failing`, `not_resynced`) and name
    /// prefix.
    pub async fn device_statuses(
        &self,
        state: Option<&str>,
        q: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Page<model::DeviceStatus>> {
        use store::status::StateFilter;
        let filter = match state.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("all") => StateFilter::All,
            Some("never_seen") => StateFilter::NeverSeen,
            Some("failing") => StateFilter::Failing,
            Some("not_resynced") => StateFilter::NotResynced,
            Some(other) => {
                return Err(Error::invalid(
                    "state",
                    format!(
                        "`{other}` is not a state: use never_seen, failing, not_resynced or all"
                    ),
                ))
            }
        };
        let limit = limit.clamp(1, 1000);
        let offset = offset.max(0);
        let mut c = self.store.read().await?;
        let (rows, total) = store::status::list(&mut c, filter, q.trim(), limit, offset).await?;
        Ok(Page {
            items: rows.into_iter().map(status_of).collect(),
            total,
            total_exact: true,
            limit,
            offset,
        })
    }

    // --- device profiles --------------------------------------------------------------------

    pub async fn find_device_profiles(&self, f: &model::Find) -> Result<Page<DeviceProfile>> {
        let mut c = self.store.read().await?;
        let p = store::devices::find(&mut c, DeviceClass::DeviceProfile, f).await?;
        Ok(Page {
            items: p.items.iter().map(StoredDevice::to_profile).collect(),
            total: p.total,
            total_exact: p.total_exact,
            limit: p.limit,
            offset: p.offset,
        })
    }

    pub async fn device_profile(&self, key: &str) -> Result<DeviceProfile> {
        let mut c = self.store.read().await?;
        let id = self
            .device_id(&mut c, DeviceClass::DeviceProfile, key)
            .await?;
        Ok(store::devices::by_id(&mut c, id).await?.to_profile())
    }

    pub async fn create_device_profile(
        &self,
        actor: &Actor,
        req: NewDeviceProfile,
    ) -> Result<DeviceProfile> {
        Ok(self
            .create_device(actor, DeviceClass::DeviceProfile, req.into())
            .await?
            .to_profile())
    }

    pub async fn update_device_profile(
        &self,
        actor: &Actor,
        key: &str,
        p: DeviceProfilePatch,
    ) -> Result<DeviceProfile> {
        let system = p.system.clone();
        let d = self
            .update_device(
                actor,
                DeviceClass::DeviceProfile,
                key,
                p.version,
                system.as_deref(),
                move |s| {
                    if let Some(v) = p.name {
                        s.name = Some(v);
                    }
                    if let Some(v) = p.model {
                        s.model = v;
                    }
                    if let Some(v) = p.protocol {
                        s.protocol = Some(v);
                    }
                    if let Some(v) = p.description {
                        s.description = v;
                    }
                    if let Some(v) = p.button_template {
                        s.button_template = v;
                    }
                    if let Some(v) = p.softkey_template {
                        s.softkey_template = v;
                    }
                    if let Some(v) = p.mlpp_domain {
                        s.mlpp_domain = v;
                    }
                    if let Some(v) = p.mlpp_indication {
                        s.mlpp_indication = v;
                    }
                    if let Some(v) = p.mlpp_preemption {
                        s.mlpp_preemption = v;
                    }
                    if let Some(v) = p.expansion_modules {
                        s.expansion_modules = v;
                    }
                    if let Some(v) = p.lines {
                        s.lines = v;
                    }
                    if let Some(v) = p.services {
                        s.services = v;
                    }
                    if let Some(v) = p.speed_dials {
                        s.speed_dials = v;
                    }
                },
            )
            .await?;
        Ok(d.to_profile())
    }

    pub async fn delete_device_profile(&self, actor: &Actor, key: &str) -> Result<()> {
        self.delete_device(actor, DeviceClass::DeviceProfile, key)
            .await
    }

    pub async fn delete_device_profiles(
        &self,
        actor: &Actor,
        req: &BatchRequest,
    ) -> Result<BatchResult> {
        self.batch(
            actor,
            Action::BatchDelete,
            Resource::DeviceProfile,
            &req.targets,
            |t| async move { self.delete_device_profile(actor, &t).await },
        )
        .await
    }
}

/// The firmware an MPP User-Agent names: `Cisco-CP-8861-3PCC/11.3.1 (…)` gives `11.3.1`.
pub(crate) fn firmware_of(user_agent: &str) -> Option<String> {
    let rest = user_agent.strip_prefix("Cisco-")?;
    let v = rest.split_once('/')?.1.split_whitespace().next()?;
    (!v.is_empty()).then(|| v.to_string())
}

/// A stored status row as the API shows it, with its state worked out as the store's filters
/// do.
fn status_of(row: store::status::StatusRow) -> model::DeviceStatus {
    let r = row.resync.unwrap_or_default();
    let s = row.seen;
    let after = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        _ => false,
    };
    let last_seen = s.as_ref().map(|s| s.at.clone());
    let state = if s.is_none() {
        "never_seen"
    } else if after(&r.failed_at, &r.succeeded_at)
        || (!r.notify_outcome.is_empty() && !r.notify_outcome.starts_with("accepted"))
    {
        "failing"
    } else if after(&r.file_changed_at, &r.succeeded_at) && after(&r.file_changed_at, &last_seen) {
        "not_resynced"
    } else {
        "ok"
    };
    let firmware = Some(r.firmware.clone())
        .filter(|f| !f.is_empty())
        .or_else(|| {
            s.as_ref()
                .map(|s| s.firmware.clone())
                .filter(|f| !f.is_empty())
        })
        .or_else(|| s.as_ref().and_then(|s| firmware_of(&s.user_agent)));
    model::DeviceStatus {
        device: row.name,
        state: state.into(),
        seen: s.is_some(),
        last_seen,
        ip: s.as_ref().map(|s| s.ip.clone()),
        user_agent: s
            .as_ref()
            .map(|s| s.user_agent.clone())
            .filter(|u| !u.is_empty()),
        file: s.as_ref().map(|s| s.file.clone()),
        protocol: s.as_ref().map(|s| s.protocol.clone()),
        requests: s.as_ref().map(|s| s.requests).unwrap_or(0),
        firmware,
        resync_requested_at: r.requested_at,
        resync_succeeded_at: r.succeeded_at,
        resync_failed_at: r.failed_at.clone(),
        resync_error: r.failed_at.and(Some(r.error)).filter(|e| !e.is_empty()),
        notified_at: r.notified_at,
        notify_outcome: Some(r.notify_outcome).filter(|o| !o.is_empty()),
        file_changed_at: r.file_changed_at,
        logged_in: row.logged_in,
    }
}

/// Checks a phone's explicit SIP contact: `host` or `host:port` (an IPv6 address in brackets).
fn sip_contact(class: DeviceClass, c: Option<&str>) -> Result<Option<String>> {
    let Some(c) = c.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if class == DeviceClass::DeviceProfile {
        return Err(Error::invalid(
            "sip_contact",
            "a device profile has no SIP contact: set it on the phone",
        ));
    }
    let bad = || {
        Error::invalid(
            "sip_contact",
            format!("`{c}` is not `host` or `host:port` (an IPv6 address in brackets: `[2001:db8::1]:5060`)"),
        )
    };
    let (host, port) = match c.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && (c.starts_with('[') == h.ends_with(']')) => {
            (h, Some(p))
        }
        _ => (c, None),
    };
    if let Some(p) = port {
        if !p.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(bad());
        }
    }
    let host_ok = host.len() <= 253
        && !host.is_empty()
        && host
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '[' | ']' | ':'));
    if !host_ok {
        return Err(bad());
    }
    Ok(Some(c.to_string()))
}

/// Notes a write of device `id` with these lines (before and after): its files change, and so
/// may those of every device sharing one of the lines (a line's settings, whether it is shared).
pub(crate) fn changed(tx: &mut store::WriteTx, id: i64, lines: impl Iterator<Item = i64>) {
    tx.changed(store::Change::Device(id));
    for l in lines {
        tx.changed(store::Change::Line(l));
    }
}
