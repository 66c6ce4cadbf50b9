//! `tw`: Ticket Wallet on the command line. Every command takes `--json` and
//! exits non-zero on failure, so scripts can rely on it.

mod output;

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wallet_core::permission_ticket::Jwks;
use wallet_core::store::{Query, StoreError};
use wallet_core::{InspectRequest, Wallet, WalletError, WalletOptions};

use output::Out;

#[derive(Parser)]
#[command(
    name = "tw",
    version = wallet_core::about::VERSION,
    about = "Ticket Wallet: SMART Permission Tickets on the command line"
)]
struct Cli {
    /// Wallet profile to use (separate key and tickets); also TW_PROFILE. Give it before the command.
    #[arg(long)]
    profile: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The wallet's signing key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Tickets: inspect, import, list, remove.
    #[command(subcommand)]
    Ticket(TicketCommand),
    /// Data holders: add, list, remove.
    #[command(subcommand)]
    Holder(HolderCommand),
    /// Present tickets to holders and download the patient's records.
    Sync {
        /// Only this ticket (its jti).
        #[arg(long)]
        ticket: Option<String>,
        /// Only this holder (its FHIR base URL).
        #[arg(long)]
        holder: Option<String>,
        /// When a holder needs the patient to confirm their record, open the browser for it.
        #[arg(long)]
        interactive: bool,
        /// Seconds to wait for the confirmation in the browser before giving up on that holder.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
        confirm_timeout: u64,
        /// Show secrets in the printed trace (never saved to a file).
        #[arg(long)]
        tester: bool,
        /// Fetch everything but leave the stored records as they are.
        #[arg(long)]
        dry_run: bool,
        /// Carry on a sync that was interrupted: only the holders it had not finished.
        #[arg(long, conflicts_with = "dry_run")]
        resume: bool,
        /// Most MiB one holder may send in this sync (default 512, or TW_MAX_HOLDER_MIB).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        max_holder_mib: Option<u64>,
        /// Most records one holder may send in this sync (default 250000, or TW_MAX_HOLDER_RECORDS).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        max_holder_records: Option<u64>,
    },
    /// Run the conformance battery against one holder: each case tied to its requirement, with evidence.
    Check {
        /// The holder's FHIR base URL (it need not be one of the wallet's holders).
        fhir_base: String,
        /// Present this ticket (its jti); default: the first kept ticket that may be presented there.
        #[arg(long)]
        ticket: Option<String>,
        /// A test issuer's private JWK the holder trusts (the sandbox prints its own as
        /// `issuer_test_key`): enables the cases that change one claim of the ticket.
        #[arg(long, value_name = "FILE")]
        issuer_key: Option<std::path::PathBuf>,
        /// Also write the report as an HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
    },
    /// The last sync's HTTP exchanges, secrets redacted, or a saved trace's.
    Trace {
        /// Read this saved trace instead of the last sync's: as `tw trace --json` or `tw sync --json` (with `--tester`, the only way to keep one with secrets) print it, or the app saves it.
        #[arg(long, value_name = "FILE")]
        from: Option<std::path::PathBuf>,
        /// Also write it as an HTTP Archive (HAR 1.2), which browser devtools and API clients open.
        #[arg(long, value_name = "FILE")]
        har: Option<std::path::PathBuf>,
        /// Print each exchange as a curl command.
        #[arg(long)]
        curl: bool,
    },
    /// The records kept in the encrypted store.
    #[command(subcommand)]
    Records(RecordsCommand),
    /// Get tickets from an issuer (sign in there in the browser) and add the holders it names.
    Onboard {
        /// The issuer's base URL (where `.well-known/smart-configuration` lives).
        issuer: String,
        /// Seconds to wait for the sign-in in the browser.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
        confirm_timeout: u64,
    },
    /// This build's version and commit, the specifications it speaks, and where it keeps its data and logs.
    About,
    /// Run an issuer and data holders on loopback until stopped; prints one JSON line when ready.
    Sandbox {
        /// How many data holders.
        #[arg(long, default_value_t = 3)]
        holders: usize,
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// How holders want tokens presented: dpop, bearer, or reference (like the public reference server).
        #[arg(long, default_value = "dpop")]
        profile: sandbox::Profile,
        /// Roughly how many resources each holder keeps for the main patient.
        #[arg(long, default_value_t = 60)]
        size: usize,
        /// Seed for the synthetic records.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Show the key's thumbprint (the `jkt` issuers bind tickets to) and public JWK.
    Show,
}

#[derive(Subcommand)]
enum RecordsCommand {
    /// How many records each holder gave, per ticket and type.
    List,
    /// The people the records are about, and who they are at each holder.
    People,
    /// The merged record as a FHIR collection Bundle, on standard output.
    Export {
        /// Only what this holder gave, exactly as it was received.
        #[arg(long, conflicts_with_all = ["person", "html"])]
        holder: Option<String>,
        /// Only this person (see `tw records people`).
        #[arg(long)]
        person: Option<i64>,
        /// A readable summary to hand to a doctor (HTML; print it to PDF).
        #[arg(long)]
        html: bool,
    },
    /// Newest first, across every holder and type, each record once.
    Timeline {
        /// conditions, medications, allergies, immunizations, labs, vitals, procedures, encounters, documents.
        #[arg(long)]
        category: Option<String>,
        /// Only this person (see `tw records people`).
        #[arg(long)]
        person: Option<i64>,
        /// The cursor the previous page ended with, or a date (YYYY-MM-DD).
        #[arg(long)]
        before: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One code's values over time (e.g. 4548-4 for HbA1c), oldest first.
    Series {
        code: String,
        #[arg(long)]
        person: Option<i64>,
    },
    /// Records whose name, notes or text contain every word given.
    Search {
        words: Vec<String>,
        #[arg(long)]
        person: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One record with every holder's copy of it, as each holder sent it.
    Show { id: i64 },
}

#[derive(Subcommand)]
enum HolderCommand {
    /// Add a holder by its FHIR base URL; registers this wallet there when the holder allows.
    Add {
        fhir_base: String,
        /// A client id you were given, instead of registering.
        #[arg(long)]
        client_id: Option<String>,
        /// A name to show for it.
        #[arg(long)]
        name: Option<String>,
    },
    /// List holders and what each supports.
    List,
    /// Forget a holder.
    Remove { fhir_base: String },
}

#[derive(Subcommand)]
enum TicketCommand {
    /// Decode a ticket and run every check; exit 0 only if this wallet can use it.
    Inspect {
        /// The ticket, `@FILE`, or `-` for standard input. Links carrying a ticket work too.
        ticket: String,
        /// Verify against this key set (a JWKS or a single JWK file) instead of fetching.
        #[arg(long, value_name = "FILE")]
        jwks: Option<String>,
        /// Judge at this time (seconds since 1970) instead of now.
        #[arg(long, value_name = "UNIX_TIME")]
        at: Option<i64>,
        /// Fetch nothing (no issuer keys unless --jwks, no revocation list).
        #[arg(long)]
        offline: bool,
    },
    /// Check a ticket and keep it in the keyring.
    Import {
        /// The ticket, `@FILE`, `-` for standard input, or a `web+ticket:` / deep link.
        ticket: String,
    },
    /// List kept tickets.
    List,
    /// Remove a kept ticket.
    Remove {
        /// The ticket's `jti`.
        jti: String,
    },
    /// Keep a test copy of a ticket: its claims as edited, signed with a test issuer key.
    /// Test tickets are presented only where named (`sync --ticket`, `check --ticket`).
    TestCopy {
        /// The kept ticket to copy (its jti); its header is kept.
        jti: String,
        /// The whole claim set as one JSON object (`ticket inspect --json` shows the claims);
        /// `-` for standard input. An unchanged jti is replaced.
        #[arg(long, value_name = "FILE")]
        claims: String,
        /// The test issuer's private JWK (the sandbox prints its own as `issuer_test_key`).
        #[arg(long, value_name = "FILE")]
        issuer_key: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `tw records export | head` should end quietly, as Unix tools do, not
    // panic on a closed pipe. The sandbox is a server and keeps Rust's default.
    if !matches!(cli.command, Command::Sandbox { .. }) {
        sigpipe::reset();
    }
    // The profile's log file, except for the sandbox, which is no profile's.
    let options = WalletOptions::from_env(cli.profile.clone()).ok();
    let logged = options
        .as_ref()
        .filter(|_| !matches!(cli.command, Command::Sandbox { .. }));
    let _log = wallet_core::logging::init(logged, "warn");
    let out = Out::new(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return out.error(&WalletError::Invalid(format!("cannot start: {e}"))),
    };
    match runtime.block_on(run(cli, &out)) {
        Ok(code) => code,
        Err(e) => out.error(&e),
    }
}

async fn run(cli: Cli, out: &Out) -> Result<ExitCode, WalletError> {
    if let Command::Sandbox {
        holders,
        port,
        profile,
        size,
        seed,
    } = cli.command
    {
        return run_sandbox(sandbox::SandboxConfig {
            holders,
            port,
            profile,
            size,
            seed,
            issuer_seed: None,
        })
        .await;
    }
    // A saved trace is read without opening the wallet (no keyring needed).
    if let Command::Trace {
        from: Some(file),
        har,
        curl,
    } = &cli.command
    {
        let entries = wallet_core::trace::read_file(file)?;
        return show_trace(out, &entries, har.as_deref(), *curl);
    }
    let options = WalletOptions::from_env(cli.profile)?;
    if let Command::About = cli.command {
        out.about(&wallet_core::about::About::of(&options));
        return Ok(ExitCode::SUCCESS);
    }
    let wallet = Wallet::open(options)?;
    // Records name their holders as people know them, not by URL.
    let named;
    let out = if matches!(cli.command, Command::Records(_)) {
        named = out.with_holder_names(
            wallet
                .holder_records()?
                .into_iter()
                .filter_map(|h| h.name.map(|n| (h.fhir_base, n)))
                .collect(),
        );
        &named
    } else {
        out
    };
    match cli.command {
        Command::Sandbox { .. } | Command::About => unreachable!("handled above"),
        Command::Holder(HolderCommand::Add {
            fhir_base,
            client_id,
            name,
        }) => {
            out.holders(&[wallet.add_holder(&fhir_base, client_id, name).await?]);
            Ok(ExitCode::SUCCESS)
        }
        Command::Holder(HolderCommand::List) => {
            out.holders(&wallet.holders().await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Holder(HolderCommand::Remove { fhir_base }) => {
            wallet.remove_holder(&fhir_base)?;
            out.removed(&fhir_base);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync {
            ticket,
            holder,
            interactive,
            confirm_timeout,
            tester,
            dry_run,
            resume,
            max_holder_mib,
            max_holder_records,
        } => {
            // The flags win over the environment.
            let limits = wallet_core::engine::Limits::from_env()
                .map_err(WalletError::Invalid)?
                .with_budget(max_holder_mib, max_holder_records);
            let interactor: Option<
                std::sync::Arc<dyn wallet_core::engine::interaction::Interactor>,
            > = if interactive {
                let mut i = wallet_core::engine::interaction::LoopbackInteractor::bind()
                    .await
                    .map_err(|e| {
                        WalletError::Invalid(format!(
                            "cannot listen for the holder's redirect: {e}"
                        ))
                    })?;
                i.timeout = std::time::Duration::from_secs(confirm_timeout);
                Some(std::sync::Arc::new(i))
            } else {
                None
            };
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let show = !out.json;
            let printer = tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    if show {
                        output::progress(&e);
                    }
                }
            });
            let opts = wallet_core::SyncOptions {
                ticket,
                holder,
                interactor,
                tester_mode: tester,
                dry_run,
                resume,
                limits,
                ..Default::default()
            };
            let report = wallet.sync(opts, Some(tx)).await;
            let _ = printer.await;
            let report = report?;
            out.sync(&report);
            if tester {
                out.trace(&report.trace);
            }
            // Said and printed; the store's log is folded before exiting.
            wallet.settle();
            let all_ok = report
                .outcomes
                .iter()
                .all(|o| o.status == "synced" || o.status == "skipped");
            Ok(if all_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Onboard {
            issuer,
            confirm_timeout,
        } => {
            let mut i = wallet_core::engine::interaction::LoopbackInteractor::bind()
                .await
                .map_err(|e| {
                    WalletError::Invalid(format!("cannot listen for the issuer's redirect: {e}"))
                })?;
            i.timeout = std::time::Duration::from_secs(confirm_timeout);
            let report = wallet.onboard(&issuer, &i).await?;
            out.onboard(&report);
            Ok(ExitCode::SUCCESS)
        }
        Command::Records(RecordsCommand::List) => {
            out.record_counts(&wallet.record_store()?.counts()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Records(RecordsCommand::People) => {
            out.people(&wallet.record_store()?.people()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Records(RecordsCommand::Timeline {
            category,
            person,
            before,
            limit,
        }) => {
            out.items(&wallet.record_store()?.timeline(&Query {
                person,
                category: category.as_deref(),
                before: before.as_deref(),
                limit,
            })?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Records(RecordsCommand::Series { code, person }) => {
            out.series(&wallet.record_store()?.series(&code, person)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Records(RecordsCommand::Search {
            words,
            person,
            limit,
        }) => {
            let q = Query {
                person,
                limit,
                ..Query::default()
            };
            out.items(&wallet.record_store()?.search(&words.join(" "), &q)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Records(RecordsCommand::Show { id }) => {
            let store = wallet.record_store()?;
            let item = store
                .item(id)?
                .ok_or_else(|| WalletError::Invalid(format!("there is no record {id}")))?;
            out.show(&item, &store.copies(id)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Records(RecordsCommand::Export {
            holder,
            person,
            html,
        }) => {
            let store = wallet.record_store()?;
            // Bundles are written as they are read: memory does not grow with the record.
            let mut stdout = std::io::stdout().lock();
            match holder {
                Some(h) => {
                    store.write_holder(&wallet_core::holders::normalise_base(&h)?, &mut stdout)?;
                }
                None if html => {
                    let today =
                        wallet_core::permission_ticket::human_time(wallet_core::wallet::now());
                    let page =
                        wallet_core::summary::html(&store, person, &today, out.holder_names())?;
                    stdout
                        .write_all(page.as_bytes())
                        .map_err(StoreError::from)?;
                }
                None => {
                    store.write_merged(person, &mut stdout)?;
                }
            }
            writeln!(stdout).map_err(StoreError::from)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            fhir_base,
            ticket,
            issuer_key,
            html,
        } => {
            let key = issuer_key
                .map(|path| {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        WalletError::Invalid(format!("cannot read {}: {e}", path.display()))
                    })?;
                    wallet_core::check::IssuerKey::from_jwk(&text)
                })
                .transpose()?;
            let report = wallet
                .check_holder(&fhir_base, ticket.as_deref(), key)
                .await?;
            out.check(&report);
            if let Some(path) = html {
                let page = wallet_core::check::report::html(&report);
                wallet_core::atomic::write_file(&path, |f| f.write_all(page.as_bytes())).map_err(
                    |e: std::io::Error| {
                        WalletError::Invalid(format!("cannot write {}: {e}", path.display()))
                    },
                )?;
                out.wrote("the report as HTML", &path);
            }
            Ok(if report.failed().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Trace { har, curl, .. } => {
            show_trace(out, &wallet.last_trace()?, har.as_deref(), curl)
        }
        Command::Key(KeyCommand::Show) => {
            out.key(&wallet.key_info()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Ticket(TicketCommand::Inspect {
            ticket,
            jwks,
            at,
            offline,
        }) => {
            let jwks = jwks
                .map(|path| {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| WalletError::Invalid(format!("cannot read {path}: {e}")))?;
                    Jwks::from_json(&text).map_err(|e| WalletError::Invalid(format!("{path}: {e}")))
                })
                .transpose()?;
            let view = wallet
                .inspect(&read_arg(&ticket)?, &InspectRequest { jwks, at, offline })
                .await?;
            out.ticket(&view);
            Ok(if view.usable {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Ticket(TicketCommand::Import { ticket }) => {
            let result = wallet.import(&read_arg(&ticket)?, "cli").await?;
            out.imported(&result);
            Ok(ExitCode::SUCCESS)
        }
        Command::Ticket(TicketCommand::List) => {
            out.list(&wallet.list()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Ticket(TicketCommand::TestCopy {
            jti,
            claims,
            issuer_key,
        }) => {
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path).map_err(|e| {
                    WalletError::Invalid(format!("cannot read {}: {e}", path.display()))
                })
            };
            let claims = if claims == "-" {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text).map_err(|e| {
                    WalletError::Invalid(format!("cannot read standard input: {e}"))
                })?;
                text
            } else {
                read(std::path::Path::new(&claims))?
            };
            let key = wallet_core::check::IssuerKey::from_jwk(&read(&issuer_key)?)?;
            out.list(&[wallet.keep_test_ticket(&jti, &claims, &key)?]);
            Ok(ExitCode::SUCCESS)
        }
        Command::Ticket(TicketCommand::Remove { jti }) => {
            wallet.remove(&jti)?;
            out.removed(&jti);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Serves until Ctrl-C or SIGTERM. The ready line is JSON whatever `--json` says: scripts read it.
fn show_trace(
    out: &Out,
    entries: &[wallet_core::trace::TraceEntry],
    har: Option<&std::path::Path>,
    curl: bool,
) -> Result<ExitCode, WalletError> {
    if curl {
        out.curl(entries);
    } else {
        out.trace(entries);
    }
    if let Some(path) = har {
        wallet_core::trace::write_file(path, entries, true)?;
        out.wrote(&format!("{} exchanges as HAR 1.2", entries.len()), path);
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_sandbox(config: sandbox::SandboxConfig) -> Result<ExitCode, WalletError> {
    let sb = sandbox::Sandbox::start(config)
        .await
        .map_err(|e| WalletError::Invalid(format!("the sandbox could not start: {e}")))?;
    let ready =
        serde_json::to_string(&sb.ready()).map_err(|e| WalletError::Invalid(e.to_string()))?;
    // Listen for the stop signals before saying "ready": a script may send one at once.
    let stop = stopped();
    println!("{ready}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    stop.await;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, not when it is first awaited.
#[cfg(unix)]
fn stopped() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
fn stopped() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `-` reads standard input, `@path` reads a file, anything else is the value itself.
fn read_arg(arg: &str) -> Result<String, WalletError> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(1024 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| WalletError::Invalid(format!("cannot read standard input: {e}")))?;
        Ok(text)
    } else if let Some(path) = arg.strip_prefix('@') {
        let meta = std::fs::metadata(path)
            .map_err(|e| WalletError::Invalid(format!("cannot read {path}: {e}")))?;
        if meta.len() > 1024 * 1024 {
            return Err(WalletError::Invalid(format!(
                "{path} is too large to be a ticket"
            )));
        }
        std::fs::read_to_string(path)
            .map_err(|e| WalletError::Invalid(format!("cannot read {path}: {e}")))
    } else {
        Ok(arg.to_string())
    }
}
