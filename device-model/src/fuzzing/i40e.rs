//! A hostile guest for the X710 (`i40e`) model, as the parent module's is for igb:
//! an operation stream decoded from arbitrary bytes (BAR0 register accesses biased
//! toward the registers with side effects, guest memory, admin queue commands of any
//! opcode, flags, length and buffer, Tx data and context descriptors, received
//! frames, config space writes, resets, DMA map changes), applied to an
//! [`I40e`](crate::i40e::I40e) over in-memory guest RAM with the device's safety
//! invariants checked after every step.
//!
//! [`run_i40e_ops`] is the libFuzzer entry point: every byte string decodes to some
//! [`I40eOp`]s, and an invariant violation panics. The property tests build typed
//! operations, [`encode_i40e`] them and run the bytes.
//!
//! Invariants, checked after each step (see `harness` for the bounds and why):
//! - every DMA access the device made that was allowed lies inside mapped guest
//!   memory;
//! - bounded work per doorbell: a register write runs at most one admin queue's
//!   worth of commands per ATQT it touches, fetches at most one Tx ring's worth of
//!   descriptors per QTX_TAIL it (or an admin command) writes, and a received frame
//!   fills at most five Rx descriptors;
//! - no counter goes backwards, and every frame counted as sent is on the wire;
//! - no frame on the wire is longer than the MAC sends (9728 bytes and two tags);
//! - no MSI-X vector outside 0..129 is raised.

mod codec;
mod driver;
mod frames;
mod harness;

pub use codec::{decode_i40e, encode_i40e};
pub use frames::Packet;
pub use harness::INTERESTING;

/// Operations decoded from one input at most: keeps each fuzz input quick.
pub const MAX_OPS: usize = 256;
/// Tx descriptors in one [`I40eOp::TxDescs`] at most.
pub const MAX_TX_DESCS: usize = 8;
/// Admin command buffer bytes one [`I40eOp::AdminCommand`] writes at most.
pub const MAX_AQ_DATA: usize = 1024;

/// One raw Tx descriptor. With `base` inside the harness's address table, `qw0` is
/// an offset from that address (a data buffer); otherwise it is used as it is (a
/// context descriptor's tunnelling word and L2TAG2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxDesc {
    pub base: u8,
    pub qw0: u64,
    pub qw1: u64,
}

/// An admin queue descriptor as the guest writes it: flags, opcode and datalen,
/// then retval, the cookies and the 16 parameter bytes, all as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AqCommand {
    pub flags: u16,
    pub opcode: u16,
    pub datalen: u16,
    pub rest: [u8; 26],
}

impl AqCommand {
    /// The 32 descriptor bytes.
    pub fn bytes(&self) -> [u8; 32] {
        let mut d = [0u8; 32];
        let head = [self.flags, self.opcode, self.datalen];
        for (at, v) in d.chunks_mut(2).zip(head) {
            at.copy_from_slice(&v.to_le_bytes());
        }
        d[6..].copy_from_slice(&self.rest);
        d
    }
}

/// What a well-formed transmit asks of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOffload {
    /// Checksums complete, no context descriptor.
    None,
    /// L4T/IIPT (and EIPT for a tunnel): the device inserts the checksums.
    Csum,
    /// A TSO context descriptor with this MSS (14 bits are used).
    Tso { mss: u16 },
    /// TSO with both tags inserted (L2TAG1 by the data, L2TAG2 by the context).
    TsoTagged { mss: u16 },
}

/// A register: entry `table` of [`INTERESTING`] (instance `index` modulo the
/// array), or past the table a raw dword in BAR0 chosen by both bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reg {
    pub table: u8,
    pub index: u8,
}

/// A well-formed packet on Tx queue `queue` over `pieces & 3 + 1` buffers (more
/// when one would exceed a descriptor's 16 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPacket {
    pub queue: u8,
    pub packet: Packet,
    pub offload: TxOffload,
    pub pieces: u8,
}

/// A well-formed frame from the wire: `dst` picks the device's address, broadcast,
/// multicast or another unicast address; optionally tagged, and with a corrupted
/// transport checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxPacket {
    pub packet: Packet,
    pub dst: u8,
    pub vlan: Option<u16>,
    pub bad_csum: bool,
}

