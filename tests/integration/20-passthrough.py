# SPDX-License-Identifier: MIT
"""Forwarding: request line, headers byte-exact, hop-by-hop removal both
ways, X-Forwarded-*, absolute-form, HTTP/1.0, pipelining, bodiless
responses, 1xx, upgrade tunnel (RFC 9110 §7.6.1, RFC 9112 §3.2, §9)."""

import socket
import threading
import time

from lib import bodies
from lib import harness as h
from lib.client import Conn, build_request
from lib.harness import Stack

FORWARDED = ("x-forwarded-for", "x-forwarded-proto")

# These tests compare the forwarded head byte for byte; with no propagators
# the proxy adds no trace-context header (propagation has its own tests).
NO_TRACE_HEADERS = ["--propagators", "none"]


def split_forwarded(headers):
    """Splits the upstream header list into (the rest, the trailing X-Forwarded-* the proxy added)."""
    headers = [tuple(x) for x in headers]
    i = len(headers)
    while i > 0 and headers[i - 1][0].lower() in FORWARDED:
        i -= 1
    return headers[:i], headers[i:]


def without_proxy_keepalive(headers):
    """Drops a `Connection: keep-alive` the proxy may add on its own upstream hop."""
    return [x for x in headers if not (x[0].lower() == "connection" and x[1].lower() == "keep-alive")]


def upstream_headers(echo):
    rest, _ = split_forwarded(echo["headers"])
    return without_proxy_keepalive(rest)


def test_request_line_and_headers_byte_exact():
    sent = [
        ("Host", "test.example"),
        ("X-Mixed-CASE", "Value With  Two  Spaces"),
        ("x-dup", "one"),
        ("X-Other", "1"),
        ("X-Dup", "two"),
        ("x-dup", "three"),
        ("X-Empty", ""),
        ("X-Tab", "a\tb"),
        ("X-Quoted", '"a, b";q=0.5, <x@y>'),
        ("X-Obs-Text", "caf\xe9 \xff"),
        ("Accept", "*/*"),
        ("user-agent", "itest/1.0 (+raw)"),
    ]
    target = "/a/b%20c;p?q=1&r=%2F&s=a+b"
    with Stack(args=NO_TRACE_HEADERS) as st, st.conn() as c:
        r = c.request("GET", target, sent, host=None)
        h.status(r, 200)
        e = r.json()
        h.eq(e["head"].split("\r\n", 1)[0], "GET %s HTTP/1.1" % target, "request line upstream")
        h.eq(upstream_headers(e), sent, "end-to-end headers upstream (order, repetition, casing, values)")
        h.eq(e["anomalies"], [], "nothing malformed upstream")


def _send_in_pieces(c, data, cuts):
    """Sends `data` cut at `cuts`, pausing so each piece arrives in its own read."""
    last = 0
    for cut in list(cuts) + [len(data)]:
        c.send(data[last:cut])
        last = cut
        if cut < len(data):
            time.sleep(0.05)  # pacing, so the proxy sees separate reads


def test_head_split_across_reads():
    req = build_request("GET", "/split", [("X-Pad", "p" * 3000), ("X-After", "1")])
    cuts_list = [[1000], [5], [len(req) - 2], [16, 100, 2000], [1000], [2990], [3000]]
    with Stack(args=NO_TRACE_HEADERS) as st:
        for cuts in cuts_list:
            with Conn(st.addr, timeout=5) as c:
                _send_in_pieces(c, req, cuts)
                try:
                    r = c.read_final_response()
                except socket.timeout:
                    raise AssertionError("no response within 5 s to a head sent in pieces cut at %r "
                                         "(backend saw %d requests)" % (cuts, len(st.backend.requests())))
                h.status(r, 200, "head cut at %r" % cuts)
                h.eq(r.json()["headers"][-3:-2], [["X-After", "1"]], "head cut at %r arrived whole" % cuts)
        with Conn(st.addr, timeout=5) as c:
            for i, cuts in enumerate(cuts_list):
                _send_in_pieces(c, req, cuts)
                try:
                    r = c.read_final_response()
                except socket.timeout:
                    raise AssertionError("keep-alive request %d cut at %r: no response within 5 s" % (i, cuts))
                h.status(r, 200, "keep-alive request %d cut at %r" % (i, cuts))


