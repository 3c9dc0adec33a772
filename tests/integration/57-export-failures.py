# SPDX-License-Identifier: MIT
"""Span export when the tracing backend misbehaves (docs/spans.md): the
data path never waits on export, so every proxied request still succeeds at
normal latency, and every span is accounted for in the shutdown counters
(event=export_stats / event=span_stats): exported + failed + dropped_full =
sampled.

- 503 / 429 / 504 then 200: retried, every span delivered exactly once
  (unique span ids; a retry re-sends the same spans; no duplicates);
- 400: not retried, the batch counted as failed;
- Retry-After: the retry waits at least about that long;
- receiver down (port closed) and receiver hanging (OTEL_EXPORTER_OTLP_TIMEOUT
  ends the attempt): spans failed and counted, the proxy exits 0 promptly;
- a full queue (OTEL_BSP_MAX_QUEUE_SIZE) drops spans and counts them."""

import statistics
import time

from lib import harness as h
from lib import spans as S
from lib import sw
from lib.harness import Stack


def uses_running():
    if h.USE_RUNNING:
        raise h.Skip("needs its own proxies, flags and collector")


def traffic(st, n, what="request"):
    """n requests on two keep-alive connections; returns (hops, latencies in s)."""
    hops, lat = [], []
    with st.conn() as c1, st.conn() as c2:
        for i in range(n):
            c = c1 if i % 2 == 0 else c2
            t0 = time.monotonic()
            hops.append(S.hop(c, "GET", "/f/%d" % i, [], what="%s %d" % (what, i)))
            lat.append(time.monotonic() - t0)
    return hops, lat


def check_latency(lat, what, limit=1.0):
    h.true(max(lat) < limit, "%s: a proxied request took %.3fs (max allowed %.1fs): the data path waited on "
           "export? latencies %r" % (what, max(lat), limit, [round(x, 3) for x in lat]))
    h.true(statistics.median(lat) < 0.2, "%s: median latency %.3fs" % (what, statistics.median(lat)))


def conserved(exp, sp, exporter, what):
    e = exp.get(exporter)
    h.true(e is not None, "%s: no export_stats line for exporter=%s (lines for %s)" % (what, exporter, sorted(exp)))
    h.eq(e["exported"] + e["failed"] + sp["dropped_full"], sp["sampled"],
         "%s: exported %d + failed %d + dropped_full %d must account for every sampled span"
         % (what, e["exported"], e["failed"], sp["dropped_full"]))
    return e


@h.timeout(90)
def test_retryable_failures_then_every_span_once():
    uses_running()
    n = 20
    with S.Group() as g:
        ocol = g.collector("--fail-first", 2, "--fail-status", 503)
        zcol = g.collector("--fail-first", 1, "--fail-status", 429)
        scol = g.collector("--fail-first", 1, "--fail-status", 504)
        args = ["--exporter", "otlp,zipkin,skywalking", "--zipkin-endpoint", zcol.url("/api/v2/spans"),
                "--skywalking-endpoint", scol.url()]
        with Stack(args=args, env=S.otlp_env(ocol, OTEL_BSP_MAX_EXPORT_BATCH_SIZE="8")) as st:
            hops, lat = traffic(st, n)
            check_latency(lat, "while the receivers fail")
            ocol.wait_otlp(n, timeout=30)
            zcol.wait_zipkin(n, timeout=30)
            scol.wait_segments(n, timeout=30)
        want = sorted(hp.span_id for hp in hops)
        h.eq(sorted(S.by_span_id(ocol.otlp_spans())), want, "OTLP: every span delivered exactly once")
        h.eq(sorted(S.by_span_id(zcol.zipkin_spans(), key="id")), want, "Zipkin: every span delivered exactly once")
        seg_ids = sorted(sw.segment_id_to_span_id(s["traceSegmentId"], 1) for s in scol.segments())
        h.eq(seg_ids, want, "SkyWalking: every hop's segment delivered exactly once")

        def ids_of(e, kind):
            if kind == "otlp":
                return {s["span_id"] for s in e["spans"]}
            if kind == "zipkin":
                return {s["id"] for s in e["decoded"]}
            return {sw.segment_id_to_span_id(s["traceSegmentId"], 1) for s in e["decoded"]}

        exp, sp = S.stats(st.proxy)
        S.diff_dict(sp, {"started": n, "sampled": n, "dropped_full": 0}, "span_stats")
        for kind, col, fails in (("otlp", ocol, 2), ("zipkin", zcol, 1), ("skywalking", scol, 1)):
            forced = [e for e in col.requests() if e["forced"]]
            h.eq(len(forced), fails, "%s: forced failures answered" % kind)
            delivered = set()
            for e in col.accepted():
                delivered |= ids_of(e, kind)
            for e in forced:
                h.true(ids_of(e, kind) and ids_of(e, kind) <= delivered,
                       "%s: the spans of a failed attempt (%s) must be delivered by a retry"
                       % (kind, sorted(ids_of(e, kind))))
            e = conserved(exp, sp, kind, kind)
            S.diff_dict(e, {"exported": n, "failed": 0, "requests": len(col.requests()), "errors": fails},
                        "export_stats exporter=%s" % kind)
            h.true(e["retries"] >= fails, "%s: retries %d, at least one per failed attempt (%d)"
                   % (kind, e["retries"], fails))


