//! Admin queue commands: what the firmware answers.
//!
//! [`I40e::aq_execute`] decodes one descriptor (`struct i40e_aq_desc`: the
//! command-specific bytes start at byte 16, offsets below are relative to them)
//! and its indirect buffer, and answers as firmware 9.20 with AQ API 1.15 would
//! for the commands the Linux `i40e` driver and DPDK's i40e PMD send (see
//! `../shared/i40e-digest.md` §1.4, §1.9, §6). Layouts are those of
//! `i40e_adminq_cmd.h`.
//!
//! Contracts the drivers depend on:
//! * list_func/dev_capabilities: 32-byte records, the count in the descriptor,
//!   ENOMEM with the needed datalen when the buffer is too small.
//! * get_switch_config: one VSI element after reset (DPDK insists on one).
//! * add_macvlan: every element's `match_method` is rewritten (Linux pre-sets
//!   0xFF and counts an element still 0xFF as failed).
//! * add_vsi / get_vsi_parameters: seid, VSI number, used and free counts in
//!   the descriptor, the 128-byte properties in the buffer.
//!
//! Decisions the drivers do not settle **(assumption)**:
//! * Link status events are one-shot: sending one disarms LSE until the driver
//!   asks again with get_link_status (both drivers re-arm in their handler; the
//!   Linux handler says it does so "to re-enable LSE reporting"). They are also
//!   held back while set_phy_int_mask masks LINK_UPDOWN.
//! * The NVM resource is granted at once, every time (one function, one
//!   driver): 3 s for read access, 180 s for write access.
//! * set_phy_config is stored and reported back by get_phy_abilities. Its
//!   ENABLE_LINK bit takes the link down when clear and up again when set (with a
//!   link status event either way), as DPDK's set_link_down/up and Linux's
//!   link-down-on-close use it; the link also needs the wire. ATOMIC_LINK's
//!   restart is instantaneous: no down-up flap.
//! * mac_address_write sets the LAN address mac_address_read reports until the
//!   next PF reset (so every probe, which starts with one, sees the permanent
//!   address); the port address stays the permanent one.
//! * The LLDP agent runs until lldp_stop and stays stopped across PF resets
//!   (as firmware state does); lldp_get_mib answers ENOENT ("running, no MIB
//!   yet") while it runs and EPERM once stopped.
//! * Register access through the AQ (debug and rx_ctl) may not write the admin
//!   queue registers or the reset triggers (EACCES): the command would otherwise
//!   re-enter the queue it runs on.
//! * Commands tunic does not model answer ESRCH ("bad opcode"), logged once per
//!   opcode.

use std::collections::HashSet;

use super::adminq::{AqDesc, AqEvent, AqStatus};
use super::regs::*;
use super::switch::{
    self, CloudFilter, ControlFilter, MacFilter, UdpTunnel, VsiKind, CLOUD_ELEMENT_LEN, PF_SEID,
    VSI_PROPS_LEN,
};
use super::{I40e, BAR0_SIZE};

/// Admin queue opcodes (`enum i40e_admin_queue_opc`).
pub mod opc {
    pub const GET_VERSION: u16 = 0x0001;
    pub const DRIVER_VERSION: u16 = 0x0002;
    pub const QUEUE_SHUTDOWN: u16 = 0x0003;
    pub const REQUEST_RESOURCE: u16 = 0x0008;
    pub const RELEASE_RESOURCE: u16 = 0x0009;
    pub const LIST_FUNC_CAPABILITIES: u16 = 0x000A;
    pub const LIST_DEV_CAPABILITIES: u16 = 0x000B;
    pub const MAC_ADDRESS_READ: u16 = 0x0107;
    pub const MAC_ADDRESS_WRITE: u16 = 0x0108;
    pub const CLEAR_PXE_MODE: u16 = 0x0110;
    pub const GET_SWITCH_CONFIG: u16 = 0x0200;
    pub const SET_PORT_PARAMETERS: u16 = 0x0203;
    pub const SET_SWITCH_CONFIG: u16 = 0x0205;
    pub const RX_CTL_REG_READ: u16 = 0x0206;
    pub const RX_CTL_REG_WRITE: u16 = 0x0207;
    pub const ADD_VSI: u16 = 0x0210;
    pub const UPDATE_VSI_PARAMETERS: u16 = 0x0211;
    pub const GET_VSI_PARAMETERS: u16 = 0x0212;
    pub const DELETE_ELEMENT: u16 = 0x0243;
    pub const ADD_MACVLAN: u16 = 0x0250;
    pub const REMOVE_MACVLAN: u16 = 0x0251;
    pub const SET_VSI_PROMISCUOUS_MODES: u16 = 0x0254;
    pub const ADD_CONTROL_PACKET_FILTER: u16 = 0x025A;
    pub const REMOVE_CONTROL_PACKET_FILTER: u16 = 0x025B;
    pub const ADD_CLOUD_FILTERS: u16 = 0x025C;
    pub const REMOVE_CLOUD_FILTERS: u16 = 0x025D;
    pub const SET_DCB_PARAMETERS: u16 = 0x0303;
    pub const CONFIGURE_VSI_BW_LIMIT: u16 = 0x0400;
    pub const CONFIGURE_VSI_TC_BW: u16 = 0x0407;
    pub const QUERY_VSI_BW_CONFIG: u16 = 0x0408;
    pub const QUERY_VSI_ETS_SLA_CONFIG: u16 = 0x040A;
    pub const GET_PHY_ABILITIES: u16 = 0x0600;
    pub const SET_PHY_CONFIG: u16 = 0x0601;
    pub const SET_MAC_CONFIG: u16 = 0x0603;
    pub const SET_LINK_RESTART_AN: u16 = 0x0605;
    pub const GET_LINK_STATUS: u16 = 0x0607;
    pub const SET_PHY_INT_MASK: u16 = 0x0613;
    pub const SET_LB_MODES: u16 = 0x0618;
    pub const LLDP_GET_MIB: u16 = 0x0A00;
    pub const LLDP_STOP: u16 = 0x0A05;
    pub const LLDP_START: u16 = 0x0A06;
    pub const ADD_UDP_TUNNEL: u16 = 0x0B00;
    pub const DEL_UDP_TUNNEL: u16 = 0x0B01;
    pub const DEBUG_READ_REG: u16 = 0xFF03;
    pub const DEBUG_WRITE_REG: u16 = 0xFF04;
}

// ---- identity ---------------------------------------------------------------------

pub const FW_MAJOR: u16 = 9;
pub const FW_MINOR: u16 = 20;
pub const FW_BUILD: u32 = 1;
pub const API_MAJOR: u16 = 1;
/// `I40E_FW_API_VERSION_MINOR_X710`.
pub const API_MINOR: u16 = 15;

// ---- capabilities -------------------------------------------------------------------

const CAP_RECORD_LEN: usize = 32;
const CAP_FUNCTIONS_VALID: u16 = 0x0005;
const CAP_VSI: u16 = 0x0017;
const CAP_RSS: u16 = 0x0040;
const CAP_RXQ: u16 = 0x0041;
const CAP_TXQ: u16 = 0x0042;
const CAP_MSIX: u16 = 0x0043;
const CAP_DCB: u16 = 0x0018;
const CAP_FLOW_DIRECTOR: u16 = 0x0045;

/// (id, number, logical_id, phys_id). No flow director, DCB, VMDq or SR-IOV:
/// each would send the drivers down paths tunic does not model.
const CAPABILITIES: [(u16, u32, u32, u32); 8] = [
    (CAP_FUNCTIONS_VALID, 0x1, 0, 0),
    // DCB capable with TC0 enabled (logical_id: the enabled TC map; phys_id: max TCs).
    // DPDK's PMD needs TC0 in the map to set up its main VSI (validate_tcmap_parameter);
    // the firmware's LLDP agent is stopped (LLDP_GET_MIB answers EPERM), so both drivers
    // leave DCB off and run one traffic class.
    (CAP_DCB, 1, 0x1, 1),
    // Flow Director: 512 guaranteed and 7168 best-effort filters (the X710's 8K split).
    // DPDK sizes its filter pool from these and fails probe on 0. Linux then turns on
    // ATR and sideband filters; their programming descriptors (DTYPE 8) are counted and
    // skipped by Tx: tunic does not match Flow Director filters.
    (CAP_FLOW_DIRECTOR, 512, 7168, 0),
    (CAP_VSI, switch::MAX_VSIS as u32, 0, 0),
    // RSS: table size 512, entry width 6 bits.
    (CAP_RSS, 512, 6, 0),
    (CAP_RXQ, QUEUES as u32, 0, 0),
    (CAP_TXQ, QUEUES as u32, 0, 0),
    (CAP_MSIX, MSIX_VECTORS as u32, 0, 0),
];

