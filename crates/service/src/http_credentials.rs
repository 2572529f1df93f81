//! A phone's sealed secrets: its own HTTP credential, and the key of its encrypted MPP profile
//! (its own, or its system's).
//!
//! The HTTP credential is for the files that need one (system setting `phone_auth`): the
//! user name is the phone's MAC in lower case (what `$MA` expands to in an MPP profile rule), the
//! password is set by an administrator and sealed at rest like the SIP digest credentials,
//! because it goes back into the phone's profile rule and Digest needs it in clear.

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::rules::DeviceClass;
use model::{HttpCredentialInput, Phone, ProfileKeyInput, Secret, System};
use store::devices::SealedColumn;

/// The credential a phone must present for a file: user name and password in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCredential {
    pub username: String,
    pub password: Secret,
}

impl std::fmt::Debug for DeviceCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCredential")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// The user name a device presents: its MAC in lower case, or its name when it has no MAC.
pub fn http_username(mac: Option<&str>, name: &str) -> String {
    match mac {
        Some(m) => m.to_ascii_lowercase(),
        None => name.to_string(),
    }
}

impl Service {
    /// Sets a phone's HTTP password.
    pub async fn set_phone_http_password(
        &self,
        actor: &Actor,
        key: &str,
        input: HttpCredentialInput,
    ) -> Result<Phone> {
        crate::need_version(input.version)?;
        let checked = model::check_http_password(input.password.expose())
            .map_err(Error::Invalid)
            .and_then(|()| self.key.seal(input.password.expose()));
        self.write_sealed(
            actor,
            key,
            input.version,
            (SealedColumn::HttpPassword, Action::SetHttpCredential),
            checked.map(Some),
        )
        .await
    }

    /// Removes a phone's HTTP password.
    pub async fn remove_phone_http_password(
        &self,
        actor: &Actor,
        key: &str,
        version: i64,
    ) -> Result<Phone> {
        crate::need_version(version)?;
        self.write_sealed(
            actor,
            key,
            version,
            (SealedColumn::HttpPassword, Action::RemoveHttpCredential),
            Ok(None),
        )
        .await
    }

    /// Sets a phone's own key for its encrypted MPP profile (over its system's).
    pub async fn set_phone_profile_key(
        &self,
        actor: &Actor,
        key: &str,
        input: ProfileKeyInput,
    ) -> Result<Phone> {
        crate::need_version(input.version)?;
        let sealed = self.seal_profile_key(&input);
        self.write_sealed(
            actor,
            key,
            input.version,
            (SealedColumn::ProfileKey, Action::SetProfileKey),
            sealed.map(Some),
        )
        .await
    }

    /// Removes a phone's own profile key (its system's serves, if any).
    pub async fn remove_phone_profile_key(
        &self,
        actor: &Actor,
        key: &str,
        version: i64,
    ) -> Result<Phone> {
        crate::need_version(version)?;
        self.write_sealed(
            actor,
            key,
            version,
            (SealedColumn::ProfileKey, Action::RemoveProfileKey),
            Ok(None),
        )
        .await
    }

    /// Sets the key of a system's phones' encrypted MPP profiles.
    pub async fn set_system_profile_key(
        &self,
        actor: &Actor,
        system: &str,
        input: ProfileKeyInput,
    ) -> Result<System> {
        crate::need_version(input.version)?;
        let sealed = self.seal_profile_key(&input);
        self.write_system_key(
            actor,
            system,
            input.version,
            Action::SetProfileKey,
            sealed.map(Some),
        )
        .await
    }

    /// Removes a system's profile key.
    pub async fn remove_system_profile_key(
        &self,
        actor: &Actor,
        system: &str,
        version: i64,
    ) -> Result<System> {
        crate::need_version(version)?;
        self.write_system_key(actor, system, version, Action::RemoveProfileKey, Ok(None))
            .await
    }

    fn seal_profile_key(&self, input: &ProfileKeyInput) -> Result<String> {
        model::check_profile_key(input.key.expose())
            .map_err(Error::Invalid)
            .and_then(|()| self.key.seal(input.key.expose()))
    }

    async fn write_system_key(
        &self,
        actor: &Actor,
        system: &str,
        version: i64,
        action: Action,
        sealed: Result<Option<String>>,
    ) -> Result<System> {
        let current = self.system(system).await?;
        let a = Audit {
            action,
            resource: Resource::System,
            target: current.name.clone(),
            system: current.name.clone(),
        };
        let sealed = match sealed {
            Ok(s) => s,
            Err(e) => {
                self.audit_failure(actor, &a, &e).await;
                return Err(e);
            }
        };
        self.change(actor, a, async |tx| {
            let id = current.id;
            tx.changed(store::Change::System(id));
            let written =
                store::systems::set_profile_key(tx.conn(), id, version, sealed.as_deref()).await;
            crate::unless_stale(written, async || {
                Ok(store::systems::by_id(tx.conn(), id).await?)
            })
            .await?;
            Ok(store::systems::by_id(tx.conn(), id).await?)
        })
        .await
    }

    /// Writes one of a phone's sealed secrets (`None` removes it), audited as `what`'s action.
    async fn write_sealed(
        &self,
        actor: &Actor,
        key: &str,
        version: i64,
        what: (SealedColumn, Action),
        sealed: Result<Option<String>>,
    ) -> Result<Phone> {
        let (column, action) = what;
        let current = {
            let mut c = self.store.read().await?;
            let id = self.device_id(&mut c, DeviceClass::Phone, key).await?;
            store::devices::by_id(&mut c, id).await?
        };
        let a = Audit {
            action,
            resource: Resource::Phone,
            target: current.row.name.clone(),
            system: current.system.clone(),
        };
        let sealed = match sealed {
            Ok(s) => s,
            Err(e) => {
                self.audit_failure(actor, &a, &e).await;
                return Err(e);
            }
        };
        self.change(actor, a, async |tx| {
            tx.changed(store::Change::Device(current.id));
            let id = current.id;
            let written =
                store::devices::set_sealed(tx.conn(), id, version, column, sealed.as_deref()).await;
            let now = async || Ok(store::devices::by_id(tx.conn(), id).await?.to_phone());
            crate::unless_stale(written, now).await?;
            Ok(store::devices::by_id(tx.conn(), id).await?.to_phone())
        })
        .await
    }

    /// A key for one purpose (e.g. signing HTTP Digest nonces), derived from the installation's
    /// secret key: every node of a cluster derives the same one.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        self.key.derive(purpose)
    }
}
