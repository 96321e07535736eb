//! Device-level tests: a minimal driver programs rings in guest memory the way
//! `igb` does and checks what reaches the wire and the descriptors.

use std::sync::{Arc, Mutex};

use dma::DmaSpace;

use super::regs::*;
use super::*;
use crate::irq::IrqSink;

#[derive(Default)]
struct RecordingIrq {
    vectors: Mutex<Vec<u16>>,
}

impl IrqSink for RecordingIrq {
    fn msix(&self, vector: u16) -> bool {
        self.vectors.lock().unwrap().push(vector);
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
    wire: Arc<Mutex<Vec<Vec<u8>>>>,
    irq: Arc<RecordingIrq>,
}

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const TX_RING: u64 = 0x10_000;
const RX_RING: u64 = 0x20_000;
const BUFS: u64 = 0x40_000;

fn rig() -> Rig {
    rig_with_autoneg(std::time::Duration::ZERO)
}

fn rig_with_autoneg(autoneg_time: std::time::Duration) -> Rig {
    let wire = Arc::new(Mutex::new(Vec::new()));
    let w2 = wire.clone();
    let mut r = rig_with_sink(
        autoneg_time,
        Box::new(move |f: &[u8]| w2.lock().unwrap().push(f.to_vec())),
    );
    r.wire = wire;
    r
}

/// A rig whose wire is `sink` (`Rig::wire` then stays empty).
fn rig_with_sink(autoneg_time: std::time::Duration, sink: Box<dyn FrameSink>) -> Rig {
    let dma = Arc::new(DmaSpace::new());
    dma.map_anonymous(0, 0x100_0000).unwrap();
    let irq = Arc::new(RecordingIrq::default());
    let dev = Igb::new(
        IgbConfig {
            mac: MAC,
            timing: Default::default(),
            autoneg_time,
        },
        dma.clone(),
        irq.clone(),
        sink,
    );
    Rig {
        dev,
        dma,
        wire: Arc::default(),
        irq,
    }
}

impl Rig {
    fn rd(&mut self, off: u32) -> u32 {
        let mut b = [0u8; 4];
        self.dev.mmio_read(u64::from(off), &mut b);
        u32::from_le_bytes(b)
    }
    fn wr(&mut self, off: u32, v: u32) {
        self.dev.mmio_write(u64::from(off), &v.to_le_bytes());
    }
    fn up(&mut self) {
        self.wr(GPIE, GPIE_MSIX_MODE | GPIE_EIAME | GPIE_NSICR | GPIE_PBA);
        self.wr(IVAR0, (1 | IVAR_VALID) | ((2 | IVAR_VALID) << 8));
        self.wr(IVAR_MISC, IVAR_VALID << 8);
        self.wr(EIAC, 7);
        self.wr(EIAM, 7);
        self.wr(EIMS, 7);
        self.wr(queue_off(true, 0, Q_BAL), TX_RING as u32);
        self.wr(queue_off(true, 0, Q_LEN), 16 * 16);
        self.wr(queue_off(true, 0, Q_HEAD), 0);
        self.wr(queue_off(true, 0, Q_TAIL), 0);
        self.wr(queue_off(true, 0, Q_CTL), TXDCTL_ENABLE);
        self.wr(TCTL, TCTL_EN | TCTL_PSP);
        self.wr(queue_off(false, 0, Q_BAL), RX_RING as u32);
        self.wr(queue_off(false, 0, Q_LEN), 16 * 16);
        self.wr(queue_off(false, 0, Q_SRRCTL), 2 | (1 << 25));
        self.wr(queue_off(false, 0, Q_HEAD), 0);
        for i in 0..16u64 {
            let d = (BUFS + 0x1000 * i).to_le_bytes();
            self.dma.write(RX_RING + 16 * i, &d).unwrap();
            self.dma.write(RX_RING + 16 * i + 8, &[0; 8]).unwrap();
        }
        self.wr(queue_off(false, 0, Q_CTL), RXDCTL_ENABLE);
        self.wr(queue_off(false, 0, Q_TAIL), 15);
        self.wr(RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_LPE);
        self.wr(RLPML, 9018);
    }
    fn tx_data(&mut self, slot: u64, buf: u64, len: usize, cmd: u32, olinfo: u32) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&buf.to_le_bytes());
        d[8..12].copy_from_slice(&((len as u32) | (3 << 20) | (1 << 29) | cmd).to_le_bytes());
        d[12..16].copy_from_slice(&olinfo.to_le_bytes());
        self.dma.write(TX_RING + 16 * slot, &d).unwrap();
    }
}

const EOP: u32 = 1 << 24;
const IFCS: u32 = 1 << 25;
const RS: u32 = 1 << 27;

fn udp_frame(payload: usize) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = 20 + 8 + payload;
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
        198,
        18,
        0,
        1,
        198,
        18,
        0,
        2,
    ];
    let c = offload_engines::checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let ulen = 8 + payload;
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, (ulen >> 8) as u8, ulen as u8, 0, 0]);
    f.extend((0..payload).map(|i| i as u8));
    f
}

