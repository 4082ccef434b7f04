//! Plots as hand-written SVG. The text is deterministic (coordinates to
//! 0.1 px, curves in the order given), so a plot can be compared in a test
//! and diffed in review, and viewing it needs no plotting library, font
//! file or script.

use std::fmt::Write;

use trial::results::{Curve, Swimmer};

use crate::format::DAYS_PER_MONTH;
use crate::html::esc;

/// Series colours (Okabe–Ito): distinguishable with colour-blindness and
/// in greyscale print by their order in the legend.
const COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];

/// Width of every plot, so plots line up on the page and in print.
const WIDTH: f64 = 640.0;

fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

fn open_svg(s: &mut String, height: f64, title: &str, left: f64) {
    let _ = write!(
        s,
        r#"<svg class="plot" viewBox="0 0 {WIDTH:.0} {height:.0}" width="{WIDTH:.0}" height="{height:.0}" role="img" aria-label="{t}"><text x="{left:.1}" y="18" class="t">{t}</text>"#,
        t = esc(title)
    );
}

/// Where the plotting area sits and how many days its right edge is.
#[derive(Debug, Clone, Copy)]
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    days: f64,
}

impl Frame {
    fn x(&self, days: f64) -> f64 {
        self.left + self.width * (days / self.days).clamp(0.0, 1.0)
    }

