import { listen } from "@tauri-apps/api/event";
import { useCallback, useEffect, useState } from "react";
import { api, asError, TICKET_LINK_EVENT } from "./api";
import type { ErrorPayload } from "./bindings/ErrorPayload";
import type { KeyInfo } from "./bindings/KeyInfo";
import { ErrorBanner } from "./components/ErrorBanner";
import { ImportScreen } from "./components/ImportScreen";
import { KeyScreen } from "./components/KeyScreen";
import { TicketList } from "./components/TicketList";
import { TicketScreen } from "./components/TicketScreen";

export type Screen =
  | { name: "tickets" }
  | { name: "add"; link?: string }
  | { name: "key" }
  | { name: "ticket"; jti: string };

export function App() {
  const [screen, setScreen] = useState<Screen>({ name: "tickets" });
  const [key, setKey] = useState<KeyInfo | null>(null);
  const [startupError, setStartupError] = useState<ErrorPayload | null>(null);

  const loadKey = useCallback(() => {
    api.keyInfo().then(setKey, (e: unknown) => setStartupError(asError(e)));
  }, []);
  useEffect(loadKey, [loadKey]);

  // A ticket link that opened the app is shown on the "Add a ticket" screen, never added silently.
  useEffect(() => {
    const openLink = () =>
      api.takePendingLink().then((link) => {
        if (link) setScreen({ name: "add", link });
      }, () => undefined);
    openLink();
    const unlisten = listen(TICKET_LINK_EVENT, openLink);
    return () => {
      unlisten.then((stop) => stop(), () => undefined);
    };
  }, []);

  const nav = (target: Screen, label: string, testId: string) => (
    <button
      type="button"
      data-testid={testId}
      className={screen.name === target.name ? "tab active" : "tab"}
      onClick={() => setScreen(target)}
    >
      {label}
    </button>
  );

  return (
    <div className="app">
      <header className="top">
        <h1>Ticket Wallet</h1>
        <nav>
          {nav({ name: "tickets" }, "Tickets", "nav-tickets")}
          {nav({ name: "add" }, "Add a ticket", "nav-add")}
          {nav({ name: "key" }, "My key", "nav-key")}
        </nav>
      </header>
      {startupError && <ErrorBanner error={startupError} />}
      {key?.store.notice && (
        <p className="notice" data-testid="store-notice">
          {key.store.notice}
        </p>
      )}
      <main>
        {screen.name === "tickets" && (
          <TicketList
            onOpen={(jti) => setScreen({ name: "ticket", jti })}
            onAdd={() => setScreen({ name: "add" })}
          />
        )}
        {screen.name === "add" && (
          <ImportScreen
            key={screen.link ?? ""}
            initialText={screen.link ?? ""}
            onSaved={(jti) => setScreen({ name: "ticket", jti })}
          />
        )}
        {screen.name === "key" && <KeyScreen info={key} />}
        {screen.name === "ticket" && (
          <TicketScreen jti={screen.jti} onRemoved={() => setScreen({ name: "tickets" })} />
        )}
      </main>
    </div>
  );
}
