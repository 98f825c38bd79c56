//! Which contract a handler was built against — `sandserve:server@0.3.0` or the frozen
//! 0.2.0 — and the one call that works for both: the rest of the host speaks 0.3.0, and
//! a 0.2.0 handler's request and answer are converted here (0.2.0 has no `received`;
//! otherwise the values are the same).

use anyhow::Result;
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use crate::sandbox::bindings::{v2, v3, wit};
use crate::sandbox::store::Sandbox;

/// The export a 0.2.0 handler has; anything else is tried as 0.3.0.
const V2_EXPORT: &str = "sandserve:server/handler@0.2.0";

/// A pre-linked handler of either contract.
pub struct Pre {
    world: World,
    /// It imports WASI, so each of its stores needs a context and the preopen.
    pub wasi: bool,
}

enum World {
    V3(v3::SandservePre<Sandbox>),
    V2(v2::SandservePre<Sandbox>),
}

/// An instance of a handler of either contract.
pub enum Instance {
    V3(v3::Sandserve),
    V2(v2::Sandserve),
}

impl Pre {
    /// Picks the contract by the component's export and checks the export's types.
    pub fn new(component: &Component, pre: InstancePre<Sandbox>) -> wasmtime::Result<Pre> {
        let engine = component.engine();
        let v2 = component
            .component_type()
            .exports(engine)
            .any(|(name, _)| name == V2_EXPORT);
        let wasi = component
            .component_type()
            .imports(engine)
            .any(|(name, _)| name.starts_with("wasi:"));
        let world = if v2 {
            World::V2(v2::SandservePre::new(pre)?)
        } else {
            World::V3(v3::SandservePre::new(pre)?)
        };
        Ok(Pre { world, wasi })
    }

    /// The contract's package version, for status and logs.
    pub fn version(&self) -> &'static str {
        match self.world {
            World::V3(_) => "0.3.0",
            World::V2(_) => "0.2.0",
        }
    }

    pub async fn instantiate(&self, store: &mut Store<Sandbox>) -> wasmtime::Result<Instance> {
        Ok(match &self.world {
            World::V3(pre) => Instance::V3(pre.instantiate_async(store).await?),
            World::V2(pre) => Instance::V2(pre.instantiate_async(store).await?),
        })
    }
}

impl Instance {
    pub async fn handle(
        &self,
        store: &mut Store<Sandbox>,
        request: &wit::Request,
    ) -> Result<wit::Response, wasmtime::Error> {
        match self {
            Instance::V3(instance) => {
                instance
                    .sandserve_server_handler()
                    .call_handle(store, request)
                    .await
            }
            Instance::V2(instance) => {
                let response = instance
                    .sandserve_server_handler()
                    .call_handle(store, &to_v2(request))
                    .await?;
                Ok(from_v2(response))
            }
        }
    }
}

type V2 = v2::exports::sandserve::server::handler::Request;

fn to_v2(request: &wit::Request) -> V2 {
    use v2::exports::sandserve::server::handler as old;
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

fn from_v2(response: v2::exports::sandserve::server::handler::Response) -> wit::Response {
    use v2::exports::sandserve::server::handler as old;
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
