# SPDX-License-Identifier: MIT
# tracebridge: one non-recursive GNU make file. `make help` lists the targets.

CC ?= cc
PREFIX ?= /usr/local
V ?= 0
CONFIG ?= release

LLHTTP_SRC_DIR ?= /usr/share/llhttp
LLHTTP_INC_DIR ?= /usr/share/include/llhttp

ifeq ($(V),0)
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
else
Q :=
say =
endif

# --- configurations --------------------------------------------------------
ifeq ($(CONFIG),release)
OPT_CFLAGS := -O2 -g
SAN_FLAGS :=
else ifeq ($(CONFIG),asan)
OPT_CFLAGS := -O1 -g -fno-omit-frame-pointer -DTB_ARENA_EMULATE
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(CONFIG),debug)
OPT_CFLAGS := -O0 -g3
SAN_FLAGS :=
else
$(error CONFIG must be release, asan or debug)
endif

B := build/$(CONFIG)

PKGS := libevent_core libevent_extra zlib yaml-0.1
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT_CFLAGS) $(SAN_FLAGS) \
	$(WARN) -I. -I$(LLHTTP_INC_DIR) $(PKG_CFLAGS) $(CFLAGS)
# llhttp's generated C warns under -Wextra: it gets its own, quieter flags. Its
# strict mode rejects what the default mode lets through (a chunk not followed
# by CRLF, for one), which would otherwise reach the upstream.
LLHTTP_CFLAGS = -std=c11 $(OPT_CFLAGS) $(SAN_FLAGS) -w -DLLHTTP_STRICT_MODE=1 -I$(LLHTTP_INC_DIR)
LDFLAGS_ALL = $(SAN_FLAGS) $(LDFLAGS)
LIBS_ALL = $(PKG_LIBS) -lpthread -lm

