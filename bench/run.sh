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
script=bench/run.sh
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

for need in python3 /usr/bin/time taskset libdeflate-gunzip; do
  command -v "$need" >/dev/null || { echo "bench/run.sh: $need is missing" >&2; exit 2; }
done
[ -x "$bin" ] || cargo build --release --locked -p trailrelay-cli
corpus="$work/one-$day"
if [ ! -f "$corpus/.done" ]; then
  rm -rf "$corpus"
  python3 "$tool" "$corpus" --one-big-file --records-per-file 200000 --seed 9 --start "${day}T00:00:00"
  touch "$corpus/.done"
fi
file=$(find "$corpus" -name '*.json.gz' | head -1)
raw=$(libdeflate-gunzip -c "$file" | wc -c)
records=200000

read -r gz_secs gz_rss < <(best "$work/out" taskset -c 0 libdeflate-gunzip -c "$file")
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
read -r secs rss < <(best "$work/out" taskset -c 0 "${forward[@]}")
row "trailrelay forward -j1 --rules cis, one core" "$secs" "$rss"
read -r secs rss < <(best "$work/out" taskset -c 0,1 "${forward[@]}")
row "trailrelay forward -j1 --rules cis, two cores" "$secs" "$rss"
