# SPDX-License-Identifier: MIT
"""Helpers of the span tests (55-57): the fake collector as a child process,
a group that stops collectors and extra proxies, the environment every span
test starts from, the proxy's shutdown counters, the hop ids as the backend
saw them, and span assertions that name what differs."""

import json
import os
import re
import signal
import subprocess
import sys
import time

from lib import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTOR_SCRIPT = os.path.join(os.path.dirname(HERE), "fakes", "collector.py")
PROTO_DIR = os.path.join(h.REPO_ROOT, "tests", "proto")

# Every variable that changes span export, cleared so the caller's shell
# cannot change what a test sees; tests then set what they need.
_SPAN_VARS = [
    "OTEL_PROPAGATORS", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT", "TRACEBRIDGE_EXPORTERS", "TRACEBRIDGE_ZIPKIN_ENDPOINT",
    "TRACEBRIDGE_SKYWALKING_ENDPOINT", "TRACEBRIDGE_SPAN_FILE", "TRACEBRIDGE_MAX_ROOT_SPANS_PER_SECOND",
    "TRACEBRIDGE_ROLE", "K8S_POD_NAME", "POD_NAME", "K8S_NAMESPACE_NAME", "POD_NAMESPACE", "K8S_NODE_NAME",
    "NODE_NAME",
]

FORMATS = ["tracecontext", "baggage", "b3", "b3multi", "jaeger", "xray", "ottrace", "datadog", "sw8",
           "eagleeye"]


def env(**kw):
    """The span tests' environment: every span variable cleared, a 100 ms
    schedule delay (spans arrive quickly), then `kw` (None removes)."""
    out = {k: None for k in _SPAN_VARS}
    out["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    out.update(kw)
    return out


def otlp_env(collector, **kw):
    return env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector.url("/v1/traces"), **kw)


# ---------------------------------------------------------------- collector