#[test]
fn probe_facing_registers() {
    let mut r = rig();
    // MAC preloaded into RAR0 from the NVM.
    assert_eq!(r.rd(ral(0)), u32::from_le_bytes([0x52, 0x54, 0, 0x12]));
    assert_eq!(r.rd(ral(0) + 4), 0x5634 | RAH_AV);
    // EERD word reads and checksum.
    let mut sum = 0u16;
    for w in 0..0x40u32 {
        r.wr(EERD, (w << 2) | 1);
        let v = r.rd(EERD);
        assert_ne!(v & 2, 0, "done");
        sum = sum.wrapping_add((v >> 16) as u16);
    }
    assert_eq!(sum, 0xbaba);
    // PHY identity through MDIC.
    r.wr(MDIC, (2 << 26) | (1 << 21) | (2 << 16));
    let v = r.rd(MDIC);
    assert_ne!(v & (1 << 28), 0);
    assert_eq!(v & 0xffff, 0x02a8);
    // Master disable clears GIO master enable; CTRL.RST self-clears.
    r.wr(CTRL, CTRL_GIO_MASTER_DISABLE);
    assert_eq!(r.rd(STATUS) & STATUS_GIO_MASTER_ENABLE, 0);
    r.wr(CTRL, CTRL_RST);
    assert_eq!(r.rd(CTRL) & CTRL_RST, 0);
    assert_ne!(r.rd(EECD) & EECD_AUTO_RD, 0);
    assert_ne!(r.rd(STATUS) & STATUS_LU, 0);
}

#[test]
fn a_phy_reset_drops_the_link_until_auto_negotiation_ends_and_then_says_so() {
    let mut r = rig_with_autoneg(std::time::Duration::from_millis(30));
    assert_ne!(r.rd(STATUS) & STATUS_LU, 0, "negotiated at power-on");
    assert!(r.dev.next_deadline().is_none());
    r.wr(IMS, ICR_LSC);
    let ctrl = r.rd(CTRL);
    r.wr(CTRL, ctrl | CTRL_PHY_RST);
    assert_eq!(r.rd(STATUS) & STATUS_LU, 0, "negotiating");
    let due = r
        .dev
        .next_deadline()
        .expect("auto-negotiation has a deadline");
    r.dev.run_deadlines();
    assert_eq!(r.rd(ICR) & ICR_LSC, 0, "not yet");
    std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
    r.dev.run_deadlines();
    assert_ne!(r.rd(STATUS) & STATUS_LU, 0);
    assert_ne!(r.rd(ICR) & ICR_LSC, 0, "the driver hears the link come up");
    assert!(r.dev.next_deadline().is_none());
}

#[test]
fn transmits_with_udp_checksum_offload_and_writes_back_dd() {
    let mut r = rig();
    r.up();
    let mut f = udp_frame(100);
    // The driver seeds the UDP checksum with the pseudo-header sum (length included).
    let seed = offload_engines::checksum::fold(offload_engines::checksum::pseudo_ipv4(
        [198, 18, 0, 1],
        [198, 18, 0, 2],
        17,
        108,
    ));
    f[40..42].copy_from_slice(&seed.to_be_bytes());
    r.dma.write(BUFS + 0x80_000, &f).unwrap();
    // Context: MACLEN 14, IPLEN 20, TUCMD IPv4 + L4T UDP.
    let mut ctx = [0u8; 16];
    ctx[0..4].copy_from_slice(&(20u32 | (14 << 9)).to_le_bytes());
    ctx[8..12].copy_from_slice(&((1u32 << 10) | (2 << 20) | (1 << 29)).to_le_bytes());
    r.dma.write(TX_RING, &ctx).unwrap();
    r.tx_data(
        1,
        BUFS + 0x80_000,
        f.len(),
        EOP | IFCS | RS,
        (f.len() as u32) << 14 | (1 << 9),
    );
    r.wr(queue_off(true, 0, Q_TAIL), 2);
    let sent = r.wire.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let out = &sent[0];
    let ph = offload_engines::checksum::pseudo_ipv4([198, 18, 0, 1], [198, 18, 0, 2], 17, 108);
    assert_eq!(
        offload_engines::checksum::fold(offload_engines::checksum::sum(&out[34..], ph)),
        0xffff
    );
    assert_eq!(r.rd(queue_off(true, 0, Q_HEAD)), 2);
    let mut st = [0u8; 4];
    r.dma.read(TX_RING + 16 + 12, &mut st).unwrap();
    assert_eq!(st[0] & 1, 1, "DD written back");
    assert_eq!(*r.irq.vectors.lock().unwrap(), vec![2], "tx0 -> vector 2");
}

