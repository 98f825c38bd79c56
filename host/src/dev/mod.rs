//! The handler author's loop: `build` (a project made a component by its language's
//! toolchain, installed into the tools cache once) and `dev` (watch, build, check,
//! replay, swap, each step timed: `session`, over `watch` and `server`). A project is a
//! folder with a `sandserve.toml` (`project`); the toolchains and their pinned versions
//! are `toolchain`. May use everything after it: the tools, the admin client, the
//! sandbox's engine settings.

pub mod build;
pub mod project;
pub mod server;
pub mod session;
pub mod toolchain;
pub mod watch;
