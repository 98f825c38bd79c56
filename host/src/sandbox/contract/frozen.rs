//! What every frozen contract converts alike: its policy, peer and answer have the
//! current contract's fields under the generated types of another package version, so
//! one macro writes those conversions for each (`v3`, `v2`).

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

pub(crate) use frozen;
