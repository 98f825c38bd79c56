//! The WIT glue, and the only module that sees generated bindings: converts the WIT
//! request into plain values, calls `handler::handle`, converts the answer back; and
//! gives the handler the root and the clock straight from WASI.
//!
//! Why not `std::fs` and `std::time`: through wasi-libc, one `metadata` call costs a
//! `stat-at` *and* a `metadata-hash-at` (for an inode number we never read), and the
//! libc layer brings some twenty more imports, each of which every fresh instance must
//! link. Calling the two WASI functions we need keeps each instance small and cheap.

use std::io;
use std::time::{Duration, SystemTime};

use exports::sandserve::server::handler as wit;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};

use crate::root::{Entry, Kind, MAX_ENTRIES, Meta, Root};
use crate::{Body, Chunk, FileRange, Policy, Response};

wit_bindgen::generate!({
    path: "../wit",
    world: "sandserve",
});

struct Component;

impl wit::Guest for Component {
    fn handle(request: wit::Request) -> wit::Response {
        let p = request.policy;
        let policy = Policy {
            min_user_agent_len: p.min_user_agent_len,
            serve_dotfiles: p.serve_dotfiles,
            server_name: p.server_name,
            cache_control: p
                .cache_control
                .into_iter()
                .map(|rule| (rule.pattern, rule.value))
                .collect(),
            extra_headers: p.extra_headers,
            list_dirs: p.list_dirs,
            fallback: p.fallback,
        };
        let response = crate::handle(&request.head, &policy, &SandboxRoot::new(), now());
        to_wit(response)
    }
}

/// The served root: the preopen mounted at `/`, opened on first use.
struct SandboxRoot {
    dir: std::cell::OnceCell<Option<Descriptor>>,
}

impl SandboxRoot {
    fn new() -> Self {
        SandboxRoot {
            dir: std::cell::OnceCell::new(),
        }
    }

    fn dir(&self) -> io::Result<&Descriptor> {
        self.dir
            .get_or_init(|| {
                wasip2::filesystem::preopens::get_directories()
                    .into_iter()
                    .find_map(|(dir, name)| (name == "/").then_some(dir))
            })
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no preopen at /"))
    }
}

impl Root for SandboxRoot {
    fn list(&self, rel: &str) -> io::Result<(Vec<Entry>, bool)> {
        let opened;
        let dir = if rel.is_empty() {
            self.dir()?
        } else {
            opened = self
                .dir()?
                .open_at(
                    PathFlags::SYMLINK_FOLLOW,
                    rel,
                    OpenFlags::DIRECTORY,
                    DescriptorFlags::READ,
                )
                .map_err(io_error)?;
            &opened
        };
        let stream = dir.read_directory().map_err(io_error)?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.read_directory_entry().map_err(io_error)? {
            if entries.len() == MAX_ENTRIES {
                return Ok((entries, true));
            }
            let path = if rel.is_empty() {
                entry.name.clone()
            } else {
                format!("{rel}/{}", entry.name)
            };
            if let Ok(meta) = self.stat(&path) {
                entries.push(Entry {
                    name: entry.name,
                    meta,
                });
            }
        }
        Ok((entries, false))
    }

    fn stat(&self, rel: &str) -> io::Result<Meta> {
        let rel = if rel.is_empty() { "." } else { rel };
        // One `stat-at`, following symlinks; WASI refuses those that leave the root.
        let stat = self
            .dir()?
            .stat_at(PathFlags::SYMLINK_FOLLOW, rel)
            .map_err(io_error)?;
        let kind = match stat.type_ {
            DescriptorType::RegularFile => Kind::File,
            DescriptorType::Directory => Kind::Dir,
            _ => Kind::Other,
        };
        Ok(Meta {
            kind,
            len: stat.size,
            modified: stat
                .data_modification_timestamp
                .map(|t| SystemTime::UNIX_EPOCH + Duration::new(t.seconds, t.nanoseconds)),
        })
    }
}

fn io_error(code: ErrorCode) -> io::Error {
    let kind = match code {
        ErrorCode::NoEntry => io::ErrorKind::NotFound,
        ErrorCode::NotDirectory => io::ErrorKind::NotADirectory,
        ErrorCode::Access | ErrorCode::NotPermitted => io::ErrorKind::PermissionDenied,
        ErrorCode::NameTooLong | ErrorCode::Invalid | ErrorCode::IllegalByteSequence => {
            io::ErrorKind::InvalidInput
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{code:?}"))
}

fn now() -> SystemTime {
    let t = wasip2::clocks::wall_clock::now();
    SystemTime::UNIX_EPOCH + Duration::new(t.seconds, t.nanoseconds)
}

fn to_wit(response: Response) -> wit::Response {
    let body = match response.body {
        Body::Empty => wit::Body::Empty,
        Body::Bytes(bytes) => wit::Body::Bytes(bytes),
        Body::File(range) => wit::Body::File(file_range(range)),
        Body::Chunks(chunks) => wit::Body::Chunks(
            chunks
                .into_iter()
                .map(|chunk| match chunk {
                    Chunk::Bytes(bytes) => wit::Chunk::Bytes(bytes),
                    Chunk::File(range) => wit::Chunk::File(file_range(range)),
                })
                .collect(),
        ),
    };
    wit::Response {
        head: response.head,
        body,
        close: response.close,
    }
}

fn file_range(range: FileRange) -> wit::FileRange {
    wit::FileRange {
        path: range.path,
        offset: range.offset,
        length: range.length,
    }
}

export!(Component);
