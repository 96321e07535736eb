//! IEEE 802.3x flow control as the 82576 does it.
//!
//! Receive side: when the receive packet buffer (the frames waiting for
//! descriptors) passes the high water mark (FCRTH) and CTRL.TFCE is set, the MAC
//! sends XOFF, a PAUSE frame asking the link partner to stop for FCTTV quanta;
//! while the buffer stays above the low mark it refreshes the XOFF, and when it
//! drains below the low mark (FCRTL) it sends XON (a PAUSE of zero quanta) if
//! FCRTL.XONE asks for it. Transmit side: a PAUSE frame received with CTRL.RFCE
//! set stops transmission for its quanta (512 bit times each at the link speed;
//! an XON ends the pause early), STATUS.TXOFF says so, and the frame goes no
//! further than the MAC. XONRXC, XONTXC, XOFFRXC and XOFFTXC count the frames.
//!
//! Pauses run on the wall clock, the device's deadlines (`Igb::next_deadline`).

use std::time::{Duration, Instant};

pub const FCAL: u32 = 0x0028;
pub const FCAH: u32 = 0x002c;
pub const FCT: u32 = 0x0030;
pub const FCTTV: u32 = 0x0170;
pub const FCRTL: u32 = 0x2160;
pub const FCRTH: u32 = 0x2168;
pub const FCRTV: u32 = 0x2460;

pub const CTRL_RFCE: u32 = 1 << 27;
pub const CTRL_TFCE: u32 = 1 << 28;
pub const FCRTL_XONE: u32 = 1 << 31;
/// FCRTH.RTH / FCRTL.RTL: a byte count in 16-byte units (bits 17:4).
pub const WATER_MARK_MASK: u32 = 0x0003_fff0;
pub const STATUS_TXOFF: u32 = 1 << 4;
/// RCTL.PMCF: pass MAC control frames to the host instead of consuming them.
pub const RCTL_PMCF: u32 = 1 << 23;

pub const XONRXC: u32 = 0x4048;
pub const XONTXC: u32 = 0x404c;
pub const XOFFRXC: u32 = 0x4050;
pub const XOFFTXC: u32 = 0x4054;

/// Where 802.3x PAUSE frames go (Annex 31B), and their type and opcode.
pub const PAUSE_ADDRESS: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x01];
const MAC_CONTROL: [u8; 2] = crate::wire::ETHERTYPE_MAC_CONTROL.to_be_bytes();
const OPCODE_PAUSE: [u8; 2] = [0x00, 0x01];
/// A PAUSE frame is a minimum-size frame (without its FCS).
const PAUSE_FRAME_LEN: usize = 60;

/// A PAUSE frame from `src` asking for `quanta` (0 is XON).
pub fn pause_frame(src: [u8; 6], quanta: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(PAUSE_FRAME_LEN);
    f.extend_from_slice(&PAUSE_ADDRESS);
    f.extend_from_slice(&src);
    f.extend_from_slice(&MAC_CONTROL);
    f.extend_from_slice(&OPCODE_PAUSE);
    f.extend_from_slice(&quanta.to_be_bytes());
    f.resize(PAUSE_FRAME_LEN, 0);
    f
}

/// The pause quanta of a PAUSE frame; `None` for any other frame (other MAC
/// control opcodes included).
pub fn pause_quanta(frame: &[u8]) -> Option<u16> {
    if frame.len() < 18
        || frame[..6] != PAUSE_ADDRESS
        || frame[12..14] != MAC_CONTROL
        || frame[14..16] != OPCODE_PAUSE
    {
        return None;
    }
    Some(u16::from_be_bytes([frame[16], frame[17]]))
}

/// How long `quanta` pause quanta last at `mbps`: 512 bit times each.
pub fn quanta_time(quanta: u16, mbps: u32) -> Duration {
    let bits = u64::from(quanta) * 512;
    Duration::from_nanos(bits * 1000 / u64::from(mbps.max(1)))
}

