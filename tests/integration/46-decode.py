# SPDX-License-Identifier: MIT
"""`tracebridge decode` (docs/propagation.md): header lines on stdin, the
per-format status and reasons, the winning context, what each format would
inject (byte-exact for the vectors of protocols.md §16 with a fixed
--span-id), the headers the proxy would send, and input/option errors."""

import importlib.util
import json
import os
import re

from lib import harness as h

# The wire-format helpers and the §8.4 SkyWalking mapping live in 45-propagation.
_spec = importlib.util.spec_from_file_location(
    "itest_45_propagation_helpers", os.path.join(os.path.dirname(os.path.abspath(__file__)), "45-propagation.py"))
P45 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(P45)

CLEAN_ENV = P45.CLEAN_ENV
FORMATS = ["tracecontext", "baggage", "b3", "b3multi", "jaeger", "xray", "ottrace", "datadog", "sw8", "eagleeye"]

T = "4bf92f3577b34da6a3ce929d0e0e4736"
S = "00f067aa0ba902b7"  # also S' of vector 48: the hop's span id
P = "b7ad6b7169203331"  # an incoming parent (any value not S)

V48 = ("1-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-MDBmMDY3YWEwYmE5MDJiNzAwMDAwMDAwMDAwMDAwMDA=-0-"
       "ZnJvbnRlbmQ=-ZnJvbnRlbmQtMUAxMC4wLjAuMQ==-R0VUOi9hcGkvb3JkZXJz-b3JkZXJzOjgwODA=")
V48_ARGS = ["--service-name", "frontend", "--service-instance", "frontend-1@10.0.0.1", "--method", "GET",
            "--path", "/api/orders", "--target", "orders:8080"]


def _needs_binary():
    if h.USE_RUNNING:
        raise h.Skip("runs the binary itself")


def run_decode(lines, args=(), env=CLEAN_ENV):
    """Runs `tracebridge decode ARGS` with `lines` on stdin; (status, stdout, stderr)."""
    _needs_binary()
    text = lines if isinstance(lines, (str, bytes)) else "".join(l + "\n" for l in lines)
    return h.run_binary(["decode"] + list(args), timeout=10, input=text, env=env)


def decode_json(lines, args=(), env=CLEAN_ENV, what=None):
    what = what or "decode %r" % (lines,)
    rc, out, err = run_decode(lines, ["--json"] + list(args), env)
    if rc != 0:
        raise AssertionError("%s: exit status %d, stderr %r" % (what, rc, err[-500:]))
    try:
        doc = json.loads(out)
    except ValueError as e:
        raise AssertionError("%s: --json output is not one JSON document (%s): %r" % (what, e, out[:800]))
    return Doc(doc, what)


class Doc:
    def __init__(self, d, what):
        self.d = d
        self.what = what
        for k in ("formats", "winner", "merged", "conflicts", "new_root", "context", "hop_span_id", "inject",
                  "proxied"):
            if k not in d:
                raise AssertionError("%s: JSON output lacks %r: %r" % (what, k, sorted(d)))
        self.fmt = {f["format"]: f for f in d["formats"]}
        self.ctx = d["context"]

    def status(self, f):
        return self.fmt[f]["status"]

    def inject(self, f):
        return [tuple(x) for x in self.d["inject"][f]]

    def proxied(self):
        return [tuple(x) for x in self.d["proxied"]["headers"]]

    def baggage(self):
        return [(b["key"], b["value"]) for b in self.ctx["baggage"]]

    def eq(self, got, want, msg):
        if got != want:
            raise AssertionError("%s: %s: expected %r, got %r\n  context: %r\n  formats: %r"
                                 % (self.what, msg, want, got, self.ctx,
                                    {f: (v["status"], v.get("reason")) for f, v in self.fmt.items()}))


# ====================================================================== tests


def test_human_output_names_each_status_and_reason():
    lines = ["GET /x HTTP/1.1", "Host: a", "traceparent: 00-%s-%s-01" % (T, P), "b3: %s-%s-true" % (T, P),
             "sw8: 1-YQ==-Yg==-0-Yw==", "X-Other: 1"]
    rc, out, err = run_decode(lines, ["--span-id", S, "--propagators", "tracecontext,b3"])
    h.eq(rc, 0, "exit status (stderr %r)" % err)
    rows = {}
    in_table = False
    for line in out.splitlines():
        if line.startswith("FORMAT"):
            in_table = True
            h.true(re.search(r"STATUS.*TRACE ID.*PARENT ID.*REASON", line), "table header %r" % line)
            continue
        if in_table:
            if not line.strip():
                break
            parts = line.split(None, 4)
            rows[parts[0]] = parts[1:]
    h.eq(sorted(rows), sorted(FORMATS), "one row per format in:\n%s" % out)
    h.eq(rows["tracecontext"], ["valid", T, P, "accept"], "tracecontext row")
    h.eq(rows["b3"][0], "invalid", "b3 row status")
    h.true(len(rows["b3"]) == 4 and rows["b3"][1:3] == ["-", "-"] and len(rows["b3"][3]) > 3,
           "b3 row names the reason it is invalid: %r" % rows["b3"])
    h.eq(rows["sw8"][0], "invalid", "sw8 row status")
    h.true(len(rows["sw8"]) == 4 and rows["sw8"][3].strip(), "sw8 row names a reason: %r" % rows["sw8"])
    for f in ("baggage", "b3multi", "jaeger", "xray", "ottrace", "datadog", "eagleeye"):
        h.eq(rows[f], ["absent", "-", "-"], "%s row" % f)
    h.contains(out, "winner: tracecontext", "winner line")
    h.contains(out, "hop span_id: %s" % S, "hop span id line")
    h.true(re.search(r"(?m)^  traceparent: 00-%s-%s-01$" % (T, S), out),
           "the proxied headers include the new traceparent:\n%s" % out)
    h.true(re.search(r"(?m)^  b3: %s-%s-1$" % (T, S), out), "the proxied b3 refreshed:\n%s" % out)
    h.true(re.search(r"(?m)^  X-Other: 1$", out), "other headers listed as the proxy would send them:\n%s" % out)
    h.true(not re.search(r"(?m)^  sw8: ", out), "the invalid sw8 is removed in replace mode:\n%s" % out)

    # The documented reason for two traceparent fields.
    rc, out, err = run_decode(["traceparent: 00-%s-%s-01" % (T, P), "traceparent: 00-%s-%s-01" % (T, S)])
    h.eq(rc, 0, "exit status")
    row = [l for l in out.splitlines() if l.startswith("tracecontext ")]
    h.true(row and "invalid" in row[0] and "duplicated traceparent" in row[0],
           "reason for two traceparent fields: %r" % row)
    h.contains(out, "winner: none (a new trace starts)", "winner line for a new trace")


