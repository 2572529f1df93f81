//! Syslog lines from phones into resync events. A datagram is parsed as RFC 5424 or RFC 3164 by
//! `syslog_loose` (phones are loose about both); its message is then matched against the
//! resync log messages the phones were given (Log Request Msg, Log Success Msg, Log Failure
//! Msg: the seed defaults `$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH`, …, and
//! whatever text operators configured), with the macros as captures: `$MA`/`$MAU`/`$MAC` give
//! the device, `$ERR` the reason of a failure, `$SWVER` the firmware, `$PN`/`$PSN` the product.
//! Pure: the receiver (socket, store) is the binary's.
#![forbid(unsafe_code)]

use model::Mac;

/// Which resync message a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Request,
    Success,
    Failure,
}

/// A resync event a phone reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    /// From `$MA`, `$MAU` or `$MAC`; `None` when the message has none (the receiver may then go
    /// by the sender's address).
    pub mac: Option<Mac>,
    /// `$PN` or `$PSN`.
    pub product: Option<String>,
    /// `$SWVER`.
    pub firmware: Option<String>,
    /// `$SCHEME://$SERVIP:$PORT$PATH` as far as the message gives it.
    pub url: Option<String>,
    /// `$ERR` (failures).
    pub error: Option<String>,
}

/// What a datagram was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Event(Event),
    /// A well-formed syslog line that is no resync message (phones log much else).
    Other,
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("an empty datagram")]
    Empty,
    #[error("no <PRI> (0 to 191) at the start: not syslog")]
    NoPriority,
    #[error("longer than 8 KB")]
    TooLong,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var(String),
}

/// One log message template, compiled for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    kind: Kind,
    text: String,
    parts: Vec<Part>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
}

impl Template {
    /// Compiles a message as the phone's Log … Msg parameter holds it.
    pub fn new(kind: Kind, text: &str) -> Template {
        let mut parts: Vec<Part> = Vec::new();
        let mut lit = String::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let flush = |lit: &mut String, parts: &mut Vec<Part>| {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(lit)));
            }
        };
        while i < chars.len() {
            let c = chars[i];
            if c != '$' {
                lit.push(c);
                i += 1;
                continue;
            }
            if chars.get(i + 1) == Some(&'$') {
                lit.push('$');
                i += 2;
                continue;
            }
            if chars.get(i + 1) == Some(&'(') {
                if let Some(close) = chars[i + 2..].iter().position(|c| *c == ')') {
                    let inner: String = chars[i + 2..i + 2 + close].iter().collect();
                    let name = inner.split(':').next().unwrap_or("");
                    if !name.is_empty() && name.chars().all(is_name_char) {
                        flush(&mut lit, &mut parts);
                        // A substring of a value is still a value of its class, but not the
                        // whole MAC: keep it as an anonymous capture.
                        let named = if inner.contains(':') {
                            format!("{name}:part")
                        } else {
                            name.to_string()
                        };
                        parts.push(Part::Var(named));
                        i += 2 + close + 1;
                        continue;
                    }
                }
                lit.push('$');
                i += 1;
                continue;
            }
            let len = chars[i + 1..]
                .iter()
                .take_while(|c| is_name_char(**c))
                .count();
            if len == 0 {
                lit.push('$');
                i += 1;
                continue;
            }
            flush(&mut lit, &mut parts);
            parts.push(Part::Var(chars[i + 1..i + 1 + len].iter().collect()));
            i += 1 + len;
        }
        flush(&mut lit, &mut parts);
        Template {
            kind,
            text: text.to_string(),
            parts,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether a line of this template names its device (`$MA`, `$MAU` or `$MAC`).
    pub fn names_the_device(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(v) if v == "MA" || v == "MAU" || v == "MAC"))
    }

    /// Matches the whole of `text` (from any starting point: relays and phones put things in
    /// front), giving the captures.
    fn matches<'s, 't>(&'s self, text: &'t str) -> Option<Vec<(&'s str, &'t str)>> {
        let text = text.trim_end();
        let starts = std::iter::once(0).chain(text.char_indices().map(|(i, _)| i).skip(1));
        for start in starts {
            let mut caps = Vec::new();
            if self.match_from(0, text, start, &mut caps) {
                return Some(caps);
            }
        }
        None
    }

    fn match_from<'s, 't>(
        &'s self,
        part: usize,
        text: &'t str,
        pos: usize,
        caps: &mut Vec<(&'s str, &'t str)>,
    ) -> bool {
        let Some(p) = self.parts.get(part) else {
            return pos == text.len();
        };
        match p {
            Part::Lit(l) => {
                text[pos..].starts_with(l.as_str())
                    && self.match_from(part + 1, text, pos + l.len(), caps)
            }
            Part::Var(name) => {
                let rest = &text[pos..];
                let last = part + 1 == self.parts.len();
                // The longest run the value's class allows, then shorter ones (backtracking).
                let mut ends: Vec<usize> = Vec::new();
                for (i, c) in rest.char_indices() {
                    if !fits(name, c, i) {
                        break;
                    }
                    ends.push(i + c.len_utf8());
                }
                let min = if name == "ERR" { 0 } else { 1 };
                if min == 0 {
                    ends.insert(0, 0);
                }
                let candidates: Box<dyn Iterator<Item = &usize>> = if last {
                    Box::new(ends.iter().rev().take(1))
                } else {
                    Box::new(ends.iter())
                };
                for &end in candidates {
                    if end < min || !whole(name, &rest[..end]) {
                        continue;
                    }
                    caps.push((name.as_str(), &rest[..end]));
                    if self.match_from(part + 1, text, pos + end, caps) {
                        return true;
                    }
                    caps.pop();
                }
                false
            }
        }
    }
}

