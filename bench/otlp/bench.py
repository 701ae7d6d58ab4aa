#!/usr/bin/env python3
"""OTLP ingest benchmark: Charter, and Arize Phoenix side by side when installed.

Sends the same OpenInference spans (chatbot turns of four spans: a CHAIN root with
session, user, metadata and tags; a RETRIEVER with three documents; a GUARDRAIL; an
LLM call with messages, model, provider and token counts), pre-encoded as OTLP
protobuf in batches, over keep-alive HTTP connections, to each server's
`POST /v1/traces`, and measures:

  * time from the first request until every span is queryable, and spans/s;
  * per-request ingest latency (p50/p99), 503 retries;
  * peak RSS of the server process (VmHWM);
  * optionally (--query-spans) trace-list query latency on Charter at that size.

"Queryable" is checked the same way for both: a read-only count of the spans table
in the server's SQLite file, polled every 100 ms, then confirmed through the server's
own API (Charter: `GET /api/v1/projects/bench/telemetry/stats`; Phoenix:
`GET /v1/projects/bench/spans`).

Usage (see docs/benchmarks.md):

  python bench/otlp/bench.py --charter-bin target/release/charter --spans 200000
  # with Phoenix: run with a Python that has arize-phoenix installed (a separate venv)
  /path/to/bench-venv/bin/python bench/otlp/bench.py --charter-bin … --phoenix

Phoenix is started on 127.0.0.1 with a temporary working directory, telemetry off
and its gRPC port moved to a free loopback-only-by-intent port.
"""

import argparse
import base64
import http.client
import json
import os
import queue
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

PROJECT = "bench"
SPANS_PER_TURN = 4
MODELS = [("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("claude-3-5-sonnet", "anthropic")]
WORDS = (
    "refund policy expense laptop password reset access request travel receipt manager approval "
    "security badge vpn onboarding payroll holiday device loan model validation governance bundle"
).split()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def kv(key, value):
    if isinstance(value, bool):
        v = common_pb2.AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = common_pb2.AnyValue(int_value=value)
    elif isinstance(value, float):
        v = common_pb2.AnyValue(double_value=value)
    elif isinstance(value, list):
        v = common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[common_pb2.AnyValue(string_value=x) for x in value]))
    else:
        v = common_pb2.AnyValue(string_value=value)
    return common_pb2.KeyValue(key=key, value=v)


