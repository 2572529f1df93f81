//! Device families: each module owns its phones' file names (the patterns the catalogue lists
//! for a model), how a file name or a User-Agent names a device, which template renders each
//! file, and the SIP event its phones resync on. The provisioning server asks these; nothing
//! outside this crate matches a vendor's file names. Adding a vendor is adding a module here
//! and listing it in [`FAMILIES`].

mod cisco_enterprise;
mod cisco_mpp;
pub use cisco_mpp::{encrypt_profile, plain_of_encrypted, ENCRYPTED_FILE};
mod cisco_soft_client;
mod grandstream;
mod polycom;
mod snom;
mod yealink;

use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::{DeviceFamily, Mac};

/// How a request names a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKey {
    Mac(Mac),
    /// A device name, any case.
    Name(String),
}

/// What a file name asks for, as the family that owns it reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A device's own file.
    Device(DeviceKey),
    /// A file every phone of a model gets the same (MPP `<PSN>.xml`): who asks is told by
    /// the User-Agent, if at all.
    FirstContact,
    /// What phones not in the directory get when auto-registration is on.
    Default,
    /// A file every phone of a family (or of one of its models) gets the same, naming no
    /// device: Yealink's `y0000000000xx.cfg`, Poly's `000000000000.cfg`, Snom's
    /// `snom<model>.htm`. Who asks is told by the User-Agent, if at all.
    Common,
    /// A file this server never serves, and why.
    Refused(&'static str),
}

/// Whether a device takes a resync NOTIFY, and with which event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResyncBy {
    /// `Event: <this>`.
    Event(&'static str),
    /// It takes none; why, for the administrator.
    No(String),
}

/// A family of devices that share file names, templates and resync behaviour.
pub trait Family: Send + Sync {
    /// For logs.
    fn name(&self) -> &'static str;
    /// The catalogue's families of the devices this family renders.
    fn kinds(&self) -> &'static [DeviceFamily];
    /// The catalogue's file name patterns this family renders (`SEP<MAC>.cnf.xml`, …).
    fn patterns(&self) -> &'static [&'static str];
    /// Whether `pattern`, a file name of the catalogue, is one of this family's: one of
    /// [`Family::patterns`], or a name a family serves as written (a per-model common file).
    fn owns(&self, pattern: &str) -> bool {
        self.patterns().contains(&pattern)
    }
    /// Whether its phones send HTTP credentials when they fetch their files (and so can be
    /// asked for them: system setting `phone_auth`).
    fn sends_credentials(&self) -> bool {
        false
    }
    /// What `file` (the last segment of a request's path) asks for, when it is one of this
    /// family's names.
    fn identify(&self, file: &str) -> Option<Asked>;
    /// The device a request's User-Agent names, when this family's phones send one that does.
    fn device_from_user_agent(&self, _user_agent: &str) -> Option<Mac> {
        None
    }
    /// The model (the catalogue's short name) a request for `file` says it comes from, by the
    /// file itself or the User-Agent, when this family's phones say it (auto-registration).
    fn model_of_request(&self, _file: &str, _user_agent: &str) -> Option<String> {
        None
    }
    /// Renders the file of `pattern` for `view`.
    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        pattern: &str,
    ) -> Result<Rendered, RenderError>;
    /// Whether `view`'s device takes a resync NOTIFY.
    fn resync(&self, view: &DeviceView) -> ResyncBy;
    /// Renders `file`, one of its [`Asked::Common`] files, as a phone that reached this server
    /// at `base_url` gets it.
    fn render_common(
        &self,
        _r: &Renderer,
        file: &str,
        _base_url: &str,
    ) -> Result<Rendered, RenderError> {
        Err(RenderError {
            template: file.to_string(),
            line: None,
            message: format!("the {} family has no common files", self.name()),
        })
    }
}

/// Every family Dialtone serves, in the order requests are matched against them.
pub static FAMILIES: &[&dyn Family] = &[
    &cisco_enterprise::CiscoEnterprise,
    &cisco_mpp::CiscoMpp,
    &cisco_soft_client::CiscoSoftClient,
    &polycom::Polycom,
    &yealink::Yealink,
    &snom::Snom,
    &grandstream::Grandstream,
];

/// What `file` asks for, and the family that says so; `None` when no family knows the name.
pub fn identify(file: &str) -> Option<(&'static dyn Family, Asked)> {
    FAMILIES
        .iter()
        .find_map(|f| f.identify(file).map(|a| (*f, a)))
}

/// The device a User-Agent names, if a family's phones send one that does.
pub fn device_from_user_agent(user_agent: &str) -> Option<Mac> {
    FAMILIES
        .iter()
        .find_map(|f| f.device_from_user_agent(user_agent))
}

/// The model a request for `file` says it comes from, when a family that knows the file name
/// can tell (by the name or the User-Agent), and only a model of that family: a User-Agent of
/// one family asking for another's file names nothing. (`<mac>.cfg` is a Yealink's and a Poly's
/// file, `<mac>.xml` an MPP phone's and a Snom's: each family that knows the name is asked.)
pub fn model_of_request(file: &str, user_agent: Option<&str>) -> Option<String> {
    FAMILIES
        .iter()
        .filter(|f| f.identify(file).is_some())
        .find_map(|family| {
            let model = family.model_of_request(file, user_agent.unwrap_or(""))?;
            let t = model::Catalog::builtin().get(&model)?;
            family.kinds().contains(&t.family).then(|| t.model.clone())
        })
}

