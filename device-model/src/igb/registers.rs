//! The 82576 registers tunic models, as one table: offset, instances, reset
//! value, how reads and writes act on the stored bits, and the side effect the
//! device runs. `Igb::read32`, `Igb::write32`, `Igb::peek32` and
//! `Igb::reset_registers` are driven by it, and the register sections of
//! `docs/register-map.md` are generated from it (`register_map_markdown`; a
//! test fails when the doc is stale).
//!
//! Adding a register is one row here (and, if it does more than store bits, one
//! [`Effect`] with its arm in `Igb::register_effect`). Offsets not in the table
//! are plain storage, logged once at debug level; offsets inside a queue block
//! that no row names are plain storage too, without a log line.

use super::flow_control::{FCAH, FCAL, FCRTH, FCRTL, FCRTV, FCT, FCTTV};
use super::regs::*;
use crate::regtable::{Alias, Index};

/// How a register answers reads and takes writes, before any side effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Plain storage of the bits in the write mask; reads return what is stored
    /// (or what the effect computes).
    Rw,
    /// Writes are ignored; reads return the stored or computed value.
    Ro,
    /// Read to clear; writes are ignored.
    Rc,
    /// Read to clear (with the datasheet's conditions, see the effect), and a
    /// written 1 clears that bit.
    RcW1c,
    /// A written 1 sets that bit of the mask the register stands for; reads
    /// return the mask.
    W1s,
    /// A written 1 acts (sets a cause, clears a mask bit); reads return 0.
    Wo,
}

/// What the device does when the register is touched, beyond the storage the
/// access gives it. Each is one arm of `Igb::register_effect` (writes) or
/// `Igb::register_value` (reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// CTRL: RST resets the MAC (`reset_registers`) and PHY_RST the PHY, both
    /// self-clearing; RFCE/TFCE turning off end a pause or an XOFF.
    Ctrl,
    /// STATUS: computed from the PHY link, the modelled speed, GIO master
    /// disable and the partner's pause.
    Status,
    /// EECD: GNT reads as REQ (the NVM is always granted).
    Eecd,
    /// EERD: a write with START reads the NVM word at once (DONE set).
    Eerd,
    /// MDIC: a PHY register access, completed at once (READY; ERROR for a
    /// PHY address other than 1 or a bad opcode); a link change posts LSC.
    Mdic,
    /// EEMNGCTL: reads CFG_DONE0 and CFG_DONE1 (the NVM is loaded).
    CfgDone,
    /// ICR: a read returns the causes and clears them (GPIE.NSICR, asserted, or
    /// IMS = 0), auto-masking IAM when asserted; a write clears bits.
    Icr,
    /// ICS: posts the written "other" causes.
    Ics,
    /// IMS: enables causes; pending ones route to IVAR_MISC's vector.
    Ims,
    /// IMC: disables causes.
    Imc,
    /// EICR: reading clears; a written 1 clears a vector's bit.
    Eicr,
    /// EICS: sets vectors' EICR bits (and ICR.RXT0 outside MSI-X mode).
    Eics,
    /// EIMS: enables vectors; pending ones fire at once.
    Eims,
    /// EIMC: disables vectors.
    Eimc,
    /// Interrupt routing and auto-clear/auto-mask state kept in `Interrupts`
    /// (IAM, GPIE, EIAC, EIAM, IVAR, IVAR_MISC): plain storage there.
    InterruptState,
    /// RCTL: EN turning on delivers the frames waiting in the receive FIFO.
    Rctl,
    /// TCTL: EN turning on processes every Tx ring.
    Tctl,
    /// A statistics register, kept as 64 bits in `Stats`.
    Statistic,
    /// RAL/RAH or VT_CTL: the VMDq pool filters are rebuilt.
    VmdqFilter,
    /// RSSRK: the cached Toeplitz tables are invalidated.
    RssKey,
    /// RDT: a receive doorbell; waiting frames are delivered.
    RxTail,
    /// TDT: a transmit doorbell; the ring is processed.
    TxTail,
    /// RXDCTL: ENABLE delivers waiting frames.
    RxQueueCtl,
    /// TXDCTL: ENABLE processes the ring; SWFLSH self-clears.
    TxQueueCtl,
}

/// What an igb register does: its access and its side effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    pub access: Access,
    pub effect: Effect,
}

/// One row of the igb table.
pub type Reg = crate::regtable::Reg<Behaviour>;

const fn reg(
    name: &'static str,
    offset: u32,
    access: Access,
    effect: Effect,
    doc: &'static str,
) -> Reg {
    Reg::new(name, offset, Behaviour { access, effect }, doc)
}

const fn rw(name: &'static str, offset: u32, doc: &'static str) -> Reg {
    reg(name, offset, Access::Rw, Effect::None, doc)
}

