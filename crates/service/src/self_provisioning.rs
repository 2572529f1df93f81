//! Auto-registration and the self-provisioning claim (docs/self-provisioning.md).
//!
//! - [`Service::auto_register`]: an unknown phone that asks for its file becomes a device
//!   record of the system with auto-registration on, with the next free number of the range on
//!   line 1, its settings from the auto-registration universal device and line templates, and
//!   no user.
//! - [`Service::claim`]: a user makes an auto-registered phone theirs. One state machine, the
//!   same for every front end (REST API, IVR, the phone's XML service, the self-care page):
//!   checks in a fixed order, each refusal with its own reason; then, in one transaction, the
//!   phone takes its settings from the user profile's templates and the user's primary
//!   extension as line 1, and the auto-registered number is free again.

use crate::devices::DeviceSpec;
use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::rules::DeviceClass;
use model::self_provisioning::{expand, PatternValues};
use model::{
    AppearanceInput, AutoRegistrationStatus, ClaimRefusal, Claimed, DeviceTemplateSettings,
    LineTemplateSettings, Mac, Secret, SelfProvisioningAuth, System, SystemKind,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use store::universal_templates::TemplateKind;

/// Wrong secrets that lock a user or a phone out of claiming.
pub const CLAIM_ATTEMPTS: u32 = 3;
/// Wrong secrets older than this are forgotten.
pub const CLAIM_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a lock-out lasts, from the last wrong secret.
pub const CLAIM_LOCKOUT: Duration = Duration::from_secs(5 * 60);

/// What became of an unknown phone that asked for its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoRegistration {
    /// It is in the directory now (or was already, registered by a request beside this one).
    Registered {
        device_id: i64,
        name: String,
        number: String,
    },
    /// It gets no record of its own, and why (for the log and the status).
    Refused {
        reason: AutoRefusal,
        message: String,
    },
}

/// Why an unknown phone got no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRefusal {
    /// Auto-registration is off, or on without a range (phones get `XMLDefault.cnf.xml` only).
    Off,
    /// The request did not say the phone's model, and the system names none.
    ModelUnknown,
    /// Every number of the range is taken.
    Exhausted,
    /// The templates or the model make no valid phone (an administrator must fix them).
    Invalid,
}

/// A claim: a phone, a user, and the secret the system's mode asks for.
#[derive(Clone, Default)]
pub struct Claim {
    /// The phone: its name, its MAC, or the auto-registered number it shows.
    pub phone: String,
    /// The user: their user ID or self-provisioning ID.
    pub user: String,
    /// Their PIN or password (or the administrators' authentication code, when the mode takes
    /// it).
    pub secret: Option<Secret>,
    /// Who asks, for the audit log: `api`, `ivr`, `phone`, `self-care`.
    pub via: &'static str,
    /// The system the phone must be on, when the front end knows (the IVR's, the self-care
    /// user's).
    pub system: Option<String>,
    /// The front end has authenticated the user already (the self-care page's log-in with their
    /// password): no secret is asked again.
    pub authenticated: bool,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("phone", &self.phone)
            .field("user", &self.user)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("via", &self.via)
            .field("authenticated", &self.authenticated)
            .finish()
    }
}

/// A claim refused, with the reason and the words for a person.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ClaimError {
    pub reason: ClaimRefusal,
    pub message: String,
}

impl ClaimError {
    fn new(reason: ClaimRefusal, message: impl Into<String>) -> ClaimError {
        ClaimError {
            reason,
            message: message.into(),
        }
    }
}

impl From<Error> for ClaimError {
    fn from(e: Error) -> ClaimError {
        ClaimError::new(ClaimRefusal::Failed, e.to_string())
    }
}

impl From<store::Error> for ClaimError {
    fn from(e: store::Error) -> ClaimError {
        Error::from(e).into()
    }
}

