//! The one interactive step (Proposal 001): the patient confirms their record
//! at the holder's authorize page, and the holder redirects back with a code.
//! On desktop the page opens in the system browser and the redirect comes to
//! a one-shot loopback listener (RFC 8252); a mobile shell supplies a deep link.

use std::future::Future;
use std::pin::Pin;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Interactor: Send + Sync {
    /// Where the holder should send the browser back to, for one flow that
    /// `authorize` follows at once.
    fn redirect_uri(&self) -> String;
    /// The redirect to register with a holder ahead of any flow.
    fn registered_redirect_uri(&self) -> String {
        self.redirect_uri()
    }
    /// Shows `authorize_url` to the person; resolves to the URL the holder redirected to.
    fn authorize(&self, authorize_url: String) -> BoxFuture<'_, Result<String, String>>;
}

/// What the authorization-code leg brings back, ready for the token request.
pub struct CodeGrant {
    pub code: String,
    pub verifier: String,
    pub redirect_uri: String,
}

pub enum CodeError {
    /// The page could not be shown, or the redirect is unusable.
    Transport(String),
    /// The server redirected back with an OAuth `error`.
    Denied { error: String, description: String },
}

/// Sends the person to `authorize_endpoint` (PKCE S256, a fresh `state`, plus
/// `extra` parameters) and reads the code from the redirect, refusing one
/// whose `state` is not ours. Used for a holder's confirmation and an
/// issuer's launch alike. The request and the PKCE pair come from `oauth2`;
/// the code is exchanged by the engine, which adds what `oauth2` cannot (a
/// DPoP proof, a client assertion, the trace, no redirects).
pub async fn authorization_code(
    interactor: &dyn Interactor,
    authorize_endpoint: &str,
    client_id: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> Result<CodeGrant, CodeError> {
    use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
    let transport = |e: &dyn std::fmt::Display| CodeError::Transport(e.to_string());
    let auth_url = AuthUrl::new(authorize_endpoint.to_string()).map_err(|e| transport(&e))?;
    crate::http::check_url(auth_url.url()).map_err(CodeError::Transport)?;
    let redirect_uri = interactor.redirect_uri();
    let client = oauth2::basic::BasicClient::new(ClientId::new(client_id.to_string()))
        .set_auth_uri(auth_url)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).map_err(|e| transport(&e))?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_scopes(scope.split_whitespace().map(|s| Scope::new(s.to_string())));
    for (k, v) in extra {
        request = request.add_extra_param(*k, *v);
    }
    let (url, state) = request.url();
    let callback = interactor
        .authorize(url.to_string())
        .await
        .map_err(CodeError::Transport)?;
    let callback = url::Url::parse(&callback)
        .map_err(|e| CodeError::Transport(format!("bad redirect: {e}")))?;
    let param = |k: &str| query_param(&callback, k);
    if param("state").as_deref() != Some(state.secret().as_str()) {
        return Err(CodeError::Transport(
            "the redirect's state does not match: ignored".into(),
        ));
    }
    if let Some(error) = param("error") {
        return Err(CodeError::Denied {
            error,
            description: param("error_description").unwrap_or_default(),
        });
    }
    let code =
        param("code").ok_or_else(|| CodeError::Transport("the redirect carries no code".into()))?;
    Ok(CodeGrant {
        code,
        verifier: verifier.secret().clone(),
        redirect_uri,
    })
}

/// Shows a web page to the person: the system browser by default, the app's
/// opener plugin in the app. Gets a URL already checked to be `http(s)`.
pub type Opener = std::sync::Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Opens the system browser and waits for the redirect on 127.0.0.1. A
/// listener is bound for each flow, on a port of its own, when the flow asks
/// for its redirect URI, and closed when the flow ends: between flows nothing
/// listens (RFC 8252 §7.3 lets a loopback redirect use any port).
pub struct LoopbackInteractor {
    /// Listeners bound for flows that have not started waiting yet, by port.
    bound: std::sync::Mutex<Vec<(u16, std::net::TcpListener)>>,
    opener: Opener,
    /// How long the person has to finish at the holder.
    pub timeout: std::time::Duration,
}

/// The redirect a loopback client registers: any port is accepted for it.
pub const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";

impl LoopbackInteractor {
    pub async fn bind() -> std::io::Result<Self> {
        Self::bind_with(std::sync::Arc::new(open_in_system_browser)).await
    }

    /// As `bind`, showing pages through `opener` instead of the system browser.
    /// Checks that a loopback port can be had, and keeps none.
    pub async fn bind_with(opener: Opener) -> std::io::Result<Self> {
        drop(TcpListener::bind(("127.0.0.1", 0)).await?);
        Ok(Self {
            bound: std::sync::Mutex::new(Vec::new()),
            opener,
            timeout: std::time::Duration::from_secs(300),
        })
    }

