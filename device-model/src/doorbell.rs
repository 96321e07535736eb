//! Bounded work per doorbell.
//!
//! A Tx doorbell (igb TDT, X710 QTX_TAIL, a virtio notification) runs on the
//! thread that delivered the register write, with the device locked. Left
//! unbounded, one write could make the device fetch a whole ring of 64 KiB TSO
//! packets at MSS 1 (gigabytes of frames) before the next register access is
//! served. So one pass over a queue stops at a packet boundary once it has used
//! its [`TxBudget`]; the queue is then marked in [`DeferredTx`] and the port's
//! worker thread resumes it, one budget per lock, so register accesses and
//! received frames are served in between. Hardware behaves alike: the doorbell
//! returns at once and the DMA engine works through the ring afterwards.

use crate::timing::Waker;

/// Descriptors one pass over a queue fetches at most.
pub const TX_DESCRIPTORS_PER_PASS: u32 = 256;
/// Bytes one pass over a queue sends (or loops back) at most before it stops at
/// the next packet boundary. One packet can go past it: a 256 KiB TSO packet at
/// MSS 1 is about 14 MB of frames, the most any single pass produces.
pub const TX_BYTES_PER_PASS: u64 = 1 << 20;

/// What one pass over one queue may still do.
#[derive(Debug, Clone, Copy)]
pub struct TxBudget {
    descriptors: u32,
    /// The device's sent-bytes counter when the pass began.
    bytes_at_start: u64,
}

impl TxBudget {
    /// A fresh budget; `bytes_sent` is the device's running total of bytes sent.
    pub fn start(bytes_sent: u64) -> Self {
        Self {
            descriptors: TX_DESCRIPTORS_PER_PASS,
            bytes_at_start: bytes_sent,
        }
    }

    /// One descriptor fetched.
    pub fn fetched(&mut self) {
        self.descriptors = self.descriptors.saturating_sub(1);
    }

    /// Whether the pass must stop (checked at packet boundaries only).
    pub fn spent(&self, bytes_sent: u64) -> bool {
        self.descriptors == 0 || bytes_sent.saturating_sub(self.bytes_at_start) >= TX_BYTES_PER_PASS
    }
}

/// Tx queues whose pass ran out of budget with descriptors left, and the waker of
/// the worker that resumes them.
#[derive(Default)]
pub struct DeferredTx {
    /// One bit per queue (every personality has at most 128).
    queues: u128,
    wake: Option<Waker>,
}

impl DeferredTx {
    pub fn set_waker(&mut self, wake: Waker) {
        self.wake = Some(wake);
    }

    /// Queue `q` has work left: the worker resumes it.
    pub fn defer(&mut self, q: usize) {
        let Some(bit) = 1u128.checked_shl(q as u32) else {
            return;
        };
        if self.queues & bit == 0 {
            self.queues |= bit;
            if let Some(wake) = &self.wake {
                wake();
            }
        }
    }

    pub fn any(&self) -> bool {
        self.queues != 0
    }

    /// The deferred queues, lowest first, cleared: each is resumed once.
    pub fn take(&mut self) -> impl Iterator<Item = usize> {
        let queues = std::mem::take(&mut self.queues);
        (0..128).filter(move |q| queues & (1u128 << q) != 0)
    }

    /// Reset, or a queue that is no longer running: nothing to resume.
    pub fn clear(&mut self) {
        self.queues = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_budget_is_spent_by_descriptors_or_bytes() {
        let mut b = TxBudget::start(100);
        assert!(!b.spent(100));
        assert!(b.spent(100 + TX_BYTES_PER_PASS));
        for _ in 0..TX_DESCRIPTORS_PER_PASS - 1 {
            b.fetched();
        }
        assert!(!b.spent(100));
        b.fetched();
        assert!(b.spent(100));
    }

    #[test]
    fn deferring_wakes_the_worker_once_per_queue_until_taken() {
        let woken = Arc::new(AtomicU32::new(0));
        let w = woken.clone();
        let mut d = DeferredTx::default();
        d.set_waker(Arc::new(move || {
            w.fetch_add(1, Ordering::Relaxed);
        }));
        d.defer(3);
        d.defer(3);
        d.defer(127);
        d.defer(500);
        assert_eq!(woken.load(Ordering::Relaxed), 2);
        assert!(d.any());
        assert_eq!(d.take().collect::<Vec<_>>(), vec![3, 127]);
        assert!(!d.any());
    }
}