/// A per-queue register at `+reg` of queue `n`'s block (16 queues, 0x40 apart),
/// also answering at the legacy block for queues 0-3 (0x100 apart).
const fn queue(r: Reg, tx: bool) -> Reg {
    let (base, legacy) = if tx {
        (TX_QUEUE_BASE, LEGACY_TX_BASE)
    } else {
        (RX_QUEUE_BASE, LEGACY_RX_BASE)
    };
    let reg = r.offset;
    let mut r = r.times(QUEUES as u32, 0x40).aliased(Alias {
        base: legacy + reg,
        count: 4,
        stride: 0x100,
    });
    r.offset = base + reg;
    r
}

use Access::*;
use Effect as E;

/// The register table, in offset order within each section of the doc.
pub const TABLE: &[Reg] = &[
    // ---- general, NVM, PHY --------------------------------------------------
    reg("CTRL", CTRL, Rw, E::Ctrl, "device control. FD (0); GIO_MASTER_DISABLE (2), reflected in STATUS; SLU (6); RFCE (27) / TFCE (28) honour and send PAUSE; VME (30) strips VLAN tags. RST (26) and PHY_RST (31) act and self-clear.").masked(!(CTRL_RST | CTRL_PHY_RST)).reset_to(CTRL_FD),
    reg("STATUS", STATUS, Ro, E::Status, "computed: FD (0) and LU (1) while the PHY link is up, SPEED (7:6) of the modelled link (1000 unless timed slower), TXOFF (4) while paused by the partner, GIO_MASTER_ENABLE (19) unless CTRL.GIO_MASTER_DISABLE"),
    reg("EECD", EECD, Rw, E::Eecd, "NVM control: PRES (8), AUTO_RD (9), size field 2 << 11 (256 words); GNT (7) reads as REQ (6)").reset_to(EECD_PRES | EECD_AUTO_RD | EECD_SIZE_256_WORDS),
    reg("EERD", EERD, Rw, E::Eerd, "NVM read: a write with START (0) reads word (v >> 2) & 0x3FFF at once into 31:16 with DONE (1); a word past 255 reads 0xFFFF; a write without START is discarded").masked(0),
    rw("CTRL_EXT", CTRL_EXT, "extended control (DRV_LOAD); stored"),
    reg("MDIC", MDIC, Rw, E::Mdic, "PHY access, completed at once: READY (28); ERROR (30) for a PHY address other than 1 or an opcode other than write (01) and read (10); a read returns the PHY register in 15:0").masked(0),
    rw("FCAL", FCAL, "flow control address low: 01:80:C2:00:00:01 as the driver writes it"),
    rw("FCAH", FCAH, "flow control address high"),
    rw("FCT", FCT, "flow control EtherType (0x8808)"),
    rw("VET", VET, "VLAN EtherType for Tx insertion and Rx detection").reset_to(0x8100),
    rw("FCTTV", FCTTV, "pause quanta sent in XOFF frames (15:0)"),
    rw("LEDCTL", LEDCTL, "LED control; stored").reset_to(0x0706_8302),
    reg("EEMNGCTL", EEMNGCTL, Ro, E::CfgDone, "reads CFG_DONE0 (18) and CFG_DONE1 (19): the NVM is loaded"),
    rw("GCR", GCR, "PCIe control; stored"),
    rw("SWSM", SWSM, "software semaphore: plain storage, so the driver always acquires it"),
    rw("FWSM", FWSM, "firmware semaphore: plain storage (no firmware)"),
    rw("SW_FW_SYNC", SW_FW_SYNC, "software/firmware sync: plain storage (no firmware)"),
    // ---- interrupts ---------------------------------------------------------
    reg("ICR", ICR, RcW1c, E::Icr, "interrupt causes, with INT_ASSERTED (31) when ICR & IMS. A read clears them if GPIE.NSICR, the interrupt was asserted, or IMS = 0, and auto-masks IAM when asserted"),
    rw("ITR", ITR, "legacy interrupt throttling; stored (EITR moderates)"),
    reg("ICS", ICS, Wo, E::Ics, "posts the written \"other\" causes into ICR"),
    reg("IMS", IMS, W1s, E::Ims, "enables causes; in MSI-X mode pending ICR & IMS routes to IVAR_MISC's vector"),
    reg("IMC", IMC, Wo, E::Imc, "disables causes (clears IMS bits)"),
    reg("IAM", IAM, Rw, E::InterruptState, "causes auto-masked when ICR is read while asserted"),
    reg("GPIE", GPIE, Rw, E::InterruptState, "NSICR (0), MSIX_MODE (4), EIAME (30), PBA (31)"),
    reg("EICS", EICS, Wo, E::Eics, "sets EICR bits 9:0 (and ICR.RXT0 outside MSI-X mode)"),
    reg("EIMS", EIMS, W1s, E::Eims, "enables vectors; pending EICR & EIMS fire at once"),
    reg("EIMC", EIMC, Wo, E::Eimc, "disables vectors (clears EIMS bits)"),
    reg("EIAC", EIAC, Rw, E::InterruptState, "EICR bits cleared when their vector is sent"),
    reg("EIAM", EIAM, Rw, E::InterruptState, "EIMS bits masked when their vector is sent, with GPIE.EIAME"),
    reg("EICR", EICR, RcW1c, E::Eicr, "extended causes, one bit per MSI-X vector"),
    rw("EITR", EITR0, "interrupt throttle of each vector: interval (14:2) in 1 us units, moderated on the wall clock with timing off and on the model clock with timing on").times(MSIX_VECTORS as u32, 4),
    reg("IVAR", IVAR0, Rw, E::InterruptState, "queue to vector map: byte 0 Rx queue n, byte 1 Tx queue n, byte 2 Rx queue n+8, byte 3 Tx queue n+8; entry = vector (4:0) | VALID (0x80)").times(8, 4),
    reg("IVAR_MISC", IVAR_MISC, Rw, E::InterruptState, "vector of the \"other\" causes (15:8) | VALID"),
    // ---- receive and transmit control -----------------------------------------
    reg("RCTL", RCTL, Rw, E::Rctl, "receive control: EN (1) turning on delivers waiting frames; UPE (3), MPE (4), LPE (5), LBM (7:6, MAC loopback), MO (13:12), BAM (15), VFE (18), PMCF (23), SECRC (26)"),
    reg("TCTL", TCTL, Rw, E::Tctl, "transmit control: EN (1) turning on processes all 16 rings; PSP (3) pads to 60 bytes"),
    rw("TCTL_EXT", TCTL_EXT, "stored"),
    rw("TIPG", TIPG, "inter-packet gap; stored"),
    rw("PBA", PBA, "packet buffer allocation; stored"),
    rw("FCRTL", FCRTL, "receive low water mark (17:4) and XONE (31): XON when the buffer drains below it"),
    rw("FCRTH", FCRTH, "receive high water mark (17:4): XOFF when the buffer passes it"),
    rw("RXPBS", RXPBS, "receive packet buffer size in KiB (64)").reset_to(0x40),
    rw("FCRTV", FCRTV, "XOFF refresh interval in pause quanta"),
    rw("TXPBS", TXPBS, "transmit packet buffer size in KiB (40)").reset_to(0x28),
    rw("DTXTCPFLGL", DTXTCPFLGL, "TSO TCP flag masks: first segment (11:0), middle segments (27:16)").reset_to(0x0ff6_0ff6),
    rw("DTXTCPFLGH", DTXTCPFLGH, "TSO TCP flag mask of the last segment (11:0)").reset_to(0x0000_0f7f),
    rw("RXCSUM", RXCSUM, "IPOFLD (8) reports IPCS/IPE, TUOFLD (9) L4CS/UDPCS/L4E, PCSD (13) puts the RSS hash in the write-back").reset_to(RXCSUM_IPOFLD | RXCSUM_TUOFLD),
    rw("RLPML", RLPML, "longest frame (13:0, FCS included) with RCTL.LPE").reset_to(0x2600),
    // ---- queues -----------------------------------------------------------------
    queue(rw("RDBAL", Q_BAL, "Rx ring base, low (3:0 read 0)").masked(!0xf), false),
    queue(rw("RDBAH", Q_BAH, "Rx ring base, high"), false),
    queue(rw("RDLEN", Q_LEN, "Rx ring length in bytes (19:4): LEN / 16 descriptors").masked(0x000f_fff0), false),
    queue(rw("SRRCTL", Q_SRRCTL, "BSIZEPACKET (6:0) in KiB, 0 meaning 2 KiB; DROP_EN (31) drops when the ring is full instead of waiting in the FIFO").reset_to(SRRCTL_DEFAULT), false),
    queue(rw("RDH", Q_HEAD, "Rx head; the device advances it").masked(0xffff), false),
    queue(reg("RDT", Q_TAIL, Rw, E::RxTail, "Rx tail: doorbell, waiting frames are delivered").masked(0xffff), false),
    queue(reg("RXDCTL", Q_CTL, Rw, E::RxQueueCtl, "ENABLE (25) delivers waiting frames").reset_to(RXDCTL_DEFAULT), false),
    queue(reg("RQDPC", Q_RQDPC, Rc, E::None, "frames this queue dropped for lack of descriptors"), false),
    queue(rw("TDBAL", Q_BAL, "Tx ring base, low (3:0 read 0)").masked(!0xf), true),
    queue(rw("TDBAH", Q_BAH, "Tx ring base, high"), true),
    queue(rw("TDLEN", Q_LEN, "Tx ring length in bytes (19:4)").masked(0x000f_fff0), true),
    queue(rw("TDH", Q_HEAD, "Tx head; the device advances it").masked(0xffff), true),
    queue(reg("TDT", Q_TAIL, Rw, E::TxTail, "Tx tail: doorbell, the ring is processed").masked(0xffff), true),
    queue(reg("TXDCTL", Q_CTL, Rw, E::TxQueueCtl, "ENABLE (25) processes the ring; SWFLSH (26) self-clears").reset_to(TXDCTL_DEFAULT).masked(!TXDCTL_SWFLSH), true),
    // ---- statistics -------------------------------------------------------------
    reg("STATS", STATS_START, Rc, E::Statistic, "the statistics block (see Statistics below)").times((STATS_END - STATS_START) / 4 + 1, 4),
    // ---- filters and RSS --------------------------------------------------------
    rw("MTA", MTA, "4096-bit multicast hash, indexed by DA bytes 4-5 shifted per RCTL.MO").times(128, 4),
    reg("RAL", 0x5400, Rw, E::VmdqFilter, "receive address 0-15, low; RAL0 from the NVM at reset").times(16, 8),
    reg("RAH", 0x5404, Rw, E::VmdqFilter, "receive address 0-15, high: AV (31) enables the exact match, POOLSEL (23:18) the VMDq pools; RAH0 from the NVM at reset").times(16, 8),
    reg("RAL16", 0x54e0, Rw, E::VmdqFilter, "receive address 16-23, low").times(8, 8),
    reg("RAH16", 0x54e4, Rw, E::VmdqFilter, "receive address 16-23, high").times(8, 8),
    rw("VFTA", VFTA, "VLAN filter, checked with RCTL.VFE").times(128, 4),
    rw("WUC", WUC, "wake-up control; stored"),
    rw("MRQC", MRQC, "MRQE (2:0) enables RSS (or VMDq); hash types 16-24 (TCP/IPv4, IPv4, TCP/IPv6 ex, IPv6 ex, IPv6, TCP/IPv6, UDP/IPv4, UDP/IPv6, UDP/IPv6 ex)"),
    reg("VT_CTL", VT_CTL, Rw, E::VmdqFilter, "VMDq control: default pool (9:7), DIS_DEF_POOL (29)"),
    rw("MANC", MANC, "management control; stored"),
    rw("VMOLR", VMOLR0, "VMDq pool offload control; stored").times(8, 4),
    rw("RETA", RETA, "RSS redirection: 128 byte entries indexed by hash & 0x7F, the queue in the low 4 bits").times(32, 4),
    reg("RSSRK", RSSRK, Rw, E::RssKey, "the 40-byte Toeplitz key").times(10, 4),
];

