//! The vfio-user wire format: a 16-byte little-endian header, then a body
//! whose layout the command fixes. Every parser here takes the body as a slice
//! and checks its length before reading a field, so a short or oversized body
//! is an `EINVAL`, never an out-of-bounds read or a guess.

use crate::Errno;

/// Bytes in a message header.
pub const HEADER_SIZE: usize = 16;

/// `flags` field of the header.
pub mod flags {
    /// Message type: the low nibble.
    pub const TYPE_MASK: u32 = 0xf;
    pub const TYPE_COMMAND: u32 = 0;
    pub const TYPE_REPLY: u32 = 1;
    /// The sender does not wait for a reply.
    pub const NO_REPLY: u32 = 1 << 4;
    /// The reply reports `error` (an errno).
    pub const ERROR: u32 = 1 << 5;
}

/// The message header every command and reply starts with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub command: u16,
    /// Whole message, header included.
    pub size: u32,
    pub flags: u32,
    pub error: u32,
}

impl Header {
    pub fn parse(b: &[u8; HEADER_SIZE]) -> Self {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Self {
            id: u16_at(0),
            command: u16_at(2),
            size: u32_at(4),
            flags: u32_at(8),
            error: u32_at(12),
        }
    }

    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..2].copy_from_slice(&self.id.to_le_bytes());
        b[2..4].copy_from_slice(&self.command.to_le_bytes());
        b[4..8].copy_from_slice(&self.size.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&self.error.to_le_bytes());
        b
    }

    pub fn is_command(&self) -> bool {
        self.flags & flags::TYPE_MASK == flags::TYPE_COMMAND
    }

    pub fn no_reply(&self) -> bool {
        self.flags & flags::NO_REPLY != 0
    }

    /// The reply header to this command for a body of `body_len` bytes.
    pub fn reply(&self, body_len: usize) -> Self {
        Self {
            id: self.id,
            command: self.command,
            size: (HEADER_SIZE + body_len) as u32,
            flags: flags::TYPE_REPLY,
            error: 0,
        }
    }

    /// The error reply to this command.
    pub fn error_reply(&self, errno: Errno) -> Self {
        Self {
            flags: flags::TYPE_REPLY | flags::ERROR,
            error: errno.0 as u32,
            ..self.reply(0)
        }
    }
}

/// A whole command message: the header for `body`, then `body`. What a client
/// sends; the tests and fuzz targets build their streams with it.
pub fn message(id: u16, command: u16, msg_flags: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Header {
        id,
        command,
        size: (HEADER_SIZE + body.len()) as u32,
        flags: msg_flags,
        error: 0,
    }
    .encode()
    .to_vec();
    m.extend_from_slice(body);
    m
}

/// vfio-user commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Version,
    DmaMap,
    DmaUnmap,
    DeviceGetInfo,
    DeviceGetRegionInfo,
    DeviceGetRegionIoFds,
    DeviceGetIrqInfo,
    DeviceSetIrqs,
    RegionRead,
    RegionWrite,
    DmaRead,
    DmaWrite,
    DeviceReset,
    DirtyPages,
}

impl Command {
    /// Command codes as the protocol numbers them.
    const TABLE: [(u16, Command); 14] = [
        (1, Command::Version),
        (2, Command::DmaMap),
        (3, Command::DmaUnmap),
        (4, Command::DeviceGetInfo),
        (5, Command::DeviceGetRegionInfo),
        (6, Command::DeviceGetRegionIoFds),
        (7, Command::DeviceGetIrqInfo),
        (8, Command::DeviceSetIrqs),
        (9, Command::RegionRead),
        (10, Command::RegionWrite),
        (11, Command::DmaRead),
        (12, Command::DmaWrite),
        (13, Command::DeviceReset),
        (14, Command::DirtyPages),
    ];

