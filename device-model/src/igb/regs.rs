//! Intel 82576 register offsets and bits, as the datasheet names them.
#![allow(dead_code)]

pub const CTRL: u32 = 0x0000;
pub const STATUS: u32 = 0x0008;
pub const EECD: u32 = 0x0010;
pub const EERD: u32 = 0x0014;
pub const CTRL_EXT: u32 = 0x0018;
pub const MDIC: u32 = 0x0020;
pub const VET: u32 = 0x0038;
pub const ICR: u32 = 0x00c0;
pub const ITR: u32 = 0x00c4;
pub const ICS: u32 = 0x00c8;
pub const IMS: u32 = 0x00d0;
pub const IMC: u32 = 0x00d8;
pub const IAM: u32 = 0x00e0;
pub const RCTL: u32 = 0x0100;
pub const TCTL: u32 = 0x0400;
pub const PBA: u32 = 0x1000;
pub const EEMNGCTL: u32 = 0x1010;
pub const GPIE: u32 = 0x1514;
pub const EICS: u32 = 0x1520;
pub const EIMS: u32 = 0x1524;
pub const EIMC: u32 = 0x1528;
pub const EIAC: u32 = 0x152c;
pub const EIAM: u32 = 0x1530;
pub const EICR: u32 = 0x1580;
pub const EITR0: u32 = 0x1680;
pub const IVAR0: u32 = 0x1700;
pub const IVAR_MISC: u32 = 0x1740;
pub const DTXTCPFLGL: u32 = 0x359c;
pub const DTXTCPFLGH: u32 = 0x35a0;
pub const RXCSUM: u32 = 0x5000;
pub const RLPML: u32 = 0x5004;
pub const MTA: u32 = 0x5200;
pub const VFTA: u32 = 0x5600;
pub const MRQC: u32 = 0x5818;
pub const VT_CTL: u32 = 0x581c;
pub const WUC: u32 = 0x5800;
pub const MANC: u32 = 0x5820;
pub const SWSM: u32 = 0x5b50;
pub const FWSM: u32 = 0x5b54;
pub const SW_FW_SYNC: u32 = 0x5b5c;
pub const VMOLR0: u32 = 0x5ad0;
pub const RETA: u32 = 0x5c00;
pub const RSSRK: u32 = 0x5c80;

pub const CTRL_FD: u32 = 1 << 0;
pub const CTRL_GIO_MASTER_DISABLE: u32 = 1 << 2;
pub const CTRL_SLU: u32 = 1 << 6;
pub const CTRL_RST: u32 = 1 << 26;
pub const CTRL_VME: u32 = 1 << 30;
pub const CTRL_PHY_RST: u32 = 1 << 31;
pub const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;

pub const STATUS_FD: u32 = 1 << 0;
pub const STATUS_LU: u32 = 1 << 1;
pub const STATUS_SPEED_10: u32 = 0;
pub const STATUS_SPEED_100: u32 = 1 << 6;
pub const STATUS_SPEED_1000: u32 = 2 << 6;
pub const STATUS_PHYRA: u32 = 1 << 10;
pub const STATUS_GIO_MASTER_ENABLE: u32 = 1 << 19;

pub const EECD_REQ: u32 = 1 << 6;
pub const EECD_GNT: u32 = 1 << 7;
pub const EECD_PRES: u32 = 1 << 8;
pub const EECD_AUTO_RD: u32 = 1 << 9;
pub const EECD_ADDR_BITS: u32 = 1 << 10;
/// EEPROM size field: words = 1 << (field + 6). 2 means 256 words.
pub const EECD_SIZE_256_WORDS: u32 = 2 << 11;

pub const EEMNGCTL_CFG_DONE0: u32 = 1 << 18;
pub const EEMNGCTL_CFG_DONE1: u32 = 1 << 19;

pub const SWSM_SMBI: u32 = 1 << 0;

pub const RCTL_EN: u32 = 1 << 1;
pub const RCTL_SBP: u32 = 1 << 2;
pub const RCTL_UPE: u32 = 1 << 3;
pub const RCTL_MPE: u32 = 1 << 4;
pub const RCTL_LPE: u32 = 1 << 5;
pub const RCTL_LBM_MASK: u32 = 3 << 6;
pub const RCTL_MO_SHIFT: u32 = 12;
pub const RCTL_BAM: u32 = 1 << 15;
pub const RCTL_VFE: u32 = 1 << 18;
pub const RCTL_SECRC: u32 = 1 << 26;

pub const TCTL_EN: u32 = 1 << 1;
pub const TCTL_PSP: u32 = 1 << 3;

pub const RXCSUM_IPOFLD: u32 = 1 << 8;
pub const RXCSUM_TUOFLD: u32 = 1 << 9;
pub const RXCSUM_CRCOFL: u32 = 1 << 11;
pub const RXCSUM_PCSD: u32 = 1 << 13;

pub const GPIE_NSICR: u32 = 1 << 0;
pub const GPIE_MSIX_MODE: u32 = 1 << 4;
pub const GPIE_EIAME: u32 = 1 << 30;
pub const GPIE_PBA: u32 = 1 << 31;

