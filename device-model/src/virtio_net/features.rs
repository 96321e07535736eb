//! Feature bits: what the device offers and what a driver may accept.

use virtio_bindings::virtio_config::{VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1};
use virtio_bindings::virtio_net::*;
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};

/// The mask of feature bit `b`. Feature bits go past 63 (the UDP tunnel
/// offloads are 65-68), so a feature set is 128 bits wide.
pub(crate) const fn bit(b: u32) -> u128 {
    1 << b
}

/// Segmentation of TCP or UDP inside a UDP tunnel (VXLAN, Geneve), and with the
/// outer UDP checksum too (virtio 1.4, 5.1.6.2; Linux 6.17+).
pub const VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO: u32 = 67;
pub const VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM: u32 = 68;
/// The receive-side counterparts: not offered, but they set the header length.
pub const VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO: u32 = 65;

/// Everything this device implements. Anything else a driver asks for is refused
/// at FEATURES_OK. A port offers all of it, or all but RING_PACKED (see [`offered`]).
pub const OFFERED: u128 = bit(VIRTIO_F_VERSION_1)
    | bit(VIRTIO_F_RING_PACKED)
    | bit(VIRTIO_RING_F_INDIRECT_DESC)
    | bit(VIRTIO_RING_F_EVENT_IDX)
    | bit(VIRTIO_NET_F_MAC)
    | bit(VIRTIO_NET_F_STATUS)
    | bit(VIRTIO_NET_F_MTU)
    | bit(VIRTIO_NET_F_SPEED_DUPLEX)
    | bit(VIRTIO_NET_F_CSUM)
    | bit(VIRTIO_NET_F_GUEST_CSUM)
    | bit(VIRTIO_NET_F_HOST_TSO4)
    | bit(VIRTIO_NET_F_HOST_TSO6)
    | bit(VIRTIO_NET_F_HOST_USO)
    | bit(VIRTIO_NET_F_MRG_RXBUF)
    | bit(VIRTIO_NET_F_CTRL_VQ)
    | bit(VIRTIO_NET_F_CTRL_RX)
    | bit(VIRTIO_NET_F_CTRL_VLAN)
    | bit(VIRTIO_NET_F_CTRL_MAC_ADDR)
    | bit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)
    | bit(VIRTIO_NET_F_MQ)
    | bit(VIRTIO_NET_F_RSS)
    | bit(VIRTIO_NET_F_HASH_REPORT)
    | bit(VIRTIO_NET_F_NOTF_COAL)
    | bit(VIRTIO_NET_F_DEVICE_STATS)
    | bit(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO)
    | bit(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM);

/// Features that only work through the control queue (5.1.3.1).
pub(crate) const NEED_CTRL_VQ: [u32; 9] = [
    VIRTIO_NET_F_NOTF_COAL,
    VIRTIO_NET_F_DEVICE_STATS,
    VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
    VIRTIO_NET_F_CTRL_RX,
    VIRTIO_NET_F_CTRL_VLAN,
    VIRTIO_NET_F_CTRL_MAC_ADDR,
    VIRTIO_NET_F_MQ,
    VIRTIO_NET_F_RSS,
    VIRTIO_NET_F_HASH_REPORT,
];

/// Segmentation offloads, which need checksum offload (5.1.3.1).
pub(crate) const NEED_CSUM: u128 = bit(VIRTIO_NET_F_HOST_TSO4)
    | bit(VIRTIO_NET_F_HOST_TSO6)
    | bit(VIRTIO_NET_F_HOST_USO)
    | bit(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO);

/// What the tunnel segmentation carries: TCP or UDP segmentation (5.1.3.1).
const TUNNEL_INNER: u128 =
    bit(VIRTIO_NET_F_HOST_TSO4) | bit(VIRTIO_NET_F_HOST_TSO6) | bit(VIRTIO_NET_F_HOST_USO);

/// The receive offloads the driver may switch at run time with
/// VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET (5.1.6.5.6): the GUEST_* feature bits.
pub(crate) const GUEST_OFFLOADS: u128 = bit(VIRTIO_NET_F_GUEST_CSUM)
    | bit(VIRTIO_NET_F_GUEST_TSO4)
    | bit(VIRTIO_NET_F_GUEST_TSO6)
    | bit(VIRTIO_NET_F_GUEST_ECN)
    | bit(VIRTIO_NET_F_GUEST_UFO)
    | bit(VIRTIO_NET_F_GUEST_USO4)
    | bit(VIRTIO_NET_F_GUEST_USO6);

/// What a port offers: packed rings only when asked for, since drivers use them
/// whenever offered, and split rings are what most devices (QEMU's among them) give.
pub const fn offered(packed_ring: bool) -> u128 {
    if packed_ring {
        OFFERED
    } else {
        OFFERED & !bit(VIRTIO_F_RING_PACKED)
    }
}

/// The features a driver wrote, accepted only once they pass [`Features::validate`].
#[derive(Debug, Clone, Copy)]
pub struct Features {
    pub device_select: u32,
    pub driver_select: u32,
    pub driver: u128,
    offered: u128,
    /// The guest offloads in force: the negotiated ones from FEATURES_OK on
    /// (5.1.6.5.6.1), then whatever the driver last set through the control queue.
    guest_offloads: u128,
}

impl Default for Features {
    fn default() -> Self {
        Self::new(OFFERED)
    }
}

