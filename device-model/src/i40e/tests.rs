//! Device-level tests of the X710 personality: the register paths the driver
//! walks before the admin queue is alive.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use dma::DmaSpace;

use super::regs::*;
use super::test_support::{rd, wr};
use super::*;
use crate::irq::IrqSink;

const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

/// Counts MSI-X messages per vector (vectors 0 and 1 are enough here).
#[derive(Default)]
struct CountingIrq {
    fired: [AtomicU32; 2],
}

impl IrqSink for CountingIrq {
    fn msix(&self, vector: u16) -> bool {
        if let Some(c) = self.fired.get(usize::from(vector)) {
            c.fetch_add(1, Ordering::SeqCst);
        }
        true
    }
    fn msix_enabled(&self) -> bool {
        true
    }
    fn legacy(&self, _asserted: bool) {}
}

fn device() -> (I40e, Arc<DmaSpace>, Arc<CountingIrq>) {
    let dma = Arc::new(DmaSpace::new());
    let irq = Arc::new(CountingIrq::default());
    let dev = I40e::new(
        I40eConfig {
            mac: MAC,
            timing: Default::default(),
        },
        dma.clone(),
        irq.clone(),
        Box::new(crate::NullSink),
    );
    (dev, dma, irq)
}

#[test]
fn config_space_puts_capabilities_where_the_drivers_look() {
    let (dev, _, _) = device();
    let mut b = [0u8; 4];
    dev.config_read(0, &mut b);
    assert_eq!(u32::from_le_bytes(b), 0x1572_8086);
    let mut cap = [0u8; 1];
    dev.config_read(0x34, &mut cap);
    let mut at = usize::from(cap[0]);
    let mut found = Vec::new();
    while at != 0 {
        let mut h = [0u8; 2];
        dev.config_read(at as u64, &mut h);
        found.push((h[0], at));
        at = usize::from(h[1]);
    }
    assert_eq!(
        found,
        vec![(0x01, 0x40), (0x05, 0x50), (0x11, 0x70), (0x10, 0xA0)]
    );
    let mut rev = [0u8; 1];
    dev.config_read(8, &mut rev);
    assert!(rev[0] >= 1, "revision 0 makes Linux trigger a CORER");
}

#[test]
fn reset_values_are_what_probe_needs() {
    let (mut dev, _, _) = device();
    assert_eq!(rd(&mut dev, GLGEN_RSTAT) & 3, 0);
    assert_eq!(rd(&mut dev, GLNVM_ULD) & 0x18, 0x18);
    assert_eq!(rd(&mut dev, GL_FWSTS) & 0x00FF_0000, 0);
    assert_ne!(rd(&mut dev, GLNVM_FLA) & (1 << 6), 0);
    let qalloc = rd(&mut dev, PFLAN_QALLOC);
    assert_eq!(((qalloc >> 16) & 0x7FF) + 1, QUEUES as u32);
    assert_eq!(rd(&mut dev, GLHMC_LANTXOBJSZ), 7);
    assert_eq!(rd(&mut dev, GLHMC_LANRXOBJSZ), 5);
}

#[test]
fn pf_software_reset_completes_at_once_and_clears_state() {
    let (mut dev, _, _) = device();
    wr(&mut dev, PFINT_ICR0_ENA, 0xFFFF_FFFF);
    wr(&mut dev, PFGEN_CTRL, PFGEN_CTRL_PFSWR);
    assert_eq!(rd(&mut dev, PFGEN_CTRL) & PFGEN_CTRL_PFSWR, 0);
    assert_eq!(rd(&mut dev, PFINT_ICR0_ENA), 0);
    assert_eq!(dev.counters().resets, 1);
}

/// The NVM read sequence of `i40e_read_nvm_word_srctl`, and the driver's checksum.
#[test]
fn shadow_ram_reads_through_srctl_and_checksums_to_baba() {
    let (mut dev, _, _) = device();
    let words = 2048;
    let mut data = Vec::new();
    for addr in 0..words {
        assert_ne!(rd(&mut dev, GLNVM_SRCTL) & GLNVM_SRCTL_DONE, 0);
        wr(&mut dev, GLNVM_SRCTL, (addr << 14) | GLNVM_SRCTL_START);
        assert_ne!(rd(&mut dev, GLNVM_SRCTL) & GLNVM_SRCTL_DONE, 0);
        data.push((rd(&mut dev, GLNVM_SRDATA) >> 16) as u16);
    }
    assert_eq!(data[0] & 0xC0, 0x40);
    let (vpd, alt) = (usize::from(data[0x2F]), usize::from(data[0x3E]));
    let mut sum = 0u16;
    for (i, w) in data.iter().enumerate() {
        if i == 0x3F || (vpd..vpd + 512).contains(&i) || (alt..alt + 512).contains(&i) {
            continue;
        }
        sum = sum.wrapping_add(*w);
    }
    assert_eq!(0xBABAu16.wrapping_sub(sum), data[0x3F]);
    // Past the end: no DONE, the driver's read times out.
    wr(&mut dev, GLNVM_SRCTL, (words << 14) | GLNVM_SRCTL_START);
    assert_eq!(rd(&mut dev, GLNVM_SRCTL) & GLNVM_SRCTL_DONE, 0);
    assert_eq!(dev.counters().nvm_bad_reads, 1);
}

