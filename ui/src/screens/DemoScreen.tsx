// "Try it with demo data": the whole chain in one go, every step visible.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { Link, useNavigate } from "react-router";
import { api, asError } from "../api";
import type { OnboardReport } from "../bindings/OnboardReport";
import { ErrorBanner } from "../components/ErrorBanner";
import { SyncRows } from "../components/SyncRows";
import { holderName } from "../format";
import { keys, useSyncState } from "../queries";

type StepState = "done" | "working" | "waiting" | "failed";

function Step({ state, title, children }: { state: StepState; title: string; children?: React.ReactNode }) {
  const mark = { done: "✓", working: "…", waiting: "", failed: "✗" }[state];
  return (
    <li className={`step ${state}`} data-testid="demo-step" data-state={state}>
      <span className="step-mark" aria-hidden="true">
        {mark}
      </span>
      <div>
        <strong>{title}</strong>
        {children}
      </div>
    </li>
  );
}

export function DemoScreen() {
  const navigate = useNavigate();
  const client = useQueryClient();
  const setup = useMutation({
    mutationFn: async (): Promise<OnboardReport> => {
      const report = await api.demoSetup();
      void client.invalidateQueries({ queryKey: keys.tickets });
      void client.invalidateQueries({ queryKey: keys.holders });
      await api.startSync(null, false);
      return report;
    },
  });
  const sync = useSyncState();
  const started = useRef(false);
  useEffect(() => {
    if (!started.current) {
      started.current = true;
      setup.mutate();
    }
  }, [setup]);

  const report = setup.data;
  const snapshot = sync.data?.snapshot;
  const syncing = Boolean(report) && (snapshot?.running ?? true);
  const finished = Boolean(report) && snapshot !== undefined && !snapshot.running && snapshot.finished_at !== null;
  const synced = snapshot?.rows.filter((r) => r.status === "synced").length ?? 0;

  // It ends on the record, which links back to each step.
  useEffect(() => {
    if (finished && synced > 0) void navigate("/record", { state: { fromDemo: true } });
  }, [finished, synced, navigate]);

  const ticket = report?.tickets[0];
  return (
    <section>
      <h2>Trying it with demo data</h2>
      {setup.error && <ErrorBanner error={asError(setup.error)} />}
      <ol className="steps">
        <Step state={report ? "done" : setup.error ? "failed" : "working"} title="A ticket for the demo patient, bound to this wallet's key">
          {ticket && (
            <p className="muted">
              {ticket.ticket.type_label} for {ticket.ticket.patient.name ?? "the demo patient"}, from the demo issuer.{" "}
              <Link to={`/tickets/${ticket.ticket.jti}`}>See the ticket</Link>
            </p>
          )}
        </Step>
        <Step state={report ? "done" : setup.error ? "failed" : "waiting"} title="The demo's data holders, discovered and registered">
          {report && (
            <p className="muted">
              {report.holders.map((h) => holderName(h.fhir_base, h.name)).join(", ")}. <Link to="/holders">See the holders</Link>
            </p>
          )}
        </Step>
        <Step state={finished ? "done" : syncing ? "working" : "waiting"} title="Presenting the ticket and downloading the records">
          {report && <SyncRows rows={snapshot?.rows ?? []} />}
          {report && (
            <p className="muted">
              <Link to="/sync">Open the sync</Link>
            </p>
          )}
        </Step>
        <Step state={finished && synced > 0 ? "done" : "waiting"} title="The merged record">
          {finished && (
            <Link className="button primary" to="/record" state={{ fromDemo: true }}>
              Open the record
            </Link>
          )}
        </Step>
      </ol>
    </section>
  );
}
