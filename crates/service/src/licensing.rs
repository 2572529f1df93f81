//! Licence units (docs/licensing.md, seed 003 "How to Configure Licensing"): licence files
//! checked against the seller's Ed25519 public key, the units used counted from the directory,
//! and every change that would use more than the licences authorise refused with the numbers.
//!
//! Units are enforced once the server is given a licence public key (`[licensing]
//! public_key`); without one nothing is counted against, as an open installation expects.

use crate::{Actor, Audit, Error, Result, Service};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use model::access::{Action, Resource};
use model::licensing::{
    self, Calculation, Licence, LicenceReport, LicensedUser, UnitKind, UnitLine, Units, UsedBy,
};
use model::{DeviceFamily, Page};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

/// A seller's key pair for signing licences: the private key (PKCS#8, base64; keep it
/// secret) and the public key to give servers (32 bytes, base64).
pub fn licence_key_pair() -> Result<(String, String)> {
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| Error::Internal("the system's random source failed".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref())
        .map_err(|_| Error::Internal("a fresh key pair did not read back".into()))?;
    Ok((
        B64.encode(doc.as_ref()),
        B64.encode(pair.public_key().as_ref()),
    ))
}

/// A licence file's whole text for `l`, signed with the seller's private key (as
/// [`licence_key_pair`] writes it).
pub fn sign_licence(private_key: &str, l: &Licence) -> Result<String> {
    let der = B64.decode(private_key.trim()).map_err(|_| {
        Error::invalid(
            "key",
            "the private key is not base64 (as `dialtone licence keygen` writes it)",
        )
    })?;
    let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|_| {
        Error::invalid("key", "the private key is not an Ed25519 key in PKCS#8 (as `dialtone licence keygen` writes it)")
    })?;
    let text = licensing::unsigned_text(l);
    // What is signed must read back as the same licence.
    if licensing::parse(&text)? != *l {
        return Err(Error::invalid(
            "file",
            "the licence does not read back as given",
        ));
    }
    let sig = pair.sign(text.as_bytes());
    Ok(format!("{text}signature: {}\n", B64.encode(sig.as_ref())))
}

/// The public key a server checks licences with.
#[derive(Clone)]
pub struct LicenceKey(std::sync::Arc<[u8; 32]>);

impl LicenceKey {
    pub fn parse(b64: &str) -> Result<LicenceKey> {
        let raw = B64
            .decode(b64.trim())
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok());
        raw.map(|k| LicenceKey(std::sync::Arc::new(k))).ok_or_else(|| {
            Error::invalid(
                "licensing.public_key",
                "the licence public key is 32 bytes in base64 (as `dialtone licence keygen` prints it)",
            )
        })
    }

    /// What the file says, when its signature is this key's.
    fn check(&self, text: &str) -> Result<Licence> {
        let (signed, sig) = licensing::split_signature(text)?;
        let sig = B64.decode(sig).map_err(|_| {
            Error::invalid(
                "file",
                "the signature is not base64: the file was changed or cut",
            )
        })?;
        UnparsedPublicKey::new(&ED25519, &self.0[..])
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| {
                Error::invalid(
                    "file",
                    "the signature does not match: the licence was changed after it was signed, \
                     or it was signed for another seller's key than this server's",
                )
            })?;
        Ok(licensing::parse(signed)?)
    }
}

/// Units authorised and used as a batch last counted them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tally {
    authorised: Units,
    used: Units,
}

fn today() -> String {
    crate::now()[..10].to_string()
}

impl Service {
    /// Enforces licence units, checking licences with `key`.
    pub fn with_licence_key(mut self, key: LicenceKey) -> Service {
        self.licence_key = Some(key);
        self
    }

    /// Commits what a batched service wrote; the next batch counts units afresh.
    pub(crate) async fn commit_batch(&self) -> store::Result<()> {
        self.forget_units();
        self.store.commit_batch().await
    }

