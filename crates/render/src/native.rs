//! The built-in templates written out as Rust: the same bytes as `templates/*.j2` rendered by
//! minijinja, about ten times faster (BENCHMARKS.md, "Phone files from the store"). A phone
//! file is rendered for every phone a change reaches and for every cold request of a boot
//! storm, and the template engine's interpretation was half the cost of a file. The `.j2`
//! files stay the reference: operators copy and override them (an overridden template is
//! rendered by minijinja), and `tests::native_matches_the_templates` renders many views both
//! ways and compares them byte for byte.

use crate::view::{DefaultView, DeviceView, LineView, Server};
use crate::{xml_escape, STAMP};
use model::soft_client::{ClientFile, ClientServer};
use model::{DeviceFamily, DndMode, SecurityMode};
use std::fmt::Write;

/// Text as the templates print a value: XML-escaped.
fn t(out: &mut String, s: &str) {
    xml_escape(s, out);
}

/// A number as the templates print it.
fn n(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

fn members(out: &mut String, servers: &[Server], indent: &str, sccp: bool) {
    for (i, s) in servers.iter().enumerate() {
        out.push('\n');
        out.push_str(indent);
        out.push_str("<member priority=\"");
        n(out, i);
        out.push_str("\">\n");
        out.push_str(indent);
        out.push_str("  <callManager>\n");
        out.push_str(indent);
        out.push_str("    <ports>\n");
        if sccp {
            out.push_str(indent);
            out.push_str("      <ethernetPhonePort>");
            n(out, s.sccp_port);
            out.push_str("</ethernetPhonePort>\n");
        }
        out.push_str(indent);
        out.push_str("      <sipPort>");
        n(out, s.sip_port);
        out.push_str("</sipPort>\n");
        out.push_str(indent);
        out.push_str("      <securedSipPort>");
        n(out, s.secure_sip_port);
        out.push_str("</securedSipPort>\n");
        out.push_str(indent);
        out.push_str("    </ports>\n");
        out.push_str(indent);
        out.push_str("    <processNodeName>");
        t(out, &s.host);
        out.push_str("</processNodeName>\n");
        out.push_str(indent);
        out.push_str("  </callManager>\n");
        out.push_str(indent);
        out.push_str("</member>");
    }
}

/// `<tag>value</tag>` on a line of its own at `indent`, the value escaped.
fn el(out: &mut String, indent: &str, tag: &str, value: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(tag);
    out.push('>');
    t(out, value);
    out.push_str("</");
    out.push_str(tag);
    out.push_str(">\n");
}

fn el_n(out: &mut String, indent: &str, tag: &str, value: impl std::fmt::Display) {
    out.push_str(indent);
    out.push('<');
    out.push_str(tag);
    out.push('>');
    n(out, value);
    out.push_str("</");
    out.push_str(tag);
    out.push_str(">\n");
}

fn security_code(m: Option<SecurityMode>) -> u8 {
    match m {
        None | Some(SecurityMode::NonSecure) => 1,
        Some(SecurityMode::Authenticated) => 2,
        Some(SecurityMode::Encrypted) => 3,
    }
}

fn dnd_code(d: DndMode) -> u8 {
    match d {
        DndMode::Off => 0,
        DndMode::RingerOff => 1,
        DndMode::CallReject => 2,
    }
}

/// `enterprise.cnf.xml.j2`.
pub(crate) fn enterprise(v: &DeviceView) -> String {
    let mut o = String::with_capacity(2_600);
    o.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device>\n  <fullConfig>true</fullConfig>\n",
    );
    el(&mut o, "  ", "deviceProtocol", &v.protocol);
    o.push_str("  <devicePool>\n");
    el(&mut o, "    ", "name", &v.device_pool);
    o.push_str("    <callManagerGroup>\n      <members>");
    members(&mut o, &v.servers, "        ", true);
    o.push_str("\n      </members>\n    </callManagerGroup>\n  </devicePool>");
    if v.protocol == "SIP" {
        o.push_str("\n  <sipProfile>\n    <sipProxies>\n      <registerWithProxy>true</registerWithProxy>\n    </sipProxies>\n    <sipCallFeatures>\n      <cnfJoinEnabled>true</cnfJoinEnabled>\n");
        el_n(&mut o, "      ", "dndControl", dnd_code(v.dnd));
        o.push_str("      <remoteCcEnable>true</remoteCcEnable>\n    </sipCallFeatures>\n");
        el(&mut o, "    ", "phoneLabel", &v.description);
        o.push_str("    <sipLines>");
        let port = v.servers.first().map_or(5060, |s| s.sip_port);
        for (i, l) in v.lines.iter().enumerate() {
            o.push_str("\n      <line button=\"");
            n(&mut o, l.button);
            o.push_str("\" lineIndex=\"");
            n(&mut o, i + 1);
            o.push_str("\">\n        <featureID>9</featureID>\n");
            el(&mut o, "        ", "featureLabel", &l.label);
            o.push_str("        <proxy>USECALLMANAGER</proxy>\n");
            el_n(&mut o, "        ", "port", port);
            line_body(&mut o, l, true);
            o.push_str("      </line>");
        }
        for sd in &v.speed_dials {
            o.push_str("\n      <line button=\"");
            n(&mut o, sd.button);
            // Speed dial 2, speed dial with busy lamp field 21 (CUCM's feature IDs).
            o.push_str(if sd.blf {
                "\">\n        <featureID>21</featureID>\n"
            } else {
                "\">\n        <featureID>2</featureID>\n"
            });
            el(&mut o, "        ", "featureLabel", &sd.label);
            el(&mut o, "        ", "speedDialNumber", &sd.number);
            if sd.blf {
                o.push_str("        <featureOptionMask>0</featureOptionMask>\n");
            }
            o.push_str("      </line>");
        }
        o.push_str("\n    </sipLines>\n  </sipProfile>");
    }
    o.push_str("\n  <userLocale>\n");
    el(&mut o, "    ", "name", &v.user_locale);
    el(&mut o, "    ", "langCode", &v.user_locale_lang);
    o.push_str("  </userLocale>\n");
    el(&mut o, "  ", "networkLocale", &v.network_locale);
    el_n(
        &mut o,
        "  ",
        "deviceSecurityMode",
        security_code(v.security_mode),
    );
    el(&mut o, "  ", "directoryURL", &v.directory_url);
    el(&mut o, "  ", "servicesURL", &v.services_url);
    el_n(&mut o, "  ", "transportLayerProtocol", v.transport.code());
    o.push_str("  <addOnModules>");
    for (i, m) in v.expansion_modules.iter().enumerate() {
        o.push_str("\n    <addOnModule idx=\"");
        n(&mut o, i + 1);
        o.push_str("\">\n");
        el(&mut o, "      ", "deviceType", m);
        o.push_str("    </addOnModule>");
    }
    o.push_str("\n  </addOnModules>\n");
    el(
        &mut o,
        "  ",
        "loadInformation",
        v.load.as_deref().unwrap_or_default(),
    );
    o.push_str("  <vendorConfig>\n    <webAccess>1</webAccess>\n    <settingsAccess>1</settingsAccess>\n  </vendorConfig>\n");
    el(&mut o, "  ", "versionStamp", STAMP);
    o.push_str("</device>\n");
    o
}

