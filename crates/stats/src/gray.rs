//! Gray's test comparing the cumulative incidence of one cause between k
//! groups: `cmprsk::cuminc`'s `Tests` (Fortran `crstm`/`crst`, rho = 0, one
//! stratum), followed step by step.

use serde::Serialize;

use crate::cif::CompetingStatus;
use crate::groups::Groups;
use crate::linalg::quadratic_form_inverse;
use crate::{StatsError, chi_square_upper_tail};

/// The statistic, its degrees of freedom (groups − 1) and p-value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrayTest {
    /// Group labels, sorted.
    pub groups: Vec<String>,
    /// Scores of the first k − 1 groups.
    pub score: Vec<f64>,
    /// The chi-square statistic.
    pub stat: f64,
    /// Degrees of freedom.
    pub df: usize,
    /// Upper-tail p-value.
    pub p: f64,
}

impl GrayTest {
    /// Tests equality of the incidence of [`CompetingStatus::Event`] across
    /// the groups given by `labels`.
    pub fn test<S: AsRef<str>>(
        time: &[f64],
        status: &[CompetingStatus],
        labels: &[S],
    ) -> Result<Self, StatsError> {
        Self::test_groups(time, status, Groups::new(labels))
    }

    /// As [`GrayTest::test`], with the groups already formed.
    pub fn test_groups(
        time: &[f64],
        status: &[CompetingStatus],
        groups: Groups,
    ) -> Result<Self, StatsError> {
        let labels = &groups.index;
        if time.len() != status.len() || time.len() != labels.len() {
            return Err(StatsError::LengthMismatch {
                what: "times, statuses and groups",
                left: time.len(),
                right: status.len().min(labels.len()),
            });
        }
        if time.is_empty() {
            return Err(StatsError::Empty);
        }
        if let Some((index, &value)) = time
            .iter()
            .enumerate()
            .find(|(_, t)| !crate::tally::is_valid_time(**t))
        {
            return Err(StatsError::BadTime { index, value });
        }
        let ng = groups.len();
        if ng < 2 {
            return Err(StatsError::TooFewGroups { found: ng });
        }
        if ng > crate::MAX_COMPARED_GROUPS {
            return Err(StatsError::TooManyGroups {
                found: ng,
                max: crate::MAX_COMPARED_GROUPS,
            });
        }
        let mut order: Vec<usize> = (0..time.len()).collect();
        order.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
        let y: Vec<f64> = order.iter().map(|&i| time[i]).collect();
        let m: Vec<usize> = order.iter().map(|&i| status[i].code() as usize).collect();
        let ig: Vec<usize> = order.iter().map(|&i| groups.index[i]).collect();
        let (score, v) = crst(&y, &m, &ig, ng);
        let ng1 = ng - 1;
        let stat = quadratic_form_inverse(v, &score).ok_or_else(|| {
            StatsError::BadCount("Gray's test variance matrix is singular".into())
        })?;
        Ok(Self {
            groups: groups.labels,
            score,
            stat,
            df: ng1,
            p: chi_square_upper_tail(stat, ng1 as f64),
        })
    }
}

