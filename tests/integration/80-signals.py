# SPDX-License-Identifier: MIT
"""Graceful shutdown: on SIGTERM or SIGINT the proxy stops accepting, lets
in-flight exchanges finish within --drain-timeout, closes whatever is left
when the drain timeout expires, and always exits with status 0."""

import signal
import time

from lib import bodies
from lib import client
from lib import harness as h
from lib.client import build_request
from lib.harness import Stack


def _refused_soon(st, what="new connections refused after the signal"):
    h.wait_until(lambda: client.connect_refused(st.addr), 3.0, what)


def _drain(sig, workers=None):
    with Stack(args=["--drain-timeout", "10"], workers=workers) as st, st.conn(timeout=15) as c:
        c.send(build_request("GET", "/in-flight", [("X-Test-Delay-Head", "1.0")]))
        st.backend.wait_request(lambda e: e["target"] == "/in-flight")
        t0 = time.monotonic()
        st.proxy.signal(sig)
        _refused_soon(st)
        r = c.read_final_response()
        h.status(r, 200, "in-flight request completes after the signal")
        h.eq(r.json()["target"], "/in-flight", "its body")
        c.close()  # a lingering close would otherwise wait for our FIN
        status = st.proxy.wait_exit(10)
        h.eq(status, 0, "exit status after draining")
        h.true(time.monotonic() - t0 < 8, "exited well before the drain timeout once idle")
        return r


def test_sigterm_drains_in_flight_request():
    _drain(signal.SIGTERM)


def test_sigint_drains_in_flight_request():
    _drain(signal.SIGINT)


def test_sigterm_drains_with_two_workers():
    _drain(signal.SIGTERM, workers=2)


def test_response_during_drain_announces_close():
    with Stack(args=["--drain-timeout", "10"]) as st, st.conn(timeout=15) as c:
        c.send(build_request("GET", "/in-flight", [("X-Test-Delay-Head", "0.5")]))
        st.backend.wait_request(lambda e: e["target"] == "/in-flight")
        st.proxy.signal(signal.SIGTERM)
        r = c.read_final_response()
        h.status(r, 200)
        h.true("close" in r.tokens("Connection"),
               "a response the proxy closes after carries Connection: close (%r)" % r.headers)
        h.closed(c, "client connection after the drained response")
        c.close()
        h.eq(st.proxy.wait_exit(10), 0, "exit status")


def test_sigterm_lets_a_streaming_body_finish():
    size = 4 * bodies.MIB
    with Stack(args=["--drain-timeout", "20"]) as st, st.conn(timeout=20) as c:
        c.send(build_request("GET", "/stream", [("X-Test-Body-Size", str(size)), ("X-Test-Delay-Body", "0.02"),
                                                ("X-Test-Chunk-Size", "65536")]))
        st.backend.wait_request(lambda e: e["target"] == "/stream")
        st.proxy.signal(signal.SIGTERM)
        r = c.read_response(hash_body=True, allow_incomplete=True)
        h.true(r.complete, "streamed body completed during the drain (%r)" % r)
        h.eq(r.body_sha256, bodies.sha256(size), "streamed body bytes")
        c.close()
        h.eq(st.proxy.wait_exit(10), 0, "exit status")


def test_sigterm_closes_idle_keepalive_connections():
    with Stack(args=["--drain-timeout", "20"]) as st, st.conn(timeout=10) as c:
        h.status(c.request("GET", "/idle"), 200)
        t0 = time.monotonic()
        st.proxy.signal(signal.SIGTERM)
        h.closed(c, "idle keep-alive connection at shutdown", timeout=5)
        h.eq(st.proxy.wait_exit(5), 0, "exit status with only idle connections")
        h.true(time.monotonic() - t0 < 5, "an idle connection does not hold the drain")


def test_sigterm_with_no_connections_exits_promptly():
    with Stack(args=["--drain-timeout", "20"]) as st:
        h.status(st.get("/"), 200)
        t0 = time.monotonic()
        st.proxy.signal(signal.SIGTERM)
        h.eq(st.proxy.wait_exit(5), 0, "exit status")
        h.true(time.monotonic() - t0 < 5, "exit without waiting for the drain timeout")


def test_drain_timeout_closes_remaining_connections():
    with Stack(args=["--drain-timeout", "0.5"]) as st, st.conn(timeout=10) as c:
        c.send(build_request("GET", "/forever", [("X-Test-Action", "hang")]))
        ev = st.backend.wait_request(lambda e: e["target"] == "/forever")
        t0 = time.monotonic()
        st.proxy.signal(signal.SIGTERM)
        status = st.proxy.wait_exit(10)
        h.eq(status, 0, "exit status after the drain timeout")
        h.between(time.monotonic() - t0, 0.4, 5.0, "seconds from SIGTERM to exit")
        r = c.read_response(allow_incomplete=True)
        h.true(not (r.complete and r.status == 200), "no successful response after the drain timeout (%r)" % r)
        st.backend.wait_conn_closed(ev["conn"])
