# SPDX-License-Identifier: MIT
"""Raw-socket HTTP/1.1 client for the integration tests.

Tests send exact bytes and read responses with their raw bytes kept, so any
difference on the wire is visible. A Conn keeps its own receive buffer, which
makes keep-alive reuse and pipelining (several responses read after one send)
straightforward. Responses are framed as RFC 9112 §6.3 says: no body for HEAD,
1xx, 204 and 304; chunked; Content-Length; otherwise until the peer closes.
"""

import hashlib
import json
import os
import socket
import sys
import threading
import time
import weakref

VERBOSE = bool(os.environ.get("TB_TEST_VERBOSE"))
DEFAULT_TIMEOUT = 20.0

_open_conns = weakref.WeakSet()
_open_lock = threading.Lock()


def _show(direction, data):
    if not VERBOSE:
        return
    text = data[:2048].decode("latin-1")
    more = "" if len(data) <= 2048 else " ... (+%d bytes)" % (len(data) - 2048)
    for line in (text + more).split("\n"):
        sys.stdout.write("    %s %r\n" % (direction, line))
    sys.stdout.flush()


def abort_all():
    """Shuts down every client socket still open (unblocks a hung test)."""
    with _open_lock:
        conns = list(_open_conns)
    for c in conns:
        c.abort()


class Timeout(TimeoutError, AssertionError):
    """Nothing arrived in time. Still a socket.timeout for callers that poll,
    and an assertion failure with context when it ends a test."""


class Incomplete(Exception):
    """The peer closed before the response was complete."""

    def __init__(self, msg, response):
        super().__init__(msg)
        self.response = response


