import { useEffect, useState } from "react";
import { Link } from "react-router";
import { api, asError } from "../api";
import type { ErrorPayload } from "../bindings/ErrorPayload";
import type { TicketView } from "../bindings/TicketView";
import { ErrorBanner } from "./ErrorBanner";
import { TicketDetail } from "./TicketDetail";

export function TicketScreen({ jti, onRemoved }: { jti: string; onRemoved: () => void }) {
  const [ticket, setTicket] = useState<TicketView | null>(null);
  const [error, setError] = useState<ErrorPayload | null>(null);
  const [confirming, setConfirming] = useState(false);

  useEffect(() => {
    api.getTicket(jti).then(setTicket, (e: unknown) => setError(asError(e)));
  }, [jti]);

  const remove = () => api.removeTicket(jti).then(onRemoved, (e: unknown) => setError(asError(e)));

  return (
    <section>
      {error && <ErrorBanner error={error} />}
      {!ticket && !error && <p className="muted">Checking the ticket…</p>}
      {ticket && <TicketDetail ticket={ticket} />}
      {ticket && (
        // Shown with the ticket, so nothing moves under a click once it loads.
        <p className="muted small">
          For testers: <Link to={`/tickets/${jti}/workbench`} data-testid="open-workbench">make a test copy with claims changed</Link>.
        </p>
      )}
      <div className="row danger-zone">
        {confirming ? (
          <>
            <span>Remove this ticket from the wallet?</span>
            <button type="button" className="danger" onClick={remove} data-testid="confirm-remove">
              Remove
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" onClick={() => setConfirming(true)} data-testid="remove-ticket">
            Remove ticket…
          </button>
        )}
      </div>
    </section>
  );
}
