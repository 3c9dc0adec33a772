# SPDX-License-Identifier: MIT
"""The access log (docs/access-log.md): one line per request that got a
parsed head, JSON by default or a template of $variables, to a file or to
standard output, unbuffered or buffered per worker.

The JSON lines are checked field by field against what is known of each
request: the ids the backend received in its traceparent (the hop's span
id is the parent the backend saw), the span the file exporter wrote for the
same hop, the client's own port, the bytes it sent and got, and the wall
clock around the exchange. Requests the proxy answered itself (502 refused,
400 bad chunk, a client that left) are logged with their reason code; a
head that does not parse gets no line. Buffered mode: lines wait for the
flush interval or a full buffer, and all of them are out after SIGTERM.
Two workers under concurrent load write whole lines only."""

import calendar
import json
import os
import random
import re
import signal
import threading
import time

from lib import harness as h
from lib import spans as S
from lib.client import Conn, build_request
from lib.harness import Stack

T1, P1 = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
B3_64, P2 = "a3ce929d0e0e4736", "b7ad6b7169203331"
# Not registry order on purpose: the log lists formats in injection order.
PROPAGATORS = ["--propagators", "b3multi,tracecontext"]
INJECTED = ["b3multi", "tracecontext"]
KEYS = ["time", "trace_id", "span_id", "parent_id", "sampled", "extracted", "injected", "listener",
        "route", "client", "method", "path", "protocol", "status", "duration_ms",
        "upstream_duration_ms", "bytes_received", "bytes_sent", "error", "upstream"]
TIME_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z")
HEX16 = re.compile(r"[0-9a-f]{16}")
HEX32 = re.compile(r"[0-9a-f]{32}")


def uses_running():
    if h.USE_RUNNING:
        raise h.Skip("needs its own proxy flags")


def log_path(name="access.log"):
    return os.path.join(h.test_dir(), name)


def tp(trace, parent, sampled=True):
    return ("traceparent", "00-%s-%s-%s" % (trace, parent, "01" if sampled else "00"))


# ------------------------------------------------------------------ reading


def raw_lines(data):
    """Complete lines of `data` (bytes); a cut last line is not returned."""
    return data.split(b"\n")[:-1]


def parse_lines(lines, where):
    out = []
    for n, line in enumerate(lines, 1):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise AssertionError("%s line %d is not one JSON object (%s): %r" % (where, n, e, line[:400]))
    return out


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def records(path):
    return parse_lines(raw_lines(read_bytes(path)), path)


def wait_records(path, count, timeout=5.0):
    return h.wait_until(lambda: (lambda r: r if len(r) >= count else None)(records(path)), timeout,
                        "%d access log lines in %s (have %d)" % (count, path, len(records(path))))


def time_ns(text, what):
    m = TIME_RE.fullmatch(text)
    if not m:
        raise AssertionError("%s: time %r is not RFC 3339 UTC with milliseconds" % (what, text))
    y, mo, d, hh, mi, ss, ms = (int(x) for x in m.groups())
    return (calendar.timegm((y, mo, d, hh, mi, ss)) * 1000 + ms) * 1000000


_schema = []


def doc_schema():
    """The JSON Schema of docs/access-log.md (the contract), parsed once."""
    if not _schema:
        with open(os.path.join(h.REPO_ROOT, "docs", "access-log.md"), encoding="utf-8") as f:
            m = re.search(r"### JSON Schema\n\n```json\n(.*?)```", f.read(), re.S)
        h.true(m is not None, "docs/access-log.md has a JSON Schema block")
        _schema.append(json.loads(m.group(1)))
    return _schema[0]


def check_against_doc(rec, what):
    """Each key's type and pattern as the documented schema says."""
    types = {"string": str, "boolean": bool, "array": list, "null": type(None),
             "integer": int, "number": (int, float)}
    sch = doc_schema()
    h.eq(sch["required"], KEYS, "the documented keys")
    for k, prop in sch["properties"].items():
        v = rec[k]
        allowed = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        ok = any(isinstance(v, types[t]) and not (t in ("integer", "number") and isinstance(v, bool))
                 for t in allowed)
        h.true(ok, "%s: %s=%r is not of the documented type %s" % (what, k, v, allowed))
        if "pattern" in prop:
            h.true(re.search(prop["pattern"], v), "%s: %s=%r does not match %s" % (what, k, v, prop["pattern"]))
        if "minimum" in prop and v is not None:
            h.true(v >= prop["minimum"], "%s: %s=%r below %r" % (what, k, v, prop["minimum"]))


