//! The baseline for the launch bench: a Tauri window with one static heading,
//! built from the same crates as the app, so it starts the same WebKitGTK. The
//! app's launch time is reported as a ratio to this window's, measured in the
//! same run (`launch_bench` in tests/e2e.rs). It chooses how to draw as the
//! app does (src-tauri/drawing.rs), so the two start the same way.

fn main() {
    // SAFETY: the first thing `main` does: no other thread exists yet.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    unsafe {
        ticket_wallet_app::drawing::choose()
    };
    let context = tauri::generate_context!("examples/bare-window/tauri.conf.json");
    if let Err(e) = tauri::Builder::default().run(context) {
        eprintln!("the bare window stopped with an error: {e}");
        std::process::exit(1);
    }
}
