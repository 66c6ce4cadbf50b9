// One test or measurement over time, as a chart (Chart.js) and as a table
// for those who would rather read the numbers. Points several holders agree
// on are one point; disagreeing copies are each drawn and marked.
import { useQuery } from "@tanstack/react-query";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { api, asError } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { LineChart } from "../components/LineChart";
import { valueText } from "../format";
import { keys } from "../queries";

function rangeText(low: number | null, high: number | null, unit: string): string {
  const u = unit ? ` ${unit}` : "";
  if (low !== null && high !== null) return `${low}–${high}${u}`;
  if (low !== null) return `at least ${low}${u}`;
  return `at most ${high ?? ""}${u}`;
}

export default function ChartScreen() {
  const code = decodeURIComponent(useParams().code ?? "");
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const person = params.get("person") === null ? null : Number(params.get("person"));
  const series = useQuery({ queryKey: [...keys.records, "series", code, person], queryFn: () => api.series(code, person) });
  const latest = useQuery({
    queryKey: [...keys.records, "latest-all", person],
    queryFn: async () => [...(await api.latestValues("labs", person)), ...(await api.latestValues("vitals", person))],
  });
  const name = latest.data?.find((v) => v.code === code)?.display ?? code;
  const points = series.data ?? [];
  const unit = points.find((p) => p.unit)?.unit ?? "";
  const range = points.find((p) => p.low !== null || p.high !== null);
  return (
    <section data-testid="chart-screen">
      <button type="button" onClick={() => void navigate(-1)}>
        Back
      </button>
      <h2 data-testid="chart-title">{name}</h2>
      {series.error && <ErrorBanner error={asError(series.error)} />}
      {points.length > 0 && (
        <figure className="card chart" data-testid="chart" aria-label={`${name} over time`}>
          <LineChart points={points} label={name} unit={unit} />
          <figcaption className="muted">
            {points.length} results, {points[0]?.date} to {points[points.length - 1]?.date}
            {points.some((p) => p.conflict) ? "; some results differ between holders and are shown once per holder" : ""}
            {range && (
              <span data-testid="reference-range">
                . Shaded: the reference range the holder sent ({rangeText(range.low, range.high, unit)})
              </span>
            )}
          </figcaption>
        </figure>
      )}
      <details>
        <summary>The numbers</summary>
        <table className="scopes">
          <thead>
            <tr>
              <th>Date</th>
              <th>Value</th>
              <th>Reference range</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {[...points].reverse().map((p, i) => (
              <tr key={`${p.date}${i}`}>
                <td>{p.date}</td>
                <td>
                  {valueText(p.value, p.unit)}
                  {p.conflict ? " (sources disagree)" : ""}
                </td>
                <td>{p.low !== null || p.high !== null ? rangeText(p.low, p.high, unit) : "not sent"}</td>
                <td>{p.holders.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}
