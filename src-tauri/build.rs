fn main() {
    // Every app command is listed so capabilities/ can grant them one by one.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "key_info",
            "list_tickets",
            "inspect_ticket",
            "import_ticket",
            "get_ticket",
            "remove_ticket",
            "take_pending_link",
            "demo_status",
            "demo_ticket",
            "demo_setup",
            "list_holders",
            "add_holder",
            "rename_holder",
            "remove_holder",
            "onboard",
            "start_sync",
            "cancel_sync",
            "sync_state",
            "people",
            "categories",
            "timeline",
            "search_records",
            "latest_values",
            "series",
            "record_detail",
            "export_records",
            "open_last_export",
            "settings",
            "switch_profile",
            "delete_everything",
        ]),
    ))
    .expect("tauri build script failed");
}
