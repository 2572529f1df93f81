//! Macro expansion as a 7800/8800 multiplatform phone does it in profile rules, log messages and
//! upgrade rules (docs/phones.md, "Profile rules and resync (MPP)"): `$NAME` and `$(NAME)` become
//! the macro's value, `$(NAME:p)` the value without its first `p` characters, `$(NAME:p:q)` the `q`
//! characters from `p`, `$$` a `$`. A name is a run of capital letters, digits and `_`; a name the
//! phone does not know is left as written, and expanded values are not expanded again.
//!
//! Here rather than in `render` (where a vendor's rules live) because the phone fleet simulator,
//! which may use only `model`, must expand macros exactly as the server does.

use std::borrow::Cow;

/// Expands the macros of `text`, looking each name up with `lookup`.
pub fn expand<'a, F>(text: &'a str, lookup: F) -> Cow<'a, str>
where
    F: Fn(&str) -> Option<String>,
{
    if !text.contains('$') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            // Copy up to the next `$` (all of it is UTF-8 text: `$` is never inside a character).
            let next = text[i..].find('$').map(|n| i + n).unwrap_or(bytes.len());
            out.push_str(&text[i..next]);
            i = next;
            continue;
        }
        // `$$` is one `$`.
        if bytes.get(i + 1) == Some(&b'$') {
            out.push('$');
            i += 2;
            continue;
        }
        // `$(NAME)`, `$(NAME:p)`, `$(NAME:p:q)`.
        if bytes.get(i + 1) == Some(&b'(') {
            if let Some(close) = text[i + 2..].find(')') {
                let inner = &text[i + 2..i + 2 + close];
                let mut parts = inner.split(':');
                let name = parts.next().unwrap_or("");
                let p = parts.next().map(|s| s.trim().parse::<usize>());
                let q = parts.next().map(|s| s.trim().parse::<usize>());
                let well_formed = is_name(name)
                    && parts.next().is_none()
                    && !matches!(p, Some(Err(_)))
                    && !matches!(q, Some(Err(_)));
                if well_formed {
                    if let Some(v) = lookup(name) {
                        let chars: Vec<char> = v.chars().collect();
                        let from = p.and_then(Result::ok).unwrap_or(0).min(chars.len());
                        let to = match q.and_then(Result::ok) {
                            Some(q) => (from + q).min(chars.len()),
                            None => chars.len(),
                        };
                        out.extend(&chars[from..to]);
                        i += 2 + close + 1;
                        continue;
                    }
                }
            }
            // Unknown or malformed: as written.
            out.push('$');
            i += 1;
            continue;
        }
        // `$NAME`: the longest run of name characters.
        let len = text[i + 1..]
            .bytes()
            .take_while(|b| is_name_byte(*b))
            .count();
        let name = &text[i + 1..i + 1 + len];
        match (len > 0).then(|| lookup(name)).flatten() {
            Some(v) => {
                out.push_str(&v);
                i += 1 + len;
            }
            None => {
                out.push('$');
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_name_byte)
}

/// The macros a phone knows about itself, from its MAC, model and serial number.
#[derive(Debug, Clone, Default)]
pub struct PhoneMacros {
    /// 12 hex digits, any case.
    pub mac: String,
    /// Product name, e.g. `CP-8861-3PCC`.
    pub product_name: String,
    /// Product serial name, e.g. `8861-3PCC`.
    pub product_serial_name: String,
    pub serial_number: String,
    /// Other values by name (`SWVER`, `IP`, `SCHEME`, `SERVIP`, `PORT`, `PATH`, `ERR`, `A`…`P`).
    pub extra: Vec<(String, String)>,
}

