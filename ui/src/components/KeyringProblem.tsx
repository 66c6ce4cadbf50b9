// The keyring would not give access (locked, its unlock prompt cancelled, or
// gone): the person chooses what happens, the wallet never moves its key on
// its own.
import { useMutation } from "@tanstack/react-query";
import { api, asError } from "../api";
import type { ErrorPayload } from "../bindings/ErrorPayload";
import { refreshAll } from "../queries";
import { ErrorBanner } from "./ErrorBanner";

export const KEYRING_CODES = ["keyring_locked", "no_keyring"];

/** `error` is shown above by the window's own banner; a failed retry shows here. */
export function KeyringProblem({ error }: { error: ErrorPayload }) {
  const again = useMutation({ mutationFn: api.openWalletAgain, onSuccess: () => void refreshAll() });
  return (
    <section className="card" data-testid="keyring-problem">
      <h2 data-code={error.code}>Your keyring did not open</h2>
      {again.error && <ErrorBanner error={asError(again.error)} />}
      <p>
        The wallet keeps its key and your tickets in the system keyring. Unlock it (your login keyring) and try again.
      </p>
      <div className="row">
        <button type="button" className="primary" disabled={again.isPending} onClick={() => again.mutate(false)} data-testid="keyring-retry">
          Try again
        </button>
        <button type="button" disabled={again.isPending} onClick={() => again.mutate(true)} data-testid="keyring-kernel">
          Use a temporary keyring instead
        </button>
      </div>
      <p className="muted">
        A temporary keyring (the kernel's) is forgotten when this computer restarts: its key and tickets would be gone,
        and records stored with it could no longer be opened.
      </p>
    </section>
  );
}
