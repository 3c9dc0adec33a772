# SPDX-License-Identifier: MIT
"""The admin endpoints (docs/admin.md): /healthz, /readyz (also while
draining), /config as JSON, /metrics checked by promtool and, after known
traffic, series by series: requests by status class, durations, contexts
extracted and invalid by format, conversions from -> to, requests without
context, spans started, sampled and exported, upstream connect errors and
timeouts, the connection gauges. Also: an admin address already taken stops
startup, and --admin off starts no admin listener."""

import json
import os
import shutil
import signal
import socket
import subprocess

from lib import harness as h
from lib import spans as S
from lib import sw
from lib.client import build_request
from lib.harness import Stack, metric

T1, P1 = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
T2, P2 = "a3ce929d0e0e47364bf92f3577b34da6", "b7ad6b7169203331"
TEXT = "text/plain; charset=utf-8"
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"
ROUTE = {"listener": "main", "route": "default"}


def uses_running():
    if h.USE_RUNNING:
        raise h.Skip("needs its own proxy and admin port")


def wait_metrics(st, want, what, timeout=5.0):
    """Polls /metrics until every series of `want` ({(name, labels dict as
    tuple): value}) has its value; fails naming the ones that differ."""
    last = {}

    def check():
        samples = st.proxy.metrics()
        last.clear()
        for (name, labels), value in want.items():
            got = samples.get((name, tuple(sorted(labels))))
            if got != value:
                last[(name, labels)] = (got, value)
        return not last
    try:
        h.wait_until(check, timeout, what)
    except AssertionError:
        lines = ["%s%s: got %r, expected %r" % (n, dict(l), g, v) for (n, l), (g, v) in last.items()]
        raise AssertionError("%s: /metrics series differ:\n  %s" % (what, "\n  ".join(lines)))


def series(name, **labels):
    return (name, tuple(sorted(labels.items())))


# ============================================================ endpoints


def test_healthz_and_readyz_when_serving():
    uses_running()
    with Stack() as st:
        for path, body in (("/healthz", b"ok\n"), ("/readyz", b"ready\n")):
            status, hdrs, got = st.proxy.admin(path)
            h.eq(status, 200, "%s status" % path)
            h.eq(got, body, "%s body" % path)
            h.eq(hdrs.get("content-type"), TEXT, "%s Content-Type" % path)
            h.eq(hdrs.get("cache-control"), "no-store", "%s Cache-Control" % path)
            status, hdrs, got = st.proxy.admin(path, method="HEAD")
            h.eq((status, got), (200, b""), "HEAD %s: the status without a body" % path)
        # The admin paths are the admin's only: on the proxy port they are proxied.
        r = st.get("/healthz")
        h.status(r, 200, "/healthz through the proxy port")
        h.eq(r.json()["target"], "/healthz", "the backend got /healthz from the proxy port")
        line = st.proxy.wait_log(event="admin_listening")[0]
        h.eq(line.get("address"), "127.0.0.1:%d" % st.proxy.admin_port, "admin_listening address")


def test_unknown_paths_are_404_and_other_methods_405():
    uses_running()
    with Stack() as st:
        for path in ["/", "/metric", "/metrics/", "/healthz/x", "/admin/metrics", "/READYZ"]:
            status, hdrs, body = st.proxy.admin(path)
            h.eq(status, 404, "GET %s status" % path)
            h.eq(hdrs.get("content-type"), TEXT, "GET %s Content-Type" % path)
        status, _, body = st.proxy.admin("/nowhere", method="POST")
        h.eq(status, 404, "POST to an unknown path is 404, not 405")
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]:
            for path in ["/healthz", "/readyz", "/config", "/metrics"]:
                status, hdrs, body = st.proxy.admin(path, method=method)
                h.eq(status, 405, "%s %s status" % (method, path))
                h.eq(hdrs.get("allow"), "GET, HEAD", "%s %s Allow header" % (method, path))
        status, hdrs, body = st.proxy.admin("/metrics?name[]=x")
        h.eq(status, 200, "a query string does not change the path")


