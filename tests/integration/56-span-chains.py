# SPDX-License-Identifier: MIT
"""Spans of proxy chains (docs/spans.md): client -> A -> B -> backend.

OTLP: both hops report to one collector and the spans form one trace, B's
parent being A's span, whatever format A speaks to B; A's span (outbound,
CLIENT) encloses B's (inbound, SERVER) in time; an unsampled caller makes
neither hop report. SkyWalking: client (sw8) -> A --propagators
tracecontext -> B --propagators sw8: each hop reports a segment, B's refs
A's (original SkyWalking trace id, A's segment, Exit span 1, A's service),
and the sw8 the backend receives names B's segment and Exit span; the OTLP
spans of the same hops carry the same identities (protocols.md §8.5)."""

import hashlib

from lib import harness as h
from lib import spans as S
from lib import sw
from lib.harness import Stack

T, P = "5b8aa5a2d2c872e8321cf37308d69df2", "051581bf3cb55c13"


def uses_running():
    if h.USE_RUNNING:
        raise h.Skip("needs its own proxies, flags and collector")


def chain(g, st, a_args, env):
    """Proxy A in front of the Stack's proxy B."""
    return g.proxy("127.0.0.1:%d" % st.proxy.port, a_args, env)


def send(proxy, target, headers, what):
    with h.client.Conn(proxy.addr) as c:
        return S.hop(c, "GET", target, headers, what=what)


@h.timeout(90)
def test_otlp_chain_one_trace():
    uses_running()
    with S.Group() as g:
        col = g.collector()
        env = S.otlp_env(col)
        with Stack(args=["--service-name", "svc-b", "--role", "inbound"], env=env) as st:
            cases = []
            for a_prop in ("tracecontext", "b3", "datadog,xray"):
                # B extracts in registry order: xray before datadog.
                a = chain(g, st, ["--service-name", "svc-a", "--role", "outbound", "--propagators", a_prop], env)
                cases.append((a_prop, a, send(a, "/chain/%s" % a_prop.replace(",", "-"),
                                              [("traceparent", "00-%s-%s-01" % (T, P))], "A speaks %s" % a_prop),
                              True))
                cases.append((a_prop, a, send(a, "/chain/root", [], "A speaks %s, no context" % a_prop), False))
            spans = col.wait_otlp(2 * len(cases))
            for a in list(g.proxies):
                g.stop_proxy(a)
        spans = col.otlp_spans()
        h.eq(len(spans), 2 * len(cases), "two spans per request through A and B")
        S.by_span_id(spans)
        for a_prop, a, hp, continued in cases:
            what = hp.what
            sb = S.find(spans, hp.span_id, what="%s: B's span (the hop the backend saw)" % what)
            sa = S.find(spans, sb["parent_span_id"], what="%s: B's parent, which must be A's span" % what)
            h.eq(sa["resource"].get("service.name"), "svc-a", "%s: B's parent span comes from A" % what)
            h.eq(sb["resource"].get("service.name"), "svc-b", "%s: B's span comes from B" % what)
            h.eq((sa["kind"], sb["kind"]), (3, 2), "%s: kinds (A outbound CLIENT, B inbound SERVER)" % what)
            h.eq(sb["trace_id"], sa["trace_id"], "%s: one trace id for both hops" % what)
            h.eq(hp.trace_id, sa["trace_id"], "%s: the backend sees the same trace" % what)
            if continued:
                S.diff_dict(sa, {"trace_id": T, "parent_span_id": P}, "%s: A continues the caller's trace" % what)
            else:
                h.eq(sa["parent_span_id"], "", "%s: A starts the trace (root)" % what)
            fmt = min(a_prop.split(","), key=S.FORMATS.index)
            h.eq(sb["attributes"].get("tracebridge.extracted_format"), fmt,
                 "%s: B extracted what A injected" % what)
            h.eq(sa["attributes"].get("network.peer.port"), st.proxy.port, "%s: A's peer is B" % what)
            h.eq(sb["attributes"].get("network.peer.port"), st.backend.port, "%s: B's peer is the backend" % what)
            h.true(sa["start"] <= sb["start"] <= sb["end"] <= sa["end"],
                   "%s: A's span [%d, %d] must enclose B's [%d, %d]" % (what, sa["start"], sa["end"], sb["start"],
                                                                       sb["end"]))

        # An unsampled caller: neither hop reports, ids still flow.
        with S.Group() as g2:
            col2 = g2.collector()
            env2 = S.otlp_env(col2)
            with Stack(args=["--service-name", "svc-b"], env=env2) as st2:
                a = chain(g2, st2, ["--service-name", "svc-a", "--role", "outbound"], env2)
                hp = send(a, "/unsampled", [("traceparent", "00-%s-%s-00" % (T, P))], "unsampled caller")
                h.eq((hp.trace_id, hp.sampled), (T, False), "unsampled trace reaches the backend unsampled")
                g2.stop_proxy(a)
                _, a_stats = S.stats(a)
            _, b_stats = S.stats(st2.proxy)
            h.eq(col2.otlp_spans(), [], "no spans for an unsampled caller through two hops")
            S.diff_dict(a_stats, {"started": 1, "sampled": 0}, "A's span_stats")
            S.diff_dict(b_stats, {"started": 1, "sampled": 0}, "B's span_stats")


