#!/usr/bin/env bash
# Intake over HTTP into a large store against a new one, alternately, with one build.
#
#   scripts/bench/intake-history.sh .build/release/teleops /var/tmp/history-1m   # a data directory
#   ROUNDS=5 scripts/bench/intake-history.sh BINARY LARGE_DATA_DIR
#
# LARGE_DATA_DIR holds teleops.sqlite (and its search index), e.g. the store teleops-bench
# --history-only generates, renamed; each round adds its alerts to it. Each round runs the
# server on a new store, then on the large one, in the order alternating, as intake-ab.sh does:
# 2 s of warm-up, 8 s of single-alert POSTs and 8 s of batches of 100 (wrk, 2 threads, 32
# connections, scripts/bench/alerts.lua, every alert a new one). Prints each round (with the
# alerts the search index had not taken in yet when the server stopped, read with sqlite3), the
# medians, and large / new per round.
set -euo pipefail
. "$(dirname "$0")/teleops-yaml.sh"
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
PORT=${PORT:-18082}
[ $# -eq 2 ] || { echo "usage: $0 TELEOPS_BINARY LARGE_DATA_DIR" >&2; exit 2; }
binary=$1 large=$2
[ -f "$large/teleops.sqlite" ] || { echo "$large/teleops.sqlite: no such store" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk first (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/teleops-intake-history.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

post() { intake_post "$PORT" "$@"; }  # post BATCH DURATION: alerts/s

measure() {  # measure NAME DATA_DIR: appends "single batches" to $work/NAME
  local name=$1 data=$2
  teleops_bench_yaml "$data" "$PORT" > "$work/$name.yaml"
  "$binary" serve --config "$work/$name.yaml" --log-level warning >/dev/null 2>"$work/$name.log" &
  server=$!
  for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
  post 1 2s >/dev/null
  local single batches
  single=$(post 1 "$DURATION")
  batches=$(post 100 "$DURATION")
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  echo "$single $batches" >> "$work/$name"
  # What the search indexer (which runs beside intake, after the commits) had still to do when
  # the server stopped: alerts committed and not yet indexed.
  local behind="?"
  if command -v sqlite3 >/dev/null; then
    behind=$(( $(sqlite3 "$data/teleops.sqlite" "SELECT coalesce(max(id), 0) FROM alerts") -
               $(sqlite3 "$data/teleops.search.sqlite" "SELECT value FROM search_state WHERE name = 'alerts'") ))
  fi
  echo "$single $batches $behind"
}

for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="new large"; else order="large new"; fi
  for name in $order; do
    if [ "$name" = new ]; then data="$work/new-$round"; else data="$large"; fi
    read -r single batches behind < <(measure "$name" "$data")
    echo "round $round  $name store  single $single alerts/s  batches of 100 $batches alerts/s  (index behind by $behind alerts at the end)"
  done
  read -r ns nb < <(tail -1 "$work/new")
  read -r ls lb < <(tail -1 "$work/large")
  awk -v ns="$ns" -v nb="$nb" -v ls="$ls" -v lb="$lb" -v r="$round" \
    'BEGIN { printf "round %d  large / new: single %.2f, batches %.2f\n", r, ls / ns, lb / nb }'
done
echo "medians of $ROUNDS rounds:"
for name in new large; do
  echo "  $name store  single $(cut -d' ' -f1 "$work/$name" | median) alerts/s  batches of 100 $(cut -d' ' -f2 "$work/$name" | median) alerts/s"
done