def test_readyz_turns_503_on_sigterm_while_in_flight_requests_drain():
    uses_running()
    with Stack(args=["--drain-timeout", "20"]) as st:
        c = st.conn(timeout=20)
        c.send(build_request("GET", "/slow", [("X-Test-Delay-Head", "3")]))
        st.backend.wait_event(lambda e: e["event"] == "head" and e["target"] == "/slow",
                              what="the slow request at the backend")
        h.eq(st.proxy.admin("/readyz")[0], 200, "/readyz before SIGTERM")
        st.proxy.signal(signal.SIGTERM)
        h.wait_until(lambda: st.proxy.admin("/readyz")[0] == 503, 2.0, "/readyz to answer 503")
        status, hdrs, body = st.proxy.admin("/readyz")
        h.eq((status, body), (503, b"not ready\n"), "/readyz while draining")
        h.eq(st.proxy.admin("/healthz")[0], 200, "/healthz while draining: still alive")
        r = c.read_response()
        h.status(r, 200, "the in-flight request still completes")
        c.close()
        h.eq(st.proxy.wait_exit(10), 0, "exit status after the drain")


def _values(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _values(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _values(v)
    else:
        yield obj


def test_config_is_the_effective_configuration_as_json():
    uses_running()
    with Stack(args=["--workers", "2"]) as st:
        status, hdrs, body = st.proxy.admin("/config")
        h.eq(status, 200, "/config status")
        h.eq(hdrs.get("content-type"), "application/json", "/config Content-Type")
        try:
            cfg = json.loads(body)
        except ValueError as e:
            raise AssertionError("/config is not JSON (%s): %r" % (e, body[:300]))
        h.true(isinstance(cfg, dict), "/config is a JSON object, got %r" % (type(cfg),))
        text = " ".join(str(v) for v in _values(cfg))
        for port, what in ((st.proxy.port, "listen"), (st.backend.port, "upstream"),
                           (st.proxy.admin_port, "admin")):
            h.contains(text, str(port), "/config shows the %s port" % what)


def test_admin_address_in_use_stops_startup():
    uses_running()
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        rc, out, err = h.run_binary(["--listen", "127.0.0.1:%d" % h.free_port(), "--upstream",
                                     "127.0.0.1:%d" % h.free_port(), "--admin", "127.0.0.1:%d" % port],
                                    timeout=10, env=S.env())
    finally:
        taken.close()
    h.eq(rc, 1, "exit status when the admin address is taken (stderr %r)" % err[-300:])
    h.contains(err, "event=admin_start", "the log names the admin start failure")
    h.contains(err, "127.0.0.1:%d" % port, "the log names the admin address")
    h.absent(err, "event=listening", "no listener started")


def test_admin_off():
    uses_running()
    with Stack(args=["--admin", "off"]) as st:
        h.status(st.get("/"), 200, "proxying with the admin off")
        h.eq(st.proxy.log_lines(event="admin_listening"), [], "no admin_listening line with --admin off")


# ============================================================== /metrics


def test_metrics_pass_promtool():
    uses_running()
    promtool = shutil.which("promtool")
    if promtool is None:
        raise AssertionError("promtool not found: scripts/install-deps.sh test installs it (Debian "
                             "package prometheus)")
    path = os.path.join(h.test_dir(), "spans.jsonl")
    with Stack(workers=2, args=["--exporter", "file", "--span-file", path], env=S.env()) as st:
        h.status(st.get("/", [("traceparent", "00-%s-%s-01" % (T1, P1))]), 200, "traced request")
        h.status(st.get("/", [("X-Test-Status", "404"), ("b3", "%s-%s-1" % (T2, P2))]), 404,
                 "backend 404")
        with st.conn() as c:
            c.send(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            h.status(c.read_response(), 400, "malformed request")
        status, hdrs, body = st.proxy.admin("/metrics")
        h.eq(status, 200, "/metrics status")
        h.eq(hdrs.get("content-type"), EXPOSITION, "/metrics Content-Type")
        out = os.path.join(h.test_dir(), "metrics.txt")
        with open(out, "wb") as f:
            f.write(body)
        with open(out, "rb") as f:
            p = subprocess.run([promtool, "check", "metrics"], stdin=f, capture_output=True, timeout=30)
        problems = (p.stdout + p.stderr).decode("utf-8", "replace").strip()
        h.eq((p.returncode, problems), (0, ""), "promtool check metrics on %s" % out)
        h.parse_metrics(body.decode("utf-8"))  # every line readable, no series twice


def test_metrics_after_known_traffic():
    """10 routed requests over 2 workers (3 traceparent, 2 b3, 2 sw8, 1 invalid
    traceparent, 2 without context; 2 of them answered 404 by the backend)
    and 1 malformed request: every counter is exact."""
    uses_running()
    path = os.path.join(h.test_dir(), "spans.jsonl")
    args = ["--propagators", "tracecontext,b3", "--exporter", "file", "--span-file", path]
    traffic = [
        ([("traceparent", "00-%s-%s-01" % (T1, P1))], 200),
        ([("traceparent", "00-%s-%s-01" % (T2, P2))], 200),
        ([("traceparent", "00-%s-%s-01" % (T1, P2)), ("X-Test-Status", "404")], 404),
        ([("b3", "%s-%s-1" % (T1, P1))], 200),
        ([("b3", "%s-%s-1" % (T2, P2))], 200),
        ([("sw8", sw.V47_SW8)], 200),
        ([("sw8", sw.V47_SW8), ("X-Test-Status", "404")], 404),
        ([("traceparent", "00-%s-%s-01" % (T1, "0" * 16))], 200),  # all-zero parent: invalid
        ([], 200),
        ([("User-Agent", "no-context")], 200),
    ]
    with Stack(workers=2, args=args, env=S.env()) as st:
        for headers, code in traffic:
            h.status(st.get("/known", headers), code, "request with %r" % (headers,))
        with st.conn() as c:
            c.send(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            h.status(c.read_response(), 400, "malformed request")
        want = {
            series("tracebridge_requests_total", code_class="2xx", **ROUTE): 8,
            series("tracebridge_requests_total", code_class="4xx", **ROUTE): 2,
            series("tracebridge_requests_total", code_class="5xx", **ROUTE): 0,
            series("tracebridge_requests_total", code_class="none", **ROUTE): 0,
            series("tracebridge_requests_total", listener="main", route="(none)", code_class="4xx"): 1,
            series("tracebridge_requests_total", listener="main", route="(none)", code_class="2xx"): 0,
            series("tracebridge_request_duration_seconds_count", **ROUTE): 10,
            series("tracebridge_request_duration_seconds_bucket", le="+Inf", **ROUTE): 10,
            series("tracebridge_request_duration_seconds_count", listener="main", route="(none)"): 1,
            series("tracebridge_context_extracted_total", format="tracecontext"): 3,
            series("tracebridge_context_extracted_total", format="b3"): 2,
            series("tracebridge_context_extracted_total", format="sw8"): 2,
            series("tracebridge_context_extracted_total", format="jaeger"): 0,
            series("tracebridge_context_invalid_total", format="tracecontext"): 1,
            series("tracebridge_context_invalid_total", format="b3"): 0,
            series("tracebridge_context_injected_total", format="tracecontext"): 10,
            series("tracebridge_context_injected_total", format="b3"): 10,
            series("tracebridge_context_injected_total", format="sw8"): 0,
            series("tracebridge_conversions_total", **{"from": "tracecontext", "to": "tracecontext"}): 3,
            series("tracebridge_conversions_total", **{"from": "tracecontext", "to": "b3"}): 3,
            series("tracebridge_conversions_total", **{"from": "b3", "to": "tracecontext"}): 2,
            series("tracebridge_conversions_total", **{"from": "b3", "to": "b3"}): 2,
            series("tracebridge_conversions_total", **{"from": "sw8", "to": "tracecontext"}): 2,
            series("tracebridge_conversions_total", **{"from": "sw8", "to": "b3"}): 2,
            series("tracebridge_conversions_total", **{"from": "none", "to": "tracecontext"}): 3,
            series("tracebridge_conversions_total", **{"from": "none", "to": "b3"}): 3,
            series("tracebridge_requests_without_context_total"): 3,
            series("tracebridge_context_conflicts_total"): 0,
            series("tracebridge_spans_started_total"): 10,
            series("tracebridge_spans_sampled_total"): 10,
            series("tracebridge_spans_exported_total", exporter="file"): 10,
            series("tracebridge_spans_failed_total", exporter="file"): 0,
            series("tracebridge_spans_dropped_total"): 0,
            series("tracebridge_export_queue_spans"): 0,
            series("tracebridge_client_connections", listener="main"): 0,
            series("tracebridge_config_reloads_total", result="success"): 0,
            series("tracebridge_degradation_level"): 0,
        }
        wait_metrics(st, want, "the counters after the known traffic")
        samples = st.proxy.metrics()
        conversions = {k: v for k, v in samples.items() if k[0] == "tracebridge_conversions_total"}
        h.eq(len(conversions), 8, "conversion pairs listed: only those seen (%r)" % sorted(conversions))
        h.eq(len(S.read_span_file(path)), 10, "spans in the file: what the exported counter says")
        # Cumulative buckets: never decreasing, ending at the count.
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in samples.items()
                         if k[0] == "tracebridge_request_duration_seconds_bucket"
                         and dict(k[1])["route"] == "default")
        h.eq(len(buckets), 14, "duration buckets, +Inf included")
        h.true(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])),
               "duration buckets are cumulative: %r" % buckets)
        total = metric(samples, "tracebridge_request_duration_seconds_sum", **ROUTE)
        h.between(total, 1e-6, 10 * 5.0, "sum of the 10 durations, seconds")
        h.eq(metric(samples, "tracebridge_build_info", version=tb_version()), 1, "build_info")


