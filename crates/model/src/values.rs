//! Values parsed at the boundary. Each has one `parse` that is the only way to build it, so a value
//! of these types in the rest of the code is known to be well-formed.

use crate::Invalid;
use std::fmt;

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A MAC address, stored as 12 upper-case hex digits. Accepts the usual spellings:
/// `00562B043615`, `00:56:2b:04:36:15`, `00-56-2B-04-36-15`, `0056.2b04.3615`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(String);
string_value!(Mac);

impl Mac {
    pub fn parse(s: &str) -> Result<Mac, Invalid> {
        let t = s.trim();
        let hex: String = t
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.' | ' '))
            .collect();
        let separators_ok = {
            // Separators, if any, must follow one of the usual groupings.
            let seps: Vec<usize> = t
                .char_indices()
                .filter(|(_, c)| matches!(c, ':' | '-' | '.' | ' '))
                .map(|(i, _)| i)
                .collect();
            seps.is_empty() || seps == [2, 5, 8, 11, 14] || seps == [4, 9]
        };
        if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) || !separators_ok {
            return Err(Invalid::new(
                "mac",
                format!(
                    "`{s}` is not a MAC address: give 12 hex digits, e.g. 00562B043615, \
                     00:56:2b:04:36:15, 00-56-2B-04-36-15 or 0056.2b04.3615"
                ),
            ));
        }
        Ok(Mac(hex.to_ascii_uppercase()))
    }

    /// Lower-case spelling, as MPP phones name their files (`<mac>.xml`).
    pub fn lower(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A device name: `SEP` + 12 hex digits for hardware phones, `UPC…` for soft clients, or another
/// name of 1 to 50 letters, digits, `.`, `_`, `-` for device profiles and free-named soft phones.
/// Stored upper-case when it is a `SEP` name, as given otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceName(String);
string_value!(DeviceName);

impl DeviceName {
    /// Any device or profile name.
    pub fn parse(s: &str) -> Result<DeviceName, Invalid> {
        let t = s.trim();
        if t.is_empty() || t.len() > 50 {
            return Err(Invalid::new("name", "a name has 1 to 50 characters"));
        }
        if let Some(c) = t
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(Invalid::new(
                "name",
                format!("`{t}` has `{c}`: use only letters, digits, `.`, `_` and `-`"),
            ));
        }
        if let Ok(sep) = Self::parse_sep(t) {
            return Ok(sep);
        }
        Ok(DeviceName(t.to_string()))
    }

    /// A hardware phone's name: `SEP` followed by its MAC's 12 hex digits.
    pub fn parse_sep(s: &str) -> Result<DeviceName, Invalid> {
        let t = s.trim();
        // Checked as bytes: a name with a multi-byte character among its first three must
        // not be cut inside it (found by fuzzing: `C`, four U+FFFD and `th` panicked here).
        let ok = t.len() == 15
            && t.as_bytes()[..3].eq_ignore_ascii_case(b"SEP")
            && t.as_bytes()[3..].iter().all(u8::is_ascii_hexdigit);
        if !ok {
            return Err(Invalid::new(
                "name",
                format!("`{t}` is not a phone name: it is SEP followed by the 12 hex digits of the MAC, e.g. SEP00562B043615"),
            ));
        }
        Ok(DeviceName(format!("SEP{}", t[3..].to_ascii_uppercase())))
    }

    pub fn from_mac(mac: &Mac) -> DeviceName {
        DeviceName(format!("SEP{}", mac.as_str()))
    }

    /// The MAC a `SEP` name carries.
    pub fn mac(&self) -> Option<Mac> {
        self.0.strip_prefix("SEP").and_then(|m| Mac::parse(m).ok())
    }

    /// The soft-phone device name for a user (docs/phones.md, "What each phone fetches"): `UPC`
    /// followed by the user name upper-cased, with every character that is not A–Z or 0–9 removed,
    /// cut to 12 characters.
    pub fn soft_phone(user_id: &UserId) -> Result<DeviceName, Invalid> {
        let rest: String = user_id
            .as_str()
            .chars()
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            .take(12)
            .collect();
        if rest.is_empty() {
            return Err(Invalid::new(
                "owner_user_id",
                format!(
                    "no soft-phone name can be derived from user `{user_id}`: it has no letter A-Z or digit; \
                     give the user another user ID"
                ),
            ));
        }
        Ok(DeviceName(format!("UPC{rest}")))
    }
}

/// A directory number pattern: an optional leading `+`, then 1 to 24 of `0-9`, `*`, `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DirectoryNumber(String);
string_value!(DirectoryNumber);

