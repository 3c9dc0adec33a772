# SPDX-License-Identifier: MIT
"""Spans through the running proxy (docs/spans.md): one span per proxied
request, checked field by field at a fake collector (fakes/collector.py)
for every exporter: OTLP protobuf (decoded by protoc), OTLP JSON (gzip,
custom headers), Zipkin v2, SkyWalking segments, and the file exporter.
Also: kind by --role, error status (backend 5xx and the proxy's own 502),
the samplers and the root rate limit (the decision is what the injected
traceparent carries), resource attributes (flags, OTEL_*, k8s variables)
and links for conflicting formats.

The hop is identified by what the backend received: its traceparent names
the trace and the hop's span id, which must be the exported span's id."""

import json
import os
import socket
import time

from lib import harness as h
from lib import spans as S
from lib import sw
from lib.harness import Stack

HOSTNAME = socket.gethostname()
T1, P1 = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
T2, P2 = "a3ce929d0e0e47364bf92f3577b34da6", "b7ad6b7169203331"
T3, P3 = "0af7651916cd43dd8448eb211c80319c", "e457b5a2e4d86bd1"
# Out of order on purpose: the span lists injected formats in registry order.
PROPAGATORS = ["--propagators", "b3multi,tracecontext"]
INJECTED = ["tracecontext", "b3multi"]
DELAY = 0.3  # seconds the backend waits before answering one request


def uses_running():
    if h.USE_RUNNING:
        raise h.Skip("needs its own proxies, flags and collector")


_version = []


def tb_version():
    if not _version:
        rc, out, err = h.run_binary(["--version"])
        h.eq(rc, 0, "tracebridge --version exit status")
        _version.append(out.strip().split()[-1])
    return _version[0]


def tp(trace, parent, sampled=True):
    return ("traceparent", "00-%s-%s-%s" % (trace, parent, "01" if sampled else "00"))


# ------------------------------------------------------------ the requests


class Traffic:
    """The requests every exporter test sends, and what each span must say."""

    def __init__(self, st):
        self.st = st
        self.backend_port = st.backend.port
        self.hops = {}

    def send(self):
        st = self.st
        with st.conn() as c:
            # A sampled W3C parent with tracestate, a User-Agent, a Host with a port.
            self.hops["child"] = S.hop(c, "GET", "/spans/one?q=1&r=2",
                                       [("Host", "svc.example:8081"), tp(T1, P1),
                                        ("tracestate", "vendor=opaque,other=1"),
                                        ("User-Agent", "itest-agent/1.0 (+spans)")], what="child")
            # A new root with a request body and a plain Host.
            self.hops["root"] = S.hop(c, "POST", "/spans/two", [("Content-Type", "text/plain")],
                                      body=b"x" * 1234, what="root")
        # HTTP/1.0 on its own connection; the backend waits DELAY before answering.
        with st.conn() as c:
            self.hops["slow"] = S.hop(c, "GET", "/spans/slow", [("X-Test-Delay-Head", str(DELAY))],
                                      version="HTTP/1.0", host="slow.example", what="slow")
        return self.hops

    def expected(self, name):
        """(span fields, attributes) the OTLP span of hop `name` must carry."""
        hp = self.hops[name]
        common = {
            "url.scheme": "http",
            "client.address": "127.0.0.1",
            "client.port": hp.client_port,
            "network.peer.address": "127.0.0.1",
            "network.peer.port": self.backend_port,
            "http.response.status_code": 200,
            "http.response.body.size": hp.resp.body_len,
            "tracebridge.injected_formats": INJECTED,
            "error.type": None,
        }
        if name == "child":
            fields = {"trace_id": T1, "parent_span_id": P1, "name": "GET",
                      "flags": (hp.flags & 0xff) | 0x100 | 0x200}
            attrs = dict(common, **{
                "http.request.method": "GET", "url.path": "/spans/one", "server.address": "svc.example",
                "server.port": 8081, "user_agent.original": "itest-agent/1.0 (+spans)",
                "network.protocol.version": "1.1", "http.request.body.size": 0,
                "tracebridge.extracted_format": "tracecontext"})
        elif name == "root":
            fields = {"trace_id": hp.trace_id, "parent_span_id": "", "name": "POST",
                      "flags": (hp.flags & 0xff) | 0x100}
            attrs = dict(common, **{
                "http.request.method": "POST", "url.path": "/spans/two", "server.address": "test.example",
                "server.port": None, "user_agent.original": None, "network.protocol.version": "1.1",
                "http.request.body.size": 1234, "tracebridge.extracted_format": "none"})
        else:
            fields = {"trace_id": hp.trace_id, "parent_span_id": "", "name": "GET",
                      "flags": (hp.flags & 0xff) | 0x100}
            attrs = dict(common, **{
                "http.request.method": "GET", "url.path": "/spans/slow", "server.address": "slow.example",
                "server.port": None, "user_agent.original": None, "network.protocol.version": "1.0",
                "http.request.body.size": 0, "tracebridge.extracted_format": "none"})
        fields["span_id"] = hp.span_id
        return fields, attrs


ATTR_ORDER = ["http.request.method", "url.path", "url.scheme", "server.address", "server.port", "client.address",
              "client.port", "network.peer.address", "network.peer.port", "http.response.status_code",
              "user_agent.original", "network.protocol.version", "http.request.body.size",
              "http.response.body.size", "tracebridge.extracted_format", "tracebridge.injected_formats",
              "error.type"]


def check_attr_order(attrs, what):
    keys = list(attrs)
    h.eq(keys, [k for k in ATTR_ORDER if k in attrs] + [k for k in keys if k not in ATTR_ORDER],
         "%s: attributes in the documented order" % what)


def check_hops_sampled(hops):
    for name, hp in hops.items():
        h.true(hp.sampled, "%s: the hop must be sampled (traceparent flags %02x)" % (name, hp.flags))
    h.eq(hops["child"].trace_id, T1, "child: trace id downstream")


def check_otlp_span(sp, traffic, name, kind=2, service="svc-spans", instance="inst-1@itest"):
    hp = traffic.hops[name]
    fields, attrs = traffic.expected(name)
    fields.update(kind=kind, status_code=0, status_message="")
    S.diff_dict(sp, fields, "%s: OTLP span fields" % name)
    S.diff_dict(sp["attributes"], attrs, "%s: OTLP span attributes" % name)
    check_attr_order(sp["attributes"], "%s: OTLP span" % name)
    if name == "child":
        h.eq(sp["trace_state"], hp.header("tracestate"), "child: span trace_state = the tracestate sent "
             "downstream")
        h.true(hp.header("tracestate") and "vendor=opaque" in hp.header("tracestate"),
               "child: the caller's tracestate member is kept downstream (%r)" % hp.header("tracestate"))
    else:
        h.eq(sp["trace_state"], hp.header("tracestate") or "", "%s: trace_state" % name)
    h.eq(sp["links"], [], "%s: links" % name)
    S.check_times(sp["start"], sp["end"], hp, "%s: OTLP span times" % name,
                  min_duration_ns=int(DELAY * 1e9) if name == "slow" else 0)
    S.diff_dict(sp["resource"], {"service.name": service, "service.instance.id": instance,
                                 "host.name": HOSTNAME}, "%s: resource attributes" % name)
    S.diff_dict(sp["scope"], {"name": "tracebridge", "version": tb_version()}, "%s: instrumentation scope" % name)


# ================================================================== OTLP


