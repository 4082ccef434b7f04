//! Numbers as a statistician writes them in a clinical report: percentages
//! with one decimal, intervals with an en dash, "NR" for a median the curve
//! never reached, "NA" for a number that is unknown. Shared by the HTML and
//! the CSV files so the two never disagree.

/// Days in a month (PROTOCOL.md §4), so "at 18 months" is t = 547.875.
pub const DAYS_PER_MONTH: f64 = 30.4375;

/// `x` with `digits` decimals; "NA" when unknown.
pub fn num(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "NA".into()
    }
}

/// A probability as a percentage number without the sign ("18.2").
fn pct_number(x: f64) -> String {
    num(100.0 * x, 1)
}

/// A probability as a percentage ("18.2 %").
pub fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{} %", pct_number(x))
    } else {
        "NA".into()
    }
}

/// "95 % CI a–b %" of two probabilities.
pub fn pct_ci(lower: f64, upper: f64) -> String {
    format!("95 % CI {}–{} %", pct_number(lower), pct_number(upper))
}

/// A time in days as the protocol names it: whole months as months (the
/// 18-month landmark is t = 547.875), anything else in days.
pub fn at_time(days: f64) -> String {
    let months = days / DAYS_PER_MONTH;
    if days > 0.0 && (months - months.round()).abs() < 1e-9 {
        format!("at {} months", months.round())
    } else {
        format!(
            "at {} days",
            num(days, if days.fract() == 0.0 { 0 } else { 1 })
        )
    }
}

/// A median of a time to event with its interval: an unknown estimate or
/// bound means the curve (or its confidence band) never fell to one half,
/// which a report prints as "NR" (not reached).
pub fn median_tte(estimate: f64, lower: f64, upper: f64) -> String {
    let d = |x: f64| {
        if x.is_finite() {
            format!("{x:.0}")
        } else {
            "NR".into()
        }
    };
    let unit = if estimate.is_finite() { " days" } else { "" };
    format!("{}{unit} (95 % CI {}–{})", d(estimate), d(lower), d(upper))
}

/// A one-sided p-value, never printed as zero.
pub fn p_value(p: f64) -> String {
    if !p.is_finite() {
        "NA".into()
    } else if p < 0.0001 {
        "< 0.0001".into()
    } else {
        format!("= {p:.4}")
    }
}

/// A table cell as the engine formatted it, except that an unknown number
/// that slipped through as Rust's "NaN" reads "NA" like everywhere else.
pub fn cell(s: &str) -> &str {
    if s == "NaN" || s == "inf" || s == "-inf" {
        "NA"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknowns_read_as_na_and_unreached_medians_as_nr() {
        assert_eq!(num(f64::NAN, 2), "NA");
        assert_eq!(pct(0.181_818_18), "18.2 %");
        assert_eq!(pct_ci(0.069_787, 0.354_6), "95 % CI 7.0–35.5 %");
        assert_eq!(pct_ci(f64::NAN, 0.5), "95 % CI NA–50.0 %");
        assert_eq!(
            median_tte(335.0, 13.0, f64::NAN),
            "335 days (95 % CI 13–NR)"
        );
        assert_eq!(median_tte(f64::NAN, 200.0, f64::NAN), "NR (95 % CI 200–NR)");
        assert_eq!(cell("NaN"), "NA");
        assert_eq!(cell("12.5"), "12.5");
    }

    #[test]
    fn landmarks_read_in_months_and_other_times_in_days() {
        assert_eq!(at_time(547.875), "at 18 months");
        assert_eq!(at_time(21.0), "at 21 days");
        assert_eq!(at_time(0.0), "at 0 days");
        assert_eq!(p_value(0.012_34), "= 0.0123");
        assert_eq!(p_value(1e-9), "< 0.0001");
    }
}
