# SPDX-License-Identifier: MIT
"""Upstream failures: refused, connect timeout, closed or reset before a
complete head, invalid head, response timeout (502/504 with a reason code),
and an upstream that stops in the middle of the body (the client must see a
truncated response, never one that parses as complete).

Not covered: upstream_unreachable (a connect failure other than refused or
timed out) cannot be produced reliably while staying on 127.0.0.1."""

import base64
import time

from lib import bodies
from lib import harness as h
from lib.client import build_request
from lib.harness import Stack


def conn_of(r):
    return int(r.header("X-Backend-Conn"))


def still_serving(st, what):
    with st.conn() as c:
        r = c.request("GET", "/still-ok")
        h.status(r, 200, "request after %s" % what)
        return r


def test_upstream_refused_502():
    with Stack(upstream="127.0.0.1:%d" % h.free_port(), backend=False) as st:
        for i in range(2):
            with st.conn(timeout=10) as c:
                c.send(build_request("GET", "/refused"))
                h.proxy_error(st, c, 502, "upstream_refused", "502 #%d for a refused connect" % i)


def test_upstream_connect_timeout_504():
    hole = h.BlackholeListener()
    try:
        with Stack(upstream=hole.hostport, backend=False, args=["--connect-timeout", "0.5"]) as st:
            with st.conn(timeout=10) as c:
                t0 = time.monotonic()
                c.send(build_request("GET", "/stalled-connect"))
                h.proxy_error(st, c, 504, "upstream_connect_timeout")
                h.between(time.monotonic() - t0, 0.4, 4.0, "seconds until the 504")
    finally:
        hole.close()


def _failure(headers, code, reason, what, args=()):
    with Stack(args=args) as st:
        with st.conn(timeout=10) as c:
            c.send(build_request("GET", "/fail", headers))
            h.proxy_error(st, c, code, reason, what)
        still_serving(st, what)


def test_upstream_closes_before_head_502():
    _failure([("X-Test-Action", "close")], 502, "upstream_reset", "upstream FIN before any response byte")


def test_upstream_resets_before_head_502():
    _failure([("X-Test-Action", "reset")], 502, "upstream_reset", "upstream RST before any response byte")


def test_upstream_closes_inside_head_502():
    raw = base64.b64encode(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Cut: ").decode()
    _failure([("X-Test-Action", "raw"), ("X-Test-Raw", raw)], 502, "upstream_reset",
             "upstream closed in the middle of its head")


def test_upstream_invalid_status_line_502():
    raw = base64.b64encode(b"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").decode()
    _failure([("X-Test-Action", "raw"), ("X-Test-Raw", raw)], 502, "upstream_bad_response",
             "invalid upstream status line")


def test_upstream_garbage_502():
    raw = base64.b64encode(b"\x16\x03\x01\x00\xa5garbage\r\n\r\n").decode()
    _failure([("X-Test-Action", "raw"), ("X-Test-Raw", raw)], 502, "upstream_bad_response",
             "garbage from the upstream")


def test_upstream_invalid_header_502():
    raw = base64.b64encode(b"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n").decode()
    _failure([("X-Test-Action", "raw"), ("X-Test-Raw", raw)], 502, "upstream_bad_response",
             "invalid upstream header line")


def test_upstream_response_timeout_504():
    with Stack(args=["--upstream-timeout", "0.5"]) as st:
        with st.conn(timeout=10) as c:
            t0 = time.monotonic()
            c.send(build_request("GET", "/hang", [("X-Test-Action", "hang")]))
            h.proxy_error(st, c, 504, "upstream_timeout")
            h.between(time.monotonic() - t0, 0.4, 4.0, "seconds until the 504")
        ev = st.backend.wait_request(lambda e: e["target"] == "/hang")
        st.backend.wait_conn_closed(ev["conn"])
        r = still_serving(st, "an upstream timeout")
        h.ne(conn_of(r), ev["conn"], "a timed-out upstream connection is not reused")


def _truncated(headers, what):
    with Stack() as st:
        with st.conn(timeout=10) as c:
            c.send(build_request("GET", "/cut", headers))
            r = c.read_response(allow_incomplete=True)
            h.status(r, 200, "%s: status forwarded before the cut" % what)
            h.true(not r.complete, "%s: the client must not see a complete response (%r, framing %s)"
                   % (what, r, r.framing))
            h.true(r.framing in ("length", "chunked"), "%s: framing announced to the client: %s"
                   % (what, r.framing))
            h.true(r.body_len <= 50000, "%s: %d body bytes before the close" % (what, r.body_len))
            h.eq(r.body, bodies.body(r.body_len), "%s: the bytes that did arrive are right" % what)
        still_serving(st, what)


def test_upstream_closes_mid_body_content_length():
    _truncated([("X-Test-Body-Size", "100000"), ("X-Test-Abort-After", "50000")],
               "upstream FIN inside a Content-Length body")


def test_upstream_resets_mid_body_content_length():
    _truncated([("X-Test-Body-Size", "100000"), ("X-Test-Abort-After", "50000"), ("X-Test-Abort-Mode", "rst")],
               "upstream RST inside a Content-Length body")


def test_upstream_closes_mid_body_chunked():
    _truncated([("X-Test-Body-Size", "100000"), ("X-Test-Abort-After", "50000"), ("X-Test-Framing", "chunked"),
                ("X-Test-Chunk-Size", "8192")], "upstream FIN inside a chunked body")


def test_upstream_closes_between_chunks():
    # Every chunk announced so far is complete: only the terminating chunk is missing.
    _truncated([("X-Test-Body-Size", "100000"), ("X-Test-Abort-After", "49152"), ("X-Test-Framing", "chunked"),
                ("X-Test-Chunk-Size", "8192")], "upstream FIN after a whole chunk")


def test_upstream_stalls_mid_body():
    with Stack(args=["--upstream-timeout", "0.5"]) as st:
        with st.conn(timeout=10) as c:
            c.send(build_request("GET", "/stall", [("X-Test-Body-Size", "100000"), ("X-Test-Delay-Body", "3")]))
            t0 = time.monotonic()
            r = c.read_response(allow_incomplete=True)
            h.status(r, 200, "status forwarded before the stall")
            h.true(not r.complete, "a stalled body must end in a close, not a complete response (%r)" % r)
            h.between(time.monotonic() - t0, 0.4, 2.9, "seconds until the close")
        still_serving(st, "an upstream stalled mid-body")
