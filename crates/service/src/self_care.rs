//! The self-care page's side of the directory: an end user logs in with their user ID and
//! password, sees their phones and their profile's limit, and claims a phone (the same claim as
//! every other front end, their password standing for the secret).

use crate::access::{random_token, SESSION_TOUCH};
use crate::auth::sha256_hex;
use crate::{Error, Result, Service, SESSION_IDLE};
use model::{Phone, UserProfile};
use std::time::Instant;

/// Wrong passwords that lock a user out of the self-care page for a while.
const LOGIN_ATTEMPTS: u32 = 5;

/// An end user logged in to the self-care page.
#[derive(Clone)]
pub struct EndUserSession {
    /// The user's record id.
    pub id: i64,
    pub user_id: String,
    pub system: String,
    pub display: String,
    pub csrf: String,
}

impl std::fmt::Debug for EndUserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndUserSession")
            .field("user_id", &self.user_id)
            .field("system", &self.system)
            .finish_non_exhaustive()
    }
}

/// What the self-care page shows a user.
#[derive(Debug, Clone)]
pub struct SelfCare {
    pub phones: Vec<Phone>,
    /// Their user profile, when they have one.
    pub profile: Option<UserProfile>,
}

impl Service {
    /// Logs an end user in (`system` when the user ID is on several): a new session, its id for
    /// the cookie. Five wrong passwords within 15 minutes lock the user out for 5 minutes.
    pub async fn end_user_log_in(
        &self,
        system: Option<&str>,
        user_id: &str,
        password: &str,
    ) -> Result<(String, EndUserSession)> {
        let wrong = || Error::Unauthorized("user ID or password is wrong".into());
        let user = {
            let mut c = self.store.read().await?;
            let ids = store::users::ids_by_user_id(
                &mut c,
                user_id.trim(),
                system.filter(|s| !s.is_empty()),
            )
            .await?;
            match ids.as_slice() {
                [] => return Err(wrong()),
                [(id, _)] => store::users::by_id(&mut c, *id).await?,
                _ => {
                    let on: Vec<&str> = ids.iter().map(|(_, s)| s.as_str()).collect();
                    return Err(Error::invalid(
                        "system",
                        format!(
                            "{user_id} is a user of {}: choose the system",
                            on.join(" and ")
                        ),
                    ));
                }
            }
        };
        let key = format!("login:{}", user.user.id);
        let now = Instant::now();
        if let Some(left) = self.attempts.locked_after(&key, now, LOGIN_ATTEMPTS) {
            return Err(Error::Unauthorized(format!(
                "too many wrong passwords for {user_id}: try again in {}",
                crate::self_provisioning::minutes(left)
            )));
        }
        let hashes = user.row.password_hash.clone().into_iter().collect();
        let ok = self.secret_matches_any(password.to_string(), hashes).await;
        if !ok {
            self.attempts.wrong(&[&key], now);
            tracing::info!(user = user_id, "self-care log-in refused");
            return Err(wrong());
        }
        self.attempts.forget(&[&key]);
        if user.user.ldap_inactive_since.is_some() {
            tracing::info!(
                user = user_id,
                "self-care log-in refused: inactive (left the directory)"
            );
            return Err(Error::Unauthorized(format!(
                "{user_id} is no longer in the corporate directory: ask an administrator"
            )));
        }
        let id = random_token();
        let csrf = random_token();
        let mut tx = self.store.write_unversioned().await?;
        store::user_sessions::insert(
            tx.conn(),
            &sha256_hex(&[id.as_bytes()]),
            user.user.id,
            &csrf,
        )
        .await?;
        tx.commit().await?;
        Ok((id, session_of(&user.user, csrf)))
    }

    /// The end user's session a cookie names, when it exists and was used within
    /// [`SESSION_IDLE`]; using it keeps it alive.
    pub async fn end_user_session(&self, id: &str) -> Result<Option<EndUserSession>> {
        let key = sha256_hex(&[id.as_bytes()]);
        let mut c = self.store.read().await?;
        let Some((user, csrf, seen_at)) = store::user_sessions::get(&mut c, &key).await? else {
            return Ok(None);
        };
        let u = store::users::by_id(&mut c, user).await?;
        drop(c);
        if store::older_than(&seen_at, SESSION_IDLE) {
            let mut tx = self.store.write_unversioned().await?;
            store::user_sessions::delete(tx.conn(), &key).await?;
            tx.commit().await?;
            return Ok(None);
        }
        if store::older_than(&seen_at, SESSION_TOUCH) {
            let mut tx = self.store.write_unversioned().await?;
            store::user_sessions::touch(tx.conn(), &key).await?;
            tx.commit().await?;
        }
        Ok(Some(session_of(&u.user, csrf)))
    }

    pub async fn end_user_log_out(&self, id: &str) -> Result<()> {
        let mut tx = self.store.write_unversioned().await?;
        store::user_sessions::delete(tx.conn(), &sha256_hex(&[id.as_bytes()])).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's phones and profile.
    pub async fn self_care(&self, s: &EndUserSession) -> Result<SelfCare> {
        let mut c = self.store.read().await?;
        let u = store::users::by_id(&mut c, s.id).await?;
        let mut phones = Vec::new();
        for id in store::devices::owned_by(&mut c, s.id).await? {
            phones.push(store::devices::by_id(&mut c, id).await?.to_phone());
        }
        phones.sort_by(|a, b| a.name.cmp(&b.name));
        let profile = match &u.row.user_profile {
            Some(p) => store::user_profiles::on_system(&mut c, u.row.system_id, p).await?,
            None => None,
        };
        Ok(SelfCare { phones, profile })
    }
}

fn session_of(u: &model::User, csrf: String) -> EndUserSession {
    let display = if u.display_name.is_empty() {
        format!("{} {}", u.first_name, u.last_name)
            .trim()
            .to_string()
    } else {
        u.display_name.clone()
    };
    EndUserSession {
        id: u.id,
        user_id: u.user_id.clone(),
        system: u.system.clone(),
        display,
        csrf,
    }
}
