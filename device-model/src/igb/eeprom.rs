//! The NVM image the 82576 loads at reset and serves through EERD.

/// Words 0x00..=0x3F must sum to this for the driver to trust the image.
pub const NVM_SUM: u16 = 0xbaba;
const CHECKSUM_WORD: usize = 0x3f;
pub const WORDS: usize = 256;

pub struct Eeprom {
    words: [u16; WORDS],
}

impl Eeprom {
    /// An image carrying `mac`, the 82576 IDs and a valid checksum.
    pub fn new(mac: [u8; 6], device_id: u16) -> Self {
        let mut words = [0u16; WORDS];
        for i in 0..3 {
            words[i] = u16::from_le_bytes([mac[2 * i], mac[2 * i + 1]]);
        }
        words[0x04] = 0xffff; // ID LED settings: use the driver's defaults
                              // Printed Board Assembly number, two-word form: "E12345-001".
        words[0x08] = 0xe123;
        words[0x09] = 0x4500;
        words[0x0a] = 0x0c23; // init control 1
        words[0x0b] = 0xa02c; // subsystem ID
        words[0x0c] = 0x8086; // subsystem vendor
        words[0x0d] = device_id;
        words[0x0e] = 0x8086;
        // Init control 2: PAUSE and ASM_DIR, so the driver asks for symmetric
        // 802.3x flow control by default, as the 82576's reference NVM does.
        words[0x0f] = 0x3000;
        words[0x37] = 0xffff; // no alternate MAC address
        let partial = words[..CHECKSUM_WORD]
            .iter()
            .fold(0u16, |a, w| a.wrapping_add(*w));
        words[CHECKSUM_WORD] = NVM_SUM.wrapping_sub(partial);
        Self { words }
    }

    pub fn word(&self, addr: usize) -> Option<u16> {
        self.words.get(addr).copied()
    }

    pub fn mac(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        for i in 0..3 {
            m[2 * i..2 * i + 2].copy_from_slice(&self.words[i].to_le_bytes());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_and_mac() {
        let e = Eeprom::new([0x52, 0x54, 0, 0x12, 0x34, 0x56], 0x10c9);
        let sum = (0..=CHECKSUM_WORD).fold(0u16, |a, i| a.wrapping_add(e.word(i).unwrap()));
        assert_eq!(sum, NVM_SUM);
        assert_eq!(e.mac(), [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(e.word(WORDS), None);
    }
}
