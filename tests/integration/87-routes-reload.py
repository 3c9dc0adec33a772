# SPDX-License-Identifier: MIT
"""Listeners, routes and clusters from a configuration file; edge trust;
SIGHUP reload (new routes and listeners, in-flight requests on the old
configuration, an invalid file rejected, zero failed requests under load);
the SIGTERM sequence with a shutdown delay under load."""

import json
import os
import signal
import socket
import threading
import time

from lib import client
from lib import harness as h
from lib.harness import Backend

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def sampled(traceparent):
    """The sampled bit of a traceparent's flags (the random bit may be set too)."""
    return int(traceparent.rsplit("-", 1)[-1], 16) & 1 == 1
PARENT = "00f067aa0ba902b7"


class FileProxy(h.Proxy):
    """A tracebridge started with `-c FILE` only (plus `args`); `port` is the
    listener the tests talk to (the file names it)."""

    def __init__(self, path, port, args=(), env=None):
        self.port = port
        self.upstream = None
        self.args = list(args)
        self.workers = None
        self.log_path = os.path.join(h.test_dir(), "proxy%d.log" % h._seq("proxy"))
        h._state["logs"].append(self.log_path)
        admin = [] if "--admin" in self.args else ["--admin", "off"]
        self.cmd = [h.BINARY, "-c", path] + admin + self.args
        log = open(self.log_path, "wb")
        log.write(("# %s\n" % " ".join(self.cmd)).encode())
        log.flush()
        import subprocess
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     env=h.child_env(env))
        log.close()
        h._track(self.proc)
        self.status = None
        self.wait_ready()


def metric(admin_port, name_and_labels):
    """The value of one sample of /metrics, or None."""
    body = get(admin_port, "/metrics").body.decode()
    for line in body.splitlines():
        if line.startswith(name_and_labels + " "):
            return float(line.split()[-1])
    return None


