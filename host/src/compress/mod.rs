//! Compressed forms of root files, made once and kept: the zstd, br or gzip bytes of a
//! file a handler asked for (`root.compressed`), made from the very descriptor its
//! look opened, kept under a key of the file's identity and validators, and sent like
//! a precompressed sibling — with a `Content-Length`, ranges and `sendfile` — by every
//! later request for that version of the file, at no CPU cost after the first.
//!
//! Making a form is CPU the host spends for a handler, so it is bounded: only files
//! within `--compress-min`..`--compress-max`, at most `--compress-jobs` at a time, on
//! tokio's blocking pool (never a serving thread), at the levels in `codec`. A file up
//! to `WAIT_MAX` is made while its request waits (a browser's first load of a page
//! already gets its CSS and JS compressed); a larger one is made in the background
//! while the file goes out as it is. A form is only kept when the file did not change
//! while it was made, and only within `--compress-cache-max`.

pub mod codec;
pub mod making;
pub mod store;

use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

pub use codec::Coding;
use making::{Claim, Making};
use store::{Kept, Key, Place, Store};

/// Files up to this size are made while their request waits: at the levels chosen,
/// about 13 ms (br), 80 ms (zstd) and 5 ms (gzip) of one core here (BENCHMARKS.md).
pub const WAIT_MAX: u64 = 128 << 10;
/// How long a request waits for a compression job to be free before its file goes out
/// as it is (and is made later): a burst of first requests is not serialised behind
/// one core.
pub const WAIT_FOR_JOB: Duration = Duration::from_millis(100);
/// A form of a file changed less than this long before the form was made is sent to
/// its request but not kept: a second write within the same tick of the filesystem's
/// clock (a few ms here; a second or two on coarse filesystems) would leave every
/// timestamp of the key as it was, and the kept form would be stale. Once the file
/// is older than this, any change moves its change time past the key's (git's answer
/// to its "racy" index entries).
pub const RACY: Duration = Duration::from_secs(2);

/// What the operator allows.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bytes all forms together may hold; 0 turns compression off.
    pub cache_max: u64,
    /// Smallest and largest file sizes made forms of.
    pub min: u64,
    pub max: u64,
    /// Compressions at once.
    pub jobs: usize,
    pub place: Place,
}

/// A form ready to send.
#[derive(Debug, Clone)]
pub struct Form {
    pub file: Arc<File>,
    pub size: u64,
    pub tag: String,
}

/// The forms of one server: the store, and the jobs making more.
pub struct Forms {
    settings: Settings,
    store: Mutex<Store>,
    jobs: Arc<Semaphore>,
    /// Forms being made (or queued), and those that failed lately.
    making: Arc<Making>,
}

/// A source file as its request saw it.
pub struct Source {
    pub file: Arc<File>,
    /// Size and modification time the handler was told (its validators).
    pub size: u64,
    pub modified: Option<std::time::SystemTime>,
}