    pub fn from_code(code: u16) -> Option<Self> {
        Self::TABLE
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, k)| *k)
    }

    pub fn code(self) -> u16 {
        Self::TABLE
            .iter()
            .find(|(_, k)| *k == self)
            .map_or(0, |(c, _)| *c)
    }

    /// Most file descriptors a well-formed message of this command carries.
    pub fn max_fds(self) -> usize {
        match self {
            Command::DmaMap => 1,
            Command::DeviceSetIrqs => crate::MAX_MSG_FDS,
            _ => 0,
        }
    }
}

/// Reads little-endian fields from a body in order, refusing to read past its end.
pub struct Fields<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        Self { body, at: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], Errno> {
        let end = self.at.checked_add(N).ok_or(Errno::EINVAL)?;
        let bytes = self.body.get(self.at..end).ok_or(Errno::EINVAL)?;
        self.at = end;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u16(&mut self) -> Result<u16, Errno> {
        self.take().map(u16::from_le_bytes)
    }

    pub fn u32(&mut self) -> Result<u32, Errno> {
        self.take().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, Errno> {
        self.take().map(u64::from_le_bytes)
    }

    /// What follows the fields read so far.
    pub fn rest(&self) -> &'a [u8] {
        self.body.get(self.at..).unwrap_or(&[])
    }
}

/// Appends little-endian fields to a reply body.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
}

/// VERSION: the client's protocol version and its capabilities.
#[derive(Debug, PartialEq)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
    /// The capabilities object, or `None` when the client sent no JSON.
    pub capabilities: Option<serde_json::Value>,
}

impl Version {
    /// The JSON must be NUL-terminated UTF-8 with no NUL inside, and an object.
    pub fn parse(body: &[u8]) -> Result<Self, Errno> {
        let mut f = Fields::new(body);
        let (major, minor) = (f.u16()?, f.u16()?);
        let json = f.rest();
        let capabilities = match json.split_last() {
            None => None,
            Some((&0, text)) if !text.contains(&0) => {
                let text = std::str::from_utf8(text).map_err(|_| Errno::EINVAL)?;
                let v: serde_json::Value = serde_json::from_str(text).map_err(|_| Errno::EINVAL)?;
                if !v.is_object() {
                    return Err(Errno::EINVAL);
                }
                Some(v)
            }
            Some(_) => return Err(Errno::EINVAL),
        };
        Ok(Self {
            major,
            minor,
            capabilities,
        })
    }
}

/// DMA_MAP: guest memory at `address` backed by the message's fd at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaMap {
    pub argsz: u32,
    pub flags: u32,
    pub offset: u64,
    pub address: u64,
    pub size: u64,
}

impl DmaMap {
    pub const SIZE: usize = 32;
    pub const FLAG_READ: u32 = 1;
    pub const FLAG_WRITE: u32 = 2;

    pub fn parse(body: &[u8]) -> Result<Self, Errno> {
        exact(body, Self::SIZE)?;
        let mut f = Fields::new(body);
        let m = Self {
            argsz: f.u32()?,
            flags: f.u32()?,
            offset: f.u64()?,
            address: f.u64()?,
            size: f.u64()?,
        };
        if m.argsz as usize != Self::SIZE || m.flags & !(Self::FLAG_READ | Self::FLAG_WRITE) != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(m)
    }
}

/// DMA_UNMAP: the mapping at `address` of `size` bytes, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaUnmap {
    pub argsz: u32,
    pub flags: u32,
    pub address: u64,
    pub size: u64,
}

impl DmaUnmap {
    pub const SIZE: usize = 24;
    /// Dirty-page tracking, which this server does not offer.
    pub const FLAG_GET_DIRTY_BITMAP: u32 = 1 << 0;
    pub const FLAG_UNMAP_ALL: u32 = 1 << 1;

