//! Marker frames: how a guest script tells the host side of tunic what the next
//! traffic is for, over the wire itself.
//!
//! A marker is an Ethernet frame with EtherType 0x88B5 (IEEE 802 "local
//! experimental", which no stack interprets) whose payload is
//! `tunic:KEY=VALUE`. Keys: `pcap` (open a capture window, see [`super::pcap`]),
//! `inject` (switch receive fault injection, see [`super::inject`]). Markers are
//! seen by the sending port's recorder and the receiving port; the device model
//! never looks at them: to it they are ordinary frames.

pub const MARKER_ETHERTYPE: [u8; 2] = [0x88, 0xb5];
const PREFIX: &[u8] = b"tunic:";

/// `(key, value)` of a marker frame; `None` for any other frame.
pub fn parse(frame: &[u8]) -> Option<(&str, &str)> {
    if frame.len() < 14 + PREFIX.len() || frame[12..14] != MARKER_ETHERTYPE {
        return None;
    }
    let rest = frame[14..].strip_prefix(PREFIX)?;
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    let (key, value) = text.split_once('=')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(key) && ok(value)).then_some((key, value))
}

#[cfg(any(test, feature = "test-support"))]
pub fn frame(text: &str) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&MARKER_ETHERTYPE);
    f.extend_from_slice(PREFIX);
    f.extend_from_slice(text.as_bytes());
    f.resize(60, 0);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_well_formed_markers() {
        assert_eq!(parse(&frame("pcap=case-1")), Some(("pcap", "case-1")));
        assert_eq!(
            parse(&frame("inject=corrupt-l4-50")),
            Some(("inject", "corrupt-l4-50"))
        );
        assert_eq!(parse(&frame("pcap=../etc")), None);
        assert_eq!(parse(&frame("nokey")), None);
        let mut other = frame("pcap=x");
        other[12] = 0x08;
        assert_eq!(parse(&other), None);
        assert_eq!(parse(&[0u8; 10]), None);
    }
}
