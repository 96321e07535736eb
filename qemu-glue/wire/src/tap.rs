//! A Linux tap device as the wire.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::Sender;
use device_model::FrameSink;

use super::channel::WireCounters;
use super::Frame;

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

pub struct TapSink {
    file: File,
    counters: Arc<WireCounters>,
}

impl FrameSink for TapSink {
    fn transmit(&mut self, frame: &[u8]) {
        // The host side refused it (interface down, no buffer): lost, and counted.
        if let Err(e) = self.file.write_all(frame) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %e, "tap write failed");
        }
    }
}

/// Opens (creating if needed) tap device `name`.
pub fn open(
    name: &str,
    rx: Sender<Frame>,
    counters: Arc<WireCounters>,
) -> anyhow::Result<Box<dyn FrameSink>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| anyhow::anyhow!("cannot open /dev/net/tun: {e}"))?;
    let mut req = IfReq {
        name: [0; 16],
        flags: IFF_TAP | IFF_NO_PI,
        _pad: [0; 22],
    };
    let n = name.len().min(15);
    req.name[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which IfReq lays out (40 bytes).
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut req) };
    if rc < 0 {
        anyhow::bail!("TUNSETIFF {name}: {}", std::io::Error::last_os_error());
    }
    let mut reader = file.try_clone()?;
    let rx_counters = counters.clone();
    std::thread::Builder::new()
        .name("tunic-tap-rx".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if rx.try_send(buf[..n].to_vec()).is_err() {
                    rx_counters.rx_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        })?;
    Ok(Box::new(TapSink { file, counters }))
}
