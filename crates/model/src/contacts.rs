//! The corporate directory as phones and soft clients search it (docs/directory.md, "The
//! phones' directory"): active users found by the start of their first name, last name or
//! number, a page at a time.

use crate::directory::{contact_display_name, expand_photo_url, AttributeMap, ContactFields};
use crate::Invalid;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A Cisco IP phone shows at most 32 entries in one `CiscoIPPhoneDirectory`.
pub const PHONE_PAGE: u32 = 32;
/// The most one JSON page holds.
pub const MAX_PAGE: u32 = 100;
/// The longest search term taken (longer is a mistake, not a name).
const MAX_TERM: usize = 64;

/// What is searched for: each given term must be the start of that field (any case); nothing
/// given lists everyone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ContactSearch {
    pub first: String,
    pub last: String,
    /// The start of the business number or of the primary extension (digits, `+`, `*`, `#`).
    pub number: String,
    /// Only users of this call-control system.
    pub system: Option<String>,
    /// 1 is the first.
    pub page: u32,
    /// Entries per page: 32 unless given, at most 100.
    pub per_page: u32,
}

impl ContactSearch {
    /// The search with its terms trimmed and its page set, or what is wrong with it.
    pub fn checked(&self) -> Result<ContactSearch, Invalid> {
        let mut s = self.clone();
        for (field, v) in [
            ("first", &mut s.first),
            ("last", &mut s.last),
            ("number", &mut s.number),
        ] {
            *v = v.trim().to_string();
            if v.chars().count() > MAX_TERM {
                return Err(Invalid::new(
                    field,
                    format!("a search term is at most {MAX_TERM} characters"),
                ));
            }
        }
        if let Some(c) = s
            .number
            .chars()
            .find(|c| !(c.is_ascii_digit() || matches!(c, '+' | '*' | '#')))
        {
            return Err(Invalid::new(
                "number",
                format!("a number is digits (and + * #), not `{c}`"),
            ));
        }
        if s.page == 0 {
            s.page = 1;
        }
        if s.per_page == 0 {
            s.per_page = PHONE_PAGE;
        }
        if s.per_page > MAX_PAGE {
            return Err(Invalid::new(
                "per_page",
                format!("a page holds at most {MAX_PAGE} contacts"),
            ));
        }
        s.system = s.system.filter(|x| !x.trim().is_empty());
        Ok(s)
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page.max(1) - 1) * i64::from(self.per_page)
    }
}

/// A user as the directory shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub user_id: String,
    pub system: String,
    /// By the seed's rules for a displayed contact name.
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub department: String,
    pub mail: String,
    /// The number to dial: the business number, else the primary extension.
    pub number: String,
    pub extension: String,
    /// From the attribute map's photo URL template, when it is one.
    pub photo_url: Option<String>,
}

/// One page of a search.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContactPage {
    pub contacts: Vec<Contact>,
    pub page: u32,
    pub per_page: u32,
    /// Whether a next page has more.
    pub more: bool,
    /// The number searched when a directory lookup rule changed the one given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_searched: Option<String>,
    /// The directory lookup rule that changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup_rule: Option<String>,
}

/// A user's stored fields, as the store reads them for the directory.
#[derive(Debug, Clone, Default)]
pub struct ContactRecord {
    pub user_id: String,
    pub system: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub department: String,
    pub mail: String,
    pub telephone_number: String,
    pub manager: String,
    pub extension: String,
    pub ldap_synced: bool,
}

impl ContactRecord {
    /// The value of the user's field that the attribute map fills from `attribute` (any case).
    fn attribute(&self, map: &AttributeMap, attribute: &str) -> Option<String> {
        let f = &map.fields;
        let field = f
            .entries()
            .into_iter()
            .find(|(_, a)| !a.is_empty() && a.eq_ignore_ascii_case(attribute))?
            .0;
        Some(match field {
            "user_id" => self.user_id.clone(),
            "first_name" => self.first_name.clone(),
            "last_name" => self.last_name.clone(),
            "display_name" => self.display_name.clone(),
            "department" => self.department.clone(),
            "mail" => self.mail.clone(),
            "business_phone" => self.telephone_number.clone(),
            "manager" => self.manager.clone(),
            _ => return None,
        })
        .filter(|v| !v.is_empty())
    }

