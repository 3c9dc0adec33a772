#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fake tracing backend for the tracebridge span tests: OTLP/HTTP, Zipkin v2
and SkyWalking receivers in one HTTP/1.1 server.

Listens on 127.0.0.1 (port 0 unless --port), prints "PORT <n>" on stdout,
then serves one thread per connection (keep-alive, Content-Length or chunked
bodies, Expect: 100-continue, Content-Encoding: gzip). POST on

  /v1/traces     OTLP: application/x-protobuf is decoded by the real protobuf
                 compiler (protoc --decode against tests/proto), then parsed by
                 lib/otlp_text.py; application/json by json + OTLP/JSON rules
  /api/v2/spans  Zipkin v2 JSON (the span model is checked)
  /v3/segments   SkyWalking native segments, a JSON array (checked)

Each request is appended to --events as one JSON line:
  {"event": "request", "t", "conn", "index", "method", "path", "headers",
   "format", "content_type", "content_encoding", "body_len", "status_sent",
   "decoded", "spans", "errors", "forced"}
"decoded" is the decoded body (protobuf as a dict, JSON as parsed), "spans"
the flat OTLP spans (lib/otlp_text.py) for /v1/traces, "errors" what made
the collector refuse it (400 or 415; empty when accepted), "forced" true when
the status came from --fail-first. Connection ends are "close" events; a
collector bug is an "error" event with a traceback.

