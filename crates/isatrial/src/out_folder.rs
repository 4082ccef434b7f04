//! The folders commands write into, checked before any work: a path that
//! is a file is refused at once, with its option, not after the analysis
//! with the operating system's bare "File exists" and part of the output
//! written.

use std::path::Path;

use crate::Failure;

/// Refuses `dir` (given as `option`) when it, or one of `subfolders` the
/// command writes into it, exists and is not a folder. Nothing is created:
/// a refused run leaves no empty folder behind.
pub fn check(option: &str, dir: &Path, subfolders: &[&str]) -> Result<(), Failure> {
    let paths = std::iter::once(dir.to_path_buf()).chain(subfolders.iter().map(|s| dir.join(s)));
    for path in paths {
        if path.exists() && !path.is_dir() {
            return Err(Failure::Refused(format!(
                "{option} {}: {} is a file, not a folder",
                dir.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_is_refused_and_nothing_is_created() {
        let dir = std::env::temp_dir().join(format!("isatrial-out-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(check("--out", &file, &[]).is_err());
        std::fs::write(dir.join("tables"), "x").unwrap();
        let err = check("--out", &dir, &["tables"]).unwrap_err().to_string();
        assert!(err.contains("tables is a file, not a folder"), "{err}");
        let fresh = dir.join("fresh");
        check("--out", &fresh, &["tables"]).unwrap();
        assert!(!fresh.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
