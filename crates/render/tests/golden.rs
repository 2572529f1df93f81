//! Golden files: each renderer's output for sample devices, byte for byte. Regenerate with
//! `DIALTONE_UPDATE_GOLDEN=1 cargo test -p dialtone-render` and review the diff.

use dialtone_render::{
    DefaultView, DeviceView, DirectoryView, LineView, Renderer, Server, SpeedDialView, Transport,
};
use model::soft_client::{
    cti_reconnect_text, ClientAttribute, ClientFile, ClientLdap, ClientServer,
};
use model::{Catalog, DndMode, Secret, SecurityMode};
use std::path::PathBuf;

fn servers() -> Vec<Server> {
    vec![
        Server {
            host: "cucm1.example.com".into(),
            sip_port: 5060,
            secure_sip_port: 5061,
            sccp_port: 2000,
        },
        Server {
            host: "cucm2.example.com".into(),
            sip_port: 5060,
            secure_sip_port: 5061,
            sccp_port: 2000,
        },
    ]
}

fn line(button: i64, pattern: &str, name: &str, shared: bool) -> LineView {
    LineView {
        button,
        pattern: pattern.into(),
        display_name: name.into(),
        label: format!("{name} - {pattern}"),
        auth_name: "jsmith".into(),
        auth_password: Secret::new("s1p&<secret>"),
        max_calls: 4,
        busy_trigger: 2,
        shared,
        voicemail: "8000".into(),
        forward_all: String::new(),
        forward_busy: if button == 1 {
            "8000".into()
        } else {
            String::new()
        },
        forward_no_answer: if button == 1 {
            "8000".into()
        } else {
            String::new()
        },
    }
}

fn view(model: &str, name: &str, mac: Option<&str>) -> DeviceView {
    let t = Catalog::builtin().get(model).unwrap();
    DeviceView {
        name: name.into(),
        mac: mac.map(str::to_string),
        model: t.model.clone(),
        family: t.family,
        psn: t.psn.clone(),
        file_patterns: t.files.clone(),
        protocol: "SIP".into(),
        description: "John Smith's desk".into(),
        device_pool: "DP-HQ".into(),
        user_locale: "English_United_States".into(),
        user_locale_lang: "en_US".into(),
        network_locale: "United_States".into(),
        servers: servers(),
        transport: Transport::Udp,
        security_mode: None,
        lines: vec![
            line(1, "2000", "John Smith", false),
            line(2, "2001", "Reception", true),
        ],
        // A speed dial and a busy lamp field one (enterprise feature IDs 2 and 21; MPP
        // `fnc=sd` and `fnc=blf+sd+cp`).
        speed_dials: vec![
            SpeedDialView {
                button: 3,
                number: "5550100".into(),
                label: "Home".into(),
                blf: false,
            },
            SpeedDialView {
                button: 4,
                number: "2002".into(),
                label: "Assistant".into(),
                blf: true,
            },
        ],
        services_url: "http://dialtone.example.com:6970/services".into(),
        directory_url: "http://dialtone.example.com:6970/services/directory".into(),
        expansion_modules: vec![],
        dnd: DndMode::Off,
        tftp_servers: vec!["tftp1.example.com".into(), "tftp2.example.com".into()],
        parameters: vec![
            ("resync_periodic".into(), "1800".into()),
            ("resync_at".into(), "0230".into()),
        ],
        provisioning_rule: "http://dialtone.example.com:6970/$MA.xml".into(),
        self_provisioning_url: None,
        soft_client: None,
        load: Some(
            if t.family == model::DeviceFamily::Mpp {
                "sip88xx.14-2-1MPP-0001-154"
            } else {
                "sip78xx.14-2-1-0001-14"
            }
            .into(),
        ),
        upgrade_rule: "http://dialtone.example.com:6970/sip88xx.14-2-1MPP-0001-154.loads".into(),
        provisioning_url: "http://dialtone.example.com:6970".into(),
        http_credential: None,
        directory: None,
    }
}

fn check(name: &str, bytes: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    // Yealink's files are `key = value` lines; every other file is XML.
    if !text.starts_with("#!version:") {
        roxmltree::Document::parse(text)
            .unwrap_or_else(|e| panic!("{name} is not well-formed XML: {e}\n{text}"));
    }
    if std::env::var("DIALTONE_UPDATE_GOLDEN").is_ok() {
        std::fs::write(&path, bytes).unwrap();
    }
    let golden = std::fs::read(&path).unwrap_or_default();
    assert!(golden == bytes, "{name} differs from tests/golden/{name}; if the change is meant, regenerate with DIALTONE_UPDATE_GOLDEN=1:\n{text}");
}

fn render(r: &Renderer, v: &DeviceView, file: &str) -> Vec<u8> {
    let dialtone_render::Rendered {
        bytes,
        fallback: problem,
    } = r
        .render(v, file)
        .unwrap_or_else(|| {
            panic!(
                "{} does not fetch {file}; it fetches {:?}",
                v.name,
                v.files()
            )
        })
        .unwrap();
    assert!(problem.is_none());
    bytes
}

