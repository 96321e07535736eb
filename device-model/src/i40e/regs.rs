//! The X710 registers tunic models, as one table: offset, instance count and
//! stride, reset value, writable mask and the side effect a write or read has.
//!
//! Offsets are those the Linux `i40e` driver and DPDK's i40e PMD use
//! (`i40e_register.h`). Everything not in the table is plain storage that reads
//! back its last written value (both drivers write many filter and switch
//! registers tunic does not act on). `docs/register-map.md` is generated from
//! [`TABLE`] (see `register_map_markdown`).

/// What happens when the guest touches a register beyond storing the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Plain storage.
    None,
    /// Read-only: writes are ignored.
    ReadOnly,
    /// Read-to-clear (PFINT_ICR0).
    ReadClear,
    /// A write starts an action (reset, queue enable, doorbell, NVM access...).
    Action,
}

/// One row of the X710 table; its behaviour is the [`Effect`].
pub type Reg = crate::regtable::Reg<Effect>;

const fn reg(
    name: &'static str,
    offset: u32,
    reset: u32,
    effect: Effect,
    doc: &'static str,
) -> Reg {
    Reg::new(name, offset, effect, doc).reset_to(reset)
}

const fn arr(
    name: &'static str,
    offset: u32,
    count: u32,
    stride: u32,
    reset: u32,
    effect: Effect,
    doc: &'static str,
) -> Reg {
    reg(name, offset, reset, effect, doc).times(count, stride)
}

const fn masked(r: Reg, write_mask: u32) -> Reg {
    r.masked(write_mask)
}

/// Queue pairs the PF owns (PFLAN_QALLOC, the TXQ/RXQ capabilities).
pub const QUEUES: usize = 128;
/// MSI-X vectors: vector 0 for the admin queue and other causes, 128 for queues.
pub const MSIX_VECTORS: u16 = 129;

// ---- offsets ----------------------------------------------------------------
pub const GLGEN_RSTCTL: u32 = 0x000B_8180;
pub const GLGEN_RSTAT: u32 = 0x000B_8188;
pub const GLGEN_RTRIG: u32 = 0x000B_8190;
pub const GLNVM_ULD: u32 = 0x000B_6008;
pub const GLNVM_GENS: u32 = 0x000B_6100;
pub const GLNVM_FLA: u32 = 0x000B_6108;
pub const GLNVM_SRCTL: u32 = 0x000B_6110;
pub const GLNVM_SRDATA: u32 = 0x000B_6114;
pub const PFGEN_CTRL: u32 = 0x0009_2400;
pub const GL_FWSTS: u32 = 0x0008_3048;
pub const PFGEN_PORTNUM: u32 = 0x001C_0480;
pub const GLPCI_CAPSUP: u32 = 0x000B_E4A8;
pub const GLPCI_CNF2: u32 = 0x000B_E494;
pub const PF_FUNC_RID: u32 = 0x0009_C000;
pub const PFLAN_QALLOC: u32 = 0x001C_0400;
pub const PF_VT_PFALLOC: u32 = 0x001C_0500;
pub const GLLAN_RCTL_0: u32 = 0x0012_A500;
pub const GLVFGEN_TIMER: u32 = 0x0008_81BC;

pub const PF_ATQBAL: u32 = 0x0008_0000;
pub const PF_ARQBAL: u32 = 0x0008_0080;
pub const PF_ATQBAH: u32 = 0x0008_0100;
pub const PF_ARQBAH: u32 = 0x0008_0180;
pub const PF_ATQLEN: u32 = 0x0008_0200;
pub const PF_ARQLEN: u32 = 0x0008_0280;
pub const PF_ATQH: u32 = 0x0008_0300;
pub const PF_ARQH: u32 = 0x0008_0380;
pub const PF_ATQT: u32 = 0x0008_0400;
pub const PF_ARQT: u32 = 0x0008_0480;

