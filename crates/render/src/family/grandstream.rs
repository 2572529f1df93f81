//! Grandstream GXP21xx and GRP261x phones (Grandstream, "GXP21xx Administration Guide",
//! "Provisioning", and the "Configuration Template" of firmware 1.0.9.127, whose P-values
//! these are; for GRP phones the same template's named items): a phone asks for `cfg<mac>`
//! (the binary form) then `cfg<mac>.xml` (lower case), then its model's and the generic file
//! when that fails. The XML file is `<gs_provision>` with the phone's `<mac>` and, for a GXP,
//! `<config version="1">` of P-values: accounts 1 to 6, the virtual multi-purpose keys (the
//! first ones the phone's line keys), the config server, its credential and the automatic
//! check; for a GRP, `<config version="2">` of the same settings by name (`account.1.sip.userid`,
//! `pks.vpk.1.keyMode`, …), the form GRP phones take from a config server. Its User-Agent names model and MAC
//! (`Grandstream Model HW GXP2170 SW 1.0.9.135 DevId 000b82aabbcc`). It resyncs on
//! `Event: check-sync`.

use super::{strip_prefix_ci, strip_suffix_ci, Asked, DeviceKey, Family, ResyncBy};
use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::{DeviceFamily, Mac};

pub(crate) struct Grandstream;

const DEVICE: &str = "cfg<mac>.xml";

/// `Grandstream Model HW GXP2170 SW 1.0.9.135 DevId 000b82aabbcc`: the word after `word`.
fn ua_word<'a>(ua: &'a str, word: &str) -> Option<&'a str> {
    strip_prefix_ci(ua, "Grandstream")?;
    let mut words = ua.split_whitespace();
    words.find(|w| *w == word)?;
    words.next()
}

impl Family for Grandstream {
    fn name(&self) -> &'static str {
        "grandstream"
    }

    fn kinds(&self) -> &'static [DeviceFamily] {
        &[DeviceFamily::Grandstream]
    }

    fn patterns(&self) -> &'static [&'static str] {
        &[DEVICE]
    }

    fn sends_credentials(&self) -> bool {
        true
    }

    fn identify(&self, file: &str) -> Option<Asked> {
        let rest = strip_prefix_ci(file, "cfg")?;
        if let Some(m) = strip_suffix_ci(rest, ".xml").and_then(super::mac_of) {
            return Some(Asked::Device(DeviceKey::Mac(m)));
        }
        super::mac_of(rest).map(|_| {
            Asked::Refused("the binary configuration file: Dialtone serves cfg<mac>.xml, which the phone asks for next")
        })
    }

    fn device_from_user_agent(&self, ua: &str) -> Option<Mac> {
        Mac::parse(ua_word(ua, "DevId")?).ok()
    }

    fn model_of_request(&self, _file: &str, ua: &str) -> Option<String> {
        ua_word(ua, "HW").map(str::to_string)
    }

    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        _pattern: &str,
    ) -> Result<Rendered, RenderError> {
        // GRP phones take the named settings of configuration version 2; GXP phones P-values.
        if view.model.starts_with("GRP") {
            r.render_template("grandstream-grp.xml.j2", &view.vendor_context())
        } else {
            r.render_template("grandstream-device.xml.j2", &view.vendor_context())
        }
    }

    fn resync(&self, view: &DeviceView) -> ResyncBy {
        super::unless_resync_off(view, "check-sync")
    }
}
