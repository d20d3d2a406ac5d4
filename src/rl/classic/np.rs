//! Just enough of NumPy 2's scalar typing (NEP 50) to reproduce Gymnasium bit for bit where
//! it mixes float32 and float64: a Python float is "weak" and takes the other operand's
//! type; float32 with float32 computes in float32; anything with float64 computes in f64.
use std::ops::{Add, Mul, Sub};

/// The type a value has in the Python code being reproduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A Python `float` (weak, f64 arithmetic).
    Py,
    F32,
    F64,
}

/// A scalar with its NumPy type; `v` holds the exact value (f32 values are exact in f64).
#[derive(Clone, Copy, Debug)]
pub struct Np {
    pub v: f64,
    pub kind: Kind,
}

impl Np {
    pub fn py(v: f64) -> Np {
        Np { v, kind: Kind::Py }
    }
    pub fn f64(v: f64) -> Np {
        Np { v, kind: Kind::F64 }
    }
    pub fn f32(v: f64) -> Np {
        Np {
            v: v as f32 as f64,
            kind: Kind::F32,
        }
    }

    /// `np.float32(v)` in Gymnasium precision, `np.float64(v)` otherwise.
    pub fn typed(v: f64, f32: bool) -> Np {
        if f32 {
            Np::f32(v)
        } else {
            Np::f64(v)
        }
    }

    fn joint(a: Kind, b: Kind) -> Kind {
        match (a, b) {
            (Kind::F64, _) | (_, Kind::F64) => Kind::F64,
            (Kind::F32, _) | (_, Kind::F32) => Kind::F32,
            _ => Kind::Py,
        }
    }

    fn op(self, o: Np, f: fn(f64, f64) -> f64, g: fn(f32, f32) -> f32) -> Np {
        match Np::joint(self.kind, o.kind) {
            Kind::F32 => Np {
                v: g(self.v as f32, o.v as f32) as f64,
                kind: Kind::F32,
            },
            kind => Np {
                v: f(self.v, o.v),
                kind,
            },
        }
    }

    /// Compare in the joint type (a Python float is cast to float32 against a float32).
    fn cmp(self, o: Np) -> Option<std::cmp::Ordering> {
        match Np::joint(self.kind, o.kind) {
            Kind::F32 => (self.v as f32).partial_cmp(&(o.v as f32)),
            _ => self.v.partial_cmp(&o.v),
        }
    }
    pub fn gt(self, o: Np) -> bool {
        self.cmp(o) == Some(std::cmp::Ordering::Greater)
    }
    pub fn lt(self, o: Np) -> bool {
        self.cmp(o) == Some(std::cmp::Ordering::Less)
    }
    pub fn ge(self, o: Np) -> bool {
        matches!(
            self.cmp(o),
            Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
        )
    }
    pub fn equals(self, o: Np) -> bool {
        self.cmp(o) == Some(std::cmp::Ordering::Equal)
    }

    /// `x ** 2` as NumPy computes a scalar power: C `powf` for a float32, `pow` otherwise.
    pub fn pow2(self) -> Np {
        match self.kind {
            Kind::F32 => Np {
                v: (self.v as f32).powf(std::hint::black_box(2.0)) as f64,
                kind: Kind::F32,
            },
            kind => Np {
                v: pow2(self.v),
                kind,
            },
        }
    }
}

/// Python's `x ** 2` for a float (and NumPy's for a float64 scalar): C `pow(x, 2.0)`, which
/// glibc does not always round correctly, so it can differ from `x * x` in the last bit.
/// The exponent is hidden from the optimiser, which would otherwise rewrite `pow(x, 2)` as
/// `x * x`.
pub fn pow2(x: f64) -> f64 {
    x.powf(std::hint::black_box(2.0))
}

impl Add for Np {
    type Output = Np;
    fn add(self, o: Np) -> Np {
        self.op(o, |a, b| a + b, |a, b| a + b)
    }
}
impl Sub for Np {
    type Output = Np;
    fn sub(self, o: Np) -> Np {
        self.op(o, |a, b| a - b, |a, b| a - b)
    }
}
impl Mul for Np {
    type Output = Np;
    fn mul(self, o: Np) -> Np {
        self.op(o, |a, b| a * b, |a, b| a * b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_python_floats_take_the_numpy_type() {
        let x = Np::f32(0.1) + Np::py(1e-10);
        assert_eq!(x.kind, Kind::F32);
        assert_eq!(x.v, 0.1f32 as f64);
        assert_eq!((Np::f32(0.1) + Np::f64(0.2)).kind, Kind::F64);
        // np.float32(0.45) >= 0.45 is True, while float64 would say False.
        assert!(Np::f32(0.45).ge(Np::py(0.45)));
        assert!(!Np::f64(0.45f32 as f64).ge(Np::py(0.45)));
    }

    /// Squares where glibc's pow is not correctly rounded (Python 3.11 + NumPy 2.4 on glibc:
    /// `np.float64(x) ** 2 == math.pow(x, 2) != x * x`); `pow2` must keep pow's answer.
    #[test]
    fn pow2_is_c_pow_not_a_product() {
        let cases = [
            (-2.8239505176090614, 7.974696525904486, 7.974696525904485),
            (-4.298558902971006, 18.4776086423113, 18.477608642311303),
            (4.309727835887987, 18.573754019427753, 18.57375401942775),
        ];
        for (x, python, product) in cases {
            assert_eq!(x * x, product);
            assert_eq!(pow2(x), python, "pow({x}, 2)");
            assert_eq!(Np::f64(x).pow2().v, python);
        }
    }
}
