//! A `sandserve:server@0.2.0` handler's request and answer, converted from and to the
//! current contract's (0.2.0 has no `received` and no `protocol`; otherwise the values
//! are the same).

use crate::sandbox::bindings::{v2, wit};
use crate::sandbox::contract::frozen::frozen;

use v2::exports::sandserve::server::handler as old;

pub type Request = old::Request;
pub type Response = old::Response;

pub fn request(request: &wit::Request) -> Request {
    old::Request {
        head: request.head.clone(),
        peer: peer(&request.peer),
        index_on_connection: request.index_on_connection,
        policy: policy(&request.policy),
    }
}

frozen!(old);
