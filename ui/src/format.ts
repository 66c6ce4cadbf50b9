// Small pure helpers for wording and marks, kept apart so they can be tested.
import type { CheckView } from "./bindings/CheckView";
import type { TicketEntry } from "./bindings/TicketEntry";

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

/** A holder as people know it: its name, or its address. */
export function holderName(base: string, name: string | null | undefined): string {
  return name ?? base.replace(/^https?:\/\//, "");
}

const STATUS_LABELS: Record<string, string> = {
  synced: "Done",
  skipped: "Skipped",
  needs_interaction: "Needs you",
  waiting_for_you: "Waiting for you",
  failed: "Failed",
  stopped: "Stopped",
  working: "Working",
};

export function statusLabel(status: string): string {
  return STATUS_LABELS[status] ?? status;
}

/** "a1b2c3…x9y8" for identifiers too long to show whole. */
export function shorten(text: string, keep = 12): string {
  return text.length <= keep * 2 + 1 ? text : `${text.slice(0, keep)}…${text.slice(-keep)}`;
}

export const CATEGORY_LABELS: Record<string, string> = {
  conditions: "Conditions",
  medications: "Medications",
  allergies: "Allergies",
  immunizations: "Immunizations",
  labs: "Lab results",
  vitals: "Vital signs",
  procedures: "Procedures",
  encounters: "Visits",
  documents: "Documents",
  other: "Other",
};

export function categoryLabel(category: string): string {
  return CATEGORY_LABELS[category] ?? category;
}

/** A value with its unit, without trailing noise: "7.4 %", "120 mm[Hg]". */
export function valueText(value: number | null, unit: string | null): string {
  if (value === null) return "";
  const v = Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100);
  return unit ? `${v} ${unit}` : v;
}

export type TicketState = "usable" | "expiring_soon" | "expired" | "revoked" | "not_verified" | "unusable" | "unreadable";

const SOON = 7 * 86400;

/** A kept ticket's status at a glance, and why. */
export function ticketStatus(entry: TicketEntry, now: number = Date.now() / 1000): { state: TicketState; text: string } {
  const { summary, view, error } = entry;
  if (error || !view) return { state: "unreadable", text: error?.message ?? "could not be read" };
  if (summary.expired || summary.expires_at <= now) return { state: "expired", text: relativeExpiry(summary.expires_at, now) };
  const check = (id: string) => view.checks.find((c) => c.id === id);
  if (check("revocation")?.status === "fail") return { state: "revoked", text: "Revoked by its issuer" };
  if (check("signature")?.status === "skip" && check("issuer_key")?.status === "fail")
    return { state: "not_verified", text: "Not yet verified: the issuer's keys could not be fetched" };
  if (!view.usable) {
    const failed = view.checks.find((c) => c.status === "fail");
    return { state: "unusable", text: failed ? `${failed.label}: ${failed.detail}` : "Cannot be used" };
  }
  if (summary.expires_at - now < SOON) return { state: "expiring_soon", text: relativeExpiry(summary.expires_at, now) };
  return { state: "usable", text: `Ready to use, ${relativeExpiry(summary.expires_at, now)}` };
}

export const TICKET_STATE_LABELS: Record<TicketState, string> = {
  usable: "Usable",
  expiring_soon: "Expiring soon",
  expired: "Expired",
  revoked: "Revoked",
  not_verified: "Not yet verified",
  unusable: "Unusable",
  unreadable: "Unreadable",
};

/** Who a ticket is for, as a heading: name and birth date. */
export function personOf(entry: TicketEntry): string {
  const p = entry.view?.patient;
  if (!p?.name) return "Someone the ticket does not name";
  return p.birth_date ? `${p.name}, born ${p.birth_date}` : p.name;
}
