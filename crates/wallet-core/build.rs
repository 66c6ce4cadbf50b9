//! The commit this build came from, for `tw --version` and the About screen.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=TW_COMMIT={commit}");
    // Built again when the checkout moves to another commit.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for name in ["HEAD", "refs", "packed-refs"] {
            println!("cargo:rerun-if-changed={dir}/{name}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
