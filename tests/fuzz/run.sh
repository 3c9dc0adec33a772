#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer drivers with clang, ASan and UBSan into build/fuzz/,
# then runs each for a bounded time on a working copy of its seed corpus
# (tests/fuzz/corpus/<target>/), with its dictionary when there is one
# (tests/fuzz/<target>.dict, or http1.dict for the http1_* targets). Exits
# non-zero when any target crashes, leaks or fails to build; the crashing
# input is printed in hex and kept under build/fuzz/artifacts/<target>/.
#
# Targets: every tests/fuzz/fuzz_<target>.c, except fuzz_extract.c, which is
# built once per format of propagators/formats.def as extract_<format>
# (-DFUZZ_FORMAT=<format>).
#
# usage: tests/fuzz/run.sh [target ...]     (default: every target)
# env:   FUZZ_SECONDS  time per target (default 40: 14 targets in ~10 minutes)
#        FUZZ_CC       compiler (default clang, else clang-14)
set -eu

cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-40}
LLHTTP_SRC_DIR=${LLHTTP_SRC_DIR:-/usr/share/llhttp}
LLHTTP_INC_DIR=${LLHTTP_INC_DIR:-/usr/share/include/llhttp}
OUT=build/fuzz

if [ -n "${FUZZ_CC:-}" ]; then
    CC=$FUZZ_CC
elif command -v clang >/dev/null 2>&1; then
    CC=clang
elif command -v clang-14 >/dev/null 2>&1; then
    CC=clang-14
else
    echo "fuzz: clang not found (set FUZZ_CC)" >&2
    exit 1
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# The arena is emulated (one malloc per allocation) so ASan sees overflows
# between neighbouring allocations, as in the asan unit build.
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DTB_ARENA_EMULATE \
    -g -O1 -fno-omit-frame-pointer -Wall -Wextra -I. -I$LLHTTP_INC_DIR"

# The code under test, as one archive: each driver links what it uses. The
# decode driver needs proxy/decode.c and the config and log it calls, the
# config driver the YAML reader (libyaml) and the JSON writer; the
# propagators need nothing beyond libc.
build_objects() {
    mkdir -p "$OUT/obj" "$OUT/llhttp"
    objs=
    for src in common/*.c parsers/*.c propagators/*.c spans/sampler.c spans/buf.c spans/json.c \
        spans/utf8.c proxy/decode.c proxy/config.c proxy/config_file.c proxy/log.c; do
        obj="$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
        # shellcheck disable=SC2086
        $CC $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
        objs="$objs $obj"
    done
    for name in api http llhttp; do
        obj="$OUT/llhttp/$name.o"
        # llhttp's generated C is not ours to warn about.
        # shellcheck disable=SC2086
        $CC -std=c11 -g -O1 -w -I"$LLHTTP_INC_DIR" $SAN -fsanitize=fuzzer-no-link \
            -c "$LLHTTP_SRC_DIR/$name.c" -o "$obj"
        objs="$objs $obj"
    done
    rm -f "$OUT/libfuzztb.a"
    # shellcheck disable=SC2086
    ar rcs "$OUT/libfuzztb.a" $objs
    LIBS="$OUT/libfuzztb.a $(pkg-config --libs yaml-0.1) -lm"
}

build_target() {
    src="tests/fuzz/fuzz_$1.c"
    defs=
    case $1 in
    extract_*)
        src=tests/fuzz/fuzz_extract.c
        defs="-DFUZZ_FORMAT=${1#extract_}"
        ;;
    esac
    # shellcheck disable=SC2086
    $CC $CFLAGS -Werror $SAN -fsanitize=fuzzer $defs "$src" $LIBS -o "$OUT/fuzz_$1"
}

print_crash() {
    for f in "$OUT/artifacts/$1"/*; do
        [ -f "$f" ] || continue
        echo "fuzz: $1: crashing input $f ($(wc -c <"$f") bytes), hex:"
        od -An -tx1 -v "$f" | tr -d '\n' | tr -s ' '
        echo
    done
}

run_target() {
    target=$1
    corpus="$OUT/corpus/$target"
    rm -rf "$corpus" "$OUT/artifacts/$target"
    mkdir -p "$corpus" "$OUT/artifacts/$target"
    if [ -d "tests/fuzz/corpus/$target" ]; then
        cp "tests/fuzz/corpus/$target"/* "$corpus"/
    fi
    dict=
    if [ -f "tests/fuzz/$target.dict" ]; then
        dict=-dict=tests/fuzz/$target.dict
    elif [ -f tests/fuzz/http1.dict ] && [ "${target#http1_}" != "$target" ]; then
        dict=-dict=tests/fuzz/http1.dict
    fi
    echo "fuzz: $target for ${FUZZ_SECONDS}s"
    # shellcheck disable=SC2086
    if "$OUT/fuzz_$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 -max_len=4096 \
        -print_final_stats=1 $dict \
        -artifact_prefix="$OUT/artifacts/$target/" "$corpus" >"$OUT/fuzz_$target.log" 2>&1; then
        echo "fuzz: $target ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
            "$OUT/fuzz_$target.log" | grep -o '[0-9]*$' || echo '?') runs)"
        return 0
    fi
    echo "fuzz: $target FAILED, log: $OUT/fuzz_$target.log"
    grep -E 'ERROR|invariant failed|bug at|runtime error|SUMMARY' "$OUT/fuzz_$target.log" |
        head -n 20 || true
    print_crash "$target"
    return 1
}

if [ $# -eq 0 ]; then
    set --
    for src in tests/fuzz/fuzz_*.c; do
        name=${src#tests/fuzz/fuzz_}
        [ "$name" = extract.c ] && continue
        set -- "$@" "${name%.c}"
    done
    # One codec name (a single word) per line of formats.def.
    # shellcheck disable=SC2013
    for format in $(sed -n 's/^TB_FORMAT_DEF(\([a-z0-9]*\),.*/\1/p' propagators/formats.def); do
        set -- "$@" "extract_$format"
    done
fi

build_objects
status=0
for target in "$@"; do
    if ! build_target "$target"; then
        echo "fuzz: $target does not build" >&2
        status=1
        continue
    fi
    run_target "$target" || status=1
done
exit $status
