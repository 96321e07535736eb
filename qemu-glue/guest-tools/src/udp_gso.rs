//! UDP segmentation offload from the guest's side: datagrams larger than the MTU
//! sent through a socket with `UDP_SEGMENT`, which the kernel hands to the NIC as
//! one GSO packet (virtio-net: `VIRTIO_NET_HDR_GSO_UDP_L4`; igb: a UDP TSO context)
//! when the device offers USO, and segments in software otherwise.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// `UDP_SEGMENT` from `linux/udp.h`: the segment size for GSO sends on this socket.
const UDP_SEGMENT: libc::c_int = 103;

/// Sends `count` buffers of `total` bytes from `src` to `dst:dport`, each to be cut
/// into `segment`-byte datagrams.
pub fn run(
    src: &str,
    dst: &str,
    dport: u16,
    total: usize,
    segment: u16,
    count: u32,
) -> Result<(), String> {
    let sock = UdpSocket::bind((src, 0)).map_err(|e| format!("bind {src}: {e}"))?;
    let seg = libc::c_int::from(segment);
    // SAFETY: a valid fd and a pointer to an int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_UDP,
            UDP_SEGMENT,
            (&seg as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(format!("UDP_SEGMENT: {}", std::io::Error::last_os_error()));
    }
    let payload: Vec<u8> = (0..total).map(|i| (i * 13 + 7) as u8).collect();
    for _ in 0..count {
        sock.send_to(&payload, (dst, dport))
            .map_err(|e| format!("send: {e}"))?;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(())
}
