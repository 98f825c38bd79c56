//! A `sandserve:server@0.3.0` handler: its request and answer converted from and to the
//! current contract's (0.3.0 has no `protocol`, and answers in one call), and its
//! `root` import answered by the current one's, whose functions are the same.

use crate::sandbox::bindings::{v3, wit};
use crate::sandbox::contract::frozen::{frozen, frozen_root};

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
frozen_root!(old_root, old);
