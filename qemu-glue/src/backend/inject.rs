//! Receive fault injection: corrupt the TCP/UDP payload of chosen frames on
//! their way from the wire into a port, so that the device must report a bad
//! L4 checksum and the guest must count it.
//!
//! `tunic serve --inject corrupt-l4=N` corrupts every Nth TCP/UDP frame a port
//! receives; a marker frame `tunic:inject=corrupt-l4-N` or `tunic:inject=off`
//! switches it at run time (the conformance suite does that around its case).

use offload_engines::parse::{parse_frame, Transport};

#[derive(Debug, Default)]
pub struct Injector {
    every: Option<u32>,
    seen: u64,
    /// Frames corrupted so far.
    pub corrupted: u64,
}

/// Parses `corrupt-l4=N` (command line) or `corrupt-l4-N` (marker value).
pub fn parse_spec(s: &str) -> Result<Option<u32>, String> {
    if s == "off" {
        return Ok(None);
    }
    let n = s
        .strip_prefix("corrupt-l4=")
        .or_else(|| s.strip_prefix("corrupt-l4-"))
        .ok_or_else(|| {
            format!("'{s}': expected corrupt-l4=N (corrupt every Nth TCP/UDP frame) or off")
        })?;
    match n.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(format!("'{s}': N must be a whole number from 1")),
    }
}

impl Injector {
    pub fn new(every: Option<u32>) -> Self {
        Self {
            every,
            ..Self::default()
        }
    }

    pub fn set(&mut self, every: Option<u32>) {
        self.every = every;
        self.seen = 0;
    }

    /// Corrupts `frame` in place when it is due; returns whether it did.
    pub fn apply(&mut self, frame: &mut [u8]) -> bool {
        let Some(every) = self.every else {
            return false;
        };
        let Ok(p) = parse_frame(frame) else {
            return false;
        };
        // Tunnelled frames are left alone: the 82576 validates only the outer layers.
        if p.gre.is_some() {
            return false;
        }
        let l = &p.outer;
        let Some(l4) = l.l4.as_ref() else {
            return false;
        };
        if !matches!(l4.transport, Transport::Tcp | Transport::Udp) {
            return false;
        }
        let payload = l4.offset + l4.header_len;
        let end =
            l.ip.as_ref()
                .map_or(frame.len(), |ip| ip.end)
                .min(frame.len());
        if payload >= end {
            return false;
        }
        self.seen += 1;
        if !self.seen.is_multiple_of(u64::from(every)) {
            return false;
        }
        // One flipped payload bit: the checksum no longer matches, nothing else changes.
        frame[end - 1] ^= 0x01;
        self.corrupted += 1;
        true
    }
}

/// Frames for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod tests_support {
    /// A minimal UDP/IPv4 frame the injector can corrupt.
    pub fn udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ]);
        f.extend_from_slice(&[0x30, 0x39, 0, 9, 0, 28, 0, 0]);
        f.extend_from_slice(&[0xaa; 20]);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::udp_frame;
    use super::*;

    #[test]
    fn corrupts_every_nth_l4_frame_only() {
        let mut i = Injector::new(Some(2));
        let mut a = udp_frame();
        assert!(!i.apply(&mut a));
        assert_eq!(a, udp_frame());
        assert!(i.apply(&mut a));
        assert_ne!(a, udp_frame());
        let mut junk = vec![0u8; 20];
        assert!(!i.apply(&mut junk));
        assert_eq!(i.corrupted, 1);
        i.set(None);
        let mut b = udp_frame();
        assert!(!i.apply(&mut b));
    }

    #[test]
    fn parses_specs() {
        assert_eq!(parse_spec("corrupt-l4=100"), Ok(Some(100)));
        assert_eq!(parse_spec("corrupt-l4-7"), Ok(Some(7)));
        assert_eq!(parse_spec("off"), Ok(None));
        assert!(parse_spec("corrupt-l4=0").is_err());
        assert!(parse_spec("drop=3").is_err());
    }
}
