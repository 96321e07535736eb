//! Device-level tests: a minimal driver finds the virtio structures through config
//! space, negotiates, sets up split rings in guest memory the way Linux's
//! `virtio_net` does, and checks what reaches the wire and the guest.

use std::sync::{Arc, Mutex};

use dma::DmaSpace;
use offload_engines::checksum::{fold, pseudo_ipv4, pseudo_ipv6, sum};
use offload_engines::rxcsum;
use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_net::*;
use virtio_bindings::virtio_ring::*;

use super::features::bit;
use super::layout::{common, *};
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

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];
const RAM: u64 = 0x100_0000;
const QSIZE: u16 = 16;
/// Ring areas of queue q: descriptors, available ring, used ring.
const RINGS: u64 = 0x1_0000;
const BUFS: u64 = 0x10_0000;
const CONFIG_VECTOR: u16 = 0;

/// The driver's side of one split ring.
struct DriverRing {
    desc: u64,
    avail: u64,
    used: u64,
    next_desc: u16,
    avail_idx: u16,
    used_seen: u16,
}

impl DriverRing {
    fn new(q: u64) -> Self {
        let base = RINGS + q * 0x1_0000;
        Self {
            desc: base,
            avail: base + 0x1000,
            used: base + 0x2000,
            next_desc: 0,
            avail_idx: 0,
            used_seen: 0,
        }
    }
}

struct Rig {
    dev: VirtioNet,
    dma: Arc<DmaSpace>,
    wire: Arc<Mutex<Vec<Vec<u8>>>>,
    irq: Arc<RecordingIrq>,
    rings: Vec<DriverRing>,
    next_buf: u64,
}

fn rig() -> Rig {
    rig_with_packed(true)
}

/// A device that offers packed rings (`packed`) or split rings only.
fn rig_with_packed(packed: bool) -> Rig {
    let dma = Arc::new(DmaSpace::new());
    dma.map_anonymous(0, RAM).unwrap();
    let wire = Arc::new(Mutex::new(Vec::new()));
    let w2 = wire.clone();
    let irq = Arc::new(RecordingIrq::default());
    let dev = VirtioNet::new(
        VirtioNetConfig {
            mac: MAC,
            mtu: 1500,
            packed_ring: packed,
            ..VirtioNetConfig::default()
        },
        dma.clone(),
        irq.clone(),
        Box::new(move |f: &[u8]| w2.lock().unwrap().push(f.to_vec())),
    );
    Rig {
        dev,
        dma,
        wire,
        irq,
        rings: (0..u64::from(QUEUES)).map(DriverRing::new).collect(),
        next_buf: BUFS,
    }
}

/// The features Linux's `virtio_net` accepts from what tunic offers.
fn linux_features() -> u128 {
    [
        VIRTIO_F_VERSION_1,
        VIRTIO_RING_F_INDIRECT_DESC,
        VIRTIO_NET_F_MAC,
        VIRTIO_NET_F_STATUS,
        VIRTIO_NET_F_MTU,
        VIRTIO_NET_F_CSUM,
        VIRTIO_NET_F_GUEST_CSUM,
        VIRTIO_NET_F_HOST_TSO4,
        VIRTIO_NET_F_HOST_TSO6,
        VIRTIO_NET_F_MRG_RXBUF,
    ]
    .into_iter()
    .fold(0, |f, b| f | bit(b))
}

/// What Linux's `virtio_net` accepts when everything is offered: the plain set plus
/// the control queue and what rides on it, EVENT_IDX, USO and SPEED_DUPLEX.
fn full_features() -> u128 {
    [
        VIRTIO_RING_F_EVENT_IDX,
        VIRTIO_NET_F_SPEED_DUPLEX,
        VIRTIO_NET_F_HOST_USO,
        VIRTIO_NET_F_CTRL_VQ,
        VIRTIO_NET_F_CTRL_RX,
        VIRTIO_NET_F_CTRL_VLAN,
        VIRTIO_NET_F_CTRL_MAC_ADDR,
        VIRTIO_NET_F_MQ,
        VIRTIO_NET_F_RSS,
        VIRTIO_NET_F_HASH_REPORT,
        VIRTIO_NET_F_NOTF_COAL,
        VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
        VIRTIO_NET_F_DEVICE_STATS,
    ]
    .into_iter()
    .fold(linux_features(), |f, b| f | bit(b))
}

impl Rig {
    fn cfg8(&mut self, off: u64) -> u8 {
        let mut b = [0u8; 1];
        self.dev.config_read(off, &mut b);
        b[0]
    }
    fn cfg32(&mut self, off: u64) -> u32 {
        let mut b = [0u8; 4];
        self.dev.config_read(off, &mut b);
        u32::from_le_bytes(b)
    }
    fn rd(&mut self, off: u64, width: usize) -> u64 {
        let mut b = [0u8; 8];
        self.dev.bar_read(off, &mut b[..width]);
        u64::from_le_bytes(b)
    }
    fn wr(&mut self, off: u64, width: usize, v: u64) {
        self.dev.bar_write(off, &v.to_le_bytes()[..width]);
    }
    fn common(&mut self, field: usize, width: usize) -> u64 {
        self.rd(COMMON_OFFSET + field as u64, width)
    }
    fn set_common(&mut self, field: usize, width: usize, v: u64) {
        self.wr(COMMON_OFFSET + field as u64, width, v)
    }
    fn status(&mut self) -> u8 {
        self.common(common::DEVICE_STATUS, 1) as u8
    }
    fn set_status(&mut self, s: u32) {
        self.set_common(common::DEVICE_STATUS, 1, u64::from(s));
    }

    fn device_features(&mut self) -> u128 {
        (0..4).fold(0, |f, sel| {
            self.set_common(common::DEVICE_FEATURE_SELECT, 4, sel);
            f | u128::from(self.common(common::DEVICE_FEATURE, 4)) << (32 * sel)
        })
    }

    /// Steps 3.1.1 up to FEATURES_OK; returns the status read back.
    fn negotiate(&mut self, features: u128) -> u8 {
        self.set_status(0);
        self.set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
        self.set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
        for sel in 0..4 {
            self.set_common(common::DRIVER_FEATURE_SELECT, 4, sel);
            self.set_common(
                common::DRIVER_FEATURE,
                4,
                (features >> (32 * sel)) as u64 & 0xffff_ffff,
            );
        }
        self.set_status(
            VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK,
        );
        self.status()
    }

    /// Queue setup as `vp_modern_find_vqs` does it, 64-bit addresses as two halves.
    fn setup_queue(&mut self, q: u16) {
        self.set_common(common::QUEUE_SELECT, 2, u64::from(q));
        assert_eq!(
            self.common(common::QUEUE_SIZE, 2),
            u64::from(MAX_QUEUE_SIZE)
        );
        self.set_common(common::QUEUE_SIZE, 2, u64::from(QSIZE));
        self.set_common(common::QUEUE_MSIX_VECTOR, 2, u64::from(q) + 1);
        assert_eq!(self.common(common::QUEUE_MSIX_VECTOR, 2), u64::from(q) + 1);
        let r = &self.rings[usize::from(q)];
        let addrs = [
            (common::QUEUE_DESC, r.desc),
            (common::QUEUE_DRIVER, r.avail),
            (common::QUEUE_DEVICE, r.used),
        ];
        for (field, a) in addrs {
            self.set_common(field, 4, a & 0xffff_ffff);
            self.set_common(field + 4, 4, a >> 32);
            assert_eq!(self.common(field, 8), a);
        }
        self.set_common(common::QUEUE_ENABLE, 2, 1);
    }

