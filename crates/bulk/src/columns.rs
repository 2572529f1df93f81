//! The columns of each kind of file: the header (BAT's name where BAT has the field), where
//! its value goes in the JSON record, and its type.

use crate::Kind;
use serde_json::{Map, Value};

/// How a cell is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Text,
    /// A whole number.
    Int,
    /// `t`/`f` (as BAT writes them); `true`, `false`, `yes`, `no`, `y`, `n`, `1`, `0` read too.
    Bool,
}

impl Ty {
    pub(crate) fn parse(self, raw: &str) -> Result<Value, String> {
        match self {
            Ty::Text => Ok(Value::String(raw.to_string())),
            Ty::Int => raw
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("`{raw}` is not a whole number")),
            Ty::Bool => match raw.to_ascii_lowercase().as_str() {
                "t" | "true" | "y" | "yes" | "1" => Ok(Value::Bool(true)),
                "f" | "false" | "n" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err(format!("`{raw}` is not t or f (true or false)")),
            },
        }
    }
}

/// One column. An indexed column's header ends in ` {n}` (`DIRECTORY NUMBER {n}`): its values
/// go into the list `path` names before `{n}`, the n-th entry (or, with `pos`, the entry whose
/// `pos` field is n: a line on button 3 is `DIRECTORY NUMBER 3`).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub path: &'static str,
    pub ty: Ty,
    /// Write-only (passwords, PINs): read from files, never written to one.
    pub secret: bool,
    /// For indexed columns: the highest index read.
    pub max_n: usize,
    /// For indexed columns of objects: the field holding the index.
    pub pos: Option<&'static str>,
}

const fn c(header: &'static str, path: &'static str) -> Column {
    Column {
        header,
        path,
        ty: Ty::Text,
        secret: false,
        max_n: 0,
        pos: None,
    }
}
const fn int(header: &'static str, path: &'static str) -> Column {
    Column {
        ty: Ty::Int,
        ..c(header, path)
    }
}
const fn flag(header: &'static str, path: &'static str) -> Column {
    Column {
        ty: Ty::Bool,
        ..c(header, path)
    }
}
const fn secret(header: &'static str, path: &'static str) -> Column {
    Column {
        secret: true,
        ..c(header, path)
    }
}
/// `header {n}` for n in 1..=max, into list `path` (`groups.{n}`, or `lines.{n}.pattern`).
const fn nth(header: &'static str, path: &'static str, max_n: usize) -> Column {
    Column {
        max_n,
        ..c(header, path)
    }
}
const fn nth_at(
    header: &'static str,
    path: &'static str,
    max_n: usize,
    pos: &'static str,
) -> Column {
    Column {
        max_n,
        pos: Some(pos),
        ..c(header, path)
    }
}

/// The columns of `own` followed by those of `shared` (`N` must be the sum: checked as the
/// tables are built, at compile time).
const fn join<const A: usize, const B: usize, const N: usize>(
    own: [Column; A],
    shared: [Column; B],
) -> [Column; N] {
    assert!(
        A + B == N,
        "a column table's length is its own columns plus the shared ones"
    );
    let mut out = [c("", ""); N];
    let mut i = 0;
    while i < A {
        out[i] = own[i];
        i += 1;
    }
    while i < N {
        out[i] = shared[i - A];
        i += 1;
    }
    out
}