def test_methods_forwarded():
    with Stack() as st, st.conn() as c:
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"]:
            body = b"x" * 3 if m in ("POST", "PUT", "PATCH") else b""
            r = c.request(m, "/m/" + m.lower(), body=body)
            h.status(r, 200, "%s status" % m)
            e = r.json()
            h.eq((e["method"], e["target"], e["version"]), (m, "/m/" + m.lower(), "HTTP/1.1"),
                 "%s request line upstream" % m)
            h.eq(e["body_len"], len(body), "%s body length upstream" % m)


def test_absolute_form_becomes_origin_form():
    cases = [
        ("http://example.com:8080/p/q?x=1", "/p/q?x=1", "example.com:8080"),
        ("http://example.com/only/path", "/only/path", "example.com"),
        ("http://example.com:81", "/", "example.com:81"),
        ("http://example.com:81?q=1", "/?q=1", "example.com:81"),
    ]
    with Stack() as st:
        for absolute, origin, authority in cases:
            with st.conn() as c:
                r = c.request("GET", absolute, [("Host", "other.example"), ("X-After", "1")], host=None)
                h.status(r, 200, "status for %s" % absolute)
                e = r.json()
                h.eq(e["target"], origin, "origin-form upstream for %s" % absolute)
                hosts = [v for n, v in e["headers"] if n.lower() == "host"]
                h.eq(hosts, [authority], "Host upstream for %s (RFC 9112 §3.2.2)" % absolute)
                h.contains(upstream_headers(e), ("X-After", "1"), "other headers kept")


def test_http10_client_without_host():
    with Stack() as st, st.conn() as c:
        c.send(b"GET /old?x HTTP/1.0\r\nX-A: 1\r\n\r\n")
        r = c.read_final_response()
        h.status(r, 200)
        h.eq(r.version, "HTTP/1.1", "response version to an HTTP/1.0 client")
        e = r.json()
        h.eq((e["method"], e["target"], e["version"]), ("GET", "/old?x", "HTTP/1.1"),
             "request line upstream")
        hosts = [v for n, v in e["headers"] if n.lower() == "host"]
        h.eq(hosts, [st.backend.hostport], "Host added for the upstream")
        h.contains(upstream_headers(e), ("X-A", "1"), "headers kept")
        h.true("close" in r.tokens("Connection"), "Connection: close to an HTTP/1.0 client: %r" % r.headers)
        h.closed(c, "HTTP/1.0 connection closed after the response")


def test_http10_client_keep_alive():
    with Stack() as st, st.conn() as c:
        for i in range(3):
            c.send(b"GET /k%d HTTP/1.0\r\nHost: test.example\r\nConnection: keep-alive\r\n\r\n" % i)
            r = c.read_final_response()
            h.status(r, 200, "request %d" % i)
            h.eq(r.framing, "length", "framing of a keep-alive response to HTTP/1.0")
            h.eq(r.tokens("Connection"), ["keep-alive"], "Connection header to a keep-alive HTTP/1.0 client")
            e = r.json()
            h.eq(e["target"], "/k%d" % i, "target")
            h.eq([v for n, v in e["headers"] if n.lower() == "connection" and v.lower() != "keep-alive"],
                 [], "client's Connection header not forwarded as such")
            h.still_open(c, "keep-alive HTTP/1.0 connection")


def test_http10_client_gets_chunked_response_dechunked():
    size = 100000
    with Stack() as st:
        for ka in (False, True):
            with st.conn() as c:
                hdrs = [("Host", "t"), ("X-Test-Body-Size", str(size)), ("X-Test-Framing", "chunked"),
                        ("X-Test-Chunk-Size", "7000")]
                if ka:
                    hdrs.append(("Connection", "keep-alive"))
                c.send(build_request("GET", "/dechunk", hdrs, version="HTTP/1.0", host=None))
                r = c.read_final_response()
                h.status(r, 200)
                h.eq(r.headers_named("Transfer-Encoding"), [], "no Transfer-Encoding to an HTTP/1.0 client")
                h.eq(r.body_len, size, "de-chunked body length (keep-alive requested: %s)" % ka)
                h.eq(r.body_sha256, bodies.sha256(size), "de-chunked body bytes")
                h.true("close" in r.tokens("Connection"), "Connection: close announced: %r" % r.headers)
                h.closed(c, "connection closed after a de-chunked response")


