//! The provisioning (resync) parameters of 7800/8800 multiplatform phones (docs/phones.md, "Profile
//! rules and resync (MPP)"): each with its web field name, its seed default and its rule; and how
//! layered parameter profiles (system, device pool, model, device) resolve into what one phone
//! gets.
//!
//! Values are kept as the phone's web page shows them (`Yes`/`No`, numbers, text).

use crate::profile_rule::ProfileRule;
use crate::Invalid;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Yes` or `No`.
    Bool,
    /// Whole seconds, 0 to the maximum.
    Seconds,
    /// Resync Random Delay: units of 20 seconds; 0 disables.
    Units20,
    /// Resync At (HHmm): empty, or a valid time; an invalid one is kept but ignored.
    HhMm,
    /// Resync At Random Delay: seconds; 0 disables, under 600 means 600, rounded up to minutes.
    AtRandomDelay,
    /// A profile rule; empty allowed (seed 002: "If a resync is triggered and the Profile Rule
    /// is blank then the remaining Profile Rules B through D are still calculated and executed").
    Rule,
    /// A resync trigger: empty, or a conditional expression (seeds 002 and 004: the resync is
    /// triggered "when the logic equation in these parameters evaluates to TRUE").
    Trigger,
    /// DHCP options to use, in order: a comma-separated list of 66, 150, 159, 160.
    DhcpOptions,
    /// Free text (log messages with macros, resync triggers).
    Text,
}

#[derive(Debug)]
pub struct ParamDef {
    /// The API and profile key.
    pub key: &'static str,
    /// The field name on the phone's web page (the `<flat-profile>` element derives from it).
    pub web_name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
}

const MAX_SECONDS: u64 = 2_147_483_647;

/// Every provisioning parameter, in the order of the phone's page.
pub const PARAMS: &[ParamDef] = &[
    ParamDef {
        key: "provision_enable",
        web_name: "Provision Enable",
        default: "Yes",
        kind: Kind::Bool,
    },
    ParamDef {
        key: "resync_on_reset",
        web_name: "Resync On Reset",
        default: "Yes",
        kind: Kind::Bool,
    },
    ParamDef {
        key: "resync_random_delay",
        web_name: "Resync Random Delay",
        default: "2",
        kind: Kind::Units20,
    },
    ParamDef {
        key: "resync_at",
        web_name: "Resync At (HHmm)",
        default: "",
        kind: Kind::HhMm,
    },
    ParamDef {
        key: "resync_at_random_delay",
        web_name: "Resync At Random Delay",
        default: "600",
        kind: Kind::AtRandomDelay,
    },
    ParamDef {
        key: "resync_periodic",
        web_name: "Resync Periodic",
        default: "3600",
        kind: Kind::Seconds,
    },
    ParamDef {
        key: "resync_error_retry_delay",
        web_name: "Resync Error Retry Delay",
        default: "3600",
        kind: Kind::Seconds,
    },
    ParamDef {
        key: "forced_resync_delay",
        web_name: "Forced Resync Delay",
        default: "14400",
        kind: Kind::Seconds,
    },
    ParamDef {
        key: "resync_from_sip",
        web_name: "Resync From SIP",
        default: "Yes",
        kind: Kind::Bool,
    },
    ParamDef {
        key: "resync_after_upgrade_attempt",
        web_name: "Resync After Upgrade Attempt",
        default: "Yes",
        kind: Kind::Bool,
    },
    ParamDef {
        key: "resync_trigger_1",
        web_name: "Resync Trigger 1",
        default: "",
        kind: Kind::Trigger,
    },
    ParamDef {
        key: "resync_trigger_2",
        web_name: "Resync Trigger 2",
        default: "",
        kind: Kind::Trigger,
    },
    ParamDef {
        key: "resync_fails_on_fnf",
        web_name: "Resync Fails On FNF",
        default: "Yes",
        kind: Kind::Bool,
    },
    ParamDef {
        key: "profile_rule",
        web_name: "Profile Rule",
        default: "/spa$PSN.cfg",
        kind: Kind::Rule,
    },
    ParamDef {
        key: "profile_rule_b",
        web_name: "Profile Rule B",
        default: "",
        kind: Kind::Rule,
    },
    ParamDef {
        key: "profile_rule_c",
        web_name: "Profile Rule C",
        default: "",
        kind: Kind::Rule,
    },
    ParamDef {
        key: "profile_rule_d",
        web_name: "Profile Rule D",
        default: "",
        kind: Kind::Rule,
    },
    ParamDef {
        key: "dhcp_option_to_use",
        web_name: "DHCP Option To Use",
        default: "160,159,66,150",
        kind: Kind::DhcpOptions,
    },
    ParamDef {
        key: "log_request_msg",
        web_name: "Log Request Msg",
        default: "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
        kind: Kind::Text,
    },
    ParamDef {
        key: "log_success_msg",
        web_name: "Log Success Msg",
        default: "$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH",
        kind: Kind::Text,
    },
    ParamDef {
        key: "log_failure_msg",
        web_name: "Log Failure Msg",
        default: "$PN $MAC -- Resync failed: $ERR",
        kind: Kind::Text,
    },
    ParamDef {
        key: "user_configurable_resync",
        web_name: "User Configurable Resync",
        default: "Yes",
        kind: Kind::Bool,
    },
];

pub fn def(key: &str) -> Option<&'static ParamDef> {
    PARAMS.iter().find(|d| d.key == key)
}

/// The `<flat-profile>` element of a web field: spaces and `[ ] ( ) /` become `_`.
pub fn element_name(web_name: &str) -> String {
    web_name
        .chars()
        .map(|c| {
            if matches!(c, ' ' | '[' | ']' | '(' | ')' | '/') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The element of a per-line field: `Display Name` on line 2 is `Display_Name_2_`.
pub fn line_element_name(web_name: &str, line: u32) -> String {
    format!("{}_{line}_", element_name(web_name))
}

/// Checks one value; answers the value as stored (`Yes`/`No` spelled so) and any warning.
pub fn check(key: &str, value: &str) -> Result<(String, Option<Invalid>), Invalid> {
    let d = def(key).ok_or_else(|| {
        Invalid::new(
            key,
            format!(
                "`{key}` is not a provisioning parameter; they are: {}",
                PARAMS.iter().map(|d| d.key).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let v = value.trim();
    let number = |max: u64| -> Result<String, Invalid> {
        v.parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .map(|n| n.to_string())
            .ok_or_else(|| {
                Invalid::new(
                    key,
                    format!("`{value}` is not a number of seconds from 0 to {max}"),
                )
            })
    };
    match d.kind {
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" | "on" => Ok(("Yes".into(), None)),
            "no" | "false" | "0" | "off" => Ok(("No".into(), None)),
            _ => Err(Invalid::new(key, format!("`{value}` is not Yes or No"))),
        },
        Kind::Seconds | Kind::AtRandomDelay => Ok((number(MAX_SECONDS)?, None)),
        Kind::Units20 => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= 65_535)
            .map(|n| (n.to_string(), None))
            .ok_or_else(|| Invalid::new(key, format!("`{value}` is not a count of 20-second units from 0 to 65535 (2 means 40 s)"))),
        Kind::HhMm => {
            let warning = (!v.is_empty() && parse_hhmm(v).is_none()).then(|| {
                Invalid::new(key, format!("`{value}` is not a time HHmm (0000 to 2359): the phone ignores it and keeps Resync Periodic"))
            });
            Ok((v.to_string(), warning))
        }
        Kind::Rule => {
            if !v.is_empty() {
                ProfileRule::parse(key, v)?;
            }
            Ok((v.to_string(), None))
        }
        Kind::Trigger => {
            if !v.is_empty() {
                crate::trigger::parse(v).map_err(|why| {
                    Invalid::new(
                        key,
                        format!(
                            "`{value}` is not a resync trigger: {why} (a condition such as \
                             `$REGTMR1 gt 300 and $PRVTMR ge 1200`: operands $MACRO, numbers or \
                             quoted text; eq, ne, lt, le, gt, ge; and, or; parentheses)"
                        ),
                    )
                })?;
            }
            Ok((v.to_string(), None))
        }
        Kind::DhcpOptions => {
            let mut out = Vec::new();
            for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if !matches!(p, "66" | "150" | "159" | "160") || out.contains(&p) {
                    return Err(Invalid::new(key, format!("`{value}` is not a list of DHCP options from 66, 150, 159, 160, each once")));
                }
                out.push(p);
            }
            Ok((out.join(","), None))
        }
        Kind::Text => {
            if v.chars().any(char::is_control) || v.len() > 1024 {
                return Err(Invalid::new(key, "at most 1024 characters, none of them control characters"));
            }
            Ok((v.to_string(), None))
        }
    }
}

/// `HHmm` as (hours, minutes).
pub fn parse_hhmm(v: &str) -> Option<(u8, u8)> {
    if v.len() != 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (v[..2].parse::<u8>().ok()?, v[2..].parse::<u8>().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

/// Where a resolved value came from, most general first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Default,
    System(String),
    DevicePool(String),
    Model(String),
    Device(String),
}

/// The parameters one phone gets, with where each came from, what the phone will do with them,
/// and the warnings (values the phone ignores).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub values: BTreeMap<&'static str, (String, Origin)>,
    pub warnings: Vec<Invalid>,
}

/// Resolves layers of set values (most general first; a later layer wins) over the defaults.
/// Values are checked as they were when stored; a value that no longer passes is reported and
/// the default used.
pub fn resolve(layers: &[(Origin, &BTreeMap<String, String>)]) -> Resolved {
    let mut values: BTreeMap<&'static str, (String, Origin)> = PARAMS
        .iter()
        .map(|d| (d.key, (d.default.to_string(), Origin::Default)))
        .collect();
    let mut warnings = Vec::new();
    for (origin, set) in layers {
        for (k, v) in *set {
            match check(k, v) {
                Ok((v, w)) => {
                    if let Some(d) = def(k) {
                        values.insert(d.key, (v, origin.clone()));
                    }
                    warnings.extend(w);
                }
                Err(e) => warnings.push(e),
            }
        }
    }
    Resolved { values, warnings }
}

impl Resolved {
    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(|(v, _)| v.as_str()).unwrap_or("")
    }

    fn seconds(&self, key: &str) -> u64 {
        self.get(key).parse().unwrap_or(0)
    }

    fn yes(&self, key: &str) -> bool {
        self.get(key) == "Yes"
    }

    /// What the phone does with these values (docs/phones.md, "Profile rules and resync (MPP)").
    pub fn behaviour(&self) -> Behaviour {
        let resync_at = parse_hhmm(self.get("resync_at"));
        let at_random = match self.seconds("resync_at_random_delay") {
            0 => 0,
            s => s.max(600).div_ceil(60) * 60,
        };
        Behaviour {
            provision_enable: self.yes("provision_enable"),
            resync_on_reset: self.yes("resync_on_reset"),
            random_delay_secs: self.seconds("resync_random_delay") * 20,
            resync_at,
            at_random_delay_secs: if resync_at.is_some() { at_random } else { 0 },
            periodic_secs: if resync_at.is_some() {
                0
            } else {
                self.seconds("resync_periodic")
            },
            error_retry_secs: self.seconds("resync_error_retry_delay"),
            forced_resync_delay_secs: self.seconds("forced_resync_delay"),
            resync_from_sip: self.yes("resync_from_sip"),
            fails_on_fnf: self.yes("resync_fails_on_fnf"),
        }
    }
}

/// The resync behaviour the parameters give a phone. A 0 disables what the seeds say it disables:
/// the random boot delay, the periodic resync, the retry after an error (docs/phones.md, "Profile
/// rules and resync (MPP)").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Behaviour {
    pub provision_enable: bool,
    pub resync_on_reset: bool,
    /// Resync Random Delay × 20 s.
    pub random_delay_secs: u64,
    /// A valid Resync At; it disables Resync Periodic.
    pub resync_at: Option<(u8, u8)>,
    /// Resync At Random Delay, under 600 taken as 600, rounded up to whole minutes; 0 disables.
    pub at_random_delay_secs: u64,
    pub periodic_secs: u64,
    pub error_retry_secs: u64,
    pub forced_resync_delay_secs: u64,
    pub resync_from_sip: bool,
    pub fails_on_fnf: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_seeds() {
        let r = resolve(&[]);
        let b = r.behaviour();
        assert_eq!(b.random_delay_secs, 40, "the default 2 means 40 seconds");
        assert_eq!(b.periodic_secs, 3600);
        assert_eq!(b.error_retry_secs, 3600);
        assert_eq!(b.forced_resync_delay_secs, 14400);
        assert_eq!(b.resync_at, None);
        assert!(b.provision_enable && b.resync_on_reset && b.resync_from_sip && b.fails_on_fnf);
        assert_eq!(r.get("profile_rule"), "/spa$PSN.cfg");
        assert_eq!(r.get("dhcp_option_to_use"), "160,159,66,150");
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn resync_at_and_its_random_delay() {
        let s = set(&[("resync_at", "1800"), ("resync_at_random_delay", "666")]);
        let b = resolve(&[(Origin::System("default".into()), &s)]).behaviour();
        assert_eq!(b.resync_at, Some((18, 0)));
        assert_eq!(
            b.periodic_secs, 0,
            "a valid Resync At disables Resync Periodic"
        );
        assert_eq!(
            b.at_random_delay_secs, 720,
            "666 s is rounded up to 12 minutes"
        );
        let s = set(&[("resync_at", "0930"), ("resync_at_random_delay", "120")]);
        assert_eq!(
            resolve(&[(Origin::Default, &s)])
                .behaviour()
                .at_random_delay_secs,
            600,
            "under 600 is 600"
        );
        let s = set(&[("resync_at", "0930"), ("resync_at_random_delay", "0")]);
        assert_eq!(
            resolve(&[(Origin::Default, &s)])
                .behaviour()
                .at_random_delay_secs,
            0,
            "0 disables"
        );

        let s = set(&[("resync_at", "2560"), ("resync_periodic", "3665")]);
        let r = resolve(&[(Origin::Default, &s)]);
        assert_eq!(
            r.behaviour().resync_at,
            None,
            "an invalid Resync At is ignored"
        );
        assert_eq!(
            r.behaviour().periodic_secs,
            3665,
            "and Resync Periodic stays"
        );
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].message.contains("ignores it"));
    }

    #[test]
    fn the_most_specific_layer_wins_and_says_so() {
        let sys = set(&[("resync_periodic", "7200"), ("resync_random_delay", "3")]);
        let pool = set(&[("resync_periodic", "1800")]);
        let dev = set(&[("resync_random_delay", "0")]);
        let r = resolve(&[
            (Origin::System("default".into()), &sys),
            (Origin::DevicePool("DP-HQ".into()), &pool),
            (Origin::Device("SEP00562B043615".into()), &dev),
        ]);
        assert_eq!(
            r.values["resync_periodic"],
            ("1800".into(), Origin::DevicePool("DP-HQ".into()))
        );
        assert_eq!(
            r.values["resync_random_delay"],
            ("0".into(), Origin::Device("SEP00562B043615".into()))
        );
        assert_eq!(
            r.behaviour().random_delay_secs,
            0,
            "0 disables the random delay"
        );
        assert_eq!(r.values["forced_resync_delay"].1, Origin::Default);
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(check("resync_from_sip", "yes").unwrap().0, "Yes");
        assert_eq!(
            check("resync_from_sip", "maybe").unwrap_err().field,
            "resync_from_sip"
        );
        assert!(check("resync_periodic", "-1").is_err());
        assert!(check("resync_random_delay", "70000")
            .unwrap_err()
            .message
            .contains("20-second"));
        assert!(check("nope", "1")
            .unwrap_err()
            .message
            .contains("provision_enable"));
        assert!(check("profile_rule", "ftp://x/y").is_err());
        // Seed 002: "If a resync is triggered and the Profile Rule is blank then the remaining
        // Profile Rules B through D are still calculated and executed."
        assert_eq!(check("profile_rule", "").unwrap().0, "");
        assert!(check("resync_trigger_1", "$REGTMR1 gt 300 and $PRVTMR ge 1200").is_ok());
        assert!(check("resync_trigger_2", "$REGTMR1 300").is_err());
        assert_eq!(check("resync_trigger_2", "").unwrap().0, "");
        assert_eq!(check("profile_rule_b", "").unwrap().0, "");
        assert_eq!(check("dhcp_option_to_use", "66, 150").unwrap().0, "66,150");
        assert!(check("dhcp_option_to_use", "66,66").is_err());
        assert!(check("dhcp_option_to_use", "43").is_err());
    }

    #[test]
    fn element_names() {
        assert_eq!(element_name("Resync At (HHmm)"), "Resync_At__HHmm_");
        assert_eq!(element_name("Profile Rule B"), "Profile_Rule_B");
        assert_eq!(line_element_name("Display Name", 2), "Display_Name_2_");
        for d in PARAMS {
            let (v, _) = check(d.key, d.default).unwrap();
            assert_eq!(v, d.default, "{} default passes its own check", d.key);
        }
    }
}