pub const PFINT_ITR0: u32 = 0x0003_8000;
pub const PFINT_STAT_CTL0: u32 = 0x0003_8400;
pub const PFINT_DYN_CTL0: u32 = 0x0003_8480;
pub const PFINT_LNKLST0: u32 = 0x0003_8500;
pub const PFINT_ICR0: u32 = 0x0003_8780;
pub const PFINT_ICR0_ENA: u32 = 0x0003_8800;
pub const PFINT_ITRN: u32 = 0x0003_0000;
pub const PFINT_DYN_CTLN: u32 = 0x0003_4800;
pub const PFINT_LNKLSTN: u32 = 0x0003_5000;
pub const PFINT_RATEN: u32 = 0x0003_5800;
pub const QINT_RQCTL: u32 = 0x0003_A000;
pub const QINT_TQCTL: u32 = 0x0003_C000;

pub const QTX_ENA: u32 = 0x0010_0000;
pub const QTX_CTL: u32 = 0x0010_4000;
pub const QTX_TAIL: u32 = 0x0010_8000;
pub const QTX_HEAD: u32 = 0x000E_4000;
pub const QRX_ENA: u32 = 0x0012_0000;
pub const QRX_TAIL: u32 = 0x0012_8000;
pub const GLLAN_TXPRE_QDIS: u32 = 0x000E_6500;

pub const PFHMC_SDCMD: u32 = 0x000C_0000;
pub const PFHMC_SDDATALOW: u32 = 0x000C_0100;
pub const PFHMC_SDDATAHIGH: u32 = 0x000C_0200;
pub const PFHMC_PDINV: u32 = 0x000C_0300;
pub const GLHMC_LANTXOBJSZ: u32 = 0x000C_2004;
pub const GLHMC_LANQMAX: u32 = 0x000C_2008;
pub const GLHMC_LANRXOBJSZ: u32 = 0x000C_200C;
pub const GLHMC_FCOEFMAX: u32 = 0x000C_20D0;
pub const GLHMC_LANTXBASE: u32 = 0x000C_6200;
pub const GLHMC_LANTXCNT: u32 = 0x000C_6300;
pub const GLHMC_LANRXBASE: u32 = 0x000C_6400;
pub const GLHMC_LANRXCNT: u32 = 0x000C_6500;

pub const PFQF_HLUT: u32 = 0x0024_0000;
pub const PFQF_HKEY: u32 = 0x0024_4800;
pub const PFQF_HENA0: u32 = 0x0024_5900;
pub const PFQF_HENA1: u32 = 0x0024_5980;
pub const PFQF_CTL_0: u32 = 0x001C_0AC0;
pub const GLQF_CTL: u32 = 0x0026_9BA4;
/// GLQF_HASH_INSET(i, pctype) at + i * 4 + pctype * 8: the two 32-bit halves of
/// each PCTYPE's 64-bit hash input set.
pub const GLQF_HASH_INSET: u32 = 0x0026_7600;

pub const GLLAN_TSOMSK_F: u32 = 0x0004_42D8;
pub const GLLAN_TSOMSK_M: u32 = 0x0004_42DC;
pub const GLLAN_TSOMSK_L: u32 = 0x0004_42E0;
pub const REG_MSS: u32 = 0x000E_64DC;
pub const PRTGL_SAH: u32 = 0x001E_2140;
pub const PRTTSYN_CTL0: u32 = 0x001E_4200;
pub const PRTMAC_LINKSTA: u32 = 0x001E_2420;
pub const PRTMAC_MACC: u32 = 0x001E_24E0;
pub const PRTGEN_CNF: u32 = 0x000B_8120;
pub const GL_PRS_FVBM2: u32 = 0x0026_9768;

