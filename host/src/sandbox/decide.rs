//! The request → sandbox → checked response step, for one request and one handler
//! version: the WIT request built, the handler called in a fresh instance, its answer
//! checked and planned. Serving and the swap check's replay both go through here, so a
//! replayed request is decided exactly as a served one.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use anyhow::Result;
use cap_std::fs::Dir;
use tokio::sync::Semaphore;

use crate::sandbox::bindings::wit;
use crate::sandbox::invoke::{Cause, Handler, Invoker};
use crate::sandbox::response::{self, Checked};

/// How a call ended when it did not give a sendable answer.
#[derive(Debug)]
pub struct Failure {
    /// The handler trapped, ran out of time or memory (not merely answered badly).
    pub trapped: bool,
    /// Stopped by a deadline (the epoch's or the wall clock's).
    pub timed_out: bool,
    /// The server could not run it (no free instance, no descriptor for its file): a
    /// 503 that says nothing of the handler, so it never counts against a version.
    pub busy: bool,
    pub error: anyhow::Error,
}

impl Failure {
    fn of(error: anyhow::Error) -> Failure {
        let cause = crate::sandbox::invoke::cause(&error).map(|f| (f.cause, f.timed_out()));
        // A store whose preopen could not be opened for lack of descriptors is the
        // server's state too.
        let busy = matches!(cause, Some((Cause::Busy, _))) || out_of_descriptors(&error);
        Failure {
            trapped: !busy,
            timed_out: cause.is_some_and(|(_, timed_out)| timed_out),
            busy,
            error,
        }
    }

    /// The answer was checked and refused (not the handler's failure to run): unless
    /// the server was out of descriptors, which is the server's state, not the answer.
    fn refused(error: anyhow::Error) -> Failure {
        Failure {
            trapped: false,
            timed_out: false,
            busy: out_of_descriptors(&error),
            error,
        }
    }
}

/// Whether `error` is the process (or system) running out of file descriptors.
fn out_of_descriptors(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(crate::net::descriptors::exhausted)
    })
}

pub struct Decider {
    invoker: Invoker,
    /// The root as a capability: files the host opens for bodies cannot leave it.
    pub root: Arc<Dir>,
    /// Replaced whole when SIGHUP re-reads the configuration (`reload`); a request uses
    /// the policy in force when it is decided.
    policy: RwLock<Arc<wit::Policy>>,
}

impl Decider {
    pub fn new(invoker: Invoker, root: Arc<Dir>, policy: wit::Policy) -> Decider {
        Decider {
            invoker,
            root,
            policy: RwLock::new(Arc::new(policy)),
        }
    }

    pub fn policy(&self) -> Arc<wit::Policy> {
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_policy(&self, policy: wit::Policy) {
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
    }

    /// The checked answer of `handler` to one head that `request::check` passed.
    /// `quota`: the slot's instances in flight.
    pub async fn decide(
        &self,
        handler: &Handler,
        quota: &Semaphore,
        head: &[u8],
        client: Client,
        head_request: bool,
    ) -> Result<Checked, Failure> {
        let request = to_request(head, client, &self.policy());
        let (response, opened) = self
            .invoker
            .call(handler, quota, &request)
            .await
            .map_err(Failure::of)?;
        response::check(response, head_request, &self.root, opened).map_err(Failure::refused)
    }

    /// Instantiates `handler` once in a fresh store, as a request would, and drops it:
    /// a component whose imports or start-up fail is caught before it goes live.
    pub async fn try_instantiate(&self, handler: &Handler) -> Result<()> {
        self.invoker.try_instantiate(handler).await
    }
}

/// Where a request came from, beside its head: the peer, its place on the connection
/// and the protocol the client spoke (the head is HTTP/1.x whatever it was).
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub peer: SocketAddr,
    pub index: u32,
    pub protocol: wit::Protocol,
}

impl Client {
    /// An HTTP/1.x request.
    pub fn http1(peer: SocketAddr, index: u32) -> Client {
        Client {
            peer,
            index,
            protocol: wit::Protocol::Http1,
        }
    }
}

/// The WIT request for one raw head.
pub fn to_request(head: &[u8], client: Client, policy: &wit::Policy) -> wit::Request {
    wit::Request {
        head: head.to_vec(),
        peer: wit::Peer {
            ip: client.peer.ip().to_string(),
            port: client.peer.port(),
        },
        index_on_connection: client.index,
        received: now(),
        policy: policy.clone(),
        protocol: client.protocol,
    }
}

fn now() -> wit::Instant {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    wit::Instant {
        seconds: since.as_secs(),
        nanoseconds: since.subsec_nanos(),
    }
}
