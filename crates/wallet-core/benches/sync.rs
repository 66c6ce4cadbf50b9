//! A full sync of many holders with added latency, next to the lower bound
//! that latency and the holders' page counts allow. See docs/BENCHMARKS.md.
//!
//! `cargo bench -p wallet-core --bench sync [-- HOLDERS RESOURCES LATENCY_MS RUNS]`
//!
//! The sandbox runs in a child process (this binary again, with `--serve`), so
//! the CPU time and peak memory measured here are the wallet's alone.

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox::{Faults, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use vault::Backend;
use wallet_core::engine::interaction::{BoxFuture, Interactor};
use wallet_core::sync::DEFAULT_TYPES;
use wallet_core::{SyncOptions, Wallet, WalletOptions};

/// The page size the wallet asks for.
fn page() -> usize {
    wallet_core::engine::Limits::default().page_size
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let n = |i: usize| args[i].parse::<u64>().unwrap();
        return serve(n(1) as usize, n(2) as usize, n(3));
    }
    let n = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (holders, size, latency, runs) = (
        n(0, 10) as usize,
        n(1, 5000) as usize,
        n(2, 20),
        n(3, 3) as usize,
    );
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(holders, size, latency, runs));
}

/// The child: the sandbox with `latency` ms added to every holder answer, until stdin closes.
fn serve(holders: usize, size: usize, latency: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sb = Sandbox::start(SandboxConfig {
            holders,
            size,
            ..Default::default()
        })
        .await
        .unwrap();
        for h in &sb.holders {
            h.set_faults(Faults {
                latency_ms: latency,
                ..Default::default()
            });
        }
        println!("{}", serde_json::to_string(&sb.ready()).unwrap());
        std::io::stdout().flush().unwrap();
        // Runs until the parent closes stdin. `revise N` gives N records of
        // every holder a new version, then answers `revised`.
        let holders = sb.holders.clone();
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            while std::io::stdin()
                .read_line(&mut line)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                if let Some(n) = line.trim().strip_prefix("revise ") {
                    let n = n.parse().unwrap();
                    for h in &holders {
                        h.revise(n);
                    }
                    println!("revised");
                    std::io::stdout().flush().unwrap();
                }
                line.clear();
            }
        })
        .await
        .unwrap();
    });
}

/// Confirms her own record at a holder's page, as the patient would.
struct Confirm;

impl Interactor for Confirm {
    fn redirect_uri(&self) -> String {
        "http://127.0.0.1:9/callback".into()
    }
    fn authorize(&self, url: String) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let page = client
                .get(&url)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            let mut form: Vec<(String, String)> = page
                .split("<input type=\"hidden\" ")
                .skip(1)
                .filter_map(|rest| {
                    let name = rest.split("name=\"").nth(1)?.split('"').next()?;
                    let value = rest.split("value=\"").nth(1)?.split('"').next()?;
                    Some((
                        name.to_string(),
                        value.replace("&amp;", "&").replace("&quot;", "\""),
                    ))
                })
                .collect();
            let own = page
                .split("value=\"")
                .filter_map(|v| v.split('"').next())
                .find(|v| v.ends_with("-ana"))
                .unwrap_or_default();
            form.push(("patient".into(), own.to_string()));
            let resp = client
                .post(url.split('?').next().unwrap())
                .form(&form)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            resp.headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| "no redirect".to_string())
        })
    }
}

fn cpu_of(pid: u32) -> Duration {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

/// User + system time from a `/proc` stat file (clock ticks are 1/100 s).
fn stat_cpu(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, f)| f.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((tick(11) + tick(12)) * 10)
}

/// CPU time of this process's threads named `name`.
fn threads_cpu(name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .map(|t| stat_cpu(&t.path().join("stat").to_string_lossy()))
        .sum()
}

/// CPU time (user + system, all threads) and peak resident memory in KiB,
/// from /proc (Linux; clock ticks are 1/100 s there).
fn usage() -> (Duration, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (stat_cpu("/proc/self/stat"), peak)
}

/// Round trips a holder needs at the least in a timed run: discovery, the
/// token request (the DPoP nonce from the warm-up is still known, so no
/// challenge), then the longest chain of pages (searches run side by side,
/// but each type's pages follow one another).
fn lower_bound(holders: usize, size: usize, latency: u64) -> (Duration, usize, usize) {
    let mut worst = 0;
    let mut resources = 0;
    let mut pages_total = 0;
    for i in 0..holders {
        let data = sandbox::data::holder_data(i, SandboxConfig::default().seed, size);
        let me = format!("Patient/h{}-ana", i + 1);
        let longest = DEFAULT_TYPES
            .iter()
            .map(|t| {
                let n = data
                    .resources
                    .iter()
                    .filter(|r| {
                        r["resourceType"] == *t
                            && (r["subject"]["reference"] == me.as_str()
                                || r["patient"]["reference"] == me.as_str())
                    })
                    .count();
                resources += n;
                let pages = n.div_ceil(page()).max(1);
                pages_total += pages;
                pages
            })
            .max()
            .unwrap_or(1);
        worst = worst.max(2 + longest);
    }
    (
        Duration::from_millis(worst as u64 * latency),
        resources,
        pages_total,
    )
}