    /// Rolls back what a batched service wrote since its last commit.
    pub(crate) async fn rollback_batch(&self) {
        self.forget_units();
        self.store.rollback_batch().await
    }

    fn forget_units(&self) {
        if let Some(t) = &self.units {
            *t.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    pub fn licensing_enforced(&self) -> bool {
        self.licence_key.is_some()
    }

    /// Uploads a licence file: `file_name` must end in `.lic`; its signature must be the
    /// configured key's; a licence is uploaded once.
    pub async fn upload_licence(
        &self,
        actor: &Actor,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<Licence> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::Licence,
            target: file_name.to_string(),
            system: String::new(),
        };
        self.change_named(actor, a, async |tx, a| {
            let name = file_name.trim();
            if !name.to_ascii_lowercase().ends_with(licensing::SUFFIX) || name.len() <= licensing::SUFFIX.len() {
                return Err(Error::invalid(
                    "file",
                    format!("licence files must have a {} suffix: {name:?} has not", licensing::SUFFIX),
                ));
            }
            let Some(key) = &self.licence_key else {
                return Err(Error::invalid(
                    "file",
                    "this server has no licence public key ([licensing] public_key in its configuration), \
                     so it cannot check a licence: units are not enforced",
                ));
            };
            if bytes.len() > licensing::MAX_BYTES {
                return Err(Error::invalid("file", format!("{name} is {} bytes: a licence file is at most {}", bytes.len(), licensing::MAX_BYTES)));
            }
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::invalid("file", format!("{name} is not text (UTF-8): it is not a licence file")))?;
            let l = key.check(text)?;
            a.target = l.id.clone();
            if let Some(e) = l.expires.as_deref().filter(|e| *e < today().as_str()) {
                return Err(Error::invalid("file", format!("licence {} expired on {e}", l.id)));
            }
            match store::licensing::insert(tx.conn(), &l, text, &actor.name).await {
                Err(store::Error::Unique(_)) => Err(Error::conflict(
                    "file",
                    format!("licence {} is uploaded already: each licence counts once", l.id),
                )),
                r => Ok(r.map(|_| l)?),
            }
        })
        .await
    }