#[test]
fn receives_into_descriptors_with_checksum_status() {
    let mut r = rig();
    r.up();
    r.wr(RXCSUM, RXCSUM_IPOFLD | RXCSUM_TUOFLD);
    let mut f = udp_frame(64);
    let ph = offload_engines::checksum::pseudo_ipv4([198, 18, 0, 1], [198, 18, 0, 2], 17, 72);
    let c = !offload_engines::checksum::fold(offload_engines::checksum::sum(&f[34..], ph));
    f[40..42].copy_from_slice(&c.to_be_bytes());
    r.dev.receive(&f);
    let mut wb = [0u8; 16];
    r.dma.read(RX_RING, &mut wb).unwrap();
    let st = u32::from_le_bytes(wb[8..12].try_into().unwrap());
    assert_eq!(st & 3, 3, "DD and EOP");
    assert_ne!(st & (1 << 6), 0, "IPCS");
    assert_ne!(st & (1 << 5), 0, "L4CS");
    assert_eq!(st & (3 << 29), 0, "no errors");
    assert_eq!(u16::from_le_bytes([wb[12], wb[13]]) as usize, f.len());
    let mut data = vec![0u8; f.len()];
    r.dma.read(BUFS, &mut data).unwrap();
    assert_eq!(data, f);
    // A corrupted UDP checksum is reported as an L4 error.
    f[50] ^= 0xff;
    r.dev.receive(&f);
    r.dma.read(RX_RING + 16, &mut wb).unwrap();
    let st = u32::from_le_bytes(wb[8..12].try_into().unwrap());
    assert_ne!(st & (1 << 29), 0, "L4E");
    assert_eq!(r.rd(queue_off(false, 0, Q_HEAD)), 2);
    assert_eq!(r.rd(super::stats::GPRC), 2);
    assert_eq!(
        *r.irq.vectors.lock().unwrap(),
        vec![1],
        "auto-masked after the first"
    );
    r.wr(EIMS, 1 << 1);
    assert_eq!(
        *r.irq.vectors.lock().unwrap(),
        vec![1, 1],
        "pending cause fires on re-enable"
    );
}

#[test]
fn jumbo_frame_spans_descriptors_and_full_ring_waits() {
    let mut r = rig();
    r.up();
    let f = udp_frame(8000);
    r.dev.receive(&f);
    let mut wb = [0u8; 16];
    for i in 0..4u64 {
        r.dma.read(RX_RING + 16 * i, &mut wb).unwrap();
        let st = u32::from_le_bytes(wb[8..12].try_into().unwrap());
        assert_eq!(st & 2 != 0, i == 3, "EOP only on the last of 4 buffers");
    }
    // 11 descriptors remain (tail 15): three more jumbo frames need 12.
    for _ in 0..3 {
        r.dev.receive(&f);
    }
    assert_eq!(r.rd(queue_off(false, 0, Q_HEAD)), 12);
    assert_eq!(r.dev.rx_fifo.len(), 1, "waits for descriptors");
    r.wr(queue_off(false, 0, Q_TAIL), 3);
    assert!(r.dev.rx_fifo.is_empty());
}

#[test]
fn hostile_rings_do_not_escape_guest_memory() {
    let mut r = rig();
    r.up();
    // Ring base outside guest memory.
    r.wr(queue_off(true, 0, Q_BAL), 0xfff0_0000);
    r.wr(queue_off(true, 0, Q_BAH), 0xffff_ffff);
    r.wr(queue_off(true, 0, Q_TAIL), 5);
    assert!(r.dev.counters().tx_dma_errors > 0);
    // Tail beyond the ring.
    r.wr(queue_off(true, 0, Q_BAL), TX_RING as u32);
    r.wr(queue_off(true, 0, Q_BAH), 0);
    r.wr(queue_off(true, 0, Q_TAIL), 0xffff);
    assert!(r.dev.counters().ring_errors > 0);
    // A data descriptor pointing outside memory.
    r.wr(queue_off(true, 0, Q_HEAD), 0);
    r.wr(queue_off(true, 0, Q_TAIL), 0);
    r.tx_data(0, 0xdead_0000_0000, 1500, EOP | RS, 0);
    r.wr(queue_off(true, 0, Q_TAIL), 1);
    assert!(r.wire.lock().unwrap().is_empty());
    // Unaligned and out-of-range MMIO.
    let mut b = [0u8; 3];
    r.dev.mmio_read(BAR0_SIZE - 1, &mut b);
    r.dev.mmio_write(u64::MAX - 1, &[1, 2, 3]);
    r.dev.mmio_write(0x1fffe, &[1, 2, 3, 4, 5, 6, 7, 8]);
}

