// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Without a GPU, WebKitGTK is told to draw without compositing
    // (src-tauri/drawing.rs says why). It reads the environment when it starts.
    // SAFETY: the first thing `main` does: no other thread exists yet.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    unsafe {
        ticket_wallet_app::drawing::choose()
    };
    ticket_wallet_app::run();
}
