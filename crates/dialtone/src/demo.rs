//! A realistic sample directory for `dialtone demo`: two call-control systems and a voicemail
//! system, a few hundred users with desk phones of several models, shared lines between
//! managers and assistants, soft phones (some secondary to a desk phone), extension-mobility
//! device profiles with a logout profile, IP phone services, voicemail subscribers, and two
//! deliberate conflicts between systems for the lists to show.
//! Everything goes through the service, so every rule applies and the audit log shows it.

use anyhow::Context;
use model::*;
use service::{Actor, Service};

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Margaret",
    "Paul",
    "Sandra",
    "Steven",
    "Ashley",
    "Andrew",
    "Emily",
    "Kenneth",
    "Donna",
    "Joshua",
    "Michelle",
    "Kevin",
    "Carol",
    "Brian",
    "Amanda",
    "George",
    "Melissa",
    "Edward",
    "Deborah",
    "Aiko",
    "Omar",
    "Priya",
    "Lars",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
];
const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Engineering",
    "Finance",
    "Support",
    "Operations",
    "Legal",
    "Marketing",
    "HR",
];
const DESK_MODELS: &[&str] = &[
    "7960", "7940", "7970", "8861", "8851", "8841", "7841", "7821", "7912", "8845",
];

/// The load the demo chooses for its 8861s.
pub const DEMO_LOAD: &str = "sip88xx.14-2-1MPP-0001-154";

/// What the demo made.
#[derive(Debug, Default)]
pub struct Summary {
    pub users: usize,
    pub phones: usize,
    pub lines: usize,
    pub device_profiles: usize,
    pub voicemail_subscribers: usize,
}

fn mac(n: usize) -> String {
    format!("00562B{:06X}", 0x040000 + n)
}

/// The demo's licence, signed with `private_key`: units for its phones and capabilities with
/// room to spare, so the licence unit report has something to show.
/// The address a demo listener (`what`, chosen with `flag`) takes, checked before anything is
/// filled: `given` as it is, refused when it is in use; else `default`, or when that is in use
/// the next free port after it, with a line that says so.
pub fn listen_address(
    given: Option<&str>,
    default: &str,
    flag: &str,
    what: &str,
) -> anyhow::Result<(String, Option<String>)> {
    // An address given, or a default that is not an IP and a port (a host name from a
    // configuration file), is taken as it is or refused.
    let addr = match (given, default.parse::<std::net::SocketAddr>()) {
        (None, Ok(addr)) => addr,
        (given, _) => {
            let a = given.unwrap_or(default);
            return match std::net::TcpListener::bind(a) {
                Ok(_) => Ok((a.to_string(), None)),
                Err(e) => anyhow::bail!(
                    "{what} cannot listen on {a} ({e}): choose another address with {flag} \
                     ({flag} 127.0.0.1:0 takes any free port)"
                ),
            };
        }
    };
    for port in addr.port()..=addr.port().saturating_add(100) {
        let a = std::net::SocketAddr::new(addr.ip(), port);
        if std::net::TcpListener::bind(a).is_ok() {
            let note = (port != addr.port())
                .then(|| format!("{what}: {default} is taken, {a} instead ({flag} chooses)"));
            return Ok((a.to_string(), note));
        }
    }
    anyhow::bail!(
        "{what}: {default} and the hundred ports after it are taken; choose an address with {flag}"
    )
}

pub fn licence(private_key: &str, users: usize) -> anyhow::Result<String> {
    let n = users as i64;
    let l = model::licensing::Licence {
        id: "DEMO-1".into(),
        issued_to: "Dialtone demo".into(),
        issued: service::now()[..10].to_string(),
        expires: None,
        units: model::licensing::Units {
            device: 2 * n + 50,
            presence_user: n + 10,
            soft_client: n + 10,
        },
    };
    Ok(service::sign_licence(private_key, &l)?)
}

