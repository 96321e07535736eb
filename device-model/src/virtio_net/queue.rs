//! Virtqueues over guest memory: split rings (virtio 1.x section 2.7) here, packed
//! rings (2.8, VIRTIO_F_RING_PACKED) in [`packed`], behind one interface.
//!
//! Every address, length and index comes from the guest and is checked before use:
//! ring memory through `DmaSpace` (which refuses anything outside mapped RAM), ring
//! indices against the queue size, and chains against loops and overlong walks. A
//! violation is a [`QueueError`]; the device answers it with NEEDS_RESET.

mod packed;

use std::sync::atomic::{fence, Ordering};

use dma::{DmaError, DmaSpace, SgList};
use virtio_bindings::virtio_ring::{
    vring_desc, vring_used_elem, VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT,
    VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
};

/// Largest queue the device offers (`queue_size` reads this until the driver shrinks it).
pub const MAX_QUEUE_SIZE: u16 = 256;
const DESC_LEN: u64 = std::mem::size_of::<vring_desc>() as u64;
const USED_ELEM_LEN: u64 = std::mem::size_of::<vring_used_elem>() as u64;
/// `flags` and `idx` ahead of the ring in both the available and used rings.
const RING_HEADER: u64 = 4;
/// Longest indirect table accepted: the spec bounds a chain by the queue size, and so
/// does tunic for the table too.
const MAX_INDIRECT: u64 = MAX_QUEUE_SIZE as u64;

/// Why a queue cannot be used any more.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    #[error("ring memory unreachable: {0}")]
    Dma(#[from] DmaError),
    #[error("available index {avail} is {ahead} entries ahead of {next} in a {size}-entry queue")]
    AvailIndex {
        avail: u16,
        next: u16,
        ahead: u16,
        size: u16,
    },
    #[error("descriptor index {index} outside a {size}-entry table")]
    DescriptorIndex { index: u16, size: u64 },
    #[error("descriptor chain longer than its table: a loop")]
    ChainLoop,
    #[error("malformed indirect descriptor (length {len})")]
    BadIndirect { len: u32 },
    #[error("device-readable descriptor after a device-writable one")]
    ReadableAfterWritable,
    #[error("queue size {0} is not a power of two up to {MAX_QUEUE_SIZE}")]
    BadSize(u16),
    #[error("ring address misaligned or outside guest memory")]
    BadRing,
    #[error("control command without a writable ack byte")]
    NoAck,
}

/// One descriptor chain taken from the available ring.
#[derive(Debug, Default)]
pub struct Chain {
    /// Split rings: the head descriptor's index; packed rings: the buffer ID.
    pub head: u16,
    /// Packed rings: ring slots the chain took (its used element skips them).
    pub slots: u16,
    /// Buffers the device reads (driver to device), in chain order.
    pub readable: SgList,
    /// Buffers the device writes (device to driver), in chain order.
    pub writable: SgList,
}

/// The driver-visible configuration of one queue and the device's ring positions.
#[derive(Debug, Clone)]
pub struct Virtqueue {
    pub size: u16,
    pub enabled: bool,
    pub msix_vector: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    next_avail: u16,
    next_used: u16,
    /// Used entries written but not yet published through `used.idx`.
    unpublished: u16,
    /// How many entries the last [`Virtqueue::publish`] made visible.
    pub last_published: u16,
    /// VIRTIO_F_EVENT_IDX: notifications are asked for through `used_event` and
    /// `avail_event` instead of the ring flags (2.7.7, 2.7.10).
    pub event_idx: bool,
    /// VIRTIO_F_RING_PACKED: `desc` is the packed ring, `avail` and `used` the
    /// driver's and device's event suppression structures.
    pub packed: bool,
    packed_avail: packed::Position,
    packed_used: packed::Position,
    /// Where the used position was at the last notification decision.
    packed_signalled: packed::Position,
}

/// A position in the available ring to come back to (see [`Virtqueue::rewind`]).
#[derive(Debug, Clone, Copy)]
pub struct AvailMark {
    split: u16,
    packed: packed::Position,
}

impl Default for Virtqueue {
    fn default() -> Self {
        Self {
            size: MAX_QUEUE_SIZE,
            enabled: false,
            msix_vector: super::layout::VIRTIO_MSI_NO_VECTOR,
            desc: 0,
            avail: 0,
            used: 0,
            next_avail: 0,
            next_used: 0,
            unpublished: 0,
            last_published: 0,
            event_idx: false,
            packed: false,
            packed_avail: Default::default(),
            packed_used: Default::default(),
            packed_signalled: Default::default(),
        }
    }
}

