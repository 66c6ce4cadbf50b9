import type { TicketView } from "../bindings/TicketView";
import { DemoBadge, useIsDemo } from "./Demo";
import { checkSummary, relativeExpiry, statusMark } from "../format";

export function TicketDetail({ ticket: t }: { ticket: TicketView }) {
  const isDemo = useIsDemo();
  return (
    <article className="card detail" data-testid="ticket-detail" data-jti={t.jti}>
      <div className={t.usable ? "verdict ok" : "verdict bad"} data-testid="verdict">
        <strong>{t.usable ? "Ready to use" : "Cannot be used"}</strong>
        {t.problem && <span data-testid="problem"> — {t.problem}</span>}
      </div>
      <h2 data-testid="ticket-type">
        {t.type_label}
        {isDemo(t.issuer) && <> <DemoBadge /></>}
      </h2>
      {!t.known_type && <p className="notice">Unknown ticket type: {t.ticket_type}</p>}

      <div className="grid">
        <div>
          <h3>Patient</h3>
          <p data-testid="patient-name" className="big">{t.patient.name ?? "(no name given)"}</p>
          <p className="muted">
            {[t.patient.birth_date && `born ${t.patient.birth_date}`, t.patient.gender, ...t.patient.identifiers]
              .filter(Boolean)
              .join(" · ")}
          </p>
        </div>
        <div>
          <h3>Requested by</h3>
          {t.requester ? (
            <>
              <p className="big" data-testid="requester">{t.requester.name ?? "(no name given)"}</p>
              <p className="muted">
                {t.requester.resource_type}
                {t.requester.relationship.length > 0 && ` · ${t.requester.relationship.join(", ")}`}
              </p>
            </>
          ) : (
            <p className="big">The patient (self-access)</p>
          )}
        </div>
      </div>

      <h3>What it shares</h3>
      {t.access.scopes.length > 0 ? (
        <table className="scopes" data-testid="scopes">
          <thead>
            <tr>
              <th>Records</th>
              <th>Allowed</th>
              <th>Only where</th>
            </tr>
          </thead>
          <tbody>
            {t.access.scopes.map((s) => (
              <tr key={s.scope}>
                <td>{s.resource_type === "*" ? "All record types" : s.resource_type}</td>
                <td>{s.permissions}</td>
                <td>{s.narrowed_by ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>{t.access.claim_linkage ? "Records linked to the claim's encounters" : "Nothing"}</p>
      )}
      <dl className="facts">
        {t.access.period && (
          <>
            <dt>Dated</dt>
            <dd>{t.access.period} (approximate: holders filter by each record's main date)</dd>
          </>
        )}
        {t.access.holder_filter.length > 0 && (
          <>
            <dt>Who may answer</dt>
            <dd>{t.access.holder_filter.join("; ")}</dd>
          </>
        )}
        {t.access.sensitive_data && (
          <>
            <dt>Sensitive data</dt>
            <dd>{t.access.sensitive_data === "exclude" ? "left out" : "included"}</dd>
          </>
        )}
        {t.facts.map((f) => (
          <FactRow key={f.name} name={f.name} display={f.display} />
        ))}
        <dt>Issuer</dt>
        <dd>{t.issuer}</dd>
        <dt>For</dt>
        <dd>
          {t.audience.join(", ")} {t.audience_type === "trust_framework" ? "(a trust framework)" : ""}
        </dd>
        <dt>Expires</dt>
        <dd data-testid="expires">
          {t.expires_text} ({relativeExpiry(t.expires_at)})
        </dd>
        <dt>Bound to</dt>
        <dd>
          {t.binding.matches_wallet ? "this wallet's key" : t.binding.detail}
        </dd>
        {t.revocation && (
          <>
            <dt>Revocation list</dt>
            <dd>
              {t.revocation.url} (entry {t.revocation.index})
            </dd>
          </>
        )}
      </dl>

      <h3>
        Checks <span className="muted small">{checkSummary(t.checks)}</span>
      </h3>
      <ul className="checks" data-testid="checks">
        {t.checks.map((c) => (
          <li key={c.id} className={`check ${c.status}`} data-testid={`check-${c.id}`} data-status={c.status}>
            <span className="mark" aria-label={c.status}>
              {statusMark(c.status)}
            </span>
            <span className="label">{c.label}</span>
            <span className="detail">{c.detail}</span>
          </li>
        ))}
      </ul>
      <details>
        <summary>All claims (for testers)</summary>
        <pre data-testid="claims">{JSON.stringify(t.claims, null, 2)}</pre>
      </details>
    </article>
  );
}

const FACT_NAMES: Record<string, string> = {
  reportable_condition: "Reportable condition",
  measure: "Quality measure",
  concern: "Concern",
  referral: "Referral",
  study: "Study",
  reason: "Reason",
  consult_request: "Consult request",
  service: "Service",
  claim: "Claim",
};

function FactRow({ name, display }: { name: string; display: string }) {
  return (
    <>
      <dt>{FACT_NAMES[name] ?? name}</dt>
      <dd>{display}</dd>
    </>
  );
}
