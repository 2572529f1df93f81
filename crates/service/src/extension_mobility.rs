//! Extension mobility (docs/phones.md, "Extension mobility"): a user logs in on a phone with
//! their PIN and the phone runs their device profile on its own model; logging out (or the
//! system's maximum login time) loads the phone's logout profile. Each login and logout is
//! audited, and the phone is told to resync at once.

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::extension_mobility::{Login, LoginRequest, LoginState, MultipleLogin};
use model::rules::DeviceClass;
use model::Page;
use std::time::{Duration, Instant};

impl Service {
    /// Buttons of a model with these expansion modules (lines past them are not shown).
    pub(crate) fn button_capacity(&self, model: &str, modules: &[String]) -> i64 {
        let lines = |m: &str| self.catalog.get(m).map_or(0, |t| t.lines as i64);
        lines(model) + modules.iter().map(|m| lines(m)).sum::<i64>()
    }

    /// Who is logged in on a phone, and what it runs otherwise.
    pub async fn login_state(&self, phone: &str) -> Result<LoginState> {
        let mut c = self.store.read().await?;
        let id = self.device_id(&mut c, DeviceClass::Phone, phone).await?;
        self.state_in(&mut c, id).await
    }

    async fn state_in(&self, conn: &mut store::Conn, id: i64) -> Result<LoginState> {
        let d = store::devices::by_id(conn, id).await?;
        let login = store::extension_mobility::on_device(conn, id).await?;
        let running = match &login {
            Some(l) => Some(l.profile_id),
            None => d.row.logout_profile_id,
        };
        let mut not_shown = Vec::new();
        if let Some(p) = running {
            let profile = store::devices::by_id(conn, p).await?;
            let cap = self.button_capacity(&d.row.model, &d.row.expansion_modules);
            let mut lines: Vec<_> = profile.appearances.iter().map(|(_, a)| a).collect();
            lines.sort_by_key(|a| a.button);
            not_shown = lines
                .into_iter()
                .filter(|a| a.button > cap)
                .map(|a| a.pattern.clone())
                .collect();
        }
        Ok(LoginState {
            phone: d.row.name.clone(),
            login: login.map(|l| l.login),
            logout_profile: d.logout_profile.clone(),
            not_shown,
        })
    }

