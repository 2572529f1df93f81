//! LDAP servers and profiles (seed 003, docs/directory.md): a profile names a primary server
//! and up to two backups, all of one directory type; its bind password is sealed with the
//! server key, never returned; at most one profile is the default for new users.

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::directory::{check_profile, check_server};
use model::{
    LdapProfile, LdapProfilePatch, LdapServer, LdapServerPatch, Name, NewLdapProfile,
    NewLdapServer, Page,
};
use store::directory::{self as dir, ProfileRow, ServerRow};

/// Where the attribute map is kept (the settings table).
const ATTRIBUTE_MAP: &str = "ldap.attribute_map";

/// What a profile's fields are, once a create or a patch is applied.
struct ProfileSpec {
    name: String,
    description: String,
    bind_dn: String,
    anonymous_bind: bool,
    /// `None`: none; `Some(sealed)`.
    password_enc: Option<String>,
    search_context: String,
    recursive: bool,
    primary: String,
    backups: Vec<String>,
    default_profile: bool,
    sync_filter: String,
    sync_interval_hours: u32,
}

impl Service {
    async fn ldap_server_id(&self, conn: &mut store::Conn, key: &str) -> Result<i64> {
        if let Some(id) = dir::server_id(conn, key).await? {
            return Ok(id);
        }
        match key.parse::<i64>() {
            Ok(id) => dir::server_by_id(conn, id)
                .await
                .map(|s| s.id)
                .map_err(|e| crate::nf(e, || format!("there is no LDAP server {key}"))),
            Err(_) => Err(Error::NotFound(format!("there is no LDAP server {key}"))),
        }
    }

    pub(crate) async fn ldap_profile_id(&self, conn: &mut store::Conn, key: &str) -> Result<i64> {
        if let Some(id) = dir::profile_id(conn, key).await? {
            return Ok(id);
        }
        match key.parse::<i64>() {
            Ok(id) => dir::profile_by_id(conn, id)
                .await
                .map(|p| p.profile.id)
                .map_err(|e| crate::nf(e, || format!("there is no LDAP profile {key}"))),
            Err(_) => Err(Error::NotFound(format!("there is no LDAP profile {key}"))),
        }
    }

    pub async fn find_ldap_servers(&self, f: &model::Find) -> Result<Page<LdapServer>> {
        let mut c = self.store.read().await?;
        Ok(dir::find_servers(&mut c, f).await?)
    }

    pub async fn ldap_server(&self, key: &str) -> Result<LdapServer> {
        let mut c = self.store.read().await?;
        let id = self.ldap_server_id(&mut c, key).await?;
        Ok(dir::server_by_id(&mut c, id).await?)
    }

