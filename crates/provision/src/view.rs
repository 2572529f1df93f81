//! From a phone as the directory holds it ([`service::PhoneConfig`]) to what its renderer sees
//! ([`render::DeviceView`]) and who may have its files.

use crate::{Access, Sealing};
use model::{Catalog, DeviceFamily, PhoneAuth, ProfileEncryption, SipTransport};
use render::{DeviceView, LineView, Server, SpeedDialView, Transport};
use service::{DeviceCredential, PhoneConfig};
use std::sync::Arc;

pub(crate) fn servers(s: &model::SystemSettings) -> Vec<Server> {
    s.servers
        .iter()
        .map(|x| Server {
            host: x.host.clone(),
            sip_port: x.sip_port,
            secure_sip_port: x.secure_sip_port,
            sccp_port: x.sccp_port,
        })
        .collect()
}

/// What the renderer needs to know of a phone reached through `base_url`, and who may have its
/// files.
pub(crate) fn view(p: &PhoneConfig, base_url: &str, phone_http: &str) -> (DeviceView, Access) {
    let t = Catalog::builtin().get(&p.model);
    let kind = t.map(|t| t.family).unwrap_or(DeviceFamily::Enterprise);
    let mpp = kind == DeviceFamily::Mpp;
    let other_vendor = kind.is_other_vendor();
    // Only MPP phones (profile rules with `--uid`/`--pwd`) and other vendors' phones (their
    // provisioning server's user name and password) send HTTP credentials; the files of
    // enterprise phones and soft clients stay open (see docs/phones.md).
    let authenticates = render::family::family_of_kind(kind).is_some_and(|f| f.sends_credentials());
    let credential = if authenticates {
        p.http_credential.as_ref()
    } else {
        None
    };
    let mut parameters: Vec<(String, String)> = Vec::new();
    if mpp || other_vendor {
        for (key, (value, origin)) in &p.parameters.values {
            let value = if mpp && *key == "profile_rule" {
                own_rule(
                    value,
                    matches!(origin, model::provisioning::Origin::Default),
                    base_url,
                    credential,
                    p.profile_key.as_ref(),
                )
            } else {
                value.clone()
            };
            parameters.push((key.to_string(), value));
        }
    }
    let s = &p.system.settings;
    // The service is on the phone HTTP listener (`phone_http`, as the phone reaches it).
    let self_provisioning_url = (p.auto_registered && !phone_http.is_empty())
        .then(|| format!("{phone_http}/services/self-provisioning?device={}", p.name));
    let (auth_name, auth_password) = p.owner.clone().unwrap_or_default();
    let carries_secret =
        credential.is_some() || (!p.lines.is_empty() && !auth_password.expose().is_empty());
    let access = match (authenticates, s.phone_auth, credential) {
        (false, _, _) | (_, PhoneAuth::Off, _) => Access::Anyone,
        (true, PhoneAuth::Secrets, _) if !carries_secret => Access::Anyone,
        (true, _, Some(c)) => Access::Device(Arc::new(c.clone())),
        (true, _, None) => Access::Nobody,
    };
    let view = DeviceView {
        name: p.name.clone(),
        mac: p.mac.clone(),
        model: p.model.clone(),
        family: kind,
        psn: t.and_then(|t| t.psn.clone()),
        file_patterns: t.map(|t| t.files.clone()).unwrap_or_default(),
        protocol: p.protocol.clone(),
        description: p.description.clone(),
        device_pool: p.device_pool.clone(),
        user_locale: s.user_locale.clone(),
        user_locale_lang: s.user_locale_lang.clone(),
        network_locale: s.network_locale.clone(),
        servers: servers(s),
        transport: match s.transport {
            SipTransport::Udp => Transport::Udp,
            SipTransport::Tcp => Transport::Tcp,
            SipTransport::Tls => Transport::Tls,
        },
        security_mode: p.security_mode,
        lines: p
            .lines
            .iter()
            .map(|l| LineView {
                button: l.button,
                pattern: l.pattern.clone(),
                display_name: if l.display.is_empty() {
                    l.alerting_name.clone()
                } else {
                    l.display.clone()
                },
                label: l.label.clone(),
                auth_name: auth_name.clone(),
                auth_password: auth_password.clone(),
                max_calls: l.max_calls,
                busy_trigger: l.busy_trigger,
                shared: l.shared,
                voicemail: s.voicemail_pilot.clone(),
                forward_all: to_number(&l.forward_all, &s.voicemail_pilot),
                forward_busy: to_number(&l.forward_busy, &s.voicemail_pilot),
                forward_no_answer: to_number(&l.forward_no_answer, &s.voicemail_pilot),
            })
            .collect(),
        speed_dials: p
            .speed_dials
            .iter()
            .map(|sd| SpeedDialView {
                button: sd.position,
                number: sd.number.clone(),
                label: sd.label.clone(),
                blf: sd.blf,
            })
            .collect(),
        // A system without a services URL of its own gives its phones the menu of the services
        // on the phone listener (its subscriptions, extension mobility, the corporate directory).
        services_url: match &self_provisioning_url {
            Some(u) if !mpp => u.clone(),
            _ if s.services_url.is_empty() && !phone_http.is_empty() => {
                format!("{phone_http}/services?device={}", p.name)
            }
            _ => s.services_url.clone(),
        },
        directory_url: if phone_http.is_empty() {
            String::new()
        } else {
            format!("{phone_http}/services/directory")
        },
        expansion_modules: p.expansion_modules.clone(),
        dnd: p.dnd,
        // A soft client reads its file from the shared TFTP servers once they are set.
        tftp_servers: match &p.soft_client {
            Some(c) if !c.tftp_servers.is_empty() => c.tftp_servers.clone(),
            _ => s.tftp_servers.clone(),
        },
        parameters,
        provisioning_rule: format!("{base_url}/$MA.xml"),
        self_provisioning_url,
        soft_client: p.soft_client.as_deref().cloned(),
        // The load's manifest on the phone listener (over TFTP, from the server the phone
        // used, when there is no phone listener).
        upgrade_rule: match &p.load {
            Some(l) if !phone_http.is_empty() => {
                format!("{phone_http}/{l}{}", model::firmware::LOADS_SUFFIX)
            }
            Some(l) => format!("/{l}{}", model::firmware::LOADS_SUFFIX),
            None => String::new(),
        },
        load: p.load.clone(),
        provisioning_url: base_url.to_string(),
        directory: p.directory.as_deref().and_then(directory),
        http_credential: other_vendor
            .then(|| credential.map(|c| (c.username.clone(), c.password.clone())))
            .flatten(),
    };
    (view, access)
}

