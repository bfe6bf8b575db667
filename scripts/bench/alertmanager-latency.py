#!/usr/bin/env python3
"""Alertmanager's POST -> webhook latency on this machine: the reference the chat latency aim
is measured against (docs/BENCHMARKS.md, "Chat latency").

Starts Debian's prometheus-alertmanager on a scratch directory with group_wait 0s and a
webhook receiver in this process, posts N distinct alerts to /api/v2/alerts one at a time,
GAP seconds apart, and prints the median and p90 of POST -> 200 and of POST -> webhook
arrival (when the receiver's handler starts reading the request).

    scripts/bench/alertmanager-latency.py [N] [GAP]      # defaults: 60 alerts, 1.0 s apart
"""
import http.server, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

count = int(sys.argv[1]) if len(sys.argv) > 1 else 60
gap = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
if not binary:
    sys.exit("install prometheus-alertmanager first (apt-get install prometheus-alertmanager)")

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
scratch = tempfile.mkdtemp(prefix="am-latency-")
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
port = free_port()
am = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={scratch}/data",
                       f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            conn = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit("alertmanager did not start")
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
            sys.exit(f"alertmanager answered {answer[:80]!r}")
        deadline = time.time() + 5
        while instance not in arrivals and time.time() < deadline:
            time.sleep(0.0001)
        if instance not in arrivals:
            sys.exit("no webhook within 5 s")
        delivered.append((arrivals[instance] - start) * 1000)
        time.sleep(gap)
    def line(name, samples):
        samples = sorted(samples)
        return f"{name:28} n={len(samples):<4} median {statistics.median(samples):6.2f} ms  p90 {samples[int(len(samples) * 0.9)]:6.2f} ms"
    print(f"alertmanager ({binary}), {count} alerts {gap} s apart")
    print(line("POST -> 200", accepted))
    print(line("POST -> webhook arrives", delivered))
finally:
    am.terminate()
    am.wait()
    shutil.rmtree(scratch, ignore_errors=True)