/// Line appearances and speed dials, the same on phones and device profiles (at most 200
/// buttons: a 7960 with two 7914s has 34).
macro_rules! buttons {
    () => {
        [
            nth_at("DIRECTORY NUMBER {n}", "lines.{n}.pattern", 200, "button"),
            nth_at("ROUTE PARTITION {n}", "lines.{n}.partition", 200, "button"),
            nth_at("DISPLAY {n}", "lines.{n}.display", 200, "button"),
            nth_at("LINE TEXT LABEL {n}", "lines.{n}.label", 200, "button"),
            nth_at(
                "EXTERNAL PHONE NUMBER MASK {n}",
                "lines.{n}.external_mask",
                200,
                "button",
            ),
            // The line's own settings (BAT's line fields), applied to the line on that button.
            nth_at(
                "LINE DESCRIPTION {n}",
                "lines.{n}.line_description",
                200,
                "button",
            ),
            nth_at(
                "ALERTING NAME {n}",
                "lines.{n}.alerting_name",
                200,
                "button",
            ),
            nth_at("FORWARD ALL {n}", "lines.{n}.forward_all", 200, "button"),
            nth_at(
                "FORWARD BUSY INTERNAL {n}",
                "lines.{n}.forward_busy_internal",
                200,
                "button",
            ),
            nth_at(
                "FORWARD BUSY EXTERNAL {n}",
                "lines.{n}.forward_busy_external",
                200,
                "button",
            ),
            nth_at(
                "FORWARD NO ANSWER INTERNAL {n}",
                "lines.{n}.forward_no_answer_internal",
                200,
                "button",
            ),
            nth_at(
                "FORWARD NO ANSWER EXTERNAL {n}",
                "lines.{n}.forward_no_answer_external",
                200,
                "button",
            ),
            nth_at(
                "CALL PICKUP GROUP {n}",
                "lines.{n}.pickup_group",
                200,
                "button",
            ),
            nth_at(
                "VOICE MAIL PROFILE {n}",
                "lines.{n}.voicemail_profile",
                200,
                "button",
            ),
            Column {
                ty: Ty::Int,
                ..nth_at(
                    "MAXIMUM NUMBER OF CALLS {n}",
                    "lines.{n}.max_calls",
                    200,
                    "button",
                )
            },
            Column {
                ty: Ty::Int,
                ..nth_at("BUSY TRIGGER {n}", "lines.{n}.busy_trigger", 200, "button")
            },
            nth_at(
                "SPEED DIAL NUMBER {n}",
                "speed_dials.{n}.number",
                200,
                "position",
            ),
            nth_at(
                "SPEED DIAL LABEL {n}",
                "speed_dials.{n}.label",
                200,
                "position",
            ),
            Column {
                ty: Ty::Bool,
                ..nth_at("SPEED DIAL BLF {n}", "speed_dials.{n}.blf", 200, "position")
            },
            nth("SERVICE {n}", "services.{n}.service", 100),
            nth("EXPANSION MODULE {n}", "expansion_modules.{n}", 2),
        ]
    };
}

static USERS: [Column; 22] = [
    c("USER ID", "user_id"),
    c("SYSTEM", "system"),
    c("FIRST NAME", "first_name"),
    c("LAST NAME", "last_name"),
    c("DISPLAY NAME", "display_name"),
    c("DEPARTMENT", "department"),
    c("MANAGER USER ID", "manager"),
    c("MAIL ID", "mail"),
    c("TELEPHONE NUMBER", "telephone_number"),
    secret("PASSWORD", "password"),
    secret("PIN", "pin"),
    secret("DIGEST CREDENTIALS", "digest_credential"),
    c("PRIMARY EXTENSION", "primary_extension"),
    c("PRIMARY EXTENSION PARTITION", "primary_extension_partition"),
    c("USER PROFILE", "user_profile"),
    c("SELF-PROVISIONING ID", "self_service_id"),
    c("DEFAULT PROFILE", "default_device_profile"),
    flag("ENABLE CUP", "capabilities.presence"),
    flag("ENABLE CUPC", "capabilities.soft_client"),
    nth("USER GROUP {n}", "groups.{n}", 50),
    nth("CONTROLLED DEVICE {n}", "devices.{n}", 100),
    nth("CONTROLLED PROFILE {n}", "device_profiles.{n}", 50),
];

static LINES: [Column; 14] = [
    c("DIRECTORY NUMBER", "pattern"),
    c("ROUTE PARTITION", "partition"),
    c("SYSTEM", "system"),
    c("DESCRIPTION", "description"),
    c("ALERTING NAME", "alerting_name"),
    c("FORWARD ALL", "forward_all"),
    c("FORWARD BUSY INTERNAL", "forward_busy_internal"),
    c("FORWARD BUSY EXTERNAL", "forward_busy_external"),
    c("FORWARD NO ANSWER INTERNAL", "forward_no_answer_internal"),
    c("FORWARD NO ANSWER EXTERNAL", "forward_no_answer_external"),
    c("CALL PICKUP GROUP", "pickup_group"),
    c("VOICE MAIL PROFILE", "voicemail_profile"),
    int("MAXIMUM NUMBER OF CALLS", "max_calls"),
    int("BUSY TRIGGER", "busy_trigger"),
];