// ---- fields -----------------------------------------------------------------
pub const PFGEN_CTRL_PFSWR: u32 = 1 << 0;
pub const GLNVM_ULD_DONE: u32 = 0x0000_007F;
pub const GLNVM_SRCTL_START: u32 = 1 << 30;
pub const GLNVM_SRCTL_DONE: u32 = 1 << 31;
pub const AQ_LEN_MASK: u32 = 0x3FF;
pub const AQ_LEN_ENABLE: u32 = 1 << 31;
pub const QENA_REQ: u32 = 1 << 0;
pub const QENA_STAT: u32 = 1 << 2;
pub const ICR0_INTEVENT: u32 = 1 << 0;
pub const ICR0_LINK_STAT_CHANGE: u32 = 1 << 25;
pub const ICR0_ADMINQ: u32 = 1 << 30;
pub const ICR0_SWINT: u32 = 1 << 31;
pub const DYN_CTL_INTENA: u32 = 1 << 0;
pub const DYN_CTL_CLEARPBA: u32 = 1 << 1;
pub const DYN_CTL_SWINT_TRIG: u32 = 1 << 2;
pub const DYN_CTL0_INTENA_MSK: u32 = 1 << 31;
pub const QINT_MSIX_INDX_MASK: u32 = 0x7FF;
pub const QINT_CAUSE_ENA: u32 = 1 << 30;
/// PRTMAC_LINKSTA: link up (bit 30 and bit 7) with 10 Gb/s (SPEED field 2).
pub const PRTMAC_LINKSTA_UP_10G: u32 = 0x4000_0080 | 0x1000_0000;

use Effect::*;

