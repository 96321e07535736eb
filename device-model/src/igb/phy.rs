//! The 82576's internal copper PHY, reached through MDIC.
//!
//! It identifies as an IGP-family PHY (the ID the `igb` driver maps to
//! `e1000_phy_igp_3`), is always linked at 1000 Mb/s full duplex when the
//! wire is up, and completes auto-negotiation at once.

pub const PHY_ADDR: u32 = 1;
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
}

impl Phy {
    pub fn new() -> Self {
        let mut p = Self {
            regs: [0; 32],
            link_up: true,
        };
        p.reset();
        p
    }

    pub fn reset(&mut self) {
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
        self.link_up = up;
    }

    /// Link as the PHY reports it: wire up and not powered down.
    pub fn link(&self) -> bool {
        self.link_up && self.regs[BMCR] & BMCR_POWER_DOWN == 0
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
            BMCR => self.regs[BMCR] = val & !BMCR_AN_RESTART,
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
    fn reset_self_clears_and_link_reports() {
        let mut p = Phy::new();
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
