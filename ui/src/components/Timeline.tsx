// Every record of a person, newest first, read from the store a page at a
// time as it scrolls and drawn as a virtualised list: tens of thousands of
// records cost only the rows on screen.
import { useInfiniteQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import { asError } from "../api";
import { timelineQuery } from "../queries";
import { ErrorBanner } from "./ErrorBanner";
import { ItemRow } from "./ItemRow";

const ROW_HEIGHT = 64;

export function Timeline({ person, category }: { person: number | null; category: string | null }) {
  const query = useInfiniteQuery(timelineQuery(person, category));
  const items = query.data?.pages.flat() ?? [];
  const parent = useRef<HTMLDivElement>(null);
  // The virtualiser hands back functions React Compiler cannot memoise safely.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtual = useVirtualizer({
    count: items.length,
    getScrollElement: () => parent.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const rows = virtual.getVirtualItems();
  const lastShown = rows[rows.length - 1]?.index ?? 0;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = query;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && lastShown >= items.length - 40) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage, lastShown, items.length]);

  // For the window benchmark (docs/BENCHMARKS.md): when the first page
  // arrived, and when its first rows are on screen.
  const hasData = query.data !== undefined;
  useEffect(() => {
    if (hasData && performance.getEntriesByName("timeline-data").length === 0) performance.mark("timeline-data");
  }, [hasData]);
  const hasRows = rows.length > 0;
  useEffect(() => {
    if (hasRows && performance.getEntriesByName("timeline-rendered").length === 0) performance.mark("timeline-rendered");
  }, [hasRows]);

  if (query.error) return <ErrorBanner error={asError(query.error)} />;
  if (query.isPending) return <p className="muted">Reading the record…</p>;
  if (items.length === 0)
    return (
      <p className="empty" data-testid="timeline-empty">
        Nothing here yet.
      </p>
    );
  return (
    <div ref={parent} className="timeline" data-testid="timeline" role="list" aria-label="Records, newest first">
      {/* Positions come from the virtualiser; React sets them through the CSSOM, which the CSP allows. */}
      {/* eslint-disable-next-line no-restricted-syntax */}
      <div className="timeline-inner" style={{ height: virtual.getTotalSize() }}>
        {rows.map((row) => {
          const item = items[row.index];
          return item ? (
            // eslint-disable-next-line no-restricted-syntax
            <div key={item.id} role="listitem" className="timeline-row" style={{ transform: `translateY(${row.start}px)`, height: ROW_HEIGHT }}>
              <ItemRow item={item} />
            </div>
          ) : null;
        })}
      </div>
    </div>
  );
}
