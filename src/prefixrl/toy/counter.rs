//! Toy-2 (T5, spec §4.2): consistency needs realizability. `b = 2`, `H = 2`, `C = {(1,0)}`, and
//! one parameter θ shared by both states: `π(a=1|s) = σ(θ)` everywhere. Then
//! `J = σ(1−σ)` (max ¼ at σ = ½) while the prefixed term with prefix `(1)` is `1−σ`, so
//! `L_½ ∝ J + J_pre = 1 − σ²` pushes σ → 0, where `J → 0`: the mixture trades `J` away.
//! `J` and `J_pre` are computed by enumerating the four leaves, not from the closed forms.

/// `σ(θ)`.
pub fn sigmoid(theta: f64) -> f64 {
    1.0 / (1.0 + (-theta).exp())
}

/// The correct set `C = {(1, 0)}`.
fn correct(leaf: [usize; 2]) -> bool {
    leaf == [1, 0]
}

/// `π(a|s)` under the shared parameter.
fn pi(theta: f64, a: usize) -> f64 {
    let s = sigmoid(theta);
    if a == 1 {
        s
    } else {
        1.0 - s
    }
}

/// `J(θ) = Σ_{leaves ∈ C} π(a₁)·π(a₂)`.
pub fn j(theta: f64) -> f64 {
    let mut total = 0.0;
    for a1 in 0..2 {
        for a2 in 0..2 {
            if correct([a1, a2]) {
                total += pi(theta, a1) * pi(theta, a2);
            }
        }
    }
    total
}

/// `J_pre(θ)`: success probability from the prefix `(1)` (the stored trace's first action).
pub fn j_pre(theta: f64) -> f64 {
    (0..2)
        .filter(|&a2| correct([1, a2]))
        .map(|a2| pi(theta, a2))
        .sum()
}

/// `L_α = α·J_pre + (1−α)·J`.
pub fn l_alpha(theta: f64, alpha: f64) -> f64 {
    alpha * j_pre(theta) + (1.0 - alpha) * j(theta)
}

/// T5's grid search over θ ∈ [−10, 10] (step 0.01).
pub struct GridResult {
    /// The θ maximizing `L_½` and `J` there.
    pub theta_l: f64,
    pub j_at_argmax_l: f64,
    /// The best `J` on the grid (¼ at θ = 0) and its θ.
    pub theta_j: f64,
    pub j_max: f64,
}

pub fn grid_search() -> GridResult {
    let grid: Vec<f64> = (-1000..=1000).map(|i| f64::from(i) * 0.01).collect();
    let argmax = |f: &dyn Fn(f64) -> f64| {
        grid.iter()
            .cloned()
            .fold((f64::NAN, f64::NEG_INFINITY), |best, t| {
                let v = f(t);
                if v > best.1 {
                    (t, v)
                } else {
                    best
                }
            })
    };
    let (theta_l, _) = argmax(&|t| l_alpha(t, 0.5));
    let (theta_j, j_max) = argmax(&j);
    GridResult {
        theta_l,
        j_at_argmax_l: j(theta_l),
        theta_j,
        j_max,
    }
}
