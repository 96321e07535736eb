//! Receive filtering as the control queue sets it up (5.1.6.5.1-5.1.6.5.3): promiscuous
//! and all-multicast modes, the unicast and multicast MAC tables, and the VLAN filter.
//!
//! Like QEMU's device, the filter starts promiscuous, so a driver that never sends
//! CTRL_RX commands receives everything; Linux sets the modes and tables when the
//! interface comes up.

/// Addresses each table holds; a longer list switches its class to "accept all", as
/// a NIC whose perfect filters overflow falls back to promiscuous for that class.
pub const MAC_TABLE_ENTRIES: usize = 64;
const VLAN_IDS: usize = 4096;

/// Why a frame was filtered out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    Unicast,
    Multicast,
    Vlan(u16),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct MacTable {
    entries: Vec<[u8; 6]>,
    overflow: bool,
}

impl MacTable {
    fn contains(&self, mac: &[u8]) -> bool {
        self.overflow || self.entries.iter().any(|e| e[..] == *mac)
    }
}

#[derive(Debug, Clone)]
pub struct RxFilter {
    pub promisc: bool,
    pub allmulti: bool,
    unicast: MacTable,
    multicast: MacTable,
    /// With CTRL_VLAN negotiated, tagged frames pass only for VIDs the driver added.
    vlan_filtering: bool,
    vlans: Vec<u64>,
}

impl RxFilter {
    pub fn new(vlan_filtering: bool) -> Self {
        Self {
            promisc: true,
            allmulti: false,
            unicast: MacTable::default(),
            multicast: MacTable::default(),
            vlan_filtering,
            vlans: vec![0; VLAN_IDS / 64],
        }
    }

    /// Whether a frame for `mac` (the device's current address) passes.
    pub fn check(&self, frame: &[u8], mac: &[u8; 6]) -> Result<(), Reject> {
        if self.promisc {
            return Ok(());
        }
        if self.vlan_filtering && frame.get(12..14) == Some(&[0x81, 0x00]) {
            let vid = frame
                .get(14..16)
                .map_or(0, |t| u16::from_be_bytes([t[0], t[1]]) & 0x0fff);
            if !self.has_vlan(vid) {
                return Err(Reject::Vlan(vid));
            }
        }
        let dst = &frame[..6.min(frame.len())];
        if dst == [0xff; 6] {
            return Ok(());
        }
        if dst.first().is_some_and(|b| b & 1 == 1) {
            return if self.allmulti || self.multicast.contains(dst) {
                Ok(())
            } else {
                Err(Reject::Multicast)
            };
        }
        if dst == mac || self.unicast.contains(dst) {
            Ok(())
        } else {
            Err(Reject::Unicast)
        }
    }

    /// VIRTIO_NET_CTRL_MAC_TABLE_SET: two `struct virtio_net_ctrl_mac` back to back
    /// (le32 count, then count addresses), unicast first.
    pub fn set_mac_tables(&mut self, b: &[u8]) -> Result<(), &'static str> {
        let (unicast, rest) = parse_table(b)?;
        let (multicast, rest) = parse_table(rest)?;
        if !rest.is_empty() {
            return Err("bytes after the multicast table");
        }
        self.unicast = unicast;
        self.multicast = multicast;
        Ok(())
    }

    pub fn set_vlan(&mut self, vid: u16, on: bool) -> Result<(), &'static str> {
        let vid = usize::from(vid);
        if vid >= VLAN_IDS {
            return Err("VLAN ID beyond 4095");
        }
        let (word, bit) = (vid / 64, 1u64 << (vid % 64));
        if on {
            self.vlans[word] |= bit;
        } else {
            self.vlans[word] &= !bit;
        }
        Ok(())
    }

    fn has_vlan(&self, vid: u16) -> bool {
        let vid = usize::from(vid);
        self.vlans[vid / 64] & (1 << (vid % 64)) != 0
    }
}