def turn_spans(rng, n, start_ns):
    """One chatbot turn: four spans with realistic OpenInference attributes."""
    trace_id = rng.getrandbits(128).to_bytes(16, "big")
    ids = [rng.getrandbits(63).to_bytes(8, "big") for _ in range(4)]
    latency_ms = max(50.0, rng.lognormvariate(6.3, 0.6))
    end_ns = start_ns + int(latency_ms * 1e6)
    question = text(rng, 12) + "?"
    answer = text(rng, 60)
    model, provider = rng.choice(MODELS)
    prompt, completion = rng.randint(300, 2500), rng.randint(20, 400)
    session = f"sess-{rng.randint(0, n // 8 + 1)}"
    error = rng.random() < 0.02
    root = trace_pb2.Span(
        trace_id=trace_id, span_id=ids[0], name="chat_turn", kind=trace_pb2.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start_ns, end_time_unix_nano=end_ns,
        attributes=[
            kv("openinference.span.kind", "CHAIN"), kv("session.id", session), kv("user.id", f"user-{rng.randint(0, 500)}"),
            kv("input.value", question), kv("input.mime_type", "text/plain"),
            kv("output.value", answer), kv("output.mime_type", "text/plain"),
            kv("metadata", json.dumps({"model_version_id": "mv-17", "kb": "v3"})), kv("tag.tags", ["prod", "governed"]),
        ],
        status=trace_pb2.Status(code=2 if error else 1, message="generator timed out" if error else ""),
    )
    docs = []
    for d in range(3):
        docs += [
            kv(f"retrieval.documents.{d}.document.id", f"kb/{rng.choice(WORDS)}-{rng.randint(1, 80)}.md"),
            kv(f"retrieval.documents.{d}.document.content", text(rng, 35)),
            kv(f"retrieval.documents.{d}.document.score", round(rng.random(), 4)),
        ]
    retriever = trace_pb2.Span(
        trace_id=trace_id, span_id=ids[1], parent_span_id=ids[0], name="retrieve", kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start_ns + 1_000_000, end_time_unix_nano=start_ns + 16_000_000,
        attributes=[kv("openinference.span.kind", "RETRIEVER"), kv("input.value", question)] + docs,
        status=trace_pb2.Status(code=1),
    )
    guard = trace_pb2.Span(
        trace_id=trace_id, span_id=ids[2], parent_span_id=ids[0], name="input_guardrail", kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start_ns + 16_000_000, end_time_unix_nano=start_ns + 18_000_000,
        attributes=[kv("openinference.span.kind", "GUARDRAIL"), kv("input.value", question), kv("output.value", "pass")],
        status=trace_pb2.Status(code=1),
    )
    llm = trace_pb2.Span(
        trace_id=trace_id, span_id=ids[3], parent_span_id=ids[0], name="ChatCompletion", kind=trace_pb2.Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start_ns + 20_000_000, end_time_unix_nano=end_ns - 1_000_000,
        attributes=[
            kv("openinference.span.kind", "LLM"), kv("llm.model_name", model), kv("llm.provider", provider),
            kv("llm.input_messages.0.message.role", "system"), kv("llm.input_messages.0.message.content", "Answer from the passages; cite them."),
            kv("llm.input_messages.1.message.role", "user"), kv("llm.input_messages.1.message.content", question),
            kv("llm.output_messages.0.message.role", "assistant"), kv("llm.output_messages.0.message.content", answer),
            kv("llm.invocation_parameters", json.dumps({"temperature": 0.1, "max_tokens": 512})),
            kv("llm.token_count.prompt", prompt), kv("llm.token_count.completion", completion),
            kv("llm.token_count.total", prompt + completion),
        ],
        status=trace_pb2.Status(code=2 if error else 1),
    )
    return [root, retriever, guard, llm]


def make_batches(total_spans, batch_spans, seed=7):
    """Pre-encoded ExportTraceServiceRequest bodies, `batch_spans` spans each."""
    rng = random.Random(seed)
    turns = total_spans // SPANS_PER_TURN
    per_batch = max(1, batch_spans // SPANS_PER_TURN)
    now = time.time_ns() - turns * 10_000_000
    resource = resource_pb2.Resource(attributes=[
        kv("service.name", "helpbot"), kv("service.version", "1.4.0"), kv("openinference.project.name", PROJECT),
    ])
    scope = common_pb2.InstrumentationScope(name="openinference.instrumentation.helpbot", version="0.1")
    bodies = []
    for first in range(0, turns, per_batch):
        spans = []
        for t in range(first, min(turns, first + per_batch)):
            spans += turn_spans(rng, turns, now + t * 10_000_000)
        req = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
            resource=resource, scope_spans=[trace_pb2.ScopeSpans(scope=scope, spans=spans)])])
        bodies.append((len(spans), req.SerializeToString()))
    return bodies


