//! The igb device under the timing model, in virtual time: exact and repeatable.

use std::sync::{Arc, Mutex};

use dma::DmaSpace;
use offload_engines::cost::{LinkSpeed, Params, Picos, Stage, TxCost, TxShape, PS_PER_SEC};

use super::regs::*;
use super::*;
use crate::irq::IrqSink;
use crate::timing::{TimingConfig, TimingMode, TraceWriter};
use crate::wire::FrameSink;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const TX_RING: u64 = 0x10_0000;
const BUF: u64 = 0x20_0000;
const EOP: u32 = 1 << 24;
const IFCS: u32 = 1 << 25;
const RS: u32 = 1 << 27;
const DEXT: u32 = 1 << 29;
const TSE: u32 = 1 << 31;
const TX_VECTOR: u32 = 2;

/// Frames with their modelled departure times.
#[derive(Clone, Default)]
struct TimedWire(Arc<Mutex<Vec<(usize, Picos)>>>);

impl FrameSink for TimedWire {
    fn transmit(&mut self, _frame: &[u8]) {
        panic!("a timed device must give every frame its departure time");
    }
    fn transmit_at(&mut self, frame: &[u8], departure: Picos) {
        self.0.lock().unwrap().push((frame.len(), departure));
    }
}

#[derive(Default)]
struct CountingIrq(Mutex<u64>);

impl IrqSink for CountingIrq {
    fn msix(&self, vector: u16) -> bool {
        if u32::from(vector) == TX_VECTOR {
            *self.0.lock().unwrap() += 1;
        }
        true
    }
    fn msix_enabled(&self) -> bool {
        true
    }
    fn legacy(&self, _asserted: bool) {}
}

struct Rig {
    dev: Igb,
    dma: Arc<DmaSpace>,
    wire: TimedWire,
    irq: Arc<CountingIrq>,
    ring: u32,
}

fn rig(speed: LinkSpeed, ring: u32) -> Rig {
    rig_traced(speed, ring, None)
}

fn rig_traced(speed: LinkSpeed, ring: u32, trace: Option<TraceWriter>) -> Rig {
    rig_with(speed, ring, TimingMode::Virtual, trace)
}

fn rig_with(speed: LinkSpeed, ring: u32, mode: TimingMode, trace: Option<TraceWriter>) -> Rig {
    let dma = Arc::new(DmaSpace::new());
    dma.map_anonymous(0, 0x100_0000).unwrap();
    let wire = TimedWire::default();
    let irq = Arc::new(CountingIrq::default());
    let timing = TimingConfig {
        mode,
        params: Params {
            speed,
            ..Params::default()
        },
        trace,
        ..TimingConfig::default()
    };
    let dev = Igb::new(
        IgbConfig {
            mac: MAC,
            timing,
            autoneg_time: std::time::Duration::ZERO,
        },
        dma.clone(),
        irq.clone(),
        Box::new(wire.clone()),
    );
    let mut r = Rig {
        dev,
        dma,
        wire,
        irq,
        ring,
    };
    // MSI-X with Tx queue 0 on its own vector, auto-cleared but not auto-masked,
    // so every interrupt the moderation lets through reaches the counter.
    r.wr(GPIE, GPIE_MSIX_MODE | GPIE_NSICR | GPIE_PBA);
    r.wr(IVAR0, (TX_VECTOR | IVAR_VALID) << 8);
    r.wr(EIAC, 1 << TX_VECTOR);
    r.wr(EIMS, 1 << TX_VECTOR);
    r.wr(queue_off(true, 0, Q_BAL), TX_RING as u32);
    r.wr(queue_off(true, 0, Q_LEN), ring * 16);
    r.wr(queue_off(true, 0, Q_CTL), TXDCTL_ENABLE);
    r.wr(TCTL, TCTL_EN | TCTL_PSP);
    r
}

