//! The root as the component sees it: the directory the engine preopened at `/`, each
//! file opened once — the descriptor its metadata is read from is the one its body is
//! spliced from, so that a file replaced between the look-up and the body is sent as
//! the file that was looked at (its validators and its bytes agree), as the native
//! host does. Directories and listings go through std (`DirRoot`), by path.

use std::cell::RefCell;
use std::io;
use std::time::{Duration, SystemTime};

use sandserve_core::DirRoot;
use sandserve_core::root::{Entry, Kind, Meta, Root};
use wasip2::filesystem::preopens;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};

/// Where the engine mounts the served directory (`--dir ROOT::/`, Spin's `files`).
pub const ROOT: &str = "/";
/// Most files one request keeps open for its body (a listing's stats are not kept).
const MAX_KEPT: usize = 16;

pub struct Opened {
    dir: DirRoot,
    root: Option<Descriptor>,
    kept: RefCell<Vec<(String, Descriptor)>>,
}

impl Opened {
    pub fn new() -> Opened {
        let root = preopens::get_directories()
            .into_iter()
            .find(|(_, guest)| guest == ROOT)
            .map(|(descriptor, _)| descriptor);
        Opened {
            dir: DirRoot::new(ROOT),
            root,
            kept: RefCell::new(Vec::new()),
        }
    }

    /// The descriptor `path` was looked at through, or one opened now (read-only).
    pub fn file(&self, path: &str) -> Option<Descriptor> {
        let mut kept = self.kept.borrow_mut();
        if let Some(i) = kept.iter().position(|(p, _)| p == path) {
            return Some(kept.swap_remove(i).1);
        }
        drop(kept);
        self.open(path).ok()
    }

    fn open(&self, path: &str) -> Result<Descriptor, ErrorCode> {
        let root = self.root.as_ref().ok_or(ErrorCode::NoEntry)?;
        // Read-only, whatever the engine's preopen allows: the component never writes.
        root.open_at(
            PathFlags::SYMLINK_FOLLOW,
            if path.is_empty() { "." } else { path },
            OpenFlags::empty(),
            DescriptorFlags::READ,
        )
    }
}

impl Root for Opened {
    /// A regular file's metadata comes from the descriptor its body will be read from;
    /// anything else is only looked up by path (a FIFO must not be opened: WASI opens
    /// without `O_NONBLOCK`, and the open would wait for a writer).
    fn stat(&self, rel: &str) -> io::Result<Meta> {
        let root = self
            .root
            .as_ref()
            .ok_or_else(|| error(ErrorCode::NoEntry))?;
        let path = if rel.is_empty() { "." } else { rel };
        let found = root
            .stat_at(PathFlags::SYMLINK_FOLLOW, path)
            .map_err(error)?;
        if found.type_ != DescriptorType::RegularFile {
            return Ok(meta(&found));
        }
        let file = self.open(rel).map_err(error)?;
        let stat = file.stat().map_err(error)?;
        let meta = meta(&stat);
        let mut kept = self.kept.borrow_mut();
        // The same path looked at again (an error page after its resolution): the
        // newest descriptor goes with the newest metadata.
        kept.retain(|(p, _)| p != rel);
        if meta.kind == Kind::File && kept.len() < MAX_KEPT {
            kept.push((rel.to_owned(), file));
        }
        Ok(meta)
    }

    fn list(&self, rel: &str) -> io::Result<(Vec<Entry>, bool)> {
        self.dir.list(rel)
    }
}

fn meta(stat: &DescriptorStat) -> Meta {
    let kind = match stat.type_ {
        DescriptorType::RegularFile => Kind::File,
        DescriptorType::Directory => Kind::Dir,
        _ => Kind::Other,
    };
    Meta {
        kind,
        len: stat.size,
        modified: stat
            .data_modification_timestamp
            .map(|t| SystemTime::UNIX_EPOCH + Duration::new(t.seconds, t.nanoseconds)),
    }
}

fn error(code: ErrorCode) -> io::Error {
    let kind = match code {
        ErrorCode::NoEntry => io::ErrorKind::NotFound,
        ErrorCode::NotDirectory => io::ErrorKind::NotADirectory,
        ErrorCode::Access | ErrorCode::NotPermitted => io::ErrorKind::PermissionDenied,
        // A name no file can have (a segment over 255 bytes, say): not found, as std
        // says it through WASI.
        ErrorCode::NameTooLong | ErrorCode::Invalid | ErrorCode::IllegalByteSequence => {
            io::ErrorKind::InvalidFilename
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{code:?}"))
}