/// A TCP/IPv4 SYN from `src:sport` to `dst:dport` (checksums are irrelevant to RSS).
fn tcp4_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut f = MAC.to_vec();
    f.extend_from_slice(&[0x52, 0x54, 0, 0, 0, 9, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    f
}

fn program_key(r: &mut Rig, key: &[u8; 40]) {
    for (i, chunk) in key.chunks(4).enumerate() {
        r.wr(
            RSSRK + 4 * i as u32,
            u32::from_le_bytes(chunk.try_into().unwrap()),
        );
    }
}

#[test]
fn rss_hash_in_descriptor_matches_published_vector_and_follows_key_changes() {
    // Microsoft's "Verifying the RSS Hash Calculation" key and first TCP/IPv4 row:
    // 66.9.149.187:2794 -> 161.142.100.80:1766 hashes to 0x51ccc178.
    const KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];
    let mut r = rig();
    r.up();
    program_key(&mut r, &KEY);
    r.wr(MRQC, 2 | MRQC_FIELD_TCP_IPV4 | MRQC_FIELD_IPV4);
    r.wr(RXCSUM, RXCSUM_PCSD | RXCSUM_IPOFLD | RXCSUM_TUOFLD);
    let f = tcp4_frame([66, 9, 149, 187], [161, 142, 100, 80], 2794, 1766);
    r.dev.receive(&f);
    let mut wb = [0u8; 16];
    r.dma.read(RX_RING, &mut wb).unwrap();
    assert_eq!(
        u32::from_le_bytes(wb[4..8].try_into().unwrap()),
        0x51cc_c178
    );
    assert_eq!(wb[0] & 0xf, 1, "RSS type TCP/IPv4");
    // A new key changes the hash; an all-zero key hashes everything to 0.
    program_key(&mut r, &[0; 40]);
    r.dev.receive(&f);
    r.dma.read(RX_RING + 16, &mut wb).unwrap();
    assert_eq!(u32::from_le_bytes(wb[4..8].try_into().unwrap()), 0);
    // Only the IPv4 type enabled: the 2-tuple hash of the same row is 0x323e8fc2.
    program_key(&mut r, &KEY);
    r.wr(MRQC, 2 | MRQC_FIELD_IPV4);
    r.dev.receive(&f);
    r.dma.read(RX_RING + 32, &mut wb).unwrap();
    assert_eq!(
        u32::from_le_bytes(wb[4..8].try_into().unwrap()),
        0x323e_8fc2
    );
    assert_eq!(wb[0] & 0xf, 2, "RSS type IPv4");
}

#[test]
fn rss_indirection_table_picks_the_queue() {
    let mut r = rig();
    r.up();
    // Queue 1 ring, enabled, with buffers.
    r.wr(queue_off(false, 1, Q_BAL), (RX_RING + 0x1000) as u32);
    r.wr(queue_off(false, 1, Q_LEN), 16 * 16);
    r.wr(queue_off(false, 1, Q_SRRCTL), 2 | (1 << 25));
    for i in 0..16u64 {
        r.dma
            .write(
                RX_RING + 0x1000 + 16 * i,
                &(BUFS + 0x80_000 + 0x1000 * i).to_le_bytes(),
            )
            .unwrap();
    }
    r.wr(queue_off(false, 1, Q_CTL), RXDCTL_ENABLE);
    r.wr(queue_off(false, 1, Q_TAIL), 15);
    r.wr(MRQC, 2 | MRQC_FIELD_TCP_IPV4);
    // Every table entry points at queue 1.
    for i in 0..32 {
        r.wr(RETA + 4 * i, 0x0101_0101);
    }
    r.dev
        .receive(&tcp4_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000));
    assert_eq!(r.rd(queue_off(false, 1, Q_HEAD)), 1);
    assert_eq!(r.rd(queue_off(false, 0, Q_HEAD)), 0);
}

#[test]
fn a_frame_that_waited_for_a_descriptor_is_counted_hashed_once() {
    let mut r = rig();
    r.up();
    r.wr(MRQC, 2 | MRQC_FIELD_TCP_IPV4);
    let tail = r.rd(queue_off(false, 0, Q_TAIL));
    r.wr(queue_off(false, 0, Q_TAIL), 0); // no free descriptor: the frame waits
    let f = tcp4_frame([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000);
    r.dev.receive(&f);
    r.dev.receive(&f);
    assert_eq!(r.dev.counters().rx_rss_hashed, 0, "nothing delivered yet");
    // Each tail write tries the waiting frames again; each try classifies them.
    r.wr(queue_off(false, 0, Q_TAIL), 1);
    r.wr(queue_off(false, 0, Q_TAIL), tail);
    let c = r.dev.counters();
    assert_eq!(c.rx_frames, 2);
    assert_eq!(
        c.rx_rss_hashed, 2,
        "one per frame delivered, not per attempt"
    );
}

#[test]
fn function_level_reset_restores_power_on_state() {
    let mut r = rig();
    r.up();
    assert_ne!(r.rd(RCTL) & RCTL_EN, 0);
    let devctl = r.dev.pcie_cap as u64 + 8;
    let mut b = [0u8; 2];
    r.dev.config_read(devctl, &mut b);
    let v = u16::from_le_bytes(b) | (1 << 15);
    r.dev.config_write(devctl, &v.to_le_bytes());
    assert_eq!(r.rd(RCTL), 0);
    r.dev.config_read(devctl, &mut b);
    assert_eq!(u16::from_le_bytes(b) & (1 << 15), 0, "FLR bit reads 0");
    assert_eq!(r.rd(ral(0) + 4), 0x5634 | RAH_AV, "MAC reloaded");
}

#[test]
fn byte_writes_merge_with_interrupt_state() {
    let mut r = rig();
    r.wr(EIAC, 0x0000_0306);
    // One byte written to the second byte of EIAC keeps the first.
    r.dev.mmio_write(u64::from(EIAC) + 1, &[0x01]);
    assert_eq!(r.rd(EIAC), 0x0000_0106);
}

#[test]
fn tso_segments_longer_than_a_frame_are_dropped_not_sent() {
    let mut r = rig();
    r.up();
    // A 20000-byte TCP super-packet with MSS 16000: segments would exceed any MAC frame.
    let mut f = tcp4_frame([198, 18, 0, 1], [198, 18, 0, 2], 1, 2);
    f.resize(54 + 20000, 0x5a);
    r.dma.write(BUFS + 0x80_000, &f).unwrap();
    tso_context(&r, 16000);
    r.tx_data(
        1,
        BUFS + 0x80_000,
        f.len(),
        EOP | IFCS | RS | (1 << 31),
        20000 << 14 | (3 << 8),
    );
    r.wr(queue_off(true, 0, Q_TAIL), 2);
    let sent = r.wire.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "only the 4000-byte tail fits");
    assert_eq!(r.dev.counters().tx_oversize_dropped, 1);
}