def peak_rss_mib(pid):
    """VmHWM (peak resident set) of a process and its children, in MiB."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def send_all(port, bodies, headers, concurrency):
    """POST every body, `concurrency` keep-alive connections at once. Returns
    (start, end, latencies_ms, retries)."""
    work = queue.Queue()
    for b in bodies:
        work.put(b)
    latencies = []
    retries = [0]
    errors = []
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            try:
                _, body = work.get_nowait()
            except queue.Empty:
                break
            while True:
                t0 = time.perf_counter()
                try:
                    conn.request("POST", "/v1/traces", body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                    with lock:
                        retries[0] += 1
                    time.sleep(0.2)
                    continue
                ms = (time.perf_counter() - t0) * 1000
                if resp.status == 200:
                    with lock:
                        latencies.append(ms)
                    break
                if resp.status in (429, 502, 503, 504):
                    with lock:
                        retries[0] += 1
                    time.sleep(float(resp.getheader("Retry-After") or "1"))
                    continue
                with lock:
                    errors.append(f"{resp.status}: {data[:300]!r}")
                break
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.perf_counter()
    if errors:
        raise SystemExit(f"export failed: {errors[:3]}")
    return start, end, latencies, retries[0]


def wait_count(db_path, table, where, expected, started, timeout, pid):
    """Poll a read-only count until it reaches `expected`; returns seconds since
    `started` and the peak RSS seen meanwhile."""
    deadline = time.perf_counter() + timeout
    while True:
        try:
            con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
            n = con.execute(f"SELECT COUNT(*) FROM {table} {where}").fetchone()[0]
            con.close()
        except sqlite3.Error:
            n = 0
        if n >= expected:
            return time.perf_counter() - started, n
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {n} of {expected} spans queryable after {timeout} s")
        time.sleep(0.1)


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


def http_json(url, auth=None, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    if body is not None:
        req.add_header("content-type", "application/json")
    if auth:
        req.add_header("authorization", auth)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")


def start_charter(binary, work):
    port = free_port()
    password = "bench-" + base64.b16encode(os.urandom(8)).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    env.update({
        "CHARTER_DATA_DIR": os.path.join(work, "charter-data"),
        "CHARTER_BIND": f"127.0.0.1:{port}",
        "CHARTER_BOOTSTRAP_ADMIN_PASSWORD": password,
        "CHARTER_LOG_LEVEL": "warn",
    })
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "charter.log"), "w"))
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise SystemExit("charter did not become ready")
    ready = time.perf_counter() - t0
    basic = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
    http_json(f"http://127.0.0.1:{port}/api/v1/projects", basic, "POST", {"name": PROJECT})
    token = http_json(f"http://127.0.0.1:{port}/api/v1/projects/{PROJECT}/ingest-tokens", basic, "POST", {"name": "bench"})["secret"]
    return proc, port, basic, token, ready


def run_charter(args, bodies, total):
    work = tempfile.mkdtemp(prefix="charter-otlp-bench-")
    proc, port, basic, token, ready = start_charter(args.charter_bin, work)
    try:
        idle = rss_mib(proc.pid)
        headers = {"content-type": "application/x-protobuf", "authorization": f"Bearer {token}"}
        start, end, lat, retries = send_all(port, bodies, headers, args.concurrency)
        db = os.path.join(work, "charter-data", "charter.db")
        took, n = wait_count(db, "telemetry_spans", "", total, start, 3600, proc.pid)
        stats = http_json(f"http://127.0.0.1:{port}/api/v1/projects/{PROJECT}/telemetry/stats?from=0&to=4102444800000&bucket=1d", basic)
        api_count = stats["total"]["span_count"]
        result = {
            "server": "charter", "spans": total, "ready_s": ready, "send_s": end - start, "queryable_s": took,
            "spans_per_s": total / took, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "retries": retries,
            "idle_rss_mib": idle, "peak_rss_mib": peak_rss_mib(proc.pid), "api_span_count": api_count,
        }
        if args.query_spans:
            result["queries"] = query_bench(args, port, basic, token)
            result["peak_rss_mib"] = peak_rss_mib(proc.pid)
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def query_bench(args, port, basic, token):
    """Grow the project to --query-spans spans, then time trace-list queries."""
    have = args.spans
    more = args.query_spans - have
    if more > 0:
        print(f"  loading {more} more spans for the query benchmark…", flush=True)
        extra = make_batches(more, args.batch, seed=11)
        headers = {"content-type": "application/x-protobuf", "authorization": f"Bearer {token}"}
        send_all(port, extra, headers, args.concurrency)
    base = f"http://127.0.0.1:{port}/api/v1/projects/{PROJECT}"
    first = http_json(f"{base}/traces?limit=50", basic)
    session = first["items"][0]["session_id"]
    now_ms = int(time.time() * 1000)
    cases = {
        "traces, newest 50": "traces?limit=50",
        "traces, page 2 (cursor)": f"traces?limit=50&cursor={first['next_cursor']}",
        "traces, one session": f"traces?limit=50&session={session}",
        "traces, with errors": "traces?limit=50&status=ERROR",
        "traces, model = gpt-4o": "traces?limit=50&model=gpt-4o",
        "traces, slower than 2 s": "traces?limit=50&min_latency_ms=2000",
        "traces, last hour": f"traces?limit=50&from={now_ms - 3_600_000}",
        "spans, LLM, newest 50": "spans?limit=50&kind=LLM",
        "stats, last 24 h by hour": f"telemetry/stats?from={now_ms - 86_400_000}&bucket=1h",
    }
    out = {}
    for name, path in cases.items():
        times = []
        for i in range(args.query_runs + 3):
            t0 = time.perf_counter()
            http_json(f"{base}/{path}", basic)
            if i >= 3:  # warm-up
                times.append((time.perf_counter() - t0) * 1000)
        out[name] = {"p50_ms": statistics.median(times), "p99_ms": pct(times, 99)}
    return out


def run_phoenix(args, bodies, total):
    work = tempfile.mkdtemp(prefix="phoenix-otlp-bench-")
    port, grpc_port = free_port(), free_port()
    env = dict(os.environ)
    env.update({
        "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": work, "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    })
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "phoenix.server.main", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "phoenix.log"), "w"))
    try:
        for _ in range(1200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit("phoenix exited; see " + os.path.join(work, "phoenix.log"))
                time.sleep(0.1)
        ready = time.perf_counter() - t0
        idle = rss_mib(proc.pid)
        headers = {"content-type": "application/x-protobuf", "x-project-name": PROJECT}
        peak = [0.0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], peak_rss_mib(proc.pid))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start, end, lat, retries = send_all(port, bodies, headers, args.concurrency)
        db = os.path.join(work, "phoenix.db")
        took, n = wait_count(db, "spans", "", total, start, args.phoenix_timeout, proc.pid)
        stop.set()
        sampler.join()
        spans = http_json(f"http://127.0.0.1:{port}/v1/projects/{PROJECT}/spans?limit=1")
        return {
            "server": "phoenix", "spans": total, "ready_s": ready, "send_s": end - start, "queryable_s": took,
            "spans_per_s": total / took, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "retries": retries,
            "idle_rss_mib": idle, "peak_rss_mib": max(peak[0], peak_rss_mib(proc.pid)),
            "api_span_count": len(spans.get("data", [])),
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--charter-bin", required=True)
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=256, help="spans per request (100–512)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--runs", type=int, default=1, help="Charter runs (the median is reported)")
    ap.add_argument("--phoenix", action="store_true", help="also run Arize Phoenix (must be importable)")
    ap.add_argument("--phoenix-timeout", type=int, default=7200)
    ap.add_argument("--query-spans", type=int, default=0, help="grow Charter to this many spans and time trace lists")
    ap.add_argument("--query-runs", type=int, default=100)
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()

    t0 = time.perf_counter()
    bodies = make_batches(args.spans, args.batch)
    total = sum(n for n, _ in bodies)
    size = sum(len(b) for _, b in bodies)
    print(f"{total} spans in {len(bodies)} requests of {args.batch} spans ({size / 1e6:.1f} MB protobuf), "
          f"encoded in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} cores", flush=True)

    results = []
    runs = [run_charter(args, bodies, total) for _ in range(args.runs)]
    runs.sort(key=lambda r: r["queryable_s"])
    charter = runs[len(runs) // 2]
    charter["runs_spans_per_s"] = [round(r["spans_per_s"]) for r in runs]
    results.append(charter)
    print(json.dumps(charter, indent=2), flush=True)
    if args.phoenix:
        try:
            import phoenix  # noqa: F401
        except ImportError:
            raise SystemExit("--phoenix: arize-phoenix is not installed in this Python")
        phx = run_phoenix(args, bodies, total)
        results.append(phx)
        print(json.dumps(phx, indent=2), flush=True)

    print("\n| server | spans | until queryable | spans/s | ingest p50 | ingest p99 | 503 retries | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['server']} | {r['spans']:,} | {r['queryable_s']:.2f} s | {r['spans_per_s']:,.0f} | "
              f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['retries']} | {r['peak_rss_mib']:.0f} MiB |")
    if len(results) == 2:
        c, p = results
        print(f"\nratio (Charter / Phoenix): {c['spans_per_s'] / p['spans_per_s']:.0f}x spans/s, "
              f"{p['peak_rss_mib'] / c['peak_rss_mib']:.1f}x less peak memory")
    if charter.get("queries"):
        print("\n| trace-list query | p50 | p99 |")
        print("|---|---|---|")
        for name, q in charter["queries"].items():
            print(f"| {name} | {q['p50_ms']:.1f} ms | {q['p99_ms']:.1f} ms |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
