//! Many result rows as one: the reads of the hot paths (a casebook, a
//! change's context, a batch's stamps) aggregate their rows into a single
//! text in SQL and take it apart here.
//!
//! sqlx's SQLite driver hands every result row from the connection's worker
//! thread to the caller on its own, and on our VMs that hand-off costs more
//! than SQLite's work for the row: a 27-record casebook took 570–690 µs of
//! CPU row by row and 200–260 µs as one packed row (same pool, same
//! patients, alternating in one process).
//!
//! Each field is written as its length in bytes, a colon and its bytes, so
//! any text survives without a separator to escape, and the SQL
//! (`octet_length`, `||`, `string_agg … ORDER BY`) is the same on SQLite
//! and PostgreSQL.

use crate::error::StoreError;

/// SQL for one packed record: each expression as text, prefixed by its
/// length. Every expression must be NOT NULL (a NULL makes the whole
/// record NULL, which `string_agg` would skip).
pub(crate) fn record(exprs: &[&str]) -> String {
    exprs
        .iter()
        .map(|e| {
            format!("CAST(octet_length(CAST({e} AS TEXT)) AS TEXT) || ':' || CAST({e} AS TEXT)")
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

/// SQL aggregating the packed records of a query's rows, in `order`; NULL
/// when there are no rows.
pub(crate) fn records(exprs: &[&str], order: &str) -> String {
    format!("string_agg({}, '' ORDER BY {order})", record(exprs))
}

/// Reads packed fields back, in the order they were packed.
pub(crate) struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Fields<'a> {
    /// The fields of a packed text (`None`: no rows, nothing to read).
    pub(crate) fn new(text: Option<&'a str>) -> Self {
        Fields {
            rest: text.unwrap_or_default(),
        }
    }

    /// Whether every field has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next field.
    pub(crate) fn text(&mut self) -> Result<&'a str, StoreError> {
        let bad = || {
            StoreError::Database(format!(
                "packed rows: cannot read a field at \"{:.40}\"",
                self.rest
            ))
        };
        let (len, after) = self.rest.split_once(':').ok_or_else(bad)?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let field = after.get(..len).ok_or_else(bad)?;
        self.rest = &after[len..];
        Ok(field)
    }

    /// The next field, an integer.
    pub(crate) fn int(&mut self) -> Result<i64, StoreError> {
        let field = self.text()?;
        field.parse().map_err(|_| {
            StoreError::Database(format!("packed rows: \"{field}\" is not an integer"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_text_comes_back_whole() {
        let texts = ["", "a:b", "12:x", "zwölf\nzeilen", "\u{0}"];
        let mut packed = String::new();
        for t in texts {
            packed.push_str(&format!("{}:{t}", t.len()));
        }
        let mut fields = Fields::new(Some(&packed));
        for t in texts {
            assert_eq!(fields.text().unwrap(), t);
        }
        assert!(fields.is_empty());
    }

    #[test]
    fn a_broken_text_is_an_error_not_a_panic() {
        for broken in ["5:abc", "x:abc", "abc", "1:é"] {
            assert!(Fields::new(Some(broken)).text().is_err(), "{broken}");
        }
        assert!(Fields::new(Some("3:abc")).int().is_err());
        assert!(Fields::new(None).is_empty());
    }
}
