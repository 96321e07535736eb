//! Notification coalescing (VIRTIO_NET_F_NOTF_COAL, 5.1.6.5.9): a queue holds back
//! the used-buffer notification the driver asked for until `max_packets` buffers
//! were used or `usecs` passed since the first one held, whichever comes first.
//!
//! The time limit is on the device's clock (`VirtioNet::coalesce_now`): model time
//! when timing is modelled, so that a paced or virtual-time device delays its
//! notifications in the same time as everything else it models, and wall-clock time
//! since the device was created otherwise. With `usecs` 0 nothing is held (a zero
//! time limit always comes first), which is also the state after reset.

use offload_engines::cost::Picos;

/// `struct virtio_net_ctrl_coal_tx` / `_rx`: max packets, then usecs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CoalesceParams {
    pub max_packets: u32,
    pub usecs: u32,
}

impl CoalesceParams {
    pub fn parse(b: &[u8]) -> Result<Self, &'static str> {
        let b: [u8; 8] = b
            .try_into()
            .map_err(|_| "coalescing parameters are 8 bytes")?;
        Ok(Self {
            max_packets: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            usecs: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct Coalescer {
    params: CoalesceParams,
    /// Used buffers whose notification is being held.
    held: u32,
    deadline: Option<Picos>,
}

impl Coalescer {
    /// New parameters; anything held goes out with the next check.
    pub fn set(&mut self, params: CoalesceParams, now: Picos) {
        self.params = params;
        if self.held > 0 {
            self.deadline = Some(now);
        }
    }

    /// `used` buffers were used and the driver wants to hear about it: whether to
    /// notify now (otherwise the notification is held).
    pub fn on_used(&mut self, used: u32, now: Picos) -> bool {
        if self.params.usecs == 0 {
            return true;
        }
        self.held = self.held.saturating_add(used);
        if self.params.max_packets > 0 && self.held >= self.params.max_packets {
            self.held = 0;
            self.deadline = None;
            return true;
        }
        let limit = Picos::from_us(u64::from(self.params.usecs));
        self.deadline
            .get_or_insert(Picos(now.as_ps().saturating_add(limit.as_ps())));
        false
    }

    pub fn deadline(&self) -> Option<Picos> {
        self.deadline
    }

    /// Whether the held notification is due at `now` (it is then released).
    pub fn due(&mut self, now: Picos) -> bool {
        if self.deadline.is_some_and(|d| d <= now) {
            self.held = 0;
            self.deadline = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_until_packets_or_time_whichever_first() {
        let t0 = Picos::from_us(5);
        let us = |n| t0 + Picos::from_us(n);
        let mut c = Coalescer::default();
        assert!(c.on_used(1, t0), "no coalescing after reset");
        c.set(
            CoalesceParams {
                max_packets: 3,
                usecs: 100,
            },
            t0,
        );
        assert!(!c.on_used(1, t0));
        assert!(!c.on_used(1, us(10)));
        assert_eq!(
            c.deadline(),
            Some(us(100)),
            "timed from the first held buffer"
        );
        assert!(c.on_used(1, us(20)), "third buffer: max_packets reached");
        assert_eq!(c.deadline(), None);
        assert!(!c.on_used(1, us(30)));
        assert!(!c.due(us(129)));
        assert!(c.due(us(130)), "usecs after the first held buffer");
        assert!(!c.due(us(500)), "released once");
    }

    #[test]
    fn parses_the_control_command() {
        let b = [3, 0, 0, 0, 100, 0, 0, 0];
        assert_eq!(
            CoalesceParams::parse(&b),
            Ok(CoalesceParams {
                max_packets: 3,
                usecs: 100
            })
        );
        assert!(CoalesceParams::parse(&b[..7]).is_err());
    }
}
