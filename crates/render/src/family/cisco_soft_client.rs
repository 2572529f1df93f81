//! Cisco Unified Personal Communicator (docs/phones.md, "What each phone fetches"):
//! `UPC<NAME>.cnf.xml`, named after its user, and the same file under the name a Jabber-style
//! client asks for, `CSF<NAME>.cnf.xml`. Soft clients take no resync NOTIFY: they read their
//! file when they start.

use super::{strip_prefix_ci, strip_suffix_ci, Asked, DeviceKey, Family, ResyncBy};
use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::DeviceFamily;

pub(crate) struct CiscoSoftClient;

impl Family for CiscoSoftClient {
    fn name(&self) -> &'static str {
        "cisco-soft-client"
    }

    fn kinds(&self) -> &'static [DeviceFamily] {
        &[DeviceFamily::SoftClient]
    }

    fn patterns(&self) -> &'static [&'static str] {
        &["UPC<NAME>.cnf.xml", "CSF<NAME>.cnf.xml"]
    }

    fn identify(&self, file: &str) -> Option<Asked> {
        let name = strip_suffix_ci(file, ".cnf.xml")?;
        if let Some(user) = strip_prefix_ci(name, "CSF") {
            return Some(Asked::Device(DeviceKey::Name(format!("UPC{user}"))));
        }
        strip_prefix_ci(name, "UPC")?;
        Some(Asked::Device(DeviceKey::Name(name.to_string())))
    }

    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        _pattern: &str,
    ) -> Result<Rendered, RenderError> {
        r.render_with(
            "soft-client.cnf.xml.j2",
            || view.context(),
            || crate::native::soft_client(view),
        )
    }

    fn resync(&self, _view: &DeviceView) -> ResyncBy {
        ResyncBy::No("a soft client takes no resync NOTIFY".into())
    }
}
