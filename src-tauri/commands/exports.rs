//! Exports: the merged FHIR Bundle, one holder's records as received, and the
//! readable summary, saved where the person chooses in a native dialog. The
//! webview names what to export, never where: the path comes from the dialog
//! (or `TW_EXPORT_DIR` for scripted use), and the last file saved can be
//! opened, e.g. the summary in a browser to print it to PDF.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;
use wallet_core::store::StoreError;

use super::{Res, fail, invalid};
use crate::state::AppState;

/// The file the last export wrote.
#[derive(Default)]
pub struct LastExport(Mutex<Option<PathBuf>>);

fn suggested_name(kind: &str, profile: &str) -> (String, &'static str, &'static str) {
    match kind {
        "summary" => (
            format!("health-summary-{profile}.html"),
            "HTML page",
            "html",
        ),
        "holder" => (
            format!("holder-records-{profile}.json"),
            "FHIR Bundle",
            "json",
        ),
        _ => (
            format!("health-record-{profile}.json"),
            "FHIR Bundle",
            "json",
        ),
    }
}

/// Where to save `name`, chosen in a native save dialog; `None` when cancelled.
pub(crate) async fn choose_path(
    app: &AppHandle,
    name: &str,
    filter: &str,
    ext: &str,
) -> Option<PathBuf> {
    choose(app, name, filter, ext, true).await
}

/// A file the person chooses to open, in a native dialog; under
/// `TW_EXPORT_DIR` (scripted use) the file of that name there, so what a
/// script saved can be opened back.
pub(crate) async fn choose_file(
    app: &AppHandle,
    name: &str,
    filter: &str,
    ext: &str,
) -> Option<PathBuf> {
    choose(app, name, filter, ext, false).await
}

async fn choose(
    app: &AppHandle,
    name: &str,
    filter: &str,
    ext: &str,
    save: bool,
) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TW_EXPORT_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join(name));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let chosen = move |path: Option<tauri_plugin_dialog::FilePath>| {
        let _ = tx.send(path.and_then(|p| p.into_path().ok()));
    };
    let dialog = app.dialog().file().add_filter(filter, &[ext]);
    if save {
        dialog.set_file_name(name).save_file(chosen);
    } else {
        dialog.pick_file(chosen);
    }
    rx.await.ok().flatten()
}

/// Writes an export where the person chooses; `None` when they cancelled.
#[tauri::command]
pub async fn export_records(
    app: AppHandle,
    state: State<'_, AppState>,
    last: State<'_, LastExport>,
    kind: String,
    person: Option<i64>,
    holder: Option<String>,
) -> Res<Option<String>> {
    let wallet = state.wallet()?;
    let store = wallet
        .existing_record_store()
        .map_err(fail)?
        .ok_or_else(|| invalid("no_records", "there are no records yet: sync first"))?;
    let names: HashMap<String, String> = wallet
        .holder_records()
        .map_err(fail)?
        .into_iter()
        .filter_map(|h| h.name.map(|n| (h.fhir_base, n)))
        .collect();
    let (name, filter, ext) = suggested_name(&kind, wallet.vault().profile());
    let Some(path) = choose_path(&app, &name, filter, ext).await else {
        return Ok(None);
    };
    // Bundles go to the file as they are read from the store (memory does not
    // grow with the record), under a name of their own until they are whole.
    let target = path.clone();
    tauri::async_runtime::spawn_blocking(move || {
        wallet_core::atomic::write_file(&target, |out| match kind.as_str() {
            "summary" => {
                let today = wallet_core::permission_ticket::human_time(wallet_core::now());
                let page = wallet_core::summary::html(&store, person, &today, &names)?;
                Ok(out.write_all(page.as_bytes())?)
            }
            "holder" => store.write_holder(&holder.unwrap_or_default(), out),
            _ => store.write_merged(person, out),
        })
    })
    .await
    .map_err(|e| invalid("internal", e.to_string()))?
    .map_err(|e| match e {
        StoreError::Write(e) => invalid(
            "write_failed",
            format!("could not write {}: {e}", path.display()),
        ),
        e => fail(e),
    })?;
    let shown = path.display().to_string();
    *last.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(path);
    Ok(Some(shown))
}

/// Opens the file the last export wrote with the system's default program.
#[tauri::command]
pub fn open_last_export(app: AppHandle, last: State<'_, LastExport>) -> Res<()> {
    let path = last
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or_else(|| invalid("no_export", "nothing has been exported yet"))?;
    app.opener()
        .open_path(path.display().to_string(), None::<&str>)
        .map_err(|e| {
            invalid(
                "open_failed",
                format!("could not open {}: {e}", path.display()),
            )
        })
}
