//! Administrators: argon2 passwords, API tokens, and the first start's `admin`.

use crate::throttle::{secs, Failed, Policy, Throttle};
use crate::{Actor, Error, Result, Service};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use model::access::{Action, Resource};
use model::{CreatedToken, Password};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::audit::NewEntry;

/// An argon2id hash (PHC string) of a password or PIN.
pub fn hash_secret(secret: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
}

/// Checks a secret against its argon2 hash.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Remembers Basic credentials already checked against their argon2 hash, keyed by a digest of
/// the stored hash and the password: a changed password changes the stored hash and so misses.
/// Scripts that send Basic on every request then cost one argon2 verification per 5 minutes.
///
/// Verifications take turns (`VERIFYING` at once): each costs argon2's 19 MiB and a blocking
/// thread, and a script that opens 64 connections at once would otherwise run 64 of them for
/// the same password (a gigabyte); the ones that waited then find the first one's answer here.
///
/// It also keeps the administrator each bearer token was found to belong to, with the generation
/// it was read at: any committed write (a role changed, an administrator and their tokens
/// deleted) raises the generation, after which the token is read again. So a request with a
/// known token costs no round trip to the database, and a change reaches it as fast as it reaches
/// phone files (at once on this node, within `GENERATION_RECHECK` from another).
#[derive(Clone)]
pub(crate) struct AuthCache {
    verified: Arc<Mutex<HashMap<String, Instant>>>,
    turns: Arc<tokio::sync::Semaphore>,
    /// Token hash to the generation it was read at, whose it is, and when it expires (`''`:
    /// never).
    tokens: Arc<Mutex<HashMap<String, KnownToken>>>,
    /// Failed log-ins by source address (any account).
    sources: Arc<Throttle<IpAddr>>,
    /// Failed log-ins by account (from addresses it has not logged in from).
    accounts: Arc<Throttle<String>>,
    /// Verifications queued or running, by address (one at a time each: [`AuthCache::source_turn`]).
    checking: Arc<Mutex<HashMap<IpAddr, Arc<tokio::sync::Semaphore>>>>,
    /// (account, address) pairs that logged in since this node started: the account's back-off
    /// does not hold them, so guesses from elsewhere cannot lock a real administrator out.
    known: Arc<Mutex<HashSet<(String, IpAddr)>>>,
}

const VERIFYING: usize = 4;

/// Failed administrator log-ins from one address: ten are free; then 2 s, doubling to 15 minutes.
pub(crate) const SOURCE_POLICY: Policy = Policy {
    free: 10,
    window: Duration::from_secs(900),
    first: Duration::from_secs(2),
    ceiling: Duration::from_secs(900),
};

/// Failed log-ins to one account from anywhere: five are free; then 1 s, doubling to 30 s (a
/// short ceiling: a wait on an account also holds back its owner, unless their address is known).
pub(crate) const ACCOUNT_POLICY: Policy = Policy {
    free: 5,
    window: Duration::from_secs(900),
    first: Duration::from_secs(1),
    ceiling: Duration::from_secs(30),
};

/// Pairs of account and address remembered at most.
const KNOWN: usize = 10_000;

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache {
            verified: Arc::default(),
            turns: Arc::new(tokio::sync::Semaphore::new(VERIFYING)),
            tokens: Arc::default(),
            sources: Arc::new(Throttle::new(SOURCE_POLICY)),
            accounts: Arc::new(Throttle::new(ACCOUNT_POLICY)),
            known: Arc::default(),
            checking: Arc::default(),
        }
    }
}

/// An address's turn to have a password checked; given back (and forgotten when no one else
/// from there waits) on drop.
pub(crate) struct SourceTurn {
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ip: Option<IpAddr>,
    checking: Arc<Mutex<HashMap<IpAddr, Arc<tokio::sync::Semaphore>>>>,
}

impl Drop for SourceTurn {
    fn drop(&mut self) {
        self._permit = None;
        let Some(ip) = self.ip else { return };
        let mut m = self.checking.lock().expect("log-ins being checked");
        // Only the map holds it: no one from there is queued.
        if m.get(&ip).is_some_and(|s| Arc::strong_count(s) == 1) {
            m.remove(&ip);
        }
    }
}

const CACHE_TTL: Duration = Duration::from_secs(300);