fn read16(dma: &DmaSpace, addr: u64) -> Result<u16, QueueError> {
    let mut b = [0u8; 2];
    dma.read(addr, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

fn read_desc(dma: &DmaSpace, table: u64, index: u64) -> Result<Desc, QueueError> {
    let mut b = [0u8; DESC_LEN as usize];
    let at = index
        .checked_mul(DESC_LEN)
        .and_then(|o| table.checked_add(o))
        .ok_or(QueueError::BadRing)?;
    dma.read(at, &mut b)?;
    // Field offsets of `struct vring_desc`: addr, len, flags, next.
    let le = |r: std::ops::Range<usize>| {
        let mut v = [0u8; 8];
        v[..r.len()].copy_from_slice(&b[r]);
        u64::from_le_bytes(v)
    };
    Ok(Desc {
        addr: le(0..8),
        len: le(8..12) as u32,
        flags: le(12..14) as u16,
        next: le(14..16) as u16,
    })
}

impl Virtqueue {
    /// Checks what the driver configured before the queue is used: size a power of two,
    /// rings aligned as 2.7 requires and wholly inside guest memory.
    pub fn validate(&self, dma: &DmaSpace) -> Result<(), QueueError> {
        if self.packed {
            // Packed rings may have any size (2.8.10.1 needs it below 2^15).
            if self.size == 0 || self.size > MAX_QUEUE_SIZE {
                return Err(QueueError::BadSize(self.size));
            }
            return self.packed_validate(dma);
        }
        if self.size == 0 || !self.size.is_power_of_two() || self.size > MAX_QUEUE_SIZE {
            return Err(QueueError::BadSize(self.size));
        }
        let n = u64::from(self.size);
        let rings = [
            (self.desc, 16, DESC_LEN * n),
            (self.avail, 2, RING_HEADER + 2 * n + 2),
            (self.used, 4, RING_HEADER + USED_ELEM_LEN * n + 2),
        ];
        for (addr, align, len) in rings {
            if addr % align != 0 || !dma.covers(addr, len as usize) {
                return Err(QueueError::BadRing);
            }
        }
        Ok(())
    }

    /// Back to the state after reset, keeping nothing the driver configured.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Takes the next available chain, or `None` when the driver has offered nothing new.
    pub fn pop(&mut self, dma: &DmaSpace, indirect: bool) -> Result<Option<Chain>, QueueError> {
        if self.packed {
            return self.packed_pop(dma, indirect);
        }
        let mut avail_idx = read16(dma, self.avail + 2)?;
        if avail_idx == self.next_avail && self.event_idx {
            // Ask for a notification when the driver adds the next chain, then look
            // once more: a chain added before the driver saw `avail_event` would
            // otherwise wait for a kick that never comes.
            self.write_avail_event(dma)?;
            fence(Ordering::SeqCst);
            avail_idx = read16(dma, self.avail + 2)?;
        }
        let ahead = avail_idx.wrapping_sub(self.next_avail);
        if ahead == 0 {
            return Ok(None);
        }
        if ahead > self.size {
            return Err(QueueError::AvailIndex {
                avail: avail_idx,
                next: self.next_avail,
                ahead,
                size: self.size,
            });
        }
        // The ring entry must be read after the index that published it.
        fence(Ordering::Acquire);
        let slot = u64::from(self.next_avail % self.size);
        let head = read16(dma, self.avail + RING_HEADER + 2 * slot)?;
        let chain = self.walk(dma, head, indirect)?;
        self.next_avail = self.next_avail.wrapping_add(1);
        Ok(Some(chain))
    }

    /// Puts back the chains taken since `mark` (a frame that did not fit waits for more).
    pub fn rewind(&mut self, mark: AvailMark) {
        self.next_avail = mark.split;
        self.packed_avail = mark.packed;
    }

    pub fn avail_mark(&self) -> AvailMark {
        AvailMark {
            split: self.next_avail,
            packed: self.packed_avail,
        }
    }

    fn walk(&self, dma: &DmaSpace, head: u16, indirect: bool) -> Result<Chain, QueueError> {
        let mut chain = Chain {
            head,
            ..Chain::default()
        };
        let mut table = self.desc;
        let mut table_len = u64::from(self.size);
        let mut index = head;
        let mut seen: u64 = 0;
        let mut in_indirect = false;
        loop {
            if u64::from(index) >= table_len {
                return Err(QueueError::DescriptorIndex {
                    index,
                    size: table_len,
                });
            }
            seen += 1;
            if seen > table_len {
                return Err(QueueError::ChainLoop);
            }
            let d = read_desc(dma, table, u64::from(index))?;
            let flags = u32::from(d.flags);
            if flags & VRING_DESC_F_INDIRECT != 0 {
                // One indirect table per chain, never nested, never with NEXT (2.7.5.3.1).
                let n = u64::from(d.len) / DESC_LEN;
                if !indirect
                    || in_indirect
                    || flags & VRING_DESC_F_NEXT != 0
                    || u64::from(d.len) % DESC_LEN != 0
                    || n == 0
                    || n > MAX_INDIRECT
                {
                    return Err(QueueError::BadIndirect { len: d.len });
                }
                in_indirect = true;
                table = d.addr;
                table_len = n;
                index = 0;
                seen = 0;
                continue;
            }
            let len = d.len as usize;
            if flags & VRING_DESC_F_WRITE != 0 {
                chain.writable.push(d.addr, len);
            } else if !chain.writable.segments().is_empty() {
                return Err(QueueError::ReadableAfterWritable);
            } else {
                chain.readable.push(d.addr, len);
            }
            if flags & VRING_DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            index = d.next;
        }
    }

    /// Writes a used element; it becomes visible to the driver at [`Self::publish`].
    pub fn add_used(&mut self, dma: &DmaSpace, chain: &Chain, len: u32) -> Result<(), QueueError> {
        if self.packed {
            return self.packed_add_used(dma, chain.head, chain.slots, len);
        }
        let head = chain.head;
        let slot = u64::from(self.next_used.wrapping_add(self.unpublished) % self.size);
        let mut elem = [0u8; USED_ELEM_LEN as usize];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        dma.write(self.used + RING_HEADER + USED_ELEM_LEN * slot, &elem)?;
        self.unpublished = self.unpublished.wrapping_add(1);
        Ok(())
    }

    /// Publishes the used elements written so far with one `used.idx` store. Returns
    /// whether any were published and the driver wants an interrupt for them.
    pub fn publish(&mut self, dma: &DmaSpace) -> Result<bool, QueueError> {
        if self.packed {
            return self.packed_publish(dma);
        }
        if self.unpublished == 0 {
            return Ok(false);
        }
        let published = self.unpublished;
        self.last_published = published;
        let idx = self.next_used.wrapping_add(published);
        // The elements must be visible before the index that publishes them.
        fence(Ordering::Release);
        dma.write(self.used + 2, &idx.to_le_bytes())?;
        self.next_used = idx;
        self.unpublished = 0;
        // And the index before the flags that say whether to interrupt are read.
        fence(Ordering::SeqCst);
        if self.event_idx {
            let old = idx.wrapping_sub(published);
            let used_event = read16(dma, self.used_event_addr())?;
            return Ok(need_event(used_event, idx, old));
        }
        let flags = read16(dma, self.avail)?;
        Ok(u32::from(flags) & VRING_AVAIL_F_NO_INTERRUPT == 0)
    }

    /// `used_event`: after the available ring's entries.
    fn used_event_addr(&self) -> u64 {
        self.avail + RING_HEADER + 2 * u64::from(self.size)
    }

    /// Tells the driver to notify once it makes entry `next_avail` available.
    fn write_avail_event(&self, dma: &DmaSpace) -> Result<(), QueueError> {
        let at = self.used + RING_HEADER + USED_ELEM_LEN * u64::from(self.size);
        dma.write(at, &self.next_avail.to_le_bytes())?;
        Ok(())
    }
}

/// `vring_need_event` (2.7.10): whether moving the index from `old` to `new` passed
/// the `event` index the other side asked to be told about.
fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

#[cfg(test)]
mod event_tests {
    use super::need_event;

    #[test]
    fn need_event_matches_the_spec_examples() {
        assert!(need_event(0, 1, 0), "the entry asked for was published");
        assert!(!need_event(5, 3, 0), "not there yet");
        assert!(need_event(2, 3, 0), "passed within the batch");
        assert!(
            !need_event(2, 4, 3),
            "passed before this batch: already notified"
        );
        assert!(need_event(0xffff, 1, 0xfffe), "across the wrap");
    }
}