def test_json_structure():
    d = decode_json(["traceparent: 00-%s-%s-01" % (T, P), "tracestate: rojo=00f067aa0ba902b7",
                     "baggage: tenant=acme,user=J%C3%B6rg", "b3: %s-%s-1" % (T, P),
                     "uber-trace-id: %s:%s:0:1" % ("a" * 32, P), "X-Amzn-Trace-Id: Root=1-abc",
                     "X-Other: kept"],
                    ["--span-id", S, "--propagators", "tracecontext,baggage,b3multi"], what="json structure")
    d.eq([f["format"] for f in d.d["formats"]], FORMATS, "formats in registry order")
    d.eq({f: d.status(f) for f in FORMATS},
         {"tracecontext": "valid", "baggage": "valid", "b3": "valid", "b3multi": "absent", "jaeger": "valid",
          "xray": "invalid", "ottrace": "absent", "datadog": "absent", "sw8": "absent", "eagleeye": "absent"},
         "per-format status")
    h.true(isinstance(d.fmt["xray"].get("reason"), str) and d.fmt["xray"]["reason"], "X-Ray reason: %r" % d.fmt["xray"])
    h.true("reason" not in d.fmt["tracecontext"], "no reason on a valid format")
    d.eq(d.d["winner"], "tracecontext", "winner")
    d.eq(d.d["merged"], ["b3"], "merged (same trace id)")
    d.eq(d.d["conflicts"], ["jaeger"], "conflicts (another trace id)")
    d.eq(d.d["new_root"], False, "new_root")
    d.eq((d.ctx["trace_id"], d.ctx["parent_id"], d.ctx["sampling"], d.ctx["flags"], d.ctx["id_width"]),
         (T, P, "accept", "01", 128), "context ids and sampling")
    d.eq(d.ctx["tracestate"], "rojo=00f067aa0ba902b7", "context tracestate")
    d.eq(d.baggage(), [("tenant", "acme"), ("user", "Jörg")], "context baggage (decoded)")
    d.eq(d.d["hop_span_id"], S, "hop span id")
    d.eq(d.fmt["jaeger"]["context"]["trace_id"], "a" * 32, "jaeger's own context")
    d.eq(sorted(d.d["inject"]), sorted(FORMATS), "inject: one entry per format")
    d.eq(d.inject("tracecontext"), [("traceparent", "00-%s-%s-01" % (T, S)), ("tracestate", "rojo=00f067aa0ba902b7")],
         "tracecontext inject")
    d.eq(d.inject("baggage"), [("baggage", "tenant=acme,user=J%C3%B6rg")], "baggage inject (canonical encoding)")
    d.eq(d.d["proxied"]["injected"], ["tracecontext", "baggage", "b3multi"], "proxied: injected formats")
    d.eq(d.proxied(), [("X-Other", "kept"), ("traceparent", "00-%s-%s-01" % (T, S)),
                       ("tracestate", "rojo=00f067aa0ba902b7"), ("baggage", "tenant=acme,user=J%C3%B6rg"),
                       ("x-b3-traceid", T), ("x-b3-spanid", S), ("x-b3-sampled", "1")],
         "proxied headers: others first, then the --propagators formats in order")
    d.eq(d.d["proxied"]["baggage_dropped"], 0, "baggage dropped")


