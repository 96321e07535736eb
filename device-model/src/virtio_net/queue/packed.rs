//! Packed virtqueues (virtio 1.x section 2.8), the second ring format, chosen by
//! VIRTIO_F_RING_PACKED.
//!
//! One descriptor ring serves both directions: the driver makes a descriptor
//! available by setting its AVAIL flag to its wrap counter (and USED to the inverse),
//! the device marks it used by writing both flags equal to its own wrap counter.
//! `desc` is the ring; `avail` and `used` hold the driver's and the device's event
//! suppression structures. Each wrap counter flips when its index passes the end
//! of the ring. As for split rings, every address and length is checked, a chain
//! longer than the ring is a loop, and any violation is a [`QueueError`].

use std::sync::atomic::{fence, Ordering};

use dma::DmaSpace;

use super::{read16, Chain, QueueError, Virtqueue, MAX_INDIRECT};

use virtio_bindings::virtio_ring::{
    vring_packed_desc, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
    VRING_PACKED_DESC_F_AVAIL, VRING_PACKED_DESC_F_USED, VRING_PACKED_EVENT_FLAG_DESC,
    VRING_PACKED_EVENT_FLAG_DISABLE, VRING_PACKED_EVENT_F_WRAP_CTR,
};

const DESC_LEN: u64 = std::mem::size_of::<vring_packed_desc>() as u64;
/// `struct vring_packed_desc` flags.
const F_NEXT: u16 = VRING_DESC_F_NEXT as u16;
const F_WRITE: u16 = VRING_DESC_F_WRITE as u16;
const F_INDIRECT: u16 = VRING_DESC_F_INDIRECT as u16;
const F_AVAIL: u16 = 1 << VRING_PACKED_DESC_F_AVAIL;
const F_USED: u16 = 1 << VRING_PACKED_DESC_F_USED;
/// Event suppression `flags` (2.8.10): always, never, or at `off_wrap`.
const EVENT_FLAGS_DISABLE: u16 = VRING_PACKED_EVENT_FLAG_DISABLE as u16;
const EVENT_FLAGS_DESC: u16 = VRING_PACKED_EVENT_FLAG_DESC as u16;
const EVENT_WRAP: u16 = 1 << VRING_PACKED_EVENT_F_WRAP_CTR;

struct PackedDesc {
    addr: u64,
    len: u32,
    id: u16,
    flags: u16,
}

fn read_packed(dma: &DmaSpace, table: u64, index: u64) -> Result<PackedDesc, QueueError> {
    let at = index
        .checked_mul(DESC_LEN)
        .and_then(|o| table.checked_add(o))
        .ok_or(QueueError::BadRing)?;
    let mut b = [0u8; DESC_LEN as usize];
    dma.read(at, &mut b)?;
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    Ok(PackedDesc {
        addr: u64::from_le_bytes(b[0..8].try_into().unwrap_or_default()),
        len: u32::from_le_bytes(b[8..12].try_into().unwrap_or_default()),
        id: u16_at(12),
        flags: u16_at(14),
    })
}

/// Where the device is in a packed ring: the next slot and its wrap counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub index: u16,
    pub wrap: bool,
}

impl Default for Position {
    fn default() -> Self {
        // Both wrap counters start at 1 (2.8.1).
        Self {
            index: 0,
            wrap: true,
        }
    }
}

impl Position {
    fn advance(&mut self, by: u16, size: u16) {
        let next = u32::from(self.index) + u32::from(by);
        if next >= u32::from(size) {
            self.index = (next - u32::from(size)) as u16;
            self.wrap = !self.wrap;
        } else {
            self.index = next as u16;
        }
    }
}

fn is_available(flags: u16, wrap: bool) -> bool {
    (flags & F_AVAIL != 0) == wrap && (flags & F_USED != 0) != wrap
}

impl Virtqueue {
    pub(super) fn packed_validate(&self, dma: &DmaSpace) -> Result<(), QueueError> {
        let ring = DESC_LEN * u64::from(self.size);
        if !self.desc.is_multiple_of(16) || !dma.covers(self.desc, ring as usize) {
            return Err(QueueError::BadRing);
        }
        for area in [self.avail, self.used] {
            if area % 4 != 0 || !dma.covers(area, 4) {
                return Err(QueueError::BadRing);
            }
        }
        Ok(())
    }

    pub(super) fn packed_pop(
        &mut self,
        dma: &DmaSpace,
        indirect: bool,
    ) -> Result<Option<Chain>, QueueError> {
        let first = read_packed(dma, self.desc, u64::from(self.packed_avail.index))?;
        if !is_available(first.flags, self.packed_avail.wrap) {
            return Ok(None);
        }
        // The rest of the descriptor must be read after the flags that made it ours.
        fence(Ordering::Acquire);
        let mut chain = Chain::default();
        let mut pos = self.packed_avail;
        let mut slots: u16 = 0;
        let mut d = first;
        loop {
            slots += 1;
            if slots > self.size {
                return Err(QueueError::ChainLoop);
            }
            if d.flags & F_INDIRECT != 0 {
                // An indirect table is a whole chain on its own (2.8.19).
                if !indirect || d.flags & F_NEXT != 0 || slots != 1 {
                    return Err(QueueError::BadIndirect { len: d.len });
                }
                self.packed_indirect(dma, &d, &mut chain)?;
            } else {
                push(&mut chain, &d)?;
            }
            pos.advance(1, self.size);
            if d.flags & F_NEXT == 0 {
                break;
            }
            d = read_packed(dma, self.desc, u64::from(pos.index))?;
        }
        // The buffer ID travels in the chain's last descriptor.
        chain.head = d.id;
        chain.slots = slots;
        self.packed_avail = pos;
        Ok(Some(chain))
    }