impl DirectoryNumber {
    pub fn parse(s: &str) -> Result<DirectoryNumber, Invalid> {
        let t = s.trim();
        let body = t
            .strip_prefix('+')
            .or_else(|| t.strip_prefix("\\+"))
            .unwrap_or(t);
        if body.is_empty()
            || body.len() > 24
            || !body
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        {
            return Err(Invalid::new(
                "pattern",
                format!("`{s}` is not a directory number: use 1 to 24 digits, `*` or `#`, optionally after a leading `+`"),
            ));
        }
        let plus = if body.len() != t.len() { "+" } else { "" };
        Ok(DirectoryNumber(format!("{plus}{body}")))
    }
}

/// A route partition name; empty means "no partition".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Partition(String);
string_value!(Partition);

impl Partition {
    pub fn parse(s: &str) -> Result<Partition, Invalid> {
        let t = s.trim();
        if t.len() > 50
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'))
        {
            return Err(Invalid::new(
                "partition",
                format!("`{s}` is not a partition name: up to 50 letters, digits, spaces, `.`, `_`, `-`"),
            ));
        }
        Ok(Partition(t.to_string()))
    }

    pub fn none() -> Partition {
        Partition(String::new())
    }
}

/// An end user's ID (also a voicemail subscriber's alias): 1 to 128 characters, no control
/// characters, no spaces at either end.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);
string_value!(UserId);

impl UserId {
    pub fn parse(s: &str) -> Result<UserId, Invalid> {
        if s.trim().is_empty() {
            return Err(Invalid::new("user_id", "a user ID is required"));
        }
        if s.trim() != s {
            return Err(Invalid::new(
                "user_id",
                format!("`{s}` starts or ends with a space: remove it"),
            ));
        }
        if s.chars().count() > 128 {
            return Err(Invalid::new(
                "user_id",
                "a user ID has at most 128 characters",
            ));
        }
        if s.chars()
            .any(|c| c.is_control() || matches!(c, '/' | '?' | '#' | '%'))
        {
            return Err(Invalid::new(
                "user_id",
                format!(
                    "`{}` has a control character or one of / ? # %: remove it",
                    s.escape_debug()
                ),
            ));
        }
        Ok(UserId(s.to_string()))
    }
}

/// A name of a product system, template, service, class of service, …: 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);
string_value!(Name);

impl Name {
    pub fn parse(field: &str, s: &str) -> Result<Name, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new(field, "a name is required"));
        }
        if t.chars().count() > 64
            || t.chars()
                .any(|c| c.is_control() || matches!(c, '/' | '?' | '#' | '%'))
        {
            return Err(Invalid::new(
                field,
                format!("`{}` is not a name: 1 to 64 characters, none of them / ? # % or control characters", s.escape_debug()),
            ));
        }
        Ok(Name(t.to_string()))
    }
}

