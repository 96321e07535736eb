//! Receive fault injection: corrupt one checksummed layer of chosen frames on
//! their way from the wire into a port, so that the device must report exactly
//! that layer as bad and the guest must count it.
//!
//! `tunic serve --inject LAYER=N` corrupts every Nth frame a port receives that
//! has the layer; a marker frame `tunic:inject=LAYER-N` or `tunic:inject=off`
//! switches it at run time (the conformance suite does that around its cases).
//! Layers:
//! - `corrupt-l4`: a plain (untunnelled) TCP/UDP payload bit;
//! - `corrupt-ip`: a plain IPv4 header checksum bit;
//! - `corrupt-inner-l4`, `corrupt-inner-ip`, `corrupt-outer-ip`: the inner TCP/UDP
//!   payload, the inner IPv4 header checksum or the outer IPv4 header checksum of
//!   an NVGRE (GRE-in-Ethernet) frame, the layers only a tunnel-aware NIC (the
//!   X710) checks separately.
//!
//! One bit flips and nothing else changes: no other checksum covers it (an IPv4
//! header checksum covers only its own header, and NVGRE carries no GRE checksum).

use offload_engines::parse::{parse_frame, IpVersion, Transport};

/// The layer a corruption breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    L4,
    Ip,
    InnerL4,
    InnerIp,
    OuterIp,
}

impl Layer {
    const ALL: [(&'static str, Layer); 5] = [
        ("corrupt-inner-l4", Layer::InnerL4),
        ("corrupt-inner-ip", Layer::InnerIp),
        ("corrupt-outer-ip", Layer::OuterIp),
        ("corrupt-l4", Layer::L4),
        ("corrupt-ip", Layer::Ip),
    ];
}

/// Which frames are corrupted, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub every: u32,
    pub layer: Layer,
}

#[derive(Debug, Default)]
pub struct Injector {
    spec: Option<Spec>,
    seen: u64,
    /// Frames corrupted so far.
    pub corrupted: u64,
}

/// Parses `LAYER=N` (command line) or `LAYER-N` (marker value), or `off`.
pub fn parse_spec(s: &str) -> Result<Option<Spec>, String> {
    if s == "off" {
        return Ok(None);
    }
    let names = || {
        Layer::ALL
            .iter()
            .map(|(n, _)| format!("{n}=N"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (layer, rest) = Layer::ALL
        .iter()
        .find_map(|&(name, layer)| Some((layer, s.strip_prefix(name)?)))
        .ok_or_else(|| {
            format!(
                "'{s}': expected one of {} (every Nth frame with that layer), or off",
                names()
            )
        })?;
    let n = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix('-'))
        .ok_or_else(|| format!("'{s}': expected one of {}, or off", names()))?;
    match n.parse::<u32>() {
        Ok(every) if every > 0 => Ok(Some(Spec { every, layer })),
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
        let tunnelled = p.gre.is_some();
        let layers = match (spec.layer, tunnelled, &p.inner) {
            (Layer::L4 | Layer::Ip, false, _) => &p.outer,
            (Layer::InnerL4 | Layer::InnerIp, true, Some(inner)) => inner,
            (Layer::OuterIp, true, Some(_)) => &p.outer,
            _ => return false,
        };
        // The byte to flip: the last payload byte of TCP/UDP, or the low byte of an
        // IPv4 header checksum.
        let at = match spec.layer {
            Layer::L4 | Layer::InnerL4 => {
                let Some(l4) = layers.l4.as_ref() else {
                    return false;
                };
                if !matches!(l4.transport, Transport::Tcp | Transport::Udp) {
                    return false;
                }
                let payload = l4.offset + l4.header_len;
                let end = layers
                    .ip
                    .as_ref()
                    .map_or(frame.len(), |ip| ip.end)
                    .min(frame.len());
                if payload >= end {
                    return false;
                }
                end - 1
            }
            Layer::Ip | Layer::InnerIp | Layer::OuterIp => match layers.ip.as_ref() {
                Some(ip) if ip.version == IpVersion::V4 && ip.offset + 12 <= frame.len() => {
                    ip.offset + 11
                }
                _ => return false,
            },
        };
        self.seen += 1;
        if !self.seen.is_multiple_of(u64::from(spec.every)) {
            return false;
        }
        frame[at] ^= 0x01;
        self.corrupted += 1;
        true
    }
}

/// Frames for tests elsewhere in the crate.
/// Frames for the tests of this crate and of the crates that use it.
#[cfg(any(test, feature = "test-support"))]
pub mod tests_support {
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
            layer: Layer::L4,
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
            layer: Layer::InnerL4,
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
            layer: Layer::L4,
        }));
        let mut t = clean.clone();
        assert!(!i.apply(&mut t));
        assert_eq!(t, clean);
    }

    #[test]
    fn ip_layers_flip_one_header_checksum_bit() {
        let clean = super::tests_support::nvgre_frame(&udp_frame());
        // Outer IPv4 at 14, inner IPv4 at 14 + 20 + 8 + 14.
        for (layer, at) in [(Layer::OuterIp, 14 + 11), (Layer::InnerIp, 56 + 11)] {
            let mut i = Injector::new(Some(Spec { every: 1, layer }));
            let mut t = clean.clone();
            assert!(i.apply(&mut t), "{layer:?}");
            let changed: Vec<usize> = (0..t.len()).filter(|&k| t[k] != clean[k]).collect();
            assert_eq!(changed, vec![at], "{layer:?}");
            let mut plain = udp_frame();
            assert!(!i.apply(&mut plain), "{layer:?} needs a tunnel");
        }
        let mut i = Injector::new(Some(Spec {
            every: 1,
            layer: Layer::Ip,
        }));
        let mut plain = udp_frame();
        assert!(i.apply(&mut plain));
        assert_eq!(plain[14 + 11], udp_frame()[14 + 11] ^ 1);
        let mut t = clean.clone();
        assert!(!i.apply(&mut t), "plain IP leaves tunnels alone");
    }

    #[test]
    fn parses_specs() {
        let plain = |every| {
            Some(Spec {
                every,
                layer: Layer::L4,
            })
        };
        assert_eq!(parse_spec("corrupt-l4=100"), Ok(plain(100)));
        assert_eq!(parse_spec("corrupt-l4-7"), Ok(plain(7)));
        assert_eq!(
            parse_spec("corrupt-inner-l4-3"),
            Ok(Some(Spec {
                every: 3,
                layer: Layer::InnerL4
            }))
        );
        assert_eq!(parse_spec("off"), Ok(None));
        assert!(parse_spec("corrupt-l4=0").is_err());
        assert!(parse_spec("corrupt-l4").is_err());
        assert!(parse_spec("drop=3").is_err());
        assert_eq!(
            parse_spec("corrupt-outer-ip-2").map(|s| s.map(|s| s.layer)),
            Ok(Some(Layer::OuterIp))
        );
        assert_eq!(
            parse_spec("corrupt-ip=5").map(|s| s.map(|s| s.layer)),
            Ok(Some(Layer::Ip))
        );
    }
}