# --- sources -----------------------------------------------------------------
LIB_SRCS := $(sort $(wildcard common/*.c parsers/*.c propagators/*.c spans/*.c)) \
	$(filter-out proxy/main.c,$(sort $(wildcard proxy/*.c)))
MAIN_SRC := proxy/main.c
LLHTTP_SRCS := $(addprefix $(LLHTTP_SRC_DIR)/,api.c http.c llhttp.c)
UNIT_SRCS := $(sort $(shell find tests/unit -name 'test_*.c' 2>/dev/null))

LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(B)/obj/%.o)
LLHTTP_OBJS := $(patsubst $(LLHTTP_SRC_DIR)/%.c,$(B)/llhttp/%.o,$(LLHTTP_SRCS))
UNIT_BINS := $(UNIT_SRCS:%.c=$(B)/%)
DEPS := $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BINS:=.d)

BIN := $(B)/tracebridge
LIBTB := $(B)/libtracebridge.a
LIBLLHTTP := $(B)/libllhttp.a

.PHONY: all build deps check itest test test-one asan demo bench bench-prop fuzz install clean \
	format format-check help
.DEFAULT_GOAL := all

all: deps
	$(Q)$(MAKE) --no-print-directory build CONFIG=release
	$(Q)ln -sf release/tracebridge build/tracebridge

deps:
	$(Q)scripts/install-deps.sh build

build: $(BIN) $(UNIT_BINS)

# Rebuild everything when the flags change (the stamp holds them).
$(B)/.flags: FORCE
	$(Q)mkdir -p $(B)
	$(Q)echo '$(CC) $(CFLAGS_ALL) $(LLHTTP_CFLAGS) $(LDFLAGS_ALL) $(LIBS_ALL)' | cmp -s - $@ || \
		echo '$(CC) $(CFLAGS_ALL) $(LLHTTP_CFLAGS) $(LDFLAGS_ALL) $(LIBS_ALL)' > $@
FORCE:

$(B)/obj/%.o: %.c $(B)/.flags
	$(call say,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/llhttp/%.o: $(LLHTTP_SRC_DIR)/%.c $(B)/.flags
	$(call say,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LLHTTP_CFLAGS) -c $< -o $@

$(LIBLLHTTP): $(LLHTTP_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBTB): $(LIB_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIBTB) $(LIBLLHTTP)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(MAIN_OBJ) $(LIBTB) $(LIBLLHTTP) $(LIBS_ALL)

$(B)/tests/unit/%: tests/unit/%.c $(LIBTB) $(LIBLLHTTP) $(B)/.flags
	$(call say,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) $(CMOCKA_CFLAGS) -Itests/unit -MMD -MP -MF $@.d -MT $@ $< -o $@ \
		$(LDFLAGS_ALL) $(LIBTB) $(LIBLLHTTP) $(CMOCKA_LIBS) $(LIBS_ALL)

-include $(DEPS)

# --- tests -----------------------------------------------------------------
# `make test` runs the unit and integration suites on the release build, then
# again built with AddressSanitizer + UndefinedBehaviorSanitizer.
test:
	$(Q)scripts/install-deps.sh test
	$(Q)$(MAKE) --no-print-directory build CONFIG=release
	$(Q)$(MAKE) --no-print-directory build CONFIG=asan
	$(Q)ln -sf release/tracebridge build/tracebridge
	$(Q)tests/run-suite.sh build/release build/asan

# One configuration only: `make test-one CONFIG=debug`.
test-one: deps
	$(Q)scripts/install-deps.sh test
	$(Q)$(MAKE) --no-print-directory build
	$(Q)tests/run-suite.sh $(B)

check: deps
	$(Q)$(MAKE) --no-print-directory build
	$(Q)tests/run-suite.sh --unit-only $(B)

itest: deps
	$(Q)$(MAKE) --no-print-directory build
	$(Q)tests/run-suite.sh --integration-only $(B)

asan:
	$(Q)scripts/install-deps.sh test
	$(Q)$(MAKE) --no-print-directory build CONFIG=asan
	$(Q)tests/run-suite.sh build/asan

demo: all
	$(Q)scripts/install-deps.sh test
	$(Q)python3 scripts/demo.py build/release/tracebridge

bench: all
	$(Q)scripts/install-deps.sh bench
	$(Q)bench/prop.sh build/release
	$(Q)bench/run.sh build/release/tracebridge
	$(Q)bench/spans.sh build/release

# The propagation micro-benchmark alone (ns per extract + inject).
bench-prop:
	$(Q)$(MAKE) --no-print-directory build CONFIG=release
	$(Q)bench/prop.sh build/release

fuzz:
	$(Q)scripts/install-deps.sh test
	$(Q)tests/fuzz/run.sh

install: all
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	$(Q)install -m 0755 build/release/tracebridge $(DESTDIR)$(PREFIX)/bin/tracebridge
	$(Q)install -m 0644 docs/tracebridge.1 $(DESTDIR)$(PREFIX)/share/man/man1/tracebridge.1

clean:
	$(Q)rm -rf build

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(FORMAT_SRCS)

format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS)

help:
	@echo 'targets:'
	@echo '  all (default)  release build: build/tracebridge'
	@echo '  test           unit + integration suites, release and ASan/UBSan builds'
	@echo '  check | itest  unit suite | integration suite, one CONFIG'
	@echo '  asan           the whole suite under AddressSanitizer + UBSan'
	@echo '  demo           show the proxy at work, no external services needed'
	@echo '  bench          propagation micro-benchmark, then wrk through tracebridge vs direct'
	@echo '                 vs nginx (docs/BENCHMARKS.md); bench-prop: the micro-benchmark alone'
	@echo '  fuzz           libFuzzer targets, each for a bounded time'
	@echo '  install        binary and man page: PREFIX=$(PREFIX) [DESTDIR=]'
	@echo '  format | format-check | clean'
	@echo 'options: CONFIG=release|asan|debug  V=1 (show commands)  CC=...'
