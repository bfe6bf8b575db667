#!/usr/bin/env bash
# Intake A/B: two or more builds of teleops, alternately, on the same machine in the same run.
#
#   scripts/bench/intake-ab.sh /tmp/teleops-before .build/release/teleops
#   ROUNDS=5 scripts/bench/intake-ab.sh A B C
#
# Each round runs each binary in turn: a new store, `teleops serve` (no local workers, console
# chat to /dev/null, the prometheus source's rate limit off), 2 s of warm-up, then 8 s of
# single-alert POSTs and 8 s of batches of 100 with wrk (2 threads, 32 connections) and
# scripts/bench/alerts.lua, every alert a new one. Prints each round, then the median of the
# rounds per binary. For two builds of one tree: build, copy the binary away, change, build.
set -euo pipefail
. "$(dirname "$0")/teleops-yaml.sh"
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
PORT=${PORT:-18081}
[ $# -ge 1 ] || { echo "usage: $0 TELEOPS_BINARY..." >&2; exit 2; }
command -v wrk >/dev/null || { echo "install wrk first (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/teleops-intake-ab.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

post() { intake_post "$PORT" "$@"; }  # post BATCH DURATION: alerts/s

for round in $(seq "$ROUNDS"); do
  for binary in "$@"; do
    dir="$work/$round-$(basename "$binary")"
    mkdir -p "$dir"
    teleops_bench_yaml "$dir/data" "$PORT" > "$dir/teleops.yaml"
    "$binary" serve --config "$dir/teleops.yaml" --log-level warning >/dev/null 2>"$dir/log" &
    server=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
    post 1 2s >/dev/null
    single=$(post 1 "$DURATION")
    batches=$(post 100 "$DURATION")
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    echo "round $round  $binary  single $single alerts/s  batches of 100 $batches alerts/s"
    echo "$single $batches" >> "$work/$(echo "$binary" | tr '/' '_').figures"
  done
done
echo "medians of $ROUNDS rounds:"
for binary in "$@"; do
  figures="$work/$(echo "$binary" | tr '/' '_').figures"
  echo "  $binary  single $(cut -d' ' -f1 "$figures" | median) alerts/s  batches of 100 $(cut -d' ' -f2 "$figures" | median) alerts/s"
done
