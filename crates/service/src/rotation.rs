//! Rotating the installation's secret key (`dialtone rotate-key`, docs/security.md): every
//! value sealed under it is opened with the old key and sealed again under the new one, and
//! the check value changes with them, in one transaction: after it the database opens with the
//! new key only, before it with the old one only. The caller holds the key lock exclusively
//! ([`store::Store::key_lock`]), so no server seals anything under the old key meanwhile.

use crate::crypto::SecretKey;
use crate::{crypto, Error, Result, Service};
use model::access::{Action, Resource};
use model::Outcome;
use store::audit::NewEntry;
use store::rekey::SEALED_COLUMNS;

/// What a rotation sealed again: `table.column` and how many values, for each column that
/// held any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    pub columns: Vec<(String, usize)>,
}

impl Rotation {
    pub fn total(&self) -> usize {
        self.columns.iter().map(|(_, n)| n).sum()
    }
}

impl std::fmt::Display for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} sealed values", self.total())?;
        if !self.columns.is_empty() {
            let each: Vec<String> = self
                .columns
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            write!(f, " ({})", each.join(", "))?;
        }
        Ok(())
    }
}

/// Whether `key` opens the database's check value (none yet: any key does).
pub async fn key_opens(store: &store::Store, key: &SecretKey) -> Result<bool> {
    let mut c = store.read().await?;
    Ok(
        match store::admins::setting(&mut c, crypto::CHECK_SETTING).await? {
            Some(check) => key.matches(&check),
            None => true,
        },
    )
}

impl Service {
    /// Seals every sealed secret again under `new` (this service's key is the old one) and
    /// makes `new` the key the database checks for; audited. Nothing changes unless all of it
    /// does.
    pub async fn rotate_key(&self, new: &SecretKey, actor: &str) -> Result<Rotation> {
        let mut tx = self.store.write_unversioned().await?;
        match store::admins::setting(tx.conn(), crypto::CHECK_SETTING).await? {
            Some(check) if !self.key.matches(&check) => {
                return Err(Error::Internal(
                    "the secret key given is not the one this database was written with: nothing was changed".into(),
                ))
            }
            _ => {}
        }
        let mut rotation = Rotation::default();
        for col in SEALED_COLUMNS {
            let rows = col.rows(tx.conn()).await?;
            for &row in &rows {
                let Some(sealed) = col.get(tx.conn(), row).await? else {
                    continue;
                };
                let plain = self.key.open_bytes(&sealed).map_err(|_| {
                    Error::Internal(format!(
                        "{}.{} of row {row} does not open with the current key: nothing was changed",
                        col.table, col.column
                    ))
                })?;
                col.put(tx.conn(), row, &new.seal_vec(plain)?).await?;
            }
            if !rows.is_empty() {
                rotation
                    .columns
                    .push((format!("{}.{}", col.table, col.column), rows.len()));
            }
        }
        store::admins::set_setting(tx.conn(), crypto::CHECK_SETTING, &new.check_value()?).await?;
        let detail = format!("{rotation}");
        store::audit::append(
            tx.conn(),
            &NewEntry {
                actor,
                action: Action::RotateKey.as_str(),
                resource: Resource::System.as_str(),
                target: "",
                system: "",
                result: Outcome::Ok,
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(rotation)
    }
}
