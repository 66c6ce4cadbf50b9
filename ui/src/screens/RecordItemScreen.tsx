// One record: what it says, every holder that reported it, where they
// disagree, and each holder's copy as received (raw FHIR JSON).
import { useQuery } from "@tanstack/react-query";
import { useNavigate, useParams } from "react-router";
import { api, asError } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { categoryLabel, holderName, valueText } from "../format";
import { keys, useHolderNames } from "../queries";

function pretty(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

export function RecordItemScreen() {
  const id = Number(useParams().id);
  const navigate = useNavigate();
  const names = useHolderNames();
  const detail = useQuery({ queryKey: [...keys.records, "item", id], queryFn: () => api.recordDetail(id) });
  const item = detail.data?.item;
  return (
    <section className="detail" data-testid="record-detail">
      <button type="button" onClick={() => void navigate(-1)}>
        Back
      </button>
      {detail.error && <ErrorBanner error={asError(detail.error)} />}
      {detail.data && !item && <p className="empty">This record is no longer kept.</p>}
      {item && (
        <>
          <h2>{item.display ?? item.resource_type}</h2>
          <dl className="facts">
            <dt>Section</dt>
            <dd>{categoryLabel(item.category)}</dd>
            <dt>Date</dt>
            <dd>{item.date ?? "undated"}</dd>
            {item.value !== null && (
              <>
                <dt>Value</dt>
                <dd>{valueText(item.value, item.unit)}</dd>
              </>
            )}
            <dt>From</dt>
            <dd>{item.sources.map((s) => holderName(s.holder, names.get(s.holder))).join(", ")}</dd>
          </dl>
          {item.conflict && (
            <div className="notice" data-testid="record-conflict">
              <strong>Sources disagree</strong> on the {item.differs.join(", ")}. Every version is kept:
              <ul>
                {item.sources.map((s, i) => (
                  <li key={`${s.holder}${i}`}>
                    {holderName(s.holder, names.get(s.holder))}: {[s.date, valueText(s.value, s.unit), s.code].filter(Boolean).join(", ")}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <h3>As each holder sent it</h3>
          {detail.data?.copies.map((c, i) => (
            <details key={`${c.holder}${c.resource_id ?? i}`} data-testid="record-copy">
              <summary>
                {holderName(c.holder, names.get(c.holder))}: {c.resource_type}/{c.resource_id ?? "?"}, received{" "}
                {new Date(c.fetched_at * 1000).toLocaleString()}
              </summary>
              <pre>{pretty(c.json)}</pre>
            </details>
          ))}
        </>
      )}
    </section>
  );
}
