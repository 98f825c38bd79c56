//! The handler's read-only view of the served root.
//!
//! Inside the sandbox the root is the WASI preopen `/` (see `component`); natively, in
//! tests, it is any directory (`DirRoot`). The handler only ever asks for metadata:
//! file bytes are streamed by the host.

use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

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

/// Read-only access to the served root. `rel` is `/`-separated, relative, already
/// checked to contain no `.`/`..` segments.
pub trait Root {
    fn stat(&self, rel: &str) -> io::Result<Meta>;
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