/// The elements of a line both the enterprise and the soft-client files carry.
fn line_body(o: &mut String, l: &LineView, enterprise: bool) {
    el(o, "        ", "name", &l.pattern);
    el(o, "        ", "displayName", &l.display_name);
    el(o, "        ", "authName", &l.auth_name);
    el(o, "        ", "authPassword", l.auth_password.expose());
    if enterprise {
        el(
            o,
            "        ",
            "sharedLine",
            if l.shared { "true" } else { "false" },
        );
        el(o, "        ", "messagesNumber", &l.voicemail);
    }
    el(o, "        ", "contact", &l.pattern);
    el_n(o, "        ", "maxNumCalls", l.max_calls);
    el_n(o, "        ", "busyTrigger", l.busy_trigger);
}

/// `soft-client.cnf.xml.j2`.
pub(crate) fn soft_client(v: &DeviceView) -> String {
    let mut o = String::with_capacity(1_200);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device>\n  <fullConfig>true</fullConfig>\n  <deviceProtocol>SIP</deviceProtocol>\n  <tftpServers>");
    for (i, s) in v.tftp_servers.iter().enumerate() {
        o.push_str("\n    <server priority=\"");
        n(&mut o, i);
        o.push_str("\">");
        t(&mut o, s);
        o.push_str("</server>");
    }
    o.push_str("\n  </tftpServers>\n  <devicePool>\n    <callManagerGroup>\n      <members>");
    members(&mut o, &v.servers, "        ", false);
    o.push_str("\n      </members>\n    </callManagerGroup>\n  </devicePool>\n  <sipProfile>\n    <sipLines>");
    for (i, l) in v.lines.iter().enumerate() {
        o.push_str("\n      <line button=\"");
        n(&mut o, l.button);
        o.push_str("\" lineIndex=\"");
        n(&mut o, i + 1);
        o.push_str("\">\n        <featureID>9</featureID>\n");
        line_body(&mut o, l, false);
        o.push_str("      </line>");
    }
    o.push_str("\n    </sipLines>\n  </sipProfile>\n");
    el_n(&mut o, "  ", "transportLayerProtocol", v.transport.code());
    if let Some(c) = &v.soft_client {
        client_file(&mut o, c);
    }
    el(&mut o, "  ", "versionStamp", STAMP);
    o.push_str("</device>\n");
    o
}

