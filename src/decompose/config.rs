//! Typed config of `lab decompose` (defaults in configs/decompose/default.yaml).
use super::checks;
use crate::config::{Checker, Validate};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DecomposeConfig {
    pub seed: u64,
    pub matrix: MatrixSpec,
    pub subspace: SubspaceSpec,
    pub solver: SolverConfig,
    pub output: OutputConfig,
    /// `plain` decomposes `matrix` w.r.t. `subspace`; `finance` ignores both (spec §5).
    pub mode: Mode,
    /// Resource checks made before the run starts.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// The memory check: a run whose estimated peak memory exceeds the budget is refused (exit 2)
/// before its run directory exists.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Refuse a run whose estimate exceeds the budget; false runs it anyway.
    pub memory_check: bool,
    /// The budget in GB (10^9 bytes); 0 = the memory available (MemAvailable, capped by a
    /// cgroup limit when one is set).
    pub max_memory_gb: f64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            memory_check: true,
            max_memory_gb: 0.0,
        }
    }
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Mode {
    Plain {},
    Finance(FinanceConfig),
}

/// Exponential utility in the mixed fBM market of spec §5.4.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct FinanceConfig {
    /// Information structures to solve.
    pub structures: Vec<InfoStructure>,
    /// Trading periods N (n = 2N observations).
    pub periods: usize,
    /// Hurst indices; more than one gives a sweep (Figure 1).
    pub hurst: Vec<f64>,
    /// Weight α of the fBM component.
    pub alpha: f64,
    /// `code`: the reference code's α (α_std = α·2^{−H}, its published curves); `standard`.
    pub alpha_convention: AlphaConvention,
    /// Absolute risk aversion α_r (CE scales by 1/α_r).
    pub risk_aversion: f64,
    /// Warm-start each Markovian solve from the previous H's solution (reference does).
    pub warm_start: bool,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum InfoStructure {
    Sum,
    Markovian,
    Full,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum AlphaConvention {
    Code,
    Standard,
}

/// Where A comes from.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MatrixSpec {
    /// Q diag(λ) Qᵀ with Haar-random Q and eigenvalues log-spaced from 1 to `condition`.
    RandomSpd { n: usize, condition: f64 },
    /// A = G Gᵀ / scale + shift·I, G standard normal n×n (spec §6.1 Ex. I/II: scale 1, shift 2n).
    Wishart { n: usize, scale: f64, shift: f64 },
    /// Standard normal entries on |i − j| ≤ bandwidth (mirrored) plus `shift` on the diagonal
    /// (spec §6.1 Ex. IV: bandwidth 2, shift 8(b + 1) = 24).
    Banded {
        n: usize,
        bandwidth: usize,
        shift: f64,
    },
    /// Block-constant A (spec §6.1 Ex. III): per-block diagonal, one within-block off-diagonal
    /// value and one cross-block value.
    BlockExchangeable {
        sizes: Vec<usize>,
        diagonal: Vec<f64>,
        within: f64,
        cross: f64,
    },
    /// Cov(X₁, Y₁, …, X_N, Y_N) of the mixed fractional Brownian motion market (spec §5.4):
    /// 2·periods × 2·periods, `alpha` in the standard parametrization.
    MixedFbm {
        periods: usize,
        hurst: f64,
        alpha: f64,
    },
    /// A dense matrix from a `.npy` (float64) or `.csv` (no header) file.
    File { path: PathBuf },
}

