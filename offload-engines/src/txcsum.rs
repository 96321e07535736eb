//! Transmit checksum insertion: the primitives a context descriptor drives
//! ([`insert_l4`], [`insert_ipv4_header`]) and the NVGRE-aware Tx checksum offload
//! ([`offload`], R-30..R-32).

use thiserror::Error;

use crate::checksum::{fold, sum};
use crate::parse::{self, IpVersion, Transport};
use crate::wire::{self, ipv4, tcp, udp};

/// Why a checksum could not be inserted. The frame is left unmodified in every case.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum CsumError {
    /// The checksummed range or the checksum field lies (partly) outside the frame.
    #[error(
        "checksum range or field at offset {offset} (+{len}) lies outside a {frame_len}-byte frame"
    )]
    OutOfBounds {
        offset: usize,
        len: usize,
        frame_len: usize,
    },
    /// An IPv4 header span shorter than the fixed header, so it has no checksum field.
    #[error("IPv4 header span of {len} bytes is shorter than the 20-byte fixed header")]
    Ipv4HeaderTooShort { len: usize },
    /// The frame could not be parsed far enough to locate the requested fields.
    #[error("cannot locate headers: {0}")]
    Parse(#[from] parse::ParseError),
}

/// Where UDP's checksum sits in its header: a device told only "sum from here, store
/// there" (virtio-net's `csum_start`/`csum_offset`) knows a UDP checksum by this.
pub const UDP_CHECKSUM_OFFSET: usize = udp::CHECKSUM;

fn field_in_bounds(frame_len: usize, offset: usize, len: usize) -> Result<(), CsumError> {
    match offset.checked_add(len) {
        Some(end) if end <= frame_len => Ok(()),
        _ => Err(CsumError::OutOfBounds {
            offset,
            len,
            frame_len,
        }),
    }
}

/// Sums `frame[start..]` including whatever the checksum field at `start + csum_offset`
/// currently holds (the host seeds it with the pseudo-header sum) and stores the
/// complement of the folded sum there. With `udp`, a computed 0 is sent as 0xFFFF,
/// since 0 means "no checksum" in UDP over IPv4 (RFC 768).
pub fn insert_l4(
    frame: &mut [u8],
    start: usize,
    csum_offset: usize,
    udp: bool,
) -> Result<(), CsumError> {
    let field = start
        .checked_add(csum_offset)
        .ok_or(CsumError::OutOfBounds {
            offset: start,
            len: usize::MAX,
            frame_len: frame.len(),
        })?;
    field_in_bounds(frame.len(), field, 2)?;
    let mut c = !fold(sum(&frame[start..], 0));
    if udp && c == 0 {
        c = 0xFFFF;
    }
    wire::put16(frame, field, c);
    Ok(())
}

/// Sums `frame[ip_off..ip_off + len]` with the checksum field (ip_off + 10) as it is —
/// seeded, not zeroed — and stores the complement of the folded sum in that field.
///
/// This is the 82576 IPCSE behaviour: for GSO_PARTIAL tunnels Linux sets `len` to the
/// whole span up to the inner L4 header and seeds the field so that the non-IP bytes in
/// that span cancel out. For a plain header the host leaves the field zero.
pub fn insert_ipv4_header(frame: &mut [u8], ip_off: usize, len: usize) -> Result<(), CsumError> {
    if len < ipv4::MIN_HEADER_LEN {
        return Err(CsumError::Ipv4HeaderTooShort { len });
    }
    field_in_bounds(frame.len(), ip_off, len)?;
    let c = !fold(sum(&frame[ip_off..ip_off + len], 0));
    wire::put16(frame, ip_off + ipv4::CHECKSUM, c);
    Ok(())
}

/// Recomputes an IPv4 header checksum from scratch: the field is zeroed first. Used
/// where the NIC owns the whole header (LSO, NVGRE Tx offload), not the IPCSE path.
pub(crate) fn rewrite_ipv4_header(frame: &mut [u8], ip_off: usize, header_len: usize) {
    wire::put16(frame, ip_off + ipv4::CHECKSUM, 0);
    let c = !fold(sum(&frame[ip_off..ip_off + header_len], 0));
    wire::put16(frame, ip_off + ipv4::CHECKSUM, c);
}

/// The checksum offloads the device advertised to the host (R-32: only what is
/// advertised is done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxCsumCaps {
    pub ipv4: bool,
    pub tcp: bool,
    pub udp: bool,
}

/// Which checksums [`offload`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxCsumDone {
    pub outer_ipv4: bool,
    pub inner_ipv4: bool,
    /// Transport checksum over the innermost IP header (the only one for plain frames).
    pub l4: Option<crate::segment::L4Kind>,
    pub gre: bool,
}

