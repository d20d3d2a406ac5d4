//! NumPy's `np.random.default_rng(seed)`, which Gymnasium's `seeding.np_random(seed)` returns,
//! reproduced bit for bit (issue 14 item 4): a [`SeedSequence`] turns the seed into 256 bits,
//! [`Pcg64`] (NumPy's default bit generator: 128-bit LCG, XSL-RR output) draws from them and
//! [`NpRng`] is the `Generator` on top (`random`, `uniform`, `standard_normal`). Checked against
//! NumPy 2.4 draws in tests/it/np_random.rs (fixtures from scripts/gen_gym_resets.py).
//!
//! Reading order: SeedSequence (entropy → pool → state words), Pcg64 (seeding, step, output),
//! NpRng (the distributions), NpRngState (checkpoints).
use super::np_ziggurat::{FI, KI, WI};
use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};

// SeedSequence's hash constants (NumPy `bit_generator.pyx`, after M. E. O'Neill's seed_seq).
const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;
const POOL_SIZE: usize = 4;

/// `np.random.SeedSequence(entropy)` without spawn keys: the entropy pool after mixing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedSequence {
    pool: [u32; POOL_SIZE],
}

/// The hash that feeds words into the pool; `hash_const` advances with every call.
fn hashmix(value: u32, hash_const: &mut u32) -> u32 {
    let mut v = value ^ *hash_const;
    *hash_const = hash_const.wrapping_mul(MULT_A);
    v = v.wrapping_mul(*hash_const);
    v ^ (v >> XSHIFT)
}

fn mix(x: u32, y: u32) -> u32 {
    let r = MIX_MULT_L
        .wrapping_mul(x)
        .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
    r ^ (r >> XSHIFT)
}

impl SeedSequence {
    /// From the entropy's 32-bit words, least significant first, as NumPy splits a Python
    /// int (0 is one zero word; an empty slice means the same).
    pub fn new(entropy: &[u32]) -> Self {
        let entropy = if entropy.is_empty() {
            &[0][..]
        } else {
            entropy
        };
        let mut hash_const = INIT_A;
        let mut pool = [0u32; POOL_SIZE];
        for (i, p) in pool.iter_mut().enumerate() {
            *p = hashmix(entropy.get(i).copied().unwrap_or(0), &mut hash_const);
        }
        for src in 0..POOL_SIZE {
            for dst in 0..POOL_SIZE {
                if src != dst {
                    let h = hashmix(pool[src], &mut hash_const);
                    pool[dst] = mix(pool[dst], h);
                }
            }
        }
        for &word in entropy.iter().skip(POOL_SIZE) {
            for p in pool.iter_mut() {
                *p = mix(*p, hashmix(word, &mut hash_const));
            }
        }
        SeedSequence { pool }
    }

    /// `SeedSequence(n)` for a non-negative integer `n`.
    pub fn from_u128(n: u128) -> Self {
        let mut words = Vec::with_capacity(4);
        let mut rest = n;
        loop {
            words.push(rest as u32);
            rest >>= 32;
            if rest == 0 {
                break;
            }
        }
        SeedSequence::new(&words)
    }

    /// `generate_state(n, np.uint64)`: pairs of 32-bit words, low word first.
    pub fn generate_state_u64(&self, n: usize) -> Vec<u64> {
        let mut hash_const = INIT_B;
        let mut words = self.pool.iter().cycle().map(|&p| {
            let mut v = p ^ hash_const;
            hash_const = hash_const.wrapping_mul(MULT_B);
            v = v.wrapping_mul(hash_const);
            v ^ (v >> XSHIFT)
        });
        (0..n)
            .map(|_| {
                let lo = words.next().unwrap_or(0) as u64;
                let hi = words.next().unwrap_or(0) as u64;
                lo | (hi << 32)
            })
            .collect()
    }
}

/// PCG's default 128-bit LCG multiplier.
const PCG_MULT: u128 = (2_549_297_995_355_413_924 << 64) | 4_865_540_595_714_422_341;

/// `np.random.PCG64`: a 128-bit LCG with an odd increment and the XSL-RR output function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pcg64 {
    pub state: u128,
    pub inc: u128,
}

impl Pcg64 {
    /// Seeded as NumPy does: four u64 words from the SeedSequence give the initial state
    /// (words 0, 1) and the stream (words 2, 3), each high word first.
    pub fn from_seed_sequence(seq: &SeedSequence) -> Self {
        let w = seq.generate_state_u64(4);
        let init_state = ((w[0] as u128) << 64) | w[1] as u128;
        let init_seq = ((w[2] as u128) << 64) | w[3] as u128;
        let mut rng = Pcg64 {
            state: 0,
            inc: (init_seq << 1) | 1,
        };
        rng.step();
        rng.state = rng.state.wrapping_add(init_state);
        rng.step();
        rng
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    /// Advance, then output the new state (XOR of its halves rotated by its top 6 bits).
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let folded = ((self.state >> 64) as u64) ^ (self.state as u64);
        folded.rotate_right((self.state >> 122) as u32)
    }
}

