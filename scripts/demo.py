#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make demo: shows tracebridge doing its job with nothing else running.

Starts the project's echo backend and the proxy on 127.0.0.1, sends a few
requests through, and prints what the backend received. Standard library only.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND = os.path.join(ROOT, "tests", "integration", "fakes", "backend.py")


# Java-agent style sw8 (protocols reference, vector 47): service svc-a calling
# /a/get on 10.0.0.6:8080, trace de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001.
SW8_VECTOR = ("1-ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ==-"
              "ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMA==-2-"
              "c3ZjLWE=-aW5zdC1hQDEwLjAuMC41-L2EvZ2V0-MTAuMC4wLjY6ODA4MA==")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit("demo: process exited early with status %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("demo: nothing listening on port %d" % port)


def exchange(port, raw, sock=None):
    """Sends raw bytes, returns (status line, headers dict, body, socket)."""
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return lines[0], headers, body, s


def show_head(title, received):
    print("\n== %s" % title)
    print("   the backend received:")
    for line in received["head"].rstrip("\r\n").split("\r\n"):
        print("   | " + line)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "tracebridge")
    events = tempfile.NamedTemporaryFile(prefix="tracebridge-demo-", suffix=".jsonl")
    spans = tempfile.NamedTemporaryFile(prefix="tracebridge-demo-spans-", suffix=".jsonl")
    backend = subprocess.Popen([sys.executable, BACKEND, "--events", events.name],
                               stdout=subprocess.PIPE, text=True)
    backend_port = int(backend.stdout.readline().split()[1])
    proxy_port = free_port()
    admin_port = free_port()  # never the default 9901: another proxy may hold it
    proxy = subprocess.Popen([binary, "--listen", "127.0.0.1:%d" % proxy_port,
                              "--admin", "127.0.0.1:%d" % admin_port,
                              "--upstream", "127.0.0.1:%d" % backend_port,
                              "--propagators", "tracecontext,baggage,b3",
                              "--service-name", "demo-gateway",
                              "--service-instance", "demo-gateway-1@127.0.0.1",
                              "--span-file", spans.name],
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(proxy_port, proxy)
        print("tracebridge listens on 127.0.0.1:%d, in front of a backend on 127.0.0.1:%d"
              % (proxy_port, backend_port))
        print("(--propagators tracecontext,baggage,b3: the backend speaks W3C and Zipkin B3)")

        incoming = [("sw8", SW8_VECTOR), ("sw8-correlation", "dGVuYW50:YWNtZQ=="),
                    ("User-Agent", "skywalking-java-agent-demo")]
        _, _, body, s = exchange(proxy_port, (
            "GET /api/orders?id=7 HTTP/1.1\r\nHost: shop.example\r\n"
            + "".join("%s: %s\r\n" % h for h in incoming) + "\r\n").encode())
        s.close()
        traced = json.loads(body)
        print("\n== 0. a SkyWalking caller: sw8 in, W3C traceparent + baggage and B3 out")
        print("   the client sent:")
        for name, value in incoming:
            print("   > %s: %s" % (name, value))
        print("   the backend received:")
        for line in traced["head"].rstrip("\r\n").split("\r\n"):
            print("   | " + line)
        received = {}
        for line in traced["head"].split("\r\n")[1:]:
            name, _, value = line.partition(":")
            received[name.strip().lower()] = value.strip()
        print("   the SkyWalking trace id de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001 maps")
        print("   to W3C trace %s (the OpenTelemetry collector's mapping);"
              % received.get("traceparent", "?").split("-")[1])
        print("   the original id travels in tracestate, so a tracebridge further down restores it.")
        for title, lines in (("what arrived", incoming),
                             ("what the backend received",
                              [(n, v) for n, v in received.items()
                               if n in ("traceparent", "tracestate", "b3", "baggage")])):
            print("\n   tracebridge decode, %s:" % title)
            out = subprocess.run([binary, "decode", "--propagators", "tracecontext,baggage,b3"],
                                 input="".join("%s: %s\n" % h for h in lines), text=True,
                                 capture_output=True, timeout=10)
            if out.returncode != 0:
                sys.exit("demo: tracebridge decode failed: " + out.stderr)
            for line in out.stdout.rstrip("\n").split("\n"):
                print("   | " + line)

        _, _, body, s = exchange(proxy_port, (
            b"GET http://shop.example/cart?id=7 HTTP/1.1\r\n"
            b"Host: ignored.example\r\n"
            b"Connection: keep-alive, X-Internal-Token\r\n"
            b"X-Internal-Token: hop-by-hop, never forwarded\r\n"
            b"Keep-Alive: timeout=5\r\n"
            b"Accept: text/html\r\nAccept: application/json\r\n"
            b"X-Forwarded-For: 203.0.113.9\r\n\r\n"))
        first = json.loads(body)
        show_head("1. absolute-form target, hop-by-hop headers, repeated headers", first)
        print("   origin-form target, Host from the target, Connection and what it names removed,")
        print("   repeated Accept kept in order, X-Forwarded-For / -Proto appended.")

        _, _, body, _ = exchange(proxy_port, (
            b"POST /upload HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n"), sock=s)
        second = json.loads(body)
        show_head("2. chunked upload on the same client connection", second)
        print("   body streamed with its framing: %d bytes, chunked=%s, trailers=%s"
              % (second["body_len"], second["chunked"], second["trailers"]))
        print("   upstream connection reused: request 1 on backend connection %d, request 2 on %d"
              % (first["conn"], second["conn"]))
        s.close()

        status, _, body, s = exchange(proxy_port, (
            b"POST /transfer HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
        s.close()
        print("\n== 3. a request-smuggling attempt (Content-Length and Transfer-Encoding)")
        print("   the client got: %s -- %s" % (status, body.decode().strip()))
        with open(events.name, encoding="utf-8") as f:
            requests = [json.loads(line) for line in f if '"event":"request"' in line]
        print("   requests the backend received in all: %d (sections 0 to 2; not this one)" % len(requests))

        print("\n== 4. the admin endpoint: http://127.0.0.1:%d/metrics (docs/admin.md), in part"
              % admin_port)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port, timeout=5) as r:
            metrics = r.read().decode("utf-8")
        for line in metrics.splitlines():
            if (line.startswith(("tracebridge_requests_total", "tracebridge_conversions_total",
                                 "tracebridge_context_extracted_total"))
                    and not line.endswith(" 0")):
                print("   | " + line)
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=30)
        backend.send_signal(signal.SIGTERM)
        backend.wait(timeout=10)
    print("\n== spans the proxy exported (file exporter, one JSON line each; see docs/spans.md)")
    with open(spans.name, encoding="utf-8") as f:
        exported = [json.loads(line) for line in f if line.strip()]
    for sp in exported:
        a = sp["attributes"]
        print("   %s %s %-4s %-12s status=%s extracted=%s injected=%s parent=%s" % (
            sp["trace_id"], sp["span_id"], sp["name"], a.get("url.path"),
            a.get("http.response.status_code"), a.get("tracebridge.extracted_format"),
            ",".join(a.get("tracebridge.injected_formats", [])), sp["parent_span_id"]))
    if exported:
        print("   the first one in full:")
        for line in json.dumps(exported[0], indent=2).split("\n"):
            print("   | " + line)
    print("\n== proxy log")
    for line in proxy.stderr.read().splitlines():
        print("   " + line)
    print("\ntracebridge exited with status %d after SIGTERM" % proxy.returncode)
    return proxy.returncode


if __name__ == "__main__":
    sys.exit(main())
