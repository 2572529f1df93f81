//! Firmware files as the TFTP server sends them: read once and shared by every phone fetching
//! the same file in a boot storm (a load is the same few files for a thousand phones), bounded
//! in bytes; a file changed on disk (its length or time) is read again. HTTP streams them from
//! disk instead (with ranges), so this holds only what TFTP asked for.

use quick_cache::sync::Cache;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How much of the firmware folder TFTP keeps in memory by default.
pub const DEFAULT_BYTES: u64 = 512 << 20;

#[derive(Clone)]
struct Entry {
    len: u64,
    modified: Option<SystemTime>,
    bytes: bytes::Bytes,
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<PathBuf, Entry> for Weight {
    fn weight(&self, key: &PathBuf, v: &Entry) -> u64 {
        v.bytes.len() as u64 + key.as_os_str().len() as u64 + 64
    }
}

pub(crate) struct FirmwareCache {
    files: Cache<PathBuf, Entry, Weight>,
}

impl FirmwareCache {
    pub fn new(bytes: u64) -> FirmwareCache {
        FirmwareCache {
            files: Cache::with_weighter(64, bytes.max(1), Weight),
        }
    }

    /// The bytes of `path`, from memory while the file is unchanged.
    pub async fn read(&self, path: &Path) -> std::io::Result<bytes::Bytes> {
        let m = tokio::fs::metadata(path).await?;
        let (len, modified) = (m.len(), m.modified().ok());
        if let Some(e) = self.files.get(path) {
            if e.len == len && e.modified == modified {
                return Ok(e.bytes);
            }
        }
        let bytes = bytes::Bytes::from(tokio::fs::read(path).await?);
        self.files.insert(
            path.to_path_buf(),
            Entry {
                len: bytes.len() as u64,
                modified,
                bytes: bytes.clone(),
            },
        );
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_changed_file_is_read_again() {
        let dir = std::env::temp_dir().join(format!("dialtone-fw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.loads");
        std::fs::write(&p, b"one").unwrap();
        let c = FirmwareCache::new(1 << 20);
        assert_eq!(&c.read(&p).await.unwrap()[..], b"one");
        std::fs::write(&p, b"three").unwrap();
        assert_eq!(&c.read(&p).await.unwrap()[..], b"three");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
