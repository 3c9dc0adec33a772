# SPDX-License-Identifier: MIT
"""Process side of the integration harness: ports, the fake backend, the
tracebridge process, teardown with exit-status checks, and named assertions.

A test builds a Stack (backend + proxy) in a `with` block. Leaving the block
sends SIGTERM to tracebridge and fails the test unless it exits with status
0 within 10 s: with sanitizers a report makes the exit status non-zero, so
crashes, ASan/UBSan reports and leaks all fail the test that caused them.

Synchronisation is always a poll with a deadline (connect probes, waiting for
a log line or a backend event), never a fixed sleep.

Environment:
  TB_BINARY                  binary under test (run.py sets it; default build/tracebridge)
  TB_TEST_VERBOSE            print the wire traffic
  TB_TEST_LEAVE              keep the temporary directory
  TB_TEST_CATLOG             print the proxy log when each proxy stops
  TB_TEST_USE_RUNNING=h:p    use an already running proxy; its --upstream must be
                             127.0.0.1:$TB_TEST_BACKEND_PORT (default 18081)
"""

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from lib import client
from lib.client import Conn

HERE = os.path.dirname(os.path.abspath(__file__))
ITEST_DIR = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(ITEST_DIR))
BACKEND_SCRIPT = os.path.join(ITEST_DIR, "fakes", "backend.py")

BINARY = os.environ.get("TB_BINARY") or os.path.join(REPO_ROOT, "build", "tracebridge")
LEAVE = bool(os.environ.get("TB_TEST_LEAVE"))
CATLOG = bool(os.environ.get("TB_TEST_CATLOG"))
USE_RUNNING = os.environ.get("TB_TEST_USE_RUNNING") or None
RUNNING_BACKEND_PORT = int(os.environ.get("TB_TEST_BACKEND_PORT", "18081"))

STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL at teardown
START_DEADLINE = 10.0

_procs_lock = threading.Lock()
_procs = {}  # pid -> Popen, every child this harness started and has not reaped
_persistent = set()  # pids that outlive a test (the shared backend under TB_TEST_USE_RUNNING)
_shared = {"backend": None}
_state = {"root": None, "dir": None, "notes": [], "logs": []}


class Skip(Exception):
    """Raised by a test that cannot run in this configuration."""


# ------------------------------------------------------------------ context


def set_root(path):
    _state["root"] = path


def begin_test(file_name, test_name):
    """Called by the runner before each test: makes the test's directory."""
    d = os.path.join(_state["root"], file_name, test_name)
    os.makedirs(d, exist_ok=True)
    _state["dir"] = d
    _state["notes"] = []
    _state["logs"] = []
    _state["seq"] = {}
    return d


def test_dir():
    if _state["dir"] is None:
        _state["dir"] = tempfile.mkdtemp(prefix="tb-itest-")
    return _state["dir"]


def _seq(kind):
    """0, 1, 2... per kind within the current test (names the files of each child)."""
    seqs = _state.setdefault("seq", {})
    n = seqs.get(kind, 0)
    seqs[kind] = n + 1
    return n


def note(msg):
    """Adds a line printed with the test's result when it fails."""
    _state["notes"].append(msg)


def notes():
    return list(_state["notes"])


def logs():
    """Paths of the proxy logs of the current test."""
    return list(_state["logs"])


def _track(proc):
    with _procs_lock:
        _procs[proc.pid] = proc


def _untrack(proc):
    with _procs_lock:
        _procs.pop(proc.pid, None)


def kill_all(final=False):
    """SIGKILLs every process this harness started that is still running
    (except a shared backend, unless `final`)."""
    with _procs_lock:
        procs = [p for pid, p in _procs.items() if final or pid not in _persistent]
    for p in procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _untrack(p)
    client.abort_all()


