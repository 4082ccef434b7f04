//! Results of bundle-60, computed once for every test of the binary.

use std::path::Path;
use std::sync::OnceLock;

use trial::Results;

/// The engine's results for `crates/trial/tests/fixtures/bundle-60`.
pub fn bundle_60() -> &'static Results {
    static RESULTS: OnceLock<Results> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../trial/tests/fixtures/bundle-60");
        let dataset = trial::bundle::read_bundle(&dir).expect("bundle-60 is valid");
        trial::endpoints::compute(&dataset)
    })
}

/// A fresh empty directory under the system temp dir, unique to the test.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("isatrial-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