def test_inject_vectors_byte_exact():
    tp = "traceparent: 00-%s-%s-01" % (T, P)
    d = decode_json([tp, "baggage: key1=value%201%20%2F%20blah"], ["--span-id", S, "--propagators", "sw8"] + V48_ARGS,
                    what="W3C T -> all")
    d.eq([x for x in d.inject("sw8") if x[0] == "sw8"], [("sw8", V48)], "vector 48 (W3C -> sw8)")
    d.eq([x for x in d.inject("sw8") if x[0] != "sw8"], [("sw8-correlation", "a2V5MQ==:dmFsdWUgMSAvIGJsYWg=")],
         "sw8-correlation carries the baggage (base64 key:value)")
    d.eq(d.inject("b3"), [("b3", "%s-%s-1" % (T, S))], "vector 28 (b3 single)")
    d.eq(d.inject("b3multi"), [("x-b3-traceid", T), ("x-b3-spanid", S), ("x-b3-sampled", "1")],
         "vector 28 (b3 multi)")
    d.eq(sorted(d.inject("jaeger")), sorted([("uber-trace-id", "%s:%s:0:1" % (T, S)),
                                             ("uberctx-key1", "value%201%20%2F%20blah")]), "vector 33 (jaeger)")
    d.eq(sorted(d.inject("datadog")), sorted([("x-datadog-trace-id", "11803532876627986230"),
                                              ("x-datadog-parent-id", "67667974448284343"),
                                              ("x-datadog-sampling-priority", "1"),
                                              ("x-datadog-tags", "_dd.p.tid=4bf92f3577b34da6")]),
         "vector 41 (datadog)")
    d.eq(d.inject("tracecontext"), [("traceparent", "00-%s-%s-01" % (T, S))], "tracecontext")
    d.eq(d.inject("xray"), [("x-amzn-trace-id", "Root=1-%s-%s;Parent=%s;Sampled=1" % (T[:8], T[8:], S))], "xray")
    d.eq(sorted(d.inject("ottrace")), sorted([("ot-tracer-traceid", T[16:]), ("ot-tracer-spanid", S),
                                              ("ot-tracer-sampled", "true"),
                                              ("ot-baggage-key1", "value 1 / blah")]), "ottrace")
    ee = dict(d.inject("eagleeye"))
    d.eq((ee.get("eagleeye-traceid"), ee.get("eagleeye-spanid")), (T, P45.java_long(S)),
         "eagleeye trace id and span id (signed decimal)")
    d.eq(d.proxied(), [("sw8", V48), ("sw8-correlation", "a2V5MQ==:dmFsdWUgMSAvIGJsYWg=")],
         "proxied: --propagators sw8 only")

    # Vector 48 back through §8.4: trace T, parent S.
    back = decode_json(["sw8: " + V48], what="vector 48 back")
    back.eq((back.ctx["trace_id"], back.ctx["parent_id"], back.ctx["sampling"]), (T, S, "accept"),
            "sw8 vector 48 decoded")
    back.eq(P45.segment_id_to_span_id("00f067aa0ba902b70000000000000000", 0), S, "the Python §8.4 port")

    cases = [
        ("vector 35 (OT right half)", "traceparent: 00-a1ce929d0e0e4736a3ce929d0e0e4736-%s-01" % P, S,
         "ottrace", [("ot-tracer-traceid", "a3ce929d0e0e4736"), ("ot-tracer-spanid", S), ("ot-tracer-sampled", "true")]),
        ("vector 37 (X-Ray)", "traceparent: 00-fedcba098765432100fedcba09876543-%s-01" % P, "fedcba0987654321",
         "xray", [("x-amzn-trace-id", "Root=1-fedcba09-8765432100fedcba09876543;Parent=fedcba0987654321;Sampled=1")]),
        ("vector 2 (random flag kept)", "traceparent: 00-%s-%s-02" % (T, P), S,
         "tracecontext", [("traceparent", "00-%s-%s-02" % (T, S))]),
        ("vector 12 (flags 09 -> 01)", "traceparent: 00-%s-%s-09" % (T, P), S,
         "tracecontext", [("traceparent", "00-%s-%s-01" % (T, S))]),
        ("vector 4 (future version -> 00)", "traceparent: cc-%s-%s-01-what-the-future-will-be-like" % (T, P), S,
         "tracecontext", [("traceparent", "00-%s-%s-01" % (T, S))]),
        ("vector 40 (Datadog re-injection)", ["x-datadog-trace-id: 1234567890123456789",
                                              "x-datadog-parent-id: 987654321",
                                              "x-datadog-tags: _dd.p.tid=640cfd8d00000000"], S,
         # No priority arrived: the hop's sampler decides (accept by default).
         "datadog", [("x-datadog-trace-id", "1234567890123456789"), ("x-datadog-parent-id", str(int(S, 16))),
                     ("x-datadog-sampling-priority", "1"), ("x-datadog-tags", "_dd.p.tid=640cfd8d00000000")]),
        ("b3 64-bit stays 64-bit", "b3: a3ce929d0e0e4736-%s-d" % P, S,
         "b3", [("b3", "a3ce929d0e0e4736-%s-d" % S)]),
        ("jaeger debug", "uber-trace-id: %s:%s:0:3" % (T, P), S,
         "jaeger", [("uber-trace-id", "%s:%s:0:3" % (T, S))]),
        # A deferred decision is the hop's sampler's to make (docs/spans.md).
        ("b3 defer -> X-Ray, decided by the sampler", "b3: %s-%s" % (T, P), S,
         "xray", [("x-amzn-trace-id", "Root=1-%s-%s;Parent=%s;Sampled=1" % (T[:8], T[8:], S))]),
        ("X-Ray Self kept (vector 39)", "X-Amzn-Trace-Id: Self=1-67891233-12456789abcdef012345678;"
         "Root=1-67891233-abcdef012345678912345678;CalledFrom=app", S,
         "xray", [("x-amzn-trace-id", "Root=1-67891233-abcdef012345678912345678;Parent=%s;Sampled=1;"
                   "Self=1-67891233-12456789abcdef012345678;CalledFrom=app" % S)]),
    ]
    for name, lines, span, fmt, want in cases:
        lines = [lines] if isinstance(lines, str) else lines
        d = decode_json(lines, ["--span-id", span], what=name)
        got = d.inject(fmt)
        if fmt in ("datadog", "ottrace"):
            got, want = sorted(got), sorted(want)
        d.eq(got, want, "%s inject" % fmt)


