// A long identifier (a client id can be hundreds of characters) shown short,
// with the whole of it one click away: copied, and in the tooltip.
import { useState } from "react";
import { shorten } from "../format";

export function Shortened({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () =>
    navigator.clipboard.writeText(text).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  return (
    <span className="shortened">
      <code title={text}>{shorten(text)}</code>
      <button type="button" className="link" onClick={copy} aria-label={`Copy the whole ${label}`}>
        {copied ? "Copied" : "Copy"}
      </button>
    </span>
  );
}
