//! A directory sync's plan: the users the directory's entries make through the attribute map,
//! against the users Dialtone has: who is new, whose synced fields changed, who is unchanged,
//! which synced users left the directory, and which entries cannot be users (with why). The
//! plan is what a dry run shows and what the sync then applies through the service.

use crate::Entry;
use model::directory::{KnownUser, SyncedFields};
use model::{AttributeFields, UserId};
use std::collections::{BTreeMap, HashMap};

/// A user as the directory says it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Person {
    pub user_id: String,
    /// The fields the sync keeps (the manager as a user ID, when the map has `manager` and its
    /// DN is an entry of the search).
    pub fields: SyncedFields,
    /// The entry's DN (for the report).
    pub dn: String,
}

/// One field a sync changes: (field, stored, from the directory).
pub type FieldChange = (&'static str, String, String);

/// A stored user the directory changes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Update {
    pub person: Person,
    pub id: i64,
    pub version: i64,
    pub changes: Vec<FieldChange>,
    /// A local user the directory has too.
    pub becomes_synced: bool,
    /// A user who had left the directory and is back.
    pub reactivated: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Plan {
    pub create: Vec<Person>,
    /// The directory's person, the stored user's id and version, the fields that change.
    pub update: Vec<Update>,
    pub unchanged: usize,
    /// Active users synced by this profile no longer in the directory's answer: (id, version,
    /// user ID).
    pub gone: Vec<(i64, i64, String)>,
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

/// The plan of syncing `entries` (read through `map`) by `profile` into `users` (the users of
/// the system the sync fills).
pub fn plan(entries: &[Entry], map: &AttributeFields, profile: &str, users: &[KnownUser]) -> Plan {
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
        if value(e, &map.last_name).is_empty() {
            p.skipped.push((
                e.dn.clone(),
                format!(
                    "no {} (the last name): a Dialtone user needs one",
                    map.last_name
                ),
            ));
            continue;
        }
        let manager_dn = value(e, &map.manager).to_ascii_lowercase();
        let person = Person {
            user_id: id.clone(),
            fields: SyncedFields {
                first_name: value(e, &map.first_name),
                last_name: value(e, &map.last_name),
                display_name: value(e, &map.display_name),
                department: value(e, &map.department),
                mail: value(e, &map.mail),
                telephone_number: value(e, &map.business_phone),
                manager: by_dn.get(&manager_dn).cloned().unwrap_or_default(),
            },
            dn: e.dn.clone(),
        };
        people.insert(id.to_ascii_lowercase(), person);
    }
    let stored: HashMap<String, &KnownUser> = users
        .iter()
        .map(|u| (u.user_id.to_ascii_lowercase(), u))
        .collect();
    for (key, person) in people.iter() {
        match stored.get(key) {
            None => p.create.push(person.clone()),
            Some(u) => {
                let changes: Vec<FieldChange> = u
                    .fields
                    .entries()
                    .into_iter()
                    .zip(person.fields.entries())
                    .filter(|((_, had), (_, has))| had != has)
                    .map(|((f, had), (_, has))| (f, had.to_string(), has.to_string()))
                    .collect();
                if changes.is_empty() && u.ldap_synced && !u.inactive {
                    p.unchanged += 1;
                } else {
                    p.update.push(Update {
                        person: person.clone(),
                        id: u.id,
                        version: u.version,
                        changes,
                        becomes_synced: !u.ldap_synced,
                        reactivated: u.ldap_synced && u.inactive,
                    });
                }
            }
        }
    }
    p.gone = users
        .iter()
        .filter(|u| {
            u.ldap_synced
                && !u.inactive
                && u.ldap_profile.as_deref() == Some(profile)
                && !people.contains_key(&u.user_id.to_ascii_lowercase())
        })
        .map(|u| (u.id, u.version, u.user_id.clone()))
        .collect();
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::directory::{KnownUser, SyncedFields};

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

    fn user(id: &str, first: &str, synced: bool) -> KnownUser {
        KnownUser {
            id: 1,
            version: 1,
            user_id: id.into(),
            fields: SyncedFields {
                first_name: first.into(),
                last_name: "Doe".into(),
                ..Default::default()
            },
            ldap_synced: synced,
            ldap_profile: synced.then(|| "corp".to_string()),
            inactive: false,
        }
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
            entry("uid=bad,ou=p", &[("uid", "a/b"), ("sn", "Bad")]),
            entry("uid=nosn,ou=p", &[("uid", "nosn")]),
        ];
        let users = vec![
            user("jdoe", "Johnny", true),
            user("boss", "Big", true),
            user("left", "Gone", true),
            user("local", "Kept", false),
        ];
        let p = plan(&entries, &map, "corp", &users);
        assert_eq!(
            p.create
                .iter()
                .map(|c| c.user_id.as_str())
                .collect::<Vec<_>>(),
            ["new"]
        );
        let jdoe = p
            .update
            .iter()
            .find(|u| u.person.user_id == "jdoe")
            .unwrap();
        let changes = &jdoe.changes;
        assert_eq!(
            jdoe.person.fields.manager, "boss",
            "the manager's DN, any case"
        );
        assert!(
            changes.contains(&("first_name", "Johnny".into(), "John".into())),
            "{changes:?}"
        );
        // boss: last name Boss vs Doe stored: an update too.
        assert_eq!(p.update.len(), 2);
        let gone: Vec<&str> = p.gone.iter().map(|g| g.2.as_str()).collect();
        assert_eq!(gone, ["left"], "a local user is not the sync's to touch");
        let why: Vec<&str> = p.skipped.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(why.len(), 4, "{why:?}");
        assert!(why.iter().any(|w| w.contains("no sn (the last name)")));
        assert!(why.iter().any(|w| w.contains("no uid")));
        assert!(why.iter().any(|w| w.contains("is also uid=jdoe,ou=p's")));
        assert!(why.iter().any(|w| w.contains("cannot be a user ID")));
        assert_eq!(
            p.summary(),
            "1 to create, 2 to update, 0 unchanged, 1 gone from the directory, 4 skipped"
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
        let p = plan(&entries, &map, "corp", &[user("jdoe", "John", true)]);
        assert_eq!((p.create.len(), p.update.len(), p.unchanged), (0, 0, 1));
        // The same values on a user not yet synced: an update (it becomes synced).
        let p = plan(&entries, &map, "corp", &[user("jdoe", "John", false)]);
        assert_eq!((p.update.len(), p.update[0].changes.len()), (1, 0));
        assert!(p.update[0].becomes_synced);
        // An inactive user back in the directory: reactivated.
        let mut back = user("jdoe", "John", true);
        back.inactive = true;
        let p = plan(&entries, &map, "corp", &[back]);
        assert!(p.update[0].reactivated && !p.update[0].becomes_synced);
        // A synced user of another profile who is not in this profile's answer stays.
        let mut other = user("elsewhere", "E", true);
        other.ldap_profile = Some("branch".into());
        let p = plan(&entries, &map, "corp", &[other]);
        assert!(p.gone.is_empty());
    }
}