#[test]
fn vmdq_pools_steer_by_mac_with_a_default_pool() {
    let mut r = rig();
    r.up();
    // Pools 0..3 = queues 0..3, each with a ring in its own slice of memory.
    for q in 1..4usize {
        let ring = RX_RING + 0x1000 * q as u64;
        r.wr(queue_off(false, q, Q_BAL), ring as u32);
        r.wr(queue_off(false, q, Q_LEN), 16 * 16);
        r.wr(queue_off(false, q, Q_SRRCTL), 2 | (1 << 25));
        for i in 0..16u64 {
            r.dma
                .write(
                    ring + 16 * i,
                    &(BUFS + 0x100_000 * q as u64 + 0x1000 * i).to_le_bytes(),
                )
                .unwrap();
        }
        r.wr(queue_off(false, q, Q_CTL), RXDCTL_ENABLE);
        r.wr(queue_off(false, q, Q_TAIL), 15);
    }
    // RAR1 = 02:00:00:00:00:02 in pool 2; RAR0 (our MAC) in pool 0; default pool 3.
    r.wr(ral(1), u32::from_le_bytes([2, 0, 0, 0]));
    r.wr(ral(1) + 4, 0x0200 | RAH_AV | (1 << (18 + 2)));
    r.wr(ral(0) + 4, 0x5634 | RAH_AV | (1 << 18));
    r.wr(VT_CTL, 3 << 7);
    r.wr(MRQC, 3);
    let mut f = udp_frame(10);
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    r.dev.receive(&f);
    assert_eq!(r.rd(queue_off(false, 2, Q_HEAD)), 1, "pool 2 by MAC");
    f[..6].copy_from_slice(&MAC);
    r.dev.receive(&f);
    assert_eq!(r.rd(queue_off(false, 0, Q_HEAD)), 1, "pool 0 by MAC");
    r.dev.receive(&udp_frame(10)); // broadcast
    assert_eq!(
        r.rd(queue_off(false, 3, Q_HEAD)),
        1,
        "broadcast to the default pool"
    );
    r.wr(VT_CTL, VT_CTL_DIS_DEF_POOL);
    r.dev.receive(&udp_frame(10));
    assert_eq!(
        r.rd(queue_off(false, 0, Q_HEAD)) + r.rd(queue_off(false, 3, Q_HEAD)),
        2,
        "dropped with no default pool"
    );
    // Moving RAR1 to pool 1 takes effect with the write.
    r.wr(ral(1) + 4, 0x0200 | RAH_AV | (1 << (18 + 1)));
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    r.dev.receive(&f);
    assert_eq!(
        r.rd(queue_off(false, 1, Q_HEAD)),
        1,
        "pool 1 after RAH write"
    );
}

/// A TSO context (slot 0) for TCP/IPv4 with 20-byte IP and TCP headers at `mss`.
fn tso_context(r: &Rig, mss: u32) {
    let mut ctx = [0u8; 16];
    ctx[0..4].copy_from_slice(&(20u32 | (14 << 9)).to_le_bytes());
    ctx[8..12].copy_from_slice(&((1u32 << 10) | (1 << 11) | (2 << 20) | (1 << 29)).to_le_bytes());
    ctx[12..16].copy_from_slice(&((20u32 << 8) | (mss << 16)).to_le_bytes());
    r.dma.write(TX_RING, &ctx).unwrap();
}

#[test]
fn a_tso_doorbell_at_mss_1_stops_at_its_budget_and_the_worker_finishes_it() {
    let mut r = rig();
    r.up();
    // Four 20000-byte sends at MSS 1: 20000 frames (about 1.1 MB) each, so every
    // pass ends after one packet, at its byte budget.
    let mut f = tcp4_frame([198, 18, 0, 1], [198, 18, 0, 2], 1, 2);
    f.resize(54 + 20000, 0x5a);
    r.dma.write(BUFS + 0x80_000, &f).unwrap();
    tso_context(&r, 1);
    for slot in 1..5 {
        r.tx_data(
            slot,
            BUFS + 0x80_000,
            f.len(),
            EOP | IFCS | RS | (1 << 31),
            20000 << 14 | (3 << 8),
        );
    }
    r.wr(queue_off(true, 0, Q_TAIL), 5);
    assert_eq!(r.wire.lock().unwrap().len(), 20000, "one packet per pass");
    assert_eq!(r.rd(queue_off(true, 0, Q_HEAD)), 2);
    assert!(r.dev.has_deferred());
    let mut passes = 0;
    while r.dev.has_deferred() {
        r.dev.run_deferred();
        passes += 1;
        assert!(passes <= 3, "the worker needs one pass per packet");
    }
    assert_eq!(r.wire.lock().unwrap().len(), 4 * 20000);
    assert_eq!(r.rd(queue_off(true, 0, Q_HEAD)), 5);
    assert_eq!(r.dev.counters().tso_segments, 4 * 20000);
    assert_eq!(r.dev.counters().tx_deferred_passes, 3);
    // 55-byte segments, padded to 60 (TCTL.PSP).
    assert!(r.wire.lock().unwrap().iter().all(|s| s.len() == 60));
}

