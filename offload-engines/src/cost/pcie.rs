//! PCIe link occupancy from TLP arithmetic.
//!
//! A DMA read or write is turned into the TLPs that cross the link: read requests
//! split at the max read request size, completions split at the completion size,
//! posted writes split at the max payload size. Every TLP carries its header,
//! 8 bytes of framing (and ECRC when enabled), is striped over the lanes and rounded
//! up to whole symbol times, and is paid for at the generation's line rate after
//! 8b/10b or 128b/130b encoding. The receiver's Ack and UpdateFC DLLPs are charged,
//! amortised, to the opposite direction.
//!
//! "Up" is device to host (memory requests, writes, MSI-X); "down" is host to device
//! (read completions). The two directions are independent resources: PCIe is full
//! duplex.

use super::time::Picos;

/// STP + sequence number + LCRC + END at 2.5/5 GT/s (1 + 2 + 4 + 1 bytes), and the
/// 4-byte STP token (which carries the sequence number) + LCRC at 8 GT/s and above
/// (4 + 4 bytes): 8 bytes per TLP either way.
pub const TLP_FRAMING_BYTES: u64 = 8;
/// A DLLP is 6 bytes plus SDP/END (2.5/5 GT/s) or a 2-byte SDP token (8 GT/s and up).
pub const DLLP_BYTES: u64 = 8;
/// Completions always carry a 3DW header.
pub const COMPLETION_HEADER_BYTES: u64 = 12;
const ECRC_BYTES: u64 = 4;
const DW: u64 = 4;
const PS_PER_US: u128 = 1_000_000;

/// PCIe generation: raw transfer rate per lane and line encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    Gen1,
    Gen2,
    Gen3,
    Gen4,
    Gen5,
}

impl Generation {
    /// Raw rate per lane in megatransfers (bits) per second.
    pub const fn mega_transfers_per_sec(self) -> u64 {
        match self {
            Generation::Gen1 => 2_500,
            Generation::Gen2 => 5_000,
            Generation::Gen3 => 8_000,
            Generation::Gen4 => 16_000,
            Generation::Gen5 => 32_000,
        }
    }

    /// Line bits sent per data bits: 10/8 for 8b/10b, 130/128 for 128b/130b.
    pub const fn encoding(self) -> (u64, u64) {
        match self {
            Generation::Gen1 | Generation::Gen2 => (10, 8),
            _ => (130, 128),
        }
    }
}

/// Negotiated link width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkWidth {
    X1,
    X2,
    X4,
    X8,
    X16,
}

impl LinkWidth {
    pub const fn lanes(self) -> u64 {
        match self {
            LinkWidth::X1 => 1,
            LinkWidth::X2 => 2,
            LinkWidth::X4 => 4,
            LinkWidth::X8 => 8,
            LinkWidth::X16 => 16,
        }
    }
}

/// Memory request header: 3DW for addresses below 4 GiB, 4DW above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFormat {
    ThreeDw,
    FourDw,
}

impl HeaderFormat {
    pub const fn bytes(self) -> u64 {
        match self {
            HeaderFormat::ThreeDw => 12,
            HeaderFormat::FourDw => 16,
        }
    }
}

/// The device's PCIe link. Sizes are in bytes; `validate` says whether they are
/// ones the PCIe base specification allows, and the cost functions treat zeros as
/// one so that a bad configuration gives a wrong number rather than a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcieLink {
    pub generation: Generation,
    pub width: LinkWidth,
    /// Max Payload Size: the largest data payload of a posted write.
    pub max_payload: u32,
    /// Max Read Request Size: the largest single memory read request.
    pub max_read_request: u32,
    /// Largest data payload of one read completion. Completers may split at the
    /// Read Completion Boundary (64 or 128 bytes), and never exceed `max_payload`.
    pub completion_payload: u32,
    /// Header of the device's memory requests (reads, writes, MSI-X).
    pub request_header: HeaderFormat,
    /// End-to-end CRC appended to every TLP.
    pub ecrc: bool,
    /// From the read request leaving the device to its first completion arriving,
    /// not counting the TLPs' own serialization.
    pub read_latency: Picos,
    /// TLPs acknowledged per Ack DLLP.
    pub tlps_per_ack: u32,
    /// TLPs received per UpdateFC DLLP.
    pub tlps_per_fc_update: u32,
}

