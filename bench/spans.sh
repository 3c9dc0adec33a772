#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Span encoding throughput: builds bench/span_bench.c with the release flags
# against BINARY_DIR/libtracebridge.a, runs it pinned to one core and prints
# spans encoded per second per core (each run, then the median; the target is
# >= 1,000,000).
#
# usage: bench/spans.sh BINARY_DIR     (e.g. build/release, after `make`)
#
# Environment (defaults in brackets):
#   SPAN_BENCH_SECONDS  seconds per run [2]     SPAN_BENCH_RUNS  runs [5]
#   SPAN_BENCH_BATCH    spans per batch [512]   SPAN_BENCH_CPU   core [0]
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/libtracebridge.a" ]; then
    echo "usage: $0 BINARY_DIR   (holding libtracebridge.a: make build CONFIG=release)" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(cd "$1" && pwd)
CC=${CC:-cc}
SECONDS_PER_RUN=${SPAN_BENCH_SECONDS:-2}
RUNS=${SPAN_BENCH_RUNS:-5}
BATCH=${SPAN_BENCH_BATCH:-512}
CPU=${SPAN_BENCH_CPU:-0}
BIN=$DIR/bench/span_bench
PKGS=(libevent_core libevent_extra zlib)

# The Makefile's release flags (CONFIG=release: -O2 -g) and warnings.
mkdir -p "$DIR/bench"
# shellcheck disable=SC2046 # pkg-config prints a list of words
"$CC" -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -g \
    -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
    -I"$ROOT" $(pkg-config --cflags "${PKGS[@]}") \
    "$ROOT/bench/span_bench.c" -o "$BIN" \
    "$DIR/libtracebridge.a" "$DIR/libllhttp.a" $(pkg-config --libs "${PKGS[@]}") -lpthread -lm

if command -v taskset >/dev/null 2>&1; then
    PIN=(taskset -c "$CPU")
else
    echo "spans: taskset not found (util-linux): running unpinned" >&2
    PIN=()
fi
echo "== span encoding: ${PIN[*]} $BIN $SECONDS_PER_RUN $RUNS $BATCH"
"${PIN[@]}" "$BIN" "$SECONDS_PER_RUN" "$RUNS" "$BATCH"