    fn up_with(&mut self, features: u128) {
        let st = self.negotiate(features);
        assert_ne!(u32::from(st) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
        self.set_common(common::CONFIG_MSIX_VECTOR, 2, u64::from(CONFIG_VECTOR));
        self.setup_queue(0);
        self.setup_queue(1);
        self.set_status(
            VIRTIO_CONFIG_S_ACKNOWLEDGE
                | VIRTIO_CONFIG_S_DRIVER
                | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK,
        );
    }

    fn up(&mut self) {
        self.up_with(linux_features());
    }

    fn alloc(&mut self, len: usize) -> u64 {
        let a = self.next_buf;
        self.next_buf += (len as u64 + 0xfff) & !0xfff;
        a
    }

    fn write_desc(&self, table: u64, i: u16, addr: u64, len: u32, flags: u32, next: u16) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&(flags as u16).to_le_bytes());
        d[14..16].copy_from_slice(&next.to_le_bytes());
        self.dma.write(table + 16 * u64::from(i), &d).unwrap();
    }

    /// Puts a chain of (addr, len, device-writable) buffers in the ring; returns its head.
    fn add_chain(&mut self, q: usize, bufs: &[(u64, u32, bool)]) -> u16 {
        let head = self.rings[q].next_desc;
        for (k, &(addr, len, write)) in bufs.iter().enumerate() {
            let i = (head + k as u16) % QSIZE;
            let mut flags = if write { VRING_DESC_F_WRITE } else { 0 };
            if k + 1 < bufs.len() {
                flags |= VRING_DESC_F_NEXT;
            }
            self.write_desc(self.rings[q].desc, i, addr, len, flags, (i + 1) % QSIZE);
        }
        self.rings[q].next_desc = (head + bufs.len() as u16) % QSIZE;
        self.publish_head(q, head);
        head
    }

    fn publish_head(&mut self, q: usize, head: u16) {
        let r = &mut self.rings[q];
        let slot = u64::from(r.avail_idx % QSIZE);
        self.dma
            .write(r.avail + 4 + 2 * slot, &head.to_le_bytes())
            .unwrap();
        r.avail_idx = r.avail_idx.wrapping_add(1);
        self.dma
            .write(r.avail + 2, &r.avail_idx.to_le_bytes())
            .unwrap();
    }

    fn kick(&mut self, q: u16) {
        let off = self.common_notify_off(q);
        self.wr(
            NOTIFY_OFFSET + u64::from(off) * u64::from(NOTIFY_OFF_MULTIPLIER),
            2,
            u64::from(q),
        );
    }

    fn common_notify_off(&mut self, q: u16) -> u16 {
        self.set_common(common::QUEUE_SELECT, 2, u64::from(q));
        self.common(common::QUEUE_NOTIFY_OFF, 2) as u16
    }

    /// Used elements the device published since the last call: (id, len).
    fn used(&mut self, q: usize) -> Vec<(u32, u32)> {
        let r = &mut self.rings[q];
        let mut b = [0u8; 2];
        self.dma.read(r.used + 2, &mut b).unwrap();
        let idx = u16::from_le_bytes(b);
        let mut out = Vec::new();
        while r.used_seen != idx {
            let mut e = [0u8; 8];
            let slot = u64::from(r.used_seen % QSIZE);
            self.dma.read(r.used + 4 + 8 * slot, &mut e).unwrap();
            out.push((
                u32::from_le_bytes(e[0..4].try_into().unwrap()),
                u32::from_le_bytes(e[4..8].try_into().unwrap()),
            ));
            r.used_seen = r.used_seen.wrapping_add(1);
        }
        out
    }

    /// Sends header + frame as two descriptors, as `virtio_net` does for a linear skb.
    fn send(&mut self, hdr: NetHdr, frame: &[u8]) -> u16 {
        let h = self.alloc(NET_HDR_LEN);
        self.dma.write(h, &hdr.to_bytes()).unwrap();
        let f = self.alloc(frame.len());
        self.dma.write(f, frame).unwrap();
        let head = self.add_chain(
            1,
            &[
                (h, NET_HDR_LEN as u32, false),
                (f, frame.len() as u32, false),
            ],
        );
        self.kick(1);
        head
    }

    /// Offers `n` receive buffers of `len` bytes each.
    fn offer_rx(&mut self, n: usize, len: u32) -> Vec<u64> {
        self.offer_rx_on(0, n, len)
    }

    fn offer_rx_on(&mut self, q: u16, n: usize, len: u32) -> Vec<u64> {
        let mut addrs = Vec::new();
        for _ in 0..n {
            let a = self.alloc(len as usize);
            self.add_chain(usize::from(q), &[(a, len, true)]);
            addrs.push(a);
        }
        self.kick(q);
        addrs
    }

    /// Everything Linux negotiates from the full offer, every queue pair and the
    /// control queue set up.
    fn up_full(&mut self) {
        self.up_full_with(full_features());
    }

    /// Every queue set up, control queue included, with `features` negotiated.
    fn up_full_with(&mut self, features: u128) {
        let st = self.negotiate(features);
        assert_ne!(u32::from(st) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
        self.set_common(common::CONFIG_MSIX_VECTOR, 2, u64::from(CONFIG_VECTOR));
        for q in 0..QUEUES {
            self.setup_queue(q);
        }
        self.set_status(
            VIRTIO_CONFIG_S_ACKNOWLEDGE
                | VIRTIO_CONFIG_S_DRIVER
                | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK,
        );
    }

    /// Sends one control command; returns the ack the device wrote.
    fn ctrl(&mut self, class: u32, cmd: u32, data: &[u8]) -> u8 {
        let q = 2 * MAX_QUEUE_PAIRS;
        let mut c = vec![class as u8, cmd as u8];
        c.extend_from_slice(data);
        let a = self.alloc(c.len());
        self.dma.write(a, &c).unwrap();
        let ack = self.alloc(1);
        self.dma.write(ack, &[0xee]).unwrap();
        self.add_chain(
            usize::from(q),
            &[(a, c.len() as u32, false), (ack, 1, true)],
        );
        self.kick(q);
        assert_eq!(self.used(usize::from(q)).len(), 1, "command completed");
        let mut b = [0u8; 1];
        self.dma.read(ack, &mut b).unwrap();
        b[0]
    }

    /// Sends one control command with `room` device-writable bytes after the ack;
    /// returns the ack, the used length the device reported and the bytes after the ack.
    fn ctrl_with_result(
        &mut self,
        class: u32,
        cmd: u32,
        data: &[u8],
        room: usize,
    ) -> (u8, u32, Vec<u8>) {
        let q = usize::from(2 * MAX_QUEUE_PAIRS);
        let mut c = vec![class as u8, cmd as u8];
        c.extend_from_slice(data);
        let a = self.alloc(c.len());
        self.dma.write(a, &c).unwrap();
        let w = self.alloc(1 + room);
        self.add_chain(q, &[(a, c.len() as u32, false), (w, 1 + room as u32, true)]);
        self.kick(q as u16);
        let used = self.used(q);
        assert_eq!(used.len(), 1, "command completed");
        let mut b = vec![0u8; 1 + room];
        self.dma.read(w, &mut b).unwrap();
        (b[0], used[0].1, b[1..].to_vec())
    }

    /// Sends `hdr` (12 or 20 bytes) and `frame` on transmit queue `q`.
    fn send_on(&mut self, q: u16, hdr: &[u8], frame: &[u8]) {
        let h = self.alloc(hdr.len());
        self.dma.write(h, hdr).unwrap();
        let f = self.alloc(frame.len());
        self.dma.write(f, frame).unwrap();
        self.add_chain(
            usize::from(q),
            &[(h, hdr.len() as u32, false), (f, frame.len() as u32, false)],
        );
        self.kick(q);
    }

    fn take_wire(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.wire.lock().unwrap())
    }

    fn vectors(&self) -> Vec<u16> {
        std::mem::take(&mut *self.irq.vectors.lock().unwrap())
    }

    fn needs_reset(&mut self) -> bool {
        u32::from(self.status()) & VIRTIO_CONFIG_S_NEEDS_RESET != 0
    }
}

// ---- frames ---------------------------------------------------------------------