static PHONES: [Column; 57] = join(
    [
        c("MAC ADDRESS", "mac"),
        c("DEVICE NAME", "name"),
        c("DEVICE TYPE", "model"),
        c("DEVICE PROTOCOL", "protocol"),
        c("SYSTEM", "system"),
        c("DESCRIPTION", "description"),
        c("DEVICE POOL", "device_pool"),
        c("PHONE BUTTON TEMPLATE", "button_template"),
        c("SOFTKEY TEMPLATE", "softkey_template"),
        c("CSS", "calling_search_space"),
        c("LOCATION", "location"),
        c("DEVICE SECURITY MODE", "security_mode"),
        c("DEVICE SECURITY PROFILE", "security_profile"),
        flag("ALLOW CTI CONTROL OF DEVICE", "allow_cti_control"),
        c("OWNER USER ID", "owner_user_id"),
        c("LOGOUT PROFILE", "logout_profile"),
        c("PRIMARY PHONE", "primary_phone"),
        c("SIP CONTACT", "sip_contact"),
        // BAT's "phones with users": the user the phone is for, created with the phone or
        // updated by it, made its owner (unless OWNER USER ID names another) and associated
        // with it.
        c("USER ID", "user.user_id"),
        c("FIRST NAME", "user.first_name"),
        c("LAST NAME", "user.last_name"),
        c("DISPLAY NAME", "user.display_name"),
        c("DEPARTMENT", "user.department"),
        c("MANAGER USER ID", "user.manager"),
        c("MAIL ID", "user.mail"),
        c("TELEPHONE NUMBER", "user.telephone_number"),
        secret("PASSWORD", "user.password"),
        secret("PIN", "user.pin"),
        secret("DIGEST CREDENTIALS", "user.digest_credential"),
        c("PRIMARY EXTENSION", "user.primary_extension"),
        c(
            "PRIMARY EXTENSION PARTITION",
            "user.primary_extension_partition",
        ),
        c("USER PROFILE", "user.user_profile"),
        c("SELF-PROVISIONING ID", "user.self_service_id"),
        flag("ENABLE CUP", "user.capabilities.presence"),
        flag("ENABLE CUPC", "user.capabilities.soft_client"),
        nth("USER GROUP {n}", "user.groups.{n}", 50),
    ],
    buttons!(),
);

static DEVICE_PROFILES: [Column; 31] = join(
    [
        c("DEVICE PROFILE NAME", "name"),
        c("DEVICE TYPE", "model"),
        c("DEVICE PROTOCOL", "protocol"),
        c("SYSTEM", "system"),
        c("DESCRIPTION", "description"),
        c("PHONE BUTTON TEMPLATE", "button_template"),
        c("SOFTKEY TEMPLATE", "softkey_template"),
        c("MLPP DOMAIN", "mlpp_domain"),
        flag("MLPP INDICATION", "mlpp_indication"),
        flag("MLPP PREEMPTION", "mlpp_preemption"),
    ],
    buttons!(),
);

static VOICEMAIL: [Column; 11] = [
    c("ALIAS", "alias"),
    c("SYSTEM", "system"),
    c("FIRST NAME", "first_name"),
    c("LAST NAME", "last_name"),
    c("DISPLAY NAME", "display_name"),
    c("EXTENSION", "extension"),
    c("MAIL ID", "mail"),
    secret("PIN", "pin"),
    c("CLASS OF SERVICE", "class_of_service"),
    c("SUBSCRIBER TEMPLATE", "subscriber_template"),
    nth("PUBLIC DISTRIBUTION LIST {n}", "distribution_lists.{n}", 50),
];

static APP_PROFILES: [Column; 7] = [
    c("USER ID", "user_id"),
    c("SYSTEM", "system"),
    c("LDAP PROFILE", "app_profiles.ldap"),
    c("CTI PROFILE", "app_profiles.cti"),
    c("PROXY PROFILE", "app_profiles.proxy"),
    c("VOICEMAIL PROFILE", "app_profiles.voicemail"),
    c("CONFERENCING PROFILE", "app_profiles.conferencing"),
];

