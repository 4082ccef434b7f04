//! Properties every correct estimator has, on random data.

use proptest::prelude::*;
use stats::{CompetingStatus, ConfType, CumulativeIncidence, KaplanMeier};

fn observations() -> impl Strategy<Value = Vec<(f64, bool)>> {
    prop::collection::vec(((0u32..60).prop_map(f64::from), any::<bool>()), 1..200)
}

fn conf_types() -> impl Strategy<Value = ConfType> {
    prop_oneof![
        Just(ConfType::LogLog),
        Just(ConfType::Log),
        Just(ConfType::Plain)
    ]
}

fn split(obs: &[(f64, bool)]) -> (Vec<f64>, Vec<bool>) {
    obs.iter().copied().unzip()
}

proptest! {
    #[test]
    fn survival_is_non_increasing_within_zero_and_one(obs in observations(), conf in conf_types()) {
        let (t, e) = split(&obs);
        let fit = KaplanMeier::fit(&t, &e, conf).unwrap();
        let mut previous = 1.0;
        for &s in &fit.surv {
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert!(s <= previous);
            previous = s;
        }
    }

    #[test]
    fn survival_bounds_contain_the_estimate(obs in observations(), conf in conf_types()) {
        let (t, e) = split(&obs);
        let fit = KaplanMeier::fit(&t, &e, conf).unwrap();
        for i in 0..fit.surv.len() {
            if !fit.lower[i].is_nan() {
                prop_assert!(fit.lower[i] <= fit.surv[i] + 1e-12 && fit.surv[i] <= fit.upper[i] + 1e-12);
                prop_assert!(fit.lower[i] >= 0.0 && fit.upper[i] <= 1.0);
            }
        }
    }

    #[test]
    fn with_one_cause_incidence_plus_survival_is_one(obs in observations()) {
        let (t, e) = split(&obs);
        let status: Vec<CompetingStatus> =
            e.iter().map(|&e| if e { CompetingStatus::Event } else { CompetingStatus::Censored }).collect();
        let km = KaplanMeier::fit(&t, &e, ConfType::LogLog).unwrap();
        let cif = CumulativeIncidence::fit(&t, &status).unwrap();
        for (at, s) in cif.at(&km.time).iter().zip(&km.surv) {
            prop_assert!((at.estimate + s - 1.0).abs() < 1e-12, "{} + {} != 1", at.estimate, s);
        }
    }

    #[test]
    fn incidence_bounds_contain_the_estimate(
        obs in prop::collection::vec(((0u32..60).prop_map(f64::from), 0u8..3), 1..200)
    ) {
        let (t, s): (Vec<f64>, Vec<u8>) = obs.into_iter().unzip();
        let status: Vec<CompetingStatus> = s.iter().map(|&c| CompetingStatus::from_code(c).unwrap()).collect();
        let cif = CumulativeIncidence::fit(&t, &status).unwrap();
        let mut previous = 0.0;
        for i in 0..cif.time.len() {
            prop_assert!(cif.estimate[i] >= previous && cif.estimate[i] <= 1.0 + 1e-12);
            previous = cif.estimate[i];
            if !cif.lower[i].is_nan() {
                prop_assert!(cif.lower[i] <= cif.estimate[i] && cif.estimate[i] <= cif.upper[i]);
            }
        }
    }

    /// Rescaling time changes no estimate; with a fractional factor it also
    /// sends the data through the radix sort instead of the day buckets.
    #[test]
    fn rescaling_time_changes_no_estimate(obs in observations()) {
        let (t, e) = split(&obs);
        let scaled: Vec<f64> = t.iter().map(|x| x * 0.37).collect();
        let a = KaplanMeier::fit(&t, &e, ConfType::LogLog).unwrap();
        let b = KaplanMeier::fit(&scaled, &e, ConfType::LogLog).unwrap();
        prop_assert_eq!(&a.surv, &b.surv);
        prop_assert_eq!(&a.n_risk, &b.n_risk);
        let ma = a.median().estimate;
        let mb = b.median().estimate;
        prop_assert!((ma.is_nan() && mb.is_nan()) || (ma * 0.37 - mb).abs() < 1e-9);
    }
}

#[test]
fn all_censored_data_has_zero_incidence_and_full_survival() {
    let t = [2.0, 4.0, 6.0];
    let fit = CumulativeIncidence::fit(&t, &[CompetingStatus::Censored; 3]).unwrap();
    assert!(fit.time.is_empty());
    let at = fit.at(&[3.0, 6.0, 7.0]);
    assert_eq!((at[0].estimate, at[1].estimate), (0.0, 0.0));
    assert!(
        at[2].estimate.is_nan(),
        "beyond the last time the incidence is unknown"
    );
    let km = KaplanMeier::fit(&t, &[false; 3], ConfType::LogLog).unwrap();
    assert_eq!(km.surv, vec![1.0, 1.0, 1.0]);
    assert!(km.median().estimate.is_nan());
}