    fn packed_indirect(
        &self,
        dma: &DmaSpace,
        d: &PackedDesc,
        chain: &mut Chain,
    ) -> Result<(), QueueError> {
        let n = u64::from(d.len) / DESC_LEN;
        if u64::from(d.len) % DESC_LEN != 0 || n == 0 || n > MAX_INDIRECT {
            return Err(QueueError::BadIndirect { len: d.len });
        }
        for i in 0..n {
            let e = read_packed(dma, d.addr, i)?;
            if e.flags & F_INDIRECT != 0 {
                return Err(QueueError::BadIndirect { len: d.len });
            }
            push(chain, &e)?;
        }
        Ok(())
    }

    /// Writes one used element at the next used slot: ID and length first, then
    /// the flags that hand it to the driver. It skips as many slots as the chain took.
    pub(super) fn packed_add_used(
        &mut self,
        dma: &DmaSpace,
        id: u16,
        slots: u16,
        len: u32,
    ) -> Result<(), QueueError> {
        let at = self.desc + DESC_LEN * u64::from(self.packed_used.index);
        dma.write(at + 8, &len.to_le_bytes())?;
        dma.write(at + 12, &id.to_le_bytes())?;
        let mut flags = if self.packed_used.wrap {
            F_AVAIL | F_USED
        } else {
            0
        };
        if len > 0 {
            flags |= F_WRITE;
        }
        fence(Ordering::Release);
        dma.write(at + 14, &flags.to_le_bytes())?;
        self.packed_used.advance(slots.max(1), self.size);
        self.unpublished = self.unpublished.wrapping_add(1);
        Ok(())
    }

    /// Whether the driver wants a notification for what was used since the last call.
    pub(super) fn packed_publish(&mut self, dma: &DmaSpace) -> Result<bool, QueueError> {
        if self.unpublished == 0 {
            return Ok(false);
        }
        self.last_published = std::mem::take(&mut self.unpublished);
        let old = std::mem::replace(&mut self.packed_signalled, self.packed_used);
        fence(Ordering::SeqCst);
        let off_wrap = read16(dma, self.avail)?;
        let flags = read16(dma, self.avail + 2)? & 3;
        Ok(match flags {
            EVENT_FLAGS_DISABLE => false,
            EVENT_FLAGS_DESC if self.event_idx => {
                need_event_packed(off_wrap, old, self.packed_used, self.size)
            }
            _ => true,
        })
    }
}

fn push(chain: &mut Chain, d: &PackedDesc) -> Result<(), QueueError> {
    if d.flags & F_WRITE != 0 {
        chain.writable.push(d.addr, d.len as usize);
    } else if !chain.writable.segments().is_empty() {
        return Err(QueueError::ReadableAfterWritable);
    } else {
        chain.readable.push(d.addr, d.len as usize);
    }
    Ok(())
}

/// EVENT_IDX for packed rings (2.8.10.1): `off_wrap` names a used slot and the wrap
/// counter it expects; the driver is notified if the used index moved past it between
/// the last notification (`old`) and now (`new`). Positions are unrolled onto one line
/// of length 2 * size so that a wrap in between compares correctly.
fn need_event_packed(off_wrap: u16, old: Position, new: Position, size: u16) -> bool {
    let event = Position {
        index: off_wrap & !EVENT_WRAP,
        wrap: off_wrap & EVENT_WRAP != 0,
    };
    let line = |p: Position| -> i64 {
        let base = if p.wrap == new.wrap {
            0
        } else {
            -i64::from(size)
        };
        base + i64::from(p.index)
    };
    let (e, n, o) = (line(event), line(new), line(old));
    // vring_need_event: new - event - 1 < new - old, on the unrolled line.
    o <= e && e < n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(index: u16, wrap: bool) -> Position {
        Position { index, wrap }
    }

    #[test]
    fn positions_wrap_and_flip_their_counter() {
        let mut p = Position::default();
        p.advance(3, 4);
        assert_eq!(p, pos(3, true));
        p.advance(2, 4);
        assert_eq!(p, pos(1, false));
        p.advance(4, 4);
        assert_eq!(p, pos(1, true));
    }

    #[test]
    fn availability_follows_the_wrap_counter() {
        assert!(is_available(F_AVAIL, true));
        assert!(!is_available(F_AVAIL | F_USED, true), "already used");
        assert!(!is_available(0, true), "not yet made available");
        assert!(is_available(F_USED, false), "second lap");
        assert!(!is_available(F_AVAIL, false));
    }

    #[test]
    fn packed_event_index_across_a_wrap() {
        // Used moved from slot 2 to slot 5 in the same lap: events at 2, 3, 4 fire.
        let (old, new) = (pos(2, true), pos(5, true));
        assert!(need_event_packed(0x8000 | 2, old, new, 8));
        assert!(need_event_packed(0x8000 | 4, old, new, 8));
        assert!(!need_event_packed(0x8000 | 5, old, new, 8));
        assert!(!need_event_packed(0x8000 | 1, old, new, 8));
        // From slot 6 of one lap to slot 1 of the next: 6, 7 (old lap) and 0 fire.
        let (old, new) = (pos(6, true), pos(1, false));
        assert!(need_event_packed(0x8000 | 7, old, new, 8));
        assert!(need_event_packed(0, old, new, 8));
        assert!(!need_event_packed(1, old, new, 8));
        assert!(!need_event_packed(0x8000 | 5, old, new, 8));
    }
}
