//! Passwords and PINs at the speed of the rest of an import (docs/csv.md, "Passwords and
//! PINs"): an import keeps each secret sealed under the installation's key as its row commits
//! (microseconds, where an argon2 hash takes tens of milliseconds of one CPU), and the
//! background hasher replaces it with its argon2id hash on every CPU. A sealed secret checks
//! like a hashed one meanwhile (opened, compared in constant time); once hashed, the sealed
//! copy is gone.

use crate::crypto::SecretKey;
use crate::{hash_secret, verify_secret, Error, Result, Service};
use std::sync::Arc;
use store::secrets::SEALED;

/// Whether `secret` is the one `stored` keeps: an argon2 hash, or a sealed secret waiting for
/// its hash. Blocking (argon2): call it off the async threads.
pub(crate) fn secret_matches(key: &SecretKey, secret: &str, stored: &str) -> bool {
    match stored.strip_prefix(SEALED) {
        Some(sealed) => key
            .open(sealed)
            .map(|plain| constant_time_eq(plain.as_bytes(), secret.as_bytes()))
            .unwrap_or(false),
        None => verify_secret(secret, stored),
    }
}

/// End users' and phones' secrets checked at once ([`Service::secret_matches_any`]).
pub(crate) const CHECKING: usize = 4;

impl Service {
    /// Whether `secret` is one of `stored` (argon2 hashes, or sealed secrets waiting for
    /// theirs), checked off the async threads and a few at a time: argon2 takes 19 MiB and
    /// tens of milliseconds of a CPU per check, and a flood of guesses from many addresses
    /// waits its turn instead of holding the memory of hundreds at once.
    pub(crate) async fn secret_matches_any(&self, secret: String, stored: Vec<String>) -> bool {
        if stored.is_empty() {
            return false;
        }
        let Ok(_turn) = self.checks.clone().acquire_owned().await else {
            return false;
        };
        let key = self.secret_key();
        tokio::task::spawn_blocking(move || stored.iter().any(|h| secret_matches(&key, &secret, h)))
            .await
            .unwrap_or(false)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The argon2id hashes of `secrets`, made on every CPU: by threads started from one freed of
/// the import's one-CPU affinity, which they inherit.
fn hash_all(secrets: Vec<String>) -> Vec<Result<String>> {
    let failed = || vec![Err(Error::Internal("a hashing thread panicked".into()))];
    std::thread::scope(|s| {
        s.spawn(|| {
            crate::import::use_every_cpu();
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            let per = secrets.len().div_ceil(cpus).max(1);
            std::thread::scope(|s| {
                let parts: Vec<_> = secrets
                    .chunks(per)
                    .map(|part| {
                        s.spawn(move || part.iter().map(|p| hash_secret(p)).collect::<Vec<_>>())
                    })
                    .collect();
                parts
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|_| failed()))
                    .collect::<Vec<_>>()
            })
        })
        .join()
        .unwrap_or_else(|_| failed())
    })
}

/// The CPUs hashing runs on (every one, whatever the caller's affinity).
pub fn hashing_cpus() -> usize {
    std::thread::scope(|s| {
        s.spawn(|| {
            crate::import::use_every_cpu();
            std::thread::available_parallelism().map_or(1, |n| n.get())
        })
        .join()
        .unwrap_or(1)
    })
}

impl Service {
    /// A password or PIN as stored: its argon2id hash, or, in an import, sealed for the
    /// background hasher.
    pub(crate) fn protect_secret(&self, secret: &str) -> Result<String> {
        if self.seal_secrets {
            Ok(format!("{SEALED}{}", self.key.seal(secret)?))
        } else {
            hash_secret(secret)
        }
    }

    /// The key sealed secrets open with (for checks off the async threads).
    pub(crate) fn secret_key(&self) -> Arc<SecretKey> {
        self.key.clone()
    }

    /// Hashes up to `limit` sealed secrets on every CPU and puts each hash in place of its
    /// sealed copy; answers how many were hashed (0: none waits).
    pub async fn hash_sealed_secrets(&self, limit: i64) -> Result<usize> {
        let waiting = {
            let mut c = self.store.read().await?;
            store::secrets::waiting(&mut c, limit).await?
        };
        if waiting.is_empty() {
            return Ok(0);
        }
        let plain: Vec<String> = waiting
            .iter()
            .map(|s| self.key.open(&s.value[SEALED.len()..]))
            .collect::<Result<_>>()?;
        let hashes = tokio::task::spawn_blocking(move || hash_all(plain))
            .await
            .map_err(|e| Error::Internal(format!("hashing: {e}")))?;
        let mut tx = self.store.write_unversioned().await?;
        let mut done = 0;
        for (s, h) in waiting.iter().zip(hashes) {
            if store::secrets::replace(tx.conn(), s, &h?).await? {
                done += 1;
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    /// How many secrets wait for their hash.
    pub async fn sealed_secrets(&self) -> Result<i64> {
        let mut c = self.store.read().await?;
        Ok(store::secrets::count(&mut c).await?)
    }

    /// Hashes every sealed secret, a batch at a time; answers how many.
    pub async fn hash_every_sealed_secret(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.hash_sealed_secrets(HASH_BATCH).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }
}

/// Secrets hashed between two commits of the hasher.
pub const HASH_BATCH: i64 = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_and_hashed_secrets_check_alike() {
        let key = SecretKey::generate();
        let sealed = format!("{SEALED}{}", key.seal("13579").unwrap());
        let hashed = hash_secret("13579").unwrap();
        for stored in [&sealed, &hashed] {
            assert!(secret_matches(&key, "13579", stored));
            assert!(!secret_matches(&key, "13578", stored));
            assert!(!secret_matches(&key, "", stored));
        }
        let other = SecretKey::generate();
        assert!(
            !secret_matches(&other, "13579", &sealed),
            "another key opens nothing"
        );
        let hashes = hash_all(vec!["a1".into(), "b2".into(), "c3".into()]);
        assert!(hashes
            .iter()
            .all(|h| h.as_ref().is_ok_and(|h| h.starts_with("$argon2id$"))));
    }
}
