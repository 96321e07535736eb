//! Where a device puts the frames it transmits.

use offload_engines::cost::Picos;

/// Receives every frame a port puts on its wire (no FCS).
pub trait FrameSink: Send {
    fn transmit(&mut self, frame: &[u8]);

    /// A timed device's frame with its modelled departure time (model time since
    /// the port's epoch). Sinks that do not care about time just transmit it.
    fn transmit_at(&mut self, frame: &[u8], _departure: Picos) {
        self.transmit(frame);
    }
}

/// A wire with nothing attached: frames vanish.
#[derive(Default)]
pub struct NullSink;

impl FrameSink for NullSink {
    fn transmit(&mut self, _frame: &[u8]) {}
}

impl<F: FnMut(&[u8]) + Send> FrameSink for F {
    fn transmit(&mut self, frame: &[u8]) {
        self(frame)
    }
}
