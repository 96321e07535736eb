//! Offload engine throughput: the checksum and segmentation datapaths and the
//! fixed work of building each segment's headers.

use super::time::{DeviceClock, Picos};

/// Engine widths and fixed costs, in device clock cycles. These are modelling
/// choices (the 82576 datasheet publishes no datapath widths); see docs/timing.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineCosts {
    /// Bytes the checksum unit consumes per cycle.
    pub checksum_bytes_per_cycle: u32,
    /// Bytes the segmentation unit moves per cycle.
    pub segmentation_bytes_per_cycle: u32,
    /// Cycles to emit one segment's header: copy, patch lengths, IDs, sequence
    /// numbers and flags.
    pub segment_header_cycles: u32,
}

impl Default for EngineCosts {
    /// A 64-byte datapath: at 250 MHz it moves 128 Gb/s, so by default the engines
    /// never bound a 100 Gb/s port and the wire or PCIe does.
    fn default() -> Self {
        EngineCosts {
            checksum_bytes_per_cycle: 64,
            segmentation_bytes_per_cycle: 64,
            segment_header_cycles: 8,
        }
    }
}

impl EngineCosts {
    /// Time the datapath is busy streaming `bytes` through the enabled units. The
    /// units work side by side on the same stream, so the slower one sets the pace.
    pub fn stream(&self, clock: DeviceClock, bytes: u64, checksum: bool, segment: bool) -> Picos {
        let cycles = |per_cycle: u32| bytes.div_ceil(u64::from(per_cycle).max(1));
        let checksum_cycles = if checksum {
            cycles(self.checksum_bytes_per_cycle)
        } else {
            0
        };
        let segment_cycles = if segment {
            cycles(self.segmentation_bytes_per_cycle)
        } else {
            0
        };
        clock.cycles(checksum_cycles.max(segment_cycles))
    }

    /// Time to build `segments` segment headers.
    pub fn headers(&self, clock: DeviceClock, segments: u64) -> Picos {
        clock.cycles(segments.saturating_mul(u64::from(self.segment_header_cycles)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_rounds_up_to_whole_cycles() {
        let e = EngineCosts::default();
        let clock = DeviceClock::default();
        assert_eq!(e.stream(clock, 60, true, false), Picos::from_ns(4));
        assert_eq!(e.stream(clock, 65, true, true), Picos::from_ns(8));
        assert_eq!(e.stream(clock, 65, false, false), Picos::ZERO);
        assert_eq!(e.headers(clock, 3), Picos::from_ns(96));
    }

    #[test]
    fn zero_width_is_one_byte_per_cycle() {
        let e = EngineCosts {
            checksum_bytes_per_cycle: 0,
            ..EngineCosts::default()
        };
        assert_eq!(
            e.stream(DeviceClock::default(), 3, true, false),
            Picos::from_ns(12)
        );
    }
}
