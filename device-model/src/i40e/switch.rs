//! The embedded switch: VSIs, their queue maps, MAC/VLAN filters and promiscuous
//! modes, and (for DPDK) cloud filters. Receive steering asks it where a frame goes.
//!
//! Topology (what `get_switch_config` reports, and what the drivers build on):
//! the port's MAC is switch element [`MAC_SEID`], the PF is [`PF_SEID`], and
//! every VSI hangs off the MAC with seid [`VSI_SEID_BASE`] + its VSI number. At
//! power-on (and after every PF reset) there is exactly one VSI, the PF's main
//! VSI: seid 512, VSI number 0, one queue (queue 0) in TC0, VLAN tags left in
//! the frame, and the firmware's default filter for the permanent MAC address on
//! any VLAN (the filter `i40e_rm_default_mac_filter` removes). Nothing is
//! promiscuous until the driver asks.
//!
//! Steering ([`Switch::classify`]), in order:
//! 1. NVGRE frames: a cloud filter of tunnel type NVGRE whose inner MAC / VSID /
//!    outer MAC (as its filter type asks) match sends the frame to the filter's
//!    VSI, to the filter's queue when it carries TO_QUEUE. **(assumption)** cloud
//!    filters take precedence over the outer MAC filters, queue numbers are
//!    VSI-relative, and filter types that need the inner VLAN never match (the
//!    classifier is not told the inner VLAN).
//! 2. MAC/VLAN perfect filters: destination MAC and VLAN (or a filter added with
//!    IGNORE_VLAN, or a VSI in VLAN promiscuous mode) pick the VSI. Untagged
//!    frames match VLAN 0 filters.
//! 3. Promiscuous modes, VSIs in creation order (the main VSI first): broadcast
//!    promiscuous for broadcasts, multicast promiscuous or DEFAULT for multicasts,
//!    unicast promiscuous or DEFAULT for unicasts, each also per VLAN when set
//!    with VLAN_VALID. This is the "limited promiscuous" the drivers ask for with
//!    set_switch_config: a promiscuous VSI does not see frames another VSI's
//!    filter takes. **(assumption)** promiscuous modes set without a VLAN accept
//!    every VLAN.
//! 4. Otherwise the frame is filtered (`None`).

use std::collections::HashMap;

use super::adminq::AqStatus;
use super::aq_cmds::Firmware;
use super::regs::QUEUES;

/// The port's MAC element.
pub const MAC_SEID: u16 = 2;
/// The PF element (the main VSI's downlink in the switch report).
pub const PF_SEID: u16 = 16;
/// VSI seids are this plus the VSI number.
pub const VSI_SEID_BASE: u16 = 512;
pub const MAIN_VSI_SEID: u16 = VSI_SEID_BASE;
pub const MAIN_VSI_NUMBER: u16 = 0;
/// VSIs the function may own (the VSI capability).
pub const MAX_VSIS: u16 = 384;
/// MAC/VLAN perfect filters, for all VSIs together. **(assumption)** the real
/// pool size is not in the driver; 1024 is far above what either driver adds.
pub const MAX_MAC_FILTERS: usize = 1024;
pub const MAX_CLOUD_FILTERS: usize = 128;
pub const MAX_CONTROL_FILTERS: usize = 32;
/// UDP tunnel port slots (`i40e_aqc_remove_udp_tunnel.index`: 0 to 15).
pub const UDP_TUNNEL_SLOTS: usize = 16;
/// `struct i40e_aqc_vsi_properties_data`.
pub const VSI_PROPS_LEN: usize = 128;
/// `struct i40e_aqc_cloud_filters_element_data`.
pub const CLOUD_ELEMENT_LEN: usize = 64;

/// Byte offsets in `struct i40e_aqc_vsi_properties_data` (i40e_adminq_cmd.h).
pub mod props {
    use std::ops::Range;

    pub const VALID_SECTIONS: usize = 0;
    pub const SWITCH_ID: usize = 2;
    pub const PVID: usize = 8;
    pub const PORT_VLAN_FLAGS: usize = 12;
    pub const MAPPING_FLAGS: usize = 28;
    /// `queue_mapping[16]`, le16 each.
    pub const QUEUE_MAPPING: usize = 30;
    /// `tc_mapping[8]`, le16 each: offset in bits 0..8, log2(count) in bits 9..11.
    pub const TC_MAPPING: usize = 62;
    pub const QUEUEING_OPT_FLAGS: usize = 78;
    pub const UP_ENABLE_BITS: usize = 82;
    /// Bytes 96.. are written by the firmware.
    pub const FW_WRITTEN: usize = 96;
    /// `qs_handle[8]`, le16 each.
    pub const QS_HANDLE: usize = 96;
    pub const STAT_COUNTER_IDX: usize = 112;
    pub const SCHED_ID: usize = 114;