fn eth(ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1];
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn tcp_header(seq: u32) -> Vec<u8> {
    let mut t = vec![0x30, 0x39, 0x00, 0x50];
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

/// An IPv4 TCP frame whose checksum field holds what Linux leaves for the device:
/// the folded pseudo-header sum over the whole TCP length (`tcp_v4_send_check`).
fn tcp4_seeded(payload: &[u8]) -> Vec<u8> {
    let mut f = eth(0x0800);
    let tcp_len = 20 + payload.len();
    let total = 20 + tcp_len;
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0x00, 64, 6, 0, 0];
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    let c = !fold(sum(&ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut t = tcp_header(1000);
    let seed = fold(pseudo_ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, tcp_len as u32));
    t[16..18].copy_from_slice(&seed.to_be_bytes());
    f.extend_from_slice(&t);
    f.extend_from_slice(payload);
    f
}

fn tcp6_seeded(payload: &[u8]) -> Vec<u8> {
    let mut f = eth(0x86dd);
    let tcp_len = 20 + payload.len();
    let src = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut dst = src;
    dst[15] = 2;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(tcp_len as u16).to_be_bytes());
    f.extend_from_slice(&[6, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let mut t = tcp_header(7);
    let seed = fold(pseudo_ipv6(src, dst, 6, tcp_len as u32));
    t[16..18].copy_from_slice(&seed.to_be_bytes());
    f.extend_from_slice(&t);
    f.extend_from_slice(payload);
    f
}

/// The same frame with its TCP checksum completed in software: what a peer receives.
fn tcp4_complete(payload: &[u8]) -> Vec<u8> {
    let mut f = tcp4_seeded(payload);
    offload_engines::txcsum::insert_l4(&mut f, 34, 16, false).unwrap();
    f
}

fn checksums_good(frame: &[u8]) -> bool {
    let v = rxcsum::validate(frame);
    matches!(v.l4_ok(), Some((_, true))) && v.ip_ok() != Some(false)
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

fn csum_hdr(csum_start: u16) -> NetHdr {
    NetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM as u8,
        csum_start,
        csum_offset: 16,
        ..NetHdr::default()
    }
}

// ---- identity and negotiation ----------------------------------------------------

#[test]
fn pci_identity_and_virtio_capabilities() {
    let mut r = rig();
    assert_eq!(r.cfg32(0), 0x1041_1af4);
    assert_eq!(r.cfg8(0x08), 1, "revision");
    assert_eq!(r.cfg32(0x08) >> 8, 0x02_0000, "class");
    assert_eq!(r.cfg32(0x2c), 0x1100_1af4, "subsystem");

    let mut found = std::collections::HashMap::new();
    let mut msix = None;
    let mut at = u64::from(r.cfg8(0x34));
    while at != 0 {
        match r.cfg8(at) {
            0x09 => {
                let cfg_type = r.cfg8(at + 3);
                let bar = r.cfg8(at + 4);
                let (off, len) = (r.cfg32(at + 8), r.cfg32(at + 12));
                assert_eq!(bar, VIRTIO_BAR);
                if cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG {
                    assert!(r.cfg8(at + 2) >= 20);
                    assert_eq!(r.cfg32(at + 16), NOTIFY_OFF_MULTIPLIER);
                }
                found.insert(cfg_type, (off, len));
            }
            0x11 => msix = Some(at),
            _ => {}
        }
        at = u64::from(r.cfg8(at + 1));
    }
    assert_eq!(found[&VIRTIO_PCI_CAP_COMMON_CFG].0, COMMON_OFFSET as u32);
    assert!(found[&VIRTIO_PCI_CAP_COMMON_CFG].1 as usize >= common::LEN);
    assert_eq!(found[&VIRTIO_PCI_CAP_ISR_CFG].0, ISR_OFFSET as u32);
    assert_eq!(
        found[&VIRTIO_PCI_CAP_DEVICE_CFG].0,
        DEVICE_CFG_OFFSET as u32
    );
    assert_eq!(found[&VIRTIO_PCI_CAP_NOTIFY_CFG].0, NOTIFY_OFFSET as u32);
    let msix = msix.expect("MSI-X capability");
    let ctrl = r.cfg32(msix) >> 16;
    assert_eq!(
        ctrl & 0x7ff,
        u32::from(QUEUES),
        "config vector plus one per queue, minus one"
    );
    assert_eq!(r.cfg32(msix + 4) & 7, u32::from(MSIX_BAR));
    assert_eq!(
        r.common(common::NUM_QUEUES, 2),
        u64::from(2 * MAX_QUEUE_PAIRS + 1)
    );
}

#[test]
fn feature_negotiation_refuses_what_is_not_offered() {
    let mut r = rig();
    let offered = r.device_features();
    assert_eq!(offered, OFFERED_FEATURES);
    assert_eq!(offered & linux_features(), linux_features());
    assert_eq!(offered & full_features(), full_features());
    assert_eq!(offered & bit(VIRTIO_NET_F_GUEST_TSO4), 0);

    let st = r.negotiate(linux_features() | bit(VIRTIO_NET_F_GUEST_TSO4));
    assert_eq!(u32::from(st) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
    // Without packed rings on offer, a driver asking for them is refused.
    let mut split = rig_with_packed(false);
    assert_eq!(
        split.device_features(),
        OFFERED_FEATURES & !bit(VIRTIO_F_RING_PACKED)
    );
    let st = split.negotiate(packed_features());
    assert_eq!(u32::from(st) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
    let st = r.negotiate(linux_features() & !bit(VIRTIO_F_VERSION_1));
    assert_eq!(
        u32::from(st) & VIRTIO_CONFIG_S_FEATURES_OK,
        0,
        "legacy refused"
    );
    let st = r.negotiate(linux_features());
    assert_ne!(u32::from(st) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
    assert_eq!(r.dev.counters().features_refused, 2);

    // Features are frozen after FEATURES_OK.
    r.set_common(common::DRIVER_FEATURE_SELECT, 4, 0);
    r.set_common(common::DRIVER_FEATURE, 4, 0);
    assert_eq!(
        r.common(common::DRIVER_FEATURE, 4),
        (linux_features() & 0xffff_ffff) as u64
    );

    // Reset clears everything.
    r.set_status(0);
    assert_eq!(r.status(), 0);
    assert_eq!(r.common(common::DRIVER_FEATURE, 4), 0);
}

#[test]
fn device_config_reports_mac_link_pairs_and_mtu() {
    let mut r = rig();
    let base = DEVICE_CFG_OFFSET;
    let mac: Vec<u8> = (0..6).map(|i| r.rd(base + i, 1) as u8).collect();
    assert_eq!(mac, MAC);
    assert_eq!(r.rd(base + 6, 2), u64::from(VIRTIO_NET_S_LINK_UP));
    assert_eq!(r.rd(base + 8, 2), u64::from(MAX_QUEUE_PAIRS));
    assert_eq!(r.rd(base + 10, 2), 1500);
    // speed (Mbit/s), duplex (full), RSS key and table limits, hash types.
    assert_eq!(r.rd(base + 12, 4), 1000);
    assert_eq!(r.rd(base + 16, 1), 1);
    assert_eq!(r.rd(base + 17, 1), 40);
    assert_eq!(r.rd(base + 18, 2), 128);
    assert_eq!(r.rd(base + 20, 4), 0x3f);
    let gen = r.common(common::CONFIG_GENERATION, 1);
    r.dev.set_link(false);
    assert_eq!(r.rd(base + 6, 2), 0);
    assert_ne!(r.common(common::CONFIG_GENERATION, 1), gen);
}

#[test]
fn odd_accesses_and_selectors_do_not_panic() {
    let mut r = rig();
    for off in [
        0u64,
        1,
        0x3b,
        0x3c,
        0xfff,
        0x1001,
        0x2017,
        0x3fff,
        0x4000,
        u64::MAX - 2,
    ] {
        let mut b = [0u8; 8];
        r.dev.bar_read(off, &mut b);
        r.dev.bar_write(off, &[0xff; 8]);
    }
    r.set_common(common::QUEUE_SELECT, 2, 0x7fff);
    assert_eq!(r.common(common::QUEUE_SIZE, 2), 0, "no such queue");
    r.set_common(common::QUEUE_ENABLE, 2, 1);
    r.set_common(common::QUEUE_MSIX_VECTOR, 2, 99);
    // A vector past the table reads back as NO_VECTOR.
    r.set_common(common::QUEUE_SELECT, 2, 0);
    r.set_common(common::QUEUE_MSIX_VECTOR, 2, 99);
    assert_eq!(
        r.common(common::QUEUE_MSIX_VECTOR, 2),
        u64::from(VIRTIO_MSI_NO_VECTOR)
    );
    r.kick(0x7fff);
}

// ---- transmit ----------------------------------------------------------------------

#[test]
fn tx_checksum_offload_reaches_the_wire_correct() {
    let mut r = rig();
    r.up();
    let p = payload(300);
    let frame = tcp4_seeded(&p);
    assert!(!checksums_good(&frame), "seeded, not complete");
    let head = r.send(csum_hdr(34), &frame);
    let wire = r.take_wire();
    assert_eq!(wire, vec![tcp4_complete(&p)]);
    assert!(checksums_good(&wire[0]));
    assert_eq!(r.used(1), vec![(u32::from(head), 0)]);
    assert_eq!(r.vectors(), vec![2], "transmit queue's vector");
    assert_eq!(r.dev.counters().tx_csum, 1);
}

/// A payload whose last 16-bit word makes the finished checksum of `build(payload)`,
/// stored at `field`, come out as 0: the ones'-complement case where TCP and UDP differ.
fn zero_checksum_payload(build: impl Fn(&[u8]) -> Vec<u8>, field: usize) -> Vec<u8> {
    let mut p = payload(300);
    p[298..].fill(0);
    let c = build(&p)[field..field + 2].to_vec();
    p[298..].copy_from_slice(&c);
    p
}

#[test]
fn tx_checksum_that_sums_to_zero_is_0000_for_tcp_and_ffff_for_udp() {
    let mut r = rig();
    r.up();
    // TCP: a full computation gives 0x0000; 0xFFFF is what tshark flags as a broken
    // incremental update (RFC 1624).
    let p = zero_checksum_payload(tcp4_complete, 50);
    assert_eq!(tcp4_complete(&p)[50..52], [0, 0]);
    r.send(csum_hdr(34), &tcp4_seeded(&p));
    let wire = r.take_wire();
    assert_eq!(wire[0][50..52], [0, 0], "TCP checksum 0 stays 0");
    assert!(checksums_good(&wire[0]));

    // UDP: 0 would mean "no checksum", so the same sum goes out as 0xFFFF.
    let (src, dst) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let complete = |d: &[u8]| udp4_to([2, 0, 0, 0, 0, 2], src, dst, (4000, 5000), d);
    let p = zero_checksum_payload(complete, 40);
    assert_eq!(
        complete(&p)[40..42],
        [0xff, 0xff],
        "the helper's own UDP rule"
    );
    let mut seeded = complete(&p);
    let udp_len = (8 + p.len()) as u32;
    let seed = fold(pseudo_ipv4(src, dst, 17, udp_len));
    seeded[40..42].copy_from_slice(&seed.to_be_bytes());
    r.send(
        NetHdr {
            csum_offset: 6,
            ..csum_hdr(34)
        },
        &seeded,
    );
    let wire = r.take_wire();
    assert_eq!(
        wire[0][40..42],
        [0xff, 0xff],
        "UDP checksum 0 goes out as 0xFFFF"
    );
    assert!(checksums_good(&wire[0]));
}

#[test]
fn tx_through_an_indirect_table() {
    let mut r = rig();
    r.up();
    let p = payload(100);
    let frame = tcp4_seeded(&p);
    let h = r.alloc(NET_HDR_LEN);
    r.dma.write(h, &csum_hdr(34).to_bytes()).unwrap();
    // The frame split across three buffers, all in one indirect table.
    let table = r.alloc(64);
    let parts = [&frame[..20], &frame[20..60], &frame[60..]];
    r.write_desc(table, 0, h, NET_HDR_LEN as u32, VRING_DESC_F_NEXT, 1);
    for (k, part) in parts.iter().enumerate() {
        let a = r.alloc(part.len());
        r.dma.write(a, part).unwrap();
        let last = k + 1 == parts.len();
        let flags = if last { 0 } else { VRING_DESC_F_NEXT };
        r.write_desc(
            table,
            k as u16 + 1,
            a,
            part.len() as u32,
            flags,
            k as u16 + 2,
        );
    }
    let head = r.rings[1].next_desc;
    r.write_desc(r.rings[1].desc, head, table, 64, VRING_DESC_F_INDIRECT, 0);
    r.rings[1].next_desc += 1;
    r.publish_head(1, head);
    r.kick(1);
    assert_eq!(r.take_wire(), vec![tcp4_complete(&p)]);
    assert!(!r.needs_reset());
}

/// TCP/IPv4 GSO at MSS 1448 for a frame with 54 bytes of headers.
fn tso4_hdr() -> NetHdr {
    NetHdr {
        gso_type: VIRTIO_NET_HDR_GSO_TCPV4 as u8,
        gso_size: 1448,
        hdr_len: 54,
        ..csum_hdr(34)
    }
}

#[test]
fn tso4_send_is_segmented_with_correct_checksums() {
    let mut r = rig();
    r.up();
    let p = payload(4000);
    let frame = tcp4_seeded(&p);
    r.send(tso4_hdr(), &frame);
    let wire = r.take_wire();
    assert_eq!(wire.len(), 3);
    let mut seq = 1000u32;
    let mut got = Vec::new();
    for seg in &wire {
        assert!(checksums_good(seg), "segment checksums");
        assert!(seg.len() <= 14 + 20 + 20 + 1448);
        assert_eq!(u32::from_be_bytes(seg[38..42].try_into().unwrap()), seq);
        let total = usize::from(u16::from_be_bytes([seg[16], seg[17]]));
        assert_eq!(total, seg.len() - 14);
        seq += (seg.len() - 54) as u32;
        got.extend_from_slice(&seg[54..]);
    }
    assert_eq!(got, p);
    assert_eq!(r.dev.counters().tx_gso_segments, 3);
}

#[test]
fn tso6_send_is_segmented_with_correct_checksums() {
    let mut r = rig();
    r.up();
    let p = payload(3000);
    let frame = tcp6_seeded(&p);
    let hdr = NetHdr {
        gso_type: VIRTIO_NET_HDR_GSO_TCPV6 as u8,
        gso_size: 1200,
        hdr_len: 74,
        ..csum_hdr(54)
    };
    r.send(hdr, &frame);
    let wire = r.take_wire();
    assert_eq!(wire.len(), 3);
    assert!(wire.iter().all(|s| checksums_good(s)));
    let got: Vec<u8> = wire.iter().flat_map(|s| s[74..].to_vec()).collect();
    assert_eq!(got, p);
}

#[test]
fn tx_offloads_not_negotiated_are_dropped() {
    let mut r = rig();
    r.up_with(bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_NET_F_MAC));
    let frame = tcp4_seeded(&payload(64));
    r.send(csum_hdr(34), &frame);
    let gso = NetHdr {
        gso_type: VIRTIO_NET_HDR_GSO_TCPV4 as u8,
        gso_size: 100,
        ..csum_hdr(34)
    };
    r.send(gso, &frame);
    assert!(r.take_wire().is_empty());
    assert_eq!(r.dev.counters().tx_dropped, 2);
    assert_eq!(r.used(1).len(), 2, "buffers still returned");
    assert!(!r.needs_reset());
}

// ---- receive -----------------------------------------------------------------------

fn read_rx(r: &Rig, addr: u64, len: usize) -> (NetHdr, Vec<u8>) {
    let mut b = vec![0u8; len];
    r.dma.read(addr, &mut b).unwrap();
    let hdr = NetHdr::parse(b[..NET_HDR_LEN].try_into().unwrap());
    (hdr, b[NET_HDR_LEN..].to_vec())
}

#[test]
fn rx_frame_lands_with_data_valid() {
    let mut r = rig();
    r.up();
    let bufs = r.offer_rx(4, 1536);
    let frame = tcp4_complete(&payload(200));
    r.dev.receive(&frame);
    let used = r.used(0);
    assert_eq!(used, vec![(0, (NET_HDR_LEN + frame.len()) as u32)]);
    let (hdr, data) = read_rx(&r, bufs[0], NET_HDR_LEN + frame.len());
    assert_eq!(hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID as u8);
    assert_eq!(hdr.num_buffers, 1);
    assert_eq!(hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE as u8);
    assert_eq!(data, frame);
    assert_eq!(r.vectors(), vec![1], "receive queue's vector");

    // A corrupted checksum is passed up for the driver to judge, without DATA_VALID.
    let mut bad = frame.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    r.dev.receive(&bad);
    let (hdr, data) = read_rx(&r, bufs[1], NET_HDR_LEN + bad.len());
    assert_eq!(hdr.flags, 0);
    assert_eq!(data, bad);
}

#[test]
fn rx_without_guest_csum_never_sets_data_valid() {
    let mut r = rig();
    r.up_with(bit(VIRTIO_F_VERSION_1));
    let bufs = r.offer_rx(1, 1536);
    let frame = tcp4_complete(&payload(20));
    r.dev.receive(&frame);
    let (hdr, _) = read_rx(&r, bufs[0], NET_HDR_LEN + frame.len());
    assert_eq!(hdr.flags, 0);
}

#[test]
fn guest_offloads_switched_off_by_the_driver_stop_data_valid_until_switched_on() {
    let mut r = rig();
    r.up_full();
    let frame = tcp4_complete(&payload(20));
    let receive_flags = |r: &mut Rig| {
        let bufs = r.offer_rx_on(0, 1, 1536);
        r.dev.receive(&frame);
        read_rx(r, bufs[0], NET_HDR_LEN + frame.len()).0.flags
    };
    let set = |r: &mut Rig, offloads: u64| {
        r.ctrl(
            VIRTIO_NET_CTRL_GUEST_OFFLOADS,
            VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
            &offloads.to_le_bytes(),
        )
    };
    // Negotiated guest offloads start enabled (5.1.6.5.6.1).
    assert_eq!(receive_flags(&mut r), VIRTIO_NET_HDR_F_DATA_VALID as u8);
    // What Linux sends to attach XDP: every guest offload off.
    assert_eq!(set(&mut r, 0), OK);
    assert_eq!(receive_flags(&mut r), 0);
    assert_eq!(set(&mut r, bit(VIRTIO_NET_F_GUEST_CSUM) as u64), OK);
    assert_eq!(receive_flags(&mut r), VIRTIO_NET_HDR_F_DATA_VALID as u8);
    // Not negotiated (tunic never offers guest TSO), or not 8 bytes: refused, nothing changes.
    assert_eq!(set(&mut r, bit(VIRTIO_NET_F_GUEST_TSO4) as u64), ERR);
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_GUEST_OFFLOADS,
            VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
            &[0; 4]
        ),
        ERR
    );
    assert_eq!(receive_flags(&mut r), VIRTIO_NET_HDR_F_DATA_VALID as u8);
}

#[test]
fn guest_offloads_need_their_feature() {
    let mut r = rig();
    r.up_full_with(full_features() & !bit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS));
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_GUEST_OFFLOADS,
            VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
            &[0; 8]
        ),
        ERR
    );
}

