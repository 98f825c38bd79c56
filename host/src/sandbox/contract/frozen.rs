//! What every frozen contract converts alike: its policy, peer and answer have the
//! current contract's fields under the generated types of another package version, so
//! one macro writes those conversions for each (`v4`, `v3`, `v2`); and the `root`
//! import of those that have one (`v4`, `v3`) is the current one's, converted.

/// `policy`, `peer` and `response` conversions between the current contract and the
/// frozen one whose generated types are the module `$old`.
macro_rules! frozen {
    ($old:ident) => {
        fn policy(p: &crate::sandbox::bindings::wit::Policy) -> $old::Policy {
            $old::Policy {
                min_user_agent_len: p.min_user_agent_len,
                serve_dotfiles: p.serve_dotfiles,
                server_name: p.server_name.clone(),
                cache_control: p
                    .cache_control
                    .iter()
                    .map(|rule| $old::CacheRule {
                        pattern: rule.pattern.clone(),
                        value: rule.value.clone(),
                    })
                    .collect(),
                extra_headers: p.extra_headers.clone(),
                list_dirs: p.list_dirs,
                fallback: p.fallback.clone(),
            }
        }

        fn peer(p: &crate::sandbox::bindings::wit::Peer) -> $old::Peer {
            $old::Peer {
                ip: p.ip.clone(),
                port: p.port,
            }
        }

        pub fn response(response: $old::Response) -> crate::sandbox::bindings::wit::Response {
            use crate::sandbox::bindings::wit;
            let range = |r: $old::FileRange| wit::FileRange {
                path: r.path,
                offset: r.offset,
                length: r.length,
                coding: None,
            };
            let body = match response.body {
                $old::Body::Empty => wit::Body::Empty,
                $old::Body::Bytes(bytes) => wit::Body::Bytes(bytes),
                $old::Body::File(r) => wit::Body::File(range(r)),
                $old::Body::Chunks(chunks) => wit::Body::Chunks(
                    chunks
                        .into_iter()
                        .map(|chunk| match chunk {
                            $old::Chunk::Bytes(bytes) => wit::Chunk::Bytes(bytes),
                            $old::Chunk::File(r) => wit::Chunk::File(range(r)),
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
    };
}

/// The frozen `root` import `$old_root` (of types `$old`), answered by the current
/// one's functions, whose results have the same fields; and the conversions of its
/// metadata, listing and error.
macro_rules! frozen_root {
    ($old_root:ident, $old:ident) => {
        impl $old::Host for crate::sandbox::root::Lent {}

        impl $old_root::Host for crate::sandbox::root::Lent {
            fn max_read(&mut self) -> u64 {
                crate::sandbox::root::MAX_READ
            }

            fn stat(&mut self, path: String) -> Result<$old_root::Metadata, $old_root::Error> {
                crate::sandbox::bindings::wit_root::Host::stat(self, path)
                    .map(metadata)
                    .map_err(error)
            }

            fn list(
                &mut self,
                path: String,
                max: u32,
            ) -> Result<$old_root::Listing, $old_root::Error> {
                crate::sandbox::bindings::wit_root::Host::list(self, path, max)
                    .map(listing)
                    .map_err(error)
            }

            fn read(
                &mut self,
                path: String,
                offset: u64,
                length: u64,
            ) -> Result<Vec<u8>, $old_root::Error> {
                crate::sandbox::bindings::wit_root::Host::read(self, path, offset, length)
                    .map_err(error)
            }
        }

        fn listing(l: crate::sandbox::bindings::wit_root::Listing) -> $old_root::Listing {
            $old_root::Listing {
                entries: l
                    .entries
                    .into_iter()
                    .map(|entry| $old_root::Entry {
                        name: entry.name,
                        metadata: metadata(entry.metadata),
                    })
                    .collect(),
                truncated: l.truncated,
            }
        }

        fn metadata(m: crate::sandbox::bindings::wit_root::Metadata) -> $old_root::Metadata {
            use crate::sandbox::bindings::wit_root::Kind;
            $old_root::Metadata {
                kind: match m.kind {
                    Kind::File => $old_root::Kind::File,
                    Kind::Directory => $old_root::Kind::Directory,
                    Kind::Other => $old_root::Kind::Other,
                },
                size: m.size,
                modified: m.modified.map(|t| $old::Instant {
                    seconds: t.seconds,
                    nanoseconds: t.nanoseconds,
                }),
            }
        }

        fn error(e: crate::sandbox::bindings::wit_root::Error) -> $old_root::Error {
            use crate::sandbox::bindings::wit_root::Error as New;
            use $old_root::Error as Old;
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
    };
}

pub(crate) use {frozen, frozen_root};
