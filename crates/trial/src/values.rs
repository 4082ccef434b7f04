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

/// The stored form of a bounded number: its bits XOR those of the one NaN
/// that `f64` arithmetic produces. A finite number never has those bits, so
/// the stored value is never 0, and `Option<Percent>` and its kind take 8
/// bytes instead of 16: the assessments, MRD results and doses of a million
/// patients are hundreds of megabytes lighter.
const NICHE: u64 = 0x7ff8_0000_0000_0000;

macro_rules! bounded_f64 {
    ($(#[$meta:meta])* $name:ident, $ok:expr, $rule:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        pub struct $name(std::num::NonZeroU64);

        impl $name {
            /// The value, if it keeps the rule.
            pub fn new(v: f64) -> Option<Self> {
                let ok: fn(f64) -> bool = $ok;
                if !(v.is_finite() && ok(v)) {
                    return None;
                }
                std::num::NonZeroU64::new(v.to_bits() ^ NICHE).map($name)
            }

            /// The number itself.
            pub fn get(self) -> f64 {
                f64::from_bits(self.0.get() ^ NICHE)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.get() == other.get()
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                self.get().partial_cmp(&other.get())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.get()).finish()
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_f64(self.get())
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
                write!(f, "{}", self.get())
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

/// An identifier (patient, site, AE): 1–64 ASCII letters, digits, `-`,
/// `_` or `.`, so that it reads as one thing on every screen and survives
/// every export format (CDISC's USUBJID among them).
///
/// Held inline up to 24 bytes (every id a trial writes): a million patients
/// with their AEs would otherwise make millions of small allocations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(compact_str::CompactString);

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Id {
    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for Id {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // ASCII letters and digits (with `-`, `_`, `.`): look-alike letters
        // of other scripts, invisible characters and full-width digits
        // would make two patients that read alike, and a name of dots alone
        // is no path segment a browser keeps.
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if s.is_empty()
            || s.len() > 64
            || !s.chars().all(allowed)
            || !s.chars().any(|c| c.is_ascii_alphanumeric())
        {
            Err(format!(
                "must be an identifier of 1–64 ASCII letters, digits, '-', '_' or '.', got \"{s}\""
            ))
        } else {
            Ok(Id(compact_str::CompactString::new(s)))
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
/// Shared: a bundle repeats the same few reasons over millions of rows, and
/// the reader keeps one copy of each (see `bundle::read`). Behind a thin
/// pointer, so an optional text in a dose row takes 8 bytes, not 16.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(std::sync::Arc<Box<str>>);

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(std::sync::Arc::new(s.into()))
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

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
    fn an_optional_number_takes_no_more_room_than_the_number() {
        assert_eq!(std::mem::size_of::<Option<Percent>>(), 8);
        assert_eq!(std::mem::size_of::<Option<Amount>>(), 8);
        assert_eq!(std::mem::size_of::<Option<Id>>(), std::mem::size_of::<Id>());
        // Every bit pattern survives, signed zero and subnormals included.
        for v in [0.0, -0.0, 1e-310, 0.1, 7.5, 100.0, f64::MAX] {
            let a = Amount::new(v).unwrap_or_else(|| panic!("{v}"));
            assert_eq!(a.get().to_bits(), v.to_bits());
            assert_eq!(a.to_string(), v.to_string());
        }
        let (low, high) = (Amount::new(0.5).unwrap(), Amount::new(2.0).unwrap());
        assert!(low < high && low == Amount::new(0.5).unwrap());
        assert_eq!(Amount::new(-0.0), Amount::new(0.0));
        assert_eq!(serde_json::to_string(&high).unwrap(), "2.0");
    }

    #[test]
    fn ids_of_any_length_round_trip() {
        let long = "S".repeat(64);
        for s in ["P1", "AE00000001", long.as_str()] {
            let id: Id = s.parse().unwrap();
            assert_eq!((id.as_str(), id.to_string()), (s, s.to_owned()));
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{s}\""));
        }
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