    pub const TC_QUE_OFFSET_MASK: u16 = 0x1FF;
    pub const TC_QUE_NUMBER_SHIFT: u16 = 9;
    pub const TC_QUE_NUMBER_MASK: u16 = 0x7;
    pub const QUEUE_MASK: u16 = 0x7FF;
    pub const MAP_NONCONTIG: u16 = 0x1;
    pub const PVLAN_MODE_ALL: u8 = 0x03;
    pub const PVLAN_EMOD_MASK: u8 = 0x18;
    pub const PVLAN_EMOD_STR_BOTH: u8 = 0x00;
    pub const PVLAN_EMOD_NOTHING: u8 = 0x18;
    pub const QS_HANDLE_INVALID: u16 = 0xFFFF;

    /// The sections `valid_sections` selects and the bytes each covers
    /// (flag values as in both drivers' headers).
    pub const SECTIONS: [(u16, Range<usize>); 10] = [
        (0x0001, 2..6),   // switch: switch_id, sw_reserved
        (0x0002, 6..8),   // security: sec_flags
        (0x0004, 8..16),  // VLAN: pvid, fcoe_pvid, port_vlan_flags
        (0x0008, 16..20), // ingress UP table
        (0x0010, 20..24), // egress UP table
        (0x0020, 24..28), // cascaded PV
        (0x0040, 28..78), // queue map: mapping_flags, queue_mapping, tc_mapping
        (0x0080, 78..82), // queueing options
        (0x0100, 84..88), // outer UP table
        (0x0200, 82..84), // scheduler: up_enable_bits
    ];
}

fn rd16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn wr16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn rd32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn mac_at(b: &[u8], off: usize) -> [u8; 6] {
    let mut m = [0u8; 6];
    if let Some(s) = b.get(off..off + 6) {
        m.copy_from_slice(s);
    }
    m
}

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

/// `vsi_flags` type field of add_vsi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VsiKind {
    Vf,
    Vmdq2,
    Pf,
}

impl VsiKind {
    pub fn from_flags(flags: u16) -> Option<Self> {
        match flags & 0x3 {
            0 => Some(Self::Vf),
            1 => Some(Self::Vmdq2),
            2 => Some(Self::Pf),
            _ => None,
        }
    }
}

/// A set of VLAN IDs (0..4095): a bit set of at most 4096 bits whatever the
/// guest sends, since every ID is masked to 12 bits.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct VlanSet(bit_set::BitSet);

impl std::fmt::Debug for VlanSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

impl VlanSet {
    pub fn contains(&self, vid: u16) -> bool {
        self.0.contains(usize::from(vid & 0x0FFF))
    }
    pub fn insert(&mut self, vid: u16) {
        self.0.insert(usize::from(vid & 0x0FFF));
    }
    pub fn remove(&mut self, vid: u16) {
        self.0.remove(usize::from(vid & 0x0FFF));
    }
}

/// Promiscuous modes of one VSI (set_vsi_promiscuous_modes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Promisc {
    pub unicast: bool,
    pub multicast: bool,
    pub broadcast: bool,
    /// DEFAULT: the VSI takes what no filter takes.
    pub default_port: bool,
    /// VLAN promiscuous: MAC filters match on every VLAN.
    pub vlan: bool,
    pub rx_only: bool,
    /// Per-VLAN modes (set with VLAN_VALID), by VLAN ID.
    pub unicast_vlans: VlanSet,
    pub multicast_vlans: VlanSet,
    pub broadcast_vlans: VlanSet,
}

pub const PROMISC_UNICAST: u16 = 0x01;
pub const PROMISC_MULTICAST: u16 = 0x02;
pub const PROMISC_BROADCAST: u16 = 0x04;
pub const PROMISC_DEFAULT: u16 = 0x08;
pub const PROMISC_VLAN: u16 = 0x10;
pub const PROMISC_RX_ONLY: u16 = 0x8000;
pub const PROMISC_VLAN_VALID: u16 = 0x8000;

impl Promisc {
    /// Applies the `valid` bits of `flags`, globally or (with `vlan`) for one VLAN.
    pub fn apply(&mut self, flags: u16, valid: u16, vlan: Option<u16>) {
        let on = |bit: u16| flags & bit != 0;
        match vlan {
            Some(vid) => {
                let sets = [
                    (PROMISC_UNICAST, &mut self.unicast_vlans),
                    (PROMISC_MULTICAST, &mut self.multicast_vlans),
                    (PROMISC_BROADCAST, &mut self.broadcast_vlans),
                ];
                for (bit, set) in sets {
                    if valid & bit != 0 {
                        if on(bit) {
                            set.insert(vid);
                        } else {
                            set.remove(vid);
                        }
                    }
                }
            }
            None => {
                let fields = [
                    (PROMISC_UNICAST, &mut self.unicast),
                    (PROMISC_MULTICAST, &mut self.multicast),
                    (PROMISC_BROADCAST, &mut self.broadcast),
                ];
                for (bit, f) in fields {
                    if valid & bit != 0 {
                        *f = on(bit);
                    }
                }
            }
        }
        // DEFAULT, VLAN and RX_ONLY are VSI-wide even with a VLAN given.
        if valid & PROMISC_DEFAULT != 0 {
            self.default_port = on(PROMISC_DEFAULT);
        }
        if valid & PROMISC_VLAN != 0 {
            self.vlan = on(PROMISC_VLAN);
        }
        if valid & PROMISC_RX_ONLY != 0 {
            self.rx_only = on(PROMISC_RX_ONLY);
        }
    }
}