def tb_version():
    rc, out, err = h.run_binary(["--version"])
    h.eq(rc, 0, "--version exit status")
    return out.split()[-1]


def test_connection_gauges():
    uses_running()
    with Stack(workers=1) as st:
        c = st.conn()
        h.status(c.request("GET", "/keep"), 200, "first request, kept alive")
        wait_metrics(st, {series("tracebridge_client_connections", listener="main"): 1,
                          series("tracebridge_upstream_connections"): 1,
                          series("tracebridge_upstream_idle_connections"): 1},
                     "one client connection open, its upstream pooled")
        c.close()
        wait_metrics(st, {series("tracebridge_client_connections", listener="main"): 0,
                          series("tracebridge_upstream_connections"): 1,
                          series("tracebridge_upstream_idle_connections"): 1},
                     "client closed; the pooled upstream stays")


def test_upstream_refused_counts_a_connect_error():
    uses_running()
    with Stack(upstream="127.0.0.1:%d" % h.free_port(), backend=False) as st:
        for i in range(2):
            with st.conn(timeout=10) as c:
                c.send(build_request("GET", "/refused"))
                h.status(c.read_response(), 502, "502 #%d for a refused connect" % i)
        wait_metrics(st, {
            series("tracebridge_upstream_connect_errors_total", cluster="default", reason="refused"): 2,
            series("tracebridge_upstream_connect_errors_total", cluster="default", reason="unreachable"): 0,
            series("tracebridge_upstream_connect_timeouts_total", cluster="default"): 0,
            series("tracebridge_requests_total", code_class="5xx", **ROUTE): 2,
            series("tracebridge_upstream_connections"): 0,
        }, "after two refused connects")


