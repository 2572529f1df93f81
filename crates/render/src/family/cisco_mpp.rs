//! Cisco 7800/8800 multiplatform (MPP) phones: the first-contact file `<PSN>.xml` (or
//! `spa<PSN>.cfg`), the same for every phone of a model, sends a phone on to its own
//! `<mac>.xml` flat profile. Their User-Agent names them
//! (`Cisco-CP-8861-3PCC/11.3.1 (00562b043615)`). They resync on `Event: resync` when their
//! Resync From SIP parameter is on (docs/phones.md, "Profile rules and resync (MPP)").

use super::{strip_prefix_ci, strip_suffix_ci, Asked, DeviceKey, Family, ResyncBy};
use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::{Catalog, Mac};

pub(crate) struct CiscoMpp;

const FIRST_CONTACT: &str = "<PSN>.xml";

impl Family for CiscoMpp {
    fn name(&self) -> &'static str {
        "cisco-mpp"
    }

    fn patterns(&self) -> &'static [&'static str] {
        &[FIRST_CONTACT, "<mac>.xml"]
    }

    fn identify(&self, file: &str) -> Option<Asked> {
        if let Some(rest) = strip_suffix_ci(file, ".xml") {
            if rest.len() == 12 {
                if let Ok(m) = Mac::parse(rest) {
                    return Some(Asked::Device(DeviceKey::Mac(m)));
                }
            }
        }
        let psn = strip_suffix_ci(file, ".xml")
            .or_else(|| strip_suffix_ci(file, ".cfg").and_then(|r| strip_prefix_ci(r, "spa")))?;
        Catalog::builtin()
            .devices()
            .any(|t| {
                t.psn
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(psn))
            })
            .then_some(Asked::FirstContact)
    }

    fn model_of_request(&self, file: &str, ua: &str) -> Option<String> {
        // `Cisco-CP-8861-3PCC/11.3.1 (…)`, or the first-contact file `8861-3PCC.xml`.
        let psn = ua
            .strip_prefix("Cisco-CP-")
            .and_then(|r| r.split('/').next())
            .or_else(|| {
                strip_suffix_ci(file, ".xml").or_else(|| {
                    strip_suffix_ci(file, ".cfg").and_then(|r| strip_prefix_ci(r, "spa"))
                })
            })?;
        Catalog::builtin()
            .devices()
            .find(|t| {
                t.psn
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(psn))
            })
            .map(|t| t.model.clone())
    }

    fn device_from_user_agent(&self, ua: &str) -> Option<Mac> {
        if !ua.starts_with("Cisco-CP-") {
            return None;
        }
        let inner = ua.rsplit_once('(')?.1.split(')').next()?;
        Mac::parse(inner.trim()).ok()
    }

    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        pattern: &str,
    ) -> Result<Rendered, RenderError> {
        if pattern == FIRST_CONTACT {
            r.render_first_contact(&view.provisioning_rule)
        } else {
            r.render_with(
                "mpp-device.xml.j2",
                || view.context(),
                || crate::native::mpp_device(view),
            )
        }
    }

    fn resync(&self, view: &DeviceView) -> ResyncBy {
        let on = view
            .parameters
            .iter()
            .find(|(k, _)| k == "resync_from_sip")
            .is_none_or(|(_, v)| v == "Yes");
        if on {
            ResyncBy::Event("resync")
        } else {
            ResyncBy::No("Resync From SIP is off for this phone (provisioning parameter)".into())
        }
    }
}