    /// The contact, named and pictured by the attribute map: for a synced user, a field the
    /// map leaves unmapped takes no part in the name; a user kept in Dialtone alone has them all.
    pub fn contact(&self, map: &AttributeMap) -> Contact {
        let f = &map.fields;
        let mapped = |attr: &str, v: &'_ str| -> Option<String> {
            (!self.ldap_synced || !attr.is_empty()).then(|| v.to_string())
        };
        let display = mapped(&f.display_name, &self.display_name);
        let first = mapped(&f.first_name, &self.first_name);
        let last = mapped(&f.last_name, &self.last_name);
        let name = contact_display_name(&ContactFields {
            edited: None,
            display_name: display.as_deref(),
            nickname: None,
            first_name: first.as_deref(),
            last_name: last.as_deref(),
            user_id: &self.user_id,
        });
        let photo_url = (f.photo.contains("%%"))
            .then(|| expand_photo_url(&f.photo, |a| self.attribute(map, a)))
            .flatten();
        Contact {
            user_id: self.user_id.clone(),
            system: self.system.clone(),
            name,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            department: self.department.clone(),
            mail: self.mail.clone(),
            number: if self.telephone_number.is_empty() {
                self.extension.clone()
            } else {
                self.telephone_number.clone()
            },
            extension: self.extension.clone(),
            photo_url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::AttributeFields;
    use crate::DirectoryType;

    fn jdoe() -> ContactRecord {
        ContactRecord {
            user_id: "jdoe".into(),
            system: "cucm".into(),
            first_name: "John".into(),
            last_name: "Doe".into(),
            mail: "jdoe@example.com".into(),
            extension: "1001".into(),
            ldap_synced: true,
            ..ContactRecord::default()
        }
    }

    #[test]
    fn a_contact_is_named_and_pictured_through_the_map() {
        let mut map = AttributeMap {
            directory_type: DirectoryType::OpenLdap,
            fields: AttributeFields::preset(DirectoryType::OpenLdap),
        };
        map.fields.photo = "http://p.example/%%uid%%.jpg".into();
        let c = jdoe().contact(&map);
        assert_eq!(c.name, "John Doe");
        assert_eq!(c.number, "1001", "no business number: the extension");
        assert_eq!(c.photo_url.as_deref(), Some("http://p.example/jdoe.jpg"));
        // The photo attribute itself (not a URL) gives no URL: clients read it from LDAP.
        map.fields.photo = "jpegPhoto".into();
        assert_eq!(jdoe().contact(&map).photo_url, None);
        // A template naming an attribute the user has no value for gives none.
        map.fields.photo = "http://p.example/%%mobile%%".into();
        assert_eq!(jdoe().contact(&map).photo_url, None);
        // Neither first nor last name mapped: the user ID (the seed's last rule).
        map.fields.first_name.clear();
        map.fields.last_name.clear();
        assert_eq!(jdoe().contact(&map).name, "jdoe");
        // A user kept in Dialtone alone is named by their fields whatever the map.
        let mut local = jdoe();
        local.ldap_synced = false;
        local.telephone_number = "+1 408 555 0100".into();
        let c = local.contact(&map);
        assert_eq!(c.name, "John Doe");
        assert_eq!(c.number, "+1 408 555 0100");
    }

    #[test]
    fn searches_are_checked() {
        let s = ContactSearch {
            last: "  Do ".into(),
            ..ContactSearch::default()
        }
        .checked()
        .unwrap();
        assert_eq!((s.last.as_str(), s.page, s.per_page), ("Do", 1, PHONE_PAGE));
        assert_eq!(s.offset(), 0);
        let bad = ContactSearch {
            number: "10a".into(),
            ..ContactSearch::default()
        };
        assert_eq!(bad.checked().unwrap_err().field, "number");
        let big = ContactSearch {
            per_page: 101,
            ..ContactSearch::default()
        };
        assert_eq!(big.checked().unwrap_err().field, "per_page");
        let p3 = ContactSearch {
            page: 3,
            per_page: 10,
            ..ContactSearch::default()
        };
        assert_eq!(p3.checked().unwrap().offset(), 20);
    }
}
