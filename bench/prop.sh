#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds bench/prop_bench.c with the release flags against the release
# libraries and runs it pinned to one core: ns per request for extract +
# inject (see the top of prop_bench.c). Part of `make bench`; alone:
# `make bench-prop`.
#
# usage: bench/prop.sh [BUILD_DIR]        (default build/release)
# env:   BENCH_PROP_CPU   core to pin to [0]
#        BENCH_PROP_RUNS  runs per scenario, median reported [9]
#        BENCH_PROP_MS    milliseconds per run [200]
#        CC               compiler [cc]
set -eu

cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
CPU=${BENCH_PROP_CPU:-0}
RUNS=${BENCH_PROP_RUNS:-9}
MS=${BENCH_PROP_MS:-200}
CC=${CC:-cc}
LLHTTP_INC_DIR=${LLHTTP_INC_DIR:-/usr/share/include/llhttp}

for lib in "$BUILD/libtracebridge.a" "$BUILD/libllhttp.a"; do
    [ -f "$lib" ] || {
        echo "bench/prop.sh: $lib missing (make build CONFIG=release)" >&2
        exit 1
    }
done
mkdir -p "$BUILD/bench"
# The release configuration's flags (Makefile, CONFIG=release).
# shellcheck disable=SC2046
$CC -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -g -Wall -Wextra -Werror \
    -I. -I"$LLHTTP_INC_DIR" bench/prop_bench.c "$BUILD/libtracebridge.a" "$BUILD/libllhttp.a" \
    -lm -o "$BUILD/bench/prop_bench"
if command -v taskset >/dev/null 2>&1; then
    exec taskset -c "$CPU" "$BUILD/bench/prop_bench" -r "$RUNS" -t "$MS"
fi
echo "bench/prop.sh: taskset not found, running unpinned" >&2
exec "$BUILD/bench/prop_bench" -r "$RUNS" -t "$MS"
