//! `endpoints.json` (DATA-FORMAT.md §2): the headline statistics for
//! programs — the web API, a sponsor's checks, our own regression tests.

use serde::Serialize;
use trial::{Date, Statistic};

/// The document's layout, typed so a renamed field in `Results` cannot
/// silently change the published format.
#[derive(Serialize)]
struct Document<'a> {
    format: u8,
    cutoff: Date,
    protocol: Protocol<'a>,
    statistics: &'a [Statistic],
}

#[derive(Serialize)]
struct Protocol<'a> {
    name: &'a str,
    version: &'a str,
}

/// The `endpoints.json` document of DATA-FORMAT.md §2. Unknown numbers
/// (`NaN` in `Results`) are `null`, never a made-up value.
pub fn endpoints_json(results: &trial::Results) -> serde_json::Value {
    let doc = Document {
        format: 1,
        cutoff: results.cutoff,
        protocol: Protocol {
            name: &results.protocol_name,
            version: &results.protocol_version,
        },
        statistics: &results.statistics,
    };
    serde_json::to_value(doc).expect("statistics are plain numbers and strings")
}
