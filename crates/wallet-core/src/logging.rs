//! The log: one file per profile in the platform's log folder, rotated each
//! day and kept for a week, at `info` (`TW_LOG` sets another filter). What is
//! logged names holders, counts and outcomes, never a secret or anything
//! about the patient: URLs go through the trace's redaction, and a holder's
//! own words (which may quote the patient) stay in the encrypted store.

use std::path::PathBuf;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::WalletOptions;

/// This wallet's own crates at `info`, everything else only when it warns.
pub const DEFAULT_FILTER: &str =
    "warn,wallet_core=info,vault=info,tw=info,ticket_wallet=info,ticket_wallet_app=info";

/// Days of log files kept.
const KEPT: usize = 7;

/// `TW_LOG_DIR`; else `.logs` in `TW_DATA_DIR` when that is set (a name no
/// profile can have); else the platform's folder for logs
/// (`$XDG_STATE_HOME/ticket-wallet/logs` on Linux, `~/Library/Logs/Ticket
/// Wallet` on macOS, the local app data folder on Windows).
pub fn log_dir(opts: &WalletOptions) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TW_LOG_DIR").filter(|d| !d.is_empty()) {
        return Some(dir.into());
    }
    if std::env::var_os("TW_DATA_DIR").is_some_and(|d| !d.is_empty()) {
        return Some(opts.data_dir.join(".logs"));
    }
    if cfg!(target_os = "macos") {
        return dirs::home_dir().map(|h| h.join("Library/Logs/Ticket Wallet"));
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("ticket-wallet").join("logs"))
}

/// Keeps the file writer's thread running; logging to the file stops when it is dropped.
pub struct LogGuard {
    _writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Sends events to standard error (at `stderr_filter` unless `TW_LOG` is
/// set) and, given a profile, to its log file. A log folder that cannot be
/// made leaves standard error alone, with a warning there.
pub fn init(opts: Option<&WalletOptions>, stderr_filter: &str) -> LogGuard {
    let filter = |default: &str| {
        EnvFilter::try_from_env("TW_LOG").unwrap_or_else(|_| EnvFilter::new(default))
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter(stderr_filter));
    let (file, guard, problem) = match opts.map(open_file) {
        Some(Ok((writer, guard))) => {
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter(DEFAULT_FILTER));
            (Some(layer), Some(guard), None)
        }
        Some(Err(e)) => (None, None, Some(e)),
        None => (None, None, None),
    };
    // Another subscriber already set (a test harness) is left in place.
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    if let Some(e) = problem {
        tracing::warn!("no log file: {e}");
    }
    LogGuard { _writer: guard }
}

fn open_file(
    opts: &WalletOptions,
) -> Result<
    (
        tracing_appender::non_blocking::NonBlocking,
        tracing_appender::non_blocking::WorkerGuard,
    ),
    String,
> {
    let dir = log_dir(opts).ok_or("no log folder is known for this user")?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(&opts.profile)
        .filename_suffix("log")
        .max_log_files(KEPT)
        .build(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(tracing_appender::non_blocking(appender))
}

/// Empties the profile's log: its older files are removed and today's, which
/// the writer may still hold open, truncated. For "delete everything": the
/// log names the holders the profile used.
pub fn remove_logs(opts: &WalletOptions) -> std::io::Result<()> {
    let Some(dir) = log_dir(opts) else {
        return Ok(());
    };
    let prefix = format!("{}.", opts.profile);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".log"))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // Dated names sort by day: the last is today's.
    files.sort();
    if let Some(today) = files.pop() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(today)?
            .set_len(0)?;
    }
    for old in files {
        std::fs::remove_file(old)?;
    }
    Ok(())
}
