//! Guest memory as a device sees it.
//!
//! QEMU hands a vfio-user server its guest RAM as `DMA_MAP` messages: an fd
//! (a memfd), an offset into it, a guest physical address and a size. This
//! crate keeps those mappings and gives the device model bounds-checked reads
//! and writes by guest address. Every address comes from the guest and is
//! untrusted: an access that is not wholly inside mapped memory is refused,
//! counted and logged, and never touches host memory.

mod sg;
mod space;

pub use sg::{SgList, SgSegment};
pub use space::{DmaAccess, DmaDirection, DmaError, DmaSpace, DmaStats};
