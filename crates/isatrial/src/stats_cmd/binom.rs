//! `isatrial stats binom`.

use std::io::Write;

use serde::Serialize;
use stats::Proportion;

use super::{fmt, print_json, table_output};
use crate::Failure;
use crate::cli::{BinomArgs, BinomMethod};

#[derive(Serialize)]
struct Output {
    events: u64,
    total: u64,
    estimate: f64,
    lower: f64,
    upper: f64,
    method: &'static str,
    conf_level: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    null_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p_value: Option<f64>,
}

pub fn run(args: &BinomArgs) -> Result<(), Failure> {
    let p = Proportion::new(args.events, args.total)?;
    let (interval, method) = match args.method {
        BinomMethod::ClopperPearson => (p.clopper_pearson(args.conf_level)?, "clopper-pearson"),
        BinomMethod::Wilson => (p.wilson(args.conf_level)?, "wilson"),
    };
    let p_value = args.null_rate.map(|r| p.p_greater(r)).transpose()?;
    let output = Output {
        events: p.events(),
        total: p.total(),
        estimate: p.estimate(),
        lower: interval.lower,
        upper: interval.upper,
        method,
        conf_level: args.conf_level,
        null_rate: args.null_rate,
        p_value,
    };
    if args.json {
        return print_json(&output);
    }
    let mut out = table_output()?;
    writeln!(
        out,
        "{}/{} = {} % ({} % CI {} to {} %, {})",
        output.events,
        output.total,
        fmt(100.0 * output.estimate),
        fmt(100.0 * output.conf_level),
        fmt(100.0 * output.lower),
        fmt(100.0 * output.upper),
        method
    )?;
    if let (Some(r), Some(pv)) = (output.null_rate, output.p_value) {
        writeln!(
            out,
            "exact one-sided test of rate > {}: p = {}",
            fmt(r),
            fmt(pv)
        )?;
    }
    out.flush()?;
    Ok(())
}