/// Wrong secrets, per user and per phone (this node's; a lock-out is for a while, not for
/// ever, so a node that restarts forgets it).
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    wrong: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Attempts {
    /// When `key` is locked out: how long it still is.
    fn locked(&self, key: &str, now: Instant) -> Option<Duration> {
        self.locked_after(key, now, CLAIM_ATTEMPTS)
    }

    /// When `key` had `attempts` wrong secrets lately: how long it is still locked out.
    pub(crate) fn locked_after(&self, key: &str, now: Instant, attempts: u32) -> Option<Duration> {
        let mut m = self.wrong.lock().expect("attempts lock");
        let v = m.get_mut(key)?;
        v.retain(|t| now.duration_since(*t) < CLAIM_WINDOW);
        if (v.len() as u32) < attempts {
            return None;
        }
        let last = *v.last()?;
        CLAIM_LOCKOUT
            .checked_sub(now.duration_since(last))
            .filter(|d| !d.is_zero())
    }

    pub(crate) fn wrong(&self, keys: &[&str], now: Instant) {
        let mut m = self.wrong.lock().expect("attempts lock");
        if m.len() > 100_000 {
            m.retain(|_, v| {
                v.last()
                    .is_some_and(|t| now.duration_since(*t) < CLAIM_WINDOW)
            });
        }
        for k in keys {
            m.entry(k.to_string()).or_default().push(now);
        }
    }

    pub(crate) fn forget(&self, keys: &[&str]) {
        let mut m = self.wrong.lock().expect("attempts lock");
        for k in keys {
            m.remove(*k);
        }
    }
}

pub(crate) fn minutes(d: Duration) -> String {
    let m = d.as_secs().div_ceil(60).max(1);
    if m == 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    }
}

/// The device and line a template pair makes of a phone, for a user or for none.
struct Templated<'a> {
    device: &'a DeviceTemplateSettings,
    line: &'a LineTemplateSettings,
    values: PatternValues<'a>,
}

impl Templated<'_> {
    /// Applies the device template to `spec`: the description is the template's pattern
    /// filled in, or `description` when given.
    fn device(&self, spec: &mut DeviceSpec, description: Option<String>) {
        let d = self.device;
        spec.description =
            description.unwrap_or_else(|| expand(&d.device_description, &self.values, 128));
        spec.device_pool = d.device_pool.clone();
        spec.button_template = d.button_template.clone();
        spec.softkey_template = d.softkey_template.clone();
        spec.calling_search_space = d.calling_search_space.clone();
        spec.location = d.location.clone();
        spec.dnd = d.dnd;
        spec.expansion_modules = d.expansion_modules.clone();
        spec.speed_dials = d.speed_dials.clone();
        spec.services = d.services.clone();
        spec.parameters = d.parameters.clone();
    }

    /// Line 1: `pattern` in `partition` through the line template; the line's own settings too
    /// when `line_settings` (a line no other device shows).
    fn line(&self, pattern: &str, partition: &str, line_settings: bool) -> AppearanceInput {
        let l = self.line;
        let v = &self.values;
        let mut a = AppearanceInput {
            pattern: pattern.into(),
            partition: partition.into(),
            button: Some(1),
            label: expand(&l.label, v, 30),
            display: expand(&l.display, v, 30),
            external_mask: l.external_mask.clone(),
            ..Default::default()
        };
        if line_settings {
            a.line_description = Some(expand(&l.line_description, v, 50));
            a.alerting_name = Some(expand(&l.alerting_name, v, 30));
            a.forward_all = Some(l.forward_all.clone());
            a.forward_busy_internal = Some(l.forward_busy_internal.clone());
            a.forward_busy_external = Some(l.forward_busy_external.clone());
            a.forward_no_answer_internal = Some(l.forward_no_answer_internal.clone());
            a.forward_no_answer_external = Some(l.forward_no_answer_external.clone());
            a.pickup_group = Some(l.pickup_group.clone());
            a.voicemail_profile = Some(l.voicemail_profile.clone());
            a.max_calls = Some(l.max_calls);
            a.busy_trigger = Some(l.busy_trigger);
        }
        a
    }
}

