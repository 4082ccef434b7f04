//! The report page: one self-contained HTML file that a statistician, an
//! investigator and a sponsor can read on screen and print — protocol and
//! cut-off on top, a table of contents, disposition, then every endpoint
//! with its headline statistics, plots and tables, and each patient's
//! course at the end. All text from the data is escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use trial::qlq::{SCALES, ScaleKind};
use trial::results::{AnalysisSet, Curve, Endpoint, Results, Statistic, Swimmer, Table, Value};

use crate::format::{at_time, cell, median_tte, num, p_value, pct, pct_ci};
use crate::svg;

/// Sections in reading order: the CONSORT-style flow leads, as in a
/// clinical study report.
const SECTIONS: [Endpoint; 18] = [
    Endpoint::Disposition,
    Endpoint::E01,
    Endpoint::E02,
    Endpoint::E03,
    Endpoint::E04,
    Endpoint::E05,
    Endpoint::E06,
    Endpoint::E07,
    Endpoint::E08,
    Endpoint::E09,
    Endpoint::E10,
    Endpoint::E11,
    Endpoint::E12,
    Endpoint::E13,
    Endpoint::E14,
    Endpoint::E15,
    Endpoint::E16,
    Endpoint::E17,
];

/// Patients per cohort in the swimmer plot: beyond this the rows are too
/// thin to read; the CSV tables still list everyone.
const SWIMMERS_PER_COHORT: usize = 80;

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1a1a1a;max-width:1100px;margin:0 auto;padding:0 24px 48px}
h1{font-size:24px;margin:24px 0 8px}
h2{font-size:19px;margin:40px 0 10px;border-bottom:2px solid #0072B2;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}
table{border-collapse:collapse;margin:8px 0 18px;font-size:13px}
th,td{border:1px solid #c8c8c8;padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#eef2f6}
tbody tr:nth-child(even){background:#fafafa}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
caption{text-align:left;font-weight:600;padding:4px 0}
table.meta th{background:#eef2f6;width:12em}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
nav ol{columns:2;padding-left:22px}
.note{color:#555;font-size:12px}
svg.plot{display:block;max-width:100%;height:auto;margin:10px 0 18px}
svg text{font:11px system-ui,Arial,sans-serif;fill:#333}
svg text.t{font-size:13px;font-weight:600}
svg text.b{font-weight:600}
svg text.p{font-size:8px}
@media print{body{max-width:none;padding:0;font-size:11px}a{color:inherit;text-decoration:none}h2{break-after:avoid}table,svg,figure{break-inside:avoid}thead{display:table-header-group}}
@page{margin:15mm}
";

/// Escapes text for HTML and SVG (element content and quoted attributes),
/// so a patient id or a table cell can never become markup.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn kind_label(v: &Value) -> &'static str {
    match v {
        Value::Proportion { .. } => "proportion",
        Value::KmAt { .. } => "Kaplan–Meier",
        Value::CifAt { .. } => "cumulative incidence",
        Value::Median { .. } => "median",
        Value::Mean { .. } => "mean",
        Value::Count { .. } => "count",
    }
}

fn set_label(a: AnalysisSet) -> &'static str {
    match a {
        AnalysisSet::Registered => "registered",
        AnalysisSet::Fas => "FAS",
        AnalysisSet::Safety => "safety",
        AnalysisSet::FasSubset => "FAS subset",
    }
}

/// What a median means depends on where it came from, which `Value` does
/// not say: a time-to-event median (a Kaplan–Meier sibling exists, or the
/// reverse-KM follow-up) prints "NR" when unreached, and "NA" only when
/// nobody was analysed; E12's carries quartiles; the rest are plain.
enum MedianKind {
    TimeToEvent { analysed: bool },
    Quartiles,
    Plain,
}

/// Patients analysed by each Kaplan–Meier statistic, keyed by endpoint,
/// cohort and name, to tell a time-to-event median from a descriptive one.
type KmTotals<'a> = BTreeMap<(Endpoint, u8, &'a str), u64>;

fn km_totals(stats: &[Statistic]) -> KmTotals<'_> {
    let mut totals = BTreeMap::new();
    for s in stats {
        if let Value::KmAt { total, .. } = s.value {
            totals.insert((s.endpoint, s.cohort, s.name.as_str()), total);
        }
    }
    totals
}

fn median_kind(s: &Statistic, totals: &KmTotals<'_>) -> MedianKind {
    if let Some(&total) = totals.get(&(s.endpoint, s.cohort, s.name.as_str())) {
        MedianKind::TimeToEvent {
            analysed: total > 0,
        }
    } else if s.name == "median_follow_up" {
        MedianKind::TimeToEvent { analysed: true }
    } else if s.endpoint == Endpoint::E12 {
        MedianKind::Quartiles
    } else {
        MedianKind::Plain
    }
}

/// A headline value as a statistician writes it: "n/N (x %; 95 % CI a–b %)",
/// "x % (95 % CI a–b %)" with the numbers at risk, medians with their
/// interval and "NR", unknowns as "NA".
fn value_text(s: &Statistic, totals: &KmTotals<'_>) -> String {
    match &s.value {
        Value::Proportion {
            n,
            total,
            estimate,
            lower,
            upper,
        } => {
            let mut t = format!(
                "{n}/{total} ({}; {})",
                pct(*estimate),
                pct_ci(*lower, *upper)
            );
            if let Some(p) = s.p_value {
                let _ = write!(t, "; one-sided exact p {}", p_value(p));
            }
            t
        }
        Value::KmAt {
            estimate,
            lower,
            upper,
            at_risk,
            events,
            total,
            ..
        } => format!(
            "{} ({}); {at_risk} at risk, {events} event{}, N = {total}",
            pct(*estimate),
            pct_ci(*lower, *upper),
            if *events == 1 { "" } else { "s" }
        ),
        Value::CifAt {
            estimate,
            lower,
            upper,
            total,
            ..
        } => format!(
            "{} ({}); N = {total}",
            pct(*estimate),
            pct_ci(*lower, *upper)
        ),
        Value::Median {
            estimate,
            lower,
            upper,
        } => match median_kind(s, totals) {
            MedianKind::TimeToEvent { analysed: false } => "NA".into(),
            MedianKind::TimeToEvent { analysed: true } => median_tte(*estimate, *lower, *upper),
            MedianKind::Quartiles => format!(
                "{} (IQR {}–{})",
                num(*estimate, 2),
                num(*lower, 2),
                num(*upper, 2)
            ),
            MedianKind::Plain => num(*estimate, 1),
        },
        Value::Mean { estimate, n } => format!("{} (n = {n})", num(*estimate, 1)),
        Value::Count { n } => n.to_string(),
    }
}

/// The "when" of a statistic: its window, timepoint or reading time.
fn when_text(s: &Statistic) -> String {
    let window = s.window.or(s.timepoint).map(str::to_owned);
    match s.value {
        Value::KmAt { time, .. } | Value::CifAt { time, .. } => {
            let at = at_time(time);
            window.map_or(at.clone(), |w| format!("{w}, {at}"))
        }
        _ => window.unwrap_or_default(),
    }
}

/// Headline statistics of one endpoint, one row per statistic and one
/// column per cohort, so the cohorts read side by side.
fn statistics_table(stats: &[&Statistic], totals: &KmTotals<'_>) -> String {
    let mut cohorts: Vec<u8> = stats.iter().map(|s| s.cohort).collect();
    cohorts.sort_unstable();
    cohorts.dedup();
    // Rows in the engine's order of first appearance.
    let mut rows: Vec<(String, &Statistic, BTreeMap<u8, String>)> = Vec::new();
    for s in stats {
        let key = format!(
            "{}\u{0}{}\u{0}{}",
            s.name,
            kind_label(&s.value),
            when_text(s)
        );
        let text = value_text(s, totals);
        match rows.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, cells)) => {
                cells.insert(s.cohort, text);
            }
            None => rows.push((key, s, BTreeMap::from([(s.cohort, text)]))),
        }
    }
    let mut h = String::from(
        "<table class=stats><thead><tr><th>statistic</th><th>kind</th><th>when</th><th>set</th>",
    );
    for c in &cohorts {
        let _ = write!(h, "<th>cohort {c}</th>");
    }
    h.push_str("</tr></thead><tbody>");
    for (_, s, cells) in &rows {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>",
            esc(&s.name),
            kind_label(&s.value),
            esc(&when_text(s)),
            set_label(s.analysis_set)
        );
        for c in &cohorts {
            let text = cells.get(c).map_or("—", String::as_str);
            let _ = write!(h, "<td class=n>{}</td>", esc(text));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    h
}

