//! Why an estimator refused its input: always a caller's mistake, never a bug.

use thiserror::Error;

/// Input an estimator cannot work with. Each variant names the offending
/// observation by its zero-based index so the caller can map it back to a
/// file line or a patient.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// There are no observations at all.
    #[error("no observations: an estimate needs at least one")]
    Empty,
    /// Parallel input columns differ in length.
    #[error("{what}: {left} values but {right} statuses")]
    LengthMismatch {
        /// Which pair of columns.
        what: &'static str,
        /// Length of the first column.
        left: usize,
        /// Length of the second column.
        right: usize,
    },
    /// A time is negative, infinite or not a number.
    #[error("observation {index}: time {value} must be a finite number >= 0")]
    BadTime {
        /// Zero-based index of the observation.
        index: usize,
        /// The value given.
        value: f64,
    },
    /// A status code outside its set (0/1, or 0/1/2 with competing events).
    #[error("observation {index}: status {value} is not one of {allowed}")]
    BadStatus {
        /// Zero-based index of the observation.
        index: usize,
        /// The value given.
        value: u8,
        /// The allowed codes, for the message.
        allowed: &'static str,
    },
    /// A comparison between groups was asked for with fewer than two groups.
    #[error("a comparison needs at least two groups, found {found}")]
    TooFewGroups {
        /// How many groups the data had.
        found: usize,
    },
    /// A comparison was asked for between more groups than it takes.
    #[error(
        "a comparison takes at most {max} groups, found {found}: is the group column the right one?"
    )]
    TooManyGroups {
        /// How many groups the data had.
        found: usize,
        /// [`crate::MAX_COMPARED_GROUPS`].
        max: usize,
    },
    /// A count-based quantity is impossible (events > total, total = 0...).
    #[error("{0}")]
    BadCount(String),
    /// A probability or level outside (0, 1).
    #[error("{what} must lie strictly between 0 and 1, got {value}")]
    BadProbability {
        /// Which parameter.
        what: &'static str,
        /// The value given.
        value: f64,
    },
}
