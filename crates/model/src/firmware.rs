//! Firmware loads (seed 000, "Device Defaults" and the phone's load; seeds 002 and 004,
//! "Upgrade Rule"): the files of a load sit in the firmware folder; a load is named by its
//! `.loads` file (`sip88xx.14-2-1MPP-0001-154.loads` is load `sip88xx.14-2-1MPP-0001-154`);
//! each model is given a load per call-control system, which a device pool or one device may
//! override.

use crate::Invalid;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The suffix of a load's manifest: a phone asks for `<load>.loads` first, then the files it
/// names.
pub const LOADS_SUFFIX: &str = ".loads";

/// The longest file name accepted in the firmware folder.
pub const MAX_NAME: usize = 128;

/// A file name the firmware folder may hold and a phone may ask for: letters, digits, `.`,
/// `-` and `_`, not starting with a dot, at most 128 characters.
pub fn check_file_name(name: &str) -> Result<(), Invalid> {
    let bad = |m: &str| Err(Invalid::new("name", format!("`{name}`: {m}")));
    if name.is_empty() {
        return bad("a firmware file needs a name");
    }
    if name.len() > MAX_NAME {
        return bad("longer than 128 characters");
    }
    if name.starts_with('.') {
        return bad("a firmware file name may not start with a dot");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return bad(&format!(
            "`{c}` is not allowed: a firmware file name has letters, digits, `.`, `-` and `_`"
        ));
    }
    Ok(())
}

/// A load's ID as phones are given it (`<loadInformation>`): its `.loads` file's name without
/// the suffix; `None` for any other file.
pub fn load_of_file(name: &str) -> Option<&str> {
    let n = name.len().checked_sub(LOADS_SUFFIX.len())?;
    (n > 0 && name[n..].eq_ignore_ascii_case(LOADS_SUFFIX)).then(|| &name[..n])
}

/// Checks a load ID as given for a model.
pub fn check_load(load: &str) -> Result<(), Invalid> {
    check_file_name(&format!("{load}{LOADS_SUFFIX}"))
        .map_err(|e| Invalid::new("load", e.message.replace(LOADS_SUFFIX, "")))
}

/// What a choice of load applies to, most general first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LoadScope {
    /// Every phone of the model on a call-control system (CUCM's Device Defaults).
    System,
    /// The phones of the model in one device pool.
    DevicePool,
    /// One phone.
    Device,
}

impl LoadScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadScope::System => "system",
            LoadScope::DevicePool => "device_pool",
            LoadScope::Device => "device",
        }
    }

    pub fn parse(s: &str) -> Option<LoadScope> {
        match s {
            "system" => Some(LoadScope::System),
            "device_pool" => Some(LoadScope::DevicePool),
            "device" => Some(LoadScope::Device),
            _ => None,
        }
    }
}

/// A load chosen for a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadChoice {
    /// The call-control system (default: the first).
    #[serde(default)]
    pub system: String,
    /// The model (`7841`, `8861`, …).
    pub model: String,
    pub scope: LoadScope,
    /// The device pool or the device; empty for the system.
    #[serde(default)]
    pub target: String,
    /// The load ID: the name of a `.loads` file in the firmware folder, without the suffix.
    pub load: String,
}

/// The choice that applies to one phone: its own, else its device pool's, else its system's.
pub fn chosen<'a>(
    choices: impl IntoIterator<Item = &'a LoadChoice>,
    device: &str,
    device_pool: &str,
) -> Option<&'a LoadChoice> {
    choices
        .into_iter()
        .filter(|c| match c.scope {
            LoadScope::System => true,
            LoadScope::DevicePool => !device_pool.is_empty() && c.target == device_pool,
            LoadScope::Device => c.target == device,
        })
        .max_by_key(|c| c.scope)
}

/// A file in the firmware folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FirmwareFile {
    pub name: String,
    pub bytes: u64,
    /// Last changed (RFC 3339, UTC).
    pub modified: String,
    /// The load it is the manifest of, for a `.loads` file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<String>,
}

/// The firmware folder and the loads chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Firmware {
    /// Where the files are (on this node).
    pub folder: String,
    pub files: Vec<FirmwareFile>,
    /// The loads present: `.loads` files, without the suffix.
    pub loads: Vec<String>,
    pub choices: Vec<LoadChoice>,
}

/// A phone whose reported firmware is not its chosen load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PhoneOffLoad {
    pub phone: String,
    pub model: String,
    pub system: String,
    /// The load it should run, and the choice that gives it.
    pub chosen: String,
    pub chosen_by: LoadScope,
    /// What it last reported (syslog `$SWVER`, its User-Agent, or the load it fetched); `None`
    /// when it never said.
    pub running: Option<String>,
}

/// Whether `running` (as a phone reports it) is the load `chosen`: the same ID, ignoring
/// case and a `.loads` suffix.
pub fn runs(running: &str, chosen: &str) -> bool {
    let r = load_of_file(running).unwrap_or(running);
    r.eq_ignore_ascii_case(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_file_name("sip88xx.14-2-1MPP-0001-154.loads").is_ok());
        assert!(check_file_name("P0S3-8-12-00.sb2").is_ok());
        for bad in [
            "",
            ".hidden",
            "a/b",
            "../x",
            "a b",
            "x\\y",
            &"x".repeat(129),
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        let e = check_load("bad load").unwrap_err();
        assert_eq!(e.field, "load");
        assert!(e.message.contains("`bad load`"), "{}", e.message);
    }

    #[test]
    fn loads_are_their_manifests() {
        assert_eq!(load_of_file("sip78xx.14-1-1.loads"), Some("sip78xx.14-1-1"));
        assert_eq!(load_of_file("X.LOADS"), Some("X"));
        assert_eq!(load_of_file(".loads"), None);
        assert_eq!(load_of_file("x.sbn"), None);
        assert!(runs("sip78xx.14-1-1.loads", "SIP78XX.14-1-1"));
        assert!(!runs("sip78xx.14-1-0", "sip78xx.14-1-1"));
    }

    #[test]
    fn the_narrowest_choice_wins() {
        let c = |scope, target: &str, load: &str| LoadChoice {
            system: "cucm".into(),
            model: "7841".into(),
            scope,
            target: target.into(),
            load: load.into(),
        };
        let all = [
            c(LoadScope::System, "", "A"),
            c(LoadScope::DevicePool, "Lab", "B"),
            c(LoadScope::Device, "SEP001122334455", "C"),
        ];
        let load = |d: &str, p: &str| chosen(&all, d, p).map(|c| c.load.as_str());
        assert_eq!(load("SEP001122334455", "Lab"), Some("C"));
        assert_eq!(load("SEP001122334466", "Lab"), Some("B"));
        assert_eq!(load("SEP001122334466", "Default"), Some("A"));
        assert_eq!(load("SEP001122334466", ""), Some("A"));
        assert_eq!(chosen(&all[1..2], "SEP1", "Default"), None);
    }
}
