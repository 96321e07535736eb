//! The port and VSI statistics registers `ethtool -S` reads (GLPRT_*, GLV_*).
//!
//! What the drivers read (Linux `i40e_update_pf_stats` / `i40e_update_eth_stats`,
//! DPDK `i40e_read_stats_registers`): the port block GLPRT_* (0x300000..0x300A40,
//! one instance per port 8 bytes apart, port 0 is ours and ports 1..3 read 0),
//! the per-VSI block GLV_*(stat_counter_idx) with the index the switch reports in
//! the VSI properties (the VSI number), and GL_RXERR1(hw id 128 + port), the
//! function's "other" Rx discards. 48-bit counters are register pairs read with
//! one 64-bit access (low dword at the L offset, bits 32..47 at L+4); 32-bit ones
//! are single registers. All counters are free-running and wrap (the drivers keep
//! offsets and compute deltas); reads do not clear them.
//!
//! Accounting **(assumptions where the driver does not settle silicon behaviour)**:
//! * Port counters (GORC/UPRC/MPRC/BPRC, size buckets) count every good frame the
//!   MAC receives, also those the switch then filters or a queue drops; octets
//!   include the 4-byte FCS (DPDK subtracts 4 per packet from both port and VSI
//!   byte counters).
//! * VSI counters count frames the switch handed to the VSI, including those then
//!   dropped for lack of descriptors; such a drop is counted in GLV_RDPC (Linux
//!   `rx_missed_errors`; DPDK subtracts it from `ipackets` and adds it to
//!   `imissed`, which also adds GLPRT_RDPC, so the port RDPC stays 0 to avoid
//!   counting the drop twice).
//! * Frames longer than the queue's rxmax (or its 5-buffer chain) count in
//!   GL_RXERR1 (Linux `rx_dropped`); frames above PRTGL_SAH.MFS in GLPRT_ROC and
//!   runts in GLPRT_RUC. CRC, length and pause counters stay 0.

use std::collections::BTreeMap;

/// Port 0 register offsets (the low dword of 48-bit pairs).
pub mod port {
    pub const GORCL: u32 = 0x0030_0000;
    pub const MLFC: u32 = 0x0030_0020;
    pub const MRFC: u32 = 0x0030_0040;
    pub const CRCERRS: u32 = 0x0030_0080;
    pub const RLEC: u32 = 0x0030_00A0;
    pub const ILLERRC: u32 = 0x0030_00E0;
    pub const RUC: u32 = 0x0030_0100;
    pub const ROC: u32 = 0x0030_0120;
    pub const LXONRXC: u32 = 0x0030_0140;
    pub const LXOFFRXC: u32 = 0x0030_0160;
    pub const PRC64L: u32 = 0x0030_0480;
    pub const RFC: u32 = 0x0030_0560;
    pub const RJC: u32 = 0x0030_0580;
    pub const UPRCL: u32 = 0x0030_05A0;
    pub const MPRCL: u32 = 0x0030_05C0;
    pub const BPRCL: u32 = 0x0030_05E0;
    pub const RDPC: u32 = 0x0030_0600;
    pub const GOTCL: u32 = 0x0030_0680;
    pub const PTC64L: u32 = 0x0030_06A0;
    pub const LXONTXC: u32 = 0x0030_0980;
    pub const LXOFFTXC: u32 = 0x0030_09A0;
    pub const UPTCL: u32 = 0x0030_09C0;
    pub const MPTCL: u32 = 0x0030_09E0;
    pub const BPTCL: u32 = 0x0030_0A00;
    pub const TDOLD: u32 = 0x0030_0A20;
    /// One past the port block (TDOLD of port 3 + 4).
    pub const END: u32 = 0x0030_0A40;
    /// Size buckets (64, 127, 255, 511, 1023, 1522, 9522) are 0x20 apart.
    pub const SIZE_STRIDE: u32 = 0x20;
}

/// Per-VSI register bases (instance `i` at base + 8 i, i < 384).
pub mod vsi {
    pub const RDPC: u32 = 0x0031_0000;
    pub const GOTCL: u32 = 0x0032_8000;
    pub const UPTCL: u32 = 0x0033_C000;
    pub const MPTCL: u32 = 0x0033_CC00;
    pub const BPTCL: u32 = 0x0033_D800;
    pub const TEPC: u32 = 0x0034_4000;
    pub const GORCL: u32 = 0x0035_8000;
    pub const UPRCL: u32 = 0x0036_C000;
    pub const MPRCL: u32 = 0x0036_CC00;
    pub const BPRCL: u32 = 0x0036_D800;
    pub const RUPP: u32 = 0x0036_E400;
    pub const COUNT: u32 = 384;
}

