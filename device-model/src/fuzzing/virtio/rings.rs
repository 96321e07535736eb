//! The driver's rings: split and packed descriptor rings at fixed addresses, chains
//! placed in them directly or through indirect tables, and what the device used.
//!
//! Well-formed chains go in only when the ring has room (a driver tracks which
//! descriptors the device still holds); hostile chains go in as given.

use std::collections::VecDeque;

use virtio_bindings::virtio_ring::*;

use super::driver::{Driver, QUEUES};
use super::harness::Harness;
use super::{RawDesc, DESC_FLIP_NEXT, DESC_INDIRECT, DESC_STALE, DESC_WRITE};

/// Queue q's rings: descriptors at `RINGS + q * RING_STRIDE`, then the available
/// ring (packed: driver event suppression) and the used ring (device event
/// suppression) one `AREA` apart. An area holds the largest ring of its kind.
pub(super) const RINGS: u64 = 0x1_0000;
const RING_STRIDE: u64 = 0x4000;
pub(super) const AREA: u64 = 0x1000;

const F_NEXT: u16 = VRING_DESC_F_NEXT as u16;
const F_WRITE: u16 = VRING_DESC_F_WRITE as u16;
const F_INDIRECT: u16 = VRING_DESC_F_INDIRECT as u16;
const F_AVAIL: u16 = 1 << VRING_PACKED_DESC_F_AVAIL;
const F_USED: u16 = 1 << VRING_PACKED_DESC_F_USED;

/// Area `area` of queue `q`'s rings: 0 descriptors, 1 driver, 2 device.
pub(super) fn ring_area(q: usize, area: u64) -> u64 {
    RINGS + q as u64 * RING_STRIDE + area * AREA
}

/// The driver's view of one ring.
#[derive(Debug, Clone)]
pub(super) struct Ring {
    size: u16,
    /// Split: next free descriptor; packed: next slot to make available.
    next: u16,
    /// Packed: the driver's wrap counter.
    wrap: bool,
    /// Split: the available index.
    avail_idx: u16,
    /// Split: the used index already seen; packed: the next used slot.
    used_next: u16,
    /// Packed: the wrap counter used elements are expected with.
    used_wrap: bool,
    next_id: u16,
    /// Descriptors (ring slots) of each chain the device has not used yet, in order.
    outstanding: VecDeque<u16>,
}

impl Ring {
    pub(super) fn new(size: u16) -> Self {
        Self {
            size: size.max(1),
            next: 0,
            wrap: true,
            avail_idx: 0,
            used_next: 0,
            used_wrap: true,
            next_id: 0,
            outstanding: VecDeque::new(),
        }
    }
}

/// One descriptor as placed in a ring or an indirect table: virtio flags, and an
/// explicit `next` (split) where the chain's shape is not followed.
struct Placed {
    addr: u64,
    len: u32,
    flags: u16,
    next: Option<u16>,
    stale: bool,
}

impl Placed {
    fn buffer(addr: u64, len: u32, writable: bool, more: bool) -> Self {
        let mut flags = if writable { F_WRITE } else { 0 };
        if more {
            flags |= F_NEXT;
        }
        Self {
            addr,
            len,
            flags,
            next: None,
            stale: false,
        }
    }
}

impl Harness {
    /// Frees the descriptors of chains the device marked used.
    fn reclaim(&mut self, q: usize) {
        if self.drv.packed {
            loop {
                let r = &self.drv.rings[q];
                let mut d = [0u8; 16];
                self.peek(ring_area(q, 0) + 16 * u64::from(r.used_next), &mut d);
                let flags = u16::from_le_bytes([d[14], d[15]]);
                let used =
                    (flags & F_AVAIL != 0) == r.used_wrap && (flags & F_USED != 0) == r.used_wrap;
                let r = &mut self.drv.rings[q];
                let Some(n) = used.then(|| r.outstanding.pop_front()).flatten() else {
                    return;
                };
                let next = u32::from(r.used_next) + u32::from(n);
                r.used_next = (next % u32::from(r.size)) as u16;
                if next >= u32::from(r.size) {
                    r.used_wrap = !r.used_wrap;
                }
            }
        }
        let mut idx = [0u8; 2];
        self.peek(ring_area(q, 2) + 2, &mut idx);
        let idx = u16::from_le_bytes(idx);
        let r = &mut self.drv.rings[q];
        while r.used_next != idx && r.outstanding.pop_front().is_some() {
            r.used_next = r.used_next.wrapping_add(1);
        }
        r.used_next = idx;
    }

    /// Ring slots not held by chains the device has yet to use.
    fn room(&mut self, q: usize) -> usize {
        self.reclaim(q);
        let r = &self.drv.rings[q];
        usize::from(r.size).saturating_sub(r.outstanding.iter().map(|&n| usize::from(n)).sum())
    }

