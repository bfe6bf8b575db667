# Sourced by the intake benchmarks: the controller's configuration for them.
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