/// The `<softClient>` element of a soft client's file.
fn client_file(o: &mut String, c: &ClientFile) {
    fn opt(o: &mut String, indent: &str, tag: &str, value: &str) {
        if !value.is_empty() {
            el(o, indent, tag, value);
        }
    }
    fn servers(o: &mut String, list: &[ClientServer], protocol_tag: &str) {
        for (i, s) in list.iter().enumerate() {
            o.push_str("      <server priority=\"");
            n(o, i);
            o.push_str("\">\n");
            el(o, "        ", "host", &s.host);
            el_n(o, "        ", "port", s.port);
            el(o, "        ", protocol_tag, &s.protocol);
            o.push_str("      </server>\n");
        }
    }
    o.push_str("  <softClient>\n");
    el(o, "    ", "userId", &c.user_id);
    o.push_str("    <presence>\n");
    opt(o, "      ", "homeNode", &c.home_node);
    opt(o, "      ", "failoverNode", &c.failover_node);
    el(
        o,
        "      ",
        "instantMessaging",
        if c.instant_messaging { "true" } else { "false" },
    );
    el_n(o, "      ", "maxContactListSize", c.max_contact_list);
    o.push_str("    </presence>\n");
    if !c.proxy.is_empty() {
        o.push_str("    <proxy>\n      <listener>TCP</listener>\n");
        el(o, "      ", "server", &c.proxy);
        o.push_str("    </proxy>\n");
    }
    if !c.cti_servers.is_empty() {
        o.push_str("    <ctiGateway profile=\"");
        t(o, &c.cti_profile);
        o.push_str("\">\n");
        servers(o, &c.cti_servers, "protocol");
        el(o, "      ", "reconnectSeconds", &c.cti_reconnect);
        o.push_str("    </ctiGateway>\n");
    }
    if let Some(l) = &c.ldap {
        o.push_str("    <ldap profile=\"");
        t(o, &l.profile);
        o.push_str("\">\n");
        servers(o, &l.servers, "security");
        el(
            o,
            "      ",
            "anonymousBind",
            if l.anonymous_bind { "true" } else { "false" },
        );
        opt(o, "      ", "bindDN", &l.bind_dn);
        o.push_str("      <searchBase recursive=\"");
        o.push_str(if l.recursive { "true" } else { "false" });
        o.push_str("\">");
        t(o, &l.search_base);
        o.push_str("</searchBase>\n      <attributeMap>\n");
        for a in &l.attributes {
            o.push_str("        <attribute field=\"");
            t(o, &a.field);
            o.push_str("\">");
            t(o, &a.attribute);
            o.push_str("</attribute>\n");
        }
        o.push_str("      </attributeMap>\n    </ldap>\n");
    }
    if !c.dial_rules.is_empty() {
        o.push_str("    <dialRules>\n");
        for r in &c.dial_rules {
            o.push_str("      <rule kind=\"");
            o.push_str(r.kind.as_str());
            o.push_str("\" priority=\"");
            n(o, r.priority);
            o.push_str("\">\n");
            el(o, "        ", "beginsWith", &r.begins_with);
            el_n(o, "        ", "numberOfDigits", r.number_of_digits);
            el_n(o, "        ", "digitsRemoved", r.digits_removed);
            el(o, "        ", "prefix", &r.prefix);
            o.push_str("      </rule>\n");
        }
        o.push_str("    </dialRules>\n");
    }
    opt(o, "    ", "voicemailProfile", &c.voicemail_profile);
    opt(o, "    ", "conferencingProfile", &c.conferencing_profile);
    o.push_str("  </softClient>\n");
}

