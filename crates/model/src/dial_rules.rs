//! Application dial rules and directory lookup rules (seed 003, "How to Configure Dialing
//! Rules"), and how a soft client applies them: application rules turn a number from the
//! directory into the number dialled ("adds the digit 9 at the start of a 7-digit phone
//! number"); directory lookup rules turn a caller's number into a directory key ("transforms
//! 4089023139 into 23139").

use crate::{Invalid, Name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most digits a rule matches or removes (E.164 numbers are 15 digits at most; dial plans
/// with access codes a few more).
pub const MAX_DIGITS: u32 = 24;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DialRuleKind {
    /// Numbers dialled from a client.
    #[default]
    Application,
    /// Callers' numbers, to look them up in the directory.
    DirectoryLookup,
}

impl DialRuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DialRuleKind::Application => "application",
            DialRuleKind::DirectoryLookup => "directory_lookup",
        }
    }
}

/// One rule: a number that begins with `begins_with` and has `number_of_digits` digits loses
/// its first `digits_removed` characters (a leading `+` counts as one) and gets `prefix` in
/// front. Rules are tried by `priority` (1 first), the first that matches applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DialRuleSpec {
    pub name: String,
    pub description: String,
    pub kind: DialRuleKind,
    /// Digits (a leading `+` allowed) the number starts with; empty: any number.
    pub begins_with: String,
    /// How many digits the number has (a leading `+` is not a digit), 1 to 24.
    pub number_of_digits: u32,
    /// How many characters to remove from the front, at most the number's length.
    pub digits_removed: u32,
    /// Digits (a leading `+` allowed) to put in front.
    pub prefix: String,
    /// 1 is tried first.
    pub priority: u32,
}

fn dial_string(field: &str, v: &str) -> Result<String, Invalid> {
    let v = v.trim();
    let digits = v.strip_prefix('+').unwrap_or(v);
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(Invalid::new(
            field,
            format!("digits only (a leading + allowed), not `{c}`"),
        ));
    }
    if digits.len() > MAX_DIGITS as usize {
        return Err(Invalid::new(field, format!("at most {MAX_DIGITS} digits")));
    }
    Ok(v.to_string())
}

impl DialRuleSpec {
    /// The rule, trimmed, by its rules.
    pub fn checked(mut self) -> Result<DialRuleSpec, Invalid> {
        self.name = Name::parse("name", &self.name)?.into_string();
        self.description = self.description.trim().to_string();
        self.begins_with = dial_string("begins_with", &self.begins_with)?;
        self.prefix = dial_string("prefix", &self.prefix)?;
        if !(1..=MAX_DIGITS).contains(&self.number_of_digits) {
            return Err(Invalid::new(
                "number_of_digits",
                format!("how many digits the numbers have: 1 to {MAX_DIGITS}"),
            ));
        }
        let begins = digit_count(&self.begins_with);
        if begins > self.number_of_digits as usize {
            return Err(Invalid::new(
                "begins_with",
                format!(
                    "`{}` has more digits than the {} the rule's numbers have",
                    self.begins_with, self.number_of_digits
                ),
            ));
        }
        // A number of `number_of_digits` digits has one more character with a leading +.
        let longest = self.number_of_digits + u32::from(self.begins_with.starts_with('+'));
        if self.digits_removed > longest {
            return Err(Invalid::new(
                "digits_removed",
                format!(
                    "the rule's numbers have {} digits: at most that many can be removed",
                    self.number_of_digits
                ),
            ));
        }
        if self.priority == 0 {
            return Err(Invalid::new("priority", "1 is tried first: give 1 or more"));
        }
        Ok(self)
    }

    /// Whether the rule applies to a number made plain (by [`plain_number`]).
    pub fn matches(&self, number: &str) -> bool {
        let begins = self.begins_with.strip_prefix('+');
        let plus = number.starts_with('+');
        let ok_start = match begins {
            // A rule for `+…` numbers takes only those.
            Some(rest) => plus && number[1..].starts_with(rest),
            None => number
                .strip_prefix('+')
                .unwrap_or(number)
                .starts_with(&self.begins_with),
        };
        ok_start && digit_count(number) == self.number_of_digits as usize
    }