/// Score vector and its (k−1)×(k−1) covariance for sorted data, one stratum.
fn crst(y: &[f64], m: &[usize], ig: &[usize], ng: usize) -> (Vec<f64>, Vec<f64>) {
    let n = y.len();
    let ng1 = ng - 1;
    let rho = 0.0f64;
    let mut rs = vec![0.0f64; ng];
    for &g in ig {
        rs[g] += 1.0;
    }
    let mut s = vec![0.0; ng1];
    // Lower triangle of the covariance, as the Fortran packs it.
    let mut v = vec![0.0; ng * ng1 / 2];
    let (mut f1m, mut f1) = (vec![0.0; ng], vec![0.0; ng]);
    let (mut skmm, mut skm) = (vec![1.0; ng], vec![1.0; ng]);
    let mut v3 = vec![0.0; ng];
    let mut v2 = vec![0.0; ng1 * ng];
    let mut c = vec![0.0; ng * ng];
    let mut a = vec![0.0; ng * ng];
    let mut fm = 0.0f64;
    let packed = |i: usize, j: usize| i * (i + 1) / 2 + j;
    let mut ll = 0;
    while ll < n {
        let mut lu = ll;
        while lu + 1 < n && y[lu + 1] <= y[ll] {
            lu += 1;
        }
        let mut d = vec![[0.0f64; 3]; ng];
        for i in ll..=lu {
            d[ig[i]][m[i]] += 1.0;
        }
        let nd1: f64 = d.iter().map(|r| r[1]).sum();
        let nd2: f64 = d.iter().map(|r| r[2]).sum();
        let mut f = fm;
        if nd1 > 0.0 || nd2 > 0.0 {
            let (mut tr, mut tq) = (0.0, 0.0);
            for i in 0..ng {
                if rs[i] <= 0.0 {
                    continue;
                }
                let td = d[i][1] + d[i][2];
                skm[i] = skmm[i] * (rs[i] - td) / rs[i];
                f1[i] = f1m[i] + (skmm[i] * d[i][1]) / rs[i];
                tr += rs[i] / skmm[i];
                tq += rs[i] * (1.0 - f1m[i]) / skmm[i];
            }
            f = fm + nd1 / tr;
            let fb = (1.0 - fm).powf(rho);
            for i in 0..ng {
                for j in i..ng {
                    a[i * ng + j] = 0.0;
                }
                if rs[i] <= 0.0 {
                    continue;
                }
                let t1 = rs[i] / skmm[i];
                a[i * ng + i] = fb * t1 * (1.0 - t1 / tr);
                c[i * ng + i] += a[i * ng + i] * nd1 / (tr * (1.0 - fm));
                for j in i + 1..ng {
                    if rs[j] <= 0.0 {
                        continue;
                    }
                    a[i * ng + j] = -fb * t1 * rs[j] / (skmm[j] * tr);
                    c[i * ng + j] += a[i * ng + j] * nd1 / (tr * (1.0 - fm));
                }
            }
            for i in 1..ng {
                for j in 0..i {
                    a[i * ng + j] = a[j * ng + i];
                    c[i * ng + j] = c[j * ng + i];
                }
            }
            for i in 0..ng1 {
                if rs[i] <= 0.0 {
                    continue;
                }
                s[i] += fb * (d[i][1] - nd1 * rs[i] * (1.0 - f1m[i]) / (skmm[i] * tq));
            }
            if nd1 > 0.0 {
                for k in 0..ng {
                    if rs[k] <= 0.0 {
                        continue;
                    }
                    let t4 = if skm[k] > 0.0 {
                        1.0 - (1.0 - f) / skm[k]
                    } else {
                        1.0
                    };
                    let t5 = if nd1 > 1.0 {
                        1.0 - (nd1 - 1.0) / (tr * skmm[k] - 1.0)
                    } else {
                        1.0
                    };
                    let t3 = t5 * skmm[k] * nd1 / (tr * rs[k]);
                    v3[k] += t4 * t4 * t3;
                    for i in 0..ng1 {
                        let t1 = a[i * ng + k] - t4 * c[i * ng + k];
                        v2[i * ng + k] += t1 * t4 * t3;
                        for j in 0..=i {
                            let t2 = a[j * ng + k] - t4 * c[j * ng + k];
                            v[packed(i, j)] += t1 * t2 * t3;
                        }
                    }
                }
            }
            if nd2 > 0.0 {
                for k in 0..ng {
                    if skm[k] <= 0.0 || d[k][2] <= 0.0 {
                        continue;
                    }
                    let t4 = (1.0 - f) / skm[k];
                    let t5 = if d[k][2] > 1.0 {
                        1.0 - (d[k][2] - 1.0) / (rs[k] - 1.0)
                    } else {
                        1.0
                    };
                    let t3 = t5 * (skmm[k] * skmm[k] * d[k][2]) / (rs[k] * rs[k]);
                    v3[k] += t4 * t4 * t3;
                    for i in 0..ng1 {
                        let t1 = t4 * c[i * ng + k];
                        v2[i * ng + k] -= t1 * t4 * t3;
                        for j in 0..=i {
                            let t2 = t4 * c[j * ng + k];
                            v[packed(i, j)] += t1 * t2 * t3;
                        }
                    }
                }
            }
        }
        if lu + 1 >= n {
            break;
        }
        for i in ll..=lu {
            rs[ig[i]] -= 1.0;
        }
        fm = f;
        f1m.copy_from_slice(&f1);
        skmm.copy_from_slice(&skm);
        ll = lu + 1;
    }
    for i in 0..ng1 {
        for j in 0..=i {
            for k in 0..ng {
                v[packed(i, j)] += c[i * ng + k] * c[j * ng + k] * v3[k];
                v[packed(i, j)] += c[i * ng + k] * v2[j * ng + k];
                v[packed(i, j)] += c[j * ng + k] * v2[i * ng + k];
            }
        }
    }
    let mut full = vec![0.0; ng1 * ng1];
    for i in 0..ng1 {
        for j in 0..=i {
            full[i * ng1 + j] = v[packed(i, j)];
            full[j * ng1 + i] = v[packed(i, j)];
        }
    }
    (s, full)
}