/// One VSI.
#[derive(Debug, Clone)]
pub struct Vsi {
    pub seid: u16,
    pub number: u16,
    pub kind: VsiKind,
    pub uplink: u16,
    pub connection_type: u8,
    /// The stored `i40e_aqc_vsi_properties_data` (valid_sections kept 0).
    pub props: [u8; VSI_PROPS_LEN],
    pub promisc: Promisc,
}

impl Vsi {
    /// The power-on properties of a VSI: one queue at 0 for TC0, VLAN tags
    /// left alone, all tagging modes allowed, then the firmware-written part.
    fn default_props(number: u16) -> [u8; VSI_PROPS_LEN] {
        let mut p = [0u8; VSI_PROPS_LEN];
        p[props::PORT_VLAN_FLAGS] = props::PVLAN_MODE_ALL | props::PVLAN_EMOD_NOTHING;
        p[props::UP_ENABLE_BITS] = 1;
        Self::fill_fw_part(&mut p, number);
        p
    }

    /// The last 32 bytes, which the firmware owns: the TC0 queue set handle
    /// (the VSI number; the others invalid), the statistics index
    /// ([`super::stats::stat_index`]) and scheduler id 0.
    fn fill_fw_part(p: &mut [u8; VSI_PROPS_LEN], number: u16) {
        p[props::FW_WRITTEN..].fill(0);
        for tc in 0..8 {
            let h = if tc == 0 {
                number
            } else {
                props::QS_HANDLE_INVALID
            };
            wr16(p, props::QS_HANDLE + 2 * tc, h);
        }
        wr16(p, props::STAT_COUNTER_IDX, super::stats::stat_index(number));
        wr16(p, props::SCHED_ID, 0);
    }

    fn new(seid: u16, number: u16, kind: VsiKind, uplink: u16, connection_type: u8) -> Self {
        Self {
            seid,
            number,
            kind,
            uplink,
            connection_type,
            props: Self::default_props(number),
            promisc: Promisc::default(),
        }
    }

    /// Copies the sections `data`'s valid_sections selects into the stored
    /// properties. `data` must hold at least [`VSI_PROPS_LEN`] bytes.
    pub fn apply_sections(&mut self, data: &[u8]) {
        let valid = rd16(data, props::VALID_SECTIONS);
        for (flag, range) in props::SECTIONS.iter() {
            if valid & flag != 0 {
                if let Some(src) = data.get(range.clone()) {
                    self.props[range.clone()].copy_from_slice(src);
                }
            }
        }
    }

    /// The queue set handle of a traffic class.
    pub fn qs_handle(&self, tc: usize) -> u16 {
        if tc < 8 {
            rd16(&self.props, props::QS_HANDLE + 2 * tc)
        } else {
            props::QS_HANDLE_INVALID
        }
    }

    /// First absolute queue and queue count of TC0. CONTIG: queue_mapping[0]
    /// plus the TC's offset; NONCONTIG (VF style): queue_mapping[offset]. The
    /// range is kept inside the function's queues: a base past the end is
    /// clamped to the last queue and the count halved until it fits.
    pub fn queue_map(&self) -> (u16, u16) {
        let tc0 = rd16(&self.props, props::TC_MAPPING);
        let offset = tc0 & props::TC_QUE_OFFSET_MASK;
        let pow = (tc0 >> props::TC_QUE_NUMBER_SHIFT) & props::TC_QUE_NUMBER_MASK;
        let mapping = rd16(&self.props, props::MAPPING_FLAGS);
        let base = if mapping & props::MAP_NONCONTIG == 0 {
            (rd16(&self.props, props::QUEUE_MAPPING) & props::QUEUE_MASK) + offset
        } else {
            let i = usize::from(offset.min(15));
            rd16(&self.props, props::QUEUE_MAPPING + 2 * i) & props::QUEUE_MASK
        };
        let max = QUEUES as u16;
        let base = base.min(max - 1);
        let mut count = 1u16 << pow;
        while count > 1 && base + count > max {
            count >>= 1;
        }
        (base, count)
    }

    /// The VSI strips the outer tag into L2TAG1 (EMOD_STR_BOTH).
    pub fn strips_vlan(&self) -> bool {
        self.props[props::PORT_VLAN_FLAGS] & props::PVLAN_EMOD_MASK == props::PVLAN_EMOD_STR_BOTH
    }

    fn target(&self, fixed_queue: Option<u16>) -> RxTarget {
        let (queue_base, queue_count) = self.queue_map();
        RxTarget {
            vsi: self.number,
            queue_base,
            queue_count,
            fixed_queue: fixed_queue.filter(|&q| q < queue_count),
            strip_vlan: self.strips_vlan(),
        }
    }
}

