//! Where a device puts the frames it transmits.

/// Receives every frame a port puts on its wire (no FCS).
pub trait FrameSink: Send {
    fn transmit(&mut self, frame: &[u8]);
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