#[test]
fn rx_mergeable_buffers_carry_a_large_frame() {
    let mut r = rig();
    r.up();
    let bufs = r.offer_rx(4, 1024);
    let frame = tcp4_complete(&payload(2500));
    r.dev.receive(&frame);
    let used = r.used(0);
    assert_eq!(used.len(), 3);
    let total: u32 = used.iter().map(|u| u.1).sum();
    assert_eq!(total as usize, NET_HDR_LEN + frame.len());
    let mut got = Vec::new();
    for (k, (_, len)) in used.iter().enumerate() {
        let mut b = vec![0u8; *len as usize];
        r.dma.read(bufs[k], &mut b).unwrap();
        got.extend_from_slice(&b);
    }
    let hdr = NetHdr::parse(got[..NET_HDR_LEN].try_into().unwrap());
    assert_eq!(hdr.num_buffers, 3);
    assert_eq!(&got[NET_HDR_LEN..], &frame[..]);
}

#[test]
fn rx_waits_for_buffers_and_keeps_order() {
    let mut r = rig();
    r.up();
    let a = tcp4_complete(&payload(10));
    let b = tcp4_complete(&payload(11));
    r.dev.receive(&a);
    r.dev.receive(&b);
    assert!(r.used(0).is_empty());
    let bufs = r.offer_rx(2, 1536);
    assert_eq!(r.used(0).len(), 2);
    assert_eq!(read_rx(&r, bufs[0], NET_HDR_LEN + a.len()).1, a);
    assert_eq!(read_rx(&r, bufs[1], NET_HDR_LEN + b.len()).1, b);
}

#[test]
fn rx_before_driver_ok_is_dropped() {
    let mut r = rig();
    r.dev.receive(&tcp4_complete(&payload(10)));
    assert_eq!(r.dev.counters().rx_not_ready_drops, 1);
}

// ---- hostile guests -------------------------------------------------------------

fn assert_failed_then_recovers(r: &mut Rig) {
    assert!(r.needs_reset(), "NEEDS_RESET set");
    assert!(
        r.vectors().contains(&CONFIG_VECTOR),
        "config change signalled"
    );
    // Nothing is processed until the driver resets the device.
    r.send(csum_hdr(34), &tcp4_seeded(&payload(10)));
    assert!(r.take_wire().is_empty());
    // The driver sets up fresh, zeroed rings, as `virtio_net` does after a reset.
    r.rings = vec![DriverRing::new(0), DriverRing::new(1)];
    r.dma.write(RINGS, &[0u8; 0x2_0000]).unwrap();
    r.up();
    assert!(!r.needs_reset());
    r.send(csum_hdr(34), &tcp4_seeded(&payload(10)));
    assert_eq!(r.take_wire().len(), 1);
}

#[test]
fn descriptor_loop_sets_needs_reset() {
    let mut r = rig();
    r.up();
    let a = r.alloc(64);
    let desc = r.rings[1].desc;
    r.write_desc(desc, 0, a, 64, VRING_DESC_F_NEXT, 1);
    r.write_desc(desc, 1, a, 64, VRING_DESC_F_NEXT, 0);
    r.publish_head(1, 0);
    r.kick(1);
    assert!(r.take_wire().is_empty());
    assert_eq!(r.dev.counters().queue_errors, 1);
    assert_failed_then_recovers(&mut r);
}

#[test]
fn buffer_outside_guest_memory_sets_needs_reset() {
    let mut r = rig();
    r.up();
    let h = r.alloc(NET_HDR_LEN);
    r.add_chain(1, &[(h, NET_HDR_LEN as u32, false), (RAM - 8, 64, false)]);
    r.kick(1);
    assert!(r.take_wire().is_empty());
    assert_failed_then_recovers(&mut r);
}

#[test]
fn rx_buffer_outside_guest_memory_sets_needs_reset() {
    let mut r = rig();
    r.up();
    r.add_chain(0, &[(u64::MAX - 100, 2048, true)]);
    r.kick(0);
    r.dev.receive(&tcp4_complete(&payload(10)));
    assert_failed_then_recovers(&mut r);
}

#[test]
fn avail_index_far_ahead_sets_needs_reset() {
    let mut r = rig();
    r.up();
    let avail = r.rings[1].avail;
    r.dma.write(avail + 2, &(QSIZE + 5).to_le_bytes()).unwrap();
    r.kick(1);
    assert_failed_then_recovers(&mut r);
}

#[test]
fn head_index_past_the_ring_sets_needs_reset() {
    let mut r = rig();
    r.up();
    r.publish_head(1, QSIZE + 3);
    r.kick(1);
    assert_failed_then_recovers(&mut r);
}

#[test]
fn nested_or_malformed_indirect_sets_needs_reset() {
    let mut r = rig();
    r.up();
    let table = r.alloc(32);
    r.write_desc(table, 0, table, 32, VRING_DESC_F_INDIRECT, 0);
    let desc = r.rings[1].desc;
    r.write_desc(desc, 0, table, 32, VRING_DESC_F_INDIRECT, 0);
    r.publish_head(1, 0);
    r.kick(1);
    assert_failed_then_recovers(&mut r);
}

#[test]
fn rings_outside_guest_memory_fail_at_driver_ok() {
    let mut r = rig();
    r.rings[1].used = RAM - 4;
    r.up();
    assert!(r.needs_reset());
}

#[test]
fn zero_length_isr_read_is_harmless() {
    // A vfio-user client may read zero bytes; the ISR's read-to-clear byte was
    // indexed regardless (a panic).
    let mut r = rig();
    r.up();
    r.dev.bar_read(ISR_OFFSET, &mut []);
    let mut b = [0xffu8; 1];
    r.dev.bar_read(ISR_OFFSET, &mut b);
    assert_eq!(b, [0]);
}