/// `mpp-device.xml.j2`: the `<flat-profile>` of an MPP phone.
pub(crate) fn mpp_device(v: &DeviceView) -> String {
    let mut o = String::with_capacity(3_000);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<flat-profile>");
    if v.family == DeviceFamily::Mpp {
        v.each_flat_entry(|element, ua, value| {
            o.push_str("\n  <");
            t(&mut o, element);
            o.push_str(" ua=\"");
            t(&mut o, ua);
            o.push_str("\">");
            t(&mut o, value);
            o.push_str("</");
            t(&mut o, element);
            o.push('>');
        });
    }
    o.push_str("\n</flat-profile>\n");
    o
}

/// `mpp-first-contact.xml.j2`.
pub(crate) fn first_contact(rule: &str) -> String {
    let mut o = String::with_capacity(300);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<flat-profile>\n  <Provision_Enable ua=\"na\">Yes</Provision_Enable>\n  <Resync_On_Reset ua=\"na\">Yes</Resync_On_Reset>\n  <Profile_Rule ua=\"na\">");
    t(&mut o, rule);
    o.push_str("</Profile_Rule>\n</flat-profile>\n");
    o
}

/// `xmldefault.cnf.xml.j2`.
pub(crate) fn xmldefault(v: &DefaultView) -> String {
    let mut o = String::with_capacity(900);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Default>\n  <callManagerGroup>\n    <members>");
    members(&mut o, &v.servers, "      ", true);
    o.push_str("\n    </members>\n  </callManagerGroup>\n");
    el(
        &mut o,
        "  ",
        "autoRegistration",
        if v.auto_registration { "true" } else { "false" },
    );
    el(&mut o, "  ", "versionStamp", v.version_stamp);
    o.push_str("</Default>\n");
    o
}

#[cfg(test)]
mod tests {
    use crate::view::{DefaultView, DeviceView, LineView, Server, SpeedDialView, Transport};
    use crate::Renderer;
    use model::{Catalog, DeviceFamily, DndMode, Secret, SecurityMode};

    const ODD: &[&str] = &[
        "",
        "plain",
        "a<b>&c\"d'e",
        "tab\there\u{1}\u{7f}",
        "Zoë – 東京",
    ];

    fn server(i: usize) -> Server {
        Server {
            host: format!("{}cucm{i}.example.com", ODD[i % ODD.len()]),
            sip_port: 5060 + i as u16,
            secure_sip_port: 5061,
            sccp_port: 2000,
        }
    }

    /// Views of every model, varied in every field the templates print.
    fn views() -> Vec<DeviceView> {
        let mut out = Vec::new();
        for (k, t) in Catalog::builtin().devices().enumerate() {
            for variant in 0..6usize {
                let odd = |i: usize| ODD[(k + variant + i) % ODD.len()].to_string();
                let lines = (0..variant % 4)
                    .map(|i| LineView {
                        button: i as i64 + 1,
                        pattern: format!("{}{}", 1000 + i, odd(i)),
                        display_name: odd(i + 1),
                        label: if variant == 2 {
                            String::new()
                        } else {
                            odd(i + 2)
                        },
                        auth_name: if variant == 3 {
                            String::new()
                        } else {
                            odd(i + 3)
                        },
                        auth_password: Secret::new(odd(i + 4)),
                        max_calls: 4,
                        busy_trigger: i as i64,
                        shared: i % 2 == 1,
                        voicemail: odd(i),
                        forward_all: if variant == 1 {
                            odd(i + 5)
                        } else {
                            String::new()
                        },
                        forward_busy: odd(i + 6),
                        forward_no_answer: if variant == 4 {
                            String::new()
                        } else {
                            odd(i + 7)
                        },
                    })
                    .collect();
                out.push(DeviceView {
                    name: format!("SEP00562B0{k:05X}"),
                    mac: (variant != 5).then(|| format!("00562B0{k:05X}")),
                    model: t.model.clone(),
                    family: t.family,
                    psn: t.psn.clone(),
                    file_patterns: t.files.clone(),
                    protocol: if variant % 2 == 0 { "SIP" } else { "SCCP" }.into(),
                    description: odd(0),
                    device_pool: odd(1),
                    user_locale: odd(2),
                    user_locale_lang: "en_US".into(),
                    network_locale: odd(3),
                    servers: (0..variant % 3).map(server).collect(),
                    transport: [Transport::Udp, Transport::Tcp, Transport::Tls][variant % 3],
                    security_mode: [
                        None,
                        Some(SecurityMode::NonSecure),
                        Some(SecurityMode::Authenticated),
                        Some(SecurityMode::Encrypted),
                    ][variant % 4],
                    lines,
                    speed_dials: (0..variant % 3)
                        .map(|i| SpeedDialView {
                            button: 5 + i as i64,
                            number: odd(i),
                            label: odd(i + 1),
                            blf: i == 1,
                        })
                        .collect(),
                    services_url: odd(4),
                    directory_url: odd(5),
                    expansion_modules: (0..variant % 3).map(|_| "7914".to_string()).collect(),
                    dnd: [DndMode::Off, DndMode::RingerOff, DndMode::CallReject][variant % 3],
                    tftp_servers: (0..variant % 3).map(&odd).collect(),
                    parameters: if variant % 2 == 0 {
                        vec![
                            ("resync_periodic".into(), "7200".into()),
                            ("profile_rule".into(), odd(1)),
                        ]
                    } else {
                        Vec::new()
                    },
                    provisioning_rule: format!("http://server/{}$MA.xml", odd(2)),
                    self_provisioning_url: None,
                    soft_client: (t.family == DeviceFamily::SoftClient && variant != 1)
                        .then(|| client(variant)),
                    load: (variant % 2 == 1).then(|| odd(3)),
                    upgrade_rule: odd(4),
                    provisioning_url: "http://dialtone.example.com:6970".into(),
                    http_credential: None,
                    directory: None,
                });
            }
        }
        out
    }