@h.timeout(60)
def test_otlp_protobuf_every_attribute():
    uses_running()
    with S.Group() as g:
        col = g.collector()
        with Stack(args=PROPAGATORS + ["--service-name", "svc-spans", "--service-instance", "inst-1@itest"],
                   env=S.otlp_env(col)) as st:
            tr = Traffic(st)
            hops = tr.send()
            check_hops_sampled(hops)
            spans = col.wait_otlp(3)
        col.check_valid()
        spans = col.otlp_spans()
        h.eq(len(spans), 3, "spans exported for 3 requests (after the proxy stopped)")
        for name, hp in hops.items():
            check_otlp_span(S.find(spans, hp.span_id, what=name), tr, name)
        for e in col.accepted("/v1/traces"):
            ua = [v for n, v in e["headers"] if n.lower() == "user-agent"]
            h.eq(ua, ["tracebridge/" + tb_version()], "User-Agent of the export requests")
            h.eq(e["format"], "otlp_proto", "default OTLP protocol is http/protobuf")
            h.eq(e["content_encoding"], None, "no Content-Encoding without OTEL_EXPORTER_OTLP_COMPRESSION")
        exp, sp = S.stats(st.proxy)
        S.diff_dict(exp.get("otlp", {}), {"exported": 3, "failed": 0, "retries": 0, "errors": 0},
                    "export_stats exporter=otlp")
        S.diff_dict(sp, {"started": 3, "sampled": 3, "dropped_full": 0}, "span_stats")
        h.eq(sorted(exp), ["otlp"], "exporters enabled when only an OTLP endpoint is configured")


@h.timeout(60)
def test_otlp_json_gzip_and_headers():
    uses_running()
    with S.Group() as g:
        col = g.collector()
        env = S.otlp_env(col, OTEL_EXPORTER_OTLP_PROTOCOL="http/json", OTEL_EXPORTER_OTLP_COMPRESSION="gzip",
                         OTEL_EXPORTER_OTLP_HEADERS="x-api-key=secret%20one%2Ctwo, X-Tenant=t1")
        with Stack(args=PROPAGATORS + ["--service-name", "svc-spans", "--service-instance", "inst-1@itest"],
                   env=env) as st:
            tr = Traffic(st)
            hops = tr.send()
            col.wait_otlp(3)
        spans = col.otlp_spans()
        h.eq(len(spans), 3, "spans exported")
        for name, hp in hops.items():
            check_otlp_span(S.find(spans, hp.span_id, what=name), tr, name)
        for e in col.accepted("/v1/traces"):
            hd = {n.lower(): v for n, v in e["headers"]}
            h.eq(e["format"], "otlp_json", "OTEL_EXPORTER_OTLP_PROTOCOL=http/json")
            h.eq(hd.get("content-encoding"), "gzip", "Content-Encoding with OTEL_EXPORTER_OTLP_COMPRESSION=gzip")
            h.true(e["body_len"] < e["decoded_len"], "gzip body (%d) smaller than JSON (%d)"
                   % (e["body_len"], e["decoded_len"]))
            h.eq(hd.get("x-api-key"), "secret one,two", "OTEL_EXPORTER_OTLP_HEADERS value, percent-decoded")
            h.eq(hd.get("x-tenant"), "t1", "second OTEL_EXPORTER_OTLP_HEADERS header")

    # OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: /v1/traces is appended; protobuf + gzip.
    with S.Group() as g:
        col = g.collector()
        env = S.env(OTEL_EXPORTER_OTLP_ENDPOINT=col.url("/"), OTEL_EXPORTER_OTLP_COMPRESSION="gzip",
                    OTEL_SERVICE_NAME="svc-env")
        with Stack(args=PROPAGATORS, env=env) as st, st.conn() as c:
            hp = S.hop(c, "GET", "/base", [tp(T2, P2)])
            sp = S.find(col.wait_otlp(1), hp.span_id)
        e = col.accepted()[0]
        h.eq((e["path"], e["format"], e["content_encoding"]), ("/v1/traces", "otlp_proto", "gzip"),
             "OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, protobuf, gzip")
        S.diff_dict(sp, {"trace_id": T2, "parent_span_id": P2}, "span via OTEL_EXPORTER_OTLP_ENDPOINT")
        h.eq(sp["resource"].get("service.name"), "svc-env", "service.name from OTEL_SERVICE_NAME")
        h.eq(sp["resource"].get("service.instance.id"), "%d@%s" % (st.proxy.proc.pid, HOSTNAME),
             "default service.instance.id is PID@HOSTNAME")


# ================================================================ Zipkin


def zipkin_tags(attrs):
    """Attributes as Zipkin tags: strings; arrays comma-joined."""
    out = {}
    for k, v in attrs.items():
        if v is None:
            out[k] = None
        elif isinstance(v, list):
            out[k] = ",".join(v)
        else:
            out[k] = str(v)
    return out


def check_zipkin_span(z, tr, name, service, kind="SERVER"):
    hp = tr.hops[name]
    fields, attrs = tr.expected(name)
    want = {"traceId": fields["trace_id"], "id": hp.span_id, "kind": kind, "name": fields["name"].lower(),
            "parentId": fields["parent_span_id"] or None, "debug": None, "shared": None}
    S.diff_dict(z, want, "%s: Zipkin span" % name)
    local = {"serviceName": service}
    if kind == "SERVER" and attrs.get("server.port") is not None:
        local["port"] = attrs["server.port"]  # server.address is a name here: no ipv4
    h.eq(z["localEndpoint"], local, "%s: Zipkin localEndpoint" % name)
    remote = ({"ipv4": "127.0.0.1", "port": hp.client_port} if kind == "SERVER"
              else {"ipv4": "127.0.0.1", "port": tr.backend_port})
    h.eq(z.get("remoteEndpoint"), remote, "%s: Zipkin remoteEndpoint (%s)" % (
        name, "the client" if kind == "SERVER" else "the upstream"))
    S.diff_dict(z.get("tags", {}), zipkin_tags(attrs), "%s: Zipkin tags" % name)
    h.absent(z.get("tags", {}), "error", "%s: no error tag on a 200" % name)
    S.check_times(z["timestamp"] * 1000, (z["timestamp"] + z.get("duration", 0)) * 1000, hp,
                  "%s: Zipkin timestamp/duration (us)" % name,
                  min_duration_ns=int(DELAY * 1e9) if name == "slow" else 0, unit_ns=1000)


@h.timeout(60)
def test_zipkin_every_attribute():
    uses_running()
    with S.Group() as g:
        col = g.collector()
        with Stack(args=PROPAGATORS + ["--service-name", "svc-zipkin", "--exporter", "zipkin",
                                       "--zipkin-endpoint", col.url("/api/v2/spans")], env=S.env()) as st:
            tr = Traffic(st)
            hops = tr.send()
            col.wait_zipkin(3)
        zs = col.zipkin_spans()
        h.eq(len(zs), 3, "Zipkin spans exported")
        for name, hp in hops.items():
            check_zipkin_span(S.find(zs, hp.span_id, key="id", what=name), tr, name, "svc-zipkin")
        for e in col.accepted():
            h.eq(e["status_sent"], 202, "Zipkin answers 202 Accepted (and that counts as delivered)")
        exp, _ = S.stats(st.proxy)
        S.diff_dict(exp.get("zipkin", {}), {"exported": 3, "failed": 0}, "export_stats exporter=zipkin")

    # TRACEBRIDGE_ZIPKIN_ENDPOINT alone enables the exporter.
    with S.Group() as g:
        col = g.collector()
        with Stack(args=PROPAGATORS, env=S.env(TRACEBRIDGE_ZIPKIN_ENDPOINT=col.url("/api/v2/spans"),
                                                OTEL_SERVICE_NAME="svc-zenv")) as st, st.conn() as c:
            hp = S.hop(c, "GET", "/z", [tp(T1, P1)])
            z = S.find(col.wait_zipkin(1), hp.span_id, key="id")
        S.diff_dict(z, {"traceId": T1, "parentId": P1, "kind": "SERVER"}, "span via TRACEBRIDGE_ZIPKIN_ENDPOINT")
        h.eq(z["localEndpoint"].get("serviceName"), "svc-zenv", "serviceName from OTEL_SERVICE_NAME")
        h.eq(col.requests("/v1/traces"), [], "no OTLP export without an OTLP endpoint")


