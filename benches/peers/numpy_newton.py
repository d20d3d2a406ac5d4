"""Peer solver (ours, issue 17 item 3): a plain NumPy/SciPy dense primal Newton for a coordinate
pattern, to hold `lab decompose` against. Spec 2.1/3.2: minimise -log det(A - C(x)) with
C(x) = sum_k x_k sym(e_i e_j^T), gradient g_k = 2 B_ij, Hessian (vectorised gather)
H = 2 (B[I,I] o B[J,J] + B[I,J] o B[J,I]), one Cholesky solve per step, Armijo backtracking that
keeps A - C(x) positive definite and accepts the damped step 1/(1 + lambda) when backtracking
reaches it (spec 3.3; near the optimum Armijo is otherwise lost to rounding in the objective).
Stops after the step that brings the relative KKT residual ||P_L(B)||_F / ||B||_F to <= tol
(the final Newton step is taken)."""
import numpy as np
from scipy.linalg import cho_factor, cho_solve, cholesky, solve_triangular


def newton(a, i, j, tol=1e-12, max_iter=100):
    """Returns (C, B, Newton steps) for the pattern pairs (i[k], j[k]), i != j."""
    n, x = a.shape[0], np.zeros(len(i))

    def factor(x):  # lower Cholesky factor of A - C(x), or None outside the domain
        m = a.copy()
        m[i, j] -= x
        m[j, i] -= x
        try:
            return cholesky(m, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return None

    f = factor(x)
    phi = -2 * np.log(np.diag(f)).sum()
    for step in range(max_iter + 1):
        linv = solve_triangular(f, np.eye(n), lower=True, check_finite=False)
        b = linv.T @ linv  # (n, n) = (A - C)^-1
        g = 2 * b[i, j]
        if np.sqrt(2 * (b[i, j] ** 2).sum()) <= tol * np.linalg.norm(b) or step == max_iter:
            break
        h = 2 * (b[np.ix_(i, i)] * b[np.ix_(j, j)] + b[np.ix_(i, j)] * b[np.ix_(j, i)])  # (m, m)
        d = -cho_solve(cho_factor(h, lower=True, check_finite=False), g, check_finite=False)
        t, slope = 1.0, g @ d
        t_damped = 1 / (1 + np.sqrt(-slope))  # always feasible and sufficient (spec 3.3)
        while True:
            ft = factor(x + t * d)
            if ft is not None:
                phit = -2 * np.log(np.diag(ft)).sum()
                if phit <= phi + 1e-4 * t * slope or t == t_damped:  # t_damped: Armijo lost
                    break  # to rounding in phi near the optimum
            t = max(0.5 * t, t_damped) if t > t_damped else 0.5 * t
            if t < 1e-18:
                raise RuntimeError("line search failed")
        x, f, phi = x + t * d, ft, phit
    c = np.zeros_like(a)
    c[i, j] = x
    c[j, i] = x
    return c, b, step
