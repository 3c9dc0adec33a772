# SPDX-License-Identifier: MIT
"""Bodies stream byte-exact in both directions, in Content-Length and
chunked framing (RFC 9112 §6, §7.1), from 0 bytes to 64 MiB. Digests are
compared, so a single wrong, missing or extra byte fails."""

import time

from lib import bodies
from lib import harness as h
from lib.client import build_request
from lib.harness import Stack

MIB = bodies.MIB
SMALL_SIZES = [0, 1, MIB]
BIG = 64 * MIB
TRAILERS = [("X-Checksum", "sha256-of-nothing"), ("x-count", "3")]


def send_length(c, size, target, seed=0):
    c.send(build_request("POST", target, [("Content-Length", str(size))]))
    c.send_iter(bodies.iter_body(size, seed))


def send_chunked(c, size, target, seed=0, trailers=(), sizes=None):
    c.send(build_request("POST", target, [("Transfer-Encoding", "chunked")]))
    c.send_iter(bodies.iter_chunked(size, seed, sizes=sizes, trailers=trailers))


def check_echo(r, size, seed, what, chunked):
    h.status(r, 200, "%s status" % what)
    e = r.json()
    h.eq(e["body_len"], size, "%s: body length upstream" % what)
    h.eq(e["body_sha256"], bodies.sha256(size, seed), "%s: body bytes upstream (SHA-256)" % what)
    h.eq(e["chunked"], chunked, "%s: chunked framing upstream" % what)
    return e


def test_request_bodies_content_length():
    with Stack() as st, st.conn() as c:
        for size in SMALL_SIZES:
            send_length(c, size, "/cl/%d" % size, seed=size)
            check_echo(c.read_final_response("POST"), size, size, "Content-Length request of %d B" % size,
                       False)


def test_request_bodies_chunked_with_trailers():
    with Stack() as st, st.conn() as c:
        for size in SMALL_SIZES:
            trailers = TRAILERS if size == MIB else ()
            send_chunked(c, size, "/ch/%d" % size, seed=size, trailers=trailers)
            e = check_echo(c.read_final_response("POST"), size, size, "chunked request of %d B" % size, True)
            h.eq([tuple(t) for t in e["trailers"]], list(trailers), "trailers upstream for %d B" % size)


def test_request_chunk_framing_forwarded_as_received():
    sizes = [5, 1, 100, 3, 4096]
    with Stack() as st, st.conn() as c:
        send_chunked(c, sum(sizes), "/frames", sizes=sizes, trailers=[("X-T", "1")])
        e = check_echo(c.read_final_response("POST"), sum(sizes), 0, "chunked request", True)
        h.eq(e["chunk_sizes"], sizes + [0], "chunk sizes upstream")


def test_response_bodies_content_length():
    with Stack() as st, st.conn() as c:
        for size in SMALL_SIZES:
            r = c.request("GET", "/rcl/%d" % size, [("X-Test-Body-Size", str(size)),
                                                    ("X-Test-Body-Seed", str(size + 1))])
            h.status(r, 200)
            h.eq(r.framing, "length", "framing of a %d B Content-Length response" % size)
            h.eq(r.body_len, size, "response length for %d B" % size)
            h.eq(r.body_sha256, bodies.sha256(size, size + 1), "response bytes for %d B" % size)


def test_response_bodies_chunked_with_trailers():
    with Stack() as st, st.conn() as c:
        for size in SMALL_SIZES:
            hdrs = [("X-Test-Body-Size", str(size)), ("X-Test-Framing", "chunked"),
                    ("X-Test-Chunk-Size", "3000")]
            if size == MIB:
                hdrs += [("X-Test-Trailer", "%s: %s" % t) for t in TRAILERS]
            r = c.request("GET", "/rch/%d" % size, hdrs)
            h.status(r, 200)
            h.eq(r.framing, "chunked", "framing of a %d B chunked response" % size)
            h.eq(r.body_len, size, "response length for %d B" % size)
            h.eq(r.body_sha256, bodies.sha256(size), "response bytes for %d B" % size)
            h.eq(r.trailers, TRAILERS if size == MIB else [], "response trailers for %d B" % size)