def test_hop_by_hop_request_headers_removed():
    sent = [
        ("Host", "test.example"),
        ("X-Before", "1"),
        ("Connection", "keep-alive, X-Hop-A"),
        ("Keep-Alive", "timeout=5"),
        ("X-Hop-A", "secret"),
        ("Proxy-Connection", "keep-alive"),
        ("connection", "x-hop-b"),
        ("x-HOP-b", "secret2"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "h2c"),
        ("X-After", "2"),
    ]
    with Stack(args=NO_TRACE_HEADERS) as st, st.conn() as c:
        r = c.request("GET", "/hop", sent, host=None)
        h.status(r, 200)
        e = r.json()
        h.eq(upstream_headers(e), [("Host", "test.example"), ("X-Before", "1"), ("X-After", "2")],
             "only end-to-end headers upstream")


def test_hop_by_hop_response_headers_removed():
    extra = ["X-E2E-1: a", "Connection: X-Resp-Hop", "X-Resp-Hop: x", "Keep-Alive: timeout=5, max=100",
             "Proxy-Connection: keep-alive", "X-E2E-2: b", "Trailer: X-Never", "Upgrade: foo",
             "TE: trailers", "x-e2e-1: c"]
    with Stack() as st, st.conn() as c:
        r = c.request("GET", "/rhop", [("X-Test-Response-Header", x) for x in extra])
        h.status(r, 200)
        e = r.json()
        got = without_proxy_keepalive(r.headers)
        want = [("Content-Type", "application/json"), ("X-Backend-Conn", str(e["conn"])),
                ("X-Backend-Index", str(e["index"])), ("X-E2E-1", "a"), ("X-E2E-2", "b"),
                ("x-e2e-1", "c"), ("Content-Length", str(r.body_len))]
        h.eq(got, want, "response headers to the client: end-to-end only, in order")
        h.still_open(c, "client connection after a response whose hop-by-hop headers were removed")


def test_connection_close_from_http11_client():
    with Stack(args=NO_TRACE_HEADERS) as st, st.conn() as c:
        r = c.request("GET", "/bye", [("Connection", "close"), ("X-A", "1")])
        h.status(r, 200)
        h.true("close" in r.tokens("Connection"), "Connection: close in the response: %r" % r.headers)
        h.eq(upstream_headers(r.json()), [("Host", "test.example"), ("X-A", "1")], "upstream headers")
        h.closed(c, "connection closed after Connection: close")


def test_x_forwarded_added_when_absent():
    with Stack(args=NO_TRACE_HEADERS) as st:
        e = st.get("/xff", [("X-A", "1")]).json()
        rest, tail = split_forwarded(e["headers"])
        h.eq(sorted(tail), [("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Proto", "http")],
             "X-Forwarded-For/-Proto added after the other headers")
        h.eq(without_proxy_keepalive(rest), [("Host", "test.example"), ("X-A", "1")], "other headers")


def test_x_forwarded_appended_to_existing():
    sent = [("Host", "test.example"), ("x-forwarded-for", "203.0.113.7"), ("X-A", "1"),
            ("X-Forwarded-Proto", "https"), ("X-B", "2")]
    with Stack(args=NO_TRACE_HEADERS) as st:
        e = st.get("/xff", sent, host=None).json()
        got = without_proxy_keepalive([tuple(x) for x in e["headers"]])
        h.eq(got, [("Host", "test.example"), ("x-forwarded-for", "203.0.113.7, 127.0.0.1"), ("X-A", "1"),
                   ("X-Forwarded-Proto", "https, http"), ("X-B", "2")],
             "client IP / scheme appended in place, name casing kept")


