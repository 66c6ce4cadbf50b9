// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[cfg(target_os = "linux")]
    choose_how_to_draw();
    ticket_wallet_app::run();
}

/// Without a GPU, WebKitGTK is told to draw without compositing
/// (src-tauri/drawing.rs says why). It reads the environment when it starts.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn choose_how_to_draw() {
    if let Some((name, value)) = ticket_wallet_app::drawing::choice() {
        // SAFETY: the first thing `main` does: no other thread exists yet
        // that could read or write the environment at the same time.
        unsafe { std::env::set_var(name, value) };
    }
}
