//! What the server records of itself: the access log, the recording of request heads
//! (`--record`), both written off the request path (`lines`), the metrics, and the
//! server's own messages. May use `http` (to name a request) and `net`.

pub mod access;
pub mod lines;
pub mod logging;
pub mod metrics;
pub mod record;
