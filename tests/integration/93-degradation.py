# SPDX-License-Identifier: MIT
"""Dynamic degradation (docs/spans.md, "Degradation"): when span export falls
behind, tracing sheds its own work in steps while proxying goes on.

- A collector that holds every export (fakes/collector.py --hang-while) fills
  a small export queue: the level climbs 0 -> 1 -> 2 -> 3, one log line per
  step naming the queue fill. Every request still succeeds and every request
  the backend receives carries the converted context (b3 in, traceparent out,
  same trace id, the sampled flag as decided — shedding never changes it).
- The collector recovers: the level steps back down by itself, one step per
  calm period, one log line each. What is exported meanwhile shows each level:
  nothing from level 3; from level 2 exactly the trace ids the 1-in-10 rule
  keeps, as reduced spans (essential attributes only); from level 1 the
  same rule, full spans; every span again at level 0.
- Event-loop lag (the process stopped for a moment) raises the level too,
  and it recovers.
- --degrade off: a full queue changes nothing but the drop counter."""

import os
import random
import signal
import time

from lib import harness as h
from lib import spans as S
from lib.harness import Stack

ESSENTIAL = {"http.request.method", "url.path", "url.scheme", "http.response.status_code"}
OPTIONAL = {"client.address", "client.port", "network.peer.address", "network.peer.port",
            "user_agent.original", "network.protocol.version", "http.request.body.size",
            "http.response.body.size", "tracebridge.extracted_format", "tracebridge.injected_formats"}
RECOVER_S = 3.0  # --degrade-recover: long enough for a phase's requests to fit in one level


def uses_running():
    if h.USE_RUNNING:
        raise h.Skip("needs its own proxies, flags and collector")


def thin_keeps(trace_id):
    """Level 1's rule for the default sampler: the low 63 bits of the trace id
    under a tenth of 2^63 (spans/degrade.c tb_degrade_thin_keeps)."""
    return (int(trace_id[16:], 16) >> 1) < (1 << 63) // 10


def random_hex(rng, n):
    while True:
        v = "%0*x" % (n, rng.getrandbits(4 * n))
        if int(v, 16) != 0:
            return v


def changes(proxy):
    """The event=degradation lines, in order, as dicts."""
    return proxy.log_lines(event="degradation")


def wait_change(proxy, frm, to, timeout, what):
    def find():
        for rec in changes(proxy):
            if rec.get("from") == str(frm) and rec.get("to") == str(to):
                return rec
        return None
    return h.wait_until(find, timeout, "%s: a log line event=degradation from=%d to=%d" % (what, frm, to),
                        interval=0.02)


def check_chain(lines, what):
    """One line per change: each starts where the previous ended, one step at a time."""
    level = 0
    for rec in lines:
        h.eq(int(rec["from"]), level, "%s: a change starts at the level the previous one ended: %r" % (what, rec))
        h.eq(abs(int(rec["to"]) - level), 1, "%s: one step per change: %r" % (what, rec))
        level = int(rec["to"])
    return level


class Sent:
    """One request through the proxy and what the backend got for it."""

    def __init__(self, phase, trace_id, span_id, sampled, hop):
        self.phase, self.trace_id, self.in_span_id, self.sampled, self.hop = phase, trace_id, span_id, sampled, hop


def thin_ids(rng, keep, drop):
    """`keep` trace ids the 1-in-10 rule keeps and `drop` ones it drops, shuffled."""
    kept, dropped = [], []
    while len(kept) < keep or len(dropped) < drop:
        t = random_hex(rng, 32)
        if thin_keeps(t):
            kept.append(t)
        else:
            dropped.append(t)
    ids = kept[:keep] + dropped[:drop]
    rng.shuffle(ids)
    return ids


def send(c, sent, phase, rng, trace_id=None, sampled=True):
    """A GET carrying `b3: trace-span-flag` (or no context when trace_id is
    None); checks that the backend got a converted traceparent."""
    what = "%s request %d" % (phase, len(sent))
    if trace_id is None:
        hop = S.hop(c, "GET", "/d/%s/%d" % (phase, len(sent)), [("User-Agent", "deg-test")], what=what)
        h.true(hop.sampled, "%s: a new root is sampled (parentbased_always_on)" % what)
        sent.append(Sent(phase, hop.trace_id, None, True, hop))
        return
    span_id = random_hex(rng, 16)
    b3 = "%s-%s-%d" % (trace_id, span_id, 1 if sampled else 0)
    hop = S.hop(c, "GET", "/d/%s/%d" % (phase, len(sent)), [("b3", b3), ("User-Agent", "deg-test")], what=what)
    h.eq(hop.trace_id, trace_id, "%s: the trace id crosses the hop (b3 -> traceparent)" % what)
    h.ne(hop.span_id, span_id, "%s: the backend's parent is the hop, not the caller" % what)
    h.eq(hop.sampled, sampled, "%s: the sampled flag sent downstream is the sampler's decision" % what)
    h.eq(hop.header("b3"), None, "%s: b3 replaced by traceparent (inject-mode replace)" % what)
    sent.append(Sent(phase, trace_id, span_id, sampled, hop))


