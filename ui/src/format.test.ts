import { describe, expect, it } from "vitest";
import type { TicketEntry } from "./bindings/TicketEntry";
import type { TicketView } from "./bindings/TicketView";
import { checkSummary, relativeExpiry, statusMark, ticketStatus } from "./format";

describe("relativeExpiry", () => {
  it("words future and past expiry", () => {
    expect(relativeExpiry(1000 + 3 * 86400, 1000)).toBe("expires in 3 days");
    expect(relativeExpiry(1000 - 7200, 1000)).toBe("expired 2 hours ago");
    expect(relativeExpiry(1000 + 60, 1000)).toBe("expires in 1 minute");
    expect(relativeExpiry(1000 + 5, 1000)).toBe("expires in moments");
  });
});

describe("checkSummary", () => {
  it("counts failures first and leaves out empty groups", () => {
    const c = (status: string) => ({ id: status, label: status, status, detail: "" });
    expect(checkSummary([c("pass"), c("fail"), c("pass"), c("skip")])).toBe("1 failed, 2 passed");
    expect(checkSummary([c("warn")])).toBe("1 with warnings");
  });
});

describe("statusMark", () => {
  it("has a mark for every status and a fallback", () => {
    expect(["pass", "fail", "warn", "skip"].map(statusMark)).toEqual(["✓", "✗", "!", "–"]);
    expect(statusMark("other")).toBe("?");
  });
});

describe("ticketStatus", () => {
  const now = 1_000_000;
  const check = (id: string, status: string, detail = "") => ({ id, label: id, status, detail });
  const entry = (over: { expires_at?: number; checks?: ReturnType<typeof check>[]; usable?: boolean; error?: boolean }): TicketEntry => {
    const expires_at = over.expires_at ?? now + 30 * 86400;
    const summary = { jti: "j", ticket_type: "t", type_label: "T", issuer: "i", expires_at, expires_text: "", expired: expires_at <= now, added_at: 0, source: "paste", verified: true };
    if (over.error) return { summary, view: null, error: { code: "keyring_locked", message: "the keyring is locked" } };
    const view = { checks: over.checks ?? [check("signature", "pass")], usable: over.usable ?? true } as unknown as TicketView;
    return { summary, view, error: null };
  };
  it("says what most needs attention", () => {
    expect(ticketStatus(entry({}), now).state).toBe("usable");
    expect(ticketStatus(entry({ expires_at: now + 3 * 86400 }), now).state).toBe("expiring_soon");
    expect(ticketStatus(entry({ expires_at: now - 10 }), now).state).toBe("expired");
    expect(ticketStatus(entry({ checks: [check("revocation", "fail")], usable: false }), now).state).toBe("revoked");
    const unverified = entry({ checks: [check("issuer_key", "fail"), check("signature", "skip")], usable: false });
    expect(ticketStatus(unverified, now).state).toBe("not_verified");
    const bound = ticketStatus(entry({ checks: [check("presenter_binding", "fail", "bound to another key")], usable: false }), now);
    expect(bound).toEqual({ state: "unusable", text: "presenter_binding: bound to another key" });
    expect(ticketStatus(entry({ error: true }), now)).toEqual({ state: "unreadable", text: "the keyring is locked" });
  });
});