/// Application dial rules and directory lookup rules (docs/dial-rules.md): RULE TYPE is
/// `application` or `directory_lookup`.
static DIAL_RULES: [Column; 8] = [
    c("NAME", "name"),
    c("DESCRIPTION", "description"),
    c("RULE TYPE", "kind"),
    c("BEGINS WITH", "begins_with"),
    int("NUMBER OF DIGITS", "number_of_digits"),
    int("TOTAL DIGITS TO BE REMOVED", "digits_removed"),
    c("PREFIX WITH PATTERN", "prefix"),
    int("PRIORITY", "priority"),
];

static USER_PROFILES: [Column; 7] = [
    c("NAME", "name"),
    c("SYSTEM", "system"),
    c("DESCRIPTION", "description"),
    c("UNIVERSAL DEVICE TEMPLATE", "device_template"),
    c("UNIVERSAL LINE TEMPLATE", "line_template"),
    flag(
        "ALLOW END USER TO PROVISION THEIR OWN PHONES",
        "allow_self_provisioning",
    ),
    int(
        "LIMIT PROVISIONING ONCE END USER HAS THIS MANY PHONES",
        "phone_limit",
    ),
];

static DEVICE_TEMPLATES: [Column; 15] = [
    c("NAME", "name"),
    c("SYSTEM", "system"),
    c("DESCRIPTION", "description"),
    c("DEVICE DESCRIPTION", "device.device_description"),
    c("DEVICE POOL", "device.device_pool"),
    c("PHONE BUTTON TEMPLATE", "device.button_template"),
    c("SOFTKEY TEMPLATE", "device.softkey_template"),
    c("CSS", "device.calling_search_space"),
    c("LOCATION", "device.location"),
    c("DO NOT DISTURB", "device.dnd"),
    nth_at(
        "SPEED DIAL NUMBER {n}",
        "device.speed_dials.{n}.number",
        200,
        "position",
    ),
    nth_at(
        "SPEED DIAL LABEL {n}",
        "device.speed_dials.{n}.label",
        200,
        "position",
    ),
    Column {
        ty: Ty::Bool,
        ..nth_at(
            "SPEED DIAL BLF {n}",
            "device.speed_dials.{n}.blf",
            200,
            "position",
        )
    },
    nth("SERVICE {n}", "device.services.{n}.service", 100),
    nth("EXPANSION MODULE {n}", "device.expansion_modules.{n}", 2),
];

static LINE_TEMPLATES: [Column; 18] = [
    c("NAME", "name"),
    c("SYSTEM", "system"),
    c("DESCRIPTION", "description"),
    c("ROUTE PARTITION", "line.partition"),
    c("LINE DESCRIPTION", "line.line_description"),
    c("ALERTING NAME", "line.alerting_name"),
    c("LINE TEXT LABEL", "line.label"),
    c("DISPLAY", "line.display"),
    c("EXTERNAL PHONE NUMBER MASK", "line.external_mask"),
    c("VOICE MAIL PROFILE", "line.voicemail_profile"),
    c("FORWARD ALL", "line.forward_all"),
    c("FORWARD BUSY INTERNAL", "line.forward_busy_internal"),
    c("FORWARD BUSY EXTERNAL", "line.forward_busy_external"),
    c(
        "FORWARD NO ANSWER INTERNAL",
        "line.forward_no_answer_internal",
    ),
    c(
        "FORWARD NO ANSWER EXTERNAL",
        "line.forward_no_answer_external",
    ),
    c("CALL PICKUP GROUP", "line.pickup_group"),
    int("MAXIMUM NUMBER OF CALLS", "line.max_calls"),
    int("BUSY TRIGGER", "line.busy_trigger"),
];