@h.timeout(90)
def test_skywalking_chain_through_tracecontext():
    uses_running()
    ids = [
        ("Java agent ids (vector 47)", sw.V47_TRACE, sw.V47_SEGMENT, 2),
        ("UUID with dashes", "de5980b8-fce3-4a37-aab9-b4ac3af7eedd", "4f2f27748b8e44ecaf18fe0347194e86", 5),
        ("non-hex id", "legacy/trace:42;x=y", "seg-1", 3),
    ]
    with S.Group() as g:
        col = g.collector()
        env = S.otlp_env(col)
        common = ["--exporter", "skywalking,otlp", "--skywalking-endpoint", col.url()]
        with Stack(args=["--propagators", "sw8", "--service-name", "proxy-b", "--service-instance", "inst-b@10.0.0.2"]
                   + common, env=env) as st:
            b = st.proxy
            a = g.proxy("127.0.0.1:%d" % b.port, ["--propagators", "tracecontext", "--service-name", "proxy-a",
                                                   "--service-instance", "inst-a@10.0.0.1"] + common, env)
            results = []
            with h.client.Conn(a.addr) as c:
                for name, sw_trace, sw_seg, sw_span in ids:
                    sw8 = sw.sw8_value(1, sw_trace, sw_seg, sw_span, "caller", "caller-1", "GET:/caller", "a:8080")
                    r, t0, t1 = S.timed(c, "GET", "/orders/42?x=1", [("sw8", sw8)])
                    h.status(r, 200, "%s: response" % name)
                    down = sw.parse_sw8([v for n, v in r.json()["headers"] if n.lower() == "sw8"][0],
                                        "%s: sw8 at the backend" % name)
                    results.append((name, sw_trace, sw_seg, sw_span, down))
            segs = col.wait_segments(2 * len(ids))
            otlp = col.wait_otlp(2 * len(ids))
            g.stop_proxy(a)
        segs = col.segments()
        otlp = col.otlp_spans()
        h.eq(len(segs), 2 * len(ids), "one segment per hop")
        for name, sw_trace, sw_seg, sw_span, down in results:
            by_service = {}
            for s in segs:
                if s["traceId"] == sw_trace:
                    by_service.setdefault(s["service"], []).append(s)
            h.eq(sorted((k, len(v)) for k, v in by_service.items()), [("proxy-a", 1), ("proxy-b", 1)],
                 "%s: one segment of each proxy with the original trace id %r" % (name, sw_trace))
            sa, sb = by_service["proxy-a"][0], by_service["proxy-b"][0]
            h.eq(sa["serviceInstance"], "inst-a@10.0.0.1", "%s: A's serviceInstance" % name)
            entry_a = sa["spans"][0]
            h.eq([(s["spanId"], s["parentSpanId"], s["spanType"]) for s in sa["spans"]],
                 [(0, -1, "Entry"), (1, 0, "Exit")], "%s: A's segment spans" % name)
            h.eq(entry_a.get("refs"), [{
                "refType": "CrossProcess", "traceId": sw_trace, "parentTraceSegmentId": sw_seg, "parentSpanId": sw_span,
                "parentService": "caller", "parentServiceInstance": "caller-1", "parentEndpoint": "GET:/caller",
                "networkAddressUsedAtPeer": "a:8080"}], "%s: A's Entry refs the caller's sw8" % name)
            h.eq(sa["spans"][1].get("peer"), "127.0.0.1:%d" % b.port, "%s: A's Exit peer is B" % name)
            entry_b = sb["spans"][0]
            h.eq([(s["spanId"], s["parentSpanId"], s["spanType"]) for s in sb["spans"]],
                 [(0, -1, "Entry"), (1, 0, "Exit")], "%s: B's segment spans" % name)
            refs = entry_b.get("refs") or []
            h.eq(len(refs), 1, "%s: B's Entry has one ref (got %r)" % (name, refs))
            S.diff_dict(refs[0], {"refType": "CrossProcess", "traceId": sw_trace,
                                  "parentTraceSegmentId": sa["traceSegmentId"], "parentSpanId": 1,
                                  "parentService": "proxy-a"},
                        "%s: B's ref through the tracecontext hop names A's segment and Exit span" % name)
            S.diff_dict(down, {"trace": sw_trace, "segment": sb["traceSegmentId"], "span": 1, "service": "proxy-b",
                               "instance": "inst-b@10.0.0.2", "endpoint": entry_b["operationName"],
                               "target": st.backend.hostport},
                        "%s: the sw8 the backend receives names B's segment and Exit span" % name)
            # The OTLP spans of the same hops: one identity in both worlds.
            w3c_trace, hashed = sw.sw_trace_id_map(sw_trace)
            a_id = sw.segment_id_to_span_id(sa["traceSegmentId"], 1)
            b_id = sw.segment_id_to_span_id(sb["traceSegmentId"], 1)
            oa = S.find(otlp, a_id, what="%s: A's OTLP span (id from its segment)" % name)
            ob = S.find(otlp, b_id, what="%s: B's OTLP span (id from its segment)" % name)
            h.eq((oa["trace_id"], ob["trace_id"]), (w3c_trace, w3c_trace),
                 "%s: OTLP trace ids = the mapped SkyWalking trace id%s" % (name, " (hashed)" if hashed else ""))
            h.eq(ob["parent_span_id"], a_id, "%s: B's OTLP parent is A's span" % name)
            if not hashed:
                h.eq(oa["parent_span_id"], sw.segment_id_to_span_id(sw_seg, sw_span),
                     "%s: A's OTLP parent = segmentIDToSpanID(caller segment, span)" % name)
            else:
                h.eq(oa["parent_span_id"], hashlib.sha256(("%s/%d" % (sw_seg, sw_span)).encode()).hexdigest()[:16],
                     "%s: A's OTLP parent (hash fallback of docs/formats/sw8.md)" % name)
