//! `dialtone rotate-key` (docs/security.md, "Rotating the secret key"): a new installation
//! key, every sealed secret sealed again under it, and the key file replaced, in an order a
//! crash at any point leaves recoverable:
//!
//! 1. the old key is copied to `<key file>.old` and the new one written to `<key file>.new`;
//! 2. the database is sealed again and its check value changed, in one transaction;
//! 3. `<key file>.new` is renamed over `<key file>`.
//!
//! Killed before 2 commits, the database still opens with the old key, and the next start
//! deletes the `.new` file; killed between 2 and 3, the next start finds the database opens
//! with the `.new` key and finishes the rename ([`settle`]).

use crate::config::{write_private, Config};
use anyhow::{bail, Context};
use service::{Rotation, SecretKey, Service};
use std::path::{Path, PathBuf};

fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The new key, waiting for its rotation to commit.
pub fn pending_file(file: &Path) -> PathBuf {
    beside(file, ".new")
}

/// The key before the last rotation, kept for backups made before it.
pub fn previous_file(file: &Path) -> PathBuf {
    beside(file, ".old")
}

fn read_key(path: &Path) -> anyhow::Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secret key file {}", path.display()))?;
    SecretKey::from_base64(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn replace_private(path: &Path, text: &str) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    write_private(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Renames the pending key over the key file, and makes the rename durable.
fn promote(file: &Path) -> anyhow::Result<()> {
    std::fs::rename(pending_file(file), file)
        .with_context(|| format!("renaming the new key to {}", file.display()))?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))?;
    }
    Ok(())
}

/// The secret key to open `store` with, after settling a rotation a crash interrupted.
pub(crate) async fn settle(cfg: &Config, store: &store::Store) -> anyhow::Result<SecretKey> {
    let key = cfg.secret_key()?;
    let Some(file) = cfg.key_file() else {
        return Ok(key);
    };
    let pending = pending_file(&file);
    if !pending.exists() {
        return Ok(key);
    }
    if service::key_opens(store, &key).await? {
        std::fs::remove_file(&pending)
            .with_context(|| format!("removing {}", pending.display()))?;
        tracing::warn!(file = %pending.display(), "removed a new secret key left by a key rotation that did not commit: the database keeps the key it had");
        return Ok(key);
    }
    let new = read_key(&pending)?;
    if service::key_opens(store, &new).await? {
        promote(&file)?;
        tracing::warn!(file = %file.display(), "finished a key rotation that was interrupted after its commit: the key file now holds the new key");
        return Ok(new);
    }
    Ok(key)
}

/// Rotates the secret key of the database `cfg` names; every server on it must be stopped.
/// Answers what was sealed again and the key file.
pub async fn rotate(cfg: &Config, actor: &str) -> anyhow::Result<(Rotation, PathBuf)> {
    let Some(file) = cfg.key_file() else {
        bail!(
            "the secret key is given in the configuration (secret_key or DIALTONE_SECRET_KEY), \
             not in a file, so there is no file to put a new one in: move it to a file named by \
             secret_key_file, then rotate"
        );
    };
    if !file.exists() {
        bail!(
            "there is no secret key file at {}: name the installation's key file with \
             secret_key_file (or --db, when it lies beside the SQLite file)",
            file.display()
        );
    }
    let store = store::Store::open_with(&cfg.database.url, cfg.database.sqlite_memory())
        .await
        .context("opening the database")?;
    let _lock = store.key_lock(true).await?;
    let old = settle(cfg, &store).await?;
    if !service::key_opens(&store, &old).await? {
        bail!(
            "{} does not hold the key this database was written with: nothing was changed",
            file.display()
        );
    }
    let new = SecretKey::generate();
    replace_private(&previous_file(&file), &format!("{}\n", old.to_base64()))?;
    replace_private(&pending_file(&file), &format!("{}\n", new.to_base64()))?;
    let svc = Service::new(store, old);
    let rotation = match svc.rotate_key(&new, actor).await {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(pending_file(&file));
            return Err(e).context("sealing again under the new key (nothing was changed)");
        }
    };
    promote(&file)?;
    tracing::info!(file = %file.display(), sealed = rotation.total(), "rotated the secret key");
    Ok((rotation, file))
}