#[test]
fn a_full_ring_of_small_frames_is_sent_in_budgeted_passes() {
    let mut r = rig();
    r.up();
    // A 1024-descriptor ring, all but one slot queued by one TDT write.
    r.wr(queue_off(true, 0, Q_LEN), 1024 * 16);
    r.dma.write(BUFS, &udp_frame(18)).unwrap();
    for slot in 0..1023 {
        r.tx_data(slot, BUFS, 60, EOP | IFCS | RS, 60 << 14);
    }
    r.wr(queue_off(true, 0, Q_TAIL), 1023);
    assert_eq!(
        r.dev.counters().tx_descriptors,
        u64::from(crate::doorbell::TX_DESCRIPTORS_PER_PASS)
    );
    while r.dev.has_deferred() {
        r.dev.run_deferred();
    }
    assert_eq!(r.wire.lock().unwrap().len(), 1023);
    assert_eq!(r.dev.counters().tx_deferred_passes, 3);
    assert_eq!(r.rd(queue_off(true, 0, Q_HEAD)), 1023);
}

#[test]
fn mac_loopback_goes_through_the_bounded_receive_fifo() {
    let mut r = rig();
    r.up();
    // MAC loopback, and an Rx ring with no free descriptor (RDT = RDH): every
    // looped frame must wait in the 64 KiB FIFO or be dropped and counted.
    let rctl = r.rd(RCTL);
    r.wr(RCTL, rctl | (1 << 6));
    r.wr(queue_off(false, 0, Q_TAIL), 0);
    let f = udp_frame(9000 - 42);
    r.dma.write(BUFS + 0x80_000, &f).unwrap();
    for slot in 0..15 {
        r.tx_data(
            slot,
            BUFS + 0x80_000,
            f.len(),
            EOP | IFCS | RS,
            (f.len() as u32) << 14,
        );
    }
    r.wr(queue_off(true, 0, Q_TAIL), 15);
    let c = r.dev.counters().clone();
    assert_eq!(c.loopback_frames, 15);
    assert!(
        r.wire.lock().unwrap().is_empty(),
        "loopback keeps frames off the wire"
    );
    assert_eq!(c.rx_frames, 0);
    assert_eq!(
        c.rx_fifo_overflow_drops,
        15 - 7,
        "seven 9000-byte frames fit 64 KiB"
    );
    // Descriptors returned: the frames waiting in the FIFO are delivered, five
    // 2 KiB buffers each.
    r.wr(queue_off(false, 0, Q_TAIL), 15);
    assert_eq!(r.dev.counters().rx_frames, 3);
}

#[test]
fn a_frame_whose_second_buffer_is_outside_memory_is_dropped_whole() {
    // Found by igb_ops: the descriptors written before the bad buffer kept DD while
    // RDH stayed, so every later frame filled them again (more descriptors written
    // back than the ring holds, and DD without EOP in descriptors the driver owns).
    let mut r = rig();
    r.up();
    r.dma
        .write(RX_RING + 16, &0xdead_0000_0000u64.to_le_bytes())
        .unwrap();
    let frame = udp_frame(3000);
    r.dev.receive(&frame);
    let mut status = [0u8; 4];
    r.dma.read(RX_RING + 8, &mut status).unwrap();
    assert_eq!(
        u32::from_le_bytes(status) & 1,
        0,
        "no DD on the first descriptor"
    );
    assert_eq!(r.rd(queue_off(false, 0, Q_HEAD)), 0, "nothing consumed");
    assert_eq!(r.dev.counters().rx_descriptors, 0);
    assert_eq!(r.dev.counters().rx_dma_errors, 1);
    // The driver repairs the ring: the next frame lands in the same two descriptors.
    r.dma
        .write(RX_RING + 16, &(BUFS + 0x1000).to_le_bytes())
        .unwrap();
    r.dev.receive(&frame);
    assert_eq!(r.rd(queue_off(false, 0, Q_HEAD)), 2);
    assert_eq!(r.dev.counters().rx_descriptors, 2);
    assert_eq!(r.dev.counters().rx_frames, 1);
}

// ---- 802.3x flow control ------------------------------------------------------

use super::flow_control::{
    pause_frame, pause_quanta, CTRL_RFCE, CTRL_TFCE, FCRTH, FCRTL, FCRTL_XONE, FCTTV, STATUS_TXOFF,
    XOFFRXC, XOFFTXC, XONRXC, XONTXC,
};

