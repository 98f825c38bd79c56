//! The handler versions of each slot: which one is live (`live`), the checked swap to
//! a new one with its shadow replay (`swap`, `compare`), and the slots by URL prefix
//! (`mount`). May use `sandbox` and everything below it.

pub mod compare;
pub mod live;
pub mod mount;
pub mod swap;
