//! A `sandserve:server@0.2.0` handler's request and answer, converted from and to the
//! current contract's (0.2.0 has no `received` and no `protocol`; otherwise the values
//! are the same).

use crate::sandbox::bindings::{v2, wit};

use v2::exports::sandserve::server::handler as old;

pub type Request = old::Request;
pub type Response = old::Response;

pub fn request(request: &wit::Request) -> Request {
    let p = &request.policy;
    old::Request {
        head: request.head.clone(),
        peer: old::Peer {
            ip: request.peer.ip.clone(),
            port: request.peer.port,
        },
        index_on_connection: request.index_on_connection,
        policy: old::Policy {
            min_user_agent_len: p.min_user_agent_len,
            serve_dotfiles: p.serve_dotfiles,
            server_name: p.server_name.clone(),
            cache_control: p
                .cache_control
                .iter()
                .map(|rule| old::CacheRule {
                    pattern: rule.pattern.clone(),
                    value: rule.value.clone(),
                })
                .collect(),
            extra_headers: p.extra_headers.clone(),
            list_dirs: p.list_dirs,
            fallback: p.fallback.clone(),
        },
    }
}

pub fn response(response: Response) -> wit::Response {
    let range = |r: old::FileRange| wit::FileRange {
        path: r.path,
        offset: r.offset,
        length: r.length,
    };
    let body = match response.body {
        old::Body::Empty => wit::Body::Empty,
        old::Body::Bytes(bytes) => wit::Body::Bytes(bytes),
        old::Body::File(r) => wit::Body::File(range(r)),
        old::Body::Chunks(chunks) => wit::Body::Chunks(
            chunks
                .into_iter()
                .map(|chunk| match chunk {
                    old::Chunk::Bytes(bytes) => wit::Chunk::Bytes(bytes),
                    old::Chunk::File(r) => wit::Chunk::File(range(r)),
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