/// GL_RXERR1L(i) (i < 144); the PF of port 0 is hardware id 128.
pub const GL_RXERR1L: u32 = 0x0031_8000;
const RXERR1_COUNT: u32 = 144;
const PF_HW_ID: u32 = 128;

const FCS_LEN: u64 = 4;
const MASK48: u64 = (1 << 48) - 1;

/// The Ethernet counters a port or a VSI keeps (`struct i40e_eth_stats`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EthCounters {
    pub rx_bytes: u64,
    pub rx_unicast: u64,
    pub rx_multicast: u64,
    pub rx_broadcast: u64,
    pub rx_discards: u64,
    pub rx_unknown_protocol: u64,
    pub tx_bytes: u64,
    pub tx_unicast: u64,
    pub tx_multicast: u64,
    pub tx_broadcast: u64,
    pub tx_errors: u64,
}

#[derive(Clone, Copy)]
enum Class {
    Unicast,
    Multicast,
    Broadcast,
}

fn class(frame: &[u8]) -> Class {
    match frame.get(..6) {
        Some(d) if d == [0xFF; 6] => Class::Broadcast,
        Some(d) if d[0] & 1 != 0 => Class::Multicast,
        _ => Class::Unicast,
    }
}

impl EthCounters {
    fn rx(&mut self, frame: &[u8]) {
        self.rx_bytes = self.rx_bytes.wrapping_add(frame.len() as u64 + FCS_LEN);
        let c = match class(frame) {
            Class::Unicast => &mut self.rx_unicast,
            Class::Multicast => &mut self.rx_multicast,
            Class::Broadcast => &mut self.rx_broadcast,
        };
        *c = c.wrapping_add(1);
    }

    fn tx(&mut self, frame: &[u8]) {
        self.tx_bytes = self.tx_bytes.wrapping_add(frame.len() as u64 + FCS_LEN);
        let c = match class(frame) {
            Class::Unicast => &mut self.tx_unicast,
            Class::Multicast => &mut self.tx_multicast,
            Class::Broadcast => &mut self.tx_broadcast,
        };
        *c = c.wrapping_add(1);
    }
}

/// Size bucket of a frame of `len` bytes without FCS: 64, 127, 255, 511, 1023,
/// 1522 and 9522 (everything longer) bytes with FCS.
fn bucket(len: usize) -> usize {
    match len + FCS_LEN as usize {
        0..=64 => 0,
        65..=127 => 1,
        128..=255 => 2,
        256..=511 => 3,
        512..=1023 => 4,
        1024..=1522 => 5,
        _ => 6,
    }
}

/// Statistics counters, read through their registers.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub port: EthCounters,
    pub rx_size: [u64; 7],
    pub tx_size: [u64; 7],
    pub rx_undersize: u64,
    pub rx_oversize: u64,
    pub tx_dropped_link_down: u64,
    /// GL_RXERR1 of the PF: Rx discards other than "no descriptor".
    pub rx_discards_other: u64,
    /// By stat_counter_idx ([`stat_index`]); only indices below [`vsi::COUNT`] are kept.
    pub vsi: BTreeMap<u16, EthCounters>,
}

/// Statistics blocks 0..3 of GLV_* belong to the four ports' internal switch VSIs:
/// DPDK reads GLV_*(port) as the port's internal traffic and subtracts it from the
/// GLPRT_* counters. So VSI `n` counts in block `n + 4`, the stat_counter_idx its
/// parameters report; a VSI past block 383 has no statistics.
pub const STAT_INDEX_BASE: u16 = 4;

/// The GLV_* block of VSI number `vsi`.
pub fn stat_index(vsi: u16) -> u16 {
    vsi.saturating_add(STAT_INDEX_BASE)
}

impl Stats {
    /// The counters of VSI number `vsi`.
    fn vsi_mut(&mut self, vsi: u16) -> Option<&mut EthCounters> {
        let idx = stat_index(vsi);
        (u32::from(idx) < vsi::COUNT).then(|| self.vsi.entry(idx).or_default())
    }

    /// A good frame (no FCS) received by the port's MAC.
    pub fn rx_frame(&mut self, frame: &[u8]) {
        self.port.rx(frame);
        let b = &mut self.rx_size[bucket(frame.len())];
        *b = b.wrapping_add(1);
    }

    /// A frame the switch gave to VSI number `idx`.
    pub fn rx_vsi_frame(&mut self, idx: u16, frame: &[u8]) {
        if let Some(v) = self.vsi_mut(idx) {
            v.rx(frame);
        }
    }

    /// A frame for VSI `idx` dropped because its queue had no free descriptor
    /// (or was disabled).
    pub fn rx_no_descriptor(&mut self, idx: u16) {
        if let Some(v) = self.vsi_mut(idx) {
            v.rx_discards = v.rx_discards.wrapping_add(1);
        }
    }