    /// The number the rule makes of `number` (which it matches).
    pub fn apply(&self, number: &str) -> String {
        let rest: String = number.chars().skip(self.digits_removed as usize).collect();
        format!("{}{rest}", self.prefix)
    }
}

fn digit_count(s: &str) -> usize {
    s.chars().filter(char::is_ascii_digit).count()
}

/// The digit a letter is on the keypad of `locale` (`en_US`, `ru_RU`, `el_GR`, …): ITU E.161
/// for Latin letters everywhere, the national keypads for Cyrillic and Greek.
pub fn keypad_digit(c: char, locale: &str) -> Option<char> {
    const LATIN: [&str; 8] = ["ABC", "DEF", "GHI", "JKL", "MNO", "PQRS", "TUV", "WXYZ"];
    const CYRILLIC: [&str; 8] = [
        "АБВГ",
        "ДЕЁЖЗ",
        "ИЙКЛ",
        "МНОП",
        "РСТУ",
        "ФХЦЧ",
        "ШЩЪЫ",
        "ЬЭЮЯ",
    ];
    const GREEK: [&str; 8] = ["ΑΒΓ", "ΔΕΖ", "ΗΘΙ", "ΚΛΜ", "ΝΞΟ", "ΠΡΣ", "ΤΥΦ", "ΧΨΩ"];
    let upper = c.to_uppercase().next()?;
    let lang = locale.get(..2).unwrap_or("").to_ascii_lowercase();
    let tables: &[[&str; 8]] = match lang.as_str() {
        "ru" | "uk" | "be" | "bg" | "sr" => &[LATIN, CYRILLIC],
        "el" => &[LATIN, GREEK],
        _ => &[LATIN],
    };
    tables.iter().find_map(|t| {
        t.iter()
            .position(|keys| keys.contains(upper))
            .and_then(|i| char::from_digit(i as u32 + 2, 10))
    })
}

/// What a client makes of a number before its rules: everything but letters and digits removed
/// (a leading `+` kept), letters turned to the digits of the locale's keypad. `1800-GOTMILK` is
/// `18004686455` in US English.
pub fn plain_number(number: &str, locale: &str) -> String {
    let t = number.trim();
    let mut out = String::with_capacity(t.len());
    if t.starts_with('+') {
        out.push('+');
    }
    for c in t.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if c.is_alphabetic() {
            if let Some(d) = keypad_digit(c, locale) {
                out.push(d);
            }
        }
    }
    out
}

/// A number to try the rules of a kind on (`POST /api/v1/dial-rules/test`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialTest {
    pub number: String,
    pub kind: DialRuleKind,
    /// The keypad letters are read by (`en_US` when left out).
    #[serde(default)]
    pub locale: Option<String>,
}

/// What applying the rules of a kind made of a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DialResult {
    /// The number as given.
    pub number: String,
    /// Letters and punctuation dealt with.
    pub plain: String,
    /// What the rule made of it (`plain` when none applied).
    pub result: String,
    /// The rule that applied, if one did.
    pub rule: Option<String>,
}

