// The conformance check of one holder, for testers: every case with its
// outcome, what was seen, the requirement it checks, and the exchanges that
// show it; a bar of outcomes at the top, and the report saved as HTML.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, asError } from "../api";
import type { Outcome } from "../bindings/Outcome";
import { ErrorBanner } from "../components/ErrorBanner";
import { Exchange } from "../components/TraceExchange";
import { holderName } from "../format";
import { useHolderNames } from "../queries";

const LABEL: Record<Outcome, string> = {
  pass: "Pass",
  fail: "Fail",
  warning: "Warning",
  info: "Information",
  not_applicable: "Not applicable",
};
const ORDER: Outcome[] = ["fail", "warning", "pass", "info", "not_applicable"];
const rank = (o: Outcome) => (o === "fail" ? 0 : o === "warning" ? 1 : 2);

export function CheckScreen() {
  const [params] = useSearchParams();
  const base = params.get("holder") ?? "";
  const names = useHolderNames();
  const [issuerKey, setIssuerKey] = useState("");
  const run = useMutation({ mutationFn: () => api.checkHolder(base, issuerKey.trim() || null) });
  const save = useMutation({ mutationFn: api.saveCheckReport });
  const report = run.data;
  const counts = ORDER.map((o) => [o, report?.cases.filter((c) => c.outcome === o).length ?? 0] as const);
  const total = report?.cases.length ?? 0;
  return (
    <section className="check-screen">
      <p>
        <Link to="/holders">← Holders</Link>
      </p>
      <h2>Conformance check: {holderName(base, names.get(base))}</h2>
      <p className="muted">
        A battery of cases against <code>{base}</code> with one of your tickets and this wallet's key: discovery,
        registration, the token exchange and the refusals the spec asks for (a tampered ticket, a client assertion for
        another audience or replayed, DPoP proofs that do not fit), paging links. Cases that need a ticket with one claim
        changed need the private key of a test issuer this holder trusts: paste it below (the built-in demo holders need none).
      </p>
      <label htmlFor="check-issuer-key" className="muted small">
        Test issuer key (a private JWK, optional)
      </label>
      <textarea
        id="check-issuer-key"
        rows={2}
        value={issuerKey}
        onChange={(e) => setIssuerKey(e.target.value)}
        spellCheck={false}
        data-testid="check-issuer-key"
        placeholder='{"kty":"EC","crv":"P-256","x":"…","y":"…","d":"…","kid":"…"}'
      />
      <div className="row">
        <button type="button" className="primary" onClick={() => run.mutate()} disabled={run.isPending || !base} data-testid="run-check">
          {run.isPending ? "Checking…" : report ? "Check again" : "Run the check"}
        </button>
        {report && (
          <button type="button" onClick={() => save.mutate()} disabled={save.isPending} data-testid="save-check">
            Save the report…
          </button>
        )}
      </div>
      {run.isPending && (
        <p className="muted" role="status">
          Running each case against the holder, one after another…
        </p>
      )}
      {run.error && <ErrorBanner error={asError(run.error)} />}
      {save.error && <ErrorBanner error={asError(save.error)} />}
      {save.data && (
        <p className="notice" data-testid="check-saved">
          Saved to <code>{save.data}</code>.
        </p>
      )}
      {report && (
        <>
          <div className="outcome-bar" aria-hidden="true">
            {counts
              .filter(([, n]) => n > 0)
              .map(([o, n]) => (
                // Widths are shares of the whole: set through the CSSOM, which the CSP allows.
                // eslint-disable-next-line no-restricted-syntax
                <span key={o} className={`outcome ${o}`} style={{ flexGrow: n }} />
              ))}
          </div>
          <p data-testid="check-counts">
            {counts
              .filter(([, n]) => n > 0)
              .map(([o, n]) => `${n} ${LABEL[o].toLowerCase()}`)
              .join(", ")}{" "}
            of {total} cases.
          </p>
          <ol className="plain cases">
            {/* What needs looking at first; otherwise the battery's order. */}
            {[...report.cases].sort((a, b) => rank(a.outcome) - rank(b.outcome)).map((c) => (
              <li key={c.id} className="card case" data-testid="check-case" data-case={c.id} data-outcome={c.outcome}>
                <div className="case-head">
                  <span className={`badge outcome-badge ${c.outcome}`}>{LABEL[c.outcome]}</span>
                  <strong>{c.title}</strong> <code className="muted small">{c.id}</code>
                </div>
                <p className="case-detail">{c.detail}</p>
                <p className="muted small">{c.requirement}</p>
                {c.evidence.length > 0 && (
                  <details>
                    <summary className="muted small">
                      {c.evidence.length} {c.evidence.length === 1 ? "exchange" : "exchanges"}
                    </summary>
                    <ol className="plain exchanges">
                      {c.evidence.map((e, i) => (
                        <li key={i}>
                          <Exchange entry={e} />
                        </li>
                      ))}
                    </ol>
                  </details>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
