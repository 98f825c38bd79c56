//! How a handler call ends without an answer: a trap or error of the handler, its
//! wall-clock deadline, or no free instance — told apart for the metrics, the access
//! log and whether it counts against the version.

/// A failed call as one log line: what went wrong (`interrupt` for a deadline,
/// `unreachable` for a panic, the refused memory growth) without the wasm backtrace
/// that wasmtime puts in front of it over several lines; the trap kept for the metrics.
pub(super) fn one_line(error: wasmtime::Error) -> anyhow::Error {
    let trap = error.downcast_ref::<wasmtime::Trap>().copied();
    let text = match trap {
        Some(trap) => format!("the handler failed: {trap}"),
        None => format!("the handler failed: {}", error.root_cause()),
    };
    failed(Cause::Failed(trap), text)
}

pub(super) fn failed(cause: Cause, text: String) -> anyhow::Error {
    anyhow::Error::new(CallFailed { cause, text })
}

/// Why a call gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The handler failed: a trap (`Trap::Interrupt`: its running code met the epoch
    /// deadline), or an error from its instantiation or call.
    Failed(Option<wasmtime::Trap>),
    /// The wall-clock deadline dropped a call that was still awaiting something.
    Deadline,
    /// No instance was free within `--instance-wait`: the server's doing, not the
    /// handler's.
    Busy,
}

/// A handler call that failed: its one-line account, and why.
#[derive(Debug)]
pub struct CallFailed {
    pub cause: Cause,
    text: String,
}

impl CallFailed {
    /// Stopped by either deadline.
    pub fn timed_out(&self) -> bool {
        matches!(
            self.cause,
            Cause::Deadline | Cause::Failed(Some(wasmtime::Trap::Interrupt))
        )
    }
}

/// Why `error` (from `Invoker::call`) came, if the call itself failed.
pub fn cause(error: &anyhow::Error) -> Option<&CallFailed> {
    error.downcast_ref::<CallFailed>()
}

impl std::fmt::Display for CallFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for CallFailed {}
