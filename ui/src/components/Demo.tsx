// Demo tickets and holders are marked wherever they show, so demo data is
// never taken for a real record.
import { useQuery } from "@tanstack/react-query";
import { api } from "../api";
import { keys } from "../queries";

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/** Whether an address (a holder's base, a ticket's issuer) belongs to the built-in demo. */
export function useIsDemo(): (url: string | null | undefined) => boolean {
  const demo = useQuery({ queryKey: keys.demo, queryFn: api.demoStatus, staleTime: Infinity });
  const origin = demo.data ? originOf(demo.data) : null;
  return (url) => Boolean(origin && url && originOf(url) === origin);
}

export function DemoBadge() {
  return (
    <span className="badge demo" data-testid="demo-badge" title="From the built-in demo on this computer: not a real health record">
      demo
    </span>
  );
}
