//! Small non-secret state files, written atomically.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::WalletError;

pub fn load<T: DeserializeOwned + Default>(path: &Path) -> Result<T, WalletError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            WalletError::Invalid(format!(
                "{} is damaged ({e}); it was left untouched",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(WalletError::Invalid(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// A crash leaves the old file or the new one, never half of either.
pub fn store<T: Serialize>(path: &Path, value: &T) -> Result<(), WalletError> {
    let fail = |e: &dyn std::fmt::Display| {
        WalletError::Invalid(format!("cannot write {}: {e}", path.display()))
    };
    let text = serde_json::to_vec_pretty(value).map_err(|e| fail(&e))?;
    crate::atomic::write_file(path, |out| out.write_all(&text)).map_err(|e| fail(&e))
}
