# SPDX-License-Identifier: MIT
"""Keep-alive on both sides and the per-worker upstream pool: reuse after a
clean response, never after a client left mid-exchange, the idle cap, and
500 concurrent keep-alive clients."""

import threading

from lib import bodies
from lib import harness as h
from lib.client import Conn, build_request
from lib.harness import Stack


def conn_of(r):
    return int(r.header("X-Backend-Conn"))


def test_keepalive_requests_share_one_upstream_connection():
    with Stack() as st, st.conn() as c:
        seen = []
        for i in range(10):
            r = c.request("GET", "/ka/%d" % i)
            h.status(r, 200, "request %d" % i)
            e = r.json()
            seen.append((e["conn"], e["index"]))
        h.eq(len({cid for cid, _ in seen}), 1, "one upstream connection for 10 keep-alive requests %r" % seen)
        h.eq([i - seen[0][1] for _, i in seen], list(range(10)), "request index on the upstream connection")


def test_sequential_clients_reuse_upstream_connection():
    with Stack() as st:
        ids = []
        for i in range(5):
            with st.conn() as c:
                ids.append(conn_of(c.request("GET", "/seq/%d" % i)))
        h.eq(len(set(ids)), 1, "upstream connection ids for 5 sequential client connections %r" % ids)


def test_client_connection_close_still_pools_upstream():
    with Stack() as st:
        with st.conn() as c:
            r = c.request("GET", "/first", [("Connection", "close")])
            h.closed(c, "client connection after Connection: close")
        with st.conn() as c:
            r2 = c.request("GET", "/second")
        h.eq(conn_of(r2), conn_of(r), "upstream connection reused after the client's Connection: close")


def test_upstream_connection_close_is_not_reused():
    with Stack() as st, st.conn() as c:
        r = c.request("GET", "/closing", [("X-Test-Keep-Alive", "no")])
        h.status(r, 200)
        h.eq([t for t in r.tokens("Connection") if t == "close"], [],
             "upstream's Connection: close is hop-by-hop, client keeps its connection")
        first = conn_of(r)
        st.backend.wait_conn_closed(first)
        r = c.request("GET", "/next")
        h.status(r, 200, "request after the upstream closed its connection")
        h.ne(conn_of(r), first, "upstream connection id after Connection: close")


def _new_upstream_after(st, old_conn, what):
    st.backend.wait_conn_closed(old_conn)
    with st.conn() as c:
        r = c.request("GET", "/after")
    h.status(r, 200, "request after %s" % what)
    h.ne(conn_of(r), old_conn, "upstream connection after %s must be a new one" % what)


def test_client_gone_while_waiting_for_response():
    with Stack() as st:
        with st.conn() as c:
            warm = conn_of(c.request("GET", "/warm"))
        c = st.conn()
        c.send(build_request("GET", "/hang", [("X-Test-Action", "hang")]))
        ev = st.backend.wait_event(lambda e: e["event"] == "request" and e["target"] == "/hang")
        h.eq(ev["conn"], warm, "pooled upstream connection used for the next request")
        c.close()
        _new_upstream_after(st, ev["conn"], "the client left while the upstream was answering")


def test_client_gone_mid_request_body():
    with Stack() as st:
        c = st.conn()
        c.send(build_request("POST", "/partial", [("Content-Length", "100000")]) + b"x" * 1000)
        ev = st.backend.wait_event(lambda e: e["event"] == "head" and e["target"] == "/partial")
        c.close()
        _new_upstream_after(st, ev["conn"], "the client left in the middle of its request body")