impl Rig {
    fn wr(&mut self, off: u32, v: u32) {
        self.dev.mmio_write(u64::from(off), &v.to_le_bytes());
    }
    fn descriptor(&self, slot: u32, buf: u64, w2: u32, w3: u32) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&buf.to_le_bytes());
        d[8..12].copy_from_slice(&w2.to_le_bytes());
        d[12..16].copy_from_slice(&w3.to_le_bytes());
        self.dma.write(TX_RING + 16 * u64::from(slot), &d).unwrap();
    }
    fn data(&self, slot: u32, buf: u64, len: usize, cmd: u32, olinfo: u32) {
        self.descriptor(slot, buf, len as u32 | (3 << 20) | DEXT | cmd, olinfo);
    }
    /// TDT, then what the port's worker does with the passes it left.
    fn doorbell(&mut self, tail: u32) {
        self.wr(queue_off(true, 0, Q_TAIL), tail % self.ring);
        while self.dev.has_deferred() {
            self.dev.run_deferred();
        }
    }
    fn departures(&self) -> Vec<(usize, Picos)> {
        self.wire.0.lock().unwrap().clone()
    }
    fn now(&self) -> Picos {
        self.dev.model_time().unwrap()
    }
}

fn per_second(events: u64, span: Picos) -> f64 {
    events as f64 * PS_PER_SEC as f64 / span.as_ps() as f64
}

fn assert_within(actual: f64, expected: f64, tolerance: f64) {
    let error = (actual - expected).abs() / expected;
    assert!(
        error <= tolerance,
        "{actual} is {:.4}% off {expected}",
        error * 100.0
    );
}

#[test]
fn back_to_back_minimum_frames_leave_the_tx_ring_at_10g_line_rate() {
    let ring = 4096;
    let mut r = rig(LinkSpeed::Gbps10, ring);
    r.dma.write(BUF, &[0x5a; 60]).unwrap();
    for slot in 0..ring - 1 {
        r.data(slot, BUF, 60, EOP | IFCS | RS, 60 << 14);
    }
    r.doorbell(ring - 1);
    let frames = r.departures();
    assert_eq!(frames.len(), (ring - 1) as usize);
    assert!(frames.iter().all(|&(len, _)| len == 60));
    // Measured once the pipeline has filled: from the 100th frame to the last.
    let (first, last) = (frames[100].1, frames[frames.len() - 1].1);
    let rate = per_second((frames.len() - 101) as u64, last - first);
    assert_within(rate, 14_880_952.0, 0.001);
}

#[test]
fn eitr_limits_interrupts_to_one_per_interval() {
    let frame = vec![0x5a; 1514];
    for usecs in [20u32, 50, 100] {
        let mut r = rig(LinkSpeed::Gbps1, 16);
        r.wr(EITR0 + 4 * TX_VECTOR, (usecs << 2) | (1 << 31));
        r.dma.write(BUF, &frame).unwrap();
        // A steady stream: one frame per doorbell, each asking for its interrupt.
        let packets = 4000;
        for i in 0..packets {
            r.data(i % 16, BUF, frame.len(), EOP | IFCS | RS, 0);
            r.doorbell(i + 1);
        }
        let interrupts = *r.irq.0.lock().unwrap();
        let rate = per_second(interrupts, r.now());
        assert_within(rate, 1e6 / f64::from(usecs), 0.01);
        let report = r.dev.timing_report().unwrap();
        let v = &report.vectors[0];
        assert_eq!((v.vector, v.raised), (TX_VECTOR as usize, interrupts));
        assert!(v.moderated > 0 && v.eitr_interval_us == u64::from(usecs));
        assert_eq!(report.queues[0].interrupt_causes, u64::from(packets));
    }
}

/// Ethernet + IPv4 + TCP headers (54 bytes) and `payload` bytes.
fn tcp_send(payload: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + 20 + payload) as u16;
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&[
        0x13, 0x88, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
    ]);
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend((0..payload).map(|i| i as u8));
    f
}

