//! Licence units (seed 003, "How to Configure Licensing"): what a licence file says, the units
//! each record uses, and the calculator.
//!
//! A licence file is plain UTF-8 text, one `key: value` a line, ending in a `signature:` line
//! (docs/licensing.md):
//!
//! ```text
//! Dialtone licence 1
//! id: ACME-2026-0001
//! issued-to: ACME Corporation
//! issued: 2026-12-04
//! expires: 2027-12-31
//! device-units: 120
//! presence-user-units: 40
//! soft-client-units: 40
//! signature: <base64 of the Ed25519 signature of every byte before this line>
//! ```
//!
//! Checking the signature needs the seller's public key and lives in `service`; this module
//! parses the text and counts.

use crate::Invalid;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The first line of every licence file (its format, version 1).
pub const HEADER: &str = "Dialtone licence 1";
/// What a licence file's name ends with (the seed: "License files must have a .lic suffix").
pub const SUFFIX: &str = ".lic";
/// Licence files are small; anything larger is not one.
pub const MAX_BYTES: usize = 16 * 1024;

/// The three kinds of units a licence authorises (seed 003, "Licensing Options").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// Phone device units: 1 a desk phone, 3 a soft phone, 1 a soft phone adjunct to a primary.
    Device,
    /// Presence user units: 1 per user with Enable CUP (`capabilities.presence`).
    PresenceUser,
    /// Soft-client units: 1 per user with Enable CUPC (`capabilities.soft_client`).
    SoftClient,
}

impl UnitKind {
    pub const ALL: [UnitKind; 3] = [
        UnitKind::Device,
        UnitKind::PresenceUser,
        UnitKind::SoftClient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Device => "device",
            UnitKind::PresenceUser => "presence_user",
            UnitKind::SoftClient => "soft_client",
        }
    }

    /// The key of a licence file's line that authorises these units.
    pub fn file_key(self) -> &'static str {
        match self {
            UnitKind::Device => "device-units",
            UnitKind::PresenceUser => "presence-user-units",
            UnitKind::SoftClient => "soft-client-units",
        }
    }

    /// How a person reads it, for `n` units: `3 device units`, `1 presence user unit`.
    pub fn units(self, n: i64) -> String {
        let what = match self {
            UnitKind::Device => "device",
            UnitKind::PresenceUser => "presence user",
            UnitKind::SoftClient => "soft-client",
        };
        format!("{n} {what} unit{}", if n == 1 { "" } else { "s" })
    }
}

/// A count per kind of unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Units {
    pub device: i64,
    pub presence_user: i64,
    pub soft_client: i64,
}

impl Units {
    pub fn get(&self, k: UnitKind) -> i64 {
        match k {
            UnitKind::Device => self.device,
            UnitKind::PresenceUser => self.presence_user,
            UnitKind::SoftClient => self.soft_client,
        }
    }

    fn slot(&mut self, k: UnitKind) -> &mut i64 {
        match k {
            UnitKind::Device => &mut self.device,
            UnitKind::PresenceUser => &mut self.presence_user,
            UnitKind::SoftClient => &mut self.soft_client,
        }
    }

    /// The units a phone of this family uses: a soft client 3, or 1 when it is secondary
    /// (adjunct) to a primary phone; any other phone 1 (seed 003, "Licensing Options").
    pub fn of_phone(soft_client: bool, secondary: bool) -> Units {
        Units {
            device: if soft_client && !secondary { 3 } else { 1 },
            ..Units::default()
        }
    }

    /// The units a user's capabilities use: Enable CUP 1, Enable CUPC 1.
    pub fn of_capabilities(presence: bool, soft_client: bool) -> Units {
        Units {
            presence_user: presence as i64,
            soft_client: soft_client as i64,
            ..Units::default()
        }
    }
}

impl std::ops::Add for Units {
    type Output = Units;
    fn add(mut self, o: Units) -> Units {
        for k in UnitKind::ALL {
            *self.slot(k) += o.get(k);
        }
        self
    }
}

