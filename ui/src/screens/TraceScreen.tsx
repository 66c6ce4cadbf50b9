// The protocol trace, for testers: a lane per holder with its exchanges in the
// order they were sent (discovery, registration, token exchange, the patient's
// confirmation, each FHIR page), a waterfall of when each ran, and every
// request and answer with its JWTs decoded. Saved as HAR or as the wallet's
// own file, and a saved trace opened back.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, asError, type TraceFormat } from "../api";
import type { Step } from "../bindings/Step";
import type { TraceEntry } from "../bindings/TraceEntry";
import type { TraceView } from "../bindings/TraceView";
import type { TracedExchange } from "../bindings/TracedExchange";
import { ErrorBanner } from "../components/ErrorBanner";
import { holderName } from "../format";
import { useHolderNames, useLastTrace } from "../queries";

const STEP_LABEL: Record<Step, string> = {
  discovery: "Discovery",
  registration: "Registration",
  exchange: "Token exchange",
  interaction: "Patient confirmation",
  fhir: "FHIR",
  issuer: "Issuer",
  other: "Exchange",
};

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

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return decodeURIComponent(u.pathname + u.search);
  } catch {
    return url;
  }
}

function statusClass(e: TraceEntry): string {
  if (e.status === null) return "failed";
  if (e.status < 300) return "synced";
  return e.status < 500 ? "needs_interaction" : "failed";
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
                <Exchange x={x} whole={whole} />
              </li>
            ))}
          </ol>
        </section>
      ))}
    </section>
  );
}

function Exchange({ x, whole }: { x: TracedExchange; whole: { from: number; length: number } | null }) {
  const e = x.entry;
  const [copied, setCopied] = useState(false);
  const copy = () =>
    navigator.clipboard.writeText(x.curl).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  const bar =
    whole && e.started_ms > 0
      ? {
          left: `${((e.started_ms - whole.from) / whole.length) * 100}%`,
          width: `${Math.max((e.millis / whole.length) * 100, 0.5)}%`,
        }
      : null;
  return (
    <details className="exchange" data-testid="trace-exchange" data-step={e.step}>
      <summary>
        <span className={`step-chip ${e.step}`}>{STEP_LABEL[e.step]}</span>
        <code className="path">
          {e.method} {pathOf(e.url)}
        </code>
        <span className={`badge ${statusClass(e)}`}>{e.status ?? "no answer"}</span>
        <span className="muted small">{e.millis} ms</span>
        {bar && (
          <span className="waterfall" aria-hidden="true">
            {/* Computed positions: React sets them through the CSSOM, which the CSP allows. */}
            {/* eslint-disable-next-line no-restricted-syntax */}
            <span style={bar} />
          </span>
        )}
      </summary>
      <div className="exchange-body">
        <h4>Request</h4>
        <p className="url">
          <code>
            {e.method} {e.url}
          </code>
        </p>
        <Headers list={e.request_headers} />
        {e.request_body !== null && <pre tabIndex={0}>{JSON.stringify(e.request_body, null, 2)}</pre>}
        <h4>Answer</h4>
        {e.error ? <p className="error">{e.error}</p> : <Headers list={e.response_headers} />}
        {e.response !== null && <pre data-testid="trace-response" tabIndex={0}>{JSON.stringify(e.response, null, 2)}</pre>}
        {e.jwts.length > 0 && <h4>Tokens, decoded</h4>}
        {e.jwts.map((j, i) => (
          <Jwt key={i} jwt={j as Record<string, unknown>} />
        ))}
        <div className="row">
          <button type="button" onClick={copy} data-testid="copy-curl">
            {copied ? "Copied" : "Copy as curl"}
          </button>
          {e.redacted && <span className="muted small">Redacted values read [redacted]: fill them in before sending.</span>}
        </div>
        <details>
          <summary className="muted small">The curl command</summary>
          <pre data-testid="trace-curl" tabIndex={0}>{x.curl}</pre>
        </details>
      </div>
    </details>
  );
}

function Headers({ list }: { list: [string, string][] }) {
  if (list.length === 0) return null;
  return (
    <dl className="facts headers">
      {list.map(([k, v], i) => (
        <div key={i} className="contents">
          <dt>{k}</dt>
          <dd>
            <code>{v}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** A JWT decoded, beside its compact form when the trace kept it (tester mode only). */
function Jwt({ jwt }: { jwt: Record<string, unknown> }) {
  const role = String(jwt.role ?? "JWT");
  const decoded = jwt.error ? String(jwt.error) : JSON.stringify({ header: jwt.header, claims: jwt.claims }, null, 2);
  return (
    <div className="jwt" data-testid="trace-jwt">
      <h5>{role}</h5>
      {typeof jwt.compact === "string" ? (
        <div className="jwt-sides">
          <pre aria-label={`${role}, decoded`} tabIndex={0}>
            {decoded}
          </pre>
          <pre aria-label={`${role}, as sent`} className="compact" tabIndex={0}>
            {jwt.compact}
          </pre>
        </div>
      ) : (
        <>
          <pre aria-label={`${role}, decoded`} tabIndex={0}>
            {decoded}
          </pre>
          <p className="muted small">As sent: not kept (redacted; a tester-mode trace keeps it).</p>
        </>
      )}
    </div>
  );
}
