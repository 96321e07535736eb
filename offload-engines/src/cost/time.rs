//! Integer picoseconds and the device clock.
//!
//! Every modelled cost is an integer number of picoseconds: one bit at 10, 25 and
//! 100 Gb/s (100, 40, 10 ps), one 250 MHz cycle (4000 ps) and one 8b/10b symbol at
//! 2.5 GT/s (4000 ps) are all whole numbers, so the checks against first principles
//! are exact rather than within floating-point noise.

use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

const PS_PER_NS: u64 = 1_000;
const PS_PER_US: u64 = 1_000_000;
/// Picoseconds in one second.
pub const PS_PER_SEC: u64 = 1_000_000_000_000;

/// A span or instant of modelled time in picoseconds.
///
/// Arithmetic saturates instead of wrapping or panicking: `u64` picoseconds last
/// about 213 days of virtual time, and a guest-programmed value must never crash
/// the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Picos(pub u64);

impl Picos {
    pub const ZERO: Picos = Picos(0);
    pub const MAX: Picos = Picos(u64::MAX);

    pub const fn from_ns(ns: u64) -> Picos {
        Picos(ns.saturating_mul(PS_PER_NS))
    }

    pub const fn from_us(us: u64) -> Picos {
        Picos(us.saturating_mul(PS_PER_US))
    }

    pub const fn as_ps(self) -> u64 {
        self.0
    }

    /// For reports and plots only; the model itself never leaves integers.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / PS_PER_SEC as f64
    }

    pub const fn saturating_mul(self, n: u64) -> Picos {
        Picos(self.0.saturating_mul(n))
    }

    pub const fn max(self, other: Picos) -> Picos {
        if self.0 >= other.0 {
            self
        } else {
            other
        }
    }

    /// Time for `numerator / denominator` picoseconds, rounded up so that a
    /// modelled stage never finishes before its last bit has moved.
    pub(crate) fn ceil_ratio(numerator: u128, denominator: u128) -> Picos {
        let denominator = denominator.max(1);
        let ps = numerator.div_ceil(denominator);
        Picos(u64::try_from(ps).unwrap_or(u64::MAX))
    }
}

impl Add for Picos {
    type Output = Picos;
    fn add(self, rhs: Picos) -> Picos {
        Picos(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Picos {
    fn add_assign(&mut self, rhs: Picos) {
        *self = *self + rhs;
    }
}

impl Sub for Picos {
    type Output = Picos;
    fn sub(self, rhs: Picos) -> Picos {
        Picos(self.0.saturating_sub(rhs.0))
    }
}

impl Sum for Picos {
    fn sum<I: Iterator<Item = Picos>>(iter: I) -> Picos {
        iter.fold(Picos::ZERO, Add::add)
    }
}

/// The clock the device's engines run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceClock {
    pub hz: u64,
}

impl Default for DeviceClock {
    /// 250 MHz: the default named in the timing issue; a modelling choice, not an
    /// 82576 datasheet figure.
    fn default() -> Self {
        DeviceClock { hz: 250_000_000 }
    }
}

impl DeviceClock {
    /// Duration of `cycles` clock cycles, rounded up to whole picoseconds. A zero
    /// frequency is treated as 1 Hz rather than dividing by zero.
    pub fn cycles(self, cycles: u64) -> Picos {
        Picos::ceil_ratio(
            u128::from(cycles) * u128::from(PS_PER_SEC),
            u128::from(self.hz),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_clock_cycle_is_4_ns() {
        assert_eq!(DeviceClock::default().cycles(1), Picos::from_ns(4));
        assert_eq!(
            DeviceClock::default().cycles(250_000_000),
            Picos(PS_PER_SEC)
        );
    }

    #[test]
    fn odd_clock_rounds_up_and_zero_clock_does_not_panic() {
        assert_eq!(DeviceClock { hz: 3 }.cycles(1), Picos(333_333_333_334));
        assert_eq!(DeviceClock { hz: 0 }.cycles(1), Picos(PS_PER_SEC));
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Picos::MAX + Picos(1), Picos::MAX);
        assert_eq!(Picos(1) - Picos(2), Picos::ZERO);
        assert_eq!(Picos::MAX.saturating_mul(2), Picos::MAX);
        assert_eq!(Picos::ceil_ratio(u128::MAX, 1), Picos::MAX);
        assert_eq!(Picos::ceil_ratio(7, 0), Picos(7));
    }
}
