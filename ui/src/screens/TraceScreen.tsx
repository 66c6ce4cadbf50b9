// The protocol trace, for testers: a lane per holder with its exchanges in the
// order they were sent (discovery, registration, token exchange, the patient's
// confirmation, each FHIR page), a waterfall of when each ran, and every
// request and answer with its JWTs decoded. Saved as HAR or as the wallet's
// own file, and a saved trace opened back.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, asError, type TraceFormat } from "../api";
import type { TraceView } from "../bindings/TraceView";
import type { TracedExchange } from "../bindings/TracedExchange";
import { ErrorBanner } from "../components/ErrorBanner";
import { Exchange } from "../components/TraceExchange";
import { holderName } from "../format";
import { useHolderNames, useLastTrace } from "../queries";


/** The time the whole trace spans, for the waterfall; none for traces without start times. */
function span(exchanges: TracedExchange[]): { from: number; length: number } | null {
  const timed = exchanges.map((x) => x.entry).filter((e) => e.started_ms > 0);
  if (timed.length === 0) return null;
  const from = Math.min(...timed.map((e) => e.started_ms));
  const to = Math.max(...timed.map((e) => e.started_ms + e.millis));
  return { from, length: Math.max(to - from, 1) };
}

function lanes(exchanges: TracedExchange[]): [string, TracedExchange[]][] {
  const byHolder = new Map<string, TracedExchange[]>();
  for (const x of exchanges) {
    const lane = byHolder.get(x.entry.holder) ?? [];
    lane.push(x);
    byHolder.set(x.entry.holder, lane);
  }
  return [...byHolder.entries()];
}



export function TraceScreen() {
  const last = useLastTrace();
  const names = useHolderNames();
  const [opened, setOpened] = useState<TraceView | null>(null);
  // Each trace opened starts with every exchange closed, even from a file of the same name.
  const [generation, setGeneration] = useState(0);
  const [saved, setSaved] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (format: TraceFormat) => api.saveTrace(format),
    onSuccess: (path) => setSaved(path),
  });
  const open = useMutation({
    mutationFn: api.openTrace,
    onSuccess: (view) => {
      if (!view) return;
      setOpened(view);
      setGeneration((g) => g + 1);
    },
  });
  const view = opened ?? last.data;
  const exchanges = view?.exchanges ?? [];
  const whole = span(exchanges);
  const tester = exchanges.some((x) => !x.entry.redacted);
  return (
    <section className="trace">
      <div className="section-head">
        <h2>Protocol trace</h2>
        <div className="row">
          <button type="button" disabled={opened !== null || exchanges.length === 0 || save.isPending} onClick={() => save.mutate("har")} data-testid="save-har">
            Save as HAR…
          </button>
          <button type="button" disabled={opened !== null || exchanges.length === 0 || save.isPending} onClick={() => save.mutate("trace")} data-testid="save-trace">
            Save trace file…
          </button>
          <button type="button" disabled={open.isPending} onClick={() => open.mutate()} data-testid="open-trace-file">
            Open a saved trace…
          </button>
        </div>
      </div>
      {view?.file ? (
        <p className="notice" data-testid="trace-source">
          Opened from <code>{view.file}</code>.{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setOpened(null);
              setGeneration((g) => g + 1);
            }}
          >
            Back to the last sync
          </button>
        </p>
      ) : (
        <p className="muted" data-testid="trace-source">
          The last sync: every request this wallet sent and every answer, in the order they were sent.
        </p>
      )}
      {tester ? (
        <p className="error" role="alert" data-testid="tester-mode">
          Tester mode: this trace holds tokens, tickets and proofs in full. Do not pass it on.
        </p>
      ) : (
        exchanges.length > 0 && (
          <p className="muted small">
            Tokens, tickets, proofs and who the records are about are redacted, so this trace can be attached to a report.
          </p>
        )
      )}
      {last.error && <ErrorBanner error={asError(last.error)} />}
      {save.error && <ErrorBanner error={asError(save.error)} />}
      {open.error && <ErrorBanner error={asError(open.error)} />}
      {saved && (
        <p className="notice" data-testid="trace-saved">
          Saved to <code>{saved}</code>.
        </p>
      )}
      {view && exchanges.length === 0 && (
        <p className="empty">
          Nothing traced yet. <Link to="/sync">Sync</Link> and every exchange shows here.
        </p>
      )}
      {lanes(exchanges).map(([holder, lane]) => (
        <section className="card lane" key={`${generation}-${holder}`} data-testid="trace-lane" data-holder={holder} aria-label={holderName(holder, names.get(holder))}>
          <h3>
            {holderName(holder, names.get(holder))} <span className="muted small">
              {lane.length} {lane.length === 1 ? "exchange" : "exchanges"}
            </span>
          </h3>
          <ol className="plain exchanges">
            {lane.map((x, i) => (
              <li key={i}>
                <Exchange entry={x.entry} curl={x.curl} whole={whole} />
              </li>
            ))}
          </ol>
        </section>
      ))}
    </section>
  );
}