@h.timeout(120)
def test_export_backlog_degrades_then_recovers():
    uses_running()
    rng = random.Random(93)
    hold = os.path.join(h.test_dir(), "hold")
    open(hold, "w").close()
    sent = []
    with S.Group() as g:
        col = g.collector("--hang-while", hold)
        # A small queue behind a held export: 8 spans in flight, 4 batches of
        # 8 waiting, then 40 slots; half of them full is the trigger.
        env = S.otlp_env(col, OTEL_BSP_MAX_QUEUE_SIZE="40", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="8",
                         OTEL_EXPORTER_OTLP_TIMEOUT="60000")
        args = ["--degrade-queue-high", "50", "--degrade-lag", "0", "--degrade-recover", str(RECOVER_S)]
        with Stack(args=args, env=env) as st:
            # 1. Load until the level reaches 3: batches of 10 requests every
            # 50 ms or so (bounded: 600 requests, 20 s); the monitor looks
            # four times a second.
            deadline = time.monotonic() + 20
            with st.conn() as c1, st.conn() as c2:
                while not [r for r in changes(st.proxy) if r.get("to") == "3"]:
                    h.true(len(sent) < 600 and time.monotonic() < deadline,
                           "the level did not reach 3 after %d requests; changes: %r" % (len(sent), changes(st.proxy)))
                    for i in range(10):
                        send(c1 if i % 2 else c2, sent, "fill", rng)
                    time.sleep(0.05)
                h.wait_until(lambda: col.events("held"), 5, "an export held at the collector")
                # 2. Level 3: no spans, not even for the traces the 1-in-10 rule
                # keeps; propagation unchanged (sampled and not).
                for i, t in enumerate(thin_ids(rng, 20, 0)):
                    send(c1, sent, "l3", rng, t, sampled=i % 4 != 3)
                up = changes(st.proxy)
                h.eq([(r["from"], r["to"], r["reason"]) for r in up],
                     [("0", "1", "export_queue"), ("1", "2", "export_queue"), ("2", "3", "export_queue")],
                     "one line per step up, naming the export queue")
                for r in up:
                    h.true(float(r["fill"]) >= 0.5, "fill at or above --degrade-queue-high 50: %r" % r)
                    h.eq(r.get("level"), "warn", "a step up is a warning: %r" % r)

                # 3. The collector recovers and the backlog drains; the level
                # stays 3 for a calm period: the queue has room now, and still
                # no span is made.
                os.unlink(hold)
                drained = []

                def settled():
                    drained.append(len(col.otlp_spans()))
                    return len(drained) > 15 and drained[-1] > 0 and drained[-1] == drained[-16]
                h.wait_until(settled, 10, "the backlog exported once the collector answers", interval=0.02)
                for t in thin_ids(rng, 10, 0):
                    send(c2, sent, "l3", rng, t)
                h.eq(len(changes(st.proxy)), 3, "the level-3 requests after the backlog fit in level 3; "
                     "changes: %r" % changes(st.proxy))
                down = wait_change(st.proxy, 3, 2, 15 + RECOVER_S, "after the collector recovered")
                for t in thin_ids(rng, 8, 12):  # paced: the queue stays calm
                    send(c2, sent, "l2", rng, t)
                    time.sleep(0.01)
                h.eq(len(changes(st.proxy)), 4, "the level-2 requests fit in level 2 (no change since 3 -> 2); "
                     "changes: %r" % changes(st.proxy))

                wait_change(st.proxy, 2, 1, 3 * RECOVER_S, "second step down")
                for t in thin_ids(rng, 15, 25):
                    send(c1, sent, "l1", rng, t)
                    time.sleep(0.01)
                for _ in range(3):
                    send(c1, sent, "l1-unsampled", rng, random_hex(rng, 32), sampled=False)
                h.eq(len(changes(st.proxy)), 5, "the level-1 requests fit in level 1; changes: %r" % changes(st.proxy))

                wait_change(st.proxy, 1, 0, 3 * RECOVER_S, "back to normal")
                for _ in range(5):
                    send(c2, sent, "l0", rng, random_hex(rng, 32))
            h.true(float(down["calm_ms"]) >= RECOVER_S * 1000, "a step down after --degrade-recover of calm: %r" % down)

        # Every request succeeded: send() checked the 200 and the headers the backend got.
        lines = changes(st.proxy)
        h.eq(check_chain(lines, "log"), 0, "the level ends at 0")
        h.eq([r["reason"] for r in lines[3:]], ["recovered"] * 3, "the steps down are recoveries")
        stats = st.proxy.log_lines(event="degradation_stats")
        h.eq(len(stats), 1, "one degradation_stats line at shutdown")
        S.diff_dict(stats[0], {"current": "0", "to_0": "1", "to_1": "2", "to_2": "2", "to_3": "1"},
                    "degradation_stats: changes into each level match the log lines")

        spans = S.by_span_id(col.otlp_spans())
        exported = {sid for sid in spans}

        def phase(name):
            return [s for s in sent if s.phase == name]

        for s in phase("l3") + phase("l1-unsampled"):
            h.true(s.hop.span_id not in exported, "%s: no span at level 3 / when not sampled (%s)"
                   % (s.hop.what, s.hop.span_id))
        for name in ("l2", "l1"):
            got = sorted(s.trace_id for s in phase(name) if s.hop.span_id in exported)
            want = sorted(s.trace_id for s in phase(name) if thin_keeps(s.trace_id))
            h.eq(got, want, "level %s exports exactly the traces the 1-in-10 rule keeps" % name[1])
        for s in phase("l2"):
            if not thin_keeps(s.trace_id):
                continue
            sp = spans[s.hop.span_id]
            attrs = set(sp["attributes"])
            h.true(ESSENTIAL <= attrs, "%s: a level-2 span keeps the essential attributes: %r" % (s.hop.what, attrs))
            h.eq(attrs & OPTIONAL, set(), "%s: a level-2 span has no optional attribute" % s.hop.what)
            h.eq(sp["trace_id"], s.trace_id, "%s: trace id" % s.hop.what)
        for s in phase("l1") + phase("l0"):
            if s.hop.span_id in exported:
                attrs = set(spans[s.hop.span_id]["attributes"])
                h.true(ESSENTIAL | OPTIONAL <= attrs, "%s: a full span has every attribute: %r" % (s.hop.what, attrs))
        for s in phase("l0"):
            h.true(s.hop.span_id in exported, "%s: back at level 0, every span is exported" % s.hop.what)

        sp = st.proxy.log_lines(event="span_stats")[-1]
        shed_min = sum(1 for s in phase("l3") if s.sampled) + sum(1 for s in phase("l2") + phase("l1")
                                                                 if not thin_keeps(s.trace_id))
        h.true(int(stats[0]["spans_shed"]) >= shed_min, "spans_shed %s counts at least the level-3 and thinned "
               "spans (%d)" % (stats[0]["spans_shed"], shed_min))
        h.true(int(stats[0]["spans_reduced"]) >= 8, "spans_reduced counts the level-2 spans")
        h.eq(int(sp["started"]), len(sent), "span_stats started: one per request")


