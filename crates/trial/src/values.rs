//! Bounded values of the case report forms: each type can hold only what
//! the protocol allows, and its `FromStr` error says the rule, so a refused
//! cell reads "must be a CTCAE grade 1–5, got 7" rather than "invalid".

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Parses a finite decimal number, the shared first step of every numeric cell.
fn number(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("expected a number, got \"{s}\"")),
    }
}

macro_rules! bounded_f64 {
    ($(#[$meta:meta])* $name:ident, $ok:expr, $rule:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name(f64);

        impl $name {
            /// The value, if it keeps the rule.
            pub fn new(v: f64) -> Option<Self> {
                let ok: fn(f64) -> bool = $ok;
                (v.is_finite() && ok(v)).then_some($name(v))
            }

            /// The number itself.
            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                let v = number(s)?;
                $name::new(v).ok_or_else(|| format!(concat!("must be ", $rule, ", got {}"), s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

bounded_f64!(
    /// A percentage of cells, 0–100 (bone-marrow blasts).
    Percent,
    |v| (0.0..=100.0).contains(&v),
    "a percentage from 0 to 100"
);

bounded_f64!(
    /// An MRD fraction in (0, 1]: a level (1e-4 = one cell in 10,000) or an
    /// assay's sensitivity.
    Fraction,
    |v| v > 0.0 && v <= 1.0,
    "a fraction greater than 0 and at most 1 (e.g. 1e-4)"
);

bounded_f64!(
    /// A non-negative amount: a blood count in 10^9/L, a dose in mg/kg.
    Amount,
    |v| v >= 0.0,
    "a number at least 0"
);

/// A CTCAE 5.0 grade, 1 (mild) to 5 (death related to the AE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Grade(u8);

impl Grade {
    /// The grade, if 1–5.
    pub fn new(g: u8) -> Option<Grade> {
        (1..=5).contains(&g).then_some(Grade(g))
    }

    /// 1–5.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl FromStr for Grade {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<u8>()
            .ok()
            .and_then(Grade::new)
            .ok_or_else(|| format!("must be a CTCAE grade 1–5, got \"{s}\""))
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Age in whole years of an adult patient (the trial enrols adults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Age(u8);

impl Age {
    /// Age in years.
    pub fn years(self) -> u8 {
        self.0
    }
}

impl FromStr for Age {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<u8>()
            .ok()
            .filter(|a| (18..=120).contains(a))
            .map(Age)
            .ok_or_else(|| format!("must be an adult's age in whole years, 18–120, got \"{s}\""))
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A boolean cell: exactly `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl FromStr for Flag {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "true" => Ok(Flag(true)),
            "false" => Ok(Flag(false)),
            _ => Err(format!("must be true or false, got \"{s}\"")),
        }
    }
}

/// A whole count at least 0 (prior cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Count(pub u32);

impl FromStr for Count {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<u32>()
            .map(Count)
            .map_err(|_| format!("must be a whole number at least 0, got \"{s}\""))
    }
}

/// An identifier (patient, site, AE): non-empty, at most 64 characters,
/// no spaces or control characters, so that it survives every export format.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(Box<str>);

impl Id {
    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Id {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Err(format!(
                "must be an identifier of 1–64 characters without spaces, got \"{s}\""
            ))
        } else {
            Ok(Id(s.into()))
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A treatment cycle: induction `I1`, `I2`, … or maintenance `M1`, `M2`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cycle {
    /// Induction cycle n (1-based).
    Induction(u8),
    /// Maintenance cycle n (1-based).
    Maintenance(u8),
}

impl FromStr for Cycle {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("must be a cycle I1, I2, … or M1, M2, …, got \"{s}\"");
        let n = s
            .get(1..)
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|&n| n >= 1);
        match (s.as_bytes().first(), n) {
            (Some(b'I'), Some(n)) => Ok(Cycle::Induction(n)),
            (Some(b'M'), Some(n)) => Ok(Cycle::Maintenance(n)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cycle::Induction(n) => write!(f, "I{n}"),
            Cycle::Maintenance(n) => write!(f, "M{n}"),
        }
    }
}

impl Serialize for Cycle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Free text (a reason, a verbatim term): any characters, kept as typed.
pub type Text = Box<str>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_values_refuse_with_their_rule() {
        assert_eq!(
            "7".parse::<Grade>().unwrap_err(),
            "must be a CTCAE grade 1–5, got \"7\""
        );
        assert!("0".parse::<Fraction>().is_err());
        assert_eq!("1e-4".parse::<Fraction>().unwrap().get(), 1e-4);
        assert!("101".parse::<Percent>().is_err());
        assert!("-1".parse::<Amount>().is_err());
        assert!("NaN".parse::<Amount>().is_err());
        assert!("17".parse::<Age>().is_err());
        assert!("TRUE".parse::<Flag>().is_err());
        assert!("P 1".parse::<Id>().is_err());
    }

    #[test]
    fn cycles_round_trip() {
        for s in ["I1", "I2", "M1", "M12"] {
            assert_eq!(s.parse::<Cycle>().unwrap().to_string(), s);
        }
        for bad in ["I0", "X1", "I", "M-1"] {
            assert!(bad.parse::<Cycle>().is_err(), "{bad}");
        }
    }
}