pub const IVAR_VALID: u32 = 0x80;

/// ICR / ICS / IMS / IMC cause bits.
pub const ICR_TXDW: u32 = 1 << 0;
pub const ICR_LSC: u32 = 1 << 2;
pub const ICR_RXDMT0: u32 = 1 << 4;
pub const ICR_RXT0: u32 = 1 << 7;
pub const ICR_INT_ASSERTED: u32 = 1 << 31;

pub const TXDCTL_ENABLE: u32 = 1 << 25;
pub const RXDCTL_ENABLE: u32 = 1 << 25;
pub const TXDCTL_SWFLSH: u32 = 1 << 26;

pub const MRQC_FIELD_TCP_IPV4: u32 = 1 << 16;
pub const MRQC_FIELD_IPV4: u32 = 1 << 17;
pub const MRQC_FIELD_TCP_IPV6_EX: u32 = 1 << 18;
pub const MRQC_FIELD_IPV6_EX: u32 = 1 << 19;
pub const MRQC_FIELD_IPV6: u32 = 1 << 20;
pub const MRQC_FIELD_TCP_IPV6: u32 = 1 << 21;
pub const MRQC_FIELD_UDP_IPV4: u32 = 1 << 22;
pub const MRQC_FIELD_UDP_IPV6: u32 = 1 << 23;
pub const MRQC_FIELD_UDP_IPV6_EX: u32 = 1 << 24;

pub const QUEUES: usize = 16;
/// MSI-X table entries of the physical function (as the 82576 PF exposes).
pub const MSIX_VECTORS: u16 = 10;
pub const RAR_ENTRIES: usize = 24;

/// Where queue `n`'s register block starts for register `reg` (0x00 RDBAL .. 0x28 RXDCTL).
/// Queues 0-3 also answer at their legacy addresses; the alias is resolved by `queue_reg`.
pub const RX_QUEUE_BASE: u32 = 0xc000;
pub const TX_QUEUE_BASE: u32 = 0xe000;
pub const LEGACY_RX_BASE: u32 = 0x2800;
pub const LEGACY_TX_BASE: u32 = 0x3800;

pub const Q_BAL: u32 = 0x00;
pub const Q_BAH: u32 = 0x04;
pub const Q_LEN: u32 = 0x08;
pub const Q_SRRCTL: u32 = 0x0c;
pub const Q_HEAD: u32 = 0x10;
pub const Q_TAIL: u32 = 0x18;
pub const Q_CTL: u32 = 0x28;

/// Which queue register an offset names, if any: (is_tx, queue, register).
/// Legacy addresses for queues 0-3 are folded onto the 0xC000/0xE000 blocks.
pub fn queue_reg(off: u32) -> Option<(bool, usize, u32)> {
    let (tx, base, stride, count) = match off {
        0x2800..=0x2bff => (false, LEGACY_RX_BASE, 0x100, 4),
        0x3800..=0x3bff => (true, LEGACY_TX_BASE, 0x100, 4),
        0xc000..=0xc3ff => (false, RX_QUEUE_BASE, 0x40, QUEUES as u32),
        0xe000..=0xe3ff => (true, TX_QUEUE_BASE, 0x40, QUEUES as u32),
        _ => return None,
    };
    let q = (off - base) / stride;
    let reg = (off - base) % stride;
    (q < count && reg < 0x40).then_some((tx, q as usize, reg))
}

/// The canonical storage offset of a queue register.
pub fn queue_off(tx: bool, q: usize, reg: u32) -> u32 {
    (if tx { TX_QUEUE_BASE } else { RX_QUEUE_BASE }) + 0x40 * q as u32 + reg
}

/// Receive address registers: RAL/RAH 0-15 at 0x5400, 16-23 at 0x54E0.
pub fn ral(n: usize) -> u32 {
    if n < 16 {
        0x5400 + 8 * n as u32
    } else {
        0x54e0 + 8 * (n as u32 - 16)
    }
}
pub const RAH_AV: u32 = 1 << 31;

/// Statistics block: counters that clear when read.
pub const STATS_START: u32 = 0x4000;
pub const STATS_END: u32 = 0x4124;
/// Per-queue receive drop counters (RQDPC) live in the Rx queue blocks at +0x30.
pub const Q_RQDPC: u32 = 0x30;
pub const RXPBS: u32 = 0x2404;
pub const TXPBS: u32 = 0x3404;
pub const GCR: u32 = 0x5b00;
pub const LEDCTL: u32 = 0x0e00;
pub const TCTL_EXT: u32 = 0x0404;
pub const TIPG: u32 = 0x0410;
pub const RXDCTL_DEFAULT: u32 = 1 << 16;
pub const TXDCTL_DEFAULT: u32 = 0;
pub const SRRCTL_DEFAULT: u32 = 0x0000_0402;
/// VT_CTL: default pool (9:7) and "disable default pool" (29).
pub const VT_CTL_DIS_DEF_POOL: u32 = 1 << 29;
