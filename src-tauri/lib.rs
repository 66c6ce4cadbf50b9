//! The app shell: opens the wallet, registers thin commands over
//! `wallet-core`, and (with the `demo` feature) starts a demo issuer.

mod commands;
mod demo;
mod links;
mod state;

use wallet_core::{Wallet, WalletOptions};

/// `--profile NAME` on the app's command line, else `TW_PROFILE`.
fn profile_arg() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--profile" {
            return args.next();
        }
        if let Some(p) = arg.strip_prefix("--profile=") {
            return Some(p.to_string());
        }
    }
    None
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let wallet = WalletOptions::from_env(profile_arg()).and_then(Wallet::open);
    let app_state = state::AppState::new(wallet);
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_deep_link::init())
        .manage(app_state)
        .setup(|app| {
            links::setup(app.handle());
            demo::start(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::key_info,
            commands::list_tickets,
            commands::inspect_ticket,
            commands::import_ticket,
            commands::get_ticket,
            commands::remove_ticket,
            commands::demo_status,
            commands::demo_ticket,
            commands::take_pending_link,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!("the app stopped with an error: {e}");
        std::process::exit(1);
    }
}
