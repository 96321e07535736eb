//! A hostile guest for the virtio-net model, as the parent module's is for igb: an
//! operation stream decoded from arbitrary bytes (virtio BAR and config space
//! accesses, queue notifications, guest memory, descriptor chains well-formed or
//! not, control commands, received frames, resets, timers), applied to a
//! [`VirtioNet`](crate::virtio_net::VirtioNet) over in-memory guest RAM with the
//! device's safety invariants checked after every step.
//!
//! [`run_virtio_ops`] is the libFuzzer entry point: every byte string decodes to a
//! [`VirtioSetup`] and some [`VirtioOp`]s, and an invariant violation panics. The
//! property tests build typed operations, [`encode_virtio`] them and run the bytes.
//!
//! Invariants, checked after each step (see `harness` for the bounds and why):
//! - every DMA access the device made that was allowed lies inside mapped guest
//!   memory, and a device whose status lacks DRIVER_OK makes none;
//! - one step puts at most (transmit queues × queue size × segments of the largest
//!   GSO packet) frames on the wire, delivers at most (receive queues × queue size)
//!   frames and completes at most one queue's worth of control commands;
//! - no counter goes backwards, and every frame counted as sent is on the wire;
//! - no frame on the wire is longer than the MTU allows, except GSO segments (no
//!   more of them than were made), and none is longer than the largest packet the
//!   device gathers;
//! - no MSI-X vector at or past `msix_vectors()` is raised, and none while MSI-X is
//!   off.

mod codec;
mod driver;
mod frames;
mod harness;
mod rings;

use crate::timing::TimingMode;

pub use codec::{decode_virtio, encode_virtio};
pub use frames::{Packet, TUNNEL_PROTO};

/// Operations decoded from one input at most: keeps each fuzz input quick.
pub const MAX_OPS: usize = 256;
/// Descriptors in one [`VirtioOp::Chain`] at most.
pub const MAX_CHAIN: usize = 16;

/// How the device under test is built; the first bytes of every input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioSetup {
    /// Offer VIRTIO_F_RING_PACKED (a bring-up may still choose split rings).
    pub packed_ring: bool,
    pub timing: TimingMode,
    /// The MTU in the device configuration; non-GSO frames longer are dropped.
    pub mtu: u16,
}

impl Default for VirtioSetup {
    fn default() -> Self {
        Self {
            packed_ring: true,
            timing: TimingMode::Off,
            mtu: 1500,
        }
    }
}

/// [`RawDesc::flags`]: device-writable.
pub const DESC_WRITE: u8 = 1 << 0;
/// [`RawDesc::flags`]: the INDIRECT flag on this descriptor, pointing wherever it points.
pub const DESC_INDIRECT: u8 = 1 << 1;
/// [`RawDesc::flags`]: NEXT inverted from what the chain's shape says, so a chain
/// ends early or runs on into whatever follows.
pub const DESC_FLIP_NEXT: u8 = 1 << 2;
/// [`RawDesc::flags`], packed rings: the AVAIL/USED bits of the wrong lap.
pub const DESC_STALE: u8 = 1 << 3;

/// One descriptor of a hostile chain: any address, length and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawDesc {
    /// Where the buffer is: an address from the harness's table (RAM edges, the
    /// gap, far outside, the rings) plus `offset`.
    pub target: u8,
    pub offset: i32,
    pub len: u32,
    pub flags: u8,
    /// Split rings: 0 links to the next slot, `n` to descriptor `n - 1` (loops,
    /// indices past the table).
    pub next: u8,
}

/// The `virtio_net_hdr` of a well-formed transmit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offload {
    /// Checksums complete, nothing asked of the device.
    None,
    /// NEEDS_CSUM with the packet's own csum_start and csum_offset.
    Csum,
    /// NEEDS_CSUM and the GSO type of the packet, segments of `size` bytes.
    Gso { size: u16 },
    /// A header as given (its first `hdr_len` bytes), over a seeded packet.
    Raw([u8; 20]),
}