/// One MAC/VLAN filter (the MAC is the table key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacFilter {
    pub seid: u16,
    /// `None`: IGNORE_VLAN, any VLAN.
    pub vlan: Option<u16>,
    /// Added as a hash filter (DPDK's HASH_MATCH); matched exactly all the same.
    pub hash: bool,
    /// TO_QUEUE: the VSI-relative queue.
    pub queue: Option<u16>,
}

impl MacFilter {
    fn matches(&self, vid: u16, vlan_promisc: bool) -> bool {
        match self.vlan {
            None => true,
            Some(v) => vlan_promisc || v == vid,
        }
    }
}

/// One cloud filter: the 64-byte element as the driver sent it and its VSI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudFilter {
    pub seid: u16,
    pub raw: [u8; CLOUD_ELEMENT_LEN],
}

/// Filter types (`flags` bits 0..5) and flag bits of a cloud filter element.
pub mod cloud {
    pub const OUTER_MAC: usize = 0;
    pub const INNER_MAC: usize = 6;
    pub const INNER_VLAN: usize = 12;
    pub const FLAGS: usize = 30;
    pub const TENANT_ID: usize = 32;
    pub const QUEUE_NUMBER: usize = 40;
    pub const ALLOCATION_RESULT: usize = 56;
    /// Bytes that identify a filter (everything before the queue and response).
    pub const IDENTITY_LEN: usize = 36;

    pub const TYPE_MASK: u16 = 0x3F;
    pub const IMAC_IVLAN: u16 = 0x03;
    pub const IMAC_IVLAN_TEN_ID: u16 = 0x04;
    pub const IMAC_TEN_ID: u16 = 0x06;
    pub const OMAC: u16 = 0x09;
    pub const IMAC: u16 = 0x0A;
    pub const OMAC_TEN_ID_IMAC: u16 = 0x0B;
    pub const IIP: u16 = 0x0C;
    pub const TO_QUEUE: u16 = 0x80;
    pub const TNL_TYPE_SHIFT: u16 = 9;
    pub const TNL_TYPE_MASK: u16 = 0x1E00;
    pub const TNL_NVGRE: u16 = 1;
    pub const QUEUE_MASK: u16 = 0x7FF;
}

impl CloudFilter {
    pub fn flags(&self) -> u16 {
        rd16(&self.raw, cloud::FLAGS)
    }
    pub fn filter_type(&self) -> u16 {
        self.flags() & cloud::TYPE_MASK
    }
    pub fn tunnel_type(&self) -> u16 {
        (self.flags() & cloud::TNL_TYPE_MASK) >> cloud::TNL_TYPE_SHIFT
    }
    pub fn tenant_id(&self) -> u32 {
        rd32(&self.raw, cloud::TENANT_ID) & 0x00FF_FFFF
    }
    pub fn queue(&self) -> Option<u16> {
        (self.flags() & cloud::TO_QUEUE != 0)
            .then(|| rd16(&self.raw, cloud::QUEUE_NUMBER) & cloud::QUEUE_MASK)
    }
    fn identity(&self) -> &[u8] {
        &self.raw[..cloud::IDENTITY_LEN]
    }

    /// The filter types tunic can match (the others are refused at add).
    pub fn type_supported(t: u16) -> bool {
        matches!(
            t,
            cloud::IMAC_IVLAN
                | cloud::IMAC_IVLAN_TEN_ID
                | cloud::IMAC_TEN_ID
                | cloud::OMAC
                | cloud::IMAC
                | cloud::OMAC_TEN_ID_IMAC
                | cloud::IIP
        )
    }

    /// An NVGRE frame with outer destination `outer`, VSID `vsid` and inner
    /// destination `inner`.
    fn matches_nvgre(&self, outer: [u8; 6], vsid: u32, inner: [u8; 6]) -> bool {
        if self.tunnel_type() != cloud::TNL_NVGRE {
            return false;
        }
        let omac = mac_at(&self.raw, cloud::OUTER_MAC) == outer;
        let imac = mac_at(&self.raw, cloud::INNER_MAC) == inner;
        let ten = self.tenant_id() == vsid & 0x00FF_FFFF;
        match self.filter_type() {
            cloud::IMAC => imac,
            cloud::IMAC_TEN_ID => imac && ten,
            cloud::OMAC => omac,
            cloud::OMAC_TEN_ID_IMAC => omac && ten && imac,
            // Inner VLAN and inner IP are not known to the classifier.
            _ => false,
        }
    }
}

/// An ethertype (control packet) filter, 0x025A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlFilter {
    pub mac: [u8; 6],
    pub etype: u16,
    pub flags: u16,
    pub seid: u16,
    pub queue: u16,
}

pub const CTRL_IGNORE_MAC: u16 = 0x0001;
pub const CTRL_DROP: u16 = 0x0002;
pub const CTRL_TX: u16 = 0x0008;