#[test]
fn cleared_status_bits_do_not_revive_unchecked_queues() {
    // A driver sets FAILED, enables a queue whose available ring is at the top of
    // the address space, then writes the status back without FAILED. Nothing
    // checked that queue, and a kick overflowed its ring address (a panic).
    let mut r = rig();
    let st = r.negotiate(full_features());
    assert_ne!(u32::from(st) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
    for q in [0, 1, 2 * MAX_QUEUE_PAIRS] {
        r.setup_queue(q);
    }
    let live = VIRTIO_CONFIG_S_ACKNOWLEDGE
        | VIRTIO_CONFIG_S_DRIVER
        | VIRTIO_CONFIG_S_FEATURES_OK
        | VIRTIO_CONFIG_S_DRIVER_OK;
    r.set_status(live);
    r.set_status(live | VIRTIO_CONFIG_S_FAILED);
    r.set_common(common::QUEUE_SELECT, 2, 3);
    r.set_common(common::QUEUE_DRIVER, 8, u64::MAX - 1);
    r.set_common(common::QUEUE_ENABLE, 2, 1);
    r.set_status(live);
    r.kick(3);
    assert!(r.take_wire().is_empty());
    assert_eq!(
        u32::from(r.status()),
        live | VIRTIO_CONFIG_S_FAILED,
        "only a reset clears a status bit"
    );
    r.set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    assert_eq!(u32::from(r.status()), live | VIRTIO_CONFIG_S_FAILED);
    r.set_status(0);
    assert_eq!(r.status(), 0);
}

// ---- control queue, multiqueue, RSS, hash report, filters, EVENT_IDX, USO ----------

/// Microsoft's RSS verification key (also the device's default steering key).
const MS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// A complete IPv4 UDP frame to `dst_mac`.
fn udp4_to(
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    data: &[u8],
) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total = (28 + data.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = !fold(sum(&ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    let seed = fold(pseudo_ipv4(src, dst, 17, (8 + data.len()) as u32));
    f.extend_from_slice(&seed.to_be_bytes());
    f.extend_from_slice(data);
    offload_engines::txcsum::insert_l4(&mut f, 34, 6, true).unwrap();
    f
}

/// `struct virtio_net_rss_config` with the given table and key.
fn rss_config(types: u32, table: &[u16], max_tx_vq: u16, key: &[u8]) -> Vec<u8> {
    let mut b = types.to_le_bytes().to_vec();
    b.extend_from_slice(&((table.len() - 1) as u16).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    table
        .iter()
        .for_each(|q| b.extend_from_slice(&q.to_le_bytes()));
    b.extend_from_slice(&max_tx_vq.to_le_bytes());
    b.push(key.len() as u8);
    b.extend_from_slice(key);
    b
}

const OK: u8 = VIRTIO_NET_OK as u8;
const ERR: u8 = VIRTIO_NET_ERR as u8;

#[test]
fn rss_steers_flows_by_the_drivers_table_and_reports_the_hash() {
    let mut r = rig();
    r.up_full();
    // Microsoft's first two IPv4 rows: 4-tuple hashes 0x51ccc178 and 0xc626b0ea, so
    // table slots 0x78 and 0x6a of a 128-entry table.
    let mut table = vec![0u16; 128];
    table[0x78] = 3;
    table[0x6a] = 1;
    let all = 0x3f;
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_MQ,
            VIRTIO_NET_CTRL_MQ_RSS_CONFIG,
            &rss_config(all, &table, 4, &MS_KEY)
        ),
        OK
    );
    let bufs: Vec<Vec<u64>> = (0..4).map(|p| r.offer_rx_on(2 * p, 2, 2048)).collect();
    let flow1 = udp4_to(
        MAC,
        [66, 9, 149, 187],
        [161, 142, 100, 80],
        (2794, 1766),
        b"one",
    );
    let flow2 = udp4_to(
        MAC,
        [199, 92, 111, 2],
        [65, 69, 140, 83],
        (14230, 4739),
        b"two",
    );
    r.dev.receive(&flow1);
    r.dev.receive(&flow2);
    assert_eq!(r.dev.counters().rx_queue_packets, vec![0, 1, 0, 1]);
    let hdr_len = NET_HASH_HDR_LEN;
    for (pair, frame, hash) in [(3usize, &flow1, 0x51cc_c178u32), (1, &flow2, 0xc626_b0ea)] {
        assert_eq!(
            r.used(2 * pair),
            vec![(0, (hdr_len + frame.len()) as u32)],
            "pair {pair}"
        );
        let mut b = vec![0u8; hdr_len + frame.len()];
        r.dma.read(bufs[pair][0], &mut b).unwrap();
        assert_eq!(&b[12..16], &hash.to_le_bytes(), "hash_value");
        assert_eq!(
            u16::from_le_bytes([b[16], b[17]]),
            VIRTIO_NET_HASH_REPORT_UDPv4 as u16
        );
        assert_eq!(&b[hdr_len..], &frame[..]);
    }
    // A frame no hash type applies to goes to the unclassified queue (0), reported NONE.
    let arp = [&MAC[..], &[2, 0, 0, 0, 0, 1, 0x08, 0x06], &[0u8; 28][..]].concat();
    r.dev.receive(&arp);
    assert_eq!(r.used(0).len(), 1);
    let mut b = [0u8; 20];
    r.dma.read(bufs[0][0], &mut b).unwrap();
    assert_eq!(&b[12..18], &[0; 6]);
}

#[test]
fn control_commands_set_pairs_and_refuse_bad_ones() {
    let mut r = rig();
    r.up_full();
    let pairs = |n: u16| n.to_le_bytes();
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_MQ,
            VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
            &pairs(2)
        ),
        OK
    );
    assert_eq!(r.dev.active_pairs, 2);
    for bad in [0, MAX_QUEUE_PAIRS + 1] {
        assert_eq!(
            r.ctrl(
                VIRTIO_NET_CTRL_MQ,
                VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                &pairs(bad)
            ),
            ERR
        );
    }
    assert_eq!(r.dev.active_pairs, 2, "refused commands change nothing");
    assert_eq!(
        r.ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &[1]),
        ERR
    );
    assert_eq!(r.ctrl(99, 0, &[]), ERR, "unknown class");
    assert_eq!(
        r.ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, &[1]),
        ERR
    );
    let too_many = rss_config(0x3f, &[7], 1, &MS_KEY);
    assert_eq!(
        r.ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, &too_many),
        ERR
    );
    // An over-long command is refused without being read.
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_MAC,
            VIRTIO_NET_CTRL_MAC_TABLE_SET,
            &[0; 5000]
        ),
        ERR
    );
    assert_eq!(r.dev.counters().ctrl_commands, 1);
    assert_eq!(r.dev.counters().ctrl_errors, 7);
    assert!(!r.needs_reset());

    // A command chain with nowhere to put the ack breaks the queue.
    let q = usize::from(2 * MAX_QUEUE_PAIRS);
    let a = r.alloc(4);
    r.dma.write(a, &[4, 0, 1, 0]).unwrap();
    r.add_chain(q, &[(a, 4, false)]);
    r.kick(q as u16);
    assert!(r.needs_reset());
}

#[test]
fn receive_filter_follows_the_drivers_modes_tables_and_address() {
    let mut r = rig();
    r.up_full();
    r.offer_rx_on(0, 8, 2048);
    let other = [2, 9, 9, 9, 9, 9];
    let to = |mac| udp4_to(mac, [10, 0, 0, 1], [10, 0, 0, 2], (1, 2), b"x");
    // Promiscuous until the driver turns it off.
    r.dev.receive(&to(other));
    assert_eq!(r.used(0).len(), 1);
    assert_eq!(
        r.ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &[0]),
        OK
    );
    let empty_tables = [0u8; 8];
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_MAC,
            VIRTIO_NET_CTRL_MAC_TABLE_SET,
            &empty_tables
        ),
        OK
    );
    r.dev.receive(&to(other));
    r.dev.receive(&to(MAC));
    assert_eq!(
        r.used(0).len(),
        1,
        "only the frame for the device's address"
    );
    assert_eq!(r.dev.counters().rx_filtered, 1);
    // The driver moves the device to `other`.
    assert_eq!(
        r.ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, &other),
        OK
    );
    let cfg_mac: Vec<u8> = (0..6)
        .map(|i| r.rd(DEVICE_CFG_OFFSET + i, 1) as u8)
        .collect();
    assert_eq!(cfg_mac, other);
    r.dev.receive(&to(MAC));
    r.dev.receive(&to(other));
    assert_eq!(r.used(0).len(), 1);
    assert_eq!(r.dev.counters().rx_filtered, 2);
    // VLAN filter: a tagged frame needs its VID.
    let mut tagged = to(other);
    tagged.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
    r.dev.receive(&tagged);
    assert_eq!(r.used(0).len(), 0);
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_VLAN,
            VIRTIO_NET_CTRL_VLAN_ADD,
            &5u16.to_le_bytes()
        ),
        OK
    );
    r.dev.receive(&tagged);
    assert_eq!(r.used(0).len(), 1);
    // Reset brings back the configured address.
    r.set_status(0);
    let cfg_mac: Vec<u8> = (0..6)
        .map(|i| r.rd(DEVICE_CFG_OFFSET + i, 1) as u8)
        .collect();
    assert_eq!(cfg_mac, MAC);
}

#[test]
fn event_idx_asks_for_kicks_and_interrupts_only_where_the_driver_wants_them() {
    let mut r = rig();
    r.up_full();
    r.vectors();
    let hdr = [0u8; NET_HASH_HDR_LEN];
    let frame = udp4_to(
        [2, 0, 0, 0, 0, 2],
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        (1, 2),
        b"x",
    );
    let used_event = |r: &Rig, v: u16| {
        let ring = &r.rings[1];
        r.dma
            .write(ring.avail + 4 + 2 * u64::from(QSIZE), &v.to_le_bytes())
            .unwrap();
    };
    let avail_event = |r: &Rig| {
        let mut b = [0u8; 2];
        r.dma
            .read(r.rings[1].used + 4 + 8 * u64::from(QSIZE), &mut b)
            .unwrap();
        u16::from_le_bytes(b)
    };
    // The driver wants an interrupt only once the third packet is used.
    used_event(&r, 2);
    r.send_on(1, &hdr, &frame);
    r.send_on(1, &hdr, &frame);
    assert_eq!(r.take_wire().len(), 2);
    assert!(
        r.vectors().is_empty(),
        "used idx 1 and 2 did not pass used_event 2"
    );
    assert_eq!(
        avail_event(&r),
        2,
        "the device asks to be kicked for entry 2"
    );
    r.send_on(1, &hdr, &frame);
    assert_eq!(r.vectors(), vec![2], "passing used_event interrupts");
    assert_eq!(r.used(1).len(), 3);
}