impl Features {
    pub fn new(offered: u128) -> Self {
        Self {
            device_select: 0,
            driver_select: 0,
            driver: 0,
            offered,
            guest_offloads: 0,
        }
    }

    /// The 32 offered bits selected by `device_feature_select` (0 past bit 127).
    pub fn device_word(&self) -> u32 {
        word(self.offered, self.device_select)
    }

    pub fn driver_word(&self) -> u32 {
        word(self.driver, self.driver_select)
    }

    /// Stores the selected 32 bits of the driver's features; words past 127 are
    /// ignored since nothing is offered there.
    pub fn set_driver_word(&mut self, v: u32) {
        if self.driver_select < 4 {
            let shift = 32 * self.driver_select;
            self.driver = (self.driver & !(0xffff_ffff_u128 << shift)) | (u128::from(v) << shift);
        }
    }

    /// Whether the driver's set may be accepted: only offered bits, a modern driver
    /// (VERSION_1: tunic has no legacy interface), and the dependencies the spec lists
    /// (5.1.3.1) for what is offered.
    pub fn validate(&self) -> Result<(), &'static str> {
        let d = self.driver;
        if d & !self.offered != 0 {
            return Err("driver accepted a feature that was not offered");
        }
        if d & bit(VIRTIO_F_VERSION_1) == 0 {
            return Err("legacy drivers are not supported (VERSION_1 missing)");
        }
        if d & NEED_CSUM != 0 && d & bit(VIRTIO_NET_F_CSUM) == 0 {
            return Err("HOST_TSO4/6, HOST_USO and HOST_UDP_TUNNEL_GSO require CSUM");
        }
        if d & bit(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO) != 0 && d & TUNNEL_INNER == 0 {
            return Err("HOST_UDP_TUNNEL_GSO requires HOST_TSO4, HOST_TSO6 or HOST_USO");
        }
        if d & bit(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM) != 0
            && d & bit(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO) == 0
        {
            return Err("HOST_UDP_TUNNEL_GSO_CSUM requires HOST_UDP_TUNNEL_GSO");
        }
        if d & bit(VIRTIO_NET_F_CTRL_VQ) == 0 && NEED_CTRL_VQ.iter().any(|&f| d & bit(f) != 0) {
            return Err(
                "CTRL_RX, CTRL_VLAN, CTRL_MAC_ADDR, MQ, RSS, HASH_REPORT and NOTF_COAL need CTRL_VQ",
            );
        }
        Ok(())
    }

    pub fn has(&self, feature: u32) -> bool {
        feature < 128 && self.driver & bit(feature) != 0
    }

    /// FEATURES_OK was accepted: every negotiated guest offload starts enabled.
    pub fn accepted(&mut self) {
        self.guest_offloads = self.driver & GUEST_OFFLOADS;
    }

    /// Whether the guest offload `feature` (a GUEST_* bit) is negotiated and enabled now.
    pub fn guest_offload(&self, feature: u32) -> bool {
        self.has(feature) && self.guest_offloads & bit(feature) != 0
    }

    /// VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET: only negotiated offloads may be enabled.
    pub fn set_guest_offloads(&mut self, offloads: u64) -> Result<(), &'static str> {
        let offloads = u128::from(offloads);
        if offloads & !(self.driver & GUEST_OFFLOADS) != 0 {
            return Err("guest offload not negotiated");
        }
        self.guest_offloads = offloads;
        Ok(())
    }
}

/// Feature word `select` (bits 32*select .. 32*select+31) of a feature set.
fn word(features: u128, select: u32) -> u32 {
    match select {
        0..4 => (features >> (32 * select)) as u32,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_rings_only_when_asked_for() {
        let split = Features::new(offered(false));
        let mut f = split;
        f.driver = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_PACKED);
        assert!(f.validate().is_err());
        let mut f = Features::new(offered(true));
        f.driver = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_PACKED);
        assert!(f.validate().is_ok());
    }

    #[test]
    fn offered_words_and_refusals() {
        let mut f = Features::default();
        assert_eq!(f.device_word(), OFFERED as u32);
        f.device_select = 1;
        assert_eq!(f.device_word() & 1, 1); // VERSION_1 is bit 32
        assert_eq!(f.device_word(), (OFFERED >> 32) as u32);
        f.device_select = 2;
        assert_eq!(f.device_word(), (OFFERED >> 64) as u32);
        assert_ne!(
            f.device_word() & (1 << (VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO - 64)),
            0
        );
        f.device_select = 7;
        assert_eq!(f.device_word(), 0);

        f.driver_select = 1;
        f.set_driver_word(1);
        assert!(f.validate().is_ok());
        f.driver_select = 0;
        f.set_driver_word(1 << VIRTIO_NET_F_HOST_TSO4);
        assert!(f.validate().is_err(), "TSO without CSUM");
        f.set_driver_word(1 << VIRTIO_NET_F_MQ);
        assert!(f.validate().is_err(), "MQ without CTRL_VQ");
        f.set_driver_word((1 << VIRTIO_NET_F_MQ) | (1 << VIRTIO_NET_F_CTRL_VQ));
        assert!(f.validate().is_ok());
        f.set_driver_word(1 << VIRTIO_NET_F_GUEST_TSO4);
        assert!(f.validate().is_err(), "not offered");
        f.set_driver_word(0);
        f.driver_select = 1;
        f.set_driver_word(0);
        assert!(f.validate().is_err(), "legacy");
    }
}