impl std::ops::Sub for Units {
    type Output = Units;
    fn sub(mut self, o: Units) -> Units {
        for k in UnitKind::ALL {
            *self.slot(k) -= o.get(k);
        }
        self
    }
}

/// What one uploaded licence says (its signature checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Licence {
    /// The seller's id of this licence; a licence is uploaded once.
    pub id: String,
    pub issued_to: String,
    /// `YYYY-MM-DD`.
    pub issued: String,
    /// `YYYY-MM-DD`, the last day it counts; none: it does not expire.
    pub expires: Option<String>,
    pub units: Units,
}

/// The text a licence file holds, split at its signature line: what was signed, and the
/// signature as written (base64).
pub fn split_signature(text: &str) -> Result<(&str, &str), Invalid> {
    let at = if text.starts_with("signature:") {
        Some(0)
    } else {
        text.rfind("\nsignature:").map(|i| i + 1)
    };
    let Some(at) = at else {
        return Err(Invalid::new(
            "file",
            "the licence has no signature line (`signature: …` at its end): it is not a licence file, or it was cut short",
        ));
    };
    let signed = &text[..at];
    let sig = text[at + "signature:".len()..].trim();
    if sig.contains('\n') {
        return Err(Invalid::new(
            "file",
            "the signature line must be the licence's last line: something was added after it",
        ));
    }
    Ok((signed, sig))
}

fn date(field: &str, v: &str) -> Result<String, Invalid> {
    let b = v.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&v[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&v[8..10].parse::<u32>().unwrap_or(0));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Invalid::new(
            "file",
            format!("{field}: {v:?} is not a date written YYYY-MM-DD"),
        ))
    }
}

/// Reads what a licence's signed part says. The caller has checked its signature first, so
/// an error here is a seller's mistake, said plainly all the same.
pub fn parse(signed: &str) -> Result<Licence, Invalid> {
    let mut lines = signed.lines();
    if lines.next().map(str::trim) != Some(HEADER) {
        return Err(Invalid::new(
            "file",
            format!("a licence file starts with the line {HEADER:?}"),
        ));
    }
    let mut l = Licence {
        id: String::new(),
        issued_to: String::new(),
        issued: String::new(),
        expires: None,
        units: Units::default(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for (n, line) in lines.enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(Invalid::new(
                "file",
                format!("line {}: {line:?} is not `key: value`", n + 2),
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        if !seen.insert(k.to_string()) {
            return Err(Invalid::new("file", format!("{k} is given twice")));
        }
        match k {
            "id" => l.id = v.to_string(),
            "issued-to" => l.issued_to = v.to_string(),
            "issued" => l.issued = date(k, v)?,
            "expires" => l.expires = Some(date(k, v)?),
            _ => {
                let Some(kind) = UnitKind::ALL.into_iter().find(|u| u.file_key() == k) else {
                    return Err(Invalid::new(
                        "file",
                        format!("{k} is not a key of a licence file (id, issued-to, issued, expires, device-units, presence-user-units, soft-client-units)"),
                    ));
                };
                let n: i64 = v
                    .parse()
                    .ok()
                    .filter(|n| (0..=10_000_000).contains(n))
                    .ok_or_else(|| {
                        Invalid::new(
                            "file",
                            format!("{k}: {v:?} is not a count of units (0 to 10000000)"),
                        )
                    })?;
                *l.units.slot(kind) = n;
            }
        }
    }
    for (k, v) in [
        ("id", &l.id),
        ("issued-to", &l.issued_to),
        ("issued", &l.issued),
    ] {
        if v.is_empty() {
            return Err(Invalid::new("file", format!("the licence has no {k}")));
        }
    }
    if l.id.len() > 64
        || !l
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Invalid::new(
            "file",
            "id: letters, digits, '-', '_' and '.' only, at most 64",
        ));
    }
    if let Some(e) = &l.expires {
        if *e < l.issued {
            return Err(Invalid::new(
                "file",
                format!("it expires ({e}) before it was issued ({})", l.issued),
            ));
        }
    }
    if l.units == Units::default() {
        return Err(Invalid::new("file", "the licence authorises no units"));
    }
    Ok(l)
}

/// The text of a licence before its signature line (what the seller signs).
pub fn unsigned_text(l: &Licence) -> String {
    let mut t = format!(
        "{HEADER}\nid: {}\nissued-to: {}\nissued: {}\n",
        l.id, l.issued_to, l.issued
    );
    if let Some(e) = &l.expires {
        t.push_str(&format!("expires: {e}\n"));
    }
    for k in UnitKind::ALL {
        t.push_str(&format!("{}: {}\n", k.file_key(), l.units.get(k)));
    }
    t
}

/// One kind's line of the licence unit report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitLine {
    pub kind: UnitKind,
    pub authorised: i64,
    pub used: i64,
    /// Authorised less used; negative when a licence expired or was removed under use.
    pub remaining: i64,
}