class Collector:
    """fakes/collector.py as a child process (tracked like the backend, so
    a test that overruns has it killed)."""

    def __init__(self, args=(), proto_dir=None):
        d = h.test_dir()
        n = h._seq("collector")
        self.events_path = os.path.join(d, "collector%d.jsonl" % n)
        self.stderr_path = os.path.join(d, "collector%d.stderr" % n)
        err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, COLLECTOR_SCRIPT, "--port", "0", "--events", self.events_path,
             "--proto-dir", proto_dir or PROTO_DIR] + [str(a) for a in args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        err.close()
        h._track(self.proc)
        line = b""
        deadline = time.monotonic() + h.START_DEADLINE
        os.set_blocking(self.proc.stdout.fileno(), False)
        while not line.endswith(b"\n"):
            if self.proc.poll() is not None:
                raise AssertionError("collector exited early (status %s): %s"
                                     % (self.proc.returncode, h._read_file(self.stderr_path)[-2000:]))
            if time.monotonic() > deadline:
                raise AssertionError("collector did not report its port within %.0fs" % h.START_DEADLINE)
            chunk = self.proc.stdout.read()
            if chunk:
                line += chunk
            else:
                time.sleep(0.005)
        m = re.match(rb"PORT (\d+)", line)
        if not m:
            raise AssertionError("collector printed %r instead of PORT <n>" % line)
        self.port = int(m.group(1))

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def url(self, path=""):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def events(self, kind=None):
        out = []
        try:
            with open(self.events_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return out
        for line in data.split(b"\n")[:-1]:
            rec = json.loads(line)
            if kind is None or rec["event"] == kind:
                out.append(rec)
        return out

    def requests(self, path=None):
        return [e for e in self.events("request") if path is None or e["path"] == path]

    def accepted(self, path=None):
        """Requests answered 2xx (not forced failures)."""
        return [e for e in self.requests(path) if e["status_sent"] is not None
                and 200 <= e["status_sent"] < 300]

    def otlp_spans(self):
        """Flat OTLP spans of the accepted /v1/traces requests, in arrival order."""
        out = []
        for e in self.accepted("/v1/traces"):
            out += e["spans"]
        return out

    def zipkin_spans(self):
        out = []
        for e in self.accepted("/api/v2/spans"):
            out += e["decoded"]
        return out

    def segments(self):
        out = []
        for e in self.accepted("/v3/segments"):
            out += e["decoded"]
        return out

    def wait(self, fn, count, timeout=5.0, what="spans at the collector"):
        """Polls fn() (a list) until it has at least `count` items; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            items = fn()
            if len(items) >= count:
                return items
            if time.monotonic() >= deadline:
                self.check_valid()
                raise AssertionError("timed out after %.1fs waiting for %d %s, have %d%s"
                                     % (timeout, count, what, len(items), self._summary()))
            time.sleep(0.02)

    def wait_otlp(self, count, timeout=5.0):
        return self.wait(self.otlp_spans, count, timeout, "OTLP spans")

    def wait_zipkin(self, count, timeout=5.0):
        return self.wait(self.zipkin_spans, count, timeout, "Zipkin spans")

    def wait_segments(self, count, timeout=5.0):
        return self.wait(self.segments, count, timeout, "SkyWalking segments")

    def _summary(self):
        reqs = self.requests()
        if not reqs:
            return " (no request reached the collector)"
        return " (requests: %s)" % ", ".join("%s %s%s" % (e["path"], e["status_sent"], " forced" if e["forced"]
                                                          else "") for e in reqs[-10:])

    def check_valid(self):
        """Fails when the collector refused a request as malformed (400/404/405/
        415: the exporter's fault, never a test setup), or had an internal error."""
        errs = self.events("error")
        if errs:
            raise AssertionError("collector internal error:\n%s" % errs[0]["traceback"])
        for e in self.requests():
            if e["errors"]:
                raise AssertionError("the collector refused a %s request to %s (status %s):\n  %s\n  headers %r"
                                     % (e["format"], e["path"], e["status_sent"],
                                        "\n  ".join(e["errors"][:12]), e["headers"]))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        h._untrack(self.proc)
        self.proc = None


class Group:
    """Collectors and extra proxies of one test, stopped on exit (proxies
    first, so their last exports can still arrive); each proxy must exit 0.
    Collectors are checked for refused (malformed) requests unless
    check=False was given when adding them."""

    def __init__(self):
        self.collectors = []
        self.proxies = []

    def collector(self, *args, check=True):
        c = Collector(args)
        self.collectors.append((c, check))
        return c

    def proxy(self, upstream, args, env_=None):
        p = h.Proxy(upstream, args, env=env_ if env_ is not None else env())
        self.proxies.append(p)
        return p

    def stop_proxy(self, p):
        """Stops `p` now (SIGTERM flushes its queue); fails unless it exits 0."""
        status = p.stop()
        p.check_exit(status)
        if p in self.proxies:
            self.proxies.remove(p)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        failure = None
        for p in self.proxies:
            status = p.stop()
            try:
                p.check_exit(status)
            except AssertionError as e:
                failure = failure or e
        for c, check in self.collectors:
            try:
                if check and exc_type is None:
                    c.check_valid()
            except AssertionError as e:
                failure = failure or e
            c.stop()
        if failure is not None:
            if exc_type is None:
                raise failure
            h.note(str(failure))
        return False


# ------------------------------------------------------------- proxy side


def stats(proxy):
    """The shutdown counters: ({exporter: {exported, failed, requests, retries,
    errors}}, {started, sampled, dropped_full}); call after the proxy stopped."""
    exp = {}
    for rec in proxy.log_lines(event="export_stats"):
        exp[rec.get("exporter")] = {k: int(rec[k]) for k in ("exported", "failed", "requests", "retries",
                                                             "errors") if k in rec}
    sp = proxy.log_lines(event="span_stats")
    if not sp:
        raise AssertionError("no event=span_stats line in the proxy log\n%s" % h._tail(proxy.log()))
    span_stats = {k: int(sp[-1][k]) for k in ("started", "sampled", "dropped_full") if k in sp[-1]}
    return exp, span_stats


class Hop:
    """What the backend received for one request through the proxy: the
    traceparent it got names the hop (trace id, span id, flags)."""

    def __init__(self, resp, what="request", t0=None, t1=None, client_port=None, status=200):
        h.status(resp, status, "%s: response status" % what)
        self.resp = resp
        self.echo = resp.json()
        self.what = what
        self.t0, self.t1 = t0, t1
        self.client_port = client_port
        tp = self.header("traceparent")
        m = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})", tp or "")
        if not m:
            raise AssertionError("%s: traceparent downstream %r is not a version-00 header" % (what, tp))
        self.trace_id, self.span_id, self.flags = m.group(1), m.group(2), int(m.group(3), 16)
        self.sampled = bool(self.flags & 1)

    def header(self, name):
        vals = [v for n, v in self.echo["headers"] if n.lower() == name.lower()]
        if len(vals) > 1:
            raise AssertionError("%s: %d %s headers downstream" % (self.what, len(vals), name))
        return vals[0] if vals else None


def timed(conn, method="GET", target="/", headers=None, body=b"", **kw):
    """(response, t0 ns, t1 ns): the wall clock just before sending and just
    after the last response byte."""
    t0 = time.time_ns()
    r = conn.request(method, target, headers, body, **kw)
    t1 = time.time_ns()
    return r, t0, t1


def hop(conn, method="GET", target="/", headers=None, body=b"", what=None, status=200, **kw):
    """One request whose response is the backend echo; returns its Hop."""
    port = conn.sock.getsockname()[1]
    r, t0, t1 = timed(conn, method, target, headers, body, **kw)
    return Hop(r, what or "%s %s" % (method, target), t0, t1, port, status)


def by_span_id(spans, key="span_id"):
    out = {}
    for s in spans:
        sid = s[key]
        if sid in out:
            raise AssertionError("span id %s exported twice: %r and %r" % (sid, out[sid], s))
        out[sid] = s
    return out


def find(spans, span_id, key="span_id", what="span"):
    got = [s for s in spans if s[key] == span_id]
    if len(got) != 1:
        raise AssertionError("%s: %d exported spans with id %s (exported ids: %s)"
                             % (what, len(got), span_id, sorted(s[key] for s in spans)[:20]))
    return got[0]


def diff_dict(got, want, what):
    """Every key of `want` is in `got` with that value (a value of None: the key
    must be absent). Reports every difference at once."""
    bad = []
    for k, v in want.items():
        if v is None:
            if k in got:
                bad.append("  %s: expected absent, got %r" % (k, got[k]))
        elif k not in got:
            bad.append("  %s: missing (expected %r)" % (k, v))
        elif got[k] != v or type(got[k]) is not type(v):
            bad.append("  %s: expected %r (%s), got %r (%s)" % (k, v, type(v).__name__, got[k],
                                                                 type(got[k]).__name__))
    if bad:
        raise AssertionError("%s:\n%s\n  (all: %r)" % (what, "\n".join(bad), got))


def check_times(start_ns, end_ns, hp, what, min_duration_ns=0, unit_ns=1):
    """start <= end, both inside the request's wall-clock window [t0, t1]
    (widened by one unit of the format's resolution), duration at least
    `min_duration_ns`."""
    lo = hp.t0 - unit_ns
    hi = hp.t1 + unit_ns
    if not (start_ns <= end_ns):
        raise AssertionError("%s: start %d after end %d" % (what, start_ns, end_ns))
    if not (lo <= start_ns <= hi and lo <= end_ns <= hi):
        raise AssertionError("%s: span [%d, %d] not within the request's wall-clock window [%d, %d] "
                             "(start %+.3f ms, end %+.3f ms from the window's edges)"
                             % (what, start_ns, end_ns, hp.t0, hp.t1, (start_ns - hp.t0) / 1e6,
                                (end_ns - hp.t1) / 1e6))
    if end_ns - start_ns < min_duration_ns - unit_ns:
        raise AssertionError("%s: duration %.3f ms shorter than the backend's delay %.3f ms"
                             % (what, (end_ns - start_ns) / 1e6, min_duration_ns / 1e6))


def read_span_file(path):
    """The JSON lines of a file exporter output (complete lines only)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise AssertionError("span file %s line %d is not JSON (%s): %r" % (path, n, e, line[:300]))
    return out


def wait_file(path, count, timeout=5.0):
    return h.wait_until(lambda: (lambda x: x if len(x) >= count else None)(read_span_file(path)), timeout,
                        "%d spans in %s" % (count, path))


def get(st, target="/", headers=None, what=None, **kw):
    """One GET on a fresh connection to the stack's proxy; returns its Hop."""
    with st.conn() as c:
        return hop(c, "GET", target, headers, what=what, **kw)
