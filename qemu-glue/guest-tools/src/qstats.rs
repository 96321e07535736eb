//! Per-queue receive packet counts from the kernel's netdev netlink family
//! (`NETDEV_CMD_QSTATS_GET`, queue scope): where drivers such as virtio_net (6.10
//! and later) report them instead of `ethtool -S`.
//!
//! A minimal generic-netlink client: resolve the "netdev" family, dump the queue
//! statistics of one interface, print "QUEUE PACKETS" per receive queue.

use std::ffi::CString;

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
// include/uapi/linux/netdev.h
const NETDEV_CMD_QSTATS_GET: u8 = 12;
const NETDEV_A_QSTATS_IFINDEX: u16 = 1;
const NETDEV_A_QSTATS_QUEUE_TYPE: u16 = 2;
const NETDEV_A_QSTATS_QUEUE_ID: u16 = 3;
const NETDEV_A_QSTATS_SCOPE: u16 = 4;
const NETDEV_A_QSTATS_RX_PACKETS: u16 = 8;
const NETDEV_QSTATS_SCOPE_QUEUE: u32 = 1;
const NETDEV_QUEUE_TYPE_RX: u64 = 0;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

/// Prints "QUEUE PACKETS" for every receive queue of `iface`.
pub fn run(iface: &str) -> Result<(), String> {
    let name = CString::new(iface).map_err(|_| "bad interface name".to_string())?;
    // SAFETY: `name` is a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("{iface}: no such interface"));
    }
    let sock = Netlink::open()?;
    let family = sock.family_id("netdev")?;
    let mut attrs = Vec::new();
    put_attr(&mut attrs, NETDEV_A_QSTATS_IFINDEX, &ifindex.to_ne_bytes());
    put_attr(
        &mut attrs,
        NETDEV_A_QSTATS_SCOPE,
        &NETDEV_QSTATS_SCOPE_QUEUE.to_ne_bytes(),
    );
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    sock.send(family, flags, NETDEV_CMD_QSTATS_GET, &attrs)?;
    let mut rows = Vec::new();
    sock.receive_all(|payload| {
        let a = parse_attrs(payload);
        let get = |t: u16| a.iter().find(|(k, _)| *k == t).and_then(|(_, v)| uint(v));
        if get(NETDEV_A_QSTATS_QUEUE_TYPE) == Some(NETDEV_QUEUE_TYPE_RX) {
            if let (Some(q), Some(p)) = (
                get(NETDEV_A_QSTATS_QUEUE_ID),
                get(NETDEV_A_QSTATS_RX_PACKETS),
            ) {
                rows.push((q, p));
            }
        }
    })?;
    if rows.is_empty() {
        return Err(format!(
            "{iface}: the driver reports no per-queue statistics"
        ));
    }
    rows.sort_unstable();
    for (q, p) in rows {
        println!("{q} {p}");
    }
    Ok(())
}

/// A netlink `uint`: 4 or 8 bytes, native order.
fn uint(v: &[u8]) -> Option<u64> {
    match v.len() {
        4 => Some(u64::from(u32::from_ne_bytes(v.try_into().ok()?))),
        8 => Some(u64::from_ne_bytes(v.try_into().ok()?)),
        _ => None,
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn put_attr(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    buf.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(align4(buf.len()), 0);
}

fn parse_attrs(mut b: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let kind = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((kind, b[4..len].to_vec()));
        b = &b[align4(len).min(b.len())..];
    }
    out
}

struct Netlink(libc::c_int);

impl Drop for Netlink {
    fn drop(&mut self) {
        // SAFETY: the fd is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

impl Netlink {
    fn open() -> Result<Self, String> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_GENERIC) };
        if fd < 0 {
            return Err(format!(
                "netlink socket: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Self(fd))
    }

    /// One generic-netlink request: nlmsghdr, genlmsghdr (cmd, version 1), attributes.
    fn send(&self, kind: u16, flags: u16, cmd: u8, attrs: &[u8]) -> Result<(), String> {
        let len = 16 + 4 + attrs.len();
        let mut m = Vec::with_capacity(len);
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        m.extend_from_slice(&[cmd, 1, 0, 0]);
        m.extend_from_slice(attrs);
        // SAFETY: `m` is a valid buffer of `m.len()` bytes; an unbound netlink socket
        // sends to the kernel.
        let n = unsafe { libc::send(self.0, m.as_ptr().cast(), m.len(), 0) };
        if n < 0 {
            return Err(format!("netlink send: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Reads replies until DONE (or the single reply of a non-dump request) and
    /// hands each message's attributes (after the genl header) to `each`.
    fn receive_all(&self, mut each: impl FnMut(&[u8])) -> Result<(), String> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: `buf` is writable for its whole length.
            let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(format!("netlink recv: {}", std::io::Error::last_os_error()));
            }
            let mut b = &buf[..n as usize];
            let mut multi = false;
            while b.len() >= 16 {
                let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
                let kind = u16::from_ne_bytes([b[4], b[5]]);
                let flags = u16::from_ne_bytes([b[6], b[7]]);
                if len < 16 || len > b.len() {
                    return Err("malformed netlink reply".into());
                }
                multi |= flags & libc::NLM_F_MULTI as u16 != 0;
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        let errno = i32::from_ne_bytes([b[16], b[17], b[18], b[19]]);
                        if errno == 0 {
                            return Ok(());
                        }
                        return Err(format!(
                            "netlink: {}",
                            std::io::Error::from_raw_os_error(-errno)
                        ));
                    }
                    _ if len >= 20 => each(&b[20..len]),
                    _ => {}
                }
                b = &b[align4(len).min(b.len())..];
            }
            if !multi {
                return Ok(());
            }
        }
    }

    fn family_id(&self, name: &str) -> Result<u16, String> {
        let mut attrs = Vec::new();
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        put_attr(&mut attrs, CTRL_ATTR_FAMILY_NAME, &n);
        self.send(
            GENL_ID_CTRL,
            libc::NLM_F_REQUEST as u16,
            CTRL_CMD_GETFAMILY,
            &attrs,
        )?;
        let mut id = None;
        self.receive_all(|payload| {
            id = id.or(parse_attrs(payload)
                .iter()
                .find(|(k, v)| *k == CTRL_ATTR_FAMILY_ID && v.len() == 2)
                .map(|(_, v)| u16::from_ne_bytes([v[0], v[1]])));
        })?;
        id.ok_or_else(|| format!("no generic netlink family '{name}' (kernel older than 6.5?)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_with_padding() {
        let mut b = Vec::new();
        put_attr(&mut b, 1, &7u32.to_ne_bytes());
        put_attr(&mut b, 2, b"net\0\0");
        put_attr(&mut b, 8, &9u64.to_ne_bytes());
        let a = parse_attrs(&b);
        assert_eq!(a.len(), 3);
        assert_eq!(uint(&a[0].1), Some(7));
        assert_eq!(a[1].1, b"net\0\0");
        assert_eq!(uint(&a[2].1), Some(9));
        assert!(
            parse_attrs(&[0xff, 0xff, 1, 0]).is_empty(),
            "length past the end"
        );
    }
}