#[test]
fn uso_splits_a_udp_super_packet_into_checksummed_datagrams() {
    let mut r = rig();
    r.up_full();
    let data = payload(3000);
    let mut frame = udp4_to(
        [2, 0, 0, 0, 0, 2],
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        (7, 9),
        &data,
    );
    // What Linux hands over: the pseudo-header sum over the whole UDP length.
    let seed = fold(pseudo_ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, 3008));
    frame[40..42].copy_from_slice(&seed.to_be_bytes());
    let hdr = NetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM as u8,
        gso_type: VIRTIO_NET_HDR_GSO_UDP_L4 as u8,
        hdr_len: 42,
        gso_size: 1000,
        csum_start: 34,
        csum_offset: 6,
        ..NetHdr::default()
    };
    r.send_on(3, &hdr.to_hash_bytes(), &frame);
    let wire = r.take_wire();
    assert_eq!(wire.len(), 3);
    let mut joined = Vec::new();
    for seg in &wire {
        assert!(checksums_good(seg), "segment checksums");
        assert_eq!(
            usize::from(u16::from_be_bytes([seg[38], seg[39]])),
            seg.len() - 34
        );
        joined.extend_from_slice(&seg[42..]);
    }
    assert_eq!(joined, data);
    assert_eq!(
        (r.dev.counters().tx_uso, r.dev.counters().tx_gso_segments),
        (1, 3)
    );
    // Segments longer than the MTU are not cut: the packet is dropped and counted.
    let too_big = NetHdr {
        gso_size: 1501,
        ..hdr
    };
    r.send_on(3, &too_big.to_hash_bytes(), &frame);
    assert!(r.take_wire().is_empty());
    assert_eq!(r.dev.counters().tx_dropped, 1);
}

// ---- packed virtqueues ------------------------------------------------------------

/// The driver's side of one packed ring: descriptors at `desc` (the ring), the
/// driver event structure at `avail`, the device event structure at `used`.
struct PackedDriver {
    next: u16,
    wrap: bool,
    used_next: u16,
    used_wrap: bool,
}

impl Default for PackedDriver {
    fn default() -> Self {
        Self {
            next: 0,
            wrap: true,
            used_next: 0,
            used_wrap: true,
        }
    }
}

const P_AVAIL: u16 = 1 << 7;
const P_USED: u16 = 1 << 15;

impl Rig {
    /// Makes a chain of (addr, len, writable) available on packed queue `q` with
    /// buffer `id`, the head's flags written last as the spec requires.
    fn packed_add(&mut self, d: &mut PackedDriver, q: usize, id: u16, bufs: &[(u64, u32, bool)]) {
        let ring = self.rings[q].desc;
        let head = (d.next, d.wrap);
        let mut head_flags = 0;
        for (k, &(addr, len, write)) in bufs.iter().enumerate() {
            let mut flags = if write { VRING_DESC_F_WRITE as u16 } else { 0 };
            if k + 1 < bufs.len() {
                flags |= VRING_DESC_F_NEXT as u16;
            }
            flags |= if d.wrap { P_AVAIL } else { P_USED };
            let at = ring + 16 * u64::from(d.next);
            self.dma.write(at, &addr.to_le_bytes()).unwrap();
            self.dma.write(at + 8, &len.to_le_bytes()).unwrap();
            self.dma.write(at + 12, &id.to_le_bytes()).unwrap();
            if k == 0 {
                head_flags = flags;
            } else {
                self.dma.write(at + 14, &flags.to_le_bytes()).unwrap();
            }
            d.next += 1;
            if d.next == QSIZE {
                d.next = 0;
                d.wrap = !d.wrap;
            }
        }
        let at = ring + 16 * u64::from(head.0) + 14;
        self.dma.write(at, &head_flags.to_le_bytes()).unwrap();
    }

    /// Used elements (id, len) the device wrote since the last call.
    fn packed_used(
        &mut self,
        d: &mut PackedDriver,
        q: usize,
        slots_per_chain: u16,
    ) -> Vec<(u16, u32)> {
        let ring = self.rings[q].desc;
        let mut out = Vec::new();
        loop {
            let at = ring + 16 * u64::from(d.used_next);
            let mut b = [0u8; 16];
            self.dma.read(at, &mut b).unwrap();
            let flags = u16::from_le_bytes([b[14], b[15]]);
            let mine =
                (flags & P_AVAIL != 0) == d.used_wrap && (flags & P_USED != 0) == d.used_wrap;
            if !mine {
                return out;
            }
            out.push((
                u16::from_le_bytes([b[12], b[13]]),
                u32::from_le_bytes(b[8..12].try_into().unwrap()),
            ));
            d.used_next += slots_per_chain;
            if d.used_next >= QSIZE {
                d.used_next -= QSIZE;
                d.used_wrap = !d.used_wrap;
            }
        }
    }
}

fn packed_features() -> u128 {
    linux_features() | bit(VIRTIO_F_RING_PACKED)
}

#[test]
fn packed_rings_carry_traffic_across_the_wrap() {
    let mut r = rig();
    r.up_with(packed_features());
    assert!(!r.needs_reset());
    let (mut tx, mut rx) = (PackedDriver::default(), PackedDriver::default());
    // Transmit: 20 two-descriptor chains through a 16-slot ring, so both wrap
    // counters flip (a chain takes two slots).
    let frame = tcp4_complete(&payload(100));
    for i in 0..20u16 {
        let h = r.alloc(NET_HDR_LEN);
        r.dma.write(h, &NetHdr::default().to_bytes()).unwrap();
        let f = r.alloc(frame.len());
        r.dma.write(f, &frame).unwrap();
        r.packed_add(
            &mut tx,
            1,
            100 + i,
            &[
                (h, NET_HDR_LEN as u32, false),
                (f, frame.len() as u32, false),
            ],
        );
        r.kick(1);
        assert_eq!(
            r.packed_used(&mut tx, 1, 2),
            vec![(100 + i, 0)],
            "packet {i}"
        );
    }
    assert_eq!(r.take_wire(), vec![frame.clone(); 20]);
    assert!(r.vectors().contains(&2), "transmit queue interrupts");
    // Receive: one-descriptor buffers, 20 frames through the 16-slot ring.
    for i in 0..20u16 {
        let b = r.alloc(2048);
        r.packed_add(&mut rx, 0, i, &[(b, 2048, true)]);
        r.kick(0);
        r.dev.receive(&frame);
        assert_eq!(
            r.packed_used(&mut rx, 0, 1),
            vec![(i, (NET_HDR_LEN + frame.len()) as u32)]
        );
        let (hdr, data) = read_rx(&r, b, NET_HDR_LEN + frame.len());
        assert_eq!((hdr.num_buffers, data), (1, frame.clone()));
    }
    assert!(!r.needs_reset());
}

#[test]
fn packed_driver_can_turn_interrupts_off() {
    let mut r = rig();
    r.up_with(packed_features());
    r.vectors();
    // Driver event suppression of the transmit queue: flags = DISABLE.
    r.dma
        .write(
            r.rings[1].avail + 2,
            &(VRING_PACKED_EVENT_FLAG_DISABLE as u16).to_le_bytes(),
        )
        .unwrap();
    let mut tx = PackedDriver::default();
    let f = r.alloc(64);
    r.dma.write(f, &[0; 64]).unwrap();
    r.packed_add(&mut tx, 1, 1, &[(f, 64, false)]);
    r.kick(1);
    assert_eq!(r.packed_used(&mut tx, 1, 1), vec![(1, 0)]);
    assert!(r.vectors().is_empty());
}

#[test]
fn packed_chain_loops_and_bad_indirects_set_needs_reset() {
    // A chain that never ends: every slot says NEXT, around the whole ring.
    let mut r = rig();
    r.up_with(packed_features());
    let ring = r.rings[1].desc;
    for i in 0..u64::from(QSIZE) {
        let flags = VRING_DESC_F_NEXT as u16 | P_AVAIL;
        r.dma
            .write(ring + 16 * i, &0x20_0000u64.to_le_bytes())
            .unwrap();
        r.dma
            .write(ring + 16 * i + 8, &64u32.to_le_bytes())
            .unwrap();
        r.dma
            .write(ring + 16 * i + 14, &flags.to_le_bytes())
            .unwrap();
    }
    r.kick(1);
    assert!(r.needs_reset());
    assert!(r.take_wire().is_empty());

    // An indirect table that is not a whole number of descriptors.
    let mut r = rig();
    r.up_with(packed_features() | bit(VIRTIO_RING_F_INDIRECT_DESC));
    let mut tx = PackedDriver::default();
    let t = r.alloc(64);
    r.packed_add(&mut tx, 1, 7, &[(t, 20, false)]);
    let at = r.rings[1].desc + 14;
    let flags = VRING_DESC_F_INDIRECT as u16 | P_AVAIL;
    r.dma.write(at, &flags.to_le_bytes()).unwrap();
    r.kick(1);
    assert!(r.needs_reset());
}

#[test]
fn notification_coalescing_holds_rx_interrupts_for_packets_or_time() {
    let mut r = rig();
    r.up_full();
    r.offer_rx_on(0, 8, 2048);
    r.vectors();
    let frame = udp4_to(MAC, [10, 0, 0, 1], [10, 0, 0, 2], (1, 2), b"x");
    let coal = |max: u32, usecs: u32| [max.to_le_bytes(), usecs.to_le_bytes()].concat();
    // With EVENT_IDX the driver asks for every notification: used_event far behind
    // would not, so it re-arms as Linux's NAPI does when it finishes a poll.
    let mut delivered = 0u16;
    let mut receive = |r: &mut Rig| {
        let avail = r.rings[0].avail;
        r.dma
            .write(avail + 4 + 2 * u64::from(QSIZE), &delivered.to_le_bytes())
            .unwrap();
        r.dev.receive(&frame);
        delivered += 1;
    };
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_NOTF_COAL,
            VIRTIO_NET_CTRL_NOTF_COAL_RX_SET,
            &coal(3, 20_000)
        ),
        OK
    );
    r.vectors(); // the control queue's own
    receive(&mut r);
    receive(&mut r);
    assert_eq!(r.used(0).len(), 2, "buffers are used at once");
    assert!(r.vectors().is_empty(), "the interrupt is held");
    assert!(r.dev.next_deadline().is_some());
    receive(&mut r);
    assert_eq!(r.vectors(), vec![1], "the third buffer reaches max_packets");
    assert_eq!(r.dev.next_deadline(), None);
    // One more: held until 20 ms have passed.
    let t0 = std::time::Instant::now();
    receive(&mut r);
    let deadline = r.dev.next_deadline().expect("held");
    assert!(deadline >= t0 + std::time::Duration::from_millis(20));
    r.dev.run_deadlines();
    assert!(r.vectors().is_empty() || t0.elapsed().as_millis() >= 20);
    std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()));
    r.dev.run_deadlines();
    assert_eq!(r.vectors(), vec![1]);
    assert_eq!(r.dev.counters().notifications_coalesced, 1);
    // Transmit queues were not touched by RX_SET.
    r.send_on(1, &[0u8; NET_HASH_HDR_LEN], &frame);
    assert_eq!(r.vectors(), vec![2]);
    // Back to no coalescing.
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_NOTF_COAL,
            VIRTIO_NET_CTRL_NOTF_COAL_RX_SET,
            &coal(0, 0)
        ),
        OK
    );
    r.vectors();
    receive(&mut r);
    assert_eq!(r.vectors(), vec![1]);
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_NOTF_COAL,
            VIRTIO_NET_CTRL_NOTF_COAL_TX_SET,
            &[1, 2, 3]
        ),
        ERR
    );
}