/// Tx checksum offload for plain and NVGRE frames (R-30..R-32).
///
/// The TCP/UDP checksum field must arrive seeded with the pseudo-header sum including
/// the length; the IPv4 header checksums are computed from scratch. Outer and
/// inner IP versions are discovered independently. A frame without TCP/UDP
/// (inner ICMP, R-12) gets only its IPv4 header checksums. GRE with C=1 gets its
/// checksum recomputed after the inner frame is final **[tunic]**. Order matters: each
/// enclosing checksum covers the bytes written by the enclosed ones.
pub fn offload(frame: &mut [u8], caps: TxCsumCaps) -> Result<TxCsumDone, CsumError> {
    let p = parse::parse_headers(frame)?;
    let mut done = TxCsumDone::default();
    let innermost = p.inner.as_ref().unwrap_or(&p.outer);

    if let (Some(ip), Some(l4)) = (innermost.ip.as_ref(), innermost.l4.as_ref()) {
        let end = ip.end;
        match l4.transport {
            Transport::Tcp if caps.tcp => {
                insert_l4(&mut frame[..end], l4.offset, tcp::CHECKSUM, false)?;
                done.l4 = Some(crate::segment::L4Kind::Tcp);
            }
            Transport::Udp if caps.udp => {
                insert_l4(&mut frame[..end], l4.offset, udp::CHECKSUM, true)?;
                done.l4 = Some(crate::segment::L4Kind::Udp);
            }
            _ => {}
        }
    }
    if let Some(inner_ip) = p.inner.as_ref().and_then(|l| l.ip.as_ref()) {
        if caps.ipv4 && inner_ip.version == IpVersion::V4 {
            rewrite_ipv4_header(frame, inner_ip.offset, inner_ip.ip_header_len);
            done.inner_ipv4 = true;
        }
    }
    if let (Some(gre), Some(outer_ip)) = (p.gre.as_ref(), p.outer.ip.as_ref()) {
        if let Some(field) = gre.checksum_field() {
            wire::put16(frame, field, 0);
            let c = !fold(sum(&frame[gre.offset..outer_ip.end], 0));
            wire::put16(frame, field, c);
            done.gre = true;
        }
    }
    if let Some(outer_ip) = p.outer.ip.as_ref() {
        if caps.ipv4 && outer_ip.version == IpVersion::V4 {
            rewrite_ipv4_header(frame, outer_ip.offset, outer_ip.ip_header_len);
            done.outer_ipv4 = true;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::checksum;

    #[test]
    fn insert_l4_rejects_field_past_end() {
        let mut f = [0u8; 10];
        assert!(matches!(
            insert_l4(&mut f, 4, 6, false),
            Err(CsumError::OutOfBounds { .. })
        ));
        assert!(matches!(
            insert_l4(&mut f, usize::MAX, 6, false),
            Err(CsumError::OutOfBounds { .. })
        ));
        assert!(insert_l4(&mut f, 4, 4, false).is_ok());
    }

    #[test]
    fn insert_l4_result_verifies() {
        let mut f: Vec<u8> = (0..101u8).collect();
        f[20 + 16] = 0;
        f[20 + 17] = 0;
        insert_l4(&mut f, 20, 16, false).unwrap();
        assert_eq!(checksum(&f[20..]), 0);
    }

    #[test]
    fn udp_zero_becomes_ffff() {
        // Eight bytes summing to 0xFFFF: the complement is 0, which UDP must not send.
        let mut f = [0xFF, 0xFF, 0, 0, 0, 0, 0, 0];
        insert_l4(&mut f, 0, 6, true).unwrap();
        assert_eq!(&f[6..8], &[0xFF, 0xFF]);
        let mut g = [0xFF, 0xFF, 0, 0, 0, 0, 0, 0];
        insert_l4(&mut g, 0, 6, false).unwrap();
        assert_eq!(&g[6..8], &[0, 0]);
    }

    #[test]
    fn ipv4_header_seeded_field_is_summed_as_is() {
        let mut f = vec![0u8; 60];
        f[14] = 0x45;
        f[14 + 10] = 0x12;
        f[14 + 11] = 0x34;
        insert_ipv4_header(&mut f, 14, 20).unwrap();
        // The field was part of the sum: header + 0x1234 folded, complemented.
        let mut expect = f.clone();
        expect[24] = 0;
        expect[25] = 0;
        let c = !fold(sum(&expect[14..34], 0x1234));
        assert_eq!(wire::be16(&f, 24), c);
        assert!(matches!(
            insert_ipv4_header(&mut f, 50, 20),
            Err(CsumError::OutOfBounds { .. })
        ));
        assert!(matches!(
            insert_ipv4_header(&mut f, 0, 8),
            Err(CsumError::Ipv4HeaderTooShort { .. })
        ));
    }
}
