import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, asError } from "../api";
import type { HolderView } from "../bindings/HolderView";
import { DemoBadge, useIsDemo } from "../components/Demo";
import { ErrorBanner } from "../components/ErrorBanner";
import { Shortened } from "../components/Shortened";
import { holderName, statusLabel } from "../format";
import { keys, useHolders } from "../queries";

function addedBy(h: HolderView): string {
  switch (h.added_by.kind) {
    case "person":
      return "you";
    case "issuer":
      return `a hint from ${h.added_by.issuer}`;
    default:
      return "an earlier version of the wallet";
  }
}

function supports(h: HolderView): string {
  if (!h.reachable) return "not reachable right now";
  const parts = [
    h.token_exchange ? "Permission Tickets" : "no Permission Tickets",
    h.dpop ? "key-bound tokens (DPoP)" : "bearer tokens",
    h.registration ? "registration" : null,
    h.authorize ? "patient confirmation page" : null,
  ];
  return parts.filter(Boolean).join(", ");
}

function HolderCard({ h }: { h: HolderView }) {
  const isDemo = useIsDemo();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(h.name ?? "");
  const [confirming, setConfirming] = useState(false);
  const refresh = () => client.invalidateQueries({ queryKey: keys.holders });
  const rename = useMutation({ mutationFn: () => api.renameHolder(h.fhir_base, name || null), onSuccess: () => { setRenaming(false); void refresh(); } });
  const remove = useMutation({ mutationFn: () => api.removeHolder(h.fhir_base), onSuccess: () => void refresh() });
  const syncOne = useMutation({ mutationFn: () => api.startSync(h.fhir_base, false), onSuccess: () => void navigate("/sync") });
  const error = rename.error ?? remove.error ?? syncOne.error;
  const holderProblems = h.problems.filter((p) => !h.tickets.some((t) => p.includes(t.jti)));
  const last = h.last_sync[0];

  return (
    <li className="card holder" data-testid="holder-card" data-holder={h.fhir_base}>
      <div className="section-head">
        {renaming ? (
          <form className="row" onSubmit={(e) => { e.preventDefault(); rename.mutate(); }}>
            <label className="sr-only" htmlFor={`name-${h.fhir_base}`}>Name</label>
            <input id={`name-${h.fhir_base}`} value={name} onChange={(e) => setName(e.target.value)} data-testid="holder-name-input" />
            <button type="submit" className="primary">Save</button>
            <button type="button" onClick={() => setRenaming(false)}>Cancel</button>
          </form>
        ) : (
          <h3 data-testid="holder-name">
            {holderName(h.fhir_base, h.name)}
            {isDemo(h.fhir_base) && <> <DemoBadge /></>}
          </h3>
        )}
        {last && <span className={`badge ${last.status}`}>{statusLabel(last.status)}</span>}
      </div>
      {error && <ErrorBanner error={asError(error)} />}
      <dl className="facts">
        <dt>Address</dt>
        <dd><Shortened text={h.fhir_base} label="address" /></dd>
        <dt>Supports</dt>
        <dd>{supports(h)}</dd>
        <dt>Client id</dt>
        <dd>{h.client_id ? <Shortened text={h.client_id} label="client id" /> : "none yet (registered at the first sync)"}</dd>
        <dt>Added by</dt>
        <dd>{addedBy(h)}</dd>
        <dt>Last sync</dt>
        <dd data-testid="holder-last-sync">
          {last ? `${new Date(last.finished_at * 1000).toLocaleString()}: ${last.message}` : "not synced yet"}
        </dd>
      </dl>
      {holderProblems.map((p) => (
        <p key={p} className="notice">{p}</p>
      ))}
      {h.tickets.length > 0 && (
        <ul className="holder-tickets" aria-label="Tickets here">
          {h.tickets.map((t) => (
            <li key={t.jti} className={t.problems.length ? "cannot" : "can"}>
              <span aria-hidden="true">{t.problems.length ? "✗" : "✓"}</span>{" "}
              <Link to={`/tickets/${t.jti}`}>{t.label}</Link>
              {t.problems.length ? `: cannot be used here, ${t.problems.join("; ")}` : ": can be used here"}
            </li>
          ))}
        </ul>
      )}
      <div className="row">
        <button type="button" onClick={() => syncOne.mutate()} disabled={syncOne.isPending}>Sync this holder</button>
        {!renaming && <button type="button" onClick={() => setRenaming(true)} data-testid="rename-holder">Rename</button>}
        <Link className="button" to={`/holders/check?holder=${encodeURIComponent(h.fhir_base)}`} data-testid="check-holder">
          Check conformance
        </Link>
        {confirming ? (
          <>
            <span>Remove this holder? Its records stay until you delete them.</span>
            <button type="button" className="danger" onClick={() => remove.mutate()}>Remove</button>
            <button type="button" onClick={() => setConfirming(false)}>Keep</button>
          </>
        ) : (
          <button type="button" onClick={() => setConfirming(true)}>Remove…</button>
        )}
      </div>
    </li>
  );
}

function AddHolder() {
  const client = useQueryClient();
  const [base, setBase] = useState("");
  const [name, setName] = useState("");
  const [clientId, setClientId] = useState("");
  const add = useMutation({
    mutationFn: () => api.addHolder(base, name || null, clientId || null),
    onSuccess: () => {
      setBase("");
      setName("");
      setClientId("");
      void client.invalidateQueries({ queryKey: keys.holders });
    },
  });
  return (
    <form className="card add-holder" onSubmit={(e) => { e.preventDefault(); add.mutate(); }}>
      <h3>Add a holder</h3>
      <p className="muted">The address of its FHIR server. The wallet reads what it supports and registers itself there.</p>
      <label htmlFor="holder-base">FHIR address</label>
      <input id="holder-base" type="url" required placeholder="https://fhir.hospital.example/r4" value={base} onChange={(e) => setBase(e.target.value)} data-testid="holder-base" />
      <label htmlFor="holder-name">Name (optional)</label>
      <input id="holder-name" value={name} onChange={(e) => setName(e.target.value)} />
      <label htmlFor="holder-client">Client id, if the holder gave you one (optional)</label>
      <input id="holder-client" value={clientId} onChange={(e) => setClientId(e.target.value)} />
      {add.error && <ErrorBanner error={asError(add.error)} />}
      <div className="row">
        <button type="submit" className="primary" disabled={add.isPending || !base} data-testid="add-holder">
          {add.isPending ? "Checking the holder…" : "Add holder"}
        </button>
      </div>
    </form>
  );
}

export function HoldersScreen() {
  const holders = useHolders();
  return (
    <section>
      <div className="section-head">
        <h2>Data holders</h2>
        <Link className="button" to="/connect">Connect to an issuer</Link>
      </div>
      {holders.error && <ErrorBanner error={asError(holders.error)} />}
      {holders.isPending && <p className="muted">Asking each holder what it supports…</p>}
      {holders.data?.length === 0 && <p className="empty">No holders yet: add one below, or connect to an issuer that names them.</p>}
      <ul className="holders" data-testid="holder-list">
        {holders.data?.map((h) => <HolderCard key={h.fhir_base} h={h} />)}
      </ul>
      <AddHolder />
    </section>
  );
}