// ---- timing ----------------------------------------------------------------------

/// Frames with their modelled departure times.
#[derive(Clone, Default)]
struct TimedWire(Arc<Mutex<Vec<(usize, offload_engines::cost::Picos)>>>);

impl crate::wire::FrameSink for TimedWire {
    fn transmit(&mut self, _frame: &[u8]) {
        panic!("a timed device gives every frame its departure time");
    }
    fn transmit_at(&mut self, frame: &[u8], departure: offload_engines::cost::Picos) {
        self.0.lock().unwrap().push((frame.len(), departure));
    }
}

fn timed_rig(
    mode: crate::timing::TimingMode,
    speed: offload_engines::cost::LinkSpeed,
) -> (Rig, TimedWire) {
    let dma = Arc::new(DmaSpace::new());
    dma.map_anonymous(0, RAM).unwrap();
    let timed = TimedWire::default();
    let irq = Arc::new(RecordingIrq::default());
    let dev = VirtioNet::new(
        VirtioNetConfig {
            mac: MAC,
            mtu: 1500,
            timing: crate::timing::TimingConfig {
                mode,
                params: offload_engines::cost::Params {
                    speed,
                    ..Default::default()
                },
                ..Default::default()
            },
            ..VirtioNetConfig::default()
        },
        dma.clone(),
        irq.clone(),
        Box::new(timed.clone()),
    );
    let rig = Rig {
        dev,
        dma,
        wire: Arc::new(Mutex::new(Vec::new())),
        irq,
        rings: (0..u64::from(QUEUES)).map(DriverRing::new).collect(),
        next_buf: BUFS,
    };
    (rig, timed)
}

/// Virtual time: full-size frames queued in one notification leave one 1 Gb/s wire
/// time apart (1538 wire bytes = 12.304 µs) once the first is out, and the model
/// clock and the per-pair ledger account for them.
#[test]
fn timed_virtio_net_sends_at_line_rate_in_virtual_time() {
    use crate::timing::TimingMode;
    use offload_engines::cost::{LinkSpeed, Picos};
    let (mut r, wire) = timed_rig(TimingMode::Virtual, LinkSpeed::Gbps1);
    r.up();
    let frame = vec![0x5a; 1514];
    for _ in 0..15 {
        let h = r.alloc(NET_HDR_LEN);
        let f = r.alloc(frame.len());
        r.dma.write(f, &frame).unwrap();
        r.add_chain(1, &[(h, NET_HDR_LEN as u32, false), (f, 1514, false)]);
    }
    r.kick(1);
    let sent = wire.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 15);
    let gaps: Vec<Picos> = sent.windows(2).map(|w| w[1].1 - w[0].1).collect();
    assert!(gaps.iter().all(|&g| g == Picos(12_304_000)), "{gaps:?}");
    assert_eq!(r.used(1).len(), 15, "virtual mode: used at once");
    let report = r.dev.timing_report().unwrap();
    assert_eq!(report.queues[0].tx_frames, 15);
    assert!(r.dev.model_time().unwrap() >= sent[14].1);
}

/// With timing on, frames wait in the model's batch until the notification ends. A
/// later chain that broke the queue skipped that flush, so frames counted as sent
/// never reached the wire.
#[test]
fn timed_frames_before_a_broken_chain_still_leave() {
    use crate::timing::TimingMode;
    use offload_engines::cost::LinkSpeed;
    let (mut r, wire) = timed_rig(TimingMode::Virtual, LinkSpeed::Gbps1);
    r.up();
    let h = r.alloc(NET_HDR_LEN);
    let f = r.alloc(100);
    r.dma.write(f, &[0x5a; 100]).unwrap();
    r.add_chain(1, &[(h, NET_HDR_LEN as u32, false), (f, 100, false)]);
    r.add_chain(1, &[(h, NET_HDR_LEN as u32, false), (RAM - 8, 64, false)]);
    r.kick(1);
    assert!(r.needs_reset());
    assert_eq!(r.dev.counters().tx_packets, 1);
    assert_eq!(wire.0.lock().unwrap().len(), 1, "the counted frame left");
}

/// Paced: transmit chains are marked used when the model says their packet is
/// done, in order, the last no earlier than eight 100 Mb/s wire times.
#[test]
fn paced_virtio_net_marks_chains_used_at_modelled_completion() {
    use crate::timing::TimingMode;
    use offload_engines::cost::LinkSpeed;
    let (mut r, _wire) = timed_rig(TimingMode::Paced, LinkSpeed::Mbps100);
    r.up();
    r.vectors();
    let frame = vec![0x5a; 1514];
    for _ in 0..8 {
        let h = r.alloc(NET_HDR_LEN);
        let f = r.alloc(frame.len());
        r.dma.write(f, &frame).unwrap();
        r.add_chain(1, &[(h, NET_HDR_LEN as u32, false), (f, 1514, false)]);
    }
    let start = std::time::Instant::now();
    r.kick(1);
    let mut used = r.used(1).len();
    assert!(used < 8, "not all used at the notification");
    while used < 8 && start.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_micros(50));
        r.dev.run_timers();
        used += r.used(1).len();
    }
    assert_eq!(used, 8);
    assert!(start.elapsed() >= std::time::Duration::from_nanos(8 * 123_040));
    assert!(r.vectors().contains(&2), "the transmit queue was notified");
    assert_eq!(r.dev.next_timer(), None);
}

/// With timing on, a held notification's time limit is a timer of the model, not a
/// wall-clock deadline: in virtual time the idle device's clock jumps to it and the
/// notification goes out then, `usecs` of model time after the buffer was used.
#[test]
fn virtual_time_coalescing_limit_is_a_model_timer() {
    use crate::timing::TimingMode;
    use offload_engines::cost::{LinkSpeed, Picos};
    let (mut r, _wire) = timed_rig(TimingMode::Virtual, LinkSpeed::Gbps1);
    r.up_full();
    r.offer_rx_on(0, 8, 2048);
    r.vectors();
    let coal = [0u32.to_le_bytes(), 30_000u32.to_le_bytes()].concat();
    assert_eq!(
        r.ctrl(
            VIRTIO_NET_CTRL_NOTF_COAL,
            VIRTIO_NET_CTRL_NOTF_COAL_RX_SET,
            &coal
        ),
        OK
    );
    r.vectors();
    // EVENT_IDX: the driver wants to hear of the first used buffer.
    let used_event = r.rings[0].avail + 4 + 2 * u64::from(QSIZE);
    r.dma.write(used_event, &0u16.to_le_bytes()).unwrap();
    let before = r.dev.model_time().unwrap();
    r.dev
        .receive(&udp4_to(MAC, [10, 0, 0, 1], [10, 0, 0, 2], (1, 2), b"x"));
    assert_eq!(r.used(0).len(), 1);
    assert!(r.vectors().is_empty(), "held");
    assert_eq!(r.dev.next_deadline(), None, "no wall-clock deadline");
    let timer = r.dev.next_timer().expect("the coalescing limit");
    assert!(timer >= before + Picos::from_us(30_000));
    r.dev.run_timers();
    assert_eq!(r.vectors(), vec![1], "released when the clock reached it");
    assert!(r.dev.model_time().unwrap() >= timer);
    assert_eq!(r.dev.next_timer(), None);
    assert_eq!(r.dev.counters().notifications_coalesced, 1);
}

#[test]
fn device_stats_count_the_segmentation_the_device_did_per_transmit_queue() {
    let mut r = rig();
    // Without HASH_REPORT, so `send`'s 12-byte header is the negotiated one.
    r.up_full_with(full_features() & !bit(VIRTIO_NET_F_HASH_REPORT));
    let (ack, len, cap) =
        r.ctrl_with_result(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_QUERY, &[], 8);
    assert_eq!((ack, len), (OK, 9));
    assert_eq!(
        u64::from_le_bytes(cap.try_into().unwrap()),
        u64::from(VIRTIO_NET_STATS_TYPE_TX_GSO)
    );
    let frame = tcp4_seeded(&payload(4000));
    r.send(tso4_hdr(), &frame);
    let wire = r.take_wire();
    assert_eq!(wire.len(), 3);
    let wire_bytes: usize = wire.iter().map(Vec::len).sum();
    // vq 1 (transmit queue of pair 0), TX_GSO.
    let mut req = 1u16.to_le_bytes().to_vec();
    req.extend_from_slice(&[0; 6]);
    req.extend_from_slice(&u64::from(VIRTIO_NET_STATS_TYPE_TX_GSO).to_le_bytes());
    let (ack, len, reply) =
        r.ctrl_with_result(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, &req, 56);
    assert_eq!((ack, len), (OK, 57));
    assert_eq!(reply[0] as u32, VIRTIO_NET_STATS_TYPE_REPLY_TX_GSO);
    let word = |i: usize| u64::from_le_bytes(reply[8 + 8 * i..16 + 8 * i].try_into().unwrap());
    assert_eq!(word(0), 1, "GSO packets");
    assert_eq!(word(1), frame.len() as u64, "their bytes");
    assert_eq!(word(2), wire.len() as u64, "segments");
    assert_eq!(word(3), wire_bytes as u64, "segment bytes");
    // No room for the result, or a receive queue asked for transmit counts: refused.
    let (ack, len, _) =
        r.ctrl_with_result(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, &req, 8);
    assert_eq!((ack, len), (ERR, 1));
    req[0] = 0;
    let (ack, _, _) =
        r.ctrl_with_result(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, &req, 56);
    assert_eq!(ack, ERR);
    assert!(!r.needs_reset());
}

// ---- GSO over a UDP tunnel (HOST_UDP_TUNNEL_GSO) ----------------------------------

