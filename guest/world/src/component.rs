//! The WIT glue, and the only module that sees generated bindings: converts the WIT
//! request into plain values, calls `handler::handle`, converts the answer back; and
//! gives the handler the root through the host's `root` import.
//!
//! Why `root` and not WASI: the host resolves each path with one `openat2` and keeps the
//! file open for the body, and a component that imports no WASI needs no WASI context,
//! preopen or libc start-up per instance. This crate is built for
//! `wasm32-unknown-unknown` (whose std makes no system calls) and made a component by
//! `host/build.rs`, so that nothing in it can import WASI by accident.

use std::io;
use std::time::{Duration, SystemTime};

use exports::sandserve::server::handler::Guest;
use sandserve::server::root::{self as host_root, Error as RootError, Kind as RootKind};
use sandserve::server::types as wit;

use sandserve_core::root::{Entry, Kind, MAX_ENTRIES, Meta, Root};
use sandserve_core::{Body, Chunk, FileRange, Policy, Response};

wit_bindgen::generate!({
    path: "../../wit",
    world: "sandserve",
});

struct Component;

impl Guest for Component {
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
        let received = time(request.received);
        let response = sandserve_core::handle(&request.head, &policy, &HostRoot, received);
        to_wit(response)
    }
}

/// The served root, as the host lends it.
struct HostRoot;

impl Root for HostRoot {
    fn list(&self, rel: &str) -> io::Result<(Vec<Entry>, bool)> {
        let listing = host_root::list(rel, MAX_ENTRIES as u32).map_err(io_error)?;
        let entries = listing
            .entries
            .into_iter()
            .map(|entry| Entry {
                name: entry.name,
                meta: meta(entry.metadata),
            })
            .collect();
        Ok((entries, listing.truncated))
    }

    fn stat(&self, rel: &str) -> io::Result<Meta> {
        host_root::stat(rel).map(meta).map_err(io_error)
    }
}

fn meta(m: host_root::Metadata) -> Meta {
    Meta {
        kind: match m.kind {
            RootKind::File => Kind::File,
            RootKind::Directory => Kind::Dir,
            RootKind::Other => Kind::Other,
        },
        len: m.size,
        modified: m.modified.map(time),
    }
}

fn io_error(error: RootError) -> io::Error {
    let kind = match error {
        RootError::NotFound => io::ErrorKind::NotFound,
        RootError::NotADirectory => io::ErrorKind::NotADirectory,
        RootError::AccessDenied | RootError::OutsideRoot => io::ErrorKind::PermissionDenied,
        RootError::InvalidPath => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{error:?}"))
}

fn time(t: wit::Instant) -> SystemTime {
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
