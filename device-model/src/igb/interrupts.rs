//! The 82576 interrupt block: legacy causes (ICR/IMS) and extended causes
//! (EICR/EIMS) mapped onto MSI-X vectors through IVAR.
//!
//! In MSI-X mode (GPIE.MSIX_MODE) every queue event sets the EICR bit of the
//! vector IVAR assigns to it, and the "other" causes in ICR set the EICR bit
//! of IVAR_MISC's vector. A vector fires when its EICR bit is set and enabled
//! in EIMS; firing auto-clears EIAC bits from EICR and, with GPIE.EIAME,
//! auto-masks EIAM bits in EIMS, which the driver re-enables after polling.

use super::regs::*;

/// What happened that may need an interrupt.
#[derive(Debug, Clone, Copy)]
pub enum Cause {
    RxQueue(usize),
    TxQueue(usize),
    /// Legacy causes in ICR bit form (LSC, ...).
    Other(u32),
}

/// An IVAR entry's vector, if the entry is valid and names a vector the
/// function has: a guest can program 0-31, but only MSIX_VECTORS exist.
fn valid_vector(entry: u32) -> Option<u32> {
    let v = entry & 0x1f;
    (entry & IVAR_VALID != 0 && v < u32::from(MSIX_VECTORS)).then_some(v)
}

#[derive(Default, Clone)]
pub struct Interrupts {
    pub icr: u32,
    pub ims: u32,
    pub iam: u32,
    pub eicr: u32,
    pub eims: u32,
    pub eiac: u32,
    pub eiam: u32,
    pub gpie: u32,
    pub ivar: [u32; 8],
    pub ivar_misc: u32,
    pub raised: u64,
    /// Level of the legacy line as last driven.
    pub legacy_level: bool,
}

/// Vectors to fire after a state change; at most one bit per MSI-X vector.
pub type VectorMask = u32;

