#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a set time (FUZZ_SECONDS, default 60)
# on the nightly toolchain, starting from the committed seeds plus what
# earlier runs found (fuzz/corpus/, not committed). Prints executions per
# second and corpus size per target to artifacts/fuzz.md. An input that
# crashes a target is copied into fuzz/regressions/<target>/, where the
# stable test suite replays it from then on, and the run fails.
#
#   scripts/fuzz.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain here (rustup toolchain install nightly); skipped" >&2
  exit 0
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# A shared target folder is a cache only; the fuzz build has flags of its own.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz}"
[ -n "$CARGO_TARGET_DIR" ] || unset CARGO_TARGET_DIR

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
(cd fuzz && cargo +nightly fuzz build -O)

mkdir -p artifacts
report=artifacts/fuzz.md
{
  echo "| target | seconds | executions | per second | corpus | crashes |"
  echo "|---|---:|---:|---:|---:|---:|"
} >"$report"
failed=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/regressions/$t"
  # What an earlier run found is in fuzz/regressions/ already (the stable
  # suite replays it): only what this run finds counts against it.
  for a in fuzz/artifacts/"$t"/*; do
    [ -f "$a" ] || continue
    cp "$a" "fuzz/regressions/$t/" && rm -f "$a"
  done
  log=$(mktemp)
  status=0
  (cd fuzz && cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="artifacts/$t/") >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  crashes=0
  for a in fuzz/artifacts/"$t"/*; do
    [ -f "$a" ] || continue
    crashes=$((crashes + 1))
    cp "$a" "fuzz/regressions/$t/"
  done
  echo "| $t | $seconds | $execs | $rate | $corpus | $crashes |" >>"$report"
  echo "fuzz: $t: $execs runs, $rate/s, corpus $corpus, crashes $crashes" >&2
  if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    failed=1
    tail -40 "$log" >&2
  fi
  rm -f "$log"
done
cat "$report"
exit $failed