#[test]
fn tso_64k_send_takes_the_sum_of_its_modelled_stages() {
    let trace = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut r = rig_traced(LinkSpeed::Gbps1, 16, Some(trace.clone()));
    let (header, mss) = (54usize, 1448u32);
    let send = tcp_send(65_536 - header);
    r.dma.write(BUF, &send).unwrap();
    // Context: MACLEN 14, IPLEN 20, TCP/IPv4, L4LEN 20, MSS 1448.
    r.descriptor(
        0,
        u64::from(20u32 | (14 << 9)),
        (1 << 10) | (1 << 11) | (2 << 20) | DEXT,
        (20 << 8) | (mss << 16),
    );
    // The 64 KiB in two buffers: a descriptor carries at most 64 KiB - 1.
    let half = send.len() / 2;
    let olinfo = ((send.len() - header) as u32) << 14 | (3 << 8);
    r.data(1, BUF, half, TSE, olinfo);
    r.data(2, BUF + half as u64, half, TSE | EOP | IFCS | RS, olinfo);
    r.doorbell(3);

    let expected = TxCost::of(
        &Params::default(),
        &TxShape {
            descriptors: 3,
            write_backs: 1,
            bytes: 65_536,
            header_len: header as u32,
            mss,
            checksum: true,
            interrupt: true,
        },
    );
    let frames = r.departures();
    assert_eq!(frames.len(), 46);
    // Alone on an idle device the send finishes at the sum of its stages…
    assert_eq!(r.now(), expected.total());
    // …and its last segment leaves when the wire stage ends.
    let to_wire: Picos = expected
        .stages
        .iter()
        .take_while(|s| s.stage != Stage::Wire)
        .map(|s| s.latency)
        .sum::<Picos>()
        + expected.stage(Stage::Wire).unwrap().latency;
    assert_eq!(frames[45].1, to_wire);
    let q = &r.dev.timing_report().unwrap().queues[0];
    assert_eq!((q.tx_packets, q.tx_frames), (1, 46));
    assert_eq!(q.tx_busy_ps, expected.total().as_ps());
    // One trace line for the send, with every stage and the departure time.
    let text = String::from_utf8(trace.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["segments"], 46);
    assert_eq!(lines[0]["departure_ps"], to_wire.as_ps());
    assert_eq!(lines[0]["stages_ps"].as_object().unwrap().len(), 7);
}

/// Paced: a descriptor's DD and the Tx interrupt come when the model says its packet
/// is done (after its last bit left at 1 Gb/s), not when the doorbell is handled.
#[test]
fn paced_write_backs_wait_for_modelled_completion() {
    const FRAMES: u32 = 32;
    let mut r = rig_with(LinkSpeed::Gbps1, 64, TimingMode::Paced, None);
    for slot in 0..FRAMES {
        r.data(slot, BUF, 1514, EOP | IFCS | RS, 0);
    }
    let dd = |r: &Rig, slot: u32| {
        let mut s = [0u8; 4];
        r.dma
            .read(TX_RING + 16 * u64::from(slot) + 12, &mut s)
            .unwrap();
        u32::from_le_bytes(s) & 1 == 1
    };
    let start = std::time::Instant::now();
    r.doorbell(FRAMES);
    assert_eq!(
        r.departures().len(),
        FRAMES as usize,
        "frames go to the pacer at once"
    );
    assert!(r.dev.next_timer().is_some(), "write-backs are scheduled");
    let mut seen = vec![None; FRAMES as usize];
    while seen.iter().any(Option::is_none) && start.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_micros(20));
        r.dev.run_timers();
        for slot in 0..FRAMES {
            if seen[slot as usize].is_none() && dd(&r, slot) {
                seen[slot as usize] = Some(start.elapsed());
            }
        }
    }
    let seen: Vec<_> = seen
        .into_iter()
        .map(|s| s.expect("every DD written"))
        .collect();
    // 1514 B + FCS + preamble + IFG = 1538 B = 12.304 µs at 1 Gb/s; the last packet's
    // write-back cannot come before all of them have left.
    let wire = std::time::Duration::from_nanos(12_304 * u64::from(FRAMES));
    assert!(
        seen[FRAMES as usize - 1] >= wire,
        "last DD after {:?}",
        seen[31]
    );
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "in ring order: {seen:?}"
    );
    assert!(*r.irq.0.lock().unwrap() >= 1, "the Tx interrupt followed");
    assert_eq!(r.dev.next_timer(), None);
}