    fn y(&self, p: f64) -> f64 {
        self.top + self.height * (1.0 - p.clamp(0.0, 1.0))
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// Tick spacing and axis end in months: every 3 months up to two years,
/// 6 up to four, 12 beyond, so labels never crowd.
fn month_axis(last_day: f64) -> (f64, f64) {
    let months = (last_day / DAYS_PER_MONTH).max(0.0);
    let step = if months <= 24.0 {
        3.0
    } else if months <= 48.0 {
        6.0
    } else {
        12.0
    };
    (step, ((months / step).ceil() * step).max(step))
}

/// Month ticks, their labels and the axis title under a frame.
fn month_ticks(s: &mut String, f: &Frame, step: f64, end: f64, title: &str) {
    let b = f.bottom();
    let mut m = 0.0;
    while m <= end + 1e-9 {
        let x = f.x(m * DAYS_PER_MONTH);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{b:.1}" x2="{x:.1}" y2="{:.1}" stroke="#666"/><text x="{x:.1}" y="{:.1}" class="a" text-anchor="middle">{m:.0}</text>"##,
            b + 4.0,
            b + 16.0
        );
        m += step;
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" class="a" text-anchor="middle">{}</text>"#,
        f.left + f.width / 2.0,
        b + 32.0,
        esc(title)
    );
}

/// The last day a curve shows: its last step or its last censoring.
fn curve_end(c: &Curve) -> f64 {
    c.time
        .iter()
        .chain(&c.censored)
        .copied()
        .filter(|t| t.is_finite())
        .fold(0.0, f64::max)
}

/// The right-continuous step function through `values` at `time`, from
/// `start` at day 0 to `end`: across to each change, then down (or up).
fn step_path(f: &Frame, time: &[f64], values: &[f64], start: f64, end: f64) -> String {
    let mut d = format!("M{:.1},{:.1}", f.x(0.0), f.y(start));
    let mut last = start;
    for (&t, &v) in time.iter().zip(values) {
        if !v.is_finite() || v == last {
            continue;
        }
        let _ = write!(d, " H{:.1} V{:.1}", f.x(t), f.y(v));
        last = v;
    }
    let _ = write!(d, " H{:.1}", f.x(end));
    d
}

/// The pointwise confidence band as one rectangle per stretch where the
/// bounds are constant; stretches with an unknown bound are left open
/// rather than drawn as if known.
fn band_path(f: &Frame, time: &[f64], lower: &[f64], upper: &[f64], end: f64) -> String {
    let mut d = String::new();
    let close = |d: &mut String, x1: f64, x2: f64, lo: f64, hi: f64| {
        if x2 > x1 {
            let sep = if d.is_empty() { "" } else { " " };
            let _ = write!(
                d,
                "{sep}M{x1:.1},{:.1} H{x2:.1} V{:.1} H{x1:.1} Z",
                f.y(hi),
                f.y(lo)
            );
        }
    };
    let mut open: Option<(f64, f64, f64)> = None;
    for ((&t, &lo), &hi) in time.iter().zip(lower).zip(upper) {
        let bounds = (lo.is_finite() && hi.is_finite()).then_some((lo, hi));
        if let (Some((_, a, b)), Some((lo, hi))) = (open, bounds)
            && a == lo
            && b == hi
        {
            continue;
        }
        let x = f.x(t);
        if let Some((x1, a, b)) = open.take() {
            close(&mut d, x1, x, a, b);
        }
        open = bounds.map(|(lo, hi)| (x, lo, hi));
    }
    if let Some((x1, a, b)) = open {
        close(&mut d, x1, f.x(end), a, b);
    }
    d
}

/// The estimate just after `t` (right-continuous), where a censoring tick sits.
fn value_at(c: &Curve, t: f64, start: f64) -> f64 {
    let k = c.time.partition_point(|&x| x <= t);
    if k == 0 { start } else { c.estimate[k - 1] }
}

/// Kaplan–Meier or cumulative-incidence curves of one statistic, one per
/// cohort, each with its 95 % band, censoring ticks and a number-at-risk
/// row under the plot, as a reader of a survival analysis expects.
pub fn curve_plot(title: &str, curves: &[&Curve]) -> String {
    let last_day = curves.iter().map(|c| curve_end(c)).fold(0.0, f64::max);
    let (step, end_months) = month_axis(last_day);
    let f = Frame {
        left: 64.0,
        top: 44.0,
        width: 540.0,
        height: 220.0,
        days: end_months * DAYS_PER_MONTH,
    };
    let risk_top = f.bottom() + 54.0;
    let height = risk_top + 16.0 * curves.len() as f64 + 12.0;
    let mut s = String::new();
    open_svg(&mut s, height, title, f.left);
    let survival = curves.first().is_none_or(|c| c.survival);
    // Grid, y labels in percent, axes.
    for k in 0..=4 {
        let p = f64::from(k) / 4.0;
        let y = f.y(p);
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" class="a" text-anchor="end">{:.0}</text>"##,
            f.left,
            f.left + f.width,
            f.left - 6.0,
            y + 4.0,
            100.0 * p
        );
    }
    let y_title = if survival {
        "Probability (%)"
    } else {
        "Cumulative incidence (%)"
    };
    let _ = write!(
        s,
        r##"<text x="16" y="{:.1}" class="a" text-anchor="middle" transform="rotate(-90 16 {:.1})">{y_title}</text><path d="M{:.1},{:.1} V{:.1} H{:.1}" fill="none" stroke="#666"/>"##,
        f.top + f.height / 2.0,
        f.top + f.height / 2.0,
        f.left,
        f.top,
        f.bottom(),
        f.left + f.width
    );
    month_ticks(&mut s, &f, step, end_months, "Months");
    let _ = write!(
        s,
        r#"<text x="4" y="{:.1}" class="a b">Number at risk</text>"#,
        risk_top
    );
    for (i, c) in curves.iter().enumerate() {
        let col = colour(i);
        let start = if c.survival { 1.0 } else { 0.0 };
        let end = curve_end(c);
        let _ = write!(
            s,
            r#"<g class="curve" data-curve="{} cohort {} {}">"#,
            c.endpoint.code(),
            c.cohort,
            esc(&c.name)
        );
        let band = band_path(&f, &c.time, &c.lower, &c.upper, end);
        if !band.is_empty() {
            let _ = write!(
                s,
                r#"<path class="band" d="{band}" fill="{col}" fill-opacity="0.15" stroke="none"/>"#
            );
        }
        let _ = write!(
            s,
            r#"<path class="estimate" d="{}" fill="none" stroke="{col}" stroke-width="2"/>"#,
            step_path(&f, &c.time, &c.estimate, start, end)
        );
        let mut censored: Vec<f64> = c
            .censored
            .iter()
            .copied()
            .filter(|t| t.is_finite())
            .collect();
        censored.sort_by(f64::total_cmp);
        censored.dedup();
        let mut ticks = String::new();
        for t in censored {
            let v = value_at(c, t, start);
            if v.is_finite() {
                let sep = if ticks.is_empty() { "" } else { " " };
                let _ = write!(ticks, "{sep}M{:.1},{:.1} v8", f.x(t), f.y(v) - 4.0);
            }
        }
        if !ticks.is_empty() {
            let _ = write!(
                s,
                r#"<path class="censored" d="{ticks}" stroke="{col}" stroke-width="1.2"/>"#
            );
        }
        s.push_str("</g>");
        // Legend between the title and the plot, clear of both.
        let lx = f.left + 90.0 * i as f64;
        let label = format!("Cohort {}", c.cohort);
        let _ = write!(
            s,
            r#"<line x1="{lx:.1}" y1="30" x2="{:.1}" y2="30" stroke="{col}" stroke-width="2"/><text x="{:.1}" y="34" class="a">{}</text>"#,
            lx + 18.0,
            lx + 22.0,
            esc(&label)
        );
        // Number at risk.
        let ry = risk_top + 16.0 * (i + 1) as f64;
        let _ = write!(
            s,
            r#"<text x="4" y="{ry:.1}" class="a" fill="{col}">{}</text>"#,
            esc(&label)
        );
        for (&t, &n) in c.risk_times.iter().zip(&c.at_risk) {
            if t <= f.days + 1e-9 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{ry:.1}" class="a" text-anchor="middle">{n}</text>"#,
                    f.x(t)
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// One marker of the swimmer plot, centred on (`x`, `y`), so the legend
/// draws exactly what the rows show.
fn marker(kind: Mark, x: f64, y: f64) -> String {
    match kind {
        Mark::Remission => {
            format!(
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="#009E73" stroke="#fff" stroke-width="0.8"/>"##
            )
        }
        Mark::Molcr => format!(
            r##"<path d="M{x:.1},{:.1} l4,4 l-4,4 l-4,-4 z" fill="#CC79A7" stroke="#fff" stroke-width="0.8"/>"##,
            y - 4.0
        ),
        Mark::Sct => format!(
            r##"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="#E69F00" stroke="#fff" stroke-width="0.8"/>"##,
            x - 3.5,
            y - 3.5
        ),
        Mark::Relapse => format!(
            r##"<path d="M{x:.1},{:.1} l4,7 h-8 z" fill="#D55E00" stroke="#fff" stroke-width="0.8"/>"##,
            y - 4.0
        ),
        Mark::Death => format!(
            r##"<path d="M{:.1},{:.1} l7,7 M{:.1},{:.1} l-7,7" stroke="#000" stroke-width="1.6"/>"##,
            x - 3.5,
            y - 3.5,
            x + 3.5,
            y - 3.5
        ),
    }
}

/// The events a swimmer row marks.
#[derive(Debug, Clone, Copy)]
enum Mark {
    Remission,
    Molcr,
    Sct,
    Relapse,
    Death,
}

/// Each patient's course from registration, one row per patient: follow-up
/// as a grey bar, isatuximab as a light blue bar over it (light, so the
/// markers on it stay visible), and markers for
/// CR/CRi, MolCR, SCT, relapse and death.
pub fn swimmer_plot(title: &str, rows: &[(&str, &Swimmer)]) -> String {
    let longest = rows
        .iter()
        .map(|(_, r)| r.follow_up)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (step, end_months) = month_axis(longest);
    let row_h = 12.0;
    let f = Frame {
        left: 84.0,
        top: 34.0,
        width: 520.0,
        height: row_h * rows.len() as f64,
        days: end_months * DAYS_PER_MONTH,
    };
    let height = f.bottom() + 70.0;
    let mut s = String::new();
    open_svg(&mut s, height, title, f.left);
    let day = |d: i32| f.x(f64::from(d));
    for (i, (id, r)) in rows.iter().enumerate() {
        let y = f.top + row_h * i as f64;
        let cy = y + row_h / 2.0;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" class="p" text-anchor="end">{}</text><rect x="{:.1}" y="{:.1}" width="{:.1}" height="4" fill="#bbb"/>"##,
            f.left - 6.0,
            cy + 3.0,
            esc(id),
            f.left,
            cy - 2.0,
            day(r.follow_up) - f.left
        );
        if let Some((a, b)) = r.treatment {
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="8" fill="#9CC9E8"/>"##,
                day(a),
                cy - 4.0,
                (day(b) - day(a)).max(1.0)
            );
        }
        let marks = [
            (r.remission, Mark::Remission),
            (r.molcr, Mark::Molcr),
            (r.sct, Mark::Sct),
            (r.relapse, Mark::Relapse),
            (r.died.then_some(r.follow_up), Mark::Death),
        ];
        for (when, kind) in marks {
            if let Some(d) = when {
                s.push_str(&marker(kind, day(d), cy));
            }
        }
    }
    month_ticks(&mut s, &f, step, end_months, "Months from registration");
    // Legend.
    let ly = f.bottom() + 54.0;
    let mut lx = f.left;
    let _ = write!(
        s,
        r##"<rect x="{lx:.1}" y="{:.1}" width="16" height="8" fill="#9CC9E8"/><text x="{:.1}" y="{:.1}" class="a">isatuximab</text>"##,
        ly - 4.0,
        lx + 20.0,
        ly + 4.0
    );
    lx += 90.0;
    for (kind, label) in [
        (Mark::Remission, "CR/CRi"),
        (Mark::Molcr, "MolCR"),
        (Mark::Sct, "SCT"),
        (Mark::Relapse, "relapse"),
        (Mark::Death, "death"),
    ] {
        s.push_str(&marker(kind, lx + 4.0, ly));
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="a">{label}</text>"#,
            lx + 12.0,
            ly + 4.0
        );
        lx += 72.0;
    }
    s.push_str("</svg>");
    s
}

