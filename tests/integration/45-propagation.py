# SPDX-License-Identifier: MIT
"""Trace-context propagation through the running proxy (docs/propagation.md,
/work/shared/protocols.md §1-§12, §16): every input format x every output
format, the hop's span id, sampling across formats, new roots, invalid
input, conflicts and precedence, replace/add/clear, baggage carriers,
tracestate and tracebridge's own member, a two-proxy SkyWalking round trip,
and OTEL_PROPAGATORS / flag validation.

Every assertion is about what the fake backend received (its JSON echo of
the request head), decoded here in Python from the wire formats; the hop's
own span id is read from the proxy's `--log-level debug` `event=hop` line."""

import base64
import hashlib
import re
import urllib.parse

from lib import harness as h
from lib.harness import Proxy, Stack

# Our tests define the environment: an OTEL_* variable in the caller's shell
# must not change the defaults under test.
CLEAN_ENV = {"OTEL_PROPAGATORS": None, "OTEL_SERVICE_NAME": None}

FORMATS = ["tracecontext", "b3", "b3multi", "jaeger", "xray", "ottrace", "datadog", "sw8",
           "eagleeye"]

# Header names (lower case) of each format, and the prefixes of baggage headers.
FORMAT_HEADERS = {
    "tracecontext": ("traceparent", "tracestate"),
    "baggage": ("baggage",),
    "b3": ("b3",),
    "b3multi": ("x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags"),
    "jaeger": ("uber-trace-id", "jaeger-debug-id", "jaeger-baggage"),
    "xray": ("x-amzn-trace-id",),
    "ottrace": ("ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled"),
    "datadog": ("x-datadog-trace-id", "x-datadog-parent-id", "x-datadog-sampling-priority",
                "x-datadog-origin", "x-datadog-tags"),
    "sw8": ("sw8", "sw8-x", "sw8-correlation"),
    "eagleeye": ("eagleeye-traceid", "eagleeye-rpcid", "eagleeye-spanid", "eagleeye-pspanid",
                 "eagleeye-sampled", "eagleeye-pappname", "eagleeye-prpc", "eagleeye-userdata"),
}
FORMAT_PREFIXES = {"jaeger": "uberctx-", "ottrace": "ot-baggage-"}
# The header(s) every injection of a format must contain exactly once.
MAIN_HEADERS = {
    "tracecontext": ("traceparent",),
    "b3": ("b3",),
    "b3multi": ("x-b3-traceid", "x-b3-spanid"),
    "jaeger": ("uber-trace-id",),
    "xray": ("x-amzn-trace-id",),
    "ottrace": ("ot-tracer-traceid", "ot-tracer-spanid"),
    "datadog": ("x-datadog-trace-id", "x-datadog-parent-id"),
    "sw8": ("sw8",),
    "eagleeye": ("eagleeye-traceid",),
}

HEX = re.compile(r"[0-9a-f]+\Z")


def format_of(name):
    """The format a header belongs to (by its name), or None."""
    n = name.lower()
    for f, names in FORMAT_HEADERS.items():
        if n in names:
            return f
    for f, prefix in FORMAT_PREFIXES.items():
        if n.startswith(prefix) and len(n) > len(prefix):
            return f
    return None


def ids_for(key):
    """A deterministic 128-bit trace id and 64-bit span id for a case name,
    neither half zero (Datadog needs a non-zero _dd.p.tid and lower half)."""
    d = hashlib.sha256(("tracebridge-itest:" + key).encode()).hexdigest()
    t, p = d[:32], d[32:48]
    assert int(t[:16], 16) and int(t[16:], 16) and int(p, 16)
    return t, p


def b64(s):
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def unb64(s, what):
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as e:
        raise AssertionError("%s: %r is not base64 of UTF-8 (%s)" % (what, s, e))


def unb64url(s, what):
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as e:
        raise AssertionError("%s: %r is not base64url of UTF-8 (%s)" % (what, s, e))


# SkyWalking id mapping (§8.4, self-checked against §16 vectors 43-48 when
# lib/sw.py loads) and sw8 values.
from lib.sw import (segment_id_to_span_id, sw8_value, sw_string_to_uuid,  # noqa: E402,F401
                    sw_trace_id_map, sw_trace_id_to_trace_id)


# protocols.md §16 vector 47: a Java-agent sw8.
V47_SW8 = ("1-ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ==-"
           "ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMA==-2-"
           "c3ZjLWE=-aW5zdC1hQDEwLjAuMC41-L2EvZ2V0-MTAuMC4wLjY6ODA4MA==")
V47_TRACE = "de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001"
V47_W3C_TRACE = "de5980b8fde34a371be41bcd5e2fd4dd"
V47_W3C_PARENT = "c6bd9b75a3cc9eea"


# ------------------------------------------------------------ input headers


def headers_in(fmt, trace, parent, sampled=True):
    """What a caller speaking `fmt` sends for (trace, parent, sampled)."""
    s = "1" if sampled else "0"
    if fmt == "tracecontext":
        return [("traceparent", "00-%s-%s-%s" % (trace, parent, "01" if sampled else "00"))]
    if fmt == "b3":
        return [("b3", "%s-%s-%s" % (trace, parent, s))]
    if fmt == "b3multi":
        return [("X-B3-TraceId", trace), ("X-B3-SpanId", parent), ("X-B3-Sampled", s)]
    if fmt == "jaeger":
        return [("uber-trace-id", "%s:%s:0:%s" % (trace, parent, s))]
    if fmt == "xray":
        return [("X-Amzn-Trace-Id", "Root=1-%s-%s;Parent=%s;Sampled=%s" % (trace[:8], trace[8:], parent, s))]
    if fmt == "ottrace":
        return [("ot-tracer-traceid", trace), ("ot-tracer-spanid", parent),
                ("ot-tracer-sampled", "true" if sampled else "false")]
    if fmt == "datadog":
        return [("x-datadog-trace-id", str(int(trace[16:], 16))),
                ("x-datadog-parent-id", str(int(parent, 16))),
                ("x-datadog-sampling-priority", s), ("x-datadog-tags", "_dd.p.tid=" + trace[:16])]
    if fmt == "sw8":
        # §8.5: a 32-hex trace id maps to itself; segment = parent + 16 zeros,
        # span 0, maps back to exactly `parent`.
        return [("sw8", sw8_value(s, trace, parent + "0" * 16, 0, "svc-in", "svc-in-1@10.9.9.9",
                                  "GET:/caller", "proxy:8080"))]
    if fmt == "eagleeye":
        return eagleeye_in(trace, parent, sampled)
    raise ValueError(fmt)


def java_long(span_hex):
    """A 64-bit span id as the signed decimal Java long EagleEye agents send."""
    v = int(span_hex, 16)
    return str(v - (1 << 64) if v >> 63 else v)


def from_java_long(s):
    v = int(s)
    if not -(1 << 63) <= v < (1 << 63) or v == 0:
        raise ValueError(s)
    return "%016x" % (v & 0xffffffffffffffff)


def eagleeye_in(trace, parent, sampled):
    return [("EagleEye-TraceId", trace), ("EagleEye-SpanId", java_long(parent)), ("EagleEye-RpcId", "0.1"),
            ("EagleEye-Sampled", "s1" if sampled else "s0")]


# ------------------------------------------------------------- the echo


class Echo:
    """What the backend received for one request."""

    def __init__(self, resp, what):
        h.status(resp, 200, "%s: response status" % what)
        self.what = what
        self.e = resp.json()
        self.headers = [(n, v) for n, v in self.e["headers"]]

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def one(self, name):
        vals = self.all(name)
        if len(vals) != 1:
            raise AssertionError("%s: expected exactly one %s header downstream, got %r\n  context "
                                 "headers downstream: %r" % (self.what, name, vals, self.ctx()))
        return vals[0]

    def opt(self, name):
        vals = self.all(name)
        if len(vals) > 1:
            raise AssertionError("%s: %d %s headers downstream (a stale copy?): %r"
                                 % (self.what, len(vals), name, vals))
        return vals[0] if vals else None

    def ctx(self):
        """The trace-context headers downstream, (name as sent, value), in order."""
        return [(n, v) for n, v in self.headers if format_of(n)]

    def ctx_formats(self):
        return {format_of(n) for n, _ in self.ctx()}

    def prefixed(self, prefix):
        return [(n.lower()[len(prefix):], v) for n, v in self.headers if n.lower().startswith(prefix)]


def fail(what, msg, echo=None):
    extra = "\n  context headers downstream: %r" % (echo.ctx(),) if echo is not None else ""
    raise AssertionError("%s: %s%s" % (what, msg, extra))


def expect(cond, what, msg, echo=None):
    if not cond:
        fail(what, msg, echo)


# ----------------------------------------------------- output decoders
# Each returns a dict with "trace" (32 hex, left-padded when the format
# carried 64 bits), "parent" (16 hex: the span the downstream must use as its
# parent, i.e. the hop), "sampling" (accept/deny/defer/debug, or for
# two-state formats sampled/unsampled) and format details.

def out_tracecontext(ec):
    tp = ec.one("traceparent")
    m = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})", tp)
    expect(m, ec.what, "traceparent %r is not a valid version-00 header (lower-case hex)" % tp, ec)
    flags = int(m.group(3), 16)
    expect(flags & ~3 == 0, ec.what, "traceparent %r: flags other than sampled/random emitted" % tp, ec)
    return {"trace": m.group(1), "parent": m.group(2), "flags": flags,
            "sampling": "sampled" if flags & 1 else "unsampled", "tracestate": ec.all("tracestate")}


def out_b3(ec):
    v = ec.one("b3")
    m = re.fullmatch(r"([0-9a-f]{32}|[0-9a-f]{16})-([0-9a-f]{16})(?:-([01d])(?:-([0-9a-f]{16}))?)?", v)
    expect(m, ec.what, "b3 %r does not match the single-header grammar (§3.2)" % v, ec)
    state = {"1": "accept", "0": "deny", "d": "debug", None: "defer"}[m.group(3)]
    return {"trace": m.group(1).rjust(32, "0"), "raw_trace": m.group(1), "parent": m.group(2),
            "sampling": state, "b3_parent": m.group(4)}


