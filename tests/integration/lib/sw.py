# SPDX-License-Identifier: MIT
"""SkyWalking helpers for the span tests: the collector's id mapping of
protocols.md §8.4 (as 45-propagation.py ports it), tracebridge's convention
of §8.5, and sw8 header values."""

import base64
import hashlib
import re


def _uuid_bytes(s):
    """google/uuid Parse for the forms swTraceIDToTraceID can meet (<= 36
    chars): 36 with dashes, or 32 hex digits; any case. None on error."""
    if len(s) == 36:
        if any(s[i] != "-" for i in (8, 13, 18, 23)):
            return None
        s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
    if len(s) != 32:
        return None
    try:
        return bytes.fromhex(s)
    except ValueError:
        return None


def _atoi(s):
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits or not (digits.isascii() and digits.isdigit()):
        return None
    return int(s)


def sw_string_to_uuid(s, extra):
    """swStringToUUID of the collector's skywalkingreceiver (protocols.md §8.4)."""
    if len(s) < 32:
        return bytes(16)
    try:
        uid = bytearray(bytes.fromhex(s[:32]))
    except ValueError:
        return bytes(16)
    for i in range(4):
        uid[i] ^= (extra >> (8 * i)) & 0xff
    if len(s) == 32:
        return bytes(uid)
    first, last = s.find("."), s.rfind(".")
    if first != 32 or last == first:
        return bytes(16)
    mid, lst = _atoi(s[first + 1:last]), _atoi(s[last + 1:])
    if mid is None or lst is None:
        return bytes(16)
    mid &= 0xffffffff
    lst &= 0xffffffffffffffff
    for i in range(4):
        uid[4 + i] ^= (mid >> (8 * i)) & 0xff
    for i in range(8):
        uid[8 + i] ^= (lst >> (8 * i)) & 0xff
    return bytes(uid)


def sw_trace_id_to_trace_id(s):
    """swTraceIDToTraceID: 32 hex digits; all zero means 'no mapping'."""
    if len(s) <= 36:
        return (_uuid_bytes(s) or bytes(16)).hex()
    return sw_string_to_uuid(s, 0).hex()


def segment_id_to_span_id(segment, span):
    """segmentIDToSpanID: 16 hex digits; all zero means 'no mapping'."""
    if len(segment) < 32:
        return bytes(8).hex()
    u = sw_string_to_uuid(segment, span & 0xffffffff)
    return bytes(u[i] ^ u[i + 8] for i in range(8)).hex()


def sw_trace_id_map(s):
    """tracebridge's 128-bit id for a SkyWalking trace id (§8.5): the
    collector mapping, else the first 16 bytes of SHA-256. (trace, hashed)."""
    t = sw_trace_id_to_trace_id(s)
    if int(t, 16):
        return t, False
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:32], True


assert sw_trace_id_to_trace_id("de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001") \
    == "de5980b8fde34a371be41bcd5e2fd4dd"
assert segment_id_to_span_id("de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430000", 2) == "c6bd9b75a3cc9eea"
assert segment_id_to_span_id("00f067aa0ba902b70000000000000000", 0) == "00f067aa0ba902b7"


def b64(s):
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def sw8_value(sample, trace, segment, span, service, instance, endpoint, target):
    return "-".join([str(sample), b64(trace), b64(segment), str(span), b64(service), b64(instance),
                     b64(endpoint), b64(target)])


def parse_sw8(v, what="sw8"):
    """The fields of an sw8 value as a dict (decoded strings, span as int)."""
    f = (v or "").split("-")
    if len(f) != 8:
        raise AssertionError("%s: %r has %d fields, expected 8" % (what, v, len(f)))
    out = {"sample": f[0], "span": None}
    names = ["trace", "segment", None, "service", "instance", "endpoint", "target"]
    for i, name in enumerate(names, start=1):
        if name is None:
            if not re.fullmatch(r"0|[1-9][0-9]*", f[i]):
                raise AssertionError("%s: %r: parent span id %r" % (what, v, f[i]))
            out["span"] = int(f[i])
            continue
        try:
            out[name] = base64.b64decode(f[i] + "=" * (-len(f[i]) % 4), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as e:
            raise AssertionError("%s: %r: %s field is not base64 of UTF-8 (%s)" % (what, v, name, e))
    return out


# protocols.md §16 vector 47: a Java-agent sw8.
V47_SW8 = ("1-ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ==-"
           "ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMA==-2-"
           "c3ZjLWE=-aW5zdC1hQDEwLjAuMC41-L2EvZ2V0-MTAuMC4wLjY6ODA4MA==")
V47_TRACE = "de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001"
V47_SEGMENT = "de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430000"
V47_W3C_TRACE = "de5980b8fde34a371be41bcd5e2fd4dd"
V47_W3C_PARENT = "c6bd9b75a3cc9eea"
assert parse_sw8(V47_SW8) == {"sample": "1", "trace": V47_TRACE, "segment": V47_SEGMENT, "span": 2,
                              "service": "svc-a", "instance": "inst-a@10.0.0.5", "endpoint": "/a/get",
                              "target": "10.0.0.6:8080"}
