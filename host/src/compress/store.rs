//! Where forms are kept, within their byte budget (`--compress-cache-max`): files in
//! the cache directory's `forms/` (they outlive the server), or, with `--no-cache`,
//! anonymous in-memory files (`memfd`). Either way a form is sent from a descriptor,
//! with `sendfile` and ranges, like any file.
//!
//! The least recently used forms leave first. An index in memory knows every form and
//! its size; a form on disk is opened for each request that sends it (outside the
//! index's lock), so a form evicted in between is a miss (the file is sent as it is),
//! never a half-read. The budget is one server's: two servers sharing a cache directory
//! each count what they made (and each finds the other's forms at its next start).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A form's name: a hash of its source's identity, validators and the form's tag.
pub type Key = [u8; 16];

/// A kept form: open (in memory), or at a path on disk, with its size.
pub enum Kept {
    Open(Arc<File>, u64),
    At(PathBuf, u64),
}

/// What a form is kept in.
#[derive(Debug, Clone)]
pub enum Place {
    /// `forms/` under the cache directory.
    Disk(PathBuf),
    /// Memory (`--no-cache`).
    Memory,
}

#[derive(Debug)]
struct Entry {
    size: u64,
    /// When it was last used, by the store's own clock.
    used: u64,
    /// The form itself, for a store in memory.
    file: Option<Arc<File>>,
}

/// The forms made so far, and their total size.
#[derive(Debug)]
pub struct Store {
    place: Place,
    max: u64,
    total: u64,
    clock: u64,
    entries: HashMap<Key, Entry>,
}

impl Store {
    /// A store within `max` bytes. On disk, the directory is made private (or must
    /// be) and the forms a previous run left are counted, oldest first out.
    pub fn open(place: Place, max: u64) -> anyhow::Result<Store> {
        let mut store = Store {
            place,
            max,
            total: 0,
            clock: 0,
            entries: HashMap::new(),
        };
        if let Place::Disk(dir) = &store.place {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
            let meta = fs::metadata(dir)?;
            let uid = rustix::process::geteuid().as_raw();
            anyhow::ensure!(
                meta.uid() == uid && meta.mode() & 0o022 == 0,
                "{} is not private to this user (owner {}, mode {:o})",
                dir.display(),
                meta.uid(),
                meta.mode() & 0o777
            );
            let mut found: Vec<(i64, Key, u64)> = Vec::new();
            let hour_ago = SystemTime::now() - Duration::from_secs(3600);
            for entry in fs::read_dir(dir)?.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let Ok(meta) = entry.metadata() else { continue };
                match parse_key(&name) {
                    Some(key) if meta.is_file() && meta.len() > 0 => {
                        found.push((meta.mtime(), key, meta.len()));
                    }
                    // A form another server sharing the directory is making now.
                    None if name.starts_with(".making-")
                        && meta.modified().is_ok_and(|t| t > hour_ago) => {}
                    // A temporary file of a write that died, an empty form, a stranger.
                    _ => {
                        let _ = fs::remove_file(entry.path());
                    }
                }
            }
            found.sort();
            for (_, key, size) in found {
                store.clock += 1;
                store.total += size;
                let used = store.clock;
                store.entries.insert(
                    key,
                    Entry {
                        size,
                        used,
                        file: None,
                    },
                );
            }
            for key in store.trim(0) {
                store.remove_file(&key);
            }
        }
        Ok(store)
    }

    pub fn place(&self) -> &Place {
        &self.place
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// Bytes held.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The form named `key`, marked used.
    pub fn get(&mut self, key: &Key) -> Option<Kept> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.entries.get_mut(key)?;
        entry.used = clock;
        let size = entry.size;
        if let Some(file) = &entry.file {
            return Some(Kept::Open(file.clone(), size));
        }
        Some(Kept::At(self.path_of(key)?, size))
    }

    /// Forgets the form named `key` (gone from the disk, or changed): the path to
    /// remove, if it is on disk.
    pub fn forget(&mut self, key: &Key) -> Option<PathBuf> {
        let entry = self.entries.remove(key)?;
        self.total -= entry.size;
        self.path_of(key)
    }

    /// Keeps a form just made (`file`: in memory; on disk it is already at
    /// `path_of(key)`, and `size` is at most the budget), first forgetting the least
    /// recently used ones it needs room from: their paths, for the caller to remove
    /// once it let go of the lock.
    pub fn insert(&mut self, key: Key, size: u64, file: Option<Arc<File>>) -> Vec<PathBuf> {
        if let Some(old) = self.entries.remove(&key) {
            self.total -= old.size;
        }
        let evicted = self.trim(size);
        self.clock += 1;
        self.total += size;
        let used = self.clock;
        self.entries.insert(key, Entry { size, used, file });
        evicted.iter().filter_map(|key| self.path_of(key)).collect()
    }

    /// Forgets least recently used entries until `room` more bytes fit; their keys.
    fn trim(&mut self, room: u64) -> Vec<Key> {
        let mut evicted = Vec::new();
        while self.total + room > self.max {
            let Some((&key, _)) = self.entries.iter().min_by_key(|(_, e)| e.used) else {
                break;
            };
            let entry = self.entries.remove(&key).expect("just found");
            self.total -= entry.size;
            evicted.push(key);
        }
        evicted
    }

    /// Where a form named `key` is written, for a store on disk.
    pub fn path_of(&self, key: &Key) -> Option<PathBuf> {
        match &self.place {
            Place::Disk(dir) => Some(dir.join(hex(key))),
            Place::Memory => None,
        }
    }

    fn remove_file(&self, key: &Key) {
        if let Some(path) = self.path_of(key) {
            let _ = fs::remove_file(path);
        }
    }
}

