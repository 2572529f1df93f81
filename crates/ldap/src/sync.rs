//! A directory sync's plan: the users the directory's entries make through the attribute map,
//! against the users Dialtone has: who is new, whose synced fields changed, who is unchanged,
//! which synced users left the directory, and which entries cannot be users (with why). The
//! plan is what a dry run shows and what the sync then applies through the service.

use crate::Entry;
use model::{AttributeFields, User, UserId};
use std::collections::{BTreeMap, HashMap};

/// A user as the directory says it: the fields the sync keeps (read-only on synced users).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Person {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub department: String,
    pub mail: String,
    pub telephone_number: String,
    /// The manager's user ID, when the map has `manager` and its DN is an entry of the search.
    pub manager: String,
    /// The entry's DN (for the report).
    pub dn: String,
}

/// The Dialtone fields a sync sets, in order.
pub const SYNCED_FIELDS: [&str; 7] = [
    "first_name",
    "last_name",
    "display_name",
    "department",
    "mail",
    "telephone_number",
    "manager",
];

impl Person {
    fn get(&self, field: &str) -> &str {
        match field {
            "first_name" => &self.first_name,
            "last_name" => &self.last_name,
            "display_name" => &self.display_name,
            "department" => &self.department,
            "mail" => &self.mail,
            "telephone_number" => &self.telephone_number,
            "manager" => &self.manager,
            _ => "",
        }
    }
}

fn user_field<'a>(u: &'a User, field: &str) -> &'a str {
    match field {
        "first_name" => &u.first_name,
        "last_name" => &u.last_name,
        "display_name" => &u.display_name,
        "department" => &u.department,
        "mail" => &u.mail,
        "telephone_number" => &u.telephone_number,
        "manager" => &u.manager,
        _ => "",
    }
}

