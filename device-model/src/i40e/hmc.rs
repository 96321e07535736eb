//! The Host Memory Cache: the LAN queue contexts live in guest memory.
//!
//! The driver programs segment descriptors (PFHMC_SDCMD/SDDATALOW/SDDATAHIGH),
//! each pointing at a 2 MiB direct backing page, and tells where in that "FPM"
//! space the Tx and Rx context areas start (GLHMC_LAN{TX,RX}BASE, in 512-byte
//! units). It writes each queue's context there itself; the device reads it
//! when the queue is enabled (QENA_REQ 0 -> 1). Paged segment descriptors are
//! refused: both drivers use direct mode only.

use dma::DmaSpace;

/// Segment descriptors the PF may program.
pub const SD_ENTRIES: usize = 64;
const DIRECT_PAGE: u64 = 2 * 1024 * 1024;
pub const TX_CONTEXT_LEN: usize = 128;
pub const RX_CONTEXT_LEN: usize = 32;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SdEntry {
    valid: bool,
    direct: bool,
    addr: u64,
}

#[derive(Debug, Default)]
pub struct Hmc {
    sd: Vec<SdEntry>,
}

/// Why a queue context could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HmcError {
    #[error("no valid direct segment descriptor covers FPM offset {0:#x}")]
    NoSegment(u64),
    #[error("the context at guest address {0:#x} is outside mapped memory")]
    Dma(u64),
    #[error("the context crosses a segment boundary")]
    Straddles,
}

impl Hmc {
    pub fn reset(&mut self) {
        self.sd = vec![SdEntry::default(); SD_ENTRIES];
    }

    /// A PFHMC_SDCMD write: `cmd` bit 31 = write, bits 0..11 the index.
    pub fn sd_command(&mut self, cmd: u32, low: u32, high: u32) {
        if cmd & (1 << 31) == 0 {
            return;
        }
        let i = (cmd & 0xFFF) as usize;
        if self.sd.is_empty() {
            self.reset();
        }
        let Some(e) = self.sd.get_mut(i) else {
            tracing::debug!(
                index = i,
                "segment descriptor index beyond the table ignored"
            );
            return;
        };
        *e = SdEntry {
            valid: low & 1 != 0,
            direct: low & 2 != 0,
            addr: (u64::from(high) << 32) | u64::from(low & 0xFFFF_F000),
        };
    }

    /// Reads `out.len()` bytes of FPM space at `fpm` from guest memory.
    pub fn read(&self, dma: &DmaSpace, fpm: u64, out: &mut [u8]) -> Result<(), HmcError> {
        let idx = (fpm / DIRECT_PAGE) as usize;
        let within = fpm % DIRECT_PAGE;
        if within + out.len() as u64 > DIRECT_PAGE {
            return Err(HmcError::Straddles);
        }
        let e = self
            .sd
            .get(idx)
            .filter(|e| e.valid && e.direct)
            .ok_or(HmcError::NoSegment(fpm))?;
        let addr = e.addr.wrapping_add(within);
        dma.read(addr, out).map_err(|_| HmcError::Dma(addr))
    }
}

/// `width` bits of a little-endian bit string starting at bit `lsb`.
pub fn bits(ctx: &[u8], lsb: usize, width: usize) -> u64 {
    let mut v = 0u64;
    for k in 0..width.min(64) {
        let b = lsb + k;
        let byte = ctx.get(b / 8).copied().unwrap_or(0);
        v |= u64::from((byte >> (b % 8)) & 1) << k;
    }
    v
}

/// The fields of a Tx queue context tunic acts on (`i40e_hmc_obj_txq`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxContext {
    pub head: u16,
    /// Ring base address in bytes (the context holds it in 128-byte units).
    pub base: u64,
    /// Descriptors in the ring.
    pub qlen: u16,
    pub head_wb_ena: bool,
    pub head_wb_addr: u64,
}

