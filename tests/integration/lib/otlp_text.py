# SPDX-License-Identifier: MIT
"""OTLP trace requests as plain Python data, for the fake collector and the
span tests.

`parse(text)` turns the text format that `protoc --decode` prints into
dicts and lists: a message is a dict keyed by field name, the fields OTLP
declares `repeated` are always lists, `bytes` fields that hold ids are
lower-case hex, other strings are decoded from UTF-8 (a string field that is
not valid UTF-8 raises ValueError: the encoder broke the protobuf rules),
enums stay as their names. Nothing is guessed from the values: the shapes
come from the field names of opentelemetry/proto/{common,resource,trace}.

`spans_from_proto(d)` / `spans_from_json(d)` flatten an
ExportTraceServiceRequest (protobuf text dict, or the OTLP/JSON object) into
one dict per span, the same shape for both encodings:

    {"trace_id", "span_id", "parent_span_id" ("" for a root), "trace_state",
     "flags" (int), "name", "kind" (int: 2 SERVER, 3 CLIENT), "start", "end"
     (int ns), "attributes" {key: value}, "status_code" (int), "status_message",
     "links" [{"trace_id", "span_id", "trace_state", "flags", "attributes"}],
     "events" [...], "resource" {key: value}, "scope" {"name", "version"}}

Attribute values: str, int, float, bool, bytes, list (array_value) or dict
(kvlist_value). spans_from_json also returns the OTLP/JSON rules the object
breaks (lowerCamelCase keys, hex ids, integer enums...), so a receiver can
refuse it.
"""

import base64
import re

# Fields declared `repeated` in the OTLP trace protos (by field name).
REPEATED = frozenset(["resource_spans", "scope_spans", "spans", "attributes", "events", "links",
                      "values", "entity_refs", "id_keys", "description_keys"])
# `bytes` fields shown as hex (ids); bytes_value stays bytes.
HEX_BYTES = frozenset(["trace_id", "span_id", "parent_span_id"])
RAW_BYTES = frozenset(["bytes_value"])

SPAN_KINDS = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
              "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}

_TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<num>[-+]?(?:inf(?:inity)?|nan)\b|[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*|\[[^\]]*\])
  | (?P<punct>[:{}<>\[\],;])
