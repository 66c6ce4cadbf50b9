// A result over time, drawn with Chart.js on a canvas. Chart.js is used
// directly (no wrapper) and registers only what a line chart needs. It runs
// under the webview's frozen prototypes, which some charting libraries do not.
import {
  CategoryScale,
  Chart,
  Filler,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";
import { useEffect, useRef } from "react";
import type { SeriesPoint } from "../bindings/SeriesPoint";

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip, Filler);

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#1f5f8b";
}

export function LineChart({ points, label, unit }: { points: SeriesPoint[]; label: string; unit: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const brand = cssVar("--brand");
    const bad = cssVar("--bad");
    const line = cssVar("--line");
    const ink = cssVar("--muted");
    const ok = cssVar("--ok");
    // The reference range each result came with, as a shaded band between
    // its low and high edges.
    const ranged = points.some((p) => p.low !== null || p.high !== null);
    const edge = (key: "low" | "high", fill: false | "-1") => ({
      label: key === "low" ? "Reference range, low" : "Reference range, high",
      data: points.map((p) => p[key] ?? Number.NaN),
      borderColor: ok,
      borderWidth: 1,
      borderDash: [4, 4],
      backgroundColor: `${ok}22`,
      pointRadius: 0,
      fill,
      // One band across results that came without a range: it is the same test.
      spanGaps: true,
    });
    const config: ChartConfiguration<"line", number[], string> = {
      type: "line",
      data: {
        labels: points.map((p) => p.date),
        datasets: [
          {
            label,
            data: points.map((p) => p.value),
            borderColor: brand,
            backgroundColor: brand,
            // Results the holders disagree on are drawn larger, in red.
            pointBackgroundColor: points.map((p) => (p.conflict ? bad : brand)),
            pointRadius: points.map((p) => (p.conflict ? 5 : 3)),
            tension: 0.2,
          },
          ...(ranged ? [edge("low", false), edge("high", "-1")] : []),
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { ticks: { color: ink, maxRotation: 0, autoSkipPadding: 16 }, grid: { color: line } },
          y: { ticks: { color: ink }, grid: { color: line }, title: { display: Boolean(unit), text: unit, color: ink } },
        },
        plugins: { tooltip: { callbacks: { label: (c) => `${c.formattedValue} ${unit}` } } },
      },
    };
    const chart = new Chart(canvas.current, config);
    return () => chart.destroy();
  }, [points, label, unit]);
  return (
    <div className="chart-canvas">
      <canvas ref={canvas} role="img" aria-label={`${label} over time: ${points.length} results`} data-testid="chart-canvas" />
    </div>
  );
}
