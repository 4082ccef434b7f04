//! The CTCAE 5.0 dictionary (837 terms, 26 system organ classes), shipped
//! inside the program so that a site without network can still code AEs.
//! An AE holds a [`TermId`], so a term outside the dictionary cannot exist
//! past the edge.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The dictionary as tabulated from the public NCI release.
const TERMS_CSV: &str = include_str!("../data/ctcae_v5_terms.csv");

/// One CTCAE term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// MedDRA lowest-level-term code.
    pub meddra_code: u32,
    /// Term as NCI spells it.
    pub term: String,
    /// System organ class.
    pub soc: String,
}

impl Term {
    /// The "… - Other, specify" terms need a verbatim description.
    pub fn needs_verbatim(&self) -> bool {
        self.term.ends_with("Other, specify")
    }

    /// Infusion-related reactions are tabulated apart in E02.
    pub fn is_infusion_reaction(&self) -> bool {
        self.term == "Infusion related reaction"
    }
}

/// Index of a term in the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TermId(u16);

/// The dictionary with a lookup by exact term.
#[derive(Debug)]
pub struct Dictionary {
    terms: Vec<Term>,
    by_name: HashMap<String, TermId>,
}

impl Dictionary {
    /// The shipped CTCAE 5.0 dictionary.
    pub fn ctcae_v5() -> &'static Dictionary {
        static DICT: OnceLock<Dictionary> = OnceLock::new();
        DICT.get_or_init(|| {
            let mut reader = csv::Reader::from_reader(TERMS_CSV.as_bytes());
            let terms: Vec<Term> = reader
                .records()
                .map(|r| {
                    let r = r.expect("the shipped dictionary is valid CSV");
                    Term {
                        meddra_code: r[0].parse().expect("the shipped codes are numbers"),
                        term: r[1].to_owned(),
                        soc: r[2].to_owned(),
                    }
                })
                .collect();
            let by_name = terms
                .iter()
                .enumerate()
                .map(|(i, t)| (t.term.clone(), TermId(i as u16)))
                .collect();
            Dictionary { terms, by_name }
        })
    }

    /// The term spelled exactly so.
    pub fn find(&self, term: &str) -> Option<TermId> {
        self.by_name.get(term).copied()
    }

    /// The term of an id.
    pub fn term(&self, id: TermId) -> &Term {
        &self.terms[usize::from(id.0)]
    }

    /// Every term.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_dictionary_has_837_terms_in_26_classes() {
        let d = Dictionary::ctcae_v5();
        assert_eq!(d.terms().len(), 837);
        let socs: std::collections::HashSet<_> = d.terms().iter().map(|t| &t.soc).collect();
        assert_eq!(socs.len(), 26);
        let sepsis = d.term(d.find("Sepsis").unwrap());
        assert_eq!(sepsis.soc, "Infections and infestations");
        assert!(d.find("sepsis").is_none());
    }
}
