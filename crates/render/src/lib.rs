//! Dialtone's renderers: from a device's resolved view to the exact bytes of each file it
//! fetches. One template per device family (Cisco enterprise `<device>` XML, MPP
//! `<flat-profile>`, soft client), compiled into the binary; operators may override or add
//! templates from a directory. A template that does not compile is reported with its name and
//! line and the built-in one keeps serving; one that fails while rendering falls back to the
//! built-in too. Pure: no store, no network, no clock.
#![forbid(unsafe_code)]

pub mod family;
mod native;
mod vendor;
mod view;

pub use family::{Asked, DeviceKey, Family, ResyncBy};
pub use vendor::percent_encode;
pub use view::{
    DefaultView, DeviceView, DirectoryView, LineView, Server, SpeedDialView, Transport,
};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;

/// The templates Dialtone ships, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "enterprise.cnf.xml.j2",
        include_str!("../templates/enterprise.cnf.xml.j2"),
    ),
    (
        "xmldefault.cnf.xml.j2",
        include_str!("../templates/xmldefault.cnf.xml.j2"),
    ),
    (
        "mpp-device.xml.j2",
        include_str!("../templates/mpp-device.xml.j2"),
    ),
    (
        "mpp-first-contact.xml.j2",
        include_str!("../templates/mpp-first-contact.xml.j2"),
    ),
    (
        "soft-client.cnf.xml.j2",
        include_str!("../templates/soft-client.cnf.xml.j2"),
    ),
    (
        "grandstream-device.xml.j2",
        include_str!("../templates/grandstream-device.xml.j2"),
    ),
    (
        "grandstream-grp.xml.j2",
        include_str!("../templates/grandstream-grp.xml.j2"),
    ),
    (
        "polycom-master.cfg.j2",
        include_str!("../templates/polycom-master.cfg.j2"),
    ),
    (
        "polycom-phone1.cfg.j2",
        include_str!("../templates/polycom-phone1.cfg.j2"),
    ),
    (
        "polycom-sip.cfg.j2",
        include_str!("../templates/polycom-sip.cfg.j2"),
    ),
    (
        "polycom-directory.xml.j2",
        include_str!("../templates/polycom-directory.xml.j2"),
    ),
    (
        "snom-first.htm.j2",
        include_str!("../templates/snom-first.htm.j2"),
    ),
    (
        "snom-device.xml.j2",
        include_str!("../templates/snom-device.xml.j2"),
    ),
    (
        "yealink-common.cfg.j2",
        include_str!("../templates/yealink-common.cfg.j2"),
    ),
    (
        "yealink-device.cfg.j2",
        include_str!("../templates/yealink-device.cfg.j2"),
    ),
];

/// Work one rendering may do before it is stopped (a runaway operator template).
pub const FUEL: u64 = 2_000_000;

pub(crate) const STAMP: &str = "@@VERSION_STAMP@@";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct RenderError {
    pub template: String,
    pub line: Option<usize>,
    pub message: String,
}

impl RenderError {
    fn from_jinja(template: &str, e: &minijinja::Error) -> RenderError {
        RenderError {
            template: e.name().unwrap_or(template).to_string(),
            line: e.line(),
            message: e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.kind().to_string()),
        }
    }
}

/// A rendered file, and the operator template that failed if the built-in one had to serve.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub fallback: Option<RenderError>,
}

/// Renders device files from templates: the built-in ones, overridden by an operator's.
pub struct Renderer {
    env: Environment<'static>,
    overridden: BTreeSet<String>,
    /// Render the built-in templates with minijinja too, instead of their Rust twins (to
    /// compare the two).
    interpreted: bool,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("overridden", &self.overridden)
            .finish()
    }
}

pub(crate) fn xml_escape(s: &str, out: &mut String) {
    // Runs of bytes that need nothing are copied at once (most values are plain names and
    // numbers); all the bytes looked for are ASCII, so a run ends on a character boundary.
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            // Characters XML 1.0 cannot carry at all are dropped.
            b if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        out.push_str(escaped);
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
}

/// Whether a template writes `key = value` lines (Yealink's `.cfg` files) rather than XML.
fn line_format(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name);
    name.starts_with("yealink") && name.ends_with(".cfg.j2")
}

