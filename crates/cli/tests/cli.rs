//! `tw` as a script would use it: the real binary, a real keyring (through
//! `make test`), a real issuer on loopback.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sandbox::{Issuer, MintRequest};
use serde_json::Value;
use wallet_core::permission_ticket::TicketType;

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../permission-ticket/tests/vectors/2026-07"
);

struct Tw {
    data: tempfile::TempDir,
    profile: String,
    /// More environment for every run.
    env: Vec<(String, String)>,
}

impl Tw {
    fn new(name: &str) -> Self {
        Self {
            data: tempfile::tempdir().unwrap(),
            profile: format!("cli-{name}-{}", std::process::id()),
            env: Vec::new(),
        }
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tw"));
        cmd.args(args)
            .env("TW_DATA_DIR", self.data.path())
            .env("TW_PROFILE", &self.profile)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let stdin = stdin.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().unwrap();
            if let Some(text) = stdin {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    /// Mints a self-access ticket bound to this wallet's key at `issuer`
    /// and imports it; returns the ticket.
    async fn import_bound_ticket(&self, issuer: &Issuer) -> String {
        let (_, key) = self.json(&["key", "show"]).await;
        let ticket = issuer
            .mint(&MintRequest::new(
                TicketType::PatientSelfAccess,
                Some(key["jkt"].as_str().unwrap().into()),
            ))
            .unwrap();
        assert!(self.json(&["ticket", "import", &ticket]).await.0);
        ticket
    }

    /// `tw sync` started in the background, its progress lines to `stderr`.
    fn spawn_sync(&self, stderr: Stdio) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_tw"))
            .args(["sync"])
            .env("TW_DATA_DIR", self.data.path())
            .env("TW_PROFILE", &self.profile)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    }

    /// The profile's wallet, opened in the test's own process.
    fn wallet(&self) -> wallet_core::Wallet {
        wallet_core::Wallet::open(wallet_core::WalletOptions {
            profile: self.profile.clone(),
            data_dir: self.data.path().into(),
            backend: vault::Backend::SecretService,
        })
        .unwrap()
    }

    async fn json(&self, args: &[&str]) -> (bool, Value) {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all, None).await;
        let text = String::from_utf8_lossy(&out.stdout);
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{e}: {text} / {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), value)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn key_show_is_stable_and_is_the_thumbprint() {
    let tw = Tw::new("key");
    let (ok, first) = tw.json(&["key", "show"]).await;
    assert!(ok);
    let jwk: wallet_core::permission_ticket::Jwk =
        serde_json::from_value(first["public_jwk"].clone()).unwrap();
    assert_eq!(jwk.thumbprint().unwrap(), first["jkt"].as_str().unwrap());
    assert_eq!(jwk.crv.as_deref(), Some("P-256"));
    let (_, second) = tw.json(&["key", "show"]).await;
    assert_eq!(first["jkt"], second["jkt"]);
    // The private key is never printed.
    assert!(first["public_jwk"].get("d").is_none());
    let text = tw.run(&["key", "show"], None).await;
    assert!(String::from_utf8_lossy(&text.stdout).contains(first["jkt"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_a_spec_example_offline_at_a_pinned_time() {
    let tw = Tw::new("spec");
    let args = [
        "ticket",
        "inspect",
        &format!("@{SPEC}/uc1-ticket.jwt"),
        "--jwks",
        &format!("{SPEC}/issuer.jwks.json"),
        "--at",
        "1784137000",
        "--offline",
    ];
    let (ok, view) = tw
        .json(&args.iter().map(|s| s.as_ref()).collect::<Vec<&str>>())
        .await;
    // Signed correctly, but bound to the spec's own client key, not this wallet's.
    assert!(!ok);
    let status = |id: &str| {
        view["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("signature"), "pass");
    assert_eq!(status("expiry"), "pass");
    assert_eq!(status("presenter_binding"), "fail");
    assert_eq!(view["patient"]["name"], "Elena Reyes");

    // Now, long after it expired:
    let out = tw
        .run(
            &[
                "ticket",
                "inspect",
                &format!("@{SPEC}/uc1-ticket.jwt"),
                "--jwks",
                &format!("{SPEC}/issuer.jwks.json"),
                "--offline",
            ],
            None,
        )
        .await;
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("✗ Expiry"), "{text}");
    assert!(
        text.contains("this ticket expired on 2026-07-15 18:33:33 UTC"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_exits_zero_only_for_a_usable_ticket() {
    let issuer = Issuer::start(0).await.unwrap();
    let tw = Tw::new("inspect");
    let (_, key) = tw.json(&["key", "show"]).await;
    let jkt = key["jkt"].as_str().unwrap().to_string();
    let ticket = issuer
        .mint(&MintRequest::new(TicketType::ProviderConsult, Some(jkt)))
        .unwrap();

    let out = tw.run(&["ticket", "inspect", "-"], Some(&ticket)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Provider consult — usable"), "{text}");
    assert!(
        text.contains("requester: Dr. Sam Okafor (PractitionerRole)"),
        "{text}"
    );

    let tampered = ticket.replacen('.', ".e", 1);
    let out = tw.run(&["ticket", "inspect", &tampered], None).await;
    assert!(!out.status.success());

    let (ok, err) = tw.json(&["ticket", "inspect", "not a ticket"]).await;
    assert!(!ok);
    assert_eq!(err["error"]["code"], "no_ticket_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_list_remove() {
    let issuer = Issuer::start(0).await.unwrap();
    let tw = Tw::new("import");
    let (_, key) = tw.json(&["key", "show"]).await;
    let ticket = issuer
        .mint(&MintRequest::new(
            TicketType::PatientSelfAccess,
            Some(key["jkt"].as_str().unwrap().into()),
        ))
        .unwrap();
    let file = tw.data.path().join("ticket.jwt");
    std::fs::write(&file, format!("{ticket}\n")).unwrap();
    let at_file = format!("@{}", file.display());

    let (ok, added) = tw.json(&["ticket", "import", &at_file]).await;
    assert!(ok, "{added}");
    assert_eq!(added["outcome"], "added");
    let jti = added["ticket"]["jti"].as_str().unwrap().to_string();

    let (_, again) = tw
        .json(&["ticket", "import", &format!("web+ticket:{ticket}")])
        .await;
    assert_eq!(again["outcome"], "already_present");

    let (_, list) = tw.json(&["ticket", "list"]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["jti"], jti.as_str());
    assert_eq!(list[0]["type_label"], "Patient self-access");

    let (ok, _) = tw.json(&["ticket", "remove", &jti]).await;
    assert!(ok);
    let (_, list) = tw.json(&["ticket", "list"]).await;
    assert!(list.as_array().unwrap().is_empty());
    let (ok, err) = tw.json(&["ticket", "remove", &jti]).await;
    assert!(!ok);
    assert_eq!(err["error"]["code"], "no_such_ticket");
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_are_separate() {
    let a = Tw::new("pa");
    // TW_PROFILE names one profile, `--profile` another: the flag wins.
    let b = Tw::new("pb-env");
    let flag = format!("cli-pb-flag-{}", std::process::id());
    let (_, ka) = a.json(&["key", "show"]).await;
    let (_, kb) = b.json(&["--profile", &flag, "key", "show"]).await;
    assert_ne!(ka["jkt"], kb["jkt"]);
    assert!(a.data.path().join(&a.profile).is_dir());
    assert!(b.data.path().join(&flag).is_dir());
    assert!(
        !b.data.path().join(&b.profile).exists(),
        "the environment's profile was not used"
    );
    let (_, again) = b.json(&["--profile", &flag, "key", "show"]).await;
    assert_eq!(again["jkt"], kb["jkt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_prints_a_ready_line_and_serves_until_stopped() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tw"))
        .args(["sandbox", "--holders", "2", "--profile", "reference"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let holders = ready["holders"].as_array().unwrap();
    assert_eq!(holders.len(), 2);
    assert_eq!(holders[0]["profile"], "reference");
    assert!(
        ready["issuer"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let base = holders[1]["fhir_base"].as_str().unwrap();
    let config: Value = reqwest::get(format!("{base}/.well-known/smart-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        config["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/holders/h2/token")
    );
    let keys: Value = reqwest::get(format!(
        "{}/.well-known/jwks.json",
        ready["issuer"].as_str().unwrap()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    // Stops on SIGTERM.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn check_judges_a_holder_and_names_the_defect() {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig {
        holders: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let tw = Tw::new("check");
    let ticket = tw.import_bound_ticket(&sb.issuer).await;
    let base = sb.holders[0].fhir_base();
    // The test issuer key as the sandbox's ready line gives it.
    let key = tw.data.path().join("issuer-key.json");
    std::fs::write(&key, sb.ready().issuer_test_key.to_string()).unwrap();
    let page = tw.data.path().join("report.html");
    let args = [
        "check",
        &base,
        "--issuer-key",
        key.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ];
    let (ok, report) = tw.json(&args).await;
    assert!(ok, "{report:#}");
    let cases = report["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    // All pass; only the token expiry is not waited for (tokens live 300 s here).
    assert!(
        cases.iter().all(|c| c["outcome"] == "pass"
            || (c["id"] == "expired_access_token" && c["outcome"] == "not_applicable")),
        "{report:#}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    // Kept to look at, as the end-to-end suite keeps its screenshots.
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("check-report.html"), &html).unwrap();
    for c in cases {
        assert!(html.contains(&format!("id=\"{}\"", c["id"].as_str().unwrap())));
    }

    // A holder that accepts expired tickets: the one case fails, and tw says so.
    sb.holders[0].set_faults(sandbox::Faults {
        accept_expired_tickets: true,
        ..Default::default()
    });
    let out = tw.run(&args, None).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].contains("expired_ticket"), "{text}");
    assert!(
        text.contains("Ticket expired"),
        "the requirement is named: {text}"
    );

    // The workbench: a test copy with one claim changed, listed as such, and
    // checked where named: its exchange is refused as the copy is expired.
    let (_, kept) = tw.json(&["ticket", "list"]).await;
    let jti = kept[0]["jti"].as_str().unwrap().to_string();
    let (_, inspected) = tw.json(&["ticket", "inspect", &ticket]).await;
    let mut claims = inspected["claims"].clone();
    claims["exp"] = serde_json::json!(1_000_000_000);
    let claims_file = tw.data.path().join("claims.json");
    std::fs::write(&claims_file, claims.to_string()).unwrap();
    let (ok, copy) = tw
        .json(&[
            "ticket",
            "test-copy",
            &jti,
            "--claims",
            claims_file.to_str().unwrap(),
            "--issuer-key",
            key.to_str().unwrap(),
        ])
        .await;
    assert!(ok, "{copy}");
    assert_eq!(copy[0]["source"], "workbench");
    let listed = tw.run(&["ticket", "list"], None).await;
    assert!(String::from_utf8_lossy(&listed.stdout).contains("[test ticket"));
    sb.holders[0].set_faults(sandbox::Faults::default());
    let test_jti = copy[0]["jti"].as_str().unwrap();
    let (ok, report) = tw.json(&["check", &base, "--ticket", test_jti]).await;
    assert!(!ok);
    let valid = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "exchange_valid")
        .unwrap();
    assert_eq!(valid["outcome"], "fail");
    assert!(
        valid["detail"].as_str().unwrap().contains("invalid_grant"),
        "{valid}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn holders_sync_and_trace() {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let tw = Tw::new("sync");
    let ticket = tw.import_bound_ticket(&sb.issuer).await;

    let h1 = sb.holders[0].fhir_base();
    let h2 = sb.holders[1].fhir_base();
    for (i, h) in [&h1, &h2].into_iter().enumerate() {
        let (ok, added) = tw.json(&["holder", "add", h]).await;
        assert!(ok, "{added}");
        assert_eq!(added[0]["fhir_base"], h.as_str());
        // Added by address alone, it is named as its CapabilityStatement names it.
        assert_eq!(added[0]["name"], sb.holders[i].info().name.as_str());
        assert_eq!(added[0]["token_exchange"], true);
        assert_eq!(added[0]["dpop"], true);
        assert!(added[0]["client_id"].is_string(), "registered: {added}");
    }
    let (_, listed) = tw.json(&["holder", "list"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // A name carrying terminal escapes (a title change, a screen clear) is
    // printed for people without them; JSON keeps it, escaped.
    let hostile = "Clinic\u{1b}]0;owned\u{7}\u{1b}[2J";
    assert!(tw.json(&["holder", "add", &h1, "--name", hostile]).await.0);
    let listed = tw.run(&["holder", "list"], None).await;
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("Clinic]0;owned[2J"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    let (_, listed) = tw.json(&["holder", "list"]).await;
    assert!(listed.to_string().contains(r"\u001b"), "{listed}");

    // One holder needs the patient to confirm her record: without --interactive
    // the sync says so and exits non-zero, having synced the other.
    let (ok, outcomes) = tw.json(&["sync"]).await;
    assert!(!ok);
    let by_base = |b: &str| {
        outcomes
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["fhir_base"] == b)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_base(&h1)["status"], "synced");
    assert!(by_base(&h1)["resources"].as_u64().unwrap() > 10);
    assert_eq!(by_base(&h2)["status"], "needs_interaction");

    let (ok, outcomes) = tw.json(&["sync", "--holder", &h1]).await;
    assert!(ok, "{outcomes}");
    assert_eq!(outcomes.as_array().unwrap().len(), 1);

    // The per-holder budget, lowered from the command line: stopped, and said
    // why. A dry run, since a re-sync asks only for what changed, which is
    // nothing here.
    let (ok, outcomes) = tw
        .json(&[
            "sync",
            "--holder",
            &h1,
            "--max-holder-records",
            "5",
            "--dry-run",
        ])
        .await;
    assert!(!ok);
    let message = outcomes[0]["message"].as_str().unwrap();
    assert!(message.contains("more than 5 records"), "{message}");

    // The people-facing output: one line per holder, counts per type.
    let text = tw.run(&["sync", "--holder", &h1], None).await;
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("synced") && stdout.contains("Observation"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&text.stderr).contains("done"),
        "progress on stderr"
    );

    let (ok, trace) = tw.json(&["trace"]).await;
    assert!(ok);
    let entries = trace.as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["url"].as_str().unwrap().contains("/Observation"))
    );
    let text = trace.to_string();
    assert!(!text.contains(&ticket), "no ticket in the trace");

    // The same trace as HAR, and read back from a saved file without a wallet.
    let har_path = tw.data.path().join("sync.har");
    let har_out = tw
        .run(&["trace", "--har", har_path.to_str().unwrap()], None)
        .await;
    assert!(har_out.status.success());
    assert!(String::from_utf8_lossy(&har_out.stderr).contains("HAR 1.2"));
    let har::Spec::V1_2(log) = har::from_path(&har_path).unwrap().log else {
        panic!("not HAR 1.2")
    };
    assert_eq!(log.entries.len(), entries.len());
    let saved = tw.data.path().join("sync.trace.json");
    std::fs::write(&saved, text.as_bytes()).unwrap();
    let elsewhere = Tw::new("trace-reader");
    let curl = elsewhere
        .run(
            &["trace", "--from", saved.to_str().unwrap(), "--curl"],
            None,
        )
        .await;
    let commands = String::from_utf8_lossy(&curl.stdout);
    assert!(curl.status.success(), "{commands}");
    assert_eq!(commands.matches("curl -X ").count(), entries.len());
    assert!(
        commands.contains(
            "--data-urlencode 'grant_type=urn:ietf:params:oauth:grant-type:token-exchange'"
        )
    );
    let not_a_trace = elsewhere
        .run(&["trace", "--from", har_path.to_str().unwrap()], None)
        .await;
    assert!(!not_a_trace.status.success());
    assert!(
        String::from_utf8_lossy(&not_a_trace.stderr).contains("not a Ticket Wallet trace"),
        "{}",
        String::from_utf8_lossy(&not_a_trace.stderr)
    );

    // What was kept: counts per holder and type, and the holder's records as a Bundle.
    let (ok, counts) = tw.json(&["records", "list"]).await;
    assert!(ok, "{counts}");
    let kept: u64 = counts
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["holder"] == h1.as_str())
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(kept, by_base(&h1)["resources"].as_u64().unwrap());
    let export = tw.run(&["records", "export", "--holder", &h1], None).await;
    assert!(export.status.success());
    let bundle: Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len() as u64, kept);
    assert!(
        entries
            .iter()
            .any(|e| e["resource"]["resourceType"] == "Patient"
                && e["resource"]["name"][0]["family"] == "Rivera")
    );
    let (ok, timeline) = tw.json(&["records", "timeline", "--limit", "5"]).await;
    assert!(ok);
    assert_eq!(timeline.as_array().unwrap().len(), 5);
    let (_, series) = tw.json(&["records", "series", "4548-4"]).await;
    assert!(series.as_array().unwrap().len() > 3, "{series}");
    // One record, shown with every holder's copy as it was received.
    let first = &timeline[0];
    let id = first["id"].as_i64().unwrap().to_string();
    let (ok, shown) = tw.json(&["records", "show", &id]).await;
    assert!(ok, "{shown}");
    assert_eq!(shown["item"]["id"], first["id"]);
    let copies = shown["copies"].as_array().unwrap();
    assert_eq!(copies.len(), first["sources"].as_array().unwrap().len());
    let raw: Value = serde_json::from_str(copies[0]["json"].as_str().unwrap()).unwrap();
    assert_eq!(raw["resourceType"], first["resource_type"]);
    let (ok, missing) = tw.json(&["records", "show", "999999999"]).await;
    assert!(
        !ok && missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no record")
    );
    // The people the records are about, and the merged record in two forms.
    let (ok, people) = tw.json(&["records", "people"]).await;
    assert!(ok);
    assert_eq!(people[0]["name"], "Ana Rivera");
    let merged = tw.run(&["records", "export"], None).await;
    assert!(merged.status.success());
    let merged: Value = serde_json::from_slice(&merged.stdout).unwrap();
    assert_eq!(merged["type"], "collection");
    assert!(!merged["entry"].as_array().unwrap().is_empty());
    // A reader that stops early (`| head`) ends the export quietly.
    let data = tw.data.path().to_path_buf();
    let profile = tw.profile.clone();
    let stopped = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tw"))
            .args(["records", "export"])
            .env("TW_DATA_DIR", data)
            .env("TW_PROFILE", profile)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let complaint = String::from_utf8_lossy(&stopped.stderr);
    assert!(!complaint.contains("panicked"), "{complaint}");
    let html = tw.run(&["records", "export", "--html"], None).await;
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(html.starts_with("<!doctype html>") && html.contains("Ana Rivera"));
    let text = tw
        .run(&["records", "search", "hemoglobin", "a1c"], None)
        .await;
    assert!(String::from_utf8_lossy(&text.stdout).contains("Hemoglobin A1c"));

    let (ok, _) = tw.json(&["holder", "remove", &h2]).await;
    assert!(ok);
    let (ok, err) = tw.json(&["holder", "remove", &h2]).await;
    assert!(!ok);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not one of")
    );
}

/// What a holder's records in the store come to: how many of each type.
type Held = std::collections::BTreeMap<String, usize>;

fn held(wallet: &wallet_core::Wallet, base: &str) -> Held {
    let store = wallet.record_store().unwrap();
    store
        .counts()
        .unwrap()
        .into_iter()
        .filter(|c| c.holder == base)
        .map(|c| (c.resource_type, c.count))
        .collect()
}

/// Every byte SQLite keeps for the profile's store: database, WAL, journal.
fn store_files(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("records.db"))
            {
                all.extend(std::fs::read(&p).unwrap());
            }
        }
    }
    all
}

/// Patient details and record numbers that must never be readable on disk.
const PLAIN: &[&str] = &[
    "Rivera",
    "1984-03-12",
    "MRN-H1-01000",
    "MRN-H3-01002",
    "h1-ana",
    "resourceType",
];

/// Kills (SIGKILL) a `tw sync` started with its progress on a pipe, `delay`
/// after the first holder says it is storing; returns that holder.
async fn kill_once_storing(child: std::process::Child, delay: std::time::Duration) -> String {
    let storing = |line: &str| {
        line.strip_suffix(" records")
            .and_then(|l| l.split_once(": storing ").map(|(base, _)| base.to_string()))
    };
    kill_once(child, storing, delay).await
}

/// Kills (SIGKILL) a `tw sync` started with its progress on a pipe, `delay`
/// after the first progress line `at` names a holder in; returns that holder.
async fn kill_once(
    mut child: std::process::Child,
    at: impl Fn(&str) -> Option<String> + Send + 'static,
    delay: std::time::Duration,
) -> String {
    use std::io::BufRead;
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    tokio::task::spawn_blocking(move || {
        for line in stderr.lines() {
            let line = line.unwrap();
            if let Some(base) = at(&line) {
                std::thread::sleep(delay);
                child.kill().unwrap();
                child.wait().unwrap();
                return base;
            }
        }
        let status = child.wait().unwrap();
        panic!("the sync ended ({status}) before the line it was to be killed at");
    })
    .await
    .unwrap()
}

/// `tw sync` killed (SIGKILL) while a holder's records are being written, at
/// several points: each holder keeps exactly its old set or its new one, the
/// index matches the records, nothing is readable in the database, its WAL or
/// a journal, and `--resume` finishes the job.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_while_storing_leaves_each_holder_old_or_new() {
    use std::io::BufRead;
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig {
        size: 5000,
        ..Default::default()
    })
    .await
    .unwrap();
    let tw = Tw::new("kill");
    tw.import_bound_ticket(&sb.issuer).await;
    let holders = [&sb.holders[0], &sb.holders[2]];
    let bases: Vec<String> = holders.iter().map(|h| h.fhir_base()).collect();
    for base in &bases {
        assert!(tw.json(&["holder", "add", base]).await.0);
    }
    // The first sync, watched: how long storing one holder's records takes
    // here, from its "storing" line to its "done" line.
    let storing_took = {
        let mut child = tw.spawn_sync(Stdio::piped());
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        tokio::task::spawn_blocking(move || {
            let mut started = None;
            let mut took = None;
            for line in stderr.lines() {
                let line = line.unwrap();
                match (&started, line.split_once(": ")) {
                    (None, Some((base, rest))) if rest.starts_with("storing ") => {
                        started = Some((base.to_string(), std::time::Instant::now()));
                    }
                    (Some((storing, at)), Some((base, "done")))
                        if base == storing && took.is_none() =>
                    {
                        took = Some(at.elapsed());
                    }
                    _ => {}
                }
            }
            assert!(child.wait().unwrap().success());
            took.expect("a holder stored its records")
        })
        .await
        .unwrap()
    };
    let first = "the first sync";
    let wallet = tw.wallet();
    let mut old: Vec<Held> = bases.iter().map(|b| held(&wallet, b)).collect();
    assert!(
        old.iter().all(|h| h.values().sum::<usize>() > 2500),
        "{old:?} {first}"
    );

    // (kills that found the holder being stored with its old set, with its new one)
    let (mut rolled_back, mut landed) = (0, 0);
    // Kills spread from the first moment of storing to past its end, so some
    // land before the commit, some inside it, some after.
    for tenths in [0, 2, 4, 6, 8, 9, 10, 11, 15] {
        let delay = storing_took * tenths / 10;
        const GONE: usize = 25;
        // Some records gone and some changed: the new set is written row by row.
        for h in holders {
            h.forget_last(GONE);
            h.revise(GONE);
        }
        let storing = kill_once_storing(tw.spawn_sync(Stdio::piped()), delay).await;

        // On disk, before anything opens the store again.
        let bytes = store_files(tw.data.path());
        for plain in PLAIN {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                "{plain} is readable in the store's files after a kill"
            );
        }
        let store = wallet.record_store().unwrap();
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
        drop(store);
        let after_kill: Vec<Held> = bases.iter().map(|b| held(&wallet, b)).collect();

        let (ok, resumed) = tw.json(&["sync", "--resume"]).await;
        let mut new: Vec<Held> = Vec::new();
        for (i, base) in bases.iter().enumerate() {
            let now = held(&wallet, base);
            // Some of the forgotten records are of types the ticket does not
            // ask for; the rest are gone from the new set.
            assert!(
                now.values().sum::<usize>() < old[i].values().sum::<usize>(),
                "{base}: the resumed sync found the new set ({resumed})"
            );
            assert!(
                after_kill[i] == old[i] || after_kill[i] == now,
                "{base} after a kill {delay:?} into storing is neither its old set nor its new one: {:?}",
                after_kill[i]
            );
            if after_kill[i] != now {
                // Cut off before its records landed: the resume fetched it again.
                assert!(ok, "{resumed}");
                assert!(
                    resumed
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|o| o["fhir_base"] == base.as_str()),
                    "{resumed}"
                );
            }
            if *base == storing {
                if after_kill[i] == old[i] {
                    rolled_back += 1;
                } else {
                    landed += 1;
                }
            }
            new.push(now);
        }
        if !ok {
            assert!(
                resumed.to_string().contains("no interrupted sync"),
                "{resumed}"
            );
        }
        let store = wallet.record_store().unwrap();
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
        old = new;
    }
    eprintln!(
        "storing took {storing_took:?}; kills while storing: {rolled_back} found the old set, {landed} the new"
    );
    assert!(
        rolled_back > 0 && landed > 0,
        "the kills did not straddle the commit"
    );

    // A holder that finished is not asked again by a resume.
    sb.holders[2].set_faults(sandbox::Faults {
        latency_ms: 30_000,
        ..Default::default()
    });
    let mut child = tw.spawn_sync(Stdio::null());
    let done = |w: &wallet_core::Wallet, base: &str| {
        let store = w.record_store().unwrap();
        store
            .interrupted_run()
            .unwrap()
            .is_some_and(|run| store.holder_finished(run.id, base).unwrap())
    };
    let started = std::time::Instant::now();
    while !done(&wallet, &bases[0]) {
        assert!(
            started.elapsed().as_secs() < 30,
            "the fast holder never landed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    sb.holders[2].set_faults(sandbox::Faults::default());
    let (ok, resumed) = tw.json(&["sync", "--resume"]).await;
    assert!(ok, "{resumed}");
    let resumed = resumed.as_array().unwrap();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0]["fhir_base"], bases[1].as_str());
    let (_, trace) = tw.json(&["trace"]).await;
    assert!(
        !trace.to_string().contains(&bases[0]),
        "nothing asked of the finished holder"
    );
    let (ok, err) = tw.json(&["sync", "--resume"]).await;
    assert!(!ok);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no interrupted sync")
    );
}

/// A first sync, into an empty store, writes its sets without some of the
/// view's indexes and builds them after. Killed (SIGKILL) while it stores:
/// each holder has nothing or its whole set, the store's only fault is the
/// indexes not yet built, and `--resume` finishes the sets and builds them.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_killed_while_storing_is_finished_by_resume_indexes_and_all() {
    let (sb, bases) = two_large_holders().await;
    // (holders found empty after a kill, holders found whole)
    let (mut empty, mut whole) = (0, 0);
    for delay_ms in [0, 60, 150, 400] {
        let tw = first_sync_wallet(&format!("first-kill-{delay_ms}"), &sb, &bases).await;
        kill_once_storing(
            tw.spawn_sync(Stdio::piped()),
            std::time::Duration::from_millis(delay_ms),
        )
        .await;

        let wallet = tw.wallet();
        let after_kill: Vec<Held> = bases.iter().map(|b| held(&wallet, b)).collect();
        let faults = wallet.record_store().unwrap().check().unwrap();
        assert!(
            faults.iter().all(|f| f.contains("not built")),
            "after a kill {delay_ms} ms into storing: {faults:?}"
        );

        resume_or_sync(&tw).await;
        for (i, base) in bases.iter().enumerate() {
            let now = held(&wallet, base);
            assert!(now.values().sum::<usize>() > 2500, "{base}: {now:?}");
            if after_kill[i].is_empty() {
                empty += 1;
            } else {
                assert_eq!(
                    after_kill[i], now,
                    "{base} after a kill {delay_ms} ms into storing is neither empty nor whole"
                );
                whole += 1;
            }
        }
        let store = wallet.record_store().unwrap();
        assert_eq!(store.check().unwrap(), Vec::<String>::new(), "resumed");
    }
    eprintln!("first syncs killed while storing: {empty} holders found empty, {whole} whole");
    assert!(empty > 0, "every kill came after every holder was stored");
}

/// A sandbox whose holders keep 5,000 records each for the patient, and
/// two of their FHIR bases.
async fn two_large_holders() -> (sandbox::Sandbox, [String; 2]) {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig {
        size: 5000,
        ..Default::default()
    })
    .await
    .unwrap();
    let bases = [sb.holders[0].fhir_base(), sb.holders[2].fhir_base()];
    (sb, bases)
}

/// A new profile with a bound ticket and `bases` added: its first sync is to come.
async fn first_sync_wallet(name: &str, sb: &sandbox::Sandbox, bases: &[String]) -> Tw {
    let tw = Tw::new(name);
    tw.import_bound_ticket(&sb.issuer).await;
    for base in bases {
        assert!(tw.json(&["holder", "add", base]).await.0);
    }
    tw
}

/// `tw sync --resume`, which must succeed; or, when the killed sync had
/// already said done (nothing to resume), `tw sync`, which builds the
/// indexes that sync had still to build after done.
async fn resume_or_sync(tw: &Tw) {
    let (ok, resumed) = tw.json(&["sync", "--resume"]).await;
    if !ok {
        assert!(
            resumed.to_string().contains("no interrupted sync"),
            "{resumed}"
        );
        let (ok, next) = tw.json(&["sync"]).await;
        assert!(ok, "{next}");
    }
}

/// A first sync writes each holder's pages as they arrive, out of sight
/// until the holder's set is written whole. Killed (SIGKILL) while pages
/// download: no holder shows part of its set, the store's only fault is the
/// indexes not yet built, and `--resume` writes every set whole and leaves
/// no page behind.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_killed_while_pages_download_shows_no_part_of_a_set() {
    let (sb, bases) = two_large_holders().await;
    // Kills that found pages written before their set.
    let mut staged_kills = 0;
    for (records, delay_ms) in [(600, 0), (1200, 0), (2000, 0), (3000, 10)] {
        let tw = first_sync_wallet(&format!("page-kill-{records}"), &sb, &bases).await;
        // "BASE: 7 pages, 1400 records (now Observation)"
        let downloaded = move |line: &str| {
            let (base, rest) = line.split_once(": ")?;
            let (_, rest) = rest.split_once(" pages, ")?;
            let n: usize = rest.split_once(" records")?.0.parse().ok()?;
            (n >= records).then(|| base.to_string())
        };
        kill_once(
            tw.spawn_sync(Stdio::piped()),
            downloaded,
            std::time::Duration::from_millis(delay_ms),
        )
        .await;

        let wallet = tw.wallet();
        let store = wallet.record_store().unwrap();
        if store.staged_rows().unwrap() > 0 {
            staged_kills += 1;
        }
        let faults = store.check().unwrap();
        assert!(
            faults.iter().all(|f| f.contains("not built")),
            "after a kill at {records} records: {faults:?}"
        );
        drop(store);
        let after_kill: Vec<Held> = bases.iter().map(|b| held(&wallet, b)).collect();

        resume_or_sync(&tw).await;
        for (i, base) in bases.iter().enumerate() {
            let now = held(&wallet, base);
            assert!(now.values().sum::<usize>() > 2500, "{base}: {now:?}");
            assert!(
                after_kill[i].is_empty() || after_kill[i] == now,
                "{base} after a kill at {records} records is neither empty nor whole: {:?}",
                after_kill[i]
            );
        }
        let store = wallet.record_store().unwrap();
        assert_eq!(store.check().unwrap(), Vec::<String>::new(), "resumed");
        assert_eq!(store.staged_rows().unwrap(), 0, "pages left behind");
    }
    assert!(
        staged_kills > 0,
        "no kill found pages written before their set"
    );
}

/// A Secret Service that runs but gives no access (no login keyring was ever
/// unlocked, as on a fresh desktop): `tw` says so and how to choose, and puts
/// no key anywhere else on its own.
#[tokio::test]
async fn a_keyring_that_refuses_access_is_reported_not_worked_around() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let script = format!(
        "eval \"$(gnome-keyring-daemon --start --components=secrets 2>/dev/null)\"; \
         export GNOME_KEYRING_CONTROL; exec '{}' key show --json",
        env!("CARGO_BIN_EXE_tw")
    );
    let out = std::process::Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("TW_DATA_DIR", data.path())
        .env("TW_PROFILE", "refused")
        .env_remove("TW_KEYRING")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    let answer: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(answer["error"]["code"], "keyring_locked", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("TW_KEYRING=keyutils"), "{message}");
    // Nothing was kept: no note of a store, since no secret was written.
    assert!(!data.path().join("refused").join("keyring-store").exists());
}

/// `tw` with `tests/fake-browser` first on `PATH`: its pages open in a script
/// that acts as a person at a browser (see the script), logging each step.
fn with_browser(name: &str, mode: &str) -> (Tw, std::path::PathBuf) {
    let mut tw = Tw::new(name);
    let log = tw.data.path().join("browser.log");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-browser");
    tw.env = vec![
        (
            "PATH".into(),
            format!("{dir}:{}", std::env::var("PATH").unwrap_or_default()),
        ),
        ("FAKE_BROWSER_LOG".into(), log.display().to_string()),
        ("FAKE_BROWSER_MODE".into(), mode.into()),
        ("FAKE_BROWSER_PATIENT".into(), "h2-ana".into()),
    ];
    (tw, log)
}

fn browser_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// The confirmation through the real pieces: `tw onboard` and
/// `tw sync --interactive` open the system browser (here the fake one on
/// `PATH`), the person signs in or picks their record, and the holder's
/// redirect reaches the wallet's loopback listener. A redirect with another
/// `state` is turned away without ending the wait, the right one is taken,
/// and a second visit finds nobody listening.
#[tokio::test(flavor = "multi_thread")]
async fn the_browser_path_of_onboarding_and_confirmation() {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let (tw, log) = with_browser("browser", "stale");

    let (ok, onboarded) = tw.json(&["onboard", &sb.issuer.url()]).await;
    assert!(ok, "{onboarded} / {}", browser_log(&log));
    assert_eq!(onboarded["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(onboarded["holders"].as_array().unwrap().len(), 3);
    let seen = browser_log(&log);
    assert!(
        seen.starts_with(&format!("opened: {}", sb.issuer.url())),
        "{seen}"
    );
    assert!(
        seen.contains("stale: 400\ncallback: 200\nagain: refused"),
        "{seen}"
    );

    // The second holder keeps two records that fit the ticket: it asks.
    std::fs::remove_file(&log).unwrap();
    let (ok, synced) = tw.json(&["sync", "--interactive"]).await;
    let seen = browser_log(&log);
    assert!(ok, "{synced} / {seen}");
    let outcomes = synced.as_array().unwrap();
    assert_eq!(outcomes.len(), 3);
    for o in outcomes {
        assert_eq!(o["status"], "synced", "{o}");
    }
    let h2 = sb.holders[1].fhir_base();
    let at_h2 = outcomes
        .iter()
        .find(|o| o["fhir_base"] == h2.as_str())
        .unwrap();
    assert_eq!(
        at_h2["patient_id"], "h2-ana",
        "the record the person picked"
    );
    assert_eq!(seen.matches("opened: ").count(), 1, "{seen}");
    assert!(seen.contains("/holders/h2/"), "{seen}");
    assert!(
        seen.contains("stale: 400\ncallback: 200\nagain: refused"),
        "{seen}"
    );
}

/// A person who never comes back from the browser: the holder that asked
/// fails with a reason once the wait is over, the others are synced, and the
/// listener is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_person_who_never_comes_back() {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let (mut tw, log) = with_browser("away", "");
    let (ok, onboarded) = tw.json(&["onboard", &sb.issuer.url()]).await;
    assert!(ok, "{onboarded} / {}", browser_log(&log));

    for (k, v) in &mut tw.env {
        if k == "FAKE_BROWSER_MODE" {
            *v = "away".into();
        }
    }
    std::fs::remove_file(&log).unwrap();
    let started = std::time::Instant::now();
    let (ok, synced) = tw
        .json(&["sync", "--interactive", "--confirm-timeout", "2"])
        .await;
    let took = started.elapsed();
    assert!(!ok, "a holder failed: {synced}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    let h2 = sb.holders[1].fhir_base();
    for o in synced.as_array().unwrap() {
        if o["fhir_base"] == h2.as_str() {
            assert_eq!(o["status"], "failed", "{o}");
            assert!(
                o["message"]
                    .as_str()
                    .unwrap()
                    .contains("not finished in time"),
                "{o}"
            );
        } else {
            assert_eq!(o["status"], "synced", "{o}");
        }
    }
    let seen = browser_log(&log);
    assert_eq!(seen.matches("opened: ").count(), 1, "{seen}");
    let port = seen
        .split("redirect_uri=http%3A%2F%2F127.0.0.1%3A")
        .nth(1)
        .and_then(|rest| rest.split("%2F").next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no loopback redirect in {seen}"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens once the wait is over"
    );
}

/// A record database written under another key (a profile restored from
/// another machine, a keyring entry replaced), or whose key is gone:
/// `tw sync` and `tw records` say which with their error code, fetch
/// nothing, and leave the file as it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_under_another_key_is_refused_and_kept() {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig {
        holders: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let base = sb.holders[0].fhir_base();
    let mut dbs = Vec::new();
    let mut wallets = Vec::new();
    for name in ["keyA", "keyB", "keyC"] {
        let tw = Tw::new(name);
        tw.import_bound_ticket(&sb.issuer).await;
        assert!(tw.json(&["holder", "add", &base]).await.0);
        dbs.push(tw.data.path().join(&tw.profile).join("records.db"));
        wallets.push(tw);
    }
    // A and B have synced, each under its own key; C never has.
    for tw in &wallets[..2] {
        let (ok, synced) = tw.json(&["sync"]).await;
        assert!(ok, "{synced}");
    }
    // B and C are given A's file.
    for (i, code) in [(1, "store_wrong_key"), (2, "missing_database_key")] {
        std::fs::copy(&dbs[0], &dbs[i]).unwrap();
        let before = std::fs::read(&dbs[i]).unwrap();
        let tw = &wallets[i];
        let (_, trace_before) = tw.json(&["trace"]).await;
        for args in [&["sync"][..], &["records", "list"][..]] {
            let (ok, err) = tw.json(args).await;
            assert!(!ok, "{args:?}: {err}");
            assert_eq!(err["error"]["code"], code, "{args:?}: {err}");
            let message = err["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("left as it is") || message.contains("left untouched"),
                "{err}"
            );
        }
        assert_eq!(
            std::fs::read(&dbs[i]).unwrap(),
            before,
            "the file is untouched"
        );
        let (_, trace) = tw.json(&["trace"]).await;
        assert_eq!(trace, trace_before, "nothing was fetched");
    }
    // A still opens its own.
    let (ok, counts) = wallets[0].json(&["records", "list"]).await;
    assert!(ok && !counts.as_array().unwrap().is_empty(), "{counts}");
}

/// The profile's log file says what a sync did (holders, outcomes, counts)
/// and holds nothing secret or private: no token, ticket, assertion or proof
/// (a tester-mode run of the same sync is the witness of what they are), and
/// nothing about the patient, though one holder fails asking who she is.
#[tokio::test(flavor = "multi_thread")]
async fn the_log_file_says_what_happened_and_nothing_private() {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let tw = Tw::new("log");
    let ticket = tw.import_bound_ticket(&sb.issuer).await;
    for h in &sb.holders {
        assert!(tw.json(&["holder", "add", &h.fhir_base()]).await.0);
    }
    let witness = tw.run(&["sync", "--tester", "--json"], None).await;
    let witness = String::from_utf8_lossy(&witness.stdout).to_string();
    let mut secrets: Vec<String> = vec![ticket.rsplit('.').next().unwrap().to_string()];
    for quoted in witness.split('"') {
        if let Some(token) = quoted
            .strip_prefix("DPoP ")
            .or_else(|| quoted.strip_prefix("Bearer "))
        {
            secrets.push(token.to_string());
        }
        let parts: Vec<&str> = quoted.split('.').collect();
        if parts.len() == 3 && quoted.len() > 40 && parts.iter().all(|p| !p.contains(' ')) {
            secrets.push(parts[2].to_string());
        }
    }
    assert!(secrets.len() > 5, "{secrets:?}");
    tw.run(&["sync"], None).await;

    let dir = tw.data.path().join(".logs");
    let mut log = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&tw.profile),
            "one file per profile: {path:?}"
        );
        log.push_str(&std::fs::read_to_string(&path).unwrap());
    }
    for said in [
        "sync started",
        "holder finished",
        "sync finished",
        "status=synced",
        "status=needs_interaction",
    ] {
        assert!(log.contains(said), "{said} not in the log:\n{log}");
    }
    for h in &sb.holders {
        assert!(log.contains(&h.fhir_base()), "{log}");
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret in the log:\n{log}"
        );
    }
    for private in ["Rivera", "1984-03-12", "MRN-", "h1-ana", "h2-ana", "h3-ana"] {
        assert!(!log.contains(private), "{private} in the log:\n{log}");
    }
}
