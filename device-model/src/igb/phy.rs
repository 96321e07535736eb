//! The 82576's internal copper PHY, reached through MDIC.
//!
//! It identifies as an IGP-family PHY (the ID the `igb` driver maps to
//! `e1000_phy_igp_3`) and links at 1000 Mb/s full duplex when the wire is up,
//! [`AUTONEG_TIME`] after a PHY reset, a power-up, a restart of auto-negotiation
//! or the wire coming up: a link is never up the instant it is asked for, so a
//! driver that takes the interface down and up again sees the link go away for a
//! while, as on silicon.

use std::time::{Duration, Instant};

pub const PHY_ADDR: u32 = 1;

/// How long auto-negotiation takes on the wall clock. 1000BASE-T takes seconds on
/// silicon; QEMU's e1000-family models take 500 ms, and so does tunic: long enough
/// that a 50 ms down/up cycle never links (the kernel's `stats.py` down/up hammer
/// relies on that), short enough not to slow every driver load.
pub const AUTONEG_TIME: Duration = Duration::from_millis(500);
const BMCR: usize = 0x00;
const BMSR: usize = 0x01;
const PHYID1: usize = 0x02;
const PHYID2: usize = 0x03;
const ANAR: usize = 0x04;
const ANLPAR: usize = 0x05;
const GBCR: usize = 0x09;
const GBSR: usize = 0x0a;
const PORT_STATUS: usize = 0x11;

const BMCR_RESET: u16 = 1 << 15;
const BMCR_LOOPBACK: u16 = 1 << 14;
const BMCR_AN_ENABLE: u16 = 1 << 12;
const BMCR_POWER_DOWN: u16 = 1 << 11;
const BMCR_AN_RESTART: u16 = 1 << 9;
const BMCR_FULL_DUPLEX: u16 = 1 << 8;
const BMCR_SPEED_1000: u16 = 1 << 6;
const BMSR_LINK: u16 = 1 << 2;
const BMSR_AN_COMPLETE: u16 = 1 << 5;

pub struct Phy {
    regs: [u16; 32],
    link_up: bool,
    /// Auto-negotiation in progress until then: no link yet.
    negotiating_until: Option<Instant>,
    autoneg_time: Duration,
}

impl Phy {
    pub fn new() -> Self {
        let mut p = Self {
            regs: [0; 32],
            link_up: true,
            negotiating_until: None,
            autoneg_time: AUTONEG_TIME,
        };
        p.reset_registers();
        // Powered on long before any driver looks: negotiated already.
        p.negotiating_until = None;
        p
    }

    /// The same PHY with another auto-negotiation time (zero: links at once).
    pub fn with_autoneg_time(mut self, t: Duration) -> Self {
        self.autoneg_time = t;
        self
    }

    /// PHY reset (BMCR.RESET, CTRL.PHY_RST, a function reset): defaults, then
    /// auto-negotiation from the start.
    pub fn reset(&mut self) {
        self.reset_registers();
        self.start_autoneg();
    }

    fn start_autoneg(&mut self) {
        self.negotiating_until = match self.autoneg_time.is_zero() {
            true => None,
            false => Some(Instant::now() + self.autoneg_time),
        };
    }

    /// When a running auto-negotiation completes (the device's wall-clock deadline).
    pub fn autoneg_deadline(&self) -> Option<Instant> {
        self.negotiating_until
    }

    /// Ends auto-negotiation if its time has come; true when it just did.
    pub fn finish_autoneg(&mut self, now: Instant) -> bool {
        match self.negotiating_until {
            Some(t) if now >= t => {
                self.negotiating_until = None;
                true
            }
            _ => false,
        }
    }

    fn negotiating(&self) -> bool {
        self.negotiating_until.is_some_and(|t| Instant::now() < t)
    }

    fn reset_registers(&mut self) {
        self.regs = [0; 32];
        self.regs[BMCR] = BMCR_AN_ENABLE | BMCR_FULL_DUPLEX | BMCR_SPEED_1000;
        self.regs[PHYID1] = 0x02a8;
        self.regs[PHYID2] = 0x0391;
        self.regs[ANAR] = 0x0de1;
        self.regs[ANLPAR] = 0xcde1;
        self.regs[GBCR] = 0x0300;
        self.regs[GBSR] = 0x3c00;
        self.regs[0x0f] = 0x3000; // extended status: 1000BASE-T full/half
    }

