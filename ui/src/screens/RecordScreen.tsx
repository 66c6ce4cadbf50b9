// The merged record of one person: who they are at each holder, every record
// newest first, by section, searchable, with charts of results over time.
import { useQuery } from "@tanstack/react-query";
import { useDeferredValue, useEffect, useState } from "react";
import { Link, useLocation, useSearchParams } from "react-router";
import { api, asError } from "../api";
import type { PersonRecords } from "../bindings/PersonRecords";
import { DemoBadge, useIsDemo } from "../components/Demo";
import { ErrorBanner } from "../components/ErrorBanner";
import { ItemRow } from "../components/ItemRow";
import { Timeline } from "../components/Timeline";
import { categoryLabel, holderName, valueText } from "../format";
import { keys, useHolderNames, usePeople } from "../queries";

const CHARTED = ["labs", "vitals"];

function Banner({ person, names }: { person: PersonRecords; names: Map<string, string | null> }) {
  const differing = person.at.filter((a) => !a.matches);
  const isDemo = useIsDemo();
  // A delegated ticket: who holds this record on the person's behalf.
  // Who holds the record on whose behalf is in the tickets themselves: read
  // offline, so the record screen asks no issuer anything.
  const entries = useQuery({ queryKey: [...keys.tickets, "entries", "offline"], queryFn: () => api.ticketEntries(true) });
  const holdersFor = [
    ...new Set(
      (entries.data ?? [])
        .filter((e) => e.view?.patient.name === person.name && e.view?.patient.birth_date === person.birth_date)
        .map((e) => e.view?.requester?.name)
        .filter((n): n is string => Boolean(n)),
    ),
  ];
  return (
    <div className="card banner" data-testid="person-banner">
      <h2 data-testid="person-name">{person.name ?? "Unnamed person"}</h2>
      <p className="muted">
        {person.birth_date ? `Born ${person.birth_date}` : "Birth date not stated in the ticket"} · {person.records} records
        from {person.at.length === 1 ? "1 holder" : `${person.at.length} holders`}
      </p>
      {holdersFor.length > 0 && (
        <p data-testid="on-behalf">
          Held by {holdersFor.join(" and ")} on {person.name ?? "this person"}'s behalf, with a delegated ticket.
        </p>
      )}
      <ul className="at-holders">
        {person.at.map((a) => (
          <li key={a.holder}>
            <strong>{holderName(a.holder, names.get(a.holder))}</strong>
            {isDemo(a.holder) && <> <DemoBadge /></>}
            {a.patient_id && <span className="muted"> knows them as {a.patient_id}</span>}
          </li>
        ))}
      </ul>
      {differing.length > 0 && (
        <p className="notice" data-testid="person-differs">
          {differing.map((a) => holderName(a.holder, names.get(a.holder))).join(", ")}{" "}
          {differing.length === 1 ? "has" : "have"} this person with a different birth date or family name than the ticket
          states ({differing.map((a) => [a.name, a.birth_date].filter(Boolean).join(", ")).join("; ")}).
        </p>
      )}
    </div>
  );
}