impl Interrupts {
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The routing and auto-clear/auto-mask register at `off` (IAM, GPIE, EIAC,
    /// EIAM, IVAR0-7, IVAR_MISC), which live here rather than in the register file.
    pub fn state_mut(&mut self, off: u32) -> Option<&mut u32> {
        Some(match off {
            IAM => &mut self.iam,
            GPIE => &mut self.gpie,
            EIAC => &mut self.eiac,
            EIAM => &mut self.eiam,
            IVAR_MISC => &mut self.ivar_misc,
            o if (IVAR0..IVAR0 + 32).contains(&o) => &mut self.ivar[((o - IVAR0) / 4) as usize],
            _ => return None,
        })
    }

    /// What `state_mut` would give, read without a write's borrow (and without
    /// copying the block, as a register read happens per interrupt).
    pub fn state(&self, off: u32) -> Option<u32> {
        Some(match off {
            IAM => self.iam,
            GPIE => self.gpie,
            EIAC => self.eiac,
            EIAM => self.eiam,
            IVAR_MISC => self.ivar_misc,
            o if (IVAR0..IVAR0 + 32).contains(&o) => self.ivar[((o - IVAR0) / 4) as usize],
            _ => return None,
        })
    }

    pub fn msix_mode(&self) -> bool {
        self.gpie & GPIE_MSIX_MODE != 0
    }

    /// The MSI-X vector IVAR assigns to a queue event, if the entry is valid.
    fn queue_vector(&self, rx: bool, q: usize) -> Option<u32> {
        let reg = self.ivar[q & 7];
        let shift = ((q & 8) << 1) as u32 + if rx { 0 } else { 8 };
        let entry = (reg >> shift) & 0xff;
        valid_vector(entry)
    }

    fn other_vector(&self) -> Option<u32> {
        let entry = (self.ivar_misc >> 8) & 0xff;
        valid_vector(entry)
    }

    /// Records a cause. Returns the MSI-X vectors that should fire now.
    pub fn post(&mut self, cause: Cause) -> VectorMask {
        if self.msix_mode() {
            let vector = match cause {
                Cause::RxQueue(q) => self.queue_vector(true, q),
                Cause::TxQueue(q) => self.queue_vector(false, q),
                Cause::Other(bits) => {
                    self.icr |= bits;
                    if self.icr & self.ims == 0 {
                        return 0;
                    }
                    self.other_vector()
                }
            };
            if let Some(v) = vector {
                self.eicr |= 1 << v;
            }
            self.pending_vectors()
        } else {
            self.icr |= match cause {
                Cause::RxQueue(_) => ICR_RXT0,
                Cause::TxQueue(_) => ICR_TXDW,
                Cause::Other(bits) => bits,
            };
            0
        }
    }

    /// EICR bits that are enabled and not yet delivered.
    pub fn pending_vectors(&self) -> VectorMask {
        self.eicr & self.eims
    }

    /// Bookkeeping after `vectors` were sent as MSI-X messages.
    pub fn delivered(&mut self, vectors: VectorMask) {
        self.eicr &= !(vectors & self.eiac);
        if self.gpie & GPIE_EIAME != 0 {
            self.eims &= !(vectors & self.eiam);
        }
        self.raised += u64::from(vectors.count_ones());
    }

    /// Whether the legacy/MSI interrupt should be asserted.
    pub fn legacy_pending(&self) -> bool {
        self.icr & self.ims != 0
    }

    /// ICR read: returns the value and clears it (the driver sets GPIE.NSICR;
    /// without it the 82576 clears only when the interrupt was asserted).
    pub fn read_icr(&mut self) -> u32 {
        let mut v = self.icr;
        if v & self.ims != 0 {
            v |= ICR_INT_ASSERTED;
        }
        if self.gpie & GPIE_NSICR != 0 || v & ICR_INT_ASSERTED != 0 || self.ims == 0 {
            self.icr = 0;
            // Auto-mask: IAM bits leave IMS when ICR is read with the interrupt asserted.
            if v & ICR_INT_ASSERTED != 0 {
                self.ims &= !self.iam;
            }
        }
        v
    }

    /// EICR read clears it (read-to-clear), as with ICR.
    pub fn read_eicr(&mut self) -> u32 {
        std::mem::take(&mut self.eicr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_reads_what_state_mut_wrote() {
        let mut i = Interrupts::default();
        for (n, off) in [IAM, GPIE, EIAC, EIAM, IVAR_MISC]
            .into_iter()
            .chain((0..8).map(|k| IVAR0 + 4 * k))
            .enumerate()
        {
            *i.state_mut(off).unwrap() = n as u32 + 1;
            assert_eq!(i.state(off), Some(n as u32 + 1));
        }
        assert_eq!(i.state(0), None);
    }

    fn msix() -> Interrupts {
        let mut i = Interrupts {
            gpie: GPIE_MSIX_MODE | GPIE_EIAME | GPIE_NSICR,
            ..Default::default()
        };
        // rx0 -> vector 1, tx0 -> vector 2, rx9 -> vector 3; other -> vector 0.
        i.ivar[0] = (1 | IVAR_VALID) | ((2 | IVAR_VALID) << 8);
        i.ivar[1] = (3 | IVAR_VALID) << 16;
        i.ivar_misc = IVAR_VALID << 8;
        i.eims = 0xf;
        i.eiac = 0xf;
        i.eiam = 0xf;
        i.ims = ICR_LSC;
        i
    }

    #[test]
    fn queue_events_follow_ivar_and_auto_mask() {
        let mut i = msix();
        assert_eq!(i.post(Cause::RxQueue(0)), 1 << 1);
        i.delivered(1 << 1);
        assert_eq!(i.eims & (1 << 1), 0, "auto-masked");
        assert_eq!(i.eicr, 0, "auto-cleared");
        assert_eq!(i.post(Cause::RxQueue(0)), 0, "masked until re-enabled");
        assert_eq!(i.post(Cause::TxQueue(0)), 1 << 2);
        assert_eq!(i.post(Cause::RxQueue(9)), (1 << 2) | (1 << 3));
        assert_eq!(
            i.post(Cause::RxQueue(5)),
            (1 << 2) | (1 << 3),
            "no IVAR entry"
        );
    }

    #[test]
    fn other_causes_need_ims() {
        let mut i = msix();
        i.ims = 0;
        assert_eq!(i.post(Cause::Other(ICR_LSC)), 0);
        i.ims = ICR_LSC;
        assert_eq!(i.post(Cause::Other(ICR_LSC)), 1);
        assert_eq!(i.read_icr() & ICR_LSC, ICR_LSC);
        assert_eq!(i.read_icr(), 0);
    }

    #[test]
    fn legacy_mode_uses_icr() {
        let mut i = Interrupts {
            ims: ICR_RXT0,
            ..Default::default()
        };
        assert_eq!(i.post(Cause::RxQueue(3)), 0);
        assert!(i.legacy_pending());
        let v = i.read_icr();
        assert_eq!(v, ICR_RXT0 | ICR_INT_ASSERTED);
        assert!(!i.legacy_pending());
    }
}