def test_client_gone_mid_response_body():
    with Stack() as st:
        c = st.conn()
        c.send(build_request("GET", "/stream", [("X-Test-Body-Size", str(64 * bodies.MIB)),
                                                ("X-Test-Delay-Body", "0.02"),
                                                ("X-Test-Chunk-Size", "65536")]))
        head = b""
        while b"\r\n\r\n" not in head:
            data = c.recv_some()
            h.true(data, "response head before EOF")
            head += data
        h.true(head.startswith(b"HTTP/1.1 200 "), "streaming response started: %r" % head[:80])
        c.reset()
        ev = st.backend.wait_request(lambda e: e["target"] == "/stream")
        _new_upstream_after(st, ev["conn"], "the client left in the middle of the response body")


def test_max_idle_upstream_caps_the_pool():
    with Stack(args=["--max-idle-upstream", "1"]) as st:
        conns = [st.conn() for _ in range(3)]
        for i, c in enumerate(conns):
            c.send(build_request("GET", "/par/%d" % i, [("X-Test-Delay-Head", "0.5")]))
        ids = [conn_of(c.read_final_response()) for c in conns]
        for c in conns:
            c.close()
        h.eq(len(set(ids)), 3, "three concurrent requests use three upstream connections %r" % ids)
        h.wait_until(lambda: sum(st.backend.is_conn_closed(i) for i in ids) >= 2, 5.0,
                     "two of the three idle upstream connections to be closed (--max-idle-upstream 1)")
        kept = [i for i in ids if not st.backend.is_conn_closed(i)]
        h.eq(len(kept), 1, "idle upstream connections kept")
        with st.conn() as c:
            h.eq(conn_of(c.request("GET", "/reuse")), kept[0], "the kept connection is reused")


def test_pool_keeps_idle_connections_under_the_cap():
    with Stack() as st:
        ids = set()
        for round_ in range(2):
            conns = [st.conn() for _ in range(3)]
            for i, c in enumerate(conns):
                c.send(build_request("GET", "/par/%d" % i, [("X-Test-Delay-Head", "0.3")]))
            round_ids = {conn_of(c.read_final_response()) for c in conns}
            for c in conns:
                c.close()
            h.eq(len(round_ids), 3, "round %d: three upstream connections" % round_)
            ids |= round_ids
        h.eq(len(ids), 3, "second round reuses the three pooled connections %r" % sorted(ids))


def _many_clients(st, n, per):
    old = threading.stack_size()
    threading.stack_size(256 * 1024)
    barrier = threading.Barrier(n + 1, timeout=60)
    errors = []
    conn_ids = set()
    lock = threading.Lock()

    def client(i):
        try:
            with Conn(st.addr, timeout=60) as c:
                barrier.wait()
                for j in range(per):
                    body = b"client %d request %d" % (i, j)
                    r = c.request("POST", "/c/%d/%d" % (i, j), [("X-Client", str(i))], body=body)
                    h.status(r, 200, "client %d request %d" % (i, j))
                    e = r.json()
                    h.eq((e["target"], e["body_len"]), ("/c/%d/%d" % (i, j), len(body)),
                         "client %d request %d echo" % (i, j))
                    h.contains([tuple(x) for x in e["headers"]], ("X-Client", str(i)), "client header")
                    with lock:
                        conn_ids.add(e["conn"])
        except threading.BrokenBarrierError:
            with lock:
                errors.append("client %d: barrier broken" % i)
        except Exception as e:  # collected and reported below
            with lock:
                errors.append("client %d: %s: %s" % (i, type(e).__name__, e))
            barrier.abort()

    try:
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    finally:
        threading.stack_size(old)
    for t in threads:
        t.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(90)
    h.eq([t.name for t in threads if t.is_alive()], [], "clients still running")
    h.eq(errors[:5], [], "client errors (%d in all)" % len(errors))
    reqs = st.backend.requests()
    h.eq(len(reqs), n * per, "requests seen by the backend")
    return conn_ids


@h.timeout(150)
def test_500_concurrent_keepalive_clients():
    with Stack() as st:
        _many_clients(st, 500, 3)


@h.timeout(150)
def test_500_concurrent_keepalive_clients_two_workers():
    with Stack(workers=2) as st:
        _many_clients(st, 500, 3)
