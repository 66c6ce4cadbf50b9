import { useMutation } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, asError } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { SyncRows } from "../components/SyncRows";
import { useKeptHolders, useSyncState } from "../queries";

export function SyncScreen() {
  const sync = useSyncState();
  const holders = useKeptHolders();
  const start = useMutation({ mutationFn: ({ holder, resume }: { holder: string | null; resume: boolean }) => api.startSync(holder, resume) });
  const cancel = useMutation({ mutationFn: api.cancelSync });
  const snapshot = sync.data?.snapshot;
  const running = snapshot?.running ?? false;
  const done = snapshot && !running && snapshot.finished_at !== null;
  const synced = snapshot?.rows.filter((r) => r.status === "synced").length ?? 0;

  return (
    <section>
      <div className="section-head">
        <h2>Sync</h2>
        <div className="row">
          {running ? (
            <button type="button" onClick={() => cancel.mutate()} data-testid="cancel-sync">
              Cancel
            </button>
          ) : (
            <button
              type="button"
              className="primary"
              disabled={start.isPending || holders.data?.length === 0}
              onClick={() => start.mutate({ holder: null, resume: false })}
              data-testid="sync-all"
            >
              Sync everything
            </button>
          )}
          {!running && sync.data?.resumable && (
            <button type="button" onClick={() => start.mutate({ holder: null, resume: true })} data-testid="resume-sync">
              Resume the interrupted sync
            </button>
          )}
        </div>
      </div>
      <p className="muted">
        Presents each of your tickets to every holder it may be used at, all at once, and keeps what each shares in the
        encrypted record on this device. A holder that asks you to confirm who you are opens a page in your browser; the
        sync carries on when you come back.
      </p>
      {holders.data?.length === 0 && (
        <p className="empty">
          No holders yet. <Link to="/holders">Add a holder</Link> or <Link to="/connect">connect to an issuer</Link>.
        </p>
      )}
      {start.error && <ErrorBanner error={asError(start.error)} />}
      {snapshot?.error && <ErrorBanner error={snapshot.error} />}
      {snapshot?.cancelled && !running && (
        <p className="notice">Cancelled. What finished is kept; resume to fetch the rest.</p>
      )}
      <SyncRows rows={snapshot?.rows ?? []} onRetry={running ? undefined : (holder) => start.mutate({ holder, resume: false })} />
      {done && synced > 0 && (
        <p data-testid="sync-done">
          <Link className="button primary" to="/record">
            See the record
          </Link>
        </p>
      )}
      {done && (
        <p className="muted small">
          For testers: <Link to="/trace" data-testid="open-trace">every exchange of this sync, step by step</Link>.
        </p>
      )}
    </section>
  );
}