/// The subspace L that C must lie in (spec §1.3).
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SubspaceSpec {
    /// Coordinate pattern: each off-diagonal pair {i, j} is in Ω with probability `density`.
    RandomPattern { density: f64 },
    /// Coordinate pattern Ω given as index pairs (0-based): C may be non-zero only there.
    Pattern(PatternSpec),
    /// The off-diagonal support allowed for B (0-based pairs); Ω is every other off-diagonal pair.
    ComplementPattern(PatternSpec),
    /// L = zero-diagonal matrices (L^⊥ = diagonal). (Fieldless kinds are written `{}` so that
    /// `deny_unknown_fields` refuses a stray key under them too; serde ignores one on a unit
    /// variant of an internally tagged enum.)
    Offdiag {},
    /// L = matrices vanishing on |i − j| ≤ bandwidth (L^⊥ = banded).
    BandComplement { bandwidth: usize },
    /// L = the off-diagonal band 1 ≤ |i − j| ≤ bandwidth.
    BandOffdiag { bandwidth: usize },
    /// L = entries outside the diagonal blocks of the partition (L^⊥ = block-diagonal).
    BlockOffdiag { sizes: Vec<usize> },
    /// L = {tr C = 0} (L^⊥ = span{I}).
    TraceZero {},
    /// `dim` random dense trace-free symmetric matrices (then I ∈ L^⊥).
    RandomTraceFree { dim: usize },
    /// Explicit basis D₁..D_m of L: a float64 `.npy` of shape (m, n, n).
    BasisFile { path: PathBuf },
    /// Explicit basis E₁..E_p of L^⊥ (dual input): a float64 `.npy` of shape (p, n, n).
    PerpBasisFile { path: PathBuf },
    /// Block-exchangeable pattern (§3.8, Table 2 Ex. III): within-block off-diagonal entries
    /// of every block not in `within_excluded`, and all cross-block entries of block pairs not
    /// in `cross_excluded` (0-based block indices). Invariant under within-block permutations.
    BlockPattern {
        sizes: Vec<usize>,
        #[serde(default)]
        within_excluded: Vec<usize>,
        #[serde(default)]
        cross_excluded: Vec<[usize; 2]>,
    },
    /// L spanned by symmetric circulants (§1.3, §3.6): Z_k for each of `lags` (ones where
    /// i − j ≡ ±k mod n; lag 0 is I, which is PSD, so L is then degenerate) and each of
    /// `columns` (first columns c with c_k = c_(n−k)). Neither given: every lag 1..=n/2.
    Circulant {
        #[serde(default)]
        lags: Vec<usize>,
        #[serde(default)]
        columns: Vec<Vec<f64>>,
    },
}

/// The pairs of a `pattern` or `complement-pattern`: exactly one of the three is given
/// (docs/decompose.md, "Pattern files").
#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct PatternSpec {
    /// 0-based index pairs in the YAML.
    #[serde(default)]
    pub pairs: Option<Vec<[usize; 2]>>,
    /// Index pairs in a file: `.npy` of an integer dtype or header-less `.csv`, shape (m, 2).
    #[serde(default)]
    pub pairs_file: Option<PathBuf>,
    /// A symmetric bool or 0/1 `.npy` of shape (n, n) with a zero diagonal.
    #[serde(default)]
    pub mask_file: Option<PathBuf>,
}

