//! Bytes queued between the device and the wire in paced mode: the 82576's Tx
//! packet buffer. When it is full the device stops fetching Tx descriptors; when
//! the pacer drains it below the limit again, it asks for the device to be kicked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug)]
pub struct Backlog {
    bytes: AtomicU64,
    limit: u64,
    blocked: AtomicBool,
}

impl Backlog {
    pub fn new(limit: u64) -> Backlog {
        Backlog {
            bytes: AtomicU64::new(0),
            limit,
            blocked: AtomicBool::new(false),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn queued(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
    }

    /// The device handed `bytes` to the pacer.
    pub fn add(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::SeqCst);
    }

    /// The device wants to queue `extra` more bytes: returns true when it must stop
    /// instead. The flag is raised before the re-check, so either the pacer sees it
    /// and kicks, or this sees the drained buffer and goes on: a wake-up is never lost.
    pub fn must_stop(&self, extra: u64) -> bool {
        if self.queued().saturating_add(extra) <= self.limit {
            return false;
        }
        self.blocked.store(true, Ordering::SeqCst);
        if self.queued().saturating_add(extra) <= self.limit {
            self.blocked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// The pacer put `bytes` on the wire. Returns true when the device is waiting
    /// for room and must be kicked.
    pub fn release(&self, bytes: u64) -> bool {
        let before = self
            .bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                Some(b.saturating_sub(bytes))
            })
            .unwrap_or(0);
        before.saturating_sub(bytes) <= self.limit && self.blocked.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_above_the_limit_and_kicks_once_drained() {
        let b = Backlog::new(100);
        assert!(!b.must_stop(100));
        b.add(120);
        assert!(b.must_stop(0));
        assert!(!b.release(0), "still over the limit");
        assert!(b.release(20), "drained to the limit: kick");
        assert!(!b.release(30), "kicked once");
        assert_eq!(b.queued(), 70);
    }
}
