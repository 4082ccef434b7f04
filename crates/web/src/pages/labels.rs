//! How the forms name the bundle's tables and columns, and what they tell
//! the user a field expects: the protocol's words for people who enter
//! data, where the bundle has file and column names.

use trial::bundle::{ColumnKind, FileSpec};

/// A table as the protocol's readers name it, where the bundle has a file
/// name.
pub fn table_title(spec: &FileSpec) -> &'static str {
    match store::stem(spec) {
        "patients" => "Registration",
        "status" => "Status and follow-up",
        "doses" => "Isatuximab infusions",
        "assessments" => "Hematologic assessments",
        "mrd" => "MRD results",
        "adverse_events" => "Adverse events",
        "sct" => "Stem cell transplantation",
        "gvhd" => "Graft-versus-host disease",
        "relapses" => "Relapses",
        "qlq_c30" => "EORTC QLQ-C30 questionnaires",
        "hospital_stays" => "Hospital stays",
        other => other,
    }
}

/// A column of `table` as a form labels it: `registration_date` →
/// "Registration date", with the protocol's abbreviations kept.
pub fn column_label(table: &str, column: &str) -> String {
    match (table, column) {
        ("doses", "reason") => return "Reason the dose was not given as planned".into(),
        ("hospital_stays", "reason") => return "Reason for admission".into(),
        _ => {}
    }
    match column {
        "patient_id" => return "Patient".into(),
        "site_id" => return "Site".into(),
        "ae_id" => return "AE number".into(),
        "cd38_positive" => return "CD38 positive".into(),
        "bm_blasts_pct" => return "Bone-marrow blasts (%)".into(),
        "screening_bm_blasts_pct" => return "Screening bone-marrow blasts (%)".into(),
        "screening_mrd_level" => return "Screening MRD level (fraction)".into(),
        "screening_mrd_sensitivity" => return "Screening MRD sensitivity (fraction)".into(),
        "pb_blasts" => return "Blasts in peripheral blood".into(),
        "anc" => return "ANC (10⁹/L)".into(),
        "platelets" => return "Platelets (10⁹/L)".into(),
        "emd" => return "Extramedullary disease".into(),
        "planned_mg_per_kg" => return "Planned dose (mg/kg)".into(),
        "given_mg_per_kg" => return "Given dose (mg/kg)".into(),
        "term" => return "CTCAE 5.0 term".into(),
        "first_cr_date" => return "First CR date".into(),
        "prior_sct_date" => return "Prior SCT date".into(),
        "last_chemo_date" => return "Last chemotherapy date".into(),
        _ => {}
    }
    if let Some(item) = column.strip_prefix('q')
        && item.parse::<u8>().is_ok()
    {
        return format!("Item {item}");
    }
    let words = column.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a field of `kind` expects, shown under it.
pub fn hint(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Date => "YYYY-MM-DD",
        ColumnKind::Count => "a whole number",
        ColumnKind::Number => "a number; a decimal point, not a comma",
        ColumnKind::CtcaeTerm => "as CTCAE 5.0 spells it; the list offers every term",
        ColumnKind::ChoiceList(_) => "tick every one that applies",
        ColumnKind::Choice(_) | ColumnKind::Boolean | ColumnKind::Text => "",
    }
}

/// A choice as a list shows it: yes/no for booleans, the protocol's labels
/// for the QLQ-C30 answers, the value itself otherwise.
pub fn choice_label(column: &str, kind: ColumnKind, value: &str) -> String {
    match (kind, value) {
        (ColumnKind::Boolean, "true") => return "yes".into(),
        (ColumnKind::Boolean, "false") => return "no".into(),
        _ => {}
    }
    let qlq_item = column.strip_prefix('q').and_then(|n| n.parse::<u8>().ok());
    match (qlq_item, value) {
        (Some(29 | 30), "1") => "1 very poor".into(),
        (Some(29 | 30), "7") => "7 excellent".into(),
        (Some(1..=28), "1") => "1 not at all".into(),
        (Some(1..=28), "2") => "2 a little".into(),
        (Some(1..=28), "3") => "3 quite a bit".into(),
        (Some(1..=28), "4") => "4 very much".into(),
        _ => value.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_as_words() {
        assert_eq!(column_label("t", "registration_date"), "Registration date");
        assert_eq!(column_label("t", "q17"), "Item 17");
        assert_eq!(column_label("t", "anc"), "ANC (10⁹/L)");
        assert_eq!(column_label("t", "qualifier"), "Qualifier");
    }

    #[test]
    fn choices_read_as_the_questionnaire_prints_them() {
        assert_eq!(
            choice_label("q3", ColumnKind::Choice(&["3"]), "3"),
            "3 quite a bit"
        );
        assert_eq!(
            choice_label("q30", ColumnKind::Choice(&["7"]), "7"),
            "7 excellent"
        );
        assert_eq!(choice_label("q30", ColumnKind::Choice(&["4"]), "4"), "4");
        assert_eq!(choice_label("serious", ColumnKind::Boolean, "true"), "yes");
        assert_eq!(
            choice_label(
                "outcome",
                ColumnKind::Choice(&[]),
                "recovered_with_sequelae"
            ),
            "recovered with sequelae"
        );
    }
}
