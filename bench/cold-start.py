#!/usr/bin/env python3
"""Cold start of each function: the time from process start to its first call for work
(GET .../runtime/invocation/next on an emulated Lambda runtime API on 127.0.0.1), and its
resident memory then. Configuration as the template sets it; no AWS call is made at init.

    cargo build --release -p forwarder -p replay -p digest-validator
    python3 bench/cold-start.py [RUNS]
"""
import http.server
import os
import subprocess
import sys
import threading
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
QUEUE = "https://sqs.us-east-1.amazonaws.com/111122223333/q"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each function's configuration and memory size as the template's defaults set them.
FUNCTIONS = {
    "forwarder": {"ALLOWED_BUCKETS": "org-trail", "ARCHIVE_BUCKET": "org-archive",
                  "RULES": "cis", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"},
    "replay": {"ALLOWED_BUCKETS": "org-trail", "FORWARDER_QUEUE_URL": QUEUE,
               "REPLAY_QUEUE_URL": QUEUE, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"},
    "digest-validator": {"TRAIL_BUCKET": "org-trail", "ARCHIVE_BUCKET": "org-archive",
                         "FORWARDER_QUEUE_URL": QUEUE, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"},
}


class Runtime(http.server.BaseHTTPRequestHandler):
    asked = threading.Event()

    def do_GET(self):  # the function asks for its first invocation: init is over
        Runtime.asked.set()
        time.sleep(2)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def measure(binary, env):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Runtime.asked.clear()
    full = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}",
                AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                AWS_LAMBDA_FUNCTION_NAME="f", AWS_LAMBDA_FUNCTION_VERSION="1",
                AWS_LAMBDA_LOG_FORMAT="JSON", **env)
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not Runtime.asked.wait(10):
        proc.kill()
        server.shutdown()
        raise SystemExit(f"{binary}: never asked for work (exit status {proc.wait()})")
    init_ms = (time.perf_counter() - started) * 1000
    with open(f"/proc/{proc.pid}/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    proc.kill()
    proc.wait()
    server.shutdown()
    server.server_close()
    return init_ms, rss_kb / 1024


for name, env in FUNCTIONS.items():
    binary = os.path.join(ROOT, "target", "release", name)
    results = [measure(binary, env) for _ in range(RUNS)]
    inits = sorted(r[0] for r in results)
    print(f"{name}: init {inits[len(inits) // 2]:.1f} ms (median of {RUNS}, "
          f"min {inits[0]:.1f}), RSS after init {max(r[1] for r in results):.1f} MB")