/// Mean scores per scale (x) with one line per timepoint, on the 0–100
/// scale of QLQ-C30. Each category is (label, group); a change of group
/// (functional to symptom scales) is marked with a dashed separator.
pub fn profile_plot(title: &str, categories: &[(&str, u8)], series: &[(&str, Vec<f64>)]) -> String {
    let f = Frame {
        left: 48.0,
        top: 34.0,
        width: 556.0,
        height: 200.0,
        days: 1.0,
    };
    let step = f.width / categories.len().max(1) as f64;
    let x = |i: usize| f.left + step * (i as f64 + 0.5);
    let y = |v: f64| f.y(v / 100.0);
    let height = f.bottom() + 58.0;
    let mut s = String::new();
    open_svg(&mut s, height, title, f.left);
    for k in 0..=4 {
        let v = 25.0 * f64::from(k);
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" class="a" text-anchor="end">{v:.0}</text>"##,
            f.left,
            y(v),
            f.left + f.width,
            y(v),
            f.left - 6.0,
            y(v) + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="16" y="{:.1}" class="a" text-anchor="middle" transform="rotate(-90 16 {:.1})">Mean score</text>"##,
        f.top + f.height / 2.0,
        f.top + f.height / 2.0
    );
    for (i, (code, group)) in categories.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="a" text-anchor="middle">{}</text>"#,
            x(i),
            f.bottom() + 14.0,
            esc(code)
        );
        if i > 0 && categories[i - 1].1 != *group {
            let sx = f.left + step * i as f64;
            let _ = write!(
                s,
                r##"<line x1="{sx:.1}" y1="{:.1}" x2="{sx:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 3"/>"##,
                f.top,
                f.bottom()
            );
        }
    }
    for (k, (label, values)) in series.iter().enumerate() {
        let col = colour(k);
        let mut d = String::new();
        let mut pen_down = false;
        for (i, v) in values.iter().enumerate() {
            if !v.is_finite() {
                pen_down = false;
                continue;
            }
            let sep = if d.is_empty() { "" } else { " " };
            let cmd = if pen_down { "L" } else { "M" };
            let _ = write!(d, "{sep}{cmd}{:.1},{:.1}", x(i), y(*v));
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{col}"/>"#,
                x(i),
                y(*v)
            );
            pen_down = true;
        }
        if !d.is_empty() {
            let _ = write!(
                s,
                r#"<path d="{d}" fill="none" stroke="{col}" stroke-width="1.5"/>"#
            );
        }
        let lx = f.left + 96.0 * k as f64;
        let ly = f.bottom() + 40.0;
        let _ = write!(
            s,
            r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{col}" stroke-width="2"/><text x="{:.1}" y="{ly:.1}" class="a">{}</text>"#,
            ly - 4.0,
            lx + 18.0,
            ly - 4.0,
            lx + 22.0,
            esc(label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use trial::results::Endpoint;

    fn tiny_km() -> Curve {
        // Steps at 1 and 2 months, a censoring at 3 months.
        Curve {
            endpoint: Endpoint::E06,
            cohort: 1,
            name: "os".into(),
            survival: true,
            time: vec![DAYS_PER_MONTH, 2.0 * DAYS_PER_MONTH, 3.0 * DAYS_PER_MONTH],
            estimate: vec![0.5, 0.25, 0.25],
            lower: vec![0.2, 0.05, 0.05],
            upper: vec![0.8, 0.6, 0.6],
            censored: vec![3.0 * DAYS_PER_MONTH],
            at_risk: vec![4, 2],
            risk_times: vec![0.0, 3.0 * DAYS_PER_MONTH],
        }
    }

    fn attribute<'a>(svg: &'a str, class: &str) -> &'a str {
        let from = svg.find(&format!("class=\"{class}\" d=\"")).expect(class) + class.len() + 12;
        &svg[from..from + svg[from..].find('"').expect("closing quote")]
    }

    #[test]
    fn the_km_path_steps_across_then_down_at_each_event() {
        let svg = curve_plot("OS", &[&tiny_km()]);
        // The axis ends at 3 months: x = 64 + 540 · months / 3, so 1 month is
        // 244, 2 months 424, 3 months 604; y = 44 + 220 · (1 − S).
        assert_eq!(
            attribute(&svg, "estimate"),
            "M64.0,44.0 H244.0 V154.0 H424.0 V209.0 H604.0"
        );
        // Band: 20–80 % from 1 to 2 months, then 5–60 % to the end.
        assert_eq!(
            attribute(&svg, "band"),
            "M244.0,88.0 H424.0 V220.0 H244.0 Z M424.0,132.0 H604.0 V253.0 H424.0 Z"
        );
        // The censoring tick sits on the curve at 3 months.
        assert_eq!(attribute(&svg, "censored"), "M604.0,205.0 v8");
        // Number at risk at 0 and 3 months, under the axis.
        assert!(
            svg.contains(r#"<text x="64.0" y="334.0" class="a" text-anchor="middle">4</text>"#)
        );
        assert!(
            svg.contains(r#"<text x="604.0" y="334.0" class="a" text-anchor="middle">2</text>"#)
        );
        assert_eq!(svg, curve_plot("OS", &[&tiny_km()]), "deterministic");
    }

    #[test]
    fn an_incidence_rises_from_zero_and_an_unknown_bound_leaves_a_gap() {
        let mut c = tiny_km();
        c.survival = false;
        c.estimate = vec![0.5, 0.75, 0.75];
        c.lower = vec![0.2, f64::NAN, f64::NAN];
        c.upper = vec![0.8, f64::NAN, f64::NAN];
        let svg = curve_plot("CIR", &[&c]);
        assert_eq!(
            attribute(&svg, "estimate"),
            "M64.0,264.0 H244.0 V154.0 H424.0 V99.0 H604.0"
        );
        assert_eq!(
            attribute(&svg, "band"),
            "M244.0,88.0 H424.0 V220.0 H244.0 Z"
        );
        assert!(svg.contains("Cumulative incidence (%)"));
    }

    #[test]
    fn month_axis_ends_on_a_whole_tick() {
        assert_eq!(month_axis(547.875), (3.0, 18.0));
        assert_eq!(month_axis(548.0), (3.0, 21.0));
        assert_eq!(month_axis(0.0), (3.0, 3.0));
        assert_eq!(month_axis(40.0 * DAYS_PER_MONTH), (6.0, 42.0));
    }

    #[test]
    fn swimmer_rows_carry_their_markers_and_escape_ids() {
        let row = Swimmer {
            patient: trial::records::PatientIx(0),
            cohort: 1,
            follow_up: 300,
            died: true,
            remission: Some(30),
            molcr: Some(60),
            relapse: Some(200),
            sct: Some(100),
            treatment: Some((0, 50)),
        };
        let svg = swimmer_plot("courses", &[("P<1>", &row)]);
        assert!(svg.contains("P&lt;1&gt;") && !svg.contains("P<1>"));
        // Remission (circle), SCT (square), relapse (triangle), death (cross)
        // in the row, plus one of each in the legend.
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches(r##"fill="#E69F00""##).count(), 2);
        assert_eq!(svg.matches(r##"fill="#D55E00""##).count(), 2);
        assert_eq!(svg.matches(r##"stroke="#000""##).count(), 2);
    }
}