def test_x_forwarded_appended_to_last_of_several():
    sent = [("Host", "test.example"), ("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-Proto", "https"),
            ("X-A", "1"), ("X-Forwarded-For", "2.2.2.2, 3.3.3.3"), ("X-Forwarded-Proto", "http"), ("X-B", "2")]
    with Stack(args=NO_TRACE_HEADERS) as st:
        e = st.get("/xff", sent, host=None).json()
        got = without_proxy_keepalive([tuple(x) for x in e["headers"]])
        h.eq(got, [("Host", "test.example"), ("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-Proto", "https"),
                   ("X-A", "1"), ("X-Forwarded-For", "2.2.2.2, 3.3.3.3, 127.0.0.1"),
                   ("X-Forwarded-Proto", "http, http"), ("X-B", "2")],
             "only the last X-Forwarded-For/-Proto is extended")


def test_status_line_keeps_upstream_reason():
    with Stack() as st, st.conn() as c:
        for code, reason in [(299, "Totally Custom Reason"), (404, "Nowhere To Be Found"), (200, "Fine")]:
            r = c.request("GET", "/s", [("X-Test-Status", str(code)), ("X-Test-Reason", reason)])
            h.eq(r.status_line, "HTTP/1.1 %d %s" % (code, reason), "status line to the client")


def test_http10_upstream_response():
    with Stack() as st, st.conn() as c:
        for i in range(2):
            r = c.request("GET", "/u10-%d" % i, [("X-Test-Version", "HTTP/1.0")])
            h.eq(r.status_line, "HTTP/1.1 200 OK", "status line for an HTTP/1.0 upstream response %d" % i)
            h.eq(r.json()["target"], "/u10-%d" % i, "body of response %d" % i)


def test_upstream_response_without_framing():
    with Stack() as st, st.conn() as c:
        r = c.request("GET", "/noframe", [("X-Test-Framing", "close"), ("X-Test-Body-Size", "300000"),
                                          ("X-Test-Chunk-Size", "10000")])
        h.status(r, 200)
        h.eq(r.framing, "close", "response framing (until close)")
        h.true("close" in r.tokens("Connection"), "Connection: close announced: %r" % r.headers)
        h.eq(r.body_len, 300000, "body length")
        h.eq(r.body_sha256, bodies.sha256(300000), "body bytes")


def test_pipelined_requests_answered_in_order():
    reqs = [
        build_request("GET", "/p1", [("X-Test-Delay-Head", "0.3")]),
        build_request("POST", "/p2", body=b"hello"),
        build_request("HEAD", "/p3"),
        build_request("GET", "/p4", [("X-Test-Status", "204")]),
        build_request("POST", "/p5", [("Transfer-Encoding", "chunked")], body=b"3\r\nabc\r\n0\r\n\r\n"),
        build_request("GET", "/p6", [("X-Test-Body-Size", "70000")]),
    ]
    with Stack() as st, st.conn() as c:
        c.send(b"".join(reqs))
        got = []
        for method in ["GET", "POST", "HEAD", "GET", "POST", "GET"]:
            got.append(c.read_final_response(method=method))
        h.eq([r.status for r in got], [200, 200, 200, 204, 200, 200], "statuses in order")
        h.eq(got[0].json()["target"], "/p1", "first response")
        h.eq(got[1].json()["body_len"], 5, "second response")
        h.eq(got[2].body, b"", "HEAD response has no body")
        h.eq(got[3].body, b"", "204 response has no body")
        e = got[4].json()
        h.eq((e["target"], e["body_len"], e["chunked"]), ("/p5", 3, True), "fifth response")
        h.eq(got[5].body_sha256, bodies.sha256(70000), "sixth response body")
        h.still_open(c, "pipelined connection")


