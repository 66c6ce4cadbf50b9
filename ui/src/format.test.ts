import { describe, expect, it } from "vitest";
import { checkSummary, relativeExpiry, statusMark } from "./format";

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
