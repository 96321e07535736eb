//! What the device saw, for its counter report and the tests.

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Packets whose checksum the device inserted (NEEDS_CSUM).
    pub tx_csum: u64,
    /// GSO packets segmented (TCP and UDP), and the frames they became.
    pub tx_gso: u64,
    pub tx_gso_segments: u64,
    /// Of `tx_gso`, UDP segmentation (HOST_USO).
    pub tx_uso: u64,
    /// Of `tx_gso`, sends segmented inside a UDP tunnel (VXLAN, Geneve).
    pub tx_udp_tunnel_gso: u64,
    /// Dropped: malformed header, an offload that was not negotiated or that failed.
    pub tx_dropped: u64,
    /// Tx passes that stopped at their budget with chains left, resumed by the
    /// port's worker (`doorbell`): work, not an error.
    pub tx_deferred_passes: u64,
    /// Tx queues that stopped because the wire could take no more (back-pressure,
    /// not loss); the port's worker resumed them when it had room.
    pub tx_wire_full_stops: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Frames marked DATA_VALID after tunic validated their checksums.
    pub rx_data_valid: u64,
    /// Dropped because the driver was not running or the link was down.
    pub rx_not_ready_drops: u64,
    /// Dropped because the receive backlog was full while the driver offered no buffers.
    pub rx_backlog_drops: u64,
    /// Dropped because one buffer was too small and mergeable buffers are off.
    pub rx_oversize_drops: u64,
    pub rx_runt_drops: u64,
    /// Dropped by the receive filter (MAC tables, receive modes, VLAN filter).
    pub rx_filtered: u64,
    /// Frames received per queue pair.
    pub rx_queue_packets: Vec<u64>,
    /// Control commands carried out, and refused with VIRTIO_NET_ERR.
    pub ctrl_commands: u64,
    pub ctrl_errors: u64,
    /// Notifications held back by NOTF_COAL and sent at their deadline.
    pub notifications_coalesced: u64,
    /// Ring violations that set NEEDS_RESET.
    pub queue_errors: u64,
    /// Operations in which the device model itself failed (a contained panic): a
    /// tunic bug, never the driver's; the device set NEEDS_RESET.
    pub device_faults: u64,
    pub features_refused: u64,
    pub resets: u64,
}

/// What a correct driver never makes the device count: packets dropped for a malformed
/// header or a failed or unnegotiated offload, ring violations, refused control commands
/// and refused features. `tunic conformance`'s `device-errors` sums them.
pub const ERROR_COUNTERS: &[&str] = &[
    "tx_dropped",
    "queue_errors",
    "device_faults",
    "ctrl_errors",
    "features_refused",
];