/// The row and instance an offset falls on, legacy queue aliases included.
pub fn lookup(off: u32) -> Option<(&'static Reg, u32)> {
    static INDEX: Index = Index::new();
    INDEX.find(TABLE, off)
}

/// `docs/register-map.md`'s igb register table, generated from [`TABLE`].
pub fn register_map_markdown() -> String {
    crate::regtable::markdown(TABLE, &["access", "effect"], |b| {
        vec![format!("{:?}", b.access), format!("{:?}", b.effect)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_rows_overlap() {
        crate::regtable::checks::no_two_rows_overlap(TABLE);
    }

    #[test]
    fn queue_rows_and_aliases_agree_with_the_queue_folding() {
        for r in TABLE.iter().filter(|r| r.alias.is_some()) {
            for (off, i) in r.offsets().filter(|&(off, _)| off < RX_QUEUE_BASE) {
                let (tx, q, reg) = queue_reg(off).unwrap();
                assert_eq!(queue_off(tx, q, reg), r.instance(i), "{}", r.name);
            }
        }
        let (r, i) = lookup(0x3818 + 0x100 * 2).unwrap();
        assert_eq!((r.name, i), ("TDT", 2));
        let (r, i) = lookup(0xc000 + 0x40 * 9 + 0x28).unwrap();
        assert_eq!((r.name, i), ("RXDCTL", 9));
        assert!(
            lookup(0xc000 + 0x40 * 9 + 0x14).is_none(),
            "unnamed queue offsets stay plain storage"
        );
    }

    #[test]
    fn lookup_finds_every_offset() {
        crate::regtable::checks::the_index_finds_every_offset(TABLE, lookup);
        assert!(lookup(0x1ffc).is_none());
    }

    #[test]
    fn the_register_map_doc_is_generated_from_the_table() {
        crate::docgen::check_generated_section(
            "igb-registers",
            &register_map_markdown(),
            "docs/register-map.md's igb table is stale: run TUNIC_UPDATE_DOCS=1 cargo test -p device-model --lib register_map_doc",
        );
    }
}
