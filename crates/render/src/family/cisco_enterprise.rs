//! Cisco enterprise (SCCP/SIP) phones, conference stations and IP Communicator: each fetches
//! `SEP<MAC>.cnf.xml`; phones not in the directory get `XMLDefault.cnf.xml` when
//! auto-registration is on. Security files (`CTLSEP<MAC>.tlv`, `ITL*.tlv`) are answered
//! "not found" at once: Dialtone serves no trust lists. Enterprise phones resync on
//! `Event: check-sync`.

use super::{strip_prefix_ci, strip_suffix_ci, Asked, DeviceKey, Family, ResyncBy};
use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::{DeviceFamily, Mac};

pub(crate) struct CiscoEnterprise;

impl Family for CiscoEnterprise {
    fn name(&self) -> &'static str {
        "cisco-enterprise"
    }

    fn kinds(&self) -> &'static [DeviceFamily] {
        &[
            DeviceFamily::Enterprise,
            DeviceFamily::Conference,
            DeviceFamily::SoftClient,
        ]
    }

    fn patterns(&self) -> &'static [&'static str] {
        &["SEP<MAC>.cnf.xml"]
    }

    fn identify(&self, file: &str) -> Option<Asked> {
        if let Some(tlv) = strip_suffix_ci(file, ".tlv") {
            if strip_prefix_ci(tlv, "CTLSEP").is_some() || strip_prefix_ci(tlv, "ITL").is_some() {
                return Some(Asked::Refused("Dialtone serves no security files"));
            }
        }
        if file.eq_ignore_ascii_case("XMLDefault.cnf.xml") {
            return Some(Asked::Default);
        }
        let mac = strip_suffix_ci(file, ".cnf.xml").and_then(|r| strip_prefix_ci(r, "SEP"))?;
        Mac::parse(mac)
            .ok()
            .map(|m| Asked::Device(DeviceKey::Mac(m)))
    }

    fn model_of_request(&self, _file: &str, ua: &str) -> Option<String> {
        // Over HTTP: `Cisco-CP7960G/8.0`; TFTP carries no User-Agent.
        let m = ua.strip_prefix("Cisco-CP")?.split('/').next()?;
        if m.starts_with('-') {
            return None;
        }
        Some(m.strip_suffix('G').unwrap_or(m).to_string())
    }

    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        _pattern: &str,
    ) -> Result<Rendered, RenderError> {
        r.render_with(
            "enterprise.cnf.xml.j2",
            || view.context(),
            || crate::native::enterprise(view),
        )
    }

    fn resync(&self, view: &DeviceView) -> ResyncBy {
        match view.family {
            DeviceFamily::Enterprise => ResyncBy::Event("check-sync"),
            other => ResyncBy::No(format!(
                "a {} takes no resync NOTIFY",
                format!("{other:?}").to_lowercase()
            )),
        }
    }
}
