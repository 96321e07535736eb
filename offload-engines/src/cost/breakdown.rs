//! Per-packet cost: the stages a Tx or Rx packet goes through, what each adds to
//! the packet's latency and how long it keeps each shared resource busy.

use std::ops::Add;

use super::mac;
use super::time::Picos;
use super::Params;

/// Size of an 82576 Tx or Rx descriptor, legacy or advanced.
pub const DESCRIPTOR_BYTES: u64 = 16;
/// Data of one MSI-X message write.
pub const MSIX_MESSAGE_BYTES: u64 = 4;

/// Which way a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Tx,
    Rx,
}

/// A step of a packet's journey through the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Descriptors read from the ring.
    DescriptorFetch,
    /// Tx: packet buffers read from host memory.
    PayloadRead,
    /// Checksum and segmentation units streaming the packet's bytes.
    Engine,
    /// Tx with TSO: building each segment's headers.
    SegmentHeaders,
    /// Frame(s) serialized onto (Tx) or received from (Rx) the wire.
    Wire,
    /// Rx: the frame written into host buffers.
    PayloadWrite,
    /// Descriptors written back with their status.
    WriteBack,
    /// The MSI-X message.
    Interrupt,
}

/// How long a packet keeps each shared resource busy. Their sums over a stream of
/// packets bound its throughput: no resource can be busy more than 100% of the time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Busy {
    /// PCIe, device to host.
    pub pcie_up: Picos,
    /// PCIe, host to device.
    pub pcie_down: Picos,
    /// The packet direction's offload datapath.
    pub engine: Picos,
    /// The packet direction's half of the full-duplex wire.
    pub wire: Picos,
}

impl Add for Busy {
    type Output = Busy;
    fn add(self, rhs: Busy) -> Busy {
        Busy {
            pcie_up: self.pcie_up + rhs.pcie_up,
            pcie_down: self.pcie_down + rhs.pcie_down,
            engine: self.engine + rhs.engine,
            wire: self.wire + rhs.wire,
        }
    }
}

/// A resource the device's packets compete for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    PcieUp,
    PcieDown,
    TxEngine,
    RxEngine,
    TxWire,
    RxWire,
}

impl Resource {
    pub const ALL: [Resource; 6] = [
        Resource::PcieUp,
        Resource::PcieDown,
        Resource::TxEngine,
        Resource::RxEngine,
        Resource::TxWire,
        Resource::RxWire,
    ];
}

impl Busy {
    /// Each resource with its busy time, for a packet going `direction`.
    pub fn per_resource(&self, direction: Direction) -> [(Resource, Picos); 4] {
        let (engine, wire) = match direction {
            Direction::Tx => (Resource::TxEngine, Resource::TxWire),
            Direction::Rx => (Resource::RxEngine, Resource::RxWire),
        };
        [
            (Resource::PcieUp, self.pcie_up),
            (Resource::PcieDown, self.pcie_down),
            (engine, self.engine),
            (wire, self.wire),
        ]
    }
}

/// One stage's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageCost {
    pub stage: Stage,
    /// What the stage adds to the packet's latency on an otherwise idle device:
    /// for a read this includes the round trip, which occupies no resource.
    pub latency: Picos,
    pub busy: Busy,
    /// TLPs the stage exchanges over PCIe, both directions.
    pub tlps: u64,
}

/// A packet's stages in the order it goes through them. Stages that cost nothing
/// for this packet (no TSO, no interrupt, descriptors already fetched) are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    pub direction: Direction,
    pub stages: Vec<StageCost>,
}

impl Breakdown {
    /// Latency of the packet on an idle device: the sum of its stages.
    pub fn total(&self) -> Picos {
        self.stages.iter().map(|s| s.latency).sum()
    }

    pub fn stage(&self, stage: Stage) -> Option<&StageCost> {
        self.stages.iter().find(|s| s.stage == stage)
    }

    /// Busy time per resource, summed over the stages.
    pub fn busy(&self) -> Busy {
        self.stages
            .iter()
            .fold(Busy::default(), |sum, s| sum + s.busy)
    }

    /// The most loaded resource and its busy time per packet: a stream of such
    /// packets cannot go faster than one per this time.
    pub fn bottleneck(&self) -> (Resource, Picos) {
        self.busy().per_resource(self.direction).into_iter().fold(
            (Resource::PcieUp, Picos::ZERO),
            |best, r| {
                if r.1 > best.1 {
                    r
                } else {
                    best
                }
            },
        )
    }
}