/// The flow-control state between register writes.
#[derive(Debug, Default)]
pub struct FlowControl {
    /// XOFF sent and no XON since: the receive buffer is past its high mark and
    /// the link partner has been asked to wait.
    pub xoff_sent: bool,
    /// When to send XOFF again if the buffer is still above the low mark.
    pub refresh_at: Option<Instant>,
    /// The link partner paused our transmitter until then.
    pub paused_until: Option<Instant>,
    /// Tx queues that stopped at a packet boundary, paused or with a full wire;
    /// they go on when the pause ends or the wire has room.
    pub stalled: u32,
}

impl FlowControl {
    pub fn paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|t| now < t)
    }

    /// The earliest moment something is due: the end of a pause, or a refresh.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.paused_until, self.refresh_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the MAC does with its flow-control registers and state.
impl super::Igb {
    fn link_mbps(&self) -> u32 {
        match self.status() & (3 << 6) {
            super::regs::STATUS_SPEED_10 => 10,
            super::regs::STATUS_SPEED_100 => 100,
            _ => 1000,
        }
    }

    /// A received PAUSE frame: paces our transmitter when CTRL.RFCE allows.
    /// Returns whether the frame was consumed by the MAC (not passed on).
    pub(super) fn receive_pause(&mut self, quanta: u16) -> bool {
        if self.get(super::regs::CTRL) & CTRL_RFCE == 0 {
            // Not for us to act on: an ordinary (multicast) frame to the filters.
            return false;
        }
        let now = Instant::now();
        if quanta == 0 {
            self.stats.add(XONRXC, 1);
            self.counters.fc_xon_received += 1;
            self.fc.paused_until = None;
            self.resume_stalled();
        } else {
            self.stats.add(XOFFRXC, 1);
            self.counters.fc_xoff_received += 1;
            self.fc.paused_until = Some(now + quanta_time(quanta, self.link_mbps()));
            self.wake_worker();
        }
        self.get(super::regs::RCTL) & RCTL_PMCF == 0
    }

    /// Whether Tx queue `q` must stop before its next packet: the link partner
    /// paused us, or the wire has no room for more. Remembers the queue.
    pub(super) fn tx_held(&mut self, q: usize) -> bool {
        let paused = self.fc.paused_until.is_some() && self.fc.paused(Instant::now());
        if !paused && self.wire.has_room() {
            return false;
        }
        if self.fc.stalled & (1 << q) == 0 {
            if paused {
                self.counters.tx_paused_stops += 1;
            } else {
                self.counters.tx_wire_full_stops += 1;
            }
        }
        self.fc.stalled |= 1 << q;
        true
    }

    /// The queues stopped by a pause or a full wire go on.
    pub(super) fn resume_stalled(&mut self) {
        let stalled = std::mem::take(&mut self.fc.stalled);
        for q in (0..super::regs::QUEUES).filter(|q| stalled & (1 << q) != 0) {
            self.tx_process(q);
        }
    }

    /// The receive buffer grew: past the high mark, ask the link partner to wait.
    pub(super) fn check_high_water(&mut self) {
        let high = self.get(FCRTH) & WATER_MARK_MASK;
        if self.fc.xoff_sent
            || high == 0
            || self.get(super::regs::CTRL) & CTRL_TFCE == 0
            || (self.rx_fifo_bytes as u32) < high
        {
            return;
        }
        self.fc.xoff_sent = true;
        self.send_xoff();
    }

    fn send_xoff(&mut self) {
        let quanta = self.get(FCTTV) as u16;
        self.stats.add(XOFFTXC, 1);
        self.counters.fc_xoff_sent += 1;
        self.send_pause(quanta);
        // Refreshed before the partner's pause runs out (FCRTV, or half of FCTTV).
        let refresh = match self.get(FCRTV) as u16 {
            0 => quanta / 2,
            r => r,
        };
        self.fc.refresh_at = Some(Instant::now() + quanta_time(refresh.max(1), self.link_mbps()));
        self.wake_worker();
    }

