//! A phone's own HTTP credential for the files that need one (system setting `phone_auth`): the
//! user name is the phone's MAC in lower case (what `$MA` expands to in an MPP profile rule), the
//! password is set by an administrator and sealed at rest like the SIP digest credentials,
//! because it goes back into the phone's profile rule and Digest needs it in clear.

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::rules::DeviceClass;
use model::{HttpCredentialInput, Phone, Secret};

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
        self.write_http_password(
            actor,
            key,
            input.version,
            Action::SetHttpCredential,
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
        self.write_http_password(actor, key, version, Action::RemoveHttpCredential, Ok(None))
            .await
    }

    async fn write_http_password(
        &self,
        actor: &Actor,
        key: &str,
        version: i64,
        action: Action,
        sealed: Result<Option<String>>,
    ) -> Result<Phone> {
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
                store::devices::set_http_password(tx.conn(), id, version, sealed.as_deref()).await;
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
