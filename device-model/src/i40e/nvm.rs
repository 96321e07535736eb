//! The shadow RAM the driver reads word by word through GLNVM_SRCTL/SRDATA.
//!
//! 2048 words (GLNVM_GENS.SR_SIZE = 2), the smallest size whose checksum the
//! driver can validate (it reads in 0x800-word chunks). Word 0x00 is the
//! control word (bits 7:6 = 01: valid), word 0x3F the checksum: the sum of
//! every word outside the VPD and PCIe-ALT windows plus it is 0xBABA.

pub const WORDS: usize = 2048;
const CONTROL_WORD: usize = 0x00;
const CHECKSUM_WORD: usize = 0x3F;
const DEV_STARTER_VERSION: usize = 0x18;
const EETRACK_LO: usize = 0x2D;
const EETRACK_HI: usize = 0x2E;
const OEM_PTR: usize = 0x1B;
const PBA_FLAGS: usize = 0x15;
const NVM_CHECKSUM_TARGET: u16 = 0xBABA;

pub struct ShadowRam {
    words: Box<[u16; WORDS]>,
}

impl Default for ShadowRam {
    fn default() -> Self {
        let mut words = Box::new([0u16; WORDS]);
        words[CONTROL_WORD] = 0x0040;
        // "9.20", shown by `ethtool -i` as the firmware's NVM version.
        words[DEV_STARTER_VERSION] = 0x9020;
        words[EETRACK_LO] = 0x8000;
        words[EETRACK_HI] = 0x7454;
        // No OEM version block, no PBA block.
        words[OEM_PTR] = 0xFFFF;
        words[PBA_FLAGS] = 0;
        let mut sr = Self { words };
        sr.words[CHECKSUM_WORD] = NVM_CHECKSUM_TARGET.wrapping_sub(sr.sum_without_checksum());
        sr
    }
}

impl ShadowRam {
    /// The word at `addr`, or `None` past the end (the read then reports no DONE).
    pub fn read(&self, addr: usize) -> Option<u16> {
        self.words.get(addr).copied()
    }

    /// The sum the driver computes (`i40e_calc_nvm_checksum`): every word but the
    /// checksum itself; the VPD and PCIe-ALT pointers are 0, so their windows
    /// cover words 0..511... which the driver then also skips.
    fn sum_without_checksum(&self) -> u16 {
        let vpd = usize::from(self.words[0x2F]);
        let alt = usize::from(self.words[0x3E]);
        let mut sum = 0u16;
        for (i, w) in self.words.iter().enumerate() {
            if i == CHECKSUM_WORD {
                continue;
            }
            if (vpd..vpd + 512).contains(&i) || (alt..alt + 512).contains(&i) {
                continue;
            }
            sum = sum.wrapping_add(*w);
        }
        sum
    }

    pub fn checksum_valid(&self) -> bool {
        self.sum_without_checksum()
            .wrapping_add(self.words[CHECKSUM_WORD])
            == NVM_CHECKSUM_TARGET
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_validates_the_way_the_driver_computes_it() {
        let sr = ShadowRam::default();
        assert!(sr.checksum_valid());
        assert_eq!(sr.read(0), Some(0x0040));
        assert_eq!(sr.read(WORDS), None);
    }
}
