//! The real app, driven like a person would: tauri-driver and WebKitWebDriver
//! start the built binary in a real window (Xvfb), with a real keyring and a
//! real issuer on loopback. Run through `make test`, which provides all three.
//! Screenshots of each screen land in `artifacts/screenshots/`.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use sandbox::{Issuer, MintRequest};
use wallet_core::permission_ticket::TicketType;

// Without it the app would load the Vite dev server instead of its own frontend.
#[cfg(not(feature = "custom-protocol"))]
compile_error!(
    "the end-to-end tests need the app built with --features custom-protocol (make test passes it)"
);

const APP: &str = env!("CARGO_BIN_EXE_ticket-wallet");
const WAIT: Duration = Duration::from_secs(30);

struct Driver {
    child: Child,
    port: u16,
    /// What the apps it starts inherit, to tell them from other tests' apps.
    env: [String; 2],
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tauri_driver() -> PathBuf {
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin/tauri-driver"));
    match in_cargo_home {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tauri-driver"),
    }
}

async fn start_driver(data_dir: &std::path::Path, profile: &str) -> Driver {
    start_driver_with(data_dir, profile, &[]).await
}

/// `tests/support/` first on the app's PATH: its `xdg-open` answers the pages
/// the app opens in "the browser" as a person would.
fn fake_browser_path() -> String {
    let support = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support");
    format!(
        "{}:{}",
        support.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// What tauri-driver, WebKitWebDriver and the apps they start print, for
/// when a window does not come: `artifacts/e2e-logs/PROFILE.log`.
fn driver_log(profile: &str) -> Stdio {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/e2e-logs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::File::create(dir.join(format!("{profile}.log")))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

async fn start_driver_with(
    data_dir: &std::path::Path,
    profile: &str,
    env: &[(&str, String)],
) -> Driver {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "no DISPLAY: run through `make test` (scripts/session.sh)"
    );
    let port = free_port();
    let native = free_port();
    let child = Command::new(tauri_driver())
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("TW_DATA_DIR", data_dir)
        .env("TW_PROFILE", profile)
        .env("TW_KEYRING", "secret-service")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(driver_log(profile))
        .spawn()
        .expect("tauri-driver (cargo install tauri-driver --locked; make test does)");
    let driver = Driver {
        child,
        port,
        env: [
            format!("TW_DATA_DIR={}", data_dir.display()),
            format!("TW_PROFILE={profile}"),
        ],
    };
    // tauri-driver answers on `port` only once it can reach WebKitWebDriver on `native`.
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || std::net::TcpStream::connect(("127.0.0.1", native)).is_err()
    {
        assert!(Instant::now() < deadline, "tauri-driver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver
}

async fn launch(driver: &Driver) -> Client {
    launch_with(driver, &[]).await
}

async fn launch_with(driver: &Driver, args: &[&str]) -> Client {
    launch_binary(driver, APP, args).await
}

/// Whether an app this driver started is still running (its data folder and profile in its environment).
fn app_running(driver: &Driver) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
        let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        let environ = std::fs::read(p.path().join("environ")).unwrap_or_default();
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        comm.trim() == "ticket-wallet"
            && driver
                .env
                .iter()
                .all(|want| vars.contains(&want.as_bytes()))
    })
}

/// Waits until no app of this driver's profile runs: a launch while the last
/// window's process is still exiting would hand over to it (one app per
/// profile) and open nothing.
async fn wait_for_exit(driver: &Driver) {
    let deadline = Instant::now() + WAIT;
    while app_running(driver) {
        assert!(Instant::now() < deadline, "the last app did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A WebDriver session with `application` started by the driver: the process
/// and its webview up, the page loaded.
async fn new_session(driver: &Driver, application: &str, args: &[&str]) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": application, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    tokio::time::timeout(
        WAIT,
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port)),
    )
    .await
    .expect("no window within 30 s: the app did not start (see artifacts/e2e-logs/)")
    .expect("a WebDriver session with the app")
}

async fn launch_binary(driver: &Driver, application: &str, args: &[&str]) -> Client {
    wait_for_exit(driver).await;
    let client = new_session(driver, application, args).await;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("header.top"))
        .await
        .unwrap();
    client
}

async fn shot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    keep_drawing(client).await;
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

const DESKTOP: (u32, u32) = (1100, 820);
const PHONE: (u32, u32) = (390, 844);

/// The screen at desktop size and at phone size (`NAME-phone.png`), once
/// `ready` is on it, so no capture is half drawn.
async fn shots(client: &Client, name: &str, ready: &str) {
    find(client, ready).await;
    settle(client).await;
    shot(client, name).await;
    accessible(client, name).await;
    client.set_window_size(PHONE.0, PHONE.1).await.unwrap();
    find(client, ready).await;
    settle(client).await;
    shot(client, &format!("{name}-phone")).await;
    fits_the_width(client, name).await;
    client.set_window_size(DESKTOP.0, DESKTOP.1).await.unwrap();
    settle(client).await;
}

/// Nothing on the screen reaches past the window's right edge, other than
/// inside a box that scrolls or clips on purpose (the tab bar): a phone
/// user would otherwise have to scroll sideways to read a line.
async fn fits_the_width(client: &Client, screen: &str) {
    let wide = client
        .execute(
            "const w = document.documentElement.clientWidth;
             const held = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
                 if (getComputedStyle(p).overflowX !== 'visible') return true; } return false; };
             return [...document.body.querySelectorAll('*')]
               .filter(e => e.getBoundingClientRect().right > w + 1 && !held(e))
               .slice(0, 5)
               .map(e => e.tagName.toLowerCase() + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
                 + ' reaches ' + Math.round(e.getBoundingClientRect().right) + ' of ' + w);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        wide,
        serde_json::json!([]),
        "{screen} at phone width: these reach past the window's edge"
    );
}

/// Runs axe-core (from the frontend's dev dependencies) on the screen as it
/// stands and fails on any WCAG 2 A or AA violation, naming each.
async fn accessible(client: &Client, screen: &str) {
    let axe = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&axe).expect("axe-core (npm --prefix ui ci installs it)");
    client
        .execute(&format!("{source}\nreturn true;"), vec![])
        .await
        .unwrap();
    let found = client
        .execute(
            "const r = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] });
             return { passed: r.passes.length, violations: r.violations.map(v => v.id + ' (' + v.impact + '): '
               + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')) };",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        found["passed"].as_u64().unwrap_or(0) > 5,
        "axe did not run: {found}"
    );
    let violations = found["violations"].as_array().cloned().unwrap_or_default();
    assert!(
        violations.is_empty(),
        "{screen} has accessibility problems: {violations:#?}"
    );
}

/// Keeps the page drawing for the next second, before a WebDriver command
/// that waits for a frame (a screenshot, a click).
///
/// Drawn without compositing (src-tauri/drawing.rs), WebKitGTK answers such
/// a command only after it has drawn a frame since the command came. A page
/// at rest draws none, and the command waits forever: a screenshot of the
/// Tickets screen left alone hung every time, and the same screenshot with
/// the page drawing returned in 70 ms. What a person sees is drawn either
/// way (X's own capture of the window showed each screen); only WebDriver's
/// wait needs the frame. The page redraws an invisible outline for a second.
async fn keep_drawing(client: &Client) {
    client
        .execute(
            "const until = performance.now() + 1000;
             window.__drawUntil = Math.max(window.__drawUntil || 0, until);
             if (!window.__drawing) {
               window.__drawing = true;
               let odd = false;
               const tick = () => {
                 odd = !odd;
                 document.body.style.outline = odd ? '1px solid transparent' : '';
                 if (performance.now() < window.__drawUntil) { setTimeout(tick, 20); return; }
                 document.body.style.outline = '';
                 window.__drawing = false;
               };
               tick();
             }
             return true;",
            vec![],
        )
        .await
        .unwrap();
}

/// Clicks an element found some other way than by test id; see `keep_drawing`.
async fn press(client: &Client, el: fantoccini::elements::Element) {
    keep_drawing(client).await;
    el.click().await.unwrap();
}

/// Lets layout and paint finish after a change of size or screen.
async fn settle(client: &Client) {
    client
        .execute(
            "return await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))",
            vec![],
        )
        .await
        .unwrap();
}

/// How many elements carry `testid`, counted in the page in one step: handles
/// taken one by one can go stale while React redraws the list.
async fn count(client: &Client, testid: &str) -> usize {
    let n = client
        .execute(
            &format!("return document.querySelectorAll(\"[data-testid='{testid}']\").length;"),
            vec![],
        )
        .await
        .unwrap();
    n.as_u64().unwrap_or_else(|| panic!("a count, not {n}")) as usize
}

/// Waits until exactly `n` elements carry `testid` (queries may still be answering).
async fn wait_count(client: &Client, testid: &str, n: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    let mut seen = count(client, testid).await;
    while seen != n && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = count(client, testid).await;
    }
    assert_eq!(seen, n, "{testid}");
}