@h.timeout(60)
def test_non_retryable_status_fails_the_batch():
    uses_running()
    with S.Group() as g:
        col = g.collector("--fail-first", 1, "--fail-status", 400)
        with Stack(args=[], env=S.otlp_env(col)) as st:
            first, _ = traffic(st, 1, "first")
            h.wait_until(lambda: col.requests(), 5, "the first export attempt")
            later, _ = traffic(st, 2, "later")
            col.wait_otlp(2)
            time.sleep(1.5)  # a (wrong) retry of the refused batch would come within the 1 s backoff
        h.eq(len(col.requests()), 2, "one refused request, one accepted; the 400 was not retried")
        h.eq(sorted(s["span_id"] for s in col.otlp_spans()), sorted(hp.span_id for hp in later),
             "the spans after the refused batch are delivered")
        h.eq([s["span_id"] for s in col.requests()[0]["spans"]], [first[0].span_id],
             "the refused batch held the first span")
        exp, sp = S.stats(st.proxy)
        e = conserved(exp, sp, "otlp", "400")
        S.diff_dict(e, {"exported": 2, "failed": 1, "retries": 0, "errors": 1, "requests": 2}, "export_stats")


@h.timeout(60)
def test_retry_after_is_honoured():
    uses_running()
    with S.Group() as g:
        col = g.collector("--fail-first", 1, "--fail-status", 503, "--retry-after", 3)
        with Stack(args=[], env=S.otlp_env(col)) as st:
            hops, _ = traffic(st, 1)
            col.wait_otlp(1, timeout=20)
        reqs = col.requests()
        h.eq([(e["forced"], e["status_sent"]) for e in reqs], [(True, 503), (False, 200)],
             "one 503 with Retry-After: 3, then the retry")
        gap = reqs[1]["received"] - reqs[0]["received"]
        h.between(gap, 2.5, 10.0, "seconds between the 503 with Retry-After: 3 and the retry")
        h.eq([s["span_id"] for s in reqs[1]["spans"]], [hops[0].span_id], "the retry carries the span")


@h.timeout(60)
def test_receiver_down():
    uses_running()
    dead = h.free_port()
    env = S.env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:%d/v1/traces" % dead,
                OTEL_EXPORTER_OTLP_TIMEOUT="500")
    n = 10
    with Stack(args=[], env=env) as st:
        hops, lat = traffic(st, n)
        check_latency(lat, "receiver down")
        h.true(all(hp.sampled for hp in hops), "hops are sampled")
        time.sleep(0.5)  # let the exporter try (and fail) at least once
        t_stop = time.monotonic()
        status = st.proxy.stop()
        stop_s = time.monotonic() - t_stop
    st.proxy.check_exit(status)
    h.true(stop_s < 8.0, "the proxy took %.1fs to stop with the receiver down" % stop_s)
    exp, sp = S.stats(st.proxy)
    S.diff_dict(sp, {"started": n, "sampled": n, "dropped_full": 0}, "span_stats")
    e = conserved(exp, sp, "otlp", "receiver down")
    S.diff_dict(e, {"exported": 0, "failed": n}, "export_stats with the receiver down")
    h.true(e["requests"] >= 1 and e["errors"] >= 1, "the exporter tried and counted errors: %r" % e)


