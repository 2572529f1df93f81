//! Yealink T4x/T5x phones (Yealink, "Administrator's Guide for SIP-T2/T4/T5 Series IP
//! Phones", "Auto Provisioning"): a phone fetches its model's common file `y0000000000xx.cfg`
//! (`xx` the model's product code: `y000000000108.cfg` for a T46U), then its own `<mac>.cfg`
//! (lower case). Both start `#!version:1.0.0.1` and hold `key = value` lines; the phone's own
//! file wins. Its User-Agent names it: `Yealink SIP-T46U 108.86.0.90 80:5e:c0:11:22:33`.
//! Over HTTP it sends the user name and password its file gives it
//! (`static.auto_provision.server.username`/`password`). It resyncs on
//! `Event: check-sync;reboot=false`, without rebooting, when its file sets
//! `sip.notify_reboot_enable = 0` (the guide's "Rebooting Issues").

use super::{strip_prefix_ci, strip_suffix_ci, Asked, DeviceKey, Family, ResyncBy};
use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::{Catalog, DeviceFamily, Mac};

pub(crate) struct Yealink;

const DEVICE: &str = "<mac>.cfg";

/// `y` and 12 digits: a common file name (any case).
fn is_common(file: &str) -> bool {
    strip_suffix_ci(file, ".cfg")
        .and_then(|r| strip_prefix_ci(r, "y"))
        .is_some_and(|d| d.len() == 12 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The catalogue's Yealink models whose common file `file` is.
fn models_of_common(file: &str) -> impl Iterator<Item = &'static model::DeviceType> + '_ {
    Catalog::builtin().devices().filter(move |t| {
        t.family == DeviceFamily::Yealink && t.files.iter().any(|f| f.eq_ignore_ascii_case(file))
    })
}

impl Family for Yealink {
    fn name(&self) -> &'static str {
        "yealink"
    }

    fn kinds(&self) -> &'static [DeviceFamily] {
        &[DeviceFamily::Yealink]
    }

    fn patterns(&self) -> &'static [&'static str] {
        &["y0000000000xx.cfg", DEVICE]
    }

    fn owns(&self, pattern: &str) -> bool {
        pattern == DEVICE || is_common(pattern)
    }

    fn sends_credentials(&self) -> bool {
        true
    }

    fn identify(&self, file: &str) -> Option<Asked> {
        // Another model's common file is not ours: it may be in the firmware folder.
        if is_common(file) && models_of_common(file).next().is_some() {
            return Some(Asked::Common);
        }
        // Boot files (firmware 81 and later ask for them first) and the phone's own copy of the
        // settings changed on it: none here, the phone goes on to its .cfg files.
        if strip_suffix_ci(file, ".boot").is_some() {
            return Some(Asked::Refused(
                "Dialtone serves no boot files: the phone goes on to its common and own .cfg files",
            ));
        }
        if let Some(rest) = strip_suffix_ci(file, "-local.cfg") {
            if super::mac_of(rest).is_some() {
                return Some(Asked::Refused(
                    "a phone's -local.cfg holds what was changed on the phone: Dialtone keeps none",
                ));
            }
        }
        let rest = strip_suffix_ci(file, ".cfg")?;
        super::mac_of(rest).map(|m| Asked::Device(DeviceKey::Mac(m)))
    }

    fn device_from_user_agent(&self, ua: &str) -> Option<Mac> {
        // `Yealink SIP-T46U 108.86.0.90 80:5e:c0:11:22:33`
        let rest = strip_prefix_ci(ua, "Yealink")?;
        Mac::parse(rest.split_whitespace().last()?).ok()
    }

    fn model_of_request(&self, _file: &str, ua: &str) -> Option<String> {
        let rest = strip_prefix_ci(ua, "Yealink")?;
        let model = rest.split_whitespace().next()?;
        let model = strip_prefix_ci(model, "SIP-").unwrap_or(model);
        Some(model.to_string())
    }

    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        pattern: &str,
    ) -> Result<Rendered, RenderError> {
        if pattern == DEVICE {
            r.render_template("yealink-device.cfg.j2", &view.vendor_context())
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
        _base_url: &str,
    ) -> Result<Rendered, RenderError> {
        #[derive(serde::Serialize)]
        struct Common {
            models: String,
        }
        let models: Vec<&str> = models_of_common(file).map(|t| t.name.as_str()).collect();
        r.render_template(
            "yealink-common.cfg.j2",
            &Common {
                models: models.join(", "),
            },
        )
    }
}