/// One step of a hostile guest (or of its wire, or of the port around the device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtioOp {
    /// A read of 0 to 8 bytes anywhere in (or past) the virtio BAR.
    BarRead { offset: u16, len: u8 },
    /// A write of 0 to 8 bytes anywhere in (or past) the virtio BAR.
    BarWrite { offset: u16, data: Vec<u8> },
    /// A common configuration field (`field` modulo the field count) written with
    /// its natural width, as a driver does.
    Common { field: u8, value: u64 },
    /// A write of 0 to 4 bytes to PCI config space.
    Config { offset: u16, data: Vec<u8> },
    /// A notification for queue `queue`, which need not exist.
    Notify { queue: u16 },
    /// Guest memory contents at a harness address plus `offset`; refusals ignored.
    Memory {
        target: u8,
        offset: i32,
        data: Vec<u8>,
    },
    /// A driver's bring-up: reset, a feature subset (made consistent), split or
    /// packed rings of one size on `pairs` queue pairs and the control queue at
    /// fixed addresses, DRIVER_OK, receive buffers.
    BringUp {
        features: u64,
        packed: bool,
        size: u8,
        pairs: u8,
    },
    /// Descriptors put on queue `queue` as given, directly or (`indirect`) in a table
    /// whose length in the ring descriptor is off by the given bytes.
    Chain {
        queue: u8,
        indirect: Option<i8>,
        kick: bool,
        descs: Vec<RawDesc>,
    },
    /// A well-formed packet on the transmit queue of pair `queue`: header and frame
    /// over `pieces & 3 + 1` buffers, header merged into the first (`& 8`), through
    /// an indirect table (`& 4`).
    Send {
        queue: u8,
        packet: Packet,
        offload: Offload,
        pieces: u8,
    },
    /// A control command: class, command, any payload, `ack` writable bytes.
    Ctrl {
        class: u8,
        command: u8,
        payload: Vec<u8>,
        ack: u8,
    },
    /// Any bytes from the wire.
    Receive { frame: Vec<u8> },
    /// A well-formed frame from the wire: `dst` picks the device's address,
    /// broadcast, multicast or another unicast address; optionally tagged, and with
    /// a corrupted transport checksum.
    ReceivePacket {
        packet: Packet,
        dst: u8,
        vlan: Option<u16>,
        bad_csum: bool,
    },
    /// `count` receive buffers of `len` bytes on the receive queue of pair `queue`.
    OfferRx { queue: u8, count: u8, len: u16 },
    /// Status 0, a function level reset, or a vfio-user device reset.
    Reset { kind: u8 },
    /// `run_deadlines`, `run_timers`, `resume_tx`, or a short wait for the next
    /// deadline or timer and then both.
    Timers { kind: u8 },
    /// The wire goes down or comes back.
    Link { up: bool },
    /// QEMU unmaps or maps back the high RAM region.
    ToggleHighRam,
    /// The guest turns MSI-X on or off (interrupts go through the ISR and INTx).
    Msix { enabled: bool },
}

/// What a run did, for tests that want to see coverage.
#[derive(Debug, Default, Clone)]
pub struct VirtioReport {
    pub ops: usize,
    pub dma_allowed: u64,
    pub dma_refused: u64,
    pub wire_frames: u64,
    pub interrupts: u64,
    /// Frames sent and received while the last bring-up used packed rings, and
    /// while it used split rings.
    pub packed_packets: u64,
    pub split_packets: u64,
    /// Every counter of the device at the end, by name (`name[i]` for per-queue ones).
    pub counters: Vec<(String, u64)>,
}

impl VirtioReport {
    pub fn counter(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }
}

/// Runs the setup and operations `data` decodes to; panics when an invariant breaks.
pub fn run_virtio_ops(data: &[u8]) -> VirtioReport {
    let (setup, ops) = decode_virtio(data);
    run_virtio(&setup, &ops)
}

/// As [`run_virtio_ops`], on a device and guest memory kept across inputs and
/// reset before each (rebuilt only when an input asks for another setup): what
/// the fuzz target calls.
pub fn run_virtio_ops_reused(data: &[u8]) {
    thread_local! {
        static REUSED: std::cell::RefCell<Option<harness::Harness>> =
            const { std::cell::RefCell::new(None) };
    }
    let (setup, ops) = decode_virtio(data);
    REUSED.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_mut() {
            Some(h) => h.restart(&setup),
            None => *slot = Some(harness::Harness::new(&setup)),
        }
        if let Some(h) = slot.as_mut() {
            for op in ops.iter().take(MAX_OPS) {
                h.apply(op);
            }
            h.finish();
        }
    });
}

/// Runs `ops` against a fresh device built as `setup`; panics when an invariant breaks.
pub fn run_virtio(setup: &VirtioSetup, ops: &[VirtioOp]) -> VirtioReport {
    let mut h = harness::Harness::new(setup);
    for op in ops.iter().take(MAX_OPS) {
        h.apply(op);
    }
    h.report(ops.len().min(MAX_OPS))
}
