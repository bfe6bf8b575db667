#!/usr/bin/env bash
# Alert intake side by side: TeleOps (release build, SQLite synchronous=FULL) and Prometheus
# Alertmanager (memory only), both at POST /api/v2/alerts, driven by wrk with the same script.
#
#   scripts/bench/intake.sh            # 3 rounds of 10 s per figure
#   ROUNDS=5 DURATION=20s scripts/bench/intake.sh
#
# Prints, per server: single-alert POSTs/s and alerts/s in batches of 100 (median of the
# rounds, rounds alternate between the servers), p50/p99 latency, and RSS idle and after
# 100,000+ distinct alerts.
set -euo pipefail
. "$(dirname "$0")/teleops-yaml.sh"
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
TELEOPS_PORT=18080
AM_PORT=19093

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "install first: sudo apt-get install -y ${need[*]}" >&2; exit 1
  fi
fi
[ -x .build/release/teleops ] || swift build -c release --product teleops

work=$(mktemp -d /tmp/teleops-bench-intake.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

teleops_bench_yaml "$work/teleops" "$TELEOPS_PORT" > "$work/teleops.yaml"
cat > "$work/alertmanager.yml" <<YAML
route:
  receiver: "null"
receivers:
  - name: "null"
YAML

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; return 1; }

.build/release/teleops serve --config "$work/teleops.yaml" --log-level warning >/dev/null 2>"$work/teleops.log" &
teleops_pid=$!; pids+=("$teleops_pid")
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= --log.level=warn >"$work/am.log" 2>&1 &
am_pid=$!; pids+=("$am_pid")
wait_port $TELEOPS_PORT; wait_port $AM_PORT
sleep 1
declare -A idle=( [teleops]=$(rss_kb $teleops_pid) [alertmanager]=$(rss_kb $am_pid) )

# run NAME PORT BATCH -> "requests/s p50_ms p99_ms"
run() {
  local out
  out=$(RUN="$1-$3-$(date +%s%N)" BATCH=$3 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/bench/alerts.lua "http://127.0.0.1:$2" 2>&1)
  if echo "$out" | grep -q "Non-2xx"; then echo "$1: non-2xx answers:" >&2; echo "$out" | grep -i "non-2xx" >&2; fi
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}
to_ms() { awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n }'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A results
for round in $(seq "$ROUNDS"); do
  for batch in 1 100; do
    for name in teleops alertmanager; do
      port=$([ $name = teleops ] && echo $TELEOPS_PORT || echo $AM_PORT)
      results[$name,$batch,$round]=$(run $name $port $batch)
      echo "round $round batch $batch $name: ${results[$name,$batch,$round]}" >&2
    done
  done
done

printf "\n%-14s %-22s %12s %12s %9s %9s\n" server mode "requests/s" "alerts/s" "p50 ms" "p99 ms"
for name in teleops alertmanager; do
  for batch in 1 100; do
    rps=$(for r in $(seq "$ROUNDS"); do echo "${results[$name,$batch,$r]}" | cut -d' ' -f1; done | median)
    p50=$(for r in $(seq "$ROUNDS"); do echo "${results[$name,$batch,$r]}" | cut -d' ' -f2; done | median)
    p99=$(for r in $(seq "$ROUNDS"); do echo "${results[$name,$batch,$r]}" | cut -d' ' -f3; done | median)
    printf "%-14s %-22s %12.0f %12.0f %9s %9s\n" $name "$([ $batch = 1 ] && echo 'single alert' || echo 'batches of 100')" "$rps" "$(awk -v r="$rps" -v b=$batch 'BEGIN{print r*b}')" "$p50" "$p99"
  done
done
stored=$(sqlite3 "$work/teleops/teleops.sqlite" "select count(*) from alerts" 2>/dev/null || echo "?")
echo
echo "RSS idle:  teleops $((idle[teleops] / 1024)) MB, alertmanager $((idle[alertmanager] / 1024)) MB"
echo "RSS after: teleops $(( $(rss_kb $teleops_pid) / 1024 )) MB, alertmanager $(( $(rss_kb $am_pid) / 1024 )) MB (teleops journaled $stored alerts)"
echo "database:  $(du -sh "$work/teleops" | cut -f1)"
