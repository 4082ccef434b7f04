//! E17: inpatient days from registration to the end of each cumulative
//! window, counting nights, a same-day stay as one day, overlapping stays
//! once, and a stay open at the cut-off as discharged on it.

use super::{COHORTS, Context, Head, Summary, num, windows};
use crate::date::Date;
use crate::records::HospitalStay;
use crate::results::{AnalysisSet, Endpoint, Value};

/// Days in hospital within `[from, to]` (both inclusive) by PROTOCOL.md E17.
pub fn hospital_days(stays: &[HospitalStay], from: Date, to: Date, cutoff: Date) -> u32 {
    let mut occupied: Vec<(i64, i64)> = Vec::new();
    for s in stays.iter().filter(|s| s.admission_date <= cutoff) {
        let a = s.admission_date;
        let d = match s.discharge_date {
            Some(d) if d <= cutoff => d,
            _ => cutoff,
        };
        // Dates a ≤ day < d, or the admission date alone for a same-day stay.
        let (first, end_exclusive) = if d > a { (a, d) } else { (a, a.plus_days(1)) };
        let lo = first.max(from);
        let hi = end_exclusive.min(to.plus_days(1));
        if lo < hi {
            occupied.push((lo.to_epoch_days(), hi.to_epoch_days()));
        }
    }
    occupied.sort_unstable();
    let mut total = 0i64;
    let mut reach = i64::MIN;
    for (lo, hi) in occupied {
        let start = lo.max(reach);
        if hi > start {
            total += hi - start;
        }
        reach = reach.max(hi);
    }
    total as u32
}

pub(crate) fn e17(ctx: &mut Context<'_>) {
    let cutoff = ctx.data.cutoff;
    for cohort in COHORTS {
        let fas = ctx.fas(cohort);
        let counted = crate::results::PatientSet::from(fas.as_slice());
        let mut rows = Vec::new();
        for (label, day) in windows(ctx.protocol) {
            let mut values = Vec::with_capacity(fas.len());
            let mut window_days = 0i64;
            for &p in &fas {
                let c = ctx.course(p);
                let end = c.day(day);
                values.push(f64::from(hospital_days(
                    ctx.books.get(p).hospital_stays,
                    c.registration,
                    end,
                    cutoff,
                )));
                window_days += end.days_since(c.registration) + 1;
            }
            let s = Summary::of(&values);
            let head =
                Head::new(Endpoint::E17, cohort, "hospital_days", AnalysisSet::Fas).window(label);
            let nan = f64::NAN;
            ctx.push(
                head.clone(),
                Value::Median {
                    estimate: s.median,
                    lower: nan,
                    upper: nan,
                },
                counted.clone(),
            );
            ctx.push(
                head,
                Value::Mean {
                    estimate: s.mean,
                    n: s.n as u64,
                },
                counted.clone(),
            );
            let share = values.iter().sum::<f64>() / window_days.max(1) as f64;
            rows.push(vec![
                label.to_owned(),
                s.n.to_string(),
                num(s.median, 1),
                format!("{}–{}", num(s.q1, 1), num(s.q3, 1)),
                num(s.mean, 2),
                num(100.0 * share, 1),
            ]);
        }
        ctx.table(
            Endpoint::E17,
            format!("e17_hospital_days_cohort{}", cohort.number()),
            format!(
                "E17 inpatient days from registration, cohort {} (FAS)",
                cohort.number()
            ),
            &[
                "window",
                "n",
                "median",
                "IQR",
                "mean",
                "% of days in hospital",
            ],
            rows,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::PatientIx;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn stay(a: &str, dis: Option<&str>) -> HospitalStay {
        HospitalStay {
            patient: PatientIx(0),
            admission_date: d(a),
            discharge_date: dis.map(d),
            reason: None,
        }
    }

    #[test]
    fn nights_are_counted_and_a_same_day_stay_counts_one() {
        let cut = d("2026-01-01");
        let (from, to) = (d("2025-01-01"), d("2025-01-31"));
        assert_eq!(
            hospital_days(&[stay("2025-01-05", Some("2025-01-08"))], from, to, cut),
            3
        );
        assert_eq!(
            hospital_days(&[stay("2025-01-05", Some("2025-01-05"))], from, to, cut),
            1
        );
        assert_eq!(
            hospital_days(&[stay("2025-02-01", Some("2025-02-01"))], from, to, cut),
            0
        );
    }

    #[test]
    fn stays_are_clipped_to_the_window_and_overlaps_count_once() {
        let cut = d("2026-01-01");
        let (from, to) = (d("2025-01-10"), d("2025-01-20"));
        // Nights 8..14 clipped to 10..14 = 5 days; 12..18 overlaps → 10..18 = 9 days.
        let stays = [
            stay("2025-01-08", Some("2025-01-15")),
            stay("2025-01-12", Some("2025-01-19")),
        ];
        assert_eq!(hospital_days(&stays, from, to, cut), 9);
        // Night of the 20th is inside the window (inclusive end), 21st is not.
        assert_eq!(
            hospital_days(&[stay("2025-01-19", Some("2025-01-25"))], from, to, cut),
            2
        );
    }

    #[test]
    fn an_open_stay_ends_at_the_cutoff() {
        let cut = d("2025-01-15");
        let (from, to) = (d("2025-01-01"), d("2025-01-31"));
        assert_eq!(hospital_days(&[stay("2025-01-10", None)], from, to, cut), 5);
        assert_eq!(
            hospital_days(&[stay("2025-01-10", Some("2025-01-20"))], from, to, cut),
            5
        );
    }
}
