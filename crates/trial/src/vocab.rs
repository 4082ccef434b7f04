//! The closed vocabularies of the bundle (DATA-FORMAT.md §1): each column
//! whose values come from a fixed list is an enum here, spelled as the file
//! spells it, so that a typo is refused at the edge with the list of what is
//! allowed.

use std::fmt;
use std::str::FromStr;

/// A cell outside its column's list of values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{got}\" is not one of {allowed}")]
pub struct NotInVocabulary {
    got: String,
    allowed: String,
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        // A variant is the file's own spelling; the enum's doc says what they mean.
        #[allow(missing_docs)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the order the protocol lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every value as the bundle writes it, in the order of [`Self::ALL`].
            pub const VALUES: &'static [&'static str] = &[$($text),+];

            /// The value as the bundle writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = NotInVocabulary;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(NotInVocabulary {
                        got: s.to_owned(),
                        allowed: format!(
                            "{{{}}}",
                            $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// The two independent cohorts of the trial.
    Cohort {
        /// Relapsed or refractory T-ALL.
        RelapsedRefractory = "1",
        /// T-ALL in hematologic CR with MRD >= 1e-4.
        MrdPositive = "2",
    }
}

impl Cohort {
    /// 1 or 2, as the protocol numbers them.
    pub fn number(self) -> u8 {
        match self {
            Cohort::RelapsedRefractory => 1,
            Cohort::MrdPositive => 2,
        }
    }
}

vocabulary! {
    /// Sex as recorded at registration.
    Sex { F = "F", M = "M", X = "X" }
}

vocabulary! {
    /// Immunophenotypic subtype of the T-ALL.
    Immunophenotype { Early = "early", Thymic = "thymic", Mature = "mature", Unknown = "unknown" }
}

vocabulary! {
    /// Disease status at registration (the eligibility subtypes of §1).
    DiseaseStatus {
        /// Relapse < 12 months from first CR.
        EarlyRelapse = "early_relapse",
        /// Relapse >= 12 months from first CR.
        LateRelapse = "late_relapse",
        /// Never in CR.
        PrimaryRefractory = "primary_refractory",
        /// Any relapse after SCT.
        RelapseAfterSct = "relapse_after_sct",
        /// No response to >= 1 salvage.
        RefractoryRelapse = "refractory_relapse",
        /// Second or later relapse.
        SecondOrLaterRelapse = "second_or_later_relapse",
        /// MRD >= 1e-4 never cleared (cohort 2).
        MolecularFailure = "molecular_failure",
        /// MRD back to >= 1e-4 after clearing (cohort 2).
        MolecularRelapse = "molecular_relapse",
    }
}

vocabulary! {
    /// Dosing status of one planned infusion.
    DoseStatus {
        Given = "given", Delayed = "delayed", Reduced = "reduced",
        Interrupted = "interrupted", Omitted = "omitted",
    }
}

vocabulary! {
    /// When a hematologic assessment was done (its recorded timepoint, which
    /// decides the endpoint it serves; the date does not).
    AssessmentTimepoint {
        Screening = "screening", D22 = "d22", W9 = "w9", M3 = "m3", M6 = "m6",
        FollowUp = "fu", Unscheduled = "unscheduled",
    }
}

vocabulary! {
    /// Hematologic response categories of PROTOCOL.md §3.
    HemResponse {
        /// Complete remission.
        Cr = "CR",
        /// CR with incomplete hematologic recovery.
        Cri = "CRi",
        /// Partial remission.
        Pr = "PR",
        /// No response.
        Nr = "NR",
        /// Hematologic relapse.
        Relapse = "relapse",
        /// Not evaluable.
        Ne = "NE",
    }
}

impl HemResponse {
    /// CR or CRi: a responder for ORR.
    pub fn is_remission(self) -> bool {
        matches!(self, HemResponse::Cr | HemResponse::Cri)
    }

    /// Rank for "best response" (E04): CR > CRi > PR > NR > relapse > NE.
    pub fn rank(self) -> u8 {
        match self {
            HemResponse::Cr => 5,
            HemResponse::Cri => 4,
            HemResponse::Pr => 3,
            HemResponse::Nr => 2,
            HemResponse::Relapse => 1,
            HemResponse::Ne => 0,
        }
    }
}

vocabulary! {
    /// Sample material of an MRD result.
    Sample { Bm = "BM", Pb = "PB" }
}

