//! The live handler: the version each new request is decided by, the versions kept
//! for rollback, each version's counters, the ring of recent request heads that a swap
//! replays, and the watch after a swap that rolls back on its own.
//!
//! A request takes the live version once, when it begins (an `Arc` clone under a read
//! lock), and is decided wholly by it; a swap replaces the pointer, so requests in
//! flight finish on the version they started with, and a version's compiled code is
//! released when the last request holding it ends and no rollback keeps it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::sandbox::decide::Client;
use crate::sandbox::invoke::Handler;

/// The short form of a version's hash, for text: its first 12 characters.
pub fn short(sha: &str) -> &str {
    sha.char_indices().nth(12).map_or(sha, |(at, _)| &sha[..at])
}

/// One handler version: its compiled code and what is known of it.
pub struct Version {
    pub handler: Handler,
    /// Hex SHA-256 of the component's bytes.
    pub sha256: String,
    /// Where it came from: `built-in`, or the file's path.
    pub source: String,
    /// When it last went live.
    pub live_since: Mutex<SystemTime>,
    pub requests: AtomicU64,
    /// Answers with a 5xx status, the host's 500s for traps and bad answers included.
    pub failures: AtomicU64,
    /// Calls that trapped, ran out of time or memory.
    pub traps: AtomicU64,
}

impl Version {
    pub fn new(handler: Handler, sha256: String, source: String) -> Version {
        Version {
            handler,
            sha256,
            source,
            live_since: Mutex::new(SystemTime::now()),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            traps: AtomicU64::new(0),
        }
    }

    /// The short form of the hash, for text output.
    pub fn short(&self) -> &str {
        short(&self.sha256)
    }

    fn failure_share(&self) -> f64 {
        let requests = self.requests.load(Ordering::Relaxed);
        if requests == 0 {
            return 0.0;
        }
        self.failures.load(Ordering::Relaxed) as f64 / requests as f64
    }
}

/// A request head as it arrived, for the swap check to replay.
#[derive(Clone)]
pub struct Recent {
    pub head: Vec<u8>,
    /// Its peer, place on its connection and protocol, replayed as they were.
    pub client: Client,
    /// A HEAD request (its answer has no body), as the host's check found it.
    pub head_request: bool,
}

/// When the server swaps back on its own.
#[derive(Debug, Clone, Copy)]
pub struct RollbackRule {
    /// How long after a swap the new version is watched.
    pub window: Duration,
    /// How many of its requests it is watched for, at most.
    pub requests: u64,
    /// The share of failures (5xx, traps) that rolls it back, if the previous version
    /// stayed at or under it.
    pub threshold: f64,
}

/// Failures are judged only after this many requests: one early 500 is not a rate.
pub const MIN_WATCHED: u64 = 20;

struct Watch {
    version: Arc<Version>,
    until: Instant,
}

pub struct Live {
    current: RwLock<Arc<Version>>,
    /// Previous versions, newest last.
    previous: Mutex<Vec<Arc<Version>>>,
    keep: usize,
    recent: Mutex<VecDeque<Recent>>,
    recent_cap: usize,
    watch: Mutex<Option<Watch>>,
    /// Whether `watch` is set, so that requests outside a watch take no lock for it.
    watching: AtomicBool,
    rule: RollbackRule,
    /// The slot's handler instances in flight (`--slot-instances`), whichever version
    /// runs them: requests and a swap's replay alike.
    pub quota: tokio::sync::Semaphore,
}

impl Live {
    pub fn new(
        first: Version,
        keep: usize,
        recent_cap: usize,
        rule: RollbackRule,
        instances: u32,
    ) -> Live {
        Live {
            quota: tokio::sync::Semaphore::new(instances as usize),
            current: RwLock::new(Arc::new(first)),
            previous: Mutex::new(Vec::new()),
            keep,
            recent: Mutex::new(VecDeque::with_capacity(recent_cap)),
            recent_cap,
            watch: Mutex::new(None),
            watching: AtomicBool::new(false),
            rule,
        }
    }

