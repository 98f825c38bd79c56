//! The compiled-handler cache: Cranelift compiles a component once per component and
//! engine configuration; later starts load the machine code in milliseconds.
//!
//! An entry is named by the SHA-256 of the component's bytes and of the engine's
//! compatibility hash, so a changed handler, wasmtime version or engine setting is a
//! miss, never a stale hit. Loading machine code is trusting it, so the directory must
//! be ours and closed to others, each entry has the SHA-256 of its contents beside it
//! (`KEY.sha256`: a torn or corrupted entry is a miss), and files are written whole
//! then renamed.
//!
//! The directory is bounded (`--cache-max`): a hit marks its entry used (its
//! modification time), and each new entry removes the least recently used ones past the
//! bound — a `--watch` edit loop that compiles a 35 MB Python build per save cannot
//! fill the disk.
//!
//! An entry is mapped, not read: its code pages are the page cache's, shared by every
//! server on the machine and resident only where they run. (A 19 MB Python component
//! compiles to 35 MB; read into memory, that was 35 MB of the server's own, twice over
//! while it loaded.)

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// `--cache-max`'s default, for the tools that cache without the server's flags.
pub const DEFAULT_MAX: u64 = 1 << 30;

/// How the component was obtained, for the start-up line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

/// The default cache directory: `$XDG_CACHE_HOME/sandserve`, else `~/.cache/sandserve`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sandserve"))
}

/// The component for `bytes`: from the cache in `dir` when it holds a sound entry,
/// otherwise compiled (and stored, if it can be; a cache that cannot be written only
/// costs the next start its time, so that is a warning, not an error).
pub fn component(
    engine: &Engine,
    bytes: &[u8],
    dir: Option<(&Path, u64)>,
) -> Result<(Component, Origin)> {
    let Some((dir, max)) = dir else {
        return Ok((compile(engine, bytes)?, Origin::Compiled));
    };
    // `.v2`: since entries are mapped, the checksum is no longer inside them; an older
    // server's entries (checksum appended) and ours never meet under one name.
    let entry = dir.join(format!("{}.v2.cwasm", key(engine, bytes)));
    if let Some(component) = load(engine, dir, &entry) {
        // Used now: the last to go when the cache is pruned.
        let _ = fs::File::open(&entry).and_then(|f| f.set_modified(SystemTime::now()));
        return Ok((component, Origin::Cached));
    }
    let component = compile(engine, bytes)?;
    if let Err(e) = store(dir, &entry, &component, max) {
        tracing::warn!("not caching the compiled handler: {e:#}");
        return Ok((component, Origin::Compiled));
    }
    // The entry just written, mapped, in place of the compiled code in our own memory.
    let mapped = load(engine, dir, &entry).unwrap_or(component);
    Ok((mapped, Origin::Compiled))
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .context("not a valid component")
}

/// Hex SHA-256 of the component and of everything the engine says makes compiled code
/// incompatible (wasmtime version, target, settings).
fn key(engine: &Engine, bytes: &[u8]) -> String {
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn finish(&self) -> u64 {
            unreachable!("only written to")
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha(Sha256::new());
    hasher.write(bytes);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex(&hasher.0.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sound entry, or `None` for any kind of miss.
fn load(engine: &Engine, dir: &Path, entry: &Path) -> Option<Component> {
    check_private(dir).ok()?;
    let checksum = fs::read(entry.with_extension("sha256")).ok()?;
    // Hashed as it streams by, so that checking a large entry costs no memory.
    let mut file = fs::File::open(entry).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    if hasher.finalize().as_slice() != checksum.as_slice() {
        return None;
    }
    // The very file hashed, through its descriptor: a rename over `entry` meanwhile
    // cannot slip unchecked code in (wasmtime 48 maps only by path).
    let hashed = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    // SAFETY: `deserialize_file` maps and runs the machine code in the file, which must
    // not change while it is mapped (written in place, a mapped file would change the
    // code run, or fault). The file is what `store` wrote: the directory is ours and
    // closed to other users, entries are only ever replaced by a rename (a mapping
    // keeps the file it mapped), and the checksum proves this one whole. wasmtime
    // itself rejects an artifact from another version or configuration.
    let component = unsafe { Component::deserialize_file(engine, &hashed) }.ok();
    drop(file);
    component
}

fn store(dir: &Path, entry: &Path, component: &Component, max: u64) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    check_private(dir)?;
    let artifact = component.serialize().map_err(anyhow::Error::from)?;
    if artifact.len() as u64 > max {
        bail!(
            "it is {} bytes, over --cache-max ({max} bytes)",
            artifact.len()
        );
    }
    prune(dir, max - artifact.len() as u64);
    // The checksum first: an entry whose checksum is missing or another's is a miss.
    write_whole(&entry.with_extension("sha256"), &Sha256::digest(&artifact))?;
    write_whole(entry, &artifact)
}

/// Removes the least recently used entries (and their checksums) until the entries
/// left take at most `room` bytes. An entry a server has mapped stays valid for it:
/// removing a file does not unmap it.
fn prune(dir: &Path, room: u64) {
    let Ok(listing) = fs::read_dir(dir) else {
        return;
    };
    let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
    let mut entries: Vec<(SystemTime, u64, PathBuf)> = listing
        .filter_map(|e| e.ok())
        .filter(|e| {
            // A temporary file an hour old was left by a write that died: not an entry.
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(".tmp")
                && e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < hour_ago)
            {
                let _ = fs::remove_file(e.path());
            }
            name.ends_with(".cwasm")
        })
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
    entries.sort();
    for (_, len, path) in entries {
        if total <= room {
            break;
        }
        if fs::remove_file(&path).is_ok() {
            let _ = fs::remove_file(path.with_extension("sha256"));
            total -= len;
        }
    }
}

/// Writes `path` as a temporary file beside it, synced, then renamed over it.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("cannot write {}", temp.display()))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// The directory must belong to us and be writable by nobody else.
fn check_private(dir: &Path) -> Result<()> {
    let meta = fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let uid = rustix::process::geteuid().as_raw();
    if meta.uid() != uid || meta.mode() & 0o022 != 0 {
        bail!(
            "{} is not private to this user (owner {}, mode {:o})",
            dir.display(),
            meta.uid(),
            meta.mode() & 0o777
        );
    }
    Ok(())
}