/// A 100 Mb/s model: full-size frames leave at 100BASE-TX line rate (1538 wire bytes
/// each, 8127.4 frames/s) and STATUS tells the driver the link runs at 100 Mb/s.
#[test]
fn a_100_mbps_link_paces_at_its_line_rate_and_says_so() {
    let ring = 256;
    let mut r = rig(LinkSpeed::Mbps100, ring);
    r.dma.write(BUF, &[0x5a; 1514]).unwrap();
    for slot in 0..ring - 1 {
        r.data(slot, BUF, 1514, EOP | IFCS | RS, 0);
    }
    r.doorbell(ring - 1);
    let frames = r.departures();
    let (first, last) = (frames[10].1, frames[frames.len() - 1].1);
    let rate = per_second((frames.len() - 11) as u64, last - first);
    assert_within(rate, 100e6 / (1538.0 * 8.0), 0.001);
    r.dev.set_link(true);
    let mut status = [0u8; 4];
    r.dev.mmio_read(u64::from(STATUS), &mut status);
    let status = u32::from_le_bytes(status);
    assert_eq!(status & STATUS_LU, STATUS_LU);
    assert_eq!(status & (3 << 6), STATUS_SPEED_100);
}

/// Virtual time: a doorbell of MSS-1 sends, split into passes by its budget, holds
/// at most 16 MiB of frames (plus one packet's) however much it queued, and its
/// frames still leave back to back, as if it had been one pass.
#[test]
fn a_virtual_time_doorbell_holds_bounded_frames_and_keeps_line_rate() {
    const SENDS: u32 = 40;
    const PAYLOAD: usize = 20_000;
    let mut r = rig(LinkSpeed::Gbps10, 64);
    let send = tcp_send(PAYLOAD);
    r.dma.write(BUF, &send).unwrap();
    r.descriptor(
        0,
        u64::from(20u32 | (14 << 9)),
        (1 << 10) | (1 << 11) | (2 << 20) | DEXT,
        (20 << 8) | (1 << 16),
    );
    let olinfo = (PAYLOAD as u32) << 14 | (3 << 8);
    for slot in 1..=SENDS {
        r.data(slot, BUF, send.len(), TSE | EOP | IFCS | RS, olinfo);
    }
    r.wr(queue_off(true, 0, Q_TAIL), SENDS + 1);
    let limit = (16 << 20) + PAYLOAD as u64 * 60;
    let mut passes = 0;
    loop {
        let made = r.dev.counters().tx_frames;
        let held = made - r.departures().len() as u64;
        assert!(
            held * 60 <= limit,
            "{held} frames held after {passes} passes"
        );
        if !r.dev.has_deferred() {
            break;
        }
        r.dev.run_deferred();
        passes += 1;
    }
    assert_eq!(passes, SENDS - 1, "one send per pass");
    let frames = r.departures();
    assert_eq!(frames.len(), SENDS as usize * PAYLOAD);
    // 55-byte segments padded to 60 leave one 67.2 ns wire slot apart across every
    // pass boundary. Only where the held frames passed 16 MiB (twice here) was the
    // batch played early, and the next send's fetch waits behind its write-backs.
    let late = frames
        .windows(2)
        .skip(100)
        .filter(|w| w[1].1 - w[0].1 > Picos(67_200))
        .count();
    assert!(late <= 2, "{late} gaps in the departures");
}
