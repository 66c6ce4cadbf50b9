// One HTTP exchange of a trace, as the trace screen and the conformance
// report show it: step, request, status, time and a waterfall bar, opening
// onto headers, bodies, decoded JWTs and its curl command.
import { useState } from "react";
import type { Step } from "../bindings/Step";
import type { TraceEntry } from "../bindings/TraceEntry";

function statusClass(e: TraceEntry): string {
  if (e.status === null) return "failed";
  if (e.status < 300) return "synced";
  return e.status < 500 ? "needs_interaction" : "failed";
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return decodeURIComponent(u.pathname + u.search);
  } catch {
    return url;
  }
}

const STEP_LABEL: Record<Step, string> = {
  discovery: "Discovery",
  registration: "Registration",
  exchange: "Token exchange",
  interaction: "Patient confirmation",
  fhir: "FHIR",
  issuer: "Issuer",
  other: "Exchange",
};

/** One exchange: a summary line (step, request, status, time, waterfall bar) that opens onto
 * headers, bodies and decoded JWTs, and its curl command when there is one. */
export function Exchange({ entry: e, curl, whole }: { entry: TraceEntry; curl?: string; whole?: { from: number; length: number } | null }) {
  const [copied, setCopied] = useState(false);
  const copy = () =>
    navigator.clipboard.writeText(curl ?? "").then(
      () => setCopied(true),
      () => setCopied(false),
    );
  const bar =
    whole && whole.length > 0 && e.started_ms > 0
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
        {curl !== undefined && (
          <>
        <div className="row">
          <button type="button" onClick={copy} data-testid="copy-curl">
            {copied ? "Copied" : "Copy as curl"}
          </button>
          {e.redacted && <span className="muted small">Redacted values read [redacted]: fill them in before sending.</span>}
        </div>
        <details>
          <summary className="muted small">The curl command</summary>
          <pre data-testid="trace-curl" tabIndex={0}>{curl}</pre>
        </details>
          </>
        )}
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