/// A PIN as a user types it on a keypad: 4 to 20 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn parse(s: &str) -> Result<Pin, Invalid> {
        if s.len() < 4 || s.len() > 20 || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(Invalid::new("pin", "a PIN is 4 to 20 digits"));
        }
        Ok(Pin(s.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// A secret as a request carries it (a password or PIN before hashing): serialised as the plain
/// string it is, but never shown by `Debug`, so logging a request cannot leak it.
#[derive(Clone, PartialEq, Eq, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Secret(String);

/// A string; anything else is refused without its value in the message (serde's own message
/// quotes a number or a character it did not expect, and a PIN sent as a number would be
/// echoed in the answer and the log).
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret(v))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(E::custom("a secret is a string, not a number (quote it)"))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(E::custom("a secret is a string, not a number (quote it)"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("a secret is a string, not a number (quote it)"))
            }
            fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Secret, E> {
                Err(E::custom("a secret is a string"))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::custom("a secret is a string, not true or false"))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Secret, E> {
                Err(E::custom("a secret is a string, not null"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
                Err(serde::de::Error::custom("a secret is a string, not a list"))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
                Err(serde::de::Error::custom(
                    "a secret is a string, not an object",
                ))
            }
        }
        d.deserialize_any(Text)
    }
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Checks a phone's HTTP password: 8 to 64 letters, digits and `-._~!@#%^*+=`. It travels inside
/// an MPP profile rule (`[--uid $MA --pwd …]`), where a space, a bracket or a `$` would change
/// the rule's meaning.
pub fn check_http_password(s: &str) -> Result<(), Invalid> {
    if rule_safe(s) {
        Ok(())
    } else {
        Err(Invalid::new(
            "password",
            "a phone's HTTP password has 8 to 64 letters, digits and `-._~!@#%^*+=` \
             (no spaces, brackets or `$`: it goes into the phone's profile rule)",
        ))
    }
}

/// 8 to 64 characters that keep their meaning inside a profile rule.
fn rule_safe(s: &str) -> bool {
    (8..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~!@#%^*+=".contains(c))
}

/// An MPP profile key: what `[--key …]` in a profile rule carries.
pub fn check_profile_key(s: &str) -> Result<(), Invalid> {
    if rule_safe(s) {
        Ok(())
    } else {
        Err(Invalid::new(
            "key",
            "a profile key has 8 to 64 letters, digits and `-._~!@#%^*+=` \
             (no spaces, brackets or `$`: it goes into the phone's profile rule)",
        ))
    }
}

/// A password: 1 to 128 characters, not only spaces. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(field: &str, s: &str, min_len: usize) -> Result<Password, Invalid> {
        let n = s.chars().count();
        if s.trim().is_empty() || n < min_len || n > 128 {
            return Err(Invalid::new(
                field,
                format!("a password has {min_len} to 128 characters, not only spaces"),
            ));
        }
        Ok(Password(s.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_spellings_parse_to_one() {
        for s in [
            "00562B043615",
            "00:56:2b:04:36:15",
            "00-56-2B-04-36-15",
            "0056.2b04.3615",
            " 00562b043615 ",
        ] {
            assert_eq!(Mac::parse(s).unwrap().as_str(), "00562B043615", "{s}");
        }
        for s in [
            "",
            "00562B04361",
            "00562B0436155",
            "00562B04361G",
            "0:056:2b:04:36:15",
            "00::562b043615",
        ] {
            let e = Mac::parse(s).unwrap_err();
            assert_eq!(e.field, "mac");
            assert!(e.message.contains("12 hex digits"), "{s}: {e}");
        }
    }

    #[test]
    fn sep_names() {
        assert_eq!(
            DeviceName::parse("sep00562b043615").unwrap().as_str(),
            "SEP00562B043615"
        );
        assert!(DeviceName::parse_sep("SEP00562B04361")
            .unwrap_err()
            .message
            .contains("12 hex digits"));
        assert!(DeviceName::parse_sep("SEP00562B04361Z").is_err());
        // Fifteen bytes with a character of several across the third (fuzz/run directory_values).
        let found = "C\u{fffd}\u{fffd}\u{fffd}\u{fffd}th";
        assert_eq!(found.len(), 15);
        assert!(DeviceName::parse_sep(found).is_err());
        assert!(DeviceName::parse_sep("SE\u{e9}562B0436150").is_err());
        assert!(DeviceName::parse(found).is_err());
        assert!(DeviceName::parse_sep("XYZ00562B043615").is_err());
        assert_eq!(
            DeviceName::parse("SEP00562B043615")
                .unwrap()
                .mac()
                .unwrap()
                .as_str(),
            "00562B043615"
        );
        assert_eq!(
            DeviceName::parse("EM-jsmith").unwrap().as_str(),
            "EM-jsmith"
        );
        assert!(DeviceName::parse("bad name")
            .unwrap_err()
            .message
            .contains("` `"));
        assert!(DeviceName::parse("").is_err());
    }

    #[test]
    fn soft_phone_names_follow_seed_003_table_2_1() {
        let cases = [
            ("jjackson", "UPCJJACKSON"),
            ("johnnie_jackson", "UPCJOHNNIEJACKS"),
            ("johnniejackson", "UPCJOHNNIEJACKS"),
            ("john.jackson", "UPCJOHNJACKSON"),
        ];
        for (user, name) in cases {
            let u = UserId::parse(user).unwrap();
            assert_eq!(DeviceName::soft_phone(&u).unwrap().as_str(), name);
        }
        assert!(DeviceName::soft_phone(&UserId::parse("._-").unwrap()).is_err());
    }

    #[test]
    fn directory_numbers() {
        assert_eq!(DirectoryNumber::parse("1000").unwrap().as_str(), "1000");
        assert_eq!(
            DirectoryNumber::parse("\\+14085551234").unwrap().as_str(),
            "+14085551234"
        );
        assert_eq!(DirectoryNumber::parse("*86#").unwrap().as_str(), "*86#");
        for s in ["", "+", "12a4", "1".repeat(25).as_str(), "10 00"] {
            assert_eq!(DirectoryNumber::parse(s).unwrap_err().field, "pattern");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let p = Password::parse("password", "hunter22", 1).unwrap();
        assert!(!format!("{p:?}").contains("hunter"));
        let pin = Pin::parse("12345").unwrap();
        assert!(!format!("{pin:?}").contains("12345"));
        let req: Option<Secret> = serde_json::from_str("\"hunter22\"").unwrap();
        assert_eq!(req.as_ref().map(Secret::expose), Some("hunter22"));
        assert!(!format!("{req:?}").contains("hunter"));
        assert!(Pin::parse("12a4").is_err());
        assert!(Pin::parse("123").is_err());
    }

    #[test]
    fn user_ids() {
        assert!(UserId::parse("jsmith").is_ok());
        assert!(UserId::parse(" jsmith").is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a/b").is_err());
    }
}
