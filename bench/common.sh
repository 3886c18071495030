# Sourced by the benchmark scripts: the corpus generator, the folders, the binary, and `best`.
# The caller sets `script` (its name, for errors) and may pass the generator's path as $1.
set -euo pipefail
# The generator, as given (relative to where the script was started), or the benchmark folder
# beside the checkout.
tool=$(realpath "${1:-$(dirname "$0")/../../shared/bench/make-corpus.py}")
cd "$(dirname "$0")/.."
[ -f "$tool" ] || { echo "$script: no corpus generator at $tool" >&2; exit 2; }
work=${BENCH_DIR:-target/bench}
bin=${TRAILRELAY_BIN:-target/release/trailrelay}
runs=${RUNS:-3}
mkdir -p "$work"
# Dated yesterday (a new corpus each day): CloudWatch Logs, which the local log files stand for,
# takes events of the last 14 days only.
day=$(date -u -d yesterday +%Y-%m-%d)

# best OUT COMMAND...: the best SECONDS and the peak RSS_KB of $runs runs of COMMAND, its output
# folder OUT emptied before each.
best() {
  local out=$1 secs rss best_secs="" best_rss=0
  shift
  for _ in $(seq "$runs"); do
    rm -rf "$out"
    if ! /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr"; then
      echo "$script: failed: $*" >&2
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