    /// The version a request that begins now is decided by.
    pub fn current(&self) -> Arc<Version> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Versions kept for rollback, newest first.
    pub fn previous(&self) -> Vec<Arc<Version>> {
        let previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        previous.iter().rev().cloned().collect()
    }

    /// Makes `version` live; the one it replaces is kept for rollback (the oldest kept
    /// one is released beyond `keep`), and the new one is watched.
    pub fn install(&self, version: Arc<Version>) {
        *version.live_since.lock().unwrap_or_else(|e| e.into_inner()) = SystemTime::now();
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(|e| e.into_inner()),
            version.clone(),
        );
        // A version that no longer serves keeps no warm instances (`--reuse-instances`),
        // not even those its requests in flight finish with.
        old.handler.retire();
        let mut previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        previous.push(old);
        while previous.len() > self.keep {
            previous.remove(0);
        }
        drop(previous);
        *self.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(Watch {
            version,
            until: Instant::now() + self.rule.window,
        });
        self.watching.store(true, Ordering::Relaxed);
    }

    /// Makes the newest previous version live again; the current one is released.
    /// `None` when there is none to go back to.
    pub fn rollback(&self) -> Option<Arc<Version>> {
        self.rollback_from(None)
    }

    /// The rollback, done only if `from` (when given) is still the live version: the
    /// watch's rollback must not undo a swap or a rollback that came in meanwhile.
    fn rollback_from(&self, from: Option<&Arc<Version>>) -> Option<Arc<Version>> {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if from.is_some_and(|from| !Arc::ptr_eq(&current, from)) {
            return None;
        }
        let back = self
            .previous
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()?;
        *back.live_since.lock().unwrap_or_else(|e| e.into_inner()) = SystemTime::now();
        current.handler.retire();
        back.handler.revive();
        *current = back.clone();
        drop(current);
        *self.watch.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.watching.store(false, Ordering::Relaxed);
        Some(back)
    }

    /// Keeps a request head for replay (the ring forgets the oldest).
    pub fn remember(&self, head: &[u8], client: Client, head_request: bool) {
        if self.recent_cap == 0 {
            return;
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == self.recent_cap {
            recent.pop_front();
        }
        recent.push_back(Recent {
            head: head.to_vec(),
            client,
            head_request,
        });
    }

    /// The heads kept for replay, oldest first.
    pub fn recent(&self) -> Vec<Recent> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().cloned().collect()
    }

    /// Counts one answer of `version`; during the watch after a swap, rolls back when
    /// the new version fails more than the rule allows and the previous one did not.
    /// Returns the version rolled back to, for the log.
    pub fn record(&self, version: &Arc<Version>, status: u16, trapped: bool) -> Option<String> {
        let requests = version.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if status >= 500 {
            version.failures.fetch_add(1, Ordering::Relaxed);
        }
        if trapped {
            version.traps.fetch_add(1, Ordering::Relaxed);
        }
        if !self.watching.load(Ordering::Relaxed) {
            return None;
        }
        let mut watch = self.watch.lock().unwrap_or_else(|e| e.into_inner());
        let watched = watch.as_ref()?;
        if !Arc::ptr_eq(&watched.version, version) {
            return None;
        }
        if Instant::now() > watched.until || requests > self.rule.requests {
            *watch = None;
            self.watching.store(false, Ordering::Relaxed);
            return None;
        }
        let share = version.failure_share();
        if requests < MIN_WATCHED || share <= self.rule.threshold {
            return None;
        }
        let previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        let before = previous.last()?;
        if before.failure_share() > self.rule.threshold {
            return None;
        }
        drop(previous);
        *watch = None;
        drop(watch);
        let failures = version.failures.load(Ordering::Relaxed);
        let back = self.rollback_from(Some(version))?;
        Some(format!(
            "{} failed {failures} of its first {requests} requests ({:.0}%, over the {:.0}% \
             threshold); rolled back to {} ({})",
            version.short(),
            share * 100.0,
            self.rule.threshold * 100.0,
            back.short(),
            back.source
        ))
    }
}
