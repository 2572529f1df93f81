//! Snom D7xx phones (Snom service wiki, "Auto Provisioning" and "XML Provisioning"): a phone
//! told of this server (DHCP option 66, or its Setting URL) fetches `snom<model>.htm`, an XML
//! `<setting-files>` list that names its own settings file, `<MAC>.xml` (the phone puts its MAC
//! for `{mac}`); that file holds `<phone-settings>` (identities, DND, redirection, the setting
//! server and refresh timer) and `<functionKeys>`. Its User-Agent names its model and, on
//! current firmware, its MAC (`Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004
//! 000413922D24 …)`). It resyncs on `Event: check-sync;reboot=false` without rebooting. It sends
//! the credential its Setting URL carries (`http://user:password@host/…`).

use super::{strip_prefix_ci, strip_suffix_ci, Asked, DeviceKey, Family, ResyncBy};
use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::{Catalog, DeviceFamily, Mac};

pub(crate) struct Snom;

const DEVICE: &str = "<MAC>.xml";

/// The catalogue's Snom model whose first file `file` (`snomD785.htm`) is.
fn model_of_first(file: &str) -> Option<&'static model::DeviceType> {
    let model = strip_suffix_ci(file, ".htm").and_then(|r| strip_prefix_ci(r, "snom"))?;
    Catalog::builtin()
        .devices()
        .find(|t| t.family == DeviceFamily::Snom && t.model.eq_ignore_ascii_case(model))
}

/// `snomD785-SIP 10.1.33.33 … 000413922D24 …` in a User-Agent: the model and what follows.
fn ua_fields(ua: &str) -> Option<(&str, std::str::SplitWhitespace<'_>)> {
    let at = ua.find("snom")?;
    let mut words = ua[at + 4..].split_whitespace();
    let model = words.next()?.strip_suffix("-SIP")?;
    Some((model, words))
}

impl Family for Snom {
    fn name(&self) -> &'static str {
        "snom"
    }

    fn kinds(&self) -> &'static [DeviceFamily] {
        &[DeviceFamily::Snom]
    }

    fn patterns(&self) -> &'static [&'static str] {
        &["snom<model>.htm", DEVICE]
    }

    fn owns(&self, pattern: &str) -> bool {
        pattern == DEVICE || model_of_first(pattern).is_some()
    }

    fn sends_credentials(&self) -> bool {
        true
    }

    fn identify(&self, file: &str) -> Option<Asked> {
        if model_of_first(file).is_some() {
            return Some(Asked::Common);
        }
        let rest = strip_suffix_ci(file, ".xml")?;
        super::mac_of(rest).map(|m| Asked::Device(DeviceKey::Mac(m)))
    }

    fn device_from_user_agent(&self, ua: &str) -> Option<Mac> {
        let (_, words) = ua_fields(ua)?;
        words
            .map(|w| w.trim_end_matches(')'))
            .find(|w| w.len() == 12)
            .and_then(|w| Mac::parse(w).ok())
    }

    fn model_of_request(&self, file: &str, ua: &str) -> Option<String> {
        ua_fields(ua)
            .map(|(m, _)| m.to_string())
            .or_else(|| model_of_first(file).map(|t| t.model.clone()))
    }

    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        pattern: &str,
    ) -> Result<Rendered, RenderError> {
        if pattern == DEVICE {
            r.render_template("snom-device.xml.j2", &view.vendor_context())
        } else {
            self.render_common(r, pattern, &view.provisioning_url)
        }
    }

    fn resync(&self, view: &DeviceView) -> ResyncBy {
        super::unless_resync_off(view, "check-sync;reboot=false")
    }

    fn render_common(
        &self,
        r: &Renderer,
        file: &str,
        base_url: &str,
    ) -> Result<Rendered, RenderError> {
        #[derive(serde::Serialize)]
        struct First<'a> {
            model: &'a str,
            provisioning_url: &'a str,
        }
        let model = model_of_first(file).map_or("Snom", |t| t.name.as_str());
        r.render_template(
            "snom-first.htm.j2",
            &First {
                model,
                provisioning_url: base_url.trim_end_matches('/'),
            },
        )
    }
}