def test_head_204_304_have_no_body():
    with Stack() as st, st.conn() as c:
        r = c.request("HEAD", "/head", [("X-Test-Body-Size", "12345")])
        h.status(r, 200)
        h.eq(r.header("Content-Length"), "12345", "Content-Length of a HEAD response kept")
        r = c.request("HEAD", "/head-chunked", [("X-Test-Body-Size", "500"), ("X-Test-Framing", "chunked")])
        h.status(r, 200, "HEAD answered with Transfer-Encoding: chunked")
        r = c.request("GET", "/204", [("X-Test-Status", "204")])
        h.status(r, 204)
        r = c.request("GET", "/304", [("X-Test-Status", "304"), ("X-Test-Response-Header", 'ETag: "v1"')])
        h.status(r, 304)
        h.eq(r.header("ETag"), '"v1"', "304 headers kept")
        r = c.request("GET", "/304-cl", [("X-Test-Status", "304"), ("X-Test-Response-Header", "Content-Length: 100")])
        h.status(r, 304, "304 with a Content-Length of the selected representation")
        # Any stray body byte would corrupt the next response on this connection.
        r = c.request("GET", "/after")
        h.status(r, 200)
        h.eq(r.json()["target"], "/after", "response after the bodiless ones")


def test_expect_100_continue():
    body = b"hello world"
    with Stack() as st, Conn(st.addr, timeout=5) as c:
        c.send(build_request("POST", "/continue", [("Expect", "100-continue"),
                                                   ("Content-Length", str(len(body)))]))
        try:
            first = c.read_response()
        except socket.timeout:
            raise AssertionError("no 100 Continue within 5 s (body withheld as the client must)")
        h.eq(first.status_line, "HTTP/1.1 100 Continue", "interim response")
        c.send(body)
        r = c.read_final_response(method="POST")
        h.status(r, 200)
        e = r.json()
        h.eq(e["body_len"], len(body), "body forwarded after 100 Continue")
        h.contains([(n.lower(), v) for n, v in e["headers"]], ("expect", "100-continue"),
                   "Expect forwarded upstream")
        h.true(e["continue_sent"], "the 100 came from the upstream")


def test_interim_103_forwarded_to_http11_client():
    with Stack() as st, st.conn() as c:
        r = c.request("GET", "/early", [("X-Test-Interim", "103")])
        h.status(r, 200)
        h.eq([i.status for i in r.interim], [103], "interim responses")
        h.eq(r.interim[0].header("X-Interim"), "103", "interim headers")


def test_interim_not_forwarded_to_http10_client():
    with Stack() as st, st.conn() as c:
        c.send(b"GET /early HTTP/1.0\r\nX-Test-Interim: 103\r\n\r\n")
        r = c.read_response()
        h.status(r, 200, "first response an HTTP/1.0 client sees")


def test_upgrade_tunnel():
    with Stack() as st, st.conn() as c:
        c.send(build_request("GET", "/ws", [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                            ("X-Test-Status", "101"), ("Sec-WebSocket-Version", "13")]))
        r = c.read_response()
        h.status(r, 101)
        h.eq(r.header("Upgrade"), "websocket", "Upgrade header to the client")
        h.contains(r.tokens("Connection"), "upgrade", "Connection: upgrade to the client")
        req = st.backend.wait_request(lambda e: e["target"] == "/ws")
        names = [(n.lower(), v.lower()) for n, v in req["headers"]]
        h.contains(names, ("upgrade", "websocket"), "Upgrade forwarded upstream")
        h.true(any(n == "connection" and "upgrade" in v for n, v in names), "Connection: upgrade upstream")

        msgs = [b"ping", b"\x00\xff\r\n\r\nGET / HTTP/1.1\r\n\r\n", b"x" * 5000]
        for msg in msgs:
            c.send(msg)
            h.eq(c.read_exact(len(msg)), msg, "tunnelled echo of %d bytes" % len(msg))

        big = bodies.body(1 << 20, seed=7)
        sender = threading.Thread(target=c.sock.sendall, args=(big,), daemon=True)
        sender.start()
        h.eq(c.read_exact(len(big)) == big, True, "1 MiB echoed byte-exact through the tunnel")
        sender.join(10)
        c.shutdown_write()
        h.closed(c, "tunnel closed after the client's FIN")
        ev = st.backend.wait_event(lambda e: e["event"] == "tunnel_end" and e["conn"] == req["conn"],
                                   what="the backend's side of the tunnel to end")
        h.eq(ev["bytes"], sum(map(len, msgs)) + len(big), "bytes the backend received through the tunnel")