/// What the device knows about a Tx packet when it has parsed its descriptors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxShape {
    /// Descriptors read from the ring for this packet (context and data); 0 when an
    /// earlier fetch brought them in.
    pub descriptors: u32,
    /// Descriptors written back with DD set.
    pub write_backs: u32,
    /// Bytes read from the packet's buffers: headers and payload, no FCS.
    pub bytes: u64,
    /// TSO: header bytes repeated in front of every segment.
    pub header_len: u32,
    /// TSO: payload bytes per segment; 0 when the packet is sent as one frame.
    pub mss: u32,
    /// Checksum insertion runs over the frame(s).
    pub checksum: bool,
    /// The packet's completion sends an MSI-X message (moderation decides).
    pub interrupt: bool,
}

impl TxShape {
    fn payload(&self) -> u64 {
        self.bytes.saturating_sub(u64::from(self.header_len))
    }

    fn segmented(&self) -> bool {
        self.mss > 0
    }

    /// Frames the packet becomes on the wire.
    pub fn segments(&self) -> u64 {
        if !self.segmented() {
            return 1;
        }
        self.payload().div_ceil(u64::from(self.mss)).max(1)
    }
}

/// What the device knows about a received frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxShape {
    /// Descriptors read from the ring for this frame; 0 when already prefetched.
    pub descriptors: u32,
    /// Descriptors written back.
    pub write_backs: u32,
    /// Frame bytes written to host memory: the FCS is stripped.
    pub bytes: u64,
    /// Checksum validation runs over the frame.
    pub checksum: bool,
    /// The frame's completion sends an MSI-X message (moderation decides).
    pub interrupt: bool,
}

/// Tx packet cost.
pub struct TxCost;

impl TxCost {
    pub fn of(params: &Params, shape: &TxShape) -> Breakdown {
        let segments = shape.segments();
        let header = u64::from(shape.header_len);
        // Replicated headers pass through the engine once per segment.
        let engine_bytes = if shape.segmented() {
            shape
                .bytes
                .saturating_add(header.saturating_mul(segments - 1))
        } else {
            shape.bytes
        };
        let mut b = Builder::new(Direction::Tx);
        b.dma_read(
            params,
            Stage::DescriptorFetch,
            descriptor_bytes(shape.descriptors),
        );
        b.dma_read(params, Stage::PayloadRead, shape.bytes);
        b.engine(
            Stage::Engine,
            params.engine.stream(
                params.clock,
                engine_bytes,
                shape.checksum,
                shape.segmented(),
            ),
        );
        if shape.segmented() {
            b.engine(
                Stage::SegmentHeaders,
                params.engine.headers(params.clock, segments),
            );
        }
        b.wire(tx_wire_time(params, shape));
        b.dma_write(
            params,
            Stage::WriteBack,
            descriptor_bytes(shape.write_backs),
        );
        if shape.interrupt {
            b.dma_write(params, Stage::Interrupt, MSIX_MESSAGE_BYTES);
        }
        b.done()
    }
}

/// Rx frame cost.
pub struct RxCost;

impl RxCost {
    pub fn of(params: &Params, shape: &RxShape) -> Breakdown {
        let mut b = Builder::new(Direction::Rx);
        b.wire(mac::serialization_time(params.speed, shape.bytes));
        b.engine(
            Stage::Engine,
            params
                .engine
                .stream(params.clock, shape.bytes, shape.checksum, false),
        );
        b.dma_read(
            params,
            Stage::DescriptorFetch,
            descriptor_bytes(shape.descriptors),
        );
        b.dma_write(params, Stage::PayloadWrite, shape.bytes);
        b.dma_write(
            params,
            Stage::WriteBack,
            descriptor_bytes(shape.write_backs),
        );
        if shape.interrupt {
            b.dma_write(params, Stage::Interrupt, MSIX_MESSAGE_BYTES);
        }
        b.done()
    }
}

fn descriptor_bytes(count: u32) -> u64 {
    u64::from(count) * DESCRIPTOR_BYTES
}

/// Every segment but the last carries a full MSS; a short last one may be padded.
fn tx_wire_time(params: &Params, shape: &TxShape) -> Picos {
    let speed = params.speed;
    if !shape.segmented() {
        return mac::serialization_time(speed, shape.bytes);
    }
    let header = u64::from(shape.header_len);
    let mss = u64::from(shape.mss);
    let payload = shape.payload();
    if payload == 0 {
        return mac::serialization_time(speed, header);
    }
    let full = payload / mss;
    let tail = payload % mss;
    let mut time = mac::serialization_time(speed, header.saturating_add(mss)).saturating_mul(full);
    if tail > 0 {
        time += mac::serialization_time(speed, header + tail);
    }
    time
}

struct Builder {
    breakdown: Breakdown,
}

