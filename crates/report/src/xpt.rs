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
/// is `.` followed by zeros, as SAS writes it.
pub fn ibm(x: Option<f64>) -> [u8; 8] {
    let Some(x) = x.filter(|x| x.is_finite()) else {
        return [0x2e, 0, 0, 0, 0, 0, 0, 0];
    };
    if x == 0.0 {
        return [0; 8];
    }
    let bits = x.to_bits();
    let sign = ((bits >> 63) as u8) << 7;
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let (mut significand, mut exponent) = if biased == 0 {
        // A subnormal double: far below the IBM range.
        return [0; 8];
    } else {
        ((bits & ((1 << 52) - 1)) | (1 << 52), biased - 1023)
    };
    // x = significand · 2^(exponent − 52) = 0.fraction · 16^e16 with
    // 16^(e16 − 1) ≤ |x| < 16^e16.
    let e16 = exponent.div_euclid(4) + 1;
    significand <<= exponent.rem_euclid(4);
    exponent = e16 + 64;
    if exponent <= 0 {
        return [0; 8];
    }
    let exponent = exponent.min(127) as u8;
    let mut out = [0u8; 8];
    out[0] = sign | exponent;
    out[1..].copy_from_slice(&significand.to_be_bytes()[1..]);
    out
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
        if name.is_empty() || name.len() > 8 || variables.len() > 9999 {
            return Err(invalid(format!(
                "dataset {name:?}: a name of 1–8 characters and at most 9999 variables"
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
            if v.name.is_empty() || v.name.len() > 8 || v.label.len() > 40 {
                return Err(invalid(format!(
                    "{name}.{}: a name of 1–8 and a label of at most 40 characters",
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
                (Value::Num(x), Kind::Num | Kind::Date) => self.observation.extend(ibm(*x)),
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
        // Values from TS-140's examples and their IBM bytes.
        assert_eq!(ibm(Some(1.0)), [0x41, 0x10, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(Some(-1.0)), [0xc1, 0x10, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(Some(0.5)), [0x40, 0x80, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(Some(16.0)), [0x42, 0x10, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(Some(100.0)), [0x42, 0x64, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(Some(0.0)), [0; 8]);
        assert_eq!(ibm(None), [0x2e, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ibm(Some(f64::NAN)), [0x2e, 0, 0, 0, 0, 0, 0, 0]);
        // 0.1 = 0x1.999999999999Ap-4 = 0x0.1999999999999A · 16^0.
        assert_eq!(
            ibm(Some(0.1)),
            [0x40, 0x19, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]
        );
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