# ============================================================ SkyWalking


def sw_tags(span, what):
    tags = {}
    for t in span.get("tags", []):
        h.true(t["key"] not in tags, "%s: tag %r twice" % (what, t["key"]))
        tags[t["key"]] = t.get("value", "")
    return tags


def check_segment(seg, hp, service, instance, backend_hostport, what):
    """A hop's segment (docs/spans.md, SkyWalking): Entry span 0 + Exit span 1,
    ids that map back to the hop, peers, layer, component, times."""
    h.true(len(seg["traceSegmentId"]) == 32 and all(c in "0123456789abcdef" for c in seg["traceSegmentId"]),
           "%s: traceSegmentId %r is not 32 lower-case hex" % (what, seg["traceSegmentId"]))
    h.eq(sw.segment_id_to_span_id(seg["traceSegmentId"], 1), hp.span_id,
         "%s: segmentIDToSpanID(traceSegmentId, exit span 1) must be the hop's span id" % what)
    h.eq(sw.sw_trace_id_map(seg["traceId"])[0], hp.trace_id,
         "%s: the segment's traceId %r maps to the hop's trace id" % (what, seg["traceId"]))
    S.diff_dict(seg, {"service": service, "serviceInstance": instance, "isSizeLimited": False},
                "%s: segment" % what)
    spans = seg["spans"]
    h.eq([(s["spanId"], s["parentSpanId"], s["spanType"]) for s in spans], [(0, -1, "Entry"), (1, 0, "Exit")],
         "%s: (spanId, parentSpanId, spanType) of the segment's spans" % what)
    entry, exit_ = spans
    h.eq(entry.get("peer"), "127.0.0.1:%d" % hp.client_port, "%s: Entry span peer = the client" % what)
    h.eq(exit_.get("peer"), backend_hostport, "%s: Exit span peer = the upstream" % what)
    method = hp.echo["method"]
    path = hp.echo["target"].split("?")[0]
    for s in spans:
        S.diff_dict(s, {"spanLayer": "Http", "componentId": 49, "operationName": "%s:%s" % (method, path)},
                    "%s: %s span" % (what, s["spanType"]))
    h.true(entry["startTime"] <= exit_["startTime"] <= exit_["endTime"] <= entry["endTime"],
           "%s: the Exit span lies within the Entry span: %r" % (what, [(s["startTime"], s["endTime"])
                                                                        for s in spans]))
    S.check_times(entry["startTime"] * 10**6, entry["endTime"] * 10**6, hp, "%s: Entry times (ms)" % what,
                  unit_ns=10**6)
    return entry, exit_


@h.timeout(60)
def test_skywalking_segments():
    uses_running()
    sw8_in = sw.sw8_value(1, sw.V47_TRACE, sw.V47_SEGMENT, 2, "caller-svc", "caller-1@10.0.0.5", "GET:/caller",
                          "proxy.example:8080")
    with S.Group() as g:
        col = g.collector()
        with Stack(args=["--propagators", "sw8,tracecontext", "--service-name", "svc-sw", "--service-instance",
                         "inst-sw@itest", "--exporter", "skywalking", "--skywalking-endpoint", col.url()],
                   env=S.env()) as st, st.conn() as c:
            hp_ref = S.hop(c, "GET", "/sw/one?x=1", [("Host", "shop.example:8081"), ("sw8", sw8_in),
                                                     ("User-Agent", "ua/1")], what="sw8 caller")
            hp_root = S.hop(c, "POST", "/sw/two", [], body=b"abc", what="no context")
            hp_err = S.hop(c, "GET", "/sw/err", [("X-Test-Status", "500")], what="backend 500", status=500)
            segs = col.wait_segments(3)
        h.eq(len(segs), 3, "segments exported for 3 requests")
        h.eq([e["path"] for e in col.requests()], ["/v3/segments"] * len(col.requests()),
             "the SkyWalking base URL gets /v3/segments appended")
        h.eq(len({s["traceSegmentId"] for s in segs}), 3, "distinct traceSegmentIds")
        for hp in (hp_ref, hp_root, hp_err):
            matches = [s for s in segs if sw.segment_id_to_span_id(s["traceSegmentId"], 1) == hp.span_id]
            h.eq(len(matches), 1, "%s: one segment whose (segment, 1) maps to the hop %s" % (hp.what, hp.span_id))
            seg = matches[0]
            entry, exit_ = check_segment(seg, hp, "svc-sw", "inst-sw@itest", st.backend.hostport, hp.what)
            down = sw.parse_sw8(hp.header("sw8"), "%s: sw8 downstream" % hp.what)
            S.diff_dict(down, {"trace": seg["traceId"], "segment": seg["traceSegmentId"], "span": 1,
                               "service": "svc-sw", "instance": "inst-sw@itest", "endpoint": entry["operationName"],
                               "target": st.backend.hostport}, "%s: sw8 downstream names the Exit span" % hp.what)
            err = hp is hp_err
            path = hp.echo["target"].split("?")[0]
            url = "http://%s%s" % ("shop.example:8081" if hp is hp_ref else "test.example", path)
            code = "500" if err else "200"
            head = {"http.method": hp.echo["method"], "url": url, "http.status_code": code}
            want_entry = dict(head, **{
                "http.request.method": None, "url.path": None, "url.scheme": None, "http.response.status_code": None,
                "server.address": "shop.example" if hp is hp_ref else "test.example",
                "server.port": "8081" if hp is hp_ref else None,
                "client.address": "127.0.0.1", "client.port": str(hp.client_port),
                "network.peer.address": "127.0.0.1", "network.peer.port": str(st.backend.port),
                "user_agent.original": "ua/1" if hp is hp_ref else None, "network.protocol.version": "1.1",
                "http.request.body.size": "3" if hp is hp_root else "0",
                "http.response.body.size": str(hp.resp.body_len),
                "tracebridge.extracted_format": "sw8" if hp is hp_ref else "none",
                "tracebridge.injected_formats": "tracecontext,sw8", "error.type": code if err else None})
            etags = sw_tags(entry, hp.what + " Entry")
            S.diff_dict(etags, want_entry, "%s: Entry span tags" % hp.what)
            h.eq(list(etags)[:3], ["http.method", "url", "http.status_code"], "%s: Entry tag order" % hp.what)
            h.eq(sw_tags(exit_, hp.what + " Exit"), dict(head, **({"error.type": code} if err else {})),
                 "%s: Exit span tags (exactly)" % hp.what)
            h.eq((entry.get("isError", False), exit_.get("isError", False)), (err, err), "%s: isError" % hp.what)
            if hp is hp_ref:
                h.eq(seg["traceId"], sw.V47_TRACE, "sw8 caller: the segment keeps the native trace id")
                h.eq(entry.get("refs"), [{
                    "refType": "CrossProcess", "traceId": sw.V47_TRACE, "parentTraceSegmentId": sw.V47_SEGMENT,
                    "parentSpanId": 2, "parentService": "caller-svc", "parentServiceInstance": "caller-1@10.0.0.5",
                    "parentEndpoint": "GET:/caller", "networkAddressUsedAtPeer": "proxy.example:8080"}],
                    "sw8 caller: the Entry span's CrossProcess ref to the caller")
                h.eq(hp.trace_id, sw.V47_W3C_TRACE, "sw8 caller: W3C trace id downstream (§8.4 mapping)")
            else:
                h.eq(seg["traceId"], hp.trace_id, "%s: traceId is the 32-hex W3C trace id" % hp.what)
                h.eq(entry.get("refs", []), [], "%s: no refs without an incoming sw8" % hp.what)
            h.eq(exit_.get("refs", []), [], "%s: the Exit span has no refs" % hp.what)


# ================================================================== file


FILE_KEYS = ["trace_id", "span_id", "parent_span_id", "trace_flags", "trace_state", "name", "kind",
             "start_time_unix_nano", "end_time_unix_nano", "status", "attributes", "links", "resource"]


