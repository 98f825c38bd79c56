//! The WIT glue, and the only module that sees the generated bindings: converts the
//! WIT request into plain values, calls `handler::handle`, converts the answer back.

use std::time::SystemTime;

use exports::sandserve::server::handler as wit;

use crate::{Body, Chunk, DirRoot, FileRange, Policy, Response};

wit_bindgen::generate!({
    path: "../wit",
    world: "sandserve",
});

struct Component;

impl wit::Guest for Component {
    fn handle(request: wit::Request) -> wit::Response {
        let policy = Policy {
            min_user_agent_len: request.policy.min_user_agent_len,
            serve_dotfiles: request.policy.serve_dotfiles,
            server_name: request.policy.server_name,
        };
        let response = crate::handle(
            &request.head,
            &policy,
            &DirRoot::sandbox(),
            SystemTime::now(),
        );
        to_wit(response)
    }
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
