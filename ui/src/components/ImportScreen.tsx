import { useState } from "react";
import { api, asError, type ImportSource } from "../api";
import type { ErrorPayload } from "../bindings/ErrorPayload";
import type { TicketView } from "../bindings/TicketView";
import { ErrorBanner } from "./ErrorBanner";
import { TicketDetail } from "./TicketDetail";

const MAX_FILE_BYTES = 1024 * 1024;

function sourceOf(text: string): ImportSource {
  const t = text.trim().toLowerCase();
  return t.startsWith("web+ticket:") || t.startsWith("ticketwallet:") ? "link" : "paste";
}

export function ImportScreen({ initialText, onSaved }: { initialText: string; onSaved: (jti: string) => void }) {
  const [text, setText] = useState(initialText);
  const [source, setSource] = useState<ImportSource>(sourceOf(initialText));
  const [preview, setPreview] = useState<TicketView | null>(null);
  const [error, setError] = useState<ErrorPayload | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = <T,>(work: Promise<T>, done: (v: T) => void) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    work.then(done, (e: unknown) => {
      setError(asError(e));
      setPreview(null);
    }).finally(() => setBusy(false));
  };

  const check = () => run(api.inspectTicket(text), setPreview);
  const save = () =>
    run(api.importTicket(text, source), (r) => {
      setPreview(r.ticket);
      if (r.notice) setNotice(r.notice);
      if (r.outcome === "already_present") setNotice("This ticket is already in your wallet.");
      if (!r.notice && r.outcome === "added") onSaved(r.ticket.jti);
    });

  const openFile = (file: File | undefined) => {
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) {
      setError({ code: "file_too_large", message: `${file.name} is too large to be a ticket` });
      return;
    }
    file.text().then((t) => {
      setText(t);
      setSource("file");
      setPreview(null);
    }, (e: unknown) => setError(asError(e)));
  };

  return (
    <section>
      <h2>Add a ticket</h2>
      <p className="muted">
        Paste the ticket your issuer gave you (a long text in three parts separated by dots) or a ticket link, or open a
        ticket file. It is checked before it is kept.
      </p>
      <textarea
        data-testid="ticket-input"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setSource(sourceOf(e.target.value));
          setPreview(null);
        }}
        placeholder="eyJhbGciOiJFUzI1NiIs…"
        rows={6}
        spellCheck={false}
      />
      <div className="row">
        <button type="button" onClick={check} disabled={busy || !text.trim()} data-testid="check-ticket">
          Check
        </button>
        <button type="button" className="primary" onClick={save} disabled={busy || !text.trim()} data-testid="save-ticket">
          {busy ? "Working…" : "Add to wallet"}
        </button>
        <label className="file">
          Open a file…
          <input type="file" accept=".jwt,.txt,text/plain" data-testid="ticket-file" onChange={(e) => openFile(e.target.files?.[0])} />
        </label>
      </div>
      {initialText && !preview && !error && (
        <p className="notice" data-testid="link-notice">
          A ticket link opened the wallet. Check it, then add it if you expected it.
        </p>
      )}
      {error && <ErrorBanner error={error} />}
      {notice && (
        <p className="notice" data-testid="import-notice">
          {notice}
        </p>
      )}
      {preview && <TicketDetail ticket={preview} />}
    </section>
  );
}