/// The settings of a template of a system by name (an empty name: the defaults).
async fn template<T: serde::de::DeserializeOwned + Default>(
    conn: &mut store::Conn,
    kind: TemplateKind,
    system_id: i64,
    name: &str,
) -> Result<T> {
    if name.is_empty() {
        return Ok(T::default());
    }
    let id = store::universal_templates::id_on(conn, kind, system_id, name)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "there is no universal {} template {name}",
                match kind {
                    TemplateKind::Device => "device",
                    TemplateKind::Line => "line",
                }
            ))
        })?;
    let row = store::universal_templates::by_id(conn, kind, id).await?;
    Ok(serde_json::from_str(&row.settings_json).unwrap_or_default())
}

/// What the numbers of an auto-registration range look like, and which is free.
struct Range {
    first: u64,
    last: u64,
    width: usize,
}

impl Range {
    fn text(&self, n: u64) -> String {
        format!("{n:0w$}", w = self.width)
    }

    /// The lowest number not in `taken` (sorted), if any.
    fn first_free(&self, taken: &[String]) -> Option<String> {
        let mut n = self.first;
        for t in taken {
            match t.parse::<u64>() {
                Ok(v) if v == n => n += 1,
                Ok(v) if v > n => break,
                _ => {}
            }
        }
        (n <= self.last).then(|| self.text(n))
    }
}

impl Service {
    /// The call-control system unknown phones register on: the first with auto-registration on.
    pub async fn auto_registration_system(&self) -> Result<Option<System>> {
        Ok(self
            .systems()
            .await?
            .into_iter()
            .find(|s| s.kind == SystemKind::CallControl && s.settings.auto_registration_on()))
    }

