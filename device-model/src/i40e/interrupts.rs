//! MSI-X vectors and their causes.
//!
//! Vector 0 carries the "other" causes latched in PFINT_ICR0 (admin queue, link,
//! software interrupt) gated by PFINT_ICR0_ENA; vectors 1..128 carry queue causes
//! routed by QINT_{R,T}QCTL.MSIX_INDX. A vector fires only while its
//! DYN_CTL.INTENA is set, and firing clears INTENA (auto-mask): the driver sets
//! it again when its NAPI poll or misc handler is done. A cause that arrives
//! while the vector is masked waits and fires when INTENA is set again.

use super::regs::*;
use super::I40e;

#[derive(Debug, Default)]
pub struct Interrupts {
    /// A cause arrived while the vector was masked.
    pending: Vec<bool>,
    pub fired: Vec<u64>,
}

impl Interrupts {
    pub fn reset(&mut self) {
        self.pending = vec![false; usize::from(MSIX_VECTORS)];
        self.fired = vec![0; usize::from(MSIX_VECTORS)];
    }
}

pub fn dyn_ctl_reg(vector: u16) -> u32 {
    if vector == 0 {
        PFINT_DYN_CTL0
    } else {
        PFINT_DYN_CTLN + 4 * u32::from(vector - 1)
    }
}

impl I40e {
    /// Latches `cause` in PFINT_ICR0 and signals vector 0 when it is enabled.
    pub(super) fn raise_misc(&mut self, cause: u32) {
        let icr = self.get(PFINT_ICR0) | cause | ICR0_INTEVENT;
        self.set(PFINT_ICR0, icr);
        if icr & self.get(PFINT_ICR0_ENA) & !ICR0_INTEVENT != 0 || cause & ICR0_SWINT != 0 {
            self.signal(0);
        }
    }

    /// A queue event on vector `vector` (from QINT_*CTL).
    pub(super) fn raise_queue(&mut self, qint_ctl: u32) {
        let ctl = self.get(qint_ctl);
        if ctl & QINT_CAUSE_ENA == 0 {
            return;
        }
        let v = (ctl & QINT_MSIX_INDX_MASK) as u16;
        if v < MSIX_VECTORS {
            self.signal(v);
        }
    }

    fn signal(&mut self, v: u16) {
        // PFINT_DYN_CTLN has 512 instances, but the PF has MSIX_VECTORS vectors:
        // a software interrupt on one past the MSI-X table goes nowhere.
        if v >= MSIX_VECTORS {
            return;
        }
        let reg = dyn_ctl_reg(v);
        let ctl = self.get(reg);
        if ctl & DYN_CTL_INTENA == 0 {
            if let Some(p) = self.intr.pending.get_mut(usize::from(v)) {
                *p = true;
            }
            return;
        }
        self.set(reg, ctl & !DYN_CTL_INTENA);
        if let Some(p) = self.intr.pending.get_mut(usize::from(v)) {
            *p = false;
        }
        if let Some(n) = self.intr.fired.get_mut(usize::from(v)) {
            *n += 1;
        }
        if self.irq.msix_enabled() {
            self.irq.msix(v);
        } else {
            self.irq.legacy(true);
        }
    }

    /// A DYN_CTL write: INTENA (unless INTENA_MSK on vector 0), SWINT_TRIG.
    pub(super) fn dyn_ctl_write(&mut self, v: u16, val: u32) {
        let reg = dyn_ctl_reg(v);
        let old = self.get(reg);
        let mut new = val & !(DYN_CTL_SWINT_TRIG | DYN_CTL_CLEARPBA | DYN_CTL0_INTENA_MSK);
        if v == 0 && val & DYN_CTL0_INTENA_MSK != 0 {
            new = (new & !DYN_CTL_INTENA) | (old & DYN_CTL_INTENA);
        }
        self.set(reg, new);
        if val & DYN_CTL_SWINT_TRIG != 0 {
            if v == 0 {
                self.raise_misc(ICR0_SWINT);
            } else {
                self.signal(v);
            }
        }
        if new & DYN_CTL_INTENA != 0
            && self
                .intr
                .pending
                .get(usize::from(v))
                .copied()
                .unwrap_or(false)
        {
            self.signal(v);
        }
    }

    /// PFINT_ICR0 read: the causes, cleared by the read.
    pub(super) fn icr0_read(&mut self) -> u32 {
        let v = self.get(PFINT_ICR0);
        self.set(PFINT_ICR0, 0);
        if !self.irq.msix_enabled() {
            self.irq.legacy(false);
        }
        v
    }
}