    pub fn parse(body: &[u8]) -> Result<Self, Errno> {
        exact(body, Self::SIZE)?;
        let mut f = Fields::new(body);
        let m = Self {
            argsz: f.u32()?,
            flags: f.u32()?,
            address: f.u64()?,
            size: f.u64()?,
        };
        if m.flags & Self::FLAG_GET_DIRTY_BITMAP != 0 {
            return Err(Errno::ENOTSUP);
        }
        if m.argsz as usize != Self::SIZE || m.flags & !Self::FLAG_UNMAP_ALL != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(m)
    }

    pub fn encode(&self) -> Vec<u8> {
        Writer::default()
            .u32(self.argsz)
            .u32(self.flags)
            .u64(self.address)
            .u64(self.size)
            .0
    }
}

/// DEVICE_GET_INFO, DEVICE_GET_REGION_INFO and DEVICE_GET_IRQ_INFO start with
/// the client's `argsz`, the room it has for the reply.
pub fn argsz(body: &[u8], least: usize) -> Result<u32, Errno> {
    let argsz = Fields::new(body).u32()?;
    if (argsz as usize) < least {
        return Err(Errno::EINVAL);
    }
    Ok(argsz)
}

/// DEVICE_GET_REGION_INFO and DEVICE_GET_IRQ_INFO: the index asked about.
pub fn info_index(body: &[u8], least: usize) -> Result<u32, Errno> {
    if body.len() < least {
        return Err(Errno::EINVAL);
    }
    argsz(body, least)?;
    let mut f = Fields::new(body);
    f.u32()?; // argsz
    f.u32()?; // flags
    f.u32()
}

/// DEVICE_SET_IRQS: what to do with vectors `start..start + count` of `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetIrqs {
    pub argsz: u32,
    pub flags: u32,
    pub index: u32,
    pub start: u32,
    pub count: u32,
}

impl SetIrqs {
    pub const SIZE: usize = 20;
    pub const DATA_NONE: u32 = 1 << 0;
    pub const DATA_BOOL: u32 = 1 << 1;
    pub const DATA_EVENTFD: u32 = 1 << 2;
    pub const ACTION_MASK: u32 = 1 << 3;
    pub const ACTION_UNMASK: u32 = 1 << 4;
    pub const ACTION_TRIGGER: u32 = 1 << 5;

    /// The body is `argsz` bytes: the fixed fields, then per-vector data only
    /// with DATA_BOOL (eventfds travel as the message's file descriptors).
    pub fn parse(body: &[u8]) -> Result<Self, Errno> {
        let mut f = Fields::new(body);
        let s = Self {
            argsz: f.u32()?,
            flags: f.u32()?,
            index: f.u32()?,
            start: f.u32()?,
            count: f.u32()?,
        };
        let data = s.flags & (Self::DATA_NONE | Self::DATA_BOOL | Self::DATA_EVENTFD);
        let action = s.flags & (Self::ACTION_MASK | Self::ACTION_UNMASK | Self::ACTION_TRIGGER);
        if s.argsz as usize != body.len() {
            return Err(Errno::EINVAL);
        }
        if s.flags & Self::DATA_BOOL != 0 {
            // Per-vector booleans in the body: QEMU does not send them, nor does this server take them.
            return Err(Errno::ENOTSUP);
        }
        if body.len() != Self::SIZE
            || data.count_ones() != 1
            || action.count_ones() != 1
            || s.flags & !0x3f != 0
            || s.start.checked_add(s.count).is_none()
        {
            return Err(Errno::EINVAL);
        }
        Ok(s)
    }
}

/// REGION_READ and REGION_WRITE: `count` bytes at `offset` of region `region`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionAccess {
    pub offset: u64,
    pub region: u32,
    pub count: u32,
}

impl RegionAccess {
    pub const SIZE: usize = 16;

    /// The access and, for a write, its data (exactly `count` bytes).
    pub fn parse(body: &[u8], write: bool) -> Result<(Self, &[u8]), Errno> {
        let mut f = Fields::new(body);
        let a = Self {
            offset: f.u64()?,
            region: f.u32()?,
            count: f.u32()?,
        };
        let data = f.rest();
        let expected = if write { a.count as usize } else { 0 };
        if data.len() != expected {
            return Err(Errno::EINVAL);
        }
        Ok((a, data))
    }