def test_doc_examples_byte_exact():
    """The worked examples of docs/formats/eagleeye.md and tracebridge-tracestate.md."""
    d = decode_json(["EagleEye-TraceId: eac0a8020116974429411421021d0001", "EagleEye-RpcId: 0.2.1",
                     "EagleEye-SpanId: -1207596966212570593", "EagleEye-Sampled: s0",
                     "EagleEye-UserData: __microservice_match_result__=[]"],
                    ["--span-id", S, "--service-name", "frontend", "--propagators", "eagleeye"], what="EagleEye example")
    d.eq((d.ctx["trace_id"], d.ctx["parent_id"], d.ctx["sampling"]),
         ("eac0a8020116974429411421021d0001", "ef3dc0f5150f721f", "deny"), "EagleEye example decoded")
    d.eq(d.proxied(), [("eagleeye-traceid", "eac0a8020116974429411421021d0001"), ("eagleeye-rpcid", "0.2.1.1"),
                       ("eagleeye-spanid", "67667974448284343"), ("eagleeye-pspanid", "-1207596966212570593"),
                       ("eagleeye-sampled", "s0"), ("eagleeye-pappname", "frontend"),
                       ("eagleeye-userdata", "__microservice_match_result__=[]")], "EagleEye example out")

    d = decode_json(["sw8: " + P45.V47_SW8], ["--span-id", S, "--propagators", "tracecontext"],
                    what="tracestate example 1")
    d.eq(d.proxied(), [("traceparent", "00-de5980b8fde34a371be41bcd5e2fd4dd-%s-01" % S),
                       ("tracestate", "tracebridge=sw:ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ")],
         "a Java-agent SkyWalking trace across W3C")

    d = decode_json(["b3: a3ce929d0e0e4736-%s-1" % P,
                     "sw8: " + P45.sw8_value(1, "00000000-0000-0000-a3ce-929d0e0e4736", P + "0" * 16, 0, "a", "b", "c",
                                             "d"),
                     "EagleEye-TraceId: a3ce929d0e0e4736", "EagleEye-SpanId: %s" % P45.java_long(P)],
                    ["--span-id", S, "--propagators", "tracecontext"], what="tracestate example 2")
    d.eq(d.d["merged"], ["sw8", "eagleeye"], "three formats, one trace")
    d.eq(d.proxied(), [("traceparent", "00-0000000000000000a3ce929d0e0e4736-%s-01" % S),
                       ("tracestate", "tracebridge=sw:MDAwMDAwMDAtMDAwMC0wMDAwLWEzY2UtOTI5ZDBlMGU0NzM2;"
                                      "ee:YTNjZTkyOWQwZTBlNDczNg;w:64")],
         "64-bit id with a dashed SkyWalking UUID and a 16-character EagleEye id")
    # ... and a tracebridge further down restores all three.
    back = decode_json(["traceparent: 00-0000000000000000a3ce929d0e0e4736-%s-01" % S,
                        "tracestate: tracebridge=sw:MDAwMDAwMDAtMDAwMC0wMDAwLWEzY2UtOTI5ZDBlMGU0NzM2;"
                        "ee:YTNjZTkyOWQwZTBlNDczNg;w:64"],
                       ["--span-id", P, "--propagators", "sw8,eagleeye,b3"], what="tracestate example 2 restored")
    out = dict(back.proxied())
    back.eq(P45.unb64(out.get("sw8", "-x").split("-")[1], "sw8"), "00000000-0000-0000-a3ce-929d0e0e4736",
            "sw8 trace id restored")
    back.eq(out.get("eagleeye-traceid"), "a3ce929d0e0e4736", "EagleEye trace id restored")
    back.eq(out.get("b3"), "a3ce929d0e0e4736-%s-1" % P, "64-bit width restored for b3")


def test_tracestate_member_size_limit():
    """A SkyWalking id of up to 189 bytes fits the 256-character member; 190 does not."""
    for n, fits in [(189, True), (190, False)]:
        sw_id = ("x" * n)
        d = decode_json(["sw8: " + P45.sw8_value(1, sw_id, "seg", 1, "a", "b", "c", "d")],
                        ["--span-id", S, "--propagators", "tracecontext"], what="%d-byte SkyWalking id" % n)
        ts = [v for k, v in d.proxied() if k == "tracestate"]
        want = ["tracebridge=sw:" + P45.base64.urlsafe_b64encode(sw_id.encode()).decode().rstrip("=")] if fits else []
        d.eq(ts, want, "tracestate for a %d-byte id" % n)
        if fits:
            h.true(len(ts[0]) - len("tracebridge=") <= 256, "member value within 256 characters")


