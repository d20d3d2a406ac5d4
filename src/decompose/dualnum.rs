//! Scalars for the banded recurrences: f64, and dual numbers v + ε·d (ε² = 0) that carry a
//! directional derivative through them (forward-mode differentiation, spec §3.6 [D]).
use std::ops::{Add, Div, Mul, Sub};

/// Scalars the recurrences run on: f64, or a dual number for directional derivatives.
pub trait Num:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    fn re(self) -> f64;
    fn sqrt(self) -> Self;
    fn zero() -> Self;
    fn one() -> Self;
}

impl Num for f64 {
    fn re(self) -> f64 {
        self
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
}

/// v + ε·d with ε² = 0.
#[derive(Clone, Copy, Debug)]
pub struct Dual(pub f64, pub f64);

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual(self.0 + o.0, self.1 + o.1)
    }
}
impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual(self.0 - o.0, self.1 - o.1)
    }
}
impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual(self.0 * o.0, self.0 * o.1 + self.1 * o.0)
    }
}
impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        Dual(self.0 / o.0, (self.1 * o.0 - self.0 * o.1) / (o.0 * o.0))
    }
}
impl Num for Dual {
    fn re(self) -> f64 {
        self.0
    }
    fn sqrt(self) -> Self {
        let s = self.0.sqrt();
        Dual(s, self.1 / (2.0 * s))
    }
    fn zero() -> Self {
        Dual(0.0, 0.0)
    }
    fn one() -> Self {
        Dual(1.0, 0.0)
    }
}