def write_config(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def cluster_yaml(name, endpoints):
    return "  - name: %s\n    endpoints: [%s]\n" % (name, ", ".join(endpoints))


def get(port, target="/", host="test.example", headers=None, timeout=5.0):
    with client.Conn(("127.0.0.1", port), timeout=timeout) as c:
        return c.request("GET", target, headers=headers or [], host=host)


def test_routes_by_host_and_path_and_404_without_route():
    a, b = Backend(0), Backend(0)
    port = h.free_port()
    path = os.path.join(h.test_dir(), "tb.yaml")
    write_config(path, """
listeners:
  - name: edge
    address: 127.0.0.1:%d
    routes:
      - name: api
        match: {host: api.test, path_prefix: /v1/}
        cluster: a
      - name: wild
        match: {host: "*.b.test"}
        cluster: b
      - name: static
        match: {path_prefix: /static/}
        cluster: b
clusters:
%s%s""" % (port, cluster_yaml("a", [a.hostport]), cluster_yaml("b", [b.hostport])))
    p = FileProxy(path, port)
    try:
        a.mark()
        b.mark()
        h.status(get(port, "/v1/users", host="API.test:8080"), 200, "api route")
        a.wait_request(lambda e: e["target"] == "/v1/users")
        h.status(get(port, "/anything", host="x.b.test"), 200, "wildcard host")
        b.wait_request(lambda e: e["target"] == "/anything")
        h.status(get(port, "/static/app.js", host="api.test"), 200, "path prefix, any host")
        b.wait_request(lambda e: e["target"] == "/static/app.js")
        r = get(port, "/v2/users", host="api.test")
        h.status(r, 404, "no route")
        h.true(b"no_route" in r.body, "the 404 names the reason: %r" % r.body)
        h.eq([e["target"] for e in a.requests() if e["target"] == "/v2/users"], [],
             "nothing forwarded without a route")
    finally:
        h.eq(p.stop(), 0, "exit status")
        a.stop()
        b.stop()


def test_round_robin_retries_a_refused_endpoint_and_ejects_it():
    a, b = Backend(0), Backend(0)
    dead = h.free_port()  # nothing listens: connects are refused
    port = h.free_port()
    path = os.path.join(h.test_dir(), "tb.yaml")
    write_config(path, """
listeners:
  - name: main
    address: 127.0.0.1:%d
    routes:
      - name: all
        cluster: pool
clusters:
  - name: pool
    endpoints: [%s, 127.0.0.1:%d, %s]
    ejection: {consecutive_failures: 1, base: 30s, max: 60s}
""" % (port, a.hostport, dead, b.hostport))
    admin = h.free_port()
    p = FileProxy(path, port, args=["--admin", "127.0.0.1:%d" % admin])
    try:
        a.mark()
        b.mark()
        for i in range(30):
            h.status(get(port, "/rr/%d" % i), 200, "request %d through a pool with a dead endpoint" % i)
        got_a = len([e for e in a.requests() if e["target"].startswith("/rr/")])
        got_b = len([e for e in b.requests() if e["target"].startswith("/rr/")])
        h.eq(got_a + got_b, 30, "every request reached a live endpoint")
        h.true(abs(got_a - got_b) <= 2, "round-robin shares the load: a=%d b=%d" % (got_a, got_b))
        ejected = p.log_lines(event="endpoint_ejected")
        h.eq(len(ejected), 1, "the dead endpoint is ejected once for its back-off: %r" % ejected)
        h.eq(ejected[0].get("endpoint"), "127.0.0.1:%d" % dead, "the ejected endpoint")
        h.eq(metric(admin, 'tracebridge_upstream_ejections_total{cluster="pool"}'), 1.0,
             "the ejection is counted")
        h.eq(metric(admin, 'tracebridge_upstream_connect_errors_total{cluster="pool",reason="refused"}'),
             1.0, "one refused connect, then the endpoint sat out")
        h.eq(metric(admin, 'tracebridge_requests_total{listener="main",route="all",code_class="2xx"}'),
             30.0, "every request succeeded")
    finally:
        h.eq(p.stop(), 0, "exit status")
        a.stop()
        b.stop()


def test_per_route_propagation_role_and_span_name():
    be = Backend(0)
    port, out_port = h.free_port(), h.free_port()
    spans = os.path.join(h.test_dir(), "spans.jsonl")
    path = os.path.join(h.test_dir(), "tb.yaml")
    write_config(path, """
export:
  exporters: [file]
  file: {path: %s}
propagation:
  inject: [tracecontext]
listeners:
  - name: inbound
    address: 127.0.0.1:%d
    role: inbound
    routes:
      - name: legacy-b3
        match: {path_prefix: /legacy/}
        cluster: app
        propagation: {inject: [b3multi]}
      - name: modern
        cluster: app
  - name: outbound
    address: 127.0.0.1:%d
    role: outbound
    routes:
      - name: egress
        cluster: app
clusters:
%s""" % (spans, port, out_port, cluster_yaml("app", [be.hostport])))
    p = FileProxy(path, port)
    tp = [("traceparent", "00-%s-%s-01" % (TRACE, PARENT))]
    try:
        be.mark()
        h.status(get(port, "/legacy/x", headers=tp), 200)
        h.status(get(port, "/modern/x", headers=tp), 200)
        h.status(get(out_port, "/out/x", headers=tp), 200)
        reqs = {e["target"]: dict((n.lower(), v) for n, v in e["headers"]) for e in be.requests()}
        legacy, modern = reqs["/legacy/x"], reqs["/modern/x"]
        h.eq(legacy.get("x-b3-traceid"), TRACE, "legacy route gets B3")
        h.true("traceparent" not in legacy, "and no traceparent: %r" % legacy)
        h.true(modern.get("traceparent", "").startswith("00-%s-" % TRACE), "modern gets W3C")
        h.true("x-b3-traceid" not in modern, "and no B3")
    finally:
        h.eq(p.stop(), 0, "exit status")
        be.stop()
    lines = [json.loads(x) for x in open(spans).read().splitlines() if x.strip()]
    by_name = {s.get("name"): s for s in lines}
    h.true({"legacy-b3", "modern", "egress"} <= set(by_name), "route names name the spans: %r"
           % sorted(by_name))
    h.eq(by_name["egress"].get("kind"), "client", "outbound listener: CLIENT span")
    h.eq(by_name["modern"].get("kind"), "server", "inbound listener: SERVER span")


def _trust_proxy(trust, sampler):
    be = Backend(0)
    port = h.free_port()
    spans = os.path.join(h.test_dir(), "spans-%s.jsonl" % trust)
    path = os.path.join(h.test_dir(), "tb-%s.yaml" % trust)
    write_config(path, """
export:
  exporters: [file]
  file: {path: %s}
sampling: {sampler: %s}
listeners:
  - name: edge
    address: 127.0.0.1:%d
    trust: %s
    routes:
      - name: all
        cluster: app
clusters:
%s""" % (spans, sampler, port, trust, cluster_yaml("app", [be.hostport])))
    return be, port, spans, FileProxy(path, port)


def test_edge_trust_ignore_cannot_force_sampling():
    for trust, same_trace in (("trust", True), ("ignore", False)):
        be, port, _, p = _trust_proxy(trust, "parentbased_always_off")
        try:
            headers = [("traceparent", "00-%s-%s-01" % (TRACE, PARENT)), ("baggage", "user=x"),
                       ("X-B3-TraceId", TRACE), ("X-B3-SpanId", PARENT), ("X-B3-Sampled", "1")]
            h.status(get(port, "/t", headers=headers), 200)
            e = be.wait_request(lambda e: e["target"] == "/t")
            got = dict((n.lower(), v) for n, v in e["headers"])
            tp = got.get("traceparent", "")
            if same_trace:
                h.true(tp.startswith("00-%s-" % TRACE) and sampled(tp),
                       "trust: the caller's trace and decision continue: %r" % tp)
            else:
                h.true(TRACE not in tp and not sampled(tp),
                       "ignore: a new root the local sampler decides: %r" % tp)
                h.true("x-b3-traceid" not in got and "baggage" not in got,
                       "ignore: no incoming context header or baggage passes: %r" % got)
        finally:
            h.eq(p.stop(), 0, "exit status")
            be.stop()


def test_edge_trust_restart_and_link():
    be, port, spans, p = _trust_proxy("restart-and-link", "always_on")
    try:
        h.status(get(port, "/t", headers=[("traceparent", "00-%s-%s-00" % (TRACE, PARENT))]), 200)
        e = be.wait_request(lambda e: e["target"] == "/t")
        tp = dict((n.lower(), v) for n, v in e["headers"]).get("traceparent", "")
        h.true(TRACE not in tp and sampled(tp), "a new sampled root: %r" % tp)
    finally:
        h.eq(p.stop(), 0, "exit status")
        be.stop()
    span = json.loads(open(spans).read().splitlines()[0])
    h.true(span.get("trace_id") != TRACE, "the span is in the new trace")
    h.true(TRACE in json.dumps(span.get("links")) and PARENT in json.dumps(span.get("links")),
           "and links to the incoming context: %r" % span.get("links"))


def _reload_setup():
    a, b = Backend(0), Backend(0)
    port, port2 = h.free_port(), h.free_port()
    path = os.path.join(h.test_dir(), "tb.yaml")
    v1 = """
listeners:
  - name: main
    address: 127.0.0.1:%d
    routes:
      - name: all
        cluster: a
clusters:
%s""" % (port, cluster_yaml("a", [a.hostport]))
    v2 = """
listeners:
  - name: main
    address: 127.0.0.1:%d
    routes:
      - name: all
        cluster: b
  - name: extra
    address: 127.0.0.1:%d
    routes:
      - name: all
        cluster: a
clusters:
%s%s""" % (port, port2, cluster_yaml("a", [a.hostport]), cluster_yaml("b", [b.hostport]))
    write_config(path, v1)
    return a, b, port, port2, path, v1, v2


def _reloaded(p, n):
    h.wait_until(lambda: len(p.log_lines(event="config_reloaded")) >= n, 5.0,
                 "reload %d logged" % n)


def test_reload_switches_routes_adds_listener_and_finishes_in_flight_on_old():
    a, b, port, port2, path, v1, v2 = _reload_setup()
    p = FileProxy(path, port)
    try:
        h.true(client.connect_refused(("127.0.0.1", port2)), "no second listener yet")
        slow = client.Conn(("127.0.0.1", port), timeout=10)
        slow.send(client.build_request("GET", "/slow", [("X-Test-Delay-Head", "1.0")]))
        a.wait_request(lambda e: e["target"] == "/slow")
        write_config(path, v2)
        p.signal(signal.SIGHUP)
        _reloaded(p, 1)
        h.status(get(port, "/after"), 200, "request after the reload")
        b.wait_request(lambda e: e["target"] == "/after")
        h.status(get(port2, "/new-listener"), 200, "the new listener serves")
        a.wait_request(lambda e: e["target"] == "/new-listener")
        r = slow.read_final_response()
        h.status(r, 200, "the in-flight request finishes on the old route")
        slow.close()
        # Back to v1: the extra listener stops accepting.
        write_config(path, v1)
        p.signal(signal.SIGHUP)
        _reloaded(p, 2)
        h.wait_until(lambda: client.connect_refused(("127.0.0.1", port2)), 3.0,
                     "a removed listener stops accepting")
        h.status(get(port, "/back"), 200)
        a.wait_request(lambda e: e["target"] == "/back")
    finally:
        h.eq(p.stop(), 0, "exit status")
        a.stop()
        b.stop()


def test_reload_rejects_an_invalid_file_and_keeps_serving():
    a, b, port, _, path, _, _ = _reload_setup()
    p = FileProxy(path, port)
    try:
        write_config(path, "listeners: [ {name: main, address: 127.0.0.1:%d, routes: [ {cluster: nope} ] } ]\n" % port)
        p.signal(signal.SIGHUP)
        line = p.wait_log(event="config_reload_failed")[0]
        h.true("nope" in line.get("error", ""), "the log line says why: %r" % line)
        h.status(get(port, "/still"), 200, "the old configuration still serves")
        a.wait_request(lambda e: e["target"] == "/still")
        write_config(path, "listeners: {{{\n")
        p.signal(signal.SIGHUP)
        h.wait_until(lambda: len(p.log_lines(event="config_reload_failed")) >= 2, 5.0,
                     "a YAML syntax error is rejected too")
        h.status(get(port, "/still2"), 200)
    finally:
        h.eq(p.stop(), 0, "exit status")
        a.stop()
        b.stop()


class Load:
    """Requests in a loop from two threads (one keep-alive, one new connection
    per request) until stopped; records every failure."""

    def __init__(self, port):
        self.port = port
        self.ok = 0
        self.failures = []
        self.stopping = False
        self.threads = [threading.Thread(target=self._run, args=(k,)) for k in (True, False)]
        for t in self.threads:
            t.start()

    def _run(self, keepalive):
        c = None
        deadline = time.monotonic() + 30
        while not self.stopping and time.monotonic() < deadline:
            try:
                if c is None:
                    c = client.Conn(("127.0.0.1", self.port), timeout=5)
                r = c.request("GET", "/load")
                if r.status != 200:
                    self.failures.append("status %d" % r.status)
                else:
                    self.ok += 1
                if not keepalive or "close" in r.tokens("Connection"):
                    c.close()
                    c = None
            except (OSError, AssertionError) as e:
                if not self.stopping:
                    self.failures.append(repr(e))
                if c is not None:
                    c.close()
                c = None
        if c is not None:
            c.close()

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(10)


def test_reload_under_load_fails_no_request():
    a, b, port, _, path, v1, v2 = _reload_setup()
    p = FileProxy(path, port, args=["--workers", "2"])
    load = Load(port)
    try:
        for i in range(6):
            time.sleep(0.3)
            write_config(path, v2 if i % 2 == 0 else v1)
            p.signal(signal.SIGHUP)
            _reloaded(p, i + 1)
        time.sleep(0.3)
    finally:
        load.stop()
        h.eq(p.stop(), 0, "exit status")
        a.stop()
        b.stop()
    h.eq(load.failures, [], "no failed request during 6 reloads (%d succeeded)" % load.ok)
    h.true(load.ok > 50, "the load ran: %d requests" % load.ok)


def test_sigterm_sequence_with_shutdown_delay_under_load():
    a, _, port, _, path, _, _ = _reload_setup()
    admin = h.free_port()
    p = FileProxy(path, port, args=["--shutdown-delay", "1", "--drain-timeout", "5",
                                    "--admin", "127.0.0.1:%d" % admin])
    load = Load(port)

    def readyz():
        return get(admin, "/readyz").status

    try:
        h.eq(readyz(), 200, "ready while serving")
        time.sleep(0.3)
        slow = client.Conn(("127.0.0.1", port), timeout=10)
        slow.send(client.build_request("GET", "/slow", [("X-Test-Delay-Head", "1.5")]))
        a.wait_request(lambda e: e["target"] == "/slow")
        t0 = time.monotonic()
        p.signal(signal.SIGTERM)
        h.wait_until(lambda: readyz() == 503, 0.5, "/readyz answers 503 at once")
        time.sleep(0.5)
        ok_during_delay = load.ok
        time.sleep(0.2)
        h.true(load.ok > ok_during_delay, "requests still served during the delay")
        h.eq(load.failures, [], "no failure during the delay")
        h.true(not client.connect_refused(("127.0.0.1", port)), "still accepting in the delay")
        h.wait_until(lambda: client.connect_refused(("127.0.0.1", port)), 3.0,
                     "accepting stops after the delay")
        h.true(time.monotonic() - t0 >= 0.9, "not before the delay")
        r = slow.read_final_response()
        h.status(r, 200, "the in-flight request finishes")
        slow.close()
        load.stop()
        h.eq(p.wait_exit(10), 0, "exit status 0")
    finally:
        load.stop()
        p.stop()
        a.stop()
