#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Opens many keep-alive connections to an HTTP/1.1 server, sends one complete
GET on each and reads its response, then holds them all idle.

Used by bench/run.sh to measure a proxy's memory per idle keep-alive
connection. At most --window connections are in flight (connecting, sending or
reading) at once; a connection whose response has been read in full stays open
and silent. While holding, any connection the server closes (or that receives
unexpected bytes) is counted.

Progress and results go to --status FILE as `key=value` lines, rewritten
whole each time:
  phase=opening|holding|done  opened=N served=N failed=N closed_by_server=N
Stops on SIGTERM/SIGINT or after --hold seconds, whichever comes first; the
opening phase is bounded by --open-timeout. Exits 0 when every connection was
served and none was closed by the server, 1 otherwise.

Python standard library only (selectors); needs one file descriptor per
connection, so raise `ulimit -n` first.
"""
import argparse
import errno
import os
import selectors
import signal
import socket
import sys
import time


class Conn:
    __slots__ = ("sock", "out", "buf", "state")

    def __init__(self, sock, request):
        self.sock = sock
        self.out = request
        self.buf = b""
        self.state = "connect"


def response_complete(buf):
    """Returns (done, status) for one response with Content-Length or none."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return False, None
    head = buf[:head_end].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        elif name.strip().lower() == "transfer-encoding":
            # Chunked: done at the terminating chunk (enough for small bodies).
            return buf.endswith(b"0\r\n\r\n"), status
    return len(buf) >= head_end + 4 + length, status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--window", type=int, default=64, help="connections in flight at once")
    ap.add_argument("--path", default="/")
    ap.add_argument("--open-timeout", type=float, default=120.0)
    ap.add_argument("--hold", type=float, default=120.0, help="longest hold, seconds")
    ap.add_argument("--status", required=True)
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    request = (
        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: tracebridge-bench\r\n\r\n"
        % (args.path, args.host, args.port)
    ).encode()
    counts = {"opened": 0, "served": 0, "failed": 0, "closed_by_server": 0, "non_200": 0}
    errors = {}

    def write_status(phase):
        tmp = args.status + ".tmp"
        with open(tmp, "w") as f:
            f.write("phase=%s\n" % phase)
            for k, v in counts.items():
                f.write("%s=%d\n" % (k, v))
            for k, v in sorted(errors.items()):
                f.write("error_%s=%d\n" % (k, v))
        os.replace(tmp, args.status)

    def fail(sel, c, why):
        errors[why] = errors.get(why, 0) + 1
        counts["failed"] += 1
        sel.unregister(c.sock)
        c.sock.close()

    sel = selectors.DefaultSelector()
    held = []
    in_flight = 0
    started = 0
    next_report = 1000
    deadline = time.monotonic() + args.open_timeout
    write_status("opening")
    while (started < args.conns or in_flight) and not stop:
        if time.monotonic() > deadline:
            errors["open_timeout"] = in_flight + args.conns - started
            break
        while in_flight < args.window and started < args.conns:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            started += 1
            err = s.connect_ex((args.host, args.port))
            if err not in (0, errno.EINPROGRESS):
                errors[errno.errorcode.get(err, str(err))] = (
                    errors.get(errno.errorcode.get(err, str(err)), 0) + 1)
                counts["failed"] += 1
                s.close()
                continue
            c = Conn(s, request)
            sel.register(s, selectors.EVENT_WRITE, c)
            in_flight += 1
        for key, events in sel.select(timeout=1.0):
            c = key.data
            try:
                if c.state == "connect":
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        in_flight -= 1
                        fail(sel, c, errno.errorcode.get(err, str(err)))
                        continue
                    counts["opened"] += 1
                    c.state = "send"
                if c.state == "send":
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                    if not c.out:
                        c.state = "recv"
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
                data = c.sock.recv(65536)
                if not data:
                    in_flight -= 1
                    fail(sel, c, "eof_before_response")
                    continue
                c.buf += data
                done, status = response_complete(c.buf)
                if done:
                    in_flight -= 1
                    sel.unregister(c.sock)
                    if status != 200:
                        counts["non_200"] += 1
                    counts["served"] += 1
                    c.buf = b""
                    c.state = "held"
                    held.append(c)
            except OSError as e:
                in_flight -= 1
                fail(sel, c, errno.errorcode.get(e.errno, str(e.errno)))
        if counts["served"] >= next_report:
            next_report += 1000
            write_status("opening")

    # Hold: every served connection waits for EOF or stray bytes, which count
    # as closed by the server.
    for c in held:
        sel.register(c.sock, selectors.EVENT_READ, c)
    write_status("holding")
    sys.stdout.write("holding %d connections\n" % len(held))
    sys.stdout.flush()
    hold_end = time.monotonic() + args.hold
    while not stop and time.monotonic() < hold_end:
        changed = False
        for key, _ in sel.select(timeout=0.5):
            sel.unregister(key.fileobj)
            key.fileobj.close()
            counts["closed_by_server"] += 1
            changed = True
        if changed:
            write_status("holding")
    sel.close()
    write_status("done")
    ok = (counts["served"] == args.conns and counts["closed_by_server"] == 0
          and counts["non_200"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