impl Default for PcieLink {
    /// The 82576's own link (PCIe 2.0, 5 GT/s x4) with common host settings; see
    /// docs/timing.md for the source of each value.
    fn default() -> Self {
        PcieLink {
            generation: Generation::Gen2,
            width: LinkWidth::X4,
            max_payload: 256,
            max_read_request: 512,
            completion_payload: 64,
            request_header: HeaderFormat::FourDw,
            ecrc: false,
            read_latency: Picos::from_ns(500),
            tlps_per_ack: 4,
            tlps_per_fc_update: 4,
        }
    }
}

/// What a DMA costs on the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCost {
    /// Occupancy of the device-to-host direction.
    pub up: Picos,
    /// Occupancy of the host-to-device direction.
    pub down: Picos,
    /// Unloaded time from the first TLP leaving to the last one arriving.
    pub latency: Picos,
    /// TLPs in both directions (DLLPs not counted).
    pub tlps: u64,
}

/// TLPs of one kind: how many, and how many symbol times they take in total.
#[derive(Debug, Clone, Copy, Default)]
struct Tlps {
    count: u64,
    symbol_times: u64,
}

impl PcieLink {
    /// A memory read of `bytes` from host memory (descriptor fetch, Tx payload).
    /// Buffers are assumed to start DW-aligned and not to cross 4 KiB mid-request.
    pub fn read(&self, bytes: u64) -> LinkCost {
        if bytes == 0 {
            return LinkCost::default();
        }
        let mrrs = u64::from(self.max_read_request).max(1);
        let cpl = u64::from(self.completion_payload)
            .min(u64::from(self.max_payload))
            .max(DW);
        let requests = self.split(bytes, mrrs, |_| self.request_header.bytes());
        // Each request's data comes back in completions of at most `cpl` bytes.
        let full_requests = bytes / mrrs;
        let tail = bytes % mrrs;
        let per_full = self.completions(mrrs, cpl);
        let per_tail = self.completions(tail, cpl);
        let completions = Tlps {
            count: per_full
                .count
                .saturating_mul(full_requests)
                .saturating_add(per_tail.count),
            symbol_times: per_full
                .symbol_times
                .saturating_mul(full_requests)
                .saturating_add(per_tail.symbol_times),
        };
        let first_request = self.symbols(self.request_header.bytes());
        let completion_time = self.time(completions.symbol_times, 1);
        LinkCost {
            up: self.time(requests.symbol_times, 1) + self.dllp_time(completions.count),
            down: completion_time + self.dllp_time(requests.count),
            latency: self.time(first_request, 1) + self.read_latency + completion_time,
            tlps: requests.count.saturating_add(completions.count),
        }
    }

    /// A posted memory write of `bytes` to host memory (Rx payload, write-back,
    /// MSI-X message).
    pub fn write(&self, bytes: u64) -> LinkCost {
        if bytes == 0 {
            return LinkCost::default();
        }
        let mps = u64::from(self.max_payload).max(1);
        let writes = self.split(bytes, mps, |data| self.request_header.bytes() + data);
        let up = self.time(writes.symbol_times, 1);
        LinkCost {
            up,
            down: self.dllp_time(writes.count),
            latency: up,
            tlps: writes.count,
        }
    }

    /// `bytes` split into TLPs of at most `chunk` data bytes, each of size
    /// `tlp_bytes(data)` before framing.
    fn split(&self, bytes: u64, chunk: u64, tlp_bytes: impl Fn(u64) -> u64) -> Tlps {
        let full = bytes / chunk;
        let tail = bytes % chunk;
        let mut tlps = Tlps {
            count: full,
            symbol_times: full.saturating_mul(self.symbols(tlp_bytes(dw_round(chunk)))),
        };
        if tail > 0 {
            tlps.count += 1;
            tlps.symbol_times = tlps
                .symbol_times
                .saturating_add(self.symbols(tlp_bytes(dw_round(tail))));
        }
        tlps
    }

    fn completions(&self, bytes: u64, cpl: u64) -> Tlps {
        if bytes == 0 {
            return Tlps::default();
        }
        self.split(bytes, cpl, |data| COMPLETION_HEADER_BYTES + data)
    }

    /// Symbol times one TLP of `bytes` (header + data) takes once framed, striped over
    /// the lanes and padded to a whole symbol time.
    fn symbols(&self, bytes: u64) -> u64 {
        let ecrc = if self.ecrc { ECRC_BYTES } else { 0 };
        (bytes + ecrc + TLP_FRAMING_BYTES).div_ceil(self.width.lanes())
    }

