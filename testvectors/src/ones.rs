//! A deliberately naive RFC 1071 sum, 16 bits at a time, used where etherparse offers
//! no checksum (GRE, pseudo-header seeds). Kept separate from the engine's optimised
//! code so that a bug there cannot hide in both.

/// Folded ones'-complement sum of `data` (not complemented).
pub fn sum16(data: &[u8], mut acc: u32) -> u16 {
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        acc += u32::from(word);
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// Folded pseudo-header sum; `len` None leaves the length out (the LSO seed, R-27).
pub fn pseudo(src: &[u8], dst: &[u8], proto: u8, len: Option<u32>) -> u16 {
    let mut b = Vec::with_capacity(40);
    b.extend_from_slice(src);
    b.extend_from_slice(dst);
    b.extend_from_slice(&[0, proto]);
    if let Some(l) = len {
        b.extend_from_slice(&l.to_be_bytes());
    }
    sum16(&b, 0)
}