@h.timeout(60)
def test_receiver_hanging():
    uses_running()
    n = 10
    with S.Group() as g:
        col = g.collector("--hang", check=False)
        env = S.otlp_env(col, OTEL_EXPORTER_OTLP_TIMEOUT="300")
        with Stack(args=[], env=env) as st:
            hops, lat = traffic(st, n)
            check_latency(lat, "receiver hanging")
            first = h.wait_until(lambda: col.requests(), 5, "an export attempt at the hanging collector")[0]
            # OTEL_EXPORTER_OTLP_TIMEOUT=300 ms: the proxy gives up that attempt and closes.
            h.wait_until(lambda: [e for e in col.events("close") if e["conn"] == first["conn"]], 3.0,
                         "the proxy to abandon the hung export (OTEL_EXPORTER_OTLP_TIMEOUT=300)")
            hops2, lat2 = traffic(st, 3, "after the timeout")
            check_latency(lat2, "after an export timed out")
            t_stop = time.monotonic()
            status = st.proxy.stop()
            stop_s = time.monotonic() - t_stop
        st.proxy.check_exit(status)
        h.true(stop_s < 8.0, "the proxy took %.1fs to stop with the receiver hanging" % stop_s)
        h.true(all(e["status_sent"] is None for e in col.requests()), "the collector never answered")
        exp, sp = S.stats(st.proxy)
        S.diff_dict(sp, {"started": n + 3, "sampled": n + 3}, "span_stats")
        e = conserved(exp, sp, "otlp", "receiver hanging")
        h.eq(e["exported"], 0, "nothing exported to a receiver that never answers")
        h.true(e["errors"] >= 1, "timeouts counted as errors: %r" % e)


@h.timeout(60)
def test_full_queue_drops_and_counts():
    uses_running()
    n = 40
    with S.Group() as g:
        col = g.collector("--hang", check=False)
        env = S.otlp_env(col, OTEL_EXPORTER_OTLP_TIMEOUT="2000", OTEL_BSP_MAX_QUEUE_SIZE="4",
                         OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2")
        # A full queue also triggers degradation (93-degradation), which would
        # shed some of these spans before the queue: off, to count the drops.
        with Stack(args=["--degrade", "off"], env=env) as st:
            hops, lat = traffic(st, n)
            check_latency(lat, "queue full")
        exp, sp = S.stats(st.proxy)
        S.diff_dict(sp, {"started": n, "sampled": n}, "span_stats")
        h.true(sp["dropped_full"] >= 1, "a queue of 4 behind a hanging receiver must drop some of %d spans: %r"
               % (n, sp))
        e = conserved(exp, sp, "otlp", "queue full")
        h.eq(e["exported"], 0, "nothing exported")


@h.timeout(60)
def test_hanging_receiver_does_not_hold_back_another():
    """OTLP receiver hangs, Zipkin receiver healthy: every span reaches
    Zipkin promptly; the OTLP exporter keeps a bounded backlog (one request
    in flight, at most 4 batches waiting, the oldest dropped as failed), and
    per exporter exported + failed + dropped_full = sampled."""
    uses_running()
    n = 24
    with S.Group() as g:
        hang = g.collector("--hang", check=False)
        zcol = g.collector()
        env = S.otlp_env(hang, OTEL_EXPORTER_OTLP_TIMEOUT="5000", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2")
        with Stack(args=["--exporter", "otlp,zipkin", "--zipkin-endpoint", zcol.url("/api/v2/spans")],
                   env=env) as st:
            hops = []
            with st.conn() as c:
                for i in range(n):
                    t0 = time.monotonic()
                    hops.append(S.hop(c, "GET", "/m/%d" % i))
                    h.true(time.monotonic() - t0 < 1.0, "request %d took %.2fs" % (i, time.monotonic() - t0))
                    time.sleep(0.03)
            zcol.wait_zipkin(n, timeout=5)
            h.eq(len(hang.requests()), 1, "one OTLP request in flight at the hanging receiver (no second one "
                 "while the first has no answer)")
        h.eq(sorted(z["id"] for z in zcol.zipkin_spans()), sorted(hp.span_id for hp in hops),
             "every span reached the healthy Zipkin receiver once")
        exp, sp = S.stats(st.proxy)
        S.diff_dict(sp, {"started": n, "sampled": n, "dropped_full": 0}, "span_stats")
        S.diff_dict(exp["zipkin"], {"exported": n, "failed": 0}, "zipkin export_stats")
        e = conserved(exp, sp, "otlp", "hanging otlp")
        S.diff_dict(e, {"exported": 0, "failed": n}, "otlp export_stats")
