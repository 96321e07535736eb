//! Interrupt moderation as the 82576's EITR throttle performs it.
//!
//! Each MSI-X vector has a counter. An interrupt cause that finds the counter at
//! zero is signalled at once and reloads the counter with the interval; causes that
//! arrive while it counts down are held. When it reaches zero a held cause is
//! signalled (reloading the counter again); with nothing held the counter stays at
//! zero, so the next cause after a quiet spell goes out immediately. A steady
//! stream therefore yields exactly one interrupt per interval.
//!
//! The state machine owns no timer: it tells the caller when to call
//! [`Moderation::on_timer`], which the device schedules on its event queue.

use super::time::Picos;

/// EITR bits 14:2: the minimum inter-interrupt interval, in 1 us units on the
/// 82576 (igb writes `usecs << 2` and masks with 0x7FFC).
pub const EITR_INTERVAL_MASK: u32 = 0x7FFC;
const EITR_INTERVAL_SHIFT: u32 = 2;

/// The minimum inter-interrupt interval an EITR value programs; zero disables
/// moderation.
pub fn eitr_interval(eitr: u32) -> Picos {
    Picos::from_us(u64::from(
        (eitr & EITR_INTERVAL_MASK) >> EITR_INTERVAL_SHIFT,
    ))
}

/// What the caller must do after feeding the state machine an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Send the MSI-X message now.
    pub fire: bool,
    /// Call [`Moderation::on_timer`] at this time.
    pub arm: Option<Picos>,
}

impl Step {
    const NOTHING: Step = Step {
        fire: false,
        arm: None,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    /// At zero: the next cause fires immediately.
    Idle,
    /// Counting down until `expires`; `held` if a cause is waiting for it.
    Running { expires: Picos, held: bool },
}

/// One vector's throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moderation {
    interval: Picos,
    counter: Counter,
}

impl Moderation {
    pub fn new(interval: Picos) -> Moderation {
        Moderation {
            interval,
            counter: Counter::Idle,
        }
    }

    pub fn from_eitr(eitr: u32) -> Moderation {
        Moderation::new(eitr_interval(eitr))
    }

    pub fn interval(&self) -> Picos {
        self.interval
    }

    /// A new interval takes effect at the next reload, as a write with
    /// EITR.CNT_IGNR set (which igb always uses on the 82576) leaves the running
    /// counter alone.
    pub fn set_interval(&mut self, interval: Picos) {
        self.interval = interval;
    }

    /// An interrupt cause was raised at `now`.
    pub fn on_cause(&mut self, now: Picos) -> Step {
        match self.counter {
            Counter::Idle => self.fire(now),
            Counter::Running { expires, .. } => {
                self.counter = Counter::Running {
                    expires,
                    held: true,
                };
                Step::NOTHING
            }
        }
    }

    /// The timer armed by an earlier [`Step`] went off at `now`. Timers that are no
    /// longer current (the counter was reloaded since) are ignored.
    pub fn on_timer(&mut self, now: Picos) -> Step {
        match self.counter {
            Counter::Running { expires, held } if now >= expires => {
                if held {
                    self.fire(now)
                } else {
                    self.counter = Counter::Idle;
                    Step::NOTHING
                }
            }
            _ => Step::NOTHING,
        }
    }

    fn fire(&mut self, now: Picos) -> Step {
        if self.interval == Picos::ZERO {
            self.counter = Counter::Idle;
            return Step {
                fire: true,
                arm: None,
            };
        }
        let expires = now + self.interval;
        self.counter = Counter::Running {
            expires,
            held: false,
        };
        Step {
            fire: true,
            arm: Some(expires),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eitr_units_match_what_igb_writes() {
        // igb: ethtool rx-usecs N is stored as N << 2; IGB_20K_ITR = 196 is 49 us.
        assert_eq!(eitr_interval(50 << 2), Picos::from_us(50));
        assert_eq!(eitr_interval(196), Picos::from_us(49));
        // CNT_IGNR and the counter fields are not part of the interval.
        assert_eq!(
            eitr_interval(0x8000_0000 | (125 << 2) | 3),
            Picos::from_us(125)
        );
        assert_eq!(eitr_interval(u32::MAX), Picos::from_us(0x1FFF));
        assert_eq!(eitr_interval(0), Picos::ZERO);
    }

    #[test]
    fn first_cause_fires_then_holds_until_expiry() {
        let mut m = Moderation::new(Picos::from_us(10));
        let s = m.on_cause(Picos::ZERO);
        assert_eq!(
            s,
            Step {
                fire: true,
                arm: Some(Picos::from_us(10))
            }
        );
        assert_eq!(m.on_cause(Picos::from_us(1)), Step::NOTHING);
        let s = m.on_timer(Picos::from_us(10));
        assert_eq!(
            s,
            Step {
                fire: true,
                arm: Some(Picos::from_us(20))
            }
        );
        // Quiet interval: the counter stops at zero and the next cause is immediate.
        assert_eq!(m.on_timer(Picos::from_us(20)), Step::NOTHING);
        let s = m.on_cause(Picos::from_us(35));
        assert_eq!(
            s,
            Step {
                fire: true,
                arm: Some(Picos::from_us(45))
            }
        );
    }

    #[test]
    fn stale_timer_is_ignored_and_zero_interval_never_holds() {
        let mut m = Moderation::new(Picos::from_us(10));
        m.on_cause(Picos::ZERO);
        m.on_cause(Picos::from_us(1));
        assert_eq!(m.on_timer(Picos::from_us(5)), Step::NOTHING);
        let mut off = Moderation::from_eitr(0);
        for t in 0..3 {
            assert_eq!(
                off.on_cause(Picos(t)),
                Step {
                    fire: true,
                    arm: None
                }
            );
        }
        assert_eq!(off.on_timer(Picos(9)), Step::NOTHING);
    }
}
