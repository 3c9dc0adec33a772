#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the unit (cmocka) and integration suites for one or more build
# directories and ends with one line over everything: "N passed, M failed".
# Usage: tests/run-suite.sh [--unit-only|--integration-only] BUILD_DIR...
set -u
cd "$(dirname "$0")/.."

run_unit=1
run_integration=1
case "${1:-}" in
--unit-only) run_integration=0; shift ;;
--integration-only) run_unit=0; shift ;;
esac
[ $# -ge 1 ] || { echo "usage: $0 [--unit-only|--integration-only] BUILD_DIR..." >&2; exit 2; }

total_passed=0
total_failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# LeakSanitizer needs ptrace-like access some sandboxes forbid; the leak check
# stays on where it works and is reported by the sanitizer itself.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for build in "$@"; do
    echo "=== $build"
    if [ "$run_unit" = 1 ]; then
        while IFS= read -r bin; do
            "$bin" >"$log" 2>&1
            status=$?
            cat "$log"
            passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log" | tail -n 1)
            failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s).*/\1/p' "$log" | tail -n 1)
            passed=${passed:-0}
            failed=${failed:-0}
            if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
                # A crash or sanitizer report outside any test still fails.
                echo "FAIL $bin exited with status $status"
                failed=1
            fi
            total_passed=$((total_passed + passed))
            total_failed=$((total_failed + failed))
        done < <(find "$build/tests/unit" -type f -name 'test_*' ! -name '*.d' -perm -u+x 2>/dev/null | sort)
    fi
    if [ "$run_integration" = 1 ]; then
        python3 tests/integration/run.py --binary "$build/tracebridge" 2>&1 | tee "$log"
        status=${PIPESTATUS[0]}
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
        if [ -n "$line" ]; then
            total_passed=$((total_passed + ${line%% passed*}))
            failed=${line#*, }
            total_failed=$((total_failed + ${failed%% failed}))
        elif [ "$status" -ne 0 ]; then
            echo "FAIL integration runner exited with status $status"
            total_failed=$((total_failed + 1))
        fi
    fi
done

echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
