//! The HTML page is one self-contained, escaped, deterministic file with a
//! section per endpoint, a plot per curve and every table.

use trial::results::{Endpoint, Value};

use crate::common::bundle_60;

#[test]
fn the_page_is_self_contained() {
    let html = report::render_html(bundle_60());
    for forbidden in ["http://", "https://", "<script", "src=", "@import", "url("] {
        assert!(!html.contains(forbidden), "the page holds {forbidden:?}");
    }
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<style>"));
}

#[test]
fn cut_off_and_protocol_version_lead_the_page_and_contents_list_every_section() {
    let results = bundle_60();
    let html = report::render_html(results);
    let nav = html.find("<nav>").unwrap();
    let head = &html[..nav];
    assert!(head.contains("<th>Data cut-off</th><td>2026-06-30</td>"));
    assert!(head.contains(&format!(
        "<th>Protocol version</th><td>{}</td>",
        results.protocol_version
    )));
    for code in [
        "disposition",
        "E01",
        "E02",
        "E03",
        "E04",
        "E05",
        "E06",
        "E07",
        "E08",
        "E09",
        "E10",
        "E11",
        "E12",
        "E13",
        "E14",
        "E15",
        "E16",
        "E17",
        "courses",
    ] {
        assert!(
            html.contains(&format!("<a href='#{code}'>")),
            "{code} in contents"
        );
        assert!(
            html.contains(&format!("<section id='{code}'>")),
            "{code} section"
        );
    }
    assert!(html.contains(Endpoint::E06.title()));
}

#[test]
fn every_curve_is_drawn_and_every_table_rendered_under_its_endpoint() {
    let results = bundle_60();
    let html = report::render_html(results);
    assert!(!results.curves.is_empty());
    for c in &results.curves {
        let marker = format!(
            "<g class=\"curve\" data-curve=\"{} cohort {} {}\">",
            c.endpoint.code(),
            c.cohort,
            c.name
        );
        let at = html
            .find(&marker)
            .unwrap_or_else(|| panic!("no plot for {marker}"));
        let svg_open = html[..at].rfind("<svg").unwrap();
        assert!(
            html[..at]
                .rfind("</svg>")
                .is_none_or(|close| close < svg_open)
        );
        assert!(
            section_of(&html, at) == c.endpoint.code(),
            "{marker} under its endpoint"
        );
    }
    for t in &results.tables {
        let at = html
            .find(&format!("<table id='t-{}'>", t.id))
            .unwrap_or_else(|| panic!("table {} rendered", t.id));
        assert_eq!(section_of(&html, at), t.endpoint.code(), "{}", t.id);
    }
    // A swimmer plot per cohort and a QLQ-C30 profile per cohort.
    assert!(html.contains("Cohort 1: course of each patient"));
    assert!(html.contains("E16 cohort 1: mean QLQ-C30 scores"));
}

fn section_of(html: &str, at: usize) -> &str {
    let open = html[..at].rfind("<section id='").unwrap() + "<section id='".len();
    &html[open..open + html[open..].find('\'').unwrap()]
}

#[test]
fn text_from_the_data_is_escaped() {
    let mut results = bundle_60().clone();
    results.tables[0].rows[0][0] = "<b>x</b> & <script>alert(1)</script>".into();
    let html = report::render_html(&results);
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<b>x</b>") && !html.contains("<script"));
    // Patient ids cannot hold markup at all: they are ASCII letters,
    // digits, '-', '_' and '.'.
    assert!("P<01>".parse::<trial::values::Id>().is_err());
}

#[test]
fn headline_statistics_read_as_a_statistician_writes_them() {
    let results = bundle_60();
    let html = report::render_html(results);
    // E01 cohort 1 of bundle-60: 6/33, 18.2 %, 7.0–35.5 %.
    let orr = results
        .statistics
        .iter()
        .find(|s| s.name == "orr_w9" && s.cohort == 1)
        .unwrap();
    let Value::Proportion { n, total, .. } = orr.value else {
        panic!("orr_w9 is a proportion")
    };
    assert_eq!((n, total), (6, 33));
    assert!(html.contains("6/33 (18.2 %; 95 % CI 7.0–35.5 %"), "ORR");
    // E05 ccr cohort 1: median 335 days, upper bound not reached.
    assert!(html.contains("335 days (95 % CI 13–NR)"), "CCR median");
    // Landmarks read in months.
    assert!(html.contains("<td>at 18 months</td>"));
    assert!(!html.contains("NaN"), "unknowns print as NA");
}

#[test]
fn rendering_is_deterministic() {
    let results = bundle_60();
    assert_eq!(report::render_html(results), report::render_html(results));
}