    /// Writes `descs` at the ring's next slots and makes them available as one chain
    /// (split: its head published in the available ring; packed: the head's flags
    /// written last).
    fn place(&mut self, q: usize, descs: &[Placed]) {
        let packed = self.drv.packed;
        let table = ring_area(q, 0);
        let r = self.drv.rings[q].clone();
        let size = r.size;
        let (mut slot, mut wrap) = (r.next, r.wrap);
        let mut head_flags = None;
        for d in descs {
            let at = table + 16 * u64::from(slot);
            let next = (slot + 1) % size;
            if packed {
                let lap = wrap != d.stale;
                let flags = d.flags | if lap { F_AVAIL } else { F_USED };
                self.poke(at, &packed_desc(d.addr, d.len, r.next_id, 0));
                if head_flags.is_none() {
                    head_flags = Some((at, flags));
                } else {
                    self.poke(at + 14, &flags.to_le_bytes());
                }
            } else {
                let link = d.next.unwrap_or(next);
                self.poke(at, &split_desc(d.addr, d.len, d.flags, link));
            }
            if next == 0 {
                wrap = !wrap;
            }
            slot = next;
        }
        if let Some((at, flags)) = head_flags {
            self.poke(at + 14, &flags.to_le_bytes());
        }
        let r = &mut self.drv.rings[q];
        if !packed {
            let entry = ring_area(q, 1) + 4 + 2 * u64::from(r.avail_idx % size);
            let (head, idx) = (r.next, r.avail_idx.wrapping_add(1));
            r.avail_idx = idx;
            self.poke(entry, &head.to_le_bytes());
            self.poke(ring_area(q, 1) + 2, &idx.to_le_bytes());
        }
        let r = &mut self.drv.rings[q];
        (r.next, r.wrap) = (slot, wrap);
        r.next_id = (r.next_id + 1) % size;
        if !descs.is_empty() {
            r.outstanding.push_back(descs.len() as u16);
        }
    }

    /// Writes `descs` as an indirect table in buffer memory; returns its address.
    fn indirect_table(&mut self, descs: &[Placed]) -> u64 {
        let table = self.drv.alloc(16 * descs.len().max(1));
        for (k, d) in descs.iter().enumerate() {
            let at = table + 16 * k as u64;
            let bytes = if self.drv.packed {
                packed_desc(d.addr, d.len, 0, d.flags)
            } else {
                split_desc(d.addr, d.len, d.flags, d.next.unwrap_or(k as u16 + 1))
            };
            self.poke(at, &bytes);
        }
        table
    }

    /// A well-formed chain of (address, length, writable) buffers, directly or
    /// through an indirect table, if the ring has room. Returns whether it was added.
    pub(super) fn add_chain(
        &mut self,
        q: usize,
        bufs: &[(u64, u32, bool)],
        indirect: bool,
    ) -> bool {
        let need = if indirect { 1 } else { bufs.len() };
        if bufs.is_empty() || need > self.room(q) {
            return false;
        }
        let descs: Vec<Placed> = bufs
            .iter()
            .enumerate()
            .map(|(k, &(a, len, w))| Placed::buffer(a, len, w, k + 1 < bufs.len()))
            .collect();
        if indirect {
            let table = self.indirect_table(&descs);
            let len = 16 * descs.len() as u32;
            self.place(
                q,
                &[Placed {
                    flags: F_INDIRECT,
                    ..Placed::buffer(table, len, false, false)
                }],
            );
        } else {
            self.place(q, &descs);
        }
        true
    }

    /// A hostile chain: descriptors as given, no room check.
    pub(super) fn raw_chain(
        &mut self,
        queue: u8,
        indirect: Option<i8>,
        kick: bool,
        descs: &[RawDesc],
    ) {
        let q = usize::from(queue) % QUEUES;
        let n = descs.len();
        let placed: Vec<Placed> = descs
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let more = (k + 1 < n) != (d.flags & DESC_FLIP_NEXT != 0);
                let mut p = Placed::buffer(
                    Driver::address(d.target, d.offset),
                    d.len,
                    d.flags & DESC_WRITE != 0,
                    more,
                );
                if d.flags & DESC_INDIRECT != 0 {
                    p.flags |= F_INDIRECT;
                }
                p.next = d.next.checked_sub(1).map(u16::from);
                p.stale = d.flags & DESC_STALE != 0;
                p
            })
            .collect();
        match indirect {
            None => self.place(q, &placed),
            Some(adjust) => {
                let table = self.indirect_table(&placed);
                let len = (16 * n as i64 + i64::from(adjust)) as u32;
                let desc = Placed {
                    flags: F_INDIRECT,
                    ..Placed::buffer(table, len, false, false)
                };
                self.place(q, &[desc]);
            }
        }
        if kick {
            self.kick(q as u16);
        }
    }
}

fn split_desc(addr: u64, len: u32, flags: u16, next: u16) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[0..8].copy_from_slice(&addr.to_le_bytes());
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[12..14].copy_from_slice(&flags.to_le_bytes());
    d[14..16].copy_from_slice(&next.to_le_bytes());
    d
}

fn packed_desc(addr: u64, len: u32, id: u16, flags: u16) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[0..8].copy_from_slice(&addr.to_le_bytes());
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[12..14].copy_from_slice(&id.to_le_bytes());
    d[14..16].copy_from_slice(&flags.to_le_bytes());
    d
}
