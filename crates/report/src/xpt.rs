//! SAS transport files, version 5 (SAS technical note TS-140): the format a
//! regulator takes CDISC datasets in, and that SAS, R (`haven`,
//! `foreign`) and Python (`pandas`) read. A file is 80-byte records:
//! headers, one 140-byte description per variable, then the observations
//! back to back; numbers are IBM System/370 doubles, text is padded with
//! blanks to its variable's length.

use std::io::{self, Write};

/// A variable's kind: how its values are stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A number.
    Num,
    /// A calendar date: a number of days since 1960-01-01, shown `DATE9.`.
    Date,
    /// Text of at most `length` bytes.
    Char {
        /// Bytes kept for every value; at most 200 in version 5.
        length: u16,
    },
}

/// A value of an observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A number (or a date as SAS counts it); `None` is SAS's missing `.`.
    Num(Option<f64>),
    /// Text.
    Char(&'a str),
}

/// A variable of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// At most 8 characters, as SAS names go.
    pub name: String,
    /// At most 40 characters.
    pub label: String,
    /// How its values are stored.
    pub kind: Kind,
}

/// The longest text a version-5 variable holds.
pub const MAX_CHAR: u16 = 200;

/// An 80-byte record: `text` followed by blanks.
fn record(out: &mut impl Write, text: &str) -> io::Result<()> {
    let mut line = [b' '; 80];
    line[..text.len()].copy_from_slice(text.as_bytes());
    out.write_all(&line)
}

/// `text` cut or blank-padded to `n` bytes.
fn fixed(text: &str, n: usize) -> Vec<u8> {
    let mut bytes = text.as_bytes()[..text.len().min(n)].to_vec();
    bytes.resize(n, b' ');
    bytes
}

/// A number as an IBM System/370 double: sign, a base-16 exponent biased by
/// 64, and a 56-bit fraction. Every IEEE double in the IBM range converts
/// exactly (the 53-bit significand shifted by at most three bits); missing
/// is `.` followed by zeros, as SAS writes it; a number below the range is
/// 0. `None` for what the format cannot hold: an infinity, a NaN, or a
/// magnitude of 16⁶³ or more.
pub fn ibm(x: Option<f64>) -> Option<[u8; 8]> {
    let Some(x) = x else {
        return Some([0x2e, 0, 0, 0, 0, 0, 0, 0]);
    };
    if !x.is_finite() {
        return None;
    }
    if x == 0.0 {
        return Some([0; 8]);
    }
    let bits = x.to_bits();
    let sign = ((bits >> 63) as u8) << 7;
    let biased = ((bits >> 52) & 0x7ff) as i64;
    if biased == 0 {
        // A subnormal double: far below the IBM range.
        return Some([0; 8]);
    }
    let exponent = biased - 1023;
    // x = significand · 2^(exponent − 52) = 0.fraction · 16^e16 with
    // 16^(e16 − 1) ≤ |x| < 16^e16.
    let significand = ((bits & ((1 << 52) - 1)) | (1 << 52)) << exponent.rem_euclid(4);
    let e16 = exponent.div_euclid(4) + 1 + 64;
    if e16 < 0 {
        return Some([0; 8]);
    }
    if e16 > 127 {
        return None;
    }
    let mut out = [0u8; 8];
    out[0] = sign | e16 as u8;
    out[1..].copy_from_slice(&significand.to_be_bytes()[1..]);
    Some(out)
}

/// Whether `name` is a SAS name: a capital or `_`, then capitals, digits
/// or `_`, at most 8 in all.
fn sas_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 8
}

/// A date as SAS counts it: days since 1960-01-01.
pub fn sas_date(date: trial::Date) -> f64 {
    date.days_since(trial::Date::from_ymd(1960, 1, 1).expect("a valid date")) as f64
}

/// `date` as the headers write it: `ddMMMyy:hh:mm:ss`.
fn stamp(date: trial::Date) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let text = date.to_string();
    let (year, rest) = text.split_at(4);
    let month: usize = rest[1..3].parse().expect("a date's month");
    format!(
        "{}{}{}:00:00:00",
        &rest[4..6],
        MONTHS[month - 1],
        &year[2..]
    )
}

