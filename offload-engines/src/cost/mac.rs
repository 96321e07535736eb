//! Ethernet MAC serialization: what a frame costs on the wire (IEEE 802.3).

use super::time::Picos;

/// Preamble bytes before the start frame delimiter.
pub const PREAMBLE: u64 = 7;
/// Start frame delimiter.
pub const SFD: u64 = 1;
/// Frame check sequence the MAC appends.
pub const FCS: u64 = 4;
/// Minimum inter-frame gap (96 bit times).
pub const IFG: u64 = 12;
/// Minimum frame, FCS included; shorter frames are padded.
pub const MIN_FRAME: u64 = 64;

/// Port speed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinkSpeed {
    /// 10BASE-T and 100BASE-TX: speeds a 1 Gb/s copper port negotiates down to,
    /// and slow enough that even an emulated guest can fill the link.
    Mbps10,
    Mbps100,
    /// The 82576's own speed.
    #[default]
    Gbps1,
    Gbps10,
    Gbps25,
    Gbps100,
}

impl LinkSpeed {
    /// The speeds `tunic bench timing` sweeps.
    pub const ALL: [LinkSpeed; 4] = [
        LinkSpeed::Gbps1,
        LinkSpeed::Gbps10,
        LinkSpeed::Gbps25,
        LinkSpeed::Gbps100,
    ];

    pub const fn bits_per_second(self) -> u64 {
        match self {
            LinkSpeed::Mbps10 => 10_000_000,
            LinkSpeed::Mbps100 => 100_000_000,
            LinkSpeed::Gbps1 => 1_000_000_000,
            LinkSpeed::Gbps10 => 10_000_000_000,
            LinkSpeed::Gbps25 => 25_000_000_000,
            LinkSpeed::Gbps100 => 100_000_000_000,
        }
    }

    /// One bit time: 100,000, 10,000, 1000, 100, 40 or 10 ps, all exact.
    pub const fn bit_time(self) -> Picos {
        Picos(1_000_000_000_000 / self.bits_per_second())
    }
}

/// Bytes a frame occupies on the wire, from preamble to the end of the following
/// inter-frame gap. `len_without_fcs` is what the device DMAs: destination MAC to
/// the end of the payload.
pub fn wire_bytes(len_without_fcs: u64) -> u64 {
    (len_without_fcs.saturating_add(FCS))
        .max(MIN_FRAME)
        .saturating_add(PREAMBLE + SFD + IFG)
}

/// Time the frame keeps the wire busy, inter-frame gap included, so that
/// back-to-back frames follow each other at exactly this period.
pub fn serialization_time(speed: LinkSpeed, len_without_fcs: u64) -> Picos {
    speed
        .bit_time()
        .saturating_mul(wire_bytes(len_without_fcs).saturating_mul(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_frame_is_84_bytes_on_the_wire() {
        assert_eq!(wire_bytes(60), 84);
        // Runts are padded to the 64-byte minimum.
        assert_eq!(wire_bytes(14), 84);
        assert_eq!(wire_bytes(1514), 1538);
    }

    #[test]
    fn serialization_at_each_speed() {
        assert_eq!(serialization_time(LinkSpeed::Gbps10, 60), Picos(67_200));
        assert_eq!(serialization_time(LinkSpeed::Gbps1, 60), Picos(672_000));
        assert_eq!(serialization_time(LinkSpeed::Gbps25, 60), Picos(26_880));
        assert_eq!(serialization_time(LinkSpeed::Gbps100, 1514), Picos(123_040));
        assert_eq!(serialization_time(LinkSpeed::Gbps1, u64::MAX), Picos::MAX);
    }
}