    /// Gives the unknown phone `mac` a record of its own (see the module's notes). `model` is
    /// what its request said, if anything.
    pub async fn auto_register(&self, mac: &Mac, model: Option<&str>) -> Result<AutoRegistration> {
        let refused = |reason, message: String| Ok(AutoRegistration::Refused { reason, message });
        let Some(sys) = self.auto_registration_system().await? else {
            return refused(AutoRefusal::Off, "auto-registration is off".into());
        };
        let Some((first, last, width)) = sys.settings.auto_registration_numbers() else {
            return refused(
                AutoRefusal::Off,
                format!("auto-registration on {} has no range of numbers: unknown phones get XMLDefault.cnf.xml only", sys.name),
            );
        };
        let range = Range { first, last, width };
        let fallback = sys.settings.auto_registration_model.trim();
        let Some(model) = model.or((!fallback.is_empty()).then_some(fallback)) else {
            return refused(
                AutoRefusal::ModelUnknown,
                format!(
                    "the request does not say the phone's model (TFTP carries no User-Agent): set auto_registration_model on {} or let the phone ask over HTTP",
                    sys.name
                ),
            );
        };
        let actor = Actor::new("auto-registration");
        let name = model::DeviceName::from_mac(mac).into_string();
        let a = Audit {
            action: Action::Create,
            resource: Resource::Phone,
            target: name.clone(),
            system: sys.name.clone(),
        };
        let mut tx = self.store.write().await?;
        let picked: Result<Option<(i64, String)>> = async {
            store::systems::lock(tx.conn(), sys.id).await?;
            if let Some((id, _)) = store::devices::by_mac(tx.conn(), mac.as_str()).await? {
                // Another request of the same phone registered it meanwhile.
                return Ok(Some((id, String::new())));
            }
            let device: DeviceTemplateSettings = template(
                tx.conn(),
                TemplateKind::Device,
                sys.id,
                &sys.settings.auto_registration_device_template,
            )
            .await?;
            let line: LineTemplateSettings = template(
                tx.conn(),
                TemplateKind::Line,
                sys.id,
                &sys.settings.auto_registration_line_template,
            )
            .await?;
            let taken = store::lines::taken_between(
                tx.conn(),
                sys.id,
                &line.partition,
                &range.text(range.first),
                &range.text(range.last),
            )
            .await?;
            let Some(number) = range.first_free(&taken) else {
                return Ok(None);
            };
            let t = self.catalog.get(model).ok_or_else(|| {
                Error::invalid(
                    "model",
                    format!("`{model}` is not a model of the catalogue"),
                )
            })?;
            // SIP where the model has it: the protocol Dialtone's resync NOTIFY and IVR speak.
            let protocol = if t.protocols.iter().any(|p| p == "SIP") {
                "SIP"
            } else {
                t.protocols.first().map(String::as_str).unwrap_or("SIP")
            };
            let values = PatternValues {
                extension: &number,
                product: &t.model,
                protocol,
                device_name: &name,
                ..Default::default()
            };
            let tm = Templated {
                device: &device,
                line: &line,
                values,
            };
            let mut spec = DeviceSpec {
                mac: Some(mac.as_str().to_string()),
                model: t.model.clone(),
                protocol: Some(protocol.to_string()),
                system: Some(sys.name.clone()),
                auto_registered: true,
                ..Default::default()
            };
            // No user yet: described as CUCM describes its auto-registered phones.
            tm.device(&mut spec, Some(format!("Auto {number}")));
            spec.lines = vec![tm.line(&number, &line.partition, true)];
            let b = self
                .build(tx.conn(), DeviceClass::Phone, &spec, None)
                .await?;
            let id = self.write_device(&mut tx, None, &b).await?;
            self.check_units(tx.conn(), self.device_units(&b.row), "model")
                .await?;
            crate::devices::changed(&mut tx, id, b.appearances.iter().map(|a| a.line_id));
            Ok(Some((id, number)))
        }
        .await;
        match picked {
            Ok(None) => {
                drop(tx);
                refused(
                    AutoRefusal::Exhausted,
                    format!(
                        "the auto-registration range {} to {} on {} is exhausted: every number is taken",
                        range.text(range.first),
                        range.text(range.last),
                        sys.name
                    ),
                )
            }
            Ok(Some((id, number))) if number.is_empty() => {
                drop(tx);
                Ok(AutoRegistration::Registered {
                    device_id: id,
                    name,
                    number,
                })
            }
            Ok(Some((id, number))) => {
                self.finish(&actor, tx, a, Ok(())).await?;
                tracing::info!(phone = %name, %number, model, system = %sys.name, "auto-registered");
                Ok(AutoRegistration::Registered {
                    device_id: id,
                    name,
                    number,
                })
            }
            // Refused by a rule, or for want of licence units (a conflict on the model).
            Err(e)
                if matches!(e, Error::Invalid(_) | Error::NotFound(_))
                    || (matches!(e, Error::Conflict { .. }) && e.field() == Some("model")) =>
            {
                let message = format!("auto-registration on {} cannot make {name}: {e}", sys.name);
                self.finish::<()>(&actor, tx, a, Err(e)).await.ok();
                refused(AutoRefusal::Invalid, message)
            }
            Err(e) => {
                drop(tx);
                // The same phone registered by a request beside this one (a unique name).
                if let Some(id) = self.device_with_mac(mac).await? {
                    return Ok(AutoRegistration::Registered {
                        device_id: id,
                        name,
                        number: String::new(),
                    });
                }
                Err(e)
            }
        }
    }

