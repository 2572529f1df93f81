//! The rendered-file cache: bounded in bytes, never stale. Each entry carries the generation of
//! the snapshot it was rendered from; the change journal says, per device, the generation of
//! the newest change that reached it, and an entry older than that is not served. So a change
//! to one line throws away the files of the phones that show it, not every file.

use crate::Access;
use quick_cache::sync::Cache;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// A rendered file as the servers hand it out.
#[derive(Clone)]
pub(crate) struct Cached {
    pub generation: i64,
    pub bytes: bytes::Bytes,
    pub content_type: &'static str,
    pub device: Option<String>,
    pub device_id: Option<i64>,
    pub access: Access,
    pub sealing: crate::Sealing,
    /// The bytes are the phone's clear file and what is asked for is its encrypted form
    /// (`<mac>.cfg` of an MPP phone): each answer encrypts them with the sealing key, under a
    /// salt of its own.
    pub encrypted: bool,
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<String, Cached> for Weight {
    fn weight(&self, key: &String, v: &Cached) -> u64 {
        // The bytes, the key, the name, and about 160 bytes of entry and bookkeeping.
        (v.bytes.len() + key.len() + v.device.as_ref().map_or(0, String::len) + 160) as u64
    }
}

/// What has reached devices since they were rendered.
#[derive(Default)]
struct Dirty {
    /// The generation of the newest change that reached each device.
    by_device: HashMap<i64, i64>,
    /// The generation of the newest change that reached every device.
    all: i64,
}

pub(crate) struct FileCache {
    files: Cache<String, Cached, Weight>,
    dirty: Mutex<Dirty>,
    /// Every change up to this generation has been noted in `dirty`; -1 before the first look.
    applied: AtomicI64,
}

impl FileCache {
    /// A cache of at most `bytes` bytes of files (and their keys).
    pub fn new(bytes: u64) -> FileCache {
        FileCache {
            files: Cache::with_weighter((bytes / 2_500).max(16) as usize, bytes.max(1), Weight),
            dirty: Mutex::default(),
            applied: AtomicI64::new(-1),
        }
    }

    /// The generation every change up to which is noted (-1: none looked at yet).
    pub fn applied(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Notes changes up to `through`: the devices each reached (with its generation), and
    /// whether everything was reached (and at which generation).
    pub fn apply(&self, through: i64, all: Option<i64>, devices: &[(i64, i64)]) {
        let mut d = self.dirty.lock().expect("dirty lock");
        if let Some(g) = all {
            d.all = d.all.max(g);
            d.by_device.clear();
            self.files.clear();
        }
        for &(id, g) in devices {
            let e = d.by_device.entry(id).or_insert(g);
            *e = (*e).max(g);
        }
        // Entries older than the newest change to everything say nothing more.
        if d.by_device.len() > 1_000_000 {
            let newest = d.by_device.values().copied().max().unwrap_or(0);
            d.all = d.all.max(newest);
            d.by_device.clear();
            self.files.clear();
        }
        self.applied.fetch_max(through, Ordering::AcqRel);
    }

    /// Whether a file rendered at `generation` for `device` is still what it would be now
    /// (given every change up to [`FileCache::applied`]).
    fn fresh(&self, generation: i64, device: Option<i64>) -> bool {
        let d = self.dirty.lock().expect("dirty lock");
        generation >= d.all
            && device
                .and_then(|id| d.by_device.get(&id))
                .is_none_or(|&g| generation >= g)
    }

    pub fn get(&self, key: &str) -> Option<Cached> {
        let c = self.files.get(key)?;
        if self.fresh(c.generation, c.device_id) {
            Some(c)
        } else {
            self.files.remove(key);
            None
        }
    }

    /// Keeps a file rendered at `c.generation`, unless a change after that reached it already.
    pub fn insert(&self, key: String, c: Cached) {
        if self.fresh(c.generation, c.device_id) {
            self.files.insert(key, c);
        }
    }

    /// Bytes held (files and keys, with their bookkeeping).
    pub fn weight(&self) -> u64 {
        self.files.weight()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }
}