    /// The receive buffer shrank: below the low mark, the partner may go on.
    pub(super) fn check_low_water(&mut self) {
        if !self.fc.xoff_sent {
            return;
        }
        let low = self.get(FCRTL);
        let still_on = self.get(super::regs::CTRL) & CTRL_TFCE != 0;
        // At or below the low mark, and always once empty (a low mark of 0 must not
        // hold the partner for good).
        let above = self.rx_fifo_bytes as u32 > low & WATER_MARK_MASK && !self.rx_fifo.is_empty();
        if still_on && above {
            return;
        }
        self.fc.xoff_sent = false;
        self.fc.refresh_at = None;
        if still_on && low & FCRTL_XONE != 0 {
            self.stats.add(XONTXC, 1);
            self.counters.fc_xon_sent += 1;
            self.send_pause(0);
        }
        // The worker holds the wire while XOFF stands: it takes frames again.
        self.wake_worker();
    }

    /// MAC control frames go out ahead of queued data, untimed.
    fn send_pause(&mut self, quanta: u16) {
        if !self.link_up() {
            return;
        }
        let mac = self.station_address();
        self.wire.transmit(&pause_frame(mac, quanta));
    }

    /// RAL0/RAH0: the address PAUSE frames come from.
    fn station_address(&self) -> [u8; 6] {
        let lo = self.get(super::regs::ral(0)).to_le_bytes();
        let hi = self.get(super::regs::ral(0) + 4).to_le_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
    }

    /// The pause and refresh deadlines that passed.
    pub(super) fn run_flow_control_deadlines(&mut self, now: Instant) {
        if self.fc.paused_until.is_some_and(|t| now >= t) {
            self.fc.paused_until = None;
            self.resume_stalled();
        }
        if self.fc.refresh_at.is_some_and(|t| now >= t) {
            self.fc.refresh_at = None;
            self.check_low_water();
            if self.fc.xoff_sent {
                self.send_xoff();
            }
        }
    }

    /// Whether frames from the wire must wait on it: XOFF stands, so the link
    /// partner is holding them back. (The model's partner reacts at once, where a
    /// real one finishes the frame it is sending; the high mark leaves room for it.)
    pub fn rx_held(&self) -> bool {
        self.fc.xoff_sent
            && self.get(super::regs::CTRL) & CTRL_TFCE != 0
            && self.get(super::regs::RCTL) & super::regs::RCTL_EN != 0
    }

    fn wake_worker(&self) {
        if let Some(w) = &self.wake {
            w();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_frames_round_trip_and_other_frames_are_not_pauses() {
        let f = pause_frame([2, 0, 0, 0, 0, 1], 0xffff);
        assert_eq!(f.len(), 60);
        assert_eq!(pause_quanta(&f), Some(0xffff));
        assert_eq!(pause_quanta(&pause_frame([2, 0, 0, 0, 0, 1], 0)), Some(0));
        let mut other_opcode = f.clone();
        other_opcode[15] = 0x02; // PFC, not PAUSE
        assert_eq!(pause_quanta(&other_opcode), None);
        let mut unicast = f.clone();
        unicast[0] = 0x02;
        assert_eq!(pause_quanta(&unicast), None);
        assert_eq!(pause_quanta(&f[..17]), None);
        assert_eq!(pause_quanta(&[]), None);
    }

    #[test]
    fn a_quantum_is_512_bit_times() {
        assert_eq!(quanta_time(1, 1000), Duration::from_nanos(512));
        assert_eq!(quanta_time(0xffff, 1000), Duration::from_nanos(33_553_920));
        assert_eq!(quanta_time(10, 100), Duration::from_nanos(51_200));
        assert_eq!(quanta_time(0, 1000), Duration::ZERO);
        assert_eq!(quanta_time(1, 0), Duration::from_nanos(512_000));
    }
}