    /// A frame dropped for another reason after the switch (too long for the queue).
    pub fn rx_discard_other(&mut self) {
        self.rx_discards_other = self.rx_discards_other.wrapping_add(1);
    }

    /// A runt (shorter than an Ethernet header).
    pub fn rx_undersize(&mut self) {
        self.rx_undersize = self.rx_undersize.wrapping_add(1);
    }

    /// A frame longer than the MAC's maximum frame size.
    pub fn rx_oversize(&mut self) {
        self.rx_oversize = self.rx_oversize.wrapping_add(1);
    }

    /// A frame (no FCS) put on the wire by the main VSI.
    pub fn tx_frame(&mut self, frame: &[u8]) {
        self.tx_vsi_frame(0, frame);
    }

    /// A frame (no FCS) put on the wire by VSI number `idx`.
    pub fn tx_vsi_frame(&mut self, idx: u16, frame: &[u8]) {
        self.port.tx(frame);
        let b = &mut self.tx_size[bucket(frame.len())];
        *b = b.wrapping_add(1);
        if let Some(v) = self.vsi_mut(idx) {
            v.tx(frame);
        }
    }

    /// A Tx frame dropped because the link was down (GLPRT_TDOLD).
    pub fn tx_link_down_drop(&mut self) {
        self.tx_dropped_link_down = self.tx_dropped_link_down.wrapping_add(1);
    }

    /// A Tx frame of VSI `idx` dropped for an error (GLV_TEPC).
    pub fn tx_error(&mut self, idx: u16) {
        if let Some(v) = self.vsi_mut(idx) {
            v.tx_errors = v.tx_errors.wrapping_add(1);
        }
    }

    /// The value of a statistics register, or `None` when `off` is not one.
    pub fn read(&self, off: u32) -> Option<u32> {
        if off & 3 != 0 {
            return None;
        }
        if (port::GORCL..port::END).contains(&off) {
            return Some(self.port_read(off));
        }
        if let Some(v) = self.vsi_read(off) {
            return Some(v);
        }
        let rel = off.checked_sub(GL_RXERR1L)?;
        (rel / 8 < RXERR1_COUNT).then(|| {
            let v = if rel / 8 == PF_HW_ID {
                self.rx_discards_other
            } else {
                0
            };
            half(v, rel & 4 != 0, u64::MAX)
        })
    }

    fn port_read(&self, off: u32) -> u32 {
        // Each counter is a 32-byte block: four ports 8 bytes apart, the high
        // dword of a 48-bit pair at +4.
        let block = off & !0x1F;
        let in_block = off & 0x1F;
        if in_block >= 8 {
            return 0; // ports 1..3
        }
        let high = in_block & 4 != 0;
        let p = &self.port;
        let bucket_of = |base: u32| ((block - base) / port::SIZE_STRIDE) as usize;
        let (v, wide) = match block {
            port::GORCL => (p.rx_bytes, true),
            port::GOTCL => (p.tx_bytes, true),
            port::UPRCL => (p.rx_unicast, true),
            port::MPRCL => (p.rx_multicast, true),
            port::BPRCL => (p.rx_broadcast, true),
            port::UPTCL => (p.tx_unicast, true),
            port::MPTCL => (p.tx_multicast, true),
            port::BPTCL => (p.tx_broadcast, true),
            port::RDPC => (p.rx_discards, false),
            port::RUC => (self.rx_undersize, false),
            port::ROC => (self.rx_oversize, false),
            port::TDOLD => (self.tx_dropped_link_down, false),
            b if (port::PRC64L..port::PRC64L + 7 * port::SIZE_STRIDE).contains(&b) => {
                (self.rx_size[bucket_of(port::PRC64L)], true)
            }
            b if (port::PTC64L..port::PTC64L + 7 * port::SIZE_STRIDE).contains(&b) => {
                (self.tx_size[bucket_of(port::PTC64L)], true)
            }
            // CRC, length, MAC fault, jabber, fragment and all pause counters.
            _ => (0, false),
        };
        if wide {
            half(v, high, MASK48)
        } else if high {
            0
        } else {
            v as u32
        }
    }