    /// Logs a user in on a phone with their PIN: the phone runs their default device profile
    /// (or their only one). Refused with the reason when the phone's model has no extension
    /// mobility, the profile is for another family of phones, the PIN is wrong (locked out
    /// for a while after 3), someone else is logged in on it, or the user is logged in
    /// elsewhere and the system refuses a second login.
    pub async fn login(
        &self,
        actor: &Actor,
        phone: &str,
        req: &LoginRequest,
    ) -> Result<LoginState> {
        let (phone_id, user_id) = {
            let mut c = self.store.read().await?;
            let phone_id = self.device_id(&mut c, DeviceClass::Phone, phone).await?;
            let d = store::devices::by_id(&mut c, phone_id).await?;
            let key = req.user_id.trim();
            if key.is_empty() {
                return Err(Error::invalid("user_id", "say who logs in (their user ID)"));
            }
            let found = store::users::ids_by_user_id(&mut c, key, Some(&d.system)).await?;
            let Some(&(user_id, _)) = found.first() else {
                return Err(Error::invalid(
                    "user_id",
                    format!("there is no user {key} on {}", d.system),
                ));
            };
            (phone_id, user_id)
        };
        // The PIN, checked outside any transaction (argon2 takes a while).
        let now = Instant::now();
        let locks = [format!("em:user:{user_id}"), format!("em:phone:{phone_id}")];
        for k in &locks {
            if let Some(left) =
                self.attempts
                    .locked_after(k, now, crate::self_provisioning::CLAIM_ATTEMPTS)
            {
                return Err(Error::invalid(
                    "pin",
                    format!(
                        "too many wrong PINs: try again in {}",
                        crate::self_provisioning::minutes(left)
                    ),
                ));
            }
        }
        let stored = {
            let mut c = self.store.read().await?;
            store::users::by_id(&mut c, user_id).await?
        };
        let Some(hash) = stored.row.pin_hash.clone() else {
            return Err(Error::invalid(
                "pin",
                format!(
                    "{} has no PIN: an administrator sets one first",
                    stored.user.user_id
                ),
            ));
        };
        let ok = self
            .secret_matches_any(req.pin.expose().to_string(), vec![hash])
            .await;
        let keys: Vec<&str> = locks.iter().map(String::as_str).collect();
        if !ok {
            self.attempts.wrong(&keys, now);
            return Err(Error::invalid("pin", "wrong user ID or PIN"));
        }
        self.attempts.forget(&keys);

        let a = Audit {
            action: Action::Login,
            resource: Resource::Phone,
            target: phone.to_string(),
            system: String::new(),
        };
        self.change_named(actor, a, async |tx, a| {
            let d = store::devices::by_id(tx.conn(), phone_id).await?;
            a.target = d.row.name.clone();
            a.system = d.system.clone();
            let t = self.catalog.get(&d.row.model);
            if !t.is_some_and(|t| t.device_profile) {
                return Err(Error::invalid(
                    "phone",
                    format!("the {} has no extension mobility: nobody logs in on {}", d.row.model, d.row.name),
                ));
            }
            let u = store::users::by_id(tx.conn(), user_id).await?.user;
            let profile_name = match (&u.default_device_profile, u.device_profiles.as_slice()) {
                (Some(p), _) => p.clone(),
                (None, [only]) => only.clone(),
                (None, []) => {
                    return Err(Error::invalid(
                        "user_id",
                        format!("{} has no device profile: give them one (their default device profile)", u.user_id),
                    ))
                }
                (None, many) => {
                    return Err(Error::invalid(
                        "user_id",
                        format!("{} has {} device profiles and no default: choose their default device profile", u.user_id, many.len()),
                    ))
                }
            };
            let profile_id = self.device_id(tx.conn(), DeviceClass::DeviceProfile, &profile_name).await?;
            let profile = store::devices::by_id(tx.conn(), profile_id).await?;
            let family = |m: &str| self.catalog.get(m).map(|t| t.family);
            if family(&profile.row.model) != family(&d.row.model) {
                return Err(Error::invalid(
                    "profile",
                    format!(
                        "{}'s device profile {} is for the {} ({}), and {} is a {} ({}): a profile runs on phones of its own family",
                        u.user_id,
                        profile_name,
                        profile.row.model,
                        family_name(family(&profile.row.model)),
                        d.row.name,
                        d.row.model,
                        family_name(family(&d.row.model)),
                    ),
                ));
            }
            if let Some(other) = store::extension_mobility::on_device(tx.conn(), phone_id).await? {
                if other.user_id == user_id {
                    return Ok(());
                }
                return Err(Error::conflict(
                    "phone",
                    format!("{} is logged in on {}: they log out first", other.login.user_id, d.row.name),
                ));
            }
            let settings = self
                .systems_in(tx.conn())
                .await?
                .into_iter()
                .find(|s| s.id == d.row.system_id)
                .map(|s| s.settings.extension_mobility)
                .unwrap_or_default();
            for other in store::extension_mobility::of_user(tx.conn(), user_id).await? {
                match settings.multiple_login {
                    MultipleLogin::Refuse => {
                        return Err(Error::conflict(
                            "user_id",
                            format!(
                                "{} is logged in on {} already, and {} allows one login: log out there first",
                                u.user_id, other.login.phone, d.system
                            ),
                        ))
                    }
                    MultipleLogin::AutoLogout => {
                        store::extension_mobility::delete(tx.conn(), other.device_id).await?;
                        crate::devices::changed(tx, other.device_id, std::iter::empty());
                    }
                }
            }
            let expires = (settings.max_login_minutes > 0).then(|| {
                store::time_after(Duration::from_secs(60 * settings.max_login_minutes as u64))
            });
            store::extension_mobility::insert(tx.conn(), phone_id, user_id, profile_id, &crate::now(), expires.as_deref()).await?;
            crate::devices::changed(tx, phone_id, std::iter::empty());
            Ok(())
        })
        .await?;
        self.login_state(&phone_id.to_string()).await
    }

    /// Logs whoever is logged in out of a phone: it loads its logout profile (or its own
    /// settings) and is told to resync.
    pub async fn logout(&self, actor: &Actor, phone: &str) -> Result<LoginState> {
        let phone_id = {
            let mut c = self.store.read().await?;
            self.device_id(&mut c, DeviceClass::Phone, phone).await?
        };
        let a = Audit {
            action: Action::Logout,
            resource: Resource::Phone,
            target: phone.to_string(),
            system: String::new(),
        };
        self.change_named(actor, a, async |tx, a| {
            let d = store::devices::by_id(tx.conn(), phone_id).await?;
            a.target = d.row.name.clone();
            a.system = d.system.clone();
            if !store::extension_mobility::delete(tx.conn(), phone_id).await? {
                return Err(Error::conflict(
                    "phone",
                    format!("nobody is logged in on {}", d.row.name),
                ));
            }
            crate::devices::changed(tx, phone_id, std::iter::empty());
            Ok(())
        })
        .await?;
        self.login_state(&phone_id.to_string()).await
    }