/// One dataset being written: headers first, then its observations one at
/// a time, so that no dataset is held whole in memory.
pub struct DatasetWriter<W: Write> {
    out: W,
    name: String,
    variables: Vec<Variable>,
    widths: Vec<usize>,
    observation: Vec<u8>,
    written: usize,
    cut: usize,
}

impl<W: Write> DatasetWriter<W> {
    /// Writes the headers of dataset `name` (at most 8 characters) with
    /// `label` and its `variables`. `dated` is written as the file's
    /// creation and modification time, so that the same data give the same
    /// bytes (the data cut-off, not the clock).
    pub fn begin(
        mut out: W,
        name: &str,
        label: &str,
        dated: trial::Date,
        variables: Vec<Variable>,
    ) -> io::Result<Self> {
        if !sas_name(name) || variables.len() > 9999 {
            return Err(invalid(format!(
                "dataset {name:?}: a SAS name (1–8 capitals, digits or '_') and at most 9999 variables"
            )));
        }
        if !label.is_ascii() || label.len() > 40 {
            return Err(invalid(format!(
                "dataset {name}: a label of at most 40 ASCII characters"
            )));
        }
        let stamp = stamp(dated);
        record(
            &mut out,
            "HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000",
        )?;
        record(
            &mut out,
            &format!("SAS     SAS     SASLIB  9.4     isatrial{:24}{stamp}", ""),
        )?;
        record(&mut out, &stamp)?;
        record(
            &mut out,
            "HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140",
        )?;
        record(
            &mut out,
            "HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000000000000000000000000000000",
        )?;
        let mut member = b"SAS     ".to_vec();
        member.extend(fixed(name, 8));
        member.extend(b"SASDATA 9.4     isatrial");
        member.extend([b' '; 24]);
        member.extend(stamp.as_bytes());
        out.write_all(&member)?;
        let mut member = fixed(&stamp, 16);
        member.extend([b' '; 16]);
        member.extend(fixed(label, 40));
        member.extend(fixed("", 8));
        out.write_all(&member)?;
        record(
            &mut out,
            &format!(
                "HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000{:04}00000000000000000000",
                variables.len()
            ),
        )?;
        let mut position = 0u32;
        let mut descriptions = Vec::with_capacity(140 * variables.len());
        let mut widths = Vec::with_capacity(variables.len());
        for (number, v) in variables.iter().enumerate() {
            if !sas_name(&v.name) || !v.label.is_ascii() || v.label.len() > 40 {
                return Err(invalid(format!(
                    "{name}.{}: a SAS name and a label of at most 40 ASCII characters",
                    v.name
                )));
            }
            let (ntype, width, format, format_width): (u16, u16, &str, u16) = match v.kind {
                Kind::Num => (1, 8, "", 0),
                Kind::Date => (1, 8, "DATE", 9),
                Kind::Char { length } if (1..=MAX_CHAR).contains(&length) => {
                    (2, length, "$", length)
                }
                Kind::Char { length } => {
                    return Err(invalid(format!(
                        "{name}.{}: text of {length} bytes; version 5 holds 1–{MAX_CHAR}",
                        v.name
                    )));
                }
            };
            let d = &mut descriptions;
            d.extend(ntype.to_be_bytes());
            d.extend(0u16.to_be_bytes());
            d.extend(width.to_be_bytes());
            d.extend((number as u16 + 1).to_be_bytes());
            d.extend(fixed(&v.name, 8));
            d.extend(fixed(&v.label, 40));
            d.extend(fixed(format, 8));
            d.extend(format_width.to_be_bytes());
            d.extend(0u16.to_be_bytes());
            d.extend(0u16.to_be_bytes());
            d.extend([0u8; 2]);
            d.extend(fixed("", 8));
            d.extend(0u16.to_be_bytes());
            d.extend(0u16.to_be_bytes());
            d.extend(position.to_be_bytes());
            d.extend([0u8; 52]);
            position += u32::from(width);
            widths.push(width as usize);
        }
        descriptions.resize(descriptions.len().div_ceil(80) * 80, b' ');
        out.write_all(&descriptions)?;
        record(
            &mut out,
            "HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000",
        )?;
        Ok(DatasetWriter {
            out,
            name: name.to_owned(),
            variables,
            widths,
            observation: Vec::with_capacity(position as usize),
            written: 0,
            cut: 0,
        })
    }

