//! Whether two writers on two files scale on this machine: the store's
//! floor (raw rows, same SQLCipher settings, no index) written by one thread
//! into one file, then by two threads into two files at once, each taking
//! every other holder. A store split across two files written by two
//! threads during a sync would get at most this. See docs/BENCHMARKS.md.
//!
//! `cargo bench -p wallet-core --bench writers [-- HOLDERS PER_HOLDER ROUNDS]`

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use vault::DatabaseKey;
use wallet_core::engine::Record;
use wallet_core::store::RecordStore;

/// This thread's CPU time so far (`/proc/thread-self/schedstat`, in ns).
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    Duration::from_nanos(s.split_whitespace().next().unwrap().parse().unwrap())
}

/// Writes `sets` into the floor store at `path`, opened once, one
/// transaction each (its log folded when it closes), and returns the CPU
/// time this thread took.
fn write(path: &Path, key: &DatabaseKey, sets: &[&(String, Vec<Record>)]) -> Duration {
    let started = thread_cpu();
    let refs: Vec<Vec<&Record>> = sets.iter().map(|(_, r)| r.iter().collect()).collect();
    let batches: Vec<(&str, &[&Record])> = sets
        .iter()
        .zip(&refs)
        .map(|((holder, _), r)| (holder.as_str(), r.as_slice()))
        .collect();
    let n = RecordStore::ingest_floor(path, key, &batches).unwrap();
    assert_eq!(n, refs.iter().map(Vec::len).sum::<usize>());
    thread_cpu() - started
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let [holders, per_holder, rounds] = common::numbers([10, 5_000, 5]);
    let sets: Vec<(String, Vec<Record>)> = (0..holders)
        .map(|i| {
            (
                format!("https://h{i}.example/fhir"),
                common::holder_records(i, per_holder),
            )
        })
        .collect();
    let n: usize = sets.iter().map(|(_, r)| r.len()).sum();
    let key = DatabaseKey::from_bytes([9; 32]);
    println!("resources            {n} from {holders} holders, {rounds} rounds");
    let mut speedups = Vec::new();
    for round in 1..=rounds {
        let dir = tempfile::tempdir().unwrap();
        let all: Vec<&(String, Vec<Record>)> = sets.iter().collect();
        let started = Instant::now();
        let one_cpu = write(&dir.path().join("one.db"), &key, &all);
        let one = started.elapsed();
        let started = Instant::now();
        let cpus: Vec<Duration> = std::thread::scope(|s| {
            let writers: Vec<_> = (0..2)
                .map(|half| {
                    let (key, path) = (&key, dir.path().join(format!("half{half}.db")));
                    let mine: Vec<_> = sets.iter().skip(half).step_by(2).collect();
                    s.spawn(move || write(&path, key, &mine))
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let two = started.elapsed();
        let speedup = one.as_secs_f64() / two.as_secs_f64();
        speedups.push(speedup);
        println!(
            "round {round}              one writer {:.0} ms ({:.0} ms CPU); two writers on two files {:.0} ms ({:.0} + {:.0} ms CPU); {speedup:.2}× as fast",
            ms(one),
            ms(one_cpu),
            ms(two),
            ms(cpus[0]),
            ms(cpus[1]),
        );
    }
    speedups.sort_by(f64::total_cmp);
    println!(
        "two writers          {:.2}× as fast as one (median of {rounds}; {:.2}–{:.2}); 2.00 would be perfect on 2 cores",
        speedups[speedups.len() / 2],
        speedups[0],
        speedups[speedups.len() - 1],
    );
}