    /// Ack and UpdateFC DLLPs the receiver of `tlps` TLPs sends back, amortised over
    /// the configured coalescing and spread over the lanes.
    fn dllp_time(&self, tlps: u64) -> Picos {
        let ack = u64::from(self.tlps_per_ack).max(1);
        let fc = u64::from(self.tlps_per_fc_update).max(1);
        // tlps * DLLP_BYTES * (1/ack + 1/fc) bytes, over `lanes` lanes.
        let numerator = u128::from(tlps) * u128::from(DLLP_BYTES) * u128::from(ack + fc);
        // Cannot overflow: below 2^64 * 2^3 * 2^33.
        let denominator = u128::from(ack * fc) * u128::from(self.width.lanes());
        self.time_ratio(numerator, denominator)
    }

    fn time(&self, symbol_times: u64, per: u64) -> Picos {
        self.time_ratio(u128::from(symbol_times), u128::from(per))
    }

    /// Duration of `numerator / denominator` symbol times (one byte per lane each):
    /// 8 data bits, times the encoding's line/data ratio, at the raw rate.
    fn time_ratio(&self, numerator: u128, denominator: u128) -> Picos {
        let (line_bits, data_bits) = self.generation.encoding();
        Picos::ceil_ratio(
            numerator.saturating_mul(8 * u128::from(line_bits) * PS_PER_US),
            denominator.saturating_mul(
                u128::from(data_bits) * u128::from(self.generation.mega_transfers_per_sec()),
            ),
        )
    }
}

fn dw_round(bytes: u64) -> u64 {
    bytes.div_ceil(DW) * DW
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen1_x1() -> PcieLink {
        PcieLink {
            generation: Generation::Gen1,
            width: LinkWidth::X1,
            ..PcieLink::default()
        }
    }

    #[test]
    fn symbol_time_per_generation() {
        let mut link = gen1_x1();
        // One byte on one lane: 10 bits at 2.5 GT/s = 4 ns.
        assert_eq!(link.time(1, 1), Picos(4_000));
        link.generation = Generation::Gen2;
        assert_eq!(link.time(1, 1), Picos(2_000));
        // 130/128 * 8 bits at 8 GT/s = 1015.625 ps; exact over 8 symbols.
        link.generation = Generation::Gen3;
        assert_eq!(link.time(8, 1), Picos(8_125));
        link.generation = Generation::Gen5;
        assert_eq!(link.time(64, 1), Picos(16_250));
    }

    #[test]
    fn read_of_one_descriptor_on_gen1_x1() {
        let link = gen1_x1();
        let cost = link.read(16);
        // Request: 16 B header + 8 framing = 24 B up; completion 12 + 16 + 8 = 36 B down.
        // DLLPs: 1 TLP * 8 B * (1/4 + 1/4) = 4 B each way.
        assert_eq!(cost.up, Picos((24 + 4) * 4_000));
        assert_eq!(cost.down, Picos((36 + 4) * 4_000));
        assert_eq!(cost.latency, Picos(24 * 4_000 + 500_000 + 36 * 4_000));
        assert_eq!(cost.tlps, 2);
    }

    #[test]
    fn read_splits_at_request_and_completion_size() {
        let link = gen1_x1();
        // 1514 B: requests 512 + 512 + 490; completions 8 + 8 + 8 (490 = 7 * 64 + 42,
        // the last rounded up to 44 bytes).
        let cost = link.read(1514);
        assert_eq!(cost.tlps, 3 + 24);
        let down_bytes = 24 * (12 + 8) + 1516 + 3 * 8 / 2;
        assert_eq!(cost.down, Picos(down_bytes * 4_000));
        let up_bytes = 3 * 24 + 24 * 8 / 2;
        assert_eq!(cost.up, Picos(up_bytes * 4_000));
    }

    #[test]
    fn write_splits_at_max_payload_and_pads_lanes() {
        let link = PcieLink {
            width: LinkWidth::X8,
            request_header: HeaderFormat::ThreeDw,
            ..gen1_x1()
        };
        // 600 B at MPS 256: 256 + 256 + 88; each TLP 12 + data + 8, padded to 8 lanes.
        let cost = link.write(600);
        assert_eq!(cost.tlps, 3);
        let symbols = 2 * (276_u64).div_ceil(8) + (108_u64).div_ceil(8);
        assert_eq!(cost.up, Picos(symbols * 4_000));
    }

    #[test]
    fn zero_and_nonsense_sizes_do_not_panic() {
        let link = PcieLink {
            max_payload: 0,
            max_read_request: 0,
            completion_payload: 0,
            tlps_per_ack: 0,
            tlps_per_fc_update: 0,
            ..PcieLink::default()
        };
        assert_eq!(link.read(0), LinkCost::default());
        assert!(link.read(u64::MAX / 2).down > Picos::ZERO);
        assert!(link.write(u64::MAX).up > Picos::ZERO);
    }
}