/// The owner's LDAP profile as another vendor's phone searches it: its first server, the
/// attributes the attribute map names.
fn directory(d: &service::PhoneDirectory) -> Option<render::DirectoryView> {
    let server = d.ldap.servers.first()?;
    let attr = |field: &str| {
        d.ldap
            .attributes
            .iter()
            .find(|a| a.field == field)
            .map(|a| a.attribute.clone())
            .unwrap_or_default()
    };
    Some(render::DirectoryView {
        host: server.host.clone(),
        port: server.port,
        security: server.protocol.clone(),
        base: d.ldap.search_base.clone(),
        bind_dn: d.ldap.bind_dn.clone(),
        password: d.password.clone(),
        recursive: d.ldap.recursive,
        first_name: attr("first_name"),
        last_name: attr("last_name"),
        display_name: attr("display_name"),
        numbers: [
            "business_phone",
            "mobile_phone",
            "home_phone",
            "other_phone",
        ]
        .into_iter()
        .map(attr)
        .filter(|a| !a.is_empty())
        .collect(),
    })
}

/// A forward's number as a phone dials it: `voicemail` (CUCM's "Voice Mail" box) is the
/// system's voicemail pilot, and no forward when the system has none.
fn to_number(forward: &str, voicemail_pilot: &str) -> String {
    if forward.eq_ignore_ascii_case("voicemail") {
        voicemail_pilot.to_string()
    } else {
        forward.to_string()
    }
}

/// Whether a phone's own file is served encrypted: MPP phones with a key (their own or their
/// system's) while the system's `profile_encryption` is on.
pub(crate) fn sealing(p: &PhoneConfig) -> Sealing {
    let mpp = Catalog::builtin().get(&p.model).map(|t| t.family) == Some(DeviceFamily::Mpp);
    match (&p.profile_key, p.system.settings.profile_encryption) {
        (Some(k), ProfileEncryption::On) if mpp => Sealing::Offered(Arc::new(k.clone())),
        (Some(k), ProfileEncryption::Required) if mpp => Sealing::Required(Arc::new(k.clone())),
        _ => Sealing::Clear,
    }
}

/// The Profile Rule an MPP phone's own file gives it. A rule an administrator set is sent as
/// written. Left at its default (`/spa$PSN.cfg`, which sends the phone back through the
/// first-contact file), it becomes this server's URL of the phone's own file, as the phone
/// reached it: over HTTP with the device's credential in front (`[--uid $MA --pwd …]`) when it
/// has one, so that the phone sends it on every resync; over TFTP (which has no credentials)
/// as `tftp://server/$MA.xml`, since a TFTP request for `spa$PSN.cfg` cannot say which phone
/// asks and would be refused with auto-registration off. With a profile key (encrypted
/// profiles on) it names the encrypted file, `$MA.cfg`, with `--key` in front.
fn own_rule(
    value: &str,
    is_default: bool,
    base_url: &str,
    credential: Option<&DeviceCredential>,
    profile_key: Option<&model::Secret>,
) -> String {
    if !is_default || base_url.is_empty() {
        return value.to_string();
    }
    let mut options = Vec::new();
    if let Some(k) = profile_key {
        options.push(format!("--key {}", k.expose()));
    }
    let tftp = base_url.starts_with("tftp");
    if let (Some(c), false) = (credential, tftp) {
        options.push(format!("--uid $MA --pwd {}", c.password.expose()));
    }
    let file = if profile_key.is_some() {
        render::family::ENCRYPTED_FILE
    } else {
        "$MA.xml"
    };
    if options.is_empty() {
        format!("{base_url}/{file}")
    } else {
        format!("[{}]{base_url}/{file}", options.join(" "))
    }
}
