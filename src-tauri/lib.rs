//! The app shell: opens the wallet, registers thin commands over
//! `wallet-core`, and (with the `demo` feature) starts a demo issuer.

mod browser;
mod commands;
mod demo;
#[cfg(target_os = "linux")]
pub mod drawing;
#[cfg(not(any(target_os = "android", target_os = "ios")))]
mod instance;
mod links;
mod state;
mod sync;

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

// On Android and iOS the platform's launcher calls this, not `main`.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let options = WalletOptions::from_env(profile_arg());
    // Kept to the end: the log file is written until the app stops.
    let _log =
        wallet_core::logging::init(options.as_ref().ok(), wallet_core::logging::DEFAULT_FILTER);
    #[cfg(target_os = "linux")]
    drawing::log();
    let context = tauri::generate_context!();
    let builder = tauri::Builder::default();
    // First, so a second launch hands over before anything else starts.
    #[cfg(not(any(target_os = "android", target_os = "ios")))]
    let builder = match options
        .as_ref()
        .ok()
        .and_then(|o| instance::plugin(&context.config().identifier, o))
    {
        Some(single) => builder.plugin(single),
        None => builder,
    };
    let wallet = options.and_then(Wallet::open);
    let app_state = state::AppState::new(wallet);
    let result = builder
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(app_state)
        .manage(commands::exports::LastExport::default())
        .manage(commands::check::LastCheck::default())
        .setup(|app| {
            links::setup(app.handle());
            demo::start(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::tickets::key_info,
            commands::tickets::list_tickets,
            commands::tickets::ticket_entries,
            commands::tickets::inspect_ticket,
            commands::tickets::import_ticket,
            commands::tickets::get_ticket,
            commands::tickets::remove_ticket,
            commands::tickets::take_pending_link,
            commands::demo::demo_status,
            commands::demo::demo_ticket,
            commands::demo::demo_setup,
            commands::holders::list_holders,
            commands::holders::kept_holders,
            commands::holders::add_holder,
            commands::holders::rename_holder,
            commands::holders::remove_holder,
            commands::holders::onboard,
            commands::sync::start_sync,
            commands::sync::cancel_sync,
            commands::sync::sync_state,
            commands::records::people,
            commands::records::record_opening,
            commands::records::categories,
            commands::records::timeline,
            commands::records::search_records,
            commands::records::latest_values,
            commands::records::series,
            commands::records::record_detail,
            commands::exports::export_records,
            commands::exports::open_last_export,
            commands::settings::settings,
            commands::settings::switch_profile,
            commands::settings::delete_everything,
            commands::settings::open_wallet_again,
            commands::trace::last_trace,
            commands::trace::save_trace,
            commands::trace::open_trace,
            commands::check::check_holder,
            commands::check::save_check_report,
            commands::check::make_test_ticket,
        ])
        .run(context);
    if let Err(e) = result {
        tracing::error!("the app stopped with an error: {e}");
        std::process::exit(1);
    }
}