/// A value in a `key = value` line: control characters (a line break would start a line of
/// its own: another setting) are dropped, the rest is written as it is.
pub(crate) fn line_escape(s: &str, out: &mut String) {
    out.extend(s.chars().filter(|c| !c.is_control()));
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| {
        if line_format(name) {
            AutoEscape::Custom("line")
        } else {
            AutoEscape::Custom("xml")
        }
    });
    env.set_formatter(|out, state, value| {
        let escape = state.auto_escape();
        if matches!(escape, AutoEscape::Custom(_)) && !value.is_safe() {
            if value.is_none() || value.is_undefined() {
                return Ok(());
            }
            let mut s = String::new();
            if escape == AutoEscape::Custom("xml") {
                xml_escape(&value.to_string(), &mut s);
            } else {
                line_escape(&value.to_string(), &mut s);
            }
            out.write_str(&s).map_err(minijinja::Error::from)
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env
}

fn builtin_name(name: &str) -> String {
    format!("builtin/{name}")
}

impl Renderer {
    /// Only the built-in templates.
    pub fn builtin() -> Renderer {
        let mut env = environment();
        for (name, src) in BUILTIN {
            env.add_template_owned(builtin_name(name), *src)
                .expect("the built-in templates compile");
        }
        Renderer {
            env,
            overridden: BTreeSet::new(),
            interpreted: false,
        }
    }

    /// Only the built-in templates, each rendered by minijinja from its `.j2` source rather
    /// than by its Rust twin: slower, the same bytes (a test holds them to it).
    pub fn interpreted() -> Renderer {
        Renderer {
            interpreted: true,
            ..Renderer::builtin()
        }
    }

    /// The built-in templates with the `*.j2` files of `dir` over them. Answers the renderer and
    /// the templates that were refused, each with its name, line and reason.
    pub fn with_overrides(dir: &Path) -> (Renderer, Vec<RenderError>) {
        let mut problems = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                problems.push(RenderError {
                    template: dir.display().to_string(),
                    line: None,
                    message: format!("cannot read the template directory: {e}"),
                });
                return (Renderer::builtin(), problems);
            }
        };
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "j2"))
            .collect();
        files.sort();
        let mut sources = Vec::new();
        for path in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            match std::fs::read_to_string(&path) {
                Ok(src) => sources.push((name, src)),
                Err(e) => problems.push(RenderError {
                    template: name,
                    line: None,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        let (r, more) = Renderer::with_sources(sources);
        problems.extend(more);
        (r, problems)
    }

    /// The built-in templates with operator templates (name, source) in place of theirs or
    /// beside them; each that does not compile is reported and left out.
    pub fn with_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> (Renderer, Vec<RenderError>) {
        let mut r = Renderer::builtin();
        let mut problems = Vec::new();
        for (name, src) in sources {
            match r.env.add_template_owned(name.clone(), src) {
                Ok(()) => {
                    r.overridden.insert(name);
                }
                Err(e) => problems.push(RenderError::from_jinja(&name, &e)),
            }
        }
        (r, problems)
    }

    /// The templates an operator replaced or added.
    pub fn overridden(&self) -> impl Iterator<Item = &str> {
        self.overridden.iter().map(String::as_str)
    }

    /// Renders `template`: the operator's version with `ctx` when there is one; otherwise, or
    /// when it fails, the built-in one (its Rust twin `native`, unless interpreted). A failed
    /// operator template is answered beside the bytes so it can be reported.
    pub(crate) fn render_with<S: serde::Serialize>(
        &self,
        template: &str,
        ctx: impl FnOnce() -> S,
        native: impl FnOnce() -> String,
    ) -> Result<Rendered, RenderError> {
        let mut ctx = Some(ctx);
        let failure = match self.operator_version(template, || {
            minijinja::Value::from_serialize((ctx.take().expect("once"))())
        }) {
            Some(Ok(r)) => return Ok(r),
            Some(Err(e)) => Some(e),
            None => None,
        };
        if !self.interpreted {
            return Ok(Rendered {
                bytes: stamp(native()).into_bytes(),
                fallback: failure,
            });
        }
        let builtin = builtin_name(template);
        let value = match ctx.take() {
            Some(c) => minijinja::Value::from_serialize(c()),
            None => {
                return Ok(Rendered {
                    bytes: stamp(native()).into_bytes(),
                    fallback: failure,
                })
            }
        };
        match self.env.get_template(&builtin) {
            Ok(t) => t
                .render(&value)
                .map(|s| Rendered {
                    bytes: stamp(s).into_bytes(),
                    fallback: failure,
                })
                .map_err(|e| RenderError::from_jinja(&builtin, &e)),
            Err(_) => Err(failure.unwrap_or(RenderError {
                template: template.into(),
                line: None,
                message: "there is no such template".into(),
            })),
        }
    }

    /// The operator's version of `template` rendered with `value`, or why it failed (to be
    /// reported beside the built-in one's bytes); `None` when the operator has none.
    fn operator_version(
        &self,
        template: &str,
        value: impl FnOnce() -> minijinja::Value,
    ) -> Option<Result<Rendered, RenderError>> {
        if !self.overridden.contains(template) {
            return None;
        }
        let value = value();
        Some(
            self.env
                .get_template(template)
                .and_then(|t| t.render(&value))
                .map(|s| Rendered {
                    bytes: stamp(s).into_bytes(),
                    fallback: None,
                })
                .map_err(|e| RenderError::from_jinja(template, &e)),
        )
    }

    /// Renders `template` with `ctx` by minijinja: the operator's version when there is one and
    /// it renders, the built-in one otherwise (templates with no Rust twin).
    pub(crate) fn render_template<S: serde::Serialize>(
        &self,
        template: &str,
        ctx: &S,
    ) -> Result<Rendered, RenderError> {
        let value = minijinja::Value::from_serialize(ctx);
        let failure = match self.operator_version(template, || value.clone()) {
            Some(Ok(r)) => return Ok(r),
            Some(Err(e)) => Some(e),
            None => None,
        };
        let builtin = builtin_name(template);
        self.env
            .get_template(&builtin)
            .and_then(|t| t.render(&value))
            .map(|s| Rendered {
                bytes: stamp(s).into_bytes(),
                fallback: failure,
            })
            .map_err(|e| RenderError::from_jinja(&builtin, &e))
    }

    /// The bytes of `file` for this device, or `None` when the device does not fetch it.
    /// The second value is a failed operator template that the built-in one replaced.
    pub fn render(&self, view: &DeviceView, file: &str) -> Option<Result<Rendered, RenderError>> {
        let pattern = view.pattern_of(file)?;
        let family = family::family_of_pattern(pattern, view.family)?;
        Some(family.render(self, view, pattern))
    }

    /// The MPP first-contact file (`<PSN>.xml`): sends the phone on to its own file by `rule`.
    pub fn render_first_contact(&self, rule: &str) -> Result<Rendered, RenderError> {
        #[derive(serde::Serialize)]
        struct FirstContact<'a> {
            profile_rule: &'a str,
        }
        self.render_with(
            "mpp-first-contact.xml.j2",
            || FirstContact { profile_rule: rule },
            || native::first_contact(rule),
        )
    }

    /// `XMLDefault.cnf.xml`: what phones not in the database get when auto-registration is on.
    pub fn render_default(&self, view: &DefaultView) -> Result<Rendered, RenderError> {
        self.render_with(
            "xmldefault.cnf.xml.j2",
            || view,
            || native::xmldefault(view),
        )
    }
}