    /// Where auto-registration stands on a system (the only call-control one when not named).
    pub async fn auto_registration_status(
        &self,
        system: Option<&str>,
    ) -> Result<AutoRegistrationStatus> {
        let mut c = self.store.read().await?;
        let sys = self
            .pick_system(&mut c, system, SystemKind::CallControl)
            .await?;
        let phones = store::devices::count_auto_registered(&mut c, sys.id).await?;
        let mut st = AutoRegistrationStatus {
            system: sys.name.clone(),
            on: sys.settings.auto_registration_on(),
            start_dn: None,
            end_dn: None,
            numbers: 0,
            numbers_taken: 0,
            numbers_free: 0,
            phones,
            registered_here: 0,
            refused_here: 0,
        };
        if let Some((first, last, width)) = sys.settings.auto_registration_numbers() {
            let r = Range { first, last, width };
            let line: LineTemplateSettings = template(
                &mut c,
                TemplateKind::Line,
                sys.id,
                &sys.settings.auto_registration_line_template,
            )
            .await
            .unwrap_or_default();
            let taken = store::lines::taken_between(
                &mut c,
                sys.id,
                &line.partition,
                &r.text(first),
                &r.text(last),
            )
            .await?;
            st.start_dn = Some(r.text(first));
            st.end_dn = Some(r.text(last));
            st.numbers = last - first + 1;
            st.numbers_taken = taken.len() as u64;
            st.numbers_free = st.numbers - st.numbers_taken;
        }
        Ok(st)
    }

    /// Runs a claim (see the module's notes). A refusal is audited, with its reason.
    pub async fn claim(&self, actor: &Actor, c: &Claim) -> Result<Claimed, ClaimError> {
        let started = Instant::now();
        let r = self.try_claim(actor, c, started).await;
        if let Err(e) = &r {
            if e.reason != ClaimRefusal::Failed {
                let a = Audit {
                    action: Action::Claim,
                    resource: Resource::Phone,
                    target: c.phone.trim().to_string(),
                    system: c.system.clone().unwrap_or_default(),
                };
                let who = format!("{} via {}", actor.name, c.via);
                self.audit_failure(
                    &Actor::new(who),
                    &a,
                    &Error::invalid("claim", e.message.clone()),
                )
                .await;
            }
        }
        r
    }

    /// The phone a claim names (its name, MAC, or the auto-registered number it shows, on
    /// `system` when given), and its system.
    async fn claim_phone(
        &self,
        phone_key: &str,
        system: Option<&str>,
    ) -> Result<(store::devices::StoredDevice, System), ClaimError> {
        use ClaimRefusal as R;
        let refuse = |r, m: String| Err(ClaimError::new(r, m));

        let mut conn = self.store.read().await?;
        let systems = self.systems_in(&mut conn).await?;
        let mut found = None;
        if let Some((id, _)) = store::devices::id_by_name(&mut conn, phone_key).await? {
            found = Some(id);
        } else if let Ok(m) = Mac::parse(phone_key) {
            found = store::devices::by_mac(&mut conn, m.as_str())
                .await?
                .map(|(id, _)| id);
        }
        if found.is_none()
            && !phone_key.is_empty()
            && phone_key.chars().all(|ch| ch.is_ascii_digit())
        {
            for s in systems
                .iter()
                .filter(|s| system.is_none_or(|n| n == s.name))
            {
                let ids =
                    store::devices::auto_registered_with_number(&mut conn, s.id, phone_key).await?;
                if let Some(id) = ids.first() {
                    found = Some(*id);
                    break;
                }
            }
        }
        let Some(id) = found else {
            return refuse(
                R::NoPhone,
                format!("no phone has the name, MAC or auto-registered number `{phone_key}`"),
            );
        };
        let d = store::devices::by_id(&mut conn, id).await?;
        if d.row.class != DeviceClass::Phone {
            return refuse(
                R::NoPhone,
                format!("{} is a device profile, not a phone", d.row.name),
            );
        }
        let sys = systems
            .into_iter()
            .find(|s| s.id == d.row.system_id)
            .ok_or_else(|| ClaimError::new(R::Failed, "the phone's system is gone"))?;
        if let Some(want) = system.filter(|w| *w != sys.name) {
            return refuse(
                R::NoPhone,
                format!("{} is a phone of {}, not of {want}", d.row.name, sys.name),
            );
        }
        Ok((d, sys))
    }

