//! Descriptive statistics of a sample as a statistician reads them in R:
//! `mean`, `sd` (n − 1), and `quantile(type = 7)` for median and IQR.

/// n, mean, SD, median, quartiles and range of a sample; `NaN` where the
/// sample is too small for the statistic (as R's `NA`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Sample size.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Standard deviation with n − 1.
    pub sd: f64,
    /// Median.
    pub median: f64,
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

/// R's `quantile(x, p, type = 7)` of sorted `x`.
fn quantile7(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

impl Summary {
    /// Summarises `values` (NaN values are not allowed; callers drop missing ones).
    pub fn of(values: &[f64]) -> Summary {
        let n = values.len();
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mean = if n == 0 {
            f64::NAN
        } else {
            values.iter().sum::<f64>() / n as f64
        };
        let sd = if n < 2 {
            f64::NAN
        } else {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        Summary {
            n,
            mean,
            sd,
            median: quantile7(&sorted, 0.5),
            q1: quantile7(&sorted, 0.25),
            q3: quantile7(&sorted, 0.75),
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
        }
    }

    /// Two-sided t interval for the mean at `conf_level`.
    pub fn mean_interval(&self, conf_level: f64) -> (f64, f64) {
        if self.n < 2 {
            return (f64::NAN, f64::NAN);
        }
        use statrs::distribution::{ContinuousCDF, StudentsT};
        let t = StudentsT::new(0.0, 1.0, (self.n - 1) as f64)
            .map(|d| d.inverse_cdf(1.0 - (1.0 - conf_level) / 2.0))
            .unwrap_or(f64::NAN);
        let half = t * self.sd / (self.n as f64).sqrt();
        (self.mean - half, self.mean + half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_r_for_a_small_sample() {
        // R: x <- c(3, 1, 4, 1, 5); mean 2.8, sd 1.788854, quantile(x) 1 1 3 4 5
        let s = Summary::of(&[3.0, 1.0, 4.0, 1.0, 5.0]);
        assert_eq!((s.n, s.mean, s.median, s.q1, s.q3), (5, 2.8, 3.0, 1.0, 4.0));
        assert!((s.sd - 1.788_854_381_999_831_8).abs() < 1e-12);
        // R: t.test(x)$conf.int  0.5788439158 5.0211560842
        let (lo, hi) = s.mean_interval(0.95);
        assert!(
            (lo - 0.578_843_915_8).abs() < 1e-9 && (hi - 5.021_156_084_2).abs() < 1e-9,
            "{lo} {hi}"
        );
    }

    #[test]
    fn an_even_sample_interpolates_its_median() {
        let s = Summary::of(&[0.0, 0.0, 4.0, 7.0]);
        assert_eq!((s.median, s.q1, s.q3), (2.0, 0.0, 4.75));
        assert!(Summary::of(&[]).mean.is_nan());
    }
}
