//! Helpers the X710's unit tests share.

use std::sync::Arc;

use dma::DmaSpace;

use super::{I40e, I40eConfig};

/// A device with MAC `mac`, no interrupts and no wire, over empty guest memory.
pub fn device(mac: [u8; 6]) -> (I40e, Arc<DmaSpace>) {
    let dma = Arc::new(DmaSpace::new());
    let dev = I40e::new(
        I40eConfig {
            mac,
            timing: Default::default(),
        },
        dma.clone(),
        Arc::new(crate::NoIrq),
        Box::new(crate::NullSink),
    );
    (dev, dma)
}

/// A guest write of the dword at `off`.
pub fn wr(dev: &mut I40e, off: u32, v: u32) {
    dev.mmio_write(u64::from(off), &v.to_le_bytes());
}

/// A guest read of the dword at `off`.
pub fn rd(dev: &mut I40e, off: u32) -> u32 {
    let mut b = [0u8; 4];
    dev.mmio_read(u64::from(off), &mut b);
    u32::from_le_bytes(b)
}

/// Stores `width` bits of `v` at bit `lsb` of a little-endian bit string, as the
/// driver packs queue contexts.
pub fn set_bits(c: &mut [u8], lsb: usize, width: usize, v: u64) {
    for k in 0..width {
        let b = lsb + k;
        if (v >> k) & 1 != 0 {
            c[b / 8] |= 1 << (b % 8);
        } else {
            c[b / 8] &= !(1 << (b % 8));
        }
    }
}
