/// PCIe functions have 4 KiB of configuration space.
pub const CONFIG_SPACE_SIZE: usize = 4096;

const COMMAND: usize = 0x04;
const COMMAND_INTX_DISABLE: u16 = 1 << 10;
const STATUS: usize = 0x06;
const STATUS_INTX: u16 = 1 << 3;
const STATUS_CAP_LIST: u16 = 1 << 4;
const CAP_PTR: usize = 0x34;

/// Who the function says it is.
#[derive(Debug, Clone, Copy)]
pub struct PciIdentity {
    pub vendor: u16,
    pub device: u16,
    pub revision: u8,
    /// Base class, sub-class, programming interface.
    pub class: [u8; 3],
    pub subsystem_vendor: u16,
    pub subsystem: u16,
}

/// What a base address register decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    Mem32,
    Mem64,
    Io,
}

/// The bytes of configuration space and which bits the guest may change.
pub struct ConfigSpace {
    bytes: Box<[u8; CONFIG_SPACE_SIZE]>,
    writable: Box<[u8; CONFIG_SPACE_SIZE]>,
    write1_clear: Box<[u8; CONFIG_SPACE_SIZE]>,
    next_cap: usize,
    last_cap: Option<usize>,
    /// Where the MSI and MSI-X capabilities are, for their enable bits.
    msi_cap: Option<usize>,
    msix_cap: Option<usize>,
}

impl ConfigSpace {
    pub fn new(id: PciIdentity) -> Self {
        let mut c = Self {
            bytes: Box::new([0; CONFIG_SPACE_SIZE]),
            writable: Box::new([0; CONFIG_SPACE_SIZE]),
            write1_clear: Box::new([0; CONFIG_SPACE_SIZE]),
            next_cap: 0x40,
            last_cap: None,
            msi_cap: None,
            msix_cap: None,
        };
        c.set16(0x00, id.vendor);
        c.set16(0x02, id.device);
        // Command: I/O, memory, bus master, parity, SERR, INTx disable.
        c.set_writable16(0x04, 0x0547);
        // Status error bits are write-one-to-clear.
        c.write1_clear[STATUS + 1] = 0xf9;
        c.bytes[0x08] = id.revision;
        c.bytes[0x09] = id.class[2];
        c.bytes[0x0a] = id.class[1];
        c.bytes[0x0b] = id.class[0];
        c.set_writable8(0x0c, 0xff); // cache line size
        c.set_writable8(0x0d, 0xff); // latency timer
        c.set16(0x2c, id.subsystem_vendor);
        c.set16(0x2e, id.subsystem);
        c.set_writable8(0x3c, 0xff); // interrupt line
        c.bytes[0x3d] = 1; // INTA#
        c
    }