/// One field a sync changes: (field, stored, from the directory).
pub type FieldChange = (&'static str, String, String);

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Plan {
    pub create: Vec<Person>,
    pub update: Vec<(Person, Vec<FieldChange>)>,
    pub unchanged: usize,
    /// Synced users no longer in the directory's answer (user IDs).
    pub gone: Vec<String>,
    /// Entries that make no user: (DN, why).
    pub skipped: Vec<(String, String)>,
}

impl Plan {
    /// `N to create, N to update, N unchanged, N gone, N skipped`.
    pub fn summary(&self) -> String {
        format!(
            "{} to create, {} to update, {} unchanged, {} gone from the directory, {} skipped",
            self.create.len(),
            self.update.len(),
            self.unchanged,
            self.gone.len(),
            self.skipped.len()
        )
    }
}

/// The attributes a search asks for to fill the map's fields.
pub fn attributes(map: &AttributeFields) -> Vec<String> {
    let mut v: Vec<String> = [
        &map.user_id,
        &map.first_name,
        &map.last_name,
        &map.display_name,
        &map.department,
        &map.mail,
        &map.business_phone,
        &map.manager,
    ]
    .into_iter()
    .map(|a| a.trim().to_string())
    .filter(|a| !a.is_empty())
    .collect();
    v.sort();
    v.dedup();
    v
}

/// The plan of syncing `entries` (read through `map`) into `users` (the users of the system
/// the sync fills).
pub fn plan(entries: &[Entry], map: &AttributeFields, users: &[User]) -> Plan {
    let mut p = Plan::default();
    let value = |e: &Entry, attr: &str| -> String {
        if attr.trim().is_empty() {
            String::new()
        } else {
            e.first(attr.trim()).unwrap_or("").trim().to_string()
        }
    };
    // DN → user ID, for managers.
    let by_dn: HashMap<String, String> = entries
        .iter()
        .filter_map(|e| {
            let id = value(e, &map.user_id);
            (!id.is_empty()).then(|| (e.dn.to_ascii_lowercase(), id))
        })
        .collect();
    let mut people: BTreeMap<String, Person> = BTreeMap::new();
    for e in entries {
        let id = value(e, &map.user_id);
        if id.is_empty() {
            p.skipped
                .push((e.dn.clone(), format!("no {} (the user ID)", map.user_id)));
            continue;
        }
        if let Err(why) = UserId::parse(&id) {
            p.skipped.push((
                e.dn.clone(),
                format!("`{id}` cannot be a user ID: {}", why.message),
            ));
            continue;
        }
        if let Some(other) = people.get(&id.to_ascii_lowercase()) {
            p.skipped
                .push((e.dn.clone(), format!("user ID {id} is also {}'s", other.dn)));
            continue;
        }
        let manager_dn = value(e, &map.manager).to_ascii_lowercase();
        let person = Person {
            user_id: id.clone(),
            first_name: value(e, &map.first_name),
            last_name: value(e, &map.last_name),
            display_name: value(e, &map.display_name),
            department: value(e, &map.department),
            mail: value(e, &map.mail),
            telephone_number: value(e, &map.business_phone),
            manager: by_dn.get(&manager_dn).cloned().unwrap_or_default(),
            dn: e.dn.clone(),
        };
        people.insert(id.to_ascii_lowercase(), person);
    }
    let stored: HashMap<String, &User> = users
        .iter()
        .map(|u| (u.user_id.to_ascii_lowercase(), u))
        .collect();
    for (key, person) in &people {
        match stored.get(key) {
            None => p.create.push(person.clone()),
            Some(u) => {
                let changes: Vec<FieldChange> = SYNCED_FIELDS
                    .iter()
                    .filter(|f| user_field(u, f) != person.get(f))
                    .map(|f| (*f, user_field(u, f).to_string(), person.get(f).to_string()))
                    .collect();
                if changes.is_empty() && u.ldap_synced {
                    p.unchanged += 1;
                } else {
                    p.update.push((person.clone(), changes));
                }
            }
        }
    }
    p.gone = users
        .iter()
        .filter(|u| u.ldap_synced && !people.contains_key(&u.user_id.to_ascii_lowercase()))
        .map(|u| u.user_id.clone())
        .collect();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dn: &str, attrs: &[(&str, &str)]) -> Entry {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in attrs {
            m.entry(k.to_ascii_lowercase())
                .or_default()
                .push(v.to_string());
        }
        Entry {
            dn: dn.into(),
            attrs: m,
        }
    }

    fn user(id: &str, first: &str, synced: bool) -> User {
        let mut u: User = serde_json::from_value(serde_json::json!({
            "id": 1, "system": "default", "user_id": id, "first_name": first, "last_name": "Doe",
            "display_name": "", "department": "", "manager": "", "mail": "", "telephone_number": "",
            "primary_extension": null, "primary_extension_partition": "", "user_profile": null,
            "self_service_id": null, "groups": [], "must_change_password": false,
            "password_never_expires": false, "presence_home_node": null, "app_profiles": {},
            "capabilities": {}, "ldap_synced": synced, "has_password": false, "has_pin": false,
            "has_digest_credential": false, "devices": [], "device_profiles": [],
            "default_device_profile": null, "lines": [], "conflicts": [], "version": 1,
            "created_at": "", "updated_at": ""
        }))
        .unwrap();
        u.ldap_synced = synced;
        u
    }

    #[test]
    fn a_plan_creates_updates_and_says_who_left() {
        let map = AttributeFields::preset(model::DirectoryType::OpenLdap);
        let entries = vec![
            entry(
                "uid=boss,ou=p",
                &[("uid", "boss"), ("givenName", "Big"), ("sn", "Boss")],
            ),
            entry(
                "uid=jdoe,ou=p",
                &[
                    ("uid", "jdoe"),
                    ("givenName", "John"),
                    ("sn", "Doe"),
                    ("manager", "UID=boss,ou=p"),
                ],
            ),
            entry("uid=new,ou=p", &[("uid", "new"), ("sn", "Comer")]),
            entry("cn=nouid,ou=p", &[("sn", "Nobody")]),
            entry("uid=JDOE,ou=q", &[("uid", "JDOE"), ("sn", "Twin")]),
            entry("uid=bad,ou=p", &[("uid", "a/b")]),
        ];
        let users = vec![
            user("jdoe", "Johnny", true),
            user("boss", "Big", true),
            user("left", "Gone", true),
            user("local", "Kept", false),
        ];
        let p = plan(&entries, &map, &users);
        assert_eq!(
            p.create
                .iter()
                .map(|c| c.user_id.as_str())
                .collect::<Vec<_>>(),
            ["new"]
        );
        let (jdoe, changes) = p.update.iter().find(|(u, _)| u.user_id == "jdoe").unwrap();
        assert_eq!(jdoe.manager, "boss", "the manager's DN, any case");
        assert!(
            changes.contains(&("first_name", "Johnny".into(), "John".into())),
            "{changes:?}"
        );
        // boss: last name Boss vs Doe stored: an update too.
        assert_eq!(p.update.len(), 2);
        assert_eq!(p.gone, ["left"], "a local user is not the sync's to touch");
        let why: Vec<&str> = p.skipped.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(why.len(), 3, "{why:?}");
        assert!(why.iter().any(|w| w.contains("no uid")));
        assert!(why.iter().any(|w| w.contains("is also uid=jdoe,ou=p's")));
        assert!(why.iter().any(|w| w.contains("cannot be a user ID")));
        assert_eq!(
            p.summary(),
            "1 to create, 2 to update, 0 unchanged, 1 gone from the directory, 3 skipped"
        );
        assert_eq!(
            attributes(&map),
            [
                "departmentNumber",
                "displayName",
                "givenName",
                "mail",
                "manager",
                "sn",
                "telephoneNumber",
                "uid"
            ]
        );
    }

    #[test]
    fn a_second_plan_of_the_same_directory_changes_nothing() {
        let map = AttributeFields::preset(model::DirectoryType::OpenLdap);
        let entries = vec![entry(
            "uid=jdoe,ou=p",
            &[("uid", "jdoe"), ("givenName", "John"), ("sn", "Doe")],
        )];
        let p = plan(&entries, &map, &[user("jdoe", "John", true)]);
        assert_eq!((p.create.len(), p.update.len(), p.unchanged), (0, 0, 1));
        // The same values on a user not yet synced: an update (it becomes synced).
        let p = plan(&entries, &map, &[user("jdoe", "John", false)]);
        assert_eq!((p.update.len(), p.update[0].1.len()), (1, 0));
    }
}