fn looks_numeric(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    s.starts_with(|c: char| c.is_ascii_digit()) || s == "NA"
}

fn table_html(t: &Table) -> String {
    let mut h = format!(
        "<table id='t-{}'><caption>{}</caption><thead><tr>",
        esc(&t.id),
        esc(&t.title)
    );
    for c in &t.columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        h.push_str("<tr>");
        for c in row {
            let c = cell(c);
            let class = if looks_numeric(c) { " class=n" } else { "" };
            let _ = write!(h, "<td{class}>{}</td>", esc(c));
        }
        h.push_str("</tr>");
    }
    let _ = write!(
        h,
        "</tbody></table><p class=note>Also in <code>tables/{}.csv</code>.</p>",
        esc(&t.id)
    );
    h
}

/// One plot per statistic, with the cohorts overlaid, in the engine's order.
fn curve_plots(endpoint: Endpoint, curves: &[Curve]) -> String {
    let mut groups: Vec<(&str, Vec<&Curve>)> = Vec::new();
    for c in curves.iter().filter(|c| c.endpoint == endpoint) {
        match groups.iter_mut().find(|(n, _)| *n == c.name) {
            Some((_, g)) => g.push(c),
            None => groups.push((&c.name, vec![c])),
        }
    }
    let mut h = String::new();
    for (name, group) in groups {
        let kind = if group[0].survival {
            "Kaplan–Meier estimate"
        } else {
            "cumulative incidence"
        };
        let title = format!("{} {name}: {kind} with 95 % band", endpoint.code());
        h.push_str(&svg::curve_plot(&title, &group));
    }
    h
}

