# Sourced by the intake benchmarks: the controller's configuration for them, and their wrk
# runs.
# teleops_bench_yaml DATA_DIR PORT: intake only (no local workers), the Prometheus source's rate
# limit off, console chat. Written to standard output.
teleops_bench_yaml() {
  cat <<YAML
data_dir: $1
http:
  port: $2
dispatch:
  local_workers: 0
sources:
  prometheus:
    rate_limit: off
YAML
}

# intake_post PORT BATCH DURATION: alerts per second over DURATION of wrk (2 threads, 32
# connections) posting BATCH alerts a request with scripts/bench/alerts.lua, every alert new.
# Answers other than 2xx are reported on standard error.
intake_post() {
  local port=$1 batch=$2 duration=$3 out
  out=$(RUN="run-$(date +%s%N)" BATCH=$batch wrk -t2 -c32 -d"$duration" -s scripts/bench/alerts.lua "http://127.0.0.1:$port")
  if echo "$out" | grep -q "Non-2xx"; then echo "port $port: $(echo "$out" | grep -i "non-2xx")" >&2; fi
  echo "$out" | awk -v batch="$batch" '/Requests\/sec/ { printf "%.0f", $2 * batch }'
}

# median: the median of the numbers on standard input, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
