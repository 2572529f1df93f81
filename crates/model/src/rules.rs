//! Pure rules: what a model supports, line settings, conflicts between product systems.

use crate::{
    Catalog, Conflict, ConflictKind, DeviceFamily, DeviceType, Invalid, SecurityMode, SystemKind,
};

/// The CUCM defaults for a new line: 4 calls, busy past 2.
pub const DEFAULT_MAX_CALLS: i64 = 4;
pub const DEFAULT_BUSY_TRIGGER: i64 = 2;
/// At most this many secondary (adjunct) soft phones per primary phone (docs/phones.md, "What each
/// phone fetches").
pub const MAX_SECONDARY_PHONES: usize = 2;

/// Checks max calls and busy trigger: 1 ≤ busy trigger ≤ max calls ≤ 200.
pub fn check_line_calls(max_calls: i64, busy_trigger: i64) -> Result<(), Invalid> {
    if !(1..=200).contains(&max_calls) {
        return Err(Invalid::new(
            "max_calls",
            format!("max calls is {max_calls}: give 1 to 200"),
        ));
    }
    if busy_trigger < 1 {
        return Err(Invalid::new(
            "busy_trigger",
            format!("busy trigger is {busy_trigger}: give 1 or more"),
        ));
    }
    if busy_trigger > max_calls {
        return Err(Invalid::new(
            "busy_trigger",
            format!("busy trigger {busy_trigger} is more than max calls {max_calls}: lower the busy trigger or raise max calls"),
        ));
    }
    Ok(())
}

/// Whether the record is a phone or a device profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceClass {
    Phone,
    DeviceProfile,
}

impl DeviceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Phone => "phone",
            DeviceClass::DeviceProfile => "device_profile",
        }
    }
}

/// Finds a model in the catalogue that can be a device of the given class.
pub fn device_type<'a>(
    catalog: &'a Catalog,
    model: &str,
    class: DeviceClass,
) -> Result<&'a DeviceType, Invalid> {
    let t = catalog.get(model).ok_or_else(|| {
        Invalid::new(
            "model",
            format!(
                "there is no model `{model}`; the models are: {}",
                catalog.model_names()
            ),
        )
    })?;
    if t.family == DeviceFamily::ExpansionModule {
        return Err(Invalid::new(
            "model",
            format!(
                "{} is an expansion module: list it in `expansion_modules` of a phone",
                t.model
            ),
        ));
    }
    if class == DeviceClass::DeviceProfile && !t.device_profile {
        let with: Vec<&str> = catalog
            .devices()
            .filter(|t| t.device_profile)
            .map(|t| t.model.as_str())
            .collect();
        return Err(Invalid::new(
            "model",
            format!(
                "there are no device profiles for the {}; models with device profiles: {}",
                t.model,
                with.join(", ")
            ),
        ));
    }
    Ok(t)
}

/// Picks the protocol: the one given (which the model must speak) or the model's first.
pub fn protocol(t: &DeviceType, given: Option<&str>) -> Result<String, Invalid> {
    match given.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(t.protocols.first().cloned().unwrap_or_default()),
        Some(p) => t
            .protocols
            .iter()
            .find(|q| q.eq_ignore_ascii_case(p))
            .cloned()
            .ok_or_else(|| {
                Invalid::new(
                    "protocol",
                    format!(
                        "the {} speaks {}, not {p}",
                        t.model,
                        t.protocols.join(" or ")
                    ),
                )
            }),
    }
}

/// What a device asks of its model: checked against the catalogue.
pub struct DeviceShape<'a> {
    pub security_mode: Option<SecurityMode>,
    pub expansion_modules: &'a [String],
    /// Button index of each line appearance, in order.
    pub buttons: &'a [i64],
}