def check_file_span(f, tr, name, service, kind="server"):
    hp = tr.hops[name]
    fields, attrs = tr.expected(name)
    h.eq(list(f)[:len(FILE_KEYS)], FILE_KEYS, "%s: file span keys (docs/spans.md, File)" % name)
    S.diff_dict(f, {"trace_id": fields["trace_id"], "span_id": hp.span_id,
                    "trace_flags": "%02x" % (fields["flags"] & 0xff),
                    "trace_state": hp.header("tracestate") or "",
                    "name": fields["name"], "kind": kind, "status": "unset", "links": []}, "%s: file span" % name)
    h.eq(f["parent_span_id"], fields["parent_span_id"] or None, "%s: parent_span_id (null for a root)" % name)
    S.diff_dict(f["attributes"], attrs, "%s: file span attributes" % name)
    check_attr_order(f["attributes"], "%s: file span" % name)
    h.true(type(f["start_time_unix_nano"]) is int and type(f["end_time_unix_nano"]) is int,
           "%s: times are JSON integers: %r" % (name, (f["start_time_unix_nano"], f["end_time_unix_nano"])))
    S.check_times(f["start_time_unix_nano"], f["end_time_unix_nano"], hp, "%s: file span times" % name,
                  min_duration_ns=int(DELAY * 1e9) if name == "slow" else 0)
    S.diff_dict(f["resource"], {"service.name": service, "host.name": HOSTNAME}, "%s: resource" % name)
    h.true(all(isinstance(v, str) for v in f["resource"].values()),
           "%s: resource values are strings: %r" % (name, f["resource"]))


@h.timeout(60)
def test_file_exporter():
    uses_running()
    path = os.path.join(h.test_dir(), "spans.jsonl")
    with Stack(args=PROPAGATORS + ["--service-name", "svc-file", "--exporter", "file", "--span-file", path],
               env=S.env()) as st:
        tr = Traffic(st)
        hops = tr.send()
        S.wait_file(path, 3)
    lines = S.read_span_file(path)
    h.eq(len(lines), 3, "JSON lines in --span-file after the proxy stopped")
    for name, hp in hops.items():
        check_file_span(S.find(lines, hp.span_id, what=name), tr, name, "svc-file")

    # No exporter configured at all: the file exporter on standard output
    # (the harness puts the proxy's stdout in its log).
    with Stack(args=PROPAGATORS + ["--service-name", "svc-stdout"], env=S.env()) as st:
        tr = Traffic(st)
        hops = tr.send()
    lines = [json.loads(line) for line in st.proxy.log().splitlines() if line.startswith("{")]
    h.eq(len(lines), 3, "JSON lines on stdout with no exporter configured")
    for name, hp in hops.items():
        check_file_span(S.find(lines, hp.span_id, what=name), tr, name, "svc-stdout")
    exp, _ = S.stats(st.proxy)
    h.eq(sorted(exp), ["file"], "the default exporter is file")

    # TRACEBRIDGE_SPAN_FILE, and TRACEBRIDGE_EXPORTERS=none disables export.
    path2 = os.path.join(h.test_dir(), "env-spans.jsonl")
    with Stack(args=[], env=S.env(TRACEBRIDGE_SPAN_FILE=path2)) as st, st.conn() as c:
        hp = S.hop(c, "GET", "/f", [tp(T1, P1)])
        got = S.find(S.wait_file(path2, 1), hp.span_id)
        S.diff_dict(got, {"trace_id": T1, "parent_span_id": P1}, "span via TRACEBRIDGE_SPAN_FILE")
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], env=S.otlp_env(col, TRACEBRIDGE_EXPORTERS="none")) as st, st.conn() as c:
            hp = S.hop(c, "GET", "/none", [tp(T1, P1)])
            h.eq(hp.trace_id, T1, "ids still propagate with TRACEBRIDGE_EXPORTERS=none")
        h.eq(col.requests(), [], "nothing exported with TRACEBRIDGE_EXPORTERS=none")
        h.eq([line for line in st.proxy.log().splitlines() if line.startswith("{")], [],
             "no spans on stdout with TRACEBRIDGE_EXPORTERS=none")


# ============================================================ kind, role


@h.timeout(60)
def test_role_outbound_is_client_in_every_exporter():
    uses_running()
    path = os.path.join(h.test_dir(), "spans.jsonl")
    with S.Group() as g:
        col = g.collector()
        zcol = g.collector()
        with Stack(args=PROPAGATORS + ["--role", "outbound", "--service-name", "svc-out", "--exporter",
                                       "otlp,zipkin,file", "--zipkin-endpoint", zcol.url("/api/v2/spans"),
                                       "--span-file", path], env=S.otlp_env(col)) as st, st.conn() as c:
            hp = S.hop(c, "GET", "/out", [tp(T1, P1)])
            o = S.find(col.wait_otlp(1), hp.span_id)
            z = S.find(zcol.wait_zipkin(1), hp.span_id, key="id")
            f = S.find(S.wait_file(path, 1), hp.span_id)
        h.eq(o["kind"], 3, "--role outbound: OTLP kind CLIENT (3)")
        h.eq(z["kind"], "CLIENT", "--role outbound: Zipkin kind")
        h.eq(f["kind"], "client", "--role outbound: file kind")
        for sp in (o, f):
            h.eq((sp["trace_id"], sp.get("parent_span_id")), (T1, P1), "same ids in every exporter")
        h.eq(z.get("localEndpoint"), {"serviceName": "svc-out"}, "CLIENT span: local endpoint = service name only")
        h.eq(z.get("remoteEndpoint"), {"ipv4": "127.0.0.1", "port": st.backend.port},
             "CLIENT span: remote endpoint = the upstream")
        exp, _ = S.stats(st.proxy)
        h.eq(sorted(exp), ["file", "otlp", "zipkin"], "one export_stats line per enabled exporter")
    with S.Group() as g:
        col = g.collector()
        with Stack(args=["--role", "inbound"], env=S.otlp_env(col, TRACEBRIDGE_ROLE="outbound")) as st, \
                st.conn() as c:
            hp = S.hop(c, "GET", "/in", [tp(T1, P1)])
            h.eq(S.find(col.wait_otlp(1), hp.span_id)["kind"], 2, "--role inbound (flag over TRACEBRIDGE_ROLE)")
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], env=S.otlp_env(col, TRACEBRIDGE_ROLE="outbound")) as st, st.conn() as c:
            hp = S.hop(c, "GET", "/in", [tp(T1, P1)])
            h.eq(S.find(col.wait_otlp(1), hp.span_id)["kind"], 3, "TRACEBRIDGE_ROLE=outbound")


# ================================================================ errors