    fn bound(&self) -> std::sync::MutexGuard<'_, Vec<(u16, std::net::TcpListener)>> {
        self.bound.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ports with a listener bound, for tests and diagnostics.
    pub fn listening_ports(&self) -> Vec<u16> {
        self.bound().iter().map(|(port, _)| *port).collect()
    }

    /// The listener bound for the flow whose redirect is `redirect_uri`.
    fn take(&self, redirect_uri: Option<&str>) -> Result<(u16, TcpListener), String> {
        let port = redirect_uri
            .and_then(|r| url::Url::parse(r).ok())
            .and_then(|u| u.port())
            .ok_or("the page does not send the browser back to this wallet")?;
        let mut bound = self.bound();
        let at = bound
            .iter()
            .position(|(p, _)| *p == port)
            .ok_or("no listener is waiting for this page's redirect")?;
        let (port, listener) = bound.swap_remove(at);
        drop(bound);
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok((
            port,
            TcpListener::from_std(listener).map_err(|e| e.to_string())?,
        ))
    }
}

impl Interactor for LoopbackInteractor {
    fn redirect_uri(&self) -> String {
        match std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| Ok((l.local_addr()?.port(), l)))
        {
            Ok((port, listener)) => {
                self.bound().push((port, listener));
                format!("http://127.0.0.1:{port}/callback")
            }
            // `authorize` then finds no listener for it and says so.
            Err(e) => {
                tracing::warn!("cannot listen for the redirect: {e}");
                LOOPBACK_REDIRECT.to_string()
            }
        }
    }

    fn registered_redirect_uri(&self) -> String {
        LOOPBACK_REDIRECT.to_string()
    }

    fn authorize(&self, authorize_url: String) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let url = web_url(&authorize_url)?;
            let parsed = url::Url::parse(&url).ok();
            let param = |name: &str| parsed.as_ref().and_then(|u| query_param(u, name));
            // Taken now, so it closes when this flow ends, however it ends.
            let (port, listener) = self.take(param("redirect_uri").as_deref())?;
            // Only the redirect that answers this request ends the wait: one
            // with another `state` (a tab left from an earlier try, a page
            // poking the port) is turned away and the listener keeps waiting.
            let state = param("state");
            (self.opener)(&url)?;
            let wait = async {
                loop {
                    let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
                    if let Some(target) = self.answer(stream, state.as_deref()).await {
                        return Ok(format!("http://127.0.0.1:{port}{target}"));
                    }
                }
            };
            tokio::time::timeout(self.timeout, wait)
                .await
                .map_err(|_| {
                    "the confirmation at the holder was not finished in time".to_string()
                })?
        })
    }
}

fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// How long one connection to the listener may take to send its request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl LoopbackInteractor {
    /// Reads one request and answers it; the request target when it is the
    /// redirect this flow waits for (`/callback` with our `state`).
    async fn answer(
        &self,
        mut stream: tokio::net::TcpStream,
        state: Option<&str>,
    ) -> Option<String> {
        let mut buf = vec![0u8; 8192];
        // A connection that sends nothing must not hold the listener.
        let n = match tokio::time::timeout(REQUEST_TIMEOUT, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => return None,
        };
        let request = String::from_utf8_lossy(&buf[..n]);
        let target = request
            .lines()
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_string();
        let ours = target.starts_with("/callback")
            && url::Url::parse(&format!("http://127.0.0.1{target}"))
                .ok()
                .and_then(|u| query_param(&u, "state"))
                .as_deref()
                == state;
        let (status, page) = if ours {
            (
                "200 OK",
                "<!doctype html><title>Ticket Wallet</title><p>Done. You can close this window and return to Ticket Wallet.</p>",
            )
        } else if target.starts_with("/callback") {
            (
                "400 Bad Request",
                "<!doctype html><title>Ticket Wallet</title><p>This page is not the one Ticket Wallet is waiting for. Go back to the wallet and try again.</p>",
            )
        } else {
            ("404 Not Found", "")
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(reply.as_bytes()).await;
        ours.then_some(target)
    }
}

/// The platforms whose system browser `tw` knows how to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    MacOs,
    Windows,
}

impl Platform {
    pub const fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::MacOs
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::Linux
        }
    }
}

/// `text` as a URL a browser may be sent to: it parses, and it is `http` or
/// `https` (never `file:`, `javascript:` or an app's own scheme). Returned in
/// its parsed serialisation, so spaces and quotes are percent-encoded.
pub fn web_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a web address ({e}): {text}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url.into()),
        other => Err(format!("refusing to open a `{other}:` address: {text}")),
    }
}

