//! The log-rank test of k groups, as `survival::survdiff` (rho = 0).

use serde::Serialize;

use crate::groups::Groups;
use crate::linalg::quadratic_form_inverse;
use crate::tally::Tally;
use crate::{StatsError, chi_square_upper_tail};

/// Observed and expected events per group and the chi-square test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRank {
    /// Group labels, sorted.
    pub groups: Vec<String>,
    /// Observations per group.
    pub n: Vec<u64>,
    /// Observed events per group.
    pub observed: Vec<f64>,
    /// Expected events per group under equal hazards.
    pub expected: Vec<f64>,
    /// Covariance matrix of observed − expected, row-major k × k.
    pub variance: Vec<f64>,
    /// The chi-square statistic.
    pub chisq: f64,
    /// Degrees of freedom: groups with expected events, minus one.
    pub df: usize,
    /// Upper-tail p-value.
    pub p: f64,
}

impl LogRank {
    /// Compares the groups' survival; `labels[i]` is the group of
    /// observation `i`.
    pub fn test<S: AsRef<str>>(
        time: &[f64],
        event: &[bool],
        labels: &[S],
    ) -> Result<Self, StatsError> {
        if labels.len() != time.len() {
            return Err(StatsError::LengthMismatch {
                what: "times and groups",
                left: time.len(),
                right: labels.len(),
            });
        }
        Self::test_groups(time, event, Groups::new(labels))
    }

    /// As [`LogRank::test`], with the groups already formed.
    pub fn test_groups(time: &[f64], event: &[bool], groups: Groups) -> Result<Self, StatsError> {
        if groups.index.len() != time.len() {
            return Err(StatsError::LengthMismatch {
                what: "times and groups",
                left: time.len(),
                right: groups.index.len(),
            });
        }
        if groups.len() < 2 {
            return Err(StatsError::TooFewGroups {
                found: groups.len(),
            });
        }
        if groups.len() > crate::MAX_COMPARED_GROUPS {
            return Err(StatsError::TooManyGroups {
                found: groups.len(),
                max: crate::MAX_COMPARED_GROUPS,
            });
        }
        let k = groups.len();
        let tallies = (0..k)
            .map(|g| {
                let t = groups.select(g, time);
                let e = groups.select(g, event);
                Tally::<2>::build(&t, &e, |e| Some(e as usize), "0, 1", |e| e as u8)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Merge the per-group tables on the union of times.
        let mut all: Vec<f64> = tallies
            .iter()
            .flat_map(|t| t.time.iter().copied())
            .collect();
        all.sort_by(f64::total_cmp);
        all.dedup();
        let mut risk: Vec<f64> = tallies.iter().map(|t| t.n as f64).collect();
        let mut head = vec![0usize; k];
        let (mut observed, mut expected) = (vec![0.0; k], vec![0.0; k]);
        let mut variance = vec![0.0; k * k];
        for &t in &all {
            let mut deaths = vec![0.0; k];
            let mut leaving = vec![0.0; k];
            for g in 0..k {
                let tally = &tallies[g];
                if tally.time.get(head[g]) == Some(&t) {
                    deaths[g] = tally.counts[1][head[g]] as f64;
                    leaving[g] = deaths[g] + tally.counts[0][head[g]] as f64;
                    head[g] += 1;
                }
            }
            let d: f64 = deaths.iter().sum();
            let n: f64 = risk.iter().sum();
            if d > 0.0 {
                for g in 0..k {
                    observed[g] += deaths[g];
                    expected[g] += d * risk[g] / n;
                }
                if n > 1.0 {
                    let kt = d * (n - d) / (n * (n - 1.0));
                    for j in 0..k {
                        let tmp = kt * risk[j];
                        variance[j * k + j] += tmp;
                        for i in 0..k {
                            variance[i * k + j] -= tmp * risk[i] / n;
                        }
                    }
                }
            }
            for g in 0..k {
                risk[g] -= leaving[g];
            }
        }
        let kept: Vec<usize> = (0..k).filter(|&g| expected[g] > 0.0).collect();
        let chisq = if kept.len() < 2 {
            0.0
        } else {
            let rest = &kept[1..];
            let u: Vec<f64> = rest.iter().map(|&g| observed[g] - expected[g]).collect();
            let v: Vec<f64> = rest
                .iter()
                .flat_map(|&i| rest.iter().map(move |&j| (i, j)))
                .map(|(i, j)| variance[i * k + j])
                .collect();
            quadratic_form_inverse(v, &u).ok_or_else(|| {
                StatsError::BadCount("log-rank variance matrix is singular".into())
            })?
        };
        let df = kept.len().saturating_sub(1);
        Ok(Self {
            n: tallies.iter().map(|t| t.n).collect(),
            groups: groups.labels,
            observed,
            expected,
            variance,
            chisq,
            df,
            p: if df == 0 {
                f64::NAN
            } else {
                chi_square_upper_tail(chisq, df as f64)
            },
        })
    }
}
