#!/usr/bin/env python3
"""Alertmanager's POST -> webhook latency on this machine: the reference the chat latency aim
is measured against (docs/BENCHMARKS.md, "Chat latency").

Starts Debian's prometheus-alertmanager on a scratch directory with group_wait 0s and a
webhook receiver in this process, posts N distinct alerts to /api/v2/alerts one at a time,
GAP seconds apart, and prints the median and p90 of POST -> 200 and of POST -> webhook
arrival (when the receiver's handler starts reading the request).

With --server floor it measures durable-relay.c instead (built here with cc): the least a
durable relay can do, a SQLite commit with fdatasync between the POST and the webhook and
nothing else; --server both measures Alertmanager, then the floor, then Alertmanager again.

    scripts/bench/alertmanager-latency.py [N] [GAP] [--server alertmanager|floor|both]
"""
import argparse, http.server, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

parser = argparse.ArgumentParser(description="POST -> webhook latency of Alertmanager and of a durable floor")
parser.add_argument("count", nargs="?", type=int, default=60, help="alerts per server (default 60)")
parser.add_argument("gap", nargs="?", type=float, default=1.0, help="seconds between alerts (default 1.0)")
parser.add_argument("--server", choices=["alertmanager", "floor", "both"], default="alertmanager")
options = parser.parse_args()
count, gap, server_kind = options.count, options.gap, options.server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

arrivals = {}
class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        at = time.perf_counter()
        body = self.rfile.read(int(self.headers["Content-Length"]))
        for alert in json.loads(body)["alerts"]:
            arrivals.setdefault(alert["labels"]["instance"], at)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()
def start_alertmanager(scratch, port):
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        sys.exit("install prometheus-alertmanager first (apt-get install prometheus-alertmanager)")
    config = os.path.join(scratch, "am.yml")
    with open(config, "w") as f:
        f.write(f"""route:
  receiver: hook
  group_by: ['alertname', 'instance']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:{hook.server_address[1]}/hook
        send_resolved: false
""")
    return binary, subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={scratch}/data", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def start_floor(scratch, port):
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "durable-relay.c")
    binary = os.path.join(scratch, "durable-relay")
    subprocess.run(["cc", "-O2", "-o", binary, source, "-lsqlite3"], check=True)
    return "durable-relay.c (SQLite WAL, synchronous=FULL)", subprocess.Popen(
        [binary, str(port), str(hook.server_address[1]), os.path.join(scratch, "relay.sqlite")])

def measure(kind):
    scratch = tempfile.mkdtemp(prefix="am-latency-")
    port = free_port()
    name, server = (start_alertmanager if kind == "alertmanager" else start_floor)(scratch, port)
    try:
        for _ in range(100):
            try:
                conn = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit(f"{name} did not start")
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        accepted, delivered = [], []
        for index in range(count):
            instance = f"bench-{index}-{time.time()}"
            body = json.dumps([{"labels": {"alertname": "Bench", "instance": instance, "severity": "warning"},
                                "annotations": {"summary": "latency probe"}}]).encode()
            request = (b"POST /api/v2/alerts HTTP/1.1\r\nHost: am\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body)) + body
            start = time.perf_counter()
            conn.sendall(request)
            answer = conn.recv(65536)
            accepted.append((time.perf_counter() - start) * 1000)
            if b" 200 " not in answer.split(b"\r\n")[0]:
                sys.exit(f"{name} answered {answer[:80]!r}")
            deadline = time.time() + 5
            while instance not in arrivals and time.time() < deadline:
                time.sleep(0.0001)
            if instance not in arrivals:
                sys.exit("no webhook within 5 s")
            delivered.append((arrivals[instance] - start) * 1000)
            time.sleep(gap)
        conn.close()
        def line(what, samples):
            samples = sorted(samples)
            return f"{what:28} n={len(samples):<4} median {statistics.median(samples):6.2f} ms  p90 {samples[int(len(samples) * 0.9)]:6.2f} ms"
        print(f"{name}, {count} alerts {gap} s apart")
        print(line("POST -> 200", accepted))
        print(line("POST -> webhook arrives", delivered), flush=True)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(scratch, ignore_errors=True)

for kind in (["alertmanager", "floor", "alertmanager"] if server_kind == "both" else [server_kind]):
    measure(kind)