impl AuthCache {
    /// Waits for `source`'s turn to have a password checked (no wait without an address).
    async fn source_turn(&self, source: Option<IpAddr>) -> SourceTurn {
        let sem = source.map(|ip| {
            self.checking
                .lock()
                .expect("log-ins being checked")
                .entry(ip)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(1)))
                .clone()
        });
        let permit = match sem {
            Some(s) => s.acquire_owned().await.ok(),
            None => None,
        };
        SourceTurn {
            _permit: permit,
            ip: source,
            checking: self.checking.clone(),
        }
    }

    fn check(&self, key: &str) -> bool {
        let mut m = self.verified.lock().expect("auth cache lock");
        match m.get(key) {
            Some(t) if t.elapsed() < CACHE_TTL => true,
            Some(_) => {
                m.remove(key);
                false
            }
            None => false,
        }
    }
    fn remember(&self, key: String) {
        let mut m = self.verified.lock().expect("auth cache lock");
        if m.len() > 10_000 {
            m.retain(|_, t| t.elapsed() < CACHE_TTL);
        }
        m.insert(key, Instant::now());
    }
    /// The actor of a token hash, when it was read at `generation`.
    fn token(&self, hash: &str, generation: i64) -> Option<Actor> {
        let m = self.tokens.lock().expect("token cache lock");
        m.get(hash)
            .filter(|(g, _, expires)| {
                *g == generation && (expires.is_empty() || *expires > store::now())
            })
            .map(|(_, a, _)| a.clone())
    }
    fn remember_token(&self, hash: String, generation: i64, actor: Actor, expires_at: String) {
        let mut m = self.tokens.lock().expect("token cache lock");
        if m.len() >= TOKENS_KEPT {
            m.retain(|_, (g, _, _)| *g == generation);
            if m.len() >= TOKENS_KEPT {
                m.clear();
            }
        }
        m.insert(hash, (generation, actor, expires_at));
    }
}

/// A token read: the generation it was read at, whose it is, when it expires (`''`: never).
type KnownToken = (i64, Actor, String);

/// At most this many tokens' administrators are kept.
const TOKENS_KEPT: usize = 10_000;

/// A valid argon2id hash of nothing anyone knows, checked against when the user name is wrong.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0CQBGoOB0iRoAQkC4zC1xr8Jf2jVY3Zt0wbNXgFkmL8";

const BAD_LOGIN: &str = "user name or password is wrong";

