//! The control virtqueue (5.1.6.5): receive modes, MAC and VLAN filters, the number
//! of queue pairs, the RSS and hash configuration, notification coalescing, and the
//! guest offloads in force (which a driver switches off to attach XDP), and the
//! device's statistics (DEVICE_STATS, `device_stats.rs`).
//!
//! Each chain is a `virtio_net_ctrl_hdr` (class, command) and the command's data,
//! all device-readable, then one device-writable `ack` byte. A command the device
//! does not know, or data it cannot accept, is answered VIRTIO_NET_ERR and changes
//! nothing; a chain without room for the ack breaks the queue like any bad chain.

use virtio_bindings::virtio_net::*;
use virtio_bindings::virtio_ring::VIRTIO_RING_F_INDIRECT_DESC;

use super::coalesce::CoalesceParams;
use super::queue::{Chain, QueueError};
use super::steering::{parse_hash_config, parse_rss_config};
use super::{VirtioNet, MAX_QUEUE_PAIRS};

/// Longest command accepted: two full MAC tables and then some. Longer ones are
/// refused without reading them.
const MAX_COMMAND: usize = 4096;

impl VirtioNet {
    /// The driver kicked the control queue.
    pub(super) fn ctrl_process(&mut self, q: usize) {
        let indirect = self.features.has(VIRTIO_RING_F_INDIRECT_DESC);
        for _ in 0..self.queues[q].size {
            let chain = match self.queues[q].pop(&self.dma, indirect) {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return self.queue_failed(q, e),
            };
            if let Err(e) = self.ctrl_chain(q, &chain) {
                return self.queue_failed(q, e);
            }
        }
        match self.queues[q].publish(&self.dma) {
            Ok(true) => self.queue_interrupt(q),
            Ok(false) => {}
            Err(e) => self.queue_failed(q, e),
        }
    }

    fn ctrl_chain(&mut self, q: usize, chain: &Chain) -> Result<(), QueueError> {
        if chain.writable.is_empty() {
            return Err(QueueError::NoAck);
        }
        // The ack is the first writable byte; a command's result follows it.
        let mut written = vec![VIRTIO_NET_OK as u8];
        let outcome = if chain.readable.len() > MAX_COMMAND {
            Err("command longer than the device accepts")
        } else {
            let mut cmd = Vec::with_capacity(chain.readable.len());
            chain.readable.gather(&self.dma, &mut cmd, MAX_COMMAND)?;
            self.ctrl_command(&cmd, &mut written).and_then(|()| {
                if written.len() > chain.writable.len() {
                    Err("no room for the command's result")
                } else {
                    Ok(())
                }
            })
        };
        match outcome {
            Ok(()) => self.counters.ctrl_commands += 1,
            Err(why) => {
                written.truncate(1);
                written[0] = self.ctrl_refused(why);
            }
        }
        chain.writable.scatter(&self.dma, &written)?;
        self.queues[q].add_used(&self.dma, chain, written.len() as u32)
    }

    fn ctrl_refused(&mut self, why: &'static str) -> u8 {
        self.counters.ctrl_errors += 1;
        tracing::warn!(why, "virtio-net control command refused");
        VIRTIO_NET_ERR as u8
    }

    /// Carries out `cmd`; a command with a result appends it to `result`.
    fn ctrl_command(&mut self, cmd: &[u8], result: &mut Vec<u8>) -> Result<(), &'static str> {
        let [class, command, data @ ..] = cmd else {
            return Err("control header truncated");
        };
        let (class, command) = (u32::from(*class), u32::from(*command));
        let needs = |feature: u32| {
            if self.features.has(feature) {
                Ok(())
            } else {
                Err("command class not negotiated")
            }
        };
        match (class, command) {
            (VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC | VIRTIO_NET_CTRL_RX_ALLMULTI) => {
                needs(VIRTIO_NET_F_CTRL_RX)?;
                let [on] = data else {
                    return Err("receive mode is one byte");
                };
                if command == VIRTIO_NET_CTRL_RX_PROMISC {
                    self.filter.promisc = *on != 0;
                } else {
                    self.filter.allmulti = *on != 0;
                }
                Ok(())
            }
            (VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET) => {
                needs(VIRTIO_NET_F_CTRL_RX)?;
                self.filter.set_mac_tables(data)
            }
            (VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET) => {
                needs(VIRTIO_NET_F_CTRL_MAC_ADDR)?;
                let mac: [u8; 6] = data.try_into().map_err(|_| "MAC address is 6 bytes")?;
                self.set_mac(mac);
                Ok(())
            }
            (VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD | VIRTIO_NET_CTRL_VLAN_DEL) => {
                needs(VIRTIO_NET_F_CTRL_VLAN)?;
                let vid: [u8; 2] = data.try_into().map_err(|_| "VLAN ID is 2 bytes")?;
                self.filter
                    .set_vlan(u16::from_le_bytes(vid), command == VIRTIO_NET_CTRL_VLAN_ADD)
            }
            (VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) => {
                needs(VIRTIO_NET_F_MQ)?;
                let n: [u8; 2] = data.try_into().map_err(|_| "pair count is 2 bytes")?;
                let n = u16::from_le_bytes(n);
                if n == 0 || n > MAX_QUEUE_PAIRS {
                    return Err("queue pairs outside 1..=max_virtqueue_pairs");
                }
                self.active_pairs = n;
                Ok(())
            }
            (VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG) => {
                needs(VIRTIO_NET_F_RSS)?;
                let rss = parse_rss_config(data, MAX_QUEUE_PAIRS)?;
                if let Some((_, _, pairs)) = rss.steering {
                    // The device takes the pair count from max_tx_vq (5.1.6.5.7.1).
                    self.active_pairs = pairs;
                }
                self.steering.apply(rss);
                Ok(())
            }
            (VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG) => {
                needs(VIRTIO_NET_F_HASH_REPORT)?;
                self.steering.apply(parse_hash_config(data)?);
                Ok(())
            }
            (
                VIRTIO_NET_CTRL_NOTF_COAL,
                VIRTIO_NET_CTRL_NOTF_COAL_TX_SET | VIRTIO_NET_CTRL_NOTF_COAL_RX_SET,
            ) => {
                needs(VIRTIO_NET_F_NOTF_COAL)?;
                let params = CoalesceParams::parse(data)?;
                // Receive queues are the even ones before the control queue.
                let rx = command == VIRTIO_NET_CTRL_NOTF_COAL_RX_SET;
                let now = self.coalesce_now();
                let ctrl = self.ctrl_queue();
                for q in (0..ctrl).filter(|q| q.is_multiple_of(2) == rx) {
                    self.coalesce[q].set(params, now);
                }
                // Notifications held under the old limits go out now.
                self.wake_worker();
                Ok(())
            }
            (VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET) => {
                needs(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)?;
                let offloads: [u8; 8] =
                    data.try_into().map_err(|_| "guest offloads are 8 bytes")?;
                self.features
                    .set_guest_offloads(u64::from_le_bytes(offloads))
            }
            (VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_QUERY) => {
                needs(VIRTIO_NET_F_DEVICE_STATS)?;
                result.extend_from_slice(&super::device_stats::DeviceStats::query());
                Ok(())
            }
            (VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET) => {
                needs(VIRTIO_NET_F_DEVICE_STATS)?;
                result.extend(self.device_stats.get(data)?);
                Ok(())
            }
            _ => Err("unknown control command"),
        }
    }
}
