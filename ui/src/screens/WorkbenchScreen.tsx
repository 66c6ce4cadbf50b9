// The ticket workbench, for testers: a copy of a ticket's claims to edit as
// JSON, the decoded result beside it with what changed, signed with a test
// issuer key and kept as a test ticket (presented only where a tester names it).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, asError } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { keys } from "../queries";

type Parsed = { claims: Record<string, unknown> } | { error: string };

function parse(text: string): Parsed {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return { error: "The claims must be one JSON object." };
    return { claims: value as Record<string, unknown> };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

export function WorkbenchScreen() {
  const { jti = "" } = useParams();
  const ticket = useQuery({ queryKey: keys.ticket(jti), queryFn: () => api.getTicket(jti) });
  const original = ticket.data ? JSON.stringify(ticket.data.claims, null, 2) : "";
  return (
    <section className="workbench">
      <p>
        <Link to={`/tickets/${jti}`}>← The ticket</Link>
      </p>
      <h2>Ticket workbench</h2>
      <p className="notice">
        For testers. The copy is signed with a test issuer's key and kept as a <strong>test ticket</strong>: it is marked as such, and no
        ordinary sync presents it (only <code>tw sync --ticket</code> or <code>tw check --ticket</code> name it).
      </p>
      {ticket.error && <ErrorBanner error={asError(ticket.error)} />}
      {ticket.data && <Editor key={jti} jti={jti} original={original} />}
    </section>
  );
}

function Editor({ jti, original }: { jti: string; original: string }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [text, setText] = useState(original);
  const [issuerKey, setIssuerKey] = useState("");
  const parsed = useMemo(() => parse(text), [text]);
  const before = useMemo(() => parse(original), [original]);
  const changed =
    "claims" in parsed && "claims" in before
      ? [...new Set([...Object.keys(before.claims), ...Object.keys(parsed.claims)])].filter(
          (k) => JSON.stringify(before.claims[k]) !== JSON.stringify(parsed.claims[k]),
        )
      : [];
  const make = useMutation({
    mutationFn: () => api.makeTestTicket(jti, text, issuerKey.trim() || null),
    onSuccess: (made) => {
      void client.invalidateQueries({ queryKey: keys.tickets });
      void navigate(`/tickets/${made.jti}`);
    },
  });
  return (
    <>
      <div className="workbench-sides">
        <div>
          <label htmlFor="claims">Claims (JSON)</label>
          <textarea id="claims" rows={22} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} data-testid="workbench-claims" />
        </div>
        <div>
          <h3>Decoded</h3>
          {"error" in parsed ? (
            <p className="error" data-testid="workbench-error">
              {parsed.error}
            </p>
          ) : (
            <>
              <p data-testid="workbench-changed">
                {changed.length === 0 ? "Nothing changed yet (the copy gets a new jti)." : `Changed: ${changed.join(", ")}.`}
              </p>
              <pre tabIndex={0}>{JSON.stringify(parsed.claims, null, 2)}</pre>
            </>
          )}
        </div>
      </div>
      <label htmlFor="issuer-key">Test issuer key (a private JWK)</label>
      <textarea
        id="issuer-key"
        rows={3}
        value={issuerKey}
        onChange={(e) => setIssuerKey(e.target.value)}
        spellCheck={false}
        placeholder='{"kty":"EC","crv":"P-256","x":"…","y":"…","d":"…","kid":"…"} (leave empty for a demo ticket: the demo issuer signs)'
      />
      <div className="row">
        <button type="button" className="primary" disabled={"error" in parsed || make.isPending} onClick={() => make.mutate()} data-testid="make-test-ticket">
          Sign and keep as a test ticket
        </button>
      </div>
      {make.error && <ErrorBanner error={asError(make.error)} />}
    </>
  );
}