// ---- PHY and link -------------------------------------------------------------------

/// `I40E_PHY_TYPE_10GBASE_SFPP_CU`: 10G SFP+ direct attach (media type DA).
pub const PHY_TYPE_10GBASE_SFPP_CU: u8 = 0x16;
/// The phy_type bitmap of get_phy_abilities (bit n = enum value n).
pub const SUPPORTED_PHY_TYPES: u32 = 1 << PHY_TYPE_10GBASE_SFPP_CU;
pub const LINK_SPEED_10GB: u8 = 0x08;
const PHY_ABILITY_LINK_ENABLED: u8 = 0x08;
const PHY_ABILITY_AN_ENABLED: u8 = 0x10;
const PHY_ABILITIES_LEN: usize = 0x218;
const PHY_REPORT_INITIAL_VALUES: u32 = 0x2;

const LSE_IS_ENABLED: u16 = 0x1;
const LSE_DISABLE: u16 = 0x2;
const LSE_ENABLE: u16 = 0x3;
const LINK_UP: u8 = 0x01;
const MEDIA_AVAILABLE: u8 = 0x40;
const AN_COMPLETED: u8 = 0x01;
const QUALIFIED_MODULE: u8 = 0x80;
const CONFIG_CRC_ENA: u8 = 0x04;
const LOOPBACK_MASK: u16 = 0x07;
const EVENT_LINK_UPDOWN: u16 = 0x0002;
/// Largest frame the MAC takes (PRTGL_SAH.MFS at reset, 0x2600).
pub const MAX_FRAME_SIZE: u16 = 9728;

// ---- filters --------------------------------------------------------------------------

const MACVLAN_ELEMENT_LEN: usize = 16;
const MACVLAN_SEID_VALID: u16 = 0x8000;
const MACVLAN_ADD_HASH_MATCH: u16 = 0x0002;
const MACVLAN_ADD_IGNORE_VLAN: u16 = 0x0004;
const MACVLAN_ADD_TO_QUEUE: u16 = 0x0008;
const MACVLAN_DEL_IGNORE_VLAN: u8 = 0x08;
const MM_PERFECT: u8 = 0x01;
const MM_HASH: u8 = 0x02;
const MM_ERR_NO_RES: u8 = 0xFF;
const REMOVE_MACVLAN_FAIL: u8 = 0xFF;
const CLOUD_ALLOCATION_FAIL: u8 = 0xFF;
const NVM_RESOURCE_READ: u16 = 1;

/// Firmware state beside the switch: what the admin queue remembers between
/// commands. Kept in [`switch::Switch`] so a PF reset reaches it.
#[derive(Debug, Clone)]
pub struct Firmware {
    /// Opcodes already reported as not modelled (survives resets: no log flood).
    logged: HashSet<u16>,
    /// The LLDP agent runs (survives PF resets).
    lldp_running: bool,
    /// Link status events armed (get_link_status LSE_ENABLE).
    pub lse: bool,
    /// set_phy_int_mask: a set bit masks the event.
    pub phy_int_mask: u16,
    pub phy: PhyConfig,
    pub lb_mode: u16,
    pub laa: Option<[u8; 6]>,
    pub driver_version: Option<[u8; 4]>,
}

/// set_phy_config as stored (`struct i40e_aq_set_phy_config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhyConfig {
    pub phy_type: u32,
    pub link_speed: u8,
    pub abilities: u8,
    pub eee_capability: u16,
    pub eeer: u32,
    pub low_power_ctrl: u8,
    pub phy_type_ext: u8,
    pub fec_config: u8,
}

impl Default for PhyConfig {
    fn default() -> Self {
        Self {
            phy_type: SUPPORTED_PHY_TYPES,
            link_speed: LINK_SPEED_10GB,
            abilities: PHY_ABILITY_LINK_ENABLED | PHY_ABILITY_AN_ENABLED,
            eee_capability: 0,
            eeer: 0,
            low_power_ctrl: 0,
            phy_type_ext: 0,
            fec_config: 0,
        }
    }
}

impl Default for Firmware {
    fn default() -> Self {
        Self {
            logged: HashSet::new(),
            lldp_running: true,
            lse: false,
            phy_int_mask: 0,
            phy: PhyConfig::default(),
            lb_mode: 0,
            laa: None,
            driver_version: None,
        }
    }
}

impl Firmware {
    /// A PF reset: everything but the log record and the LLDP agent state.
    pub fn pf_reset(&mut self) {
        let logged = std::mem::take(&mut self.logged);
        let lldp_running = self.lldp_running;
        *self = Self {
            logged,
            lldp_running,
            ..Self::default()
        };
    }

    pub fn lldp_running(&self) -> bool {
        self.lldp_running
    }

    /// Records that `op` was answered as not modelled; true the first time.
    fn first_miss(&mut self, op: u16) -> bool {
        self.logged.insert(op)
    }
}

type Res = Result<(), AqStatus>;

fn need(buf: &[u8], len: usize) -> Res {
    if buf.len() < len {
        Err(AqStatus::Einval)
    } else {
        Ok(())
    }
}

