//! How other vendors' phones ask for their files, as their guides tell (docs/phones.md has a
//! section per vendor), and what they take from them: the next files, the SIP credential a
//! NOTIFY is checked against, the HTTP credential they send from then on, how often they
//! resync. This is the phone side: it reads the files as the phone would, not as Dialtone
//! writes them.

use crate::phone::Family;

/// One file a phone asks for, and what it does when the server has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub file: String,
    pub on_missing: Missing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// It goes on (a file it tries first: Yealink's boot file, Grandstream's binary one).
    Skip,
    /// It asks for this file instead (Poly: the common master after its own).
    Instead(String),
    /// The resync failed.
    Fail,
}

impl Step {
    fn needed(file: impl Into<String>) -> Step {
        Step {
            file: file.into(),
            on_missing: Missing::Fail,
        }
    }
}

/// What a phone learned from a file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Learned {
    /// Files it asks for next, in order.
    pub next: Vec<Step>,
    pub sip_credential: Option<(String, String)>,
    pub http_credential: Option<(String, String)>,
    /// Its periodic resync, in seconds (0: none).
    pub periodic_secs: Option<u64>,
}

/// The User-Agent its HTTP requests carry.
pub fn user_agent(family: Family, model: &str, mac: &str) -> String {
    let lower = mac.to_ascii_lowercase();
    match family {
        Family::Yealink => {
            let colons: Vec<&str> = (0..6).map(|i| &lower[2 * i..2 * i + 2]).collect();
            format!("Yealink SIP-{model} 108.86.0.90 {}", colons.join(":"))
        }
        Family::Polycom => {
            let digits = model.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            format!("FileTransport PolycomVVX-VVX_{digits}-UA/5.9.5.0614 Type/Application")
        }
        Family::Grandstream => {
            format!("Grandstream Model HW {model} SW 1.0.9.135 DevId {lower}")
        }
        Family::Snom => format!(
            "Mozilla/4.0 (compatible; snom{model}-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {} SXM:0 UXM:0)",
            mac.to_ascii_uppercase()
        ),
        Family::Mpp | Family::Enterprise => String::new(),
    }
}

/// The file that is the phone's own (its lines and credentials).
pub fn own_file(family: Family, mac: &str) -> String {
    let lower = mac.to_ascii_lowercase();
    match family {
        Family::Yealink => format!("{lower}.cfg"),
        Family::Polycom => format!("{lower}-phone1.cfg"),
        Family::Grandstream => format!("cfg{lower}.xml"),
        Family::Snom => format!("{}.xml", mac.to_ascii_uppercase()),
        Family::Mpp => format!("{lower}.xml"),
        Family::Enterprise => format!("SEP{}.cnf.xml", mac.to_ascii_uppercase()),
    }
}

/// What a phone asks for first at each resync. `files` are its model's files in the catalogue
/// (a Yealink's common file is the first).
pub fn first_steps(family: Family, model: &str, mac: &str, files: &[String]) -> Vec<Step> {
    let lower = mac.to_ascii_lowercase();
    match family {
        // Firmware 81 and later: the boot file, then the common and own CFG files.
        Family::Yealink => vec![
            Step {
                file: "y000000000000.boot".into(),
                on_missing: Missing::Skip,
            },
            Step::needed(files.first().cloned().unwrap_or_default()),
            Step::needed(format!("{lower}.cfg")),
        ],
        // Its own master file, else the common one; the master names the rest.
        Family::Polycom => vec![Step {
            file: format!("{lower}.cfg"),
            on_missing: Missing::Instead("000000000000.cfg".into()),
        }],
        // The binary file, then the XML one.
        Family::Grandstream => vec![
            Step {
                file: format!("cfg{lower}"),
                on_missing: Missing::Skip,
            },
            Step::needed(format!("cfg{lower}.xml")),
        ],
        // Its setting URL names the first file, which lists the rest.
        Family::Snom => vec![Step::needed(format!("snom{model}.htm"))],
        Family::Mpp | Family::Enterprise => Vec::new(),
    }
}

/// What the phone takes from `file`.
pub fn learn(family: Family, text: &str, mac: &str) -> Learned {
    match family {
        Family::Yealink => yealink(text),
        Family::Polycom => polycom(text, mac),
        Family::Grandstream => grandstream(text),
        Family::Snom => snom(text, mac),
        Family::Mpp | Family::Enterprise => Learned::default(),
    }
}

fn yealink(text: &str) -> Learned {
    let mut values = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            values.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    let get = |k: &str| {
        values
            .get(k)
            .filter(|v| !v.is_empty() && *v != "%NULL%")
            .cloned()
    };
    Learned {
        next: Vec::new(),
        sip_credential: get("account.1.auth_name").zip(get("account.1.password")),
        http_credential: get("static.auto_provision.server.username")
            .zip(get("static.auto_provision.server.password")),
        periodic_secs: match get("static.auto_provision.repeat.enable").as_deref() {
            Some("0") => Some(0),
            Some(_) => get("static.auto_provision.repeat.minutes")
                .and_then(|m| m.parse::<u64>().ok())
                .map(|m| m * 60),
            None => None,
        },
    }
}