/// An uploaded licence as the report lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoredLicence {
    #[serde(flatten)]
    pub licence: Licence,
    pub uploaded_at: String,
    pub uploaded_by: String,
    /// Expired licences are kept and listed, but authorise nothing.
    pub expired: bool,
}

/// The units the licences that have not expired authorise, together.
pub fn authorised(licences: &[StoredLicence]) -> Units {
    licences
        .iter()
        .filter(|l| !l.expired)
        .fold(Units::default(), |a, l| a + l.licence.units)
}

/// The licence unit report (seed 003: "the number of authorized, used, and remaining licenses").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LicenceReport {
    /// Whether units are enforced: a licence public key is configured. Without one, nothing is
    /// counted against and capabilities are free.
    pub enforced: bool,
    pub units: Vec<UnitLine>,
    pub licences: Vec<StoredLicence>,
    /// How the units used are made up.
    pub used_by: UsedBy,
}

/// What uses the units: phones by kind, users by capability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct UsedBy {
    /// Desk phones (and any phone that is not a soft client): 1 device unit each.
    pub desk_phones: i64,
    /// Soft phones on their own: 3 device units each.
    pub soft_phones: i64,
    /// Soft phones secondary (adjunct) to a primary phone: 1 device unit each.
    pub adjunct_soft_phones: i64,
    /// Users with Enable CUP: 1 presence user unit each.
    pub presence_users: i64,
    /// Users with Enable CUPC: 1 soft-client unit each.
    pub soft_client_users: i64,
}

impl UsedBy {
    /// The units these use (the licence unit calculator).
    pub fn units(&self) -> Units {
        Units {
            device: self.desk_phones + 3 * self.soft_phones + self.adjunct_soft_phones,
            presence_user: self.presence_users,
            soft_client: self.soft_client_users,
        }
    }

    pub fn checked(&self) -> Result<(), Invalid> {
        for (f, v) in [
            ("desk_phones", self.desk_phones),
            ("soft_phones", self.soft_phones),
            ("adjunct_soft_phones", self.adjunct_soft_phones),
            ("presence_users", self.presence_users),
            ("soft_client_users", self.soft_client_users),
        ] {
            if !(0..=10_000_000).contains(&v) {
                return Err(Invalid::new(f, "a count from 0 to 10000000"));
            }
        }
        Ok(())
    }
}

/// What the calculator answers: the units the counts need and, against the licences uploaded,
/// what would remain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Calculation {
    pub needed: Units,
    /// Remaining after adding them to what is used today (negative: more units to buy).
    pub remaining_after: Units,
    pub fits: bool,
}

/// One user of the licensing status summary (seed 003, "System Status").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LicensedUser {
    pub user_id: String,
    pub system: String,
    pub primary_extension: Option<String>,
    pub presence: bool,
    pub soft_client: bool,
    pub devices: i64,
    /// Contacts: the users whose lines the user's devices watch (BLF speed dials).
    pub contacts: i64,
}

