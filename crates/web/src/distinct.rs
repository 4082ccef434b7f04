//! A JSON body that names a key twice is refused: `serde_json`'s maps keep
//! the last value silently, so `{"reason": "a", "reason": "b"}` would be
//! audited as "b" and a record's cell given twice would take its second.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Any JSON value in which no object names a key twice.
pub struct Distinct;

/// The message's prefix, by which the caller tells this refusal from
/// other parse errors.
pub const TWICE: &str = "is given twice";

impl<'de> Deserialize<'de> for Distinct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DistinctVisitor)
    }
}

struct DistinctVisitor;

impl<'de> Visitor<'de> for DistinctVisitor {
    type Value = Distinct;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_str<E>(self, _: &str) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_unit<E>(self) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Distinct, A::Error> {
        while seq.next_element::<Distinct>()?.is_some() {}
        Ok(Distinct)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Distinct, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<Distinct>()?;
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("`{key}` {TWICE}")));
            }
        }
        Ok(Distinct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_named_twice_at_any_depth_is_refused() {
        for ok in [r#"{"a":1,"b":[{"a":2},{"a":3}]}"#, "[]", "null", r#""x""#] {
            assert!(serde_json::from_str::<Distinct>(ok).is_ok(), "{ok}");
        }
        for twice in [r#"{"a":1,"a":2}"#, r#"{"r":{"x":1,"y":[],"x":"2"}}"#] {
            let err = serde_json::from_str::<Distinct>(twice).err().unwrap();
            assert!(err.to_string().contains(TWICE), "{twice}: {err}");
        }
    }
}