/// A VXLAN frame (outer IPv4 or IPv6, UDP to 4789, VXLAN, inner Ethernet, inner
/// IPv4 or IPv6, TCP) as Linux hands it to the device for tunnel GSO: the inner TCP
/// checksum seeded with the pseudo-header over the whole inner TCP length, the
/// outer UDP checksum field holding `outer_seed`. Returns the frame and its
/// (outer UDP, inner IP, inner TCP) offsets.
fn vxlan_seeded(
    outer_v6: bool,
    inner_v6: bool,
    outer_seed: u16,
    p: &[u8],
) -> (Vec<u8>, [usize; 3]) {
    let inner = if inner_v6 {
        tcp6_seeded(p)
    } else {
        tcp4_seeded(p)
    };
    let udp_len = 8 + 8 + inner.len();
    let mut f = eth(if outer_v6 { 0x86dd } else { 0x0800 });
    if outer_v6 {
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&[17, 64]);
        f.extend_from_slice(&[0xfd, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0xfd, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    } else {
        let mut ip = vec![0x45, 0, 0, 0, 0x77, 0x00, 0x40, 0x00, 64, 17, 0, 0];
        ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        ip.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
        let c = !fold(sum(&ip, 0));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
    }
    let outer_udp = f.len();
    f.extend_from_slice(&[0xd4, 0x31, 0x12, 0xb5]); // 54321 -> 4789
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&outer_seed.to_be_bytes());
    f.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 100, 0]); // VXLAN, VNI 100
    let inner_eth = f.len();
    f.extend_from_slice(&inner);
    let inner_ip = inner_eth + 14;
    let inner_l4 = inner_ip + if inner_v6 { 40 } else { 20 };
    (f, [outer_udp, inner_ip, inner_l4])
}

/// The 24-byte tunnel header for a tunnel TSO send.
fn tunnel_hdr(
    outer_v6: bool,
    inner_v6: bool,
    outer_csum: bool,
    mss: u16,
    at: [usize; 3],
) -> Vec<u8> {
    let inner = if inner_v6 {
        VIRTIO_NET_HDR_GSO_TCPV6
    } else {
        VIRTIO_NET_HDR_GSO_TCPV4
    };
    let hdr = NetHdr {
        flags: (VIRTIO_NET_HDR_F_NEEDS_CSUM | if outer_csum { 8 } else { 0 }) as u8,
        gso_type: inner as u8 | if outer_v6 { 0x40 } else { 0x20 },
        gso_size: mss,
        hdr_len: (at[2] + 20) as u16,
        ..csum_hdr(at[2] as u16)
    };
    let mut b = hdr.to_tunnel_bytes().to_vec();
    b[20..22].copy_from_slice(&(at[0] as u16).to_le_bytes());
    b[22..24].copy_from_slice(&(at[1] as u16).to_le_bytes());
    b
}

fn tunnel_features() -> u128 {
    linux_features()
        | bit(super::features::VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO)
        | bit(super::features::VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM)
}

/// The ones'-complement sum of `bytes` plus a pseudo-header folds to 0xFFFF when
/// the checksum inside is right.
fn sums_right(pseudo: u64, bytes: &[u8]) -> bool {
    fold(sum(bytes, pseudo)) == 0xffff
}

/// Checks every layer of every segment of a tunnel send, independently of the
/// engine: lengths, IPv4 checksums and IDs, the outer UDP checksum (or its
/// absence), the inner TCP checksum, sequence numbers and flags, and that the
/// payload comes back whole.
fn check_tunnel_segments(
    wire: &[Vec<u8>],
    at: [usize; 3],
    outer_v6: bool,
    inner_v6: bool,
    outer_csum: bool,
    p: &[u8],
) {
    let [udp, iip, tcp] = at;
    let hdr = tcp + 20;
    let mut got = Vec::new();
    for (k, seg) in wire.iter().enumerate() {
        let be = |o: usize| u16::from_be_bytes([seg[o], seg[o + 1]]);
        let udp_len = seg.len() - udp;
        assert_eq!(usize::from(be(udp + 4)), udp_len, "outer UDP length of {k}");
        let outer_pseudo = if outer_v6 {
            assert_eq!(
                usize::from(be(18)),
                seg.len() - 54,
                "outer IPv6 payload length"
            );
            pseudo_ipv6(
                seg[22..38].try_into().unwrap(),
                seg[38..54].try_into().unwrap(),
                17,
                udp_len as u32,
            )
        } else {
            assert_eq!(usize::from(be(16)), seg.len() - 14, "outer IPv4 length");
            assert_eq!(
                fold(sum(&seg[14..34], 0)),
                0xffff,
                "outer IPv4 checksum of {k}"
            );
            assert_eq!(be(18), 0x7700 + k as u16, "outer IPv4 ID of {k}");
            pseudo_ipv4(
                seg[26..30].try_into().unwrap(),
                seg[30..34].try_into().unwrap(),
                17,
                udp_len as u32,
            )
        };
        if outer_csum {
            assert!(
                sums_right(outer_pseudo, &seg[udp..]),
                "outer UDP checksum of {k}"
            );
        } else {
            assert_eq!(be(udp + 6), 0, "no outer UDP checksum asked for");
        }
        let tcp_len = seg.len() - tcp;
        let inner_pseudo = if inner_v6 {
            assert_eq!(usize::from(be(iip + 4)), seg.len() - iip - 40);
            pseudo_ipv6(
                seg[iip + 8..iip + 24].try_into().unwrap(),
                seg[iip + 24..iip + 40].try_into().unwrap(),
                6,
                tcp_len as u32,
            )
        } else {
            assert_eq!(
                usize::from(be(iip + 2)),
                seg.len() - iip,
                "inner IPv4 length"
            );
            assert_eq!(
                fold(sum(&seg[iip..iip + 20], 0)),
                0xffff,
                "inner IPv4 checksum of {k}"
            );
            assert_eq!(be(iip + 4), 0x1234 + k as u16, "inner IPv4 ID of {k}");
            pseudo_ipv4(
                seg[iip + 12..iip + 16].try_into().unwrap(),
                seg[iip + 16..iip + 20].try_into().unwrap(),
                6,
                tcp_len as u32,
            )
        };
        assert!(
            sums_right(inner_pseudo, &seg[tcp..]),
            "inner TCP checksum of {k}"
        );
        let seq0 = if inner_v6 { 7 } else { 1000 };
        let seq = u32::from_be_bytes(seg[tcp + 4..tcp + 8].try_into().unwrap());
        assert_eq!(seq, seq0 + got.len() as u32, "sequence of {k}");
        let psh = seg[tcp + 13] & 0x08 != 0;
        assert_eq!(psh, k + 1 == wire.len(), "PSH only on the last segment");
        got.extend_from_slice(&seg[hdr..]);
    }
    assert_eq!(got, p, "the payload, reassembled");
}

#[test]
fn tso_inside_an_ipv4_vxlan_tunnel_without_outer_checksum() {
    let mut r = rig();
    r.up_with(tunnel_features());
    let p = payload(5000);
    let (frame, at) = vxlan_seeded(false, false, 0, &p);
    r.send_on(1, &tunnel_hdr(false, false, false, 1400, at), &frame);
    let wire = r.take_wire();
    assert_eq!(wire.len(), 4);
    check_tunnel_segments(&wire, at, false, false, false, &p);
    let c = r.dev.counters();
    assert_eq!(
        (
            c.tx_gso,
            c.tx_udp_tunnel_gso,
            c.tx_gso_segments,
            c.tx_dropped
        ),
        (1, 1, 4, 0)
    );
}

#[test]
fn tso_inside_udp_tunnels_with_outer_checksums_in_every_ip_mix() {
    for (outer_v6, inner_v6) in [(false, false), (false, true), (true, false), (true, true)] {
        let mut r = rig();
        r.up_with(tunnel_features());
        let p = payload(3001);
        // A seed the device must not trust: it computes the outer sum itself.
        let (frame, at) = vxlan_seeded(outer_v6, inner_v6, 0xbeef, &p);
        r.send_on(1, &tunnel_hdr(outer_v6, inner_v6, true, 1000, at), &frame);
        let wire = r.take_wire();
        assert_eq!(wire.len(), 4, "outer v6 {outer_v6}, inner v6 {inner_v6}");
        check_tunnel_segments(&wire, at, outer_v6, inner_v6, true, &p);
    }
}

#[test]
fn the_net_header_grows_to_the_tunnel_header_once_negotiated() {
    let mut r = rig();
    r.up_with(tunnel_features());
    let bufs = r.offer_rx(1, 2048);
    let frame = tcp4_complete(&payload(100));
    r.dev.receive(&frame);
    let (_, data) = read_rx(&r, bufs[0], NET_TUNNEL_HDR_LEN + frame.len());
    assert_eq!(
        &data[NET_TUNNEL_HDR_LEN - NET_HDR_LEN..],
        &frame[..],
        "24-byte header first"
    );
}

#[test]
fn tunnel_gso_the_driver_cannot_ask_for_is_dropped_and_counted() {
    let p = payload(3000);
    let (frame, at) = vxlan_seeded(false, false, 0, &p);
    // Tunnel GSO without the feature: the header is 12 bytes and the bits are refused.
    let mut r = rig();
    r.up_with(linux_features());
    let mut hdr = tunnel_hdr(false, false, false, 1400, at);
    hdr.truncate(NET_HDR_LEN);
    r.send_on(1, &hdr, &frame);
    // The outer checksum without HOST_UDP_TUNNEL_GSO_CSUM.
    let mut r2 = rig();
    r2.up_with(linux_features() | bit(super::features::VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO));
    r2.send_on(1, &tunnel_hdr(false, false, true, 1400, at), &frame);
    // Offsets that disagree with the frame, both tunnel types at once, an inner
    // IP header that is not there.
    let mut r3 = rig();
    r3.up_with(tunnel_features());
    r3.send_on(
        1,
        &tunnel_hdr(false, false, false, 1400, [at[0] + 2, at[1], at[2]]),
        &frame,
    );
    let mut both = tunnel_hdr(false, false, false, 1400, at);
    both[1] |= 0x60;
    r3.send_on(1, &both, &frame);
    r3.send_on(
        1,
        &tunnel_hdr(false, false, false, 1400, [at[0], at[0] + 8, at[2]]),
        &frame,
    );
    for (rig, dropped) in [(&mut r, 1), (&mut r2, 1), (&mut r3, 3)] {
        assert!(rig.take_wire().is_empty());
        assert_eq!(rig.dev.counters().tx_dropped, dropped);
        assert!(
            !rig.needs_reset(),
            "a bad packet is dropped, the queue goes on"
        );
    }
}
