//! The record store on this machine: ingest rate into the encrypted file,
//! query latency on 100,000 resources, and size. See docs/BENCHMARKS.md.
//!
//! `cargo bench -p wallet-core --bench store [-- HOLDERS PER_HOLDER]`

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json::value::RawValue;
use vault::DatabaseKey;
use wallet_core::engine::Record;
use wallet_core::store::{Person, PreparedSet, Query, RecordStore, SetFetch};

fn main() {
    let [holders, per_holder] = common::numbers([10, 10_000]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.db");
    let mut store = RecordStore::open(&path, &DatabaseKey::from_bytes([9; 32])).unwrap();
    // As a sync writes: the log folded once, after (the floor's store, closed
    // after each holder, folds its log then).
    store.hold_checkpoints().unwrap();

    let ana = Person {
        name: Some("Ana Rivera".into()),
        family: Some("Rivera".into()),
        birth_date: Some("1984-03-12".into()),
    };
    let mut ingest = Duration::ZERO;
    let mut preparing = Duration::ZERO;
    let mut floor_ingest = Duration::ZERO;
    let mut last = Vec::new();
    let mut total = 0;
    // As a first sync into an empty store: four of the view's indexes built
    // once after the sets, with the log's fold.
    assert!(store.defer_indexes().unwrap(), "an empty store defers");
    for i in 0..holders {
        let records = common::holder_records(i, per_holder);
        let refs: Vec<&Record> = records.iter().collect();
        let holder = format!("https://h{i}.example/fhir");
        // The floor first, holder by holder, so both meet the same machine.
        let started = Instant::now();
        let raw = RecordStore::ingest_floor(
            &dir.path().join("floor.db"),
            &DatabaseKey::from_bytes([9; 32]),
            &[(&holder, &refs)],
        )
        .unwrap();
        floor_ingest += started.elapsed();
        assert_eq!(raw, refs.len());
        // Each record's index entries worked out, then the set written: a
        // sync does the first for the next holder on another thread while
        // the writer stores this one, so both are timed, apart.
        let started = Instant::now();
        let prepared = PreparedSet::all(&refs);
        preparing += started.elapsed();
        let started = Instant::now();
        store
            .replace_prepared(
                &holder,
                "t1",
                &ana,
                1,
                &refs,
                prepared,
                &SetFetch::default(),
            )
            .unwrap();
        ingest += started.elapsed();
        total += records.len();
        last = records;
    }
    let writing = ingest;
    ingest += preparing;
    // What the record view waits for while a first sync defers the indexes.
    let meanwhile = time_view(&store);
    // They are built one by one, each committed on its own; the queries are
    // timed again after each (their time left out of the build's).
    let mut steps = Vec::new();
    let mut step = Instant::now();
    let built = store
        .build_indexes_then(|name, s| {
            let took = step.elapsed();
            steps.push((name.to_string(), took, time_view(s)));
            step = Instant::now();
        })
        .unwrap();
    assert_eq!(built, 4, "the deferred indexes built");
    let building: Duration = steps.iter().map(|(_, took, _)| *took).sum();
    let started = Instant::now();
    assert!(store.checkpoint().unwrap(), "the log emptied");
    let after_done = started.elapsed() + building;
    // A re-sync of one holder that no longer returns one record: its set
    // replaced and its copies regrouped. Then the same set again, unchanged.
    let refs: Vec<&Record> = last.iter().skip(1).collect();
    let last_holder = format!("https://h{}.example/fhir", holders - 1);
    let started = Instant::now();
    let changed = store.replace(&last_holder, "t1", &ana, 2, &refs).unwrap();
    let resync = started.elapsed();
    assert!(!changed.unchanged && changed.removed == 1, "{changed:?}");
    assert_eq!(changed.written, 0, "only the record that went is removed");
    total -= 1;
    let started = Instant::now();
    let same = store.replace(&last_holder, "t1", &ana, 3, &refs).unwrap();
    let resync_same = started.elapsed();
    assert!(same.unchanged, "{same:?}");
    // 1% of its records changed at the source (a new version of each): only
    // those are written, and their copies regrouped.
    let revised: Vec<Record> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if i % 100 != 0 {
                return (*r).clone();
            }
            let mut json: Value = serde_json::from_str(r.json.get()).unwrap();
            json["meta"] = serde_json::json!({ "versionId": "2" });
            Record::new(
                r.resource_type.clone(),
                r.id.clone(),
                RawValue::from_string(json.to_string()).unwrap(),
            )
        })
        .collect();
    let revised_refs: Vec<&Record> = revised.iter().collect();
    let started = Instant::now();
    let partly = store
        .replace(&last_holder, "t1", &ana, 4, &revised_refs)
        .unwrap();
    let resync_partly = started.elapsed();
    let one_percent = refs.len().div_ceil(100);
    assert_eq!(partly.written, one_percent, "{partly:?}");
    let size: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("records.db"))
        .map(|e| e.metadata().unwrap().len())
        .sum();

    let time = |f: &mut dyn FnMut() -> usize| best_of(20, f);
    let [
        (timeline, n1),
        (labs, n2),
        (series, n3),
        (search, n4),
        (latest, n7),
    ] = view_queries(&store).map(|(_, f)| time(&mut || f()));
    // What the record screen waits for before its first page: the store
    // opened afresh (as each app command does), then the people.
    let (reopen, _) = time(&mut || {
        RecordStore::open(&path, &DatabaseKey::from_bytes([9; 32]))
            .map(|_| 1)
            .unwrap()
    });
    let (people, n5) = time(&mut || store.people().unwrap().len());
    // As the app asks them: each command opens the store afresh, so its
    // page cache starts empty (the file is in the system's cache).
    let fresh = || RecordStore::open(&path, &DatabaseKey::from_bytes([9; 32])).unwrap();
    let (people_cold, _) = time(&mut || fresh().people().unwrap().len());
    let someone = store.people().unwrap()[0].id;
    let (sections_cold, n6) = time(&mut || fresh().category_counts(Some(someone)).unwrap().len());
    assert!(
        n6 >= 5,
        "the person's records fall in several sections: {n6}"
    );
    let once = |f: &mut dyn FnMut() -> usize| {
        let t = Instant::now();
        let n = f();
        (t.elapsed(), n)
    };
    // The merged Bundle streamed to a file, against the floor of the same run:
    // every holder's records copied out as received (no merging, no rewriting).
    // Memory is the growth of the peak resident set over what was resident before.
    let file = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
    let size_of = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().len() as usize;
    let holder_file = |i: usize| format!("holder-{i}.json");
    // Best of three, alternated: one run of each moved by a fifth from run to run.
    let (mut floor, mut export, mut export_mem) = (Duration::MAX, Duration::MAX, 0);
    for _ in 0..3 {
        let (t, _) = once(&mut || {
            for i in 0..holders {
                store
                    .write_holder(&format!("https://h{i}.example/fhir"), file(&holder_file(i)))
                    .unwrap();
            }
            holders
        });
        floor = floor.min(t);
        let base = reset_peak();
        let (t, _) = once(&mut || {
            store.write_merged(None, file("merged.json")).unwrap();
            1
        });
        export = export.min(t);
        export_mem = export_mem.max(peak_kib().saturating_sub(base));
    }
    let floor_bytes: usize = (0..holders).map(|i| size_of(&holder_file(i))).sum();
    let bytes = size_of("merged.json");
    let base = reset_peak();
    let in_memory = store.export_merged(None).unwrap().len();
    let string_mem = peak_kib().saturating_sub(base);
    assert_eq!(in_memory, bytes, "the same Bundle streamed and in memory");
    let (summary, html) = once(&mut || {
        wallet_core::summary::html(&store, None, "today", &Default::default())
            .unwrap()
            .len()
    });
    let distinct: usize = store.people().unwrap().iter().map(|p| p.records).sum();

    // Each figure is for a query that returned what it should: a query that
    // found nothing would look fast.
    let kept: usize = store.counts().unwrap().iter().map(|c| c.count).sum();
    assert_eq!(kept, total, "every resource stored once");
    assert!(
        distinct > 0 && distinct < total,
        "copies merged: {distinct}"
    );
    assert_eq!((n1, n2, n4), (50, 50, 50), "full pages");
    assert!(n7 >= 2, "several measures in vitals over time: {n7}");
    assert_eq!(n5, 1, "one person");
    let a1c_at = |i: usize| {
        sandbox::data::holder_data(i, 1, per_holder)
            .resources
            .iter()
            .filter(|r| r["code"]["coding"][0]["code"] == "4548-4")
            // A chart's points are readings: a report or order of the code has no value.
            .filter(|r| r["valueQuantity"]["value"].is_number())
            .count()
    };
    let most = (0..holders).map(a1c_at).max().unwrap_or(0);
    let all: usize = (0..holders).map(a1c_at).sum();
    assert!(
        most > 0 && (most..=all).contains(&n3),
        "HbA1c series of {n3}: at least one holder's {most}, at most all {all}"
    );
    let bundle: serde_json::Value =
        serde_json::from_str(&store.export_merged(None).unwrap()).unwrap();
    // One entry per distinct record, and one more per extra version where holders disagree.
    let entries = bundle["entry"].as_array().unwrap().len();
    assert!(
        (distinct..distinct + distinct / 10).contains(&entries),
        "{entries} entries for {distinct} records"
    );
    assert!(html > 10_000, "a summary of {html} bytes");

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("resources            {total} from {holders} holders");
    println!(
        "ingest               {:.0} resources/s ({:.0} ms in all: {:.0} ms preparing the records, {:.0} ms writing them, one transaction per holder)",
        total as f64 / ingest.as_secs_f64(),
        ms(ingest),
        ms(preparing),
        ms(writing)
    );
    let floor_rate = total as f64 / floor_ingest.as_secs_f64();
    println!(
        "  floor              {floor_rate:.0} resources/s: the same rows raw, same SQLCipher settings, no index or merging"
    );
    println!(
        "  ingest ÷ floor     {:.2}",
        total as f64 / ingest.as_secs_f64() / floor_rate
    );
    println!(
        "  then the indexes built and the log folded {:.0} ms ({:.0} ms building); with it, ingest ÷ floor {:.2}",
        ms(after_done),
        ms(building),
        total as f64 / (ingest + after_done).as_secs_f64() / floor_rate
    );
    println!(
        "  meanwhile          {} (the view's queries before the deferred indexes are built)",
        view_times(&meanwhile)
    );
    for (name, took, times) in &steps {
        println!(
            "  then {name:<20} {:.0} ms, then {}",
            ms(*took),
            view_times(times)
        );
    }
    println!(
        "  writing alone      {:.2} of the floor ({:.2} with what follows): the part a sync's writer does",
        total as f64 / writing.as_secs_f64() / floor_rate,
        total as f64 / (writing + after_done).as_secs_f64() / floor_rate
    );
    println!(
        "size                 {:.1} MiB in all, {:.2} MiB per 10,000 resources",
        size as f64 / 1048576.0,
        size as f64 / 1048576.0 / (total as f64 / 10_000.0)
    );
    println!(
        "re-sync of a holder   {:.0} ms ({} resources, one fewer than before: {} removed, {} written)",
        ms(resync),
        refs.len(),
        changed.removed,
        changed.written
    );
    println!(
        "  nothing changed     {:.1} ms (the same {} again: no record written)",
        ms(resync_same),
        refs.len()
    );
    println!(
        "  1% changed          {:.1} ms ({} of {} written)",
        ms(resync_partly),
        partly.written,
        refs.len()
    );
    println!("distinct records     {distinct} after merging copies");
    println!("timeline, newest 50  {:.2} ms ({n1} rows)", ms(timeline));
    println!("labs before a date   {:.2} ms ({n2} rows)", ms(labs));
    println!("HbA1c series         {:.2} ms ({n3} points)", ms(series));
    println!(
        "vitals over time     {:.2} ms ({n7} measures, each its latest value)",
        ms(latest)
    );
    println!("open the store       {:.2} ms", ms(reopen));
    println!("people               {:.2} ms ({n5} people)", ms(people));
    println!(
        "  store just opened   {:.2} ms people, {:.2} ms the person's sections ({n6}), the open included",
        ms(people_cold),
        ms(sections_cold)
    );
    println!(
        "search \"hemoglobin\"  {:.2} ms ({n4} rows, newest 50)",
        ms(search)
    );
    let mib = |b: usize| b as f64 / 1048576.0;
    let rate = |b: usize, d: Duration| mib(b) / d.as_secs_f64();
    println!(
        "merged Bundle        {:.0} ms ({:.1} MiB, {:.0} MiB/s), streamed to a file, best of 3",
        ms(export),
        mib(bytes),
        rate(bytes, export)
    );
    println!(
        "  floor              {:.0} ms ({:.1} MiB, {:.0} MiB/s): every holder's records as received, best of 3",
        ms(floor),
        mib(floor_bytes),
        rate(floor_bytes, floor)
    );
    println!(
        "  ratio to the floor {:.2} (MiB/s of the floor ÷ MiB/s of the Bundle)",
        rate(floor_bytes, floor) / rate(bytes, export)
    );
    println!(
        "  peak memory growth {:.1} MiB streamed; {:.1} MiB built in memory",
        export_mem as f64 / 1024.0,
        string_mem as f64 / 1024.0
    );
    println!(
        "HTML summary         {:.0} ms ({:.0} KiB)",
        ms(summary),
        html as f64 / 1024.0
    );
}