/// Whether character `c` at offset `i` may be part of a value of macro `name`.
fn fits(name: &str, c: char, i: usize) -> bool {
    match name {
        "MA" | "MAU" => c.is_ascii_hexdigit() && i < 12,
        "MAC" => (c.is_ascii_hexdigit() || c == ':') && i < 17,
        "PORT" => c.is_ascii_digit(),
        // A reason may say anything.
        "ERR" => true,
        _ => !c.is_whitespace(),
    }
}

/// Whether a candidate is a whole value of macro `name`.
fn whole(name: &str, v: &str) -> bool {
    match name {
        "MA" | "MAU" => v.len() == 12,
        "MAC" => v.len() == 17 || (v.len() == 12 && !v.contains(':')),
        _ => true,
    }
}

/// The resync templates a receiver recognises: the seed defaults and every configured text.
#[derive(Debug, Clone, Default)]
pub struct Templates(Vec<Template>);

impl Templates {
    /// The phones' default texts (docs/phones.md, "Resync: SIP NOTIFY, syslog and the phones'
    /// status") and the given texts (duplicates dropped).
    pub fn new<'a>(configured: impl IntoIterator<Item = (Kind, &'a str)>) -> Templates {
        let mut all: Vec<Template> = Vec::new();
        let defaults = [
            (Kind::Request, default_text("log_request_msg")),
            (Kind::Success, default_text("log_success_msg")),
            (Kind::Failure, default_text("log_failure_msg")),
        ];
        for (kind, text) in configured.into_iter().chain(defaults) {
            if text.trim().is_empty() || all.iter().any(|t| t.kind == kind && t.text == text) {
                continue;
            }
            all.push(Template::new(kind, text));
        }
        // Longer templates first: a configured text that extends a default wins over it.
        all.sort_by_key(|t| std::cmp::Reverse(t.parts.len()));
        Templates(all)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Template> {
        self.0.iter()
    }

    fn event(&self, text: &str) -> Option<Event> {
        self.0.iter().find_map(|t| {
            let caps = t.matches(text)?;
            let get = |n: &str| caps.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
            let mac = ["MA", "MAU", "MAC"]
                .iter()
                .find_map(|n| get(n))
                .and_then(|m| Mac::parse(m).ok());
            let url = match (get("SCHEME"), get("SERVIP")) {
                (Some(s), Some(ip)) => Some(format!(
                    "{s}://{ip}{}{}",
                    get("PORT").map(|p| format!(":{p}")).unwrap_or_default(),
                    get("PATH").unwrap_or("")
                )),
                _ => None,
            };
            Some(Event {
                kind: t.kind,
                mac,
                product: get("PN").or_else(|| get("PSN")).map(str::to_string),
                firmware: get("SWVER").map(str::to_string),
                url,
                error: get("ERR").map(|e| e.trim().to_string()),
            })
        })
    }
}

fn default_text(key: &str) -> &'static str {
    model::provisioning::PARAMS
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.default)
        .unwrap_or("")
}

