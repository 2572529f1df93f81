//! Users and voicemail subscribers found together (seed 000's "Manage User"): one list by ID,
//! each with its conflicts between product systems.

use crate::{Actor, Error, Result, Service};
use model::{NewPerson, Page, Person, PersonAdded};

/// How far the combined list pages (it merges two finds).
const PEOPLE_MAX: i64 = 1000;

impl Service {
    /// Users and voicemail subscribers whose ID or name starts with `f.q` (of `f.system`), by ID,
    /// a user before the subscriber of the same ID.
    /// `subscriber_systems` narrows the subscribers as `f.systems` narrows the users (the
    /// systems an administrator may see of each).
    pub async fn find_people(
        &self,
        f: &model::Find,
        subscriber_systems: Option<Vec<String>>,
    ) -> Result<Page<Person>> {
        let limit = f.limit.clamp(1, 1000);
        let offset = f.offset.max(0);
        if offset + limit > PEOPLE_MAX {
            return Err(Error::invalid(
                "offset",
                format!(
                    "the list of users and subscribers together pages through its first {PEOPLE_MAX}: \
                     narrow the find (the start of an ID or a name), or list users and subscribers apart"
                ),
            ));
        }
        let part = |sort: &str, systems: Option<Vec<String>>| model::Find {
            q: f.q.clone(),
            system: f.system.clone(),
            systems,
            sort: Some(sort.into()),
            descending: false,
            limit: offset + limit,
            offset: 0,
            count_up_to: f.count_up_to,
            filters: Vec::new(),
        };
        let users = self.find_users(&part("user_id", f.systems.clone())).await?;
        let subs = self
            .find_voicemail_subscribers(&part("alias", subscriber_systems))
            .await?;
        let mut all: Vec<Person> = users
            .items
            .into_iter()
            .map(|u| Person {
                kind: "user".into(),
                key: u.user_id,
                system: u.system,
                first_name: u.first_name,
                last_name: u.last_name,
                extension: u.primary_extension.unwrap_or_default(),
                conflicts: u.conflicts,
            })
            .chain(subs.items.into_iter().map(|v| Person {
                kind: "voicemail_subscriber".into(),
                key: v.alias,
                system: v.system,
                first_name: v.first_name,
                last_name: v.last_name,
                extension: v.extension,
                conflicts: v.conflicts,
            }))
            .collect();
        all.sort_by(|a, b| {
            (a.key.to_lowercase(), a.kind.as_str(), a.system.as_str()).cmp(&(
                b.key.to_lowercase(),
                b.kind.as_str(),
                b.system.as_str(),
            ))
        });
        let items = all
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        Ok(Page {
            items,
            total: users.total + subs.total,
            total_exact: users.total_exact && subs.total_exact,
            limit,
            offset,
        })
    }

    /// Adds a person as a user and, when asked, a voicemail subscriber: the subscriber is
    /// checked first, after the user (dry runs against what is stored), then the user is added, then the
    /// subscriber; should the subscriber still be refused, the user is taken out again, so that
    /// a person is added whole or not at all. Errors name their part (`user.…`,
    /// `subscriber.…`).
    pub async fn add_person(&self, actor: &Actor, req: NewPerson) -> Result<PersonAdded> {
        let u = &req.user;
        let subscriber = req.subscriber.clone().map(|mut s| {
            let or = |v: &mut String, d: &str| {
                if v.trim().is_empty() {
                    *v = d.to_string();
                }
            };
            or(&mut s.alias, &u.user_id);
            or(&mut s.first_name, &u.first_name);
            or(&mut s.last_name, &u.last_name);
            or(&mut s.display_name, &u.display_name);
            or(&mut s.mail, &u.mail);
            if s.pin.is_none() {
                s.pin = u.pin.clone();
            }
            s
        });
        // Both checked first, the user's part before the subscriber's.
        self.dry_run()
            .add_user(actor, req.user.clone())
            .await
            .map_err(|e| part(e, "user"))?;
        if let Some(s) = &subscriber {
            self.dry_run()
                .create_voicemail_subscriber(actor, s.clone())
                .await
                .map_err(|e| part(e, "subscriber"))?;
        }
        let user = self
            .create_user(actor, req.user.clone())
            .await
            .map_err(|e| part(e, "user"))?;
        let subscriber = match subscriber {
            None => None,
            Some(s) => match self.create_voicemail_subscriber(actor, s).await {
                Ok(v) => Some(v),
                Err(e) => {
                    if let Err(undo) = self
                        .delete_user(actor, &user.user_id, Some(&user.system))
                        .await
                    {
                        tracing::error!(user = %user.user_id, error = %undo, "a person's user could not be taken out after their subscriber was refused");
                    }
                    return Err(part(e, "subscriber"));
                }
            },
        };
        Ok(PersonAdded { user, subscriber })
    }
}

/// An error of one part of a person: its field named within the part.
fn part(e: Error, name: &str) -> Error {
    match e {
        Error::Invalid(i) => Error::Invalid(i.within(name)),
        Error::Conflict { field, message } => Error::Conflict {
            field: Some(field.map_or(name.to_string(), |f| format!("{name}.{f}"))),
            message,
        },
        e => e,
    }
}