/// Every register with semantics beyond plain storage, and those whose reset
/// value is not 0. Arrays list their instance count and stride.
pub const TABLE: &[Reg] = &[
    // reset and identity
    reg("GLGEN_RSTCTL", GLGEN_RSTCTL, 0x0000_0008, None, "global reset delay (GRSTDEL); stored"),
    reg("GLGEN_RSTAT", GLGEN_RSTAT, 0, ReadOnly, "reset status: DEVSTATE 0, no reset in progress"),
    reg("GLGEN_RTRIG", GLGEN_RTRIG, 0, Action, "reset trigger: CORER/GLOBR reset the function at once"),
    reg("PFGEN_CTRL", PFGEN_CTRL, 0, Action, "PFSWR (bit 0): PF software reset, done synchronously so the bit reads 0"),
    reg("GL_FWSTS", GL_FWSTS, 0, ReadOnly, "firmware status: FWS1B 0 (no recovery mode, no EMP reset)"),
    reg("PFGEN_PORTNUM", PFGEN_PORTNUM, 0, ReadOnly, "port number 0"),
    reg("GLPCI_CAPSUP", GLPCI_CAPSUP, 0, ReadOnly, "no ARI"),
    // MSI_X_VF_N as the NVM sets it on SR-IOV capable parts: DPDK's base code loops
    // `num_vf_int - 2` times in unsigned arithmetic (i40e_clear_hw), so 0 runs it off the BAR.
    reg("GLPCI_CNF2", GLPCI_CNF2, (MSIX_VECTORS as u32) << 2 | 5 << 13, ReadOnly, "MSI_X_PF_N: MSI-X vectors of the PF; MSI_X_VF_N 5 per VF (no VFs are enabled)"),
    reg("PF_FUNC_RID", PF_FUNC_RID, 0, ReadOnly, "requester ID: PF 0"),
    reg("PFLAN_QALLOC", PFLAN_QALLOC, ((QUEUES as u32 - 1) << 16) | (1 << 31), ReadOnly, "queues 0..127 belong to the PF (FIRSTQ, LASTQ, VALID)"),
    reg("PF_VT_PFALLOC", PF_VT_PFALLOC, 0, ReadOnly, "no VFs"),
    reg("GLLAN_RCTL_0", GLLAN_RCTL_0, 0, None, "PXE mode (bit 0), cleared by the driver or clear_pxe_mode"),
    reg("GLVFGEN_TIMER", GLVFGEN_TIMER, 0, ReadOnly, "free-running microsecond timer (NVM lock time base)"),
    // NVM
    reg("GLNVM_ULD", GLNVM_ULD, GLNVM_ULD_DONE, ReadOnly, "every configuration load done (CONF_CORE_DONE, CONF_GLOBAL_DONE...)"),
    reg("GLNVM_GENS", GLNVM_GENS, 2 << 5, ReadOnly, "SR_SIZE 2: a 2048-word shadow RAM"),
    reg("GLNVM_FLA", GLNVM_FLA, 1 << 6, ReadOnly, "LOCKED: the flash is programmed"),
    reg("GLNVM_SRCTL", GLNVM_SRCTL, GLNVM_SRCTL_DONE, Action, "shadow RAM read: ADDR << 14 | START; DONE (bit 31) at once"),
    reg("GLNVM_SRDATA", GLNVM_SRDATA, 0, ReadOnly, "shadow RAM word read, in bits 31:16"),
    // admin queue
    reg("PF_ATQBAL", PF_ATQBAL, 0, None, "admin send queue base, low"),
    reg("PF_ATQBAH", PF_ATQBAH, 0, None, "admin send queue base, high"),
    masked(reg("PF_ATQLEN", PF_ATQLEN, 0, Action, "admin send queue length and ENABLE (bit 31)"), AQ_LEN_MASK | AQ_LEN_ENABLE),
    masked(reg("PF_ATQH", PF_ATQH, 0, None, "admin send queue head: the device's progress"), AQ_LEN_MASK),
    masked(reg("PF_ATQT", PF_ATQT, 0, Action, "admin send queue tail: commands up to here execute at once"), AQ_LEN_MASK),
    reg("PF_ARQBAL", PF_ARQBAL, 0, None, "admin receive queue base, low"),
    reg("PF_ARQBAH", PF_ARQBAH, 0, None, "admin receive queue base, high"),
    masked(reg("PF_ARQLEN", PF_ARQLEN, 0, Action, "admin receive queue length and ENABLE"), AQ_LEN_MASK | AQ_LEN_ENABLE),
    masked(reg("PF_ARQH", PF_ARQH, 0, None, "admin receive queue head: next event slot"), AQ_LEN_MASK),
    masked(reg("PF_ARQT", PF_ARQT, 0, Action, "admin receive queue tail: descriptors the driver posted"), AQ_LEN_MASK),
    // interrupts
    arr("PFINT_ITR0", PFINT_ITR0, 3, 0x80, 0, None, "vector 0 ITR intervals (2 us units)"),
    reg("PFINT_STAT_CTL0", PFINT_STAT_CTL0, 0, None, "vector 0 other-cause ITR index"),
    reg("PFINT_DYN_CTL0", PFINT_DYN_CTL0, 0, Action, "vector 0: INTENA, CLEARPBA, SWINT_TRIG, INTENA_MSK (bit 31)"),
    reg("PFINT_LNKLST0", PFINT_LNKLST0, 0x7FF, None, "vector 0 queue list head (tunic routes by QINT_*.MSIX_INDX)"),
    reg("PFINT_ICR0", PFINT_ICR0, 0, ReadClear, "vector 0 causes: INTEVENT, LINK_STAT_CHANGE, ADMINQ, SWINT; read to clear"),
    reg("PFINT_ICR0_ENA", PFINT_ICR0_ENA, 0, None, "vector 0 cause enables"),
    arr("PFINT_ITRN", PFINT_ITRN, 3 * 512, 4, 0, None, "vector n ITR intervals: 0x30000 + 0x800 i + 4 (n-1)"),
    arr("PFINT_DYN_CTLN", PFINT_DYN_CTLN, 512, 4, 0, Action, "vector n (index n-1): INTENA, CLEARPBA, SWINT_TRIG"),
    arr("PFINT_LNKLSTN", PFINT_LNKLSTN, 512, 4, 0x7FF, None, "vector n queue list head"),
    arr("PFINT_RATEN", PFINT_RATEN, 512, 4, 0, None, "vector n rate limit"),
    arr("QINT_RQCTL", QINT_RQCTL, QUEUES as u32, 4, 0, None, "Rx queue cause: MSIX_INDX (bits 0..10), CAUSE_ENA (bit 30)"),
    arr("QINT_TQCTL", QINT_TQCTL, QUEUES as u32, 4, 0, None, "Tx queue cause: MSIX_INDX (bits 0..10), CAUSE_ENA (bit 30)"),
    // queues
    masked(arr("QTX_ENA", QTX_ENA, QUEUES as u32, 4, 0, Action, "Tx queue enable: QENA_REQ starts (context read from the HMC), QENA_STAT follows"), QENA_REQ | 2),
    arr("QTX_CTL", QTX_CTL, QUEUES as u32, 4, 0, None, "Tx queue owner: PFVF_Q, PF_INDX, VFVM_INDX (VSI of VM queues)"),
    arr("QTX_TAIL", QTX_TAIL, QUEUES as u32, 4, 0, Action, "Tx doorbell"),
    arr("QTX_HEAD", QTX_HEAD, QUEUES as u32, 4, 0, None, "Tx head (the driver zeroes it before enabling)"),
    masked(arr("QRX_ENA", QRX_ENA, QUEUES as u32, 4, 0, Action, "Rx queue enable: QENA_REQ starts (context read from the HMC), QENA_STAT follows"), QENA_REQ | 2),
    arr("QRX_TAIL", QRX_TAIL, QUEUES as u32, 4, 0, Action, "Rx doorbell: descriptors posted up to here"),
    arr("GLLAN_TXPRE_QDIS", GLLAN_TXPRE_QDIS, 12, 4, 0, None, "Tx pre-disable: stored"),
    // HMC
    reg("PFHMC_SDCMD", PFHMC_SDCMD, 0, Action, "segment descriptor command: index | WR (bit 31) stores SDDATALOW/HIGH"),
    reg("PFHMC_SDDATALOW", PFHMC_SDDATALOW, 0, None, "SD entry low: VALID, TYPE (direct), BPCOUNT, PA[31:12]"),
    reg("PFHMC_SDDATAHIGH", PFHMC_SDDATAHIGH, 0, None, "SD entry high: PA[63:32]"),
    reg("PFHMC_PDINV", PFHMC_PDINV, 0, None, "page descriptor invalidate: nothing is cached, so nothing to do"),
    reg("GLHMC_LANTXOBJSZ", GLHMC_LANTXOBJSZ, 7, ReadOnly, "Tx queue context size 2^7 = 128 bytes"),
    reg("GLHMC_LANQMAX", GLHMC_LANQMAX, QUEUES as u32, ReadOnly, "LAN queue contexts the HMC holds"),
    reg("GLHMC_LANRXOBJSZ", GLHMC_LANRXOBJSZ, 5, ReadOnly, "Rx queue context size 2^5 = 32 bytes"),
    reg("GLHMC_FCOEFMAX", GLHMC_FCOEFMAX, 0x1000, ReadOnly, "FCoE filter capacity: room for the driver's default PF queue filter settings (1K hash + 512 contexts)"),
    reg("GLHMC_LANTXBASE", GLHMC_LANTXBASE, 0, None, "Tx context area, in 512-byte units of FPM space"),
    reg("GLHMC_LANTXCNT", GLHMC_LANTXCNT, 0, None, "Tx contexts in the area"),
    reg("GLHMC_LANRXBASE", GLHMC_LANRXBASE, 0, None, "Rx context area, in 512-byte units"),
    reg("GLHMC_LANRXCNT", GLHMC_LANRXCNT, 0, None, "Rx contexts in the area"),
    // RSS
    arr("PFQF_HLUT", PFQF_HLUT, 128, 0x80, 0, None, "RSS indirection table: 4 one-byte entries each (6-bit queue index)"),
    arr("PFQF_HKEY", PFQF_HKEY, 13, 0x80, 0, None, "the 52-byte RSS key, byte 0 in the low byte of HKEY(0)"),
    reg("PFQF_HENA0", PFQF_HENA0, 0, None, "RSS hash enables by PCTYPE, bits 0..31"),
    reg("PFQF_HENA1", PFQF_HENA1, 0, None, "RSS hash enables by PCTYPE, bits 32..63"),
    reg("PFQF_CTL_0", PFQF_CTL_0, 0, None, "HASHLUTSIZE (bit 16): 0 = 128, 1 = 512 table entries"),
    reg("GLQF_CTL", GLQF_CTL, 1 << 1, None, "HTOEP (bit 1): Toeplitz hashing"),
    arr("GLQF_HASH_INSET", GLQF_HASH_INSET, 128, 4, 0, None, "RSS hash input set per PCTYPE, low and high words (field-vector words; reset values: rx::HASH_INPUT_SET_DEFAULTS)"),
    reg("GL_PRS_FVBM2", GL_PRS_FVBM2, 1 << 31, None, "MSK_ENA (bit 31): GRE keys match on 24 bits (the VSID)"),
    // TSO and MAC
    masked(reg("GLLAN_TSOMSK_F", GLLAN_TSOMSK_F, 0x0000_0009, None, "TCP flags cleared in the first TSO segment"), 0xFFF),
    masked(reg("GLLAN_TSOMSK_M", GLLAN_TSOMSK_M, 0x0000_0089, None, "TCP flags cleared in middle TSO segments"), 0xFFF),
    masked(reg("GLLAN_TSOMSK_L", GLLAN_TSOMSK_L, 0x0000_0080, None, "TCP flags cleared in the last TSO segment"), 0xFFF),
    reg("REG_MSS", REG_MSS, 0x0040_0000 | (256 << 16), None, "smallest MSS accepted (MIN field)"),
    reg("PRTGL_SAH", PRTGL_SAH, 0x2600 << 16, None, "MFS (bits 16..31): largest frame, 9728 bytes"),
    reg("PRTTSYN_CTL0", PRTTSYN_CTL0, 0, None, "PTP: PF_ID does not match, so the driver skips PTP"),
    reg("PRTMAC_LINKSTA", PRTMAC_LINKSTA, 0, ReadOnly, "MAC link status: up at 10 Gb/s while the wire is up"),
    reg("PRTMAC_MACC", PRTMAC_MACC, 0, None, "MAC configuration"),
];