    pub fn set8(&mut self, off: usize, v: u8) {
        self.bytes[off] = v;
    }
    pub fn set16(&mut self, off: usize, v: u16) {
        self.bytes[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }
    pub fn set32(&mut self, off: usize, v: u32) {
        self.bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    pub fn get16(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.bytes[off], self.bytes[off + 1]])
    }
    pub fn get32(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.bytes[off..off + 4].try_into().unwrap_or([0; 4]))
    }
    fn set_writable8(&mut self, off: usize, mask: u8) {
        self.writable[off] = mask;
    }
    fn set_writable16(&mut self, off: usize, mask: u16) {
        self.writable[off..off + 2].copy_from_slice(&mask.to_le_bytes());
    }
    fn set_writable32(&mut self, off: usize, mask: u32) {
        self.writable[off..off + 4].copy_from_slice(&mask.to_le_bytes());
    }

    /// Declares BAR `index` with `size` bytes (a power of two).
    pub fn bar(&mut self, index: usize, kind: BarKind, size: u32) {
        let off = 0x10 + 4 * index;
        let (flags, low_mask) = match kind {
            BarKind::Mem32 => (0x0, 0xf),
            BarKind::Mem64 => (0x4, 0xf),
            BarKind::Io => (0x1, 0x3),
        };
        self.set32(off, flags);
        self.set_writable32(off, !(size.max(low_mask + 1) - 1));
        if kind == BarKind::Mem64 {
            self.set_writable32(off + 4, 0xffff_ffff);
        }
    }

    /// Size in bytes of a BAR's decode, from its writable mask (0: absent).
    pub fn bar_mask(&self, index: usize) -> u32 {
        let off = 0x10 + 4 * index;
        u32::from_le_bytes(self.writable[off..off + 4].try_into().unwrap_or([0; 4]))
    }

    /// Appends a capability of `len` bytes with `id`; returns its offset.
    fn add_cap(&mut self, id: u8, len: usize) -> usize {
        let off = self.next_cap;
        self.bytes[off] = id;
        self.bytes[off + 1] = 0;
        match self.last_cap {
            None => {
                self.bytes[CAP_PTR] = off as u8;
                let st = self.get16(STATUS) | STATUS_CAP_LIST;
                self.set16(STATUS, st);
            }
            Some(prev) => self.bytes[prev + 1] = off as u8,
        }
        self.last_cap = Some(off);
        self.next_cap = (off + len + 3) & !3;
        off
    }

    /// Puts the next capability at `off` (dword aligned, past the last one), for
    /// devices whose drivers expect capabilities at the silicon's fixed offsets.
    pub fn place_next_cap(&mut self, off: usize) {
        if off >= self.next_cap && off.is_multiple_of(4) && off < 0x100 {
            self.next_cap = off;
        }
    }

    /// PCI power management, D0/D3hot.
    pub fn add_power_management(&mut self) -> usize {
        let off = self.add_cap(0x01, 8);
        self.set16(off + 2, 0x0003 | (1 << 3)); // version 3, PME clock off, DSI off
        self.set_writable16(off + 4, 0x0103); // power state, PME enable
        self.write1_clear[off + 5] = 0x80; // PME status
        off
    }

    /// 64-bit MSI with per-vector masking and `vectors` (power of two) messages.
    pub fn add_msi(&mut self, vectors: u8) -> usize {
        let off = self.add_cap(0x05, 24);
        let mmc = vectors.max(1).trailing_zeros() as u16;
        self.set16(off + 2, (mmc << 1) | (1 << 7) | (1 << 8));
        self.set_writable16(off + 2, 0x0071); // enable, multiple message enable
        self.set_writable32(off + 4, 0xffff_fffc);
        self.set_writable32(off + 8, 0xffff_ffff);
        self.set_writable16(off + 12, 0xffff);
        self.set_writable32(off + 16, 0xffff_ffff); // mask bits
        self.msi_cap = Some(off);
        off
    }

    /// MSI-X with `vectors` entries; table and PBA in the given BARs.
    pub fn add_msix(
        &mut self,
        vectors: u16,
        table_bar: u8,
        table_off: u32,
        pba_bar: u8,
        pba_off: u32,
    ) -> usize {
        let off = self.add_cap(0x11, 12);
        self.set16(off + 2, vectors.saturating_sub(1) & 0x7ff);
        self.set_writable16(off + 2, 0xc000); // enable, function mask
        self.set32(off + 4, table_off | u32::from(table_bar & 7));
        self.set32(off + 8, pba_off | u32::from(pba_bar & 7));
        self.msix_cap = Some(off);
        off
    }

    /// A vendor-specific capability (ID 0x09). `body` is what follows the ID, next
    /// pointer and length bytes; the length byte covers the whole capability.
    pub fn add_vendor_specific(&mut self, body: &[u8]) -> usize {
        let len = body.len() + 3;
        let off = self.add_cap(0x09, len);
        self.bytes[off + 2] = len as u8;
        self.bytes[off + 3..off + len].copy_from_slice(body);
        off
    }

    /// A PCIe v2 endpoint capability reporting a `gen`/`width` link.
    pub fn add_pcie_endpoint(&mut self, gen: u8, width: u8, max_payload: u16) -> usize {
        let off = self.add_cap(0x10, 0x3c);
        self.set16(off + 2, 0x0002); // version 2, endpoint
        let mps = (max_payload.max(128) / 128).trailing_zeros();
        // Device capabilities: max payload, FLR capable, role-based error reporting.
        self.set32(off + 4, mps | (1 << 15) | (1 << 28));
        // Device control: error reporting, relaxed ordering, MPS, no snoop, MRRS; FLR is bit 15.
        self.set16(off + 8, 0x2810);
        self.set_writable16(off + 8, 0xfcff);
        self.write1_clear[off + 10] = 0x0f; // device status error bits
        let link = u32::from(gen & 0xf) | (u32::from(width & 0x3f) << 4) | (1 << 10);
        self.set32(off + 12, link); // link capabilities: speed, width, L0s
        self.set_writable16(off + 16, 0x01c3); // link control
        self.set16(
            off + 18,
            u16::from(gen & 0xf) | (u16::from(width & 0x3f) << 4) | (1 << 12),
        );
        // Device capabilities 2: completion timeout ranges A-D, disable supported.
        self.set32(off + 0x24, 0x1f);
        self.set_writable16(off + 0x28, 0x001f);
        self.set32(off + 0x2c, u32::from(gen & 0xf) << 1); // link cap 2: supported speeds vector
        self.set16(off + 0x30, u16::from(gen & 0xf)); // link control 2: target speed
        self.set_writable16(off + 0x30, 0x000f);
        off
    }

    /// Reads up to the end of config space; bytes past it read as 0xff.
    pub fn read(&self, off: u64, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = off
                .checked_add(i as u64)
                .and_then(|o| self.bytes.get(o as usize).copied())
                .unwrap_or(0xff);
        }
    }

    /// Applies a guest write through the writable and write-one-to-clear masks.
    /// Returns the config offsets of any dword whose value changed (for side effects).
    pub fn write(&mut self, off: u64, data: &[u8]) -> bool {
        let mut changed = false;
        for (i, &v) in data.iter().enumerate() {
            let Some(o) = off.checked_add(i as u64).map(|o| o as usize) else {
                break;
            };
            if o >= CONFIG_SPACE_SIZE {
                break;
            }
            let old = self.bytes[o];
            let mask = self.writable[o];
            let mut new = (old & !mask) | (v & mask);
            new &= !(v & self.write1_clear[o]);
            if new != old {
                changed = true;
            }
            self.bytes[o] = new;
        }
        changed
    }

    /// Records whether the function's INTx condition holds: Status bit 3 (Interrupt
    /// Status, PCI 2.3) shows it whether or not Command bit 10 masks the pin, so a
    /// driver that masks the line itself (`uio_pci_generic`) can tell its interrupt.
    /// Returns whether the pin may be asserted: the condition holds, the guest has not
    /// disabled INTx, and neither MSI nor MSI-X has taken over (the legacy sink then
    /// signals those instead, whatever Command bit 10 says).
    pub fn intx_condition(&mut self, pending: bool) -> bool {
        let st = self.get16(STATUS);
        let st = if pending {
            st | STATUS_INTX
        } else {
            st & !STATUS_INTX
        };
        self.set16(STATUS, st);
        pending && (!self.intx_disabled() || self.msi_enabled() || self.msix_enabled())
    }

    /// Command register bit 10: the guest masked the INTx pin.
    pub fn intx_disabled(&self) -> bool {
        self.get16(COMMAND) & COMMAND_INTX_DISABLE != 0
    }

    fn msi_enabled(&self) -> bool {
        self.msi_cap.is_some_and(|o| self.get16(o + 2) & 1 != 0)
    }

    fn msix_enabled(&self) -> bool {
        self.msix_cap
            .is_some_and(|o| self.get16(o + 2) & 0x8000 != 0)
    }

    /// Command register bit 2: the function may master the bus (DMA).
    pub fn bus_master(&self) -> bool {
        self.get16(0x04) & 0x4 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> PciIdentity {
        PciIdentity {
            vendor: 0x8086,
            device: 0x10c9,
            revision: 1,
            class: [2, 0, 0],
            subsystem_vendor: 0x8086,
            subsystem: 0xa02c,
        }
    }

    #[test]
    fn identity_and_capability_chain() {
        let mut c = ConfigSpace::new(id());
        let pm = c.add_power_management();
        let msi = c.add_msi(1);
        let msix = c.add_msix(25, 3, 0, 3, 0x2000);
        let pcie = c.add_pcie_endpoint(1, 4, 256);
        assert_eq!(c.get32(0), 0x10c9_8086);
        assert_eq!(c.bytes[CAP_PTR] as usize, pm);
        assert_eq!(c.bytes[pm + 1] as usize, msi);
        assert_eq!(c.bytes[msi + 1] as usize, msix);
        assert_eq!(c.bytes[msix + 1] as usize, pcie);
        assert_eq!(c.bytes[pcie + 1], 0);
        assert_eq!(c.get16(msix + 2) & 0x7ff, 24);
        assert_ne!(c.get16(STATUS) & STATUS_CAP_LIST, 0);
    }

    #[test]
    fn read_only_bits_hold_and_out_of_range_reads_ff() {
        let mut c = ConfigSpace::new(id());
        c.write(0, &[0, 0, 0, 0]);
        assert_eq!(c.get32(0), 0x10c9_8086);
        c.write(4, &[0x06, 0]);
        assert!(c.bus_master());
        let mut b = [0u8; 4];
        c.read(4094, &mut b);
        assert_eq!(b, [0, 0, 0xff, 0xff]);
        c.read(u64::MAX, &mut b);
        assert_eq!(b, [0xff; 4]);
        c.write(u64::MAX - 1, &[1, 2, 3, 4]);
    }

    #[test]
    fn vendor_specific_capability_carries_its_length_and_body() {
        let mut c = ConfigSpace::new(id());
        let a = c.add_vendor_specific(&[1, 2, 3, 4, 5]);
        let b = c.add_vendor_specific(&[9; 17]);
        assert_eq!(c.bytes[a], 0x09);
        assert_eq!(c.bytes[a + 1] as usize, b);
        assert_eq!(c.bytes[a + 2], 8);
        assert_eq!(&c.bytes[a + 3..a + 8], &[1, 2, 3, 4, 5]);
        assert_eq!(c.bytes[b + 2], 20);
        assert_eq!(b % 4, 0);
    }

    #[test]
    fn bar_sizing_mask() {
        let mut c = ConfigSpace::new(id());
        c.bar(0, BarKind::Mem32, 128 * 1024);
        c.write(0x10, &[0xff; 4]);
        assert_eq!(c.get32(0x10), 0xfffe_0000);
        assert_eq!(c.bar_mask(0), 0xfffe_0000);
    }

    #[test]
    fn intx_status_shows_the_condition_and_command_masks_the_pin() {
        let mut c = ConfigSpace::new(id());
        assert!(c.intx_condition(true));
        assert_ne!(c.get16(STATUS) & STATUS_INTX, 0);
        // The guest masks INTx: the status still shows the condition, the pin stays low.
        c.write(COMMAND as u64, &[0x06, 0x04]);
        assert!(!c.intx_condition(true));
        assert_ne!(c.get16(STATUS) & STATUS_INTX, 0);
        // Status bit 3 is read-only: writing ones does not clear it.
        c.write(STATUS as u64, &[0x08, 0]);
        assert_ne!(c.get16(STATUS) & STATUS_INTX, 0);
        assert!(!c.intx_condition(false));
        assert_eq!(c.get16(STATUS) & STATUS_INTX, 0);
        // With MSI enabled the legacy sink signals MSI whatever bit 10 says.
        let msi = c.add_msi(1);
        c.write(msi as u64 + 2, &[0x01, 0]);
        assert!(c.intx_condition(true));
    }
}