impl Forms {
    pub fn new(settings: Settings) -> anyhow::Result<Arc<Forms>> {
        let store = Store::open(settings.place.clone(), settings.cache_max)?;
        Ok(Arc::new(Forms {
            jobs: Arc::new(Semaphore::new(settings.jobs.max(1))),
            settings,
            store: Mutex::new(store),
            making: Arc::default(),
        }))
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes the forms hold now.
    pub fn held(&self) -> u64 {
        self.store().total()
    }

    /// The form of `source` in `coding`, if one is kept, without waiting; a missing
    /// one is made in the background (for a later request).
    pub fn ready(self: &Arc<Self>, source: &Source, coding: Coding) -> Option<Form> {
        let (key, meta) = self.eligible(source, coding)?;
        if let Some(form) = self.kept(&key, coding) {
            return Some(form);
        }
        self.start(key, meta, source.file.clone(), coding);
        None
    }

    /// The form of `source` in `coding`: kept, or made now when the file is small
    /// enough to wait for (else started in the background, and `None`). Dropped while
    /// it waits (the request's deadline, a reset stream), it gives its claim back; a
    /// job already running finishes and keeps its form.
    pub async fn get(self: &Arc<Self>, source: &Source, coding: Coding) -> Option<Form> {
        let (key, meta) = self.eligible(source, coding)?;
        if let Some(form) = self.kept(&key, coding) {
            return Some(form);
        }
        if meta.len() > WAIT_MAX {
            self.start(key, meta, source.file.clone(), coding);
            return None;
        }
        let claim = self.making.claim(key, meta.len())?;
        let permit = tokio::time::timeout(WAIT_FOR_JOB, self.jobs.clone().acquire_owned()).await;
        let Ok(Ok(permit)) = permit else {
            drop(claim);
            self.start(key, meta, source.file.clone(), coding);
            return None;
        };
        let forms = self.clone();
        let file = source.file.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            forms.make(&claim, key, &meta, &file, coding)
        })
        .await
        .ok()
        .flatten()
    }

    /// The key of `source`'s form in `coding`, and the file's metadata now, when the
    /// host makes forms of it: compression is on, the size is within bounds, the file
    /// is still the one the handler saw, and its form did not fail lately.
    fn eligible(&self, source: &Source, coding: Coding) -> Option<(Key, Metadata)> {
        let s = &self.settings;
        if s.cache_max == 0 || source.size < s.min || source.size > s.max {
            return None;
        }
        let meta = source.file.metadata().ok()?;
        if !meta.is_file() || meta.len() != source.size || meta.modified().ok() != source.modified {
            return None;
        }
        let key = key(&meta, coding);
        (!self.making.failed(&key)).then_some((key, meta))
    }

    /// A kept form, opened outside the store's lock (a disk's latency is no other
    /// request's wait); one gone from the disk, or changed, is forgotten.
    fn kept(&self, key: &Key, coding: Coding) -> Option<Form> {
        let (file, size) = match self.store().get(key)? {
            Kept::Open(file, size) => (file, size),
            Kept::At(path, size) => match File::open(&path) {
                Ok(file) if file.metadata().is_ok_and(|m| m.len() == size) => {
                    (Arc::new(file), size)
                }
                Ok(_) => {
                    self.forget(key);
                    return None;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.forget(key);
                    return None;
                }
                // Out of descriptors, say: a miss this time, the form stays.
                Err(_) => return None,
            },
        };
        Some(Form {
            file,
            size,
            tag: coding.tag(),
        })
    }

    fn forget(&self, key: &Key) {
        let removed = self.store().forget(key);
        if let Some(path) = removed {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Makes the form in the background, once a job is free, unless it is already
    /// being made, failed lately, or the queue is full.
    fn start(self: &Arc<Self>, key: Key, meta: Metadata, file: Arc<File>, coding: Coding) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(claim) = self.making.claim(key, meta.len()) else {
            return;
        };
        let forms = self.clone();
        runtime.spawn(async move {
            let Ok(permit) = forms.jobs.clone().acquire_owned().await else {
                return;
            };
            let job = forms.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                job.make(&claim, key, &meta, &file, coding)
            })
            .await;
        });
    }

    /// Compresses `file` (whose metadata was `meta`) and keeps the form. `None` when
    /// reading or writing failed, the file changed meanwhile, or the form has no room
    /// (the claim then says so, and the form is not tried again for a while).
    fn make(
        &self,
        claim: &Claim,
        key: Key,
        meta: &Metadata,
        file: &File,
        coding: Coding,
    ) -> Option<Form> {
        match self.try_make(key, meta, file, coding) {
            Ok(Some(form)) => Some(form),
            Ok(None) => {
                claim.failed();
                None
            }
            Err(e) => {
                claim.failed();
                tracing::warn!("compress: making a {} form failed: {e}", coding.name());
                None
            }
        }
    }

    fn try_make(
        &self,
        key: Key,
        meta: &Metadata,
        source: &File,
        coding: Coding,
    ) -> io::Result<Option<Form>> {
        let (place, max) = {
            let store = self.store();
            (store.place().clone(), store.max())
        };
        let (form, temp) = store::new_file(&place)?;
        let mut reader = ReadAt {
            file: source,
            at: 0,
            end: meta.len(),
        };
        let mut writer = BufWriter::with_capacity(
            64 << 10,
            Bounded {
                file: &form,
                left: max,
            },
        );
        coding.encode(&mut reader, meta.len(), &mut writer)?;
        writer.flush()?;
        drop(writer);
        // Whole, and of one version of the file: same length read, same metadata after.
        let after = source.metadata()?;
        if reader.at != meta.len() || !same_version(meta, &after) {
            return Err(io::Error::other("the file changed while it was compressed"));
        }
        let size = form.metadata()?.len();
        let file = Arc::new(form);
        let changed = std::time::UNIX_EPOCH
            + Duration::new(after.ctime().max(0) as u64, after.ctime_nsec() as u32);
        let settled = changed.elapsed().is_ok_and(|age| age > RACY);
        if !settled {
            // Sent to this request; the temporary file is removed, the form stays
            // open for the body.
            return Ok(Some(Form {
                file,
                size,
                tag: coding.tag(),
            }));
        }
        if size > max {
            return Ok(None);
        }
        if let (Some(temp), Place::Disk(dir)) = (temp, &place) {
            // Whole on the disk before it has its name: a crash leaves a temporary
            // file (removed at the next start), never a torn form under a key.
            file.sync_data()?;
            temp.persist(dir.join(store::hex(&key)))
                .map_err(|e| e.error)?;
        }
        let memory = matches!(place, Place::Memory).then(|| file.clone());
        let evicted = self.store().insert(key, size, memory);
        for path in evicted {
            let _ = std::fs::remove_file(path);
        }
        Ok(Some(Form {
            file,
            size,
            tag: coding.tag(),
        }))
    }
}

/// A form's key: the file's device and inode, size, modification and change times to
/// the nanosecond, and the form's tag. A file rewritten in place changes its change
/// time; one replaced is another inode: neither is ever served an old form.
fn key(meta: &Metadata, coding: Coding) -> Key {
    let mut hash = Sha256::new();
    for n in [
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
        meta.ctime() as u64,
        meta.ctime_nsec() as u64,
    ] {
        hash.update(n.to_le_bytes());
    }
    hash.update(coding.tag().as_bytes());
    hash.finalize()[..16].try_into().expect("16 bytes")
}

fn same_version(a: &Metadata, b: &Metadata) -> bool {
    (
        a.len(),
        a.mtime(),
        a.mtime_nsec(),
        a.ctime(),
        a.ctime_nsec(),
    ) == (
        b.len(),
        b.mtime(),
        b.mtime_nsec(),
        b.ctime(),
        b.ctime_nsec(),
    )
}

/// Reads a file from its start through `end` by offset, so that the descriptor the
/// request shares is not moved.
struct ReadAt<'a> {
    file: &'a File,
    at: u64,
    end: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.at) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Writes a form, failing once it would be larger than the whole budget.
struct Bounded<'a> {
    file: &'a File,
    left: u64,
}

impl Write for Bounded<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::other(
                "the form is larger than the forms' budget",
            ));
        }
        let mut file = self.file;
        let n = file.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
