//! Receive fault injection: corrupt the TCP/UDP payload of chosen frames on
//! their way from the wire into a port, so that the device must report a bad
//! L4 checksum and the guest must count it.
//!
//! `tunic serve --inject corrupt-l4=N` corrupts every Nth plain TCP/UDP frame a
//! port receives, `corrupt-inner-l4=N` every Nth NVGRE (GRE-in-Ethernet) frame's
//! inner TCP/UDP payload, the layer only a tunnel-aware NIC (the X710) checks. A
//! marker frame `tunic:inject=corrupt-l4-N`, `corrupt-inner-l4-N` or `off`
//! switches it at run time (the conformance suite does that around its cases).

use offload_engines::parse::{parse_frame, Transport};

/// Which frames are corrupted, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub every: u32,
    /// The inner L4 payload of tunnelled frames, instead of plain frames' L4.
    pub inner: bool,
}

#[derive(Debug, Default)]
pub struct Injector {
    spec: Option<Spec>,
    seen: u64,
    /// Frames corrupted so far.
    pub corrupted: u64,
}

/// Parses `corrupt-l4=N` / `corrupt-inner-l4=N` (command line) or
/// `corrupt-l4-N` / `corrupt-inner-l4-N` (marker value), or `off`.
pub fn parse_spec(s: &str) -> Result<Option<Spec>, String> {
    if s == "off" {
        return Ok(None);
    }
    let (inner, rest) = match s.strip_prefix("corrupt-inner-l4") {
        Some(r) => (true, r),
        None => (false, s.strip_prefix("corrupt-l4").unwrap_or_default()),
    };
    let n = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix('-'))
        .ok_or_else(|| {
            format!("'{s}': expected corrupt-l4=N (every Nth TCP/UDP frame), corrupt-inner-l4=N (every Nth NVGRE frame's inner TCP/UDP) or off")
        })?;
    match n.parse::<u32>() {
        Ok(every) if every > 0 => Ok(Some(Spec { every, inner })),
        _ => Err(format!("'{s}': N must be a whole number from 1")),
    }
}

impl Injector {
    pub fn new(spec: Option<Spec>) -> Self {
        Self {
            spec,
            ..Self::default()
        }
    }

    pub fn set(&mut self, spec: Option<Spec>) {
        self.spec = spec;
        self.seen = 0;
    }

    /// Corrupts `frame` in place when it is due; returns whether it did.
    pub fn apply(&mut self, frame: &mut [u8]) -> bool {
        let Some(spec) = self.spec else {
            return false;
        };
        let Ok(p) = parse_frame(frame) else {
            return false;
        };
        // Plain mode leaves tunnelled frames alone (the 82576 validates only the
        // outer layers); inner mode takes only them.
        let l = match (&p.inner, spec.inner) {
            (None, false) if p.gre.is_none() => &p.outer,
            (Some(inner), true) => inner,
            _ => return false,
        };
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
        if !self.seen.is_multiple_of(u64::from(spec.every)) {
            return false;
        }
        // One flipped payload bit: the checksum no longer matches, nothing else changes
        // (no outer checksum covers it: the outer IPv4 header checksum covers only the
        // header, and NVGRE carries no GRE checksum).
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

    /// `inner` carried in NVGRE (GRE with key, protocol 0x6558) over IPv4.
    pub fn nvgre_frame(inner: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 8 + inner.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            47,
        ]);
        f.extend_from_slice(&[0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
        f.extend_from_slice(&[0x20, 0x00, 0x65, 0x58, 0x00, 0x12, 0x34, 0x01]);
        f.extend_from_slice(inner);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::udp_frame;
    use super::*;

    #[test]
    fn corrupts_every_nth_l4_frame_only() {
        let mut i = Injector::new(Some(Spec {
            every: 2,
            inner: false,
        }));
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
    fn inner_mode_corrupts_only_the_inner_l4_of_tunnelled_frames() {
        let inner_spec = Some(Spec {
            every: 1,
            inner: true,
        });
        let mut i = Injector::new(inner_spec);
        let mut plain = udp_frame();
        assert!(!i.apply(&mut plain), "a plain frame is not tunnelled");
        let clean = super::tests_support::nvgre_frame(&udp_frame());
        let mut t = clean.clone();
        assert!(i.apply(&mut t));
        let changed: Vec<usize> = (0..t.len()).filter(|&k| t[k] != clean[k]).collect();
        assert_eq!(changed, vec![t.len() - 1], "one inner payload bit");
        // Plain mode leaves the tunnelled frame alone.
        i.set(Some(Spec {
            every: 1,
            inner: false,
        }));
        let mut t = clean.clone();
        assert!(!i.apply(&mut t));
        assert_eq!(t, clean);
    }

    #[test]
    fn parses_specs() {
        let plain = |every| {
            Some(Spec {
                every,
                inner: false,
            })
        };
        assert_eq!(parse_spec("corrupt-l4=100"), Ok(plain(100)));
        assert_eq!(parse_spec("corrupt-l4-7"), Ok(plain(7)));
        assert_eq!(
            parse_spec("corrupt-inner-l4-3"),
            Ok(Some(Spec {
                every: 3,
                inner: true
            }))
        );
        assert_eq!(parse_spec("off"), Ok(None));
        assert!(parse_spec("corrupt-l4=0").is_err());
        assert!(parse_spec("corrupt-l4").is_err());
        assert!(parse_spec("drop=3").is_err());
    }
}
