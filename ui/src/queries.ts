// Command results cached by TanStack Query, one key per question, so screens
// share answers and a finished sync refreshes everything that depends on it.
import { infiniteQueryOptions, QueryClient, queryOptions, useQuery, useQueryClient } from "@tanstack/react-query";
import { listen } from "@tauri-apps/api/event";
import { useEffect } from "react";
import { api, SYNC_EVENT } from "./api";
import type { Item } from "./bindings/Item";
import type { SyncSnapshot } from "./bindings/SyncSnapshot";
import type { SyncState } from "./bindings/SyncState";

export const queryClient = new QueryClient({
  defaultOptions: {
    // Everything comes from this machine: no retries against a flaky network,
    // and errors are shown where they happen.
    queries: { retry: false, refetchOnWindowFocus: false, staleTime: 30_000 },
  },
});

export const keys = {
  key: ["key"] as const,
  tickets: ["tickets"] as const,
  ticket: (jti: string) => ["ticket", jti] as const,
  holders: ["holders"] as const,
  sync: ["sync"] as const,
  people: ["people"] as const,
  records: ["records"] as const,
  settings: ["settings"] as const,
  demo: ["demo"] as const,
  trace: ["trace"] as const,
};

export const useTickets = () => useQuery({ queryKey: keys.tickets, queryFn: api.listTickets });
export const useHolders = () => useQuery({ queryKey: keys.holders, queryFn: api.listHolders });
/** Holders as kept, asking none of them anything: for screens that only name them. */
export const useKeptHolders = () => useQuery({ queryKey: [...keys.holders, "kept"], queryFn: api.keptHolders });
/** Each holder's name by address (null where it has none). */
export function useHolderNames(): Map<string, string | null> {
  const kept = useKeptHolders();
  return new Map((kept.data ?? []).map((h) => [h.fhir_base, h.name]));
}
const peopleQuery = queryOptions({ queryKey: [...keys.records, "people"], queryFn: api.people });
export const usePeople = () => useQuery(peopleQuery);
export const useKey = () => useQuery({ queryKey: keys.key, queryFn: api.keyInfo, staleTime: Infinity });
export const useSettings = () => useQuery({ queryKey: keys.settings, queryFn: api.settings });
export const useLastTrace = () => useQuery({ queryKey: keys.trace, queryFn: api.lastTrace });
export const useSyncState = () => useQuery({ queryKey: keys.sync, queryFn: api.syncState, staleTime: Infinity });

/** Records a timeline page asks for: enough to fill a tall window twice over. */
export const TIMELINE_PAGE = 200;

/** A person's timeline (one category, or all), newest first, a page at a time. */
export function timelineQuery(person: number | null, category: string | null) {
  return infiniteQueryOptions({
    queryKey: [...keys.records, "timeline", person, category],
    queryFn: ({ pageParam }) => {
      // For the window benchmark: when the first page is asked for.
      if (performance.getEntriesByName("timeline-asked").length === 0) performance.mark("timeline-asked");
      return api.timeline(person, category, pageParam, TIMELINE_PAGE);
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last: Item[]) => (last.length === TIMELINE_PAGE ? (last[last.length - 1]?.cursor ?? null) : null),
  });
}

/**
 * A profile with records opens on them (see Home). Its people and the first
 * page of the first person's timeline are asked for, in one command, as the
 * app starts, while the ticket list and the record screen's code load, rather
 * than one after another once the screen is up (docs/BENCHMARKS.md, "The
 * window"). They fill only what no screen has asked for meanwhile; a failure
 * is left for the screen to ask again and show.
 */
export function prefetchRecord() {
  performance.mark("timeline-asked");
  api.recordOpening(TIMELINE_PAGE).then(
    ({ people, timeline }) => {
      if (queryClient.getQueryData(peopleQuery.queryKey) === undefined) queryClient.setQueryData(peopleQuery.queryKey, people);
      const first = people[0];
      if (!first) return;
      const key = timelineQuery(first.id, null).queryKey;
      if (queryClient.getQueryData(key) === undefined) queryClient.setQueryData(key, { pages: [timeline], pageParams: [null] });
    },
    () => undefined,
  );
}

/** Everything a changed profile, wallet or record store may have changed. */
export function refreshAll() {
  return queryClient.invalidateQueries();
}

/**
 * Keeps the cached sync state current from the Rust side's progress events,
 * and refreshes holders and records when a sync ends. Mounted once, at the top.
 */
export function useSyncEvents() {
  const client = useQueryClient();
  useEffect(() => {
    const stop = listen<SyncSnapshot>(SYNC_EVENT, (event) => {
      const snapshot = event.payload;
      const before = client.getQueryData<SyncState>(keys.sync);
      client.setQueryData<SyncState>(keys.sync, { snapshot, resumable: before?.resumable ?? false });
      if (!snapshot.running) {
        void client.invalidateQueries({ queryKey: keys.sync });
        void client.invalidateQueries({ queryKey: keys.holders });
        void client.invalidateQueries({ queryKey: keys.records });
        void client.invalidateQueries({ queryKey: keys.trace });
      }
    });
    return () => {
      stop.then((f) => f(), () => undefined);
    };
  }, [client]);
}
