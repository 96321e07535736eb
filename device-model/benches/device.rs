//! tunic's own data path without a guest: a synthetic driver programs two igb
//! ports through the same register interface and guest memory the Linux driver
//! uses, A's wire feeding B's receiver, and keeps B's ring refilled. One
//! iteration moves one batch from A's Tx ring to B's Rx ring on one core:
//! 64 frames of 1500 bytes, or one 64 KiB TSO send (45 segments at MSS 1448). Each sits
//! beside a memcpy of the same bytes in the same run, so the figure reads as "cost
//! relative to touching the data once" (`docs/performance.md`).

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use device_model::igb::regs::*;
use device_model::igb::{Igb, IgbConfig};
use device_model::FrameSink;
use dma::DmaSpace;

const RING: u32 = 256;
const TX_RING: u64 = 0x10_000;
const RX_RING: u64 = 0x20_000;
const TX_BUF: u64 = 0x100_000;
const RX_BUFS: u64 = 0x400_000;
const MAC_A: [u8; 6] = [0x52, 0x54, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [0x52, 0x54, 0, 0, 0, 2];
const BATCH: u32 = 64;
/// The largest payload one data descriptor carries with its 54 bytes of headers
/// (DTALEN is 16 bits): a 64 KiB send.
const TSO_PAYLOAD: usize = 65_000;
const MSS: u32 = 1448;

const EOP: u32 = 1 << 24;
const IFCS: u32 = 1 << 25;
const RS: u32 = 1 << 27;
const TSE: u32 = 1 << 31;

/// The driver's side of one port: its device and its guest memory.
struct Port {
    dev: Arc<Mutex<Igb>>,
    dma: Arc<DmaSpace>,
}

/// B's receiver as A's wire.
struct IntoPeer(Arc<Mutex<Igb>>);

impl FrameSink for IntoPeer {
    fn transmit(&mut self, frame: &[u8]) {
        self.0.lock().unwrap().receive(frame);
    }
}

impl Port {
    fn new(mac: [u8; 6], wire: Box<dyn FrameSink>) -> Port {
        let dma = Arc::new(DmaSpace::new());
        dma.map_anonymous(0, 0x100_0000).unwrap();
        let dev = Igb::new(
            IgbConfig {
                mac,
                timing: Default::default(),
                autoneg_time: std::time::Duration::ZERO,
            },
            dma.clone(),
            Arc::new(device_model::NoIrq),
            wire,
        );
        Port {
            dev: Arc::new(Mutex::new(dev)),
            dma,
        }
    }

    fn wr(&self, off: u32, v: u32) {
        self.dev
            .lock()
            .unwrap()
            .mmio_write(u64::from(off), &v.to_le_bytes());
    }

    fn rd(&self, off: u32) -> u32 {
        let mut b = [0u8; 4];
        self.dev.lock().unwrap().mmio_read(u64::from(off), &mut b);
        u32::from_le_bytes(b)
    }

    /// Queue 0 of both directions, as igb_configure_{tx,rx}_ring leave them.
    fn up(&self) {
        self.wr(queue_off(true, 0, Q_BAL), TX_RING as u32);
        self.wr(queue_off(true, 0, Q_LEN), RING * 16);
        self.wr(queue_off(true, 0, Q_CTL), TXDCTL_ENABLE);
        self.wr(TCTL, TCTL_EN | TCTL_PSP);
        self.wr(queue_off(false, 0, Q_BAL), RX_RING as u32);
        self.wr(queue_off(false, 0, Q_LEN), RING * 16);
        self.wr(queue_off(false, 0, Q_SRRCTL), 2 | (1 << 25));
        for i in 0..RING {
            self.post_rx(i);
        }
        self.wr(queue_off(false, 0, Q_CTL), RXDCTL_ENABLE);
        self.wr(queue_off(false, 0, Q_TAIL), RING - 1);
        self.wr(RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);
    }

    /// Gives Rx descriptor `i` its 2 KiB buffer back (the write-back overwrote it).
    fn post_rx(&self, i: u32) {
        let at = RX_RING + 16 * u64::from(i);
        let buf = RX_BUFS + 0x800 * u64::from(i);
        self.dma.write(at, &buf.to_le_bytes()).unwrap();
        self.dma.write(at + 8, &[0; 8]).unwrap();
    }

    /// What igb_clean_rx_irq and igb_alloc_rx_buffers do, minus the stack: every
    /// descriptor the device filled goes back on the ring. Returns the frames seen.
    fn refill(&self, next: &mut u32) -> u32 {
        let head = self.rd(queue_off(false, 0, Q_HEAD));
        let mut n = 0;
        while *next != head {
            self.post_rx(*next);
            *next = (*next + 1) % RING;
            n += 1;
        }
        self.wr(queue_off(false, 0, Q_TAIL), (head + RING - 1) % RING);
        n
    }

    fn tx_desc(&self, slot: u32, buf: u64, len: usize, cmd: u32, olinfo: u32) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&buf.to_le_bytes());
        d[8..12].copy_from_slice(&((len as u32) | (3 << 20) | (1 << 29) | cmd).to_le_bytes());
        d[12..16].copy_from_slice(&olinfo.to_le_bytes());
        self.dma.write(TX_RING + 16 * u64::from(slot), &d).unwrap();
    }

    /// A TSO context for TCP/IPv4 with 20-byte IP and TCP headers.
    fn tso_context(&self, slot: u32) {
        let mut ctx = [0u8; 16];
        ctx[0..4].copy_from_slice(&(20u32 | (14 << 9)).to_le_bytes());
        ctx[8..12]
            .copy_from_slice(&((1u32 << 10) | (1 << 11) | (2 << 20) | (1 << 29)).to_le_bytes());
        ctx[12..16].copy_from_slice(&((20u32 << 8) | (MSS << 16)).to_le_bytes());
        self.dma
            .write(TX_RING + 16 * u64::from(slot), &ctx)
            .unwrap();
    }

    /// Rings the Tx doorbell and, as the port's worker does, runs the passes the
    /// doorbell deferred.
    fn doorbell(&self, tail: u32) {
        self.wr(queue_off(true, 0, Q_TAIL), tail);
        let mut d = self.dev.lock().unwrap();
        while d.has_deferred() {
            d.run_deferred();
        }
    }
}