""", re.X)


class ParseError(ValueError):
    pass


def _unescape(lit):
    """The bytes of a text-format string literal (C escapes: \\n, \\ooo, \\xHH...)."""
    body = lit[1:-1]
    out = bytearray()
    i = 0
    simple = {"n": 10, "r": 13, "t": 9, "\"": 34, "'": 39, "\\": 92, "a": 7, "b": 8, "f": 12,
              "v": 11, "?": 63}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ParseError("dangling backslash in %r" % lit)
        c = body[i]
        if c in simple:
            out.append(simple[c])
            i += 1
        elif c in "01234567":
            j = i
            while j < len(body) and j < i + 3 and body[j] in "01234567":
                j += 1
            out.append(int(body[i:j], 8) & 0xff)
            i = j
        elif c in "xX":
            j = i + 1
            while j < len(body) and j < i + 3 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 1:
                raise ParseError("\\x without digits in %r" % lit)
            out.append(int(body[i + 1:j], 16))
            i = j
        else:
            raise ParseError("unknown escape \\%s in %r" % (c, lit))
    return bytes(out)


def _tokens(text):
    pos = 0
    out = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError("unexpected text at %d: %r" % (pos, text[pos:pos + 40]))
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group(kind)))
    return out


def _string(lits, field):
    raw = b"".join(_unescape(t) for t in lits)
    if field in HEX_BYTES:
        return raw.hex()
    if field in RAW_BYTES:
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError("string field %s is not valid UTF-8 (%s): %r" % (field, e, raw))


def _scalar(kind, tok, field):
    if kind == "str":
        return _string([tok], field)
    if kind == "num":
        if re.fullmatch(r"[-+]?(inf(inity)?|nan)", tok, re.I):
            return float(tok)
        t = tok.rstrip("fF") if not tok.lower().startswith(("0x", "-0x", "+0x")) else tok
        if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", t):
            return int(t, 16)
        if re.fullmatch(r"[-+]?\d+", t):
            return int(t)
        return float(t)
    # identifiers: bools, enum names, inf/nan
    low = tok.lower()
    if low in ("true", "t"):
        return True
    if low in ("false", "f"):
        return False
    return tok


def parse(text):
    """The dict of a protobuf text-format message (see the module doc)."""
    toks = _tokens(text)
    pos, msg = _message(toks, 0, None)
    if pos != len(toks):
        raise ParseError("trailing tokens: %r" % (toks[pos:pos + 5],))
    return msg


def _put(msg, name, value):
    if name in REPEATED or name.isdigit():
        # Unknown fields print by number and may repeat: keep every value.
        msg.setdefault(name, []).append(value)
    elif name in msg:
        raise ParseError("singular field %s twice" % name)
    else:
        msg[name] = value


def _message(toks, pos, close):
    msg = {}
    while pos < len(toks):
        kind, tok = toks[pos]
        if kind == "punct" and tok == close:
            return pos + 1, msg
        if kind == "punct" and tok in (",", ";"):
            pos += 1
            continue
        if kind not in ("ident", "num"):
            raise ParseError("expected a field name, got %r" % tok)
        name = tok
        pos += 1
        if pos >= len(toks):
            raise ParseError("field %s without a value" % name)
        kind, tok = toks[pos]
        colon = False
        if kind == "punct" and tok == ":":
            colon = True
            pos += 1
            kind, tok = toks[pos]
        if kind == "punct" and tok in ("{", "<"):
            pos, sub = _message(toks, pos + 1, "}" if tok == "{" else ">")
            _put(msg, name, sub)
            continue
        if not colon:
            raise ParseError("field %s: expected ':' or '{', got %r" % (name, tok))
        if kind == "punct" and tok == "[":
            # A list of scalars: name: [a, b].
            pos += 1
            while True:
                kind, tok = toks[pos]
                if kind == "punct" and tok == "]":
                    pos += 1
                    break
                if kind == "punct" and tok == ",":
                    pos += 1
                    continue
                _put(msg, name, _scalar(kind, tok, name))
                pos += 1
            continue
        if kind == "str":
            # Adjacent string literals concatenate (before decoding).
            lits = [tok]
            pos += 1
            while pos < len(toks) and toks[pos][0] == "str":
                lits.append(toks[pos][1])
                pos += 1
            _put(msg, name, _string(lits, name))
            continue
        _put(msg, name, _scalar(kind, tok, name))
        pos += 1
    if close is not None:
        raise ParseError("missing %r at the end" % close)
    return pos, msg


# ------------------------------------------------------------ flattening


def _any_proto(v):
    if not isinstance(v, dict) or not v:
        return None
    if "string_value" in v:
        return v["string_value"]
    if "bool_value" in v:
        return v["bool_value"]
    if "int_value" in v:
        return v["int_value"]
    if "double_value" in v:
        return v["double_value"]
    if "bytes_value" in v:
        return v["bytes_value"]
    if "array_value" in v:
        return [_any_proto(x) for x in v["array_value"].get("values", [])]
    if "kvlist_value" in v:
        return _attrs_proto(v["kvlist_value"].get("values", []))
    raise ParseError("AnyValue with unknown content %r" % (v,))


def _attrs_proto(kvs):
    out = {}
    for kv in kvs:
        key = kv.get("key", "")
        if key in out:
            raise ParseError("attribute key %r twice (keys MUST be unique)" % key)
        out[key] = _any_proto(kv.get("value", {}))
    return out


def _enum(v, table):
    if isinstance(v, int):
        return v
    if v in table:
        return table[v]
    raise ParseError("unknown enum value %r" % (v,))


def spans_from_proto(req):
    """Flat spans of a parse()d ExportTraceServiceRequest."""
    out = []
    for rs in req.get("resource_spans", []):
        res = _attrs_proto(rs.get("resource", {}).get("attributes", []))
        for ss in rs.get("scope_spans", []):
            sc = ss.get("scope", {})
            scope = {"name": sc.get("name", ""), "version": sc.get("version", ""),
                     "attributes": _attrs_proto(sc.get("attributes", []))}
            for sp in ss.get("spans", []):
                st = sp.get("status", {})
                out.append({
                    "trace_id": sp.get("trace_id", ""),
                    "span_id": sp.get("span_id", ""),
                    "parent_span_id": sp.get("parent_span_id", ""),
                    "trace_state": sp.get("trace_state", ""),
                    "flags": sp.get("flags", 0),
                    "name": sp.get("name", ""),
                    "kind": _enum(sp.get("kind", 0), SPAN_KINDS),
                    "start": sp.get("start_time_unix_nano", 0),
                    "end": sp.get("end_time_unix_nano", 0),
                    "attributes": _attrs_proto(sp.get("attributes", [])),
                    "dropped_attributes_count": sp.get("dropped_attributes_count", 0),
                    "status_code": _enum(st.get("code", 0), STATUS_CODES),
                    "status_message": st.get("message", ""),
                    "links": [{"trace_id": l.get("trace_id", ""), "span_id": l.get("span_id", ""),
                               "trace_state": l.get("trace_state", ""), "flags": l.get("flags", 0),
                               "attributes": _attrs_proto(l.get("attributes", []))}
                              for l in sp.get("links", [])],
                    "events": [{"name": e.get("name", ""), "time": e.get("time_unix_nano", 0),
                                "attributes": _attrs_proto(e.get("attributes", []))}
                               for e in sp.get("events", [])],
                    "resource": res,
                    "scope": scope,
                })
    return out


# OTLP/JSON (protobuf JSON mapping with OTLP's exceptions: ids as hex, enums as
# integers, lowerCamelCase keys only).
_JSON_KEYS = {
    "request": {"resourceSpans"},
    "resource_spans": {"resource", "scopeSpans", "schemaUrl"},
    "resource": {"attributes", "droppedAttributesCount", "entityRefs"},
    "scope_spans": {"scope", "spans", "schemaUrl"},
    "scope": {"name", "version", "attributes", "droppedAttributesCount"},
    "span": {"traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
             "startTimeUnixNano", "endTimeUnixNano", "attributes", "droppedAttributesCount",
             "events", "droppedEventsCount", "links", "droppedLinksCount", "status"},
    "event": {"timeUnixNano", "name", "attributes", "droppedAttributesCount"},
    "link": {"traceId", "spanId", "traceState", "attributes", "droppedAttributesCount", "flags"},
    "status": {"message", "code"},
    "kv": {"key", "value"},
    "any": {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue",
            "bytesValue"},
}


class _JsonCheck:
    def __init__(self):
        self.errors = []

    def err(self, where, msg):
        if len(self.errors) < 50:
            self.errors.append("%s: %s" % (where, msg))

    def obj(self, v, kind, where):
        if not isinstance(v, dict):
            self.err(where, "expected an object, got %r" % (v,))
            return {}
        for k in v:
            if k not in _JSON_KEYS[kind]:
                self.err(where, "unknown key %r (OTLP/JSON keys are lowerCamelCase field names)" % k)
        return v

    def arr(self, v, where):
        if v is None:
            return []
        if not isinstance(v, list):
            self.err(where, "expected an array, got %r" % (v,))
            return []
        return v

    def hexid(self, v, nbytes, where, allow_empty=False):
        if v is None or v == "":
            if not allow_empty:
                self.err(where, "missing id")
            return ""
        if not isinstance(v, str) or not re.fullmatch(r"[0-9a-fA-F]{%d}" % (2 * nbytes), v):
            self.err(where, "%r is not %d hex digits (OTLP/JSON ids are hex, not base64)" % (v, 2 * nbytes))
            return str(v)
        return v.lower()

    def u64(self, v, where):
        # int64/fixed64: a decimal string or a number.
        if v is None:
            return 0
        if isinstance(v, bool):
            self.err(where, "boolean %r for an integer" % v)
            return 0
        if isinstance(v, int):
            return v
        if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
            return int(v)
        self.err(where, "%r is not an integer or decimal string" % (v,))
        return 0

    def u32(self, v, where):
        if v is None:
            return 0
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        self.err(where, "%r is not a JSON number" % (v,))
        return 0

    def enum(self, v, where):
        if v is None:
            return 0
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        self.err(where, "enum %r is not an integer (OTLP/JSON: enums MUST be integers)" % (v,))
        return _enum(v, dict(SPAN_KINDS, **STATUS_CODES)) if v in SPAN_KINDS or v in STATUS_CODES else 0

    def string(self, v, where):
        if v is None:
            return ""
        if not isinstance(v, str):
            self.err(where, "%r is not a string" % (v,))
            return str(v)
        return v

    def any(self, v, where):
        v = self.obj(v, "any", where)
        if len(v) > 1:
            self.err(where, "AnyValue with several values %r" % (v,))
        if "stringValue" in v:
            return self.string(v["stringValue"], where)
        if "boolValue" in v:
            if not isinstance(v["boolValue"], bool):
                self.err(where, "boolValue %r" % (v["boolValue"],))
            return v["boolValue"]
        if "intValue" in v:
            return self.u64(v["intValue"], where)
        if "doubleValue" in v:
            if not isinstance(v["doubleValue"], (int, float)) or isinstance(v["doubleValue"], bool):
                self.err(where, "doubleValue %r" % (v["doubleValue"],))
            return v["doubleValue"]
        if "bytesValue" in v:
            try:
                return base64.b64decode(v["bytesValue"], validate=True)
            except Exception:
                self.err(where, "bytesValue %r is not base64" % (v["bytesValue"],))
                return b""
        if "arrayValue" in v:
            av = v["arrayValue"]
            if not isinstance(av, dict) or set(av) - {"values"}:
                self.err(where, "arrayValue %r" % (av,))
                return []
            return [self.any(x, where + "[]") for x in self.arr(av.get("values"), where)]
        if "kvlistValue" in v:
            kv = v["kvlistValue"]
            if not isinstance(kv, dict) or set(kv) - {"values"}:
                self.err(where, "kvlistValue %r" % (kv,))
                return {}
            return self.attrs(kv.get("values"), where)
        return None

    def attrs(self, kvs, where):
        out = {}
        for i, kv in enumerate(self.arr(kvs, where)):
            kv = self.obj(kv, "kv", "%s[%d]" % (where, i))
            key = self.string(kv.get("key"), "%s[%d].key" % (where, i))
            if key in out:
                self.err(where, "attribute key %r twice" % key)
            out[key] = self.any(kv.get("value", {}), "%s.%s" % (where, key))
        return out


def spans_from_json(req):
    """(flat spans, [OTLP/JSON rule violations]) of an OTLP/JSON request object."""
    c = _JsonCheck()
    out = []
    req = c.obj(req, "request", "request")
    for i, rs in enumerate(c.arr(req.get("resourceSpans"), "resourceSpans")):
        w = "resourceSpans[%d]" % i
        rs = c.obj(rs, "resource_spans", w)
        r = c.obj(rs.get("resource", {}), "resource", w + ".resource")
        res = c.attrs(r.get("attributes"), w + ".resource.attributes")
        for j, ss in enumerate(c.arr(rs.get("scopeSpans"), w + ".scopeSpans")):
            w2 = "%s.scopeSpans[%d]" % (w, j)
            ss = c.obj(ss, "scope_spans", w2)
            sc = c.obj(ss.get("scope", {}), "scope", w2 + ".scope")
            scope = {"name": c.string(sc.get("name"), w2 + ".scope.name"),
                     "version": c.string(sc.get("version"), w2 + ".scope.version"),
                     "attributes": c.attrs(sc.get("attributes"), w2 + ".scope.attributes")}
            for k, sp in enumerate(c.arr(ss.get("spans"), w2 + ".spans")):
                w3 = "%s.spans[%d]" % (w2, k)
                sp = c.obj(sp, "span", w3)
                st = c.obj(sp.get("status", {}), "status", w3 + ".status")
                links = []
                for n, l in enumerate(c.arr(sp.get("links"), w3 + ".links")):
                    wl = "%s.links[%d]" % (w3, n)
                    l = c.obj(l, "link", wl)
                    links.append({"trace_id": c.hexid(l.get("traceId"), 16, wl + ".traceId"),
                                  "span_id": c.hexid(l.get("spanId"), 8, wl + ".spanId"),
                                  "trace_state": c.string(l.get("traceState"), wl),
                                  "flags": c.u32(l.get("flags"), wl + ".flags"),
                                  "attributes": c.attrs(l.get("attributes"), wl + ".attributes")})
                events = []
                for n, e in enumerate(c.arr(sp.get("events"), w3 + ".events")):
                    we = "%s.events[%d]" % (w3, n)
                    e = c.obj(e, "event", we)
                    events.append({"name": c.string(e.get("name"), we),
                                   "time": c.u64(e.get("timeUnixNano"), we),
                                   "attributes": c.attrs(e.get("attributes"), we)})
                out.append({
                    "trace_id": c.hexid(sp.get("traceId"), 16, w3 + ".traceId"),
                    "span_id": c.hexid(sp.get("spanId"), 8, w3 + ".spanId"),
                    "parent_span_id": c.hexid(sp.get("parentSpanId"), 8, w3 + ".parentSpanId",
                                              allow_empty=True),
                    "trace_state": c.string(sp.get("traceState"), w3 + ".traceState"),
                    "flags": c.u32(sp.get("flags"), w3 + ".flags"),
                    "name": c.string(sp.get("name"), w3 + ".name"),
                    "kind": c.enum(sp.get("kind"), w3 + ".kind"),
                    "start": c.u64(sp.get("startTimeUnixNano"), w3 + ".startTimeUnixNano"),
                    "end": c.u64(sp.get("endTimeUnixNano"), w3 + ".endTimeUnixNano"),
                    "attributes": c.attrs(sp.get("attributes"), w3 + ".attributes"),
                    "dropped_attributes_count": c.u32(sp.get("droppedAttributesCount"), w3),
                    "status_code": c.enum(st.get("code"), w3 + ".status.code"),
                    "status_message": c.string(st.get("message"), w3 + ".status.message"),
                    "links": links,
                    "events": events,
                    "resource": res,
                    "scope": scope,
                })
    return out, c.errors


def check_spans(spans):
    """Rules every exported OTLP span must meet whatever the encoding; returns
    the violations (ids valid and non-zero, root without a parent id, times
    set and ordered, a kind, a name)."""
    errs = []
    for i, s in enumerate(spans):
        w = "span %d (%s)" % (i, s.get("span_id"))
        if not re.fullmatch(r"[0-9a-f]{32}", s["trace_id"]) or int(s["trace_id"], 16) == 0:
            errs.append("%s: trace_id %r is not 16 non-zero bytes" % (w, s["trace_id"]))
        if not re.fullmatch(r"[0-9a-f]{16}", s["span_id"]) or int(s["span_id"], 16) == 0:
            errs.append("%s: span_id %r is not 8 non-zero bytes" % (w, s["span_id"]))
        p = s["parent_span_id"]
        if p and (not re.fullmatch(r"[0-9a-f]{16}", p) or int(p, 16) == 0):
            errs.append("%s: parent_span_id %r is neither empty nor 8 non-zero bytes" % (w, p))
        if not s["start"] or not s["end"] or s["end"] < s["start"]:
            errs.append("%s: times start=%r end=%r" % (w, s["start"], s["end"]))
        if s["kind"] not in (1, 2, 3, 4, 5):
            errs.append("%s: kind %r" % (w, s["kind"]))
        if not s["name"]:
            errs.append("%s: empty name" % w)
        if s["flags"] >> 32:
            errs.append("%s: flags %r wider than fixed32" % (w, s["flags"]))
        for l in s["links"]:
            if len(l["trace_id"]) != 32 or len(l["span_id"]) != 16:
                errs.append("%s: link ids %r/%r" % (w, l["trace_id"], l["span_id"]))
    return errs


# Self-checks of the parser on the shapes protoc prints.
_sample = parse('resource_spans {\n  scope_spans {\n    spans {\n      trace_id: "K\\371/5w\\263M\\246'
                '\\243\\316\\222\\235\\016\\016G6"\n      span_id: "\\000\\360g\\252\\013\\251\\002\\267"\n'
                '      parent_span_id: "\\n\\r\\"\\\'\\\\\\000\\001\\002"\n      name: "\\303\\251"\n'
                '      kind: SPAN_KIND_CLIENT\n      flags: 769\n      attributes {\n        key: "n"\n'
                '        value {\n          int_value: -5\n        }\n      }\n    }\n  }\n}\n')
_s = spans_from_proto(_sample)[0]
assert _s["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736", _s
assert _s["span_id"] == "00f067aa0ba902b7" and _s["parent_span_id"] == "0a0d22275c000102", _s
assert _s["name"] == "\u00e9" and _s["kind"] == 3 and _s["flags"] == 769, _s
assert _s["attributes"] == {"n": -5}, _s
del _sample, _s