/// Replaces the version-stamp placeholder with a digest of the rest of the file, so the stamp
/// changes exactly when the content does.
fn stamp(mut s: String) -> String {
    let Some(at) = s.find(STAMP) else {
        return s;
    };
    let digest = Sha256::digest(s.as_bytes());
    let mut hex = String::with_capacity(16);
    for b in digest.iter().take(8) {
        let _ = std::fmt::Write::write_fmt(&mut hex, format_args!("{b:02x}"));
    }
    s.replace_range(at..at + STAMP.len(), &hex);
    if s.contains(STAMP) {
        return s.replace(STAMP, &hex);
    }
    s
}

impl DeviceView {
    /// The names of the files this device fetches.
    pub fn files(&self) -> Vec<String> {
        self.file_patterns.iter().map(|p| self.file_of(p)).collect()
    }

    /// The file name a pattern of the catalogue gives this device.
    fn file_of(&self, pattern: &str) -> String {
        let mac = self.mac.as_deref().unwrap_or_default();
        pattern
            .replace("<MAC>", &mac.to_ascii_uppercase())
            .replace("<mac>", &mac.to_ascii_lowercase())
            .replace(
                "<NAME>",
                self.name.strip_prefix("UPC").unwrap_or(&self.name),
            )
            .replace("<PSN>", self.psn.as_deref().unwrap_or_default())
    }

    /// The catalogue's pattern of `file` for this device (names compared case-insensitively).
    pub fn pattern_of(&self, file: &str) -> Option<&str> {
        self.file_patterns
            .iter()
            .find(|p| self.file_of(p).eq_ignore_ascii_case(file))
            .map(String::as_str)
    }

    /// The family that renders this device's files and decides its resync.
    pub fn family(&self) -> Option<&'static dyn Family> {
        family::family_of(self)
    }
}

pub(crate) const STAMP_PLACEHOLDER: &str = STAMP;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped_not_html() {
        let mut s = String::new();
        xml_escape("a&b<c>\"d'/e\u{1}", &mut s);
        assert_eq!(s, "a&amp;b&lt;c&gt;&quot;d&apos;/e");
    }

    #[test]
    fn stamps_follow_the_content() {
        let a = stamp(format!("x {STAMP}"));
        let b = stamp(format!("y {STAMP}"));
        assert_ne!(a, b);
        assert_eq!(a, stamp(format!("x {STAMP}")));
        assert!(!a.contains(STAMP));
    }

    #[test]
    fn xml_escape_escapes_markup_drops_what_xml_cannot_carry_and_keeps_the_rest() {
        let mut out = String::from("<x>");
        xml_escape("Zoë & 日本 <\"a\"> 'b'\t\n\r\u{1}\u{1f}end", &mut out);
        assert_eq!(
            out,
            "<x>Zoë &amp; 日本 &lt;&quot;a&quot;&gt; &apos;b&apos;\t\n\rend"
        );
        let mut out = String::new();
        xml_escape("", &mut out);
        xml_escape("plain", &mut out);
        xml_escape("&", &mut out);
        assert_eq!(out, "plain&amp;");
    }
}