@h.timeout(60)
def test_loop_lag_degrades_then_recovers():
    uses_running()
    span_file = os.path.join(h.test_dir(), "spans.jsonl")
    args = ["--exporter", "file", "--span-file", span_file, "--degrade-queue-high", "0",
            "--degrade-lag", "0.1", "--degrade-recover", "0.5"]
    with Stack(args=args, env=S.env()) as st:
        rng = random.Random(7)
        sent = []
        with st.conn() as c:
            send(c, sent, "before", rng, random_hex(rng, 32))
            # Every thread stops for 0.6 s: to the workers' timers, a loop 0.6 s late.
            st.proxy.signal(signal.SIGSTOP)
            try:
                time.sleep(0.6)
            finally:
                st.proxy.signal(signal.SIGCONT)
            first = wait_change(st.proxy, 0, 1, 5, "after a 0.6 s stall")
            h.eq(first["reason"], "loop_lag", "the stall is event-loop lag: %r" % first)
            h.true(int(first["lag_ms"]) >= 100, "lag at or above --degrade-lag 0.1: %r" % first)
            send(c, sent, "after", rng, random_hex(rng, 32))
            h.wait_until(lambda: [r for r in changes(st.proxy) if r.get("to") == "0"], 10,
                         "the level back to 0 (recovered)")
    lines = changes(st.proxy)
    h.eq(check_chain(lines, "log"), 0, "the level ends at 0")
    h.true(all(r["reason"] == "recovered" for r in lines if int(r["to"]) < int(r["from"])),
           "steps down are recoveries: %r" % lines)


@h.timeout(60)
def test_off_changes_nothing():
    uses_running()
    n = 40
    with S.Group() as g:
        col = g.collector("--hang", check=False)
        env = S.otlp_env(col, OTEL_EXPORTER_OTLP_TIMEOUT="5000", OTEL_BSP_MAX_QUEUE_SIZE="4",
                         OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2")
        with Stack(args=["--degrade", "off"], env=env) as st:
            rng = random.Random(1)
            sent = []
            with st.conn() as c:
                for _ in range(n):
                    send(c, sent, "off", rng, random_hex(rng, 32))
            # Absence over time: the monitor would have acted within 4 periods of 250 ms.
            time.sleep(1.5)
            h.eq(changes(st.proxy), [], "--degrade off: no degradation with the queue full")
        _, sp = S.stats(st.proxy)
        S.diff_dict(sp, {"started": n, "sampled": n}, "span_stats: every sampled span reached the queue step")
        h.true(sp["dropped_full"] >= 1, "the queue was full: %r" % sp)
        h.eq(st.proxy.log_lines(event="degradation_stats"), [], "no monitor ran")
