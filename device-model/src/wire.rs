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

    /// Whether the wire can take another packet now. A device asks before it
    /// fetches the next packet's descriptors and stops its queue when it cannot,
    /// as a MAC whose Tx buffer is full does: back-pressure, never loss.
    fn has_room(&self) -> bool {
        true
    }

    /// Who to call when the wire has room again after `has_room` said no (the
    /// port's worker, which resumes the device's stopped queues).
    fn on_room(&mut self, _kick: RoomKick) {}
}

/// Called when a full wire has room again.
pub type RoomKick = std::sync::Arc<dyn Fn() + Send + Sync>;

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

/// IEEE 802.3 MAC control (EtherType 0x8808): PAUSE and its kin, which a MAC
/// acts on as they arrive, even while its receive buffer holds data frames back.
pub const ETHERTYPE_MAC_CONTROL: u16 = 0x8808;

/// Whether `frame` is a MAC control frame (never VLAN-tagged, by 802.3 Annex 31A).
pub fn is_mac_control(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&ETHERTYPE_MAC_CONTROL.to_be_bytes()[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_control_is_told_by_its_ethertype_and_short_frames_are_not() {
        let mut f = [0u8; 60];
        f[12..14].copy_from_slice(&[0x88, 0x08]);
        assert!(is_mac_control(&f));
        f[13] = 0x00;
        assert!(!is_mac_control(&f));
        assert!(!is_mac_control(&[0x88; 13]));
    }
}
