//! A `sandserve:server@0.4.0` handler: its request, looks and answers converted from
//! and to the current contract's (0.4.0 has no compressed forms: no `policy.compress`,
//! no `compressed` look or call, no `file-range.coding`), its calls and looks made by
//! the same loop as the current one's, and its `root` import answered by the current
//! one's.

use wasmtime::Store;
use wasmtime::component::TypedFunc;

use crate::sandbox::bindings::{v4, wit, wit_root};
use crate::sandbox::contract::frozen::{frozen, frozen_root};
use crate::sandbox::contract::looks::{self, Called, Looker};
use crate::sandbox::store::Sandbox;

use v4::exports::sandserve::server::handler as old_handler;
use v4::sandserve::server::root as old_root;
use v4::sandserve::server::types as old;

pub type Request = old::Request;
pub type Seen = old_root::Seen;
pub type Answer = old_handler::Answer;

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
        protocol: match request.protocol {
            wit::Protocol::Http1 => old::Protocol::Http1,
            wit::Protocol::Http2 => old::Protocol::Http2,
        },
    }
}

/// A 0.4.0 handler's calls for one request, through the current contract's loop.
pub async fn run(
    handle: wasmtime::component::Func,
    store: &mut Store<Sandbox>,
    request: &wit::Request,
    prelook: bool,
) -> wasmtime::Result<wit::Response> {
    let looker = Old {
        handle,
        request: self::request(request),
    };
    looks::calls(&looker, store, request, prelook).await
}

/// A 0.4.0 handler, and its request as 0.4.0 says it.
struct Old {
    handle: wasmtime::component::Func,
    request: Request,
}

impl Looker for Old {
    async fn call(&self, store: &mut Store<Sandbox>, seen: &[wit_root::Seen]) -> Called {
        // SAFETY: `Pre::new` checked this export's parameter and result types against
        // these very Rust types, for the component every instance of it comes from.
        let handle =
            unsafe { TypedFunc::<(&Request, &[Seen]), (Answer,)>::new_unchecked(self.handle) };
        let seen: Vec<Seen> = seen.iter().filter_map(self::seen).collect();
        let (answer,) = handle.call_async(store, (&self.request, &seen)).await?;
        Ok(match answer {
            Answer::Response(r) => Ok(response(r)),
            Answer::Look(looks) => Err(looks.into_iter().map(look).collect()),
        })
    }
}

fn look(look: old_root::Look) -> wit_root::Look {
    match look {
        old_root::Look::Stat(path) => wit_root::Look::Stat(path),
        old_root::Look::List(a) => wit_root::Look::List(wit_root::ListArgs {
            path: a.path,
            max: a.max,
        }),
        old_root::Look::Read(a) => wit_root::Look::Read(wit_root::ReadArgs {
            path: a.path,
            offset: a.offset,
            length: a.length,
        }),
    }
}

/// A look and what it found, as 0.4.0 says them (`None` for a compressed form, which
/// a 0.4.0 handler cannot have asked for).
fn seen(s: &wit_root::Seen) -> Option<Seen> {
    let (look, found) = match (&s.look, &s.found) {
        (wit_root::Look::Stat(path), wit_root::Found::Stat(found)) => (
            old_root::Look::Stat(path.clone()),
            old_root::Found::Stat((*found).map(metadata).map_err(error)),
        ),
        (wit_root::Look::List(a), wit_root::Found::List(found)) => (
            old_root::Look::List(old_root::ListArgs {
                path: a.path.clone(),
                max: a.max,
            }),
            old_root::Found::List(found.clone().map(listing).map_err(error)),
        ),
        (wit_root::Look::Read(a), wit_root::Found::Read(found)) => (
            old_root::Look::Read(old_root::ReadArgs {
                path: a.path.clone(),
                offset: a.offset,
                length: a.length,
            }),
            old_root::Found::Read(found.clone().map_err(error)),
        ),
        _ => return None,
    };
    Some(Seen { look, found })
}

frozen!(old);
frozen_root!(old_root, old);
