//! The device type catalogue, shipped as `device-types.toml` and compiled into the binary.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceFamily {
    /// Cisco enterprise SCCP/SIP phones (`SEP<MAC>.cnf.xml`).
    Enterprise,
    /// Cisco 7800/8800 multiplatform phones (`<PSN>.xml`, `<mac>.xml`).
    Mpp,
    /// Software phones.
    SoftClient,
    /// Conference stations.
    Conference,
    /// Key expansion modules, attached to a phone rather than a device of their own.
    ExpansionModule,
    /// Yealink T4x/T5x phones (`y0000000000xx.cfg`, `<mac>.cfg`).
    Yealink,
    /// Poly VVX phones on UC Software (`<mac>.cfg` or `000000000000.cfg`, then the files it
    /// names).
    Polycom,
    /// Grandstream GRP/GXP phones (`cfg<mac>.xml`).
    Grandstream,
    /// Snom D7xx phones (`snom<model>.htm`, then `<MAC>.xml`).
    Snom,
}

impl DeviceFamily {
    /// Phones of another vendor than Cisco.
    pub fn is_other_vendor(self) -> bool {
        matches!(
            self,
            DeviceFamily::Yealink
                | DeviceFamily::Polycom
                | DeviceFamily::Grandstream
                | DeviceFamily::Snom
        )
    }
}

/// How a model's device name is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// `SEP` + the 12 hex digits of the MAC.
    Mac,
    /// `UPC` + the owner's user name (docs/phones.md, "What each phone fetches").
    Upc,
    /// Any device name; `SEP` + MAC when a MAC is given.
    Free,
}

fn default_naming() -> Naming {
    Naming::Mac
}
fn yes() -> bool {
    true
}
fn default_max_calls() -> u32 {
    4
}

/// One model of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceType {
    /// Short model name used everywhere else (`7960`, `8861`, `CUPC`).
    pub model: String,
    pub name: String,
    pub family: DeviceFamily,
    pub protocols: Vec<String>,
    /// Line keys on the device itself (buttons of an expansion module).
    pub lines: u32,
    #[serde(default = "default_max_calls")]
    pub max_calls_default: u32,
    #[serde(default = "default_naming")]
    pub naming: Naming,
    #[serde(default = "yes")]
    pub mac_required: bool,
    /// Expansion module models the device accepts.
    #[serde(default)]
    pub expansion_modules: Vec<String>,
    #[serde(default)]
    pub max_expansion_modules: u32,
    /// Whether device security mode applies to this model.
    pub security_mode: bool,
    /// Whether the device can be put under CTI control.
    pub cti: bool,
    /// Whether device profiles (extension mobility) exist for this model.
    pub device_profile: bool,
    /// Whether it may be the secondary (adjunct) device of a primary phone.
    #[serde(default)]
    pub secondary: bool,
    /// Registrations (SIP accounts) the model takes, when it is fewer than its line keys
    /// (another vendor's phone: a Grandstream GRP2612 has 16 keys and 2 accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<u32>,
    /// Product serial name of MPP phones (`8861-3PCC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psn: Option<String>,
    /// The configuration files the device fetches.
    pub files: Vec<String>,
}

#[derive(Deserialize)]
struct CatalogFile {
    device_type: Vec<DeviceType>,
}

/// All known models, by model name.
#[derive(Debug)]
pub struct Catalog {
    by_model: BTreeMap<String, DeviceType>,
}

impl Catalog {
    /// The catalogue shipped with Dialtone.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::from_toml(include_str!("../device-types.toml"))
                .expect("the shipped device-types.toml is valid")
        })
    }

    pub fn from_toml(text: &str) -> Result<Catalog, String> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_model = BTreeMap::new();
        for t in file.device_type {
            if by_model.insert(t.model.clone(), t.clone()).is_some() {
                return Err(format!("model {} is listed twice", t.model));
            }
        }
        for t in by_model.values() {
            for m in &t.expansion_modules {
                match by_model.get(m) {
                    Some(em) if em.family == DeviceFamily::ExpansionModule => {}
                    _ => {
                        return Err(format!(
                            "model {} names expansion module {m}, which is not one",
                            t.model
                        ))
                    }
                }
            }
        }
        Ok(Catalog { by_model })
    }

    /// A model by name, case-insensitively; `CP-8861-3PCC`, `Cisco 7960` and `8861-3PCC` are
    /// accepted for `8861` and `7960`.
    pub fn get(&self, model: &str) -> Option<&DeviceType> {
        let m = model.trim();
        if let Some(t) = self.by_model.get(m) {
            return Some(t);
        }
        if let Some(t) = self
            .by_model
            .values()
            .find(|t| t.model.eq_ignore_ascii_case(m))
        {
            return Some(t);
        }
        let upper = m.to_ascii_uppercase();
        let short = upper
            .trim_start_matches("CISCO ")
            .trim_start_matches("CP-")
            .trim_end_matches("-3PCC")
            .trim_end_matches('G');
        self.by_model
            .values()
            .find(|t| t.model.eq_ignore_ascii_case(short))
    }

    pub fn all(&self) -> impl Iterator<Item = &DeviceType> {
        self.by_model.values()
    }

    /// Models that are devices of their own (not expansion modules).
    pub fn devices(&self) -> impl Iterator<Item = &DeviceType> {
        self.all()
            .filter(|t| t.family != DeviceFamily::ExpansionModule)
    }

    pub fn model_names(&self) -> String {
        self.devices()
            .map(|t| t.model.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_has_every_model_the_seeds_name() {
        let c = Catalog::builtin();
        for m in [
            "7902", "7905", "7910", "7912", "7920", "7935", "7936", "7940", "7960", "7970", "7914",
            "IPC", "CUPC", "7811", "7821", "7841", "7861", "8811", "8841", "8845", "8851", "8861",
            "8865",
        ] {
            assert!(c.get(m).is_some(), "{m} missing");
        }
        let em = c.get("7914").unwrap();
        assert_eq!(em.lines, 14);
        assert_eq!(c.get("7960").unwrap().max_expansion_modules, 2);
        assert!(!c.get("7912").unwrap().security_mode);
        assert!(c.get("7960").unwrap().security_mode);
        assert_eq!(c.get("CP-8861-3PCC").unwrap().model, "8861");
        assert_eq!(c.get("7960G").unwrap().model, "7960");
        assert_eq!(c.get("8861").unwrap().psn.as_deref(), Some("8861-3PCC"));
        assert!(c.get("9999").is_none());
    }

    #[test]
    fn a_catalogue_with_a_bad_module_reference_is_refused() {
        let bad = r#"
[[device_type]]
model = "1"
name = "x"
family = "enterprise"
protocols = []
lines = 1
expansion_modules = ["nope"]
security_mode = false
cti = false
device_profile = false
files = []
"#;
        assert!(Catalog::from_toml(bad).unwrap_err().contains("nope"));
    }
}