impl PatternSpec {
    /// From YAML-style pairs.
    pub fn from_pairs(pairs: Vec<[usize; 2]>) -> PatternSpec {
        PatternSpec {
            pairs: Some(pairs),
            ..PatternSpec::default()
        }
    }
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SolverConfig {
    pub method: Method,
    pub max_iter: usize,
    pub tol_decrement: f64,
    pub tol_residual: f64,
    pub armijo: f64,
    pub backtrack: f64,
    pub max_backtracks: usize,
    /// `auto` uses the explicit Hessian up to this m (or p) (spec §2.4, reference 600).
    pub max_full_hessian: usize,
    /// CG iteration cap per Newton step (reference min(200, max(10, m)); this is the 200).
    pub cg_max_iter: usize,
    /// CG forcing term: `eisenstat-walker` η = min(0.5, √(‖g‖/‖g₀‖)) or `fixed` (= cg_tol).
    pub cg_forcing: Forcing,
    pub cg_tol: f64,
    /// Jacobi preconditioner diag(H) (closed form, spec §2.1).
    pub cg_jacobi: bool,
    /// Error (instead of warn and drop) when a basis is linearly dependent (spec §7.4).
    pub strict_basis: bool,
    /// Scale the dual start so that ⟨A, B⟩ = n (the optimal scale along the ray, since the
    /// optimum has tr(AB) = n, §1.4) [A]; false follows the reference (unscaled start).
    pub dual_start_scale: bool,
    /// Divergence test of §1.5 stage 5: ‖C‖_F > this · ‖A‖_F means L looks degenerate.
    pub divergence_factor: f64,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Auto,
    Newton,
    NewtonCg,
    DualNewton,
    DualNewtonCg,
    ClosedForm,
    BlockReduced,
    /// Fourier-diagonal Newton for circulant A and circulant L (§3.6).
    Circulant,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Forcing {
    EisenstatWalker,
    Fixed,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Write B.npy and C.npy into the run directory.
    pub save_matrices: bool,
    /// Also write B.csv and C.csv.
    pub csv: bool,
}

impl DecomposeConfig {
    /// The embedded default config (configs/decompose/default.yaml).
    pub fn embedded_default() -> DecomposeConfig {
        serde_yaml_ng::from_str(include_str!("../../configs/decompose/default.yaml"))
            .expect("the embedded default config parses")
    }
}

impl Validate for DecomposeConfig {
    fn validate(&self, c: &mut Checker) {
        checks::matrix(&self.matrix, c);
        if let Mode::Finance(f) = &self.mode {
            // Finance builds its own matrices and subspaces: a changed matrix or subspace
            // key would be ignored.
            let default = DecomposeConfig::embedded_default();
            let changed =
                crate::config::changed_keys("matrix", &self.matrix, Some(&default.matrix))
                    .into_iter()
                    .chain(crate::config::changed_keys(
                        "subspace",
                        &self.subspace,
                        Some(&default.subspace),
                    ));
            for key in changed {
                let why = "is not read in mode finance (it builds its own matrices and \
                           subspaces, spec §5)";
                c.relation(&key, &["mode.kind"], false, why);
            }
            checks::finance_unread(self, &default, c);
            c.at_least("mode.periods", f.periods, 2);
            checks::twice_fits("mode.periods", f.periods, c);
            c.check(
                "mode.hurst",
                !f.hurst.is_empty() && f.hurst.iter().all(|h| *h > 0.0 && *h < 1.0),
                "needs at least one value, each in (0, 1)",
            );
            c.check(
                "mode.structures",
                !f.structures.is_empty(),
                "needs at least one",
            );
            checks::no_repeats("mode.hurst", &f.hurst, c);
            checks::no_repeats("mode.structures", &f.structures, c);
            c.check(
                "mode.risk_aversion",
                (1e-100..=1e100).contains(&f.risk_aversion),
                format!(
                    "must be in [1e-100, 1e100] (the certainty equivalent divides by it), got {:e}",
                    f.risk_aversion
                ),
            );
            c.check(
                "mode.alpha",
                checks::alpha_ok(f.alpha),
                checks::alpha_range(f.alpha),
            );
        }
        if let SubspaceSpec::RandomPattern { density } = &self.subspace {
            c.check(
                "subspace.density",
                (0.0..=1.0).contains(density),
                format!("must be in [0, 1], got {density}"),
            );
        }
        match &self.subspace {
            SubspaceSpec::BlockOffdiag { sizes } => checks::sum_fits("subspace.sizes", sizes, c),
            SubspaceSpec::RandomTraceFree { dim } => {
                checks::trace_free_dim(*dim, super::memory::matrix_n(&self.matrix), c)
            }
            _ => {}
        }
        if let SubspaceSpec::Pattern(p) | SubspaceSpec::ComplementPattern(p) = &self.subspace {
            checks::pattern(p, c);
        }
        if let SubspaceSpec::BlockPattern {
            sizes,
            within_excluded,
            cross_excluded,
        } = &self.subspace
        {
            checks::block_pattern(sizes, within_excluded, cross_excluded, c);
        }
        let s = &self.solver;
        c.at_least("solver.max_iter", s.max_iter, 1);
        c.positive("solver.tol_decrement", s.tol_decrement);
        c.positive("solver.tol_residual", s.tol_residual);
        c.check(
            "solver.armijo",
            s.armijo > 0.0 && s.armijo < 0.5,
            "must be in (0, 0.5)",
        );
        c.in_open_unit("solver.backtrack", s.backtrack);
        c.at_least("solver.max_backtracks", s.max_backtracks, 1);
        c.at_least("solver.cg_max_iter", s.cg_max_iter, 1);
        c.in_open_unit("solver.cg_tol", s.cg_tol);
        c.check(
            "solver.divergence_factor",
            s.divergence_factor > 1.0,
            "must be > 1",
        );
        let gb = self.limits.max_memory_gb;
        c.check(
            "limits.max_memory_gb",
            gb.is_finite() && gb >= 0.0,
            format!("must be >= 0 (0 = the memory available), got {gb}"),
        );
        // Sizes are checked first: the estimate reads them (and files' headers).
        if c.problems.is_empty() {
            if let Some((key, msg)) = super::memory::refusal(self) {
                c.check(key, false, msg);
            }
        }
    }
}
