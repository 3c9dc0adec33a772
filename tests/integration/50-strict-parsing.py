# SPDX-License-Identifier: MIT
"""Strict request parsing: every malformed or ambiguous head is answered by
the proxy itself (status, reason code in the body, Connection: close, then a
close), is logged, and never reaches the backend. These are the request
smuggling vectors of RFC 9112 §2.2, §5.1, §5.2, §6.1, §6.3 and §7.1.

One test per case, generated from the CASES table."""

from lib import harness as h
from lib.harness import Stack

H = b"Host: test.example\r\n"

CASES = [
    # name, raw request, status, reason code
    ("cl_and_te", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, "cl_and_te"),
    ("te_and_cl", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
     400, "cl_and_te"),
    ("cl_repeated_same", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
     400, "duplicate_content_length"),
    ("cl_repeated_differing", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\ncontent-length: 6\r\n\r\nhello!",
     400, "duplicate_content_length"),
    ("te_gzip", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", 400, "bad_transfer_encoding"),
    ("te_gzip_chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
     400, "bad_transfer_encoding"),
    ("te_identity", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity\r\n\r\n", 400,
     "bad_transfer_encoding"),
    ("te_chunked_twice_one_field", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
     400, "bad_transfer_encoding"),
    ("te_chunked_twice_two_fields",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, "bad_transfer_encoding"),
    ("bare_cr_in_value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400, "bare_cr"),
    ("bare_cr_line_end", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\rX-B: b\r\n\r\n", 400, "bare_cr"),
    ("bare_cr_after_request_line", b"GET / HTTP/1.1\rHost: test.example\r\n\r\n", 400, "bare_cr"),
    ("bare_lf_everywhere", b"GET / HTTP/1.1\nHost: test.example\n\n", 400, "bare_lf"),
    ("bare_lf_one_header", b"GET / HTTP/1.1\r\n" + H + b"X-A: 1\nX-B: 2\r\n\r\n", 400, "bare_lf"),
    ("bare_lf_request_line", b"GET / HTTP/1.1\n" + H + b"\r\n", 400, "bare_lf"),
    ("bare_lf_final_line", b"GET / HTTP/1.1\r\n" + H + b"X-A: 1\r\n\n", 400, "bare_lf"),
    ("obs_fold_space", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", 400, "obs_fold"),
    ("obs_fold_tab", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n\tb\r\n\r\n", 400, "obs_fold"),
    ("ctl_nul", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400, "control_char"),
    ("ctl_soh", b"GET / HTTP/1.1\r\n" + H + b"X-A: \x01\r\n\r\n", 400, "control_char"),
    ("ctl_esc", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x1b[0m\r\n\r\n", 400, "control_char"),
    ("ctl_del", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x7f\r\n\r\n", 400, "control_char"),
    ("host_missing", b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400, "host_missing"),
    ("host_repeated_same", b"GET / HTTP/1.1\r\n" + H + H + b"\r\n", 400, "host_repeated"),
    ("host_repeated_differing", b"GET / HTTP/1.1\r\n" + H + b"host: evil.example\r\n\r\n", 400, "host_repeated"),
    ("space_before_colon", b"GET / HTTP/1.1\r\nHost : test.example\r\n\r\n", 400, "bad_request"),
    ("space_before_colon_other", b"GET / HTTP/1.1\r\n" + H + b"Content-Length : 5\r\n\r\nhello", 400,
     "bad_request"),
    ("header_without_colon", b"GET / HTTP/1.1\r\n" + H + b"X-No-Colon\r\n\r\n", 400, "bad_request"),
    ("empty_header_name", b"GET / HTTP/1.1\r\n" + H + b": value\r\n\r\n", 400, "bad_request"),
    ("bad_char_in_name", b"GET / HTTP/1.1\r\n" + H + b"X(A): 1\r\n\r\n", 400, "bad_request"),
    ("bad_method", b"G@T / HTTP/1.1\r\n" + H + b"\r\n", 400, "bad_request"),
    ("bad_version", b"GET / HTTZ/1.1\r\n" + H + b"\r\n", 400, "bad_request"),
    ("bad_version_digits", b"GET / HTTP/1.x\r\n" + H + b"\r\n", 400, "bad_request"),
    ("content_length_not_a_number", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1x\r\n\r\nx", 400,
     "bad_request"),
    ("content_length_negative", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400, "bad_request"),
    ("connect", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405,
     "connect_not_supported"),
]


def expect_rejected(raw, status, reason):
    with Stack() as st, st.conn(timeout=5) as c:
        c.send(raw)
        h.proxy_error(st, c, status, reason)
        seen = [e for e in st.backend.events() if e["event"] in ("head", "request", "bad_input", "eof_in_head")]
        h.eq(seen, [], "what the backend received of a rejected request")


def _make(raw, status, reason):
    return lambda: expect_rejected(raw, status, reason)


for _name, _raw, _status, _reason in CASES:
    globals()["test_" + _name] = _make(_raw, _status, _reason)


def test_error_after_a_pipelined_valid_request():
    ok = b"GET /valid HTTP/1.1\r\n" + H + b"\r\n"
    bad = b"GET /invalid HTTP/1.1\r\n" + H + b"X-A: 1\nX-B: 2\r\n\r\n"
    with Stack() as st, st.conn(timeout=5) as c:
        c.send(ok + bad)
        r = c.read_final_response()
        h.status(r, 200, "the valid request before the invalid one")
        h.eq(r.json()["target"], "/valid", "first response")
        h.proxy_error(st, c, 400, "bare_lf", "400 for the second pipelined request")
        h.eq([e["target"] for e in st.backend.events("head")], ["/valid"], "requests the backend received")


def expect_bad_chunk(body, reasons=("bad_chunk",)):
    raw = b"POST /chunks HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + body
    with Stack() as st, st.conn(timeout=5) as c:
        c.send(raw)
        r = c.read_response(allow_incomplete=True)
        seen = [e for e in st.backend.events() if e["event"] in ("request", "bad_input")]
        h.eq(seen, [], "an invalid chunk must not be forwarded (backend events)")
        if r.status is not None:
            # The head may already be upstream; then a 400 or a bare close are both acceptable.
            code = (r.body or b"").split(b":", 1)[0].decode("latin-1")
            h.contains(reasons, code, "reason code of the answer to an invalid chunk")
            h.error_response(r, 400, code)
        h.closed(c, "client connection after an invalid chunk")


def test_bad_chunk_size_not_hex():
    expect_bad_chunk(b"zz\r\nhello\r\n0\r\n\r\n")


def test_bad_chunk_size_overflow():
    expect_bad_chunk(b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n")


def test_bad_chunk_size_64bit_overflow_wraps_small():
    # 2^64 + 5 would wrap to 5 in a careless 64-bit accumulator.
    expect_bad_chunk(b"10000000000000005\r\nhello\r\n0\r\n\r\n")


def test_bad_chunk_data_not_followed_by_crlf():
    expect_bad_chunk(b"5\r\nhelloXX0\r\n\r\n", reasons=("bad_chunk", "bad_request"))


def test_valid_edge_cases_are_forwarded():
    """Inputs that look odd but are valid must still pass (no over-rejection)."""
    with Stack() as st, st.conn() as c:
        c.send(b"GET /ok HTTP/1.1\r\nHost: test.example\r\nX-Tab: a\tb\r\nX-High: \x80\xff\r\n"
               b"X-Trailing-Space: v  \r\nX-Empty:\r\n\r\n")
        r = c.read_final_response()
        h.status(r, 200)
        e = r.json()
        h.contains([tuple(x) for x in e["headers"]], ("X-Tab", "a\tb"), "HTAB in a value forwarded")
        h.contains([tuple(x) for x in e["headers"]], ("X-High", "\x80\xff"), "obs-text forwarded")
        c.send(b"POST /te HTTP/1.1\r\nHost: test.example\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"A;ext=1\r\n0123456789\r\n0\r\n\r\n")
        e = c.read_final_response("POST").json()
        h.eq((e["body_len"], e["chunked"]), (10, True), "chunk extension accepted")