    pub fn encode(&self) -> Writer {
        Writer::default()
            .u64(self.offset)
            .u32(self.region)
            .u32(self.count)
    }
}

fn exact(body: &[u8], size: usize) -> Result<(), Errno> {
    if body.len() == size {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = Header {
            id: 0x1234,
            command: 9,
            size: 0x20,
            flags: flags::NO_REPLY,
            error: 7,
        };
        assert_eq!(Header::parse(&h.encode()), h);
        assert!(h.no_reply() && h.is_command());
        let e = h.error_reply(Errno::ENOTSUP);
        assert_eq!(e.size as usize, HEADER_SIZE);
        assert_eq!(e.error, libc::ENOTSUP as u32);
        assert!(!e.is_command());
    }

    #[test]
    fn command_codes_round_trip() {
        for code in 1..=14 {
            assert_eq!(Command::from_code(code).unwrap().code(), code);
        }
        assert_eq!(Command::from_code(0), None);
        assert_eq!(Command::from_code(15), None);
    }

    #[test]
    fn version_needs_its_nul_and_an_object() {
        let mut body = vec![0, 0, 1, 0];
        assert!(Version::parse(&body).unwrap().capabilities.is_none());
        body.extend(b"{\"capabilities\":{}}");
        assert_eq!(Version::parse(&body), Err(Errno::EINVAL), "no NUL");
        body.push(0);
        assert!(Version::parse(&body).unwrap().capabilities.is_some());
        assert_eq!(Version::parse(b"\0\0\0\0[1]\0"), Err(Errno::EINVAL));
        assert_eq!(Version::parse(b"\0\0\0\0{}\0{}\0"), Err(Errno::EINVAL));
        assert_eq!(Version::parse(b"\0\0\0\0\xff\0"), Err(Errno::EINVAL));
        assert_eq!(Version::parse(b"\0\0\0"), Err(Errno::EINVAL));
    }

    #[test]
    fn fixed_bodies_must_have_their_size() {
        let map = Writer::default()
            .u32(32)
            .u32(3)
            .u64(0)
            .u64(0x1000)
            .u64(0x1000)
            .0;
        assert_eq!(DmaMap::parse(&map).unwrap().size, 0x1000);
        assert_eq!(DmaMap::parse(&map[..31]), Err(Errno::EINVAL));
        let mut long = map.clone();
        long.push(0);
        assert_eq!(DmaMap::parse(&long), Err(Errno::EINVAL));
        let irqs = Writer::default().u32(20).u32(0x24).u32(2).u32(0).u32(4).0;
        assert_eq!(SetIrqs::parse(&irqs).unwrap().count, 4);
        let bad = Writer::default().u32(20).u32(0x26).u32(2).u32(0).u32(4).0;
        assert_eq!(SetIrqs::parse(&bad), Err(Errno::ENOTSUP));
        let wrap = Writer::default()
            .u32(20)
            .u32(0x24)
            .u32(2)
            .u32(u32::MAX)
            .u32(4)
            .0;
        assert_eq!(SetIrqs::parse(&wrap), Err(Errno::EINVAL));
    }

    #[test]
    fn a_region_write_carries_exactly_its_count() {
        let mut w = RegionAccess {
            offset: 8,
            region: 0,
            count: 4,
        }
        .encode()
        .bytes(&[1, 2, 3, 4])
        .0;
        let (a, data) = RegionAccess::parse(&w, true).unwrap();
        assert_eq!((a.count, data), (4, &[1u8, 2, 3, 4][..]));
        w.pop();
        assert_eq!(RegionAccess::parse(&w, true), Err(Errno::EINVAL));
        assert_eq!(RegionAccess::parse(&w[..16], false).unwrap().0.count, 4);
    }
}