/// One step of a hostile guest (or of its wire, or of QEMU around the device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum I40eOp {
    /// A 32-bit write to a register of the harness's table.
    Write {
        reg: Reg,
        value: u32,
    },
    Read(Reg),
    /// An MMIO write of 0 to 8 bytes, any alignment, anywhere in (or past) BAR0.
    RawWrite {
        offset: u32,
        data: Vec<u8>,
    },
    /// An MMIO read of 0 to 8 bytes, anywhere in (or past) BAR0.
    RawRead {
        offset: u32,
        len: u8,
    },
    /// Guest memory contents at a harness address plus `offset`; refusals ignored.
    Memory {
        target: u8,
        offset: i32,
        data: Vec<u8>,
    },
    /// Any admin command: `cmd` as the descriptor; with `buf` the buffer address
    /// (params 8..16) is the harness address `target + offset` and `data` is written
    /// there. The descriptor goes into the ATQ at ATQT (set up first if disabled),
    /// then ATQT moves on.
    AdminCommand {
        cmd: AqCommand,
        buf: Option<(u8, i32)>,
        data: Vec<u8>,
    },
    /// A driver's bring-up on `pairs & 3` (1, 2 or 4) queue pairs: admin queue, HMC
    /// segment and queue contexts, rings, buffers, interrupts, RSS, the VSI's queue
    /// map and filters. `flags`: 1 head write-back (else DD), 2 32-byte Rx
    /// descriptors, 4 keep the CRC, 8 512-byte Rx buffers (frames chain), 16 rings in
    /// high RAM, 32 no NVGRE cloud filter.
    BringUp {
        pairs: u8,
        flags: u8,
    },
    /// Descriptors as given at the tail of Tx queue `queue`, then (with `kick`) the
    /// doorbell.
    TxDescs {
        queue: u8,
        kick: bool,
        descs: Vec<TxDesc>,
    },
    /// A well-formed packet on a Tx queue.
    Send(TxPacket),
    /// Any bytes from the wire.
    Receive {
        frame: Vec<u8>,
    },
    /// A well-formed frame from the wire.
    ReceivePacket(RxPacket),
    /// The driver cleans and re-posts descriptors: `ring` 0 is the ARQ, `n` Rx
    /// queue `n - 1`.
    Refill {
        ring: u8,
    },
    /// A write of 0 to 4 bytes to PCI config space.
    Config {
        offset: u16,
        data: Vec<u8>,
    },
    /// PFGEN_CTRL.PFSWR, GLGEN_RTRIG.CORER, a function level reset or a vfio-user
    /// device reset.
    Reset {
        kind: u8,
    },
    /// QEMU unmaps or maps back the high RAM region.
    ToggleHighRam,
    /// The wire goes down or comes back.
    Link {
        up: bool,
    },
}

/// What a run did, for tests that want to see coverage.
#[derive(Debug, Default, Clone)]
pub struct I40eReport {
    pub ops: usize,
    pub dma_allowed: u64,
    pub dma_refused: u64,
    pub wire_frames: u64,
    pub interrupts: u64,
    /// Every counter of the device at the end, by name (`name.key` for maps).
    pub counters: Vec<(String, u64)>,
}

impl I40eReport {
    /// A counter's final value (0 for one the device never had).
    pub fn counter(&self, name: &str) -> u64 {
        let hit = self.counters.iter().find(|c| c.0 == name);
        hit.map(|c| c.1).unwrap_or_default()
    }
}

/// Runs the operations `data` decodes to; panics when an invariant breaks.
pub fn run_i40e_ops(data: &[u8]) -> I40eReport {
    run_i40e(&decode_i40e(data))
}

/// As [`run_i40e_ops`], on one device and guest memory per thread, reset between
/// inputs as a driver resets it (PF reset, RAM zeroed): what the fuzz target runs.
pub fn run_i40e_ops_reused(data: &[u8]) {
    thread_local! {
        static REUSED: std::cell::RefCell<Option<harness::Harness>> =
            const { std::cell::RefCell::new(None) };
    }
    let ops = decode_i40e(data);
    REUSED.with(|cell| {
        let mut slot = cell.borrow_mut();
        let h = slot.get_or_insert_with(harness::Harness::new);
        h.restart();
        for op in ops.iter().take(MAX_OPS) {
            h.apply(op);
        }
        h.finish();
    });
}

/// Runs `ops` against a fresh device; panics when an invariant breaks.
pub fn run_i40e(ops: &[I40eOp]) -> I40eReport {
    let mut h = harness::Harness::new();
    for op in ops.iter().take(MAX_OPS) {
        h.apply(op);
    }
    h.report(ops.len().min(MAX_OPS))
}
