#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs, from Debian packages, whatever tracebridge needs to build, test,
# demo and benchmark that is not already installed. Idempotent: when nothing
# is missing it does nothing, and it runs `apt-get update` at most once.
# Usage: scripts/install-deps.sh [build|test|bench|all]   (default: all)
set -eu

scope=${1:-all}

build_pkgs="gcc make pkg-config libevent-dev libssl-dev libcmocka-dev libyaml-dev node-llhttp zlib1g-dev"
test_pkgs="curl python3 clang libclang-rt-14-dev protobuf-compiler groff-base prometheus"
bench_pkgs="wrk nginx-light procps util-linux"

case "$scope" in
build) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
bench) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
all) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
*)
    echo "usage: $0 [build|test|bench|all]" >&2
    exit 2
    ;;
esac

missing=""
for pkg in $want; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
    *" installed") ;;
    *) missing="$missing $pkg" ;;
    esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: not root and no sudo; install them and run again" >&2
    exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$as_root apt-get install -y -q --no-install-recommends $missing