/// The family that renders files of `pattern` for devices of the catalogue's `kind`.
pub fn family_of_pattern(pattern: &str, kind: DeviceFamily) -> Option<&'static dyn Family> {
    FAMILIES
        .iter()
        .copied()
        .find(|f| f.kinds().contains(&kind) && f.owns(pattern))
}

/// The family that renders a device's files and decides its resync.
pub fn family_of(view: &DeviceView) -> Option<&'static dyn Family> {
    view.file_patterns
        .iter()
        .find_map(|p| family_of_pattern(p, view.family))
}

/// The family that renders devices of the catalogue's `kind`, if Dialtone serves it.
pub fn family_of_kind(kind: DeviceFamily) -> Option<&'static dyn Family> {
    FAMILIES.iter().copied().find(|f| f.kinds().contains(&kind))
}

/// `Event: event`, unless the phone's Resync From SIP parameter is `No`.
fn unless_resync_off(view: &DeviceView, event: &'static str) -> ResyncBy {
    if view.resync_from_sip() {
        ResyncBy::Event(event)
    } else {
        ResyncBy::No("Resync From SIP is off for this phone (provisioning parameter)".into())
    }
}

/// A MAC spelled as 12 hex digits, not all zero (`000000000000` names no phone: it is Poly's
/// common file).
fn mac_of(hex: &str) -> Option<Mac> {
    if hex.len() != 12 || hex.bytes().all(|b| b == b'0') {
        return None;
    }
    Mac::parse(hex).ok()
}

/// `file` without the `suffix`, compared case-insensitively.
fn strip_suffix_ci<'a>(file: &'a str, suffix: &str) -> Option<&'a str> {
    let n = file.len().checked_sub(suffix.len())?;
    (file.is_char_boundary(n) && file[n..].eq_ignore_ascii_case(suffix)).then(|| &file[..n])
}

/// `file` without the `prefix`, compared case-insensitively.
fn strip_prefix_ci<'a>(file: &'a str, prefix: &str) -> Option<&'a str> {
    (file.len() >= prefix.len()
        && file.is_char_boundary(prefix.len())
        && file[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &file[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(file: &str) -> Option<Asked> {
        identify(file).map(|(_, a)| a)
    }

    #[test]
    fn what_a_file_names() {
        let mac = Mac::parse("00562B043615").unwrap();
        assert_eq!(
            asked("SEP00562B043615.cnf.xml"),
            Some(Asked::Device(DeviceKey::Mac(mac.clone())))
        );
        assert_eq!(
            asked("sep00562b043615.CNF.XML"),
            Some(Asked::Device(DeviceKey::Mac(mac.clone())))
        );
        assert_eq!(
            asked("00562b043615.xml"),
            Some(Asked::Device(DeviceKey::Mac(mac)))
        );
        assert_eq!(
            asked("UPCJSMITH.cnf.xml"),
            Some(Asked::Device(DeviceKey::Name("UPCJSMITH".into())))
        );
        assert_eq!(asked("8861-3PCC.xml"), Some(Asked::FirstContact));
        assert_eq!(asked("spa8861-3PCC.cfg"), Some(Asked::FirstContact));
        assert_eq!(asked("XMLDefault.cnf.xml"), Some(Asked::Default));
        assert!(matches!(
            asked("CTLSEP00562B043615.tlv"),
            Some(Asked::Refused(_))
        ));
        assert!(matches!(
            asked("ITLSEP00562B043615.tlv"),
            Some(Asked::Refused(_))
        ));
        assert_eq!(asked("SEPnothex.cnf.xml"), None);
        assert_eq!(asked("passwd"), None);
        assert_eq!(asked("é.xml"), None);
    }

    #[test]
    fn user_agents() {
        assert_eq!(
            device_from_user_agent("Cisco-CP-8861-3PCC/11.3.1 (00562b043615)")
                .unwrap()
                .as_str(),
            "00562B043615"
        );
        assert!(device_from_user_agent("curl/8.0").is_none());
        assert!(device_from_user_agent("Cisco-CP-8861-3PCC/11.3.1 (nope)").is_none());
    }

    #[test]
    fn models_of_requests() {
        let ua = "Cisco-CP-8861-3PCC/11.3.1 (00562b043615)";
        assert_eq!(
            model_of_request("00562b043615.xml", Some(ua)).as_deref(),
            Some("8861")
        );
        assert_eq!(
            model_of_request("8861-3PCC.xml", None).as_deref(),
            Some("8861")
        );
        assert_eq!(
            model_of_request("SEP00562B043615.cnf.xml", Some("Cisco-CP7960G/8.0")).as_deref(),
            Some("7960")
        );
        // TFTP says nothing; another family's User-Agent names nothing.
        assert_eq!(model_of_request("SEP00562B043615.cnf.xml", None), None);
        assert_eq!(model_of_request("SEP00562B043615.cnf.xml", Some(ua)), None);
        assert_eq!(
            model_of_request("00562b043615.xml", Some("Cisco-CP7960G/8.0")),
            None
        );
        assert_eq!(
            model_of_request("SEP00562B043615.cnf.xml", Some("Cisco-CP9999G/8.0")),
            None
        );
    }

    #[test]
    fn every_catalogue_pattern_has_one_family() {
        for t in model::Catalog::builtin().devices() {
            for p in &t.files {
                let n = FAMILIES
                    .iter()
                    .filter(|f| f.kinds().contains(&t.family) && f.owns(p))
                    .count();
                assert_eq!(n, 1, "{}: {p}", t.model);
            }
        }
    }
}