/// One UDP tunnel port (add_udp_tunnel): the port and its protocol type
/// (0 VXLAN, 1 Geneve/NGE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpTunnel {
    pub port: u16,
    pub kind: u8,
}

/// set_switch_config state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchConfig {
    /// I40E_AQ_SET_SWITCH_CFG_PROMISC: "limited" promiscuous (the behaviour
    /// classify implements either way).
    pub promisc: bool,
    /// Ethertypes; 0 means the default (0x88A8, 0x8100, 0x8100).
    pub switch_tag: u16,
    pub first_tag: u16,
    pub second_tag: u16,
    /// Cloud filter mode (bits 0..6 of `mode`, set when bit 7 was given).
    pub mode: u8,
    /// set_port_parameters command_flags.
    pub port_flags: u16,
}

pub struct Switch {
    mac: [u8; 6],
    vsis: Vec<Vsi>,
    mac_filters: HashMap<[u8; 6], Vec<MacFilter>>,
    mac_filter_count: usize,
    cloud: Vec<CloudFilter>,
    control: Vec<ControlFilter>,
    udp_tunnels: [Option<UdpTunnel>; UDP_TUNNEL_SLOTS],
    pub(super) config: SwitchConfig,
    /// Firmware state beside the switch (link events, PHY configuration...).
    pub(super) fw: Firmware,
}

impl Switch {
    pub fn new(mac: [u8; 6]) -> Self {
        let mut s = Self {
            mac,
            vsis: Vec::new(),
            mac_filters: HashMap::new(),
            mac_filter_count: 0,
            cloud: Vec::new(),
            control: Vec::new(),
            udp_tunnels: [None; UDP_TUNNEL_SLOTS],
            config: SwitchConfig::default(),
            fw: Firmware::default(),
        };
        s.reset();
        s
    }

