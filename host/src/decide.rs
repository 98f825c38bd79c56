//! The request → sandbox → checked response step, for one request and one handler
//! version: the WIT request built, the handler called in a fresh instance, its answer
//! checked and planned. Serving and the swap check's replay both go through here, so a
//! replayed request is decided exactly as a served one.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use anyhow::Result;
use cap_std::fs::Dir;

use crate::bindings::wit;
use crate::invoke::{Handler, Invoker};
use crate::request;
use crate::response::{self, Checked};

/// How a call ended when it did not give a sendable answer.
#[derive(Debug)]
pub struct Failure {
    /// The handler trapped, ran out of time or memory (not merely answered badly).
    pub trapped: bool,
    pub error: anyhow::Error,
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
    pub async fn decide(
        &self,
        handler: &Handler,
        head: &[u8],
        peer: SocketAddr,
        index: u32,
        head_request: bool,
    ) -> Result<Checked, Failure> {
        let request = request::to_request(head, peer, index, &self.policy());
        let (response, opened) = self
            .invoker
            .call(handler, &request)
            .await
            .map_err(|error| Failure {
                trapped: true,
                error,
            })?;
        response::check(response, head_request, &self.root, opened).map_err(|error| Failure {
            trapped: false,
            error,
        })
    }

    /// Instantiates `handler` once in a fresh store, as a request would, and drops it:
    /// a component whose imports or start-up fail is caught before it goes live.
    pub async fn try_instantiate(&self, handler: &Handler) -> Result<()> {
        let mut store = self.invoker.store(handler)?;
        self.invoker.instantiate(handler, &mut store).await?;
        Ok(())
    }
}
