//! A head the host will not pass on: the status it answers with and why.

/// Why a head was refused: the status the host answers with, and a reason for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
}

pub(super) const fn bad(reason: &'static str) -> Refusal {
    Refusal {
        status: 400,
        reason,
    }
}
