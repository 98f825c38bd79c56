//! The WIT glue, and the only module that sees generated bindings: converts the WIT
//! request into plain values, calls `handler::handle`, converts the answer back; and
//! gives the handler the root through the contract's looks.
//!
//! Why looks and not WASI, nor even `root` calls: the host resolves each path with one
//! `openat2` and keeps the file open for the body; a component that imports no WASI
//! needs no WASI context, preopen or libc start-up per instance; and one that imports no
//! function at all is a single core instance (an import that passes strings makes
//! wit-component add a shim and a fixup instance, and a start function, to every
//! instance). The host looks at the request's target before the first call, so a file
//! takes one call; what else the handler needs (precompressed siblings, an index, an
//! error page, a listing) it learns by answering with looks and being called again.
//! This crate is built for `wasm32-unknown-unknown` (whose std makes no system calls)
//! and made a component by `host/build.rs`, so that nothing in it can import WASI by
//! accident.

use std::cell::RefCell;

use std::io;
use std::time::{Duration, SystemTime};

use exports::sandserve::server::handler::{Answer, Guest};
use sandserve::server::root::{
    self as host_root, CompressArgs, Error as RootError, Found, Kind as RootKind, ListArgs, Look,
    Seen,
};
use sandserve::server::types as wit;

use sandserve_core::encoding::Coding;
use sandserve_core::root::{Entry, Form, Kind, MAX_ENTRIES, Meta, Root};
use sandserve_core::{Body, Chunk, FileRange, Policy, Response};

wit_bindgen::generate!({
    path: "../../wit",
    world: "sandserve",
    // To find a look among those seen.
    additional_derives: [PartialEq],
});

struct Component;

impl Guest for Component {
    fn handle(request: wit::Request, seen: Vec<Seen>) -> Answer {
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
            compress: p.compress,
        };
        let received = time(request.received);
        let root = Looked {
            seen,
            missed: RefCell::new(Vec::new()),
        };
        let response = sandserve_core::handle(&request.head, &policy, &root, received);
        // A decision made on a look not yet made is thrown away: the host makes the
        // looks it missed, and the next call decides again, knowing more.
        let missed = root.missed.into_inner();
        if missed.is_empty() {
            Answer::Response(to_wit(response))
        } else {
            Answer::Look(missed)
        }
    }
}

/// The root as far as the host has looked at it for this request. A look it has not
/// made yet is noted and answered "not found", so that the decision runs to its end
/// and every look it reaches is asked for in one answer, not one per call.
struct Looked {
    seen: Vec<Seen>,
    missed: RefCell<Vec<Look>>,
}

impl Looked {
    fn find(&self, look: Look) -> Option<&Found> {
        let found = self.seen.iter().find(|s| s.look == look).map(|s| &s.found);
        if found.is_none() {
            let mut missed = self.missed.borrow_mut();
            if !missed.contains(&look) {
                missed.push(look);
            }
        }
        found
    }
}

fn not_yet() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "not looked at yet")
}

impl Root for Looked {
    fn list(&self, rel: &str) -> io::Result<(Vec<Entry>, bool)> {
        let look = Look::List(ListArgs {
            path: rel.to_owned(),
            max: MAX_ENTRIES as u32,
        });
        let Some(Found::List(found)) = self.find(look) else {
            return Err(not_yet());
        };
        let listing = found.clone().map_err(io_error)?;
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
        let Some(Found::Stat(found)) = self.find(Look::Stat(rel.to_owned())) else {
            return Err(not_yet());
        };
        found.clone().map(meta).map_err(io_error)
    }

    /// Asked for only once every other look this decision reached has been made: a
    /// form is host work (it may compress while the request waits), never spent on a
    /// file whose precompressed sibling turns out to exist.
    fn compressed(&self, rel: &str, coding: Coding) -> io::Result<Option<Form>> {
        if !self.missed.borrow().is_empty() {
            return Err(not_yet());
        }
        let look = Look::Compressed(CompressArgs {
            path: rel.to_owned(),
            coding: wit_coding(coding),
        });
        let Some(Found::Compressed(found)) = self.find(look) else {
            return Err(not_yet());
        };
        let form = found.clone().map_err(io_error)?;
        Ok(form.map(|f| Form {
            len: f.size,
            tag: f.tag,
        }))
    }
}

fn wit_coding(coding: Coding) -> wit::Coding {
    match coding {
        Coding::Br => wit::Coding::Br,
        Coding::Zstd => wit::Coding::Zstd,
        Coding::Gzip => wit::Coding::Gzip,
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
        coding: range.form.map(wit_coding),
    }
}

export!(Component);
