//! Settings: the profile and where its data lives, the keyring in use,
//! switching profiles, and deleting everything.

use std::path::PathBuf;

use tauri::State;
use wallet_core::{StoreView, WalletOptions};

use super::{Res, fail, invalid};
use crate::state::AppState;

#[derive(serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SettingsView {
    pub profile: String,
    /// The profile's folder: ticket index, holders, the encrypted records.
    pub data_dir: String,
    pub keyring: StoreView,
    /// Every profile with a folder under the data folder.
    pub profiles: Vec<String>,
    /// Version, commit, the specifications spoken, where the logs are.
    pub about: wallet_core::about::About,
}

fn options(profile: Option<String>) -> Res<WalletOptions> {
    WalletOptions::from_env(profile).map_err(fail)
}

#[tauri::command]
pub fn settings(state: State<'_, AppState>) -> Res<SettingsView> {
    let wallet = state.wallet()?;
    let root: PathBuf = options(None)?.data_dir;
    let mut profiles: Vec<String> = std::fs::read_dir(&root)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| wallet_core::vault::valid_profile(n))
                .collect()
        })
        .unwrap_or_default();
    profiles.sort();
    let mut opts = options(None)?;
    opts.profile = wallet.vault().profile().to_string();
    Ok(SettingsView {
        about: wallet_core::about::About::of(&opts),
        profile: wallet.vault().profile().to_string(),
        data_dir: wallet.vault().dir().display().to_string(),
        keyring: StoreView::from(wallet.vault().store_info()),
        profiles,
    })
}

/// Opens the wallet again after the keyring would not give access: in the
/// same store once the person has unlocked it, or, when they choose it
/// knowing it is forgotten at restart, in the kernel keyring (Linux).
#[tauri::command]
pub fn open_wallet_again(state: State<'_, AppState>, kernel_keyring: bool) -> Res<()> {
    let mut opts = options(None)?;
    if kernel_keyring {
        opts.backend = wallet_core::vault::Backend::Keyutils;
    }
    state.reopen(opts).map(|_| ())
}

/// Opens another profile (created on first use): its own key, tickets, holders and records.
#[tauri::command]
pub fn switch_profile(state: State<'_, AppState>, profile: String) -> Res<()> {
    if state.sync.running() {
        return Err(invalid(
            "sync_running",
            "wait for the sync to finish, or cancel it",
        ));
    }
    if !wallet_core::vault::valid_profile(&profile) {
        return Err(invalid(
            "bad_profile",
            "a profile name is letters, digits, - and _ (at most 64)",
        ));
    }
    state.sync.forget();
    let wallet = state.reopen(options(Some(profile))?)?;
    // This profile's demo tickets verify only once its demo key is published.
    if let Some(demo) = state.demo.get()
        && let Err(e) = demo.use_profile_key(&wallet, false)
    {
        tracing::warn!(
            "the demo issuer could not take this profile's key: {}",
            e.message
        );
    }
    Ok(())
}

/// Deletes this profile's records, holders, tickets and key, in the keyring
/// and on disk, once the person has typed `delete` to confirm.
#[tauri::command]
pub fn delete_everything(state: State<'_, AppState>, confirm: String) -> Res<()> {
    if confirm.trim() != "delete" {
        return Err(invalid("not_confirmed", "type delete to confirm"));
    }
    if state.sync.running() {
        return Err(invalid("sync_running", "cancel the sync first"));
    }
    let wallet = state.wallet()?;
    let profile = wallet.vault().profile().to_string();
    wallet.delete_everything().map_err(fail)?;
    drop(wallet);
    state.sync.forget();
    state.reopen(options(Some(profile))?).map(|_| ())
}