/// The row and instance a register offset falls on.
pub fn lookup(off: u32) -> Option<(&'static Reg, u32)> {
    static INDEX: crate::regtable::Index = crate::regtable::Index::new();
    INDEX.find(TABLE, off)
}

/// `docs/register-map.md`'s X710 section, generated from [`TABLE`].
pub fn register_map_markdown() -> String {
    crate::regtable::markdown(TABLE, &["effect"], |e| vec![format!("{e:?}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_rows_overlap() {
        crate::regtable::checks::no_two_rows_overlap(TABLE);
        crate::regtable::checks::the_index_finds_every_offset(TABLE, lookup);
    }

    #[test]
    fn the_index_agrees_with_a_search_of_the_table() {
        let search = |off: u32| {
            TABLE.iter().find_map(|r| {
                let rel = off.checked_sub(r.offset)?;
                let i = rel / r.stride;
                (rel % r.stride == 0 && i < r.count).then_some((r.name, i))
            })
        };
        for r in TABLE {
            for i in [0, r.count / 2, r.count - 1, r.count] {
                let at = r.offset + i * r.stride;
                for off in [at.saturating_sub(4), at, at + 4] {
                    assert_eq!(
                        lookup(off).map(|(r, i)| (r.name, i)),
                        search(off),
                        "{off:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn lookup_finds_array_instances() {
        let (r, i) = lookup(QTX_TAIL + 4 * 5).unwrap();
        assert_eq!((r.name, i), ("QTX_TAIL", 5));
        let (r, i) = lookup(PFQF_HKEY + 0x80 * 12).unwrap();
        assert_eq!((r.name, i), ("PFQF_HKEY", 12));
        assert!(lookup(PFQF_HKEY + 0x80 * 13).is_none());
    }
}
