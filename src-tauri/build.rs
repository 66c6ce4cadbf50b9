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
            "demo_status",
            "demo_ticket",
            "take_pending_link",
        ]),
    ))
    .expect("tauri build script failed");
}
