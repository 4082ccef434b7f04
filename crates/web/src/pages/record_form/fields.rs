//! A record's fields as a form shows them, and what a form posts back.

use serde_json::{Map, Value};
use store::FieldError;
use trial::bundle::{ColumnKind, FileSpec, column_kind};
use trial::ctcae::Dictionary;

use crate::pages::labels::{choice_label, column_label, hint};

/// A choice of a list or a box to tick.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One field of the form.
pub struct FieldView {
    pub name: &'static str,
    pub label: String,
    pub required: bool,
    /// `text`, `select`, `checks` or `term`.
    pub input: &'static str,
    /// `decimal`, `numeric` or `text`: the keyboard a phone or tablet shows.
    pub inputmode: &'static str,
    pub value: String,
    pub choices: Vec<Choice>,
    pub hint: &'static str,
    pub error: Option<String>,
    /// The id of the text that explains the field to a screen reader: its
    /// error, else its hint.
    pub described: String,
    /// Shown, sent, not changeable here: the patient a record belongs to,
    /// or a record's key.
    pub fixed: bool,
    /// After a conflict: what someone else saved meanwhile in a field the
    /// user changed too, otherwise.
    pub theirs: Option<String>,
}

/// Every CTCAE term, for the term field's list of suggestions.
pub fn ctcae_terms() -> &'static [String] {
    static TERMS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TERMS.get_or_init(|| {
        Dictionary::ctcae_v5()
            .terms()
            .iter()
            .map(|t| t.term.clone())
            .collect()
    })
}

/// A column's cell in a record's fields; empty when absent.
pub fn cell(fields: &Map<String, Value>, column: &str) -> String {
    fields
        .get(column)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Whether two cells of `column` say the same: ticked boxes in any order
/// are the same list.
pub fn same(spec: &FileSpec, column: &str, a: &str, b: &str) -> bool {
    match column_kind(spec, column) {
        ColumnKind::ChoiceList(_) => {
            fn set(s: &str) -> Vec<&str> {
                let mut items: Vec<&str> = s.split(';').filter(|i| !i.is_empty()).collect();
                items.sort_unstable();
                items
            }
            set(a) == set(b)
        }
        _ => a == b,
    }
}

/// What the user posted: the record's cells by column, and the form's own
/// fields, whose names start with `_` so that none clashes with a column
/// (`doses` has a `reason` column of its own).
pub struct Posted {
    pub cells: Map<String, Value>,
    pub csrf: Option<String>,
    pub version: Option<String>,
    pub reason: String,
}

impl Posted {
    /// Ticked boxes of one column arrive as several values: a `;` list,
    /// as the bundle writes it.
    pub fn read(spec: &FileSpec, pairs: Vec<(String, String)>) -> Posted {
        let mut posted = Posted {
            cells: Map::new(),
            csrf: None,
            version: None,
            reason: String::new(),
        };
        for (name, value) in pairs {
            match name.as_str() {
                "_csrf" => posted.csrf = Some(value),
                "_version" => posted.version = Some(value),
                "_reason" => posted.reason = value,
                _ => {
                    let list = matches!(column_kind(spec, &name), ColumnKind::ChoiceList(_));
                    match posted.cells.get_mut(&name) {
                        Some(Value::String(s)) if list => {
                            s.push(';');
                            s.push_str(&value);
                        }
                        _ => {
                            posted.cells.insert(name, Value::String(value));
                        }
                    }
                }
            }
        }
        posted
    }

    pub fn value(&self, column: &str) -> String {
        cell(&self.cells, column)
    }
}

/// The fields of `spec` holding `value(column)`, with `errors` placed at
/// their fields; `fixed` columns cannot be changed on this form.
pub fn field_views(
    spec: &FileSpec,
    value: impl Fn(&str) -> String,
    errors: &[FieldError],
    fixed: &[&str],
    theirs: impl Fn(&str) -> Option<String>,
) -> Vec<FieldView> {
    spec.columns
        .iter()
        .map(|&(name, required)| {
            let kind = column_kind(spec, name);
            let kind_hint = hint(kind);
            let value = value(name);
            let error = errors
                .iter()
                .filter(|e| e.field.as_deref() == Some(name))
                .map(|e| e.rule.clone())
                .reduce(|a, b| format!("{a}; {b}"));
            let (input, options): (&'static str, &[&str]) = match kind {
                ColumnKind::Choice(values) => ("select", values),
                ColumnKind::Boolean => ("select", &["true", "false"]),
                ColumnKind::ChoiceList(values) => ("checks", values),
                ColumnKind::CtcaeTerm => ("term", &[]),
                _ => ("text", &[]),
            };
            let ticked: Vec<&str> = value.split(';').collect();
            let mut choices: Vec<Choice> = options
                .iter()
                .map(|&v| Choice {
                    value: v.to_owned(),
                    label: choice_label(name, kind, v),
                    selected: if input == "checks" {
                        ticked.contains(&v)
                    } else {
                        value == v
                    },
                })
                .collect();
            // A value outside the list (typed into the API, or refused just
            // now) stays on the form, so that saving never drops it unseen.
            let unlisted = |v: &str| !v.is_empty() && !options.contains(&v);
            if input == "select" && unlisted(&value) {
                choices.push(Choice {
                    label: format!("{value} (not in the list)"),
                    value: value.clone(),
                    selected: true,
                });
            }
            if input == "checks" {
                for v in ticked.iter().copied().filter(|v| unlisted(v)) {
                    choices.push(Choice {
                        label: format!("{v} (not in the list)"),
                        value: v.to_owned(),
                        selected: true,
                    });
                }
            }
            let described = if error.is_some() {
                format!("error-{name}")
            } else if kind_hint.is_empty() {
                String::new()
            } else {
                format!("hint-{name}")
            };
            FieldView {
                name,
                label: column_label(store::stem(spec), name),
                required,
                input,
                inputmode: match kind {
                    ColumnKind::Number => "decimal",
                    ColumnKind::Count | ColumnKind::Date => "numeric",
                    _ => "text",
                },
                value,
                choices,
                hint: kind_hint,
                error,
                described,
                fixed: fixed.contains(&name),
                // Shown as the list shows it.
                theirs: theirs(name).map(|v| match kind {
                    ColumnKind::Choice(_) | ColumnKind::Boolean if !v.is_empty() => {
                        choice_label(name, kind, &v)
                    }
                    ColumnKind::ChoiceList(_) => v
                        .split(';')
                        .filter(|x| !x.is_empty())
                        .map(|x| choice_label(name, kind, x))
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => v,
                }),
            }
        })
        .collect()
}

/// Makes the registration's site a list of the sites the user reaches,
/// fixed when there is one: a site typed by hand (`s1` for `S1`) would
/// put a patient where nobody of the site sees it.
pub fn offer_sites(fields: &mut [FieldView], sites: &[String]) {
    let Some(field) = fields.iter_mut().find(|f| f.name == "site_id") else {
        return;
    };
    if sites.len() == 1 && (field.value.is_empty() || field.value == sites[0]) {
        field.value = sites[0].clone();
        field.fixed = true;
        return;
    }
    field.input = "select";
    field.choices = sites
        .iter()
        .map(|s| Choice {
            value: s.clone(),
            label: s.clone(),
            selected: *s == field.value,
        })
        .collect();
    if !field.value.is_empty() && !sites.contains(&field.value) {
        field.choices.push(Choice {
            label: format!("{} (not a site you reach)", field.value),
            value: field.value.clone(),
            selected: true,
        });
    }
}