/// `ziggurat_nor_r` (3.6541528853610087963519472518): where the tail of the 256-layer normal
/// ziggurat starts, and its inverse (the same doubles, shortest digits).
const ZIGGURAT_NOR_R: f64 = 3.654_152_885_361_009;
const ZIGGURAT_NOR_INV_R: f64 = 0.273_661_237_329_758_3;

/// NumPy's `Generator` over PCG64: what `self.np_random` is in a Gymnasium env.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpRng {
    bits: Pcg64,
}

impl NpRng {
    /// `np.random.default_rng(seed)` (= Gymnasium's `seeding.np_random(seed)`).
    pub fn from_seed(seed: u64) -> Self {
        NpRng::from_entropy_int(seed as u128)
    }

    /// `default_rng(n)` for any integer below 2^128.
    pub fn from_entropy_int(n: u128) -> Self {
        NpRng {
            bits: Pcg64::from_seed_sequence(&SeedSequence::from_u128(n)),
        }
    }

    /// `default_rng(None)`: 128 bits of OS entropy, as NumPy's SeedSequence takes them.
    pub fn from_os_entropy() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        NpRng::from_entropy_int(u128::from_le_bytes(bytes))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.bits.next_u64()
    }

    /// `random()`: the top 53 bits as a double in [0, 1).
    pub fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `uniform(low, high)`: `low + (high − low)·random()`, in that operation order.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let range = high - low;
        low + range * self.random()
    }

    /// `uniform(low, high, size=n)`: n draws in order.
    pub fn uniform_n(&mut self, low: f64, high: f64, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.uniform(low, high)).collect()
    }

    /// `standard_normal()`: NumPy's 256-layer ziggurat on one 64-bit draw (8 bits layer,
    /// 1 bit sign, 52 bits magnitude), with its wedge and tail fallbacks.
    pub fn standard_normal(&mut self) -> f64 {
        loop {
            let r = self.next_u64();
            let idx = (r & 0xff) as usize;
            let r = r >> 8;
            let negative = r & 1 == 1;
            let rabs = (r >> 1) & 0x000f_ffff_ffff_ffff;
            let x = rabs as f64 * WI[idx];
            let x = if negative { -x } else { x };
            if rabs < KI[idx] {
                return x; // inside the layer's rectangle (~99 %)
            }
            if idx == 0 {
                return self.normal_tail(rabs);
            }
            // The wedge between the rectangle and the density.
            let y = (FI[idx - 1] - FI[idx]) * self.random() + FI[idx];
            if y < (-0.5 * x * x).exp() {
                return x;
            }
        }
    }

    /// Marsaglia's tail beyond `r`; the sign comes from bit 8 of the rejected magnitude.
    fn normal_tail(&mut self, rabs: u64) -> f64 {
        loop {
            let xx = -ZIGGURAT_NOR_INV_R * (-self.random()).ln_1p();
            let yy = -(-self.random()).ln_1p();
            if yy + yy > xx * xx {
                return if (rabs >> 8) & 1 == 1 {
                    -(ZIGGURAT_NOR_R + xx)
                } else {
                    ZIGGURAT_NOR_R + xx
                };
            }
        }
    }

    /// `normal(loc, scale)`: `loc + scale·standard_normal()`.
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.standard_normal()
    }

    pub fn save(&self) -> NpRngState {
        NpRngState {
            state: self.bits.state.to_string(),
            inc: self.bits.inc.to_string(),
        }
    }
}

/// A generator's full state for checkpoints: PCG64's `state` and `inc` as decimal strings
/// (u128 does not fit a JSON number), as NumPy's `bit_generator.state["state"]` holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpRngState {
    pub state: String,
    pub inc: String,
}

impl NpRngState {
    pub fn restore(&self) -> Result<NpRng> {
        let parse = |name: &str, text: &str| -> Result<u128> {
            text.parse()
                .map_err(|e| anyhow!("bad PCG64 {name} `{text}` in saved RNG state: {e}"))
        };
        let inc = parse("inc", &self.inc)?;
        anyhow::ensure!(inc & 1 == 1, "bad PCG64 inc `{}`: must be odd", self.inc);
        Ok(NpRng {
            bits: Pcg64 {
                state: parse("state", &self.state)?,
                inc,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_continues_the_stream_and_rejects_bad_states() {
        let mut a = NpRng::from_seed(3);
        a.random();
        let mut b = a.save().restore().expect("restore");
        assert_eq!(a.next_u64(), b.next_u64());
        let even = NpRngState {
            state: "1".into(),
            inc: "2".into(),
        };
        assert!(even.restore().is_err());
        let junk = NpRngState {
            state: "x".into(),
            inc: "1".into(),
        };
        let e = junk.restore().expect_err("junk").to_string();
        assert!(e.contains("state `x`"), "{e}");
    }

    #[test]
    fn os_entropy_gives_different_streams() {
        let (mut a, mut b) = (NpRng::from_os_entropy(), NpRng::from_os_entropy());
        assert_ne!(a.next_u64(), b.next_u64());
    }
}