/// Every attribute of every element of an XML text.
fn attributes(text: &str) -> Vec<(String, String)> {
    roxmltree::Document::parse(text)
        .map(|doc| {
            doc.descendants()
                .flat_map(|n| n.attributes())
                .map(|a| (a.name().to_string(), a.value().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn polycom(text: &str, mac: &str) -> Learned {
    let attrs = attributes(text);
    let get = |k: &str| {
        attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let mut learned = Learned {
        sip_credential: get("reg.1.auth.userId").zip(get("reg.1.auth.password")),
        http_credential: get("device.prov.user").zip(get("device.prov.password")),
        periodic_secs: match get("prov.polling.enabled").as_deref() {
            Some("0") => Some(0),
            Some(_) => get("prov.polling.period").and_then(|p| p.parse().ok()),
            None => None,
        },
        ..Default::default()
    };
    // A master file: the files its CONFIG_FILES names, then the phone's contact directory.
    if let Some(list) = get("CONFIG_FILES") {
        let lower = mac.to_ascii_lowercase();
        learned.next = list
            .split(',')
            .map(|f| f.trim().replace("[PHONE_MAC_ADDRESS]", &lower))
            .filter(|f| !f.is_empty())
            .map(Step::needed)
            .collect();
        learned.next.push(Step {
            file: format!("{lower}-directory.xml"),
            on_missing: Missing::Skip,
        });
    }
    learned
}

fn grandstream(text: &str) -> Learned {
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return Learned::default();
    };
    // A GRP's settings by name (configuration version 2).
    let item = |name: &str| {
        doc.descendants()
            .find(|e| e.has_tag_name("item") && e.attribute("name") == Some(name))
            .and_then(|e| e.text())
            .map(str::to_string)
            .filter(|v| !v.is_empty())
    };
    if item("provisioning.config.protocol").is_some() {
        return Learned {
            next: Vec::new(),
            sip_credential: item("account.1.sip.subscriber.userid")
                .or_else(|| item("account.1.sip.userid"))
                .zip(item("account.1.sip.subscriber.password")),
            http_credential: item("provisioning.config.username")
                .zip(item("provisioning.config.password")),
            periodic_secs: match item("provisioning.auto.mode").as_deref() {
                Some("YesUpgradeMin") => item("provisioning.auto.minute")
                    .and_then(|m| m.parse::<u64>().ok())
                    .map(|m| m * 60),
                _ => Some(0),
            },
        };
    }
    let p = |n: u32| {
        let tag = format!("P{n}");
        doc.descendants()
            .find(|e| e.has_tag_name(tag.as_str()))
            .and_then(|e| e.text())
            .map(str::to_string)
            .filter(|v| !v.is_empty())
    };
    Learned {
        next: Vec::new(),
        sip_credential: p(36).or_else(|| p(35)).zip(p(34)),
        http_credential: p(1360).zip(p(1361)),
        periodic_secs: match p(194).as_deref() {
            Some("1") => p(193).and_then(|m| m.parse::<u64>().ok()).map(|m| m * 60),
            Some(_) => Some(0),
            None => None,
        },
    }
}

fn snom(text: &str, mac: &str) -> Learned {
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return Learned::default();
    };
    let root = doc.root_element();
    if root.has_tag_name("setting-files") {
        let upper = mac.to_ascii_uppercase();
        return Learned {
            next: root
                .children()
                .filter(|n| n.has_tag_name("file"))
                .filter_map(|n| n.attribute("url"))
                .map(|u| u.replace("{mac}", &upper))
                .map(|u| Step::needed(u.rsplit('/').next().unwrap_or_default()))
                .collect(),
            ..Default::default()
        };
    }
    let get = |tag: &str, idx: Option<&str>| {
        doc.descendants()
            .find(|n| n.has_tag_name(tag) && n.attribute("idx") == idx)
            .and_then(|n| n.text())
            .map(str::to_string)
            .filter(|v| !v.is_empty())
    };
    // `http://user:password@host/…`: the credential the phone sends.
    let http_credential = get("setting_server", None).and_then(|url| {
        let rest = url.split_once("://")?.1;
        let (userinfo, _) = rest.split_once('@')?;
        let (u, p) = userinfo.split_once(':')?;
        Some((percent_decode(u), percent_decode(p)))
    });
    Learned {
        next: Vec::new(),
        sip_credential: get("user_pname", Some("1")).zip(get("user_pass", Some("1"))),
        http_credential,
        periodic_secs: get("settings_refresh_timer", None).and_then(|s| s.parse().ok()),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_undoes_what_a_url_needs() {
        assert_eq!(percent_decode("Ph0ne%40pass%23.1"), "Ph0ne@pass#.1");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("end%4"), "end%4");
    }

    #[test]
    fn a_poly_master_names_the_next_files() {
        let l = learn(
            Family::Polycom,
            r#"<?xml version="1.0"?><APPLICATION CONFIG_FILES="[PHONE_MAC_ADDRESS]-phone1.cfg, [PHONE_MAC_ADDRESS]-sip.cfg"/>"#,
            "0004F2ABCDEF",
        );
        let files: Vec<&str> = l.next.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(
            files,
            vec![
                "0004f2abcdef-phone1.cfg",
                "0004f2abcdef-sip.cfg",
                "0004f2abcdef-directory.xml"
            ]
        );
    }
}
