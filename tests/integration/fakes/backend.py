#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fake upstream HTTP/1.1 server for the tracebridge integration tests.

Listens on 127.0.0.1 (port 0 unless --port), prints "PORT <n>" on stdout,
then serves one thread per connection. It parses requests itself so that it
can record exactly what arrived, and by default answers with a JSON echo of
the request (see README.md for the fields). Request headers starting with
X-Test- change the answer: generated bodies, framings, delays, aborts, huge
heads, hangs, raw responses, upgrades. Bodies of any size are hashed while
streaming, never held in memory.

Every accepted connection, received request and connection end is appended
to the --events file as one JSON object per line, so tests can prove what the
proxy sent upstream (or that it sent nothing) and when it closed.
"""

import argparse
import base64
import hashlib
import itertools
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import bodies  # noqa: E402

MAX_HEAD = 1024 * 1024
MAX_LINE = 256 * 1024
MAX_CHUNK_SIZES = 64
READ_PIECE = 256 * 1024

REASONS = {
    100: "Continue", 101: "Switching Protocols", 103: "Early Hints",
    200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 304: "Not Modified",
    400: "Bad Request", 404: "Not Found", 426: "Upgrade Required",
    500: "Internal Server Error", 503: "Service Unavailable",
}


class Events:
    """Append-only JSONL log shared by all connection threads."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._f = open(path, "a", encoding="utf-8") if path else None

    def emit(self, kind, **fields):
        if self._f is None:
            return
        rec = {"event": kind, "t": round(time.time(), 6)}
        rec.update(fields)
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()


EVENTS = Events(None)
CONN_IDS = itertools.count(1)


class PeerClosed(Exception):
    """The peer closed (or reset) the connection."""


class BadInput(Exception):
    """The request cannot be parsed well enough to answer it."""


def _ctl_in(value):
    return any((c < 0x20 and c != 0x09) or c == 0x7F for c in value)


def parse_head(raw):
    """Splits a raw head into request line parts and an ordered header list.

    Lenient on purpose: it records anomalies (bare LF, bare CR, obs-fold,
    control characters, space before the colon) instead of refusing, so a
    test can see that the proxy let something through."""
    anomalies = set()
    lines = raw.split(b"\n")
    # The head ends with an empty line, which leaves ["", ""] at the end.
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for ln in lines:
        if ln.endswith(b"\r"):
            ln = ln[:-1]
        else:
            anomalies.add("bare_lf")
        if b"\r" in ln:
            anomalies.add("bare_cr")
        out.append(ln)
    if out and out[-1] == b"":
        out.pop()
    if not out:
        raise BadInput("empty head")
    request_line = out[0]
    parts = request_line.split(b" ")
    if len(parts) != 3:
        anomalies.add("request_line_shape")
        while len(parts) < 3:
            parts.append(b"")
        parts = [parts[0], b" ".join(parts[1:-1]), parts[-1]]
    headers = []
    for ln in out[1:]:
        if ln[:1] in (b" ", b"\t"):
            anomalies.add("obs_fold")
            if headers:
                headers[-1][1] += b" " + ln.strip(b" \t")
            continue
        name, sep, value = ln.partition(b":")
        if not sep:
            anomalies.add("no_colon")
        if name != name.rstrip(b" \t"):
            anomalies.add("space_before_colon")
        value = value.strip(b" \t")
        if _ctl_in(value):
            anomalies.add("control_char")
        headers.append([name, value])
    return parts, headers, sorted(anomalies)


def header_values(headers, name):
    lname = name.lower()
    return [v for n, v in headers if n.lower() == lname]


def header_tokens(headers, name):
    toks = []
    for v in header_values(headers, name):
        toks += [t.strip().lower() for t in v.split(b",") if t.strip()]
    return toks