pub(crate) fn of(kind: Kind) -> &'static [Column] {
    match kind {
        Kind::UserProfiles => &USER_PROFILES,
        Kind::UniversalDeviceTemplates => &DEVICE_TEMPLATES,
        Kind::UniversalLineTemplates => &LINE_TEMPLATES,
        Kind::Users => &USERS,
        Kind::Lines => &LINES,
        Kind::Phones => &PHONES,
        Kind::DeviceProfiles => &DEVICE_PROFILES,
        Kind::VoicemailSubscribers => &VOICEMAIL,
        Kind::AppProfiles => &APP_PROFILES,
        Kind::DialRules => &DIAL_RULES,
    }
}

/// The parts of an indexed path: list, field inside the entry (`None` for lists of strings).
fn split_indexed(path: &str) -> (&str, Option<&str>) {
    let (list, rest) = path.split_once(".{n}").expect("an indexed path");
    (list, rest.strip_prefix('.'))
}

/// Puts `v` where `c` says, creating the objects and list entries on the way.
pub(crate) fn set(out: &mut Map<String, Value>, c: &Column, n: Option<usize>, v: Value) {
    match n {
        None => {
            let mut parts = c.path.split('.').peekable();
            let mut at = out;
            while let Some(p) = parts.next() {
                if parts.peek().is_none() {
                    at.insert(p.to_string(), v);
                    return;
                }
                at = at
                    .entry(p.to_string())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("an object on the way");
            }
        }
        Some(n) => {
            let (list, field) = split_indexed(c.path);
            // `device.speed_dials`: the list inside an object.
            let mut parts: Vec<&str> = list.split('.').collect();
            let last = parts.pop().expect("a list name");
            let mut at = out;
            for p in parts {
                at = at
                    .entry(p.to_string())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("an object on the way");
            }
            let arr = at
                .entry(last.to_string())
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
                .expect("a list");
            if arr.len() < n {
                arr.resize(n, Value::Null);
            }
            match field {
                None => arr[n - 1] = v,
                Some(f) => {
                    if arr[n - 1].is_null() {
                        let mut entry = Map::new();
                        if let Some(p) = c.pos {
                            entry.insert(p.to_string(), Value::from(n as i64));
                        }
                        arr[n - 1] = Value::Object(entry);
                    }
                    arr[n - 1]
                        .as_object_mut()
                        .expect("an entry")
                        .insert(f.to_string(), v);
                }
            }
        }
    }
}

/// After a row: lists lose the places no column filled (`DIRECTORY NUMBER 1` and `3` make a
/// list of two lines, on buttons 1 and 3).
pub(crate) fn finish(_kind: Kind, out: &mut Map<String, Value>) {
    for v in out.values_mut() {
        match v {
            Value::Array(a) => a.retain(|x| !x.is_null()),
            Value::Object(o) => finish(_kind, o),
            _ => {}
        }
    }
}

fn lookup<'a>(r: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(r, |at, p| at.get(p))
}

fn entry<'a>(r: &'a Value, c: &Column, n: usize) -> Option<&'a Value> {
    let (list, _) = split_indexed(c.path);
    let arr = lookup(r, list)?.as_array()?;
    match c.pos {
        Some(p) => arr
            .iter()
            .find(|e| e.get(p).and_then(Value::as_i64) == Some(n as i64)),
        None => arr.get(n - 1),
    }
}

/// The cell for column `c` (index `n`) of record `r`.
pub(crate) fn get(r: &Value, c: &Column, n: Option<usize>) -> String {
    let v = match n {
        None => lookup(r, c.path),
        Some(n) => entry(r, c, n).and_then(|e| match split_indexed(c.path).1 {
            None => Some(e),
            Some(f) => e.get(f),
        }),
    };
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "t".into(),
        Some(Value::Bool(false)) => "f".into(),
        Some(other) => other.to_string(),
    }
}

/// The highest index record `r` fills in indexed column `c`.
pub(crate) fn highest(r: &Value, c: &Column) -> usize {
    let (list, _) = split_indexed(c.path);
    let Some(arr) = lookup(r, list).and_then(Value::as_array) else {
        return 0;
    };
    match c.pos {
        Some(p) => arr
            .iter()
            .filter_map(|e| e.get(p).and_then(Value::as_u64))
            .max()
            .unwrap_or(0) as usize,
        None => arr.len(),
    }
    .min(c.max_n)
}