# --------------------------------------------------------------- utilities


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_until(pred, timeout, what, interval=0.01):
    """Polls `pred` until it returns a true value (returned) or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def child_env(env):
    """The environment for a child: ours, with `env` applied on top (a value
    of None removes that variable). None when `env` is None (inherit)."""
    if env is None:
        return None
    out = dict(os.environ)
    for k, v in env.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def _has_admin_flag(args):
    return any(a == "--admin" or a.startswith("--admin=") for a in args)


def run_binary(args, timeout=10.0, input=None, env=None):
    """Runs the binary to completion; returns (status, stdout, stderr) as text.

    `input` (str or bytes) is written to its standard input (default: none,
    /dev/null); `env` is applied over the environment as child_env() says.
    A proxy command line (one with --listen) gets `--admin off` first unless
    it names --admin itself: the default admin port is the same for every
    process, and parallel runs must not depend on it being free."""
    if isinstance(input, str):
        input = input.encode("utf-8")
    args = list(args)
    if "--listen" in args and not _has_admin_flag(args) and args[:1] != ["decode"]:
        args = ["--admin", "off"] + args
    p = subprocess.Popen([BINARY] + args,
                         stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(env))
    _track(p)
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("%s %s did not exit within %.0fs" % (BINARY, " ".join(args), timeout))
    finally:
        _untrack(p)
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _connect_ok(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(addr)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


class BlackholeListener:
    """A listening socket on 127.0.0.1 whose accept queue is full, so further
    connects hang in SYN_SENT (Linux drops SYNs for a full queue): the way to
    make an upstream connect time out without leaving loopback."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(s)
            if not _connect_completes(s, 0.3):
                break
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.setblocking(False)
        probe.connect_ex(("127.0.0.1", self.port))
        blocked = not _connect_completes(probe, 0.3)
        probe.close()
        if not blocked:
            self.close()
            raise Skip("a full accept queue does not stall connects on this system")

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        for s in self.fillers:
            s.close()
        self.sock.close()


def _connect_completes(s, timeout):
    _, w, _ = select.select([], [s], [], timeout)
    return bool(w) and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


# ------------------------------------------------------------------ backend


