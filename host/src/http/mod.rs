//! HTTP/1.1 as the host reads it, before any handler: the request head's syntax
//! (RFC 9112: line, fields, framing, refusals) and the token and whitespace rules.
//! Uses only `net`'s primitives, if any.

pub mod request;
pub mod syntax;