/// The program and arguments that show `url` in the system browser, started
/// directly: no shell ever parses the URL, so an endpoint holding `&calc` or
/// `|` is a string, not a command, and arrives whole. On Windows this is
/// `rundll32 url.dll,FileProtocolHandler`, the shell-free way to hand a URL to
/// the default browser (`cmd /C start` would run what follows an `&`).
pub fn browser_command(platform: Platform, url: &str) -> Result<(String, Vec<String>), String> {
    let url = web_url(url)?;
    Ok(match platform {
        Platform::Linux => ("xdg-open".into(), vec![url]),
        Platform::MacOs => ("open".into(), vec![url]),
        Platform::Windows => (
            "rundll32".into(),
            vec!["url.dll,FileProtocolHandler".into(), url],
        ),
    })
}

/// Starts the system browser on `url` (see [`browser_command`]).
pub fn open_in_system_browser(url: &str) -> Result<(), String> {
    let (program, args) = browser_command(Platform::current(), url)?;
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("could not open a browser ({e}); open this address yourself: {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "https://holder.example/authorize?a=1&calc&b=%22x%22|whoami^&c=2";

    #[test]
    fn the_browser_is_started_without_a_shell_and_gets_the_whole_url() {
        for platform in [Platform::Linux, Platform::MacOs, Platform::Windows] {
            let (program, args) = browser_command(platform, HOSTILE).unwrap_or_default();
            let name = program.to_ascii_lowercase();
            for shell in ["cmd", "sh", "bash", "powershell", "pwsh"] {
                assert_ne!(name, shell, "{platform:?} starts a shell");
            }
            assert!(
                !args.iter().any(|a| a.eq_ignore_ascii_case("/c")),
                "{platform:?}: {args:?}"
            );
            assert_eq!(
                args.last().map(String::as_str),
                Some(HOSTILE),
                "{platform:?} must pass the URL whole, as one argument: {args:?}"
            );
        }
    }

    #[tokio::test]
    async fn only_the_redirect_for_this_request_ends_the_wait() {
        let interactor = LoopbackInteractor::bind_with(std::sync::Arc::new(|_: &str| Ok(())))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Nothing listens until a flow asks for its redirect.
        assert!(interactor.listening_ports().is_empty());
        assert_eq!(interactor.registered_redirect_uri(), LOOPBACK_REDIRECT);
        let redirect = interactor.redirect_uri();
        let port = url::Url::parse(&redirect)
            .ok()
            .and_then(|u| u.port())
            .unwrap_or_else(|| panic!("{redirect}"));
        assert_eq!(interactor.listening_ports(), [port]);
        let send = move |path: String| async move {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            s.write_all(format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").as_bytes())
                .await?;
            let mut reply = String::new();
            s.read_to_string(&mut reply).await?;
            Ok::<_, std::io::Error>(reply)
        };
        let visitors = tokio::spawn(async move {
            // Someone who connects and says nothing, then a stale tab, then the real redirect.
            let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
            let stale = send("/callback?code=old&state=earlier".into()).await;
            let real = send("/callback?code=new&state=ours".into()).await;
            (stale, real)
        });
        let started = std::time::Instant::now();
        let page = url::Url::parse_with_params(
            "https://h.example/authorize",
            [("state", "ours"), ("redirect_uri", redirect.as_str())],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let got = interactor
            .authorize(page.to_string())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            format!("http://127.0.0.1:{port}/callback?code=new&state=ours")
        );
        assert!(started.elapsed() < REQUEST_TIMEOUT * 2);
        let (stale, real) = visitors.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(stale.unwrap_or_default().starts_with("HTTP/1.1 400"));
        assert!(real.unwrap_or_default().starts_with("HTTP/1.1 200"));
        // The flow is over: its port is closed, and nothing else is bound.
        assert!(interactor.listening_ports().is_empty());
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        );
        // A page whose redirect is not one this wallet is listening on is refused.
        let other = interactor
            .authorize(format!(
                "https://h.example/authorize?state=x&redirect_uri=http://127.0.0.1:{port}/callback"
            ))
            .await
            .unwrap_err();
        assert!(other.contains("no listener"), "{other}");
    }

    #[test]
    fn only_web_addresses_are_opened() {
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "ms-msdt:/id PCWDiagnostic",
            "not a url",
        ] {
            assert!(
                browser_command(Platform::Windows, bad).is_err(),
                "{bad} accepted"
            );
        }
        // Spaces and quotes reach the browser percent-encoded, never raw.
        let (_, args) =
            browser_command(Platform::Linux, "https://h.example/a b\"c").unwrap_or_default();
        assert_eq!(args, ["https://h.example/a%20b%22c"]);
    }
}