    /// Back to the power-on switch: the main VSI only (seid 512, VSI number 0)
    /// with the default filter for the permanent MAC on any VLAN; no cloud,
    /// control or tunnel filters. The firmware state goes back too, except what
    /// outlives a PF reset (see [`Firmware::pf_reset`]).
    pub fn reset(&mut self) {
        self.vsis.clear();
        self.vsis.push(Vsi::new(
            MAIN_VSI_SEID,
            MAIN_VSI_NUMBER,
            VsiKind::Pf,
            MAC_SEID,
            1,
        ));
        self.mac_filters.clear();
        self.mac_filter_count = 0;
        let _ = self.add_mac_filter(
            self.mac,
            MacFilter {
                seid: MAIN_VSI_SEID,
                vlan: None,
                hash: false,
                queue: None,
            },
        );
        self.cloud.clear();
        self.control.clear();
        self.udp_tunnels = [None; UDP_TUNNEL_SLOTS];
        self.config = SwitchConfig::default();
        self.fw.pf_reset();
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    // ---- VSIs -------------------------------------------------------------------

    pub fn vsis(&self) -> &[Vsi] {
        &self.vsis
    }

    pub fn vsi(&self, seid: u16) -> Option<&Vsi> {
        self.vsis.iter().find(|v| v.seid == seid)
    }

    pub fn vsi_mut(&mut self, seid: u16) -> Option<&mut Vsi> {
        self.vsis.iter_mut().find(|v| v.seid == seid)
    }

    pub fn vsi_by_number(&self, number: u16) -> Option<&Vsi> {
        self.vsis.iter().find(|v| v.number == number)
    }

    /// VSIs in use and still free (the add/get/update_vsi completion).
    pub fn vsi_counts(&self) -> (u16, u16) {
        let used = self.vsis.len() as u16;
        (used, MAX_VSIS.saturating_sub(used))
    }

    /// A seid a new VSI may hang off: the MAC, the PF, or another VSI.
    fn valid_uplink(&self, seid: u16) -> bool {
        seid == MAC_SEID || seid == PF_SEID || self.vsi(seid).is_some()
    }

    /// add_vsi: allocates the lowest free VSI number, takes the sections `data`
    /// marks valid over the defaults, and fills the firmware-written part.
    pub fn add_vsi(
        &mut self,
        kind: VsiKind,
        uplink: u16,
        connection_type: u8,
        data: &[u8],
    ) -> Result<&Vsi, AqStatus> {
        if data.len() < VSI_PROPS_LEN || !self.valid_uplink(uplink) {
            return Err(AqStatus::Einval);
        }
        let number = (0..MAX_VSIS)
            .find(|n| self.vsi_by_number(*n).is_none())
            .ok_or(AqStatus::Enospc)?;
        let mut vsi = Vsi::new(
            VSI_SEID_BASE + number,
            number,
            kind,
            uplink,
            connection_type,
        );
        vsi.apply_sections(data);
        self.vsis.push(vsi);
        Ok(&self.vsis[self.vsis.len() - 1])
    }

    /// delete_element for a VSI: drops it with its filters. The main VSI, the
    /// MAC and the PF cannot be deleted.
    pub fn delete_element(&mut self, seid: u16) -> Result<(), AqStatus> {
        if seid == MAIN_VSI_SEID || seid == MAC_SEID || seid == PF_SEID {
            return Err(AqStatus::Eperm);
        }
        let i = self
            .vsis
            .iter()
            .position(|v| v.seid == seid)
            .ok_or(AqStatus::Enoent)?;
        self.vsis.remove(i);
        let mut removed = 0;
        self.mac_filters.retain(|_, list| {
            let before = list.len();
            list.retain(|f| f.seid != seid);
            removed += before - list.len();
            !list.is_empty()
        });
        self.mac_filter_count -= removed;
        self.cloud.retain(|c| c.seid != seid);
        self.control.retain(|c| c.seid != seid);
        Ok(())
    }

    // ---- MAC/VLAN filters -----------------------------------------------------------

    /// Perfect filters in use and free.
    pub fn mac_filter_counts(&self) -> (u16, u16) {
        let used = self.mac_filter_count;
        (used as u16, MAX_MAC_FILTERS.saturating_sub(used) as u16)
    }

    /// Adds a filter; adding one that exists (same VSI, MAC, VLAN) succeeds and
    /// updates its queue.
    pub fn add_mac_filter(&mut self, mac: [u8; 6], f: MacFilter) -> Result<(), AqStatus> {
        if self.vsi(f.seid).is_none() {
            return Err(AqStatus::Enoent);
        }
        if let Some(list) = self.mac_filters.get_mut(&mac) {
            if let Some(e) = list
                .iter_mut()
                .find(|e| e.seid == f.seid && e.vlan == f.vlan)
            {
                *e = f;
                return Ok(());
            }
        }
        if self.mac_filter_count >= MAX_MAC_FILTERS {
            return Err(AqStatus::Enospc);
        }
        self.mac_filters.entry(mac).or_default().push(f);
        self.mac_filter_count += 1;
        Ok(())
    }

    /// Removes the filter of VSI `seid` for `mac` on `vlan` (`None`: the
    /// IGNORE_VLAN filter). False when there was none.
    pub fn remove_mac_filter(&mut self, seid: u16, mac: [u8; 6], vlan: Option<u16>) -> bool {
        let Some(list) = self.mac_filters.get_mut(&mac) else {
            return false;
        };
        let Some(i) = list.iter().position(|e| e.seid == seid && e.vlan == vlan) else {
            return false;
        };
        list.remove(i);
        if list.is_empty() {
            self.mac_filters.remove(&mac);
        }
        self.mac_filter_count -= 1;
        true
    }

    /// The filters of one MAC address.
    pub fn mac_filters(&self, mac: [u8; 6]) -> &[MacFilter] {
        self.mac_filters.get(&mac).map(Vec::as_slice).unwrap_or(&[])
    }

    // ---- cloud, control and tunnel filters ------------------------------------------

    pub fn cloud_filters(&self) -> &[CloudFilter] {
        &self.cloud
    }

    pub fn add_cloud_filter(&mut self, f: CloudFilter) -> Result<(), AqStatus> {
        if self.vsi(f.seid).is_none() {
            return Err(AqStatus::Enoent);
        }
        if !CloudFilter::type_supported(f.filter_type()) {
            return Err(AqStatus::Einval);
        }
        if self
            .cloud
            .iter()
            .any(|c| c.seid == f.seid && c.identity() == f.identity())
        {
            return Err(AqStatus::Eexist);
        }
        if self.cloud.len() >= MAX_CLOUD_FILTERS {
            return Err(AqStatus::Enospc);
        }
        self.cloud.push(f);
        Ok(())
    }

    pub fn remove_cloud_filter(&mut self, f: &CloudFilter) -> bool {
        match self
            .cloud
            .iter()
            .position(|c| c.seid == f.seid && c.identity() == f.identity())
        {
            Some(i) => {
                self.cloud.remove(i);
                true
            }
            None => false,
        }
    }

    pub fn control_filters(&self) -> &[ControlFilter] {
        &self.control
    }

    /// Ethertype filters in use and free (the completion reports both pools
    /// with the same numbers).
    pub fn control_filter_counts(&self) -> (u16, u16) {
        let used = self.control.len();
        (used as u16, (MAX_CONTROL_FILTERS - used) as u16)
    }

    pub fn add_control_filter(&mut self, f: ControlFilter) -> Result<(), AqStatus> {
        if self.vsi(f.seid).is_none() {
            return Err(AqStatus::Enoent);
        }
        if self.control.contains(&f) {
            return Ok(());
        }
        if self.control.len() >= MAX_CONTROL_FILTERS {
            return Err(AqStatus::Enospc);
        }
        self.control.push(f);
        Ok(())
    }

    /// Removes the filter with the same MAC, ethertype, flags and VSI.
    pub fn remove_control_filter(&mut self, f: &ControlFilter) -> bool {
        let same = |c: &ControlFilter| {
            c.mac == f.mac && c.etype == f.etype && c.flags == f.flags && c.seid == f.seid
        };
        match self.control.iter().position(same) {
            Some(i) => {
                self.control.remove(i);
                true
            }
            None => false,
        }
    }

    /// A Tx frame with source `src` and ethertype `etype` hits a Tx drop filter
    /// (Linux drops the PAUSE frames, 0x8808, a guest sends).
    pub fn drops_tx(&self, src: [u8; 6], etype: u16) -> bool {
        self.control.iter().any(|c| {
            c.flags & (CTRL_TX | CTRL_DROP) == CTRL_TX | CTRL_DROP
                && c.etype == etype
                && (c.flags & CTRL_IGNORE_MAC != 0 || c.mac == src)
        })
    }

    /// add_udp_tunnel: the slot used. ENOSPC when all 16 are taken, EEXIST when
    /// the port is there already.
    pub fn add_udp_tunnel(&mut self, t: UdpTunnel) -> Result<u8, AqStatus> {
        if self.udp_tunnels.iter().flatten().any(|e| e.port == t.port) {
            return Err(AqStatus::Eexist);
        }
        let i = self
            .udp_tunnels
            .iter()
            .position(Option::is_none)
            .ok_or(AqStatus::Enospc)?;
        self.udp_tunnels[i] = Some(t);
        Ok(i as u8)
    }

    pub fn del_udp_tunnel(&mut self, index: u8) -> Result<UdpTunnel, AqStatus> {
        let slot = self
            .udp_tunnels
            .get_mut(usize::from(index))
            .ok_or(AqStatus::Einval)?;
        slot.take().ok_or(AqStatus::Enoent)
    }

    pub fn udp_tunnel_count(&self) -> u8 {
        self.udp_tunnels.iter().flatten().count() as u8
    }

    /// The tunnel type (0 VXLAN, 1 Geneve) of UDP destination port `port`.
    pub fn udp_tunnel(&self, port: u16) -> Option<u8> {
        self.udp_tunnels
            .iter()
            .flatten()
            .find(|t| t.port == port)
            .map(|t| t.kind)
    }

    // ---- steering -------------------------------------------------------------------

    /// The main VSI's TC0 queues: first absolute queue and count.
    pub fn main_vsi_queue_map(&self) -> (u16, u16) {
        self.vsi(MAIN_VSI_SEID).map_or((0, 1), Vsi::queue_map)
    }

    /// The steering target of a VSI, by VSI number (no fixed queue).
    pub fn target_for_vsi(&self, number: u16) -> Option<RxTarget> {
        self.vsi_by_number(number).map(|v| v.target(None))
    }

    /// The VSI that takes a frame: `dst`/`vlan` of the outer Ethernet header and,
    /// for NVGRE frames, the VSID and inner destination MAC. `vlan` is the tag
    /// (TCI; only the VLAN ID is used), `None` for untagged frames.
    pub fn classify(
        &self,
        dst: [u8; 6],
        vlan: Option<u16>,
        nvgre: Option<(u32, [u8; 6])>,
    ) -> Option<RxTarget> {
        let vid = vlan.map_or(0, |t| t & 0x0FFF);
        if let Some((vsid, inner)) = nvgre {
            for c in &self.cloud {
                if c.matches_nvgre(dst, vsid, inner) {
                    if let Some(vsi) = self.vsi(c.seid) {
                        return Some(vsi.target(c.queue()));
                    }
                }
            }
        }
        for f in self.mac_filters(dst) {
            let Some(vsi) = self.vsi(f.seid) else {
                continue;
            };
            if f.matches(vid, vsi.promisc.vlan) {
                return Some(vsi.target(f.queue));
            }
        }
        let broadcast = dst == [0xFF; 6];
        let multicast = dst[0] & 1 != 0;
        self.vsis
            .iter()
            .find(|v| {
                let p = &v.promisc;
                if broadcast {
                    p.broadcast || p.broadcast_vlans.contains(vid)
                } else if multicast {
                    p.multicast || p.default_port || p.multicast_vlans.contains(vid)
                } else {
                    p.unicast || p.default_port || p.unicast_vlans.contains(vid)
                }
            })
            .map(|v| v.target(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

    fn vmdq_props(base: u16, pow: u16) -> [u8; VSI_PROPS_LEN] {
        let mut p = [0u8; VSI_PROPS_LEN];
        wr16(&mut p, props::VALID_SECTIONS, 0x0040);
        wr16(&mut p, props::QUEUE_MAPPING, base);
        wr16(&mut p, props::TC_MAPPING, pow << props::TC_QUE_NUMBER_SHIFT);
        p
    }

    #[test]
    fn power_on_switch_has_the_main_vsi_and_the_default_filter() {
        let s = Switch::new(MAC);
        assert_eq!(s.vsis().len(), 1);
        let t = s.classify(MAC, Some(100), None).unwrap();
        assert_eq!(
            (t.vsi, t.queue_base, t.queue_count, t.strip_vlan),
            (0, 0, 1, false)
        );
        assert_eq!(
            s.classify([0xFF; 6], None, None),
            None,
            "no broadcast before the driver asks"
        );
        assert_eq!(s.classify([0x02, 0, 0, 0, 0, 9], None, None), None);
    }

    #[test]
    fn vlan_filters_and_promiscuous_modes() {
        let mut s = Switch::new(MAC);
        assert!(s.remove_mac_filter(MAIN_VSI_SEID, MAC, None));
        let f = MacFilter {
            seid: MAIN_VSI_SEID,
            vlan: Some(0),
            hash: false,
            queue: None,
        };
        s.add_mac_filter(MAC, f).unwrap();
        assert!(s.classify(MAC, None, None).is_some());
        assert!(
            s.classify(MAC, Some(0x2005), None).is_none(),
            "VLAN 5 has no filter"
        );
        s.vsi_mut(MAIN_VSI_SEID).unwrap().promisc.apply(
            PROMISC_BROADCAST,
            PROMISC_BROADCAST,
            Some(5),
        );
        assert!(s.classify([0xFF; 6], Some(5), None).is_some());
        assert!(s.classify([0xFF; 6], None, None).is_none());
        s.vsi_mut(MAIN_VSI_SEID)
            .unwrap()
            .promisc
            .apply(PROMISC_UNICAST, PROMISC_UNICAST, None);
        assert!(s.classify([0x02, 9, 9, 9, 9, 9], Some(7), None).is_some());
        assert!(s.classify([0x01, 0, 0x5E, 0, 0, 1], None, None).is_none());
    }

    #[test]
    fn a_vmdq_vsi_takes_its_mac_and_leaves_on_delete() {
        let mut s = Switch::new(MAC);
        let mac2 = [0x02, 0, 0, 0, 0, 2];
        let vsi = s
            .add_vsi(VsiKind::Vmdq2, MAC_SEID, 1, &vmdq_props(8, 2))
            .unwrap()
            .clone();
        assert_eq!((vsi.seid, vsi.number), (VSI_SEID_BASE + 1, 1));
        let f = MacFilter {
            seid: vsi.seid,
            vlan: None,
            hash: false,
            queue: None,
        };
        s.add_mac_filter(mac2, f).unwrap();
        let t = s.classify(mac2, None, None).unwrap();
        assert_eq!((t.vsi, t.queue_base, t.queue_count), (1, 8, 4));
        assert_eq!(s.mac_filter_counts().0, 2);
        s.delete_element(vsi.seid).unwrap();
        assert_eq!(s.classify(mac2, None, None), None);
        assert_eq!(s.mac_filter_counts().0, 1);
        assert_eq!(s.delete_element(MAIN_VSI_SEID), Err(AqStatus::Eperm));
    }

    #[test]
    fn queue_maps_stay_inside_the_function() {
        let mut s = Switch::new(MAC);
        let v = s
            .add_vsi(VsiKind::Vmdq2, MAC_SEID, 1, &vmdq_props(0x7FF, 7))
            .unwrap();
        assert_eq!(v.queue_map(), (127, 1));
        let v = s
            .add_vsi(VsiKind::Vmdq2, MAC_SEID, 1, &vmdq_props(100, 6))
            .unwrap();
        assert_eq!(v.queue_map(), (100, 16));
    }

    #[test]
    fn nvgre_cloud_filter_steers_by_vsid_and_inner_mac() {
        let mut s = Switch::new(MAC);
        let inner = [0x02, 0, 0, 0, 0, 0x11];
        let mut raw = [0u8; CLOUD_ELEMENT_LEN];
        raw[cloud::INNER_MAC..cloud::INNER_MAC + 6].copy_from_slice(&inner);
        wr16(&mut raw, cloud::FLAGS, 0x0286);
        raw[cloud::TENANT_ID..cloud::TENANT_ID + 4].copy_from_slice(&100u32.to_le_bytes());
        wr16(&mut raw, cloud::QUEUE_NUMBER, 0);
        let f = CloudFilter {
            seid: MAIN_VSI_SEID,
            raw,
        };
        s.add_cloud_filter(f).unwrap();
        assert_eq!(s.add_cloud_filter(f), Err(AqStatus::Eexist));
        let t = s.classify(MAC, None, Some((100, inner))).unwrap();
        assert_eq!(t.fixed_queue, Some(0));
        let t = s.classify(MAC, None, Some((101, inner))).unwrap();
        assert_eq!(t.fixed_queue, None, "other VSID: plain MAC filter");
        assert!(s.remove_cloud_filter(&f));
        assert!(s.cloud_filters().is_empty());
    }

    #[test]
    fn reset_restores_power_on() {
        let mut s = Switch::new(MAC);
        s.add_vsi(VsiKind::Vmdq2, MAC_SEID, 1, &vmdq_props(4, 0))
            .unwrap();
        s.add_udp_tunnel(UdpTunnel {
            port: 4789,
            kind: 0,
        })
        .unwrap();
        s.reset();
        assert_eq!(s.vsis().len(), 1);
        assert_eq!(s.udp_tunnel(4789), None);
        assert_eq!(s.mac_filter_counts().0, 1);
    }
}