def out_b3multi(ec):
    t, s = ec.one("x-b3-traceid"), ec.one("x-b3-spanid")
    expect(re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{16}", t), ec.what, "X-B3-TraceId %r" % t, ec)
    expect(re.fullmatch(r"[0-9a-f]{16}", s), ec.what, "X-B3-SpanId %r" % s, ec)
    sampled, flags, parent = ec.opt("x-b3-sampled"), ec.opt("x-b3-flags"), ec.opt("x-b3-parentspanid")
    expect(sampled in (None, "0", "1"), ec.what, "X-B3-Sampled %r" % sampled, ec)
    expect(flags in (None, "1"), ec.what, "X-B3-Flags %r" % flags, ec)
    if flags == "1":
        expect(sampled in (None, "1"), ec.what, "X-B3-Flags: 1 with X-B3-Sampled %r" % sampled, ec)
        state = "debug"
    else:
        state = {"1": "accept", "0": "deny", None: "defer"}[sampled]
    return {"trace": t.rjust(32, "0"), "raw_trace": t, "parent": s, "sampling": state, "b3_parent": parent}


def out_jaeger(ec):
    v = ec.one("uber-trace-id")
    m = re.fullmatch(r"([0-9a-f]{16}|[0-9a-f]{32}):([0-9a-f]{16}):([0-9a-f]+):([0-9a-f]{1,2})", v)
    expect(m, ec.what, "uber-trace-id %r is not trace:span:parent:flags with 16/32 and 16 lower-case "
           "hex ids" % v, ec)
    expect(m.group(3) == "0", ec.what, "uber-trace-id %r: the deprecated parent field must be 0" % v, ec)
    expect(m.group(4) in ("0", "1", "3"), ec.what, "uber-trace-id %r: flags must be 0, 1 or 3 (§4)" % v, ec)
    state = {"0": "unsampled", "1": "accept", "3": "debug"}[m.group(4)]
    return {"trace": m.group(1).rjust(32, "0"), "raw_trace": m.group(1), "parent": m.group(2),
            "sampling": state, "flags": m.group(4)}


def out_xray(ec):
    v = ec.one("x-amzn-trace-id")
    fields = [p.split("=", 1) for p in v.split(";")]
    expect(all(len(f) == 2 for f in fields), ec.what, "X-Amzn-Trace-Id %r: a part without '='" % v, ec)
    d = {}
    for k, val in fields:
        expect(k not in d, ec.what, "X-Amzn-Trace-Id %r: %s twice" % (v, k), ec)
        d[k] = val
    root = re.fullmatch(r"1-([0-9a-f]{8})-([0-9a-f]{24})", d.get("Root", ""))
    expect(root, ec.what, "X-Amzn-Trace-Id %r: Root is not 1-<8 hex>-<24 hex>" % v, ec)
    expect(re.fullmatch(r"[0-9a-f]{16}", d.get("Parent", "")), ec.what,
           "X-Amzn-Trace-Id %r: Parent is not 16 hex" % v, ec)
    expect(d.get("Sampled") in ("0", "1", "?"), ec.what, "X-Amzn-Trace-Id %r: Sampled must be 0, 1 or ?" % v, ec)
    expect(list(d)[:3] == ["Root", "Parent", "Sampled"], ec.what,
           "X-Amzn-Trace-Id %r: expected Root;Parent;Sampled first (§6 inject)" % v, ec)
    state = {"1": "sampled", "0": "deny", "?": "defer"}[d["Sampled"]]
    return {"trace": root.group(1) + root.group(2), "parent": d["Parent"], "sampling": state,
            "fields": d, "raw": v}


def out_ottrace(ec):
    t, s, smp = ec.one("ot-tracer-traceid"), ec.one("ot-tracer-spanid"), ec.opt("ot-tracer-sampled")
    expect(re.fullmatch(r"[0-9a-f]{16}", t), ec.what,
           "ot-tracer-traceid %r: OT injects the right-most 16 hex digits (§5)" % t, ec)
    expect(re.fullmatch(r"[0-9a-f]{16}", s), ec.what, "ot-tracer-spanid %r" % s, ec)
    expect(smp in ("true", "false", None), ec.what, "ot-tracer-sampled %r" % smp, ec)
    return {"trace": t.rjust(32, "0"), "raw_trace": t, "parent": s,
            "sampling": "sampled" if smp == "true" else "unsampled"}


def out_datadog(ec):
    t, p = ec.one("x-datadog-trace-id"), ec.one("x-datadog-parent-id")
    expect(re.fullmatch(r"[1-9][0-9]{0,19}", t) and int(t) < 2 ** 64, ec.what,
           "x-datadog-trace-id %r is not a non-zero decimal uint64" % t, ec)
    expect(re.fullmatch(r"[1-9][0-9]{0,19}", p) and int(p) < 2 ** 64, ec.what,
           "x-datadog-parent-id %r is not a non-zero decimal uint64" % p, ec)
    tags = ec.opt("x-datadog-tags")
    tag_map = {}
    if tags is not None:
        for item in tags.split(","):
            k, eq_, v = item.partition("=")
            expect(eq_ and k.startswith("_dd.p."), ec.what, "x-datadog-tags %r: bad item %r" % (tags, item), ec)
            tag_map[k] = v
    tid = tag_map.get("_dd.p.tid")
    if tid is not None:
        expect(re.fullmatch(r"[0-9a-f]{16}", tid) and int(tid, 16), ec.what,
               "_dd.p.tid %r is not 16 lower-case hex, non-zero" % tid, ec)
    prio = ec.opt("x-datadog-sampling-priority")
    expect(prio is None or re.fullmatch(r"-?[0-9]+", prio), ec.what, "sampling priority %r" % prio, ec)
    if prio is None:
        state = "defer"
    else:
        state = {"-1": "deny", "0": "deny", "1": "accept", "2": "debug"}.get(prio, "?" + prio)
    return {"trace": (tid or "0" * 16) + "%016x" % int(t), "parent": "%016x" % int(p),
            "sampling": state, "priority": prio, "tags": tag_map, "tid": tid}


def out_sw8(ec):
    v = ec.one("sw8")
    f = v.split("-")
    expect(len(f) == 8, ec.what, "sw8 %r: %d fields, expected 8" % (v, len(f)), ec)
    expect(f[0] in ("0", "1"), ec.what, "sw8 %r: sample field %r" % (v, f[0]), ec)
    expect(re.fullmatch(r"(0|[1-9][0-9]*)", f[3]), ec.what, "sw8 %r: parent span id %r" % (v, f[3]), ec)
    names = ["trace id", "segment", None, "service", "instance", "endpoint", "target"]
    dec = {}
    for i, name in enumerate(names, start=1):
        if name is None:
            continue
        expect(f[i] != "", ec.what, "sw8 %r: empty %s field" % (v, name), ec)
        expect(re.fullmatch(r"[A-Za-z0-9+/]+=*", f[i]), ec.what,
               "sw8 %r: %s field is not standard base64" % (v, name), ec)
        dec[name] = unb64(f[i], "%s: sw8 %s" % (ec.what, name))
    trace, hashed = sw_trace_id_map(dec["trace id"])
    return {"trace": trace, "hashed": hashed, "sw_trace": dec["trace id"], "segment": dec["segment"],
            "span": int(f[3]), "parent": segment_id_to_span_id(dec["segment"], int(f[3])),
            "service": dec["service"], "instance": dec["instance"], "endpoint": dec["endpoint"],
            "target": dec["target"], "sample": f[0], "sampling": "sampled" if f[0] == "1" else "unsampled",
            "raw": v}


def out_eagleeye(ec):
    t, s = ec.one("eagleeye-traceid"), ec.one("eagleeye-spanid")
    expect(re.fullmatch(r"[0-9a-fA-F]{1,32}", t), ec.what,
           "EagleEye-TraceId %r is not hex (this test only sends hex ids)" % t, ec)
    try:
        span = from_java_long(s)
    except ValueError:
        fail(ec.what, "EagleEye-SpanId %r is not a non-zero signed decimal Java long" % s, ec)
    smp = ec.opt("eagleeye-sampled")
    expect(smp in (None, "s1", "s0"), ec.what, "EagleEye-Sampled %r" % smp, ec)
    return {"trace": t.lower().rjust(32, "0"), "raw_trace": t, "parent": span,
            "sampling": {"s1": "sampled", "s0": "deny", None: "defer"}[smp],
            "rpc": ec.opt("eagleeye-rpcid"), "pspan": ec.opt("eagleeye-pspanid"),
            "app": ec.opt("eagleeye-pappname")}


DECODERS = {"tracecontext": out_tracecontext, "b3": out_b3, "b3multi": out_b3multi, "jaeger": out_jaeger,
            "xray": out_xray, "ottrace": out_ottrace, "datadog": out_datadog, "sw8": out_sw8,
            "eagleeye": out_eagleeye}


def decode_out(fmt, ec):
    return DECODERS[fmt](ec)


def expected_trace(fmt, trace):
    """The trace id as `fmt` must carry 128-bit `trace` downstream (padded to 32)."""
    if fmt == "ottrace":
        return "0" * 16 + trace[16:]  # §5: right-most 16 hex digits
    return trace


def check_ids(fmt, ec, trace, hop, what):
    """`fmt` downstream names `trace` (mapped per §12) and the hop as parent."""
    d = decode_out(fmt, ec)
    want = expected_trace(fmt, trace)
    expect(d["trace"] == want, what, "%s trace id downstream: expected %s, got %s" % (fmt, want, d["trace"]), ec)
    if fmt == "datadog":
        expect(ec.one("x-datadog-trace-id") == str(int(trace[16:], 16)), what,
               "x-datadog-trace-id must be the decimal lower 64 bits %d" % int(trace[16:], 16), ec)
        tid = trace[:16] if int(trace[:16], 16) else None  # no tid for a 64-bit id
        expect(d["tid"] == tid, what, "_dd.p.tid: expected %r, got %r" % (tid, d["tid"]), ec)
    if fmt == "xray":
        expect(d["fields"]["Root"] == "1-%s-%s" % (trace[:8], trace[8:]), what,
               "X-Ray Root must split the trace id 8/24 (§6)", ec)
    if fmt == "sw8":
        expect(d["sw_trace"] == trace, what, "sw8 trace id for a W3C trace: the 32-hex id as a literal "
               "(§8.5), expected %r, got %r" % (trace, d["sw_trace"]), ec)
    if fmt in ("b3", "b3multi"):
        expect(d["b3_parent"] is None, what, "%s: ParentSpanId is never written (docs/formats/b3.md), "
               "got %r" % (fmt, d["b3_parent"]), ec)
    expect(d["parent"] == hop, what, "%s parent downstream: expected the hop's span %s, got %s"
           % (fmt, hop, d["parent"]), ec)
    return d


def check_only(ec, formats, what):
    """Replace mode: every context header downstream belongs to `formats`,
    each format's main headers appear exactly once, no name repeats, and
    the injected names are lower case."""
    formats = set(formats)
    seen = {}
    for n, v in ec.ctx():
        f = format_of(n)
        expect(f in formats, what, "header %s: %r of format %s downstream, but only %s may be sent"
               % (n, v, f, sorted(formats)), ec)
        expect(n == n.lower(), what, "injected header name %r is not lower case" % n, ec)
        seen[n.lower()] = seen.get(n.lower(), 0) + 1
    dups = {n: c for n, c in seen.items() if c > 1}
    expect(not dups, what, "context headers repeated downstream (stale copies?): %r" % dups, ec)
    for f in formats:
        for name in MAIN_HEADERS.get(f, ()):
            expect(seen.get(name) == 1, what, "%s header %s missing downstream" % (f, name), ec)


# ------------------------------------------------------------- plumbing


def hop_line(proxy, trace):
    """The proxy's `event=hop` debug line for the request of trace `trace`."""
    lines = h.wait_until(lambda: proxy.log_lines(event="hop", trace_id=trace), 5.0,
                         "an event=hop log line with trace_id=%s" % trace)
    if len(lines) != 1:
        raise AssertionError("%d event=hop lines for trace %s: %r" % (len(lines), trace, lines))
    return lines[0]


def hop_lines(proxy):
    return proxy.log_lines(event="hop")


def send(c, headers, what, target="/prop", method="GET"):
    return Echo(c.request(method, target, list(headers) + [("X-Case", what)]), what)


class ExtraProxies:
    """More proxies for one test (a chain, or one per option set), stopped on
    exit; each must exit 0 like the Stack's own."""

    def __init__(self):
        self.procs = []

    def add(self, upstream, args, env=CLEAN_ENV):
        p = Proxy(upstream, args, env=env)
        self.procs.append(p)
        return p

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        failure = None
        for p in self.procs:
            status = p.stop()
            try:
                p.check_exit(status)
            except AssertionError as e:
                failure = failure or e
        if failure is not None and exc_type is None:
            raise failure
        return False


def uses_running():
    if h.USE_RUNNING:
        raise h.Skip("needs its own proxies and flags")


def dedupe(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


# ================================================================== tests


@h.timeout(120)
def test_matrix_every_input_to_every_output():
    """9 x 9: for each output O a proxy with --propagators tracecontext,b3multi,O;
    for each input I one request on one keep-alive connection."""
    uses_running()
    failures = []
    with Stack(args=["--propagators", "tracecontext", "--log-level", "debug"], env=CLEAN_ENV) as st, \
            ExtraProxies() as extra:
        proxies = {}
        for out in FORMATS:
            lst = dedupe(["tracecontext", "b3multi", out])
            proxies[out] = (extra.add(st.backend.hostport, ["--propagators", ",".join(lst),
                                                             "--log-level", "debug",
                                                             "--service-name", "matrix-svc",
                                                             "--service-instance", "matrix-1@127.0.0.1"]),
                            lst)
        for out in FORMATS:
            proxy, lst = proxies[out]
            with h.client.Conn(proxy.addr) as c:
                for fin in FORMATS:
                    what = "%s -> %s (--propagators %s)" % (fin, out, ",".join(lst))
                    trace, parent = ids_for(what)
                    try:
                        ec = send(c, headers_in(fin, trace, parent) + [("X-Keep", "kept")], what,
                                  target="/m/%s/%s?q=1" % (fin, out))
                        _check_matrix_case(proxy, ec, fin, out, lst, trace, parent, st, what)
                    except AssertionError as e:
                        failures.append(str(e))
    if failures:
        raise AssertionError("%d of %d in x out cases failed:\n%s"
                             % (len(failures), len(FORMATS) ** 2, "\n".join(failures[:40])))


def _check_matrix_case(proxy, ec, fin, out, lst, trace, parent, st, what):
    tc = out_tracecontext(ec)
    hop = tc["parent"]
    line = hop_line(proxy, trace) if tc["trace"] == trace else None
    expect(tc["trace"] == trace, what, "traceparent trace id: expected the incoming %s, got %s "
           "(the trace was restarted)" % (trace, tc["trace"]), ec)
    expect(line.get("span_id") == hop, what, "traceparent parent %s is not the hop's span id %s (log %r)"
           % (hop, line.get("span_id"), line), ec)
    expect(line.get("parent_id") == parent, what, "the hop's parent (log) is %s, expected the incoming "
           "span %s" % (line.get("parent_id"), parent), ec)
    # The b3 codec also reads X-B3-* (its fallback) and precedes b3multi.
    winner = "b3" if fin == "b3multi" else fin
    expect(line.get("extracted") == winner, what, "the winning format (log extracted=) is %r, expected %r"
           % (line.get("extracted"), winner), ec)
    expect(hop != parent, what, "the hop reused the incoming span id %s" % parent, ec)
    expect(tc["flags"] & 1, what, "a sampled input must stay sampled (traceparent %r)" % ec.one("traceparent"), ec)
    for f in dedupe(["b3multi", out]):
        d = check_ids(f, ec, trace, hop, what)
        if f == "eagleeye":
            # docs/formats/eagleeye.md: pSpanId = the hop's parent; the call
            # upstream is the first child of the incoming RpcId (0.1 -> 0.1.1).
            want = (java_long(parent), "0.1.1" if fin == "eagleeye" else "0.1", "matrix-svc", "s1")
            expect((d["pspan"], d["rpc"], d["app"], ec.opt("eagleeye-sampled")) == want, what,
                   "EagleEye pSpanId/RpcId/pAppName/Sampled: expected %r, got %r"
                   % (want, (d["pspan"], d["rpc"], d["app"], ec.opt("eagleeye-sampled"))), ec)
        if f == "sw8":
            expect((d["service"], d["instance"], d["endpoint"], d["target"], d["sample"])
                   == ("matrix-svc", "matrix-1@127.0.0.1", "GET:/m/%s/%s" % (fin, out), st.backend.hostport, "1"),
                   what, "sw8 service/instance/endpoint/target/sample: got %r"
                   % ((d["service"], d["instance"], d["endpoint"], d["target"], d["sample"]),), ec)
    check_only(ec, lst, what)
    expect(ec.one("x-keep") == "kept", what, "a non-context header was lost", ec)


@h.timeout(60)
def test_64_bit_ids_and_id_mappings():
    """64-bit inputs are left-padded (§12.1) and the width is remembered;
    Datadog decimal + _dd.p.tid (vectors 40-42); X-Ray epoch split (36);
    Jaeger short and URL-encoded ids (29, 32)."""
    uses_running()
    T64 = "a3ce929d0e0e4736"
    P = "00f067aa0ba902b7"
    cases = [
        ("b3 64-bit", [("b3", "%s-%s-1" % (T64, P))], "0" * 16 + T64, P),
        ("b3multi 64-bit", [("X-B3-TraceId", "b3ce929d0e0e4736"), ("X-B3-SpanId", P), ("X-B3-Sampled", "1")],
         "0" * 16 + "b3ce929d0e0e4736", P),
        ("jaeger 15 hex (vector 29)", [("uber-trace-id", "3ce929d0e0e4736:%s:0:1" % P)],
         "000000000000000003ce929d0e0e4736", P),
        ("jaeger URL-encoded (vector 32)", [("uber-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736%3A" + P + "%3A0%3A1")],
         "4bf92f3577b34da6a3ce929d0e0e4736", P),
        ("ottrace 64-bit (vector 34)", [("ot-tracer-traceid", "c3ce929d0e0e4736"), ("ot-tracer-spanid", P),
                                        ("ot-tracer-sampled", "true")], "0" * 16 + "c3ce929d0e0e4736", P),
        ("datadog 128-bit (vector 40)", [("x-datadog-trace-id", "1234567890123456789"),
                                         ("x-datadog-parent-id", "987654321"),
                                         ("x-datadog-tags", "_dd.p.tid=640cfd8d00000000")],
         "640cfd8d00000000112210f47de98115", "000000003ade68b1"),
        ("datadog bad tid (vector 42)", [("x-datadog-trace-id", "1234567890123456789"),
                                         ("x-datadog-parent-id", "987654321"),
                                         ("x-datadog-tags", "_dd.p.tid=XXXXXXXXXXXXXXXX")],
         "0000000000000000112210f47de98115", "000000003ade68b1"),
        ("xray (vector 36)", [("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;"
                                                  "Parent=53995c3f42cd8ad8;Sampled=1")],
         "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"),
        ("sw8 vector 47", [("sw8", V47_SW8)], V47_W3C_TRACE, V47_W3C_PARENT),
        ("sw8 UUID with dashes (vector 43)",
         [("sw8", sw8_value(1, "de5980b8-fce3-4a37-aab9-b4ac3af7eedd", "4f2f27748b8e44ecaf18fe0347194e86", 123,
                            "a", "b", "c", "d"))],
         "de5980b8fce34a37aab9b4ac3af7eedd", "9b37d977cc970a6a"),
        ("eagleeye (vector 57)", [("EagleEye-TraceId", "eac0a8020216868084400006973d000a"),
                                  ("EagleEye-SpanId", java_long("80f067aa0ba902b7")), ("EagleEye-RpcId", "0.1")],
         "eac0a8020216868084400006973d000a", "80f067aa0ba902b7"),
    ]
    lst = "tracecontext,datadog,xray,b3multi"
    with Stack(args=["--propagators", lst, "--log-level", "debug"], env=CLEAN_ENV) as st, st.conn() as c:
        for name, hdrs, trace, parent in cases:
            ec = send(c, hdrs, name)
            tc = out_tracecontext(ec)
            expect(tc["trace"] == trace, name, "trace id downstream: expected %s, got %s" % (trace, tc["trace"]), ec)
            line = hop_line(st.proxy, trace)
            if parent is not None:
                expect(line.get("parent_id") == parent, name, "the hop's parent: expected %s, got %s"
                       % (parent, line.get("parent_id")), ec)
            hop = tc["parent"]
            for f in ("datadog", "xray", "b3multi"):
                check_ids(f, ec, trace, hop, name)
            if trace.startswith("0" * 16):
                expect(not (tc["flags"] & 2), name, "random flag set on a trace id padded from 64 bits "
                       "(§1.3: MUST be 0)", ec)
                expect(decode_out("datadog", ec)["tid"] is None, name,
                       "_dd.p.tid sent for a 64-bit trace id (upper half zero)", ec)
            check_only(ec, lst.split(","), name)
        # Datadog re-injection of vector 40 keeps the decimal id and the tid.
        ec = send(c, cases[5][1], "datadog re-injection")
        expect(ec.one("x-datadog-trace-id") == "1234567890123456789", ec.what, "decimal trace id kept", ec)
        expect(decode_out("datadog", ec)["tid"] == "640cfd8d00000000", ec.what, "_dd.p.tid kept", ec)


@h.timeout(60)
def test_trace_id_without_parent_continues():
    """X-Ray Root without Parent (a load balancer) and Datadog Synthetics
    without a parent id: the trace continues and the hop is its root span."""
    uses_running()
    T, _ = ids_for("no-parent-xray")
    T2, _ = ids_for("no-parent-dd")
    with Stack(args=["--propagators", "tracecontext,xray", "--log-level", "debug"], env=CLEAN_ENV) as st, \
            st.conn() as c:
        ec = send(c, [("X-Amzn-Trace-Id", "Root=1-%s-%s;Sampled=1;Self=1-%s-%s" % (T[:8], T[8:], T[:8], T2[8:]))],
                  "X-Ray Root without Parent")
        tc = out_tracecontext(ec)
        expect(tc["trace"] == T, ec.what, "the load balancer's trace id continues", ec)
        line = hop_line(st.proxy, T)
        expect((line.get("parent_id"), line.get("span_id")) == ("-", tc["parent"]), ec.what,
               "the hop is the trace's first span (log %r)" % line, ec)
        x = out_xray(ec)
        expect(x["raw"] == "Root=1-%s-%s;Parent=%s;Sampled=1;Self=1-%s-%s" % (T[:8], T[8:], tc["parent"], T[:8], T2[8:]),
               ec.what, "X-Ray out: Root, the hop as Parent, Sampled, then Self kept verbatim: %r" % x["raw"], ec)
        ec = send(c, [("x-datadog-trace-id", str(int(T2[16:], 16))), ("x-datadog-origin", "synthetics"),
                      ("x-datadog-sampling-priority", "1")], "Datadog Synthetics without parent")
        tc = out_tracecontext(ec)
        expect(tc["trace"] == "0" * 16 + T2[16:], ec.what, "the Synthetics trace continues", ec)
        expect(hop_line(st.proxy, tc["trace"]).get("parent_id") == "-", ec.what, "no parent", ec)


@h.timeout(60)
def test_64_bit_width_remembered():
    """A 64-bit trace id goes out as 16 hex in the formats that can say so
    (protocols.md §0 width: 'remember ... for re-emission')."""
    uses_running()
    T64, P = "a3ce929d0e0e4736", "00f067aa0ba902b7"
    with Stack(args=["--propagators", "b3,b3multi,jaeger,tracecontext"], env=CLEAN_ENV) as st, st.conn() as c:
        ec = send(c, [("b3", "%s-%s-1" % (T64, P))], "b3 64-bit -> b3,b3multi,jaeger")
        expect(out_b3(ec)["raw_trace"] == T64, ec.what, "b3 trace id: expected the 64-bit %s" % T64, ec)
        expect(out_b3multi(ec)["raw_trace"] == T64, ec.what, "X-B3-TraceId: expected the 64-bit %s" % T64, ec)
        expect(out_jaeger(ec)["raw_trace"] == T64, ec.what, "uber-trace-id: expected the 64-bit %s" % T64, ec)
        tc = out_tracecontext(ec)
        expect(tc["trace"] == "0" * 16 + T64, ec.what, "traceparent: left-padded", ec)


@h.timeout(60)
def test_sampling_carried_across_formats():
    uses_running()
    lst = ["tracecontext", "b3", "b3multi", "jaeger", "xray", "datadog", "sw8", "ottrace"]
    T, P = ids_for("sampling")
    X = "Root=1-%s-%s;Parent=%s" % (T[:8], T[8:], P)
    cases = [
        # name, input headers, expected state, expected traceparent sampled bit
        ("b3 accept", [("b3", "%s-%s-1" % (T, P))], "accept"),
        ("b3 deny", [("b3", "%s-%s-0" % (T, P))], "deny"),
        ("b3 defer", [("b3", "%s-%s" % (T, P))], "defer"),
        ("b3 debug", [("b3", "%s-%s-d" % (T, P))], "debug"),
        ("b3multi Flags 1 over Sampled 0 (vector 26)", [("X-B3-TraceId", T), ("X-B3-SpanId", P),
                                                        ("X-B3-Sampled", "0"), ("X-B3-Flags", "1")], "debug"),
        ("jaeger flags 3 (vector 30)", [("uber-trace-id", "%s:%s:0:3" % (T, P))], "debug"),
        ("xray Sampled=? (vector 38)", [("X-Amzn-Trace-Id", X + ";Sampled=?")], "defer"),
        ("xray without Sampled", [("X-Amzn-Trace-Id", X)], "defer"),
        ("xray Sampled=0", [("X-Amzn-Trace-Id", X + ";Sampled=0")], "deny"),
        ("traceparent 00", [("traceparent", "00-%s-%s-00" % (T, P))], "deny"),
        ("traceparent 01", [("traceparent", "00-%s-%s-01" % (T, P))], "accept"),
        ("datadog priority -1", [("x-datadog-trace-id", str(int(T[16:], 16))),
                                 ("x-datadog-parent-id", str(int(P, 16))),
                                 ("x-datadog-sampling-priority", "-1"),
                                 ("x-datadog-tags", "_dd.p.tid=" + T[:16])], "deny"),
        ("sw8 sample 0", [("sw8", sw8_value(0, T, P + "0" * 16, 0, "s", "i", "e", "t"))], "deny"),
    ]
    want = {
        # state: (traceparent sampled bit, b3 single state, b3multi state, jaeger flags,
        #         X-Ray Sampled, Datadog priority, sw8 sample, ot sampled)
        "accept": (1, "accept", "accept", "1", "1", "1", "1", "true"),
        "deny": (0, "deny", "deny", "0", "0", "0", "0", "false"),
        "defer": (0, "defer", "defer", "0", "?", None, "1", "false"),
        "debug": (1, "debug", "debug", "3", "1", "2", "1", "true"),
    }
    failures = []
    # No incoming decision ("defer") is the hop's to make: its sampler decides
    # (docs/spans.md). The default parentbased_always_on samples; with
    # parentbased_always_off the same inputs go out not sampled. Incoming
    # decisions are followed either way.
    runs = [(CLEAN_ENV, "accept"),
            (dict(CLEAN_ENV, OTEL_TRACES_SAMPLER="parentbased_always_off"), "deny")]
    for env, defer_becomes in runs:
        with Stack(args=["--propagators", ",".join(lst)], env=env) as st, st.conn() as c:
            for name, hdrs, state in cases:
                if state == "defer":
                    state = defer_becomes
                    name += " (sampler: %s)" % env.get("OTEL_TRACES_SAMPLER", "default")
                try:
                    ec = send(c, hdrs, name)
                    w = want[state]
                    tc = out_tracecontext(ec)
                    expect(tc["trace"] == T, name, "trace continued", ec)
                    got = (tc["flags"] & 1, out_b3(ec)["sampling"], out_b3multi(ec)["sampling"],
                           out_jaeger(ec)["flags"], out_xray(ec)["fields"]["Sampled"], out_datadog(ec)["priority"],
                           out_sw8(ec)["sample"], ec.opt("ot-tracer-sampled"))
                    exp = list(w)
                    if name.startswith("datadog"):
                        exp[5] = "-1"  # a Datadog user reject travels as is (docs/formats/datadog.md)
                    expect(got == tuple(exp), name, "%s carried as (traceparent bit, b3, b3multi, jaeger flags, "
                           "X-Ray Sampled, DD priority, sw8 sample, ot sampled):\n    expected %r\n    got      %r"
                           % (state, tuple(exp), got), ec)
                    if state == "debug":
                        expect(ec.opt("x-b3-sampled") in (None, "1"), name, "debug: X-B3-Sampled must not say 0", ec)
                except AssertionError as e:
                    failures.append(str(e))
    if failures:
        raise AssertionError("\n".join(failures))


@h.timeout(60)
def test_not_sampled_never_upgraded():
    uses_running()
    T, P = ids_for("never-upgraded")
    _, P2 = ids_for("never-upgraded-2")
    with Stack(args=["--propagators", "tracecontext,b3", "--log-level", "debug"], env=CLEAN_ENV) as st, \
            st.conn() as c:
        # The winner (tracecontext) says not sampled; an agreeing b3 says 1.
        ec = send(c, [("traceparent", "00-%s-%s-00" % (T, P)), ("b3", "%s-%s-1" % (T, P2))],
                  "traceparent 00 + same-trace b3 -1")
        expect(out_tracecontext(ec)["flags"] & 1 == 0, ec.what, "traceparent upgraded to sampled", ec)
        expect(out_b3(ec)["sampling"] == "deny", ec.what, "b3 must say 0", ec)
        # A lone sampling header never overrides a context's decision...
        ec = send(c, [("traceparent", "00-%s-%s-00" % (T, P)), ("X-B3-Sampled", "1")],
                  "traceparent 00 + lone X-B3-Sampled: 1")
        expect(out_tracecontext(ec)["flags"] & 1 == 0, ec.what, "traceparent upgraded to sampled", ec)
        expect(out_tracecontext(ec)["trace"] == T, ec.what, "trace continued", ec)
        # ...but decides for a new root: `b3: 0` alone starts an unsampled trace.
        ec = send(c, [("b3", "0")], "lone b3: 0")
        tc = out_tracecontext(ec)
        expect(tc["flags"] == 0x02, ec.what, "new root from `b3: 0`: expected flags 02 (random, not "
               "sampled), got %02x" % tc["flags"], ec)
        expect(out_b3(ec)["sampling"] == "deny", ec.what, "b3 must carry the deny", ec)
        # A new root from a lone debug decision.
        ec = send(c, [("b3", "d")], "lone b3: d")
        expect(out_tracecontext(ec)["flags"] == 0x03, ec.what, "new root from `b3: d`: flags 03", ec)
        expect(out_b3(ec)["sampling"] == "debug", ec.what, "b3 must carry the debug decision", ec)
        # Chained through a second proxy: still not sampled.
        with ExtraProxies() as extra:
            a = extra.add("127.0.0.1:%d" % st.proxy.port, ["--propagators", "jaeger"])
            with h.client.Conn(a.addr) as c2:
                ec = send(c2, [("traceparent", "00-%s-%s-00" % (T, P))], "traceparent 00 -> A(jaeger) -> B")
                expect(out_tracecontext(ec)["flags"] & 1 == 0, ec.what, "upgraded to sampled across two hops", ec)
                expect(out_tracecontext(ec)["trace"] == T, ec.what, "trace continued across two hops", ec)


@h.timeout(60)
def test_no_context_starts_new_root():
    uses_running()
    with Stack(args=["--propagators", "tracecontext,b3multi,jaeger", "--log-level", "debug"],
               env=CLEAN_ENV) as st, st.conn() as c:
        traces, hops = set(), set()
        for i in range(12):
            ec = send(c, [("X-Other", "x")], "no context #%d" % i)
            tc = out_tracecontext(ec)
            expect(int(tc["trace"], 16) != 0 and int(tc["parent"], 16) != 0, ec.what, "zero id", ec)
            expect(tc["flags"] == 0x03, ec.what, "new root: flags must be 03 (sampled + random), got %02x"
                   % tc["flags"], ec)
            expect(out_b3multi(ec)["trace"] == tc["trace"] and out_b3multi(ec)["parent"] == tc["parent"],
                   ec.what, "b3multi names the same new trace and hop", ec)
            expect(out_b3multi(ec)["sampling"] == "accept", ec.what, "new root is sampled", ec)
            expect(out_jaeger(ec)["trace"] == tc["trace"], ec.what, "jaeger names the new trace", ec)
            line = hop_line(st.proxy, tc["trace"])
            expect(line.get("span_id") == tc["parent"], ec.what, "hop span id in the log", ec)
            expect(line.get("parent_id") == "-", ec.what, "a root has no parent (log %r)" % line, ec)
            expect(ec.all("tracestate") == [], ec.what, "a new root sends no tracestate", ec)
            traces.add(tc["trace"])
            hops.add(tc["parent"])
        h.eq(len(traces), 12, "distinct trace ids over 12 new roots")
        h.eq(len(hops), 12, "distinct hop span ids over 12 requests")
        # The random right-most 7 bytes: not a padded 64-bit id, not constant.
        h.true(not all(t.startswith("0" * 16) for t in traces), "new trace ids use all 128 bits: %r" % traces)


@h.timeout(60)
def _poison_cases():
    """(name, headers, trace, parent) with fresh ids per case."""
    out = []
    for name, build in POISON:
        T, P = ids_for("poison:" + name)
        T2, P2 = ids_for("poison-other:" + name)
        out.append((name, build(T, P, T2, P2), T, P))
    return out


POISON = [
    ("broken sw8 (7 fields) + valid b3",
     lambda T, P, T2, P2: [("sw8", "1-" + "-".join([b64("x")] * 6)), ("b3", "%s-%s-1" % (T, P))]),
    ("sw8 with '!' in base64 + valid b3",
     lambda T, P, T2, P2: [("sw8", "1-%s!-%s-0-%s-%s-%s-%s" % (b64(T2), b64(P2 + "0" * 16), b64("a"), b64("b"),
                                                              b64("c"), b64("d"))),
                           ("b3", "%s-%s-1" % (T, P))]),
    ("sw8 parent span 'x' + valid jaeger",
     lambda T, P, T2, P2: [("sw8", sw8_value(1, T2, P2 + "0" * 16, "x", "a", "b", "c", "d")),
                           ("uber-trace-id", "%s:%s:0:1" % (T, P))]),
    ("uppercase traceparent (vector 11) + valid jaeger",
     lambda T, P, T2, P2: [("traceparent", "00-%s-%s-01" % (T2.upper(), P2)), ("uber-trace-id", "%s:%s:0:1" % (T, P))]),
    ("traceparent v00 trailing data (vector 3) + valid b3multi",
     lambda T, P, T2, P2: [("traceparent", "00-%s-%s-01-xyz" % (T2, P2)), ("X-B3-TraceId", T), ("X-B3-SpanId", P),
                           ("X-B3-Sampled", "1")]),
    ("invalid b3 single falls back to X-B3-* (vector 24)",
     lambda T, P, T2, P2: [("b3", "%s-%s-" % (T2, P2)), ("X-B3-TraceId", T), ("X-B3-SpanId", P),
                           ("X-B3-Sampled", "1")]),
    ("broken X-Ray + valid datadog",
     lambda T, P, T2, P2: [("X-Amzn-Trace-Id", "Root=1-abc-123;Parent=%s;Sampled=1" % P2),
                           ("x-datadog-trace-id", str(int(T[16:], 16))), ("x-datadog-parent-id", str(int(P, 16))),
                           ("x-datadog-tags", "_dd.p.tid=" + T[:16])]),
    ("invalid tracestate keeps traceparent (§1.4)",
     lambda T, P, T2, P2: [("traceparent", "00-%s-%s-01" % (T, P)), ("tracestate", "@foo=1,bar=2")]),
    ("broken jaeger (wrong separator) + valid ottrace",
     lambda T, P, T2, P2: [("uber-trace-id", "%s-%s-0-1" % (T2, P2)), ("ot-tracer-traceid", T),
                           ("ot-tracer-spanid", P), ("ot-tracer-sampled", "true")]),
    ("corrupted datadog (parent not decimal) + valid xray",
     lambda T, P, T2, P2: [("x-datadog-trace-id", "12345"), ("x-datadog-parent-id", "0x1f"),
                           ("X-Amzn-Trace-Id", "Root=1-%s-%s;Parent=%s;Sampled=1" % (T[:8], T[8:], P))]),
    ("EagleEye without TraceId + valid b3",
     lambda T, P, T2, P2: [("EagleEye-RpcId", "0.1"), ("b3", "%s-%s-1" % (T, P))]),
]


def test_invalid_input_never_poisons_another_format():
    uses_running()
    T, P = ids_for("poison")
    T2, P2 = ids_for("poison-2")
    cases = _poison_cases()
    failures = []
    with Stack(args=["--propagators", "tracecontext,b3", "--log-level", "debug"], env=CLEAN_ENV) as st, \
            st.conn() as c:
        for name, hdrs, trace, parent in cases:
            try:
                ec = send(c, hdrs, name)
                tc = out_tracecontext(ec)
                expect(tc["trace"] == trace, name, "expected the valid format's trace %s to continue, got %s"
                       % (trace, tc["trace"]), ec)
                line = hop_line(st.proxy, trace)
                expect(line.get("parent_id") == parent, name, "hop parent %s, expected %s"
                       % (line.get("parent_id"), parent), ec)
                check_only(ec, ["tracecontext", "b3"], name)
                if name.startswith("invalid tracestate"):
                    expect(ec.all("tracestate") == [], name, "an invalid tracestate is dropped whole", ec)
            except AssertionError as e:
                failures.append(str(e))
        # Two traceparent fields (vector 10): invalid, so a new trace (neither id).
        ec = send(c, [("traceparent", "00-%s-%s-01" % (T, P)), ("traceparent", "00-%s-%s-01" % (T2, P2))],
                  "duplicated traceparent")
        tc = out_tracecontext(ec)
        if tc["trace"] in (T, T2):
            failures.append("%s: continued trace %s; two traceparent headers must restart" % (ec.what, tc["trace"]))
        elif tc["flags"] != 0x03:
            failures.append("%s: new root flags %02x, expected 03" % (ec.what, tc["flags"]))
        # And the same with a valid b3 next to it: b3 continues.
        ec = send(c, [("traceparent", "00-%s-%s-01" % (T2, P2)), ("traceparent", "00-%s-%s-01" % (T2, P)),
                      ("b3", "%s-%s-1" % (T, P))], "duplicated traceparent + valid b3")
        if out_tracecontext(ec)["trace"] != T:
            failures.append("%s: expected b3's trace %s, got %s" % (ec.what, T, out_tracecontext(ec)["trace"]))
        # Everything invalid: a new root, and the invalid headers are gone.
        ec = send(c, [("traceparent", "ff-%s-%s-01" % (T, P)), ("b3", "%s-%s-true" % (T, P)),
                      ("uber-trace-id", "%s:%s:0:wired" % (T, P))], "all invalid")
        tc = out_tracecontext(ec)
        if tc["trace"] == T or tc["flags"] != 0x03:
            failures.append("%s: expected a new root (flags 03), got %r" % (ec.what, ec.ctx()))
        try:
            check_only(ec, ["tracecontext", "b3"], ec.what)
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        raise AssertionError("\n".join(failures))


@h.timeout(60)
def test_conflict_precedence():
    uses_running()
    T1, P1 = ids_for("conflict-1")
    T2, P2 = ids_for("conflict-2")
    hdrs = [("b3", "%s-%s-1" % (T2, P2)), ("traceparent", "00-%s-%s-01" % (T1, P1))]
    for extract, winner, trace, parent in [(None, "tracecontext", T1, P1),
                                           ("b3,tracecontext", "b3", T2, P2),
                                           ("tracecontext,b3", "tracecontext", T1, P1)]:
        args = ["--propagators", "tracecontext,b3", "--log-level", "debug"]
        if extract:
            args += ["--extract", extract]
        what = "traceparent %s vs b3 %s with --extract %s" % (T1[:8], T2[:8], extract or "(default)")
        with Stack(args=args, env=CLEAN_ENV) as st, st.conn() as c:
            ec = send(c, hdrs, what)
            tc = out_tracecontext(ec)
            expect(tc["trace"] == trace, what, "winner must be %s (trace %s), got trace %s"
                   % (winner, trace, tc["trace"]), ec)
            check_ids("b3", ec, trace, tc["parent"], what)
            line = hop_line(st.proxy, trace)
            expect((line.get("extracted"), line.get("parent_id")) == (winner, parent), what,
                   "log: winner/parent %r" % ((line.get("extracted"), line.get("parent_id")),), ec)
            expect(line.get("conflicts") not in (None, "0", "0x0"), what,
                   "the conflict is counted (log conflicts=%r)" % line.get("conflicts"), ec)
            check_only(ec, ["tracecontext", "b3"], what)
    # --extract limits what is read: b3 alone is not read, and still removed.
    with Stack(args=["--propagators", "tracecontext", "--extract", "tracecontext"], env=CLEAN_ENV) as st:
        ec = Echo(st.get("/", [("b3", "%s-%s-1" % (T2, P2))]), "b3 with --extract tracecontext")
        tc = out_tracecontext(ec)
        expect(tc["trace"] != T2 and tc["flags"] == 0x03, ec.what, "b3 must not be read: expected a new root", ec)
        check_only(ec, ["tracecontext"], ec.what)


@h.timeout(60)
def test_inject_mode_add_refreshes_everything():
    uses_running()
    T, P = ids_for("add")
    T2, P2 = ids_for("add-2")
    with Stack(args=["--inject-mode", "add", "--propagators", "b3multi", "--log-level", "debug"],
               env=CLEAN_ENV) as st, st.conn() as c:
        ec = send(c, [("uber-trace-id", "%s:%s:0:1" % (T, P)), ("uberctx-tenant", "acme")], "add: jaeger in")
        j, m = out_jaeger(ec), out_b3multi(ec)
        hop = m["parent"]
        expect(j["trace"] == T and m["trace"] == T, ec.what, "both name the trace", ec)
        expect(j["parent"] == hop and hop != P, ec.what, "uber-trace-id refreshed: parent %s, hop %s"
               % (j["parent"], hop), ec)
        expect(hop_line(st.proxy, T).get("span_id") == hop, ec.what, "hop id in the log", ec)
        expect(ec.ctx_formats() == {"jaeger", "b3multi"}, ec.what, "formats downstream: jaeger + b3multi only", ec)
        expect(ec.prefixed("uberctx-") == [("tenant", "acme")], ec.what, "jaeger baggage kept once", ec)

        # A b3 single next to X-B3-* (and a stale b3 copy with another parent):
        ec = send(c, [("uber-trace-id", "%s:%s:0:1" % (T2, P2)), ("b3", "%s-%s-1" % (T2, P)),
                      ("X-B3-TraceId", T2), ("X-B3-SpanId", P), ("X-B3-Sampled", "1")],
                  "add: jaeger + b3 + x-b3-*")
        b, m, j = out_b3(ec), out_b3multi(ec), out_jaeger(ec)
        hop = m["parent"]
        expect(b["trace"] == m["trace"] == j["trace"] == T2, ec.what, "every format names the trace", ec)
        expect(b["parent"] == m["parent"] == j["parent"] == hop, ec.what,
               "every context header names the hop %s (no stale copy)" % hop, ec)
        expect(P not in "".join(v for _, v in ec.ctx()), ec.what,
               "the stale b3 span id %s survived in some header" % P, ec)
        expect(b["b3_parent"] in (None, P2) and m["b3_parent"] in (None, P2), ec.what,
               "a B3 parent span id, when sent, is the hop's parent %s" % P2, ec)
        expect(ec.ctx_formats() == {"jaeger", "b3", "b3multi"}, ec.what, "formats downstream", ec)

        # A conflict in add mode: the loser is rewritten with the winner's trace.
        ec = send(c, [("traceparent", "00-%s-%s-01" % (T, P)), ("b3", "%s-%s-1" % (T2, P2))], "add: conflict")
        tc, b, m = out_tracecontext(ec), out_b3(ec), out_b3multi(ec)
        expect(tc["trace"] == b["trace"] == m["trace"] == T, ec.what, "the loser's trace id must not go on", ec)
        expect(tc["parent"] == b["parent"] == m["parent"], ec.what, "one hop id everywhere", ec)
        expect(ec.ctx_formats() == {"tracecontext", "b3", "b3multi"}, ec.what, "formats downstream", ec)

        # Non-context headers untouched, context headers after them.
        ec = send(c, [("X-A", "1"), ("uber-trace-id", "%s:%s:0:1" % (T, P)), ("X-B", "2")], "add: order")
        names = [n.lower() for n, _ in ec.headers]
        expect(names.index("x-b") < min(i for i, n in enumerate(names) if format_of(n)), ec.what,
               "context headers are appended after the request's other headers: %r" % names, ec)


@h.timeout(60)
def test_clear_removes_even_in_add_mode():
    uses_running()
    T, P = ids_for("clear")
    for mode in ("add", "replace"):
        args = ["--inject-mode", mode, "--propagators", "b3multi,jaeger" if mode == "replace" else "b3multi",
                "--clear", "jaeger"]
        with Stack(args=args, env=CLEAN_ENV) as st, st.conn() as c:
            ec = send(c, [("uber-trace-id", "%s:%s:0:1" % (T, P)), ("uberctx-k", "v"),
                          ("jaeger-debug-id", "dbg-1"), ("X-B3-TraceId", T), ("X-B3-SpanId", P)],
                      "--clear jaeger, %s mode" % mode)
            expect("jaeger" not in ec.ctx_formats(), ec.what, "a cleared format must never go downstream", ec)
            m = out_b3multi(ec)
            expect(m["trace"] == T and m["parent"] != P, ec.what, "the trace continues in b3multi", ec)
            check_only(ec, ["b3multi"], ec.what)


def parse_baggage(value, what):
    """W3C baggage -> [(key, decoded value, properties)]; checks the grammar."""
    out = []
    for member in value.split(","):
        member = member.strip(" \t")
        kv, _, props = member.partition(";")
        k, eq_, v = kv.partition("=")
        k, v = k.strip(" \t"), v.strip(" \t")
        if not eq_ or not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", k):
            raise AssertionError("%s: baggage member %r is malformed (in %r)" % (what, member, value))
        if not re.fullmatch(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*", v):
            raise AssertionError("%s: baggage value %r has bytes that must be percent-encoded" % (what, v))
        out.append((k, urllib.parse.unquote(v, errors="strict"), props.strip(" \t")))
    return out


def parse_correlation(value, what):
    out = []
    for pair in value.split(","):
        k, sep, v = pair.partition(":")
        if not sep:
            raise AssertionError("%s: sw8-correlation pair %r without ':'" % (what, pair))
        out.append((unb64(k, what), unb64(v, what)))
    return out


@h.timeout(60)
def test_baggage_carriers():
    uses_running()
    T, P = ids_for("baggage")
    tp = ("traceparent", "00-%s-%s-01" % (T, P))
    lst = "tracecontext,baggage,jaeger,ottrace,sw8"
    with Stack(args=["--propagators", lst], env=CLEAN_ENV) as st, st.conn() as c:
        # W3C -> every carrier; percent-encoding (vector 55) and properties (56).
        ec = send(c, [tp, ("baggage", "userid=Am%C3%A9lie,servernode=DF%2028,isproduction=false")], "W3C -> all")
        want = [("userid", "Amélie"), ("servernode", "DF 28"), ("isproduction", "false")]
        got = [(k, v) for k, v, _ in parse_baggage(ec.one("baggage"), ec.what)]
        expect(got == want, ec.what, "baggage downstream decodes to %r, got %r" % (want, got), ec)
        expect(ec.one("baggage") == "userid=Am%C3%A9lie,servernode=DF%2028,isproduction=false", ec.what,
               "canonical percent-encoding (upper-case hex) equals what came", ec)
        uber = [(k, urllib.parse.unquote(v, errors="strict")) for k, v in ec.prefixed("uberctx-")]
        expect(uber == want, ec.what, "uberctx-* (URL-encoded): expected %r, got %r" % (want, uber), ec)
        expect(dict(ec.prefixed("uberctx-"))["servernode"] == "DF%2028", ec.what,
               "uberctx value URL-encoded: %r" % dict(ec.prefixed("uberctx-"))["servernode"], ec)
        ot = [(k, v.encode("latin-1").decode("utf-8")) for k, v in ec.prefixed("ot-baggage-")]
        expect(ot == want, ec.what, "ot-baggage-* (raw): expected %r, got %r" % (want, ot), ec)
        corr = parse_correlation(ec.one("sw8-correlation"), ec.what)
        expect(corr == want, ec.what, "sw8-correlation: expected %r, got %r" % (want, corr), ec)

        # Properties survive in W3C; the percent-encoded byte form is kept.
        ec = send(c, [tp, ("baggage", "key1=value1;property1;property2, key2 = value2, "
                                      "key3=value3; propertyKey=propertyValue")], "W3C properties")
        got = parse_baggage(ec.one("baggage"), ec.what)
        expect([(k, v) for k, v, _ in got] == [("key1", "value1"), ("key2", "value2"), ("key3", "value3")],
               ec.what, "baggage members %r" % got, ec)
        expect(got[2][2].replace(" ", "") == "propertyKey=propertyValue", ec.what, "key3 property kept: %r"
               % got[2][2], ec)
        expect(got[0][2].replace(" ", "") == "property1;property2", ec.what, "key1 properties: %r" % got[0][2], ec)

        # sw8-correlation: at most 3 items, values of at most 128 characters;
        # what it cannot hold is dropped whole, the W3C baggage keeps it.
        long_v = "x" * 129
        ec = send(c, [tp, ("baggage", "k1=a,k2=%s,k3=c,k4=d,k5=e" % long_v)], "sw8-correlation limits")
        corr = parse_correlation(ec.one("sw8-correlation"), ec.what)
        expect(corr == [("k1", "a"), ("k3", "c"), ("k4", "d")], ec.what,
               "sw8-correlation holds the first 3 items that fit (values <= 128): got %r" % corr, ec)
        got = [(k, v) for k, v, _ in parse_baggage(ec.one("baggage"), ec.what)]
        expect(got == [("k1", "a"), ("k2", long_v), ("k3", "c"), ("k4", "d"), ("k5", "e")], ec.what,
               "W3C baggage keeps every item: %r" % got, ec)
        ec = send(c, [tp, ("baggage", "k1=%s" % ("y" * 128))], "sw8-correlation 128-char value")
        expect(parse_correlation(ec.one("sw8-correlation"), ec.what) == [("k1", "y" * 128)], ec.what,
               "a 128-character value fits", ec)

    # ... and back: every carrier -> W3C baggage.
    with Stack(args=["--propagators", "tracecontext,baggage"], env=CLEAN_ENV) as st, st.conn() as c:
        back = [
            ("uberctx (vector 33)", [("uber-trace-id", "%s:%s:0:1" % (T, P)),
                                     ("uberctx-key1", "value%201%20%2F%20blah")], [("key1", "value 1 / blah")]),
            ("ot-baggage (vector 34)", [("ot-tracer-traceid", T[16:]), ("ot-tracer-spanid", P),
                                        ("ot-tracer-sampled", "true"), ("ot-baggage-test", "value123")],
             [("test", "value123")]),
            ("sw8-correlation (vector 49)", [("sw8", sw8_value(1, T, P + "0" * 16, 0, "a", "b", "c", "d")),
                                             ("sw8-correlation", "dGVuYW50:YWNtZQ==,Y2FuYXJ5:dHJ1ZQ==")],
             [("tenant", "acme"), ("canary", "true")]),
            ("sw8-correlation without sw8", [tp, ("sw8-correlation", "dGVuYW50:YWNtZQ==")], [("tenant", "acme")]),
        ]
        for name, hdrs, want in back:
            ec = send(c, hdrs, name)
            got = [(k, v) for k, v, _ in parse_baggage(ec.one("baggage"), ec.what)]
            expect(sorted(got) == sorted(want), name, "W3C baggage downstream: expected %r, got %r" % (want, got), ec)
            expect(out_tracecontext(ec)["trace"].endswith(T[16:]), name, "trace continued", ec)


@h.timeout(60)
def test_baggage_limits():
    """W3C limits on every carrier: at most 64 items (protocols.md §2)."""
    uses_running()
    T, P = ids_for("baggage-limits")
    items = ["k%02d=v%02d" % (i, i) for i in range(70)]
    with Stack(args=["--propagators", "tracecontext,baggage,jaeger"], env=CLEAN_ENV) as st, st.conn() as c:
        ec = send(c, [("traceparent", "00-%s-%s-01" % (T, P)), ("baggage", ",".join(items))], "70 baggage items")
        got = parse_baggage(ec.one("baggage"), ec.what)
        expect([(k, v) for k, v, _ in got] == [tuple(x.split("=")) for x in items[:64]], ec.what,
               "the first 64 items travel, whole (got %d)" % len(got), ec)
        expect(len(ec.prefixed("uberctx-")) == 64, ec.what, "64 uberctx-* headers, got %d"
               % len(ec.prefixed("uberctx-")), ec)


@h.timeout(60)
def test_baggage_precedence_per_key():
    """docs/propagation.md: for a key present in several carriers the
    higher-precedence format wins; the default precedence is registry order,
    where `baggage` comes before `jaeger` (so W3C wins), and --extract can
    reverse it."""
    uses_running()
    T, P = ids_for("baggage-precedence")
    hdrs = [("traceparent", "00-%s-%s-01" % (T, P)), ("baggage", "k=w3c"), ("uber-trace-id", "%s:%s:0:1" % (T, P)),
            ("uberctx-k", "jaeger"), ("uberctx-j", "only")]
    for extract, want in [(None, [("k", "w3c"), ("j", "only")]),
                          ("tracecontext,jaeger,baggage", [("k", "jaeger"), ("j", "only")])]:
        args = ["--propagators", "tracecontext,baggage"] + (["--extract", extract] if extract else [])
        with Stack(args=args, env=CLEAN_ENV) as st:
            ec = Echo(st.get("/", hdrs), "baggage k in W3C and uberctx, --extract %s" % (extract or "(default)"))
            got = [(k, v) for k, v, _ in parse_baggage(ec.one("baggage"), ec.what)]
            expect(sorted(got) == sorted(want), ec.what, "W3C baggage downstream: expected %r, got %r"
                   % (want, got), ec)


@h.timeout(60)
def test_jaeger_debug_id():
    """jaeger-debug-id alone asks for a new debug trace; it is sent on."""
    uses_running()
    with Stack(args=["--propagators", "tracecontext,b3,jaeger"], env=CLEAN_ENV) as st, st.conn() as c:
        ec = send(c, [("jaeger-debug-id", "corr-42")], "lone jaeger-debug-id")
        tc = out_tracecontext(ec)
        expect(tc["flags"] == 0x03, ec.what, "a new sampled root (flags 03), got %02x" % tc["flags"], ec)
        expect(out_b3(ec)["sampling"] == "debug", ec.what, "b3 must say d", ec)
        expect(out_jaeger(ec)["flags"] == "3" and out_jaeger(ec)["trace"] == tc["trace"], ec.what,
               "uber-trace-id names the new trace in debug mode", ec)
        expect(ec.opt("jaeger-debug-id") == "corr-42", ec.what, "jaeger-debug-id sent on", ec)


@h.timeout(60)
def test_pipelined_and_multi_worker_hops_are_distinct():
    """Each request of a pipelined batch gets its own rewrite, and hop ids
    never repeat across workers."""
    uses_running()
    from lib.client import build_request
    with Stack(args=["--propagators", "tracecontext,b3", "--workers", "4"], env=CLEAN_ENV) as st:
        cases = [ids_for("pipelined-%d" % i) for i in range(6)]
        reqs = b"".join(build_request("GET", "/p%d" % i, [("b3", "%s-%s-1" % (t, p))]) for i, (t, p) in
                        enumerate(cases))
        hops = set()
        with st.conn() as c:
            c.send(reqs)
            for i, (t, p) in enumerate(cases):
                ec = Echo(c.read_final_response(), "pipelined request %d" % i)
                expect(ec.e["target"] == "/p%d" % i, ec.what, "response order", ec)
                check_ids("tracecontext", ec, t, out_tracecontext(ec)["parent"], ec.what)
                check_ids("b3", ec, t, out_tracecontext(ec)["parent"], ec.what)
                check_only(ec, ["tracecontext", "b3"], ec.what)
                hops.add(out_tracecontext(ec)["parent"])
        traces = set()
        for i in range(40):
            with st.conn() as c:
                tc = out_tracecontext(Echo(c.request("GET", "/w%d" % i), "new root on connection %d" % i))
                traces.add(tc["trace"])
                hops.add(tc["parent"])
        h.eq(len(traces), 40, "distinct trace ids over 40 connections and 4 workers")
        h.eq(len(hops), 46, "distinct hop span ids over 46 requests")


@h.timeout(60)
def test_tracestate_passthrough_and_own_member():
    uses_running()
    T, P = ids_for("tracestate")
    with Stack(args=["--propagators", "tracecontext", "--log-level", "debug"], env=CLEAN_ENV) as st, \
            st.conn() as c:
        tp = ("traceparent", "00-%s-%s-01" % (T, P))
        ec = send(c, [tp, ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")], "tracestate passthrough")
        expect(ec.all("tracestate") == ["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"], ec.what,
               "tracestate forwarded unchanged, no member of ours", ec)
        ec = send(c, [tp, ("tracestate", "foo=1,bar=2"), ("tracestate", "rojo=1,congo=2"), ("tracestate", "baz=3")],
                  "tracestate fields joined (vector 14)")
        expect([m.strip() for m in ",".join(ec.all("tracestate")).split(",")]
               == ["foo=1", "bar=2", "rojo=1", "congo=2", "baz=3"], ec.what, "members in arrival order", ec)
        ec = send(c, [tp], "no tracestate in")
        expect(ec.all("tracestate") == [], ec.what, "no tracestate when nothing needs carrying", ec)
        ec = send(c, [("sw8", sw8_value(1, T, P + "0" * 16, 0, "a", "b", "c", "d"))], "sw8 32-hex id")
        expect(ec.all("tracestate") == [], ec.what, "a 32-hex SkyWalking id needs no member", ec)

        # A SkyWalking id that 128 bits cannot carry: our member, left-most.
        ec = send(c, [("sw8", V47_SW8)], "sw8 vector 47 -> tracecontext")
        tc = out_tracecontext(ec)
        expect((tc["trace"], hop_line(st.proxy, V47_W3C_TRACE).get("parent_id")) == (V47_W3C_TRACE, V47_W3C_PARENT),
               ec.what, "vector 47 maps to trace %s parent %s" % (V47_W3C_TRACE, V47_W3C_PARENT), ec)
        own = tb_member(ec)
        expect(own is not None and own[1] == 0, ec.what, "tracebridge member expected left-most: %r"
               % ec.all("tracestate"), ec)
        expect(own[2].get("sw") == V47_TRACE, ec.what, "sw: field decodes to %r, expected %r"
               % (own[2].get("sw"), V47_TRACE), ec)

        # Own member left, the others kept in order after it.
        dashed = "de5980b8-fce3-4a37-aab9-b4ac3af7eedd"
        ec = send(c, [("traceparent", "00-de5980b8fce34a37aab9b4ac3af7eedd-%s-01" % P),
                      ("tracestate", "rojo=1,congo=2"),
                      ("sw8", sw8_value(1, dashed, "4f2f27748b8e44ecaf18fe0347194e86", 1, "a", "b", "c", "d"))],
                  "traceparent + tracestate + agreeing sw8 with a dashed id")
        members = [m.strip() for m in ",".join(ec.all("tracestate")).split(",")]
        expect(len(members) == 3 and members[0].startswith("tracebridge=") and members[1:] == ["rojo=1", "congo=2"],
               ec.what, "tracestate: our member left-most, others unchanged: %r" % members, ec)
        expect(tb_member(ec)[2].get("sw") == dashed, ec.what, "sw: %r" % tb_member(ec)[2], ec)

        # Adding ours to a full list of 32 drops the right-most member.
        full = ["m%02d=%02d" % (i, i) for i in range(32)]
        ec = send(c, [("TraceParent", "00-de5980b8fce34a37aab9b4ac3af7eedd-%s-01" % P), ("TRACESTATE", ",".join(full)),
                      ("sw8", sw8_value(1, dashed, "4f2f27748b8e44ecaf18fe0347194e86", 1, "a", "b", "c", "d"))],
                  "our member added to 32 members")
        members = [m.strip() for m in ",".join(ec.all("tracestate")).split(",")]
        expect(len(members) == 32 and members[0].startswith("tracebridge=sw:") and members[1:] == full[:31],
               ec.what, "32 members: ours + the first 31, got %d: %r..." % (len(members), members[:3]), ec)

        # A stale member of ours (for another trace) is not trusted, and dropped.
        stale = "tracebridge=sw:" + base64.urlsafe_b64encode(V47_TRACE.encode()).decode().rstrip("=")
        ec = send(c, [tp, ("tracestate", stale + ",rojo=1")], "stale tracebridge member")
        expect(ec.all("tracestate") == ["rojo=1"], ec.what, "stale member dropped, others kept", ec)

        # A 64-bit origin is remembered as w:64.
        ec = send(c, [("b3", "a3ce929d0e0e4736-%s-1" % P)], "b3 64-bit -> tracecontext")
        own = tb_member(ec)
        expect(own is not None and "w" in own[2] and own[2]["w"] == "64", ec.what,
               "tracebridge member with w:64 expected: %r" % ec.all("tracestate"), ec)


def tb_member(ec):
    """(raw value, index, {field: decoded}) of our tracestate member, or None."""
    members = [m.strip() for m in ",".join(ec.all("tracestate")).split(",") if m.strip()]
    for i, m in enumerate(members):
        k, _, v = m.partition("=")
        if k == "tracebridge":
            fields = {}
            for f in v.split(";"):
                name, _, val = f.partition(":")
                fields[name] = unb64url(val, ec.what) if name in ("sw", "ee") else val
            return v, i, fields
    return None


@h.timeout(90)
def test_two_proxy_sw8_round_trip():
    """client -(sw8)-> A --propagators tracecontext -> B --propagators sw8 -> backend."""
    uses_running()
    ids = [
        ("Java agent id (vector 47)", V47_SW8, V47_TRACE, V47_W3C_TRACE, V47_W3C_PARENT),
        ("UUID with dashes", sw8_value(1, "de5980b8-fce3-4a37-aab9-b4ac3af7eedd",
                                       "4f2f27748b8e44ecaf18fe0347194e86", 123, "svc-a", "i", "/e", "t:1"),
         "de5980b8-fce3-4a37-aab9-b4ac3af7eedd", "de5980b8fce34a37aab9b4ac3af7eedd", "9b37d977cc970a6a"),
        ("non-hex id (hash fallback)", sw8_value(1, "legacy/trace:42;x=y", "seg-1", 3, "svc-a", "i", "/e", "t:1"),
         "legacy/trace:42;x=y", hashlib.sha256(b"legacy/trace:42;x=y").hexdigest()[:32],
         hashlib.sha256(b"seg-1/3").hexdigest()[:16]),  # docs/formats/sw8.md: SHA-256 of "{segment}/{span}"
    ]
    with Stack(args=["--propagators", "sw8", "--service-name", "svc-b", "--service-instance", "inst-b@10.0.0.2",
                     "--log-level", "debug"], env=CLEAN_ENV) as st, ExtraProxies() as extra:
        b = st.proxy
        a = extra.add("127.0.0.1:%d" % b.port, ["--propagators", "tracecontext", "--service-name", "svc-a-proxy",
                                                 "--log-level", "debug"])
        with h.client.Conn(a.addr) as c:
            for name, sw8, sw_trace, w3c_trace, w3c_parent in ids:
                ec = send(c, [("sw8", sw8), ("X-Other", "1")], name, target="/orders/42?x=1", method="POST")
                d = out_sw8(ec)
                la, lb = hop_line(a, w3c_trace), hop_line(b, w3c_trace)
                expect(d["sw_trace"] == sw_trace, name, "SkyWalking trace id after two hops: expected %r, got %r"
                       % (sw_trace, d["sw_trace"]), ec)
                expect(d["parent"] == lb.get("span_id"), name, "sw8 parent (segmentIDToSpanID(%r, %d) = %s) must "
                       "be proxy B's hop span %s" % (d["segment"], d["span"], d["parent"], lb.get("span_id")), ec)
                expect((d["service"], d["instance"], d["endpoint"], d["target"]) ==
                       ("svc-b", "inst-b@10.0.0.2", "POST:/orders/42", st.backend.hostport), name,
                       "sw8 parent service/instance/endpoint/target: %r"
                       % ((d["service"], d["instance"], d["endpoint"], d["target"]),), ec)
                expect(lb.get("parent_id") == la.get("span_id"), name, "B's parent %s must be A's hop %s"
                       % (lb.get("parent_id"), la.get("span_id")), ec)
                if w3c_parent is not None:
                    expect(la.get("parent_id") == w3c_parent, name, "A's parent (segmentIDToSpanID) %s, expected %s"
                           % (la.get("parent_id"), w3c_parent), ec)
                expect(d["trace"] == w3c_trace, name, "mapped trace id %s, expected %s" % (d["trace"], w3c_trace), ec)
                check_only(ec, ["sw8"], name)


@h.timeout(60)
def test_sw8_hash_fallback_single_hop():
    uses_running()
    sw_id = "legacy/trace:42;x=y"
    want = hashlib.sha256(sw_id.encode()).hexdigest()[:32]
    with Stack(args=["--propagators", "tracecontext,sw8"], env=CLEAN_ENV) as st, st.conn() as c:
        ec = send(c, [("sw8", sw8_value(1, sw_id, "seg-1", 3, "a", "b", "c", "d"))], "non-hex sw8 id")
        tc = out_tracecontext(ec)
        expect(tc["trace"] == want, ec.what, "hash fallback: SHA-256(id)[:16] = %s, got %s" % (want, tc["trace"]), ec)
        expect(tc["flags"] == 0x01, ec.what, "hashed id: random flag 0, sampled (flags 01), got %02x" % tc["flags"], ec)
        expect(tb_member(ec) and tb_member(ec)[2].get("sw") == sw_id, ec.what, "our member carries the id", ec)
        expect(out_sw8(ec)["sw_trace"] == sw_id, ec.what, "sw8 re-emits the original id", ec)


@h.timeout(60)
def test_otel_propagators_environment():
    uses_running()
    T, P = ids_for("otel-env")
    tp = [("traceparent", "00-%s-%s-01" % (T, P)), ("baggage", "k=v")]
    with Stack(args=[], env={"OTEL_PROPAGATORS": "b3multi", "OTEL_SERVICE_NAME": None}) as st:
        ec = Echo(st.get("/", tp), "OTEL_PROPAGATORS=b3multi")
        check_only(ec, ["b3multi"], ec.what)
        check_ids("b3multi", ec, T, out_b3multi(ec)["parent"], ec.what)
    with Stack(args=["--propagators", "jaeger"], env={"OTEL_PROPAGATORS": "b3multi"}) as st:
        ec = Echo(st.get("/", tp), "--propagators jaeger over OTEL_PROPAGATORS=b3multi")
        check_only(ec, ["jaeger"], ec.what)
    with Stack(args=["--propagators", "sw8"], env={"OTEL_PROPAGATORS": None, "OTEL_SERVICE_NAME": "env-svc"}) as st:
        ec = Echo(st.get("/", tp), "OTEL_SERVICE_NAME=env-svc")
        expect(out_sw8(ec)["service"] == "env-svc", ec.what, "sw8 service from OTEL_SERVICE_NAME", ec)
    with Stack(args=["--propagators", "none"], env=CLEAN_ENV) as st:
        ec = Echo(st.get("/", tp + [("b3", "%s-%s-1" % (T, P))]), "--propagators none")
        expect(ec.ctx() == [], ec.what, "nothing written, everything removed", ec)
    with Stack(args=[], env=CLEAN_ENV) as st:
        ec = Echo(st.get("/", tp + [("b3", "%s-%s-1" % (T, P))]), "defaults")
        check_only(ec, ["tracecontext", "baggage"], ec.what)
        expect(ec.one("baggage") == "k=v", ec.what, "baggage by default", ec)


def _bad_start(args, env, name, what):
    rc, out, err = h.run_binary(["--listen", "127.0.0.1:%d" % h.free_port(),
                                 "--upstream", "127.0.0.1:%d" % h.free_port()] + args, timeout=5, env=env)
    h.eq(rc, 2, "exit status for %s" % what)
    h.contains(err, name, "stderr names %s for %s" % (name, what))


def test_invalid_configuration_exits_2():
    uses_running()
    for value in ["bogus", "tracecontext,bogus", "none,b3", "b3,,jaeger", "B3", " , "]:
        _bad_start([], {"OTEL_PROPAGATORS": value}, "OTEL_PROPAGATORS", "OTEL_PROPAGATORS=%r" % value)
    for flag, value in [("--propagators", "bogus"), ("--propagators", "none,tracecontext"),
                        ("--propagators", "tracecontext,"), ("--extract", "xray,nope"), ("--extract", ""),
                        ("--inject-mode", "both"), ("--inject-mode", "Replace"), ("--clear", "jaegerx"),
                        ("--service-name", "has space"), ("--service-name", "")]:
        _bad_start([flag, value], CLEAN_ENV, flag, "%s %r" % (flag, value))