def check_schema(rec, what):
    """The documented keys, in the documented order, with their types."""
    h.eq(list(rec.keys()), KEYS, "%s: keys and their order" % what)
    check_against_doc(rec, what)
    for k in ("trace_id", "span_id", "parent_id", "extracted", "listener", "route", "client", "method",
              "path", "protocol", "error"):
        h.true(isinstance(rec[k], str), "%s: %s is a string (%r)" % (what, k, rec[k]))
    for k in ("status", "bytes_received", "bytes_sent"):
        h.true(isinstance(rec[k], int) and not isinstance(rec[k], bool) and rec[k] >= 0,
               "%s: %s is a non-negative integer (%r)" % (what, k, rec[k]))
    h.true(isinstance(rec["sampled"], bool), "%s: sampled is a boolean" % what)
    h.true(isinstance(rec["injected"], list) and all(isinstance(x, str) for x in rec["injected"]),
           "%s: injected is a list of names (%r)" % (what, rec["injected"]))
    h.true(isinstance(rec["duration_ms"], float), "%s: duration_ms is a number with a fraction" % what)
    up = rec["upstream_duration_ms"]
    h.true(up is None or isinstance(up, float), "%s: upstream_duration_ms is a number or null" % what)
    h.true(up is None or up <= rec["duration_ms"], "%s: upstream duration %r within the total %r"
           % (what, up, rec["duration_ms"]))
    time_ns(rec["time"], what)