    fn vsi_read(&self, off: u32) -> Option<u32> {
        const REGS: [(u32, bool); 11] = [
            (vsi::RDPC, false),
            (vsi::GOTCL, true),
            (vsi::UPTCL, true),
            (vsi::MPTCL, true),
            (vsi::BPTCL, true),
            (vsi::TEPC, false),
            (vsi::GORCL, true),
            (vsi::UPRCL, true),
            (vsi::MPRCL, true),
            (vsi::BPRCL, true),
            (vsi::RUPP, false),
        ];
        let (base, wide) = REGS
            .iter()
            .copied()
            .find(|&(b, _)| (b..b + 8 * vsi::COUNT).contains(&off))?;
        let rel = off - base;
        let high = rel & 4 != 0;
        let Some(c) = self.vsi.get(&((rel / 8) as u16)) else {
            return Some(0);
        };
        let v = match base {
            vsi::RDPC => c.rx_discards,
            vsi::GOTCL => c.tx_bytes,
            vsi::UPTCL => c.tx_unicast,
            vsi::MPTCL => c.tx_multicast,
            vsi::BPTCL => c.tx_broadcast,
            vsi::TEPC => c.tx_errors,
            vsi::GORCL => c.rx_bytes,
            vsi::UPRCL => c.rx_unicast,
            vsi::MPRCL => c.rx_multicast,
            vsi::BPRCL => c.rx_broadcast,
            _ => c.rx_unknown_protocol,
        };
        Some(if wide {
            half(v, high, MASK48)
        } else if high {
            0
        } else {
            v as u32
        })
    }
}

/// The low or high dword of a counter of `mask` width.
fn half(v: u64, high: bool, mask: u64) -> u32 {
    let v = v & mask;
    if high {
        (v >> 32) as u32
    } else {
        v as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd64(s: &Stats, off: u32) -> u64 {
        u64::from(s.read(off).unwrap()) | (u64::from(s.read(off + 4).unwrap()) << 32)
    }

    #[test]
    fn offsets_match_i40e_register_h() {
        // A few spot checks against I40E_GLPRT_*(0) and I40E_GLV_*(i).
        assert_eq!(port::RDPC, 0x0030_0600);
        assert_eq!(port::PRC64L + 6 * port::SIZE_STRIDE, 0x0030_0540); // PRC9522L
        assert_eq!(port::PTC64L + 6 * port::SIZE_STRIDE, 0x0030_0760); // PTC9522L
        assert_eq!(vsi::UPTCL + 8 * vsi::COUNT, vsi::MPTCL);
    }

    #[test]
    fn counters_are_free_running_and_48_bits_wide() {
        let mut s = Stats::default();
        s.rx_frame(&[0xFF; 60]);
        s.rx_frame(&[0x02; 1514]);
        s.rx_vsi_frame(0, &[0x02; 1514]);
        s.rx_vsi_frame(3, &[0x01; 100]);
        s.rx_no_descriptor(3);
        assert_eq!(rd64(&s, port::GORCL), 64 + 1518);
        assert_eq!(rd64(&s, port::GORCL), 64 + 1518, "not clear-on-read");
        assert_eq!(rd64(&s, port::BPRCL), 1);
        assert_eq!(rd64(&s, port::UPRCL), 1);
        assert_eq!(rd64(&s, port::PRC64L), 1);
        assert_eq!(rd64(&s, port::PRC64L + 5 * port::SIZE_STRIDE), 1);
        // VSI n counts in block n + 4; blocks 0..3 (the ports' internal VSIs) stay 0.
        assert_eq!(rd64(&s, vsi::UPRCL + 8 * 4), 1);
        assert_eq!(rd64(&s, vsi::UPRCL), 0);
        assert_eq!(rd64(&s, vsi::MPRCL + 8 * 7), 1);
        assert_eq!(s.read(vsi::RDPC + 8 * 7), Some(1));
        assert_eq!(s.read(vsi::RDPC + 8 * 383), Some(0));
        assert_eq!(s.read(port::RDPC), Some(0));
        // Port 1 and unknown port counters read zero, offsets outside are not stats.
        assert_eq!(s.read(port::GORCL + 8), Some(0));
        assert_eq!(s.read(port::CRCERRS), Some(0));
        assert_eq!(s.read(port::LXOFFRXC), Some(0));
        assert_eq!(s.read(port::END), None);
        assert_eq!(s.read(0x0012_8000), None);
        s.port.rx_bytes = (1 << 48) + 5;
        assert_eq!(rd64(&s, port::GORCL), 5, "wraps at 48 bits");
        s.rx_discard_other();
        assert_eq!(rd64(&s, GL_RXERR1L + 8 * 128), 1);
        assert_eq!(rd64(&s, GL_RXERR1L), 0);
    }

    #[test]
    fn tx_counts_port_and_vsi() {
        let mut s = Stats::default();
        s.tx_frame(&[0x01; 60]);
        s.tx_vsi_frame(2, &[0x02; 200]);
        assert_eq!(rd64(&s, port::GOTCL), 64 + 204);
        assert_eq!(rd64(&s, port::MPTCL), 1);
        assert_eq!(rd64(&s, port::UPTCL), 1);
        assert_eq!(rd64(&s, vsi::MPTCL + 8 * 4), 1);
        assert_eq!(rd64(&s, vsi::GOTCL + 8 * 6), 204);
        assert_eq!(rd64(&s, port::PTC64L + 2 * port::SIZE_STRIDE), 1);
    }
}
