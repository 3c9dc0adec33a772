# SPDX-License-Identifier: MIT
"""Backpressure: a peer that stops reading makes the proxy stop reading the
other side, so its memory stays flat however large the body is. Sizes are
chosen so that an unbounded proxy would buffer far beyond the limits."""

import hashlib
import socket
import threading
import time

from lib import bodies
from lib import harness as h
from lib.client import build_request
from lib.harness import Stack

MIB = bodies.MIB
BIG = 512 * MIB
STALL = 2.0
# Kernel socket buffers hold a few MiB on loopback; the proxy itself holds at
# most 256 KiB per direction. Everything beyond is a leak of backpressure.
RSS_GROWTH_LIMIT = 24 * MIB


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


@h.timeout(180)
def test_slow_client_stops_upstream_reads():
    with Stack() as st:
        pid = st.proxy.proc.pid
        base = rss_bytes(pid)
        s = socket.create_connection(st.proxy.addr, timeout=60)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(build_request("GET", "/huge", [("X-Test-Body-Size", str(BIG)),
                                                 ("X-Test-Body-Seed", "3")]))
        peak = base
        end = time.monotonic() + STALL
        while time.monotonic() < end:
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.05)
        h.true(peak - base < RSS_GROWTH_LIMIT,
               "proxy RSS grew by %.1f MiB while the client read nothing (limit %d MiB)"
               % ((peak - base) / MIB, RSS_GROWTH_LIMIT // MIB))
        # Then the whole body still arrives intact.
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        h.true(head.startswith(b"HTTP/1.1 200 "), "status line after the stall: %r" % head[:40])
        digest = hashlib.sha256(rest)
        got = len(rest)
        while got < BIG:
            piece = s.recv(1 << 20)
            if not piece:
                break
            digest.update(piece)
            got += len(piece)
        s.close()
        h.eq(got, BIG, "response bytes after the stall")
        h.eq(digest.hexdigest(), bodies.sha256(BIG, 3), "response digest after the stall")


@h.timeout(120)
def test_slow_upstream_stops_client_reads():
    # An upstream that accepts and never reads: the request body must stall
    # in the client's send, not pile up inside the proxy.
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_hold():
        sink.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sink.accept()
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                accepted.append(conn)
            except socket.timeout:
                pass

    t = threading.Thread(target=accept_and_hold, daemon=True)
    t.start()
    try:
        with Stack(upstream="127.0.0.1:%d" % sink.getsockname()[1], backend=False) as st:
            pid = st.proxy.proc.pid
            base = rss_bytes(pid)
            c = socket.create_connection(st.proxy.addr, timeout=5)
            c.sendall(build_request("POST", "/upload", [("Content-Length", str(BIG))]))
            c.setblocking(False)
            piece = b"x" * (1 << 20)
            sent, peak = 0, base
            end = time.monotonic() + STALL
            while time.monotonic() < end:
                try:
                    sent += c.send(piece)
                except BlockingIOError:
                    time.sleep(0.02)
                peak = max(peak, rss_bytes(pid))
            c.close()
            h.true(sent < 64 * MIB, "client could push %.1f MiB into a proxy whose upstream reads "
                   "nothing" % (sent / MIB))
            h.true(peak - base < RSS_GROWTH_LIMIT,
                   "proxy RSS grew by %.1f MiB while the upstream read nothing (limit %d MiB)"
                   % ((peak - base) / MIB, RSS_GROWTH_LIMIT // MIB))
            # The proxy no longer reads the client, so it learns of the end
            # of the exchange from the upstream side; without this, SIGTERM
            # would rightly wait out the drain timeout for the stuck request.
            stop.set()
            t.join()
            for conn in accepted:
                conn.close()
    finally:
        stop.set()
        t.join()
        for conn in accepted:
            conn.close()
        sink.close()
