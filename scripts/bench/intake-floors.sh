#!/usr/bin/env bash
# Alert intake against its floors and Prometheus Alertmanager, over HTTP, in one run:
#
#   teleops       the release `teleops serve` (SQLite, synchronous=FULL, group commit), a new store
#   floor-fsync   the same intake routes and decoders, answering once the alerts are written to a
#                 file and fdatasync'ed (group commit on a thread of its own), storing nothing
#                 (`teleops-bench --intake-floor fsync`)
#   floor-none    the same routes, answering at once (`teleops-bench --intake-floor none`)
#   alertmanager  Debian's prometheus-alertmanager 0.25, memory only, a null receiver
#
#   scripts/bench/intake-floors.sh            # 3 rounds of 8 s per figure
#   ROUNDS=5 DURATION=10s scripts/bench/intake-floors.sh
#
# Each round runs every server in turn (the order rotating from round to round) on
# POST /api/v2/alerts with scripts/bench/alerts.lua (wrk, 2 threads, 32 connections, every
# alert a new one): 2 s of warm-up, then single alerts and batches of 100. Prints each round,
# the medians, and each median over Alertmanager's. Answers other than 2xx are reported.
set -euo pipefail
. "$(dirname "$0")/teleops-yaml.sh"
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
PORT=${PORT:-18083}
TELEOPS=${TELEOPS:-.build/release/teleops}
BENCH=${BENCH:-.build/release/teleops-bench}
for binary in "$TELEOPS" "$BENCH"; do
  [ -x "$binary" ] || { echo "$binary: build it first (swift build -c release --product ${binary##*/})" >&2; exit 1; }
done
for tool in wrk prometheus-alertmanager curl; do
  command -v $tool >/dev/null || { echo "install $tool first (apt-get install $tool)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/teleops-intake-floors.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/alertmanager.yml" <<YAML
route:
  receiver: "null"
receivers:
  - name: "null"
YAML

start() {  # start NAME ROUND: runs the server in the background on $PORT
  case $1 in
    teleops)
      teleops_bench_yaml "$work/data-$2" "$PORT" > "$work/teleops.yaml"
      "$TELEOPS" serve --config "$work/teleops.yaml" --log-level warning >/dev/null 2>"$work/$1.log" & ;;
    floor-fsync|floor-none)
      TMPDIR="$work" "$BENCH" --intake-floor "${1#floor-}" --intake-floor-port "$PORT" >/dev/null 2>"$work/$1.log" & ;;
    alertmanager)
      prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am-$2" \
        --web.listen-address="127.0.0.1:$PORT" --cluster.listen-address= --log.level=warn >"$work/$1.log" 2>&1 & ;;
  esac
  server=$!
  for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.1; done
  echo "$1 did not start: $(tail -3 "$work/$1.log")" >&2; exit 1
}

post() { intake_post "$PORT" "$@"; }  # post BATCH DURATION: alerts/s

names=(teleops floor-fsync floor-none alertmanager)
for round in $(seq "$ROUNDS"); do
  for index in "${!names[@]}"; do
    name=${names[$(( (index + round - 1) % ${#names[@]} ))]}
    start "$name" "$round"
    post 1 2s >/dev/null
    single=$(post 1 "$DURATION")
    batches=$(post 100 "$DURATION")
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    echo "$single $batches" >> "$work/$name.figures"
    printf "round %d  %-13s single %6d alerts/s  batches of 100 %7d alerts/s\n" "$round" "$name" "$single" "$batches"
  done
done

am_single=$(cut -d' ' -f1 "$work/alertmanager.figures" | median)
am_batches=$(cut -d' ' -f2 "$work/alertmanager.figures" | median)
echo "medians of $ROUNDS rounds, and over Alertmanager's:"
for name in "${names[@]}"; do
  single=$(cut -d' ' -f1 "$work/$name.figures" | median)
  batches=$(cut -d' ' -f2 "$work/$name.figures" | median)
  awk -v n="$name" -v s="$single" -v b="$batches" -v as="$am_single" -v ab="$am_batches" \
    'BEGIN { printf "  %-13s single %6d alerts/s (%.2f)  batches of 100 %7d alerts/s (%.2f)\n", n, s, s / as, b, b / ab }'
done