def check_hop(rec, hp, what):
    """A proxied request: the line against what the backend and client saw."""
    check_schema(rec, what)
    h.true(re.fullmatch(r"127\.0\.0\.1:[0-9]+", rec["upstream"]) is not None,
           "%s: the endpoint used (%r)" % (what, rec["upstream"]))
    S.diff_dict(rec, {
        "trace_id": hp.trace_id,       # the trace id the backend received
        "span_id": hp.span_id,         # the parent the backend received is the hop
        "sampled": hp.sampled,
        "injected": INJECTED,
        "listener": "main",
        "route": "default",
        "client": "127.0.0.1:%d" % hp.client_port,
        "status": hp.resp.status,
        "bytes_sent": hp.resp.body_len,
        "error": "",
    }, what)
    h.eq(hp.header("x-b3-traceid")[-len(hp.trace_id.lstrip("0")):], hp.trace_id.lstrip("0"),
         "%s: the injected b3 trace id is the logged one" % what)
    h.eq(hp.header("x-b3-spanid"), rec["span_id"], "%s: the injected b3 span id is the logged hop" % what)
    start = time_ns(rec["time"], what)
    # The log says milliseconds, cut: the request start is within [t0, t1].
    h.between(start, hp.t0 // 1000000 * 1000000, hp.t1, "%s: time (ns) within the exchange" % what)
    h.true(rec["duration_ms"] <= (hp.t1 - hp.t0) / 1e6 + 1.0,
           "%s: duration %.3f ms within the client's %.3f ms" % (what, rec["duration_ms"], (hp.t1 - hp.t0) / 1e6))
    h.true(rec["upstream_duration_ms"] is not None, "%s: the upstream was reached" % what)


# -------------------------------------------------------------------- tests


def test_json_lines_for_known_traffic():
    uses_running()
    path, spans = log_path(), log_path("spans.jsonl")
    args = PROPAGATORS + ["--access-log", path, "--exporter", "file", "--span-file", spans]
    with Stack(args=args, env=S.env()) as st:
        with st.conn() as c:
            child = S.hop(c, "GET", "/alog/one?q=1&r=%22", [tp(T1, P1)], what="child")
            root = S.hop(c, "POST", "/alog/two", [("Content-Type", "text/plain")], body=b"x" * 1234,
                         what="root")
            b3 = S.hop(c, "GET", "/alog/b3", [("b3", "%s-%s-1" % (B3_64, P2))], what="b3 64-bit")
            slow = S.hop(c, "GET", "/alog/slow", [("X-Test-Delay-Head", "0.3")], what="slow")
            esc = S.hop(c, "GET", '/alog/a"b\\c', what="escaped path")
        with st.conn() as c:
            old = S.hop(c, "GET", "/alog/old", version="HTTP/1.0", host="old.example", what="HTTP/1.0")
        recs = wait_records(path, 6)
        exported = S.wait_file(spans, 6)
    h.eq(len(records(path)), 6, "one line per request, none more after the proxy stopped")
    one, two, three, four, five, six = recs

    check_hop(one, child, "child")
    S.diff_dict(one, {"trace_id": T1, "parent_id": P1, "extracted": "tracecontext", "method": "GET",
                      "path": "/alog/one?q=1&r=%22", "protocol": "HTTP/1.1", "bytes_received": 0}, "child")

    check_hop(two, root, "root")
    h.true(HEX32.fullmatch(two["trace_id"]) and two["trace_id"] != "0" * 32, "root: a new 32-hex trace id")
    S.diff_dict(two, {"parent_id": "", "extracted": "", "method": "POST", "path": "/alog/two",
                      "bytes_received": 1234}, "root")

    # A 64-bit id is 32 hex digits, zero-padded, as in the span and traceparent.
    check_hop(three, b3, "b3")
    S.diff_dict(three, {"trace_id": "0" * 16 + B3_64, "parent_id": P2, "extracted": "b3"}, "b3")

    check_hop(four, slow, "slow")
    h.true(four["upstream_duration_ms"] >= 300.0,
           "slow: upstream duration %r covers the backend's 300 ms" % four["upstream_duration_ms"])
    h.true(four["duration_ms"] >= four["upstream_duration_ms"], "slow: total >= upstream")

    check_hop(five, esc, "escaped path")
    h.eq(five["path"], '/alog/a"b\\c', "escaped path: JSON gives back the bytes received")

    check_hop(six, old, "HTTP/1.0")
    h.eq(six["protocol"], "HTTP/1.0", "HTTP/1.0: protocol")

    # The log and the exported span name the same hop with the same ids.
    for rec in recs:
        span = S.find(exported, rec["span_id"], what="span of %s" % rec["path"])
        h.eq(span["trace_id"], rec["trace_id"], "%s: span trace id" % rec["path"])
        h.eq(span["parent_span_id"] or "", rec["parent_id"], "%s: span parent id" % rec["path"])


def test_requests_the_proxy_answered():
    uses_running()
    # 502: the upstream refuses. The hop had its ids before the connect.
    path = log_path("refused.log")
    with Stack(upstream="127.0.0.1:%d" % h.free_port(), backend=False,
               args=PROPAGATORS + ["--access-log", path, "--exporter", "none"]) as st:
        with st.conn(timeout=10) as c:
            port = c.sock.getsockname()[1]
            c.send(build_request("GET", "/refused", [tp(T1, P1)]))
            r = h.proxy_error(st, c, 502, "upstream_refused")
        rec, = wait_records(path, 1)
    check_schema(rec, "502")
    h.eq(rec["upstream_duration_ms"], None, "502: no upstream duration without an upstream")
    h.eq(rec["upstream"], "", "502: no endpoint carried the request")
    S.diff_dict(rec, {"status": 502, "error": "upstream_refused",
                      "trace_id": T1, "parent_id": P1, "extracted": "tracecontext", "injected": INJECTED,
                      "client": "127.0.0.1:%d" % port, "bytes_sent": r.body_len, "path": "/refused"}, "502")
    h.true(HEX16.fullmatch(rec["span_id"]), "502: the hop's span id is logged (%r)" % rec["span_id"])

    path = log_path("answered.log")
    with Stack(args=["--access-log", path, "--exporter", "none"]) as st:
        # 400 on a bad chunk: the head parsed and went upstream first.
        with st.conn(timeout=10) as c:
            c.send(build_request("POST", "/bad-chunk", [("Transfer-Encoding", "chunked")]) + b"zz\r\n")
            r = h.proxy_error(st, c, 400, "bad_chunk", method="POST")
        # A head that does not parse gets no line (nothing to say).
        with st.conn(timeout=10) as c:
            c.send(b"GET /two-hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            h.proxy_error(st, c, 400, "host_repeated")
        # The client leaves before the response: status 0, client_closed.
        with st.conn(timeout=10) as c:
            c.send(build_request("GET", "/left", [("X-Test-Delay-Head", "2")]))
            st.backend.wait_request(lambda e: e["target"] == "/left")
        recs = wait_records(path, 2)
        hp = S.get(st, "/after")
        recs = wait_records(path, 3)
    h.eq([x["path"] for x in recs], ["/bad-chunk", "/left", "/after"], "lines, one per parsed head")
    for rec in recs:
        check_schema(rec, rec["path"])
    S.diff_dict(recs[0], {"status": 400, "error": "bad_chunk", "method": "POST", "bytes_sent": r.body_len},
                "400")
    S.diff_dict(recs[1], {"status": 0, "error": "client_closed", "bytes_sent": 0}, "client left")
    S.diff_dict(recs[2], {"status": 200, "error": "", "span_id": hp.span_id}, "after")


def test_template():
    uses_running()
    path = log_path()
    tmpl = ('$method "$path" $status ${bytes_sent}B $$ trace=$trace_id parent=$parent_id '
            'up=$upstream_duration_ms inj=$injected ext=$extracted sampled=$sampled')
    with Stack(args=PROPAGATORS + ["--access-log", path, "--access-log-format", tmpl,
                                   "--exporter", "none"]) as st:
        with st.conn() as c:
            hp = S.hop(c, "GET", '/t/a"b\\c', [tp(T1, P1)])
        h.wait_until(lambda: read_bytes(path).endswith(b"\n"), 5, "a template line")
    lines = raw_lines(read_bytes(path))
    h.eq(len(lines), 1, "template lines")
    want = ('GET "/t/a\\"b\\\\c" 200 %dB $ trace=%s parent=%s up=' % (hp.resp.body_len, T1, P1))
    line = lines[0].decode("utf-8")
    h.true(line.startswith(want), "template line %r starts with %r" % (line, want))
    h.true(re.fullmatch(re.escape(want) + r"\d+\.\d{3} inj=b3multi,tracecontext ext=tracecontext "
                        r"sampled=true", line), "template line %r" % line)


def test_template_error_stops_startup():
    uses_running()
    base = ["--listen", "127.0.0.1:%d" % h.free_port(), "--upstream", "127.0.0.1:9",
            "--access-log", log_path()]
    rc, out, err = h.run_binary(base + ["--access-log-format", "$status $nope"], timeout=10)
    h.eq(rc, 2, "exit status for an unknown template variable")
    h.contains(err, "'$nope'", "the error names the variable")
    rc, out, err = h.run_binary(base + ["--access-log-format", "cost $ $status"], timeout=10)
    h.eq(rc, 2, "exit status for a lone $")
    h.contains(err, "write $$", "the error says how to write a $")
    missing = os.path.join(h.test_dir(), "no-such-dir", "a.log")
    rc, out, err = h.run_binary(base[:-1] + [missing], timeout=10)
    h.eq(rc, 1, "exit status for an access log that cannot be opened")
    h.contains(err, missing, "the error names the file")


def test_stdout():
    uses_running()
    with Stack(args=PROPAGATORS + ["--access-log", "-", "--exporter", "none"]) as st:
        with st.conn() as c:
            hops = [S.hop(c, "GET", "/out/%d" % i, [tp(T1, P1)]) for i in range(3)]

        def lines():
            return [l for l in raw_lines(st.proxy.log().encode()) if l.startswith(b"{")]
        h.wait_until(lambda: len(lines()) >= 3, 5, "3 access log lines on standard output")
    recs = parse_lines(lines(), "standard output")
    h.eq(len(recs), 3, "lines on standard output")
    for rec, hp in zip(recs, hops):
        check_hop(rec, hp, rec["path"])


@h.timeout(60)
def test_buffered_waits_for_the_flush_interval():
    uses_running()
    path = log_path()
    flush = 2.0
    with Stack(args=PROPAGATORS + ["--access-log", path, "--access-log-buffer", "64k",
                                   "--access-log-flush", str(flush), "--exporter", "none"]) as st:
        t0 = time.monotonic()
        with st.conn() as c:
            hops = [S.hop(c, "GET", "/buf/%d" % i) for i in range(3)]
        if time.monotonic() - t0 < flush * 0.75:
            h.eq(len(records(path)), 0, "lines buffered until the flush interval")
        recs = wait_records(path, 3, timeout=flush + 5)
        h.true(time.monotonic() - t0 >= flush * 0.95,
               "lines appeared after %.2f s, before the %.1f s interval" % (time.monotonic() - t0, flush))
        for rec, hp in zip(recs, hops):
            check_hop(rec, hp, rec["path"])
        # The next line arms the timer again.
        S.get(st, "/buf/again")
        wait_records(path, 4, timeout=flush + 5)


def test_buffered_lines_are_written_at_sigterm():
    uses_running()
    path = log_path()
    with Stack(args=["--access-log", path, "--access-log-buffer", "1m", "--access-log-flush", "600",
                     "--exporter", "none"]) as st:
        with st.conn() as c:
            for i in range(20):
                S.hop(c, "GET", "/term/%d" % i)
        h.eq(len(records(path)), 0, "nothing written before the buffer fills or the interval passes")
        st.proxy.signal(signal.SIGTERM)
        h.eq(st.proxy.wait_exit(10), 0, "exit status after SIGTERM")
        recs = records(path)
    h.eq([r["path"] for r in recs], ["/term/%d" % i for i in range(20)], "every line, in order, at exit")


def test_buffered_writes_when_the_buffer_fills():
    uses_running()
    path = log_path()
    with Stack(args=["--access-log", path, "--access-log-buffer", "4k", "--access-log-flush", "600",
                     "--exporter", "none"]) as st:
        with st.conn() as c:
            for i in range(20):
                S.hop(c, "GET", "/fill/%d/%s" % (i, "p" * 100))
        written = len(records(path))
        # About 600 bytes a line: a 4 KiB buffer holds a handful of them.
        h.true(8 <= written < 20, "%d of 20 lines written by full buffers, the rest still buffered" % written)
        h.true(read_bytes(path).endswith(b"\n"), "a full buffer writes whole lines")
    recs = records(path)
    h.eq([r["path"].split("/")[2] for r in recs], [str(i) for i in range(20)], "all lines after exit")


def _concurrent(args, what):
    uses_running()
    path = log_path()
    threads, per_thread = 4, 40
    sent = []
    errors = []
    lock = threading.Lock()
    with Stack(args=args + ["--access-log", path, "--exporter", "none"], workers=2) as st:
        def client(t):
            rng = random.Random(t)
            try:
                c = None
                for i in range(per_thread):
                    if i % 5 == 0:  # new connections spread over both workers
                        if c is not None:
                            c.close()
                        c = Conn(st.addr, timeout=20)
                    target = "/w/%d/%d/%s" % (t, i, "x" * rng.randint(500, 3000))
                    r = c.request("GET", target, [tp(T1, "%016x" % (t * 1000 + i + 1))])
                    h.status(r, 200, "%s: request %d/%d" % (what, t, i))
                    with lock:
                        sent.append(target)
                c.close()
            except Exception as e:  # reported by the main thread
                with lock:
                    errors.append("thread %d: %r" % (t, e))
        ts = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(50)
        h.eq(errors, [], "%s: client errors" % what)
    # Every line parses on its own and every request has exactly one line.
    recs = records(path)
    h.true(read_bytes(path).endswith(b"\n"), "%s: the file ends with a whole line" % what)
    h.eq(len(recs), threads * per_thread, "%s: one line per request" % what)
    h.eq(sorted(r["path"] for r in recs), sorted(sent), "%s: each request's own line" % what)
    for rec in recs:
        t, i = (int(x) for x in rec["path"].split("/")[2:4])
        h.eq(rec["parent_id"], "%016x" % (t * 1000 + i + 1), "%s: the parent of %s" % (what, rec["path"][:12]))
        h.eq(list(rec.keys()), KEYS, "%s: keys" % what)


@h.timeout(90)
def test_two_workers_lines_stay_whole():
    _concurrent([], "unbuffered")


@h.timeout(90)
def test_two_workers_buffered_lines_stay_whole():
    _concurrent(["--access-log-buffer", "16k", "--access-log-flush", "0.05"], "buffered")