/// Clicks the element, finding it again if React replaced it meanwhile.
async fn click(client: &Client, testid: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        keep_drawing(client).await;
        match find(client, testid).await.click().await {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!("could not click {testid}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits for the element. React may replace a node between finding it and
/// using it (WebDriver then calls it stale), so any error is retried until
/// `WAIT` is up.
async fn find(client: &Client, testid: &str) -> fantoccini::elements::Element {
    find_css(client, &format!("[data-testid='{testid}']"), testid).await
}

/// `find` for any selector; `name` names the capture taken if it never comes.
async fn find_css(client: &Client, css: &str, name: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + WAIT;
    loop {
        match client.find(Locator::Css(css)).await {
            Ok(el) => return el,
            Err(e) if Instant::now() > deadline => {
                // What the window showed instead, to see why.
                shot(client, &format!("failed-waiting-for-{name}")).await;
                panic!("no {css}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The element's text, once it is there (retried like `find`).
async fn text_of(client: &Client, testid: &str) -> String {
    wait_text(client, testid, |_| true).await
}

/// Waits until the element's text satisfies `pred` (React renders asynchronously).
/// What a form field holds.
async fn value_of(client: &Client, testid: &str) -> String {
    find(client, testid)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn wait_text(client: &Client, testid: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(el) = client
            .find(Locator::Css(&format!("[data-testid='{testid}']")))
            .await
            && let Ok(text) = el.text().await
            && pred(&text)
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "[data-testid={testid}] never matched"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn paste_and_add(client: &Client, ticket: &str) {
    click(client, "nav-add").await;
    let input = find(client, "ticket-input").await;
    input.clear().await.unwrap();
    input.send_keys(ticket).await.unwrap();
    click(client, "save-ticket").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paste_see_decoded_restart_still_listed_and_tampered_refused() {
    let issuer = Issuer::start(0).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let profile = format!("e2e-{}", std::process::id());
    let driver = start_driver(data.path(), &profile).await;

    // First run: a welcome, then the key screen shows this wallet's thumbprint.
    let client = launch(&driver).await;
    assert!(
        text_of(&client, "welcome")
            .await
            .contains("Try it with demo data")
    );
    shots(&client, "01-welcome", "start-demo").await;
    click(&client, "nav-tickets").await;
    assert!(
        text_of(&client, "empty-list")
            .await
            .contains("No tickets yet")
    );
    click(&client, "nav-key").await;
    let jkt = wait_text(&client, "jkt", |t| t.len() == 43).await;
    shots(&client, "02-key", "qr").await;

    // Paste a ticket bound to that key: it is decoded and every check passes.
    let ticket = issuer
        .mint(&MintRequest::new(
            TicketType::PatientSelfAccess,
            Some(jkt.clone()),
        ))
        .unwrap();
    paste_and_add(&client, &ticket).await;
    // The kept ticket's own screen (the import screen's preview is replaced by it).
    find(&client, "remove-ticket").await;
    let jti = find(&client, "ticket-detail")
        .await
        .attr("data-jti")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        wait_text(&client, "patient-name", |t| !t.is_empty()).await,
        "Ana Rivera"
    );
    assert!(text_of(&client, "verdict").await.contains("Ready to use"));
    assert_eq!(text_of(&client, "ticket-type").await, "Patient self-access");
    for check in ["signature", "expiry", "presenter_binding", "revocation"] {
        let el = find(&client, &format!("check-{check}")).await;
        assert_eq!(
            el.attr("data-status").await.unwrap().as_deref(),
            Some("pass"),
            "{check}"
        );
    }
    assert!(text_of(&client, "scopes").await.contains("Condition"));
    shot(&client, "03-ticket-decoded").await;

    // A tampered ticket gets a clear error and is not kept.
    let parts: Vec<&str> = ticket.split('.').collect();
    let claims = wallet_core::permission_ticket::base64url::decode(parts[1]).unwrap();
    let forged = String::from_utf8(claims)
        .unwrap()
        .replace("Rivera", "Rivers");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        wallet_core::permission_ticket::base64url::encode(forged),
        parts[2]
    );
    paste_and_add(&client, &tampered).await;
    let error = wait_text(&client, "error", |t| !t.is_empty()).await;
    assert!(
        error.contains("signature does not match any key published by"),
        "{error}"
    );
    assert_eq!(
        find(&client, "error")
            .await
            .attr("data-code")
            .await
            .unwrap()
            .as_deref(),
        Some("bad_signature")
    );
    shot(&client, "04-tampered-refused").await;
    client.close().await.unwrap();

    // Restart: the ticket is still listed, and opens again from the keyring.
    let client = launch(&driver).await;
    click(&client, "nav-tickets").await;
    let row = find(&client, "ticket-row").await;
    assert_eq!(row.attr("data-jti").await.unwrap(), Some(jti.clone()));
    assert_eq!(
        client
            .find_all(Locator::Css("[data-testid='ticket-row']"))
            .await
            .unwrap()
            .len(),
        1
    );
    // The sandbox's tickets last an hour: usable, and marked as expiring soon.
    let status = find(&client, "ticket-status").await;
    assert_eq!(
        status.attr("data-status").await.unwrap().as_deref(),
        Some("expiring_soon")
    );
    assert_eq!(
        text_of(&client, "ticket-person").await,
        "Ana Rivera, born 1984-03-12"
    );
    shots(&client, "05-list-after-restart", "ticket-status").await;
    press(&client, row).await;
    assert_eq!(
        wait_text(&client, "patient-name", |t| !t.is_empty()).await,
        "Ana Rivera"
    );

    // The built-in demo issuer adds a working ticket with one click.
    click(&client, "nav-tickets").await;
    click(&client, "demo-add").await;
    let verdict = wait_text(&client, "verdict", |t| !t.is_empty()).await;
    assert!(verdict.contains("Ready to use"), "{verdict}");
    shot(&client, "06-demo-ticket").await;
    client.close().await.unwrap();

    // Opened by a ticket link: the ticket is shown for confirmation, not added silently.
    let delegated = issuer
        .mint(&MintRequest::new(
            TicketType::PatientDelegatedAccess,
            Some(jkt),
        ))
        .unwrap();
    let client = launch_with(&driver, &[&format!("web+ticket:{delegated}")]).await;
    find(&client, "link-notice").await;
    let prefilled = value_of(&client, "ticket-input").await;
    assert_eq!(prefilled, format!("web+ticket:{delegated}"));
    click(&client, "save-ticket").await;
    assert_eq!(
        wait_text(&client, "ticket-type", |t| !t.is_empty()).await,
        "Delegated access (caregiver)"
    );
    assert_eq!(text_of(&client, "requester").await, "Luis Rivera");
    shot(&client, "07-opened-by-link").await;

    // A link opened while the app runs: the desktop starts the app again with
    // the link, and that second launch hands it to this window and exits.
    click(&client, "nav-tickets").await;
    let another = issuer
        .mint(&MintRequest::new(TicketType::PatientSelfAccess, None))
        .unwrap();
    let link = format!("web+ticket:{another}");
    let mut second = Command::new(APP)
        .arg(&link)
        .env("TW_DATA_DIR", data.path())
        .env("TW_PROFILE", &profile)
        .env("TW_KEYRING", "secret-service")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            second.kill().unwrap();
            second.wait().unwrap();
            panic!("the second launch opened a window of its own");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "the second launch handed over: {status}");
    find(&client, "link-notice").await;
    let prefilled = value_of(&client, "ticket-input").await;
    assert_eq!(
        prefilled, link,
        "the running window shows the handed-over link"
    );
    shot(&client, "08-link-handed-to-the-running-app").await;
    client.close().await.unwrap();
}

/// The demo from a fresh profile to the merged record, with the holder that
/// asks the patient to confirm answered in "the browser"; then every screen a
/// person uses on that record: sync, holders, sections, a chart, search, one
/// record's copies, exports, and deleting everything.
#[tokio::test(flavor = "multi_thread")]
async fn demo_from_a_fresh_profile_to_the_record_and_back_to_nothing() {
    let data = tempfile::tempdir().unwrap();
    let exports = tempfile::tempdir().unwrap();
    let browser_log = data.path().join("browser.log");
    let profile = format!("e2e-demo-{}", std::process::id());
    let driver = start_driver_with(
        data.path(),
        &profile,
        &[
            ("PATH", fake_browser_path()),
            ("TW_EXPORT_DIR", exports.path().display().to_string()),
            ("TW_FAKE_BROWSER_LOG", browser_log.display().to_string()),
        ],
    )
    .await;
    let client = launch(&driver).await;
    // The demo starts with the app and writes nothing to the keyring (nor
    // notes one in the profile's folder) until the person asks for it.
    let demo_up = client
        .execute(
            "for (let i = 0; i < 100; i++) {
               if (await window.__TAURI_INTERNALS__.invoke('demo_status')) return true;
               await new Promise(r => setTimeout(r, 100));
             }
             return false;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(demo_up, serde_json::json!(true));
    assert!(!data.path().join(&profile).join("keyring-store").exists());
    click(&client, "start-demo").await;
    let steps = find(&client, "demo-step").await;
    assert!(
        steps
            .text()
            .await
            .unwrap()
            .contains("bound to this wallet's key")
    );
    // The steps are on screen only while the demo runs: a desktop capture only.
    settle(&client).await;
    shot(&client, "10-demo-running").await;

    // It ends on the record: one person, from the three demo holders.
    let name = client
        .wait()
        .at_most(Duration::from_secs(90))
        .for_element(Locator::Css("[data-testid='person-name']"))
        .await
        .unwrap();
    assert_eq!(name.text().await.unwrap(), "Ana Rivera");
    let banner = text_of(&client, "person-banner").await;
    for holder in [
        "Springfield General Hospital",
        "Lakeside Family Clinic",
        "Riverside Labs",
    ] {
        assert!(banner.contains(holder), "{holder} missing from: {banner}");
    }
    // The holder with two Ana Riveras sent its page to the browser, once.
    let opened = std::fs::read_to_string(&browser_log).unwrap_or_default();
    assert_eq!(opened.lines().count(), 1, "{opened}");
    assert!(opened.contains("/holders/h2/authorize"), "{opened}");
    find(&client, "demo-trail").await;
    // Demo data is marked as such wherever it shows: each holder here, and
    // on the sync, holders and tickets screens below.
    wait_count(&client, "demo-badge", 3).await;
    find(&client, "record-row").await;
    assert!(count(&client, "record-row").await > 5);
    shots(&client, "11-record", "record-row").await;

    // The sync that got here: every holder done.
    click(&client, "nav-sync").await;
    find(&client, "sync-done").await;
    let rows = client
        .find_all(Locator::Css("[data-testid='sync-row']"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    wait_count(&client, "demo-badge", 3).await;
    for row in rows {
        assert_eq!(
            row.attr("data-status").await.unwrap().as_deref(),
            Some("synced")
        );
    }
    shots(&client, "12-sync-done", "sync-done").await;

    // The holders, each with its last sync.
    click(&client, "nav-holders").await;
    wait_text(&client, "holder-last-sync", |t| t.contains("records")).await;
    assert_eq!(count(&client, "holder-card").await, 3);
    wait_count(&client, "demo-badge", 3).await;
    shots(&client, "13-holders", "holder-last-sync").await;

    // A demo holder's conformance check runs every case, the re-signed
    // tickets included: the demo issuer's key is the test key.
    let check = client
        .find(Locator::Css("[data-testid='check-holder']"))
        .await
        .unwrap();
    press(&client, check).await;
    click(&client, "run-check").await;
    find(&client, "check-counts").await;
    for case in ["expired_ticket", "wrong_audience", "presenter_mismatch"] {
        let outcome = client
            .find(Locator::Css(&format!("[data-case='{case}']")))
            .await
            .unwrap()
            .attr("data-outcome")
            .await
            .unwrap();
        assert_eq!(outcome.as_deref(), Some("pass"), "{case}");
    }
    assert_eq!(
        client
            .find_all(Locator::Css("[data-outcome='fail']"))
            .await
            .unwrap()
            .len(),
        0
    );
    click(&client, "nav-tickets").await;
    find(&client, "ticket-row").await;
    wait_count(&client, "demo-badge", 1).await;

    // The workbench: a test copy of the demo ticket, expired, signed by the
    // demo issuer, kept and listed as a test ticket.
    click(&client, "ticket-row").await;
    find(&client, "ticket-detail").await;
    click(&client, "open-workbench").await;
    let editor = find(&client, "workbench-claims").await;
    let original = editor.prop("value").await.unwrap().unwrap_or_default();
    let mut claims: serde_json::Value = serde_json::from_str(&original).unwrap();
    claims["exp"] = serde_json::json!(1_000_000_000);
    editor.clear().await.unwrap();
    editor.send_keys(&claims.to_string()).await.unwrap();
    wait_text(&client, "workbench-changed", |t| t == "Changed: exp.").await;
    shots(&client, "25-workbench", "workbench-changed").await;
    click(&client, "make-test-ticket").await;
    find(&client, "ticket-detail").await;
    click(&client, "nav-tickets").await;
    wait_count(&client, "test-ticket-badge", 1).await;
    assert_eq!(count(&client, "ticket-row").await, 2);

    // A section, and a result over time as a chart.
    click(&client, "nav-record").await;
    click(&client, "section-labs").await;
    shots(&client, "14-section-labs", "latest-value").await;
    // "latest 7.8 % on 2026-01-29, 28 results": the chart behind it ends on
    // that day with as many results.
    let latest = text_of(&client, "latest-value").await;
    let (on, results) = latest
        .rsplit_once(" on ")
        .and_then(|(_, rest)| rest.split_once(", "))
        .unwrap_or_else(|| panic!("{latest}"));
    assert!(results.ends_with(" results"), "{latest}");
    let chart = find(&client, "chart-link").await;
    press(&client, chart).await;
    find(&client, "chart").await;
    let caption = text_of(&client, "chart").await;
    assert!(
        caption.starts_with(&format!("{results}, ")) && caption.contains(&format!(" to {on}")),
        "{caption} after {latest}"
    );
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "[data-testid='chart'] [data-testid='chart-canvas']",
        ))
        .await
        .unwrap();
    // The line is drawn: the canvas has painted pixels, not just a box.
    let painted = client
        .execute(
            "const c = document.querySelector(\"[data-testid='chart-canvas']\");
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;",
            vec![],
        )
        .await
        .unwrap();
    assert!(painted.as_u64().unwrap_or(0) > 2000, "{painted}");
    // The holders that send reference ranges have them shaded and named.
    let range = text_of(&client, "reference-range").await;
    assert!(range.contains("4–5.6 %"), "{range}");
    shots(&client, "14-chart", "chart").await;

    // Search, then one record with every holder's copy.
    click(&client, "nav-record").await;
    find(&client, "record-search")
        .await
        .send_keys("diabetes")
        .await
        .unwrap();
    wait_text(&client, "search-results", |t| {
        t.contains("found") && !t.starts_with("0 found")
    })
    .await;
    shots(&client, "15-search", "record-row").await;
    click(&client, "record-row").await;
    find(&client, "record-copy").await;
    shots(&client, "16-record-detail", "record-copy").await;

    // Exports land where the person chose, whole.
    click(&client, "nav-export").await;
    click(&client, "export-summary").await;
    wait_text(&client, "export-saved", |t| t.contains("Saved to")).await;
    shots(&client, "17-export", "export-saved").await;
    click(&client, "export-bundle").await;
    wait_text(&client, "export-saved", |t| t.contains(".json")).await;
    let saved: Vec<_> = std::fs::read_dir(exports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let summary = saved
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .unwrap();
    assert!(
        std::fs::read_to_string(summary)
            .unwrap()
            .contains("Ana Rivera")
    );
    let bundle = saved
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    assert_eq!(bundle["type"], "collection");
    assert!(bundle["entry"].as_array().unwrap().len() > 5);

    // The profile's log says what the sync did, and nothing about Ana.
    let logs = data.path().join(".logs");
    let profile_logs = || -> String {
        std::fs::read_dir(&logs)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&profile))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    let log = profile_logs();
    assert!(log.contains("sync finished"), "{log}");
    for private in ["Rivera", "1984-03-12", "MRN-", "-ana"] {
        assert!(!log.contains(private), "{private} in the app's log");
    }

    // About: the version and commit, and where the logs are.
    click(&client, "nav-settings").await;
    let version = text_of(&client, "version").await;
    assert!(
        version.starts_with(env!("CARGO_PKG_VERSION")) && version.contains('('),
        "{version}"
    );
    assert!(
        text_of(&client, "about")
            .await
            .contains(&logs.display().to_string())
    );

    // Delete everything: back to the welcome, nothing left of the profile.
    shots(&client, "18-settings", "delete-everything").await;
    find(&client, "confirm-delete")
        .await
        .send_keys("delete")
        .await
        .unwrap();
    click(&client, "delete-everything").await;
    find(&client, "welcome").await;
    let dir = data.path().join(&profile);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
    let log = profile_logs();
    assert!(
        !log.contains("sync finished"),
        "the log was emptied too: {log}"
    );
    client.close().await.unwrap();
}

/// Connect to an issuer: the person signs in at the issuer in "the browser"
/// (the stand-in answers "Allow"), the app comes back with a ticket bound to
/// its key and the holders the issuer names, and one holder is not added.
#[tokio::test]
async fn connecting_to_an_issuer_brings_a_bound_ticket_and_its_holders() {
    let (sb, _data, _driver, client, _jkt) = two_holders_and_the_app("connect").await;
    click(&client, "nav-connect").await;
    find(&client, "issuer-url")
        .await
        .send_keys(&sb.issuer.url())
        .await
        .unwrap();
    click(&client, "connect").await;
    let report = client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("[data-testid='connect-report']"))
        .await
        .unwrap();
    let text = report.text().await.unwrap();
    assert!(text.contains("Ana Rivera"), "{text}");
    assert_eq!(count(&client, "connect-ticket").await, 1);
    wait_count(&client, "connect-holder", 2).await;
    for h in &sb.holders {
        assert!(
            text.contains(&h.info().name),
            "{} missing: {text}",
            h.info().name
        );
    }
    shots(&client, "23-connected", "connect-report").await;
    // The person keeps the ticket and drops the second holder.
    let mut drops = client
        .find_all(Locator::Css("[data-testid='drop-holder']"))
        .await
        .unwrap();
    press(&client, drops.swap_remove(1)).await;
    wait_count(&client, "drop-holder", 1).await;
    click(&client, "nav-holders").await;
    wait_count(&client, "holder-card", 1).await;
    click(&client, "nav-tickets").await;
    let status = find(&client, "ticket-status").await;
    let status = status
        .attr("data-status")
        .await
        .unwrap()
        .unwrap_or_default();
    // The sandbox's tickets live an hour, so "expiring soon" is right too.
    assert!(
        ["usable", "expiring_soon"].contains(&status.as_str()),
        "{status}"
    );
    client.close().await.unwrap();
}

/// The keyring does not answer: the window says so and lets the person
/// choose, rather than putting the key somewhere else on its own.
#[tokio::test]
async fn a_keyring_that_does_not_answer_is_a_choice_for_the_person() {
    let data = tempfile::tempdir().unwrap();
    let profile = format!("e2e-keyring-{}", std::process::id());
    let driver = start_driver_with(
        data.path(),
        &profile,
        &[
            (
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/bus".into(),
            ),
            ("TW_DEMO", "0".into()),
        ],
    )
    .await;
    let client = launch(&driver).await;
    find(&client, "keyring-problem").await;
    let error = find(&client, "error").await;
    assert_eq!(
        error.attr("data-code").await.unwrap().as_deref(),
        Some("no_keyring")
    );
    shots(&client, "00-keyring-problem", "keyring-problem").await;
    // Nothing was made anywhere while the person had not chosen.
    assert!(!data.path().join(&profile).join("keyring-store").exists());
    click(&client, "keyring-retry").await;
    find(&client, "keyring-problem").await;
    click(&client, "keyring-kernel").await;
    find(&client, "welcome").await;
    client.close().await.unwrap();
}

/// A sandbox with two holders, and the app on a fresh profile of its own
/// (no demo; the stand-in browser on its PATH), showing this wallet's key.
/// Returns the sandbox, the data folder and driver to keep, the window, and the key's thumbprint.
async fn two_holders_and_the_app(
    name: &str,
) -> (sandbox::Sandbox, tempfile::TempDir, Driver, Client, String) {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig {
        holders: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let profile = format!("e2e-{name}-{}", std::process::id());
    let driver = start_driver_with(
        data.path(),
        &profile,
        &[
            ("TW_DEMO", "0".to_string()),
            ("PATH", fake_browser_path()),
            // Saved files land here, and "open" reads them back from here.
            ("TW_EXPORT_DIR", data.path().display().to_string()),
        ],
    )
    .await;
    let client = launch(&driver).await;
    click(&client, "nav-key").await;
    let jkt = wait_text(&client, "jkt", |t| t.len() == 43).await;
    (sb, data, driver, client, jkt)
}

/// Every holder of `sb`, added by its address on the Holders screen.
async fn add_holders_in_window(client: &Client, sb: &sandbox::Sandbox) {
    click(client, "nav-holders").await;
    for h in &sb.holders {
        let want = count(client, "holder-card").await + 1;
        let input = find(client, "holder-base").await;
        input.send_keys(&h.fhir_base()).await.unwrap();
        click(client, "add-holder").await;
        let deadline = Instant::now() + WAIT;
        while count(client, "holder-card").await < want {
            assert!(Instant::now() < deadline, "the holder was not added");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Holders added by hand; one ticket that expires before the sync and one
/// that works; a holder that fails every request. Each is explained in its
/// row, and the failed holder syncs alone once it is back.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_ticket_and_a_failing_holder_are_explained() {
    let (sb, _data, _driver, client, jkt) = two_holders_and_the_app("fail").await;
    let mint = |lifetime: i64| {
        let mut req = MintRequest::new(TicketType::PatientSelfAccess, Some(jkt.clone()));
        req.smart_scopes = Some(vec!["patient/*.rs".into()]);
        req.lifetime = Some(lifetime);
        sb.issuer.mint(&req).unwrap()
    };
    let (short, lasting) = (mint(3), mint(3600));
    let started = Instant::now();
    paste_and_add(&client, &short).await;
    find(&client, "ticket-detail").await;
    paste_and_add(&client, &lasting).await;
    find(&client, "ticket-detail").await;

    add_holders_in_window(&client, &sb).await;
    sb.holders[1].set_faults(sandbox::Faults {
        fail_every: 1,
        ..Default::default()
    });
    // Let the short ticket expire (with the 60 s skew a holder allows, it is the wallet that must notice).
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(started.elapsed())).await;

    click(&client, "nav-sync").await;
    click(&client, "sync-all").await;
    find(&client, "sync-done").await;
    let row = |i: usize| {
        let base = sb.holders[i].fhir_base();
        let client = client.clone();
        async move {
            client
                .find(Locator::Css(&format!(
                    "[data-testid='sync-row'][data-holder='{base}']"
                )))
                .await
                .unwrap()
        }
    };
    let first = row(0).await;
    assert_eq!(
        first.attr("data-status").await.unwrap().as_deref(),
        Some("synced")
    );
    let text = first.text().await.unwrap();
    assert!(text.contains("the ticket expired on"), "{text}");
    let failed = row(1).await;
    assert_eq!(
        failed.attr("data-status").await.unwrap().as_deref(),
        Some("failed")
    );
    let text = failed.text().await.unwrap();
    assert!(text.contains("503"), "{text}");
    shots(&client, "20-sync-failed-and-expired", "retry-holder").await;

    trace_of_this_sync(&client, &sb, _data.path()).await;
    click(&client, "nav-sync").await;

    // The holder is back: try it alone.
    sb.holders[1].set_faults(sandbox::Faults::default());
    click(&client, "retry-holder").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let status = row(1).await.attr("data-status").await.unwrap();
        if status.as_deref() == Some("synced") {
            break;
        }
        if Instant::now() > deadline {
            shot(&client, "failed-retry").await;
            panic!("the retry did not sync: {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    conformance_check_from_the_holders_card(&client, &sb, _data.path()).await;
    client.close().await.unwrap();
}

/// The conformance check from a holder's card: every case passes or says why
/// it did not run; then the holder skips DPoP checks, and exactly the DPoP
/// cases fail; the report is saved as HTML.
async fn conformance_check_from_the_holders_card(
    client: &Client,
    sb: &sandbox::Sandbox,
    saved_in: &std::path::Path,
) {
    // (case, outcome) for every case shown.
    let outcomes = || async {
        read_all(
            client,
            "[data-testid='check-case']",
            &["data-case", "data-outcome"],
        )
        .await
        .into_iter()
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect::<Vec<_>>()
    };
    click(client, "nav-holders").await;
    let card = format!(
        "[data-testid='holder-card'][data-holder='{}'] [data-testid='check-holder']",
        sb.holders[0].fhir_base()
    );
    let check = find_css(client, &card, "check-holder").await;
    press(client, check).await;
    click(client, "run-check").await;
    find(client, "check-counts").await;
    let first = outcomes().await;
    assert!(first.len() >= 20, "{first:?}");
    for (id, outcome) in &first {
        assert!(
            ["pass", "info", "not_applicable"].contains(&outcome.as_str()),
            "{id}: {outcome}"
        );
    }
    // Not a demo holder: the cases that re-sign a ticket say what they need.
    let expired = client
        .find(Locator::Css("[data-case='expired_ticket']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(expired.contains("--issuer-key"), "{expired}");
    shots(client, "23-check", "check-case").await;

    // With the sandbox issuer's key pasted, the re-signed cases run, and pass.
    find(client, "check-issuer-key")
        .await
        .send_keys(&sb.issuer.test_key_jwk().to_string())
        .await
        .unwrap();
    click(client, "run-check").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let now: Vec<(String, String)> = outcomes().await;
        if now
            .iter()
            .any(|(id, o)| id == "expired_ticket" && o == "pass")
        {
            assert!(now.iter().all(|(_, o)| o != "fail"), "{now:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the keyed check did not finish: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    sb.holders[0].set_faults(sandbox::Faults {
        skip_dpop_checks: true,
        ..Default::default()
    });
    click(client, "run-check").await;
    let deadline = Instant::now() + WAIT;
    let failed = loop {
        let failed: Vec<String> = outcomes()
            .await
            .into_iter()
            .filter(|(_, o)| o == "fail")
            .map(|(id, _)| id)
            .collect();
        if !failed.is_empty() {
            break failed;
        }
        assert!(Instant::now() < deadline, "the second check did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        failed,
        [
            "dpop_wrong_htu",
            "dpop_wrong_htm",
            "dpop_reused_proof",
            "dpop_missing_at_fhir",
            "dpop_wrong_ath"
        ]
    );
    shots(client, "24-check-defect", "check-case").await;
    click(client, "save-check").await;
    wait_text(client, "check-saved", |t| t.contains("conformance-")).await;
    let page = std::fs::read_dir(saved_in)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .unwrap();
    let html = std::fs::read_to_string(page).unwrap();
    assert!(html.contains("5 fail"), "the saved report is the last one");
}

/// For each element matching `css`, in document order, the value of each
/// of `attrs` (`textContent` for its text): read in one script, so the page
/// cannot change between one element's read and the next.
async fn read_all(client: &Client, css: &str, attrs: &[&str]) -> Vec<Vec<String>> {
    let found = client
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(e => arguments[1].map(a =>
               a === 'textContent' ? e.textContent : (e.getAttribute(a) ?? '')))",
            vec![serde_json::json!(css), serde_json::json!(attrs)],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// Each matching element's text.
async fn texts(client: &Client, css: &str) -> Vec<String> {
    read_all(client, css, &["textContent"])
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Opens the second exchange `css` matches (the token exchange that follows the nonce challenge).
async fn open_second(client: &Client, css: &str) {
    let exchanges = client.find_all(Locator::Css(css)).await.unwrap();
    let summary = exchanges[1].find(Locator::Css("summary")).await.unwrap();
    press(client, summary).await;
}

/// The trace screen after the sync of `an_expired_ticket_and_a_failing_holder_are_explained`:
/// a lane per holder in protocol order, the failing holder's own answer, JWTs
/// decoded, a curl command, a HAR a reader accepts, and a saved trace opened back.
async fn trace_of_this_sync(client: &Client, sb: &sandbox::Sandbox, saved_in: &std::path::Path) {
    click(client, "open-trace").await;
    wait_count(client, "trace-lane", 2).await;
    let lane = |i: usize| {
        format!(
            "[data-testid='trace-lane'][data-holder='{}'] ",
            sb.holders[i].fhir_base()
        )
    };
    let steps = |i: usize| {
        let css = format!("{}[data-testid='trace-exchange']", lane(i));
        async move {
            read_all(client, &css, &["data-step"])
                .await
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        }
    };
    // The holder that answered: discovery, the exchange (with the DPoP nonce
    // challenge), then FHIR pages; the failing one stopped at discovery, and
    // shows its own answer.
    let working = steps(0).await;
    assert_eq!(
        working[..3],
        ["discovery", "exchange", "exchange"],
        "{working:?}"
    );
    assert!(
        working[3..].iter().all(|s| s == "fhir") && working.len() > 3,
        "{working:?}"
    );
    assert_eq!(steps(1).await, ["discovery"]);
    let failing = texts(client, &format!("{}summary", lane(1))).await;
    assert!(failing[0].contains("503"), "{failing:?}");

    shots(client, "21-trace", "trace-lane").await;

    // The successful token exchange, opened: the ticket and the client
    // assertion decoded, the compact forms not kept, a curl command.
    let exchange_css = format!("{}[data-step='exchange']", lane(0));
    open_second(client, &exchange_css).await;
    let jwts = texts(
        client,
        &format!("{exchange_css}[open] [data-testid='trace-jwt']"),
    )
    .await;
    for role in ["client assertion", "permission ticket", "DPoP proof"] {
        assert!(jwts.iter().any(|j| j.starts_with(role)), "{role}: {jwts:?}");
    }
    assert!(
        jwts.iter().all(|j| j.contains("not kept (redacted")),
        "{jwts:?}"
    );
    let curl = texts(
        client,
        &format!("{exchange_css}[open] [data-testid='trace-curl']"),
    )
    .await;
    assert!(
        curl[0].contains(
            "--data-urlencode 'grant_type=urn:ietf:params:oauth:grant-type:token-exchange'"
        ),
        "{curl:?}"
    );
    // The picture shows the decoded tokens beside what was sent.
    client
        .execute(
            "document.querySelector('[open] [data-testid=\"trace-jwt\"]').scrollIntoView(); return true;",
            vec![],
        )
        .await
        .unwrap();
    shots(client, "22-trace-exchange", "trace-jwt").await;

    // Saved as HAR: a HAR reader that is not ours opens it, an entry per exchange.
    let shown = count(client, "trace-exchange").await;
    click(client, "save-har").await;
    let saved = wait_text(client, "trace-saved", |t| t.contains(".har")).await;
    let har_path = saved_in.join(
        saved
            .trim_start_matches("Saved to ")
            .trim_end_matches('.')
            .rsplit('/')
            .next()
            .unwrap(),
    );
    let har::Spec::V1_2(log) = har::from_path(&har_path).unwrap().log else {
        panic!("not HAR 1.2")
    };
    assert_eq!(log.entries.len(), shown);
    assert_eq!(log.pages.map(|p| p.len()), Some(2));

    // Saved as the wallet's own file and opened back: the same lanes.
    click(client, "save-trace").await;
    wait_text(client, "trace-saved", |t| t.contains(".json")).await;
    click(client, "open-trace-file").await;
    wait_text(client, "trace-source", |t| t.contains("Opened from trace-")).await;
    assert_eq!(count(client, "trace-lane").await, 2);
    assert_eq!(count(client, "trace-exchange").await, shown);
    assert_eq!(count(client, "tester-mode").await, 0);

    // A tester-mode trace (kept from `tw sync --tester --json`) is marked as
    // one, and shows each token as sent beside its decoding.
    let file = std::fs::read_dir(saved_in)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let mut entries: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let exchange = entries
        .iter_mut()
        .find(|e| e["step"] == "exchange" && e["status"] == 200)
        .unwrap();
    exchange["redacted"] = false.into();
    exchange["jwts"][0]["compact"] = "eyJ.as-sent.sig".into();
    let report = serde_json::json!({ "outcomes": [], "trace": entries });
    std::fs::write(&file, report.to_string()).unwrap();
    click(client, "open-trace-file").await;
    find(client, "tester-mode").await;
    open_second(client, &exchange_css).await;
    let sent = texts(client, &format!("{exchange_css}[open] .compact")).await;
    assert_eq!(sent, ["eyJ.as-sent.sig"]);
}

/// A caregiver with delegated tickets for two people: one record each, a
/// switch between them, each banner saying who holds it on whose behalf, and
/// nothing of one in the other's.
#[tokio::test(flavor = "multi_thread")]
async fn a_caregiver_switches_between_two_peoples_records() {
    let (sb, _data, driver, client, jkt) = two_holders_and_the_app("caregiver").await;
    let delegated = |patient: Option<serde_json::Value>| {
        let mut req = MintRequest::new(TicketType::PatientDelegatedAccess, Some(jkt.clone()));
        req.smart_scopes = Some(vec!["patient/*.rs".into()]);
        req.patient = patient;
        sb.issuer.mint(&req).unwrap()
    };
    let maria = serde_json::json!({ "resourceType": "Patient",
        "name": [{ "family": "Gomez", "given": ["Maria"] }], "birthDate": "1975-05-21" });
    for ticket in [delegated(None), delegated(Some(maria))] {
        paste_and_add(&client, &ticket).await;
        assert_eq!(text_of(&client, "requester").await, "Luis Rivera");
    }
    add_holders_in_window(&client, &sb).await;
    click(&client, "nav-sync").await;
    click(&client, "sync-all").await;
    find(&client, "sync-done").await;

    click(&client, "nav-record").await;
    assert_eq!(
        wait_text(&client, "person-name", |t| !t.is_empty()).await,
        "Ana Rivera"
    );
    assert_eq!(count(&client, "person-switch").await, 2);
    let behalf = text_of(&client, "on-behalf").await;
    assert!(
        behalf.contains("Luis Rivera") && behalf.contains("Ana Rivera"),
        "{behalf}"
    );
    find(&client, "record-row").await;
    assert!(count(&client, "record-row").await > 5);
    shots(&client, "21-caregiver-ana", "record-row").await;
    let ana_newest = text_of(&client, "record-row").await;

    let mut switches = client
        .find_all(Locator::Css("[data-testid='person-switch']"))
        .await
        .unwrap();
    press(&client, switches.swap_remove(1)).await;
    wait_text(&client, "person-name", |t| t == "Maria Gomez").await;
    let banner = wait_text(&client, "person-banner", |t| t.contains("Maria Gomez")).await;
    assert!(banner.contains("Born 1975-05-21"), "{banner}");
    assert!(text_of(&client, "on-behalf").await.contains("Maria Gomez"));
    // The holders know nothing of hers but who she is: none of Ana's records show here.
    find(&client, "timeline-empty").await;
    assert_eq!(count(&client, "record-row").await, 0);
    shots(&client, "22-caregiver-maria", "person-banner").await;
    client.close().await.unwrap();

    // Opened again, the app starts on the first person's record, read as it
    // starts (ui/src/queries.ts, prefetchRecord), and each person's stays hers.
    let client = launch(&driver).await;
    assert_eq!(
        wait_text(&client, "person-name", |t| !t.is_empty()).await,
        "Ana Rivera"
    );
    assert_eq!(text_of(&client, "record-row").await, ana_newest);
    assert!(count(&client, "record-row").await > 5);
    let mut switches = client
        .find_all(Locator::Css("[data-testid='person-switch']"))
        .await
        .unwrap();
    assert_eq!(switches.len(), 2);
    press(&client, switches.swap_remove(1)).await;
    wait_text(&client, "person-name", |t| t == "Maria Gomez").await;
    find(&client, "timeline-empty").await;
    assert_eq!(count(&client, "record-row").await, 0);
    client.close().await.unwrap();
}

/// RSS in KiB of every process whose command line contains `name`.
fn rss_kib(name: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains(name) {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

async fn mark(client: &Client, name: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = client
            .execute(
                &format!("const m = performance.getEntriesByName('{name}'); return m.length ? m[0].startTime : null;"),
                vec![],
            )
            .await
            .unwrap();
        if let Some(ms) = v.as_f64() {
            return ms;
        }
        assert!(Instant::now() < deadline, "no performance mark {name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The window's figures for docs/BENCHMARKS.md, from a release build:
/// `scripts/session.sh cargo test --release --features custom-protocol --test e2e window_bench -- --ignored --nocapture`
/// A profile is filled with one person's records from 10 sandbox holders
/// (`BENCH_HOLDERS` × `BENCH_SIZE`, 10 × 5,000 by default), then the app is
/// started on it several times.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run it by name with --release (see its comment)"]
async fn window_bench() {
    let env_or = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (holders, size, runs) = (
        env_or("BENCH_HOLDERS", 10),
        env_or("BENCH_SIZE", 5000),
        env_or("BENCH_RUNS", 5),
    );
    let data = tempfile::tempdir().unwrap();
    let profile = format!("bench-{}", std::process::id());

    // Fresh profile: the welcome.
    let driver = start_driver_with(data.path(), &profile, &[("TW_DEMO", "0".to_string())]).await;
    let mut fresh = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let client = launch(&driver).await;
        let session = started.elapsed().as_secs_f64() * 1000.0;
        find(&client, "welcome").await;
        let content = mark(&client, "first-content").await;
        fresh.push((session, content));
        client.close().await.unwrap();
    }

    // Fill the same profile through wallet-core: a ticket, the holders, a storing sync.
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig {
        holders,
        size,
        ..Default::default()
    })
    .await
    .unwrap();
    let wallet = wallet_core::Wallet::open(wallet_core::WalletOptions {
        profile: profile.clone(),
        data_dir: data.path().into(),
        backend: wallet_core::vault::Backend::SecretService,
    })
    .unwrap();
    let mut req = MintRequest::new(
        TicketType::PatientSelfAccess,
        Some(wallet.key_info().unwrap().jkt),
    );
    req.smart_scopes = Some(vec!["patient/*.rs".into()]);
    wallet
        .import(&sb.issuer.mint(&req).unwrap(), "bench")
        .await
        .unwrap();
    for h in &sb.holders {
        wallet
            .add_holder(&h.fhir_base(), None, Some(h.info().name))
            .await
            .unwrap();
    }
    struct Pick;
    impl wallet_core::engine::interaction::Interactor for Pick {
        fn redirect_uri(&self) -> String {
            "http://127.0.0.1:9/callback".into()
        }
        fn authorize(
            &self,
            url: String,
        ) -> wallet_core::engine::interaction::BoxFuture<'_, Result<String, String>> {
            Box::pin(async move {
                let out = Command::new(
                    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/xdg-open"),
                )
                .arg("--no-fork")
                .arg(&url)
                .output()
                .map_err(|e| e.to_string())?;
                String::from_utf8(out.stdout)
                    .map(|s| s.trim().to_string())
                    .map_err(|e| e.to_string())
            })
        }
    }
    let report = wallet
        .sync(
            wallet_core::SyncOptions {
                interactor: Some(std::sync::Arc::new(Pick)),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert!(
        report.outcomes.iter().all(|o| o.status == "synced"),
        "{:?}",
        report.outcomes
    );
    let people = wallet.record_store().unwrap().people().unwrap();
    let records = people[0].records;
    drop(wallet);

    // With the records: the app opens on the record's timeline.
    let mut full = Vec::new();
    let mut frames_runs = Vec::new();
    let mut floor_runs = Vec::new();
    let (mut web_kib, mut app_kib) = (0, 0);
    for _ in 0..runs {
        let started = Instant::now();
        let client = launch(&driver).await;
        let session = started.elapsed().as_secs_f64() * 1000.0;
        find(&client, "record-row").await;
        let content = mark(&client, "first-content").await;
        let timeline = mark(&client, "timeline-rendered").await;
        let steps = (
            mark(&client, "people-loaded").await,
            mark(&client, "timeline-data").await,
            mark(&client, "timeline-asked").await,
        );
        // Scroll the timeline 400 px a frame for three seconds (about 1,100 rows, six pages
        // read from the store on the way) and time every frame.
        let frames = client
            .execute(
                "const t = document.querySelector('.timeline');
                 const out = []; let last = performance.now(); const end = last + 3000;
                 await new Promise(done => { const step = now => { out.push(now - last); last = now;
                   t.scrollTop += 400; if (now < end) requestAnimationFrame(step); else done(); };
                   requestAnimationFrame(step); });
                 return out.slice(1);",
                vec![],
            )
            .await
            .unwrap();
        let frames: Vec<f64> = serde_json::from_value(frames).unwrap();
        // The floor in the same window: a plain scrolling box of as many static rows, no
        // React and no virtualisation, scrolled the same way.
        let floor = client
            .execute(
                "const t = document.querySelector('.timeline');
                 const box = document.createElement('div');
                 box.className = 'timeline'; box.style.position = 'fixed'; box.style.inset = '0';
                 box.style.height = '100vh';
                 box.innerHTML = Array.from({ length: 1200 }, (_, i) =>
                   `<div class='item-row'><span class='item-date'>2024-01-01</span>` +
                   `<span class='item-main'><span class='item-display'>Row ${i}</span><span class='item-meta'>Lab results</span></span>` +
                   `<span class='item-value'>7.1 %</span></div>`).join('');
                 // Heights through the CSSOM: the CSP refuses style attributes in markup.
                 for (const row of box.children) row.style.height = '64px';
                 document.body.appendChild(box);
                 const out = []; let last = performance.now(); const end = last + 3000;
                 await new Promise(done => { const step = now => { out.push(now - last); last = now;
                   box.scrollTop += 400; if (now < end) requestAnimationFrame(step); else done(); };
                   requestAnimationFrame(step); });
                 box.remove();
                 return out.slice(1);",
                vec![],
            )
            .await
            .unwrap();
        let floor: Vec<f64> = serde_json::from_value(floor).unwrap();
        floor_runs.push(floor);
        web_kib = web_kib.max(rss_kib("WebKitWebProcess"));
        app_kib = app_kib.max(rss_kib(APP));
        full.push((session, content, timeline, steps.0, steps.1, steps.2));
        frames_runs.push(frames);
        client.close().await.unwrap();
    }

    let ms = |v: &[f64]| format!("{:.0}", median(v.to_vec()));
    let fresh_session: Vec<f64> = fresh.iter().map(|r| r.0).collect();
    let fresh_content: Vec<f64> = fresh.iter().map(|r| r.1).collect();
    let full_session: Vec<f64> = full.iter().map(|r| r.0).collect();
    let full_content: Vec<f64> = full.iter().map(|r| r.1).collect();
    let full_timeline: Vec<f64> = full.iter().map(|r| r.2).collect();
    let full_people: Vec<f64> = full.iter().map(|r| r.3).collect();
    let full_page: Vec<f64> = full.iter().map(|r| r.4).collect();
    let full_asked: Vec<f64> = full.iter().map(|r| r.5).collect();
    println!("records in the store: {records} (one person, {holders} holders)");
    println!(
        "fresh profile: WebDriver session (process and webview up) {} ms; first content {} ms after the page started",
        ms(&fresh_session),
        ms(&fresh_content)
    );
    println!(
        "with the records: session {} ms; first content {} ms; timeline rendered {} ms after the page started",
        ms(&full_session),
        ms(&full_content),
        ms(&full_timeline)
    );
    println!(
        "on the way to the timeline: people arrived {} ms, first page asked for {} ms, arrived {} ms, rows on screen {} ms",
        ms(&full_people),
        ms(&full_asked),
        ms(&full_page),
        ms(&full_timeline)
    );
    for (label, runs) in [
        ("timeline", &frames_runs),
        ("static rows (floor)", &floor_runs),
    ] {
        for (i, f) in runs.iter().enumerate() {
            let mut s = f.clone();
            s.sort_by(f64::total_cmp);
            let p = |q: f64| s[((s.len() - 1) as f64 * q) as usize];
            println!(
                "scroll {label} run {i}: {} frames, median {:.1} ms, p95 {:.1} ms, max {:.1} ms, over 32 ms: {}",
                s.len(),
                p(0.5),
                p(0.95),
                p(1.0),
                s.iter().filter(|d| **d > 32.0).count()
            );
        }
    }
    println!(
        "peak resident memory: web process {} MiB, app process {} MiB",
        web_kib / 1024,
        app_kib / 1024
    );
}

/// Launch to first content, as a ratio to a bare Tauri window (one static
/// heading, `examples/bare-window.rs`: the same crates and WebKitGTK) started
/// the same way in the same run, alternating, on a fresh profile. For docs/BENCHMARKS.md:
/// `cargo build --release --features custom-protocol --example bare-window` and then
/// `scripts/session.sh cargo test --release --features custom-protocol --test e2e launch_bench -- --ignored --nocapture`
/// (`TW_INSTALLED_ROOT` set, as `make bundle-test` sets it, times the installed binary instead).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run it by name with --release (see its comment)"]
async fn launch_bench() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let app = std::env::var_os("TW_INSTALLED_ROOT")
        .map(|root| PathBuf::from(root).join("usr/bin/ticket-wallet"))
        .unwrap_or_else(|| PathBuf::from(APP));
    // Examples are built beside the binaries, in the same profile
    // (`BENCH_BARE_WINDOW` names another, e.g. beside an installed build).
    let bare = std::env::var_os("BENCH_BARE_WINDOW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(APP).with_file_name("examples/bare-window"));
    assert!(
        bare.exists(),
        "{} (cargo build --release --features custom-protocol --example bare-window)",
        bare.display()
    );
    let data = tempfile::tempdir().unwrap();
    let profile = format!("launch-{}", std::process::id());
    let driver = start_driver(data.path(), &profile).await;

    // From asking for a session (tauri-driver starts the process) to the first
    // screen's content being in the page (the app's welcome, the bare window's
    // heading), polled every 5 ms: the WebDriver handshake is in both alike.
    async fn until_content(driver: &Driver, binary: &std::path::Path, css: &str) -> (f64, f64) {
        wait_for_exit(driver).await;
        let started = Instant::now();
        let client = new_session(driver, binary.to_str().unwrap(), &[]).await;
        let page = loop {
            let v = client
                .execute(
                    "return document.querySelector(arguments[0]) ? performance.now() : null;",
                    vec![css.into()],
                )
                .await
                .unwrap();
            if let Some(ms) = v.as_f64() {
                break ms;
            }
            assert!(started.elapsed() < WAIT, "no {css} on screen");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let launch = started.elapsed().as_secs_f64() * 1000.0;
        client.close().await.unwrap();
        (launch, page)
    }
    let welcome = "[data-testid=welcome]";

    let (mut app_runs, mut bare_runs) = (Vec::new(), Vec::new());
    // One of each first, untimed: the disk cache warm for both.
    until_content(&driver, &bare, "#content").await;
    until_content(&driver, &app, welcome).await;
    for _ in 0..runs {
        bare_runs.push(until_content(&driver, &bare, "#content").await);
        app_runs.push(until_content(&driver, &app, welcome).await);
    }
    let launch = |v: &[(f64, f64)]| median(v.iter().map(|r| r.0).collect());
    let page = |v: &[(f64, f64)]| median(v.iter().map(|r| r.1).collect());
    let (a, b) = (launch(&app_runs), launch(&bare_runs));
    println!("app: {}", app.display());
    println!(
        "launch to first content, median of {runs}: app {a:.0} ms (in the page from its start: {:.0} ms), bare window {b:.0} ms ({:.0} ms)",
        page(&app_runs),
        page(&bare_runs)
    );
    println!(
        "ratio app ÷ bare window: {:.2}; the app's own cost: {:.0} ms",
        a / b,
        a - b
    );
    for (label, v) in [("app", &app_runs), ("bare", &bare_runs)] {
        let all: Vec<String> = v.iter().map(|r| format!("{:.0}", r.0)).collect();
        println!("{label} runs: {}", all.join(", "));
    }
}

/// The installed package: `make bundle-test` unpacks the `.deb` into a
/// throwaway root and names it in `TW_INSTALLED_ROOT`. Its binary opens on the
/// welcome, and its desktop entry hands both kinds of ticket link to it.
#[tokio::test]
#[ignore = "needs the built package: make bundle-test"]
async fn the_installed_package_opens_on_its_first_screen() {
    let root = PathBuf::from(
        std::env::var_os("TW_INSTALLED_ROOT")
            .expect("TW_INSTALLED_ROOT: run through make bundle-test"),
    );
    let entry = std::fs::read_dir(root.join("usr/share/applications"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "desktop"))
        .expect("a desktop entry");
    let entry = std::fs::read_to_string(entry).unwrap();
    let line = |key: &str| {
        entry
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_default()
            .to_string()
    };
    let mime = line("MimeType=");
    for scheme in [
        "x-scheme-handler/web+ticket",
        "x-scheme-handler/ticketwallet",
    ] {
        assert!(
            mime.split(';').any(|m| m == scheme),
            "{scheme} not in {mime}"
        );
    }
    let exec = line("Exec=");
    assert!(
        exec.starts_with("ticket-wallet") && exec.contains("%u"),
        "{exec}"
    );

    let binary = root.join("usr/bin/ticket-wallet");
    let data = tempfile::tempdir().unwrap();
    let profile = format!("e2e-installed-{}", std::process::id());
    let driver = start_driver(data.path(), &profile).await;
    let client = launch_binary(&driver, binary.to_str().unwrap(), &[]).await;
    assert!(
        text_of(&client, "welcome")
            .await
            .contains("Try it with demo data")
    );
    shot(&client, "00-installed-package").await;
    client.close().await.unwrap();
}
