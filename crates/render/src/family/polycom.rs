//! Poly VVX phones on UC Software (Poly, "UC Software Administrator Guide", "Master
//! Configuration File" and "Configuration Parameters"): a phone asks for its own master
//! configuration file `<mac>.cfg` (lower case) and, when there is none, the common
//! `000000000000.cfg`; the master's `CONFIG_FILES` names the files it reads next, the first
//! winning. Here those are the phone's own `<mac>-phone1.cfg` (registrations, line keys,
//! forwards, DND) and `<mac>-sip.cfg` (provisioning server, credential, polling, NOTIFY), the
//! `phone1.cfg`/`sip.cfg` layout of Poly's sample files made per phone; the common master names
//! them with the phone's `[PHONE_MAC_ADDRESS]`, which the phone substitutes. Its speed dials are
//! in its contact directory, `<mac>-directory.xml`, which it fetches itself. Its User-Agent
//! names its model, not its MAC (`FileTransport PolycomVVX-VVX_450-UA/5.9.5.0614`). It resyncs
//! on `Event: check-sync`, rebooting only when a change needs it
//! (`voIpProt.SIP.specialEvent.checkSync.alwaysReboot="0"`).

use super::{strip_prefix_ci, strip_suffix_ci, Asked, DeviceKey, Family, ResyncBy};
use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::DeviceFamily;

pub(crate) struct Polycom;

const COMMON: &str = "000000000000.cfg";
const MASTER: &str = "<mac>.cfg";
const PHONE1: &str = "<mac>-phone1.cfg";
const SIP: &str = "<mac>-sip.cfg";
const DIRECTORY: &str = "<mac>-directory.xml";

#[derive(serde::Serialize)]
struct Master<'a> {
    /// The phone the master is, or "every phone without a master file of its own".
    who: &'a str,
    /// What precedes `-phone1.cfg`: the MAC, or `[PHONE_MAC_ADDRESS]`.
    mac: &'a str,
}

impl Family for Polycom {
    fn name(&self) -> &'static str {
        "polycom"
    }

    fn kinds(&self) -> &'static [DeviceFamily] {
        &[DeviceFamily::Polycom]
    }

    fn patterns(&self) -> &'static [&'static str] {
        &[MASTER, COMMON, PHONE1, SIP, DIRECTORY]
    }

    fn sends_credentials(&self) -> bool {
        true
    }

    fn identify(&self, file: &str) -> Option<Asked> {
        if file.eq_ignore_ascii_case(COMMON) {
            return Some(Asked::Common);
        }
        if file.eq_ignore_ascii_case("000000000000-directory.xml") {
            return Some(Asked::Refused(
                "Dialtone serves each phone its own directory, <mac>-directory.xml",
            ));
        }
        for suffix in ["-phone1.cfg", "-sip.cfg", "-directory.xml", ".cfg"] {
            if let Some(m) = strip_suffix_ci(file, suffix).and_then(super::mac_of) {
                return Some(Asked::Device(DeviceKey::Mac(m)));
            }
        }
        None
    }

    fn model_of_request(&self, _file: &str, ua: &str) -> Option<String> {
        // `FileTransport PolycomVVX-VVX_450-UA/5.9.5.0614 Type/Application`
        let rest = strip_prefix_ci(ua, "FileTransport Polycom")?;
        let model = rest.split_once('-')?.1.split_once("-UA/")?.0;
        Some(model.replace('_', ""))
    }

    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        pattern: &str,
    ) -> Result<Rendered, RenderError> {
        match pattern {
            COMMON => self.render_common(r, COMMON, &view.provisioning_url),
            MASTER => {
                let mac = view.mac.as_deref().unwrap_or_default().to_ascii_lowercase();
                r.render_template(
                    "polycom-master.cfg.j2",
                    &Master {
                        who: &view.name,
                        mac: &mac,
                    },
                )
            }
            PHONE1 => r.render_template("polycom-phone1.cfg.j2", &view.vendor_context()),
            SIP => r.render_template("polycom-sip.cfg.j2", &view.vendor_context()),
            _ => r.render_template("polycom-directory.xml.j2", &view.vendor_context()),
        }
    }

    fn resync(&self, view: &DeviceView) -> ResyncBy {
        super::unless_resync_off(view, "check-sync")
    }

    fn render_common(
        &self,
        r: &Renderer,
        _file: &str,
        _base_url: &str,
    ) -> Result<Rendered, RenderError> {
        r.render_template(
            "polycom-master.cfg.j2",
            &Master {
                who: "every phone without a master file of its own",
                mac: "[PHONE_MAC_ADDRESS]",
            },
        )
    }
}
