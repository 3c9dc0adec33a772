# SPDX-License-Identifier: MIT
"""Size limits (414, 431, upstream head too large) and client-side timers:
header timeout (408, or a silent close when nothing was sent) and the
keep-alive idle timeout. Timers use small flag values; elapsed times are
checked against generous bounds."""

import socket
import time

from lib import harness as h
from lib.client import build_request
from lib.harness import Stack


def head_of_size(total, target="/big-head"):
    """A GET whose head is exactly `total` bytes."""
    base = build_request("GET", target, [("X-Pad", "")])
    pad = total - len(base)
    assert pad >= 0
    return build_request("GET", target, [("X-Pad", "p" * pad)])


def test_header_size_limit_431():
    with Stack(args=["--max-header-size", "2048"]) as st:
        with st.conn() as c:
            c.send(head_of_size(1500, "/fits"))
            h.status(c.read_final_response(), 200, "1500-byte head under a 2048-byte limit")
        with st.conn(timeout=5) as c:
            c.send(head_of_size(4000, "/too-big"))
            h.proxy_error(st, c, 431, "header_too_large")
        with st.conn(timeout=5) as c:
            many = build_request("GET", "/many", [("X-H%d" % i, "v" * 20) for i in range(200)])
            c.send(many)
            h.proxy_error(st, c, 431, "header_too_large", "431 for many small headers")
        h.eq([e["target"] for e in st.backend.events("head")], ["/fits"],
             "oversized heads never reach the backend")


def test_default_header_size_limit():
    with Stack() as st:
        with st.conn() as c:
            c.send(head_of_size(60000, "/fits"))
            h.status(c.read_final_response(), 200, "60000-byte head under the default 64 KiB limit")
    with Stack() as st, st.conn(timeout=5) as c:
        c.send(build_request("GET", "/huge", [("X-Huge", "h" * 100000)]))
        h.proxy_error(st, c, 431, "header_too_large", "431 at the default 64 KiB limit")


def test_header_limit_applies_before_the_head_ends():
    # The limit must apply before the head is complete.
    with Stack(args=["--max-header-size", "2048"]) as st, st.conn(timeout=5) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Endless: " + b"a" * 8192)
        h.proxy_error(st, c, 431, "header_too_large", "431 for a head that never ends")


def test_request_line_limit_414():
    with Stack(args=["--max-request-line", "256"]) as st:
        with st.conn() as c:
            r = c.request("GET", "/" + "a" * 150)
            h.status(r, 200, "150-byte target under a 256-byte request line limit")
        with st.conn(timeout=5) as c:
            c.send(build_request("GET", "/" + "a" * 400))
            h.proxy_error(st, c, 414, "request_line_too_long")
        with st.conn(timeout=5) as c:
            c.send(b"GET /" + b"b" * 1000)
            h.proxy_error(st, c, 414, "request_line_too_long", "414 before the request line ends")
        h.eq(len(st.backend.requests()), 1, "requests that reached the backend")


def test_default_request_line_limit():
    with Stack() as st:
        with st.conn() as c:
            h.status(c.request("GET", "/" + "a" * 8000), 200, "8000-byte target under the default 8192 limit")
    with Stack() as st, st.conn(timeout=5) as c:
        c.send(build_request("GET", "/" + "a" * 10000))
        h.proxy_error(st, c, 414, "request_line_too_long", "414 at the default 8192-byte limit")


def test_header_timeout_408():
    with Stack(args=["--header-timeout", "0.5"]) as st, st.conn(timeout=10) as c:
        t0 = time.monotonic()
        c.send(b"GET /slow-head HTTP/1.1\r\nHost: test.example\r\nX-A: 1\r\n")
        h.proxy_error(st, c, 408, "header_timeout")
        h.between(time.monotonic() - t0, 0.4, 4.0, "seconds until the 408")
        h.eq(st.backend.events("head"), [], "an incomplete head never reaches the backend")


def test_header_timeout_counts_from_first_byte():
    """A client trickling its head byte by byte (slowloris) still gets 408."""
    head = b"GET /trickle HTTP/1.1\r\nHost: test.example\r\nX-Long: " + b"z" * 200 + b"\r\n\r\n"
    with Stack(args=["--header-timeout", "1"]) as st, st.conn(timeout=10) as c:
        t0 = time.monotonic()
        for i in range(len(head)):
            try:
                c.send(head[i:i + 1])
            except OSError:
                break
            try:
                if c._fill(timeout=0.1) or c.eof:  # paces the sender, 0.1 s per byte
                    break
            except socket.timeout:
                pass
        h.true(time.monotonic() - t0 < 10, "the proxy answered before the head was complete")
        h.proxy_error(st, c, 408, "header_timeout", "408 for a trickled head")
        h.between(time.monotonic() - t0, 0.9, 4.0, "seconds until the 408")


def test_silent_close_when_nothing_sent():
    with Stack(args=["--header-timeout", "0.5", "--idle-timeout", "30"]) as st, st.conn(timeout=10) as c:
        t0 = time.monotonic()
        h.closed(c, "connection that never sent a byte", timeout=5)
        h.between(time.monotonic() - t0, 0.4, 4.0, "seconds until the silent close")


def test_idle_keepalive_connection_closed_silently():
    with Stack(args=["--idle-timeout", "0.5", "--header-timeout", "30"]) as st, st.conn(timeout=10) as c:
        h.status(c.request("GET", "/one"), 200)
        t0 = time.monotonic()
        h.closed(c, "idle keep-alive connection", timeout=5)
        h.between(time.monotonic() - t0, 0.4, 4.0, "seconds until the idle close")


def test_idle_between_requests_uses_idle_timeout_not_header_timeout():
    with Stack(args=["--header-timeout", "0.3", "--idle-timeout", "30"]) as st, st.conn() as c:
        h.status(c.request("GET", "/one"), 200)
        ok, extra = c.wait_closed(1.0)  # idle three header timeouts long
        h.true(not ok and not extra, "keep-alive connection must survive a pause longer than "
               "--header-timeout (closed=%s, bytes=%r)" % (ok, extra))
        h.status(c.request("GET", "/two"), 200, "request after the pause")


def test_header_timeout_does_not_cover_slow_upstream_or_body():
    with Stack(args=["--header-timeout", "0.3"]) as st, st.conn() as c:
        r = c.request("GET", "/slow-upstream", [("X-Test-Delay-Head", "0.8")])
        h.status(r, 200, "upstream slower than --header-timeout")
        c.send(build_request("POST", "/slow-body", [("Content-Length", "5")]))
        for b in b"hello":
            time.sleep(0.15)  # paces the body over 0.75 s
            c.send(bytes([b]))
        r = c.read_final_response("POST")
        h.status(r, 200, "request body slower than --header-timeout")
        h.eq(r.json()["body_len"], 5, "body forwarded")


def test_upstream_header_too_large_502():
    with Stack() as st, st.conn(timeout=10) as c:
        c.send(build_request("GET", "/huge-response-head", [("X-Test-Header-Bytes", "300000")]))
        h.proxy_error(st, c, 502, "upstream_header_too_large")