fn rd16(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn wr16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn wr32(b: &mut [u8], off: usize, v: u32) {
    if let Some(s) = b.get_mut(off..off + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn mac_at(b: &[u8], off: usize) -> [u8; 6] {
    let mut m = [0u8; 6];
    if let Some(s) = b.get(off..off + 6) {
        m.copy_from_slice(s);
    }
    m
}

fn param_mac(d: &AqDesc, off: usize) -> [u8; 6] {
    std::array::from_fn(|i| d.param_u8(off + i))
}

/// A register the AQ may touch: dword aligned, inside BAR0, and for writes not
/// the admin queue registers or a reset trigger.
fn reg_access(addr: u32, write: bool) -> Res {
    if !addr.is_multiple_of(4) || u64::from(addr) >= BAR0_SIZE {
        return Err(AqStatus::Einval);
    }
    let aq_block = (PF_ATQBAL..PF_ARQT + 4).contains(&addr);
    if write && (aq_block || addr == PFGEN_CTRL || addr == GLGEN_RTRIG) {
        return Err(AqStatus::Eacces);
    }
    Ok(())
}

impl I40e {
    /// Executes one command. `buf` holds the indirect buffer (empty without one);
    /// the handler may rewrite it (it is written back to guest memory).
    pub(super) fn aq_execute(&mut self, desc: &mut AqDesc, buf: &mut Vec<u8>) -> AqStatus {
        let op = desc.opcode();
        tracing::trace!(opcode = format_args!("{op:#06x}"), "admin command");
        let r = match op {
            opc::GET_VERSION => self.aq_get_version(desc),
            opc::DRIVER_VERSION => self.aq_driver_version(desc, buf),
            opc::QUEUE_SHUTDOWN => Ok(()),
            opc::REQUEST_RESOURCE => self.aq_request_resource(desc),
            opc::RELEASE_RESOURCE => Ok(()),
            opc::LIST_FUNC_CAPABILITIES | opc::LIST_DEV_CAPABILITIES => {
                self.aq_list_capabilities(desc, buf)
            }
            opc::MAC_ADDRESS_READ => self.aq_mac_address_read(desc, buf),
            opc::MAC_ADDRESS_WRITE => self.aq_mac_address_write(desc),
            opc::CLEAR_PXE_MODE => {
                let v = self.get(GLLAN_RCTL_0);
                self.set(GLLAN_RCTL_0, v & !1);
                Ok(())
            }
            opc::GET_SWITCH_CONFIG => self.aq_get_switch_config(desc, buf),
            opc::SET_PORT_PARAMETERS => {
                self.switch.config.port_flags = desc.param_u16(0);
                Ok(())
            }
            opc::SET_SWITCH_CONFIG => self.aq_set_switch_config(desc),
            opc::RX_CTL_REG_READ => self.aq_reg_read(desc, 12, None),
            opc::RX_CTL_REG_WRITE => self.aq_reg_write(desc, 12),
            opc::DEBUG_READ_REG => self.aq_reg_read(desc, 12, Some(8)),
            opc::DEBUG_WRITE_REG => self.aq_reg_write(desc, 12),
            opc::ADD_VSI => self.aq_add_vsi(desc, buf),
            opc::UPDATE_VSI_PARAMETERS => self.aq_update_vsi(desc, buf),
            opc::GET_VSI_PARAMETERS => self.aq_get_vsi(desc, buf),
            opc::DELETE_ELEMENT => self.switch.delete_element(desc.param_u16(0)),
            opc::ADD_MACVLAN => self.aq_add_macvlan(desc, buf),
            opc::REMOVE_MACVLAN => self.aq_remove_macvlan(desc, buf),
            opc::SET_VSI_PROMISCUOUS_MODES => self.aq_set_promisc(desc),
            opc::ADD_CONTROL_PACKET_FILTER => self.aq_control_filter(desc, true),
            opc::REMOVE_CONTROL_PACKET_FILTER => self.aq_control_filter(desc, false),
            opc::ADD_CLOUD_FILTERS => self.aq_cloud_filters(desc, buf, true),
            opc::REMOVE_CLOUD_FILTERS => self.aq_cloud_filters(desc, buf, false),
            opc::SET_DCB_PARAMETERS => Ok(()),
            opc::CONFIGURE_VSI_BW_LIMIT => self.known_vsi(desc.param_u16(0)),
            opc::CONFIGURE_VSI_TC_BW => self.aq_config_vsi_tc_bw(desc, buf),
            opc::QUERY_VSI_BW_CONFIG => self.aq_query_vsi_bw(desc, buf),
            opc::QUERY_VSI_ETS_SLA_CONFIG => self.aq_query_vsi_ets_sla(desc, buf),
            opc::GET_PHY_ABILITIES => self.aq_get_phy_abilities(desc, buf),
            opc::SET_PHY_CONFIG => self.aq_set_phy_config(desc),
            opc::SET_MAC_CONFIG => self.aq_set_mac_config(desc),
            opc::SET_LINK_RESTART_AN => Ok(()),
            opc::GET_LINK_STATUS => self.aq_get_link_status(desc),
            opc::SET_PHY_INT_MASK => {
                self.switch.fw.phy_int_mask = desc.param_u16(8);
                Ok(())
            }
            opc::SET_LB_MODES => {
                self.switch.fw.lb_mode = desc.param_u16(0);
                Ok(())
            }
            opc::LLDP_GET_MIB => Err(if self.switch.fw.lldp_running {
                AqStatus::Enoent
            } else {
                AqStatus::Eperm
            }),
            opc::LLDP_STOP => {
                self.switch.fw.lldp_running = false;
                Ok(())
            }
            opc::LLDP_START => {
                self.switch.fw.lldp_running = true;
                Ok(())
            }
            opc::ADD_UDP_TUNNEL => self.aq_add_udp_tunnel(desc),
            opc::DEL_UDP_TUNNEL => self.aq_del_udp_tunnel(desc),
            _ => {
                if self.switch.fw.first_miss(op) {
                    tracing::warn!(
                        opcode = format_args!("{op:#06x}"),
                        "admin command not modelled: answered ESRCH"
                    );
                }
                Err(AqStatus::Esrch)
            }
        };
        match r {
            Ok(()) => AqStatus::Ok,
            Err(e) => {
                tracing::debug!(opcode = format_args!("{op:#06x}"), status = ?e, "admin command failed");
                e
            }
        }
    }

    /// The get_link_status event for a link change, when events are enabled.
    pub(super) fn link_event(&mut self) -> Option<AqEvent> {
        let fw = &self.switch.fw;
        if !fw.lse || fw.phy_int_mask & EVENT_LINK_UPDOWN != 0 {
            return None;
        }
        // One event per arming: the driver re-arms with get_link_status.
        self.switch.fw.lse = false;
        Some(AqEvent {
            opcode: opc::GET_LINK_STATUS,
            params: self.link_status_params(),
            data: Vec::new(),
        })
    }

    /// `struct i40e_aqc_get_link_status` as the response and the event carry it.
    fn link_status_params(&self) -> [u8; 16] {
        let up = self.link_up();
        let fw = &self.switch.fw;
        let mut p = [0u8; 16];
        wr16(&mut p, 0, if fw.lse { LSE_IS_ENABLED } else { 0 });
        p[2] = PHY_TYPE_10GBASE_SFPP_CU;
        p[3] = if up { LINK_SPEED_10GB } else { 0 };
        p[4] = MEDIA_AVAILABLE | if up { LINK_UP } else { 0 };
        p[5] = QUALIFIED_MODULE | if up { AN_COMPLETED } else { 0 };
        p[6] = 0; // ext_info
        p[7] = (fw.lb_mode & LOOPBACK_MASK) as u8;
        let mfs = (self.get(PRTGL_SAH) >> 16) as u16;
        wr16(&mut p, 8, if mfs == 0 { MAX_FRAME_SIZE } else { mfs });
        p[10] = CONFIG_CRC_ENA;
        // link_type (API 1.7+): the PHY type bitmap, as Linux reads it.
        wr32(&mut p, 11, SUPPORTED_PHY_TYPES);
        p[15] = 0; // link_type_ext
        p
    }

    fn known_vsi(&self, seid: u16) -> Res {
        self.switch.vsi(seid).map(|_| ()).ok_or(AqStatus::Enoent)
    }

    // ---- 0x00xx ---------------------------------------------------------------------

    fn aq_get_version(&mut self, d: &mut AqDesc) -> Res {
        d.set_param_u32(0, 0); // rom_ver
        d.set_param_u32(4, FW_BUILD);
        d.set_param_u16(8, FW_MAJOR);
        d.set_param_u16(10, FW_MINOR);
        d.set_param_u16(12, API_MAJOR);
        d.set_param_u16(14, API_MINOR);
        Ok(())
    }

    fn aq_driver_version(&mut self, d: &mut AqDesc, buf: &[u8]) -> Res {
        let v = [d.param_u8(0), d.param_u8(1), d.param_u8(2), d.param_u8(3)];
        let name: String = buf
            .iter()
            .take(64)
            .take_while(|&&c| c != 0 && c < 0x80)
            .map(|&c| char::from(c))
            .collect();
        // Once per driver load (the version comes after each probe's PF reset).
        if self.switch.fw.driver_version.replace(v).is_none() {
            tracing::info!(version = ?v, driver = ?name, "driver version");
        }
        Ok(())
    }

    fn aq_request_resource(&mut self, d: &mut AqDesc) -> Res {
        if d.param_u16(0) == 0 {
            return Err(AqStatus::Einval);
        }
        let timeout_ms = if d.param_u16(2) == NVM_RESOURCE_READ {
            3_000
        } else {
            180_000
        };
        d.set_param_u32(4, timeout_ms);
        Ok(())
    }

    /// list_func_capabilities / list_dev_capabilities: the records, their count
    /// in `count` and their length in datalen; ENOMEM with the length needed
    /// when they do not fit.
    fn aq_list_capabilities(&mut self, d: &mut AqDesc, buf: &mut Vec<u8>) -> Res {
        let len = CAPABILITIES.len() * CAP_RECORD_LEN;
        d.set_param_u32(4, CAPABILITIES.len() as u32);
        d.set_datalen(len as u16);
        if buf.len() < len {
            return Err(AqStatus::Enomem);
        }
        buf.truncate(len);
        buf.fill(0);
        for (rec, &(id, number, logical_id, phys_id)) in buf
            .chunks_exact_mut(CAP_RECORD_LEN)
            .zip(CAPABILITIES.iter())
        {
            wr16(rec, 0, id);
            rec[2] = 1; // major_rev
            wr32(rec, 4, number);
            wr32(rec, 8, logical_id);
            wr32(rec, 12, phys_id);
        }
        Ok(())
    }

    // ---- 0x01xx ---------------------------------------------------------------------

    fn aq_mac_address_read(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        const LAN_ADDR_VALID: u16 = 0x10;
        const PORT_ADDR_VALID: u16 = 0x40;
        need(buf, 24)?;
        let lan = self.switch.fw.laa.unwrap_or(self.mac);
        buf[..24].fill(0);
        buf[0..6].copy_from_slice(&lan);
        buf[12..18].copy_from_slice(&self.mac);
        d.set_param_u16(0, LAN_ADDR_VALID | PORT_ADDR_VALID);
        Ok(())
    }

    fn aq_mac_address_write(&mut self, d: &mut AqDesc) -> Res {
        const WRITE_TYPE_MASK: u16 = 0xC000;
        const UPDATE_MC_MAG: u16 = 0xC000;
        let sah = d.param_u16(2).to_be_bytes();
        let sal = d.param_u32(4).to_be_bytes();
        let mac = [sah[0], sah[1], sal[0], sal[1], sal[2], sal[3]];
        if d.param_u16(0) & WRITE_TYPE_MASK == UPDATE_MC_MAG {
            return Ok(());
        }
        if mac[0] & 1 != 0 || mac == [0; 6] {
            return Err(AqStatus::Einval);
        }
        self.switch.fw.laa = Some(mac);
        Ok(())
    }

    // ---- 0x02xx: switch ---------------------------------------------------------------

    /// get_switch_config: the VSIs from `seid` on (0: the beginning), as many as
    /// fit; the reply's `seid` is where to go on, 0 when done. After a reset
    /// that is the main VSI alone.
    fn aq_get_switch_config(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        const HEADER: usize = 16;
        const ELEMENT: usize = 16;
        const TYPE_VSI: u8 = 19;
        need(buf, HEADER + ELEMENT)?;
        let start = d.param_u16(0);
        let mut vsis: Vec<_> = self.switch.vsis().iter().collect();
        vsis.sort_by_key(|v| v.seid);
        let first = vsis
            .iter()
            .position(|v| v.seid >= start)
            .unwrap_or(vsis.len());
        let room = (buf.len() - HEADER) / ELEMENT;
        let shown = (vsis.len() - first).min(room);
        buf.fill(0);
        wr16(buf, 0, shown as u16);
        wr16(buf, 2, vsis.len() as u16);
        for (i, v) in vsis[first..first + shown].iter().enumerate() {
            let e = &mut buf[HEADER + i * ELEMENT..HEADER + (i + 1) * ELEMENT];
            e[0] = TYPE_VSI;
            e[1] = 1; // revision
            wr16(e, 2, v.seid);
            wr16(e, 4, v.uplink);
            wr16(e, 6, PF_SEID);
            e[11] = v.connection_type;
        }
        let next = vsis.get(first + shown).map_or(0, |v| v.seid);
        d.set_param_u16(0, next);
        Ok(())
    }

    fn aq_set_switch_config(&mut self, d: &mut AqDesc) -> Res {
        const CFG_PROMISC: u16 = 0x0001;
        const MODE_VALID: u8 = 0x80;
        let (flags, valid) = (d.param_u16(0), d.param_u16(2));
        let c = &mut self.switch.config;
        if valid & CFG_PROMISC != 0 {
            c.promisc = flags & CFG_PROMISC != 0;
        }
        c.switch_tag = d.param_u16(4);
        c.first_tag = d.param_u16(6);
        c.second_tag = d.param_u16(8);
        let mode = d.param_u8(10);
        if mode & MODE_VALID != 0 {
            c.mode = mode & 0x7F;
        }
        Ok(())
    }

    /// rx_ctl_reg_read / debug_read_reg: the value at `value_off` (and 0 in the
    /// high dword at `high_off`).
    fn aq_reg_read(&mut self, d: &mut AqDesc, value_off: usize, high_off: Option<usize>) -> Res {
        let addr = d.param_u32(4);
        reg_access(addr, false)?;
        let v = self.debug_read(addr);
        d.set_param_u32(value_off, v);
        if let Some(h) = high_off {
            d.set_param_u32(h, 0);
        }
        Ok(())
    }

    fn aq_reg_write(&mut self, d: &mut AqDesc, value_off: usize) -> Res {
        let addr = d.param_u32(4);
        reg_access(addr, true)?;
        let v = d.param_u32(value_off);
        self.write32(addr, v);
        Ok(())
    }

    fn vsi_completion(&self, d: &mut AqDesc, seid: u16, number: u16) {
        let (used, free) = self.switch.vsi_counts();
        d.set_param_u16(0, seid);
        d.set_param_u16(2, number);
        d.set_param_u16(4, used);
        d.set_param_u16(6, free);
    }

    fn aq_add_vsi(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        need(buf, VSI_PROPS_LEN)?;
        let kind = VsiKind::from_flags(d.param_u16(6)).ok_or(AqStatus::Einval)?;
        let vsi = self
            .switch
            .add_vsi(kind, d.param_u16(0), d.param_u8(2), buf)?;
        let (seid, number, props) = (vsi.seid, vsi.number, vsi.props);
        buf[..VSI_PROPS_LEN].copy_from_slice(&props);
        self.vsi_completion(d, seid, number);
        Ok(())
    }

    /// update_vsi_parameters: the sections valid_sections names are stored; the
    /// buffer goes back as it came (the driver copies it over its context).
    fn aq_update_vsi(&mut self, d: &mut AqDesc, buf: &[u8]) -> Res {
        need(buf, VSI_PROPS_LEN)?;
        let seid = d.param_u16(0);
        let vsi = self.switch.vsi_mut(seid).ok_or(AqStatus::Enoent)?;
        vsi.apply_sections(buf);
        let number = vsi.number;
        self.vsi_completion(d, seid, number);
        Ok(())
    }

    fn aq_get_vsi(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        need(buf, VSI_PROPS_LEN)?;
        let seid = d.param_u16(0);
        let vsi = self.switch.vsi(seid).ok_or(AqStatus::Enoent)?;
        let (number, props) = (vsi.number, vsi.props);
        buf[..VSI_PROPS_LEN].copy_from_slice(&props);
        self.vsi_completion(d, seid, number);
        Ok(())
    }

    /// The element array of a MAC/VLAN command: `num_addresses` elements of
    /// 16 bytes, all inside the buffer, for a VSI that exists.
    fn macvlan_target(&self, d: &AqDesc, buf: &[u8]) -> Result<(u16, usize), AqStatus> {
        let n = usize::from(d.param_u16(0));
        if n == 0 || n * MACVLAN_ELEMENT_LEN > buf.len() {
            return Err(AqStatus::Einval);
        }
        let seid = d.param_u16(2) & !MACVLAN_SEID_VALID;
        self.known_vsi(seid)?;
        Ok((seid, n))
    }

    fn macvlan_completion(&self, d: &mut AqDesc) {
        let (used, free) = self.switch.mac_filter_counts();
        d.set_param_u16(0, used);
        d.set_param_u16(2, free);
        d.set_param_u16(4, 0); // unicast hash entries free
        d.set_param_u16(6, 0); // multicast hash entries free
    }

    /// add_macvlan: each element gets its match method, or 0xFF when the table
    /// is full (then ENOSPC, and Linux falls back to promiscuous mode).
    fn aq_add_macvlan(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        let (seid, n) = self.macvlan_target(d, buf)?;
        let mut status = Ok(());
        for e in buf.chunks_exact_mut(MACVLAN_ELEMENT_LEN).take(n) {
            let mac = mac_at(e, 0);
            let flags = rd16(e, 8);
            let vlan = (flags & MACVLAN_ADD_IGNORE_VLAN == 0).then(|| rd16(e, 6) & 0x0FFF);
            let hash = flags & MACVLAN_ADD_HASH_MATCH != 0;
            let queue = (flags & MACVLAN_ADD_TO_QUEUE != 0).then(|| rd16(e, 10) & 0x7FF);
            let f = MacFilter {
                seid,
                vlan,
                hash,
                queue,
            };
            e[12] = match self.switch.add_mac_filter(mac, f) {
                Ok(()) if hash => MM_HASH,
                Ok(()) => MM_PERFECT,
                Err(err) => {
                    status = Err(err);
                    MM_ERR_NO_RES
                }
            };
        }
        self.macvlan_completion(d);
        status
    }

    /// remove_macvlan: per element error_code 0 or 0xFF (no such filter); the
    /// command then answers ENOENT, which Linux ignores.
    fn aq_remove_macvlan(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        let (seid, n) = self.macvlan_target(d, buf)?;
        let mut status = Ok(());
        for e in buf.chunks_exact_mut(MACVLAN_ELEMENT_LEN).take(n) {
            let mac = mac_at(e, 0);
            let vlan = (e[8] & MACVLAN_DEL_IGNORE_VLAN == 0).then(|| rd16(e, 6) & 0x0FFF);
            e[12] = if self.switch.remove_mac_filter(seid, mac, vlan) {
                0
            } else {
                status = Err(AqStatus::Enoent);
                REMOVE_MACVLAN_FAIL
            };
        }
        self.macvlan_completion(d);
        status
    }

    fn aq_set_promisc(&mut self, d: &mut AqDesc) -> Res {
        let (flags, valid, seid, tag) = (
            d.param_u16(0),
            d.param_u16(2),
            d.param_u16(4),
            d.param_u16(6),
        );
        let vlan = (tag & switch::PROMISC_VLAN_VALID != 0).then_some(tag & 0x0FFF);
        let vsi = self.switch.vsi_mut(seid).ok_or(AqStatus::Enoent)?;
        vsi.promisc.apply(flags, valid, vlan);
        Ok(())
    }

    fn aq_control_filter(&mut self, d: &mut AqDesc, add: bool) -> Res {
        let f = ControlFilter {
            mac: param_mac(d, 0),
            etype: d.param_u16(6),
            flags: d.param_u16(8),
            seid: d.param_u16(10),
            queue: if add { d.param_u16(12) } else { 0 },
        };
        if add {
            self.switch.add_control_filter(f)?;
        } else if !self.switch.remove_control_filter(&f) {
            return Err(AqStatus::Enoent);
        }
        let (used, free) = self.switch.control_filter_counts();
        d.set_param_u16(0, used);
        d.set_param_u16(2, used);
        d.set_param_u16(4, free);
        d.set_param_u16(6, free);
        Ok(())
    }

    /// add/remove_cloud_filters: 64-byte elements (the big-buffer variant is
    /// refused); each element's allocation_result is 0 or 0xFF.
    fn aq_cloud_filters(&mut self, d: &mut AqDesc, buf: &mut [u8], add: bool) -> Res {
        let n = usize::from(d.param_u8(0));
        let seid = d.param_u16(2);
        if d.param_u8(4) != 0 || n == 0 || n * CLOUD_ELEMENT_LEN > buf.len() {
            return Err(AqStatus::Einval);
        }
        self.known_vsi(seid)?;
        let mut status = Ok(());
        for e in buf.chunks_exact_mut(CLOUD_ELEMENT_LEN).take(n) {
            let mut raw = [0u8; CLOUD_ELEMENT_LEN];
            raw.copy_from_slice(e);
            raw[switch::cloud::ALLOCATION_RESULT..].fill(0);
            let f = CloudFilter { seid, raw };
            let r = if add {
                self.switch.add_cloud_filter(f)
            } else if self.switch.remove_cloud_filter(&f) {
                Ok(())
            } else {
                Err(AqStatus::Enoent)
            };
            e[switch::cloud::ALLOCATION_RESULT] = match r {
                Ok(()) => 0,
                Err(err) => {
                    status = Err(err);
                    CLOUD_ALLOCATION_FAIL
                }
            };
        }
        status
    }

    // ---- 0x04xx: Tx scheduler ---------------------------------------------------------

    /// The queue set handles of a VSI for the TCs in `tc_bits` (0xFFFF for the
    /// others), at `off` in `buf`.
    fn write_qs_handles(&self, seid: u16, tc_bits: u8, buf: &mut [u8], off: usize) -> Res {
        let vsi = self.switch.vsi(seid).ok_or(AqStatus::Enoent)?;
        for tc in 0..8 {
            let h = if tc_bits & (1 << tc) != 0 {
                vsi.qs_handle(0)
            } else {
                switch::props::QS_HANDLE_INVALID
            };
            wr16(buf, off + 2 * tc, h);
        }
        Ok(())
    }

    fn aq_config_vsi_tc_bw(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        need(buf, 0x20)?;
        let tc_bits = buf[0];
        self.write_qs_handles(d.param_u16(0), tc_bits, buf, 16)
    }

    fn aq_query_vsi_bw(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        need(buf, 0x40)?;
        buf[..0x40].fill(0);
        buf[0] = 1; // tc_valid_bits: TC0
        self.write_qs_handles(d.param_u16(0), 1, buf, 16)
    }

    fn aq_query_vsi_ets_sla(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        need(buf, 0x20)?;
        self.known_vsi(d.param_u16(0))?;
        buf[..0x20].fill(0);
        buf[0] = 1; // tc_valid_bits: TC0, no limits
        Ok(())
    }

    // ---- 0x06xx: PHY and link ---------------------------------------------------------

    /// get_phy_abilities: with REPORT_INITIAL_VALUES what the PHY can do,
    /// otherwise the current configuration (set_phy_config).
    fn aq_get_phy_abilities(&mut self, d: &mut AqDesc, buf: &mut [u8]) -> Res {
        need(buf, PHY_ABILITIES_LEN)?;
        let cfg = if d.param_u32(0) & PHY_REPORT_INITIAL_VALUES != 0 {
            PhyConfig::default()
        } else {
            self.switch.fw.phy
        };
        buf[..PHY_ABILITIES_LEN].fill(0);
        wr32(buf, 0, cfg.phy_type);
        buf[4] = cfg.link_speed;
        buf[5] = cfg.abilities;
        wr16(buf, 6, cfg.eee_capability);
        wr32(buf, 8, cfg.eeer);
        buf[12] = cfg.low_power_ctrl;
        buf[13] = cfg.phy_type_ext;
        buf[14] = cfg.fec_config;
        Ok(())
    }

    /// Whether the stored PHY configuration enables the link.
    pub(super) fn phy_link_enabled(&self) -> bool {
        self.switch.fw.phy.abilities & PHY_ABILITY_LINK_ENABLED != 0
    }

    /// set_phy_config: stored for get_phy_abilities; ENABLE_LINK (abilities bit 3)
    /// takes the link up or down, with a link status event when it changes.
    fn aq_set_phy_config(&mut self, d: &mut AqDesc) -> Res {
        const ATOMIC_LINK: u8 = 0x20;
        let before = self.link_up();
        self.switch.fw.phy = PhyConfig {
            phy_type: d.param_u32(0) & SUPPORTED_PHY_TYPES,
            link_speed: d.param_u8(4),
            abilities: d.param_u8(5) & !ATOMIC_LINK,
            eee_capability: d.param_u16(6),
            eeer: d.param_u32(8),
            low_power_ctrl: d.param_u8(12),
            phy_type_ext: d.param_u8(13),
            fec_config: d.param_u8(14),
        };
        if before != self.link_up() {
            tracing::debug!(up = self.link_up(), "set_phy_config changed the link");
            self.link_changed();
        }
        Ok(())
    }

    /// set_mac_config: the largest frame goes to PRTGL_SAH.MFS (0: unchanged).
    fn aq_set_mac_config(&mut self, d: &mut AqDesc) -> Res {
        let mfs = d.param_u16(0);
        if mfs > MAX_FRAME_SIZE {
            return Err(AqStatus::Einval);
        }
        if mfs != 0 {
            let sah = self.get(PRTGL_SAH);
            self.set(PRTGL_SAH, (sah & 0xFFFF) | (u32::from(mfs) << 16));
        }
        Ok(())
    }

    fn aq_get_link_status(&mut self, d: &mut AqDesc) -> Res {
        match d.param_u16(0) & 0x3 {
            LSE_ENABLE => self.switch.fw.lse = true,
            LSE_DISABLE => self.switch.fw.lse = false,
            _ => {}
        }
        let p = self.link_status_params();
        for (i, b) in p.iter().enumerate() {
            d.set_param_u8(i, *b);
        }
        Ok(())
    }

    // ---- 0x0Bxx: tunnels ---------------------------------------------------------------

    fn aq_add_udp_tunnel(&mut self, d: &mut AqDesc) -> Res {
        let t = UdpTunnel {
            port: d.param_u16(0),
            kind: d.param_u8(5),
        };
        let index = self.switch.add_udp_tunnel(t)?;
        d.set_param_u16(0, t.port);
        d.set_param_u8(2, index);
        d.set_param_u8(3, 0); // multiple_pfs
        d.set_param_u8(4, self.switch.udp_tunnel_count());
        d.set_param_u8(5, 0);
        Ok(())
    }

    fn aq_del_udp_tunnel(&mut self, d: &mut AqDesc) -> Res {
        let index = d.param_u8(2);
        let t = self.switch.del_udp_tunnel(index)?;
        d.set_param_u16(0, t.port);
        d.set_param_u8(2, index);
        d.set_param_u8(3, 0);
        d.set_param_u8(4, self.switch.udp_tunnel_count());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dma::DmaSpace;

    use super::super::adminq::{FLAG_BUF, FLAG_CMP, FLAG_DD, FLAG_ERR, FLAG_RD};
    use super::super::switch::{MAC_SEID, MAIN_VSI_SEID, VSI_SEID_BASE};
    use super::super::test_support::{rd, wr};
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

    fn device() -> (I40e, Arc<DmaSpace>) {
        super::super::test_support::device(MAC)
    }

    fn desc(opcode: u16, flags: u16, datalen: u16) -> AqDesc {
        let mut d = AqDesc([0; 32]);
        d.set_u16(0, flags);
        d.set_u16(2, opcode);
        d.set_datalen(datalen);
        d
    }

    /// Runs a command directly: descriptor with `params` applied, `buf` as the
    /// indirect buffer.
    /// get_link_status with LSE_ENABLE: link status events armed.
    fn arm_lse(dev: &mut I40e) {
        let (st, _, _) = run(
            dev,
            opc::GET_LINK_STATUS,
            |d| d.set_param_u16(0, LSE_ENABLE),
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
    }

    fn run(
        dev: &mut I40e,
        opcode: u16,
        params: impl FnOnce(&mut AqDesc),
        mut buf: Vec<u8>,
    ) -> (AqStatus, AqDesc, Vec<u8>) {
        let flags = if buf.is_empty() { 0 } else { FLAG_BUF };
        let mut d = desc(opcode, flags, buf.len() as u16);
        params(&mut d);
        let st = dev.aq_execute(&mut d, &mut buf);
        (st, d, buf)
    }

    #[test]
    fn get_version_reports_fw_9_20_api_1_15() {
        let (mut dev, _) = device();
        let (st, d, _) = run(&mut dev, opc::GET_VERSION, |_| {}, vec![]);
        assert_eq!(st, AqStatus::Ok);
        assert_eq!((d.param_u16(8), d.param_u16(10)), (9, 20));
        assert_eq!((d.param_u16(12), d.param_u16(14)), (1, 15));
    }

    #[test]
    fn capabilities_fit_or_ask_for_a_bigger_buffer() {
        let (mut dev, _) = device();
        let (st, d, _) = run(&mut dev, opc::LIST_FUNC_CAPABILITIES, |_| {}, vec![0; 64]);
        assert_eq!(st, AqStatus::Enomem);
        assert_eq!(usize::from(d.datalen()), 8 * CAP_RECORD_LEN);
        let (st, d, buf) = run(&mut dev, opc::LIST_FUNC_CAPABILITIES, |_| {}, vec![0; 1280]);
        assert_eq!(st, AqStatus::Ok);
        let count = d.param_u32(4) as usize;
        assert_eq!(count, 8);
        let mut seen = std::collections::HashMap::new();
        for r in buf.chunks_exact(CAP_RECORD_LEN).take(count) {
            seen.insert(
                rd16(r, 0),
                (u32::from_le_bytes(r[4..8].try_into().unwrap()), r[8]),
            );
        }
        assert_eq!(seen[&CAP_RSS], (512, 6));
        assert_eq!(seen[&CAP_RXQ].0, 128);
        assert_eq!(seen[&CAP_TXQ].0, 128);
        assert_eq!(seen[&CAP_MSIX].0, 129);
        assert_eq!(seen[&CAP_VSI].0, 384);
        assert_eq!(seen[&CAP_FUNCTIONS_VALID].0, 1);
        // DCB capable, TC0 enabled: the map DPDK checks its main VSI's TCs against.
        assert_eq!(seen[&CAP_DCB], (1, 0x1));
        assert_eq!(seen[&CAP_FLOW_DIRECTOR].0, 512);
        for absent in [0x14u16, 0x12, 0x13] {
            assert!(!seen.contains_key(&absent), "capability {absent:#x}");
        }
        // The device capability list answers the same way.
        let (st, _, _) = run(&mut dev, opc::LIST_DEV_CAPABILITIES, |_| {}, vec![0; 1280]);
        assert_eq!(st, AqStatus::Ok);
    }

    #[test]
    fn switch_config_has_one_vsi_element() {
        let (mut dev, _) = device();
        let (st, d, buf) = run(&mut dev, opc::GET_SWITCH_CONFIG, |_| {}, vec![0; 4096]);
        assert_eq!(st, AqStatus::Ok);
        assert_eq!(rd16(&buf, 0), 1, "num_reported");
        assert_eq!(d.param_u16(0), 0, "no next seid");
        let e = &buf[16..32];
        assert_eq!(e[0], 19, "VSI element");
        assert_eq!(rd16(e, 2), MAIN_VSI_SEID);
        assert_eq!(rd16(e, 4), MAC_SEID);
        assert_eq!(rd16(e, 6), PF_SEID);
        // get_vsi_parameters on it.
        let (st, d, buf) = run(
            &mut dev,
            opc::GET_VSI_PARAMETERS,
            |d| d.set_param_u16(0, MAIN_VSI_SEID),
            vec![0; 128],
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!((d.param_u16(0), d.param_u16(2)), (MAIN_VSI_SEID, 0));
        assert_eq!((d.param_u16(4), d.param_u16(6)), (1, 383));
        assert_eq!(buf[switch::props::PORT_VLAN_FLAGS], 0x1B);
    }

    fn macvlan_element(mac: [u8; 6], vlan: u16, flags: u16) -> Vec<u8> {
        let mut e = vec![0u8; MACVLAN_ELEMENT_LEN];
        e[..6].copy_from_slice(&mac);
        wr16(&mut e, 6, vlan);
        wr16(&mut e, 8, flags);
        e[12] = MM_ERR_NO_RES;
        e
    }

    #[test]
    fn add_macvlan_writes_match_method_and_steers() {
        let (mut dev, _) = device();
        let seid = MAIN_VSI_SEID | MACVLAN_SEID_VALID;
        // Linux removes the firmware's default filter first.
        let mut rm = macvlan_element(MAC, 0, 0x01);
        rm[12] = 0;
        let (st, _, out) = run(
            &mut dev,
            opc::REMOVE_MACVLAN,
            |d| {
                d.set_param_u16(0, 1);
                d.set_param_u16(2, seid);
            },
            rm.clone(),
        );
        assert_eq!(
            (st, out[12]),
            (AqStatus::Enoent, 0xFF),
            "no VLAN-0 default filter"
        );
        rm[8] = 0x01 | MACVLAN_DEL_IGNORE_VLAN;
        let (st, _, out) = run(
            &mut dev,
            opc::REMOVE_MACVLAN,
            |d| {
                d.set_param_u16(0, 1);
                d.set_param_u16(2, seid);
            },
            rm,
        );
        assert_eq!((st, out[12]), (AqStatus::Ok, 0));
        assert_eq!(dev.switch.classify(MAC, None, None), None);

        let mut buf = macvlan_element(MAC, 0, 0x01 | MACVLAN_ADD_IGNORE_VLAN);
        buf.extend(macvlan_element([0x33, 0x33, 0, 0, 0, 1], 0, 0x01));
        let (st, d, out) = run(
            &mut dev,
            opc::ADD_MACVLAN,
            |d| {
                d.set_param_u16(0, 2);
                d.set_param_u16(2, seid);
            },
            buf,
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!((out[12], out[28]), (MM_PERFECT, MM_PERFECT));
        assert_eq!(d.param_u16(0), 2, "perfect filters used");
        let t = dev.switch.classify(MAC, Some(42), None).unwrap();
        assert_eq!(t.vsi, 0);
        assert!(dev
            .switch
            .classify([0x33, 0x33, 0, 0, 0, 1], None, None)
            .is_some());
        assert!(dev.switch.classify([0xFF; 6], None, None).is_none());
        let (st, _, _) = run(
            &mut dev,
            opc::SET_VSI_PROMISCUOUS_MODES,
            |d| {
                d.set_param_u16(0, 0x04);
                d.set_param_u16(2, 0x04);
                d.set_param_u16(4, MAIN_VSI_SEID);
            },
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
        assert!(dev.switch.classify([0xFF; 6], None, None).is_some());
    }

    #[test]
    fn macvlan_vsi_gets_its_own_queues() {
        let (mut dev, _) = device();
        let mut props = vec![0u8; 128];
        wr16(&mut props, 0, 0x0040);
        wr16(&mut props, switch::props::QUEUE_MAPPING, 8);
        wr16(&mut props, switch::props::TC_MAPPING, 1 << 9);
        let (st, d, out) = run(
            &mut dev,
            opc::ADD_VSI,
            |d| {
                d.set_param_u16(0, MAC_SEID);
                d.set_param_u8(2, 1);
                d.set_param_u16(6, 1); // VMDQ2
            },
            props,
        );
        assert_eq!(st, AqStatus::Ok);
        let (seid, number) = (d.param_u16(0), d.param_u16(2));
        assert_eq!((seid, number), (VSI_SEID_BASE + 1, 1));
        assert_eq!((d.param_u16(4), d.param_u16(6)), (2, 382));
        assert_eq!(
            rd16(&out, switch::props::STAT_COUNTER_IDX),
            super::super::stats::stat_index(1)
        );
        // 0x0407 hands out the TC0 queue set handle.
        let mut bw = vec![0u8; 32];
        bw[0] = 1;
        let (st, _, bw) = run(
            &mut dev,
            opc::CONFIGURE_VSI_TC_BW,
            |d| d.set_param_u16(0, seid),
            bw,
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!((rd16(&bw, 16), rd16(&bw, 18)), (1, 0xFFFF));
        let mac2 = [0x02, 0, 0, 0, 0, 2];
        let (st, _, out) = run(
            &mut dev,
            opc::ADD_MACVLAN,
            |d| {
                d.set_param_u16(0, 1);
                d.set_param_u16(2, seid | MACVLAN_SEID_VALID);
            },
            macvlan_element(mac2, 0, 0x05),
        );
        assert_eq!((st, out[12]), (AqStatus::Ok, MM_PERFECT));
        let t = dev.switch.classify(mac2, None, None).unwrap();
        assert_eq!((t.vsi, t.queue_base, t.queue_count), (1, 8, 2));
        // Turn on VLAN stripping (update_vsi, VLAN section, EMOD_STR_BOTH).
        let mut upd = vec![0u8; 128];
        wr16(&mut upd, 0, 0x0004);
        upd[switch::props::PORT_VLAN_FLAGS] = 0x03;
        let (st, _, _) = run(
            &mut dev,
            opc::UPDATE_VSI_PARAMETERS,
            |d| d.set_param_u16(0, seid),
            upd,
        );
        assert_eq!(st, AqStatus::Ok);
        assert!(dev.switch.classify(mac2, None, None).unwrap().strip_vlan);
        let (st, _, _) = run(
            &mut dev,
            opc::DELETE_ELEMENT,
            |d| d.set_param_u16(0, seid),
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!(dev.switch.classify(mac2, None, None), None);
    }

    #[test]
    fn link_status_reports_10g_up_and_arms_one_event() {
        let (mut dev, _) = device();
        let (st, d, _) = run(
            &mut dev,
            opc::GET_LINK_STATUS,
            |d| d.set_param_u16(0, LSE_ENABLE),
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!(d.param_u16(0) & LSE_IS_ENABLED, LSE_IS_ENABLED);
        assert_eq!(d.param_u8(2), PHY_TYPE_10GBASE_SFPP_CU);
        assert_eq!(d.param_u8(3), LINK_SPEED_10GB);
        assert_eq!(d.param_u8(4), LINK_UP | MEDIA_AVAILABLE);
        assert_eq!(d.param_u8(5) & AN_COMPLETED, AN_COMPLETED);
        assert_eq!(d.param_u16(8), 9728);
        assert_eq!(d.param_u8(10) & CONFIG_CRC_ENA, CONFIG_CRC_ENA);
        assert_eq!(d.param_u32(11), SUPPORTED_PHY_TYPES);
        dev.wire_up = false;
        let ev = dev.link_event().expect("armed");
        assert_eq!(ev.opcode, opc::GET_LINK_STATUS);
        assert_eq!(ev.params[4] & LINK_UP, 0);
        assert!(dev.link_event().is_none(), "one event per arming");
        // Masked by set_phy_int_mask.
        arm_lse(&mut dev);
        run(
            &mut dev,
            opc::SET_PHY_INT_MASK,
            |d| d.set_param_u16(8, EVENT_LINK_UPDOWN),
            vec![],
        );
        assert!(dev.link_event().is_none());
        let (_, d, _) = run(
            &mut dev,
            opc::GET_LINK_STATUS,
            |d| d.set_param_u16(0, LSE_DISABLE),
            vec![],
        );
        assert_eq!(d.param_u16(0) & LSE_IS_ENABLED, 0);
    }

    #[test]
    fn set_phy_config_enable_link_takes_the_link_down_and_up() {
        let (mut dev, _) = device();
        arm_lse(&mut dev);
        assert!(dev.link_up());
        // DPDK's set_link_down: ATOMIC_LINK without ENABLE_LINK, no PHY types.
        let (st, _, _) = run(
            &mut dev,
            opc::SET_PHY_CONFIG,
            |d| d.set_param_u8(5, 0x20),
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
        assert!(!dev.link_up());
        // The event went out, so it is disarmed until the driver re-arms it.
        assert!(!dev.switch.fw.lse);
        // ENABLE_LINK again: up, and a second event once re-armed.
        arm_lse(&mut dev);
        run(
            &mut dev,
            opc::SET_PHY_CONFIG,
            |d| {
                d.set_param_u32(0, SUPPORTED_PHY_TYPES);
                d.set_param_u8(5, 0x20 | PHY_ABILITY_LINK_ENABLED | PHY_ABILITY_AN_ENABLED);
            },
            vec![],
        );
        assert!(dev.link_up());
        assert!(!dev.switch.fw.lse);
        // Without the wire the PHY cannot bring the link up.
        dev.wire_up = false;
        assert!(!dev.link_up());
    }

    #[test]
    fn phy_abilities_report_initial_and_current() {
        let (mut dev, _) = device();
        let (st, _, buf) = run(
            &mut dev,
            opc::GET_PHY_ABILITIES,
            |d| d.set_param_u32(0, 2),
            vec![0; 0x218],
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!(
            u32::from_le_bytes(buf[0..4].try_into().unwrap()),
            SUPPORTED_PHY_TYPES
        );
        assert_eq!((buf[4], buf[5]), (LINK_SPEED_10GB, 0x18));
        // Link down on close: phy_type 0 is stored and reported.
        run(
            &mut dev,
            opc::SET_PHY_CONFIG,
            |d| d.set_param_u8(4, LINK_SPEED_10GB),
            vec![],
        );
        let (_, _, buf) = run(&mut dev, opc::GET_PHY_ABILITIES, |_| {}, vec![0; 0x218]);
        assert_eq!(u32::from_le_bytes(buf[0..4].try_into().unwrap()), 0);
        let (st, _, _) = run(&mut dev, opc::GET_PHY_ABILITIES, |_| {}, vec![0; 16]);
        assert_eq!(st, AqStatus::Einval, "short buffer");
    }

    #[test]
    fn unknown_opcodes_answer_esrch_and_log_once() {
        let (mut dev, _) = device();
        let (st, _, _) = run(&mut dev, 0x0230, |_| {}, vec![]);
        assert_eq!(st, AqStatus::Esrch);
        assert!(!dev.switch.fw.first_miss(0x0230), "already recorded");
        let (st, _, _) = run(&mut dev, 0x0230, |_| {}, vec![]);
        assert_eq!(st, AqStatus::Esrch);
        // The record outlives a PF reset.
        wr(&mut dev, PFGEN_CTRL, PFGEN_CTRL_PFSWR);
        assert!(!dev.switch.fw.first_miss(0x0230));
    }

    #[test]
    fn hostile_commands_are_refused_cleanly() {
        let (mut dev, _) = device();
        // More elements than the buffer holds.
        let (st, _, _) = run(
            &mut dev,
            opc::ADD_MACVLAN,
            |d| {
                d.set_param_u16(0, 0xFFFF);
                d.set_param_u16(2, MAIN_VSI_SEID | MACVLAN_SEID_VALID);
            },
            vec![0; 16],
        );
        assert_eq!(st, AqStatus::Einval);
        // Unknown VSI.
        let (st, _, _) = run(
            &mut dev,
            opc::GET_VSI_PARAMETERS,
            |d| d.set_param_u16(0, 7),
            vec![0; 128],
        );
        assert_eq!(st, AqStatus::Enoent);
        // Structures longer than the buffer.
        for op in [
            opc::ADD_VSI,
            opc::UPDATE_VSI_PARAMETERS,
            opc::GET_VSI_PARAMETERS,
            opc::MAC_ADDRESS_READ,
            opc::GET_SWITCH_CONFIG,
            opc::QUERY_VSI_BW_CONFIG,
        ] {
            let (st, _, _) = run(
                &mut dev,
                op,
                |d| d.set_param_u16(0, MAIN_VSI_SEID),
                vec![0; 8],
            );
            assert_eq!(st, AqStatus::Einval, "opcode {op:#x}");
        }
        // Cloud filters: big buffer refused, too many elements refused.
        let (st, _, _) = run(
            &mut dev,
            opc::ADD_CLOUD_FILTERS,
            |d| {
                d.set_param_u8(0, 1);
                d.set_param_u16(2, MAIN_VSI_SEID);
                d.set_param_u8(4, 1);
            },
            vec![0; 128],
        );
        assert_eq!(st, AqStatus::Einval);
        let (st, _, _) = run(
            &mut dev,
            opc::ADD_CLOUD_FILTERS,
            |d| {
                d.set_param_u8(0, 200);
                d.set_param_u16(2, MAIN_VSI_SEID);
            },
            vec![0; 64],
        );
        assert_eq!(st, AqStatus::Einval);
        // The AQ may not write its own registers or reset the function.
        for addr in [PF_ATQT, PF_ATQLEN, PF_ARQT, PFGEN_CTRL, GLGEN_RTRIG] {
            let (st, _, _) = run(
                &mut dev,
                opc::DEBUG_WRITE_REG,
                |d| {
                    d.set_param_u32(4, addr);
                    d.set_param_u32(12, 1);
                },
                vec![],
            );
            assert_eq!(st, AqStatus::Eacces, "register {addr:#x}");
        }
        let (st, _, _) = run(
            &mut dev,
            opc::RX_CTL_REG_READ,
            |d| d.set_param_u32(4, 0xFFFF_FFF0),
            vec![],
        );
        assert_eq!(st, AqStatus::Einval);
    }

    #[test]
    fn rx_ctl_and_debug_registers_reach_the_register_file() {
        let (mut dev, _) = device();
        let (st, _, _) = run(
            &mut dev,
            opc::RX_CTL_REG_WRITE,
            |d| {
                d.set_param_u32(4, PFQF_HENA0);
                d.set_param_u32(12, 0xDEAD_BEEF);
            },
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!(rd(&mut dev, PFQF_HENA0), 0xDEAD_BEEF);
        let (_, d, _) = run(
            &mut dev,
            opc::RX_CTL_REG_READ,
            |d| d.set_param_u32(4, PFQF_HENA0),
            vec![],
        );
        assert_eq!(d.param_u32(12), 0xDEAD_BEEF);
        // Ports 1..3 disabled, port 0 enabled.
        let (_, d, _) = run(
            &mut dev,
            opc::DEBUG_READ_REG,
            |d| d.set_param_u32(4, PRTGEN_CNF + 4),
            vec![],
        );
        assert_eq!(d.param_u32(12) & 1, 1);
        let (_, d, _) = run(
            &mut dev,
            opc::DEBUG_READ_REG,
            |d| d.set_param_u32(4, PRTGEN_CNF),
            vec![],
        );
        assert_eq!(d.param_u32(12) & 1, 0);
    }

    #[test]
    fn misc_commands_answer_what_the_drivers_read() {
        let (mut dev, _) = device();
        let (st, d, buf) = run(&mut dev, opc::MAC_ADDRESS_READ, |_| {}, vec![0; 24]);
        assert_eq!(st, AqStatus::Ok);
        assert_eq!(d.param_u16(0), 0x50);
        assert_eq!((&buf[0..6], &buf[12..18]), (&MAC[..], &MAC[..]));
        let (_, d, _) = run(
            &mut dev,
            opc::REQUEST_RESOURCE,
            |d| {
                d.set_param_u16(0, 1);
                d.set_param_u16(2, 1);
            },
            vec![],
        );
        assert_eq!(d.param_u32(4), 3000);
        wr(&mut dev, GLLAN_RCTL_0, 1);
        run(
            &mut dev,
            opc::CLEAR_PXE_MODE,
            |d| d.set_param_u8(0, 2),
            vec![],
        );
        assert_eq!(rd(&mut dev, GLLAN_RCTL_0) & 1, 0);
        assert_eq!(
            run(&mut dev, opc::LLDP_GET_MIB, |_| {}, vec![0; 64]).0,
            AqStatus::Enoent
        );
        run(&mut dev, opc::LLDP_STOP, |d| d.set_param_u8(0, 1), vec![]);
        assert_eq!(
            run(&mut dev, opc::LLDP_GET_MIB, |_| {}, vec![0; 64]).0,
            AqStatus::Eperm
        );
        let (st, d, _) = run(
            &mut dev,
            opc::ADD_UDP_TUNNEL,
            |d| d.set_param_u16(0, 4789),
            vec![],
        );
        assert_eq!((st, d.param_u8(2)), (AqStatus::Ok, 0));
        assert_eq!(dev.switch.udp_tunnel(4789), Some(0));
        let (st, _, _) = run(
            &mut dev,
            opc::DEL_UDP_TUNNEL,
            |d| d.set_param_u8(2, 0),
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!(dev.switch.udp_tunnel(4789), None);
        let (st, _, _) = run(
            &mut dev,
            opc::ADD_CONTROL_PACKET_FILTER,
            |d| {
                d.set_param_u16(6, 0x8808);
                d.set_param_u16(8, 0x000B);
                d.set_param_u16(10, MAIN_VSI_SEID);
            },
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
        assert!(dev.switch.drops_tx(MAC, 0x8808));
        let (st, _, _) = run(
            &mut dev,
            opc::SET_MAC_CONFIG,
            |d| d.set_param_u16(0, 1518),
            vec![],
        );
        assert_eq!(st, AqStatus::Ok);
        assert_eq!(rd(&mut dev, PRTGL_SAH) >> 16, 1518);
    }

    #[test]
    fn nvgre_cloud_filter_through_the_admin_queue() {
        let (mut dev, _) = device();
        let inner = [0x02, 0, 0, 0, 0, 0x21];
        let mut e = vec![0u8; 64];
        e[6..12].copy_from_slice(&inner);
        wr16(&mut e, 30, 0x0286); // IMAC_TEN_ID | TO_QUEUE | NVGRE
        wr32(&mut e, 32, 100);
        wr16(&mut e, 40, 0);
        e[56] = 0xAA;
        let params = |d: &mut AqDesc| {
            d.set_param_u8(0, 1);
            d.set_param_u16(2, MAIN_VSI_SEID);
        };
        let (st, _, out) = run(&mut dev, opc::ADD_CLOUD_FILTERS, params, e.clone());
        assert_eq!((st, out[56]), (AqStatus::Ok, 0));
        let t = dev
            .switch
            .classify([0x02, 9, 9, 9, 9, 9], None, Some((100, inner)))
            .unwrap();
        assert_eq!((t.vsi, t.fixed_queue), (0, Some(0)));
        let (st, _, out) = run(&mut dev, opc::REMOVE_CLOUD_FILTERS, params, e.clone());
        assert_eq!((st, out[56]), (AqStatus::Ok, 0));
        let (st, _, out) = run(&mut dev, opc::REMOVE_CLOUD_FILTERS, params, e);
        assert_eq!((st, out[56]), (AqStatus::Enoent, 0xFF));
    }

    /// The whole path: ring registers, a direct and an indirect command, and
    /// the completed descriptors in guest memory.
    #[test]
    fn commands_complete_through_the_send_queue() {
        let (mut dev, dma) = device();
        dma.map_anonymous(0, 1 << 20).unwrap();
        let ring = 0x1000u64;
        wr(&mut dev, PF_ATQBAL, ring as u32);
        wr(&mut dev, PF_ATQBAH, 0);
        wr(&mut dev, PF_ATQH, 0);
        wr(&mut dev, PF_ATQT, 0);
        wr(&mut dev, PF_ATQLEN, 16 | AQ_LEN_ENABLE);
        assert_eq!(rd(&mut dev, PF_ATQBAL), ring as u32);

        let d0 = desc(opc::GET_VERSION, 0, 0);
        dma.write(ring, &d0.0).unwrap();
        let buf_addr = 0x8000u64;
        dma.write(buf_addr, &[0xEE; 24]).unwrap();
        let mut d1 = desc(opc::MAC_ADDRESS_READ, FLAG_BUF, 24);
        d1.set_u32(24, (buf_addr >> 32) as u32);
        d1.set_u32(28, buf_addr as u32);
        dma.write(ring + 32, &d1.0).unwrap();
        let mut d2 = desc(opc::ADD_MACVLAN, FLAG_BUF | FLAG_RD, 16);
        d2.set_param_u16(0, 1);
        d2.set_param_u16(2, MAIN_VSI_SEID | MACVLAN_SEID_VALID);
        d2.set_u32(28, 0x9000);
        dma.write(0x9000, &macvlan_element(MAC, 0, 0x05)).unwrap();
        dma.write(ring + 64, &d2.0).unwrap();
        let d3 = desc(0x0230, 0, 0);
        dma.write(ring + 96, &d3.0).unwrap();
        wr(&mut dev, PF_ATQT, 4);

        assert_eq!(rd(&mut dev, PF_ATQH), 4);
        let mut raw = [0u8; 32];
        dma.read(ring, &mut raw).unwrap();
        let c = AqDesc(raw);
        assert_eq!(
            c.flags() & (FLAG_DD | FLAG_CMP | FLAG_ERR),
            FLAG_DD | FLAG_CMP
        );
        assert_eq!(c.u16_at(6), 0);
        assert_eq!((c.param_u16(8), c.param_u16(14)), (FW_MAJOR, API_MINOR));
        dma.read(ring + 32, &mut raw).unwrap();
        assert_eq!(
            AqDesc(raw).flags() & (FLAG_DD | FLAG_CMP),
            FLAG_DD | FLAG_CMP
        );
        let mut mac = [0u8; 24];
        dma.read(buf_addr, &mut mac).unwrap();
        assert_eq!(&mac[..6], &MAC);
        let mut el = [0u8; 16];
        dma.read(0x9000, &mut el).unwrap();
        assert_eq!(el[12], MM_PERFECT, "match_method written back");
        dma.read(ring + 96, &mut raw).unwrap();
        let c = AqDesc(raw);
        assert_eq!(
            c.flags() & (FLAG_DD | FLAG_CMP | FLAG_ERR),
            FLAG_DD | FLAG_CMP | FLAG_ERR
        );
        assert_eq!(c.u16_at(6), AqStatus::Esrch as u16);
        assert_eq!(dev.counters().aq_commands, 4);
    }
}
