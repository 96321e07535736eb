//! The 82576 statistics block (0x4000..0x4124): counters that clear when read.
//!
//! 64-bit octet counters are split into low/high registers; reading the high
//! half clears the counter, as the driver reads low then high.

use super::regs::{STATS_END, STATS_START};

pub const MPC: u32 = 0x4010;
pub const PRC64: u32 = 0x405c;
pub const GPRC: u32 = 0x4074;
pub const BPRC: u32 = 0x4078;
pub const MPRC: u32 = 0x407c;
pub const GPTC: u32 = 0x4080;
pub const GORCL: u32 = 0x4088;
pub const GOTCL: u32 = 0x4090;
pub const RNBC: u32 = 0x40a0;
pub const RUC: u32 = 0x40a4;
pub const ROC: u32 = 0x40ac;
pub const TORL: u32 = 0x40c0;
pub const TOTL: u32 = 0x40c8;
pub const TPR: u32 = 0x40d0;
pub const TPT: u32 = 0x40d4;
pub const PTC64: u32 = 0x40d8;
pub const MPTC: u32 = 0x40f0;
pub const BPTC: u32 = 0x40f4;
pub const TSCTC: u32 = 0x40f8;
pub const TSCTFC: u32 = 0x40fc;

const WORDS: usize = ((STATS_END - STATS_START) / 4 + 1) as usize;

/// Octet counters held as 64 bits at their low register.
const WIDE: [u32; 4] = [GORCL, GOTCL, TORL, TOTL];

#[derive(Clone)]
pub struct Stats {
    c: [u64; WORDS],
}

impl Default for Stats {
    fn default() -> Self {
        Self { c: [0; WORDS] }
    }
}

fn index(off: u32) -> Option<usize> {
    (STATS_START..=STATS_END)
        .contains(&off)
        .then(|| ((off - STATS_START) / 4) as usize)
}

/// Size bucket register for a frame of `len` bytes including FCS (64, 127, 255, 511, 1023, 1522+).
fn size_bucket(base: u32, len: usize) -> u32 {
    let step = match len {
        0..=64 => 0,
        65..=127 => 1,
        128..=255 => 2,
        256..=511 => 3,
        512..=1023 => 4,
        _ => 5,
    };
    base + 4 * step
}

impl Stats {
    pub fn add(&mut self, off: u32, n: u64) {
        if let Some(i) = index(off) {
            self.c[i] = self.c[i].saturating_add(n);
        }
    }

    /// A register read: value, then clear.
    pub fn read(&mut self, off: u32) -> u32 {
        let Some(i) = index(off) else { return 0 };
        if WIDE.contains(&off) {
            return self.c[i] as u32;
        }
        if WIDE.contains(&(off.wrapping_sub(4))) {
            let v = self.c[i - 1];
            self.c[i - 1] = 0;
            return (v >> 32) as u32;
        }
        let v = self.c[i];
        self.c[i] = 0;
        v.min(u64::from(u32::MAX)) as u32
    }

    /// A good frame received; `len` without FCS.
    pub fn rx_good(&mut self, dst: &[u8], len: usize) {
        let wire = (len + 4) as u64;
        self.add(GPRC, 1);
        self.add(TPR, 1);
        self.add(GORCL, wire);
        self.add(TORL, wire);
        self.add(size_bucket(PRC64, len + 4), 1);
        if dst.first().is_some_and(|b| b & 1 != 0) {
            if dst.iter().take(6).all(|&b| b == 0xff) {
                self.add(BPRC, 1);
            } else {
                self.add(MPRC, 1);
            }
        }
    }

    /// A frame put on the wire; `len` without FCS.
    pub fn tx_good(&mut self, frame: &[u8]) {
        let wire = (frame.len() + 4) as u64;
        self.add(GPTC, 1);
        self.add(TPT, 1);
        self.add(GOTCL, wire);
        self.add(TOTL, wire);
        self.add(size_bucket(PTC64, frame.len() + 4), 1);
        if frame.first().is_some_and(|b| b & 1 != 0) {
            if frame.iter().take(6).all(|&b| b == 0xff) {
                self.add(BPTC, 1);
            } else {
                self.add(MPTC, 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_clears_and_wide_counters_split() {
        let mut s = Stats::default();
        s.rx_good(&[0xff; 6], 60);
        s.add(GORCL, 0x1_0000_0000);
        assert_eq!(s.read(GPRC), 1);
        assert_eq!(s.read(GPRC), 0);
        assert_eq!(s.read(BPRC), 1);
        assert_eq!(s.read(PRC64), 1);
        assert_eq!(s.read(GORCL), 64);
        assert_eq!(s.read(GORCL + 4), 1);
        assert_eq!(s.read(GORCL), 0);
        assert_eq!(s.read(0x5000), 0);
    }
}
