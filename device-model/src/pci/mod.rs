//! PCI configuration space as data: bytes, a writable mask and a
//! write-one-to-clear mask, with builders for the capabilities a PCIe NIC has.

mod config;

pub use config::{BarKind, ConfigSpace, PciIdentity, CONFIG_SPACE_SIZE};
