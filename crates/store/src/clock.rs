//! Instants of the audit trail: UTC with microseconds, written as text of
//! fixed width so that both SQLite and PostgreSQL order them as time.

use std::fmt;
use std::str::FromStr;

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// An instant of the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(OffsetDateTime);

impl Instant {
    /// Now, to the microsecond.
    pub fn now() -> Instant {
        let now = OffsetDateTime::now_utc();
        let micros = now.microsecond();
        Instant(
            now.replace_nanosecond(micros * 1000)
                .expect("microseconds fit"),
        )
    }

    /// The calendar day (UTC) of the instant.
    pub fn date(self) -> trial::Date {
        let day = self.0.date();
        trial::Date::from_ymd(day.year(), day.month() as u8, day.day())
            .expect("a calendar day is a date")
    }

    /// This instant plus microseconds.
    pub fn plus_micros(self, us: i64) -> Instant {
        Instant(self.0 + time::Duration::microseconds(us))
    }

    /// This instant plus whole seconds.
    pub fn plus_seconds(self, s: i64) -> Instant {
        Instant(self.0 + time::Duration::seconds(s))
    }

    /// Whole seconds from this instant to `later`, rounded up.
    pub fn seconds_until(self, later: Instant) -> i64 {
        let micros = (later.0 - self.0).whole_microseconds();
        i64::try_from((micros + 999_999).div_euclid(1_000_000)).unwrap_or(i64::MAX)
    }

    /// The fixed-width text stored in the database.
    pub fn to_db(self) -> String {
        self.0.format(FORMAT).expect("a UTC instant formats")
    }
}

/// Why an instant was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected an instant YYYY-MM-DDTHH:MM:SS[.ffffff]Z or a date YYYY-MM-DD (end of that day, UTC), got \"{0}\""
)]
pub struct BadInstant(String);

impl FromStr for Instant {
    type Err = BadInstant;

    /// Accepts the stored form, RFC 3339 with any offset, or a date, which
    /// means the end of that day in UTC ("as of 2026-06-30" includes the day).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadInstant(s.to_owned());
        if let Ok(date) = s.parse::<trial::Date>() {
            let text = format!("{date}T23:59:59.999999Z");
            return PrimitiveDateTime::parse(&text, FORMAT)
                .map(|p| Instant(p.assume_offset(UtcOffset::UTC)))
                .map_err(|_| bad());
        }
        if let Ok(p) = PrimitiveDateTime::parse(s, FORMAT) {
            return Ok(Instant(p.assume_offset(UtcOffset::UTC)));
        }
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| {
                let t = t.to_offset(UtcOffset::UTC);
                Instant(
                    t.replace_nanosecond(t.microsecond() * 1000)
                        .expect("microseconds fit"),
                )
            })
            .map_err(|_| bad())
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_db())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_order_is_time_order_and_a_date_means_its_end() {
        let a: Instant = "2026-06-30".parse().unwrap();
        assert_eq!(a.to_db(), "2026-06-30T23:59:59.999999Z");
        let b: Instant = "2026-07-01T00:00:00+02:00".parse().unwrap();
        assert_eq!(b.to_db(), "2026-06-30T22:00:00.000000Z");
        assert!(b < a && b.to_db() < a.to_db());
        assert_eq!(a.to_db().parse::<Instant>().unwrap(), a);
        assert!("yesterday".parse::<Instant>().is_err());
    }
}
