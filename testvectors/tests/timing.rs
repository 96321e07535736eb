//! The timing model against first principles, in virtual time: Ethernet line rates,
//! a PCIe bound from TLP arithmetic, EITR interrupt rates, and the per-stage cost of
//! a 64 KiB TSO send.

use offload_engines::cost::{
    self, Breakdown, Direction, EventQueue, Generation, LinkSpeed, LinkWidth, Moderation, Params,
    PcieLink, Picos, Resource, Resources, RxCost, RxShape, Stage, TxCost, TxShape, VirtualClock,
};
use serde::Serialize;

/// Packets per measured run.
const PACKETS: u64 = 20_000;

/// A plain frame as igb sends it: one data descriptor, DD written back, checksum
/// offload on, its interrupt moderated away.
fn frame(len_with_fcs: u64) -> TxShape {
    TxShape {
        descriptors: 1,
        write_backs: 1,
        bytes: len_with_fcs - cost::FCS,
        checksum: true,
        ..TxShape::default()
    }
}

fn at(speed: LinkSpeed) -> Params {
    Params {
        speed,
        ..Params::default()
    }
}

fn assert_within(actual: f64, expected: f64, tolerance: f64) {
    let error = (actual - expected).abs() / expected;
    assert!(
        error <= tolerance,
        "{actual} is {:.4}% off {expected}",
        error * 100.0
    );
}

/// Frames per second in virtual time, with twice the packets in flight that the
/// unloaded latency needs to keep the bottleneck busy (Little's law).
fn measured_rate(params: &Params, shape: &TxShape) -> f64 {
    let breakdown = TxCost::of(params, shape);
    let (_, per_packet) = breakdown.bottleneck();
    let in_flight = 2 * breakdown.total().as_ps() / per_packet.as_ps() + 16;
    cost::steady_rate(&breakdown, PACKETS, in_flight).per_second()
}

fn assert_wire_bound(params: &Params, len: u64, frames_per_second: f64) {
    let shape = frame(len);
    let (resource, _) = TxCost::of(params, &shape).bottleneck();
    assert_eq!(resource, Resource::TxWire, "{len} B at {:?}", params.speed);
    assert_within(measured_rate(params, &shape), frames_per_second, 0.001);
}

#[test]
fn back_to_back_minimum_frames_at_10g() {
    // 64 B + 8 B preamble/SFD + 12 B gap = 672 bits: 1e10 / 672.
    assert_wire_bound(&at(LinkSpeed::Gbps10), 64, 14_880_952.0);
}

#[test]
fn back_to_back_minimum_frames_at_1g() {
    assert_wire_bound(&at(LinkSpeed::Gbps1), 64, 1_488_095.0);
}

#[test]
fn back_to_back_1518_byte_frames_at_10g() {
    // 1538 bytes on the wire: 1e10 / 12304.
    assert_wire_bound(&at(LinkSpeed::Gbps10), 1518, 812_743.0);
}

#[test]
fn back_to_back_minimum_frames_at_25g_and_100g_on_a_gen4_x16_link() {
    let fast = PcieLink {
        generation: Generation::Gen4,
        width: LinkWidth::X16,
        ..PcieLink::default()
    };
    for (speed, rate) in [
        (LinkSpeed::Gbps25, 37_202_380.95),
        (LinkSpeed::Gbps100, 148_809_523.8),
    ] {
        let params = Params {
            speed,
            pcie: fast,
            ..Params::default()
        };
        assert_wire_bound(&params, 64, rate);
    }
}

#[test]
fn gen1_x1_at_10g_is_bound_by_tlp_arithmetic_not_the_wire() {
    let params = Params {
        speed: LinkSpeed::Gbps10,
        pcie: PcieLink {
            generation: Generation::Gen1,
            width: LinkWidth::X1,
            ..PcieLink::default()
        },
        ..Params::default()
    };
    let shape = frame(1518);

    // Host-to-device bytes per 1518-byte frame (1514 B DMA-read), by hand:
    // - descriptor completion: 12 B header + 16 B data + 8 B framing = 36
    // - payload: read requests of 512, 512, 490 B (MRRS 512) come back in 64-byte
    //   completions: 8 + 8 + 8 of them (490 = 7 * 64 + 42, padded to 44);
    //   24 * (12 + 8) B overhead + 1516 B data = 1996
    // - Ack and UpdateFC DLLPs for the 5 requests the device sent (descriptor read,
    //   3 payload reads, write-back), one of each per 4 TLPs: 5 * 8 * (1/4 + 1/4) = 20
    let down_bytes: u64 = 36 + 1996 + 20;
    // Gen1: 2.5 GT/s, 8b/10b: 10 bits = 4 ns per byte on one lane.
    let per_frame = Picos(down_bytes * 4_000);
    let pcie_bound = 1e12 / per_frame.as_ps() as f64;

    let breakdown = TxCost::of(&params, &shape);
    assert_eq!(breakdown.bottleneck(), (Resource::PcieDown, per_frame));
    let rate = measured_rate(&params, &shape);
    assert_within(rate, pcie_bound, 0.001);
    let wire_rate = 1e10 / (1538.0 * 8.0);
    assert!(rate < wire_rate / 6.0, "{rate} frames/s is not PCIe-bound");
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Cause,
    Timer,
}

