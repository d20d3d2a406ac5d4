//! NumPy's arithmetic where the v5 tasks' rewards depend on it, so rewards agree with
//! Gymnasium's to the last bit: `np.sum` (pairwise, 8 accumulators), the float32 control
//! cost of a float32 action, and `np.linalg.norm` of a short vector (BLAS `ddot`, which
//! accumulates with fused multiply-adds on x86-64).
use crate::rl::env::Precision;

/// `np.sum` of a contiguous array (NumPy's `pairwise_sum`, starting from 0).
pub fn pairwise_sum<T>(a: &[T]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    let n = a.len();
    if n < 8 {
        return a.iter().fold(T::default(), |acc, &x| acc + x);
    }
    if n <= 128 {
        let mut r: [T; 8] = std::array::from_fn(|j| a[j]);
        let whole = n - n % 8;
        for block in a[8..whole].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(block) {
                *acc = *acc + x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res = res + x;
        }
        return res;
    }
    let half = n / 2;
    let half = half - half % 8;
    pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
}

/// `np.sum` of `f(0), …, f(n − 1)`, on the stack for the short arrays of a step (no allocation).
fn sum_mapped<T>(n: usize, f: impl Fn(usize) -> T) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    const STACK: usize = 128;
    if n > STACK {
        return pairwise_sum(&(0..n).map(f).collect::<Vec<T>>());
    }
    let mut buf = [T::default(); STACK];
    for (i, b) in buf[..n].iter_mut().enumerate() {
        *b = f(i);
    }
    pairwise_sum(&buf[..n])
}

/// `np.sum(np.square(v))` in f64.
pub fn sum_of_squares(v: &[f64]) -> f64 {
    sum_mapped(v.len(), |i| v[i] * v[i])
}

/// `weight * np.sum(np.square(action))`: with Gymnasium precision the action is float32, so
/// NumPy squares, sums and scales in float32 (the Python float weight is "weak", NEP 50).
pub fn control_cost(weight: f64, action: &[f64], precision: Precision) -> f64 {
    match precision {
        Precision::Gymnasium => {
            let sq = |i: usize| (action[i] as f32) * (action[i] as f32);
            ((weight as f32) * sum_mapped(action.len(), sq)) as f64
        }
        Precision::F64 => weight * sum_of_squares(action),
    }
}

/// `np.linalg.norm(v)` = `sqrt(v @ v)`; BLAS `ddot` on x86-64 accumulates `v[i]*v[i]` with
/// fused multiply-adds in order.
pub fn norm(v: &[f64]) -> f64 {
    let Some((first, rest)) = v.split_first() else {
        return 0.0;
    };
    rest.iter()
        .fold(first * first, |acc, x| x.mul_add(*x, acc))
        .sqrt()
}
