//! Which contract a handler was built against — `sandserve:server@0.5.0`, or the frozen
//! 0.4.0, 0.3.0 or 0.2.0 — and the one call that works for all: the rest of the host
//! speaks 0.5.0; an older handler's request and answer are converted (`v4`, `v3`,
//! `v2`), and a looking handler's looks are made between its calls (`looks`).

use anyhow::Result;
use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, Func, InstancePre, TypedFunc};

use crate::sandbox::bindings::{wit, wit_root};
use crate::sandbox::store::Sandbox;

mod frozen;
pub mod looks;
mod v2;
mod v3;
mod v4;

/// The export of each contract, newest first; a component with none of them is tried
/// as the newest (and refused with its message).
const EXPORTS: [(World, &str); 4] = [
    (World::V5, "sandserve:server/handler@0.5.0"),
    (World::V4, "sandserve:server/handler@0.4.0"),
    (World::V3, "sandserve:server/handler@0.3.0"),
    (World::V2, "sandserve:server/handler@0.2.0"),
];

/// A pre-linked handler of any contract.
pub struct Pre {
    world: World,
    pre: InstancePre<Sandbox>,
    /// Where `handle` is among the component's exports, found once here: an instance
    /// then takes the function by index, without looking it up by name.
    handle: ComponentExportIndex,
    /// It imports WASI, so each of its stores needs a context and the preopen.
    pub wasi: bool,
    /// A looking handler (0.4.0 or later) that imports neither `root` nor WASI: it can
    /// only look, so the host looks at the request's target before its first call.
    prelook: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum World {
    V5,
    V4,
    V3,
    V2,
}

/// An instance of a handler of any contract: its `handle` export.
pub struct Instance {
    world: World,
    handle: Func,
    prelook: bool,
}

impl Pre {
    /// Picks the contract by the component's export and checks the export's types —
    /// once, here: every instance of `pre` has these very types, so an instance's call
    /// goes through `TypedFunc::new_unchecked` instead of checking them again (what the
    /// generated `instantiate` does for every instance).
    pub fn new(component: &Component, pre: InstancePre<Sandbox>) -> wasmtime::Result<Pre> {
        let engine = component.engine();
        let ty = component.component_type();
        let (world, interface) = EXPORTS
            .into_iter()
            .find(|(_, name)| ty.exports(engine).any(|(export, _)| export == *name))
            .unwrap_or(EXPORTS[0]);
        let wasi = ty
            .imports(engine)
            .any(|(name, _)| name.starts_with("wasi:"));
        // A handler that only looks still imports `root` for its types: what counts is
        // whether it imports any of its functions.
        let root = ty.imports(engine).any(|(name, item)| {
            name.starts_with("sandserve:server/root@")
                && matches!(item.ty, ComponentItem::ComponentInstance(root)
                    if root.exports(engine).any(|(_, f)| matches!(f.ty, ComponentItem::ComponentFunc(_))))
        });
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
        let types = pre.instance_type();
        let checked = match world {
            World::V5 => {
                func.typecheck::<(&wit::Request, &[wit_root::Seen]), (looks::Answer,)>(&types)
            }
            World::V4 => func.typecheck::<(&v4::Request, &[v4::Seen]), (v4::Answer,)>(&types),
            World::V3 => func.typecheck::<(&v3::Request,), (v3::Response,)>(&types),
            World::V2 => func.typecheck::<(&v2::Request,), (v2::Response,)>(&types),
        };
        checked.map_err(|e| e.context(format!("type-checking `{interface}#handle`")))?;
        Ok(Pre {
            world,
            pre,
            handle,
            wasi,
            prelook: matches!(world, World::V5 | World::V4) && !wasi && !root,
        })
    }

    /// The contract's package version, for status and logs.
    pub fn version(&self) -> &'static str {
        match self.world {
            World::V5 => "0.5.0",
            World::V4 => "0.4.0",
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
            prelook: self.prelook,
        })
    }
}

impl Instance {
    /// The handler's response to `request`: one call, or for 0.4.0 and later as many as
    /// its looks take.
    pub async fn handle(
        &self,
        store: &mut Store<Sandbox>,
        request: &wit::Request,
    ) -> Result<wit::Response, wasmtime::Error> {
        // SAFETY (the older arms; `looks::run` and `v4::run` for the others): `Pre::new` checked this
        // export's parameter and result types against these very Rust types, for the
        // component every instance of it comes from.
        match self.world {
            World::V5 => looks::run(self.handle, store, request, self.prelook).await,
            World::V4 => v4::run(self.handle, store, request, self.prelook).await,
            World::V3 => {
                let handle = unsafe {
                    TypedFunc::<(&v3::Request,), (v3::Response,)>::new_unchecked(self.handle)
                };
                let (response,) = handle.call_async(store, (&v3::request(request),)).await?;
                Ok(v3::response(response))
            }
            World::V2 => {
                let handle = unsafe {
                    TypedFunc::<(&v2::Request,), (v2::Response,)>::new_unchecked(self.handle)
                };
                let (response,) = handle.call_async(store, (&v2::request(request),)).await?;
                Ok(v2::response(response))
            }
        }
    }
}
