//! The handler's read-only view of the served root.
//!
//! Inside the sandbox the root is the host's `root` import (see `component`); natively,
//! in tests, it is any directory (`DirRoot`). The handler only ever asks for metadata:
//! file bytes are streamed by the host.

use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::encoding::Coding;

/// What kind of entry a path names (after following symlinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// Sockets, devices, FIFOs: never served.
    Other,
}

/// What the handler needs to know about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub len: u64,
    pub modified: Option<SystemTime>,
}

/// One entry of a directory, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub meta: Meta,
}

/// A compressed form of a file, made and kept by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub len: u64,
    /// The coding and the compressor's settings (`zstd-19`), for the entity tag.
    pub tag: String,
}

/// Most entries a listing reads; a larger directory is listed in part, and says so.
pub const MAX_ENTRIES: usize = 10_000;

/// Read-only access to the served root. `rel` is `/`-separated, relative, already
/// checked to contain no `.`/`..` segments.
pub trait Root {
    fn stat(&self, rel: &str) -> io::Result<Meta>;

    /// The entries of a directory, symlinks followed (ones that lead nowhere or out of
    /// the root are left out), in no particular order; at most `MAX_ENTRIES`, and
    /// whether there were more.
    fn list(&self, rel: &str) -> io::Result<(Vec<Entry>, bool)>;

    /// A compressed form of the regular file `rel` in `coding` that the host has (or
    /// makes now); `None` when it has none to give. A root without a host (a directory,
    /// under WASI) has none: only precompressed siblings are sent.
    fn compressed(&self, rel: &str, coding: Coding) -> io::Result<Option<Form>> {
        let _ = (rel, coding);
        Ok(None)
    }
}

/// A root that is a directory of the (possibly virtual) filesystem.
#[derive(Debug, Clone)]
pub struct DirRoot {
    base: PathBuf,
}

impl DirRoot {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        DirRoot { base: base.into() }
    }
}

impl Root for DirRoot {
    fn list(&self, rel: &str) -> io::Result<(Vec<Entry>, bool)> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(self.base.join(rel))? {
            if entries.len() == MAX_ENTRIES {
                return Ok((entries, true));
            }
            let Ok(name) = entry?.file_name().into_string() else {
                continue;
            };
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if let Ok(meta) = self.stat(&path) {
                entries.push(Entry { name, meta });
            }
        }
        Ok((entries, false))
    }

    fn stat(&self, rel: &str) -> io::Result<Meta> {
        let meta = std::fs::metadata(self.base.join(rel))?;
        let kind = if meta.is_file() {
            Kind::File
        } else if meta.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        Ok(Meta {
            kind,
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}