    /// Ends the logins whose time ran out (the system's maximum login time) now; answers them.
    pub async fn end_expired_logins(&self) -> Result<Vec<Login>> {
        self.end_logins_expired_by(&crate::now()).await
    }

    /// Ends the logins whose time runs out by `at` (a time as [`crate::now`] writes it).
    pub async fn end_logins_expired_by(&self, at: &str) -> Result<Vec<Login>> {
        let expired = {
            let mut c = self.store.read().await?;
            store::extension_mobility::expired(&mut c, at).await?
        };
        let system = Actor::new("system");
        let mut ended = Vec::new();
        for l in expired {
            match self.logout(&system, &l.device_id.to_string()).await {
                Ok(_) => ended.push(l.login),
                // Logged out meanwhile.
                Err(Error::Conflict { .. }) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ended)
    }

    /// A phone's services menu: the services subscribed on the device profile it runs (a
    /// login's, else its logout profile), or on the phone itself, parameters filled.
    pub async fn device_menu(&self, device: &str) -> Result<model::extension_mobility::DeviceMenu> {
        use model::extension_mobility::{with_query, DeviceMenu, MenuService};
        let mut c = self.store.read().await?;
        let id = self.device_id(&mut c, DeviceClass::Phone, device).await?;
        let d = store::devices::by_id(&mut c, id).await?;
        let running = match store::extension_mobility::on_device(&mut c, id).await? {
            Some(l) => Some(l.profile_id),
            None => d.row.logout_profile_id,
        };
        let subscriptions = match running {
            Some(p) => store::devices::by_id(&mut c, p).await?.services,
            None => d.services.clone(),
        };
        let mut services = Vec::new();
        for sub in &subscriptions {
            let found = store::services::ids_by_name(&mut c, &sub.service).await?;
            let Some((sid, _)) = found.into_iter().find(|(_, sys)| *sys == d.row.system_id) else {
                continue;
            };
            let svc = store::services::by_id(&mut c, sid).await?;
            let params: Vec<(String, String)> = svc
                .parameters
                .iter()
                .map(|p| {
                    let v = sub
                        .parameters
                        .get(&p.name)
                        .cloned()
                        .unwrap_or_else(|| p.default.clone());
                    (p.name.clone(), v)
                })
                .filter(|(_, v)| !v.is_empty())
                .collect();
            services.push(MenuService {
                name: if sub.label.is_empty() {
                    svc.name.clone()
                } else {
                    sub.label.clone()
                },
                url: with_query(&svc.url, &params),
            });
        }
        Ok(DeviceMenu {
            device: d.row.name.clone(),
            services,
            extension_mobility: self
                .catalog
                .get(&d.row.model)
                .is_some_and(|t| t.device_profile),
        })
    }

    /// Every login, by phone.
    pub async fn logins(&self, limit: i64, offset: i64) -> Result<Page<Login>> {
        let (limit, offset) = (limit.clamp(1, 1000), offset.max(0));
        let mut c = self.store.read().await?;
        let (items, total) = store::extension_mobility::all(&mut c, limit, offset).await?;
        Ok(Page {
            items,
            total,
            total_exact: true,
            limit,
            offset,
        })
    }

    /// Where a user is logged in.
    pub async fn user_logins(&self, key: &str, system: Option<&str>) -> Result<Vec<Login>> {
        let mut c = self.store.read().await?;
        let id = self.user_id_of(&mut c, key, system).await?;
        Ok(store::extension_mobility::of_user(&mut c, id)
            .await?
            .into_iter()
            .map(|l| l.login)
            .collect())
    }
}

fn family_name(f: Option<model::DeviceFamily>) -> &'static str {
    use model::DeviceFamily::*;
    match f {
        Some(Enterprise) => "enterprise phones",
        Some(Mpp) => "multiplatform phones",
        Some(SoftClient) => "soft clients",
        Some(Conference) => "conference stations",
        Some(ExpansionModule) => "expansion modules",
        Some(Yealink) => "Yealink phones",
        Some(Polycom) => "Poly phones",
        Some(Grandstream) => "Grandstream phones",
        Some(Snom) => "Snom phones",
        None => "a model not in the catalogue",
    }
}
