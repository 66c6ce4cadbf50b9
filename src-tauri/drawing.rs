//! How the window is drawn on Linux. WebKitGTK composites pages through
//! OpenGL; on a machine with no GPU that is Mesa's software rasteriser, and
//! there a frame of the record screen took 73-96 ms and the timeline came
//! 446-450 ms after the page started. Drawn without compositing, on the same
//! machine, frames take 11-16 ms and the timeline came 40-105 ms sooner
//! (docs/BENCHMARKS.md, "The window"). WebKit reads its choice from the
//! environment when it starts: `main` sets it before anything else runs
//! (telling a webview already made is measured there too, and is not enough
//! for its first page). A person who sets `WEBKIT_DISABLE_COMPOSITING_MODE`
//! (either way) has chosen for themselves, and is left alone.

use std::ffi::OsString;
use std::path::Path;

/// The variable WebKitGTK reads: set and not "0", it never composites.
pub const VARIABLE: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Where the kernel lists GPUs a program may render with (`renderD128`, ...).
const DRI: &str = "/dev/dri";

/// Whether `dir` lists a render node: a GPU WebKit's OpenGL can use.
pub fn has_render_node(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        })
        .unwrap_or(false)
}

/// Whether to draw without compositing: no GPU, and no choice made in the
/// environment (`chosen`, the variable's value).
pub fn without_compositing(dri: &Path, chosen: Option<&OsString>) -> bool {
    chosen.is_none() && !has_render_node(dri)
}

/// Sets the variable where `without_compositing` says so on this machine,
/// for WebKit to read when it starts.
///
/// # Safety
///
/// It writes the environment: call it first thing in `main`, before any
/// other thread exists that could read or write the environment meanwhile.
#[allow(unsafe_code)]
pub unsafe fn choose() {
    let chosen = std::env::var_os(VARIABLE);
    if without_compositing(Path::new(DRI), chosen.as_ref()) {
        // SAFETY: no other thread exists yet (this function's contract).
        unsafe { std::env::set_var(VARIABLE, "1") };
    }
}

/// Says in the log how the window is drawn (logging starts after `main` chose).
pub fn log() {
    match std::env::var_os(VARIABLE) {
        Some(v) if v != "0" => match has_render_node(Path::new(DRI)) {
            false => tracing::info!(
                "no GPU render node in {DRI}: the window is drawn without compositing"
            ),
            true => tracing::info!("{VARIABLE} is set: the window is drawn without compositing"),
        },
        _ => tracing::info!("the window is drawn by WebKit's compositor"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_machine_without_a_render_node_and_without_a_choice_draws_without_compositing() {
        let none = tempfile::tempdir().unwrap();
        let gpu = tempfile::tempdir().unwrap();
        std::fs::write(gpu.path().join("card0"), "").unwrap();
        std::fs::write(gpu.path().join("renderD128"), "").unwrap();
        let card_only = tempfile::tempdir().unwrap();
        std::fs::write(card_only.path().join("card0"), "").unwrap();

        assert!(without_compositing(none.path(), None));
        assert!(
            without_compositing(card_only.path(), None),
            "a display without a render node"
        );
        assert!(without_compositing(&none.path().join("missing"), None));
        assert!(!without_compositing(gpu.path(), None));
        let off = OsString::from("0");
        assert!(
            !without_compositing(none.path(), Some(&off)),
            "the person chose"
        );
        let on = OsString::from("1");
        assert!(
            !without_compositing(none.path(), Some(&on)),
            "WebKit does it already"
        );
    }
}