/// Parses one datagram.
pub fn parse(datagram: &[u8], templates: &Templates) -> Result<Parsed, Malformed> {
    if datagram.len() > 8192 {
        return Err(Malformed::TooLong);
    }
    let text = String::from_utf8_lossy(datagram);
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if text.is_empty() {
        return Err(Malformed::Empty);
    }
    let pri_ok = text
        .strip_prefix('<')
        .and_then(|r| r.split_once('>'))
        .is_some_and(|(p, _)| {
            (1..=3).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|v| v <= 191)
        });
    if !pri_ok {
        return Err(Malformed::NoPriority);
    }
    let m = syslog_loose::parse_message(text, syslog_loose::Variant::Either);
    // The parsed message first; a loose parse may take the first words of a bare message for a
    // host and an app name, so the whole line after `<PRI>` is tried too.
    let after_pri = text.split_once('>').map(|(_, r)| r).unwrap_or(text);
    match templates
        .event(m.msg)
        .or_else(|| templates.event(after_pri))
    {
        Some(e) => Ok(Parsed::Event(e)),
        None => Ok(Parsed::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Templates {
        Templates::new([])
    }

    fn event(line: &str) -> Event {
        match parse(line.as_bytes(), &t()) {
            Ok(Parsed::Event(e)) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn the_seed_messages_in_both_formats() {
        let e = event("<134>Nov 24 18:00:00 10.0.0.7 CP-8861-3PCC 00:56:2b:04:36:16 -- Requesting resync http://10.0.0.5:6970/00562b043616.xml");
        assert_eq!(e.kind, Kind::Request);
        assert_eq!(e.mac.unwrap().as_str(), "00562B043616");
        assert_eq!(e.product.as_deref(), Some("CP-8861-3PCC"));
        assert_eq!(
            e.url.as_deref(),
            Some("http://10.0.0.5:6970/00562b043616.xml")
        );
        let e = event("<134>1 2026-11-24T18:00:01Z 10.0.0.7 phone - - - CP-8861-3PCC 00:56:2b:04:36:16 -- Successful resync http://10.0.0.5:6970/00562b043616.xml");
        assert_eq!(e.kind, Kind::Success);
        let e =
            event("<131>CP-8861-3PCC 00:56:2b:04:36:16 -- Resync failed: HTTP 401 Unauthorized");
        assert_eq!(e.kind, Kind::Failure);
        assert_eq!(e.error.as_deref(), Some("HTTP 401 Unauthorized"));
        // Without a header at all, and with a trailing newline.
        let e = event("<134>CP-8841-3PCC 00:56:2b:04:36:17 -- Requesting resync tftp://10.0.0.5:69/spa8841-3PCC.cfg\n");
        assert_eq!(e.mac.unwrap().as_str(), "00562B043617");
    }

    #[test]
    fn operator_texts_with_other_macros() {
        let ts = Templates::new([
            (
                Kind::Success,
                "RESYNC-OK $MA fw=$SWVER from $SCHEME://$SERVIP$PATH",
            ),
            (Kind::Failure, "RESYNC-FAIL $(MA) [$ERR]"),
            (Kind::Request, "starting resync"),
        ]);
        let Ok(Parsed::Event(e)) = parse(
            b"<134>Nov 24 18:00:00 phone RESYNC-OK 00562b043616 fw=sip88xx.11-3-1MPP from https://prov.example.com/cfg/00562b043616.xml",
            &ts,
        ) else {
            panic!()
        };
        assert_eq!(e.kind, Kind::Success);
        assert_eq!(e.firmware.as_deref(), Some("sip88xx.11-3-1MPP"));
        assert_eq!(
            e.url.as_deref(),
            Some("https://prov.example.com/cfg/00562b043616.xml")
        );
        let Ok(Parsed::Event(e)) =
            parse(b"<131>RESYNC-FAIL 00562B043616 [timeout; no answer]", &ts)
        else {
            panic!()
        };
        assert_eq!(e.error.as_deref(), Some("timeout; no answer"));
        // A text without the MAC is still an event; the device is the sender's to find.
        let Ok(Parsed::Event(e)) = parse(b"<134>starting resync", &ts) else {
            panic!()
        };
        assert_eq!((e.kind, e.mac), (Kind::Request, None));
        assert!(!ts
            .iter()
            .find(|t| t.text() == "starting resync")
            .unwrap()
            .names_the_device());
    }

    #[test]
    fn other_lines_and_garbage() {
        assert_eq!(
            parse(b"<134>Nov 24 18:00:00 phone sshd: something else", &t()),
            Ok(Parsed::Other)
        );
        assert_eq!(parse(b"", &t()), Err(Malformed::Empty));
        assert_eq!(parse(b"\0\0", &t()), Err(Malformed::Empty));
        assert_eq!(parse(b"hello", &t()), Err(Malformed::NoPriority));
        assert_eq!(parse(b"<999>x", &t()), Err(Malformed::NoPriority));
        assert_eq!(parse(b"<>x", &t()), Err(Malformed::NoPriority));
        assert_eq!(parse(&[b'<'; 9000], &t()), Err(Malformed::TooLong));
        // A MAC that is not one: no event from it.
        assert_eq!(
            parse(
                b"<134>CP-8861-3PCC 00:56:2b:04:36 -- Requesting resync http://a:1/b",
                &t()
            ),
            Ok(Parsed::Other)
        );
    }

    /// No input may panic: generated lines from pieces of real ones.
    #[test]
    fn nothing_panics() {
        let pieces = [
            "<134>",
            "<1>",
            "Nov 24 18:00:00 ",
            "1 2026-11-24T18:00:01Z ",
            "CP-8861-3PCC ",
            "00:56:2b:04:36:16 ",
            "-- ",
            "Requesting resync ",
            "Resync failed: ",
            "http://",
            "10.0.0.5",
            ":",
            "6970",
            "/a.xml",
            "é",
            "$",
            "[",
            "] ",
            "\0",
            "-",
        ];
        let ts = Templates::new([(Kind::Failure, "X $(MA:2:4) $ERR $$ $")]);
        let mut seed = 0x2545F4914F6CDD1Du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 10) as usize;
            let s: String = (0..n)
                .map(|k| pieces[((seed >> (k * 5)) % pieces.len() as u64) as usize])
                .collect();
            let _ = parse(s.as_bytes(), &ts);
            let _ = parse(s.as_bytes(), &t());
        }
    }
}
