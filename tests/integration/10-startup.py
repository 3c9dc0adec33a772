# SPDX-License-Identifier: MIT
"""Command line, startup log and the first request through the proxy."""

import re
import signal

from lib import harness as h
from lib.harness import Stack

FLAGS = ["--listen", "--upstream", "--workers", "--connect-timeout", "--header-timeout",
         "--upstream-timeout", "--idle-timeout", "--drain-timeout", "--max-header-size",
         "--max-request-line", "--max-idle-upstream", "--help", "--version"]


def _needs_binary():
    if h.USE_RUNNING:
        raise h.Skip("runs the binary itself")


def test_help_lists_every_flag():
    _needs_binary()
    rc, out, err = h.run_binary(["--help"])
    h.eq(rc, 0, "--help exit status")
    for flag in FLAGS:
        h.contains(out, flag, "--help output on stdout lists %s" % flag)


def test_version():
    _needs_binary()
    rc, out, err = h.run_binary(["--version"])
    h.eq(rc, 0, "--version exit status")
    h.true(re.fullmatch(r"tracebridge \S+\n?", out),
           "--version prints 'tracebridge <version>', got %r" % out)


BAD = [
    (["--bogus"], "--bogus"),
    (["--workers", "abc"], "--workers"),
    (["--workers", "0"], "--workers"),
    (["--workers", "-1"], "--workers"),
    (["--header-timeout", "abc"], "--header-timeout"),
    (["--header-timeout", "-1"], "--header-timeout"),
    (["--connect-timeout", "1x"], "--connect-timeout"),
    (["--upstream-timeout", ""], "--upstream-timeout"),
    (["--idle-timeout", "nan"], "--idle-timeout"),
    (["--drain-timeout", "ten"], "--drain-timeout"),
    (["--max-header-size", "abc"], "--max-header-size"),
    (["--max-header-size", "-5"], "--max-header-size"),
    (["--max-request-line", "1e3x"], "--max-request-line"),
    (["--max-idle-upstream", "many"], "--max-idle-upstream"),
    (["--listen", "no-port-here"], "--listen"),
    (["--listen", "127.0.0.1:99999"], "--listen"),
    (["--upstream", "127.0.0.1:notaport"], "--upstream"),
]


def test_bad_flags_exit_2_and_name_the_flag():
    _needs_binary()
    base = {"--listen": "127.0.0.1:%d" % h.free_port(), "--upstream": "127.0.0.1:%d" % h.free_port()}
    for bad, flag in BAD:
        args = []
        for k, v in base.items():
            if k not in bad:
                args += [k, v]
        args += bad
        rc, out, err = h.run_binary(args)
        h.eq(rc, 2, "exit status for %r" % (bad,))
        h.contains(err, flag, "stderr names the flag for %r" % (bad,))


def test_flag_missing_its_value():
    _needs_binary()
    rc, out, err = h.run_binary(["--upstream", "127.0.0.1:%d" % h.free_port(), "--listen"])
    h.eq(rc, 2, "exit status when --listen has no value")
    h.contains(err, "--listen", "stderr names the flag")


def test_missing_upstream():
    _needs_binary()
    rc, out, err = h.run_binary(["--listen", "127.0.0.1:%d" % h.free_port()])
    h.eq(rc, 2, "exit status without --upstream")
    h.contains(err, "--upstream", "stderr names the missing flag")


def test_starts_logs_listening_and_proxies():
    with Stack() as st:
        line = st.proxy.wait_log(event="listening")[0]
        h.eq(line.get("level"), "info", "level of the listening line")
        h.eq(line.get("address"), "127.0.0.1:%d" % st.proxy.port, "address of the listening line")
        h.eq(line.get("worker"), "0", "worker of the listening line")
        r = st.get("/hello?x=1")
        h.status(r, 200)
        e = r.json()
        h.eq(e["target"], "/hello?x=1", "target seen upstream")


def test_two_workers_both_listen():
    with Stack(workers=2) as st:
        st.proxy.wait_log(event="listening", worker=0)
        st.proxy.wait_log(event="listening", worker=1)
        for i in range(8):
            h.status(st.get("/w%d" % i), 200, "request %d with --workers 2" % i)


def test_every_flag_accepted_with_fractional_durations():
    args = ["--connect-timeout", "0.5", "--header-timeout", "0.3", "--upstream-timeout", "2.5",
            "--idle-timeout", "1.5", "--drain-timeout", "0.25", "--max-header-size", "32768",
            "--max-request-line", "4096", "--max-idle-upstream", "4"]
    with Stack(args=args, workers=1) as st:
        h.status(st.get("/"), 200, "request with every flag set")


def test_sigint_exits_0():
    with Stack() as st:
        h.status(st.get("/"), 200)
        st.proxy.signal(signal.SIGINT)
        h.eq(st.proxy.wait_exit(10), 0, "exit status after SIGINT")
