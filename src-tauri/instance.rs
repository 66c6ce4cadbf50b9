//! One running app per profile. The desktop opens a ticket link by starting
//! the app again with the link as its argument; that second launch hands its
//! arguments to the running app (over the session D-Bus on Linux, the
//! platform's own way elsewhere) and exits, and the running app shows the
//! link for confirmation and comes to the front.

use std::hash::{Hash, Hasher};

use tauri::{AppHandle, Manager, Runtime, plugin::TauriPlugin};
use wallet_core::WalletOptions;

use crate::links;

/// The plugin, or `None` where it cannot work (no session bus on Linux:
/// every launch is then a window of its own, as before).
pub fn plugin<R: Runtime>(identifier: &str, options: &WalletOptions) -> Option<TauriPlugin<R>> {
    if cfg!(target_os = "linux") && !session_bus_reachable() {
        tracing::info!("no session D-Bus: a second launch opens a second window");
        return None;
    }
    let builder = tauri_plugin_single_instance::Builder::new()
        .callback(|app, args, _cwd| handed_over(app, &args));
    #[cfg(target_os = "linux")]
    let builder = builder.dbus_id(dbus_id(identifier, options));
    #[cfg(not(target_os = "linux"))]
    let _ = (identifier, options);
    Some(builder.build())
}

/// A D-Bus name for this data folder and profile: apps of two profiles (or
/// two test runs) run side by side, two launches of one profile do not.
pub fn dbus_id(identifier: &str, options: &WalletOptions) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    options.data_dir.hash(&mut h);
    options.profile.hash(&mut h);
    // Each element of a bus name: letters, digits, `_`, not starting with a digit.
    format!("{identifier}.p{:016x}", h.finish())
}

fn session_bus_reachable() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
}

/// What a second launch brought: its ticket link, if any, and the window to the front.
fn handed_over<R: Runtime>(app: &AppHandle<R>, args: &[String]) {
    if let Some(link) = args.iter().skip(1).find(|a| links::is_ticket_link(a)) {
        links::deliver(app, link.clone());
    }
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &str, profile: &str) -> WalletOptions {
        WalletOptions {
            profile: profile.into(),
            data_dir: dir.into(),
            backend: wallet_core::vault::Backend::SecretService,
        }
    }

    #[test]
    fn one_name_per_data_folder_and_profile() {
        let id = |d, p| dbus_id("org.ticketwallet.wallet", &options(d, p));
        assert_eq!(id("/d", "default"), id("/d", "default"));
        assert_ne!(id("/d", "default"), id("/d", "caregiver"));
        assert_ne!(id("/d", "default"), id("/e", "default"));
        let name = id("/d", "default");
        assert!(
            name.split('.').all(|e| !e.is_empty()
                && !e.starts_with(|c: char| c.is_ascii_digit())
                && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')),
            "{name}"
        );
    }
}
