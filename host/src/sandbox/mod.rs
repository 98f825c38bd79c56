//! One request's decision inside WebAssembly: the engine configured once, compiled
//! handlers cached, the WIT bindings and both contracts, a fresh store (`store`) and
//! instance per call under two deadlines (`invoke`), the root lent to it (`root`), and
//! its answer checked (`response`) and its body planned (`plan`) — `decide` is the
//! step that chains them. May use `observe`, `http` and `net`.

pub mod bindings;
pub mod cache;
pub mod contract;
pub mod decide;
pub mod engine;
pub mod invoke;
pub mod output;
pub mod plan;
pub mod response;
pub mod root;
pub mod store;
