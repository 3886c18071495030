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
cd "$(dirname "$0")/.."

tool=${1:-../shared/bench/make-corpus.py}
work=${BENCH_DIR:-target/bench}
bin=${TRAILRELAY_BIN:-target/release/trailrelay}
runs=${RUNS:-3}

for need in python3 /usr/bin/time taskset libdeflate-gunzip; do
  command -v "$need" >/dev/null || { echo "bench/run.sh: $need is missing" >&2; exit 2; }
done
[ -x "$bin" ] || cargo build --release --locked -p trailrelay-cli
mkdir -p "$work"
if [ ! -d "$work/one" ]; then
  # Dated yesterday: CloudWatch Logs (here, the local log files) takes events of 14 days only.
  python3 "$tool" "$work/one" --one-big-file --records-per-file 200000 --seed 9 \
    --start "$(date -u -d yesterday +%Y-%m-%d)T00:00:00"
fi
file=$(find "$work/one" -name '*.json.gz' | head -1)
raw=$(libdeflate-gunzip -c "$file" | wc -c)
records=200000

# best SECONDS PEAK_RSS_KB of $runs runs of the command.
best() {
  local secs rss best_secs="" best_rss=0
  for _ in $(seq "$runs"); do
    rm -rf "$work/out"
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>&1
    read -r secs rss <"$work/time"
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