# (name, input lines, winner, trace id, parent id, sampling, {format: status}, extra checks)
EXTRACT = [
    ("vector 1", ["traceparent: 00-12345678901234567890123456789012-1234567890123456-01"], "tracecontext",
     "12345678901234567890123456789012", "1234567890123456", "accept", {}, {}),
    ("vector 3 (v00 trailing '.')", ["traceparent: 00-%s-%s-01." % (T, P)], None, None, None, None,
     {"tracecontext": "invalid"}, {}),
    ("vector 3 (v00 trailing -xyz)", ["traceparent: 00-%s-%s-01-what-the-future-will-be-like" % (T, P)], None, None,
     None, None, {"tracecontext": "invalid"}, {}),
    ("vector 4", ["traceparent: cc-%s-%s-01-what-the-future-will-be-like" % (T, P)], "tracecontext", T, P, "accept",
     {}, {}),
    ("vector 5", ["traceparent: cc-%s-%s-01.what-the-future-will-be-like" % (T, P)], None, None, None, None,
     {"tracecontext": "invalid"}, {}),
    ("vector 6 (ff)", ["traceparent: ff-%s-%s-01" % (T, P)], None, None, None, None, {"tracecontext": "invalid"}, {}),
    ("vector 6 (.0)", ["traceparent: .0-%s-%s-01" % (T, P)], None, None, None, None, {"tracecontext": "invalid"}, {}),
    ("vector 7 (zero trace)", ["traceparent: 00-%s-%s-01" % ("0" * 32, P)], None, None, None, None,
     {"tracecontext": "invalid"}, {}),
    ("vector 7 (zero parent)", ["traceparent: 00-%s-%s-01" % (T, "0" * 16)], None, None, None, None,
     {"tracecontext": "invalid"}, {}),
    ("vector 8 (short trace)", ["traceparent: 00-%s-%s-01" % (T[:31], P)], None, None, None, None,
     {"tracecontext": "invalid"}, {}),
    ("vector 8 (flags 001)", ["traceparent: 00-%s-%s-001" % (T, P)], None, None, None, None,
     {"tracecontext": "invalid"}, {}),
    ("vector 9 (OWS)", ["traceparent: \t00-%s-%s-01 \t" % (T, P)], "tracecontext", T, P, "accept", {}, {}),
    ("vector 10 (two fields)", ["traceparent: 00-12345678901234567890123456789011-1234567890123456-01",
                                "traceparent: 00-12345678901234567890123456789012-1234567890123456-01"],
     None, None, None, None, {"tracecontext": "invalid"}, {}),
    ("vector 11 (upper case)", ["traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-%s-01" % S], None, None, None, None,
     {"tracecontext": "invalid"}, {}),
    ("vector 12 (flags 09)", ["traceparent: 00-%s-%s-09" % (T, S)], "tracecontext", T, S, "accept", {},
     {"flags": "01"}),
    ("vector 13", ["traceparent: 00-%s-%s-01" % (T, P), "tracestate: foo=1 \t , \t bar=2, \t baz=3"],
     "tracecontext", T, P, "accept", {}, {"tracestate": "foo=1,bar=2,baz=3"}),
    ("vector 14", ["traceparent: 00-%s-%s-01" % (T, P), "tracestate: foo=1,bar=2", "tracestate: rojo=1,congo=2",
                   "tracestate: baz=3"], "tracecontext", T, P, "accept", {},
     {"tracestate": "foo=1,bar=2,rojo=1,congo=2,baz=3"}),
    ("vector 15", ["traceparent: 00-%s-%s-01" % (T, P), "tracestate: ", "tracestate: foo=1"], "tracecontext", T, P,
     "accept", {}, {"tracestate": "foo=1"}),
    ("vector 17 (@foo)", ["traceparent: 00-%s-%s-01" % (T, P), "tracestate: @foo=1,bar=2"], "tracecontext", T, P,
     "accept", {}, {"tracestate": ""}),
    ("vector 17 (foo@@bar)", ["traceparent: 00-%s-%s-01" % (T, P), "tracestate: foo@@bar=1,bar=2"], "tracecontext",
     T, P, "accept", {}, {"tracestate": "foo@@bar=1,bar=2"}),
    ("vector 18 (257-char key)", ["traceparent: 00-%s-%s-01" % (T, P), "tracestate: %s=1,bar=2" % ("z" * 257)],
     "tracecontext", T, P, "accept", {}, {"tracestate": ""}),
    ("vector 19 (32 members)", ["traceparent: 00-%s-%s-01" % (T, P),
                                "tracestate: " + ",".join("bar%02d=%02d" % (i, i) for i in range(1, 33))],
     "tracecontext", T, P, "accept", {}, {"tracestate": ",".join("bar%02d=%02d" % (i, i) for i in range(1, 33))}),
    ("vector 19 (33 members)", ["traceparent: 00-%s-%s-01" % (T, P),
                                "tracestate: " + ",".join("bar%02d=%02d" % (i, i) for i in range(1, 34))],
     "tracecontext", T, P, "accept", {}, {"tracestate": ""}),
    ("vector 20 (foo=,bar=3)", ["traceparent: 00-%s-%s-01" % (T, P), "tracestate: foo=,bar=3"], "tracecontext", T,
     P, "accept", {}, {"tracestate": ""}),
    ("vector 21 (tracestate alone)", ["tracestate: foo=1"], None, None, None, None, {}, {"tracestate": ""}),
    ("vector 22 (b3 d)", ["b3: %s-%s-d" % (T, S)], "b3", T, S, "debug", {}, {}),
    ("vector 22 (b3 defer)", ["b3: %s-%s" % (T, S)], "b3", T, S, "defer", {}, {}),
    ("vector 23 (b3 64-bit)", ["b3: a3ce929d0e0e4736-%s-1" % S], "b3", "0" * 16 + "a3ce929d0e0e4736", S, "accept",
     {}, {"id_width": 64}),
    ("vector 24 (bad single, multi)", ["b3: %s-%s-" % (T, S), "X-B3-TraceId: %s" % T, "X-B3-SpanId: %s" % S,
                                       "X-B3-Sampled: 0"], "b3", T, S, "deny", {"b3multi": "valid"}, {}),
    ("vector 25 (single wins)", ["b3: %s-%s-1" % (T, S), "X-B3-Sampled: invalid"], "b3", T, S, "accept",
     {"b3multi": "invalid"}, {}),
    ("vector 26 (Flags over Sampled 0)", ["X-B3-TraceId: %s" % T, "X-B3-SpanId: %s" % S, "X-B3-Sampled: 0",
                                          "X-B3-Flags: 1"], "b3", T, S, "debug", {"b3multi": "valid"}, {}),
    ("vector 27 (b3 true)", ["b3: %s-%s-true" % (T, S)], None, None, None, None, {"b3": "invalid"}, {}),
    ("vector 27 (b3 upper)", ["b3: AB000000000000000000000000000000-cd00000000000000-1"], None, None, None, None,
     {"b3": "invalid"}, {}),
    ("vector 29 (jaeger 15 hex)", ["uber-trace-id: 3ce929d0e0e4736:%s:0:1" % S], "jaeger",
     "000000000000000003ce929d0e0e4736", S, "accept", {}, {}),
    ("vector 30 (jaeger 3)", ["uber-trace-id: a1ce929d0e0e4736a3ce929d0e0e4736:%s:0:3" % S], "jaeger",
     "a1ce929d0e0e4736a3ce929d0e0e4736", S, "debug", {}, {}),
    ("vector 30 (jaeger 2)", ["uber-trace-id: a1ce929d0e0e4736a3ce929d0e0e4736:%s:0:2" % S], "jaeger",
     "a1ce929d0e0e4736a3ce929d0e0e4736", S, "deny", {}, {}),
    ("vector 31 (parent ignored)", ["uber-trace-id: %s:%s:whatever:1" % (T, S)], "jaeger", T, S, "accept", {}, {}),
    ("vector 31 (wrong separator)", ["uber-trace-id: %s-%s-0-1" % (T, S)], None, None, None, None,
     {"jaeger": "invalid"}, {}),
    ("vector 32 (URL-encoded)", ["uber-trace-id: %s%%3A%s%%3A0%%3A1" % (T, S)], "jaeger", T, S, "accept", {}, {}),
    ("vector 34 (OT)", ["ot-tracer-traceid: a3ce929d0e0e4736", "ot-tracer-spanid: %s" % S, "ot-tracer-sampled: true",
                        "ot-baggage-test: value123"], "ottrace", "0" * 16 + "a3ce929d0e0e4736", S, "accept", {},
     {"baggage": [("test", "value123")]}),
    ("vector 36 (X-Ray)", ["X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                           "Sampled=1"], "xray", "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", "accept",
     {}, {}),
    ("vector 38 (X-Ray ?)", ["X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                             "Sampled=?"], "xray", "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", "defer",
     {}, {}),
    ("vector 38 (X-Ray Root=1-abc)", ["X-Amzn-Trace-Id: Root=1-abc-123;Parent=53995c3f42cd8ad8;Sampled=1"], None,
     None, None, None, {"xray": "invalid"}, {}),
    ("vector 40 (Datadog 128)", ["x-datadog-trace-id: 1234567890123456789", "x-datadog-parent-id: 987654321",
                                 "x-datadog-tags: _dd.p.tid=640cfd8d00000000"], "datadog",
     "640cfd8d00000000112210f47de98115", "000000003ade68b1", "defer", {}, {}),
    ("vector 42 (Datadog bad tid)", ["x-datadog-trace-id: 1234567890123456789", "x-datadog-parent-id: 987654321",
                                     "x-datadog-tags: _dd.p.tid=XXXXXXXXXXXXXXXX"], "datadog",
     "0000000000000000112210f47de98115", "000000003ade68b1", "defer", {}, {}),
    ("vector 43 (sw8 dashed)", ["sw8: " + P45.sw8_value(1, "de5980b8-fce3-4a37-aab9-b4ac3af7eedd",
                                                        "4f2f27748b8e44ecaf18fe0347194e86.33.16560607369950066", 123,
                                                        "a", "b", "c", "d")],
     "sw8", "de5980b8fce34a37aab9b4ac3af7eedd", "e9c455a82542306a", "accept", {},
     {"sw8_trace_id": "de5980b8-fce3-4a37-aab9-b4ac3af7eedd"}),
    ("vector 47 (sw8 Java agent)", ["sw8: " + P45.V47_SW8], "sw8", P45.V47_W3C_TRACE, P45.V47_W3C_PARENT, "accept",
     {}, {"sw8_trace_id": P45.V47_TRACE}),
    ("vector 49 (sw8-correlation)", ["sw8: " + P45.sw8_value(1, T, S + "0" * 16, 0, "a", "b", "c", "d"),
                                     "sw8-correlation: dGVuYW50:YWNtZQ==,Y2FuYXJ5:dHJ1ZQ=="], "sw8", T, S, "accept",
     {}, {"baggage": [("tenant", "acme"), ("canary", "true")]}),
    ("vector 50 (sw8 7 fields)", ["sw8: 1-YQ==-Yg==-0-Yw==-ZA==-ZQ=="], None, None, None, None, {"sw8": "invalid"}, {}),
    ("vector 50 (sw8 '!')", ["sw8: 1-YQ!=-Yg==-0-Yw==-ZA==-ZQ==-Zg=="], None, None, None, None, {"sw8": "invalid"},
     {}),
    ("vector 50 (sw8 span x)", ["sw8: 1-YQ==-Yg==-x-Yw==-ZA==-ZQ==-Zg=="], None, None, None, None,
     {"sw8": "invalid"}, {}),
    ("vector 55 (baggage)", ["traceparent: 00-%s-%s-01" % (T, P),
                             "baggage: userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false"], "tracecontext", T,
     P, "accept", {"baggage": "valid"},
     {"baggage": [("userId", "Amélie"), ("serverNode", "DF 28"), ("isProduction", "false")]}),
    ("vector 56 (baggage OWS, properties)", ["traceparent: 00-%s-%s-01" % (T, P),
                                             "baggage: key1=value1;property1;property2, key2 = value2, "
                                             "key3=value3; propertyKey=propertyValue"], "tracecontext", T, P,
     "accept", {}, {"baggage": [("key1", "value1"), ("key2", "value2"), ("key3", "value3")]}),
    ("vector 57 (EagleEye)", ["EagleEye-TraceId: eac0a8020216868084400006973d000a", "EagleEye-RpcId: 0.1",
                              "EagleEye-SpanId: %s" % P45.java_long(S)], "eagleeye",
     "eac0a8020216868084400006973d000a", S, "defer", {}, {"eagleeye_trace_id": "eac0a8020216868084400006973d000a"}),
]


def test_extract_vectors():
    failures = []
    trace_for_new_root = "0123456789abcdef0123456789abcdef"
    for name, lines, winner, trace, parent, sampling, statuses, extra in EXTRACT:
        try:
            d = decode_json(lines, ["--span-id", S, "--trace-id", trace_for_new_root], what=name)
            d.eq(d.d["winner"], winner, "winner")
            if winner is None:
                d.eq((d.d["new_root"], d.ctx["trace_id"], d.ctx["parent_id"]), (True, trace_for_new_root, None),
                     "a new trace from --trace-id")
            else:
                d.eq((d.d["new_root"], d.ctx["trace_id"], d.ctx["parent_id"], d.ctx["sampling"]),
                     (False, trace, parent, sampling), "context")
            for f, st in statuses.items():
                d.eq(d.status(f), st, "%s status" % f)
                if st == "invalid":
                    h.true(d.fmt[f].get("reason"), "%s: invalid %s without a reason" % (name, f))
            for k, v in extra.items():
                got = d.baggage() if k == "baggage" else d.ctx.get(k)
                d.eq(got, v, k)
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        raise AssertionError("%d of %d extraction vectors failed:\n%s" % (len(failures), len(EXTRACT),
                                                                         "\n".join(failures)))


def test_sw8_vector_47_human_and_json():
    d = decode_json(["sw8: " + P45.V47_SW8], ["--propagators", "tracecontext", "--span-id", S], what="vector 47")
    d.eq((d.ctx["trace_id"], d.ctx["parent_id"], d.ctx["sampling"]), (P45.V47_W3C_TRACE, P45.V47_W3C_PARENT, "accept"),
         "vector 47 as W3C")
    d.eq(d.ctx.get("sw8_trace_id"), P45.V47_TRACE, "the SkyWalking trace id kept")
    d.eq(d.fmt["sw8"]["context"]["trace_id"], P45.V47_W3C_TRACE, "sw8's own context")
    tp = [v for n, v in d.proxied() if n == "traceparent"]
    d.eq(tp, ["00-%s-%s-01" % (P45.V47_W3C_TRACE, S)], "proxied traceparent")
    ts = [v for n, v in d.proxied() if n == "tracestate"]
    h.eq(len(ts), 1, "one tracestate carrying the SkyWalking id")
    h.true(ts[0].startswith("tracebridge=sw:"), "our member: %r" % ts)
    h.eq(P45.unb64url(ts[0].split("sw:", 1)[1].split(";")[0], "tracestate"), P45.V47_TRACE, "sw: field")
    h.true("=" not in ts[0][len("tracebridge="):], "base64url without padding: %r" % ts[0])
    # Decoding that output again gives back the original SkyWalking id.
    d2 = decode_json(["traceparent: " + tp[0], "tracestate: " + ts[0]], ["--propagators", "sw8", "--span-id", P],
                     what="vector 47 via W3C")
    sw8 = dict(d2.proxied()).get("sw8", "")
    fields = sw8.split("-")
    h.eq(len(fields), 8, "sw8 re-emitted: %r" % sw8)
    h.eq(P45.unb64(fields[1], "sw8 trace"), P45.V47_TRACE, "sw8 trace id restored from tracestate")
    h.eq(P45.segment_id_to_span_id(P45.unb64(fields[2], "segment"), int(fields[3])), P, "sw8 parent = --span-id")

    rc, out, err = run_decode(["sw8: " + P45.V47_SW8], ["--span-id", S])
    h.eq(rc, 0, "exit status")
    row = [l.split() for l in out.splitlines() if l.startswith("sw8 ")]
    h.eq(row[:1], [["sw8", "valid", P45.V47_W3C_TRACE, P45.V47_W3C_PARENT, "accept"]], "human sw8 row")
    h.contains(out, "skywalking trace id: " + P45.V47_TRACE, "human output shows the native id")


def test_bad_input_lines_exit_2():
    good = "traceparent: 00-%s-%s-01" % (T, P)
    cases = [
        ([good, "traceparent 00-%s-%s-01" % (T, P)], 2),
        (["no colon here"], 1),
        ([good, "X-A: 1", ": empty name"], 3),
        ([good, "bad name: x"], 2),
        (["GET / HTTP/1.1", good, "GET /again HTTP/1.1"], 3),
        ([good, "X-Ctl: a\x01b"], 2),
        (["X-A: 1", "X-B: 2", "X-C: 3", "b\u00e4d: x"], 4),
    ]
    for lines, n in cases:
        rc, out, err = run_decode(lines, ["--json"])
        h.eq(rc, 2, "exit status for %r" % lines)
        h.true(re.search(r"\bline %d\b" % n, err), "stderr names line %d for %r: %r" % (n, lines, err))
        h.eq(out, "", "nothing on stdout for bad input %r" % lines)
    # What is fine: a request line first, CRLF, an empty line ending the input.
    ok = decode_json("GET /x HTTP/1.1\r\n%s\r\n\r\nthis is not a header\n" % good, what="request line + CRLF + end")
    ok.eq((ok.d["winner"], ok.ctx["trace_id"]), ("tracecontext", T), "decoded")
    ok = decode_json("", what="empty input")
    ok.eq((ok.d["winner"], ok.d["new_root"]), (None, True), "no headers: a new trace")


def test_options():
    good = ["traceparent: 00-%s-%s-01" % (T, P), "b3: %s-%s-1" % ("c" * 32, P)]
    for args, flag in [(["--span-id", "00F067AA0BA902B7"], "--span-id"), (["--span-id", "123"], "--span-id"),
                       (["--trace-id", "xyz"], "--trace-id"), (["--propagators", "bogus"], "--propagators"),
                       (["--extract", "b3,,jaeger"], "--extract"), (["--inject-mode", "merge"], "--inject-mode"),
                       (["--clear", "nope"], "--clear"), (["stray"], "stray"), (["--json", "--span-id"], "--span-id")]:
        rc, out, err = run_decode(good, args)
        h.eq(rc, 2, "exit status for %r" % args)
        h.contains(err, flag, "stderr names %s for %r" % (flag, args))
    rc, out, err = run_decode(good, ["--help"])
    h.eq(rc, 0, "--help")
    h.contains(out, "--span-id", "decode --help lists its flags")
    rc, out, err = run_decode(good, [], env={"OTEL_PROPAGATORS": "nope"})
    h.eq(rc, 2, "exit status with OTEL_PROPAGATORS=nope")
    h.contains(err, "OTEL_PROPAGATORS", "stderr names the variable")

    d = decode_json(good, ["--extract", "b3,tracecontext", "--span-id", S], what="--extract b3,tracecontext")
    d.eq((d.d["winner"], d.ctx["trace_id"], d.d["conflicts"]), ("b3", "c" * 32, ["tracecontext"]), "b3 first")
    d = decode_json(good, ["--span-id", S], env={"OTEL_PROPAGATORS": "jaeger", "OTEL_SERVICE_NAME": None},
                    what="OTEL_PROPAGATORS=jaeger")
    d.eq(d.d["proxied"]["injected"], ["jaeger"], "OTEL_PROPAGATORS sets the inject list")
    d.eq(d.proxied(), [("uber-trace-id", "%s:%s:0:1" % (T, S))], "proxied headers")
    d = decode_json(good, ["--span-id", S, "--propagators", "b3multi"], env={"OTEL_PROPAGATORS": "jaeger"},
                    what="--propagators over OTEL_PROPAGATORS")
    d.eq(d.d["proxied"]["injected"], ["b3multi"], "the flag wins over the variable")
    d = decode_json(good, ["--span-id", S, "--inject-mode", "add", "--propagators", "jaeger"], what="add mode")
    d.eq(sorted(d.d["proxied"]["injected"]), ["b3", "jaeger", "tracecontext"], "add: the list plus what came")
    d.eq(sorted(d.proxied()), sorted([("traceparent", "00-%s-%s-01" % (T, S)), ("b3", "%s-%s-1" % (T, S)),
                                      ("uber-trace-id", "%s:%s:0:1" % (T, S))]),
         "add: every header names the winner's trace and the hop")
    d = decode_json(good, ["--span-id", S, "--inject-mode", "add", "--clear", "b3"], what="add + clear")
    d.eq(d.d["proxied"]["injected"], ["tracecontext", "baggage"], "clear b3 in add mode (default list + what came)")
    d.eq([n for n, _ in d.proxied()], ["traceparent"], "b3 removed, not written")
    d = decode_json([], ["--trace-id", T, "--span-id", S, "--propagators", "tracecontext"], what="new root")
    # The context shows what arrived (nothing: random flag only); the decision
    # sent downstream is the sampler's.
    d.eq((d.d["new_root"], d.ctx["trace_id"], d.ctx["flags"], d.d["decision"]), (True, T, "02", "accept"),
         "new root from --trace-id")
    d.eq(d.proxied(), [("traceparent", "00-%s-%s-03" % (T, S))], "new root traceparent")
    d = decode_json(["sw8: " + P45.sw8_value(1, T, S + "0" * 16, 0, "a", "b", "c", "d")],
                    ["--propagators", "sw8", "--span-id", P, "--method", "PUT", "--path", "/p/q", "--target", "up:81"],
                    env={"OTEL_SERVICE_NAME": "env-svc", "OTEL_PROPAGATORS": None}, what="sw8 hop facts")
    f = dict(d.proxied())["sw8"].split("-")
    got = [P45.unb64(x, "sw8") for x in (f[4], f[5], f[6], f[7])]
    h.eq(got[0], "env-svc", "sw8 service from OTEL_SERVICE_NAME")
    h.eq(got[1], "tracebridge-decode", "sw8 instance default of decode")
    h.eq(got[2:], ["PUT:/p/q", "up:81"], "sw8 endpoint and target from --method/--path/--target")


def test_format_not_extracted_reported_absent():
    """policy.h: a format not enabled by --extract has status TB_ENOTFOUND
    ("absent or not enabled"), so decode reports it absent, never valid."""
    good = ["traceparent: 00-%s-%s-01" % (T, P), "b3: %s-%s-1" % ("c" * 32, P)]
    d = decode_json(good, ["--extract", "tracecontext"], what="--extract tracecontext")
    d.eq({f: d.status(f) for f in FORMATS}, dict({f: "absent" for f in FORMATS}, tracecontext="valid"),
         "per-format status with only tracecontext extracted")
    rc, out, err = run_decode(good, ["--extract", "tracecontext"])
    h.eq(rc, 0, "exit status")
    rows = {l.split()[0]: l.split()[1] for l in out.splitlines()
            if l.split() and l.split()[0] in FORMATS and len(l.split()) > 1}
    h.eq(rows, dict({f: "absent" for f in FORMATS}, tracecontext="valid"), "human table statuses")
