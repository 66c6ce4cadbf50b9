// Connect to an issuer (Proposal 003): sign in there in the browser, come
// back with its tickets and the holders it names, each shown to keep or drop.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, asError } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { holderName } from "../format";
import { keys } from "../queries";

export function ConnectScreen() {
  const client = useQueryClient();
  const [issuer, setIssuer] = useState("");
  const [dropped, setDropped] = useState<string[]>([]);
  const refresh = () => {
    void client.invalidateQueries({ queryKey: keys.tickets });
    void client.invalidateQueries({ queryKey: keys.holders });
  };
  const connect = useMutation({ mutationFn: () => api.onboard(issuer), onSuccess: refresh });
  const drop = useMutation({
    mutationFn: async ({ id, holder }: { id: string; holder: boolean }) => {
      await (holder ? api.removeHolder(id) : api.removeTicket(id));
      return id;
    },
    onSuccess: (id) => {
      setDropped((d) => [...d, id]);
      refresh();
    },
  });
  const report = connect.data;
  return (
    <section>
      <h2>Connect to an issuer</h2>
      <p className="muted">
        An issuer (your patient portal, a health app) can hand this wallet tickets bound to its key and name the holders
        to present them to. You sign in and agree in your browser; the wallet waits here.
      </p>
      <form className="row" onSubmit={(e) => { e.preventDefault(); connect.mutate(); }}>
        <label htmlFor="issuer">Issuer address</label>
        <input id="issuer" type="url" required value={issuer} onChange={(e) => setIssuer(e.target.value)} placeholder="https://issuer.example" data-testid="issuer-url" />
        <button type="submit" className="primary" disabled={connect.isPending || !issuer} data-testid="connect">
          {connect.isPending ? "Waiting for you in the browser…" : "Sign in at the issuer"}
        </button>
      </form>
      {connect.error && <ErrorBanner error={asError(connect.error)} />}
      {drop.error && <ErrorBanner error={asError(drop.error)} />}
      {report && (
        <div className="card" data-testid="connect-report">
          <h3>What the issuer gave</h3>
          <ul className="plain">
            {report.tickets.map((t) => (
              <li key={t.ticket.jti} data-testid="connect-ticket">
                {dropped.includes(t.ticket.jti) ? (
                  <s>{t.ticket.type_label}</s>
                ) : (
                  <>
                    <Link to={`/tickets/${t.ticket.jti}`}>{t.ticket.type_label}</Link> for {t.ticket.patient.name ?? "a patient"}
                    {t.notice && <span className="muted"> ({t.notice})</span>}{" "}
                    <button type="button" className="link" onClick={() => drop.mutate({ id: t.ticket.jti, holder: false })}>
                      Do not keep
                    </button>
                  </>
                )}
              </li>
            ))}
            {report.holders.map((h) => (
              <li key={h.fhir_base} data-testid="connect-holder">
                {dropped.includes(h.fhir_base) ? (
                  <s>{holderName(h.fhir_base, h.name)}</s>
                ) : (
                  <>
                    Holder {holderName(h.fhir_base, h.name)}{" "}
                    <button type="button" className="link" onClick={() => drop.mutate({ id: h.fhir_base, holder: true })} data-testid="drop-holder">
                      Do not add
                    </button>
                  </>
                )}
              </li>
            ))}
          </ul>
          {report.problems.map((p) => (
            <p key={p} className="notice">
              {p}
            </p>
          ))}
          <Link className="button primary" to="/sync">
            Go to sync
          </Link>
        </div>
      )}
    </section>
  );
}