class Response:
    """One parsed response. Header names and values are latin-1 strings."""

    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.status_line = None
        self.headers = []  # [(name, value)] in wire order, original casing
        self.raw_head = b""
        self.body = b""  # None when the body was only hashed
        self.body_len = 0
        self.body_sha256 = None
        self.chunked = False
        self.chunk_sizes = []
        self.trailers = []
        self.framing = None  # "none", "chunked", "length", "close"
        self.complete = False
        self.interim = []  # 1xx responses received before this one
        self.raw = b""  # every byte of this response (head + framed body) unless hashed

    def header(self, name, default=None):
        """Value of the first header called `name` (any case), or `default`."""
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return default

    def headers_named(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def header_names(self):
        return [n for n, _ in self.headers]

    def tokens(self, name):
        """Comma-separated tokens of every `name` header, lower-cased."""
        out = []
        for v in self.headers_named(name):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError("response body is not JSON (%s): %r" % (e, self.body[:300]))

    def __repr__(self):
        return "<Response %s %s %s, %d body bytes%s>" % (
            self.version, self.status, self.reason, self.body_len,
            "" if self.complete else ", INCOMPLETE")


def build_request(method="GET", target="/", headers=None, body=b"", version="HTTP/1.1",
                  host="test.example"):
    """Request bytes. `headers` is a list of (name, value) sent as given.

    Adds `Host: <host>` first unless `host` is None or a Host header is given,
    and Content-Length when `body` is not empty and no framing header is given."""
    headers = list(headers or [])
    names = [n.lower() for n, _ in headers]
    if host is not None and "host" not in names:
        headers.insert(0, ("Host", host))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        headers.append(("Content-Length", str(len(body))))
    out = "%s %s %s\r\n" % (method, target, version)
    out += "".join("%s: %s\r\n" % (n, v) for n, v in headers)
    return out.encode("latin-1") + b"\r\n" + body


class Conn:
    """A client connection with a receive buffer."""

    def __init__(self, addr, timeout=DEFAULT_TIMEOUT, connect=True):
        self.addr = addr
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.sock = None
        if connect:
            self.connect()

    def connect(self):
        host, port = self.addr
        self.sock = socket.create_connection((host, port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with _open_lock:
            _open_conns.add(self)
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- send

    def send(self, data):
        _show(">>", data)
        self.sock.sendall(data)

    def send_iter(self, pieces):
        for p in pieces:
            self.sock.sendall(p)

    def request(self, method="GET", target="/", headers=None, body=b"", version="HTTP/1.1",
                host="test.example", **read_kw):
        """Sends one request and returns its final response."""
        self.send(build_request(method, target, headers, body, version, host))
        return self.read_final_response(method=method, **read_kw)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def reset(self):
        """Closes with an RST (SO_LINGER 0) instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close()

    def abort(self):
        try:
            if self.sock is not None:
                self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---------------------------------------------------------------- receive

    def _fill(self, timeout=None):
        """Receives more bytes into the buffer; returns False at EOF."""
        if self.eof:
            return False
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(256 * 1024)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            raise Timeout("nothing received from %s:%d within %.1fs (%d bytes buffered: %r)"
                          % (self.addr + (self.sock.gettimeout(), len(self.buf), bytes(self.buf[:120]))))
        finally:
            if timeout is not None:
                self.sock.settimeout(self.timeout)
        if not data:
            self.eof = True
            _show("<<", b"<EOF>")
            return False
        _show("<<", data)
        self.buf += data
        return True

    def recv_some(self, timeout=None):
        """Returns buffered bytes, or waits for at least one; b"" at EOF."""
        if not self.buf:
            self._fill(timeout)
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise Incomplete("EOF after %d of %d bytes" % (len(self.buf), n), None)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until_close(self, limit=256 * 1024 * 1024):
        while self._fill():
            if len(self.buf) > limit:
                raise AssertionError("more than %d bytes before close" % limit)
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def _line(self, limit=1024 * 1024):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                out = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return out
            if len(self.buf) > limit:
                raise AssertionError("line longer than %d bytes" % limit)
            if not self._fill():
                out = bytes(self.buf)
                self.buf.clear()
                return out

    def wait_closed(self, timeout=5.0):
        """Waits for the peer to close. Returns (closed, extra bytes received)."""
        deadline = time.monotonic() + timeout
        extra = bytearray(self.buf)
        self.buf.clear()
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, bytes(extra)
            try:
                if self._fill(timeout=left):
                    extra += self.buf
                    self.buf.clear()
            except socket.timeout:
                return False, bytes(extra)
        return True, bytes(extra)

    def read_response(self, method="GET", hash_body=False, allow_incomplete=False):
        """Reads one response (interim or final). See Response.

        With `hash_body` the body is hashed while streaming and not kept
        (resp.body is None). At EOF before the end of the framing, raises
        Incomplete, or returns the partial response (complete False) when
        `allow_incomplete`."""
        r = Response()
        raw = bytearray()
        try:
            self._read_response(r, raw, method, hash_body)
            r.complete = True
        except Incomplete as e:
            if not allow_incomplete:
                e.response = r
                raise
        if not hash_body:
            r.raw = bytes(raw)
        return r

    def read_final_response(self, method="GET", **kw):
        """Reads responses until a final (non-1xx, or 101) one; 1xx go to .interim."""
        interim = []
        while True:
            r = self.read_response(method=method, **kw)
            if r.status is not None and 100 <= r.status < 200 and r.status != 101 and r.complete:
                interim.append(r)
                continue
            r.interim = interim
            return r

    def _read_response(self, r, raw, method, hash_body):
        line = self._line()
        if not line:
            raise Incomplete("connection closed before any response byte", r)
        raw += line
        r.status_line = line.rstrip(b"\r\n").decode("latin-1")
        parts = r.status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise AssertionError("malformed status line %r" % line)
        r.version, r.status = parts[0], int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        while True:
            line = self._line()
            if not line.endswith(b"\n"):
                r.raw_head = bytes(raw + line)
                raise Incomplete("connection closed inside the response head", r)
            raw += line
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.rstrip(b"\r\n").partition(b":")
            r.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        r.raw_head = bytes(raw)
        h = hashlib.sha256()
        body = bytearray() if not hash_body else None

        def take(data):
            h.update(data)
            r.body_len += len(data)
            if body is not None:
                body.extend(data)
                raw.extend(data)

        def done():
            r.body_sha256 = h.hexdigest()
            r.body = bytes(body) if body is not None else None

        done()
        if method == "HEAD" or 100 <= r.status < 200 or r.status in (204, 304):
            r.framing = "none"
            return
        te = r.tokens("transfer-encoding")
        cl = r.headers_named("content-length")
        try:
            if te:
                r.framing = "chunked"
                r.chunked = True
                self._read_chunked(r, raw, take, body is not None)
            elif cl:
                r.framing = "length"
                left = int(cl[0])
                while left > 0:
                    if not self.buf and not self._fill():
                        raise Incomplete("EOF after %d of %d body bytes" % (r.body_len, int(cl[0])), r)
                    n = min(left, len(self.buf))
                    take(bytes(self.buf[:n]))
                    del self.buf[:n]
                    left -= n
            else:
                r.framing = "close"
                while True:
                    if self.buf:
                        take(bytes(self.buf))
                        self.buf.clear()
                    if not self._fill():
                        break
        finally:
            done()

    def _read_chunked(self, r, raw, take, keep_raw):
        while True:
            line = self._line()
            if not line.endswith(b"\n"):
                raise Incomplete("EOF in chunk size line after %d body bytes" % r.body_len, r)
            if keep_raw:
                raw.extend(line)
            size_txt = line.strip().split(b";", 1)[0]
            try:
                n = int(size_txt, 16)
            except ValueError:
                raise AssertionError("bad chunk size line %r" % line)
            r.chunk_sizes.append(n)
            if n == 0:
                break
            left = n
            while left > 0:
                if not self.buf and not self._fill():
                    raise Incomplete("EOF inside a chunk after %d body bytes" % r.body_len, r)
                k = min(left, len(self.buf))
                take(bytes(self.buf[:k]))
                del self.buf[:k]
                left -= k
            crlf = self._line()
            if keep_raw:
                raw.extend(crlf)
            if crlf != b"\r\n":
                if not crlf.endswith(b"\n"):
                    raise Incomplete("EOF after chunk data", r)
                raise AssertionError("chunk data not followed by CRLF: %r" % crlf)
        while True:
            line = self._line()
            if not line.endswith(b"\n"):
                raise Incomplete("EOF in the trailer section", r)
            if keep_raw:
                raw.extend(line)
            if line in (b"\r\n", b"\n"):
                return
            name, _, value = line.rstrip(b"\r\n").partition(b":")
            r.trailers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))


def connect_refused(addr, timeout=1.0):
    """True when a TCP connect to `addr` is refused right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