/// The rules of `kind` applied to `number` as a client applies them: made plain, then the first
/// matching rule by priority (then name).
pub fn transform(
    rules: &[DialRuleSpec],
    kind: DialRuleKind,
    number: &str,
    locale: &str,
) -> DialResult {
    let plain = plain_number(number, locale);
    let mut of_kind: Vec<&DialRuleSpec> = rules.iter().filter(|r| r.kind == kind).collect();
    of_kind.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    let hit = of_kind.into_iter().find(|r| r.matches(&plain));
    DialResult {
        number: number.to_string(),
        result: hit.map_or_else(|| plain.clone(), |r| r.apply(&plain)),
        plain,
        rule: hit.map(|r| r.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        name: &str,
        kind: DialRuleKind,
        begins: &str,
        digits: u32,
        removed: u32,
        prefix: &str,
        priority: u32,
    ) -> DialRuleSpec {
        DialRuleSpec {
            name: name.into(),
            kind,
            begins_with: begins.into(),
            number_of_digits: digits,
            digits_removed: removed,
            prefix: prefix.into(),
            priority,
            ..Default::default()
        }
        .checked()
        .unwrap()
    }

    #[test]
    fn letters_become_keypad_digits_as_the_seed_says() {
        assert_eq!(plain_number("1800-GOTMILK", "en_US"), "18004686455");
        assert_eq!(plain_number("+1 (408) 902-3139", "en_US"), "+14089023139");
        assert_eq!(plain_number("gotmilk", "en_US"), "4686455");
        assert_eq!(plain_number("8-800-ТАКСИ", "ru_RU"), "880062464");
        assert_eq!(plain_number("ΤΑΞΙ", "el_GR"), "8264");
        // A Cyrillic letter has no key on a US keypad: it is dropped, as punctuation is.
        assert_eq!(plain_number("1ТАКСИ", "en_US"), "1");
    }

    #[test]
    fn the_seeds_examples() {
        let rules = [
            // "removes the area code and two prefix digits from a 10-digit telephone"
            rule(
                "strip-area",
                DialRuleKind::DirectoryLookup,
                "408",
                10,
                5,
                "",
                1,
            ),
            // "adds the digit 9 at the start of a 7-digit phone number"
            rule("outside", DialRuleKind::Application, "", 7, 0, "9", 1),
        ];
        let r = transform(&rules, DialRuleKind::DirectoryLookup, "4089023139", "en_US");
        assert_eq!(
            (r.result.as_str(), r.rule.as_deref()),
            ("23139", Some("strip-area"))
        );
        let r = transform(&rules, DialRuleKind::Application, "902-3139", "en_US");
        assert_eq!(
            (r.result.as_str(), r.rule.as_deref()),
            ("99023139", Some("outside"))
        );
        // An application rule is not a lookup rule, and a 10-digit number is not 7 digits.
        let r = transform(&rules, DialRuleKind::Application, "4089023139", "en_US");
        assert_eq!((r.result.as_str(), r.rule), ("4089023139", None));
        let r = transform(&rules, DialRuleKind::Application, "1800-GOTMILK", "en_US");
        assert_eq!(r.plain, "18004686455");
    }

    #[test]
    fn priority_decides_and_a_leading_plus_is_kept_or_removed_as_a_rule_says() {
        let rules = [
            rule("any-11", DialRuleKind::Application, "", 11, 0, "9", 2),
            rule("plus-one", DialRuleKind::Application, "+1", 11, 1, "91", 1),
        ];
        // The + rule comes first by priority and removes the plus (and puts 91 in front).
        let r = transform(&rules, DialRuleKind::Application, "+14089023139", "en_US");
        assert_eq!(
            (r.result.as_str(), r.rule.as_deref()),
            ("9114089023139", Some("plus-one"))
        );
        // Without the plus, only the second matches.
        let r = transform(&rules, DialRuleKind::Application, "14089023139", "en_US");
        assert_eq!(
            (r.result.as_str(), r.rule.as_deref()),
            ("914089023139", Some("any-11"))
        );
        // A rule that removes nothing keeps the plus.
        let keep = [rule("keep", DialRuleKind::Application, "+44", 12, 0, "", 1)];
        let r = transform(
            &keep,
            DialRuleKind::Application,
            "+44 20 7946 0018",
            "en_GB",
        );
        assert_eq!(r.result, "+442079460018");
    }

    #[test]
    fn rules_are_checked() {
        let base = DialRuleSpec {
            name: "r".into(),
            number_of_digits: 7,
            priority: 1,
            ..Default::default()
        };
        let bad = |f: fn(&mut DialRuleSpec)| {
            let mut r = base.clone();
            f(&mut r);
            r.checked().unwrap_err().field
        };
        assert!(base.clone().checked().is_ok());
        assert_eq!(bad(|r| r.begins_with = "9x".into()), "begins_with");
        assert_eq!(bad(|r| r.prefix = "9-".into()), "prefix");
        assert_eq!(bad(|r| r.number_of_digits = 0), "number_of_digits");
        assert_eq!(bad(|r| r.number_of_digits = 25), "number_of_digits");
        assert_eq!(bad(|r| r.begins_with = "12345678".into()), "begins_with");
        assert_eq!(bad(|r| r.digits_removed = 8), "digits_removed");
        assert_eq!(bad(|r| r.priority = 0), "priority");
        assert_eq!(bad(|r| r.name = " ".into()), "name");
    }
}