impl Builder {
    fn new(direction: Direction) -> Builder {
        Builder {
            breakdown: Breakdown {
                direction,
                stages: Vec::new(),
            },
        }
    }

    fn push(&mut self, cost: StageCost) {
        if cost.latency > Picos::ZERO || cost.busy != Busy::default() {
            self.breakdown.stages.push(cost);
        }
    }

    fn dma_read(&mut self, params: &Params, stage: Stage, bytes: u64) {
        let link = params.pcie.read(bytes);
        self.push(StageCost {
            stage,
            latency: link.latency,
            busy: Busy {
                pcie_up: link.up,
                pcie_down: link.down,
                ..Busy::default()
            },
            tlps: link.tlps,
        });
    }

    fn dma_write(&mut self, params: &Params, stage: Stage, bytes: u64) {
        let link = params.pcie.write(bytes);
        self.push(StageCost {
            stage,
            latency: link.latency,
            busy: Busy {
                pcie_up: link.up,
                pcie_down: link.down,
                ..Busy::default()
            },
            tlps: link.tlps,
        });
    }

    fn engine(&mut self, stage: Stage, time: Picos) {
        self.push(StageCost {
            stage,
            latency: time,
            busy: Busy {
                engine: time,
                ..Busy::default()
            },
            tlps: 0,
        });
    }

    fn wire(&mut self, time: Picos) {
        self.push(StageCost {
            stage: Stage::Wire,
            latency: time,
            busy: Busy {
                wire: time,
                ..Busy::default()
            },
            tlps: 0,
        });
    }

    fn done(self) -> Breakdown {
        self.breakdown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tso() -> TxShape {
        TxShape {
            descriptors: 2,
            write_backs: 1,
            bytes: 54 + 3000,
            header_len: 54,
            mss: 1448,
            checksum: true,
            interrupt: true,
        }
    }

    #[test]
    fn segments_and_wire_time_of_a_tso_send() {
        let shape = tso();
        assert_eq!(shape.segments(), 3);
        let params = Params::default();
        // 3000 = 2 * 1448 + 104: two 1502-byte frames and one 158-byte frame.
        let expected = (2 * (1502 + 24) + (158 + 24)) * 8 * 1000;
        assert_eq!(tx_wire_time(&params, &shape), Picos(expected));
    }

    #[test]
    fn total_is_the_sum_of_stages_and_stages_are_in_order() {
        let b = TxCost::of(&Params::default(), &tso());
        let order: Vec<_> = b.stages.iter().map(|s| s.stage).collect();
        assert_eq!(
            order,
            [
                Stage::DescriptorFetch,
                Stage::PayloadRead,
                Stage::Engine,
                Stage::SegmentHeaders,
                Stage::Wire,
                Stage::WriteBack,
                Stage::Interrupt
            ]
        );
        let sum = b.stages.iter().fold(Picos::ZERO, |t, s| t + s.latency);
        assert_eq!(b.total(), sum);
    }

    #[test]
    fn absent_work_is_left_out() {
        let shape = TxShape {
            bytes: 60,
            ..TxShape::default()
        };
        let b = TxCost::of(&Params::default(), &shape);
        let order: Vec<_> = b.stages.iter().map(|s| s.stage).collect();
        assert_eq!(order, [Stage::PayloadRead, Stage::Wire]);
        assert_eq!(shape.segments(), 1);
    }

    #[test]
    fn rx_frame_stages() {
        let shape = RxShape {
            descriptors: 1,
            write_backs: 1,
            bytes: 1514,
            checksum: true,
            interrupt: false,
        };
        let b = RxCost::of(&Params::default(), &shape);
        let order: Vec<_> = b.stages.iter().map(|s| s.stage).collect();
        assert_eq!(
            order,
            [
                Stage::Wire,
                Stage::Engine,
                Stage::DescriptorFetch,
                Stage::PayloadWrite,
                Stage::WriteBack
            ]
        );
        // Rx payload goes up the link as posted writes.
        assert!(b.stage(Stage::PayloadWrite).unwrap().busy.pcie_up > Picos::ZERO);
        assert_eq!(b.direction, Direction::Rx);
    }

    #[test]
    fn guest_controlled_extremes_do_not_panic() {
        let params = Params::default();
        for shape in [
            TxShape {
                bytes: u64::MAX,
                mss: 1,
                header_len: u32::MAX,
                descriptors: u32::MAX,
                write_backs: u32::MAX,
                checksum: true,
                interrupt: true,
            },
            TxShape {
                bytes: 10,
                header_len: 100,
                mss: 8,
                ..TxShape::default()
            },
        ] {
            let b = TxCost::of(&params, &shape);
            let _ = (b.total(), b.bottleneck());
        }
    }
}