Controls: --fail-first N answers --fail-status (default 503) to the first N
requests (with Retry-After: S when --retry-after S), then normal answers;
--hang reads each request and never answers (status_sent null);
--hang-while FILE holds each request unanswered while FILE exists, then
answers it normally (a collector that is slow, then recovers). SIGTERM or
SIGINT ends the process at once.
"""

import argparse
import gzip
import itertools
import json
import os
import re
import select
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ITEST_DIR = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(ITEST_DIR))
sys.path.insert(0, ITEST_DIR)
from lib import otlp_text  # noqa: E402

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
OTLP_MESSAGE = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"
OTLP_PROTO = "opentelemetry/proto/collector/trace/v1/trace_service.proto"

REASONS = {100: "Continue", 200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
           415: "Unsupported Media Type", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

# Plausible epoch range (2000-01-01 .. 2100-01-01) in seconds: catches unit mix-ups.
EPOCH_LO, EPOCH_HI = 946684800, 4102444800


class Events:
    def __init__(self, path):
        self._lock = threading.Lock()
        self._f = open(path, "a", encoding="utf-8") if path else None

    def emit(self, kind, **fields):
        if self._f is None:
            return
        rec = {"event": kind, "t": round(time.time(), 6)}
        rec.update(fields)
        line = json.dumps(rec, separators=(",", ":"), default=_json_default) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()


def _json_default(o):
    if isinstance(o, bytes):
        return {"bytes_hex": o.hex()}
    if isinstance(o, float):
        return repr(o)
    return repr(o)


EVENTS = Events(None)
CONN_IDS = itertools.count(1)
ARGS = None
_fail_lock = threading.Lock()
_fail_left = [0]


class PeerClosed(Exception):
    pass


class BadRequest(Exception):
    pass


# ----------------------------------------------------------- validation


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _int64(v):
    """protobuf JSON int64: a number or a decimal string; None when neither."""
    if _is_int(v):
        return v
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
        return int(v)
    return None


def _lower_hex(v, lengths):
    return isinstance(v, str) and len(v) in lengths and re.fullmatch(r"[0-9a-f]+", v) is not None \
        and int(v, 16) != 0


ZIPKIN_KEYS = {"traceId", "id", "parentId", "name", "kind", "timestamp", "duration", "debug", "shared",
               "localEndpoint", "remoteEndpoint", "annotations", "tags"}
ZIPKIN_ENDPOINT_KEYS = {"serviceName", "ipv4", "ipv6", "port"}
ZIPKIN_KINDS = {"CLIENT", "SERVER", "PRODUCER", "CONSUMER"}


def _zipkin_endpoint(ep, where, need_service, errs):
    if not isinstance(ep, dict):
        errs.append("%s: not an object: %r" % (where, ep))
        return
    for k in ep:
        if k not in ZIPKIN_ENDPOINT_KEYS:
            errs.append("%s: unknown key %r" % (where, k))
    sn = ep.get("serviceName")
    if need_service and (not isinstance(sn, str) or not sn):
        errs.append("%s.serviceName missing or empty: %r" % (where, sn))
    elif sn is not None and not isinstance(sn, str):
        errs.append("%s.serviceName is not a string: %r" % (where, sn))
    if "ipv4" in ep:
        v = ep["ipv4"]
        parts = v.split(".") if isinstance(v, str) else []
        if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
            errs.append("%s.ipv4 %r is not a dotted quad" % (where, v))
    if "ipv6" in ep:
        try:
            socket.inet_pton(socket.AF_INET6, ep["ipv6"])
        except (OSError, TypeError):
            errs.append("%s.ipv6 %r is not an IPv6 address" % (where, ep["ipv6"]))
    if "port" in ep and not (_is_int(ep["port"]) and 0 < ep["port"] < 65536):
        errs.append("%s.port %r is not 1..65535" % (where, ep["port"]))


def validate_zipkin(doc):
    """Zipkin v2 model (zipkin2-api.yaml): the violations in `doc`."""
    errs = []
    if not isinstance(doc, list):
        return ["body is not a JSON array of spans"]
    if not doc:
        errs.append("empty span list")
    for i, s in enumerate(doc):
        w = "span[%d]" % i
        if not isinstance(s, dict):
            errs.append("%s: not an object" % w)
            continue
        for k in s:
            if k not in ZIPKIN_KEYS:
                errs.append("%s: unknown key %r" % (w, k))
        if not _lower_hex(s.get("traceId"), (16, 32)):
            errs.append("%s.traceId %r is not 16 or 32 lower-case hex, non-zero" % (w, s.get("traceId")))
        if not _lower_hex(s.get("id"), (16,)):
            errs.append("%s.id %r is not 16 lower-case hex, non-zero" % (w, s.get("id")))
        if "parentId" in s and not _lower_hex(s["parentId"], (16,)):
            errs.append("%s.parentId %r is not 16 lower-case hex, non-zero" % (w, s["parentId"]))
        if "name" in s and not isinstance(s["name"], str):
            errs.append("%s.name %r is not a string" % (w, s["name"]))
        if "kind" in s and s["kind"] not in ZIPKIN_KINDS:
            errs.append("%s.kind %r is not one of %s" % (w, s["kind"], sorted(ZIPKIN_KINDS)))
        ts = s.get("timestamp")
        if not _is_int(ts) or not EPOCH_LO * 10**6 <= ts <= EPOCH_HI * 10**6:
            errs.append("%s.timestamp %r is not an integer epoch in microseconds" % (w, ts))
        if "duration" in s and not (_is_int(s["duration"]) and s["duration"] >= 1):
            errs.append("%s.duration %r is not an integer >= 1 (microseconds)" % (w, s["duration"]))
        if "localEndpoint" not in s:
            errs.append("%s.localEndpoint missing" % w)
        else:
            _zipkin_endpoint(s["localEndpoint"], w + ".localEndpoint", True, errs)
        if "remoteEndpoint" in s:
            _zipkin_endpoint(s["remoteEndpoint"], w + ".remoteEndpoint", False, errs)
        anns = s.get("annotations", [])
        if not isinstance(anns, list):
            errs.append("%s.annotations is not an array" % w)
            anns = []
        for j, a in enumerate(anns):
            if not (isinstance(a, dict) and set(a) <= {"timestamp", "value"} and _is_int(a.get("timestamp"))
                    and isinstance(a.get("value"), str)):
                errs.append("%s.annotations[%d] %r is not {timestamp, value}" % (w, j, a))
        tags = s.get("tags", {})
        if not isinstance(tags, dict):
            errs.append("%s.tags is not an object" % w)
        else:
            for k, v in tags.items():
                if not isinstance(v, str):
                    errs.append("%s.tags[%r] = %r is not a string" % (w, k, v))
        for b in ("debug", "shared"):
            if b in s and not isinstance(s[b], bool):
                errs.append("%s.%s %r is not a boolean" % (w, b, s[b]))
    return errs


SW_SEGMENT_KEYS = {"traceId", "traceSegmentId", "spans", "service", "serviceInstance", "isSizeLimited"}
SW_SPAN_KEYS = {"spanId", "parentSpanId", "startTime", "endTime", "refs", "operationName", "peer",
                "spanType", "spanLayer", "componentId", "isError", "tags", "logs", "skipAnalysis"}
SW_REF_KEYS = {"refType", "traceId", "parentTraceSegmentId", "parentSpanId", "parentService",
               "parentServiceInstance", "parentEndpoint", "networkAddressUsedAtPeer"}
SW_SPAN_TYPES = {"Entry", "Exit", "Local"}
SW_LAYERS = {"Unknown", "Database", "RPCFramework", "Http", "MQ", "Cache", "FAAS"}


def _nonempty(v):
    return isinstance(v, str) and v != ""


def validate_skywalking(doc):
    """SkyWalking SegmentObject array (segment.v3 protobuf JSON): the violations."""
    errs = []
    if not isinstance(doc, list):
        return ["body is not a JSON array of segments"]
    if not doc:
        errs.append("empty segment list")
    for i, seg in enumerate(doc):
        w = "segment[%d]" % i
        if not isinstance(seg, dict):
            errs.append("%s: not an object" % w)
            continue
        for k in seg:
            if k not in SW_SEGMENT_KEYS:
                errs.append("%s: unknown key %r" % (w, k))
        for k in ("traceId", "traceSegmentId", "service", "serviceInstance"):
            if not _nonempty(seg.get(k)):
                errs.append("%s.%s missing or empty: %r" % (w, k, seg.get(k)))
        spans = seg.get("spans")
        if not isinstance(spans, list) or not spans:
            errs.append("%s.spans missing or empty" % w)
            continue
        ids = set()
        for j, sp in enumerate(spans):
            ws = "%s.spans[%d]" % (w, j)
            if not isinstance(sp, dict):
                errs.append("%s: not an object" % ws)
                continue
            for k in sp:
                if k not in SW_SPAN_KEYS:
                    errs.append("%s: unknown key %r" % (ws, k))
            sid, psid = _int64(sp.get("spanId")), _int64(sp.get("parentSpanId"))
            if sid is None or sid < 0:
                errs.append("%s.spanId %r" % (ws, sp.get("spanId")))
            elif sid in ids:
                errs.append("%s.spanId %d twice in the segment" % (ws, sid))
            else:
                ids.add(sid)
            if psid is None or psid < -1:
                errs.append("%s.parentSpanId %r" % (ws, sp.get("parentSpanId")))
            elif psid != -1 and psid not in ids:
                errs.append("%s.parentSpanId %d names no earlier span of the segment" % (ws, psid))
            st, en = _int64(sp.get("startTime")), _int64(sp.get("endTime"))
            if st is None or not EPOCH_LO * 1000 <= st <= EPOCH_HI * 1000:
                errs.append("%s.startTime %r is not an epoch in milliseconds" % (ws, sp.get("startTime")))
            if en is None or not EPOCH_LO * 1000 <= en <= EPOCH_HI * 1000:
                errs.append("%s.endTime %r is not an epoch in milliseconds" % (ws, sp.get("endTime")))
            elif st is not None and en < st:
                errs.append("%s: endTime %d before startTime %d" % (ws, en, st))
            if sp.get("spanType") not in SW_SPAN_TYPES:
                errs.append("%s.spanType %r is not Entry, Exit or Local" % (ws, sp.get("spanType")))
            if "spanLayer" in sp and sp["spanLayer"] not in SW_LAYERS:
                errs.append("%s.spanLayer %r" % (ws, sp["spanLayer"]))
            if not _nonempty(sp.get("operationName")):
                errs.append("%s.operationName missing or empty: %r" % (ws, sp.get("operationName")))
            if "componentId" in sp and _int64(sp["componentId"]) is None:
                errs.append("%s.componentId %r" % (ws, sp["componentId"]))
            for b in ("isError", "skipAnalysis"):
                if b in sp and not isinstance(sp[b], bool):
                    errs.append("%s.%s %r is not a boolean" % (ws, b, sp[b]))
            if "peer" in sp and not isinstance(sp["peer"], str):
                errs.append("%s.peer %r" % (ws, sp["peer"]))
            if sp.get("spanType") == "Exit" and not _nonempty(sp.get("peer")):
                errs.append("%s: an Exit span without peer" % ws)
            tags = sp.get("tags", [])
            if not isinstance(tags, list):
                errs.append("%s.tags is not an array" % ws)
            else:
                for t in tags:
                    if not (isinstance(t, dict) and set(t) <= {"key", "value"} and isinstance(t.get("key"), str)
                            and isinstance(t.get("value", ""), str)):
                        errs.append("%s.tags item %r is not {key, value} strings" % (ws, t))
            refs = sp.get("refs", [])
            if not isinstance(refs, list):
                errs.append("%s.refs is not an array" % ws)
                continue
            for n, r in enumerate(refs):
                wr = "%s.refs[%d]" % (ws, n)
                if not isinstance(r, dict):
                    errs.append("%s: not an object" % wr)
                    continue
                for k in r:
                    if k not in SW_REF_KEYS:
                        errs.append("%s: unknown key %r" % (wr, k))
                if r.get("refType") not in ("CrossProcess", "CrossThread"):
                    errs.append("%s.refType %r" % (wr, r.get("refType")))
                need = ["traceId", "parentTraceSegmentId", "parentService", "parentServiceInstance",
                        "parentEndpoint"]
                if r.get("refType") == "CrossProcess":
                    need.append("networkAddressUsedAtPeer")
                for k in need:
                    if not _nonempty(r.get(k)):
                        errs.append("%s.%s missing or empty: %r" % (wr, k, r.get(k)))
                p = _int64(r.get("parentSpanId"))
                if p is None or p < 0:
                    errs.append("%s.parentSpanId %r" % (wr, r.get("parentSpanId")))
    return errs


# ------------------------------------------------------------- decoding


def decode_otlp_proto(body):
    """(decoded dict, flat spans, errors) of a protobuf ExportTraceServiceRequest."""
    proto_dir = ARGS.proto_dir
    try:
        p = subprocess.run(["protoc", "--decode=" + OTLP_MESSAGE, "-I", proto_dir, OTLP_PROTO],
                           input=body, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, [], ["protoc could not run: %s" % e]
    err = p.stderr.decode("utf-8", "replace").strip()
    if p.returncode != 0:
        return None, [], ["protoc --decode failed (status %d): %s" % (p.returncode, err[:800])]
    errors = []
    if err:
        # protoc warns (and may still print) e.g. on invalid UTF-8 in a string field.
        errors.append("protoc: %s" % err[:800])
    try:
        d = otlp_text.parse(p.stdout.decode("utf-8"))
        spans = otlp_text.spans_from_proto(d)
    except (ValueError, UnicodeDecodeError) as e:
        return None, [], errors + ["decoded text does not parse: %s" % e]
    errors += otlp_text.check_spans(spans)
    if not d.get("resource_spans"):
        errors.append("an export request without resource_spans")
    return d, spans, errors


def decode_otlp_json(body):
    try:
        d = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        return None, [], ["body is not UTF-8 JSON: %s" % e]
    spans, errors = otlp_text.spans_from_json(d)
    errors += otlp_text.check_spans(spans)
    if not spans:
        errors.append("an export request without spans")
    return d, spans, errors


def _json_body(body):
    try:
        return json.loads(body.decode("utf-8")), []
    except (ValueError, UnicodeDecodeError) as e:
        return None, ["body is not UTF-8 JSON: %s" % e]


def _media_type(ct):
    return (ct or "").split(";", 1)[0].strip().lower()


def handle_body(path, headers, body):
    """(format, decoded, spans, errors, status on success, content type, error status)."""
    ct = _media_type(_hdr(headers, "content-type"))
    if path == "/v1/traces":
        if ct == "application/x-protobuf":
            d, spans, errs = decode_otlp_proto(body)
            return "otlp_proto", d, spans, errs, 200, "application/x-protobuf", b""
        if ct == "application/json":
            d, spans, errs = decode_otlp_json(body)
            return "otlp_json", d, spans, errs, 200, "application/json", b"{}"
        return "otlp", None, [], ["415: Content-Type %r is neither application/x-protobuf nor "
                                  "application/json" % ct], 200, "application/json", b"{}"
    if path == "/api/v2/spans":
        if ct != "application/json":
            return "zipkin", None, [], ["415: Content-Type %r is not application/json" % ct], 202, "", b""
        d, errs = _json_body(body)
        if not errs:
            errs = validate_zipkin(d)
        return "zipkin", d, [], errs, 202, "", b""
    if path == "/v3/segments":
        if ct != "application/json":
            return "skywalking", None, [], ["415: Content-Type %r is not application/json" % ct], 200, "", b""
        d, errs = _json_body(body)
        if not errs:
            errs = validate_skywalking(d)
        return "skywalking", d, [], errs, 200, "application/json", b"{}"
    return None, None, [], ["404: no receiver at %s" % path], 200, "", b""


def _hdr(headers, name):
    name = name.lower()
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


# ---------------------------------------------------------- connections


class Conn(socketserver.BaseRequestHandler):
    def setup(self):
        self.id = next(CONN_IDS)
        self.sock = self.request
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb", buffering=65536)
        EVENTS.emit("accept", conn=self.id, peer="%s:%d" % self.client_address[:2])

    def _readline(self):
        try:
            line = self.rfile.readline(MAX_HEAD)
        except (ConnectionError, OSError) as e:
            raise PeerClosed(str(e))
        return line

    def _read(self, n):
        out = bytearray()
        while len(out) < n:
            try:
                data = self.rfile.read1(n - len(out))
            except (ConnectionError, OSError) as e:
                raise PeerClosed(str(e))
            if not data:
                raise PeerClosed("eof in body")
            out += data
        return bytes(out)

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (ConnectionError, OSError) as e:
            raise PeerClosed("send: %s" % e)

    def handle(self):
        index = 0
        how = "eof"
        try:
            while True:
                keep = self.serve_one(index)
                if keep is None:
                    break
                index += 1
                if not keep:
                    how = "server_close"
                    break
        except PeerClosed as e:
            how = "peer_closed: %s" % e
        except BadRequest as e:
            how = "bad_request: %s" % e
            try:
                self.respond(400, [("Content-Type", "text/plain")], str(e).encode()[:300] + b"\n", False)
            except PeerClosed:
                pass
        except Exception:
            how = "error"
            EVENTS.emit("error", conn=self.id, traceback=traceback.format_exc())
        EVENTS.emit("close", conn=self.id, requests=index, how=how)

    def read_head(self):
        lines = []
        size = 0
        while True:
            line = self._readline()
            if not line:
                if lines:
                    raise PeerClosed("eof in head")
                return None
            size += len(line)
            if size > MAX_HEAD:
                raise BadRequest("head too large")
            if line in (b"\r\n", b"\n"):
                if not lines:
                    continue
                return lines
            lines.append(line.rstrip(b"\r\n").decode("latin-1"))

    def read_chunked(self):
        out = bytearray()
        while True:
            line = self._readline()
            if not line:
                raise PeerClosed("eof in chunk size")
            try:
                n = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size line %r" % line[:40])
            if n == 0:
                break
            out += self._read(n)
            if len(out) > MAX_BODY:
                raise BadRequest("body too large")
            if self._readline() not in (b"\r\n", b"\n"):
                raise BadRequest("chunk not followed by CRLF")
        while self._readline() not in (b"\r\n", b"\n", b""):
            pass
        return bytes(out)

    def respond(self, status, headers, body, keep):
        head = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
        head += ["%s: %s" % kv for kv in headers]
        head.append("Content-Length: %d" % len(body))
        if not keep:
            head.append("Connection: close")
        self.send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def hold_while(self, path):
        """Waits while `path` exists; False when the client closed meanwhile."""
        while os.path.exists(path):
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if r:
                try:
                    if not self.sock.recv(65536, socket.MSG_PEEK):
                        return False
                except (ConnectionError, OSError):
                    return False
                # Bytes of a next request (pipelining): read later, as usual.
                time.sleep(0.05)
        return True

    def serve_one(self, index):
        lines = self.read_head()
        if lines is None:
            return None
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise BadRequest("request line %r" % lines[0])
        method, target, version = parts
        headers = []
        for ln in lines[1:]:
            n, sep, v = ln.partition(":")
            if not sep:
                raise BadRequest("header line without a colon: %r" % ln)
            headers.append((n.strip(), v.strip()))
        conn_tokens = [t.strip().lower() for t in (_hdr(headers, "connection") or "").split(",")]
        keep = version == "HTTP/1.1" and "close" not in conn_tokens
        if (_hdr(headers, "expect") or "").lower() == "100-continue":
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        te = _hdr(headers, "transfer-encoding")
        cl = _hdr(headers, "content-length")
        if te is not None:
            if te.lower().split(",")[-1].strip() != "chunked":
                raise BadRequest("transfer-encoding %r" % te)
            wire = self.read_chunked()
        elif cl is not None:
            if not cl.isdigit() or int(cl) > MAX_BODY:
                raise BadRequest("content-length %r" % cl)
            wire = self._read(int(cl))
        else:
            wire = b""
        t_received = time.time()
        path = target.split("?", 1)[0]
        rec = {"conn": self.id, "index": index, "method": method, "target": target, "path": path,
               "version": version, "headers": [[n, v] for n, v in headers],
               "content_type": _hdr(headers, "content-type"),
               "content_encoding": _hdr(headers, "content-encoding"), "body_len": len(wire),
               "received": round(t_received, 6), "format": None, "decoded": None, "spans": [],
               "errors": [], "forced": False, "status_sent": None}

        body = wire
        enc = (rec["content_encoding"] or "identity").strip().lower()
        errors = []
        if enc == "gzip":
            try:
                body = gzip.decompress(wire)
            except (OSError, EOFError, zlib.error) as e:
                errors.append("Content-Encoding: gzip, but the body does not gunzip: %s" % e)
        elif enc not in ("identity", ""):
            errors.append("415: unsupported Content-Encoding %r" % enc)
        rec["decoded_len"] = len(body)

        status = None
        resp_headers, resp_body = [], b""
        if method != "POST":
            status, errors = 405, errors + ["method %s" % method]
        elif not errors:
            fmt, decoded, spans, errs, ok_status, ok_ct, ok_body = handle_body(path, headers, body)
            rec.update(format=fmt, decoded=decoded, spans=spans)
            errors += errs
            if fmt is None:
                status = 404
            elif errors:
                status = 415 if any(e.startswith("415:") for e in errors) else 400
            else:
                status = ok_status
                if ok_ct:
                    resp_headers.append(("Content-Type", ok_ct))
                resp_body = ok_body
        else:
            status = 415 if any(e.startswith("415:") for e in errors) else 400
        rec["errors"] = errors

        if ARGS.hang:
            rec["hang"] = True
            EVENTS.emit("request", **rec)
            # Never answer; wait for the client to give up.
            try:
                while self.rfile.read1(65536):
                    pass
            except (ConnectionError, OSError):
                pass
            return None

        if ARGS.hang_while is not None and os.path.exists(ARGS.hang_while):
            held_since = time.time()
            EVENTS.emit("held", conn=self.id, index=index, path=path)
            if not self.hold_while(ARGS.hang_while):
                rec["held_s"] = round(time.time() - held_since, 6)
                EVENTS.emit("request", **rec)  # the client gave up: status_sent stays null
                return None
            rec["held_s"] = round(time.time() - held_since, 6)

        with _fail_lock:
            forced = _fail_left[0] > 0
            if forced:
                _fail_left[0] -= 1
        if forced:
            rec["forced"] = True
            status = ARGS.fail_status
            resp_headers = [("Content-Type", "text/plain")]
            if ARGS.retry_after is not None:
                resp_headers.append(("Retry-After", str(ARGS.retry_after)))
            resp_body = b"failing on purpose (--fail-first)\n"
        elif status >= 400:
            resp_headers = [("Content-Type", "text/plain")]
            resp_body = ("\n".join(errors[:20]) + "\n").encode("utf-8", "replace")
        rec["status_sent"] = status
        EVENTS.emit("request", **rec)
        self.respond(status, resp_headers, resp_body, keep)
        return keep


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    global ARGS, EVENTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--events", default=None, help="JSONL file receiving one line per request")
    ap.add_argument("--proto-dir", default=os.path.join(REPO_ROOT, "tests", "proto"),
                    help="include directory holding opentelemetry/proto/... (default tests/proto)")
    ap.add_argument("--fail-first", type=int, default=0, metavar="N",
                    help="answer --fail-status to the first N requests")
    ap.add_argument("--fail-status", type=int, default=503)
    ap.add_argument("--retry-after", default=None, metavar="S",
                    help="Retry-After value sent with the forced failures")
    ap.add_argument("--hang", action="store_true", help="read requests, never answer")
    ap.add_argument("--hang-while", default=None, metavar="FILE",
                    help="hold each request unanswered while FILE exists, then answer it")
    ARGS = ap.parse_args()
    EVENTS = Events(ARGS.events)
    _fail_left[0] = ARGS.fail_first
    srv = Server((ARGS.host, ARGS.port), Conn)

    def on_term(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