vocabulary! {
    /// The final call of one MRD sample over its markers.
    MrdCall { Negative = "negative", PositiveNq = "positive_nq", Positive = "positive" }
}

vocabulary! {
    /// Laboratory that produced an MRD result.
    Lab { Central = "central", Local = "local" }
}

vocabulary! {
    /// Investigator's judgement of relatedness to isatuximab.
    Relatedness {
        NotRelated = "not_related", Unlikely = "unlikely", Possible = "possible",
        Probable = "probable", Definite = "definite",
    }
}

impl Relatedness {
    /// Possible, probable or definite: "related" in E02.
    pub fn is_related(self) -> bool {
        matches!(
            self,
            Relatedness::Possible | Relatedness::Probable | Relatedness::Definite
        )
    }
}

vocabulary! {
    /// Outcome of an adverse event.
    AeOutcome {
        Recovered = "recovered", Recovering = "recovering", NotRecovered = "not_recovered",
        RecoveredWithSequelae = "recovered_with_sequelae", Fatal = "fatal", Unknown = "unknown",
    }
}

vocabulary! {
    /// Action taken with isatuximab because of an adverse event.
    AeAction {
        None = "none", Delayed = "delayed", Interrupted = "interrupted",
        Reduced = "reduced", Withdrawn = "withdrawn",
    }
}

vocabulary! {
    /// Kind of stem cell transplant.
    SctType { Allogeneic = "allogeneic", Autologous = "autologous" }
}

vocabulary! {
    /// Donor of a stem cell transplant.
    Donor {
        MatchedRelated = "matched_related", MatchedUnrelated = "matched_unrelated",
        MismatchedUnrelated = "mismatched_unrelated", Haploidentical = "haploidentical",
        CordBlood = "cord_blood", Autologous = "autologous",
    }
}

vocabulary! {
    /// Conditioning intensity: myeloablative or reduced.
    Conditioning { Mac = "MAC", Ric = "RIC" }
}

vocabulary! {
    /// Graft source.
    GraftSource { Pbsc = "PBSC", Bm = "BM", Cb = "CB" }
}

vocabulary! {
    /// Acute or chronic graft-versus-host disease.
    GvhdKind { Acute = "acute", Chronic = "chronic" }
}

vocabulary! {
    /// GvHD grade: I–IV for acute, mild/moderate/severe for chronic.
    GvhdGrade {
        I = "I", Ii = "II", Iii = "III", Iv = "IV",
        Mild = "mild", Moderate = "moderate", Severe = "severe",
    }
}

impl GvhdGrade {
    /// Whether the grade belongs to the kind's scale.
    pub fn fits(self, kind: GvhdKind) -> bool {
        let acute = matches!(
            self,
            GvhdGrade::I | GvhdGrade::Ii | GvhdGrade::Iii | GvhdGrade::Iv
        );
        acute == (kind == GvhdKind::Acute)
    }
}

vocabulary! {
    /// Hematologic or molecular relapse.
    RelapseKind { Hematologic = "hematologic", Molecular = "molecular" }
}

vocabulary! {
    /// A site of a hematologic relapse.
    RelapseSite {
        BoneMarrow = "bone_marrow", Cns = "cns", Testis = "testis",
        Mediastinum = "mediastinum", Skin = "skin", Other = "other",
    }
}

vocabulary! {
    /// Timepoint of a QLQ-C30 questionnaire.
    QlqTimepoint { Baseline = "baseline", D22 = "d22", W9 = "w9", M3 = "m3", M6 = "m6" }
}

vocabulary! {
    /// Vital status at last contact.
    VitalStatus { Alive = "alive", Dead = "dead" }
}

vocabulary! {
    /// Cause of death.
    DeathCause {
        Leukemia = "leukemia", Infection = "infection", Gvhd = "gvhd",
        TreatmentRelated = "treatment_related", Other = "other", Unknown = "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_outside_the_list_names_the_list() {
        let err = "cr".parse::<HemResponse>().unwrap_err().to_string();
        assert_eq!(err, "\"cr\" is not one of {CR, CRi, PR, NR, relapse, NE}");
        assert_eq!("CRi".parse::<HemResponse>(), Ok(HemResponse::Cri));
    }

    #[test]
    fn acute_grades_do_not_fit_chronic_gvhd() {
        assert!(GvhdGrade::Ii.fits(GvhdKind::Acute));
        assert!(!GvhdGrade::Ii.fits(GvhdKind::Chronic));
        assert!(GvhdGrade::Severe.fits(GvhdKind::Chronic));
    }
}
