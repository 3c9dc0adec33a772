#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs the tracebridge integration tests.

    python3 tests/integration/run.py [--binary PATH] [NAME_FILTER...]

Test files are tests/integration/NN-topic.py, run in lexical order; in each
file every function named test_* runs in definition order. A NAME_FILTER
keeps the tests whose "NN-topic::test_name" contains it. One line is printed
per test and the last line is "N passed, M failed"; the exit status is 0
exactly when M is 0. Each test has a time limit (60 s unless the test sets
another with @harness.timeout); a test that overruns fails, and every
process it started is killed.
"""

import argparse
import glob
import importlib.util
import os
import resource
import sys
import tempfile
import threading
import time
import traceback

ITEST_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(ITEST_DIR))
DEFAULT_TIMEOUT = 60.0


def parse_args():
    ap = argparse.ArgumentParser(description="tracebridge integration tests")
    ap.add_argument("--binary", default=os.environ.get("TB_BINARY")
                    or os.path.join(REPO_ROOT, "build", "tracebridge"),
                    help="tracebridge binary (default: $TB_BINARY or build/tracebridge)")
    ap.add_argument("--timeout-scale", type=float,
                    default=float(os.environ.get("TB_TEST_TIMEOUT_SCALE", "1")),
                    help="multiply every per-test time limit (e.g. 3 under ASan)")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    ap.add_argument("filters", nargs="*", metavar="NAME_FILTER")
    return ap.parse_args()


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    want = min(want, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def load(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    name = "itest_" + stem.replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def short_traceback(exc):
    """The frames of the test files and the harness, innermost last."""
    frames = traceback.extract_tb(exc.__traceback__)
    keep = [f for f in frames if f.filename.startswith(ITEST_DIR)
            and not f.filename.endswith("run.py")]
    lines = []
    for f in keep[-4:]:
        lines.append("%s:%d in %s: %s" % (os.path.relpath(f.filename, ITEST_DIR), f.lineno,
                                          f.name, (f.line or "").strip()))
    return lines


def main():
    args = parse_args()
    os.environ["TB_BINARY"] = os.path.abspath(args.binary)
    sys.path.insert(0, ITEST_DIR)
    from lib import harness  # after TB_BINARY is set

    raise_fd_limit()
    files = sorted(glob.glob(os.path.join(ITEST_DIR, "[0-9][0-9]-*.py")))
    plan = []
    load_errors = []
    for path in files:
        stem = os.path.splitext(os.path.basename(path))[0]
        try:
            mod = load(path)
        except Exception as e:
            load_errors.append((stem, e))
            continue
        for name, fn in vars(mod).items():
            if name.startswith("test_") and callable(fn):
                full = "%s::%s" % (stem, name)
                if not args.filters or any(f in full for f in args.filters):
                    plan.append((stem, name, full, fn))

    if args.list:
        for _, _, full, _ in plan:
            print(full)
        return 0

    passed = failed = 0
    for stem, e in load_errors:
        if not args.filters or any(f in stem for f in args.filters):
            failed += 1
            print("FAIL %s (import)" % stem)
            for line in traceback.format_exception(type(e), e, e.__traceback__)[-6:]:
                print("    " + line.rstrip().replace("\n", "\n    "))

    if plan and not harness.USE_RUNNING and not os.access(harness.BINARY, os.X_OK):
        print("FAIL setup: tracebridge binary not found or not executable: %s" % harness.BINARY)
        print("    build it first (make), or pass --binary PATH / set TB_BINARY")
        print("%d passed, %d failed" % (passed, failed + 1))
        return 1

    root = tempfile.mkdtemp(prefix="tb-itest-")
    harness.set_root(root)
    suite_start = time.monotonic()
    try:
        for stem, name, full, fn in plan:
            limit = getattr(fn, "timeout", DEFAULT_TIMEOUT) * args.timeout_scale
            harness.begin_test(stem, name)
            outcome = {}

            def body(fn=fn, outcome=outcome):
                try:
                    fn()
                    outcome["ok"] = True
                except BaseException as e:  # noqa: B902 - report everything
                    outcome["exc"] = e

            t0 = time.monotonic()
            th = threading.Thread(target=body, name=full, daemon=True)
            th.start()
            th.join(limit)
            if th.is_alive():
                harness.kill_all()
                th.join(10)
                outcome = {"exc": AssertionError("test timed out after %.0fs; its processes "
                                                 "were killed" % limit)}
            harness.kill_all()
            dt = time.monotonic() - t0
            exc = outcome.get("exc")
            if outcome.get("ok"):
                passed += 1
                print("ok   %s (%.2fs)" % (full, dt))
            elif isinstance(exc, harness.Skip):
                print("skip %s (%s)" % (full, exc))
            else:
                failed += 1
                print("FAIL %s (%.2fs)" % (full, dt))
                kind = "" if isinstance(exc, AssertionError) else type(exc).__name__ + ": "
                for line in (kind + str(exc)).splitlines() or ["(no message)"]:
                    print("    " + line)
                for line in short_traceback(exc):
                    print("    at " + line)
                for n in harness.notes():
                    for line in n.splitlines():
                        print("    note: " + line)
                for log in harness.logs():
                    text = open(log, "rb").read().decode("utf-8", "replace").splitlines()
                    if text:
                        print("    last lines of %s:" % os.path.relpath(log, root))
                        for line in text[-12:]:
                            print("    | " + line[:300])
            sys.stdout.flush()
    finally:
        harness.kill_all(final=True)
        harness.cleanup_root(root)
    print("# total %.1fs" % (time.monotonic() - suite_start), file=sys.stderr)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