impl TxContext {
    pub fn decode(c: &[u8; TX_CONTEXT_LEN]) -> Self {
        Self {
            head: bits(c, 0, 13) as u16,
            base: bits(c, 32, 57) << 7,
            head_wb_ena: bits(c, 160, 1) != 0,
            qlen: bits(c, 161, 13) as u16,
            head_wb_addr: bits(c, 192, 64),
        }
    }
}

/// The fields of an Rx queue context tunic acts on (`i40e_hmc_obj_rxq`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxContext {
    pub head: u16,
    pub base: u64,
    pub qlen: u16,
    /// Data buffer size in bytes (the context holds it in 128-byte units).
    pub dbuff: usize,
    /// Header buffer size in bytes (64-byte units).
    pub hbuff: usize,
    /// Descriptor type: 0 one buffer, 1 header split, 2 split always.
    pub dtype: u8,
    /// 32-byte descriptors (else 16-byte).
    pub dsize32: bool,
    pub crcstrip: bool,
    /// Which tag goes to L2TAG1 when two are stripped.
    pub l2tsel: bool,
    pub showiv: bool,
    /// Largest frame the queue accepts, in bytes.
    pub rxmax: usize,
}

impl RxContext {
    pub fn decode(c: &[u8; RX_CONTEXT_LEN]) -> Self {
        Self {
            head: bits(c, 0, 13) as u16,
            base: bits(c, 32, 57) << 7,
            qlen: bits(c, 89, 13) as u16,
            dbuff: (bits(c, 102, 7) as usize) << 7,
            hbuff: (bits(c, 109, 5) as usize) << 6,
            dtype: bits(c, 114, 2) as u8,
            dsize32: bits(c, 116, 1) != 0,
            crcstrip: bits(c, 117, 1) != 0,
            l2tsel: bits(c, 119, 1) != 0,
            showiv: bits(c, 127, 1) != 0,
            rxmax: bits(c, 174, 14) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::set_bits;
    use super::*;

    #[test]
    fn tx_context_fields_sit_where_the_driver_puts_them() {
        let mut c = [0u8; TX_CONTEXT_LEN];
        set_bits(&mut c, 32, 57, 0x1234_5600 >> 7);
        set_bits(&mut c, 160, 1, 1);
        set_bits(&mut c, 161, 13, 512);
        set_bits(&mut c, 192, 64, 0x1234_7600);
        let t = TxContext::decode(&c);
        assert_eq!(t.base, 0x1234_5600);
        assert!(t.head_wb_ena);
        assert_eq!(t.qlen, 512);
        assert_eq!(t.head_wb_addr, 0x1234_7600);
    }

    #[test]
    fn rx_context_fields_sit_where_the_driver_puts_them() {
        let mut c = [0u8; RX_CONTEXT_LEN];
        set_bits(&mut c, 32, 57, 0x8000_0000 >> 7);
        set_bits(&mut c, 89, 13, 512);
        set_bits(&mut c, 102, 7, 3072 >> 7);
        set_bits(&mut c, 116, 1, 1);
        set_bits(&mut c, 117, 1, 1);
        set_bits(&mut c, 174, 14, 9728);
        let r = RxContext::decode(&c);
        assert_eq!(r.base, 0x8000_0000);
        assert_eq!(r.qlen, 512);
        assert_eq!(r.dbuff, 3072);
        assert!(r.dsize32 && r.crcstrip);
        assert_eq!(r.rxmax, 9728);
    }

    #[test]
    fn reads_need_a_valid_direct_segment() {
        let mut h = Hmc::default();
        h.reset();
        let dma = DmaSpace::new();
        let mut b = [0u8; 32];
        assert_eq!(h.read(&dma, 0, &mut b), Err(HmcError::NoSegment(0)));
        h.sd_command(1 << 31, 0x10_0000 | 3, 0);
        assert_eq!(h.read(&dma, 0, &mut b), Err(HmcError::Dma(0x10_0000)));
        dma.map_anonymous(0x10_0000, 0x20_0000).unwrap();
        assert!(h.read(&dma, 0x100, &mut b).is_ok());
    }
}
