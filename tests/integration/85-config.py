# SPDX-License-Identifier: MIT
"""The configuration file (docs/configuration.md): `check-config` on every
example of deploy/examples/, errors located at FILE:LINE:COLUMN, a proxy run
from `-c FILE` serving real requests, precedence (file < environment < flag)
seen through check-config, and the flags, the man page and
docs/configuration.md kept in step."""

import glob
import json
import os
import re

from lib import harness as h

EXAMPLES = os.path.join(h.REPO_ROOT, "deploy", "examples")
CONFIG_DOC = os.path.join(h.REPO_ROOT, "docs", "configuration.md")
MAN_PAGE = os.path.join(h.REPO_ROOT, "docs", "tracebridge.1")

# Variables that would leak from the environment running the tests into the
# configuration under test.
CLEAN_ENV = {k: None for k in os.environ if k.startswith(("TRACEBRIDGE_", "OTEL_"))}


def _needs_binary():
    if h.USE_RUNNING:
        raise h.Skip("runs the binary itself")


def write(name, text):
    path = os.path.join(h.test_dir(), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def check_config(args, env=None, what="check-config"):
    """Runs `tracebridge check-config ARGS`; returns the parsed JSON."""
    _needs_binary()
    e = dict(CLEAN_ENV)
    e.update(env or {})
    rc, out, err = h.run_binary(["check-config"] + list(args), env=e)
    h.eq(rc, 0, "%s: exit status (stderr %r)" % (what, err[-600:]))
    try:
        return json.loads(out)
    except ValueError as ex:
        raise AssertionError("%s: stdout is not one JSON document (%s): %r" % (what, ex, out[:600]))


def check_config_fails(args, env=None):
    """Runs check-config expecting errors; returns stderr."""
    _needs_binary()
    e = dict(CLEAN_ENV)
    e.update(env or {})
    rc, out, err = h.run_binary(["check-config"] + list(args), env=e)
    h.eq(rc, 2, "exit status on errors (stderr %r)" % err[-600:])
    h.eq(out, "", "nothing on stdout on errors")
    return err


def route(doc, listener, name):
    for l in doc["listeners"]:
        if l["name"] == listener:
            for r in l["routes"]:
                if r["name"] == name:
                    return r
    raise AssertionError("no route %s in listener %s" % (name, listener))


def listener(doc, name):
    for l in doc["listeners"]:
        if l["name"] == name:
            return l
    raise AssertionError("no listener %s" % name)


ALL_FORMATS = ["tracecontext", "baggage", "b3", "b3multi", "jaeger", "xray", "ottrace", "datadog", "sw8",
               "eagleeye"]


def _legacy_b3(d):
    h.eq(d["propagation"]["inject"], ["b3multi"], "legacy-b3: only b3multi injected")
    h.eq(d["propagation"]["extract"], ALL_FORMATS, "legacy-b3: every format extracted")
    h.eq(d["export"]["exporters"], ["zipkin"], "legacy-b3: exporters")
    h.eq(route(d, "billing", "billing")["propagation"]["inject"], ["b3multi"], "legacy-b3: the route inherits")
    h.eq(d["clusters"][0]["endpoints"], ["127.0.0.1:8081"], "legacy-b3: the service")


def _k8s_sidecar(d):
    inbound, outbound = listener(d, "inbound"), listener(d, "outbound")
    h.eq(inbound["address"], "0.0.0.0:15006", "sidecar: inbound address")
    h.eq(inbound["trust"], "restart-and-link", "sidecar: the public inbound side restarts and links")
    h.eq(inbound["role"], "inbound", "sidecar: inbound role")
    h.eq(outbound["address"], "127.0.0.1:15001", "sidecar: outbound address")
    h.eq(outbound["role"], "outbound", "sidecar: outbound role")
    h.eq(d["shutdown"]["delay"], 5, "sidecar: shutdown delay")
    h.eq(d["admin"]["address"], "0.0.0.0:9901", "sidecar: admin for probes")
    inv = route(d, "outbound", "legacy-inventory")
    h.eq(inv["propagation"]["inject"], ["b3multi"], "sidecar: the inventory route injects b3multi")
    h.eq(inv["propagation"]["extract"], d["propagation"]["extract"], "sidecar: and inherits extract")
    h.eq(route(d, "outbound", "payments")["timeouts"], {"connect": 1, "upstream": 10},
         "sidecar: payments timeouts, connect inherited")
    h.eq(route(d, "inbound", "app")["cluster"], "app", "sidecar: inbound goes to the app")
    h.eq([c["endpoints"] for c in d["clusters"] if c["name"] == "app"], [["127.0.0.1:8080"]],
         "sidecar: the app on 127.0.0.1:8080")


def _skywalking_to_otel(d):
    h.eq(d["propagation"]["extract"][0], "sw8", "migration: sw8 extracted first")
    h.eq(d["propagation"]["inject"], ["tracecontext", "baggage", "sw8"], "migration: injected formats")
    h.eq(d["export"]["exporters"], ["otlp", "skywalking"], "migration: both backends")
    h.eq(d["export"]["otlp"]["headers"], {"x-tenant": "shop"}, "migration: OTLP headers")
    h.eq(route(d, "orders", "other")["sampling"], {"sampler": "parentbased_traceidratio", "arg": 0.05},
         "migration: per-route sampling")


SPOT_CHECKS = {
    "legacy-b3.yaml": _legacy_b3,
    "k8s-sidecar.yaml": _k8s_sidecar,
    "skywalking-to-otel.yaml": _skywalking_to_otel,
}


def test_every_example_loads():
    """Every tracebridge configuration in deploy/examples/ passes check-config
    and says what its comments promise. Kubernetes manifests are skipped."""
    seen = []
    for path in sorted(glob.glob(os.path.join(EXAMPLES, "*.yaml"))):
        with open(path) as f:
            if re.search(r"^apiVersion:", f.read(), re.M):
                continue
        name = os.path.basename(path)
        doc = check_config([path], what=name)
        h.eq(doc["config_file"], path, "%s: the file named in the output" % name)
        h.true(name in SPOT_CHECKS, "%s has spot checks in this test" % name)
        SPOT_CHECKS[name](doc)
        seen.append(name)
    h.eq(sorted(seen), sorted(SPOT_CHECKS), "examples checked")


def test_errors_name_file_line_column():
    cases = [
        ("timeouts:\n  connect: 5s\n  conect: 1s\n",
         ":3:3: timeouts: unknown key 'conect' (expected one of: connect, header, upstream, idle)"),
        ("workers: {n: 2}\n", ":1:10: workers: expected a scalar (N), found a mapping"),
        ("workers: 2\nworkers: 3\n", ":2:1: workers: duplicate key (first at line 1)"),
        ("listeners:\n"
         "  - name: a\n"
         "    address: 127.0.0.1:1\n"
         "    routes:\n"
         "      - {cluster: app}\n"
         "      - {cluster: ap}\n"
         "clusters:\n"
         "  - {name: app, endpoints: [127.0.0.1:2]}\n"
         "  - {name: legacy, endpoints: [127.0.0.1:3]}\n",
         ":6:19: listeners[0].routes[1].cluster: unknown cluster 'ap' (clusters: app, legacy)"),
        ("listeners: [\n", ":2:1: did not find expected node content while parsing a flow node"),
        ("clusters: [{name: c, endpoints: [127.0.0.1]}]\n",
         ":1:34: clusters[0].endpoints[0]: invalid value '127.0.0.1': expected HOST:PORT or [IPv6]:PORT"),
    ]
    for i, (text, expected) in enumerate(cases):
        path = write("bad%d.yaml" % i, text)
        err = check_config_fails([path])
        h.contains(err, "tracebridge: " + path + expected, "case %d: the error line" % i)
    missing = os.path.join(h.test_dir(), "no-such-dir", "tb.yaml")
    h.contains(check_config_fails([missing]), "tracebridge: %s: cannot read: No such file or directory" % missing,
               "an unreadable file names the reason")
    h.contains(check_config_fails([h.test_dir()]), "cannot read: Is a directory", "a directory")


def _file_for(listen_port, backend_port, extra=""):
    return ("service: {name: from-file}\n"
            "propagation: {inject: [b3multi]}\n"
            "admin: {address: off}\n"
            "export: {exporters: none}\n" + extra +
            "listeners:\n"
            "  - name: main\n"
            "    address: 127.0.0.1:%d\n"
            "    routes: [{name: all, cluster: backend}]\n"
            "clusters:\n"
            "  - name: backend\n"
            "    endpoints: [127.0.0.1:%d]\n" % (listen_port, backend_port))


def test_proxy_runs_from_a_file():
    """`tracebridge -c FILE` listens where the file says, forwards to the
    file's cluster and applies the file's propagation policy."""
    _needs_binary()
    backend = h.Backend(0)
    proxy = None
    try:
        port = h.free_port()
        path = write("tb.yaml", _file_for(port, backend.port))
        proxy = h.Proxy(None, config=path, listen_port=port, env=CLEAN_ENV)
        with h.client.Conn(proxy.addr) as c:
            r = c.request("GET", "/from-file", [
                ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
            h.status(r, 200, "a request through the proxy started with -c")
            echo = r.json()
            h.eq(echo["target"], "/from-file", "the backend of the file's cluster got it")
            names = {n.lower(): v for n, v in echo["headers"]}
            h.eq(names.get("x-b3-traceid"), "4bf92f3577b34da6a3ce929d0e0e4736",
                 "the file's inject list (b3multi) reached the backend")
            h.true("traceparent" not in names, "replace mode removed traceparent")
            r = c.request("GET", "/again")
            h.status(r, 200, "a second request on the same connection")
    finally:
        status = proxy.stop() if proxy is not None else 0
        backend.stop()
        if proxy is not None:
            proxy.check_exit(status)


def test_listen_flags_conflict_with_file_listeners():
    _needs_binary()
    path = write("tb.yaml", _file_for(h.free_port(), h.free_port()))
    rc, out, err = h.run_binary(["-c", path, "--listen", "127.0.0.1:%d" % h.free_port(),
                                 "--upstream", "127.0.0.1:1"], env=CLEAN_ENV)
    h.eq(rc, 2, "exit status")
    h.contains(err, "cannot be used with %s, which defines listeners" % path, "the conflict is named")
    rc, out, err = h.run_binary(["--upstream", "127.0.0.1:1"], env=CLEAN_ENV)
    h.eq(rc, 2, "exit status without --listen and without a file")
    h.contains(err, "--listen HOST:PORT is required", "--listen still required without a file")


def test_precedence_file_env_flag():
    path = write("tb.yaml", _file_for(h.free_port(), h.free_port(),
                                      "timeouts: {connect: 7s, idle: 8s, header: 9s}\n"
                                      "workers: 3\n"))
    doc = check_config([path], what="file alone")
    h.eq(doc["timeouts"]["connect"], 7, "the file's value")
    h.eq(doc["workers"], 3, "the file's workers")
    h.eq(doc["service"]["name"], "from-file", "the file's service name")
    env = {"TRACEBRIDGE_CONNECT_TIMEOUT": "2", "TRACEBRIDGE_IDLE_TIMEOUT": "1500ms",
           "OTEL_SERVICE_NAME": "from-otel"}
    doc = check_config([path], env=env, what="file + environment")
    h.eq(doc["timeouts"]["connect"], 2, "the environment beats the file")
    h.eq(doc["timeouts"]["idle"], 1.5, "a duration unit in a variable")
    h.eq(doc["timeouts"]["header"], 9, "the file's value where the environment says nothing")
    h.eq(doc["service"]["name"], "from-otel", "OTEL_SERVICE_NAME beats the file")
    h.eq(doc["listeners"][0]["routes"][0]["timeouts"]["connect"], 2,
         "a route inherits the effective top-level value")
    doc = check_config([path, "--connect-timeout", "250ms", "--workers=4"],
                       env=dict(env, TRACEBRIDGE_SERVICE_NAME="from-tb"), what="file + environment + flags")
    h.eq(doc["timeouts"]["connect"], 0.25, "the flag beats the environment")
    h.eq(doc["workers"], 4, "the flag beats the file")
    h.eq(doc["timeouts"]["idle"], 1.5, "the environment where no flag says otherwise")
    h.eq(doc["service"]["name"], "from-tb", "TRACEBRIDGE_SERVICE_NAME beats OTEL_SERVICE_NAME")
    doc = check_config([], env={"TRACEBRIDGE_CONFIG": path}, what="the file from TRACEBRIDGE_CONFIG")
    h.eq(doc["workers"], 3, "TRACEBRIDGE_CONFIG names the file")
    err = check_config_fails([path], env={"TRACEBRIDGE_WORKERS": "many"})
    h.contains(err, "invalid TRACEBRIDGE_WORKERS 'many'", "a bad variable is named")


# ----------------------------------------------------------------- drift


def _help_flags():
    _needs_binary()
    rc, out, err = h.run_binary(["--help"], env=CLEAN_ENV)
    h.eq(rc, 0, "--help exit status")
    flags = set(re.findall(r"^\s+(?:-c, |-h, )?--([a-z0-9-]+)", out, re.M))
    return out, flags - {"help", "version"}


def _env_name(flag):
    return "TRACEBRIDGE_EXPORTERS" if flag == "exporter" else "TRACEBRIDGE_" + flag.upper().replace("-", "_")


def test_help_man_page_and_configuration_md_agree():
    """Every flag of the directive table (--help prints the table) is in the
    man page's OPTIONS and in docs/configuration.md with its variable, and
    neither document names a flag the binary does not have."""
    out, flags = _help_flags()
    h.true(len(flags) >= 40, "--help lists the flags (%d found)" % len(flags))
    for cmd in ("check-config", "decode"):
        h.contains(out, cmd, "--help lists the %s command" % cmd)
    with open(MAN_PAGE) as f:
        man = f.read()
    with open(CONFIG_DOC) as f:
        doc = f.read()
    options = man.split(".SH OPTIONS", 1)[1].split(".SH COMMANDS", 1)[0]
    man_flags = set(f.replace("\\-", "-") for f in re.findall(r"\\fB\\-\\-((?:[a-z0-9]|\\-)+)\\fR", options))
    table_rows = "\n".join(line for line in doc.splitlines() if line.startswith("|"))
    doc_flags = set(re.findall(r"`(?:-c`, `)?--([a-z0-9-]+)", table_rows))
    for flag in sorted(flags):
        h.true(flag in man_flags, "the man page's OPTIONS document --%s" % flag)
        h.true(flag in doc_flags, "docs/configuration.md's tables document --%s" % flag)
        h.contains(doc, "`%s`" % _env_name(flag), "docs/configuration.md names %s" % _env_name(flag))
    h.eq(sorted(man_flags - flags - {"help", "version"}), [], "man page flags the binary does not have")
    h.eq(sorted(doc_flags - flags), [], "docs/configuration.md flags the binary does not have")


def _leaves(prefix, node, out):
    if isinstance(node, dict) and node and prefix not in ("export.otlp.headers",):
        for k, v in node.items():
            _leaves(prefix + "." + k if prefix else k, v, out)
    else:
        out.add(prefix)


def test_every_json_key_is_documented():
    """check-config writes every setting; each key it writes is in
    docs/configuration.md (so the JSON and the document cannot drift)."""
    path = write("tb.yaml", _file_for(h.free_port(), h.free_port()))
    d = check_config([path])
    with open(CONFIG_DOC) as f:
        doc = f.read()
    top, lst, rt, cl = set(), set(), set(), set()
    _leaves("", {k: v for k, v in d.items() if k not in ("listeners", "clusters")}, top)
    _leaves("", {k: v for k, v in d["listeners"][0].items() if k != "routes"}, lst)
    _leaves("", d["listeners"][0]["routes"][0], rt)
    _leaves("", d["clusters"][0], cl)
    h.true(len(top) >= 40, "check-config writes the settings (%d keys)" % len(top))
    for key in sorted(top | lst | rt | cl):
        h.contains(doc, "`%s`" % key, "docs/configuration.md documents the key %s" % key)


def test_man_page_renders_without_warnings():
    """`man -l docs/tracebridge.1` renders cleanly: groff with every warning on
    prints nothing on standard error."""
    import shutil
    import subprocess

    if shutil.which("groff") is None:
        raise h.Skip("groff is not installed (scripts/install-deps.sh test installs groff-base)")
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", MAN_PAGE], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    h.eq(p.returncode, 0, "groff exit status")
    h.eq(p.stderr.decode("utf-8", "replace"), "", "groff warnings")
    text = p.stdout.decode("utf-8", "replace")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "ENVIRONMENT", "FILES",
                    "SIGNALS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        h.true(re.search(r"^\S*%s" % "".join("(?:.\b)?" + re.escape(c) for c in section), text, re.M),
               "the man page has a %s section" % section)
