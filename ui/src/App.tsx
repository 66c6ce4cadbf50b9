import { listen } from "@tauri-apps/api/event";
import { Suspense, useEffect } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { api, asError, TICKET_LINK_EVENT } from "./api";
import { ErrorBanner } from "./components/ErrorBanner";
import { useSettings, useSyncEvents, useSyncState } from "./queries";

const NAV: [string, string, string][] = [
  ["/record", "Record", "nav-record"],
  ["/sync", "Sync", "nav-sync"],
  ["/holders", "Holders", "nav-holders"],
  ["/tickets", "Tickets", "nav-tickets"],
  ["/add", "Add a ticket", "nav-add"],
  ["/connect", "Connect", "nav-connect"],
  ["/export", "Export", "nav-export"],
  ["/key", "My key", "nav-key"],
  ["/settings", "Settings", "nav-settings"],
];

export function App() {
  const navigate = useNavigate();
  // The keyring in use and its notice: read without making a key, so a
  // profile just deleted stays empty until the person does something.
  const settings = useSettings();
  const sync = useSyncState();
  useSyncEvents();
  // For the window benchmark (docs/BENCHMARKS.md): effects run once the first screen is committed.
  // Then the record screen's code, where a person with tickets is sent next, loads while the
  // ticket list is still on its way rather than after it (it is a lazy route: see router.tsx).
  useEffect(() => {
    performance.mark("first-content");
    void import("./screens/RecordScreen");
  }, []);

  // A ticket link that reaches the running app is shown on the "Add a ticket"
  // screen, never added silently. (One the app was opened with: see Home.)
  useEffect(() => {
    const openLink = () =>
      api.takePendingLink().then((link) => {
        if (link) void navigate("/add", { state: { link } });
      }, () => undefined);
    const unlisten = listen(TICKET_LINK_EVENT, openLink);
    return () => {
      unlisten.then((stop) => stop(), () => undefined);
    };
  }, [navigate]);

  const running = sync.data?.snapshot.running ?? false;
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <h1>Ticket Wallet</h1>
        <nav aria-label="Main">
          {NAV.map(([to, label, testId]) => (
            <NavLink key={to} to={to} data-testid={testId} className={({ isActive }) => (isActive ? "tab active" : "tab")}>
              {label}
              {to === "/sync" && running && <span className="pulse" aria-label="(running)" />}
            </NavLink>
          ))}
        </nav>
      </header>
      {settings.error && <ErrorBanner error={asError(settings.error)} />}
      {settings.data?.keyring.notice && (
        <p className="notice" data-testid="store-notice">
          {settings.data.keyring.notice}
        </p>
      )}
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
