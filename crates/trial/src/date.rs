//! Calendar dates as the bundle writes them (`YYYY-MM-DD`) and the day
//! arithmetic of PROTOCOL.md §4 (day 1, day k, t in days).

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A calendar date. Only real dates parse: `2025-02-30` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

impl Date {
    /// The date from year, month and day, if it exists.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<Self> {
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day)
            .ok()
            .map(Date)
    }

    /// Days from `earlier` to `self` (negative when `self` is before it).
    pub fn days_since(self, earlier: Date) -> i64 {
        (self.0 - earlier.0).whole_days()
    }

    /// The date `days` days later (earlier when negative).
    pub fn plus_days(self, days: i64) -> Date {
        Date(self.0 + time::Duration::days(days))
    }

    /// Day `k` of a course whose day 1 is `self` (PROTOCOL.md §4).
    pub fn day(self, k: i64) -> Date {
        self.plus_days(k - 1)
    }

    /// Days since 1970-01-01, for compact storage and plotting.
    pub fn to_epoch_days(self) -> i64 {
        self.days_since(Date(time::Date::from_julian_day(2_440_588).expect("epoch")))
    }

    /// The year, for baseline tables.
    pub fn year(self) -> i32 {
        self.0.year()
    }
}

/// Why a date cell was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a date YYYY-MM-DD, got \"{0}\"")]
pub struct BadDate(String);

impl FromStr for Date {
    type Err = BadDate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadDate(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let (y, m, d) = (digits(0..4), digits(5..7), digits(8..10));
        match (y, m, d) {
            (Some(y), Some(m), Some(d)) => {
                Date::from_ymd(y as i32, m as u8, d as u8).ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_dates_in_iso_form_parse() {
        assert_eq!(
            "2024-02-29".parse::<Date>().unwrap().to_string(),
            "2024-02-29"
        );
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "25-01-01",
            "2025/01/01",
            "2025-1-01",
            "",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn day_one_plus_twenty_one_days_is_day_twenty_two() {
        let d1: Date = "2025-01-01".parse().unwrap();
        assert_eq!(d1.day(22).to_string(), "2025-01-22");
        assert_eq!(d1.day(22).days_since(d1), 21);
        assert_eq!(d1.to_epoch_days(), 20089);
    }
}