impl Rig {
    /// Flow control as igb programs it after a full-duplex autonegotiation that
    /// resolved to symmetric pause, with a 16 KiB high and a 12 KiB low mark.
    fn flow_control_on(&mut self) {
        let ctrl = self.rd(CTRL);
        self.wr(CTRL, ctrl | CTRL_RFCE | CTRL_TFCE);
        self.wr(FCTTV, 0x0100);
        self.wr(FCRTH, 0x4000);
        self.wr(FCRTL, 0x3000 | FCRTL_XONE);
    }
    fn pauses_on_wire(&self) -> Vec<u16> {
        self.wire
            .lock()
            .unwrap()
            .iter()
            .filter_map(|f| pause_quanta(f))
            .collect()
    }
}

/// A rig that is up, with flow control on.
fn fc_rig() -> Rig {
    let mut r = rig();
    r.up();
    r.flow_control_on();
    r
}

#[test]
fn the_nvm_asks_for_symmetric_flow_control() {
    // igb_set_default_fc: word 0x0F bits 13:12 both set is e1000_fc_full.
    let e = eeprom::Eeprom::new(MAC, DEVICE_ID);
    assert_eq!(e.word(0x0f).unwrap() & 0x3000, 0x3000);
}

#[test]
fn a_filling_receive_buffer_sends_xoff_once_and_xon_when_it_drains() {
    let mut r = fc_rig();
    r.wr(queue_off(false, 0, Q_TAIL), 0); // no free descriptor: frames wait
    let f = udp_frame(1000 - 42);
    let mut sent = 0;
    while r.pauses_on_wire().is_empty() && sent < 64 {
        r.dev.receive(&f);
        sent += 1;
    }
    assert_eq!(
        sent, 17,
        "16 KiB of 1000-byte frames: the 17th passes the high mark"
    );
    assert_eq!(r.pauses_on_wire(), vec![0x0100], "XOFF for FCTTV quanta");
    let pause = r.wire.lock().unwrap()[0].clone();
    assert_eq!(&pause[6..12], &MAC, "from the station address");
    assert!(r.dev.rx_held(), "the wire holds frames while XOFF stands");
    r.dev.receive(&f);
    assert_eq!(
        r.pauses_on_wire().len(),
        1,
        "no second XOFF while one stands"
    );
    assert_eq!(r.rd(XOFFTXC), 1);
    assert_eq!(
        r.rd(stats::GPTC),
        0,
        "PAUSE frames are not good packets sent"
    );
    // Fifteen descriptors: the buffer drains below 12 KiB, and XON goes out.
    r.wr(queue_off(false, 0, Q_TAIL), 15);
    assert_eq!(r.pauses_on_wire(), vec![0x0100, 0]);
    assert_eq!(r.rd(XONTXC), 1);
    assert!(!r.dev.rx_held());
    assert_eq!(r.dev.counters().rx_fifo_overflow_drops, 0);
}

#[test]
fn without_tfce_a_full_buffer_drops_and_counts_instead_of_pausing() {
    let mut r = fc_rig();
    let ctrl = r.rd(CTRL);
    r.wr(CTRL, ctrl & !CTRL_TFCE);
    r.wr(queue_off(false, 0, Q_TAIL), 0);
    let f = udp_frame(1000 - 42);
    for _ in 0..80 {
        r.dev.receive(&f);
    }
    assert!(r.pauses_on_wire().is_empty());
    assert!(!r.dev.rx_held());
    assert_eq!(r.dev.counters().rx_fifo_overflow_drops, 80 - 65);
    assert_eq!(r.rd(stats::MPC), 80 - 65);
}

#[test]
fn turning_tfce_off_releases_the_wire() {
    let mut r = fc_rig();
    r.wr(queue_off(false, 0, Q_TAIL), 0);
    for _ in 0..20 {
        r.dev.receive(&udp_frame(958));
    }
    assert!(r.dev.rx_held());
    let ctrl = r.rd(CTRL);
    r.wr(CTRL, ctrl & !CTRL_TFCE);
    assert!(!r.dev.rx_held());
    assert_eq!(r.pauses_on_wire(), vec![0x0100], "no XON without TFCE");
}

fn queue_one_packet(r: &mut Rig, slot: u64) {
    let f = udp_frame(100);
    r.dma.write(BUFS + 0x80_000, &f).unwrap();
    r.tx_data(
        slot,
        BUFS + 0x80_000,
        f.len(),
        EOP | IFCS | RS,
        (f.len() as u32) << 14,
    );
    r.wr(queue_off(true, 0, Q_TAIL), slot as u32 + 1);
}

fn data_frames_on_wire(r: &Rig) -> usize {
    r.wire
        .lock()
        .unwrap()
        .iter()
        .filter(|f| pause_quanta(f).is_none())
        .count()
}