@h.timeout(60)
def test_error_status():
    uses_running()
    with S.Group() as g:
        col = g.collector()
        zcol = g.collector()
        args = ["--exporter", "otlp,zipkin", "--zipkin-endpoint", zcol.url("/api/v2/spans")]
        with Stack(args=args, env=S.otlp_env(col)) as st, st.conn() as c:
            h500 = S.hop(c, "GET", "/e500", [("X-Test-Status", "500")], what="500", status=500)
            h503 = S.hop(c, "PUT", "/e503", [("X-Test-Status", "503")], body=b"{}", what="503", status=503)
            h404 = S.hop(c, "GET", "/e404", [("X-Test-Status", "404")], what="404", status=404)
            spans = col.wait_otlp(3)
            zs = zcol.wait_zipkin(3)
        for hp, code, err in ((h500, 500, True), (h503, 503, True), (h404, 404, False)):
            sp = S.find(spans, hp.span_id, what=hp.what)
            S.diff_dict(sp, {"status_code": 2 if err else 0, "status_message": ""}, "%s: OTLP status" % hp.what)
            S.diff_dict(sp["attributes"], {"http.response.status_code": code,
                                           "error.type": str(code) if err else None},
                        "%s: OTLP attributes" % hp.what)
            z = S.find(zs, hp.span_id, key="id", what=hp.what)
            tags = z.get("tags", {})
            S.diff_dict(tags, {"http.response.status_code": str(code), "error.type": str(code) if err else None},
                        "%s: Zipkin tags" % hp.what)
            h.eq(tags.get("error"), str(code) if err else None,
                 "%s: Zipkin 'error' tag = error.type, only on errors (tags %r)" % (hp.what, tags))

    # The proxy's own error: the upstream refuses connections -> 502.
    dead = h.free_port()
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], backend=False, upstream="127.0.0.1:%d" % dead, env=S.otlp_env(col)) as st:
            with st.conn() as c:
                r = c.request("GET", "/down", [tp(T3, P3)])
                h.status(r, 502, "upstream down")
            spans = col.wait_otlp(1)
        sp = spans[0]
        S.diff_dict(sp, {"trace_id": T3, "parent_span_id": P3, "status_code": 2, "kind": 2},
                    "502 from the proxy: span")
        S.diff_dict(sp["attributes"], {"http.response.status_code": 502, "http.request.method": "GET",
                                       "url.path": "/down"}, "502 from the proxy: attributes")
        reason = r.body.decode("utf-8", "replace").split(":", 1)[0]
        h.eq(sp["attributes"].get("error.type"), reason, "502 from the proxy: error.type = the reason code the "
             "proxy's error body starts with (%r)" % r.body)

    # The proxy's own 504: the upstream is silent past --upstream-timeout.
    with S.Group() as g:
        col = g.collector()
        with Stack(args=["--upstream-timeout", "0.4"], env=S.otlp_env(col)) as st:
            with st.conn() as c:
                t0 = time.time_ns()
                r = c.request("GET", "/slow", [tp(T3, P3), ("X-Test-Delay-Head", "3")])
                t1 = time.time_ns()
                h.status(r, 504, "upstream timeout")
            sp = col.wait_otlp(1)[0]
        reason = r.body.decode("utf-8", "replace").split(":", 1)[0]
        S.diff_dict(sp, {"trace_id": T3, "parent_span_id": P3, "status_code": 2}, "504 from the proxy: span")
        S.diff_dict(sp["attributes"], {"http.response.status_code": 504, "error.type": reason,
                                       "network.peer.port": st.backend.port}, "504 from the proxy: attributes")
        hp = type("W", (), {"t0": t0, "t1": t1})
        S.check_times(sp["start"], sp["end"], hp, "504 span times", min_duration_ns=400_000_000)


@h.timeout(60)
def test_proxy_error_response_body_size():
    """The proxy's own error responses have a body (`<reason>: <text>\\n`):
    http.response.body.size counts it like any response body."""
    uses_running()
    dead = h.free_port()
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], backend=False, upstream="127.0.0.1:%d" % dead, env=S.otlp_env(col)) as st:
            with st.conn() as c:
                r = c.request("GET", "/down")
                h.status(r, 502, "upstream down")
            sp = col.wait_otlp(1)[0]
    h.eq(sp["attributes"].get("http.response.body.size"), r.body_len,
         "502 from the proxy: http.response.body.size = the error body the client got (%r)" % r.body)
    with S.Group() as g:
        col = g.collector()
        with Stack(args=["--upstream-timeout", "0.3"], env=S.otlp_env(col)) as st:
            with st.conn() as c:
                r = c.request("GET", "/slow", [("X-Test-Delay-Head", "3")])
                h.status(r, 504, "upstream timeout")
            sp = col.wait_otlp(1)[0]
    h.eq(sp["attributes"].get("http.response.body.size"), r.body_len,
         "504 from the proxy: http.response.body.size = the error body the client got (%r)" % r.body)


@h.timeout(60)
def test_truncated_response_span():
    """The upstream closes after 5000 of 100000 body bytes: the client got a
    200 head and 5000 bytes, so the span says status 200 (a response was
    sent), 5000 response bytes, and ERROR with an error.type."""
    uses_running()
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], env=S.otlp_env(col)) as st:
            with st.conn() as c:
                c.send(h.client.build_request("GET", "/cut", [tp(T3, P3), ("X-Test-Body-Size", "100000"),
                                                              ("X-Test-Abort-After", "5000")]))
                r = c.read_response(allow_incomplete=True)
                h.true(not r.complete and r.status == 200, "the client sees a truncated 200 (%r)" % r)
            sp = col.wait_otlp(1)[0]
    S.diff_dict(sp, {"trace_id": T3, "parent_span_id": P3, "status_code": 2}, "span of the cut response")
    h.true(sp["attributes"].get("error.type"), "error.type names the failure: %r" % sp["attributes"])
    S.diff_dict(sp["attributes"], {"http.response.status_code": 200, "http.response.body.size": r.body_len},
                "span of the cut response: the status and body bytes the client got")


@h.timeout(60)
def test_unreached_upstream_has_no_peer():
    """docs/spans.md: network.peer.* only "when an upstream was reached";
    SkyWalking's Exit peer is then the host the client asked for."""
    uses_running()
    dead = h.free_port()
    with S.Group() as g:
        col = g.collector()
        scol = g.collector()
        with Stack(args=["--exporter", "otlp,skywalking", "--skywalking-endpoint", scol.url()], backend=False,
                   upstream="127.0.0.1:%d" % dead, env=S.otlp_env(col)) as st:
            with st.conn() as c:
                h.status(c.request("GET", "/down", [("Host", "shop.example:8081")]), 502, "upstream down")
            sp = col.wait_otlp(1)[0]
            seg = scol.wait_segments(1)[0]
    S.diff_dict(sp["attributes"], {"network.peer.address": None, "network.peer.port": None,
                                   "http.response.status_code": 502}, "502 (connection refused): span attributes")
    h.eq(seg["spans"][1].get("peer"), "shop.example:8081", "SkyWalking Exit peer when no upstream was reached")


# ============================================================== samplers


def sampler_case(env_extra, requests, args=()):
    """Runs `requests` [(headers, what)] through a proxy with the sampler
    settings; returns [(hop, exported span or None)] and the span_stats."""
    with S.Group() as g:
        col = g.collector()
        with Stack(args=list(args), env=S.otlp_env(col, **env_extra)) as st:
            with st.conn() as c:
                hops = [S.hop(c, "GET", "/s/%d" % i, hdrs, what=what) for i, (hdrs, what) in enumerate(requests)]
        spans = S.by_span_id(col.otlp_spans())
        _, stats = S.stats(st.proxy)
    out = [(hp, spans.pop(hp.span_id, None)) for hp in hops]
    h.eq(spans, {}, "spans exported for no request of this run")
    return out, stats


def expect_sampling(results, stats, want, label):
    """`want`: one bool per request: sampled (flags 01 downstream and a span) or not."""
    bad = []
    for (hp, sp), w in zip(results, want):
        if hp.sampled != w:
            bad.append("%s: traceparent flags downstream %02x, expected sampled=%s" % (hp.what, hp.flags, w))
        if (sp is not None) != w:
            bad.append("%s: %s" % (hp.what, "a span was exported for an unsampled hop" if sp is not None
                                   else "no span exported for a sampled hop"))
    if bad:
        raise AssertionError("%s:\n  %s" % (label, "\n  ".join(bad)))
    S.diff_dict(stats, {"started": len(want), "sampled": sum(want), "dropped_full": 0}, "%s: span_stats" % label)


ROOT = ([], "root")
SAMPLED = ([tp(T1, P1, True)], "parent sampled")
UNSAMPLED = ([tp(T2, P2, False)], "parent not sampled")
B3_DENY = ([("b3", "%s-%s-0" % (T3, P3))], "b3 parent deny")
B3_DEBUG = ([("b3", "%s-%s-d" % (T3, P3))], "b3 parent debug")


