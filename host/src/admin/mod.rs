//! The admin channel: the Unix-socket (and `--metrics` TCP) server (`channel`) and the
//! client behind `sandserve swap|rollback|status` (`control`). May use `server` and
//! everything below it.

pub mod channel;
pub mod control;
