//! The tools for handler authors, outside a running server: `check` (a conformance
//! suite), `diff` (two handlers on the same requests), `lab` (running handlers without
//! a server, for both), `new` (a handler project) and `wit` (the contract). May use
//! everything but `admin`.

pub mod check;
pub mod diff;
pub mod lab;
pub mod new;
pub mod wit;