/// The record view's queries the bench times, each with how many rows it
/// found: the timeline and labs before a date (pages of 50, as the record
/// screen asks), the HbA1c chart, a search, a section's latest values.
type ViewQuery<'a> = (&'static str, Box<dyn Fn() -> usize + 'a>);

fn view_queries(store: &RecordStore) -> [ViewQuery<'_>; 5] {
    let q = |category: Option<&'static str>, before: Option<&'static str>| Query {
        category,
        before,
        limit: 50,
        ..Query::default()
    };
    [
        (
            "timeline",
            Box::new(move || store.timeline(&q(None, None)).unwrap().len()),
        ),
        (
            "labs before a date",
            Box::new(move || {
                store
                    .timeline(&q(Some("labs"), Some("2024-01-01")))
                    .unwrap()
                    .len()
            }),
        ),
        (
            "HbA1c series",
            Box::new(move || store.series("4548-4", None).unwrap().len()),
        ),
        (
            "search",
            Box::new(move || store.search("hemoglobin", &q(None, None)).unwrap().len()),
        ),
        // The vitals section's "Over time": each measure's latest value.
        (
            "vitals over time",
            Box::new(move || store.latest_values("vitals", None).unwrap().len()),
        ),
    ]
}

/// What the record view waits for while a first sync's indexes are not all
/// built: each query's best of five, and what it found (a query that found
/// nothing would look fast).
fn time_view(store: &RecordStore) -> Vec<(&'static str, Duration, usize)> {
    let times: Vec<_> = view_queries(store)
        .iter()
        .map(|(name, f)| {
            let (best, found) = best_of(5, &mut || f());
            (*name, best, found)
        })
        .collect();
    assert!(times.iter().all(|(_, _, n)| *n > 0), "{times:?}");
    times
}

fn view_times(times: &[(&str, Duration, usize)]) -> String {
    times
        .iter()
        .map(|(name, t, _)| format!("{name} {:.1} ms", t.as_secs_f64() * 1e3))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The best time of `runs` calls of `f`, and what the last one found.
fn best_of(runs: usize, f: &mut dyn FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut found = 0;
    for _ in 0..runs {
        let t = Instant::now();
        found = f();
        best = best.min(t.elapsed());
    }
    (best, found)
}

/// Resets this process's peak resident set to what is resident now (Linux
/// `clear_refs`), and returns that, in KiB.
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    status_kib("VmRSS:")
}

fn peak_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
