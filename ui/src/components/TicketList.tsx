import { useCallback, useEffect, useState } from "react";
import { api, asError } from "../api";
import type { ErrorPayload } from "../bindings/ErrorPayload";
import type { TicketSummary } from "../bindings/TicketSummary";
import { DEMO_TYPES, relativeExpiry } from "../format";
import { ErrorBanner } from "./ErrorBanner";

export function TicketList({ onOpen, onAdd }: { onOpen: (jti: string) => void; onAdd: () => void }) {
  const [tickets, setTickets] = useState<TicketSummary[] | null>(null);
  const [error, setError] = useState<ErrorPayload | null>(null);
  const [demo, setDemo] = useState<string | null>(null);
  const [demoType, setDemoType] = useState(DEMO_TYPES[0]?.[0] ?? "");
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    api.listTickets().then(setTickets, (e: unknown) => setError(asError(e)));
  }, []);
  useEffect(() => {
    load();
    api.demoStatus().then(setDemo, () => setDemo(null));
  }, [load]);

  const addDemo = () => {
    setBusy(true);
    setError(null);
    api
      .demoTicket(demoType)
      .then((r) => onOpen(r.ticket.jti), (e: unknown) => setError(asError(e)))
      .finally(() => setBusy(false));
  };

  return (
    <section>
      <div className="section-head">
        <h2>Your tickets</h2>
        <button type="button" onClick={onAdd}>
          Add a ticket
        </button>
      </div>
      {error && <ErrorBanner error={error} />}
      {tickets === null && !error && <p className="muted">Loading…</p>}
      {tickets?.length === 0 && (
        <p className="empty" data-testid="empty-list">
          No tickets yet. Paste one from your issuer, open a ticket file, or try a demo ticket below.
        </p>
      )}
      <ul className="tickets" data-testid="ticket-list">
        {tickets?.map((t) => (
          <li key={t.jti}>
            <button type="button" className="ticket-row" data-testid="ticket-row" data-jti={t.jti} onClick={() => onOpen(t.jti)}>
              <span className="type">{t.type_label}</span>
              <span className="issuer">{t.issuer}</span>
              <span className={t.expired ? "expiry expired" : "expiry"} title={t.expires_text}>
                {relativeExpiry(t.expires_at)}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {demo && (
        <div className="card demo">
          <h3>Try it with the demo issuer</h3>
          <p className="muted">
            A built-in issuer at <code>{demo}</code> writes tickets bound to this wallet's key, for trying things out.
          </p>
          <div className="row">
            <select value={demoType} onChange={(e) => setDemoType(e.target.value)} data-testid="demo-type">
              {DEMO_TYPES.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
            <button type="button" onClick={addDemo} disabled={busy} data-testid="demo-add">
              {busy ? "Adding…" : "Add a demo ticket"}
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
