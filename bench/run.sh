#!/usr/bin/env bash
# The standard benchmark workload: one object of 200,000 records (about 250 MB of JSON, 40 MB
# gzipped) from the benchmark corpus generator, forwarded with the CIS pack to local outputs,
# on one core and on two, next to libdeflate-gunzip on the same file. Prints MB/s
# (decompressed), events/s, the ratio to libdeflate-gunzip and peak RSS, best of RUNS runs.
#
#   bench/run.sh [path/to/make-corpus.py]
#
# Needs python3, /usr/bin/time, taskset and libdeflate-gunzip (Debian: libdeflate-tools).
# BENCH_DIR (default target/bench) keeps the corpus between runs; TRAILRELAY_BIN names the binary
# to measure (default: target/release/trailrelay, built if missing); RUNS (default 3).
set -euo pipefail
# The generator, as given (relative to where this was started), or the benchmark folder beside
# the checkout.
tool=$(realpath "${1:-$(dirname "$0")/../../shared/bench/make-corpus.py}")
cd "$(dirname "$0")/.."
[ -f "$tool" ] || { echo "bench/run.sh: no corpus generator at $tool" >&2; exit 2; }
work=${BENCH_DIR:-target/bench}
bin=${TRAILRELAY_BIN:-target/release/trailrelay}
runs=${RUNS:-3}

for need in python3 /usr/bin/time taskset libdeflate-gunzip; do
  command -v "$need" >/dev/null || { echo "bench/run.sh: $need is missing" >&2; exit 2; }
done
[ -x "$bin" ] || cargo build --release --locked -p trailrelay-cli
mkdir -p "$work"
# Dated yesterday (a new corpus each day): CloudWatch Logs, which the local log files stand for,
# takes events of the last 14 days only.
day=$(date -u -d yesterday +%Y-%m-%d)
corpus="$work/one-$day"
if [ ! -f "$corpus/.done" ]; then
  rm -rf "$corpus"
  python3 "$tool" "$corpus" --one-big-file --records-per-file 200000 --seed 9 --start "${day}T00:00:00"
  touch "$corpus/.done"
fi
file=$(find "$corpus" -name '*.json.gz' | head -1)
raw=$(libdeflate-gunzip -c "$file" | wc -c)
records=200000

# best SECONDS PEAK_RSS_KB of $runs runs of the command.
best() {
  local secs rss best_secs="" best_rss=0
  for _ in $(seq "$runs"); do
    rm -rf "$work/out"
    if ! /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr"; then
      echo "bench/run.sh: failed: $*" >&2
      cat "$work/stderr" >&2
      exit 1
    fi
    read -r secs rss < <(tail -1 "$work/time")
    if [ -z "$best_secs" ] || awk -v a="$secs" -v b="$best_secs" 'BEGIN{exit !(a<b)}'; then
      best_secs=$secs
    fi
    [ "$rss" -gt "$best_rss" ] && best_rss=$rss
  done
  echo "$best_secs $best_rss"
}

read -r gz_secs gz_rss < <(best taskset -c 0 libdeflate-gunzip -c "$file")
awk -v f="$file" -v raw="$raw" -v n="$records" 'BEGIN { printf "%s: %.1f MB decompressed, %d records\n\n", f, raw / 1e6, n }'
printf '| %-44s | %8s | %8s | %11s | %7s | %9s |\n' run seconds MB/s events/s ratio "peak RSS"
printf '|%s|\n' "----------------------------------------------|----------|----------|-------------|---------|-----------"
row() {
  local label=$1 secs=$2 rss=$3
  awk -v l="$label" -v s="$secs" -v r="$rss" -v raw="$raw" -v n="$records" -v g="$gz_secs" 'BEGIN {
    printf "| %-44s | %8.2f | %8.1f | %11.0f | %6.1fx | %6.1f MB |\n", l, s, raw / s / 1e6, n / s, s / g, r / 1024 }'
}
row "libdeflate-gunzip -c, one core" "$gz_secs" "$gz_rss"
forward=("$bin" forward "$file" --out "$work/out" -j1 --rules cis -q)
read -r secs rss < <(best taskset -c 0 "${forward[@]}")
row "trailrelay forward -j1 --rules cis, one core" "$secs" "$rss"
read -r secs rss < <(best taskset -c 0,1 "${forward[@]}")
row "trailrelay forward -j1 --rules cis, two cores" "$secs" "$rss"