fn ipv4_header(protocol: u8, total: usize) -> Vec<u8> {
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        protocol,
        0,
        0,
    ];
    ip.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
    let sum = offload_engines::checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip
}

/// A 1500-byte IPv4/UDP frame from A to B (UDP checksum 0: none).
fn udp_frame() -> Vec<u8> {
    let mut f = MAC_B.to_vec();
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend(ipv4_header(17, 1486));
    f.extend_from_slice(&[0x9c, 0x40, 0x00, 0x09, 0x05, 0xc2, 0, 0]);
    f.extend((0..1458).map(|i| (i * 7) as u8));
    f
}

/// A TCP/IPv4 super-packet of `TSO_PAYLOAD` bytes, headers as the stack leaves them.
fn tso_packet() -> Vec<u8> {
    let mut f = MAC_B.to_vec();
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend(ipv4_header(6, 40 + TSO_PAYLOAD));
    f.extend_from_slice(&[0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 0]);
    f.extend_from_slice(&[0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend((0..TSO_PAYLOAD).map(|i| (i * 13) as u8));
    f
}

/// Two wired ports, both up.
fn pair() -> (Port, Port) {
    let b = Port::new(MAC_B, Box::new(device_model::NullSink));
    let a = Port::new(MAC_A, Box::new(IntoPeer(b.dev.clone())));
    a.up();
    b.up();
    (a, b)
}

fn bench_frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("device-igb");
    let frame = udp_frame();
    let bytes = frame.len() * BATCH as usize;
    g.throughput(Throughput::Bytes(bytes as u64));
    let (a, b) = pair();
    a.dma.write(TX_BUF, &frame).unwrap();
    let (mut tail, mut rx_next) = (0u32, 0u32);
    g.bench_function(BenchmarkId::new("frames-1500", BATCH), |it| {
        it.iter(|| {
            for _ in 0..BATCH {
                a.tx_desc(
                    tail,
                    TX_BUF,
                    frame.len(),
                    EOP | IFCS | RS,
                    (frame.len() as u32) << 14,
                );
                tail = (tail + 1) % RING;
            }
            a.doorbell(tail);
            let got = b.refill(&mut rx_next);
            assert_eq!(got, BATCH, "every frame must reach B's ring");
        })
    });
    let src: Vec<u8> = (0..bytes).map(|i| i as u8).collect();
    let mut dst = vec![0u8; bytes];
    g.bench_function(BenchmarkId::new("memcpy", bytes), |it| {
        it.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("device-igb-tso");
    let packet = tso_packet();
    g.throughput(Throughput::Bytes(packet.len() as u64));
    let (a, b) = pair();
    a.dma.write(TX_BUF, &packet).unwrap();
    let segments = TSO_PAYLOAD.div_ceil(MSS as usize) as u32;
    let (mut tail, mut rx_next) = (0u32, 0u32);
    g.bench_function(BenchmarkId::new("tso-64k", MSS), |it| {
        it.iter(|| {
            a.tso_context(tail);
            let data = (tail + 1) % RING;
            a.tx_desc(
                data,
                TX_BUF,
                packet.len(),
                EOP | IFCS | RS | TSE,
                ((TSO_PAYLOAD as u32) << 14) | (3 << 8),
            );
            tail = (data + 1) % RING;
            a.doorbell(tail);
            let got = b.refill(&mut rx_next);
            assert_eq!(got, segments, "every segment must reach B's ring");
        })
    });
    let src: Vec<u8> = (0..packet.len()).map(|i| i as u8).collect();
    let mut dst = vec![0u8; packet.len()];
    g.bench_function(BenchmarkId::new("memcpy", packet.len()), |it| {
        it.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_frames);
criterion_main!(benches);
