//! How a device model raises interrupts, without knowing who delivers them.

/// Delivers interrupts for one PCI function.
///
/// The transport (vfio-user in `qemu-glue`) decides which mechanism is live:
/// MSI-X when the guest enabled it, else MSI, else INTx.
pub trait IrqSink: Send + Sync {
    /// Raises MSI-X vector `vector`. Returns false when that vector has no route.
    fn msix(&self, vector: u16) -> bool;
    /// True while the guest has MSI-X vectors routed (the device is in MSI-X mode).
    fn msix_enabled(&self) -> bool;
    /// Raises the MSI message, or asserts INTx when MSI is not set up.
    fn legacy(&self, asserted: bool);
}

/// An interrupt sink that drops everything: for tests and offline use.
#[derive(Default)]
pub struct NoIrq;

impl IrqSink for NoIrq {
    fn msix(&self, _vector: u16) -> bool {
        false
    }
    fn msix_enabled(&self) -> bool {
        false
    }
    fn legacy(&self, _asserted: bool) {}
}
