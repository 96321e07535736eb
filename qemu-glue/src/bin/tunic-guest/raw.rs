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
    let name = CString::new(iface).map_err(|_| "bad interface name".to_string())?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no interface {iface}"));
    }
    // SAFETY: plain socket syscalls on a descriptor this function owns and closes.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = ifindex as i32;
        addr.sll_halen = 6;
        let rc = libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc < 0 {
            return Err(format!("sendto {iface}: {err}"));
        }
    }
    Ok(())
}
