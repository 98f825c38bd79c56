//! The settings: the command line (`cli`), `SANDSERVE_*` variables and the `--config`
//! file merged through clap (`layers`, `file`, `keys`, `units`) into one checked
//! `Config`, with HTTP/2's limits apart (`http2`). May use `versions`, `sandbox` and below (for their limits and defaults).

pub mod cli;
pub mod compress;
pub mod config;
pub mod file;
pub mod http2;
pub mod keys;
pub mod layers;
pub mod units;
