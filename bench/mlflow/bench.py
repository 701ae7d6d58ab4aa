#!/usr/bin/env python3
"""Charter's MLflow API side by side with the real MLflow server, in one run.

Starts `mlflow server` (SQLite backend store, proxied artifacts) and Charter (SQLite,
once with the default durability and once with fsync on every commit) on loopback,
drives the same workload against each over the same REST API, and prints each figure
and the ratio Charter / MLflow:

- start-up time (process start until the first answer) and idle memory (RSS);
- 1000 sequential `runs/log-metric` over one keep-alive connection;
- `runs/log-batch` of 1000 metrics (median of several);
- `runs/search` over 10,000 runs (all pages of 1000; and a filtered, ordered search);
- a 100 MB artifact upload and download;
- the log-metric workload from 16 concurrent clients (processes).

Durability: MLflow's SQLite store runs SQLite's defaults (rollback journal,
synchronous=FULL: every commit is fsynced). Charter "normal" is WAL with
synchronous=NORMAL plus group commit (an acknowledged write survives kill -9 of the
process); Charter "full" is synchronous=FULL (every commit fsynced before it is
acknowledged, so it survives a power cut too).

    bench/mlflow/bench.py --charter target/release/charter [--mlflow venv/bin/mlflow]

Needs `mlflow` installed (the same pinned version as tests/python/requirements.txt).
"""

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