/// Capabilities given to (or taken from) many users at once (seed 003, "Bulk Assignment"):
/// each user succeeds or fails on its own, a refusal for want of units naming the numbers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CapabilitiesAssignment {
    /// User IDs (or ids).
    pub targets: Vec<String>,
    /// Needed when a user ID exists on several systems.
    pub system: Option<String>,
    /// Enable CUP: set (true), clear (false) or leave as it is (absent).
    pub presence: Option<bool>,
    /// Enable CUPC: set, clear or leave as it is.
    pub soft_client: Option<bool>,
}

/// The refusal when `needed` would take more than remains: `needs 3 device units, 2 remain`.
pub fn shortfall(needed: Units, remaining: Units) -> Option<String> {
    let short: Vec<String> = UnitKind::ALL
        .into_iter()
        .filter(|k| needed.get(*k) > 0 && needed.get(*k) > remaining.get(*k))
        .map(|k| {
            format!(
                "needs {}, {} remain{}",
                k.units(needed.get(k)),
                remaining.get(k).max(0),
                if remaining.get(k).max(0) == 1 {
                    "s"
                } else {
                    ""
                }
            )
        })
        .collect();
    (!short.is_empty()).then(|| short.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Licence {
        Licence {
            id: "ACME-1".into(),
            issued_to: "ACME".into(),
            issued: "2026-12-04".into(),
            expires: Some("2027-12-31".into()),
            units: Units {
                device: 10,
                presence_user: 2,
                soft_client: 0,
            },
        }
    }

    #[test]
    fn a_licence_reads_back_what_was_written() {
        let t = unsigned_text(&sample());
        assert_eq!(parse(&t).unwrap(), sample());
        let signed = format!("{t}signature: abc=\n");
        let (s, sig) = split_signature(&signed).unwrap();
        assert_eq!((s, sig), (t.as_str(), "abc="));
    }

    #[test]
    fn what_is_wrong_in_a_licence_is_said() {
        let t = unsigned_text(&sample());
        let e = |t: &str| parse(t).unwrap_err().message;
        assert!(e(&t.replace("2027-12-31", "2026-12-01")).contains("before it was issued"));
        assert!(e(&t.replace("device-units: 10", "device-units: ten")).contains("not a count"));
        assert!(e(&t.replace("device-units", "desk-units")).contains("not a key"));
        assert!(e(&t.replace(HEADER, "Licence")).contains("starts with"));
        assert!(e(&format!("{t}id: again\n")).contains("twice"));
        assert!(split_signature(&t)
            .unwrap_err()
            .message
            .contains("no signature"));
        assert!(split_signature(&format!("{t}signature: x\nmore: 1\n"))
            .unwrap_err()
            .message
            .contains("last line"));
    }

    #[test]
    fn units_by_the_seed() {
        // A desk phone 1; a soft phone 3, or 1 when adjunct; Enable CUP 1 and Enable CUPC 1.
        assert_eq!(Units::of_phone(false, false).device, 1);
        assert_eq!(Units::of_phone(true, false).device, 3);
        assert_eq!(Units::of_phone(true, true).device, 1);
        assert_eq!(
            Units::of_capabilities(true, true),
            Units {
                device: 0,
                presence_user: 1,
                soft_client: 1
            }
        );
        let c = UsedBy {
            desk_phones: 2,
            soft_phones: 1,
            adjunct_soft_phones: 2,
            presence_users: 3,
            soft_client_users: 1,
        };
        assert_eq!(
            c.units(),
            Units {
                device: 7,
                presence_user: 3,
                soft_client: 1
            }
        );
        let needs = Units::of_phone(true, false);
        assert_eq!(
            shortfall(
                needs,
                Units {
                    device: 2,
                    ..Units::default()
                }
            )
            .unwrap(),
            "needs 3 device units, 2 remain"
        );
        assert_eq!(
            shortfall(Units::of_capabilities(true, false), Units::default()).unwrap(),
            "needs 1 presence user unit, 0 remain"
        );
        assert!(shortfall(
            needs,
            Units {
                device: 3,
                ..Units::default()
            }
        )
        .is_none());
    }
}
