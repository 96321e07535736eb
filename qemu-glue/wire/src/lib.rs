//! Packet backends: where a port's wire goes.
//!
//! Every backend takes the channel on which it must deliver the frames it
//! receives and returns the sink the device transmits into.
//!
//! - `wire`: two tunic ports in one process, connected back to back;
//! - `switch`: any number of a process's ports on the built-in learning switch;
//! - `stream:connect=PATH` / `stream:listen=PATH`: QEMU's `-netdev stream`
//!   framing (4-byte big-endian length, then the frame) over a unix socket, so a
//!   tunic port can talk to a stock QEMU NIC or to a tunic in another process;
//! - `tap:NAME`: a Linux tap device;
//! - `none`: frames are dropped (link stays up).
//!
//! A pcap recorder can be put on any port (`--pcap`), see [`pcap`].

pub mod channel;
pub mod inject;
pub mod ledger;
pub mod marker;
pub mod pacer;
pub mod pcap;
pub mod stream;
pub mod switch;
pub mod tap;

use std::path::PathBuf;
use std::str::FromStr;

/// Frames in flight between a backend and a port's receive worker.
pub type Frame = Vec<u8>;

/// A parsed `--backend` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendSpec {
    /// Wired to the other port of this process (with exactly two ports).
    Wire,
    /// On the built-in learning switch with this process's other `switch` ports.
    Switch,
    StreamConnect(PathBuf),
    StreamListen(PathBuf),
    Tap(String),
    None,
}

impl FromStr for BackendSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        match (kind, arg) {
            ("wire", "") => Ok(Self::Wire),
            ("switch", "") => Ok(Self::Switch),
            ("none", "") => Ok(Self::None),
            ("stream", a) => match a.split_once('=') {
                Some(("connect", p)) if !p.is_empty() => Ok(Self::StreamConnect(p.into())),
                Some(("listen", p)) if !p.is_empty() => Ok(Self::StreamListen(p.into())),
                _ => Err(format!("'{s}': expected stream:connect=PATH or stream:listen=PATH")),
            },
            ("tap", name) if !name.is_empty() && name.len() < 16 => Ok(Self::Tap(name.into())),
            ("tap", _) => Err(format!("'{s}': expected tap:NAME with a name of 1 to 15 bytes")),
            _ => Err(format!("unknown backend '{s}': expected wire, switch, none, stream:connect=PATH, stream:listen=PATH or tap:NAME")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_specs() {
        assert_eq!("wire".parse(), Ok(BackendSpec::Wire));
        assert_eq!(
            "stream:connect=/tmp/x".parse(),
            Ok(BackendSpec::StreamConnect("/tmp/x".into()))
        );
        assert_eq!("tap:tun0".parse(), Ok(BackendSpec::Tap("tun0".into())));
        assert!("stream:/tmp/x".parse::<BackendSpec>().is_err());
        assert!("tap:".parse::<BackendSpec>().is_err());
        assert!("bogus".parse::<BackendSpec>().is_err());
    }
}
