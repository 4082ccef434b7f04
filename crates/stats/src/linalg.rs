//! Solving the small symmetric systems of the k-group tests (k − 1 unknowns).

/// Solves `a · x = b` by Gaussian elimination with partial pivoting (what
/// LAPACK's `dgesv` behind R's `solve` does). `a` is row-major, n × n.
/// Returns `None` when the matrix is singular to working precision.
pub fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    debug_assert_eq!(a.len(), n * n);
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return None;
    }
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() <= scale * 1e-13 {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..n {
            let factor = a[row * n + col] / a[col * n + col];
            for k in col..n {
                a[row * n + k] -= factor * a[col * n + k];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row * n + k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row * n + row];
    }
    Some(x)
}

/// The quadratic form `uᵀ a⁻¹ u`, or `None` for a singular `a`.
pub fn quadratic_form_inverse(a: Vec<f64>, u: &[f64]) -> Option<f64> {
    let x = solve(a, u.to_vec())?;
    Some(x.iter().zip(u).map(|(x, u)| x * u).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_pivoting_system() {
        let x = solve(vec![0.0, 2.0, 1.0, 1.0], vec![4.0, 3.0]).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-15 && (x[1] - 2.0).abs() < 1e-15);
    }

    #[test]
    fn a_singular_matrix_has_no_solution() {
        assert_eq!(solve(vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 1.0]), None);
    }
}
