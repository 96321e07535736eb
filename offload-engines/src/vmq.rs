//! VMQ receive-queue classification: a table of filters on destination MAC,
//! optional VLAN ID and optional VSID, with a default queue.
//!
//! For a GRE frame carrying Ethernet (NVGRE) the inner Ethernet header is matched,
//! and VSID-qualified filters can match its VSID **[tunic]**; any other frame is
//! matched on its outermost Ethernet header.

use thiserror::Error;

use crate::parse;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VmqFilter {
    pub mac: [u8; 6],
    /// VLAN ID (12 bits) the frame must carry; None matches tagged and untagged.
    pub vlan: Option<u16>,
    /// VSID the NVGRE frame must carry; None matches any frame.
    pub vsid: Option<u32>,
    pub queue: u16,
}

impl VmqFilter {
    /// More qualified filters win over less qualified ones.
    fn specificity(&self) -> u8 {
        u8::from(self.vsid.is_some()) * 2 + u8::from(self.vlan.is_some())
    }

    fn matches(&self, key: &ClassifyKey) -> bool {
        self.mac == key.mac
            && self.vlan.is_none_or(|v| key.vlan == Some(v & 0x0FFF))
            && self.vsid.is_none_or(|v| key.vsid == Some(v))
    }
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum VmqError {
    #[error("filter table is full ({capacity} entries)")]
    TableFull { capacity: usize },
    #[error("an identical filter already exists")]
    Duplicate,
}

/// What a frame is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifyKey {
    pub mac: [u8; 6],
    pub vlan: Option<u16>,
    pub vsid: Option<u32>,
}

impl ClassifyKey {
    /// Inner Ethernet header and VSID of an NVGRE frame, else the outermost Ethernet
    /// header. None for a frame too short to carry an Ethernet header.
    pub fn of(frame: &[u8]) -> Option<Self> {
        let (p, _) = parse::parse_partial(frame).ok()?;
        let (eth, vsid) = match (p.inner, p.gre) {
            (Some(inner), Some(g)) => (inner.eth, g.vsid()),
            _ => (p.outer.eth, None),
        };
        Some(Self {
            mac: eth.dst,
            vlan: eth.vlan_id(),
            vsid,
        })
    }
}

#[derive(Debug, Clone)]
pub struct VmqTable {
    filters: Vec<VmqFilter>,
    capacity: usize,
    default_queue: u16,
}

impl VmqTable {
    /// A table holding at most `capacity` filters (the device's advertised count).
    pub fn new(default_queue: u16, capacity: usize) -> Self {
        Self {
            filters: Vec::new(),
            capacity,
            default_queue,
        }
    }

    pub fn default_queue(&self) -> u16 {
        self.default_queue
    }

    pub fn set_default_queue(&mut self, q: u16) {
        self.default_queue = q;
    }

    pub fn filters(&self) -> &[VmqFilter] {
        &self.filters
    }

    pub fn add(&mut self, f: VmqFilter) -> Result<(), VmqError> {
        if self
            .filters
            .iter()
            .any(|e| e.mac == f.mac && e.vlan == f.vlan && e.vsid == f.vsid)
        {
            return Err(VmqError::Duplicate);
        }
        if self.filters.len() >= self.capacity {
            return Err(VmqError::TableFull {
                capacity: self.capacity,
            });
        }
        self.filters.push(f);
        Ok(())
    }

    /// Removes the filter with exactly this MAC/VLAN/VSID; true if one was removed.
    pub fn remove(&mut self, mac: [u8; 6], vlan: Option<u16>, vsid: Option<u32>) -> bool {
        let before = self.filters.len();
        self.filters
            .retain(|e| !(e.mac == mac && e.vlan == vlan && e.vsid == vsid));
        self.filters.len() != before
    }

    pub fn clear(&mut self) {
        self.filters.clear();
    }

    /// The queue for a key: the most specific matching filter (VSID beats VLAN beats
    /// MAC only; ties go to the earliest added), else the default queue.
    pub fn classify_key(&self, key: &ClassifyKey) -> u16 {
        self.lookup(key).unwrap_or(self.default_queue)
    }

    /// The queue of the most specific filter matching `key`, or None when no filter
    /// does: for devices that treat "no filter" differently from "the default queue"
    /// (the 82576 can drop such frames instead, VT_CTL.DIS_DEF_POOL).
    pub fn lookup(&self, key: &ClassifyKey) -> Option<u16> {
        let mut best: Option<&VmqFilter> = None;
        for f in self.filters.iter().filter(|f| f.matches(key)) {
            if best.is_none_or(|b| f.specificity() > b.specificity()) {
                best = Some(f);
            }
        }
        best.map(|f| f.queue)
    }

    /// The queue for a received frame.
    pub fn classify(&self, frame: &[u8]) -> u16 {
        ClassifyKey::of(frame).map_or(self.default_queue, |k| self.classify_key(&k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(mac: [u8; 6]) -> ClassifyKey {
        ClassifyKey {
            mac,
            vlan: None,
            vsid: None,
        }
    }

    #[test]
    fn lookup_tells_no_filter_from_the_default_queue() {
        let mut t = VmqTable::new(5, 2);
        let a = [2, 0, 0, 0, 0, 1];
        t.add(VmqFilter {
            mac: a,
            vlan: None,
            vsid: None,
            queue: 5,
        })
        .unwrap();
        // Both end in queue 5, but only one matched a filter.
        assert_eq!(t.lookup(&key(a)), Some(5));
        assert_eq!(t.lookup(&key([2, 0, 0, 0, 0, 2])), None);
        assert_eq!(t.classify_key(&key([2, 0, 0, 0, 0, 2])), 5);
    }
}