    /// A soft client's extras, more or less filled in by `variant`.
    fn client(variant: usize) -> model::soft_client::ClientFile {
        use model::soft_client::{ClientAttribute, ClientFile, ClientLdap, ClientServer};
        let odd = |i: usize| ODD[(variant + i) % ODD.len()].to_string();
        let full = variant.is_multiple_of(2);
        let server = |i: usize| ClientServer {
            host: ODD[(variant + i) % ODD.len()].to_string(),
            port: 2748,
            protocol: "TCP".into(),
        };
        ClientFile {
            user_id: odd(variant),
            home_node: if full { odd(1) } else { String::new() },
            failover_node: if variant == 0 { String::new() } else { odd(2) },
            instant_messaging: full,
            max_contact_list: variant as u32 * 50,
            tftp_servers: Vec::new(),
            proxy: if full { odd(3) } else { String::new() },
            cti_profile: odd(4),
            cti_servers: (0..variant % 3).map(server).collect(),
            cti_reconnect: model::soft_client::cti_reconnect_text(),
            ldap: full.then(|| ClientLdap {
                profile: odd(5),
                servers: (0..1 + variant % 3).map(server).collect(),
                anonymous_bind: variant == 0,
                bind_dn: if variant == 0 { String::new() } else { odd(6) },
                search_base: odd(7),
                recursive: variant == 2,
                attributes: (0..variant)
                    .map(|i| ClientAttribute {
                        field: odd(i),
                        attribute: odd(i + 1),
                    })
                    .collect(),
            }),
            dial_rules: (0..variant % 3)
                .map(|i| model::dial_rules::DialRuleSpec {
                    name: odd(i),
                    kind: if i == 0 {
                        model::dial_rules::DialRuleKind::Application
                    } else {
                        model::dial_rules::DialRuleKind::DirectoryLookup
                    },
                    begins_with: odd(i + 1),
                    number_of_digits: 7 + i as u32,
                    digits_removed: i as u32,
                    prefix: odd(i + 2),
                    priority: 1 + i as u32,
                    ..Default::default()
                })
                .collect(),
            voicemail_profile: if full { odd(8) } else { String::new() },
            conferencing_profile: if variant == 3 { odd(9) } else { String::new() },
        }
    }

    #[test]
    fn native_matches_the_templates() {
        let (native, jinja) = (Renderer::builtin(), Renderer::interpreted());
        let mut files = 0;
        for v in views() {
            for f in v.files() {
                let a = native.render(&v, &f).unwrap().unwrap();
                let b = jinja.render(&v, &f).unwrap().unwrap();
                assert!(a.fallback.is_none() && b.fallback.is_none());
                assert_eq!(
                    String::from_utf8(a.bytes).unwrap(),
                    String::from_utf8(b.bytes).unwrap(),
                    "{} {f}",
                    v.model
                );
                files += 1;
            }
        }
        assert!(files > 100, "{files} files compared");
        for servers in [0, 1, 3] {
            for auto in [true, false] {
                let d = DefaultView::new((0..servers).map(server).collect(), auto);
                assert_eq!(
                    native.render_default(&d).unwrap().bytes,
                    jinja.render_default(&d).unwrap().bytes
                );
            }
        }
        for rule in ODD {
            assert_eq!(
                native.render_first_contact(rule).unwrap().bytes,
                jinja.render_first_contact(rule).unwrap().bytes
            );
        }
    }
}