RUNS_FOR_SEARCH = 10_000
SEQUENTIAL = 1000
CONCURRENT_CLIENTS = 16
PER_CLIENT = 200
ARTIFACT_MB = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    """Resident memory of a process and its children, in MB."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
        for p in list(pids[1:]):
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(p)], capture_output=True, text=True).stdout
            pids += [int(q) for q in out.split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Server:
    """A running server and how to call it."""

    def __init__(self, name, proc, port, headers, durability):
        self.name = name
        self.proc = proc
        self.port = port
        self.headers = headers
        self.durability = durability
        self.startup = None

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def call(self, conn, method, path, body=None, raw=None):
        headers = dict(self.headers)
        data = raw
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        payload = r.read()
        if r.status != 200:
            raise RuntimeError(f"{self.name}: {method} {path} -> {r.status}: {payload[:300]!r}")
        return json.loads(payload) if payload and payload[:1] in b"{[" else payload

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wait_ready(port, proc, path):
    start = time.perf_counter()
    while time.perf_counter() - start < 120:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return time.perf_counter() - start
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("server did not become ready")


def start_mlflow(binary, work):
    port = free_port()
    (work / "mlflow").mkdir()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            binary, "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{work / 'mlflow' / 'mlflow.db'}",
            "--artifacts-destination", str(work / "mlflow" / "artifacts"),
        ],
        stdout=open(work / "mlflow.log", "w"), stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    wait_ready(port, proc, "/health")
    s = Server("mlflow", proc, port, {}, "SQLite defaults: rollback journal, synchronous=FULL (fsync per commit)")
    s.startup = time.perf_counter() - t0
    return s


def start_charter(binary, work, sync):
    port = free_port()
    data = work / f"charter-{sync}"
    password = "bench-" + secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    env.update(
        CHARTER_DATA_DIR=str(data),
        CHARTER_BIND=f"127.0.0.1:{port}",
        CHARTER_BOOTSTRAP_ADMIN_PASSWORD=password,
        CHARTER_LOG_LEVEL="warn",
        CHARTER_DATABASE__SQLITE_SYNCHRONOUS=sync,
        CHARTER_SERVER__BODY_LIMIT_BYTES=str(200 * 1024 * 1024),
        CHARTER_SERVER__REQUEST_TIMEOUT_SECS="600",
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=open(work / f"charter-{sync}.log", "w"),
                            stderr=subprocess.STDOUT)
    wait_ready(port, proc, "/ready")
    startup = time.perf_counter() - t0
    basic = base64.b64encode(f"admin:{password}".encode()).decode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/me/tokens", data=json.dumps({"name": "bench"}).encode(),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"}, method="POST")
    token = json.loads(urllib.request.urlopen(req).read())["secret"]
    durability = {
        "normal": "WAL, synchronous=NORMAL, group commit (acknowledged writes survive kill -9)",
        "full": "WAL, synchronous=FULL, group commit (every commit fsynced before it is acknowledged)",
    }[sync]
    s = Server(f"charter ({sync})", proc, port, {"Authorization": f"Bearer {token}"}, durability)
    s.startup = startup
    return s


def new_run(s, conn, exp):
    return s.call(conn, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp, "start_time": 1})["run"]["info"]["run_id"]


def experiment(s, conn, name):
    return s.call(conn, "POST", "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"]


def log_metrics_worker(args):
    port, headers, run_id, n = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    h = dict(headers)
    h["Content-Type"] = "application/json"
    for i in range(n):
        body = json.dumps({"run_id": run_id, "key": "m", "value": i * 0.5, "timestamp": 1000 + i, "step": i})
        conn.request("POST", "/api/2.0/mlflow/runs/log-metric", body=body, headers=h)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"log-metric -> {r.status}")
    return n


def create_runs_worker(args):
    port, headers, exp, n, offset = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    h = dict(headers)
    h["Content-Type"] = "application/json"
    for i in range(n):
        k = offset + i
        conn.request("POST", "/api/2.0/mlflow/runs/create",
                     body=json.dumps({"experiment_id": exp, "start_time": k, "run_name": f"r{k}"}), headers=h)
        r = conn.getresponse()
        run_id = json.loads(r.read())["run"]["info"]["run_id"]
        body = {"run_id": run_id, "metrics": [{"key": "m", "value": (k % 100) / 100, "timestamp": 1, "step": 0}],
                "params": [{"key": "p", "value": str(k % 7)}]}
        conn.request("POST", "/api/2.0/mlflow/runs/log-batch", body=json.dumps(body), headers=h)
        r = conn.getresponse()
        r.read()
    return n


def measure(s, pool):
    out = {"startup_s": s.startup}
    time.sleep(1.0)
    out["idle_rss_mb"] = rss_mb(s.proc.pid)
    conn = s.conn()
    exp = experiment(s, conn, "bench-" + secrets.token_hex(4))

    # 1000 sequential log-metric over keep-alive.
    run = new_run(s, conn, exp)
    lat = []
    t0 = time.perf_counter()
    for i in range(SEQUENTIAL):
        a = time.perf_counter()
        s.call(conn, "POST", "/api/2.0/mlflow/runs/log-metric",
               {"run_id": run, "key": "loss", "value": 1.0 / (i + 1), "timestamp": 1000 + i, "step": i})
        lat.append(time.perf_counter() - a)
    total = time.perf_counter() - t0
    out["log_metric_per_s"] = SEQUENTIAL / total
    out["log_metric_p50_ms"] = statistics.median(lat) * 1000

    # log-batch of 1000 metrics.
    times = []
    for rep in range(7):
        metrics = [{"key": f"k{j % 10}", "value": j * 0.1, "timestamp": 5000 + rep * 1000 + j, "step": j}
                   for j in range(1000)]
        a = time.perf_counter()
        s.call(conn, "POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": run, "metrics": metrics})
        times.append(time.perf_counter() - a)
    out["log_batch_1000_ms"] = statistics.median(times) * 1000

    # 16 concurrent clients, each logging to its own run.
    runs = [new_run(s, conn, exp) for _ in range(CONCURRENT_CLIENTS)]
    t0 = time.perf_counter()
    done = sum(pool.map(log_metrics_worker, [(s.port, s.headers, r, PER_CLIENT) for r in runs]))
    out["concurrent16_log_metric_per_s"] = done / (time.perf_counter() - t0)

    # search_runs over 10k runs (populated by 16 clients).
    sexp = experiment(s, conn, "search-" + secrets.token_hex(4))
    per = RUNS_FOR_SEARCH // CONCURRENT_CLIENTS
    t0 = time.perf_counter()
    pool.map(create_runs_worker, [(s.port, s.headers, sexp, per, w * per) for w in range(CONCURRENT_CLIENTS)])
    out["populate_10k_runs_s"] = time.perf_counter() - t0
    all_pages, filtered = [], []
    for _ in range(3):
        a = time.perf_counter()
        token, seen = None, 0
        while True:
            body = {"experiment_ids": [sexp], "max_results": 1000}
            if token:
                body["page_token"] = token
            page = s.call(conn, "POST", "/api/2.0/mlflow/runs/search", body)
            seen += len(page.get("runs", []))
            token = page.get("next_page_token")
            if not token:
                break
        all_pages.append(time.perf_counter() - a)
        assert seen == per * CONCURRENT_CLIENTS, (s.name, seen)
        a = time.perf_counter()
        page = s.call(conn, "POST", "/api/2.0/mlflow/runs/search",
                      {"experiment_ids": [sexp], "filter": "metrics.m > 0.5 and params.p = '3'",
                       "order_by": ["metrics.m DESC"], "max_results": 1000})
        filtered.append(time.perf_counter() - a)
    out["search_10k_all_pages_ms"] = statistics.median(all_pages) * 1000
    out["search_10k_filtered_ms"] = statistics.median(filtered) * 1000

    # 100 MB artifact up and down.
    blob = os.urandom(ARTIFACT_MB * 1024 * 1024)
    path = f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/big.bin"
    up, down = [], []
    for _ in range(3):
        a = time.perf_counter()
        s.call(conn, "PUT", path, raw=blob)
        up.append(time.perf_counter() - a)
        a = time.perf_counter()
        got = s.call(conn, "GET", path)
        down.append(time.perf_counter() - a)
        assert len(got) == len(blob)
    out["artifact_upload_MBps"] = ARTIFACT_MB / statistics.median(up)
    out["artifact_download_MBps"] = ARTIFACT_MB / statistics.median(down)
    out["rss_after_mb"] = rss_mb(s.proc.pid)
    return out


ROWS = [
    ("startup_s", "start-up (s)", False),
    ("idle_rss_mb", "idle memory (MB RSS)", False),
    ("log_metric_per_s", "sequential log-metric (req/s)", True),
    ("log_metric_p50_ms", "sequential log-metric p50 (ms)", False),
    ("log_batch_1000_ms", "log-batch of 1000 metrics (ms)", False),
    ("concurrent16_log_metric_per_s", "16 clients log-metric (req/s)", True),
    ("populate_10k_runs_s", "create 10k runs + log-batch, 16 clients (s)", False),
    ("search_10k_all_pages_ms", "search 10k runs, all 10 pages (ms)", False),
    ("search_10k_filtered_ms", "search 10k runs, filter + order (ms)", False),
    ("artifact_upload_MBps", "100 MB artifact upload (MB/s)", True),
    ("artifact_download_MBps", "100 MB artifact download (MB/s)", True),
    ("rss_after_mb", "memory after the workload (MB RSS)", False),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--charter", required=True, help="the charter binary (a release build)")
    ap.add_argument("--mlflow", default=shutil.which("mlflow") or "mlflow", help="the mlflow command")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="charter-bench-mlflow-"))
    results = {}
    servers = []
    try:
        with multiprocessing.Pool(CONCURRENT_CLIENTS) as pool:
            for start in (lambda: start_mlflow(args.mlflow, work),
                          lambda: start_charter(args.charter, work, "normal"),
                          lambda: start_charter(args.charter, work, "full")):
                s = start()
                servers.append(s)
                print(f"measuring {s.name} …", file=sys.stderr, flush=True)
                results[s.name] = measure(s, pool)
                results[s.name]["durability"] = s.durability
                s.stop()
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    base = results["mlflow"]
    names = list(results)
    print(f"{'':46}" + "".join(f"{n:>18}" for n in names) + f"{'normal/mlflow':>15}{'full/mlflow':>13}")
    for key, label, higher_better in ROWS:
        vals = [results[n][key] for n in names]
        ratios = []
        for n in names[1:]:
            v, b = results[n][key], base[key]
            # Ratios read "how many times better": speeds divided, times inverted.
            ratios.append((v / b if higher_better else b / v) if v and b else float("nan"))
        print(f"{label:46}" + "".join(f"{v:>18.3f}" for v in vals) + "".join(f"{r:>14.1f}x" for r in ratios))
    print()
    for n in names:
        print(f"durability of {n}: {results[n]['durability']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