@h.timeout(120)
def test_samplers():
    uses_running()
    cases = [
        ("default (parentbased_always_on)", {}, [ROOT, SAMPLED, UNSAMPLED, B3_DENY, B3_DEBUG],
         [True, True, False, False, True]),
        ("always_on", {"OTEL_TRACES_SAMPLER": "always_on"}, [ROOT, SAMPLED, UNSAMPLED], [True, True, False]),
        ("always_off", {"OTEL_TRACES_SAMPLER": "always_off"}, [ROOT, SAMPLED, UNSAMPLED, B3_DEBUG],
         [False, False, False, False]),
        ("traceidratio 0", {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
         [ROOT, ROOT, SAMPLED], [False, False, False]),
        ("traceidratio 1", {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"},
         [ROOT, ROOT, SAMPLED, UNSAMPLED], [True, True, True, False]),
        ("parentbased_always_off", {"OTEL_TRACES_SAMPLER": "parentbased_always_off"},
         [ROOT, SAMPLED, UNSAMPLED, B3_DEBUG], [False, True, False, True]),
        ("parentbased_traceidratio 0", {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                        "OTEL_TRACES_SAMPLER_ARG": "0"}, [ROOT, SAMPLED, UNSAMPLED],
         [False, True, False]),
        ("parentbased_traceidratio 1", {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                        "OTEL_TRACES_SAMPLER_ARG": "1"}, [ROOT, SAMPLED, UNSAMPLED],
         [True, True, False]),
    ]
    for label, env_extra, reqs, want in cases:
        results, stats = sampler_case(env_extra, reqs)
        expect_sampling(results, stats, want, "OTEL_TRACES_SAMPLER %s" % label)
        for hp, _ in results:
            if hp.what in ("parent sampled", "parent not sampled"):
                h.eq(hp.trace_id, T1 if hp.what == "parent sampled" else T2,
                     "%s / %s: the trace id propagates whatever the decision" % (label, hp.what))


@h.timeout(60)
def test_traceidratio_half_follows_the_trace_id():
    """traceidratio 0.5: the decision is a function of the trace id alone
    (same id, same decision), roughly half of 40 new roots are sampled, and
    spans exist exactly for the hops sent downstream as sampled."""
    uses_running()
    reqs = [ROOT] * 40
    results, stats = sampler_case({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, reqs)
    want = [hp.sampled for hp, _ in results]
    expect_sampling(results, stats, want, "traceidratio 0.5")
    h.between(sum(want), 6, 34, "sampled roots out of 40 at ratio 0.5")
    # The same trace id twice (as a parent that did not decide: b3 with no sampling flag).
    same = [([("b3", "%s-%s" % (T1, P1))], "b3 deferred #1"), ([("b3", "%s-%s" % (T1, P2))], "b3 deferred #2")]
    results, stats = sampler_case({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, same)
    h.eq(results[0][0].sampled, results[1][0].sampled, "same trace id, same traceidratio decision")


@h.timeout(60)
def test_max_root_spans_per_second():
    uses_running()
    reqs = [ROOT] * 12 + [SAMPLED] * 4
    results, stats = sampler_case({}, reqs, args=["--max-root-spans-per-second", "2"])
    roots = [hp.sampled for hp, _ in results[:12]]
    want = roots + [True] * 4
    expect_sampling(results, stats, want, "--max-root-spans-per-second 2")
    h.between(sum(roots), 1, 3, "new roots sampled out of 12 sent at once with a limit of 2 per second")
    # Unsampled roots still start traces and propagate ids.
    h.eq(len({hp.trace_id for hp, _ in results[:12]}), 12, "each root has its own trace id")


# ============================================================== resource


@h.timeout(60)
def test_resource_attributes():
    uses_running()
    env_extra = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=itest,team=a%20b%2Cc,service.name=from-attrs",
                 "OTEL_SERVICE_NAME": "svc-env", "K8S_POD_NAME": "pod-k8s", "POD_NAME": "pod-plain",
                 "POD_NAMESPACE": "ns-1", "NODE_NAME": "node-1"}
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], env=S.otlp_env(col, **env_extra)) as st:
            hp = S.get(st, "/r", [tp(T1, P1)])
            sp = S.find(col.wait_otlp(1), hp.span_id)
        S.diff_dict(sp["resource"], {
            "service.name": "svc-env", "service.instance.id": "%d@%s" % (st.proxy.proc.pid, HOSTNAME),
            "host.name": HOSTNAME, "deployment.environment": "itest", "team": "a b,c",
            "k8s.pod.name": "pod-k8s", "k8s.namespace.name": "ns-1", "k8s.node.name": "node-1"},
            "resource (OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES' service.name; K8S_* over POD_*)")
    env_extra = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,service.instance.id=attr-inst",
                 "OTEL_SERVICE_NAME": "svc-env", "K8S_NAMESPACE_NAME": "ns-k8s", "POD_NAMESPACE": "ns-plain",
                 "K8S_NODE_NAME": "node-k8s"}
    with S.Group() as g:
        col = g.collector()
        zcol = g.collector()
        with Stack(args=["--service-name", "flag-svc", "--service-instance", "flag-inst", "--exporter",
                         "otlp,zipkin", "--zipkin-endpoint", zcol.url("/api/v2/spans")],
                   env=S.otlp_env(col, **env_extra)) as st:
            hp = S.get(st, "/r", [tp(T1, P1)])
            sp = S.find(col.wait_otlp(1), hp.span_id)
            z = S.find(zcol.wait_zipkin(1), hp.span_id, key="id")
        S.diff_dict(sp["resource"], {"service.name": "flag-svc", "service.instance.id": "flag-inst",
                                     "k8s.namespace.name": "ns-k8s", "k8s.node.name": "node-k8s",
                                     "k8s.pod.name": None},
                    "resource (flags win over the environment)")
        h.eq(z["localEndpoint"].get("serviceName"), "flag-svc", "Zipkin serviceName = --service-name")
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], env=S.otlp_env(col)) as st:
            hp = S.get(st, "/r", [])
            sp = S.find(col.wait_otlp(1), hp.span_id)
        h.eq(sp["resource"].get("service.name"), "tracebridge", "default service.name")
        for k in ("k8s.pod.name", "k8s.namespace.name", "k8s.node.name"):
            h.absent(sp["resource"], k, "no %s without its variable" % k)


# ================================================================= links


@h.timeout(60)
def test_links_for_conflicting_formats():
    uses_running()
    path = os.path.join(h.test_dir(), "spans.jsonl")
    J_T, J_P = "1234567890abcdef1234567890abcdef", "0102030405060708"
    with S.Group() as g:
        col = g.collector()
        zcol = g.collector()
        with Stack(args=["--exporter", "otlp,file,zipkin", "--span-file", path, "--zipkin-endpoint",
                         zcol.url("/api/v2/spans")], env=S.otlp_env(col)) as st, st.conn() as c:
            conflict = S.hop(c, "GET", "/l1", [tp(T1, P1), ("b3", "%s-%s-1" % (T2, P2))], what="tc vs b3")
            three = S.hop(c, "GET", "/l2", [tp(T1, P1), ("b3", "%s-%s-1" % (T2, P2)),
                                            ("uber-trace-id", "%s:%s:0:1" % (J_T, J_P))], what="tc vs b3 vs jaeger")
            agree = S.hop(c, "GET", "/l3", [tp(T1, P1), ("b3", "%s-%s-1" % (T1, P1))], what="tc and b3 agree")
            spans = col.wait_otlp(3)
            files = S.wait_file(path, 3)
            zs = zcol.wait_zipkin(3)

    def link(t, s, fmt):
        return {"trace_id": t, "span_id": s, "attributes": {"tracebridge.link.format": fmt}}

    for hp, want in ((conflict, [link(T2, P2, "b3")]),
                     (three, [link(T2, P2, "b3"), link(J_T, J_P, "jaeger")]),
                     (agree, [])):
        sp = S.find(spans, hp.span_id, what=hp.what)
        S.diff_dict(sp, {"trace_id": T1, "parent_span_id": P1}, "%s: the winning (tracecontext) context" % hp.what)
        got = [{"trace_id": l["trace_id"], "span_id": l["span_id"], "attributes": l["attributes"]}
               for l in sp["links"]]
        h.eq(got, want, "%s: OTLP links" % hp.what)
        f = S.find(files, hp.span_id, what=hp.what)
        fl = [{"trace_id": l.get("trace_id"), "span_id": l.get("span_id"),
               "attributes": l.get("attributes", {})} for l in f["links"]]
        h.eq(fl, want, "%s: file exporter links" % hp.what)
        ztags = S.find(zs, hp.span_id, key="id", what=hp.what).get("tags", {})
        zl = {k: v for k, v in ztags.items() if k.startswith("tracebridge.link.")}
        h.eq(zl, {"tracebridge.link.%d" % i: "%s-%s-%s" % (l["trace_id"], l["span_id"],
                                                          l["attributes"]["tracebridge.link.format"])
                  for i, l in enumerate(want)}, "%s: Zipkin link tags" % hp.what)