pub async fn fill(svc: &Service, users: usize) -> anyhow::Result<Summary> {
    let a = Actor::new("demo");
    let mut sum = Summary::default();
    let hq = service::FIRST_SYSTEM;
    svc.create_system(
        &a,
        NewSystem {
            name: "branch".into(),
            kind: Some(SystemKind::CallControl),
            description: "Branch office cluster".into(),
            settings: None,
        },
    )
    .await?;
    svc.create_system(
        &a,
        NewSystem {
            name: "unity".into(),
            kind: Some(SystemKind::Voicemail),
            description: "Voicemail".into(),
            settings: None,
        },
    )
    .await?;
    // Self-provisioning: unknown phones get a number of 1000-1099 through these templates, and
    // users of the Standard profile claim them (docs/self-provisioning.md).
    svc.create_line_template(
        &a,
        NewUniversalLineTemplate {
            name: "Auto lines".into(),
            system: Some(hq.into()),
            description: "Numbers of auto-registered phones".into(),
            line: LineTemplateSettings {
                partition: "Auto".into(),
                label: "#Extension#".into(),
                ..Default::default()
            },
        },
    )
    .await?;
    svc.create_line_template(
        &a,
        NewUniversalLineTemplate {
            name: "Desk lines".into(),
            system: Some(hq.into()),
            description: "A user's line on the phone they claim".into(),
            line: LineTemplateSettings::default(),
        },
    )
    .await?;
    svc.create_device_template(
        &a,
        NewUniversalDeviceTemplate {
            name: "Desk phones".into(),
            system: Some(hq.into()),
            description: "Phones users provision themselves".into(),
            device: DeviceTemplateSettings {
                device_pool: "DP-HQ-1".into(),
                speed_dials: vec![SpeedDial {
                    position: 1,
                    number: "5000".into(),
                    label: "Self-provisioning".into(),
                    blf: false,
                }],
                ..Default::default()
            },
        },
    )
    .await?;
    svc.create_user_profile(
        &a,
        NewUserProfile {
            name: "Standard".into(),
            system: Some(hq.into()),
            description: "Every user of the demo".into(),
            device_template: Some("Desk phones".into()),
            line_template: Some("Desk lines".into()),
            allow_self_provisioning: true,
            phone_limit: 10,
        },
    )
    .await?;
    // What the headquarters' phones are told: two call-control nodes, two TFTP servers.
    let sys = svc.system(hq).await?;
    let server = |host: &str| ServerSetting {
        host: host.into(),
        sip_port: 5060,
        secure_sip_port: 5061,
        sccp_port: 2000,
    };
    svc.update_system(
        &a,
        hq,
        SystemPatch {
            version: sys.version,
            settings: Some(SystemSettings {
                servers: vec![
                    server("cucm-hq-1.example.com"),
                    server("cucm-hq-2.example.com"),
                ],
                tftp_servers: vec![
                    "tftp-hq-1.example.com".into(),
                    "tftp-hq-2.example.com".into(),
                ],
                voicemail_pilot: "8000".into(),
                auto_registration: true,
                auto_registration_start_dn: "1000".into(),
                auto_registration_end_dn: "1099".into(),
                auto_registration_device_template: "Desk phones".into(),
                auto_registration_line_template: "Auto lines".into(),
                self_provisioning: SelfProvisioningSettings {
                    ivr_extension: "5000".into(),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await?;
    // What soft clients learn besides call control (docs/soft-clients.md): two presence
    // subclusters, a proxy over TCP, CTI gateways made from the call-control servers (with the
    // default profile new users get), and the shared settings.
    for (name, primary, secondary) in [
        ("sc-hq-1", "cup-hq-1.example.com", "cup-hq-2.example.com"),
        ("sc-hq-2", "cup-hq-3.example.com", "cup-hq-4.example.com"),
    ] {
        svc.create_client_record(
            &a,
            soft_client::ClientKind::PresenceSubcluster,
            serde_json::json!({"name": name, "primary_node": primary, "secondary_node": secondary}),
        )
        .await?;
    }
    svc.create_client_record(
        &a,
        soft_client::ClientKind::ProxyProfile,
        serde_json::json!({"name": "cup-proxy", "primary_proxy": "cup-hq-1.example.com:5060"}),
    )
    .await?;
    svc.cti_servers_from_systems(&a).await?;
    svc.set_soft_client_settings(
        &a,
        soft_client::SoftClientSettings {
            tftp_servers: vec![
                "tftp-hq-1.example.com".into(),
                "tftp-hq-2.example.com".into(),
            ],
            ..Default::default()
        },
    )
    .await?;
    svc.create_distribution_list(
        &a,
        NewDistributionList {
            name: "All Staff".into(),
            system: Some("unity".into()),
            description: "Everyone".into(),
        },
    )
    .await?;
    for svc_name in [
        (
            "Corporate Directory",
            "http://directory.example.com/xmldirectory.jsp",
        ),
        ("Weather", "http://weather.example.com/phone"),
    ] {
        svc.create_service(
            &a,
            NewPhoneService {
                name: svc_name.0.into(),
                system: Some(hq.into()),
                url: svc_name.1.into(),
                description: String::new(),
                parameters: if svc_name.0 == "Weather" {
                    vec![ServiceParameter {
                        name: "city".into(),
                        display_name: "City".into(),
                        default: "San Jose".into(),
                        required: true,
                    }]
                } else {
                    vec![]
                },
            },
        )
        .await?;
    }
    // A logout profile for hot-desk phones.
    svc.create_device_profile(
        &a,
        NewDeviceProfile {
            name: "EM-Logout".into(),
            model: "7960".into(),
            system: Some(hq.into()),
            description: "Loaded when a user logs out of a hot desk".into(),
            lines: vec![AppearanceInput {
                pattern: "2999".into(),
                label: "Lobby".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .await?;
    sum.device_profiles += 1;

    let mut used_ids = std::collections::BTreeSet::new();
    for i in 0..users {
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i / FIRST.len() + i * 7) % LAST.len()];
        let mut uid = format!("{}{}", first[..1].to_lowercase(), last.to_lowercase());
        let mut n = 1;
        while !used_ids.insert(uid.clone()) {
            n += 1;
            uid = format!("{}{}{n}", first[..1].to_lowercase(), last.to_lowercase());
        }
        let ext = format!("{}", 2000 + i);
        svc.create_line(
            &a,
            NewLine {
                pattern: ext.clone(),
                system: Some(hq.into()),
                description: format!("{first} {last}"),
                alerting_name: format!("{first} {last}"),
                forward_busy_internal: "voicemail".into(),
                forward_no_answer_internal: "voicemail".into(),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("line {ext}"))?;
        sum.lines += 1;
        svc.create_user(
            &a,
            NewUser {
                user_id: uid.clone(),
                system: Some(hq.into()),
                first_name: first.into(),
                last_name: last.into(),
                department: DEPARTMENTS[i % DEPARTMENTS.len()].into(),
                mail: format!("{uid}@example.com"),
                telephone_number: format!("+1408555{ext}"),
                primary_extension: Some(ext.clone()),
                user_profile: Some("Standard".into()),
                // One PIN is enough to claim a phone in the demo (hashing one per user would
                // slow the demo's start).
                pin: (i == 0).then(|| Secret::new("13579".to_string())),
                groups: vec!["Standard CCM End Users".into()],
                capabilities: Capabilities {
                    presence: i % 4 == 0,
                    soft_client: i % 10 == 0,
                },
                app_profiles: AppProfiles {
                    proxy: (i % 10 == 0).then(|| "cup-proxy".to_string()),
                    voicemail: Some("unity".into()),
                    ..Default::default()
                },
                lines: vec![LineRef {
                    pattern: ext.clone(),
                    partition: String::new(),
                }],
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("user {uid}"))?;
        sum.users += 1;
        let model = DESK_MODELS[i % DESK_MODELS.len()];
        // Every fifth user is a manager whose line also rings on the next user's (the assistant's)
        // phone.
        let mut lines = vec![AppearanceInput {
            pattern: ext.clone(),
            label: format!("{first} {last}"),
            display: format!("{first} {last}"),
            ..Default::default()
        }];
        if i % 5 == 1 && model != "7912" {
            lines.push(AppearanceInput {
                pattern: format!("{}", 2000 + i - 1),
                label: "Manager".into(),
                ..Default::default()
            });
        }
        let expansion_modules = if i == 0 { vec!["7914".into()] } else { vec![] };
        let phone = svc
            .create_phone(
                &a,
                NewPhone {
                    mac: Some(mac(i)),
                    model: model.into(),
                    system: Some(hq.into()),
                    description: format!("{first} {last} - desk"),
                    device_pool: if i % 3 == 0 {
                        "DP-HQ-1".into()
                    } else {
                        "DP-HQ-2".into()
                    },
                    owner_user_id: Some(uid.clone()),
                    expansion_modules,
                    lines,
                    services: if i % 2 == 0 {
                        vec![Subscription {
                            service: "Corporate Directory".into(),
                            ..Default::default()
                        }]
                    } else {
                        vec![]
                    },
                    logout_profile: (i % 25 == 0).then(|| "EM-Logout".to_string()),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("phone of {uid}"))?;
        sum.phones += 1;
        let u = svc.user(&uid, Some(hq)).await?;
        svc.update_user(
            &a,
            &uid,
            Some(hq),
            UserPatch {
                version: u.version,
                devices: Some(vec![phone.name.clone()]),
                ..Default::default()
            },
        )
        .await?;
        if i % 10 == 0 {
            // A soft phone named after the user, secondary to the desk phone (adjunct licensing).
            svc.create_phone(
                &a,
                NewPhone {
                    model: "CUPC".into(),
                    system: Some(hq.into()),
                    description: format!("{first} {last} - soft phone"),
                    owner_user_id: Some(uid.clone()),
                    primary_phone: Some(phone.name.clone()),
                    lines: vec![AppearanceInput {
                        pattern: ext.clone(),
                        display: format!("{first} {last}"),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("soft phone of {uid}"))?;
            sum.phones += 1;
        }
        if i % 15 == 0 {
            let name = format!("EM-{uid}");
            svc.create_device_profile(
                &a,
                NewDeviceProfile {
                    name: name.clone(),
                    model: "7960".into(),
                    system: Some(hq.into()),
                    description: format!("Extension mobility profile of {first} {last}"),
                    lines: vec![AppearanceInput {
                        pattern: ext.clone(),
                        label: format!("{first} {last}"),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
            .await?;
            sum.device_profiles += 1;
            let u = svc.user(&uid, Some(hq)).await?;
            svc.update_user(
                &a,
                &uid,
                Some(hq),
                UserPatch {
                    version: u.version,
                    device_profiles: Some(vec![name.clone()]),
                    default_device_profile: Some(name),
                    ..Default::default()
                },
            )
            .await?;
        }
        if i % 6 != 5 {
            svc.create_voicemail_subscriber(
                &a,
                NewVoicemailSubscriber {
                    alias: uid.clone(),
                    system: Some("unity".into()),
                    first_name: first.into(),
                    last_name: last.into(),
                    extension: ext.clone(),
                    mail: format!("{uid}@example.com"),
                    distribution_lists: vec!["All Staff".into()],
                    ..Default::default()
                },
            )
            .await?;
            sum.voicemail_subscribers += 1;
        }
    }
    // Two conflicts for the lists to show (docs/api.md, "Conflicts between product systems"): the
    // first user also exists on the branch cluster, and the second user's voicemail box carries
    // another first name.
    let first_uid = svc
        .find_users(&model::Find {
            limit: 1,
            sort: Some("user_id".into()),
            ..Default::default()
        })
        .await?;
    if let Some(u) = first_uid.items.first() {
        svc.create_user(
            &a,
            NewUser {
                user_id: u.user_id.clone(),
                system: Some("branch".into()),
                first_name: u.first_name.clone(),
                last_name: u.last_name.clone(),
                ..Default::default()
            },
        )
        .await?;
        sum.users += 1;
    }
    svc.create_user(
        &a,
        NewUser {
            user_id: "pmarlowe".into(),
            system: Some(hq.into()),
            first_name: "Philip".into(),
            last_name: "Marlowe".into(),
            ..Default::default()
        },
    )
    .await?;
    svc.create_voicemail_subscriber(
        &a,
        NewVoicemailSubscriber {
            alias: "pmarlowe".into(),
            system: Some("unity".into()),
            first_name: "Phil".into(),
            last_name: "Marlowe".into(),
            extension: "2998".into(),
            ..Default::default()
        },
    )
    .await?;
    sum.users += 1;
    sum.voicemail_subscribers += 1;
    // One phone of each other vendor (docs/phones.md, "Other vendors' phones"), in the
    // reception, on a line of its own and the reception's shared line 2000.
    for (model, mac, ext) in [
        ("T54W", "805EC0DE0001", "2901"),
        ("VVX450", "0004F2DE0001", "2902"),
        ("GXP2170", "000B82DE0001", "2903"),
        ("D785", "000413DE0001", "2904"),
    ] {
        svc.create_phone(
            &a,
            NewPhone {
                mac: Some(mac.into()),
                model: model.into(),
                system: Some(hq.into()),
                description: format!("Reception - {model}"),
                device_pool: "DP-HQ-1".into(),
                lines: vec![
                    AppearanceInput {
                        pattern: ext.into(),
                        label: format!("Reception {ext}"),
                        ..Default::default()
                    },
                    AppearanceInput {
                        pattern: "2000".into(),
                        label: "Front desk".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("the demo's {model}"))?;
        sum.phones += 1;
    }
    // A firmware load for the 8861s (docs/firmware.md): a stand-in manifest, not a phone image,
    // so the Firmware page has a load chosen and phones not on it yet.
    let manifest =
        format!("{DEMO_LOAD} (a demo manifest: Dialtone serves it, no phone can install it)\n");
    svc.upload_firmware(&a, &format!("{DEMO_LOAD}.loads"), manifest.as_bytes())
        .await?;
    svc.choose_load(
        &a,
        &firmware::LoadChoice {
            system: hq.into(),
            model: "8861".into(),
            scope: firmware::LoadScope::System,
            target: String::new(),
            load: DEMO_LOAD.into(),
        },
    )
    .await?;
    Ok(sum)
}