#[test]
fn a_received_xoff_stops_transmission_until_xon() {
    let mut r = fc_rig();
    r.dev.receive(&pause_frame([2, 0, 0, 0, 0, 9], 0xffff));
    assert_eq!(r.rd(XOFFRXC), 1);
    assert_ne!(r.rd(STATUS) & STATUS_TXOFF, 0, "STATUS.TXOFF while paused");
    assert_eq!(
        r.dev.counters().rx_frames,
        0,
        "the MAC consumes PAUSE frames"
    );
    queue_one_packet(&mut r, 0);
    assert_eq!(data_frames_on_wire(&r), 0, "paused: nothing leaves");
    assert_eq!(
        r.rd(queue_off(true, 0, Q_HEAD)),
        0,
        "descriptors stay on the ring"
    );
    assert_eq!(r.dev.counters().tx_paused_stops, 1);
    r.dev.receive(&pause_frame([2, 0, 0, 0, 0, 9], 0));
    assert_eq!(r.rd(XONRXC), 1);
    assert_eq!(r.rd(STATUS) & STATUS_TXOFF, 0);
    assert_eq!(data_frames_on_wire(&r), 1, "XON: the stopped queue goes on");
    assert_eq!(r.rd(queue_off(true, 0, Q_HEAD)), 1);
}

#[test]
fn a_pause_ends_by_itself_after_its_quanta() {
    let mut r = fc_rig();
    // 4000 quanta at 1 Gb/s: 2.048 ms.
    r.dev.receive(&pause_frame([2, 0, 0, 0, 0, 9], 4000));
    queue_one_packet(&mut r, 0);
    assert_eq!(data_frames_on_wire(&r), 0);
    let deadline = r
        .dev
        .next_deadline()
        .expect("the pause's end is a deadline");
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    assert!(
        left <= std::time::Duration::from_nanos(2_048_000),
        "{left:?}"
    );
    std::thread::sleep(left + std::time::Duration::from_millis(1));
    r.dev.run_deadlines();
    assert_eq!(data_frames_on_wire(&r), 1);
    assert_eq!(r.rd(STATUS) & STATUS_TXOFF, 0);
}

#[test]
fn pause_frames_without_rfce_are_ordinary_multicast_frames() {
    let mut r = rig();
    r.up();
    r.dev.receive(&pause_frame([2, 0, 0, 0, 0, 9], 0xffff));
    assert_eq!(r.rd(XOFFRXC), 0);
    assert_eq!(r.rd(STATUS) & STATUS_TXOFF, 0);
    assert_eq!(
        r.dev.counters().rx_filtered,
        1,
        "not in the multicast table"
    );
    queue_one_packet(&mut r, 0);
    assert_eq!(data_frames_on_wire(&r), 1);
}

/// A wire whose room a test switches.
struct ValveSink {
    room: Arc<std::sync::atomic::AtomicBool>,
    frames: Arc<Mutex<usize>>,
}

impl FrameSink for ValveSink {
    fn transmit(&mut self, _frame: &[u8]) {
        *self.frames.lock().unwrap() += 1;
    }
    fn has_room(&self) -> bool {
        self.room.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_full_wire_stops_the_queue_and_room_resumes_it_without_loss() {
    let room = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let frames = Arc::new(Mutex::new(0));
    let sink = ValveSink {
        room: room.clone(),
        frames: frames.clone(),
    };
    let mut r = rig_with_sink(std::time::Duration::ZERO, Box::new(sink));
    r.up();
    queue_one_packet(&mut r, 0);
    queue_one_packet(&mut r, 1);
    assert_eq!(*frames.lock().unwrap(), 0);
    assert_eq!(r.rd(queue_off(true, 0, Q_HEAD)), 0);
    assert_eq!(
        r.dev.counters().tx_wire_full_stops,
        1,
        "one stop, however many doorbells"
    );
    room.store(true, std::sync::atomic::Ordering::SeqCst);
    r.dev.resume_tx();
    assert_eq!(*frames.lock().unwrap(), 2);
    assert_eq!(r.rd(queue_off(true, 0, Q_HEAD)), 2);
}

#[test]
fn a_low_mark_of_zero_releases_the_partner_once_the_buffer_is_empty() {
    let mut r = fc_rig();
    r.wr(FCRTL, FCRTL_XONE); // low mark 0
    r.wr(queue_off(false, 0, Q_TAIL), 0);
    for _ in 0..17 {
        r.dev.receive(&udp_frame(958));
    }
    assert!(r.dev.rx_held());
    r.wr(queue_off(false, 0, Q_TAIL), 15); // 15 of 17 delivered: still above 0
    assert!(r.dev.rx_held());
    r.wr(queue_off(false, 0, Q_TAIL), 4); // the last two: empty
    assert!(!r.dev.rx_held());
    assert_eq!(r.pauses_on_wire(), vec![0x0100, 0]);
}

#[test]
fn mmio_accesses_are_counted_by_register_class() {
    let mut r = rig();
    let before = r.dev.counters().clone();
    r.wr(queue_off(true, 0, Q_TAIL), 0);
    r.wr(LEGACY_RX_BASE + 0x100 + Q_TAIL, 0); // RDT of queue 1 at its legacy address
    r.rd(ICR);
    r.wr(EIMS, 1);
    r.rd(super::stats::GPRC);
    r.rd(CTRL);
    let c = r.dev.counters();
    assert_eq!(c.mmio_doorbell_writes - before.mmio_doorbell_writes, 2);
    assert_eq!(
        c.mmio_interrupt_accesses - before.mmio_interrupt_accesses,
        2
    );
    assert_eq!(c.mmio_statistics_reads - before.mmio_statistics_reads, 1);
    assert_eq!(c.mmio_other_accesses - before.mmio_other_accesses, 1);
}
