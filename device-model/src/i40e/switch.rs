//! The embedded switch: VSIs, their queue maps, MAC/VLAN filters and promiscuous
//! modes, and (for DPDK) cloud filters. Receive steering asks it where a frame goes.

/// Where the switch sends a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxTarget {
    /// VSI number.
    pub vsi: u16,
    /// First absolute queue of the VSI's TC0 and its queue count (a power of two).
    pub queue_base: u16,
    pub queue_count: u16,
    /// A filter that names a queue (VSI-relative), taking precedence over RSS.
    pub fixed_queue: Option<u16>,
    /// The VSI strips the outer VLAN tag into the descriptor's L2TAG1.
    pub strip_vlan: bool,
}

pub struct Switch {
    mac: [u8; 6],
}

impl Switch {
    pub fn new(mac: [u8; 6]) -> Self {
        Self { mac }
    }

    /// Back to the power-on switch: the main VSI only, no filters.
    pub fn reset(&mut self) {}

    /// The VSI that takes a frame: `dst`/`vlan` of the outer Ethernet header and,
    /// for NVGRE frames, the VSID and inner destination MAC.
    pub fn classify(
        &self,
        dst: [u8; 6],
        _vlan: Option<u16>,
        _nvgre: Option<(u32, [u8; 6])>,
    ) -> Option<RxTarget> {
        let _ = (dst, self.mac);
        Some(RxTarget {
            vsi: 0,
            queue_base: 0,
            queue_count: 1,
            fixed_queue: None,
            strip_vlan: false,
        })
    }
}
