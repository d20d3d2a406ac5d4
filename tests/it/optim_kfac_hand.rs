//! K-FAC's §6.9 test 21: one step of a 3→2 softmax regression computed by hand (factors,
//! π-split damping, dense inverses) equals `Kfac::step`. Model and batch: `kfac_fixture`.
use crate::common::zip_eq;
use crate::kfac_fixture::{groups, plain, Batch, Mlp};
use lab::optim::kfac::{FisherKind, Kfac, KfacConfig};
use lab::optim::stepper::Stepper;
use tch::Tensor;

/// Inverse of a small dense matrix by Gauss–Jordan with partial pivoting (test oracle).
fn inverse(m: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = r.clone();
            row.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
            row
        })
        .collect();
    for col in 0..n {
        let p = (col..n)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap();
        a.swap(col, p);
        let piv = a[col][col];
        a[col].iter_mut().for_each(|v| *v /= piv);
        for r in 0..n {
            if r != col {
                let f = a[r][col];
                let pivot_row = a[col].clone();
                zip_eq(&mut a[r], &pivot_row).for_each(|(v, p)| *v -= f * p);
            }
        }
    }
    a.into_iter().map(|r| r[n..].to_vec()).collect()
}

fn matmul(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
    a.iter()
        .map(|r| {
            (0..b[0].len())
                .map(|j| zip_eq(r, b).map(|(x, br)| x * br[j]).sum())
                .collect()
        })
        .collect()
}

#[test]
fn hand_computed_three_to_two_update() {
    // §6.9 test 21: W (2×3) + b, two examples, empirical Fisher, β 0.95, λ 1e-2 factored.
    let m = Mlp::new(3, 0, 2, 8);
    let (lr, lambda, beta) = (0.5, 1e-2, 0.95);
    let cfg = KfacConfig {
        lr,
        damping: lambda,
        fisher: FisherKind::Empirical,
        ..plain(KfacConfig::kfac())
    };
    let xs = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]];
    let ys = [1usize, 0];
    let vals = m.values();
    let (b0, w0) = (&vals[0].1, &vals[1].1); // l1.bias, l1.weight (row-major 2×3)
    let (mut grad, mut aa, mut gg) = (
        vec![vec![0.0; 4]; 2],
        vec![vec![0.0; 4]; 4],
        vec![vec![0.0; 2]; 2],
    );
    for (x, &y) in xs.iter().zip(&ys) {
        let a = [x[0], x[1], x[2], 1.0];
        let s: Vec<f64> = (0..2)
            .map(|o| (0..3).map(|i| w0[o * 3 + i] * x[i]).sum::<f64>() + b0[o])
            .collect();
        let z: f64 = s.iter().map(|v| v.exp()).sum();
        let e: Vec<f64> = (0..2)
            .map(|o| s[o].exp() / z - if o == y { 1.0 } else { 0.0 })
            .collect();
        for o in 0..2 {
            (0..4).for_each(|i| grad[o][i] += e[o] * a[i] / 2.0);
            (0..2).for_each(|p| gg[o][p] += (1.0 - beta) * e[o] * e[p] / 2.0);
        }
        for i in 0..4 {
            (0..4).for_each(|j| aa[i][j] += (1.0 - beta) * a[i] * a[j] / 2.0);
        }
    }
    (0..4).for_each(|i| aa[i][i] += beta);
    (0..2).for_each(|i| gg[i][i] += beta);
    let pi = (((0..4).map(|i| aa[i][i]).sum::<f64>() / 4.0)
        / ((0..2).map(|i| gg[i][i]).sum::<f64>() / 2.0))
        .sqrt();
    (0..4).for_each(|i| aa[i][i] += pi * lambda.sqrt());
    (0..2).for_each(|i| gg[i][i] += lambda.sqrt() / pi);
    let u = matmul(&matmul(&inverse(&gg), &grad), &inverse(&aa)); // (2, 4)
    let mut s = Kfac::new(groups(&m, 3, 2, 0.0), cfg).unwrap();
    let x = Tensor::from_slice(&xs.concat()).view([2, 3]);
    let y = Tensor::from_slice(&[1i64, 0]);
    s.step(&mut Batch { model: &m, x, y }).unwrap();
    let after = m.values();
    for o in 0..2 {
        assert!((after[0].1[o] - (b0[o] - lr * u[o][3])).abs() < 1e-10);
        for i in 0..3 {
            assert!((after[1].1[o * 3 + i] - (w0[o * 3 + i] - lr * u[o][i])).abs() < 1e-10);
        }
    }
}