/// E16's profile: mean score of each scale at each timepoint, per cohort;
/// functional scales (higher is better) apart from symptoms (higher is worse).
fn qlq_profiles(stats: &[&Statistic]) -> String {
    let mut categories: Vec<(&str, u8)> = SCALES
        .iter()
        .map(|s| (s.code, u8::from(s.kind == ScaleKind::Symptom)))
        .collect();
    categories.push(("SUMMARY", 2));
    // Labels fit the category width; "SUMMARY" would run into "FI".
    let labels: Vec<(&str, u8)> = categories
        .iter()
        .map(|&(c, g)| (if c == "SUMMARY" { "SUM" } else { c }, g))
        .collect();
    let mut cohorts: Vec<u8> = stats.iter().map(|s| s.cohort).collect();
    cohorts.sort_unstable();
    cohorts.dedup();
    let mut h = String::new();
    for cohort in cohorts {
        let mut series: Vec<(&str, Vec<f64>)> = Vec::new();
        for s in stats.iter().filter(|s| s.cohort == cohort) {
            let (Some(tp), Some(code), Value::Mean { estimate, .. }) =
                (s.timepoint, s.name.strip_prefix("qlq_"), &s.value)
            else {
                continue;
            };
            let Some(i) = categories.iter().position(|(c, _)| *c == code) else {
                continue;
            };
            let k = match series.iter().position(|(t, _)| *t == tp) {
                Some(k) => k,
                None => {
                    series.push((tp, vec![f64::NAN; categories.len()]));
                    series.len() - 1
                }
            };
            series[k].1[i] = *estimate;
        }
        if !series.is_empty() {
            let title = format!(
                "E16 cohort {cohort}: mean QLQ-C30 scores (functional | symptom | SUM: summary score)"
            );
            h.push_str(&svg::profile_plot(&title, &labels, &series));
        }
    }
    h
}