function Charts({ person, category }: { person: number | null; category: string }) {
  const values = useQuery({
    queryKey: [...keys.records, "latest", category, person],
    queryFn: () => api.latestValues(category, person),
  });
  if (!values.data?.length) return null;
  return (
    <div className="card">
      <h3>Over time</h3>
      <ul className="latest">
        {values.data.map((v) => (
          <li key={v.code}>
            <Link to={`/record/chart/${encodeURIComponent(v.code)}${person !== null ? `?person=${person}` : ""}`} data-testid="chart-link">
              {v.display ?? v.code}
            </Link>{" "}
            <span className="muted" data-testid="latest-value">
              latest {valueText(v.value, v.unit)} on {v.date}, {v.count} results
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function RecordScreen() {
  const [params, setParams] = useSearchParams();
  const fromDemo = Boolean((useLocation().state as { fromDemo?: boolean } | null)?.fromDemo);
  const people = usePeople();
  const names = useHolderNames();
  const chosen = Number(params.get("person"));
  const person = people.data?.find((p) => p.id === chosen) ?? people.data?.[0] ?? null;
  const personId = person?.id ?? null;
  // For the window benchmark: when the people arrived (the timeline waits for them).
  const hasPeople = people.data !== undefined;
  useEffect(() => {
    if (hasPeople && performance.getEntriesByName("people-loaded").length === 0) performance.mark("people-loaded");
  }, [hasPeople]);
  const isDemo = useIsDemo();
  const demoRecord = fromDemo || Boolean(person?.at.some((a) => isDemo(a.holder)));
  const category = params.get("category");
  const [text, setText] = useState("");
  const words = useDeferredValue(text.trim());
  const categories = useQuery({
    queryKey: [...keys.records, "categories", personId],
    queryFn: () => api.categories(personId),
    enabled: person !== null,
  });
  const results = useQuery({
    queryKey: [...keys.records, "search", personId, words],
    queryFn: () => api.search(words, personId, 200),
    enabled: words.length > 0,
  });
  const set = (key: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value === null) next.delete(key);
    else next.set(key, value);
    setParams(next, { replace: true });
  };

  if (people.error) return <ErrorBanner error={asError(people.error)} />;
  if (people.isPending) return <p className="muted">Opening the record…</p>;
  if (!person)
    return (
      <section>
        <h2>Your record</h2>
        <p className="empty" data-testid="no-records">
          No records yet. <Link to="/sync">Sync</Link> to download them from your holders, or{" "}
          <Link to="/welcome">try the demo</Link>.
        </p>
      </section>
    );

  return (
    <section className="record">
      {demoRecord && (
        <p className="notice" data-testid="demo-trail">
          Demo data from the built-in demo on this computer, not a real health record. How it got here: <Link to="/tickets">the ticket</Link> · <Link to="/holders">the holders</Link> ·{" "}
          <Link to="/sync">the sync</Link>
        </p>
      )}
      {(people.data?.length ?? 0) > 1 && (
        <div className="row" role="group" aria-label="Whose record">
          {people.data?.map((p) => (
            <button key={p.id} type="button" className={p.id === personId ? "tab active" : "tab"} aria-pressed={p.id === personId} onClick={() => set("person", String(p.id))} data-testid="person-switch">
              {p.name ?? `Person ${p.id}`}
            </button>
          ))}
        </div>
      )}
      <Banner person={person} names={names} />
      <div className="row search">
        <label htmlFor="record-search" className="sr-only">
          Search the record
        </label>
        <input id="record-search" type="search" placeholder="Search: a test, a medication, a word in a note" value={text} onChange={(e) => setText(e.target.value)} data-testid="record-search" />
      </div>
      {words ? (
        <div data-testid="search-results">
          {results.error && <ErrorBanner error={asError(results.error)} />}
          <p className="muted">{results.data ? `${results.data.length} found` : "Searching…"}</p>
          <ul className="plain">
            {results.data?.map((item) => (
              <li key={item.id}>
                <ItemRow item={item} />
              </li>
            ))}
          </ul>
        </div>
      ) : (
        <>
          <div className="row sections" role="group" aria-label="Sections">
            <button type="button" className={category === null ? "tab active" : "tab"} aria-pressed={category === null} onClick={() => set("category", null)}>
              Everything
            </button>
            {categories.data?.map((c) => (
              <button key={c.category} type="button" className={category === c.category ? "tab active" : "tab"} aria-pressed={category === c.category} onClick={() => set("category", c.category)} data-testid={`section-${c.category}`}>
                {categoryLabel(c.category)} <span className="count">{c.count}</span>
              </button>
            ))}
          </div>
          {category && CHARTED.includes(category) && <Charts person={personId} category={category} />}
          <Timeline key={`${personId}-${category}`} person={personId} category={category} />
        </>
      )}
    </section>
  );
}
