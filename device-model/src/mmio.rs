//! BAR accesses of any size and alignment, split into the 32-bit register
//! accesses the register files implement (a partial write merges into the
//! stored dword first, as a byte-enabled PCIe write does).

/// A file of 32-bit registers behind a memory BAR.
pub(crate) trait DwordRegisters {
    /// Bytes of the BAR; accesses past it read 0 and are ignored.
    const BAR_SIZE: u64;
    /// A guest read of the dword at `off` (side effects included).
    fn read_dword(&mut self, off: u32) -> u32;
    /// The stored value a partial write merges into, without read side effects.
    fn peek_dword(&self, off: u32) -> u32;
    fn write_dword(&mut self, off: u32, v: u32);
}

/// Walks `len` bytes from `off` as (dword offset, byte within it, bytes, done so far).
fn dwords(off: u64, len: usize, mut f: impl FnMut(u64, usize, usize, usize)) {
    let mut done = 0;
    while done < len {
        let addr = off.saturating_add(done as u64);
        let word_off = addr & !3;
        let skip = (addr - word_off) as usize;
        let n = (4 - skip).min(len - done);
        f(word_off, skip, n, done);
        done += n;
    }
}

pub(crate) fn read<R: DwordRegisters>(regs: &mut R, off: u64, data: &mut [u8]) {
    dwords(off, data.len(), |word, skip, n, done| {
        let v = if word < R::BAR_SIZE {
            regs.read_dword(word as u32)
        } else {
            0
        };
        data[done..done + n].copy_from_slice(&v.to_le_bytes()[skip..skip + n]);
    });
}

pub(crate) fn write<R: DwordRegisters>(regs: &mut R, off: u64, data: &[u8]) {
    dwords(off, data.len(), |word, skip, n, done| {
        if word < R::BAR_SIZE {
            let mut bytes = regs.peek_dword(word as u32).to_le_bytes();
            bytes[skip..skip + n].copy_from_slice(&data[done..done + n]);
            regs.write_dword(word as u32, u32::from_le_bytes(bytes));
        } else {
            tracing::debug!(off = word, "write past the BAR ignored");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Four([u32; 4]);

    impl DwordRegisters for Four {
        const BAR_SIZE: u64 = 16;
        fn read_dword(&mut self, off: u32) -> u32 {
            self.0[(off / 4) as usize]
        }
        fn peek_dword(&self, off: u32) -> u32 {
            self.0[(off / 4) as usize]
        }
        fn write_dword(&mut self, off: u32, v: u32) {
            self.0[(off / 4) as usize] = v;
        }
    }

    #[test]
    fn unaligned_and_wide_accesses_split_into_dwords() {
        let mut r = Four::default();
        write(&mut r, 2, &[0xAA, 0xBB, 0xCC, 0xDD]);
        assert_eq!(r.0[0], 0xBBAA_0000);
        assert_eq!(r.0[1], 0x0000_DDCC);
        let mut b = [0u8; 8];
        read(&mut r, 0, &mut b);
        assert_eq!(b, [0, 0, 0xAA, 0xBB, 0xCC, 0xDD, 0, 0]);
        // Past the BAR: reads 0, writes ignored.
        write(&mut r, 14, &[1, 2, 3, 4]);
        assert_eq!(r.0[3], 0x0201_0000);
        let mut c = [0xFFu8; 4];
        read(&mut r, 16, &mut c);
        assert_eq!(c, [0; 4]);
    }
}
