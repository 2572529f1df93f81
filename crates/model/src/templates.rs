//! Templates and import jobs, as the API shows them.
//!
//! A template holds any subset of the fields of a new user, phone or device profile. Its values
//! are not validated (an administrator may keep part of a value, such as the first digits of a
//! MAC address); only its name is, and that its fields are fields of the record. A change it makes
//! is validated like any other when it is applied.

use crate::error::Invalid;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// What a template fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    User,
    Phone,
    DeviceProfile,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 3] = [
        TemplateKind::User,
        TemplateKind::Phone,
        TemplateKind::DeviceProfile,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::User => "user",
            TemplateKind::Phone => "phone",
            TemplateKind::DeviceProfile => "device_profile",
        }
    }
    /// `user`, `phone`, `device_profile`, and the plural and dashed spellings of the URLs and
    /// the CLI (`users`, `device-profiles`).
    pub fn parse(s: &str) -> Result<TemplateKind, Invalid> {
        let k = s.trim().to_ascii_lowercase().replace('-', "_");
        let k = k.strip_suffix('s').unwrap_or(&k);
        TemplateKind::ALL
            .into_iter()
            .find(|t| t.as_str() == k)
            .ok_or_else(|| {
                Invalid::new(
                    "kind",
                    format!("`{s}` is not a kind of template: user, phone or device_profile"),
                )
            })
    }
    /// The fields a template of this kind may hold: those of the new record.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            TemplateKind::User => struct_fields::<crate::NewUser>(),
            TemplateKind::Phone => struct_fields::<crate::NewPhone>(),
            TemplateKind::DeviceProfile => struct_fields::<crate::NewDeviceProfile>(),
        }
    }
    /// The fields that name a record: a template applied to stored records leaves them alone.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            TemplateKind::User => &["user_id", "system"],
            TemplateKind::Phone => &["name", "mac", "system"],
            TemplateKind::DeviceProfile => &["name", "system"],
        }
    }
    /// Checks that `fields` are fields of this kind's record with values of the right JSON
    /// type; the values themselves are not checked.
    pub fn check_fields(self, fields: &Map<String, Value>) -> Result<(), Invalid> {
        let v = Value::Object(fields.clone());
        let r = match self {
            TemplateKind::User => serde_json::from_value::<crate::NewUser>(v).map(drop),
            TemplateKind::Phone => serde_json::from_value::<crate::NewPhone>(v).map(drop),
            TemplateKind::DeviceProfile => {
                serde_json::from_value::<crate::NewDeviceProfile>(v).map(drop)
            }
        };
        r.map_err(|e| Invalid::new("fields", format!("{e} (a {} template)", self.as_str())))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub id: i64,
    pub kind: TemplateKind,
    pub name: String,
    pub description: String,
    /// The fields it fills, as in a request that creates the record.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    pub kind: TemplateKind,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TemplatePatch {
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Replaces every field the template holds.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Map<String, Value>>,
}

/// Records to apply a template to: named, or found (`find` takes the list's query parameters,
/// e.g. `{"q": "SEP0C", "model": "8861"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ApplyTemplate {
    pub targets: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub find: Option<std::collections::BTreeMap<String, String>>,
    /// Needed when a user ID exists on several systems.
    pub system: Option<String>,
}

/// A template name: 1 to 50 letters, digits, spaces, `.`, `_` or `-`, not starting or ending
/// with a space.
pub fn template_name(s: &str) -> Result<String, Invalid> {
    let bad = |why: &str| Invalid::new("name", format!("template name `{s}`: {why}"));
    if s.is_empty() {
        return Err(Invalid::new("name", "a template needs a name"));
    }
    if s.trim() != s {
        return Err(bad("no space at the start or the end"));
    }
    if s.chars().count() > 50 {
        return Err(bad("at most 50 characters"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-')))
    {
        return Err(bad(&format!(
            "`{c}` is not allowed (letters, digits, spaces, `.`, `_`, `-`)"
        )));
    }
    Ok(s.to_string())
}

/// Where an import job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Done,
    /// The job ended early: its file could not be read, or the database failed.
    Failed,
    /// The process running it stopped (killed, restarted) before the end: the rows it reported
    /// done are stored; import the same file again to finish.
    Interrupted,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Interrupted => "interrupted",
        }
    }
    pub fn from_db(s: &str) -> JobState {
        match s {
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            "interrupted" => JobState::Interrupted,
            _ => JobState::Running,
        }
    }
}

/// An import: what it was asked, and how far it got (rows committed so far).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportJob {
    pub id: i64,
    /// users, phones, device-profiles, lines, voicemail-subscribers or app-profiles.
    pub kind: String,
    /// add, modify or delete.
    pub mode: String,
    pub dry_run: bool,
    pub stop_on_error: bool,
    pub template: String,
    /// The file's name.
    pub source: String,
    pub actor: String,
    pub state: JobState,
    /// The rows in the file, when known before the end.
    pub rows_total: Option<i64>,
    pub rows_done: i64,
    pub ok: i64,
    /// Of the ok rows: the record was there already, as the row has it.
    pub unchanged: i64,
    pub failed: i64,
    /// `N rows: A ok, B failed` at the end, or why the job stopped.
    pub message: String,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

/// The names of a struct's fields, as serde sees them (asked of its `Deserialize`).
pub fn struct_fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    struct Probe(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<E: std::fmt::Display>(_: E) -> Self {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Probe {
        type Error = Stop;
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _v: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut p = Probe(None);
    let _ = T::deserialize(&mut p);
    p.0.unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_holds_fields_of_its_record_with_any_value() {
        assert!(TemplateKind::Phone.fields().contains(&"device_pool"));
        assert!(TemplateKind::User.fields().contains(&"primary_extension"));
        let mut m = Map::new();
        m.insert("mac".into(), "0C11".into()); // part of a MAC: kept as it is
        m.insert("device_pool".into(), "".into());
        TemplateKind::Phone.check_fields(&m).unwrap();
        m.insert("colour".into(), "red".into());
        let e = TemplateKind::Phone.check_fields(&m).unwrap_err();
        assert_eq!(e.field, "fields");
        assert!(e.message.contains("colour"), "{e}");
        let mut m = Map::new();
        m.insert("lines".into(), 5.into());
        assert!(TemplateKind::Phone.check_fields(&m).is_err());
    }

    #[test]
    fn template_names_and_kinds() {
        assert_eq!(template_name("Sales 8861").unwrap(), "Sales 8861");
        for bad in ["", " x", "x ", "a/b", &"x".repeat(51)] {
            assert!(template_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            TemplateKind::parse("device-profiles").unwrap(),
            TemplateKind::DeviceProfile
        );
        assert_eq!(TemplateKind::parse("Users").unwrap(), TemplateKind::User);
        assert!(TemplateKind::parse("lines").is_err());
    }
}