class Conn(socketserver.BaseRequestHandler):
    """One client connection of the backend (normally: one proxy upstream connection)."""

    def setup(self):
        self.id = next(CONN_IDS)
        self.sock = self.request
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb", buffering=READ_PIECE)
        self.bytes_in = 0
        self.peer = "%s:%d" % self.client_address[:2]
        EVENTS.emit("accept", conn=self.id, peer=self.peer)

    # ---------------------------------------------------------------- input

    def _readline(self, limit):
        try:
            line = self.rfile.readline(limit)
        except (ConnectionError, OSError) as e:
            raise PeerClosed(str(e))
        self.bytes_in += len(line)
        return line

    def _read(self, n):
        """Reads up to n bytes (at least 1), raising PeerClosed on EOF."""
        try:
            data = self.rfile.read1(n)
        except (ConnectionError, OSError) as e:
            raise PeerClosed(str(e))
        if not data:
            raise PeerClosed("eof")
        self.bytes_in += len(data)
        return data

    def read_head(self):
        """Returns the raw head bytes, or None on EOF before its first byte."""
        raw = bytearray()
        while True:
            line = self._readline(MAX_LINE)
            if not line:
                if raw:
                    EVENTS.emit("eof_in_head", conn=self.id, head=raw.decode("latin-1"))
                    raise PeerClosed("eof in head")
                return None
            raw += line
            if len(raw) > MAX_HEAD:
                raise BadInput("head over %d bytes" % MAX_HEAD)
            if not line.endswith(b"\n"):
                continue
            if line in (b"\r\n", b"\n"):
                if len(raw) == len(line):
                    # Leading empty lines before a request line (RFC 9112 §2.2).
                    continue
                return bytes(raw)

    def read_body_length(self, n, h):
        left = n
        while left > 0:
            data = self._read(min(left, READ_PIECE))
            h.update(data)
            left -= len(data)
        return n

    def read_body_chunked(self, h, rec):
        sizes = []
        total = 0
        while True:
            line = self._readline(MAX_LINE)
            if not line:
                raise PeerClosed("eof in chunk size")
            if not line.endswith(b"\r\n"):
                rec["anomalies"].append("chunk_line_bare_lf")
            size_part = line.strip().split(b";", 1)
            if b";" in line:
                rec.setdefault("chunk_exts", [])
                if len(rec["chunk_exts"]) < MAX_CHUNK_SIZES:
                    rec["chunk_exts"].append(line.strip().split(b";", 1)[1].decode("latin-1"))
            try:
                n = int(size_part[0], 16)
            except ValueError:
                raise BadInput("bad chunk size %r" % line[:40])
            if len(sizes) < MAX_CHUNK_SIZES:
                sizes.append(n)
            if n == 0:
                break
            left = n
            while left > 0:
                data = self._read(min(left, READ_PIECE))
                h.update(data)
                left -= len(data)
            total += n
            crlf = self._readline(3)
            if crlf != b"\r\n":
                raise BadInput("chunk data not followed by CRLF")
        trailers = []
        while True:
            line = self._readline(MAX_LINE)
            if not line:
                raise PeerClosed("eof in trailers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.rstrip(b"\r\n").partition(b":")
            trailers.append([name.decode("latin-1"), value.strip(b" \t").decode("latin-1")])
        rec["chunk_sizes"] = sizes
        rec["trailers"] = trailers
        return total

    # --------------------------------------------------------------- output

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (ConnectionError, OSError) as e:
            raise PeerClosed("send: %s" % e)

    def close_hard(self, mode):
        """Ends the connection now: FIN both ways, or an RST (SO_LINGER 0)."""
        if mode == "rst":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.rfile.close()
            self.sock.close()
        else:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ------------------------------------------------------------- handling

    def handle(self):
        index = 0
        end = "eof"
        try:
            while True:
                raw = self.read_head()
                if raw is None:
                    break
                keep = self.serve_one(raw, index)
                index += 1
                if not keep:
                    end = "server_close"
                    break
        except PeerClosed as e:
            end = "peer_closed: %s" % e
        except BadInput as e:
            end = "bad_input: %s" % e
            EVENTS.emit("bad_input", conn=self.id, index=index, error=str(e))
            try:
                self.sock.sendall(b"HTTP/1.1 400 Bad Request\r\nX-Backend-Error: %s\r\nContent-Length: 0\r\n"
                                  b"Connection: close\r\n\r\n" % str(e).encode("ascii", "replace")[:200])
            except OSError:
                pass
        except Exception:
            end = "error"
            EVENTS.emit("error", conn=self.id, index=index, traceback=traceback.format_exc())
            sys.stderr.write(traceback.format_exc())
        EVENTS.emit("close", conn=self.id, requests=index, bytes_in=self.bytes_in, how=end)

    def serve_one(self, raw, index):
        parts, hdrs, anomalies = parse_head(raw)
        method = parts[0].decode("latin-1")
        headers = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in hdrs]
        ctl = {}
        for n, v in headers:
            ln = n.lower()
            if ln.startswith("x-test-"):
                ctl.setdefault(ln[len("x-test-"):], []).append(v)

        def opt(name, default=None):
            vals = ctl.get(name)
            return vals[-1] if vals else default

        rec = {
            "conn": self.id,
            "index": index,
            "method": method,
            "target": parts[1].decode("latin-1"),
            "version": parts[2].decode("latin-1"),
            "head": raw.decode("latin-1"),
            "headers": headers,
            "anomalies": anomalies,
            "chunked": False,
            "trailers": [],
            "continue_sent": False,
        }

        EVENTS.emit("head", conn=self.id, index=index, method=method, target=rec["target"])

        # 100-continue (RFC 9110 §10.1.1): answer before reading the body.
        te = header_tokens(hdrs, b"transfer-encoding")
        cls = header_values(hdrs, b"content-length")
        expects = [v.lower() for v in header_values(hdrs, b"expect")]
        has_body = bool(te) or (cls and cls[0].strip() not in (b"0",))
        if b"100-continue" in expects and has_body and opt("continue", "yes") != "no":
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            rec["continue_sent"] = True

        h = hashlib.sha256()
        if te:
            rec["chunked"] = True
            if te[-1] != b"chunked":
                raise BadInput("transfer-encoding %r" % te)
            body_len = self.read_body_chunked(h, rec)
        elif cls:
            try:
                n = int(cls[0])
            except ValueError:
                raise BadInput("content-length %r" % cls[0])
            body_len = self.read_body_length(n, h)
        else:
            body_len = 0
        rec["body_len"] = body_len
        rec["body_sha256"] = h.hexdigest()
        EVENTS.emit("request", **rec)
        return self.respond(rec, ctl, opt, hdrs)

    def respond(self, rec, ctl, opt, hdrs):
        delay_head = float(opt("delay-head", "0"))
        if delay_head > 0:
            time.sleep(delay_head)

        action = opt("action", "echo")
        if action == "hang":
            # Never answer; note when the peer gives up.
            while True:
                self._read(READ_PIECE)
        if action == "close":
            self.close_hard("fin")
            return False
        if action == "reset":
            self.close_hard("rst")
            return False
        if action == "raw":
            self.send(base64.b64decode(opt("raw", "")))
            self.close_hard("fin")
            return False

        for interim in ctl.get("interim", []):
            code = int(interim.split()[0])
            self.send(b"HTTP/1.1 %d %s\r\nX-Interim: %d\r\n\r\n"
                      % (code, REASONS.get(code, "Interim").encode(), code))

        status = int(opt("status", "200"))
        reason = opt("reason", REASONS.get(status, "Status"))
        version = opt("version", "HTTP/1.1")
        framing = opt("framing", "length")
        keep = version == "HTTP/1.1" and opt("keep-alive", "yes") != "no"
        if b"close" in header_tokens(hdrs, b"connection"):
            keep = False

        if status == 101:
            if not header_values(hdrs, b"upgrade"):
                status, reason = 426, "Upgrade Header Missing"
            else:
                up = header_values(hdrs, b"upgrade")[0]
                self.send(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
                          + up + b"\r\nX-Backend-Conn: %d\r\n\r\n" % rec["conn"])
                self.tunnel()
                return False

        size = opt("body-size")
        seed = int(opt("body-seed", "0"))
        if size is not None:
            size = int(size)
            pieces = None
            ctype = b"application/octet-stream"
        else:
            echo = json.dumps(rec, separators=(",", ":")).encode()
            size = len(echo)
            pieces = [echo]
            ctype = b"application/json"

        head = [b"%s %d %s" % (version.encode(), status, reason.encode("latin-1"))]
        head.append(b"Content-Type: " + ctype)
        head.append(b"X-Backend-Conn: %d" % rec["conn"])
        head.append(b"X-Backend-Index: %d" % rec["index"])
        close_sent = False
        for extra in ctl.get("response-header", []):
            head.append(extra.encode("latin-1"))
            n, _, v = extra.partition(":")
            if n.strip().lower() == "connection" and "close" in v.lower():
                keep = False
                close_sent = True
        filler = int(opt("header-bytes", "0"))
        i = 0
        while filler > 0:
            n = min(filler, 8000)
            head.append(b"X-Filler-%d: %s" % (i, b"f" * max(1, n - 20)))
            filler -= n
            i += 1

        no_body = rec["method"] == "HEAD" or status in (204, 304) or 100 <= status < 200
        if framing == "chunked" and status not in (204, 304):
            head.append(b"Transfer-Encoding: chunked")
        elif framing == "length" and status not in (204, 304):
            head.append(b"Content-Length: %d" % size)
        elif framing == "close":
            keep = False
        if version == "HTTP/1.1" and not keep and not close_sent:
            head.append(b"Connection: close")
        elif version == "HTTP/1.0" and keep:
            head.append(b"Connection: keep-alive")
        self.send(b"\r\n".join(head) + b"\r\n\r\n")
        if no_body:
            return keep

        abort_after = opt("abort-after")
        abort_after = int(abort_after) if abort_after is not None else None
        abort_mode = opt("abort-mode", "fin")
        delay_body = float(opt("delay-body", "0"))
        piece = int(opt("chunk-size", str(64 * 1024)))
        if pieces is None:
            pieces = bodies.iter_body(size, seed, piece)
        elif piece < size:
            echo = pieces[0]
            pieces = [echo[i:i + piece] for i in range(0, len(echo), piece)]

        sent = 0
        for p in pieces:
            if delay_body > 0:
                time.sleep(delay_body)
            cut = abort_after is not None and sent + len(p) >= abort_after
            whole = len(p)
            if cut:
                p = p[:abort_after - sent]
            if framing == "chunked":
                if len(p) < whole:
                    # Announce the whole piece, deliver only part of it.
                    self.send(b"%x\r\n" % whole + p)
                elif p:
                    self.send(b"%x\r\n" % len(p) + p + b"\r\n")
            else:
                self.send(p)
            sent += len(p)
            if cut:
                self.close_hard(abort_mode)
                EVENTS.emit("aborted", conn=rec["conn"], index=rec["index"], sent=sent)
                return False
        if framing == "chunked":
            tail = b"0\r\n"
            for t in ctl.get("trailer", []):
                tail += t.encode("latin-1") + b"\r\n"
            self.send(tail + b"\r\n")
        if framing == "close":
            self.close_hard("fin")
        return keep

    def tunnel(self):
        """After a 101: echo every byte back until the peer closes."""
        total = 0
        try:
            while True:
                data = self._read(READ_PIECE)
                total += len(data)
                self.send(data)
        finally:
            EVENTS.emit("tunnel_end", conn=self.id, bytes=total)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--events", default=None, help="JSONL file receiving one line per event")
    args = ap.parse_args()

    global EVENTS
    EVENTS = Events(args.events)
    threading.stack_size(512 * 1024)
    srv = Server((args.host, args.port), Conn)

    def on_term(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