    /// Whether a claim could take this phone (it exists and is auto-registered): its name.
    /// The IVR asks before it asks the caller anything.
    pub async fn claimable_phone(
        &self,
        phone_key: &str,
        system: Option<&str>,
    ) -> Result<String, ClaimError> {
        let (d, _) = self.claim_phone(phone_key.trim(), system).await?;
        if !d.row.auto_registered {
            return Err(ClaimError::new(
                ClaimRefusal::NotClaimable,
                format!("{} is not an auto-registered phone", d.row.name),
            ));
        }
        Ok(d.row.name)
    }

    async fn try_claim(
        &self,
        actor: &Actor,
        c: &Claim,
        now: Instant,
    ) -> Result<Claimed, ClaimError> {
        use ClaimRefusal as R;
        let refuse = |r, m: String| Err(ClaimError::new(r, m));
        let phone_key = c.phone.trim();
        let user_key = c.user.trim();
        let (phone, sys) = self.claim_phone(phone_key, c.system.as_deref()).await?;
        let phone_name = phone.row.name.clone();
        let phone_lock = format!("phone:{}", phone.id);
        if let Some(left) = self.attempts.locked(&phone_lock, now) {
            return refuse(
                R::LockedOut,
                format!(
                    "too many wrong secrets from {phone_name}: claiming from it is locked for {}",
                    minutes(left)
                ),
            );
        }
        if !phone.row.auto_registered {
            return refuse(R::NotClaimable, match &phone.owner_user_id {
                Some(u) => format!("{phone_name} is {u}'s phone already"),
                None => format!("{phone_name} was not auto-registered: an administrator added it, and assigns it"),
            });
        }
        // The user: by user ID, else by self-provisioning ID.
        let user = {
            let mut conn = self.store.read().await?;
            let mut ids: Vec<i64> = store::users::id_on_system(&mut conn, sys.id, user_key)
                .await?
                .into_iter()
                .collect();
            if ids.is_empty()
                && !user_key.is_empty()
                && user_key.chars().all(|ch| ch.is_ascii_digit())
            {
                ids = store::users::by_self_service_id(&mut conn, sys.id, user_key).await?;
            }
            match ids.as_slice() {
                [] => return refuse(R::NoUser, format!("no user of {} has the user ID or self-provisioning ID `{user_key}`", sys.name)),
                [id] => store::users::by_id(&mut conn, *id).await?,
                _ => return refuse(R::NoUser, format!(
                    "several users of {} share the self-provisioning ID {user_key} (the digits of their primary extension): an administrator must give each their own",
                    sys.name
                )),
            }
        };
        let uid = user.user.user_id.clone();
        let user_lock = format!("user:{}", user.user.id);
        if let Some(left) = self.attempts.locked(&user_lock, now) {
            return refuse(
                R::LockedOut,
                format!(
                    "too many wrong secrets for {uid}: claiming is locked for {}",
                    minutes(left)
                ),
            );
        }
        if let Some(since) = &user.user.ldap_inactive_since {
            return refuse(
                R::NotAllowed,
                format!("{uid} left the corporate directory ({since}): inactive users cannot claim phones"),
            );
        }
        let Some(extension) = user.user.primary_extension.clone() else {
            return refuse(
                R::NoPrimaryExtension,
                format!("{uid} has no primary extension: an administrator must give them one"),
            );
        };
        let partition = user.user.primary_extension_partition.clone();
        let Some(profile_name) = user.row.user_profile.clone() else {
            return refuse(R::NoUserProfile, format!("{uid} has no user profile: an administrator must give them one that allows self-provisioning"));
        };
        let profile = {
            let mut conn = self.store.read().await?;
            store::user_profiles::on_system(&mut conn, sys.id, &profile_name).await?
        };
        let Some(profile) = profile else {
            return refuse(
                R::NoUserProfile,
                format!("{uid}'s user profile {profile_name} is gone"),
            );
        };
        if !profile.allow_self_provisioning {
            return refuse(
                R::NotAllowed,
                format!(
                    "{uid}'s user profile {} does not allow self-provisioning",
                    profile.name
                ),
            );
        }
        let owned = {
            let mut conn = self.store.read().await?;
            store::devices::owned_by(&mut conn, user.user.id)
                .await?
                .len() as i64
        };
        if owned >= profile.phone_limit {
            return refuse(
                R::PhoneLimit,
                format!(
                    "{uid} has {owned} phone{} and the limit of user profile {} is {}",
                    if owned == 1 { "" } else { "s" },
                    profile.name,
                    profile.phone_limit
                ),
            );
        }
        // The secret the mode asks for.
        let mode = sys.settings.self_provisioning.authentication;
        if mode != SelfProvisioningAuth::None && !c.authenticated {
            let secret = c
                .secret
                .as_ref()
                .map(|s| s.expose().to_string())
                .unwrap_or_default();
            let mut hashes: Vec<String> =
                [user.row.pin_hash.clone(), user.row.password_hash.clone()]
                    .into_iter()
                    .flatten()
                    .collect();
            if mode == SelfProvisioningAuth::EndUserOrAdminCode {
                let mut conn = self.store.read().await?;
                let key = crate::systems::authentication_code_setting(sys.id);
                hashes.extend(store::admins::setting(&mut conn, &key).await?);
            }
            let ok = !secret.is_empty() && self.secret_matches_any(secret, hashes).await;
            if !ok {
                self.attempts.wrong(&[&phone_lock, &user_lock], now);
                let what = match mode {
                    SelfProvisioningAuth::EndUserOrAdminCode => {
                        "PIN, password or authentication code"
                    }
                    _ => "PIN or password",
                };
                return match self.attempts.locked(&user_lock, now) {
                    Some(left) => refuse(
                        R::LockedOut,
                        format!(
                        "wrong {what} for {uid}, {CLAIM_ATTEMPTS} times: claiming is locked for {}",
                        minutes(left)
                    ),
                    ),
                    None => refuse(R::WrongSecret, format!("wrong {what} for {uid}")),
                };
            }
        }
        self.attempts.forget(&[&phone_lock, &user_lock]);

        // One transaction: the phone becomes the user's.
        let freed = phone.appearances.first().map(|(_, a)| a.pattern.clone());
        let a = Audit {
            action: Action::Claim,
            resource: Resource::Phone,
            target: phone_name.clone(),
            system: sys.name.clone(),
        };
        let who = Actor {
            name: format!("{} via {} for {uid}", actor.name, c.via),
            ..actor.clone()
        };
        let device_id = phone.id;
        let claimed = self
            .change(&who, a, async |tx| {
                store::users::lock(tx.conn(), user.user.id).await?;
                let now_phone = store::devices::by_id(tx.conn(), device_id).await?;
                if now_phone.version != phone.version || !now_phone.row.auto_registered {
                    return Err(Error::conflict(
                        "phone",
                        format!("{phone_name} changed while it was being claimed: try again"),
                    ));
                }
                let owned = store::devices::owned_by(tx.conn(), user.user.id)
                    .await?
                    .len() as i64;
                if owned >= profile.phone_limit {
                    return Err(Error::conflict(
                        "user",
                        format!(
                            "{uid} reached the limit of user profile {} ({}) meanwhile",
                            profile.name, profile.phone_limit
                        ),
                    ));
                }
                let device: DeviceTemplateSettings = match profile.device_template.as_deref() {
                    Some(n) => template(tx.conn(), TemplateKind::Device, sys.id, n).await?,
                    None => {
                        template(
                            tx.conn(),
                            TemplateKind::Device,
                            sys.id,
                            &sys.settings.auto_registration_device_template,
                        )
                        .await?
                    }
                };
                let line: LineTemplateSettings = match profile.line_template.as_deref() {
                    Some(n) => template(tx.conn(), TemplateKind::Line, sys.id, n).await?,
                    None => {
                        template(
                            tx.conn(),
                            TemplateKind::Line,
                            sys.id,
                            &sys.settings.auto_registration_line_template,
                        )
                        .await?
                    }
                };
                let line_id =
                    store::lines::id_by_key(tx.conn(), sys.id, &extension, &partition).await?;
                let shown_elsewhere = match line_id {
                    Some(l) => !store::devices::ids_on_lines(tx.conn(), &[l])
                        .await?
                        .is_empty(),
                    None => false,
                };
                let u = &user.user;
                let values = PatternValues {
                    first_name: &u.first_name,
                    last_name: &u.last_name,
                    display_name: &u.display_name,
                    user_id: &u.user_id,
                    department: &u.department,
                    mail: &u.mail,
                    extension: &extension,
                    product: &now_phone.row.model,
                    protocol: &now_phone.row.protocol,
                    device_name: &now_phone.row.name,
                };
                let tm = Templated {
                    device: &device,
                    line: &line,
                    values,
                };
                let mut spec = crate::devices::spec_of(&now_phone);
                tm.device(&mut spec, None);
                spec.lines = vec![tm.line(&extension, &partition, !shown_elsewhere)];
                spec.owner_user_id = Some(u.user_id.clone());
                spec.auto_registered = false;
                let b = self
                    .build(tx.conn(), DeviceClass::Phone, &spec, Some(device_id))
                    .await?;
                self.write_device(tx, Some((device_id, now_phone.version)), &b)
                    .await?;
                let mut users: Vec<i64> = store::devices::user_ids(tx.conn(), device_id).await?;
                if !users.contains(&u.id) {
                    users.push(u.id);
                }
                store::devices::set_users(tx.conn(), device_id, &users).await?;
                let old_lines = now_phone.appearances.iter().map(|(l, _)| *l);
                crate::devices::changed(
                    tx,
                    device_id,
                    old_lines.chain(b.appearances.iter().map(|a| a.line_id)),
                );
                Ok(owned + 1)
            })
            .await;
        let phones = match claimed {
            Ok(n) => n,
            Err(e @ Error::Conflict { .. }) => return refuse(R::PhoneLimit, e.to_string()),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(phone = %phone_name, user = %uid, via = c.via, "phone claimed");
        Ok(Claimed {
            phone: phone_name,
            device_id,
            user_id: uid,
            extension,
            freed_number: freed,
            phones,
            phone_limit: profile.phone_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_free_number() {
        let r = Range {
            first: 1000,
            last: 1003,
            width: 4,
        };
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(r.first_free(&[]).as_deref(), Some("1000"));
        assert_eq!(
            r.first_free(&t(&["1000", "1001", "1003"])).as_deref(),
            Some("1002")
        );
        assert_eq!(r.first_free(&t(&["1001"])).as_deref(), Some("1000"));
        assert_eq!(r.first_free(&t(&["1000", "1001", "1002", "1003"])), None);
        let r = Range {
            first: 5,
            last: 9,
            width: 3,
        };
        assert_eq!(r.first_free(&t(&["005"])).as_deref(), Some("006"));
    }

    #[test]
    fn lockouts_count_wrong_secrets_per_key() {
        let a = Attempts::default();
        let t0 = Instant::now();
        a.wrong(&["user:1", "phone:9"], t0);
        a.wrong(&["user:1", "phone:8"], t0);
        assert_eq!(a.locked("user:1", t0), None);
        a.wrong(&["user:1", "phone:7"], t0);
        assert!(a.locked("user:1", t0).is_some());
        assert_eq!(a.locked("phone:9", t0), None);
        assert_eq!(a.locked("user:1", t0 + CLAIM_LOCKOUT), None);
        a.forget(&["user:1"]);
        assert_eq!(a.locked("user:1", t0), None);
    }
}