#[test]
fn enterprise_sip_phone() {
    let r = Renderer::builtin();
    let mut v = view("7960", "SEP00562B043615", Some("00562B043615"));
    v.security_mode = Some(SecurityMode::Encrypted);
    v.expansion_modules = vec!["7914".into()];
    v.speed_dials = vec![
        SpeedDialView {
            button: 3,
            number: "+14085551234".into(),
            label: "Help desk".into(),
            blf: false,
        },
        SpeedDialView {
            button: 4,
            number: "2002".into(),
            label: "Assistant".into(),
            blf: true,
        },
    ];
    assert_eq!(v.files(), vec!["SEP00562B043615.cnf.xml"]);
    let bytes = render(&r, &v, "sep00562b043615.cnf.xml");
    check("SEP00562B043615.cnf.xml", &bytes);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let lines: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("line"))
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "two lines, a speed dial and a BLF speed dial"
    );
    let first = lines[0];
    let child = |n: roxmltree::Node, tag: &str| {
        n.children()
            .find(|c| c.has_tag_name(tag))
            .and_then(|c| c.text())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(child(first, "featureID"), "9");
    assert_eq!(
        child(first, "authPassword"),
        "s1p&<secret>",
        "escaped in the file, the same value to the phone"
    );
    assert_eq!(child(first, "maxNumCalls"), "4");
    assert_eq!(child(lines[1], "sharedLine"), "true");
    assert_eq!(child(lines[2], "speedDialNumber"), "+14085551234");
    // CUCM's feature IDs: 2 a speed dial, 21 a speed dial with busy lamp field.
    assert_eq!(
        (child(lines[2], "featureID"), child(lines[3], "featureID")),
        ("2".to_string(), "21".to_string())
    );
    assert_eq!(child(lines[3], "featureOptionMask"), "0");
    assert!(text.contains("<deviceSecurityMode>3</deviceSecurityMode>"));

    // The stamp changes with the content and only then.
    let again = render(&r, &v, "SEP00562B043615.cnf.xml");
    assert_eq!(again, bytes);
    v.lines[0].label = "Changed".into();
    let changed = String::from_utf8(render(&r, &v, "SEP00562B043615.cnf.xml")).unwrap();
    let stamp = |t: &str| {
        t.split("<versionStamp>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    assert_ne!(stamp(&changed), stamp(&text));
}

#[test]
fn mpp_phone_files() {
    let r = Renderer::builtin();
    let v = view("8861", "SEP00562B043616", Some("00562B043616"));
    assert_eq!(v.files(), vec!["8861-3PCC.xml", "00562b043616.xml"]);
    let first = render(&r, &v, "8861-3PCC.xml");
    check("8861-3PCC.xml", &first);
    assert!(String::from_utf8(first).unwrap().contains(
        "<Profile_Rule ua=\"na\">http://dialtone.example.com:6970/$MA.xml</Profile_Rule>"
    ));
    let dev = render(&r, &v, "00562B043616.xml");
    check("00562b043616.xml", &dev);
    let text = String::from_utf8(dev).unwrap();
    for expected in [
        "<Resync_Periodic ua=\"na\">1800</Resync_Periodic>",
        "<Resync_At__HHmm_ ua=\"na\">0230</Resync_At__HHmm_>",
        "<Resync_Random_Delay ua=\"na\">2</Resync_Random_Delay>",
        "<Profile_Rule ua=\"na\">/spa$PSN.cfg</Profile_Rule>",
        "<Log_Failure_Msg ua=\"na\">$PN $MAC -- Resync failed: $ERR</Log_Failure_Msg>",
        "<User_ID_2_ ua=\"na\">2001</User_ID_2_>",
        "<Password_1_ ua=\"na\">s1p&amp;&lt;secret&gt;</Password_1_>",
        "<Proxy_1_ ua=\"na\">cucm1.example.com:5060</Proxy_1_>",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
}

#[test]
fn soft_client_and_default_files() {
    let r = Renderer::builtin();
    let mut v = view("CUPC", "UPCJSMITH", None);
    v.lines.truncate(1);
    v.soft_client = Some(ClientFile {
        user_id: "jsmith".into(),
        home_node: "cup1.example.com".into(),
        failover_node: "cup2.example.com".into(),
        instant_messaging: true,
        max_contact_list: 200,
        tftp_servers: Vec::new(),
        proxy: "cup1.example.com:5060".into(),
        cti_profile: "cti-tcp".into(),
        cti_servers: vec![
            ClientServer {
                host: "cm1.example.com".into(),
                port: 2748,
                protocol: "TCP".into(),
            },
            ClientServer {
                host: "cm2.example.com".into(),
                port: 2748,
                protocol: "TCP".into(),
            },
        ],
        cti_reconnect: cti_reconnect_text(),
        ldap: Some(ClientLdap {
            profile: "corp".into(),
            servers: vec![ClientServer {
                host: "dc1.example.com".into(),
                port: 389,
                protocol: "tcp".into(),
            }],
            anonymous_bind: false,
            bind_dn: "cn=reader,dc=example,dc=com".into(),
            search_base: "ou=people,dc=example,dc=com".into(),
            recursive: true,
            attributes: vec![
                ClientAttribute {
                    field: "user_id".into(),
                    attribute: "sAMAccountName".into(),
                },
                ClientAttribute {
                    field: "last_name".into(),
                    attribute: "sn".into(),
                },
            ],
        }),
        dial_rules: Vec::new(),
        voicemail_profile: "unity".into(),
        conferencing_profile: String::new(),
    });
    assert_eq!(v.files(), vec!["UPCJSMITH.cnf.xml", "CSFJSMITH.cnf.xml"]);
    let bytes = render(&r, &v, "UPCJSMITH.cnf.xml");
    check("UPCJSMITH.cnf.xml", &bytes);
    assert_eq!(
        render(&r, &v, "CSFJSMITH.cnf.xml"),
        bytes,
        "the Jabber-style name, the same file"
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("<server priority=\"1\">tftp2.example.com</server>"));
    assert!(text.contains("<transportLayerProtocol>2</transportLayerProtocol>"));
    let dialtone_render::Rendered {
        bytes: d,
        fallback: _,
    } = r
        .render_default(&DefaultView::new(servers(), true))
        .unwrap();
    check("XMLDefault.cnf.xml", &d);
    assert!(
        r.render(&v, "SEP00562B043615.cnf.xml").is_none(),
        "a device answers only its own files"
    );
}

#[test]
fn operator_templates_override_and_broken_ones_are_reported() {
    let dir = std::env::temp_dir().join(format!("dialtone-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mpp-first-contact.xml.j2"), "<?xml version=\"1.0\"?>\n<flat-profile><Profile_Rule ua=\"na\">{{ profile_rule }}?site=hq</Profile_Rule></flat-profile>\n").unwrap();
    std::fs::write(
        dir.join("enterprise.cnf.xml.j2"),
        "<device>\n{% for l in d.lines %}\n{{ l.pattern \n{% endfor %}</device>\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("soft-client.cnf.xml.j2"),
        "<device>{{ d.no_such_field.x }}</device>\n",
    )
    .unwrap();
    let (r, problems) = Renderer::with_overrides(&dir);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].template, "enterprise.cnf.xml.j2");
    assert!(problems[0].line.is_some(), "{}", problems[0]);
    // The override is used.
    let v = view("8861", "SEP00562B043616", Some("00562B043616"));
    let b = r.render(&v, "8861-3PCC.xml").unwrap().unwrap().bytes;
    assert!(String::from_utf8(b).unwrap().contains("?site=hq"));
    // The broken one was refused: the built-in serves.
    let e = view("7960", "SEP00562B043615", Some("00562B043615"));
    let dialtone_render::Rendered {
        bytes: b,
        fallback: problem,
    } = r.render(&e, "SEP00562B043615.cnf.xml").unwrap().unwrap();
    assert!(problem.is_none());
    assert!(String::from_utf8(b)
        .unwrap()
        .contains("<featureID>9</featureID>"));
    // One that fails while rendering falls back to the built-in, and says so.
    let mut s = view("CUPC", "UPCJSMITH", None);
    s.lines.truncate(1);
    let dialtone_render::Rendered {
        bytes: b,
        fallback: problem,
    } = r.render(&s, "UPCJSMITH.cnf.xml").unwrap().unwrap();
    assert!(String::from_utf8(b).unwrap().contains("<tftpServers>"));
    let problem = problem.expect("the failure is reported");
    assert_eq!(problem.template, "soft-client.cnf.xml.j2");
    assert_eq!(problem.line, Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_runaway_template_runs_out_of_fuel() {
    let dir = std::env::temp_dir().join(format!("dialtone-fuel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("mpp-first-contact.xml.j2"),
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
    )
    .unwrap();
    let (r, problems) = Renderer::with_overrides(&dir);
    assert!(problems.is_empty());
    let v = view("8861", "SEP00562B043616", Some("00562B043616"));
    let dialtone_render::Rendered {
        bytes: b,
        fallback: problem,
    } = r.render(&v, "8861-3PCC.xml").unwrap().unwrap();
    assert!(
        problem.unwrap().message.contains("fuel"),
        "stopped, and the built-in served"
    );
    assert!(String::from_utf8(b).unwrap().contains("Profile_Rule"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A phone of another vendor as the fixtures above show it, with an HTTP credential, its
/// periodic resync at 30 minutes and the BLF key on an expansion module's first key.
fn vendor_view(model: &str, mac: &str) -> DeviceView {
    let mut v = view(model, &format!("SEP{mac}"), Some(mac));
    v.http_credential = Some((mac.to_ascii_lowercase(), Secret::new("Ph0ne-pass.1")));
    v.load = None;
    v.upgrade_rule = String::new();
    v.dnd = DndMode::CallReject;
    v.directory = Some(DirectoryView {
        host: "dc1.example.com".into(),
        port: 636,
        security: "ldaps".into(),
        base: "ou=people,dc=example,dc=com".into(),
        bind_dn: "cn=phones,dc=example,dc=com".into(),
        password: Secret::new("ld&p-pass"),
        recursive: true,
        first_name: "givenName".into(),
        last_name: "sn".into(),
        display_name: "displayName".into(),
        numbers: vec!["telephoneNumber".into(), "mobile".into()],
    });
    v
}

/// The `key = value` settings of a Yealink file, in order (comments and the header left out).
fn yealink_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once(" = ")
                .unwrap_or_else(|| panic!("not `key = value`: {l}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Yealink, "Administrator's Guide for SIP-T2 Series/T4 Series/T5 Series IP Phones":
/// - "MAC CFG File": the phone's own file is `<MAC>.cfg` in lower case (its example
///   `00156574b150.cfg`); "Common CFG File": `y0000000000xx.cfg`, one per model.
/// - "Configuration Files": the first line is `#!version:1.0.0.1`, which "must be placed in the
///   first line"; the settings are `parameter = value` lines, `#` starts a comment.
/// - "Rebooting Issues": on `Event: check-sync` the phone reboots only when told so
///   (`reboot=true`) while `sip.notify_reboot_enable` is 0; 2 ignores the NOTIFY.
#[test]
fn yealink_files() {
    let r = Renderer::builtin();
    let mut v = vendor_view("T46U", "805EC0112233");
    v.expansion_modules = vec!["EXP43".into()];
    v.speed_dials[1].button = 28;
    assert_eq!(v.files(), vec!["y000000000108.cfg", "805ec0112233.cfg"]);
    let common = render(&r, &v, "Y000000000108.CFG");
    check("y000000000108.cfg", &common);
    assert!(common.starts_with(b"#!version:1.0.0.1\n"));
    assert!(String::from_utf8(common)
        .unwrap()
        .contains("Yealink SIP-T46U"));

    let bytes = render(&r, &v, "805EC0112233.cfg");
    check("805ec0112233.cfg", &bytes);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("#!version:1.0.0.1\n"), "{text}");
    let settings = yealink_settings(&text);
    let get = |k: &str| {
        settings
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k} missing:\n{text}"))
    };
    for (k, want) in [
        (
            "static.auto_provision.server.url",
            "http://dialtone.example.com:6970/",
        ),
        ("static.auto_provision.server.username", "805ec0112233"),
        ("static.auto_provision.server.password", "Ph0ne-pass.1"),
        ("static.auto_provision.repeat.enable", "1"),
        ("static.auto_provision.repeat.minutes", "30"),
        ("sip.notify_reboot_enable", "0"),
        ("account.1.enable", "1"),
        ("account.1.user_name", "2000"),
        ("account.1.auth_name", "jsmith"),
        ("account.1.password", "s1p&<secret>"),
        ("account.1.label", "John Smith - 2000"),
        ("account.1.display_name", "John Smith"),
        ("account.1.sip_server.1.address", "cucm1.example.com"),
        ("account.1.sip_server.1.port", "5060"),
        ("account.1.sip_server.1.transport_type", "0"),
        ("account.1.sip_server.2.address", "cucm2.example.com"),
        ("account.1.shared_line", "0"),
        ("account.2.shared_line", "1"),
        ("account.3.enable", "0"),
        ("account.16.enable", "0"),
        ("voice_mail.number.1", "8000"),
        ("features.dnd.enable", "1"),
        ("forward.always.enable", "0"),
        ("forward.busy.enable", "1"),
        ("forward.busy.target", "8000"),
        ("forward.no_answer.target", "8000"),
        // Line keys: 15 a line, 13 a speed dial, 16 a BLF.
        ("linekey.1.type", "15"),
        ("linekey.1.line", "1"),
        ("linekey.2.type", "15"),
        ("linekey.2.line", "2"),
        ("linekey.3.type", "13"),
        ("linekey.3.value", "5550100"),
        ("linekey.3.label", "Home"),
        ("linekey.4.type", "0"),
        ("linekey.27.type", "0"),
        ("expansion_module.1.key.1.type", "16"),
        ("expansion_module.1.key.1.value", "2002"),
        // "LDAP" (the guide's section): the owner's LDAP profile.
        ("ldap.enable", "1"),
        ("ldap.host", "dc1.example.com"),
        ("ldap.port", "636"),
        ("ldap.tls_mode", "2"),
        ("ldap.base", "ou=people,dc=example,dc=com"),
        ("ldap.user", "cn=phones,dc=example,dc=com"),
        ("ldap.password", "ld&p-pass"),
        ("ldap.name_filter", "(|(givenName=%)(sn=%))"),
        ("ldap.number_filter", "(|(telephoneNumber=%)(mobile=%))"),
        ("ldap.name_attr", "givenName sn"),
        ("ldap.numb_attr", "telephoneNumber mobile"),
        ("ldap.display_name", "%displayName"),
    ] {
        assert_eq!(get(k), want, "{k}");
    }
    assert!(
        !settings.iter().any(|(k, _)| k == "linekey.28.type"),
        "27 keys on a T46U"
    );
}

#[test]
fn a_yealink_value_cannot_start_a_line_of_its_own() {
    let r = Renderer::builtin();
    let mut v = vendor_view("T54W", "805EC0112244");
    v.description = "desk\nstatic.security.user_password = admin:owned".into();
    v.lines[0].display_name = "John\r\naccount.1.password = x".into();
    let text = String::from_utf8(render(&r, &v, "805ec0112244.cfg")).unwrap();
    let settings = yealink_settings(&text);
    assert!(
        !settings
            .iter()
            .any(|(k, _)| k == "static.security.user_password"),
        "{text}"
    );
    assert_eq!(
        settings
            .iter()
            .filter(|(k, _)| k == "account.1.password")
            .count(),
        1,
        "{text}"
    );
}

/// The `name="value"` attributes of a Poly `.cfg` file's elements, in order.
fn polycom_settings(text: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(text).unwrap();
    doc.descendants()
        .flat_map(|n| n.attributes())
        .map(|a| (a.name().to_string(), a.value().to_string()))
        .collect()
}

fn setting<'a>(settings: &'a [(String, String)], key: &str, text: &str) -> &'a str {
    settings
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key} missing:\n{text}"))
}

/// Poly, "UC Software Administrator Guide" (5.9):
/// - "Master Configuration File": a phone asks for `<MAC>.cfg`, then `000000000000.cfg`; its
///   `APPLICATION` element's `CONFIG_FILES` lists the files read next, "the files listed first
///   have a higher precedence"; `[PHONE_MAC_ADDRESS]` in it stands for the phone's MAC.
/// - "Registration" (`reg.x.address`, `reg.x.auth.userId`, `reg.x.type` private or shared,
///   `reg.x.server.y.transport` UDPOnly/TCPOnly/TLS), "Provisioning Server" (`device.prov.*`
///   with `device.set` and each `.set`), "Polling" (`prov.polling.period` in seconds),
///   "Flexible Line Key Assignment" (`lineKey.x.category` Line/SpeedDial/BLF/Unassigned),
///   "Local Contact Directory" (`<MAC>-directory.xml`, `<sd>` its speed dial index).
#[test]
fn polycom_files() {
    let r = Renderer::builtin();
    let v = vendor_view("VVX450", "0004F2ABCDEF");
    assert_eq!(
        v.files(),
        vec![
            "0004f2abcdef.cfg",
            "000000000000.cfg",
            "0004f2abcdef-phone1.cfg",
            "0004f2abcdef-sip.cfg",
            "0004f2abcdef-directory.xml"
        ]
    );
    let master = render(&r, &v, "0004F2ABCDEF.cfg");
    check("0004f2abcdef.cfg", &master);
    assert!(String::from_utf8(master)
        .unwrap()
        .contains("CONFIG_FILES=\"0004f2abcdef-phone1.cfg, 0004f2abcdef-sip.cfg\""));
    let common = render(&r, &v, "000000000000.cfg");
    check("000000000000.cfg", &common);
    assert!(String::from_utf8(common)
        .unwrap()
        .contains("CONFIG_FILES=\"[PHONE_MAC_ADDRESS]-phone1.cfg, [PHONE_MAC_ADDRESS]-sip.cfg\""));

    let bytes = render(&r, &v, "0004f2abcdef-phone1.cfg");
    check("0004f2abcdef-phone1.cfg", &bytes);
    let text = String::from_utf8(bytes).unwrap();
    let s = polycom_settings(&text);
    for (k, want) in [
        ("reg.1.address", "2000"),
        ("reg.1.auth.userId", "jsmith"),
        ("reg.1.auth.password", "s1p&<secret>"),
        ("reg.1.label", "John Smith - 2000"),
        ("reg.1.type", "private"),
        ("reg.2.type", "shared"),
        ("reg.1.server.1.address", "cucm1.example.com"),
        ("reg.1.server.1.transport", "UDPOnly"),
        ("reg.1.server.2.address", "cucm2.example.com"),
        ("reg.1.fwd.busy.status", "1"),
        ("reg.1.fwd.busy.contact", "8000"),
        ("reg.1.fwdStatus", "0"),
        ("reg.3.address", ""),
        ("reg.12.address", ""),
        ("msg.mwi.1.callBack", "8000"),
        ("call.rejectBusyOnDnd", "1"),
        ("lineKey.1.category", "Line"),
        ("lineKey.2.index", "2"),
        ("lineKey.3.category", "SpeedDial"),
        ("lineKey.3.index", "1"),
        ("lineKey.4.category", "BLF"),
        ("lineKey.4.index", "1"),
        ("lineKey.5.category", "Unassigned"),
        ("attendant.resourceList.1.address", "2002"),
        ("attendant.resourceList.1.label", "Assistant"),
        // "Corporate Directory": `dir.corp.*`.
        ("feature.corporateDirectory.enabled", "1"),
        ("dir.corp.address", "dc1.example.com"),
        ("dir.corp.port", "636"),
        ("dir.corp.transport", "TLS"),
        ("dir.corp.baseDN", "ou=people,dc=example,dc=com"),
        ("dir.corp.scope", "sub"),
        ("dir.corp.user", "cn=phones,dc=example,dc=com"),
        ("dir.corp.password", "ld&p-pass"),
        ("dir.corp.attribute.1.name", "sn"),
        ("dir.corp.attribute.1.type", "last_name"),
        ("dir.corp.attribute.2.name", "givenName"),
        ("dir.corp.attribute.3.name", "telephoneNumber"),
        ("dir.corp.attribute.3.type", "phone_number"),
    ] {
        assert_eq!(setting(&s, k, &text), want, "{k}");
    }
    assert!(
        !s.iter().any(|(k, _)| k == "reg.13.address"),
        "12 lines on a VVX 450"
    );

    let bytes = render(&r, &v, "0004f2abcdef-sip.cfg");
    check("0004f2abcdef-sip.cfg", &bytes);
    let text = String::from_utf8(bytes).unwrap();
    let s = polycom_settings(&text);
    for (k, want) in [
        ("device.set", "1"),
        ("device.prov.serverType", "2"),
        ("device.prov.serverName", "dialtone.example.com:6970"),
        ("device.prov.user", "0004f2abcdef"),
        ("device.prov.password", "Ph0ne-pass.1"),
        ("prov.polling.enabled", "1"),
        ("prov.polling.period", "1800"),
        ("voIpProt.SIP.specialEvent.checkSync.alwaysReboot", "0"),
    ] {
        assert_eq!(setting(&s, k, &text), want, "{k}");
    }

    let bytes = render(&r, &v, "0004f2abcdef-directory.xml");
    check("0004f2abcdef-directory.xml", &bytes);
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains("<fn>Home</fn>")
            && text.contains("<ct>5550100</ct>")
            && text.contains("<sd>1</sd>"),
        "{text}"
    );
}

/// Snom service wiki:
/// - "Auto Provisioning" / "XML Provisioning": `<setting-files>` lists the files the phone
///   reads, `{mac}` in a URL standing for its MAC; a settings file is `<settings>` with
///   `<phone-settings e="2">` and `<functionKeys e="2">`, each setting's `perm` R (read only)
///   or RW, per-identity settings with `idx`.
/// - Settings `user_name`, `user_pname`, `user_pass`, `user_host`, `user_outbound`
///   (`host:port;transport=…`, a comma between servers), `user_shared_line`, `user_mailbox`,
///   `dnd_mode`, `redirect_allways`/`redirect_number`, `redirect_on_busy`,
///   `redirect_on_timeout`, `setting_server`, `update_policy`, `settings_refresh_timer`;
///   "Function Key Types": `line`, `speed <number>`, `blf <sip:user@host>`, `none`.
#[test]
fn snom_files() {
    let r = Renderer::builtin();
    let mut v = vendor_view("D785", "000413922D24");
    v.expansion_modules = vec!["D7".into()];
    assert_eq!(v.files(), vec!["snomD785.htm", "000413922D24.xml"]);
    let first = render(&r, &v, "snomD785.htm");
    check("snomD785.htm", &first);
    assert!(String::from_utf8(first)
        .unwrap()
        .contains("<file url=\"http://dialtone.example.com:6970/{mac}.xml\"/>"));

    let bytes = render(&r, &v, "000413922d24.xml");
    check("000413922D24.xml", &bytes);
    let text = String::from_utf8(bytes).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let get = |tag: &str, idx: Option<&str>| {
        doc.descendants()
            .find(|n| n.has_tag_name(tag) && n.attribute("idx") == idx)
            .unwrap_or_else(|| panic!("<{tag} idx={idx:?}> missing:\n{text}"))
            .text()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(
        get("setting_server", None),
        "http://000413922d24:Ph0ne-pass.1@dialtone.example.com:6970/snomD785.htm"
    );
    assert_eq!(get("settings_refresh_timer", None), "1800");
    assert_eq!(get("update_policy", None), "auto_update");
    for (tag, idx, want) in [
        ("user_name", "1", "2000"),
        ("user_pname", "1", "jsmith"),
        ("user_pass", "1", "s1p&<secret>"),
        ("user_realname", "1", "John Smith"),
        ("user_host", "1", "cucm1.example.com:5060"),
        (
            "user_outbound",
            "1",
            "cucm1.example.com:5060;transport=udp,cucm2.example.com:5060;transport=udp",
        ),
        ("user_shared_line", "1", "off"),
        ("user_shared_line", "2", "on"),
        ("user_mailbox", "1", "8000"),
        ("dnd_mode", "1", "on"),
        ("user_active", "3", "off"),
        ("user_active", "12", "off"),
    ] {
        assert_eq!(get(tag, Some(idx)), want, "{tag} {idx}");
    }
    assert_eq!(get("redirect_allways", None), "off");
    assert_eq!(get("redirect_on_busy", None), "on");
    assert_eq!(get("redirect_busy_number", None), "8000");
    for (tag, want) in [
        ("ldap_server", "dc1.example.com"),
        ("ldap_port", "636"),
        ("ldap_base", "ou=people,dc=example,dc=com"),
        ("ldap_username", "cn=phones,dc=example,dc=com"),
        ("ldap_password", "ld&p-pass"),
        ("ldap_search_filter", "(|(givenName=%)(sn=%))"),
        ("ldap_number_filter", "(|(telephoneNumber=%)(mobile=%))"),
    ] {
        assert_eq!(get(tag, None), want, "{tag}");
    }
    let fkey = |idx: &str| {
        let n = doc
            .descendants()
            .find(|n| n.has_tag_name("fkey") && n.attribute("idx") == Some(idx))
            .unwrap_or_else(|| panic!("fkey {idx} missing"));
        (
            n.attribute("context").unwrap().to_string(),
            n.text().unwrap_or("").to_string(),
        )
    };
    assert_eq!(fkey("0"), ("1".into(), "line".into()));
    assert_eq!(fkey("1"), ("2".into(), "line".into()));
    assert_eq!(fkey("2"), ("active".into(), "speed 5550100".into()));
    assert_eq!(
        fkey("3"),
        ("active".into(), "blf <sip:2002@cucm1.example.com>".into())
    );
    assert_eq!(fkey("41").1, "none", "24 keys and a D7's 18");
    assert!(
        !doc.descendants()
            .any(|n| n.has_tag_name("fkey") && n.attribute("idx") == Some("42")),
        "{text}"
    );
}

/// Grandstream, "GXP21xx Administration Guide", "Provisioning": the phone asks for
/// `cfg<MAC>` then `cfg<MAC>.xml`, "the configuration file name should be in lower case
/// letters"; the XML form is `<gs_provision version="1">` with the phone's `<mac>` and
/// `<config version="1">` of P-values, each named in the firmware's configuration template
/// (1.0.9.127): P271/P401/P501/P601/P1701/P1801 Account Active, P47/P402/… SIP Server,
/// P2312/P2412/… Secondary SIP Server, P35 SIP User ID, P36 Authenticate ID, P34 Password,
/// P3 Name, P270 Account Name, P33 Voice Mail Access Number, P130 SIP Transport; P212 Config
/// Via, P237 Config Server Path, P1360/P1361 Config HTTP/HTTPS User Name/Password, P194
/// Automatic Upgrade (1: every P193 minutes, 60 to 86400); VPK 1-6 mode/account/description/
/// value at P1363/P1364/P1465/P1466 (+2 each), VPK 7 on at P23800.. in fours; a fixed VPK's
/// mode is 0 its account, 1 shared line, 10 speed dial, 11 BLF, a dynamic one's 0 speed dial,
/// 1 BLF, -1 none.
#[test]
fn grandstream_files() {
    let r = Renderer::builtin();
    let mut v = vendor_view("GXP2170", "000B82AABBCC");
    v.speed_dials[1].button = 20;
    assert_eq!(v.files(), vec!["cfg000b82aabbcc.xml"]);
    let bytes = render(&r, &v, "cfg000B82AABBCC.xml");
    check("cfg000b82aabbcc.xml", &bytes);
    let text = String::from_utf8(bytes).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(
        doc.descendants()
            .find(|n| n.has_tag_name("mac"))
            .and_then(|n| n.text()),
        Some("000b82aabbcc")
    );
    let p = |n: u32| {
        let tag = format!("P{n}");
        doc.descendants()
            .find(|e| e.has_tag_name(tag.as_str()))
            .map(|e| e.text().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("{tag} missing:\n{text}"))
    };
    for (n, want) in [
        (212, "1"),
        (237, "dialtone.example.com:6970"),
        (1360, "000b82aabbcc"),
        (1361, "Ph0ne-pass.1"),
        (194, "1"),
        (193, "60"),
        (271, "1"),
        (47, "cucm1.example.com:5060"),
        (2312, "cucm2.example.com:5060"),
        (35, "2000"),
        (36, "jsmith"),
        (34, "s1p&<secret>"),
        (3, "John Smith"),
        (270, "John Smith - 2000"),
        (33, "8000"),
        (130, "0"),
        (401, "1"),
        (404, "2001"),
        (501, "0"),
        (1801, "0"),
        // VPK 1 and 2: the accounts (the second shared), 3 a speed dial, 4 none.
        (1363, "0"),
        (1364, "0"),
        (1365, "1"),
        (1366, "1"),
        (1367, "10"),
        (1470, "5550100"),
        (1469, "Home"),
        (1369, "-1"),
        // VPK 20, dynamic: a BLF at 23800 + 4 × 13.
        (23852, "1"),
        (23854, "Assistant"),
        (23855, "2002"),
        // Directory / LDAP: P8020 server to P8030 display name.
        (8020, "dc1.example.com"),
        (8021, "636"),
        (8022, "ou=people,dc=example,dc=com"),
        (8023, "cn=phones,dc=example,dc=com"),
        (8024, "ld&p-pass"),
        (8025, "(|(telephoneNumber=%)(mobile=%))"),
        (8026, "(|(givenName=%)(sn=%))"),
        (8028, "givenName sn"),
        (8030, "displayName"),
    ] {
        assert_eq!(p(n), want, "P{n}");
    }
    assert_eq!(p(23800 + 4 * (48 - 7)), "-1", "48 keys on a GXP2170");
}

/// An operator's template of a vendor's file is used as Cisco ones are: with the same names in
/// the context, each a file of its own; one that fails falls back to the built-in and says so.
#[test]
fn operator_templates_of_other_vendors() {
    let (r, problems) = Renderer::with_sources([
        (
            "yealink-common.cfg.j2".to_string(),
            "#!version:1.0.0.1\nlocal_time.ntp_server1 = ntp.example.com\n".to_string(),
        ),
        (
            "yealink-device.cfg.j2".to_string(),
            "#!version:1.0.0.1\n{% for a in d.accounts %}account.{{ a.n }}.label = {{ a.label }}\n{% endfor %}".to_string(),
        ),
        (
            "snom-device.xml.j2".to_string(),
            "<settings>{{ d.no_such_field.x }}</settings>".to_string(),
        ),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
    let mut v = vendor_view("T46U", "805EC0112233");
    v.lines[0].label = "Desk\nstatic.security.user_password = admin:x".into();
    let common = r.render(&v, "y000000000108.cfg").unwrap().unwrap();
    assert_eq!(
        String::from_utf8(common.bytes).unwrap(),
        "#!version:1.0.0.1\nlocal_time.ntp_server1 = ntp.example.com\n"
    );
    let own = String::from_utf8(r.render(&v, "805ec0112233.cfg").unwrap().unwrap().bytes).unwrap();
    assert_eq!(
        own,
        "#!version:1.0.0.1\naccount.1.label = Deskstatic.security.user_password = admin:x\naccount.2.label = Reception - 2001\n",
        "an operator's Yealink template is escaped as the built-in one: no line of its own"
    );
    let s = vendor_view("D785", "000413922D24");
    let dialtone_render::Rendered { bytes, fallback } =
        r.render(&s, "000413922D24.xml").unwrap().unwrap();
    assert!(String::from_utf8(bytes)
        .unwrap()
        .contains("<user_name idx=\"1\""));
    assert_eq!(fallback.expect("reported").template, "snom-device.xml.j2");
}

/// Grandstream GRP261x: the same files as a GXP's, their settings by name (the configuration
/// template's items: `account.N.sip.userid`, `…subscriber.userid`/`password`/`name`,
/// `…sip.server.1.address`, `…sip.transport` UDP/TCP/TlsOrTcp; `pks.vpk.N.keyMode` Line,
/// SharedLine, SpeedDial, BLF or None with `.account` 0 for Account1; `provisioning.config.*`,
/// `provisioning.auto.mode` YesUpgradeMin and `.minute`; `ldap.*`), `<config version="2">`.
#[test]
fn grandstream_grp_files() {
    let r = Renderer::builtin();
    let v = vendor_view("GRP2614", "C074AD0B63EE");
    assert_eq!(v.files(), vec!["cfgc074ad0b63ee.xml"]);
    let bytes = render(&r, &v, "cfgc074ad0b63ee.xml");
    check("cfgc074ad0b63ee.xml", &bytes);
    let text = String::from_utf8(bytes).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(
        doc.descendants()
            .find(|n| n.has_tag_name("config"))
            .and_then(|n| n.attribute("version")),
        Some("2")
    );
    let item = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("item") && n.attribute("name") == Some(name))
            .map(|n| n.text().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
    };
    for (name, want) in [
        ("provisioning.config.protocol", "HTTP"),
        (
            "provisioning.config.serverPath",
            "dialtone.example.com:6970",
        ),
        ("provisioning.config.username", "c074ad0b63ee"),
        ("provisioning.config.password", "Ph0ne-pass.1"),
        ("provisioning.auto.mode", "YesUpgradeMin"),
        ("provisioning.auto.minute", "60"),
        ("account.1.enable", "Yes"),
        ("account.1.sip.userid", "2000"),
        ("account.1.sip.subscriber.userid", "jsmith"),
        ("account.1.sip.subscriber.password", "s1p&<secret>"),
        ("account.1.sip.server.1.address", "cucm1.example.com:5060"),
        ("account.1.sip.transport", "UDP"),
        ("account.3.enable", "No"),
        ("account.4.enable", "No"),
        ("pks.vpk.1.keyMode", "Line"),
        ("pks.vpk.2.keyMode", "SharedLine"),
        ("pks.vpk.2.account", "1"),
        ("pks.vpk.3.keyMode", "SpeedDial"),
        ("pks.vpk.3.value", "5550100"),
        ("pks.vpk.4.keyMode", "BLF"),
        ("pks.vpk.5.keyMode", "None"),
        ("ldap.protocol", "LDAPS"),
        ("ldap.server", "dc1.example.com"),
        ("ldap.ldapNameFilter", "(|(givenName=%)(sn=%))"),
    ] {
        assert_eq!(item(name), want, "{name}");
    }
    assert!(
        !doc.descendants()
            .any(|n| n.attribute("name") == Some("account.5.enable")),
        "a GRP2614 registers 4 lines"
    );
}
