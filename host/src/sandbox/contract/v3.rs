//! A `sandserve:server@0.3.0` handler: its request and answer converted from and to the
//! current contract's (0.3.0 has no `protocol`, and answers in one call), and its
//! `root` import answered by the current one's, whose functions are the same.

use crate::sandbox::bindings::{v3, wit, wit_root};
use crate::sandbox::contract::frozen::frozen;
use crate::sandbox::root::{Lent, MAX_READ};

use v3::sandserve::server::root as old_root;
use v3::sandserve::server::types as old;

pub type Request = old::Request;
pub type Response = old::Response;

pub fn request(request: &wit::Request) -> Request {
    old::Request {
        head: request.head.clone(),
        peer: peer(&request.peer),
        index_on_connection: request.index_on_connection,
        received: old::Instant {
            seconds: request.received.seconds,
            nanoseconds: request.received.nanoseconds,
        },
        policy: policy(&request.policy),
    }
}

frozen!(old);

impl old::Host for Lent {}

impl old_root::Host for Lent {
    fn max_read(&mut self) -> u64 {
        MAX_READ
    }

    fn stat(&mut self, path: String) -> Result<old_root::Metadata, old_root::Error> {
        wit_root::Host::stat(self, path)
            .map(metadata)
            .map_err(error)
    }

    fn list(&mut self, path: String, max: u32) -> Result<old_root::Listing, old_root::Error> {
        let listing = wit_root::Host::list(self, path, max).map_err(error)?;
        Ok(old_root::Listing {
            entries: listing
                .entries
                .into_iter()
                .map(|entry| old_root::Entry {
                    name: entry.name,
                    metadata: metadata(entry.metadata),
                })
                .collect(),
            truncated: listing.truncated,
        })
    }

    fn read(&mut self, path: String, offset: u64, length: u64) -> Result<Vec<u8>, old_root::Error> {
        wit_root::Host::read(self, path, offset, length).map_err(error)
    }
}

fn metadata(m: wit_root::Metadata) -> old_root::Metadata {
    old_root::Metadata {
        kind: match m.kind {
            wit_root::Kind::File => old_root::Kind::File,
            wit_root::Kind::Directory => old_root::Kind::Directory,
            wit_root::Kind::Other => old_root::Kind::Other,
        },
        size: m.size,
        modified: m.modified.map(|t| old::Instant {
            seconds: t.seconds,
            nanoseconds: t.nanoseconds,
        }),
    }
}

fn error(e: wit_root::Error) -> old_root::Error {
    use old_root::Error as Old;
    use wit_root::Error as New;
    match e {
        New::NotFound => Old::NotFound,
        New::NotADirectory => Old::NotADirectory,
        New::NotAFile => Old::NotAFile,
        New::OutsideRoot => Old::OutsideRoot,
        New::InvalidPath => Old::InvalidPath,
        New::AccessDenied => Old::AccessDenied,
        New::TooLarge => Old::TooLarge,
        New::Io => Old::Io,
    }
}