impl Service {
    /// On first start, creates the administrator `admin` with `password`, or with a generated
    /// one that is returned (to be printed once). Returns `None` when administrators exist.
    pub async fn ensure_admin(&self, password: Option<&str>) -> Result<Option<String>> {
        let mut tx = self.store.write().await?;
        if store::admins::count(tx.conn()).await? > 0 {
            return Ok(None);
        }
        let (pw, generated) = match password.filter(|p| !p.is_empty()) {
            Some(p) => (Password::parse("DIALTONE_ADMIN_PASSWORD", p, 8)?, None),
            None => {
                let mut b = [0u8; 18];
                rand::thread_rng().fill_bytes(&mut b);
                let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
                (Password::parse("password", &p, 8)?, Some(p))
            }
        };
        let id = store::admins::insert(tx.conn(), "admin", &hash_secret(pw.expose())?).await?;
        if let Some(r) = store::admins::role(tx.conn(), "superadmin").await? {
            store::admins::set_roles(tx.conn(), id, &[r.id]).await?;
        }
        store::audit::append(
            tx.conn(),
            &NewEntry {
                actor: "system",
                action: Action::Create.as_str(),
                resource: Resource::Admin.as_str(),
                target: "admin",
                system: "",
                result: model::Outcome::Ok,
                detail: "first start",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(generated)
    }

    /// Adds an administrator, or sets the password of an existing one.
    pub async fn set_admin(&self, actor: &Actor, username: &str, password: &str) -> Result<()> {
        let name = model::Name::parse("username", username)?;
        let pw = Password::parse("password", password, 8)?;
        let hash = hash_secret(pw.expose())?;
        let a = crate::Audit {
            action: Action::SetPassword,
            resource: Resource::Admin,
            target: name.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            match store::admins::by_username(tx.conn(), name.as_str()).await? {
                Some(a) => {
                    store::admins::set_password(tx.conn(), a.id, &hash).await?;
                    store::admins::end_credentials(tx.conn(), a.id, "").await?;
                }
                None => {
                    // The CLI works on the database itself: whom it adds may do everything.
                    let id = store::admins::insert(tx.conn(), name.as_str(), &hash).await?;
                    if let Some(r) = store::admins::role(tx.conn(), "superadmin").await? {
                        store::admins::set_roles(tx.conn(), id, &[r.id]).await?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    /// Checks HTTP Basic credentials (or the console's log-in form) sent from `source` (`None`:
    /// not over the network). Failed attempts are logged and audited, and make their address and
    /// account wait before the next ([`SOURCE_POLICY`], [`ACCOUNT_POLICY`]); an attempt while
    /// waiting is refused before any password is checked.
    pub async fn authenticate_basic(
        &self,
        username: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Result<Actor> {
        self.may_try(username, source)?;
        let mut c = self.store.read().await?;
        let found = store::admins::by_username(&mut c, username).await?;
        drop(c);
        let key = found
            .as_ref()
            .map(|a| sha256_hex(&[a.password_hash.as_bytes(), password.as_bytes()]));
        if let (Some(admin), Some(k)) = (&found, &key) {
            if self.auth.check(k) {
                return self.logged_in(admin, source).await;
            }
        }
        // One verification at a time from an address, so a flood from one host holds one of the
        // turns at most and a log-in from elsewhere is not kept waiting behind it; attempts
        // queued behind a failure that began a wait are refused when their turn comes.
        let _mine = self.auth.source_turn(source).await;
        self.may_try(username, source)?;
        let _turn = self
            .auth
            .turns
            .acquire()
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (Some(admin), Some(key)) = (found, key) else {
            // Spend the time a real check would, so a wrong name is not faster than a wrong password.
            let pw = password.to_string();
            let _ = tokio::task::spawn_blocking(move || verify_secret(&pw, DUMMY_HASH)).await;
            return Err(self
                .log_in_failed(username, source, "no administrator of that name")
                .await);
        };
        if self.auth.check(&key) {
            return self.logged_in(&admin, source).await;
        }
        let hash = admin.password_hash.clone();
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_secret(&pw, &hash))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        if !ok {
            return Err(self.log_in_failed(username, source, "wrong password").await);
        }
        self.auth.remember(key);
        self.logged_in(&admin, source).await
    }

    /// Refuses an attempt while its address, or its account (from an address it has not logged
    /// in from), must wait.
    fn may_try(&self, username: &str, source: Option<IpAddr>) -> Result<()> {
        let Some(ip) = source else { return Ok(()) };
        if let Some(w) = self.auth.sources.waiting(&ip) {
            return Err(Error::Throttled {
                message: format!(
                    "too many failed log-ins from your address: try again in {} s",
                    secs(w)
                ),
                retry_after: secs(w),
            });
        }
        let known = self
            .auth
            .known
            .lock()
            .expect("known log-ins")
            .contains(&(username.to_string(), ip));
        if !known {
            if let Some(w) = self.auth.accounts.waiting(&username.to_string()) {
                return Err(Error::Throttled {
                    message: format!(
                        "too many failed log-ins to this account: try again in {} s",
                        secs(w)
                    ),
                    retry_after: secs(w),
                });
            }
        }
        Ok(())
    }

    async fn logged_in(
        &self,
        admin: &store::admins::AdminRow,
        source: Option<IpAddr>,
    ) -> Result<Actor> {
        if let Some(ip) = source {
            self.auth.sources.succeeded(&ip);
            self.auth.accounts.succeeded(&admin.username);
            let mut k = self.auth.known.lock().expect("known log-ins");
            if k.len() >= KNOWN {
                k.clear();
            }
            k.insert((admin.username.clone(), ip));
        }
        self.actor_of(admin).await
    }

    /// Counts, logs and audits a failed log-in; the error to answer with.
    async fn log_in_failed(&self, username: &str, source: Option<IpAddr>, why: &str) -> Error {
        let name: String = username.chars().take(64).collect();
        let from = source.map_or_else(|| "this machine".to_string(), |ip| ip.to_string());
        let mut detail = format!("from {from}: {why}");
        if let Some(ip) = source {
            if let Failed::Wait(w) = self.auth.sources.failed(&ip) {
                detail.push_str(&format!("; log-ins from {ip} now wait {} s", secs(w)));
            }
            if let Failed::Wait(w) = self.auth.accounts.failed(&name) {
                detail.push_str(&format!(
                    "; log-ins to {name} from other addresses now wait {} s",
                    secs(w)
                ));
            }
        }
        tracing::warn!(user = %name, source = %from, "administrator log-in failed: {detail}");
        let write = async {
            let mut tx = self.store.write_unversioned().await?;
            store::audit::append(
                tx.conn(),
                &NewEntry {
                    actor: &name,
                    action: Action::Login.as_str(),
                    resource: Resource::Admin.as_str(),
                    target: &name,
                    system: "",
                    result: model::Outcome::Failed,
                    detail: &detail,
                },
            )
            .await?;
            tx.commit().await
        };
        if let Err(e) = write.await {
            tracing::error!(error = %e, "could not write the audit entry of a failed log-in");
        }
        Error::Unauthorized(BAD_LOGIN.into())
    }

    /// The actor an administrator is, with their roles' privileges.
    pub(crate) async fn actor_of(&self, admin: &store::admins::AdminRow) -> Result<Actor> {
        let mut c = self.store.read().await?;
        let privileges = store::admins::privileges(&mut c, admin.id).await?;
        Ok(Actor::with_privileges(admin.username.clone(), privileges))
    }

    /// Checks a bearer token: from the cache while nothing was written since it was read
    /// (see [`AuthCache`]), else with one statement.
    pub async fn authenticate_token(&self, token: &str) -> Result<Actor> {
        // The generation before the read: a write committed during it makes the entry stale.
        let generation = self.store.generation().await?;
        let hash = sha256_hex(&[token.as_bytes()]);
        if let Some(actor) = self.auth.token(&hash, generation) {
            return Ok(actor);
        }
        let mut c = self.store.read().await?;
        match store::admins::by_token(&mut c, &hash).await? {
            Some((a, privileges, expires_at)) => {
                let actor =
                    Actor::with_privileges(a.username, privileges).through(hash.clone());
                self.auth
                    .remember_token(hash, generation, actor.clone(), expires_at);
                Ok(actor)
            }
            None => Err(Error::Unauthorized(
                "the bearer token is not known, revoked or expired: create one with POST /api/v1/tokens".into(),
            )),
        }
    }

    /// Creates an API token for the acting administrator, good for `days` (default
    /// [`model::TOKEN_DAYS_DEFAULT`]); the token is shown only here.
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        days: Option<u32>,
    ) -> Result<CreatedToken> {
        let days = days.unwrap_or(model::TOKEN_DAYS_DEFAULT);
        if !(1..=model::TOKEN_DAYS_MAX).contains(&days) {
            return Err(Error::invalid(
                "expires_in_days",
                format!(
                    "a token lasts 1 to {} days; {days} is outside",
                    model::TOKEN_DAYS_MAX
                ),
            ));
        }
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        let token = format!(
            "dt_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        );
        let name = if name.trim().is_empty() {
            "api".to_string()
        } else {
            name.trim().to_string()
        };
        let expires_at = store::time_after(Duration::from_secs(u64::from(days) * 86_400));
        let a = crate::Audit {
            action: Action::Create,
            resource: Resource::Token,
            target: name.clone(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let admin = store::admins::by_username(tx.conn(), &actor.name)
                .await?
                .ok_or_else(|| {
                    Error::Unauthorized("only administrators can create tokens".into())
                })?;
            let id = store::admins::insert_token(
                tx.conn(),
                admin.id,
                &name,
                &sha256_hex(&[token.as_bytes()]),
                &expires_at,
            )
            .await?;
            Ok(CreatedToken {
                id,
                name: name.clone(),
                token: token.clone(),
                expires_at: expires_at.clone(),
            })
        })
        .await
    }

    /// The acting administrator's API tokens (never the tokens themselves).
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<model::TokenInfo>> {
        let mut c = self.store.read().await?;
        let admin = store::admins::by_username(&mut c, &actor.name)
            .await?
            .ok_or_else(|| Error::Unauthorized("only administrators have tokens".into()))?;
        Ok(store::admins::tokens(&mut c, admin.id)
            .await?
            .into_iter()
            .map(|t| model::TokenInfo {
                id: t.id,
                name: t.name,
                created_at: t.created_at,
                expires_at: Some(t.expires_at).filter(|e| !e.is_empty()),
            })
            .collect())
    }

    /// Revokes one of the acting administrator's tokens: it stops working at once on this
    /// node, and on others at their next generation check.
    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<()> {
        let a = crate::Audit {
            action: Action::Delete,
            resource: Resource::Token,
            target: id.to_string(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let admin = store::admins::by_username(tx.conn(), &actor.name)
                .await?
                .ok_or_else(|| Error::Unauthorized("only administrators have tokens".into()))?;
            if store::admins::delete_token(tx.conn(), admin.id, id).await? {
                Ok(())
            } else {
                Err(Error::NotFound(format!(
                    "you have no token {id}: GET /api/v1/tokens lists yours"
                )))
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_secret("secret1").unwrap();
        let b = hash_secret("secret1").unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_secret("secret1", &a));
        assert!(!verify_secret("secret2", &a));
        assert!(!verify_secret("secret1", "not a hash"));
        // The dummy hash parses, so a wrong user name costs a full verification too.
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
