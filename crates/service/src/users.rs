//! End users and their associations.

use crate::{opt, Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::rules::DeviceClass;
use model::{
    BatchRequest, BatchResult, NewUser, Page, Password, Pin, SystemKind, User, UserId, UserPatch,
};
use store::users::{StoredUser, UserRow};
use store::Conn;

/// The associations a user asks for, resolved to ids.
struct Assoc {
    devices: Vec<i64>,
    default_profile: Option<i64>,
    lines: Vec<i64>,
}

impl Service {
    pub(crate) async fn user_id_of(
        &self,
        conn: &mut Conn,
        key: &str,
        system: Option<&str>,
    ) -> Result<i64> {
        let found = store::users::ids_by_user_id(conn, key, system).await?;
        crate::one_by_key_or_id("user", key, found, async |id| {
            store::users::by_id(conn, id).await.is_ok()
        })
        .await
    }

    pub async fn find_users(&self, f: &model::Find) -> Result<Page<User>> {
        let mut c = self.store.read().await?;
        Ok(store::users::find(&mut c, f).await?)
    }

    /// A user by user ID (with `system` when the ID exists on several systems) or by id.
    pub async fn user(&self, key: &str, system: Option<&str>) -> Result<User> {
        let mut c = self.store.read().await?;
        let id = self.user_id_of(&mut c, key, system).await?;
        Ok(store::users::by_id(&mut c, id).await?.user)
    }

    async fn user_row(
        &self,
        conn: &mut Conn,
        system_id: i64,
        system: &str,
        u: &NewUser,
        keep: Option<&UserRow>,
    ) -> Result<(UserRow, Assoc)> {
        let user_id = UserId::parse(&u.user_id)?;
        let last_name = u.last_name.trim();
        if last_name.is_empty() {
            return Err(Error::invalid("last_name", "a user needs a last name"));
        }
        let password_hash = match u.password.as_ref().map(model::Secret::expose) {
            Some(p) => Some(self.protect_secret(Password::parse("password", p, 1)?.expose())?),
            None => keep.and_then(|k| k.password_hash.clone()),
        };
        let pin_hash = match u.pin.as_ref().map(model::Secret::expose) {
            Some(p) => Some(self.protect_secret(Pin::parse(p)?.expose())?),
            None => keep.and_then(|k| k.pin_hash.clone()),
        };
        let digest_credential_enc = match u.digest_credential.as_ref().map(model::Secret::expose) {
            Some("") => None,
            Some(d) => {
                if d.chars().count() > 128 || d.chars().any(char::is_control) {
                    return Err(Error::invalid(
                        "digest_credential",
                        "a digest credential has at most 128 characters and no control characters",
                    ));
                }
                Some(self.key.seal(d)?)
            }
            None => keep.and_then(|k| k.digest_credential_enc.clone()),
        };
        let primary_line_id = match opt(u.primary_extension.as_deref()) {
            None => None,
            Some(pe) => {
                let partition = u.primary_extension_partition.as_deref();
                Some(self.line_id(conn, system_id, &pe, partition).await.map_err(|e| match e {
                    Error::Invalid(i) => Error::Invalid(i.within("primary_extension")),
                    e => e,
                })?.ok_or_else(|| {
                    Error::invalid(
                        "primary_extension",
                        format!(
                            "there is no line {pe}{} on {system}: add the line first, or give primary_extension_partition",
                            partition.filter(|p| !p.is_empty()).map(|p| format!(" in partition {p}")).unwrap_or_default()
                        ),
                    )
                })?)
            }
        };
        let mut groups = Vec::new();
        for (i, g) in u.groups.iter().enumerate() {
            let g = g.trim();
            if g.is_empty() {
                return Err(Error::invalid(
                    format!("groups[{i}]"),
                    "a group name cannot be empty",
                ));
            }
            if !groups.iter().any(|x: &String| x == g) {
                groups.push(g.to_string());
            }
        }
        let user_profile = self
            .check_user_profile(conn, system_id, system, u.user_profile.as_deref())
            .await?;
        // The LDAP profile: one that exists (the seed: the server profile comes first), checked
        // when it is given anew (a name stored before profiles existed is kept as it is); a new
        // user without one gets the default profile, if there is one.
        let ldap_profile = match opt(u.app_profiles.ldap.as_deref()) {
            Some(p) => {
                let unchanged =
                    keep.is_some_and(|k| k.app_profiles.ldap.as_deref() == Some(p.as_str()));
                if !unchanged && store::directory::profile_id(conn, &p).await?.is_none() {
                    return Err(Error::invalid(
                        "app_profiles.ldap",
                        format!("there is no LDAP profile {p}: add it first (POST /api/v1/ldap-profiles)"),
                    ));
                }
                Some(p)
            }
            None if keep.is_none() => self.new_user_defaults(conn).await?.0,
            None => None,
        };
        let (cti, proxy, voicemail, home_node) = self.user_client_refs(conn, u, keep).await?;
        let self_service_id = match opt(u.self_service_id.as_deref()) {
            None => None,
            Some(id) => {
                model::self_provisioning::check_self_service_id(&id)?;
                if let Some(other) =
                    store::users::with_self_service_id(conn, system_id, &id).await?
                {
                    if other != u.user_id.trim() {
                        return Err(Error::conflict(
                            "self_service_id",
                            format!("{other} already has self-provisioning ID {id} on {system}: choose another"),
                        ));
                    }
                }
                Some(id)
            }
        };
        // Associations: phones, device profiles (one of them the default), lines.
        let mut devices = Vec::new();
        for (field, names, class) in [
            ("devices", &u.devices, DeviceClass::Phone),
            (
                "device_profiles",
                &u.device_profiles,
                DeviceClass::DeviceProfile,
            ),
        ] {
            for (i, n) in names.iter().enumerate() {
                let (id, c) = store::devices::id_by_name(conn, n.trim())
                    .await?
                    .ok_or_else(|| {
                        Error::invalid(
                            format!("{field}[{i}]"),
                            format!(
                                "there is no {} {n}",
                                if class == DeviceClass::Phone {
                                    "phone"
                                } else {
                                    "device profile"
                                }
                            ),
                        )
                    })?;
                if c != class {
                    return Err(Error::invalid(
                        format!("{field}[{i}]"),
                        format!(
                            "{n} is a {}: list it under {}",
                            c.as_str().replace('_', " "),
                            if c == DeviceClass::Phone {
                                "devices"
                            } else {
                                "device_profiles"
                            }
                        ),
                    ));
                }
                let d = store::devices::by_id(conn, id).await?;
                if d.row.system_id != system_id {
                    return Err(Error::invalid(
                        format!("{field}[{i}]"),
                        format!("{n} is on {}, the user on {system}", d.system),
                    ));
                }
                if !devices.contains(&id) {
                    devices.push(id);
                }
            }
        }
        let default_profile = match opt(u.default_device_profile.as_deref()) {
            None => None,
            Some(n) => {
                let found = store::devices::id_by_name(conn, &n).await?;
                match found {
                    Some((id, DeviceClass::DeviceProfile)) if devices.contains(&id) => Some(id),
                    Some((_, DeviceClass::DeviceProfile)) => {
                        return Err(Error::invalid(
                            "default_device_profile",
                            format!(
                                "{n} is not among the user's device_profiles: add it there too"
                            ),
                        ))
                    }
                    _ => {
                        return Err(Error::invalid(
                            "default_device_profile",
                            format!("there is no device profile {n}"),
                        ))
                    }
                }
            }
        };
        let mut lines = Vec::new();
        for (i, l) in u.lines.iter().enumerate() {
            let id = self
                .line_id(conn, system_id, &l.pattern, Some(&l.partition))
                .await
                .map_err(|e| match e {
                    Error::Invalid(inv) => Error::Invalid(inv.within(&format!("lines[{i}]"))),
                    e => e,
                })?
                .ok_or_else(|| {
                    Error::invalid(
                        format!("lines[{i}]"),
                        format!("there is no line {} on {system}", l.pattern),
                    )
                })?;
            if !lines.contains(&id) {
                lines.push(id);
            }
        }
        let row = UserRow {
            system_id,
            user_id: user_id.into_string(),
            first_name: u.first_name.trim().to_string(),
            last_name: last_name.to_string(),
            display_name: u.display_name.trim().to_string(),
            department: u.department.trim().to_string(),
            manager: u.manager.trim().to_string(),
            mail: u.mail.trim().to_string(),
            telephone_number: u.telephone_number.trim().to_string(),
            password_hash,
            pin_hash,
            digest_credential_enc,
            primary_line_id,
            user_profile,
            self_service_id,
            groups,
            must_change_password: u.must_change_password,
            password_never_expires: u.password_never_expires,
            presence_home_node: home_node,
            app_profiles: model::AppProfiles {
                ldap: ldap_profile,
                cti,
                voicemail,
                conferencing: opt(u.app_profiles.conferencing.as_deref()),
                proxy,
            },
            capabilities: u.capabilities.clone(),
            ldap_synced: keep.map(|k| k.ldap_synced).unwrap_or(false),
        };
        Ok((
            row,
            Assoc {
                devices,
                default_profile,
                lines,
            },
        ))
    }

    /// Writes a user's associations: replacing what a stored user has, or adding a new one's.
    /// Replaces a stored user's devices and lines.
    async fn write_assoc(&self, conn: &mut Conn, id: i64, a: &Assoc) -> Result<()> {
        store::users::set_devices(conn, id, &a.devices, a.default_profile).await?;
        store::users::set_lines(conn, id, &a.lines).await?;
        Ok(())
    }

    pub async fn create_user(&self, actor: &Actor, req: NewUser) -> Result<User> {
        let id = self.add_user(actor, req).await?;
        let mut c = self.store.read().await?;
        Ok(store::users::by_id(&mut c, id).await?.user)
    }

    /// Creates a user and answers its id (an import needs no more).
    pub(crate) async fn add_user(&self, actor: &Actor, req: NewUser) -> Result<i64> {
        self.insert_user(actor, req, false).await
    }

    /// Creates a user, synced from LDAP (`synced`: its directory fields read-only) or not.
    pub(crate) async fn insert_user(
        &self,
        actor: &Actor,
        req: NewUser,
        synced: bool,
    ) -> Result<i64> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::User,
            target: req.user_id.clone(),
            system: req.system.clone().unwrap_or_default(),
        };
        self.change_named(actor, a, async |tx, a| {
            let sys = self
                .pick_system(tx.conn(), req.system.as_deref(), SystemKind::CallControl)
                .await?;
            a.system = sys.name.clone();
            let (mut row, assoc) = self
                .user_row(tx.conn(), sys.id, &sys.name, &req, None)
                .await?;
            row.ldap_synced = synced;
            // The unique key (system, user ID) finds a duplicate: no read first.
            let inserted = store::users::insert_new(
                tx,
                &row,
                &assoc.devices,
                assoc.default_profile,
                &assoc.lines,
            )
            .await;
            let id = match inserted {
                Err(store::Error::Unique(_)) => {
                    return Err(Error::conflict(
                        "user_id",
                        format!(
                        "user {} already exists on {}: change that user, or choose another user ID",
                        row.user_id, sys.name
                    ),
                    ))
                }
                r => r?,
            };
            self.check_units(tx.conn(), capability_units(&row), "capabilities")
                .await?;
            Ok(id)
        })
        .await
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        key: &str,
        system: Option<&str>,
        p: UserPatch,
    ) -> Result<User> {
        crate::need_version(p.version)?;
        let current: StoredUser = {
            let mut c = self.store.read().await?;
            let id = self.user_id_of(&mut c, key, system).await?;
            store::users::by_id(&mut c, id).await?
        };
        let a = Audit {
            action: Action::Update,
            resource: Resource::User,
            target: current.user.user_id.clone(),
            system: current.user.system.clone(),
        };
        self.change(actor, a, async |tx| {
            let cu = &current.user;
            if let Some(s) = p.system.as_deref().filter(|s| *s != cu.system) {
                return Err(Error::invalid("system", format!("a user cannot move from {} to {s}: delete the user and add it again on {s}", cu.system)));
            }
            if let Some(u) = p.user_id.as_deref().filter(|u| *u != cu.user_id) {
                return Err(Error::invalid("user_id", format!("a user ID cannot change ({} to {u}): add a new user and delete this one", cu.user_id)));
            }
            if current.row.ldap_synced {
                for (f, given, now) in [
                    ("first_name", &p.first_name, &cu.first_name),
                    ("last_name", &p.last_name, &cu.last_name),
                    ("display_name", &p.display_name, &cu.display_name),
                    ("mail", &p.mail, &cu.mail),
                    ("telephone_number", &p.telephone_number, &cu.telephone_number),
                    ("department", &p.department, &cu.department),
                    ("manager", &p.manager, &cu.manager),
                ] {
                    if given.as_ref().is_some_and(|g| g != now) {
                        return Err(Error::invalid(f, format!("{} is synced from LDAP: change {f} in the directory", cu.user_id)));
                    }
                }
            }
            let spec = NewUser {
                user_id: cu.user_id.clone(),
                system: Some(cu.system.clone()),
                first_name: p.first_name.clone().unwrap_or(cu.first_name.clone()),
                last_name: p.last_name.clone().unwrap_or(cu.last_name.clone()),
                display_name: p.display_name.clone().unwrap_or(cu.display_name.clone()),
                department: p.department.clone().unwrap_or(cu.department.clone()),
                manager: p.manager.clone().unwrap_or(cu.manager.clone()),
                mail: p.mail.clone().unwrap_or(cu.mail.clone()),
                telephone_number: p.telephone_number.clone().unwrap_or(cu.telephone_number.clone()),
                password: p.password.clone(),
                pin: p.pin.clone(),
                digest_credential: p.digest_credential.clone(),
                primary_extension: p.primary_extension.clone().or(cu.primary_extension.clone()),
                primary_extension_partition: p.primary_extension_partition.clone().or(Some(cu.primary_extension_partition.clone())),
                user_profile: p.user_profile.clone().or(cu.user_profile.clone()),
                self_service_id: p.self_service_id.clone().or(cu.self_service_id.clone()),
                groups: p.groups.clone().unwrap_or(cu.groups.clone()),
                must_change_password: p.must_change_password.unwrap_or(cu.must_change_password),
                password_never_expires: p.password_never_expires.unwrap_or(cu.password_never_expires),
                presence_home_node: p.presence_home_node.clone().or(cu.presence_home_node.clone()),
                app_profiles: p.app_profiles.clone().unwrap_or(cu.app_profiles.clone()),
                capabilities: p.capabilities.clone().unwrap_or(cu.capabilities.clone()),
                devices: p.devices.clone().unwrap_or(cu.devices.clone()),
                device_profiles: p.device_profiles.clone().unwrap_or(cu.device_profiles.clone()),
                default_device_profile: p.default_device_profile.clone().or(cu.default_device_profile.clone()),
                lines: p.lines.clone().unwrap_or(cu.lines.clone()),
            };
            let (row, assoc) = self.user_row(tx.conn(), current.row.system_id, &cu.system, &spec, Some(&current.row)).await?;
            // The files of the user's phones carry the user's name and SIP credential.
            tx.changed(store::Change::Owner(cu.id));
            let written = store::users::update(tx.conn(), cu.id, p.version, &row).await;
            crate::unless_stale(written, async || Ok(store::users::by_id(tx.conn(), cu.id).await?.user)).await?;
            self.write_assoc(tx.conn(), cu.id, &assoc).await?;
            let added = capability_units(&row) - capability_units(&current.row);
            self.check_units(tx.conn(), added, "capabilities").await?;
            Ok(store::users::by_id(tx.conn(), cu.id).await?.user)
        })
        .await
    }

    pub async fn delete_user(&self, actor: &Actor, key: &str, system: Option<&str>) -> Result<()> {
        let current = {
            let mut c = self.store.read().await?;
            let id = self.user_id_of(&mut c, key, system).await?;
            store::users::by_id(&mut c, id).await?.user
        };
        let a = Audit {
            action: Action::Delete,
            resource: Resource::User,
            target: current.user_id.clone(),
            system: current.system.clone(),
        };
        self.change(actor, a, async |tx| {
            // Their phones lose the owner's credential: note them while they are still theirs.
            for d in store::devices::owned_by(tx.conn(), current.id).await? {
                tx.changed(store::Change::Device(d));
            }
            // The phones they are logged in on go back to their logout profiles.
            for l in store::extension_mobility::of_user(tx.conn(), current.id).await? {
                tx.changed(store::Change::Device(l.device_id));
            }
            store::users::delete(tx.conn(), current.id).await?;
            Ok(())
        })
        .await
    }

    pub async fn delete_users(&self, actor: &Actor, req: &BatchRequest) -> Result<BatchResult> {
        let sys = req.system.as_deref();
        self.batch(
            actor,
            Action::BatchDelete,
            Resource::User,
            &req.targets,
            |t| async move { self.delete_user(actor, &t, sys).await },
        )
        .await
    }

    /// An end user's SIP digest credential in clear, for the configuration files phones fetch.
    pub async fn digest_credential(
        &self,
        key: &str,
        system: Option<&str>,
    ) -> Result<Option<model::Secret>> {
        let mut c = self.store.read().await?;
        let id = self.user_id_of(&mut c, key, system).await?;
        let u = store::users::by_id(&mut c, id).await?;
        u.row
            .digest_credential_enc
            .as_deref()
            .map(|s| self.key.open(s).map(model::Secret::new))
            .transpose()
    }

    /// Checks an end user's password (for self-care pages and phones later).
    pub async fn check_user_password(
        &self,
        key: &str,
        system: Option<&str>,
        password: &str,
    ) -> Result<bool> {
        let mut c = self.store.read().await?;
        let id = self.user_id_of(&mut c, key, system).await?;
        let u = store::users::by_id(&mut c, id).await?;
        drop(c);
        let hashes = u.row.password_hash.into_iter().collect();
        Ok(self.secret_matches_any(password.to_string(), hashes).await)
    }
}

/// The licence units a user's capabilities use (Enable CUP 1, Enable CUPC 1).
fn capability_units(row: &store::users::UserRow) -> model::licensing::Units {
    model::licensing::Units::of_capabilities(
        row.capabilities.presence,
        row.capabilities.soft_client,
    )
}