class Backend:
    """The fake upstream (fakes/backend.py) as a child process."""

    def __init__(self, port=0):
        self._offset = 0
        d = test_dir()
        n = _seq("backend")
        self.events_path = os.path.join(d, "backend%d.events.jsonl" % n)
        self.stderr_path = os.path.join(d, "backend%d.stderr" % n)
        self.proc = None
        self.port = None
        self._start(port)

    def _start(self, port):
        err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, BACKEND_SCRIPT, "--port", str(port), "--events", self.events_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        err.close()
        _track(self.proc)
        # The backend prints "PORT <n>" once it listens.
        line = b""
        deadline = time.monotonic() + START_DEADLINE
        os.set_blocking(self.proc.stdout.fileno(), False)
        while not line.endswith(b"\n"):
            if self.proc.poll() is not None:
                raise AssertionError("backend exited early (status %s): %s"
                                     % (self.proc.returncode, _read_file(self.stderr_path)[-2000:]))
            if time.monotonic() > deadline:
                raise AssertionError("backend did not report its port within %.0fs" % START_DEADLINE)
            chunk = self.proc.stdout.read()
            if chunk:
                line += chunk
            else:
                time.sleep(0.005)
        m = re.match(rb"PORT (\d+)", line)
        if not m:
            raise AssertionError("backend printed %r instead of PORT <n>" % line)
        self.port = int(m.group(1))

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def mark(self):
        """Forget the events so far (a shared backend starts each test clean)."""
        try:
            self._offset = os.path.getsize(self.events_path)
        except FileNotFoundError:
            self._offset = 0

    def events(self, kind=None):
        """Events recorded so far (complete lines only), optionally of one kind."""
        out = []
        try:
            with open(self.events_path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return out
        for line in data.split(b"\n")[:-1]:
            rec = json.loads(line)
            if kind is None or rec["event"] == kind:
                out.append(rec)
        return out

    def requests(self):
        return self.events("request")

    def wait_event(self, pred, timeout=5.0, what="a backend event"):
        """Waits for an event for which `pred(event)` is true and returns it."""
        def find():
            for e in self.events():
                if pred(e):
                    return e
            return None
        return wait_until(find, timeout, what)

    def wait_request(self, pred=lambda e: True, timeout=5.0, what="a request at the backend"):
        return self.wait_event(lambda e: e["event"] == "request" and pred(e), timeout, what)

    def wait_conn_closed(self, conn_id, timeout=5.0):
        """Waits until backend connection `conn_id` has ended (EOF, reset or error)."""
        return self.wait_event(lambda e: e["event"] == "close" and e["conn"] == conn_id, timeout,
                               "backend connection %d to be closed by the proxy" % conn_id)

    def is_conn_closed(self, conn_id):
        return any(e["event"] == "close" and e["conn"] == conn_id for e in self.events())

    def check_healthy(self):
        """Fails on internal errors of the backend (harness bugs, not proxy bugs)."""
        errs = self.events("error")
        if errs:
            raise AssertionError("backend internal error:\n%s" % errs[0]["traceback"])

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        _untrack(self.proc)


# -------------------------------------------------------------------- proxy


class Proxy:
    """A tracebridge process listening on 127.0.0.1, with its admin
    endpoints on a port of its own (`admin_port`, None when the test's args
    turn the admin off or name its address)."""

    def __init__(self, upstream, args=(), workers=None, listen_port=None, wait_ready=True,
                 env=None, config=None):
        """`env`: variables applied over the environment (child_env), e.g.
        {"OTEL_PROPAGATORS": "b3multi"}; None inherits it unchanged.
        `config`: a configuration file run with `-c` instead of --listen and
        --upstream (`upstream` is then None); `listen_port` must be the port
        of its first listener, the one probed for readiness."""
        self.port = listen_port or free_port()
        self.upstream = upstream
        self.args = list(args)
        self.workers = workers
        d = test_dir()
        n = _seq("proxy")
        self.log_path = os.path.join(d, "proxy%d.log" % n)
        _state["logs"].append(self.log_path)
        if config is not None:
            cmd = [BINARY, "-c", config]
        else:
            cmd = [BINARY, "--listen", "127.0.0.1:%d" % self.port, "--upstream", upstream]
        # Never the default admin port: it is the same for every proxy.
        self.admin_port = None
        if not _has_admin_flag(self.args):
            self.admin_port = free_port()
            cmd += ["--admin", "127.0.0.1:%d" % self.admin_port]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        cmd += self.args
        self.cmd = cmd
        log = open(self.log_path, "wb")
        log.write(("# %s\n" % " ".join(cmd)).encode())
        log.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     env=child_env(env))
        log.close()
        _track(self.proc)
        self.status = None
        if wait_ready:
            self.wait_ready()

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    @property
    def admin_addr(self):
        if self.admin_port is None:
            raise AssertionError("this proxy has no admin port chosen by the harness")
        return ("127.0.0.1", self.admin_port)

    def admin(self, path, method="GET", timeout=5.0):
        """One request to the admin endpoints: (status, headers dict with
        lower-case names, body bytes)."""
        return admin_request(self.admin_addr, path, method, timeout)

    def metrics(self):
        """/metrics parsed: {(name, ((label, value), ...)): float}, labels sorted."""
        st, hdrs, body = self.admin("/metrics")
        if st != 200:
            raise AssertionError("/metrics answered %d: %r" % (st, body[:300]))
        return parse_metrics(body.decode("utf-8"))

    def wait_ready(self):
        """Connect probe with a deadline; fails at once if the process exited."""
        deadline = time.monotonic() + START_DEADLINE
        while not _connect_ok(self.addr):
            if self.proc.poll() is not None:
                raise AssertionError("tracebridge exited early with status %s: %s\nlog:\n%s"
                                     % (self.proc.returncode, " ".join(self.cmd), self.log()[-3000:]))
            if time.monotonic() > deadline:
                raise AssertionError("tracebridge not accepting on %s:%d within %.0fs"
                                     % (self.addr + (START_DEADLINE,)))
            time.sleep(0.01)

    def log(self):
        return _read_file(self.log_path)

    def log_lines(self, **fields):
        """Log lines (as dicts) whose logfmt fields include all of `fields`."""
        out = []
        for line in self.log().splitlines():
            rec = parse_logfmt(line)
            if all(rec.get(k) == str(v) for k, v in fields.items()):
                out.append(rec)
        return out

    def wait_log(self, timeout=5.0, **fields):
        return wait_until(lambda: self.log_lines(**fields), timeout,
                          "a proxy log line with %s" % " ".join("%s=%s" % kv for kv in fields.items()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Waits for the process to exit by itself; returns its status or None."""
        try:
            self.status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        _untrack(self.proc)
        return self.status

    def stop(self):
        """SIGTERM, wait STOP_GRACE, then SIGKILL. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.status = "killed"
                _untrack(self.proc)
                self._catlog()
                return self.status
        self.status = self.proc.returncode
        _untrack(self.proc)
        self._catlog()
        return self.status

    def _catlog(self):
        if CATLOG:
            sys.stdout.write("    --- %s ---\n" % self.log_path)
            for line in self.log().splitlines():
                sys.stdout.write("    | %s\n" % line)

    def check_exit(self, status):
        if status == "killed":
            raise AssertionError("tracebridge did not exit within %.0fs of SIGTERM (killed)\n%s"
                                 % (STOP_GRACE, _tail(self.log())))
        if status != 0:
            what = ("killed by signal %d" % -status) if status < 0 else "exit status %d" % status
            raise AssertionError("tracebridge ended with %s after SIGTERM (expected 0)\n%s"
                                 % (what, _tail(self.log())))


class RunningProxy:
    """Stands in for Proxy under TB_TEST_USE_RUNNING: nothing to start or stop."""

    def __init__(self, hostport):
        host, _, port = hostport.rpartition(":")
        self.port = int(port)
        self.host = host
        self.log_path = None
        self.admin_port = None

    def admin(self, path, method="GET", timeout=5.0):
        raise Skip("admin endpoints not known with TB_TEST_USE_RUNNING")

    def metrics(self):
        raise Skip("admin endpoints not known with TB_TEST_USE_RUNNING")

    @property
    def addr(self):
        return (self.host, self.port)

    def log(self):
        return ""

    def log_lines(self, **fields):
        return []

    def wait_log(self, timeout=5.0, **fields):
        raise Skip("proxy log not available with TB_TEST_USE_RUNNING")

    def stop(self):
        return 0

    def check_exit(self, status):
        pass


def _tail(text, n=40):
    lines = text.splitlines()
    return "\n".join("    | " + line for line in lines[-n:])


_LOGFMT = re.compile(r'([A-Za-z0-9_.]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line):
    out = {}
    for k, v in _LOGFMT.findall(line):
        if v.startswith('"') and v.endswith('"') and len(v) >= 2:
            v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[k] = v
    return out


# -------------------------------------------------------------------- admin


def admin_request(addr, path, method="GET", timeout=5.0):
    """One HTTP/1.1 request to an admin address: (status, headers with
    lower-case names, body bytes)."""
    conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def _unescape_label(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(v[i + 1], "\\" + v[i + 1]))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse_metrics(text):
    """Prometheus text format samples: {(name, ((label, value), ...)): float},
    labels sorted by name. Fails on a line it cannot read."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError("/metrics line %d unreadable: %r" % (n, line))
        labels = []
        rest = m.group(2) or ""
        while rest:
            lm = _LABEL.match(rest)
            if not lm:
                raise AssertionError("/metrics line %d: bad labels %r" % (n, m.group(2)))
            labels.append((lm.group(1), _unescape_label(lm.group(2))))
            rest = rest[lm.end():]
        key = (m.group(1), tuple(sorted(labels)))
        if key in out:
            raise AssertionError("/metrics line %d repeats a series: %r" % (n, line))
        out[key] = float(m.group(3).replace("+Inf", "inf"))
    return out


def metric(samples, name, **labels):
    """The value of one series of parse_metrics' result; fails when absent."""
    key = (name, tuple(sorted(labels.items())))
    if key not in samples:
        near = sorted(k for k in samples if k[0] == name)
        raise AssertionError("no series %s%r in /metrics; series of that name: %r"
                             % (name, labels, near[:20]))
    return samples[key]


# -------------------------------------------------------------------- stack


class Stack:
    """Backend + proxy for one test.

        with Stack(args=["--header-timeout", "0.5"]) as st:
            r = st.conn().request("GET", "/x")

    `upstream` overrides the proxy's --upstream (then `backend=False` skips
    starting a backend). `env` is passed to the Proxy (variables applied over
    the environment). On exit the proxy gets SIGTERM and must exit 0."""

    def __init__(self, args=(), workers=None, upstream=None, backend=True, env=None):
        self.args = list(args)
        self.env = env
        self.workers = workers
        self.upstream = upstream
        self.want_backend = backend
        self.backend = None
        self.proxy = None

    def __enter__(self):
        custom = (self.args or self.workers or self.upstream or not self.want_backend
                  or self.env is not None)
        if USE_RUNNING and custom:
            raise Skip("needs its own proxy flags; not possible with TB_TEST_USE_RUNNING")
        try:
            if USE_RUNNING:
                # One backend for the whole run, on the port the running proxy forwards to.
                b = _shared["backend"]
                if b is None or b.proc.poll() is not None:
                    b = _shared["backend"] = Backend(RUNNING_BACKEND_PORT)
                    _persistent.add(b.proc.pid)
                b.mark()
                self.backend = b
                self.proxy = RunningProxy(USE_RUNNING)
            elif self.want_backend:
                self.backend = Backend(0)
            if not USE_RUNNING:
                up = self.upstream or self.backend.hostport
                self.proxy = Proxy(up, self.args, self.workers, env=self.env)
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        failure = None
        try:
            self._teardown()
        except AssertionError as e:
            failure = e
        if failure is not None:
            if exc_type is None:
                raise failure
            note(str(failure))
        return False

    def _teardown(self):
        status = None
        if self.proxy is not None:
            status = self.proxy.stop()
        if self.backend is not None and not USE_RUNNING:
            self.backend.stop()
        if self.proxy is not None and not isinstance(self.proxy, RunningProxy):
            self.proxy.check_exit(status)
        if self.backend is not None:
            self.backend.check_healthy()

    @property
    def addr(self):
        return self.proxy.addr

    def conn(self, timeout=client.DEFAULT_TIMEOUT):
        """A new client connection to the proxy."""
        return Conn(self.addr, timeout=timeout)

    def get(self, target="/", headers=None, **kw):
        """One GET on a fresh connection; returns the final response."""
        with self.conn() as c:
            return c.request("GET", target, headers, **kw)


# --------------------------------------------------------------- assertions


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s: expected %r, got %r" % (what, expected, actual))


def ne(actual, unexpected, what):
    if actual == unexpected:
        raise AssertionError("%s: expected anything but %r" % (what, unexpected))


def true(cond, what):
    if not cond:
        raise AssertionError(what)


def contains(haystack, needle, what):
    if needle not in haystack:
        raise AssertionError("%s: %r not found in %r" % (what, needle, _short(haystack)))


def absent(haystack, needle, what):
    if needle in haystack:
        raise AssertionError("%s: %r unexpectedly present in %r" % (what, needle, _short(haystack)))


def between(value, lo, hi, what):
    if not (lo <= value <= hi):
        raise AssertionError("%s: %r not within [%r, %r]" % (what, value, lo, hi))


def _short(x, n=600):
    s = repr(x)
    return s if len(s) <= n else s[:n] + "..."


def status(resp, code, what="response status"):
    if resp.status != code:
        raise AssertionError("%s: expected %d, got %s (%r; head %r; body %r)"
                             % (what, code, resp.status, resp.status_line, resp.raw_head[:400],
                                (resp.body or b"")[:300]))


def closed(conn, what="connection closed by the proxy", timeout=5.0):
    """The proxy closes `conn` within `timeout` without sending anything more."""
    ok, extra = conn.wait_closed(timeout)
    if not ok:
        raise AssertionError("%s: still open after %.1fs" % (what, timeout))
    if extra:
        raise AssertionError("%s: %d unexpected bytes before the close: %r"
                             % (what, len(extra), extra[:200]))


def still_open(conn, what="connection kept open"):
    """Nothing arrives and no EOF within a short poll (keep-alive not closed)."""
    ok, extra = conn.wait_closed(0.2)
    if ok:
        raise AssertionError("%s: the proxy closed it" % what)
    if extra:
        raise AssertionError("%s: unexpected bytes %r" % (what, extra[:200]))


def error_response(resp, code, reason, what="error response"):
    """The proxy's own error: status, phrase, plain text, framing, reason code body."""
    status(resp, code, "%s status" % what)
    eq(resp.version, "HTTP/1.1", "%s version" % what)
    eq(resp.reason, PHRASES.get(code, resp.reason), "%s reason phrase" % what)
    eq(resp.header("Content-Type"), "text/plain; charset=utf-8", "%s Content-Type" % what)
    eq(resp.header("Content-Length"), str(resp.body_len), "%s Content-Length" % what)
    true("close" in resp.tokens("Connection"), "%s: missing Connection: close (headers %r)"
         % (what, resp.headers))
    body = (resp.body or b"").decode("utf-8", "replace")
    true(body.startswith(reason + ": ") and body.endswith("\n") and body.count("\n") == 1,
         "%s body: expected '%s: <text>\\n', got %r" % (what, reason, body))


def proxy_error(st, conn, code, reason, what=None, method="GET"):
    """Reads the proxy's own error response on `conn` and checks all of it:
    status line, headers, `<reason>: <text>` body, the close that follows and
    the `level=warn event=http_error` log line. Returns the response."""
    what = what or "%d %s" % (code, reason)
    r = conn.read_response(method=method)
    error_response(r, code, reason, what)
    closed(conn, "client connection after the %s" % what)
    if not isinstance(st.proxy, RunningProxy):
        line = st.proxy.wait_log(event="http_error", reason=reason)[0]
        eq((line.get("level"), line.get("status")), ("warn", str(code)), "log line of the %s" % what)
        true(line.get("client", "").startswith("127.0.0.1:"), "client address in the log line %r" % line)
    return r


PHRASES = {
    400: "Bad Request", 405: "Method Not Allowed", 408: "Request Timeout",
    414: "URI Too Long", 431: "Request Header Fields Too Large",
    502: "Bad Gateway", 504: "Gateway Timeout",
}


def timeout(seconds):
    """Decorator: per-test time limit used by the runner (default 60 s)."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


def cleanup_root(root):
    if LEAVE:
        sys.stdout.write("test files kept in %s\n" % root)
    else:
        shutil.rmtree(root, ignore_errors=True)