    /// Writes one observation, its values in the variables' order. Text
    /// longer than its variable is cut at a character boundary and counted.
    pub fn row(&mut self, row: &[Value<'_>]) -> io::Result<()> {
        if row.len() != self.variables.len() {
            return Err(invalid(format!(
                "{}: a row of {} values for {} variables",
                self.name,
                row.len(),
                self.variables.len()
            )));
        }
        self.observation.clear();
        for ((value, v), &width) in row.iter().zip(&self.variables).zip(&self.widths) {
            match (value, v.kind) {
                (Value::Num(x), Kind::Num | Kind::Date) => match ibm(*x) {
                    Some(bytes) => self.observation.extend(bytes),
                    None => {
                        return Err(invalid(format!(
                            "{}.{}: {} is beyond what a transport file holds (finite, below 16^63)",
                            self.name,
                            v.name,
                            x.unwrap_or(f64::NAN)
                        )));
                    }
                },
                (Value::Char(text), Kind::Char { .. }) => {
                    let mut end = text.len().min(width);
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    self.cut += usize::from(end < text.len());
                    self.observation.extend(fixed(&text[..end], width));
                }
                _ => {
                    return Err(invalid(format!(
                        "{}.{}: a value of another kind",
                        self.name, v.name
                    )));
                }
            }
        }
        self.out.write_all(&self.observation)?;
        self.written += self.observation.len();
        Ok(())
    }

    /// Pads the last record; returns how many texts were cut.
    pub fn finish(mut self) -> io::Result<usize> {
        let pad = self.written.div_ceil(80) * 80 - self.written;
        self.out.write_all(&vec![b' '; pad])?;
        self.out.flush()?;
        Ok(self.cut)
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_convert_exactly_to_ibm_doubles() {
        let ibm = |x: f64| ibm(Some(x)).unwrap();
        // Values from TS-140's examples and their IBM bytes.
        assert_eq!(ibm(1.0), [0x41, 0x10, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(-1.0), [0xc1, 0x10, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(0.5), [0x40, 0x80, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(16.0), [0x42, 0x10, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(100.0), [0x42, 0x64, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(0.0), [0; 8]);
        assert_eq!(ibm(-0.0), [0; 8]);
        // 0.1 = 0x1.999999999999Ap-4 = 0x0.1999999999999A · 16^0.
        assert_eq!(ibm(0.1), [0x40, 0x19, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]);
        assert_eq!(super::ibm(None), Some([0x2e, 0, 0, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn the_ends_of_the_ibm_range() {
        // The largest double below 16^63 has the largest exponent.
        let below = f64::from_bits(16f64.powi(63).to_bits() - 1);
        assert_eq!(ibm(Some(below)).unwrap()[0], 0x7f);
        assert_eq!(ibm(Some(16f64.powi(63))), None);
        assert_eq!(ibm(Some(-1e76)), None);
        assert_eq!(ibm(Some(f64::INFINITY)), None);
        assert_eq!(ibm(Some(f64::NAN)), None);
        // 16^-65 is the smallest power of 16 the format holds: exponent 0.
        assert_eq!(
            ibm(Some(16f64.powi(-65))).unwrap(),
            [0x00, 0x10, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(ibm(Some(16f64.powi(-66))), Some([0; 8]));
        assert_eq!(ibm(Some(f64::from_bits(1))), Some([0; 8]), "a subnormal");
    }

    #[test]
    fn names_are_sas_names() {
        assert!(sas_name("ADSL") && sas_name("_X1") && sas_name("ATOXGRN"));
        assert!(!sas_name("adsl") && !sas_name("1X") && !sas_name("A-B"));
        assert!(!sas_name("") && !sas_name("TOOLONGNM"));
    }

    #[test]
    fn dates_count_from_1960_and_headers_stamp_them() {
        assert_eq!(sas_date(trial::Date::from_ymd(1960, 1, 1).unwrap()), 0.0);
        assert_eq!(
            sas_date(trial::Date::from_ymd(2026, 6, 30).unwrap()),
            24_287.0
        );
        assert_eq!(
            stamp(trial::Date::from_ymd(2026, 6, 30).unwrap()),
            "30JUN26:00:00:00"
        );
    }
}