    /// Removes an uploaded licence, unless what is used would then exceed what remains
    /// authorised.
    pub async fn delete_licence(&self, actor: &Actor, id: &str) -> Result<()> {
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Licence,
            target: id.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            store::licensing::lock(tx.conn()).await?;
            if !store::licensing::delete(tx.conn(), id).await? {
                return Err(Error::NotFound(format!("there is no licence {id}")));
            }
            if self.licensing_enforced() {
                let left = store::licensing::authorised(tx.conn(), &today()).await?;
                let used = self.used_by(tx.conn()).await?.units();
                let over: Vec<String> = UnitKind::ALL
                    .into_iter()
                    .filter(|k| used.get(*k) > left.get(*k) && used.get(*k) > 0)
                    .map(|k| format!("{} used, {} would remain authorised", k.units(used.get(k)), left.get(k)))
                    .collect();
                if !over.is_empty() {
                    return Err(Error::conflict(
                        "licence",
                        format!("licence {id} cannot be removed: {}; remove phones or capabilities first, or upload another licence", over.join("; ")),
                    ));
                }
            }
            Ok(())
        })
        .await
    }

    /// What uses units, counted from the directory.
    pub(crate) async fn used_by(&self, conn: &mut store::Conn) -> Result<UsedBy> {
        let mut u = UsedBy::default();
        for (model, secondary, n) in store::licensing::phones_by_model(conn).await? {
            match (self.is_soft_client(&model), secondary) {
                (true, true) => u.adjunct_soft_phones += n,
                (true, false) => u.soft_phones += n,
                (false, _) => u.desk_phones += n,
            }
        }
        (u.presence_users, u.soft_client_users) =
            store::licensing::users_with_capabilities(conn).await?;
        Ok(u)
    }

    /// The units a device uses: a phone by its model and whether it is secondary to a primary
    /// phone; a device profile none.
    pub(crate) fn device_units(&self, d: &store::devices::DeviceRow) -> Units {
        if d.class != model::rules::DeviceClass::Phone {
            return Units::default();
        }
        Units::of_phone(self.is_soft_client(&d.model), d.primary_phone_id.is_some())
    }

    /// Whether a model is a soft client (the catalogue's `soft_client` family).
    pub(crate) fn is_soft_client(&self, model: &str) -> bool {
        self.catalog
            .get(model)
            .is_some_and(|t| t.family == DeviceFamily::SoftClient)
    }

    /// After a change in `tx` that uses `added` more units (its own write done), refuses it
    /// when that leaves more used than authorised, with the numbers: `needs 3 device units,
    /// 2 remain`. Nothing is checked when units are not enforced or nothing more is used.
    pub(crate) async fn check_units(
        &self,
        conn: &mut store::Conn,
        added: Units,
        field: &str,
    ) -> Result<()> {
        let added = Units {
            device: added.device.max(0),
            presence_user: added.presence_user.max(0),
            soft_client: added.soft_client.max(0),
        };
        if !self.licensing_enforced() || added == Units::default() {
            return Ok(());
        }
        // A batch (an import, a sync) counts once, then adds what each row uses; past the
        // units by that count, it counts again (rows that failed after counting may have
        // been added), so a refusal is always made on the exact numbers.
        if let Some(tally) = &self.units {
            let known = *tally.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(t) = known {
                let used = t.used + added;
                if UnitKind::ALL
                    .into_iter()
                    .all(|k| used.get(k) <= t.authorised.get(k))
                {
                    *tally.lock().unwrap_or_else(|p| p.into_inner()) = Some(Tally { used, ..t });
                    return Ok(());
                }
            }
        }
        store::licensing::lock(conn).await?;
        let authorised = store::licensing::authorised(conn, &today()).await?;
        let used = self.used_by(conn).await?.units();
        if let Some(tally) = &self.units {
            *tally.lock().unwrap_or_else(|p| p.into_inner()) = Some(Tally { authorised, used });
        }
        let remaining_before = authorised - used + added;
        let over = UnitKind::ALL
            .into_iter()
            .any(|k| added.get(k) > 0 && used.get(k) > authorised.get(k));
        if !over {
            return Ok(());
        }
        let mut m = licensing::shortfall(added, remaining_before).unwrap_or_default();
        if !store::licensing::any(conn).await? {
            m.push_str(": no licence is uploaded yet (upload one first: Licensing in the console, or `dialtone licence upload`)");
        } else {
            m.push_str(": upload a licence with more units, or free some (the licence unit report says what uses them)");
        }
        Err(Error::conflict(field, m))
    }

    /// The licence unit report: authorised, used and remaining per kind, and the licences.
    pub async fn licence_report(&self) -> Result<LicenceReport> {
        let mut c = self.store.read().await?;
        let licences = store::licensing::all(&mut c, &today()).await?;
        let authorised = licensing::authorised(&licences);
        let used_by = self.used_by(&mut c).await?;
        let used = used_by.units();
        Ok(LicenceReport {
            enforced: self.licensing_enforced(),
            units: UnitKind::ALL
                .into_iter()
                .map(|kind| UnitLine {
                    kind,
                    authorised: authorised.get(kind),
                    used: used.get(kind),
                    remaining: authorised.get(kind) - used.get(kind),
                })
                .collect(),
            licences,
            used_by,
        })
    }

    /// The licence unit calculator: the units `counts` need, and what would remain of the
    /// licences uploaded after adding them to what is used.
    pub async fn calculate_units(&self, counts: &UsedBy) -> Result<Calculation> {
        counts.checked()?;
        let r = self.licence_report().await?;
        let needed = counts.units();
        let remaining = |k: UnitKind| {
            r.units
                .iter()
                .find(|l| l.kind == k)
                .map_or(0, |l| l.remaining)
        };
        let remaining = Units {
            device: remaining(UnitKind::Device),
            presence_user: remaining(UnitKind::PresenceUser),
            soft_client: remaining(UnitKind::SoftClient),
        };
        let remaining_after = remaining - needed;
        let fits = UnitKind::ALL
            .into_iter()
            .all(|k| remaining_after.get(k) >= 0 || needed.get(k) == 0);
        Ok(Calculation {
            needed,
            remaining_after,
            fits,
        })
    }

    /// Gives (or takes) capabilities to many users, each on its own; a user the licences
    /// leave no units for fails with the numbers, the others succeed.
    pub async fn assign_capabilities(
        &self,
        actor: &Actor,
        req: &licensing::CapabilitiesAssignment,
    ) -> Result<model::BatchResult> {
        if req.presence.is_none() && req.soft_client.is_none() {
            return Err(Error::invalid(
                "presence",
                "say what to assign: presence (Enable CUP), soft_client (Enable CUPC), or both",
            ));
        }
        let sys = req.system.as_deref();
        self.batch(
            actor,
            Action::AssignCapabilities,
            Resource::User,
            &req.targets,
            |t| async move {
                let u = self.user(&t, sys).await?;
                let mut caps = u.capabilities.clone();
                if let Some(v) = req.presence {
                    caps.presence = v;
                }
                if let Some(v) = req.soft_client {
                    caps.soft_client = v;
                }
                let patch = model::UserPatch {
                    version: u.version,
                    capabilities: Some(caps),
                    ..Default::default()
                };
                self.update_user(actor, &u.id.to_string(), None, patch)
                    .await
                    .map(|_| ())
            },
        )
        .await
    }

    /// [`Service::assign_capabilities`] for every user `f` finds (the console's Capabilities
    /// assignment), one batch per product system.
    pub async fn assign_capabilities_found(
        &self,
        actor: &Actor,
        f: model::Find,
        presence: Option<bool>,
        soft_client: Option<bool>,
    ) -> Result<model::BatchResult> {
        self.found_per_system(model::TemplateKind::User, f, |req| async move {
            let a = licensing::CapabilitiesAssignment {
                targets: req.targets,
                system: req.system,
                presence,
                soft_client,
            };
            self.assign_capabilities(actor, &a).await
        })
        .await
    }

    /// The licensing status summary: users with a capability, each with primary extension,
    /// devices and contacts.
    pub async fn licensed_users(&self, limit: i64, offset: i64) -> Result<Page<LicensedUser>> {
        let limit = limit.clamp(1, 1000);
        let offset = offset.max(0);
        let mut c = self.store.read().await?;
        let (items, total) = store::licensing::licensed_users(&mut c, limit, offset).await?;
        Ok(Page {
            items,
            total,
            total_exact: true,
            limit,
            offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_licence_checks_and_a_changed_one_does_not() {
        let (private, public) = licence_key_pair().unwrap();
        let key = LicenceKey::parse(&public).unwrap();
        let l = Licence {
            id: "T-1".into(),
            issued_to: "Test".into(),
            issued: "2026-01-01".into(),
            expires: None,
            units: Units {
                device: 5,
                presence_user: 1,
                soft_client: 1,
            },
        };
        let text = sign_licence(&private, &l).unwrap();
        assert_eq!(key.check(&text).unwrap(), l);
        let changed = text.replace("device-units: 5", "device-units: 500");
        assert!(key
            .check(&changed)
            .unwrap_err()
            .to_string()
            .contains("does not match"));
        let (_, other) = licence_key_pair().unwrap();
        let other = LicenceKey::parse(&other).unwrap();
        assert!(other
            .check(&text)
            .unwrap_err()
            .to_string()
            .contains("another seller"));
        assert!(LicenceKey::parse("abc").is_err());
        assert!(sign_licence("bm90IGEga2V5", &l).is_err());
    }
}