    pub async fn create_ldap_server(
        &self,
        actor: &Actor,
        req: NewLdapServer,
    ) -> Result<LdapServer> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::LdapServer,
            target: req.name.clone(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let name = Name::parse("name", &req.name)?;
            let port = req.port.unwrap_or(req.security.default_port());
            check_server(&req.host, port, &req.ca_file)?;
            if dir::server_id(tx.conn(), name.as_str()).await?.is_some() {
                return Err(Error::conflict(
                    "name",
                    format!("LDAP server {name} already exists"),
                ));
            }
            let row = ServerRow {
                name: name.into_string(),
                description: req.description.trim().into(),
                host: req.host.trim().into(),
                port,
                directory_type: req.directory_type,
                security: req.security,
                ca_file: req.ca_file.trim().into(),
            };
            let id = dir::insert_server(tx.conn(), &row).await?;
            Ok(dir::server_by_id(tx.conn(), id).await?)
        })
        .await
    }

    pub async fn update_ldap_server(
        &self,
        actor: &Actor,
        key: &str,
        p: LdapServerPatch,
    ) -> Result<LdapServer> {
        crate::need_version(p.version)?;
        let current = self.ldap_server(key).await?;
        let a = Audit {
            action: Action::Update,
            resource: Resource::LdapServer,
            target: current.name.clone(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            // Soft clients' and other vendors' phones' files carry it.
            tx.changed(store::Change::All);
            let name = Name::parse("name", p.name.as_deref().unwrap_or(&current.name))?;
            let security = p.security.unwrap_or(current.security);
            let port = p.port.unwrap_or(current.port);
            let host = p.host.as_deref().unwrap_or(&current.host);
            let ca_file = p.ca_file.as_deref().unwrap_or(&current.ca_file);
            check_server(host, port, ca_file)?;
            if name.as_str() != current.name && dir::server_id(tx.conn(), name.as_str()).await?.is_some() {
                return Err(Error::conflict("name", format!("LDAP server {name} already exists")));
            }
            let directory_type = p.directory_type.unwrap_or(current.directory_type);
            if directory_type != current.directory_type && !current.used_by.is_empty() {
                return Err(Error::conflict(
                    "directory_type",
                    format!(
                        "{} is a server of LDAP profile {}, whose servers are all {}: take it out of the profile first",
                        current.name,
                        current.used_by.join(", "),
                        current.directory_type.as_str()
                    ),
                ));
            }
            let row = ServerRow {
                name: name.into_string(),
                description: p.description.as_deref().unwrap_or(&current.description).trim().into(),
                host: host.trim().into(),
                port,
                directory_type,
                security,
                ca_file: ca_file.trim().into(),
            };
            let written = dir::update_server(tx.conn(), current.id, p.version, &row).await;
            crate::unless_stale(written, async || Ok(dir::server_by_id(tx.conn(), current.id).await?)).await?;
            Ok(dir::server_by_id(tx.conn(), current.id).await?)
        })
        .await
    }

    pub async fn delete_ldap_server(&self, actor: &Actor, key: &str) -> Result<()> {
        let current = self.ldap_server(key).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::LdapServer,
            target: current.name.clone(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let used = dir::profiles_of_server(tx.conn(), current.id).await?;
            if !used.is_empty() {
                return Err(Error::conflict(
                    "name",
                    format!(
                        "LDAP profile {} names {}: take it out of the profile first",
                        used.join(", "),
                        current.name
                    ),
                ));
            }
            dir::delete_server(tx.conn(), current.id).await?;
            Ok(())
        })
        .await
    }

    pub async fn find_ldap_profiles(&self, f: &model::Find) -> Result<Page<LdapProfile>> {
        let mut c = self.store.read().await?;
        Ok(dir::find_profiles(&mut c, f).await?)
    }

    pub async fn ldap_profile(&self, key: &str) -> Result<LdapProfile> {
        let mut c = self.store.read().await?;
        let id = self.ldap_profile_id(&mut c, key).await?;
        Ok(dir::profile_by_id(&mut c, id).await?.profile)
    }

    /// Checks a profile's spec against the directory and writes it (`current`: the profile
    /// being changed, with its name and version).
    async fn write_ldap_profile(
        &self,
        conn: &mut store::Conn,
        s: ProfileSpec,
        current: Option<(i64, i64, &str)>,
    ) -> Result<LdapProfile> {
        let name = Name::parse("name", &s.name)?;
        check_profile(
            &s.bind_dn,
            s.anonymous_bind,
            s.password_enc.is_some(),
            &s.search_context,
            &s.primary,
            &s.backups,
        )?;
        model::directory::check_sync(&s.sync_filter, s.sync_interval_hours)?;
        if let Some(other) = dir::profile_id(conn, name.as_str()).await? {
            if current.map(|c| c.0) != Some(other) {
                return Err(Error::conflict(
                    "name",
                    format!("LDAP profile {name} already exists"),
                ));
            }
        }
        // The servers: they must exist (the seed: specify the servers first), all of one type.
        let mut ids = Vec::new();
        for (field, server) in std::iter::once(("primary_server".to_string(), &s.primary)).chain(
            s.backups
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("backup_servers[{i}]"), b)),
        ) {
            let id = dir::server_id(conn, server.trim()).await?.ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("there is no LDAP server {server}: add it first"),
                )
            })?;
            ids.push(id);
        }
        let types = dir::server_types(conn, &ids).await?;
        if let Some((_, other, t)) = types.iter().find(|(_, _, t)| *t != types[0].2) {
            return Err(Error::invalid(
                "backup_servers",
                format!(
                    "the servers of a profile are all of one directory type: {} is {}, {other} is {}",
                    types[0].1,
                    types[0].2.as_str(),
                    t.as_str()
                ),
            ));
        }
        let row = ProfileRow {
            name: name.into_string(),
            description: s.description.trim().into(),
            bind_dn: s.bind_dn.trim().into(),
            anonymous_bind: s.anonymous_bind,
            password_enc: s.password_enc,
            search_context: s.search_context.trim().into(),
            recursive: s.recursive,
            primary_server_id: ids[0],
            backup_server_ids: ids[1..].to_vec(),
            default_profile: s.default_profile,
            sync_filter: s.sync_filter.trim().into(),
            sync_interval_hours: s.sync_interval_hours,
        };
        let id = match current {
            None => dir::insert_profile(conn, &row).await?,
            Some((id, version, old_name)) => {
                let written = dir::update_profile(conn, id, version, old_name, &row).await;
                crate::unless_stale(written, async || {
                    Ok(dir::profile_by_id(conn, id).await?.profile)
                })
                .await?;
                id
            }
        };
        if row.default_profile {
            dir::set_default_profile(conn, Some(id)).await?;
        }
        Ok(dir::profile_by_id(conn, id).await?.profile)
    }

    /// A bind password as stored: sealed, or none for `""`.
    fn seal_ldap_password(&self, p: &model::Secret) -> Result<Option<String>> {
        let text = p.expose();
        if text.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.key.seal(text)?))
    }

    pub async fn create_ldap_profile(
        &self,
        actor: &Actor,
        req: NewLdapProfile,
    ) -> Result<LdapProfile> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::LdapProfile,
            target: req.name.clone(),
            system: String::new(),
        };
        let password_enc = match &req.password {
            Some(p) => self.seal_ldap_password(p)?,
            None => None,
        };
        self.change(actor, a, async |tx| {
            let spec = ProfileSpec {
                name: req.name.clone(),
                description: req.description.clone(),
                bind_dn: req.bind_dn.clone(),
                anonymous_bind: req.anonymous_bind,
                password_enc,
                search_context: req.search_context.clone(),
                recursive: req.recursive,
                primary: req.primary_server.clone(),
                backups: req.backup_servers.clone(),
                default_profile: req.default_profile,
                sync_filter: req.sync_filter.clone(),
                sync_interval_hours: req.sync_interval_hours,
            };
            self.write_ldap_profile(tx.conn(), spec, None).await
        })
        .await
    }

    pub async fn update_ldap_profile(
        &self,
        actor: &Actor,
        key: &str,
        p: LdapProfilePatch,
    ) -> Result<LdapProfile> {
        crate::need_version(p.version)?;
        let current = {
            let mut c = self.store.read().await?;
            let id = self.ldap_profile_id(&mut c, key).await?;
            dir::profile_by_id(&mut c, id).await?
        };
        let cur = &current.profile;
        let a = Audit {
            action: Action::Update,
            resource: Resource::LdapProfile,
            target: cur.name.clone(),
            system: String::new(),
        };
        let password_enc = match &p.password {
            Some(pw) => self.seal_ldap_password(pw)?,
            None => current.password_enc.clone(),
        };
        self.change(actor, a, async |tx| {
            // Soft clients' and other vendors' phones' files carry it.
            tx.changed(store::Change::All);
            let spec = ProfileSpec {
                name: p.name.clone().unwrap_or_else(|| cur.name.clone()),
                description: p
                    .description
                    .clone()
                    .unwrap_or_else(|| cur.description.clone()),
                bind_dn: p.bind_dn.clone().unwrap_or_else(|| cur.bind_dn.clone()),
                anonymous_bind: p.anonymous_bind.unwrap_or(cur.anonymous_bind),
                password_enc,
                search_context: p
                    .search_context
                    .clone()
                    .unwrap_or_else(|| cur.search_context.clone()),
                recursive: p.recursive.unwrap_or(cur.recursive),
                primary: p
                    .primary_server
                    .clone()
                    .unwrap_or_else(|| cur.primary_server.clone()),
                backups: p
                    .backup_servers
                    .clone()
                    .unwrap_or_else(|| cur.backup_servers.clone()),
                default_profile: p.default_profile.unwrap_or(cur.default_profile),
                sync_filter: p
                    .sync_filter
                    .clone()
                    .unwrap_or_else(|| cur.sync_filter.clone()),
                sync_interval_hours: p.sync_interval_hours.unwrap_or(cur.sync_interval_hours),
            };
            self.write_ldap_profile(tx.conn(), spec, Some((cur.id, p.version, &cur.name)))
                .await
        })
        .await
    }

    pub async fn delete_ldap_profile(&self, actor: &Actor, key: &str) -> Result<()> {
        let current = self.ldap_profile(key).await?;
        let a = Audit {
            action: Action::Delete,
            resource: Resource::LdapProfile,
            target: current.name.clone(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let users = dir::users_of_profile(tx.conn(), &current.name, 4).await?;
            if !users.is_empty() {
                let more = if users.len() > 3 { ", …" } else { "" };
                return Err(Error::conflict(
                    "name",
                    format!(
                        "users {}{more} have LDAP profile {}: give them another first",
                        users[..users.len().min(3)].join(", "),
                        current.name
                    ),
                ));
            }
            dir::delete_profile(tx.conn(), current.id).await?;
            Ok(())
        })
        .await
    }

    /// The LDAP attribute map (Active Directory's factory defaults until one is saved).
    pub async fn ldap_attribute_map(&self) -> Result<model::AttributeMap> {
        let mut c = self.store.read().await?;
        self.ldap_attribute_map_in(&mut c).await
    }

    pub(crate) async fn ldap_attribute_map_in(
        &self,
        conn: &mut store::Conn,
    ) -> Result<model::AttributeMap> {
        Ok(match store::admins::setting(conn, ATTRIBUTE_MAP).await? {
            Some(json) => serde_json::from_str(&json).unwrap_or_default(),
            None => model::AttributeMap::default(),
        })
    }

    /// Saves the attribute map, checked by the seed's rules.
    pub async fn set_ldap_attribute_map(
        &self,
        actor: &Actor,
        m: model::AttributeMap,
    ) -> Result<model::AttributeMap> {
        let a = Audit {
            action: Action::Update,
            resource: Resource::LdapAttributeMap,
            target: "attribute map".into(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            // Soft clients' and other vendors' phones' files carry it.
            tx.changed(store::Change::All);
            m.check()?;
            let mut m = m;
            for f in [
                &mut m.fields.user_id,
                &mut m.fields.first_name,
                &mut m.fields.last_name,
                &mut m.fields.display_name,
                &mut m.fields.nickname,
                &mut m.fields.title,
                &mut m.fields.company,
                &mut m.fields.department,
                &mut m.fields.mail,
                &mut m.fields.business_phone,
                &mut m.fields.mobile_phone,
                &mut m.fields.home_phone,
                &mut m.fields.other_phone,
                &mut m.fields.manager,
                &mut m.fields.photo,
            ] {
                *f = f.trim().to_string();
            }
            let json = serde_json::to_string(&m).map_err(|e| Error::Internal(e.to_string()))?;
            store::admins::set_setting(tx.conn(), ATTRIBUTE_MAP, &json).await?;
            Ok(m)
        })
        .await
    }

    /// "Restore Defaults": the factory attribute map of a directory type.
    pub async fn restore_ldap_attribute_map(
        &self,
        actor: &Actor,
        t: model::DirectoryType,
    ) -> Result<model::AttributeMap> {
        self.set_ldap_attribute_map(
            actor,
            model::AttributeMap {
                directory_type: t,
                fields: model::AttributeFields::preset(t),
            },
        )
        .await
    }
}
