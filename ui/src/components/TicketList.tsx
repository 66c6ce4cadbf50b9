import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, asError } from "../api";
import type { ErrorPayload } from "../bindings/ErrorPayload";
import type { TicketEntry } from "../bindings/TicketEntry";
import { DemoBadge, useIsDemo } from "./Demo";
import { DEMO_TYPES, personOf, TICKET_STATE_LABELS, ticketStatus } from "../format";
import { keys } from "../queries";
import { ErrorBanner } from "./ErrorBanner";

/** Tickets by the person they are for, in the order they were added. */
function byPerson(entries: TicketEntry[]): [string, TicketEntry[]][] {
  const groups = new Map<string, TicketEntry[]>();
  for (const e of entries) {
    const who = personOf(e);
    groups.set(who, [...(groups.get(who) ?? []), e]);
  }
  return [...groups];
}

export function TicketList({ onOpen, onAdd }: { onOpen: (jti: string) => void; onAdd: () => void }) {
  const client = useQueryClient();
  // The index answers at once; each ticket's judgement (keys, revocation) follows.
  const tickets = useQuery({ queryKey: keys.tickets, queryFn: api.listTickets });
  const entries = useQuery({ queryKey: [...keys.tickets, "entries"], queryFn: () => api.ticketEntries(false) });
  const demo = useQuery({ queryKey: keys.demo, queryFn: api.demoStatus });
  const isDemo = useIsDemo();
  const [error, setError] = useState<ErrorPayload | null>(null);
  const [demoType, setDemoType] = useState(DEMO_TYPES[0]?.[0] ?? "");
  const [busy, setBusy] = useState(false);
  const load = () => client.invalidateQueries({ queryKey: keys.tickets });

  const addDemo = () => {
    setBusy(true);
    setError(null);
    api
      .demoTicket(demoType)
      .then((r) => {
        void load();
        onOpen(r.ticket.jti);
      }, (e: unknown) => setError(asError(e)))
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
      {tickets.error && <ErrorBanner error={asError(tickets.error)} />}
      {entries.error && <ErrorBanner error={asError(entries.error)} />}
      {tickets.isPending && <p className="muted">Loading…</p>}
      {tickets.data?.length === 0 && (
        <p className="empty" data-testid="empty-list">
          No tickets yet. Paste one from your issuer, open a ticket file, or try a demo ticket below.
        </p>
      )}
      <div data-testid="ticket-list">
        {entries.data
          ? byPerson(entries.data).map(([who, group]) => (
              <div key={who} className="ticket-group">
                <h3 data-testid="ticket-person">{who}</h3>
                <ul className="tickets">
                  {group.map((e) => {
                    const status = ticketStatus(e);
                    const requester = e.view?.requester?.name;
                    return (
                      <li key={e.summary.jti}>
                        <button type="button" className="ticket-row" data-testid="ticket-row" data-jti={e.summary.jti} onClick={() => onOpen(e.summary.jti)}>
                          <span className="type">
                            {e.summary.type_label}
                            {(e.summary.source === "demo" || isDemo(e.summary.issuer)) && <> <DemoBadge /></>}
                            {e.summary.source === "workbench" && (
                              <>
                                {" "}
                                <span className="badge test-ticket" data-testid="test-ticket-badge" title="Presented only where a tester names it">
                                  Test ticket
                                </span>
                              </>
                            )}
                          </span>
                          <span className="issuer">
                            {requester ? `Held by ${requester} on their behalf · ` : ""}
                            {e.summary.issuer}
                          </span>
                          <span className={`badge ${status.state}`} data-testid="ticket-status" data-status={status.state} title={status.text}>
                            {TICKET_STATE_LABELS[status.state]}
                          </span>
                          <span className="why">{status.text}</span>
                        </button>
                      </li>
                    );
                  })}
                </ul>
              </div>
            ))
          : tickets.data?.map((t) => (
              <p key={t.jti} className="muted">
                {t.type_label}: checking…
              </p>
            ))}
      </div>
      {demo.data && (
        <div className="card demo">
          <h3>Try it with the demo issuer</h3>
          <p className="muted">
            A built-in issuer at <code>{demo.data}</code> writes tickets bound to this wallet's key, for trying things out.
          </p>
          <div className="row">
            <select value={demoType} onChange={(e) => setDemoType(e.target.value)} data-testid="demo-type" aria-label="Type of demo ticket">
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