/// Interrupts signalled in one second of virtual time when a cause is raised every
/// `period`, with the throttle's timer and the causes on one event queue.
fn interrupts_per_second(interval: Picos, period: Picos) -> (u64, u64) {
    let second = Picos(cost::PS_PER_SEC);
    let mut moderation = Moderation::new(interval);
    let mut queue = EventQueue::new();
    let mut clock = VirtualClock::default();
    let (mut causes, mut interrupts) = (0, 0);
    let mut last_interrupt: Option<Picos> = None;
    queue.schedule(Picos::ZERO, Event::Cause);
    while let Some((now, event)) = queue.step(&mut clock) {
        if now >= second {
            break;
        }
        let step = match event {
            Event::Cause => {
                causes += 1;
                queue.schedule(now + period, Event::Cause);
                moderation.on_cause(now)
            }
            Event::Timer => moderation.on_timer(now),
        };
        if step.fire {
            if let Some(last) = last_interrupt {
                assert!(now - last >= interval, "interrupts {last:?} and {now:?}");
            }
            last_interrupt = Some(now);
            interrupts += 1;
        }
        if let Some(deadline) = step.arm {
            queue.schedule(deadline, Event::Timer);
        }
    }
    (causes, interrupts)
}

#[test]
fn eitr_moderation_gives_one_interrupt_per_interval_under_a_steady_stream() {
    // A cause per 1518-byte frame at 10 Gb/s: one every 1.2304 us.
    let period = cost::serialization_time(LinkSpeed::Gbps10, 1514);
    for usecs in [4_u32, 10, 49, 50, 125, 196, 250, 1000] {
        // As igb programs it: interval in bits 14:2, counter-ignore bit set.
        let eitr = 0x8000_0000 | (usecs << 2);
        let interval = cost::eitr_interval(eitr);
        let (causes, interrupts) = interrupts_per_second(interval, period);
        assert_eq!(causes, 812_744);
        assert_within(interrupts as f64, 1e6 / f64::from(usecs), 0.01);
    }
}

#[test]
fn eitr_moderation_does_not_delay_a_sparse_stream() {
    let (causes, interrupts) = interrupts_per_second(Picos::from_us(50), Picos::from_us(120));
    assert_eq!(interrupts, causes);
}

/// What the snapshot records of a breakdown.
#[derive(Serialize)]
struct StageRow {
    stage: String,
    latency_ps: u64,
    pcie_up_ps: u64,
    pcie_down_ps: u64,
    engine_ps: u64,
    wire_ps: u64,
    tlps: u64,
}

#[derive(Serialize)]
struct Snapshot {
    stages: Vec<StageRow>,
    total_ps: u64,
    bottleneck: String,
    bottleneck_ps: u64,
}

fn snapshot(b: &Breakdown) -> Snapshot {
    let (resource, per_packet) = b.bottleneck();
    Snapshot {
        stages: b
            .stages
            .iter()
            .map(|s| StageRow {
                stage: format!("{:?}", s.stage),
                latency_ps: s.latency.as_ps(),
                pcie_up_ps: s.busy.pcie_up.as_ps(),
                pcie_down_ps: s.busy.pcie_down.as_ps(),
                engine_ps: s.busy.engine.as_ps(),
                wire_ps: s.busy.wire.as_ps(),
                tlps: s.tlps,
            })
            .collect(),
        total_ps: b.total().as_ps(),
        bottleneck: format!("{resource:?}"),
        bottleneck_ps: per_packet.as_ps(),
    }
}

/// Runs one packet's stages on an idle device, through the event queue.
fn run_alone(b: &Breakdown) -> Picos {
    let mut queue = EventQueue::new();
    let mut clock = VirtualClock::default();
    let mut resources = Resources::new();
    queue.schedule(Picos::ZERO, 0_usize);
    let mut finished = Picos::ZERO;
    while let Some((now, next)) = queue.step(&mut clock) {
        match b.stages.get(next) {
            Some(stage) => queue.schedule(resources.book(now, b.direction, stage), next + 1),
            None => finished = now,
        }
    }
    finished
}

#[test]
fn tso_64k_send_costs_the_sum_of_its_stages() {
    // The largest TSO send Linux hands igb: 65536 bytes with a 66-byte
    // Ethernet/IPv4/TCP-with-timestamps header, MSS 1448, a context descriptor
    // plus 17 data descriptors (header and 4 KiB page fragments).
    let shape = TxShape {
        descriptors: 18,
        write_backs: 1,
        bytes: 65_536,
        header_len: 66,
        mss: 1448,
        checksum: true,
        interrupt: true,
    };
    assert_eq!(shape.segments(), 46);
    let params = Params::default();
    let b = TxCost::of(&params, &shape);
    assert_eq!(b.direction, Direction::Tx);

    let stages = [
        Stage::DescriptorFetch,
        Stage::PayloadRead,
        Stage::Engine,
        Stage::SegmentHeaders,
        Stage::Wire,
        Stage::WriteBack,
        Stage::Interrupt,
    ];
    let sum: Picos = stages
        .iter()
        .map(|s| b.stage(*s).expect("stage present").latency)
        .sum();
    assert_eq!(b.stages.len(), stages.len());
    assert_eq!(b.total(), sum);
    assert_eq!(run_alone(&b), b.total());
    // 45 full segments of 1514 B and one of 66 + 310 B, at 1 Gb/s.
    let wire = (45 * (1514 + 24) + (376 + 24)) * 8 * 1_000;
    assert_eq!(b.stage(Stage::Wire).unwrap().latency, Picos(wire));

    insta::assert_yaml_snapshot!("tso_64k_breakdown", snapshot(&b));
}

#[test]
fn rx_1514_byte_frame_breakdown() {
    let shape = RxShape {
        descriptors: 1,
        write_backs: 1,
        bytes: 1514,
        checksum: true,
        interrupt: true,
    };
    let b = RxCost::of(&Params::default(), &shape);
    assert_eq!(run_alone(&b), b.total());
    insta::assert_yaml_snapshot!("rx_1514_breakdown", snapshot(&b));
}
