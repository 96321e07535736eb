//! Raw Ethernet frames through an AF_PACKET socket.

use std::ffi::CString;

/// IEEE 802 "local experimental" EtherType: frames nobody else interprets.
pub const MARKER_ETHERTYPE: u16 = 0x88b5;

/// The interface's MAC address, from sysfs.
pub fn iface_mac(iface: &str) -> Result<[u8; 6], String> {
    let mac = std::fs::read_to_string(format!("/sys/class/net/{iface}/address"))
        .map_err(|e| format!("{iface}: {e}"))?;
    let mut m = [0u8; 6];
    for (b, part) in m.iter_mut().zip(mac.trim().split(':')) {
        *b = u8::from_str_radix(part, 16).map_err(|_| format!("bad MAC {mac}"))?;
    }
    Ok(m)
}

pub fn send_marker(iface: &str, text: &str) -> Result<(), String> {
    let src = iface_mac(iface)?;
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&MARKER_ETHERTYPE.to_be_bytes());
    frame.extend_from_slice(b"tunic:");
    frame.extend_from_slice(text.as_bytes());
    frame.resize(frame.len().max(60), 0);
    send(iface, &frame)
}

/// Sends one frame on `iface`.
pub fn send(iface: &str, frame: &[u8]) -> Result<(), String> {
    PacketSocket::open(iface, false)?.send(frame)
}

/// An AF_PACKET socket bound for sending on one interface, closed on drop.
pub struct PacketSocket {
    fd: libc::c_int,
    addr: libc::sockaddr_ll,
    iface: String,
}

/// `setsockopt(SOL_PACKET, PACKET_VNET_HDR)`: frames are preceded by a virtio-net header.
const PACKET_VNET_HDR: libc::c_int = 15;

impl PacketSocket {
    /// With `vnet_hdr`, every frame sent must start with a 10-byte virtio-net header.
    pub fn open(iface: &str, vnet_hdr: bool) -> Result<Self, String> {
        let name = CString::new(iface).map_err(|_| "bad interface name".to_string())?;
        // SAFETY: if_nametoindex reads a NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(format!("no interface {iface}"));
        }
        // SAFETY: socket(2) has no memory arguments; the descriptor is owned by Self.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = ifindex as i32;
        addr.sll_halen = 6;
        let sock = Self {
            fd,
            addr,
            iface: iface.to_string(),
        };
        if vnet_hdr {
            let on: libc::c_int = 1;
            // SAFETY: the option value is a c_int that outlives the call.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_PACKET,
                    PACKET_VNET_HDR,
                    (&on as *const libc::c_int).cast(),
                    4,
                )
            };
            if rc < 0 {
                return Err(format!(
                    "PACKET_VNET_HDR: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        Ok(sock)
    }

    pub fn send(&self, buf: &[u8]) -> Result<(), String> {
        // SAFETY: buf and addr outlive the call; the lengths are theirs.
        let rc = unsafe {
            libc::sendto(
                self.fd,
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (&self.addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(format!(
                "sendto {}: {}",
                self.iface,
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: fd is this socket's own descriptor, closed once.
        unsafe {
            libc::close(self.fd);
        }
    }
}
