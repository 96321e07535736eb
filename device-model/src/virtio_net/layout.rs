//! Where the virtio-pci structures live: the capability types and the common
//! configuration layout of the virtio 1.x PCI transport (spec section 4.1.4), and
//! how tunic places them in its BARs.
//!
//! `virtio-bindings` covers the device types (net header, net config, rings) but has
//! no `virtio_pci` module, so the transport's numbers are spelled out here, each with
//! the name the spec and Linux's `uapi/linux/virtio_pci.h` give it.

/// `cfg_type` values of the virtio vendor capabilities.
pub const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
pub const VIRTIO_PCI_CAP_NOTIFY_CFG: u8 = 2;
pub const VIRTIO_PCI_CAP_ISR_CFG: u8 = 3;
pub const VIRTIO_PCI_CAP_DEVICE_CFG: u8 = 4;

/// "No MSI-X vector": what the driver writes to unmap, and what the device reads
/// back when it could not map the requested vector.
pub const VIRTIO_MSI_NO_VECTOR: u16 = 0xffff;

/// ISR status bits (read-to-clear), used only while MSI-X is off.
pub const ISR_QUEUE: u8 = 1 << 0;
pub const ISR_CONFIG: u8 = 1 << 1;

/// `struct virtio_pci_common_cfg` field offsets.
pub mod common {
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    pub const DEVICE_FEATURE: usize = 0x04;
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    pub const DRIVER_FEATURE: usize = 0x0c;
    pub const CONFIG_MSIX_VECTOR: usize = 0x10;
    pub const NUM_QUEUES: usize = 0x12;
    pub const DEVICE_STATUS: usize = 0x14;
    pub const CONFIG_GENERATION: usize = 0x15;
    pub const QUEUE_SELECT: usize = 0x16;
    pub const QUEUE_SIZE: usize = 0x18;
    pub const QUEUE_MSIX_VECTOR: usize = 0x1a;
    pub const QUEUE_ENABLE: usize = 0x1c;
    pub const QUEUE_NOTIFY_OFF: usize = 0x1e;
    pub const QUEUE_DESC: usize = 0x20;
    pub const QUEUE_DRIVER: usize = 0x28;
    pub const QUEUE_DEVICE: usize = 0x30;
    pub const QUEUE_NOTIFY_DATA: usize = 0x38;
    pub const QUEUE_RESET: usize = 0x3a;
    /// Bytes up to the end of `queue_reset`.
    pub const LEN: usize = 0x3c;

    /// Every field as (offset, width in bytes), in address order.
    pub const FIELDS: [(usize, usize); 18] = [
        (DEVICE_FEATURE_SELECT, 4),
        (DEVICE_FEATURE, 4),
        (DRIVER_FEATURE_SELECT, 4),
        (DRIVER_FEATURE, 4),
        (CONFIG_MSIX_VECTOR, 2),
        (NUM_QUEUES, 2),
        (DEVICE_STATUS, 1),
        (CONFIG_GENERATION, 1),
        (QUEUE_SELECT, 2),
        (QUEUE_SIZE, 2),
        (QUEUE_MSIX_VECTOR, 2),
        (QUEUE_ENABLE, 2),
        (QUEUE_NOTIFY_OFF, 2),
        (QUEUE_DESC, 8),
        (QUEUE_DRIVER, 8),
        (QUEUE_DEVICE, 8),
        (QUEUE_NOTIFY_DATA, 2),
        (QUEUE_RESET, 2),
    ];
}

/// BAR holding the virtio structures, as QEMU's own virtio-pci places them.
pub const VIRTIO_BAR: u8 = 4;
pub const VIRTIO_BAR_SIZE: u64 = 16 * 1024;
/// One 4 KiB page per structure, so a later sparse mmap could map any one alone.
pub const COMMON_OFFSET: u64 = 0x0000;
pub const ISR_OFFSET: u64 = 0x1000;
pub const DEVICE_CFG_OFFSET: u64 = 0x2000;
pub const NOTIFY_OFFSET: u64 = 0x3000;
pub const REGION_LEN: u64 = 0x1000;
/// Queue `q` is notified at `NOTIFY_OFFSET + q * NOTIFY_OFF_MULTIPLIER`.
pub const NOTIFY_OFF_MULTIPLIER: u32 = 4;

/// MSI-X table and PBA: QEMU's vfio-user client emulates them, the BAR only has to exist.
pub const MSIX_BAR: u8 = 1;
pub const MSIX_BAR_SIZE: u64 = 4 * 1024;
pub const MSIX_TABLE_OFFSET: u32 = 0;
pub const MSIX_PBA_OFFSET: u32 = 0x800;

/// The body of a `struct virtio_pci_cap` after ID, next pointer and length: cfg_type,
/// bar, id, two bytes of padding, offset and length (both little-endian).
pub fn cap_body(cfg_type: u8, offset: u64, length: u64) -> Vec<u8> {
    let mut b = vec![cfg_type, VIRTIO_BAR, 0, 0, 0];
    b.extend_from_slice(&(offset as u32).to_le_bytes());
    b.extend_from_slice(&(length as u32).to_le_bytes());
    b
}

/// `struct virtio_pci_notify_cap`: the plain capability plus the multiplier.
pub fn notify_cap_body(queues: u16) -> Vec<u8> {
    let len = u64::from(queues.max(1)) * u64::from(NOTIFY_OFF_MULTIPLIER);
    let mut b = cap_body(VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFFSET, len);
    b.extend_from_slice(&NOTIFY_OFF_MULTIPLIER.to_le_bytes());
    b
}
