//! Scatter-gather: a packet spread over several guest buffers.

use crate::{DmaError, DmaSpace};

/// One guest buffer of a scatter-gather list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SgSegment {
    pub addr: u64,
    pub len: usize,
}

/// A list of guest buffers that together hold one packet.
#[derive(Debug, Default, Clone)]
pub struct SgList {
    segments: Vec<SgSegment>,
    total: usize,
}

impl SgList {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.segments.clear();
        self.total = 0;
    }

    pub fn push(&mut self, addr: u64, len: usize) {
        self.segments.push(SgSegment { addr, len });
        self.total = self.total.saturating_add(len);
    }

    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn segments(&self) -> &[SgSegment] {
        &self.segments
    }

    /// Gathers every segment, in order, onto the end of `out`.
    ///
    /// `limit` caps the total: a guest can describe more bytes than any frame
    /// may hold, and the caller must not allocate what the guest asks for.
    pub fn gather(&self, dma: &DmaSpace, out: &mut Vec<u8>, limit: usize) -> Result<(), DmaError> {
        for s in &self.segments {
            if out.len().saturating_add(s.len) > limit {
                return Err(DmaError::Unmapped {
                    addr: s.addr,
                    len: s.len,
                });
            }
            let start = out.len();
            out.resize(start + s.len, 0);
            if let Err(e) = dma.read(s.addr, &mut out[start..]) {
                out.truncate(start);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Scatters `data` over the segments in order; returns the bytes written.
    pub fn scatter(&self, dma: &DmaSpace, data: &[u8]) -> Result<usize, DmaError> {
        let mut done = 0;
        for s in &self.segments {
            if done == data.len() {
                break;
            }
            let n = s.len.min(data.len() - done);
            dma.write(s.addr, &data[done..done + n])?;
            done += n;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_and_scatter_round_trip() {
        let d = DmaSpace::new();
        d.map_anonymous(0, 0x4000).unwrap();
        let mut sg = SgList::new();
        sg.push(0x100, 3);
        sg.push(0x2000, 5);
        assert_eq!(sg.scatter(&d, b"abcdefgh").unwrap(), 8);
        let mut out = Vec::new();
        sg.gather(&d, &mut out, 64).unwrap();
        assert_eq!(out, b"abcdefgh");
    }

    #[test]
    fn gather_respects_the_limit_and_faults() {
        let d = DmaSpace::new();
        d.map_anonymous(0, 0x1000).unwrap();
        let mut sg = SgList::new();
        sg.push(0, 100);
        sg.push(0x100, usize::MAX);
        let mut out = Vec::new();
        assert!(sg.gather(&d, &mut out, 9000).is_err());
        assert_eq!(out.len(), 100);
        let mut bad = SgList::new();
        bad.push(0xff0, 0x20);
        let mut out = Vec::new();
        assert!(bad.gather(&d, &mut out, 9000).is_err());
        assert!(out.is_empty());
    }
}