    pub fn set_link(&mut self, up: bool) {
        if up && !self.link_up {
            self.start_autoneg();
        }
        self.link_up = up;
    }

    /// Link as the PHY reports it: wire up, not powered down, negotiated.
    pub fn link(&self) -> bool {
        self.link_up && self.regs[BMCR] & BMCR_POWER_DOWN == 0 && !self.negotiating()
    }

    /// Internal loopback: transmitted frames come back to the MAC.
    pub fn loopback(&self) -> bool {
        self.regs[BMCR] & BMCR_LOOPBACK != 0
    }

    pub fn read(&self, reg: usize) -> u16 {
        match reg {
            BMSR => {
                let mut v = 0x7949; // 10/100 half/full, ext status, MF preamble suppression, ext caps
                if self.link() || self.loopback() {
                    v |= BMSR_LINK | BMSR_AN_COMPLETE;
                }
                v | 0x0008 // able to auto-negotiate
            }
            PORT_STATUS => {
                if self.link() {
                    // Link up, speed 1000, full duplex, auto-negotiation complete.
                    0x4000 | 0x0400 | 0x0200 | 0x8000 | 0x0010
                } else {
                    0
                }
            }
            _ => self.regs.get(reg).copied().unwrap_or(0),
        }
    }

    pub fn write(&mut self, reg: usize, val: u16) {
        match reg {
            // Reset and restart-negotiation complete instantly: they self-clear.
            BMCR if val & BMCR_RESET != 0 => self.reset(),
            BMCR => {
                let powered_up =
                    self.regs[BMCR] & BMCR_POWER_DOWN != 0 && val & BMCR_POWER_DOWN == 0;
                if powered_up || val & BMCR_AN_RESTART != 0 {
                    self.start_autoneg();
                }
                self.regs[BMCR] = val & !BMCR_AN_RESTART;
            }
            BMSR | PHYID1 | PHYID2 | ANLPAR | GBSR | PORT_STATUS => {}
            r if r < 32 => self.regs[r] = val,
            _ => {}
        }
    }
}

impl Default for Phy {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_comes_up_only_once_auto_negotiation_is_done() {
        let mut p = Phy::new();
        assert!(p.link(), "negotiated at power-on");
        p.write(BMCR, p.read(BMCR) | BMCR_POWER_DOWN);
        assert!(!p.link());
        p.write(BMCR, p.read(BMCR) & !BMCR_POWER_DOWN);
        assert!(!p.link(), "powered up, still negotiating");
        let due = p.autoneg_deadline().expect("a deadline");
        assert!(due > Instant::now() + AUTONEG_TIME / 2);
        assert!(!p.finish_autoneg(due - Duration::from_millis(1)));
        assert!(p.finish_autoneg(due));
        assert!(p.link());
        // The wire going away and back, and a restart, negotiate again.
        p.set_link(false);
        p.set_link(true);
        assert!(!p.link());
        let mut q = Phy::new();
        q.write(BMCR, q.read(BMCR) | BMCR_AN_RESTART);
        assert!(!q.link() && q.autoneg_deadline().is_some());
    }

    #[test]
    fn reset_self_clears_and_link_reports() {
        let mut p = Phy::new().with_autoneg_time(Duration::ZERO);
        p.write(BMCR, BMCR_RESET | BMCR_AN_ENABLE);
        assert_eq!(p.read(BMCR) & BMCR_RESET, 0);
        assert_ne!(p.read(BMSR) & BMSR_LINK, 0);
        p.write(BMCR, p.read(BMCR) | BMCR_POWER_DOWN);
        assert_eq!(p.read(BMSR) & BMSR_LINK, 0);
        assert_eq!(
            (u32::from(p.read(PHYID1)) << 16 | u32::from(p.read(PHYID2))) & !0xf,
            0x02a8_0390
        );
    }
}
