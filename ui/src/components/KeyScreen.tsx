import { useState } from "react";
import type { KeyInfo } from "../bindings/KeyInfo";

export function KeyScreen({ info }: { info: KeyInfo | null }) {
  const [copied, setCopied] = useState(false);
  if (!info) return <p className="muted">Opening the keyring…</p>;

  const copy = () => {
    navigator.clipboard.writeText(info.jkt).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };

  return (
    <section className="card key">
      <h2>This wallet's key</h2>
      <p className="muted">
        Give this thumbprint to an issuer so the tickets it writes are bound to this wallet. Only this wallet holds the
        private key; it never leaves the {info.store.name}.
      </p>
      <div className="key-row">
        <code data-testid="jkt" className="jkt">
          {info.jkt}
        </code>
        <button type="button" onClick={copy} data-testid="copy-jkt">
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      {/* The SVG is generated in Rust from the thumbprint alone. */}
      <div className="qr" data-testid="qr" dangerouslySetInnerHTML={{ __html: info.qr_svg }} />
      <dl className="facts">
        <dt>Profile</dt>
        <dd>{info.profile}</dd>
        <dt>Kept in</dt>
        <dd>{info.store.name}{info.store.persistent ? "" : " (lost at reboot)"}</dd>
      </dl>
      <details>
        <summary>Public key (JWK)</summary>
        <pre>{JSON.stringify(info.public_jwk, null, 2)}</pre>
      </details>
    </section>
  );
}
