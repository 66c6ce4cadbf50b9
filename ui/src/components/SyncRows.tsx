// One row per holder with its live state, from the Rust side's SyncBoard.
import type { SyncRow } from "../bindings/SyncRow";
import { holderName, statusLabel } from "../format";
import { DemoBadge, useIsDemo } from "./Demo";

export function SyncRows({ rows, onRetry }: { rows: SyncRow[]; onRetry?: ((holder: string) => void) | undefined }) {
  const isDemo = useIsDemo();
  if (rows.length === 0) return null;
  return (
    <ul className="sync-rows" data-testid="sync-rows" aria-live="polite">
      {rows.map((r) => {
        const state = r.status ?? (r.stage === "interaction" ? "waiting_for_you" : "working");
        return (
          <li key={r.holder} className={`sync-row ${state}`} data-testid="sync-row" data-holder={r.holder} data-status={r.status ?? ""}>
            <div className="sync-head">
              <span>
                <strong>{holderName(r.holder, r.name)}</strong>
                {isDemo(r.holder) && <> <DemoBadge /></>}
              </span>
              <span className={`badge ${state}`}>{statusLabel(state)}</span>
            </div>
            <p className="activity" data-testid="sync-activity">
              {r.activity}
            </p>
            {!r.status && r.stage !== "waiting" && <div className="bar" role="progressbar" aria-label="working" />}
            {r.outcomes.length > 1 && (
              <ul className="outcomes">
                {r.outcomes.map((o, i) => (
                  <li key={`${o.ticket_jti ?? ""}${i}`}>
                    <span className={`badge ${o.status}`}>{statusLabel(o.status)}</span> <span className="outcome-text">{o.message}</span>
                  </li>
                ))}
              </ul>
            )}
            {onRetry && (r.status === "failed" || r.status === "needs_interaction" || r.status === "stopped") && (
              <button type="button" onClick={() => onRetry(r.holder)} data-testid="retry-holder">
                {r.status === "needs_interaction" ? "Confirm and sync this holder" : "Try this holder again"}
              </button>
            )}
          </li>
        );
      })}
    </ul>
  );
}
