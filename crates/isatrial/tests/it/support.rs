//! What every command test needs: running the real binary, and scratch
//! folders that clean up after themselves.

use std::path::PathBuf;
use std::process::Command;

/// Exit code and output of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the built `isatrial` with `args`.
pub fn isatrial(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_isatrial"))
        .args(args)
        .output()
        .expect("binary runs");
    Run::of(&out)
}

/// Runs the built `isatrial` with `args`, `input` piped to its standard
/// input.
pub fn isatrial_with_stdin(args: &[&str], input: &[u8]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_isatrial"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(input).expect("the binary reads its input");
    drop(stdin);
    Run::of(&child.wait_with_output().expect("binary runs"))
}

/// Which of the binary's outputs a reader closes before it writes.
pub enum Closed {
    Stdout,
    Stderr,
}

/// Runs the built `isatrial` with `args` and the `closed` output's reader
/// gone at once (as `| head` leaves it); returns the exit code and what
/// the other output said.
pub fn isatrial_with_closed(args: &[&str], closed: Closed) -> (Option<i32>, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_isatrial"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    fn read_all(output: Option<impl Read>) -> String {
        let mut said = String::new();
        output
            .expect("the other output is piped")
            .read_to_string(&mut said)
            .expect("the binary's output is text");
        said
    }
    let said = match closed {
        Closed::Stdout => {
            drop(child.stdout.take());
            read_all(child.stderr.take())
        }
        Closed::Stderr => {
            drop(child.stderr.take());
            read_all(child.stdout.take())
        }
    };
    (child.wait().expect("binary runs").code(), said)
}

impl Run {
    fn of(out: &std::process::Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A file in a fresh temporary folder, removed with the folder.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("isatrial-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn file(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The bundle-60 example shipped with the trial crate's tests.
pub fn bundle_60() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../trial/tests/fixtures/bundle-60")
}