async fn run(holders: usize, size: usize, latency: u64, runs: usize) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--serve",
            &holders.to_string(),
            &size.to_string(),
            &latency.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut from_sandbox = BufReader::new(child.stdout.take().unwrap());
    let mut to_sandbox = child.stdin.take().unwrap();
    from_sandbox.read_line(&mut line).unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let wallet = Wallet::open(WalletOptions {
        profile: "bench".into(),
        data_dir: dir.path().into(),
        backend: Backend::Memory,
    })
    .unwrap();
    let jkt = wallet.key_info().unwrap().jkt;
    let minted: Value = wallet
        .http()
        .client()
        .post(format!("{}/tickets", ready["issuer"].as_str().unwrap()))
        .json(&json!({ "ticket_type": "patient-self-access-v1", "jkt": jkt, "smart_scopes": ["patient/*.rs"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    wallet
        .import(minted["ticket"].as_str().unwrap(), "bench")
        .await
        .unwrap();
    for h in ready["holders"].as_array().unwrap() {
        wallet
            .add_holder(h["fhir_base"].as_str().unwrap(), None, None)
            .await
            .unwrap();
    }
    // Warm-up: the one-time patient confirmation, connection pools, allocator.
    let warm = wallet
        .sync(
            SyncOptions {
                interactor: Some(Arc::new(Confirm)),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert!(
        warm.outcomes.iter().all(|o| o.status == "synced"),
        "{:?}",
        warm.outcomes
    );

    let (bound, expected, pages) = lower_bound(holders, size, latency);
    // The holders' real floor per round trip: the added latency plus what the
    // sandbox and loopback cost for the smallest answer, unloaded.
    let probe = format!(
        "{}/.well-known/smart-configuration",
        ready["holders"][0]["fhir_base"].as_str().unwrap()
    );
    let mut floor = Duration::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        wallet
            .http()
            .client()
            .get(&probe)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        floor = floor.min(t.elapsed());
    }
    let round_trips = bound.as_millis() as u32 / latency.max(1) as u32;
    let floor_bound = floor * round_trips;
    let sandbox_before = cpu_of(child.id());
    let mut walls = Vec::new();
    let mut cpu_total = Duration::ZERO;
    let mut requests = 0;
    let mut exchanges = 0;
    let mut got = 0;
    for _ in 0..runs {
        wallet.forget_tokens();
        let (cpu_before, _) = usage();
        let started = Instant::now();
        // The exchange engine alone: everything fetched, the store left as it is.
        let report = wallet
            .sync(
                SyncOptions {
                    dry_run: true,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        walls.push(started.elapsed());
        cpu_total += usage().0 - cpu_before;
        assert!(
            report.outcomes.iter().all(|o| o.status == "synced"),
            "{:?}",
            report.outcomes
        );
        got = report.records.len() - holders;
        // The bound assumes no nonce challenge: none may happen.
        let challenged = report
            .trace
            .iter()
            .filter(|e| {
                e.response
                    .as_ref()
                    .is_some_and(|r| r["error"] == "use_dpop_nonce")
            })
            .count();
        assert_eq!(challenged, 0, "a timed run met a nonce challenge");
        // The pages the bound counts are the pages asked for.
        let searched = report
            .trace
            .iter()
            .filter(|e| {
                e.method == "GET"
                    && !e.url.contains("/Patient/")
                    && !e.url.contains("/.well-known/")
            })
            .count();
        assert_eq!(searched, pages, "pages fetched");
        if std::env::var_os("BENCH_DETAIL").is_some() {
            for h in ready["holders"].as_array().unwrap() {
                let base = h["fhir_base"].as_str().unwrap();
                let chain: Vec<u64> = report
                    .trace
                    .iter()
                    .filter(|e| e.url.starts_with(&format!("{base}/Observation")))
                    .map(|e| e.millis)
                    .collect();
                let token: Vec<u64> = report
                    .trace
                    .iter()
                    .filter(|e| e.holder == base && e.url.ends_with("/token"))
                    .map(|e| e.millis)
                    .collect();
                eprintln!(
                    "{base}: token {token:?} observation pages {} sum {} ms",
                    chain.len(),
                    chain.iter().sum::<u64>()
                );
            }
        }
        requests += report.trace.len();
        exchanges += report
            .trace
            .iter()
            .filter(|e| e.url.ends_with("/token") && e.status == Some(200))
            .count();
    }
    let sandbox_cpu = cpu_of(child.id()) - sandbox_before;
    let (_, dry_peak_kb) = usage();
    // The same sync as a person runs it the first time: every holder's set
    // written into an empty encrypted store (the last run's file removed first).
    let db = wallet.vault().dir().join("records.db");
    let mut stored_walls = Vec::new();
    let mut fold_walls = Vec::new();
    // The CPU spent until done, as a whole and on the writer thread.
    let (mut stored_cpu, mut stored_sandbox_cpu) = (Duration::ZERO, Duration::ZERO);
    let mut stored_writer_cpu = Duration::ZERO;
    for _ in 0..runs {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        wallet.forget_tokens();
        let (cpu_before, sandbox_before) = (usage().0, cpu_of(child.id()));
        let started = Instant::now();
        let report = wallet.sync(SyncOptions::default(), None).await.unwrap();
        stored_walls.push(started.elapsed());
        stored_cpu += usage().0 - cpu_before;
        // The writer thread is the sync's own: what it spent is this run's.
        stored_writer_cpu += threads_cpu("store-writer");
        stored_sandbox_cpu += cpu_of(child.id()) - sandbox_before;
        // After done: the store's log folded into the database.
        let folding = Instant::now();
        wallet.settle();
        fold_walls.push(folding.elapsed());
        assert!(
            report.outcomes.iter().all(|o| o.status == "synced"),
            "{:?}",
            report.outcomes
        );
        // What a person would see afterwards: every record in the store
        // (each holder's Patient too), once.
        let kept: usize = wallet
            .record_store()
            .unwrap()
            .counts()
            .unwrap()
            .iter()
            .map(|c| c.count)
            .sum();
        assert_eq!(
            kept,
            expected + holders,
            "records in the store after storing"
        );
    }
    stored_walls.sort();
    fold_walls.sort();
    // A re-sync where nothing changed at any holder: each type asked only
    // for what changed (nothing) and counted, no record written (each copy
    // keeps the time it was first written).
    let first_written = |w: &Wallet| {
        let store = w.record_store().unwrap();
        let newest = wallet_core::store::Query {
            limit: 1,
            ..Default::default()
        };
        let item = store.timeline(&newest).unwrap()[0].id;
        store.copies(item).unwrap()[0].fetched_at
    };
    let written_at = first_written(&wallet);
    let mut same_walls = Vec::new();
    let fetched = |r: &wallet_core::SyncReport| r.outcomes.iter().map(|o| o.fetched).sum::<usize>();
    let mut same_fetched = 0;
    for _ in 0..runs {
        wallet.forget_tokens();
        let started = Instant::now();
        let report = wallet.sync(SyncOptions::default(), None).await.unwrap();
        same_walls.push(started.elapsed());
        wallet.settle();
        assert!(report.outcomes.iter().all(|o| o.status == "synced"));
        assert_eq!(first_written(&wallet), written_at, "a record was rewritten");
        same_fetched = fetched(&report);
        // Each holder's Patient, read every time; nothing else.
        assert_eq!(same_fetched, holders, "records sent by the holders");
    }
    same_walls.sort();
    // A re-sync where 1% of every holder's records changed at the source
    // (a new version of each): only what changed asked for, only those
    // written. What was revised in the runs before comes again (the search
    // for changes starts a few minutes before the last one), so more is
    // sent each run than is written.
    let changed = (size / 100).max(1);
    let mut changed_walls = Vec::new();
    let mut written = 0;
    let mut changed_fetched = 0;
    for _ in 0..runs {
        writeln!(to_sandbox, "revise {changed}").unwrap();
        line.clear();
        from_sandbox.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "revised");
        wallet.forget_tokens();
        let started = Instant::now();
        let report = wallet.sync(SyncOptions::default(), None).await.unwrap();
        changed_walls.push(started.elapsed());
        wallet.settle();
        assert!(report.outcomes.iter().all(|o| o.status == "synced"));
        written = report.outcomes.iter().map(|o| o.written).sum::<usize>();
        changed_fetched = fetched(&report);
        // Exactly the records now at their new version (the few the ticket
        // does not reach were revised at the holder but never fetched).
        let version = format!(r#""versionId":"{}""#, changed_walls.len() + 1);
        let store = wallet.record_store().unwrap();
        let at_new_version: usize = ready["holders"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|h| {
                let base = h["fhir_base"].as_str().unwrap().to_string();
                wallet_core::sync::DEFAULT_TYPES
                    .iter()
                    .map(move |t| (base.clone(), *t))
            })
            .map(|(base, t)| {
                store
                    .records(&base, t)
                    .unwrap()
                    .iter()
                    .filter(|j| j.contains(&version))
                    .count()
            })
            .sum();
        assert_eq!(written, at_new_version, "rows written");
        assert!(written > 0 && written <= changed * holders);
    }
    changed_walls.sort();
    let (_, peak_kb) = usage();
    drop(to_sandbox);
    let _ = child.kill();
    let _ = child.wait();
    walls.sort();
    let median = walls[walls.len() / 2];
    let ratio = median.as_secs_f64() / bound.as_secs_f64();
    let floor_ratio = median.as_secs_f64() / floor_bound.as_secs_f64();
    println!("holders              {holders}");
    println!(
        "resources            {got} (expected {expected}), in {pages} pages at most {} each",
        page()
    );
    println!("added latency        {latency} ms per request");
    println!(
        "lower bound          {:.0} ms ({round_trips} round trips × {latency} ms: discovery, token, the longest chain of pages)",
        bound.as_secs_f64() * 1e3
    );
    println!(
        "measured floor bound {:.0} ms ({round_trips} × {:.1} ms, the smallest round trip seen)",
        floor_bound.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3
    );
    println!(
        "wall time (median)   {:.0} ms over {runs} runs (best {:.0} ms), dry run: all fetched, nothing stored",
        median.as_secs_f64() * 1e3,
        walls[0].as_secs_f64() * 1e3
    );
    println!("ratio to the bound   {ratio:.2} (to the measured floor: {floor_ratio:.2})");
    let stored = stored_walls[stored_walls.len() / 2].as_secs_f64();
    println!(
        "with the store       {:.0} ms median, {:.2} × the bound: every holder's records written into an empty encrypted store",
        stored * 1e3,
        stored / bound.as_secs_f64()
    );
    // Two floors no first sync can beat: the writer thread's own CPU (every
    // write runs on it, one after another), and all the CPU both processes
    // spend, spread perfectly over the machine's cores.
    let per_run = |d: Duration| d.as_secs_f64() / runs as f64;
    let (wallet_cpu, sandbox_stored_cpu, writer_cpu) = (
        per_run(stored_cpu),
        per_run(stored_sandbox_cpu),
        per_run(stored_writer_cpu),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spread = (wallet_cpu + sandbox_stored_cpu) / cores as f64;
    println!(
        "  its CPU           {:.0} ms wallet, {:.0} ms sandbox per run until done; the writer thread alone {:.0} ms ({:.2} × the bound; the median took it + {:.0} ms, {:.2} × it); all of it spread over {cores} cores {:.0} ms ({:.2} × the bound)",
        wallet_cpu * 1e3,
        sandbox_stored_cpu * 1e3,
        writer_cpu * 1e3,
        writer_cpu / bound.as_secs_f64(),
        (stored - writer_cpu) * 1e3,
        stored / writer_cpu,
        spread * 1e3,
        spread / bound.as_secs_f64()
    );
    let fold = fold_walls[fold_walls.len() / 2].as_secs_f64();
    println!(
        "  then, after done   {:.0} ms median building the indexes it deferred and folding the log ({:.2} × the bound with it)",
        fold * 1e3,
        (stored + fold) / bound.as_secs_f64()
    );
    let same = same_walls[same_walls.len() / 2].as_secs_f64();
    println!(
        "re-sync, no change   {:.0} ms median, {:.2} × the bound, {:.2} × the dry run: only changes asked for, {same_fetched} records sent (the Patients), none written",
        same * 1e3,
        same / bound.as_secs_f64(),
        same / median.as_secs_f64()
    );
    let changed_wall = changed_walls[changed_walls.len() / 2].as_secs_f64();
    println!(
        "re-sync, 1% changed  {:.0} ms median, {:.2} × the bound: only changes asked for, {changed_fetched} records sent in the last run, {written} of {got} written",
        changed_wall * 1e3,
        changed_wall / bound.as_secs_f64()
    );
    println!(
        "peak memory (RSS)    {:.1} MiB after the dry runs, {:.1} MiB after storing",
        dry_peak_kb as f64 / 1024.0,
        peak_kb as f64 / 1024.0
    );
    println!(
        "CPU per sync         {:.0} ms",
        cpu_total.as_secs_f64() * 1e3 / runs as f64
    );
    println!(
        "CPU per exchange     {:.2} ms (per HTTP request and answer; {} per sync)",
        cpu_total.as_secs_f64() * 1e3 / requests as f64,
        requests / runs
    );
    println!("ticket exchanges     {} per sync", exchanges / runs);
    println!(
        "sandbox CPU per sync {:.0} ms (its own process)",
        sandbox_cpu.as_secs_f64() * 1e3 / runs as f64
    );
    assert_eq!(got, expected, "every resource arrived");
}