/// A new, empty file for a form: a temporary file in the store's directory (renamed
/// to its key once whole) or an anonymous one in memory.
pub fn new_file(place: &Place) -> io::Result<(File, Option<tempfile::TempPath>)> {
    match place {
        Place::Disk(dir) => {
            let temp = tempfile::Builder::new()
                .prefix(".making-")
                .tempfile_in(dir)?;
            let (file, path) = temp.into_parts();
            Ok((file, Some(path)))
        }
        Place::Memory => {
            let fd = rustix::fs::memfd_create("sandserve-form", rustix::fs::MemfdFlags::CLOEXEC)?;
            Ok((File::from(fd), None))
        }
    }
}

pub fn hex(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_key(name: &str) -> Option<Key> {
    if name.len() != 32 {
        return None;
    }
    let mut key = [0; 16];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(name.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// `dir` as the store's place on disk.
pub fn on_disk(cache_dir: &Path) -> Place {
    Place::Disk(cache_dir.join("forms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_forms_leave_first() {
        let mut store = Store::open(Place::Memory, 100).unwrap();
        let form = || Some(Arc::new(tempfile::tempfile().unwrap()));
        store.insert([1; 16], 40, form());
        store.insert([2; 16], 40, form());
        store.get(&[1; 16]).unwrap();
        store.insert([3; 16], 40, form());
        assert!(
            store.get(&[2; 16]).is_none(),
            "the least recently used left"
        );
        assert!(store.get(&[1; 16]).is_some() && store.get(&[3; 16]).is_some());
        assert_eq!(store.total(), 80);
        store.forget(&[1; 16]);
        assert_eq!(store.total(), 40);
    }

    #[test]
    fn a_disk_store_counts_what_a_previous_run_left() {
        let dir = tempfile::tempdir().unwrap();
        let forms = dir.path().join("forms");
        {
            let store = Store::open(Place::Disk(forms.clone()), 100).unwrap();
            for (i, size) in [(1u8, 30), (2, 30), (3, 30)] {
                let key = [i; 16];
                fs::write(store.path_of(&key).unwrap(), vec![0; size]).unwrap();
            }
            fs::write(forms.join(".making-x"), b"another server's").unwrap();
            fs::write(forms.join("stray"), b"?").unwrap();
            fs::write(store.path_of(&[4; 16]).unwrap(), b"").unwrap();
        }
        let mut store = Store::open(Place::Disk(forms.clone()), 70).unwrap();
        assert_eq!(store.total(), 60, "trimmed to its budget on opening");
        assert!(forms.join(".making-x").exists(), "a fresh one is someone's");
        assert!(!forms.join("stray").exists() && !store.path_of(&[4; 16]).unwrap().exists());
        let present = [1u8, 2, 3]
            .iter()
            .filter(|&&i| store.get(&[i; 16]).is_some())
            .count();
        assert_eq!(present, 2);
    }
}
