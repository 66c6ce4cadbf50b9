// Small pure helpers for wording and marks, kept apart so they can be tested.
import type { CheckView } from "./bindings/CheckView";

export const STATUS_MARK: Record<string, string> = { pass: "✓", fail: "✗", warn: "!", skip: "–" };

export function statusMark(status: string): string {
  return STATUS_MARK[status] ?? "?";
}

/** "expires in 3 days", "expired 2 hours ago". */
export function relativeExpiry(expiresAt: number, now: number = Date.now() / 1000): string {
  const delta = expiresAt - now;
  const abs = Math.abs(delta);
  const units: [number, string][] = [[86400, "day"], [3600, "hour"], [60, "minute"]];
  let text = "moments";
  for (const [size, name] of units) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      text = `${n} ${name}${n === 1 ? "" : "s"}`;
      break;
    }
  }
  return delta > 0 ? `expires in ${text}` : `expired ${text} ago`;
}

/** Counts of each status, failures first, for the summary line. */
export function checkSummary(checks: CheckView[]): string {
  const count = (s: string) => checks.filter((c) => c.status === s).length;
  const parts = [
    [count("fail"), "failed"],
    [count("warn"), "with warnings"],
    [count("pass"), "passed"],
  ] as const;
  return parts.filter(([n]) => n > 0).map(([n, w]) => `${n} ${w}`).join(", ");
}

export const DEMO_TYPES: [string, string][] = [
  ["patient-self-access-v1", "Patient self-access"],
  ["patient-delegated-access-v1", "Delegated access (caregiver)"],
  ["public-health-investigation-v1", "Public health investigation"],
  ["social-care-referral-v1", "Social care referral"],
  ["payer-claims-adjudication-v1", "Payer claims adjudication"],
  ["research-study-access-v1", "Research study access"],
  ["provider-consult-v1", "Provider consult"],
  ["payer-quality-gap-v1", "Payer quality-gap query"],
];
