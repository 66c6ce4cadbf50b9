// Exports, each saved where the person chooses.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api, asError, type ExportKind } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { holderName } from "../format";
import { useKeptHolders, usePeople } from "../queries";

export function ExportScreen() {
  const people = usePeople();
  const holders = useKeptHolders();
  const [person, setPerson] = useState<number | null>(null);
  const [saved, setSaved] = useState<{ path: string; kind: ExportKind } | null>(null);
  const save = useMutation({
    mutationFn: ({ kind, holder }: { kind: ExportKind; holder: string | null }) =>
      api.exportRecords(kind, person ?? people.data?.[0]?.id ?? null, holder).then((path) => ({ path, kind })),
    onSuccess: ({ path, kind }) => setSaved(path ? { path, kind } : null),
  });
  const open = useMutation({ mutationFn: api.openLastExport });
  const noRecords = people.data?.length === 0;
  return (
    <section>
      <h2>Export</h2>
      {noRecords && <p className="empty">No records yet: sync first.</p>}
      {(people.data?.length ?? 0) > 1 && (
        <div className="row">
          <label htmlFor="export-person">Whose record</label>
          <select id="export-person" value={person ?? people.data?.[0]?.id ?? ""} onChange={(e) => setPerson(Number(e.target.value))}>
            {people.data?.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name ?? `Person ${p.id}`}
              </option>
            ))}
          </select>
        </div>
      )}
      <div className="grid">
        <div className="card">
          <h3>A summary to hand to a doctor</h3>
          <p className="muted">One page with conditions, allergies, medications, results and where each came from. Open it and print it to PDF.</p>
          <button type="button" className="primary" disabled={noRecords || save.isPending} onClick={() => save.mutate({ kind: "summary", holder: null })} data-testid="export-summary">
            Save the summary…
          </button>
        </div>
        <div className="card">
          <h3>The merged record (FHIR)</h3>
          <p className="muted">Every record once, with every holder that gave it, as a FHIR Bundle other apps can read.</p>
          <button type="button" disabled={noRecords || save.isPending} onClick={() => save.mutate({ kind: "merged", holder: null })} data-testid="export-bundle">
            Save the FHIR Bundle…
          </button>
        </div>
        <div className="card">
          <h3>One holder's records, as received</h3>
          <ul className="plain">
            {holders.data?.map((h) => (
              <li key={h.fhir_base}>
                <button type="button" className="link" disabled={noRecords || save.isPending} onClick={() => save.mutate({ kind: "holder", holder: h.fhir_base })}>
                  {holderName(h.fhir_base, h.name)}
                </button>
              </li>
            ))}
          </ul>
        </div>
      </div>
      {save.error && <ErrorBanner error={asError(save.error)} />}
      {open.error && <ErrorBanner error={asError(open.error)} />}
      {saved && (
        <p className="notice" data-testid="export-saved">
          Saved to <code>{saved.path}</code>.{" "}
          <button type="button" onClick={() => open.mutate()}>
            {saved.kind === "summary" ? "Open it to print" : "Open it"}
          </button>
        </p>
      )}
    </section>
  );
}