fn parse_table(b: &[u8]) -> Result<(MacTable, &[u8]), &'static str> {
    let count = b
        .get(..4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .ok_or("MAC table count truncated")?;
    let len = count.checked_mul(6).ok_or("MAC table count overflows")?;
    let macs = b.get(4..4 + len).ok_or("MAC table truncated")?;
    let overflow = count > MAC_TABLE_ENTRIES;
    let entries = if overflow {
        Vec::new()
    } else {
        macs.chunks_exact(6)
            .map(|m| [m[0], m[1], m[2], m[3], m[4], m[5]])
            .collect()
    };
    Ok((MacTable { entries, overflow }, &b[4 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0, 1, 2, 3];

    fn frame(dst: [u8; 6]) -> Vec<u8> {
        [&dst[..], &[2, 0, 0, 0, 0, 1, 0x08, 0x00], &[0u8; 20][..]].concat()
    }

    fn table(macs: &[[u8; 6]]) -> Vec<u8> {
        let mut b = (macs.len() as u32).to_le_bytes().to_vec();
        macs.iter().for_each(|m| b.extend_from_slice(m));
        b
    }

    #[test]
    fn promiscuous_until_the_driver_says_otherwise() {
        let mut f = RxFilter::new(true);
        assert_eq!(f.check(&frame([2, 9, 9, 9, 9, 9]), &MAC), Ok(()));
        f.promisc = false;
        assert_eq!(
            f.check(&frame([2, 9, 9, 9, 9, 9]), &MAC),
            Err(Reject::Unicast)
        );
        assert_eq!(f.check(&frame(MAC), &MAC), Ok(()));
        assert_eq!(f.check(&frame([0xff; 6]), &MAC), Ok(()));
    }

    #[test]
    fn tables_and_allmulti_decide_the_rest() {
        let mut f = RxFilter::new(false);
        f.promisc = false;
        let other = [2, 9, 9, 9, 9, 9];
        let group = [0x33, 0x33, 0xff, 0, 0, 1];
        assert_eq!(f.check(&frame(group), &MAC), Err(Reject::Multicast));
        let cmd = [table(&[other]), table(&[group])].concat();
        f.set_mac_tables(&cmd).unwrap();
        assert_eq!(f.check(&frame(other), &MAC), Ok(()));
        assert_eq!(f.check(&frame(group), &MAC), Ok(()));
        assert_eq!(
            f.check(&frame([0x01, 0, 0x5e, 0, 0, 1]), &MAC),
            Err(Reject::Multicast)
        );
        f.allmulti = true;
        assert_eq!(f.check(&frame([0x01, 0, 0x5e, 0, 0, 1]), &MAC), Ok(()));
        // Too many for the table: that class is accepted wholesale.
        let many: Vec<[u8; 6]> = (0..=MAC_TABLE_ENTRIES as u8)
            .map(|i| [2, 0, 0, 0, 0, i])
            .collect();
        f.set_mac_tables(&[table(&many), table(&[])].concat())
            .unwrap();
        assert_eq!(f.check(&frame([2, 7, 7, 7, 7, 7]), &MAC), Ok(()));
        // Malformed commands change nothing.
        assert!(f.set_mac_tables(&table(&[other])).is_err());
        assert!(f.set_mac_tables(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn tagged_frames_need_their_vid() {
        let mut f = RxFilter::new(true);
        f.promisc = false;
        let mut tagged = frame(MAC);
        tagged.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
        assert_eq!(f.check(&tagged, &MAC), Err(Reject::Vlan(7)));
        f.set_vlan(7, true).unwrap();
        assert_eq!(f.check(&tagged, &MAC), Ok(()));
        f.set_vlan(7, false).unwrap();
        assert_eq!(f.check(&tagged, &MAC), Err(Reject::Vlan(7)));
        assert!(f.set_vlan(4096, true).is_err());
        let mut unfiltered = RxFilter::new(false);
        unfiltered.promisc = false;
        assert_eq!(unfiltered.check(&tagged, &MAC), Ok(()));
    }
}