impl PhoneMacros {
    /// The value of a macro: `MA` (MAC, lower case), `MAU` (upper case), `MAC` (lower case with
    /// colons), `PN`, `PSN`, `SN`, and the extra ones.
    pub fn get(&self, name: &str) -> Option<String> {
        let lower = self.mac.to_ascii_lowercase();
        match name {
            "MA" => Some(lower),
            "MAU" => Some(self.mac.to_ascii_uppercase()),
            "MAC" => Some(
                lower
                    .as_bytes()
                    .chunks(2)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
            "PN" => Some(self.product_name.clone()),
            "PSN" => Some(self.product_serial_name.clone()),
            "SN" => Some(self.serial_number.clone()),
            _ => self
                .extra
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
        }
    }

    pub fn expand<'a>(&self, text: &'a str) -> Cow<'a, str> {
        expand(text, |n| self.get(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone() -> PhoneMacros {
        PhoneMacros {
            mac: "00562B043615".into(),
            product_name: "CP-8861-3PCC".into(),
            product_serial_name: "8861-3PCC".into(),
            serial_number: "FCH1234ABCD".into(),
            extra: vec![
                ("SERVIP".into(), "10.1.1.1".into()),
                ("A".into(), "$MA".into()),
            ],
        }
    }

    #[test]
    fn the_phone_macros() {
        let p = phone();
        assert_eq!(p.expand("/spa$PSN.cfg"), "/spa8861-3PCC.cfg");
        assert_eq!(
            p.expand("http://$SERVIP/$MA.xml"),
            "http://10.1.1.1/00562b043615.xml"
        );
        assert_eq!(p.expand("$MAU"), "00562B043615");
        assert_eq!(p.expand("$MAC"), "00:56:2b:04:36:15");
        assert_eq!(
            p.expand("$PN $MAC -- Requesting resync"),
            "CP-8861-3PCC 00:56:2b:04:36:15 -- Requesting resync"
        );
    }

    #[test]
    fn parentheses_and_substrings() {
        let p = phone();
        assert_eq!(p.expand("$(MA)x"), "00562b043615x");
        assert_eq!(p.expand("$(MA:6)"), "043615");
        assert_eq!(p.expand("$(MA:6:2)"), "04");
        assert_eq!(p.expand("$(MA:10:9)"), "15", "past the end is cut");
        assert_eq!(p.expand("$(MA:99)"), "");
        assert_eq!(
            p.expand("$(MA:x)"),
            "$(MA:x)",
            "malformed is left as written"
        );
        assert_eq!(p.expand("$(MA"), "$(MA");
    }

    #[test]
    fn dollars_unknown_names_and_no_recursion() {
        let p = phone();
        assert_eq!(p.expand("$$MA"), "$MA");
        assert_eq!(p.expand("cost $5"), "cost $5");
        assert_eq!(
            p.expand("$NOPE/$ma"),
            "$NOPE/$ma",
            "unknown and lower-case names stay"
        );
        assert_eq!(p.expand("$A"), "$MA", "a value is not expanded again");
        assert_eq!(p.expand("$"), "$");
        assert_eq!(p.expand("é$MA€"), "é00562b043615€");
    }

    /// Properties over many generated inputs (a small generator; no input may panic).
    #[test]
    fn properties() {
        let p = phone();
        let pieces = [
            "$",
            "$$",
            "$(",
            ")",
            ":",
            "MA",
            "PSN",
            "X",
            "é",
            "/",
            "1",
            "$(MA:",
            "$(PN:2:3)",
            " ",
            "NOPE",
        ];
        let mut seed = 0x9E3779B97F4A7C15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 8) as usize;
            let s: String = (0..n)
                .map(|k| pieces[((seed >> (k * 5)) % pieces.len() as u64) as usize])
                .collect();
            let out = p.expand(&s);
            // Without a `$` nothing changes.
            if !s.contains('$') {
                assert_eq!(out, s);
            }
            // With no macro known, only `$$` changes.
            assert_eq!(expand(&s, |_| None), expand_dollars_only(&s), "{s}");
        }
    }

    fn expand_dollars_only(s: &str) -> String {
        s.replace("$$", "\u{0}").replace('\u{0}', "$")
    }
}