#[test]
fn queue_enable_reads_the_context_from_the_hmc() {
    let (mut dev, dma, _) = device();
    dma.map_anonymous(0, 8 << 20).unwrap();
    // One direct segment at 2 MiB; Tx contexts at FPM 0, Rx contexts at FPM 0x4000.
    wr(&mut dev, PFHMC_SDDATAHIGH, 0);
    wr(&mut dev, PFHMC_SDDATALOW, 0x20_0000 | (512 << 2) | 3);
    wr(&mut dev, PFHMC_SDCMD, 1 << 31);
    wr(&mut dev, GLHMC_LANTXBASE, 0);
    wr(&mut dev, GLHMC_LANRXBASE, 0x4000 / 512);
    // Tx queue 2: base 0x10000 (in 128-byte units at bit 32), qlen 256 at bit 161.
    let mut ctx = [0u8; 128];
    let base = 0x10000u64 >> 7;
    ctx[4..12].copy_from_slice(&base.to_le_bytes());
    let qlen_bits = 256u32 << 1; // bit 161 = byte 20 bit 1
    ctx[20..24].copy_from_slice(&qlen_bits.to_le_bytes());
    dma.write(0x20_0000 + 2 * 128, &ctx).unwrap();
    wr(&mut dev, QTX_ENA + 8, QENA_REQ);
    assert_eq!(rd(&mut dev, QTX_ENA + 8), QENA_REQ | QENA_STAT);
    let t = dev.txq[2].ctx.unwrap();
    assert_eq!((t.base, t.qlen), (0x10000, 256));
    // Rx queue 1 without a segment behind its context area: stays disabled.
    wr(&mut dev, PFHMC_SDCMD, 0);
    wr(&mut dev, GLHMC_LANRXBASE, (4 << 20) / 512);
    wr(&mut dev, QRX_ENA + 4, QENA_REQ);
    assert_eq!(rd(&mut dev, QRX_ENA + 4) & QENA_STAT, 0);
    assert_eq!(dev.counters().hmc_errors, 1);
    // Disabling clears STAT.
    wr(&mut dev, QTX_ENA + 8, 0);
    assert_eq!(rd(&mut dev, QTX_ENA + 8), 0);
}

#[test]
fn software_interrupt_on_vector_0_sets_swint_and_auto_masks() {
    let (mut dev, _, irq) = device();
    // The ethtool interrupt test: INTENA | SWINT_TRIG | ITR_INDX.
    wr(
        &mut dev,
        PFINT_DYN_CTL0,
        DYN_CTL_INTENA | DYN_CTL_SWINT_TRIG | (3 << 3),
    );
    assert_eq!(irq.fired[0].load(Ordering::SeqCst), 1);
    let icr = rd(&mut dev, PFINT_ICR0);
    assert_eq!(
        icr & (ICR0_SWINT | ICR0_INTEVENT),
        ICR0_SWINT | ICR0_INTEVENT
    );
    assert_eq!(rd(&mut dev, PFINT_ICR0), 0, "read to clear");
    assert_eq!(
        rd(&mut dev, PFINT_DYN_CTL0) & DYN_CTL_INTENA,
        0,
        "auto-masked"
    );
    // A cause while masked waits for INTENA.
    wr(&mut dev, PFINT_ICR0_ENA, ICR0_ADMINQ);
    dev.raise_misc(ICR0_ADMINQ);
    assert_eq!(irq.fired[0].load(Ordering::SeqCst), 1);
    // INTENA_MSK leaves INTENA alone.
    wr(
        &mut dev,
        PFINT_DYN_CTL0,
        DYN_CTL0_INTENA_MSK | DYN_CTL_INTENA,
    );
    assert_eq!(irq.fired[0].load(Ordering::SeqCst), 1);
    wr(&mut dev, PFINT_DYN_CTL0, DYN_CTL_INTENA);
    assert_eq!(irq.fired[0].load(Ordering::SeqCst), 2);
}

#[test]
fn queue_causes_route_by_msix_index() {
    let (mut dev, _, irq) = device();
    wr(&mut dev, QINT_RQCTL + 4 * 3, QINT_CAUSE_ENA | 1);
    wr(&mut dev, PFINT_DYN_CTLN, DYN_CTL_INTENA);
    dev.raise_queue(QINT_RQCTL + 4 * 3);
    assert_eq!(irq.fired[1].load(Ordering::SeqCst), 1);
    // Without CAUSE_ENA nothing fires.
    wr(&mut dev, QINT_RQCTL + 4 * 3, 1);
    wr(&mut dev, PFINT_DYN_CTLN, DYN_CTL_INTENA);
    dev.raise_queue(QINT_RQCTL + 4 * 3);
    assert_eq!(irq.fired[1].load(Ordering::SeqCst), 1);
}

#[test]
fn the_register_map_doc_is_generated_from_the_table() {
    crate::docgen::check_generated_section(
        "i40e-registers",
        &register_map_markdown(),
        "docs/register-map.md's X710 table is stale: run TUNIC_UPDATE_DOCS=1 cargo test -p device-model --lib register_map_doc",
    );
}