# ====================================================== bad settings


def test_bad_export_settings_refuse_to_start():
    uses_running()
    listen = ["--listen", "127.0.0.1:%d" % h.free_port(), "--upstream", "127.0.0.1:%d" % h.free_port()]
    cases = [
        (["--exporter", "otlp"], {}, "OTEL_EXPORTER_OTLP", "otlp without an endpoint"),
        (["--exporter", "zipkin"], {}, "zipkin-endpoint", "zipkin without an endpoint"),
        (["--exporter", "skywalking"], {}, "skywalking-endpoint", "skywalking without an endpoint"),
        (["--exporter", "otlp,bogus"], {}, "exporter", "an unknown exporter"),
        (["--zipkin-endpoint", "https://127.0.0.1:9411/api/v2/spans"], {}, "https://127.0.0.1:9411",
         "an https URL (no TLS)"),
        ([], {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL", "the grpc protocol"),
        ([], {"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER", "an unknown sampler"),
        ([], {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER",
         "a ratio above 1"),
        (["--role", "sideways"], {}, "role", "an unknown role"),
        ([], {"OTEL_BSP_MAX_QUEUE_SIZE": "0"}, "OTEL_BSP_MAX_QUEUE_SIZE", "an empty queue"),
        ([], {"OTEL_RESOURCE_ATTRIBUTES": "novalue"}, "OTEL_RESOURCE_ATTRIBUTES", "an attribute without '='"),
    ]
    for args, env_extra, name, what in cases:
        rc, out, err = h.run_binary(listen + args, timeout=5, env=S.env(**env_extra))
        h.eq(rc, 2, "exit status for %s (stderr %r)" % (what, err[-300:]))
        h.contains(err, name, "stderr names %s for %s" % (name, what))
    path = os.path.join(h.test_dir(), "no-such-dir", "spans.jsonl")
    rc, out, err = h.run_binary(listen + ["--exporter", "file", "--span-file", path], timeout=5, env=S.env())
    h.ne(rc, 0, "exit status when the span file cannot be opened")
    h.contains(err, path, "stderr names the span file that cannot be opened")


# ======================================================= request shapes


@h.timeout(60)
def test_request_shapes():
    """HEAD, an unknown method and pipelined requests: each span carries
    that request's own facts."""
    uses_running()
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], env=S.otlp_env(col)) as st:
            with st.conn() as c:
                r = c.request("HEAD", "/h")
                h.status(r, 200, "HEAD")
                purge = S.hop(c, "PURGE", "/p", what="unknown method")
            # Pipelined: three requests in one write.
            with st.conn() as c:
                port = c.sock.getsockname()[1]
                c.send(b"".join(h.client.build_request("GET", "/pipe/%d" % i) for i in range(3)))
                piped = [S.Hop(c.read_final_response(), "pipelined %d" % i, client_port=port) for i in range(3)]
            spans = col.wait_otlp(5)
        spans = col.otlp_spans()
        h.eq(len(spans), 5, "one span per request")
        head = [s for s in spans if s["attributes"].get("url.path") == "/h"]
        h.eq(len(head), 1, "one span for the HEAD request")
        S.diff_dict(head[0], {"name": "HEAD"}, "HEAD span")
        S.diff_dict(head[0]["attributes"], {"http.request.method": "HEAD", "http.response.body.size": 0,
                                            "http.response.status_code": 200}, "HEAD attributes")
        sp = S.find(spans, purge.span_id, what="PURGE")
        S.diff_dict(sp, {"name": "HTTP"}, "unknown method: span name (semantic conventions)")
        S.diff_dict(sp["attributes"], {"http.request.method": "_OTHER"}, "unknown method: http.request.method")
        p = []
        for i, hp in enumerate(piped):
            sp = S.find(spans, hp.span_id, what=hp.what)
            S.diff_dict(sp["attributes"], {"url.path": "/pipe/%d" % i, "client.port": hp.client_port,
                                           "http.response.body.size": hp.resp.body_len},
                        "%s: its own path" % hp.what)
            p.append(sp)
        h.true(p[0]["start"] <= p[1]["start"] <= p[2]["start"], "pipelined spans start in request order")
        h.true(p[0]["end"] <= p[1]["end"] <= p[2]["end"], "pipelined spans end in response order")


@h.timeout(60)
def test_body_sizes_are_payload_bytes_whatever_the_framing():
    """http.request.body.size / http.response.body.size count the body's
    bytes (docs/spans.md "request body bytes"), so the same 1000-byte body
    reports 1000 whether it came with Content-Length or chunked: chunk-size
    lines and CRLFs are framing, not body."""
    uses_running()
    big = 300000
    with S.Group() as g:
        col = g.collector()
        with Stack(args=[], env=S.otlp_env(col)) as st, st.conn() as c:
            payload = b"a" * 400 + b"b" * 500 + b"c" * 100
            length = S.hop(c, "POST", "/cl", [], body=payload, what="Content-Length request body")
            chunked = b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in (payload[:400], payload[400:900],
                                                                        payload[900:])) + b"0\r\n\r\n"
            chunk = S.hop(c, "POST", "/cr", [("Transfer-Encoding", "chunked")], body=chunked,
                          what="chunked request body")
            h.eq(chunk.echo["body_len"], 1000, "the backend received 1000 body bytes")
            r = c.request("GET", "/big-len", [("X-Test-Body-Size", str(big))])
            r2 = c.request("GET", "/big-chunked", [("X-Test-Body-Size", str(big)), ("X-Test-Framing", "chunked")])
            h.eq((r.body_len, r2.body_len), (big, big), "response bodies at the client")
            spans = col.wait_otlp(4)
    got = {s["attributes"]["url.path"]: (s["attributes"].get("http.request.body.size"),
                                         s["attributes"].get("http.response.body.size")) for s in spans}
    want = {"/cl": (1000, length.resp.body_len), "/cr": (1000, chunk.resp.body_len),
            "/big-len": (0, big), "/big-chunked": (0, big)}
    h.eq(got, want, "(request, response) body sizes by path")


@h.timeout(60)
def test_ipv6_host_header():
    """Host: [2001:db8::1]:8443 -> server.address without the brackets and
    server.port 8443 (and Zipkin's localEndpoint an ipv6 with that port)."""
    uses_running()
    with S.Group() as g:
        col = g.collector()
        zcol = g.collector()
        with Stack(args=["--exporter", "otlp,zipkin", "--zipkin-endpoint", zcol.url("/api/v2/spans")],
                   env=S.otlp_env(col)) as st, st.conn() as c:
            with_port = S.hop(c, "GET", "/v6", [("Host", "[2001:db8::1]:8443")], what="[v6]:port")
            bare = S.hop(c, "GET", "/v6", [("Host", "[2001:db8::2]")], what="[v6]")
            spans = col.wait_otlp(2)
            zs = zcol.wait_zipkin(2)
    S.diff_dict(S.find(spans, bare.span_id)["attributes"], {"server.address": "2001:db8::2", "server.port": None},
                "Host [2001:db8::2]")
    S.diff_dict(S.find(zs, bare.span_id, key="id")["localEndpoint"], {"ipv6": "2001:db8::2", "port": None},
                "Zipkin localEndpoint for Host [2001:db8::2]")
    S.diff_dict(S.find(spans, with_port.span_id)["attributes"], {"server.address": "2001:db8::1",
                                                                 "server.port": 8443},
                "Host [2001:db8::1]:8443")
    S.diff_dict(S.find(zs, with_port.span_id, key="id")["localEndpoint"], {"ipv6": "2001:db8::1", "port": 8443},
                "Zipkin localEndpoint for Host [2001:db8::1]:8443")


# ===================================================== bytes and limits


@h.timeout(60)
def test_invalid_utf8_and_long_values_in_every_exporter():
    """Raw bytes from the request become valid output everywhere: ill-formed
    UTF-8 is replaced by U+FFFD (protobuf strings decoded by protoc, JSON
    parsed strictly); an over-long path is cut, SkyWalking's endpoint at 150
    bytes, and the sw8 sent downstream names the same endpoint."""
    uses_running()
    ua_raw = "caf\xc3\xa9 \xff\xfe end \xe2\x82"  # latin-1 code points = the bytes sent
    ua_want = "caf\u00e9 \ufffd\ufffd end \ufffd"
    long_path = "/" + "/".join("segment%03d" % i for i in range(60))  # 659 bytes
    path = os.path.join(h.test_dir(), "spans.jsonl")
    with S.Group() as g:
        col = g.collector()
        zcol = g.collector()
        scol = g.collector()
        args = ["--propagators", "tracecontext,sw8", "--exporter", "otlp,zipkin,skywalking,file",
                "--zipkin-endpoint", zcol.url("/api/v2/spans"), "--skywalking-endpoint", scol.url("/"),
                "--span-file", path]
        with Stack(args=args, env=S.otlp_env(col)) as st, st.conn() as c:
            hp = S.hop(c, "GET", long_path + "?q=1", [("User-Agent", ua_raw)], what="bytes")
            o = S.find(col.wait_otlp(1), hp.span_id)
            z = S.find(zcol.wait_zipkin(1), hp.span_id, key="id")
            seg = scol.wait_segments(1)[0]
            f = S.find(S.wait_file(path, 1), hp.span_id)
    h.eq(o["attributes"].get("user_agent.original"), ua_want, "OTLP protobuf: user_agent.original repaired")
    h.eq(z["tags"].get("user_agent.original"), ua_want, "Zipkin: user_agent.original repaired")
    h.eq(f["attributes"].get("user_agent.original"), ua_want, "file: user_agent.original repaired")
    etags = sw_tags(seg["spans"][0], "Entry")
    h.eq(etags.get("user_agent.original"), ua_want, "SkyWalking: user_agent.original repaired")
    for what, got in (("OTLP", o["attributes"]["url.path"]), ("Zipkin", z["tags"]["url.path"]),
                      ("file", f["attributes"]["url.path"])):
        h.true(long_path.startswith(got) and 200 <= len(got) <= 256,
               "%s: url.path of a %d-byte path must be a prefix cut at the field size, got %d bytes %r"
               % (what, len(long_path), len(got), got[-40:]))
    op = seg["spans"][0]["operationName"]
    h.true(("GET:" + long_path).startswith(op) and 100 <= len(op.encode()) <= 150,
           "SkyWalking operationName: a prefix of GET:<path> of at most 150 bytes, got %d %r" % (len(op), op))
    h.eq(sw.parse_sw8(hp.header("sw8"))["endpoint"], op, "the sw8 endpoint downstream = the Entry operationName")


# ======================================================== flush, batches


@h.timeout(60)
def test_sigterm_flushes_the_queue():
    """With a 60 s schedule delay nothing is exported while serving; SIGTERM
    exports everything queued before the process exits."""
    uses_running()
    path = os.path.join(h.test_dir(), "spans.jsonl")
    with S.Group() as g:
        col = g.collector()
        env = S.otlp_env(col, OTEL_BSP_SCHEDULE_DELAY="60000")
        with Stack(args=["--exporter", "otlp,file", "--span-file", path], env=env) as st:
            with st.conn() as c:
                hops = [S.hop(c, "GET", "/q/%d" % i) for i in range(5)]
            time.sleep(0.5)
            h.eq(col.requests(), [], "nothing exported before the schedule delay")
            t = time.monotonic()
            status = st.proxy.stop()
            took = time.monotonic() - t
        st.proxy.check_exit(status)
        h.true(took < 5, "stop took %.1fs" % took)
        want = sorted(hp.span_id for hp in hops)
        h.eq(sorted(S.by_span_id(col.otlp_spans())), want, "OTLP spans flushed at SIGTERM")
        h.eq(sorted(s["span_id"] for s in S.read_span_file(path)), want, "file spans flushed at SIGTERM")
        exp, sp = S.stats(st.proxy)
        S.diff_dict(exp["otlp"], {"exported": 5, "failed": 0}, "export_stats otlp")
        S.diff_dict(exp["file"], {"exported": 5, "failed": 0}, "export_stats file")


@h.timeout(60)
def test_batches_and_workers():
    """--workers 3, OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4: every span of 30
    requests on 30 connections exported once, no request carries more than 4,
    and each span has its own request's path and client port."""
    uses_running()
    n = 30
    with S.Group() as g:
        col = g.collector()
        env = S.otlp_env(col, OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4")
        with Stack(args=[], workers=3, env=env) as st:
            hops = []
            for i in range(n):
                with st.conn() as c:
                    hops.append(S.hop(c, "GET", "/w/%d" % i, what="request %d" % i))
            col.wait_otlp(n)
        spans = S.by_span_id(col.otlp_spans())
        h.eq(sorted(spans), sorted(hp.span_id for hp in hops), "every span exported exactly once")
        sizes = [len(e["spans"]) for e in col.accepted()]
        h.true(max(sizes) <= 4, "spans per export request with OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4: %r" % sizes)
        for i, hp in enumerate(hops):
            S.diff_dict(spans[hp.span_id]["attributes"], {"url.path": "/w/%d" % i, "client.port": hp.client_port},
                        "%s: span attributes" % hp.what)
        _, sp = S.stats(st.proxy)
        S.diff_dict(sp, {"started": n, "sampled": n, "dropped_full": 0}, "span_stats over 3 workers")


@h.timeout(60)
def test_64_bit_trace_id_is_padded():
    uses_running()
    t64 = "a3ce929d0e0e4736"
    with S.Group() as g:
        col = g.collector()
        zcol = g.collector()
        with Stack(args=["--exporter", "otlp,zipkin", "--zipkin-endpoint", zcol.url("/api/v2/spans")],
                   env=S.otlp_env(col)) as st, st.conn() as c:
            hp = S.hop(c, "GET", "/64", [("b3", "%s-%s-1" % (t64, P1))])
            o = S.find(col.wait_otlp(1), hp.span_id)
            z = S.find(zcol.wait_zipkin(1), hp.span_id, key="id")
    S.diff_dict(o, {"trace_id": "0" * 16 + t64, "parent_span_id": P1}, "OTLP span of a 64-bit b3 trace")
    h.eq(o["flags"] & 0x2, 0, "random flag not set for a trace id padded from 64 bits (flags %#x)" % o["flags"])
    S.diff_dict(z, {"traceId": "0" * 16 + t64, "parentId": P1}, "Zipkin traceId: 32 hex digits, padded")
    h.eq(o["attributes"].get("tracebridge.extracted_format"), "b3", "extracted format")
