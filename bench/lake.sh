#!/usr/bin/env bash
# The lake against the archive on the standard workloads: the 200-file organization corpus
# (make-corpus.py, dated yesterday) and the one 250 MB object of bench/run.sh. For each:
# `trailrelay forward` (the archive) and `trailrelay lake` on one core, in MB/s of decompressed
# source, records/s and peak RSS; the bytes each writes; then the README's questions with DuckDB
# over each (tests/lake/queries.py): the same answers, the bytes read and the time.
#
#   bench/lake.sh [path/to/make-corpus.py]
#
# Needs python3, /usr/bin/time, taskset, and .venv-lake (tests/run.sh makes it). BENCH_DIR
# (default target/bench) keeps the corpora; TRAILRELAY_BIN names the binary (default:
# target/release/trailrelay, built if missing); RUNS (default 3).
script=bench/lake.sh
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
python=.venv-lake/bin/python
for need in python3 /usr/bin/time taskset "$python"; do
  command -v "$need" >/dev/null || { echo "bench/lake.sh: $need is missing" >&2; exit 2; }
done
[ -x "$bin" ] || cargo build --release --locked -p trailrelay-cli

corpus() { # NAME ARGS...: a corpus made once per day
  local dir="$work/$1-$day"; shift
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"
    python3 "$tool" "$dir" "$@" --seed 9 --start "${day}T00:00:00" >&2
    touch "$dir/.done"
  fi
  echo "$dir"
}

bytes() { find "$1" -name "$2" -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

measure() { # LABEL CORPUS
  local label=$1 input=$2 raw records
  raw=$(find "$input" -name '*.json.gz' -exec zcat {} + | wc -c)
  records=$(find "$input" -name '*.json.gz' -exec zcat {} + | grep -o '"eventID"' | wc -l)
  echo
  awk -v l="$label" -v r="$raw" -v n="$records" 'BEGIN { printf "%s: %.1f MB decompressed, %d records\n", l, r / 1e6, n }'
  printf '| %-34s | %8s | %8s | %10s | %9s | %12s |\n' run seconds MB/s records/s "peak RSS" "bytes written"
  printf '|%s|\n' "------------------------------------|----------|----------|------------|-----------|---------------"
  local out="$work/out-$label"
  read -r secs rss < <(best "$out" taskset -c 0 "$bin" forward "$input" --out "$out" -j1 -q)
  local archive; archive=$(bytes "$out/archive" '*.ndjson.gz')
  awk -v s="$secs" -v r="$rss" -v raw="$raw" -v n="$records" -v b="$archive" 'BEGIN {
    printf "| %-34s | %8.2f | %8.1f | %10.0f | %6.1f MB | %10.1f MB |\n", "forward -j1 (archive), one core", s, raw/s/1e6, n/s, r/1024, b/1e6 }'
  local lake_out="$work/lake-$label"
  read -r secs rss < <(best "$lake_out" taskset -c 0 "$bin" lake "$input" --out "$lake_out" -q)
  local lake; lake=$(bytes "$lake_out/lake/warehouse" '*.parquet')
  awk -v s="$secs" -v r="$rss" -v raw="$raw" -v n="$records" -v b="$lake" 'BEGIN {
    printf "| %-34s | %8.2f | %8.1f | %10.0f | %6.1f MB | %10.1f MB |\n", "lake (Iceberg, Parquet), one core", s, raw/s/1e6, n/s, r/1024, b/1e6 }'
  awk -v a="$archive" -v l="$lake" 'BEGIN { printf "lake bytes / archive bytes: %.2f\n", l / a }'
  # The questions: forward's archive is kept from the last run above.
  "$python" tests/lake/queries.py lake "$lake_out/lake/warehouse" > "$work/q-lake.json"
  "$python" tests/lake/queries.py archive "$out/archive" > "$work/q-archive.json"
  "$python" - "$work/q-lake.json" "$work/q-archive.json" <<'PY'
import json, sys
lake, archive = (json.load(open(p)) for p in sys.argv[1:3])
print(f"| {'question':32} | {'same':4} | {'lake MB read':>12} | {'archive MB read':>15} | {'lake s':>7} | {'archive s':>9} |")
print("|" + "-" * 34 + "|------|--------------|-----------------|---------|-----------|")
for name in archive:
    l, a = lake[name], archive[name]
    same = "yes" if l["rows"] == a["rows"] else "NO"
    print(f"| {name:32} | {same:4} | {l['bytes_read']/1e6:12.2f} | {a['bytes_read']/1e6:15.2f} | {l['seconds']:7.3f} | {a['seconds']:9.3f} |")
PY
}

measure "200-files" "$(corpus files --files 200)"
measure "one-250MB-object" "$(corpus one --one-big-file --records-per-file 200000)"