def test_response_chunk_framing_forwarded_as_received():
    with Stack() as st, st.conn() as c:
        r = c.request("GET", "/rframes", [("X-Test-Body-Size", "2500"), ("X-Test-Framing", "chunked"),
                                          ("X-Test-Chunk-Size", "1000")])
        h.eq(r.chunk_sizes, [1000, 1000, 500, 0], "chunk sizes to the client")


def test_request_body_trickled_in_small_pieces():
    data = bodies.body(3000, seed=3)
    with Stack() as st, st.conn() as c:
        c.send(build_request("POST", "/trickle", [("Content-Length", str(len(data)))]))
        for i in range(0, len(data), 300):
            c.send(data[i:i + 300])
            time.sleep(0.02)  # pacing the sender, not synchronising
        check_echo(c.read_final_response("POST"), 3000, 3, "trickled Content-Length body", False)
        c.send(build_request("POST", "/trickle2", [("Transfer-Encoding", "chunked")]))
        for piece in [b"5\r", b"\nhel", b"lo\r\n", b"0", b"\r\n", b"\r", b"\n"]:
            c.send(piece)
            time.sleep(0.02)
        e = c.read_final_response("POST").json()
        h.eq((e["body_len"], e["chunked"]), (5, True), "chunked body split inside its framing")


def test_slow_response_body():
    with Stack() as st, st.conn() as c:
        r = c.request("GET", "/slow", [("X-Test-Body-Size", "200000"), ("X-Test-Delay-Body", "0.01"),
                                       ("X-Test-Chunk-Size", "20000")])
        h.eq((r.status, r.body_len, r.body_sha256), (200, 200000, bodies.sha256(200000)), "slow body")


@h.timeout(180)
def test_request_64mib_content_length():
    with Stack() as st, st.conn(timeout=120) as c:
        send_length(c, BIG, "/big-cl", seed=5)
        check_echo(c.read_final_response("POST"), BIG, 5, "64 MiB Content-Length request", False)


@h.timeout(180)
def test_request_64mib_chunked():
    with Stack() as st, st.conn(timeout=120) as c:
        send_chunked(c, BIG, "/big-ch", seed=6, trailers=TRAILERS)
        e = check_echo(c.read_final_response("POST"), BIG, 6, "64 MiB chunked request", True)
        h.eq([tuple(t) for t in e["trailers"]], TRAILERS, "trailers after 64 MiB")


@h.timeout(180)
def test_response_64mib_content_length():
    with Stack() as st, st.conn(timeout=120) as c:
        r = c.request("GET", "/big", [("X-Test-Body-Size", str(BIG)), ("X-Test-Body-Seed", "8")],
                      hash_body=True)
        h.eq((r.status, r.framing, r.body_len), (200, "length", BIG), "64 MiB response")
        h.eq(r.body_sha256, bodies.sha256(BIG, 8), "64 MiB response bytes")


@h.timeout(180)
def test_response_64mib_chunked():
    with Stack() as st, st.conn(timeout=120) as c:
        r = c.request("GET", "/big", [("X-Test-Body-Size", str(BIG)), ("X-Test-Body-Seed", "9"),
                                      ("X-Test-Framing", "chunked"), ("X-Test-Chunk-Size", "100000"),
                                      ("X-Test-Trailer", "X-Done: yes")], hash_body=True)
        h.eq((r.status, r.framing, r.body_len), (200, "chunked", BIG), "64 MiB chunked response")
        h.eq(r.body_sha256, bodies.sha256(BIG, 9), "64 MiB chunked response bytes")
        h.eq(r.trailers, [("X-Done", "yes")], "trailer after 64 MiB")