def test_upstream_timeouts_are_counted():
    uses_running()
    hole = h.BlackholeListener()
    try:
        with Stack(upstream=hole.hostport, backend=False, args=["--connect-timeout", "0.3"]) as st:
            with st.conn(timeout=10) as c:
                c.send(build_request("GET", "/stalled-connect"))
                h.status(c.read_response(), 504, "connect timeout")
            wait_metrics(st, {
                series("tracebridge_upstream_connect_timeouts_total", cluster="default"): 1,
                series("tracebridge_upstream_response_timeouts_total", cluster="default"): 0,
                series("tracebridge_upstream_connect_errors_total", cluster="default", reason="refused"): 0,
            }, "after a connect timeout")
    finally:
        hole.close()
    with Stack(args=["--upstream-timeout", "0.3"]) as st:
        with st.conn(timeout=10) as c:
            c.send(build_request("GET", "/hang", [("X-Test-Action", "hang")]))
            h.status(c.read_response(), 504, "response timeout")
        wait_metrics(st, {
            series("tracebridge_upstream_response_timeouts_total", cluster="default"): 1,
            series("tracebridge_upstream_connect_timeouts_total", cluster="default"): 0,
            series("tracebridge_requests_total", code_class="5xx", **ROUTE): 1,
        }, "after a response timeout")