fn swimmers(results: &Results) -> String {
    let mut cohorts: Vec<u8> = results.swimmers.iter().map(|s| s.cohort).collect();
    cohorts.sort_unstable();
    cohorts.dedup();
    let mut h = String::new();
    if cohorts.is_empty() {
        h.push_str("<p>No patients.</p>");
    }
    for cohort in cohorts {
        let mut rows: Vec<(&str, &Swimmer)> = results
            .swimmers
            .iter()
            .filter(|r| r.cohort == cohort)
            .map(|r| (results.patient_id(r.patient), r))
            .collect();
        // Longest follow-up on top, as swimmer plots are read.
        rows.sort_by(|(a_id, a), (b_id, b)| b.follow_up.cmp(&a.follow_up).then(a_id.cmp(b_id)));
        let all = rows.len();
        rows.truncate(SWIMMERS_PER_COHORT);
        let title = format!("Cohort {cohort}: course of each patient");
        h.push_str(&svg::swimmer_plot(&title, &rows));
        if all > rows.len() {
            let _ = write!(
                h,
                "<p class=note>The {} patients of cohort {cohort} with the longest follow-up of {all} are shown.</p>",
                rows.len()
            );
        }
    }
    h
}

/// The whole page, deterministic for given results (no clock, no random
/// ids), so two runs on the same data give the same file.
pub fn render_html(results: &Results) -> String {
    let totals = km_totals(&results.statistics);
    let mut page = String::with_capacity(1 << 16);
    let _ = writeln!(
        page,
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'><title>{} {} — report, cut-off {}</title><style>{STYLE}</style></head><body>",
        esc(&results.protocol_name),
        esc(&results.protocol_version),
        results.cutoff
    );
    let _ = writeln!(
        page,
        "<header><h1>{name}: outcome report</h1><table class=meta><tr><th>Protocol</th><td>{name}</td></tr><tr><th>Protocol version</th><td>{version}</td></tr><tr><th>Data cut-off</th><td>{cutoff}</td></tr></table>\
<p class=note>Every number is computed from the recorded facts by the protocol's definitions. Proportions are n/N with an exact (Clopper–Pearson) two-sided 95 % confidence interval; Kaplan–Meier and cumulative-incidence estimates carry pointwise 95 % intervals. Times are in days from each endpoint's origin; a month is 30.4375 days. NR: not reached; NA: not available. FAS: full analysis set.</p></header>",
        name = esc(&results.protocol_name),
        version = esc(&results.protocol_version),
        cutoff = results.cutoff
    );
    page.push_str("<nav><h2>Contents</h2><ol>");
    for e in SECTIONS {
        let _ = write!(
            page,
            "<li><a href='#{}'>{}</a></li>",
            e.code(),
            esc(&section_title(e))
        );
    }
    page.push_str("<li><a href='#courses'>Course of each patient</a></li></ol></nav>\n");
    for e in SECTIONS {
        let _ = write!(
            page,
            "<section id='{}'><h2>{}</h2>",
            e.code(),
            esc(&section_title(e))
        );
        let stats: Vec<&Statistic> = results
            .statistics
            .iter()
            .filter(|s| s.endpoint == e)
            .collect();
        let tables: Vec<&Table> = results.tables.iter().filter(|t| t.endpoint == e).collect();
        let plots = curve_plots(e, &results.curves);
        if stats.is_empty() && tables.is_empty() && plots.is_empty() {
            page.push_str("<p class=note>No results for this endpoint in these data.</p>");
        }
        if !stats.is_empty() {
            page.push_str(&statistics_table(&stats, &totals));
        }
        page.push_str(&plots);
        if e == Endpoint::E16 {
            page.push_str(&qlq_profiles(&stats));
        }
        for t in tables {
            page.push_str(&table_html(t));
        }
        page.push_str("</section>\n");
    }
    page.push_str("<section id='courses'><h2>Course of each patient</h2>");
    page.push_str(&swimmers(results));
    page.push_str("</section>\n</body></html>\n");
    page
}

fn section_title(e: Endpoint) -> String {
    if e == Endpoint::Disposition {
        e.title().to_owned()
    } else {
        format!("{} — {}", e.code(), e.title())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(esc("<b>&'\""), "&lt;b&gt;&amp;&#39;&quot;");
    }
}
