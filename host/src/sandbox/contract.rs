//! Which contract a handler was built against — `sandserve:server@0.3.0` or the frozen
//! 0.2.0 — and the one call that works for both: the rest of the host speaks 0.3.0, and
//! a 0.2.0 handler's request and answer are converted here (0.2.0 has no `received`;
//! otherwise the values are the same).

use anyhow::Result;
use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, Func, InstancePre, TypedFunc};

use crate::sandbox::bindings::{v2, wit};
use crate::sandbox::store::Sandbox;

/// The export a 0.2.0 handler has; anything else is tried as 0.3.0.
const V2_EXPORT: &str = "sandserve:server/handler@0.2.0";
const V3_EXPORT: &str = "sandserve:server/handler@0.3.0";

/// A pre-linked handler of either contract.
pub struct Pre {
    world: World,
    pre: InstancePre<Sandbox>,
    /// Where `handle` is among the component's exports, found once here: an instance
    /// then takes the function by index, without looking it up by name.
    handle: ComponentExportIndex,
    /// It imports WASI, so each of its stores needs a context and the preopen.
    pub wasi: bool,
}

#[derive(Clone, Copy)]
enum World {
    V3,
    V2,
}

/// An instance of a handler of either contract: its `handle` export.
pub struct Instance {
    world: World,
    handle: Func,
}

impl Pre {
    /// Picks the contract by the component's export and checks the export's types —
    /// once, here: every instance of `pre` has these very types, so an instance's call
    /// goes through `TypedFunc::new_unchecked` instead of checking them again (what the
    /// generated `instantiate` does for every instance).
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
        let (world, interface) = if v2 {
            (World::V2, V2_EXPORT)
        } else {
            (World::V3, V3_EXPORT)
        };
        // The look-ups the generated `SandservePre::new` makes, with its messages; it
        // checks no types (the generated code leaves that to every instance).
        let export = component
            .get_export_index(None, interface)
            .ok_or_else(|| wasmtime::format_err!("no exported instance named `{interface}`"))?;
        let (item, handle) = component
            .get_export(Some(&export), "handle")
            .ok_or_else(|| {
                wasmtime::format_err!("instance export `{interface}` does not have export `handle`")
            })?;
        // The check `get_typed_func` would make at every instance, made once: the
        // parameter and result types against the Rust types `Instance::handle` lowers
        // and lifts. Without it `TypedFunc::new_unchecked` would be unsound — release
        // builds check primitive types only in debug assertions.
        let ComponentItem::ComponentFunc(func) = item else {
            return Err(wasmtime::format_err!(
                "`{interface}#handle` is not a function"
            ));
        };
        let checked = match world {
            World::V3 => func.typecheck::<(&wit::Request,), (wit::Response,)>(&pre.instance_type()),
            World::V2 => func.typecheck::<(&V2,), (V2Response,)>(&pre.instance_type()),
        };
        checked.map_err(|e| e.context(format!("type-checking `{interface}#handle`")))?;
        Ok(Pre {
            world,
            pre,
            handle,
            wasi,
        })
    }

    /// The contract's package version, for status and logs.
    pub fn version(&self) -> &'static str {
        match self.world {
            World::V3 => "0.3.0",
            World::V2 => "0.2.0",
        }
    }

    /// Whether `instantiate` runs the start functions synchronously: a handler without
    /// WASI imports has no async import (our `root` is synchronous), so its start
    /// functions (wit-component's fixup module has one) can run on this thread instead
    /// of on a fiber, which saves a fiber's switches per request. Handlers with WASI
    /// keep the async path, where the start may await.
    pub fn starts_synchronously(&self) -> bool {
        !self.wasi
    }

    /// A fresh instance in `store`, synchronously where it can. A synchronous start
    /// cannot yield at the epoch's second tick as a call does: `Sandbox::starting`
    /// makes that tick a trap instead (see `Invoker::store`), and the caller may try
    /// again with `instantiate_async`.
    pub async fn instantiate(&self, store: &mut Store<Sandbox>) -> wasmtime::Result<Instance> {
        if !self.starts_synchronously() {
            return self.instantiate_async(store).await;
        }
        store.data_mut().starting = true;
        let instance = self.pre.instantiate(&mut *store);
        store.data_mut().starting = false;
        self.handle(store, instance?)
    }

    /// A fresh instance in `store`, its start functions on a fiber.
    pub async fn instantiate_async(
        &self,
        store: &mut Store<Sandbox>,
    ) -> wasmtime::Result<Instance> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        self.handle(store, instance)
    }

    fn handle(
        &self,
        store: &mut Store<Sandbox>,
        instance: wasmtime::component::Instance,
    ) -> wasmtime::Result<Instance> {
        let handle = instance
            .get_func(&mut *store, self.handle)
            .ok_or_else(|| wasmtime::format_err!("the instance has no `handle` export"))?;
        Ok(Instance {
            world: self.world,
            handle,
        })
    }
}

impl Instance {
    pub async fn handle(
        &self,
        store: &mut Store<Sandbox>,
        request: &wit::Request,
    ) -> Result<wit::Response, wasmtime::Error> {
        // SAFETY (both arms): `Pre::new` checked this export's parameter and result
        // types against these very Rust types, for the component every instance of it
        // comes from.
        match self.world {
            World::V3 => {
                let handle = unsafe {
                    TypedFunc::<(&wit::Request,), (wit::Response,)>::new_unchecked(self.handle)
                };
                Ok(handle.call_async(store, (request,)).await?.0)
            }
            World::V2 => {
                let handle =
                    unsafe { TypedFunc::<(&V2,), (V2Response,)>::new_unchecked(self.handle) };
                let (response,) = handle.call_async(store, (&to_v2(request),)).await?;
                Ok(from_v2(response))
            }
        }
    }
}

type V2Response = v2::exports::sandserve::server::handler::Response;
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

fn from_v2(response: V2Response) -> wit::Response {
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