/// Refuses settings the model does not support: device security mode where it does not apply,
/// expansion modules it does not take or too many of them, more lines than buttons or than it
/// registers, and buttons used twice.
pub fn check_device_shape(
    catalog: &Catalog,
    t: &DeviceType,
    shape: &DeviceShape,
) -> Result<(), Invalid> {
    if shape.security_mode.is_some() && !t.security_mode {
        return Err(Invalid::new(
            "security_mode",
            format!(
                "the {} does not support device security mode: leave security_mode out",
                t.model
            ),
        ));
    }
    let mut module_buttons = 0;
    if !shape.expansion_modules.is_empty() {
        if t.expansion_modules.is_empty() {
            return Err(Invalid::new(
                "expansion_modules",
                format!(
                    "the {} takes no expansion module: leave expansion_modules empty",
                    t.model
                ),
            ));
        }
        if shape.expansion_modules.len() > t.max_expansion_modules as usize {
            return Err(Invalid::new(
                "expansion_modules",
                format!(
                    "the {} takes at most {} expansion modules, not {}: remove {}",
                    t.model,
                    t.max_expansion_modules,
                    shape.expansion_modules.len(),
                    shape.expansion_modules.len() - t.max_expansion_modules as usize
                ),
            ));
        }
        for (i, m) in shape.expansion_modules.iter().enumerate() {
            let em = catalog
                .get(m)
                .filter(|em| t.expansion_modules.iter().any(|a| a == &em.model))
                .ok_or_else(|| {
                    Invalid::new(
                        format!("expansion_modules[{i}]"),
                        format!(
                            "the {} takes {} modules, not `{m}`",
                            t.model,
                            t.expansion_modules.join(" or ")
                        ),
                    )
                })?;
            module_buttons += em.lines as i64;
        }
    }
    let capacity = t.lines as i64 + module_buttons;
    if shape.buttons.len() as i64 > capacity {
        return Err(Invalid::new(
            "lines",
            format!(
                "{} lines do not fit on a {} with {} buttons{}: remove {} of them{}",
                shape.buttons.len(),
                t.model,
                capacity,
                if module_buttons > 0 {
                    " (with its expansion modules)"
                } else {
                    ""
                },
                shape.buttons.len() as i64 - capacity,
                if t.max_expansion_modules as usize > shape.expansion_modules.len() {
                    " or add an expansion module"
                } else {
                    ""
                }
            ),
        ));
    }
    if let Some(n) = t.accounts.filter(|n| shape.buttons.len() > *n as usize) {
        return Err(Invalid::new(
            "lines",
            format!(
                "a {} registers {n} lines at most, not {}: remove {} of them",
                t.model,
                shape.buttons.len(),
                shape.buttons.len() - n as usize
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, b) in shape.buttons.iter().enumerate() {
        if *b < 1 || *b > capacity {
            return Err(Invalid::new(
                format!("lines[{i}].button"),
                format!("button {b} does not exist on a {} with {capacity} buttons: give 1 to {capacity}", t.model),
            ));
        }
        if !seen.insert(*b) {
            return Err(Invalid::new(
                format!("lines[{i}].button"),
                format!("button {b} is used by two lines: give each line its own"),
            ));
        }
    }
    Ok(())
}

/// Fills in the buttons left out: each gets the lowest button no other line uses.
pub fn assign_buttons(given: &[Option<i64>]) -> Vec<i64> {
    let taken: std::collections::BTreeSet<i64> = given.iter().flatten().copied().collect();
    let mut next = 1;
    given
        .iter()
        .map(|b| match b {
            Some(b) => *b,
            None => {
                while taken.contains(&next) {
                    next += 1;
                }
                next += 1;
                next - 1
            }
        })
        .collect()
}

/// Another record carrying the same user ID, as the conflict check sees it.
#[derive(Debug, Clone)]
pub struct Namesake {
    pub system: String,
    pub kind: SystemKind,
    pub first_name: String,
    pub last_name: String,
}

/// The conflicts of one record (on `this`) with the other records carrying its user ID
/// (docs/api.md, "Conflicts between product systems"): the same user ID on another system of the
/// same kind, and the same user ID with another first or last name on any system.
pub fn conflicts(user_id: &str, this: &Namesake, others: &[Namesake]) -> Vec<Conflict> {
    let mut out = Vec::new();
    let mut same_kind: Vec<String> = others
        .iter()
        .filter(|o| o.kind == this.kind && o.system != this.system)
        .map(|o| o.system.clone())
        .collect();
    same_kind.sort();
    same_kind.dedup();
    if !same_kind.is_empty() {
        out.push(Conflict {
            kind: ConflictKind::SameIdOnSeveralSystems,
            systems: same_kind.clone(),
            message: format!(
                "user ID {user_id} also exists on {}: if it is one person, keep it on one {} system and delete the others; \
                 if it is two people, give one of them another user ID",
                same_kind.join(", "),
                if this.kind == SystemKind::Voicemail { "voicemail" } else { "call-control" }
            ),
        });
    }
    let mut differ: Vec<String> = others
        .iter()
        .filter(|o| {
            !o.first_name
                .trim()
                .eq_ignore_ascii_case(this.first_name.trim())
                || !o
                    .last_name
                    .trim()
                    .eq_ignore_ascii_case(this.last_name.trim())
        })
        .map(|o| format!("{} {} on {}", o.first_name, o.last_name, o.system))
        .collect();
    differ.sort();
    differ.dedup();
    if !differ.is_empty() {
        let systems: Vec<String> = others
            .iter()
            .filter(|o| {
                !o.first_name
                    .trim()
                    .eq_ignore_ascii_case(this.first_name.trim())
                    || !o
                        .last_name
                        .trim()
                        .eq_ignore_ascii_case(this.last_name.trim())
            })
            .map(|o| o.system.clone())
            .collect();
        out.push(Conflict {
            kind: ConflictKind::DifferentNames,
            systems,
            message: format!(
                "user ID {user_id} is {} {} here but {}: if it is one person, update the names so they agree; if not, give one of them another user ID",
                this.first_name,
                this.last_name,
                differ.join(", ")
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape<'a>(
        sec: Option<SecurityMode>,
        ems: &'a [String],
        buttons: &'a [i64],
    ) -> DeviceShape<'a> {
        DeviceShape {
            security_mode: sec,
            expansion_modules: ems,
            buttons,
        }
    }

    #[test]
    fn busy_trigger_at_most_max_calls() {
        assert!(check_line_calls(4, 2).is_ok());
        assert!(check_line_calls(6, 6).is_ok());
        let e = check_line_calls(2, 3).unwrap_err();
        assert_eq!(e.field, "busy_trigger");
        assert!(e.message.contains("more than max calls"));
        assert_eq!(check_line_calls(0, 0).unwrap_err().field, "max_calls");
        assert_eq!(check_line_calls(4, 0).unwrap_err().field, "busy_trigger");
    }

    #[test]
    fn model_support() {
        let c = Catalog::builtin();
        let t7912 = device_type(c, "7912", DeviceClass::Phone).unwrap();
        let e = check_device_shape(c, t7912, &shape(Some(SecurityMode::Encrypted), &[], &[1]))
            .unwrap_err();
        assert_eq!(e.field, "security_mode");
        assert!(e.message.contains("7912"));

        let t7960 = device_type(c, "7960", DeviceClass::Phone).unwrap();
        assert!(
            check_device_shape(c, t7960, &shape(Some(SecurityMode::Encrypted), &[], &[1])).is_ok()
        );
        let two = vec!["7914".to_string(), "7914".to_string()];
        let three = vec!["7914".to_string(), "7914".to_string(), "7914".to_string()];
        let b34: Vec<i64> = (1..=34).collect();
        assert!(check_device_shape(c, t7960, &shape(None, &two, &b34)).is_ok());
        let e = check_device_shape(c, t7960, &shape(None, &three, &[1])).unwrap_err();
        assert_eq!(e.field, "expansion_modules");
        assert!(e.message.contains("at most 2"));
        let b7: Vec<i64> = (1..=7).collect();
        let e = check_device_shape(c, t7960, &shape(None, &[], &b7)).unwrap_err();
        assert_eq!(e.field, "lines");
        assert!(
            e.message
                .contains("7 lines do not fit on a 7960 with 6 buttons"),
            "{e}"
        );
        let e = check_device_shape(c, t7960, &shape(None, &[], &[1, 1])).unwrap_err();
        assert_eq!(e.field, "lines[1].button");
        let e =
            check_device_shape(c, t7912, &shape(None, &["7914".to_string()], &[1])).unwrap_err();
        assert_eq!(e.field, "expansion_modules");
        let t8861 = device_type(c, "8861", DeviceClass::Phone).unwrap();
        let e =
            check_device_shape(c, t8861, &shape(None, &["7914".to_string()], &[1])).unwrap_err();
        assert_eq!(e.field, "expansion_modules[0]");
        assert!(device_type(c, "7914", DeviceClass::Phone).is_err());
        assert!(device_type(c, "7902", DeviceClass::DeviceProfile).is_err());
        assert!(device_type(c, "nope", DeviceClass::Phone)
            .unwrap_err()
            .message
            .contains("7960"));
    }

    #[test]
    fn buttons_are_assigned_lowest_free_first() {
        assert_eq!(assign_buttons(&[None, None]), vec![1, 2]);
        assert_eq!(
            assign_buttons(&[Some(1), None, Some(3), None]),
            vec![1, 2, 3, 4]
        );
        assert_eq!(assign_buttons(&[None, Some(1)]), vec![2, 1]);
    }

    #[test]
    fn conflicts_between_systems() {
        let ns = |system: &str, kind, f: &str, l: &str| Namesake {
            system: system.into(),
            kind,
            first_name: f.into(),
            last_name: l.into(),
        };
        let this = ns("ccm2", SystemKind::CallControl, "John", "Smith");
        // One person on one call-control and one voicemail system: no conflict.
        assert!(conflicts(
            "jsmith",
            &this,
            &[ns("unity", SystemKind::Voicemail, "John", "Smith")]
        )
        .is_empty());
        // Same ID on two call-control systems.
        let c = conflicts(
            "jsmith",
            &this,
            &[ns("ccm3", SystemKind::CallControl, "John", "Smith")],
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].kind, ConflictKind::SameIdOnSeveralSystems);
        assert_eq!(c[0].systems, vec!["ccm3"]);
        // Same ID, another name.
        let c = conflicts(
            "jsmith",
            &this,
            &[ns("unity", SystemKind::Voicemail, "Joe", "Smith")],
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].kind, ConflictKind::DifferentNames);
        assert!(
            c[0].message.contains("Joe Smith on unity"),
            "{}",
            c[0].message
        );
    }
}
