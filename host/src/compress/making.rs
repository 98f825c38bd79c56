//! The forms being made, and those that failed: so that a form is made once at a time,
//! the queue is bounded by count and by bytes, a failure is not retried at every
//! request, and a request that goes away (a deadline, a reset stream) gives its claim
//! back — a claim is released when it is dropped, wherever that happens.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::compress::store::Key;

/// Most forms being made or waiting for a job at once.
pub const MAX_PENDING: usize = 256;
/// Most bytes of source files being made or waiting for a job at once (each holds its
/// file's descriptor until it is made).
pub const MAX_PENDING_BYTES: u64 = 64 << 20;
/// Failures remembered (then forgotten all at once): a file whose form failed, or had
/// no room, is sent as it is without trying again until it changes or this fills.
const MAX_FAILED: usize = 4096;

#[derive(Default)]
pub struct Making {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pending: HashMap<Key, u64>,
    bytes: u64,
    failed: HashSet<Key>,
}

/// A form being made; dropped, it is not any more.
pub struct Claim {
    making: Arc<Making>,
    key: Key,
}

impl Making {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims `key` (a source of `bytes`) for making, unless it is being made, failed
    /// before, or the queue is full.
    pub fn claim(self: &Arc<Self>, key: Key, bytes: u64) -> Option<Claim> {
        let mut inner = self.lock();
        let full = inner.pending.len() >= MAX_PENDING || inner.bytes + bytes > MAX_PENDING_BYTES;
        if full || inner.failed.contains(&key) || inner.pending.contains_key(&key) {
            return None;
        }
        inner.pending.insert(key, bytes);
        inner.bytes += bytes;
        Some(Claim {
            making: self.clone(),
            key,
        })
    }

    pub fn failed(&self, key: &Key) -> bool {
        self.lock().failed.contains(key)
    }

    /// Forms being made or waiting, now.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }
}

impl Claim {
    /// The form could not be made (or kept): not tried again for a while.
    pub fn failed(&self) {
        let mut inner = self.making.lock();
        if inner.failed.len() >= MAX_FAILED {
            inner.failed.clear();
        }
        inner.failed.insert(self.key);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut inner = self.making.lock();
        if let Some(bytes) = inner.pending.remove(&self.key) {
            inner.bytes -= bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_given_back_when_dropped_and_bounds_hold() {
        let making = Arc::new(Making::default());
        let claim = making.claim([1; 16], 10).unwrap();
        assert!(making.claim([1; 16], 10).is_none(), "made once at a time");
        drop(claim);
        assert_eq!(making.pending(), 0);
        let claim = making.claim([1; 16], 10).unwrap();
        claim.failed();
        drop(claim);
        assert!(
            making.claim([1; 16], 10).is_none(),
            "a failure is remembered"
        );
        assert!(
            making.claim([2; 16], MAX_PENDING_BYTES + 1).is_none(),
            "bytes bound"
        );
        let making = Arc::new(Making::default());
        let key = |i: usize| {
            let mut key = [9; 16];
            key[..8].copy_from_slice(&i.to_le_bytes());
            key
        };
        let claims: Vec<_> = (0..MAX_PENDING).map(|i| making.claim(key(i), 1)).collect();
        assert!(claims.iter().all(Option::is_some));
        assert!(making.claim(key(MAX_PENDING), 1).is_none(), "count bound");
    }
}
