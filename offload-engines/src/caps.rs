//! What a NIC advertises for NVGRE offloads and whether it is switched on
//!
//!
//! Per offload (Tx checksum, Rx checksum, LSO, RSS, VMQ) the NIC advertises which
//! encapsulated IP versions it handles, as a bitmask, and the longest header stack it
//! can process. A feature is off until the host turns it on; a host that
//! turns it off must see packets already handed over finished under the old state
//! . Personalities keep one [`OffloadState`] per offload and ask it before
//! handing a frame to an engine.

use crate::parse::{IpVersion, Parsed};

/// The R-50 bits: which IP versions, inner and outer, an offload handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncapMask(pub u8);

impl EncapMask {
    pub const INNER_IPV4: Self = Self(1);
    pub const OUTER_IPV4: Self = Self(2);
    pub const INNER_IPV6: Self = Self(4);
    pub const OUTER_IPV6: Self = Self(8);
    pub const ALL: Self = Self(0xf);

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// An offload's advertised capability: the encapsulations it covers and the
/// longest header (frame start to the end of the innermost L4 header) it processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    pub encap: EncapMask,
    pub max_header_len: usize,
}

impl Default for Capability {
    /// NDIS's suggested 256-byte header limit, every IP mix.
    fn default() -> Self {
        Self {
            encap: EncapMask::ALL,
            max_header_len: crate::segment::MAX_HEADER_LEN,
        }
    }
}

impl Capability {
    /// Whether this capability covers `p`. A frame without a tunnel needs nothing
    /// from the mask (the base offload governs it); an NVGRE frame needs its outer
    /// and inner IP versions both advertised (R-31: found independently), and its
    /// headers within the limit.
    pub fn covers(&self, p: &Parsed) -> bool {
        if p.headers_end() > self.max_header_len {
            return false;
        }
        let Some(inner) = p.inner.as_ref() else {
            return true;
        };
        let bit = |ip: Option<IpVersion>, v4: EncapMask, v6: EncapMask| match ip {
            Some(IpVersion::V4) => self.encap.contains(v4),
            Some(IpVersion::V6) => self.encap.contains(v6),
            None => true,
        };
        bit(
            p.outer.ip.map(|i| i.version),
            EncapMask::OUTER_IPV4,
            EncapMask::OUTER_IPV6,
        ) && bit(
            inner.ip.map(|i| i.version),
            EncapMask::INNER_IPV4,
            EncapMask::INNER_IPV6,
        )
    }
}

/// The host's on/off switch for one offload, with the packets in flight.
#[derive(Debug, Default, Clone)]
pub struct OffloadState {
    capability: Capability,
    enabled: bool,
    /// Set while a disable waits for packets handed over before it.
    disable_pending: bool,
    in_flight: u64,
}

impl OffloadState {
    pub fn new(capability: Capability) -> Self {
        Self {
            capability,
            ..Self::default()
        }
    }

    pub fn capability(&self) -> Capability {
        self.capability
    }

    /// The host turns the offload on: takes effect at once.
    pub fn enable(&mut self) {
        self.enabled = true;
        self.disable_pending = false;
    }

    /// The host turns it off: new packets no longer get it at once, and the change is
    /// complete once the packets already accepted are finished (see [`Self::settled`]).
    pub fn disable(&mut self) {
        self.enabled = false;
        self.disable_pending = self.in_flight > 0;
    }

    /// A packet handed over now: whether it gets the offload. One that does must be
    /// reported back through [`Self::finish`].
    pub fn admit(&mut self, p: &Parsed) -> bool {
        let yes = self.enabled && self.capability.covers(p);
        if yes {
            self.in_flight += 1;
        }
        yes
    }

    /// A packet admitted with the offload is done (sent, segmented, dropped).
    pub fn finish(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.disable_pending = false;
        }
    }

    /// True when no disable is still waiting for packets in flight.
    pub fn settled(&self) -> bool {
        !self.disable_pending
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_headers;

    /// IPv4 / GRE (key, 0x6558) / Ethernet / IPv6 / TCP, built by hand.
    fn nvgre_v6_in_v4() -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&[
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 47, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[0x20, 0x00, 0x65, 0x58, 0x00, 0xc0, 0xde, 0x2a]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 3, 0x86, 0xdd]);
        let mut ip6 = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
        ip6.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip6.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&ip6);
        f.extend_from_slice(&[
            0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        let total = (f.len() - 14) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f
    }

    #[test]
    fn covers_only_advertised_ip_mixes_r50() {
        let p = parse_headers(&nvgre_v6_in_v4()).unwrap();
        assert!(p.inner.is_some());
        let all = Capability::default();
        assert!(all.covers(&p));
        let v4_only = Capability {
            encap: EncapMask::INNER_IPV4.union(EncapMask::OUTER_IPV4),
            ..all
        };
        assert!(!v4_only.covers(&p), "inner IPv6 is not advertised");
        let mixed = Capability {
            encap: EncapMask::INNER_IPV6.union(EncapMask::OUTER_IPV4),
            ..all
        };
        assert!(
            mixed.covers(&p),
            "outer and inner found independently (R-31)"
        );
        let short = Capability {
            max_header_len: 64,
            ..all
        };
        assert!(!short.covers(&p), "headers longer than advertised (R-13)");
    }

    #[test]
    fn off_until_enabled_and_disable_waits_for_in_flight_r51() {
        let p = parse_headers(&nvgre_v6_in_v4()).unwrap();
        let mut s = OffloadState::new(Capability::default());
        assert!(!s.admit(&p), "off until the host turns it on");
        s.enable();
        assert!(s.admit(&p));
        assert!(s.admit(&p));
        s.disable();
        assert!(!s.admit(&p), "no new packet gets it after disable");
        assert!(!s.settled(), "two packets still in flight");
        s.finish();
        assert!(!s.settled());
        s.finish();
        assert!(s.settled());
        s.finish();
        assert!(s.settled(), "extra finishes do not underflow");
    }
}
