# Makefile for libpostoffice and the smtp Lisp system.
# `make` builds the library and the CLI; `make test` runs every test.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config

# The pkg-config modules the library is built with.  lisp/build.lisp reads
# this line to tell a Lisp user which development package is missing.
DEP_PKGS := libcurl libidn2
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEP_PKGS) 2>/dev/null)
DEP_LIBS := $(shell $(PKG_CONFIG) --libs $(DEP_PKGS) 2>/dev/null)

override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-fPIC -fvisibility=hidden $(DEP_CFLAGS)

LIB_SRC := $(filter-out c/cli.c,$(wildcard c/*.c))
# Where the library's objects and libpostoffice.so are built: build/, or,
# when ASDF builds the library for a read-only checkout, a directory in the
# user's ASDF output cache (lisp/build.lisp runs `make LIB_BUILD=dir
# dir/libpostoffice.so`).
LIB_BUILD ?= build
LIB_OBJ := $(LIB_SRC:c/%.c=$(LIB_BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests-c/test_*.c)
TEST_BIN := $(TEST_SRC:tests-c/%.c=build/tests/%)
# Shared test support (fixture servers...) linked into every test.
TEST_SUPPORT := $(filter-out tests-c/test_%.c,$(wildcard tests-c/*.c))
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -g -O1

# The version, in one place: the file VERSION.  smtp.asd reads it too, and
# c/postoffice.h must say the same (PO_VERSION_MAJOR, _MINOR, _PATCH):
# nothing builds until it does.
VERSION := $(shell cat VERSION)
HEADER_VERSION := $(shell sed -n \
	's/^\#define PO_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9][0-9]*\)$$/\2/p' \
	c/postoffice.h | paste -sd. -)
ifneq ($(VERSION),$(HEADER_VERSION))
$(error VERSION says $(VERSION) but c/postoffice.h says $(HEADER_VERSION): set PO_VERSION_MAJOR, PO_VERSION_MINOR and PO_VERSION_PATCH to match)
endif
SO_NAME := libpostoffice.so.0

# Installation directories (make install PREFIX=... DESTDIR=...).
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/postoffice
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# ASDF searches $XDG_DATA_DIRS/common-lisp/source/ (default: /usr/local/share
# and /usr/share), so under /usr/local the system is found with no setup.
LISPDIR ?= $(PREFIX)/share/common-lisp/source/smtp
LISP_SRC := $(wildcard lisp/*.lisp)
DOC_FILES := README.md LICENSE $(wildcard docs/*.md)

.PHONY: all deps deps-extra demo fuzz load-test test asan-test valgrind-test install \
	uninstall check-c check-lisp check-sbcl check-ecl clean

all: build/libpostoffice.so build/libpostoffice.a build/postoffice

deps:
	@scripts/deps.sh

deps-extra:
	@PO_DEPS_EXTRA=1 scripts/deps.sh

$(LIB_BUILD)/obj/%.o: c/%.c $(wildcard c/*.h) | $(LIB_BUILD)/obj
	$(CC) $(CFLAGS) -Ic -c $< -o $@

$(LIB_BUILD)/obj build/tests:
	mkdir -p $@

build/libpostoffice.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(LIB_BUILD)/libpostoffice.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SO_NAME) -Wl,--no-undefined \
		$(LDFLAGS) -o $@ $^ $(DEP_LIBS)

build/postoffice: c/cli.c build/libpostoffice.a
	$(CC) $(CFLAGS) -Ic $(LDFLAGS) -o $@ c/cli.c build/libpostoffice.a \
		$(DEP_LIBS)

# C tests link the static library, so they can reach internal po__ helpers.
build/tests/%: tests-c/%.c $(TEST_SUPPORT) $(wildcard tests-c/*.h) \
		build/libpostoffice.a | build/tests
	$(CC) $(CFLAGS) -Ic -Itests-c $(LDFLAGS) -o $@ $< $(TEST_SUPPORT) \
		build/libpostoffice.a $(DEP_LIBS) -lcmocka

# libFuzzer targets: the library sources compiled again with sanitizers.
# tests-c/codec.c: the tests' own decoders and checkers.
build/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard c/*.h) tests-c/codec.c \
		tests-c/codec.h
	@mkdir -p build/fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 $(DEP_CFLAGS) -Ic -Itests-c \
		-fsanitize=fuzzer,address,undefined -o $@ $< tests-c/codec.c \
		$(LIB_SRC) $(DEP_LIBS)

fuzz: deps $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
		seeds=$$(test -d fuzz/seeds/$$n && echo fuzz/seeds/$$n || true); \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) \
			build/fuzz/corpus-$$n $$seeds >build/fuzz/$$n.log 2>&1; \
		then tail -40 build/fuzz/$$n.log; exit 1; fi; \
		grep -E '^Done [0-9]+ runs' build/fuzz/$$n.log; \
	done

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

test: deps
	@$(MAKE) --no-print-directory all
	@status=0; \
	$(MAKE) --no-print-directory check-c || status=1; \
	$(MAKE) --no-print-directory check-lisp || status=1; \
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5 || status=1; \
	exit $$status

check-c: all $(TEST_BIN)
	@tests-c/run.sh $(TEST_BIN)

check-lisp: check-sbcl check-ecl

check-sbcl check-ecl: all
	@tests-lisp/run.sh $(@:check-%=%)

# The C suite again with AddressSanitizer and UBSan (a separate build in
# build/asan, so the normal one is left alone).
ASAN_OBJ := $(LIB_SRC:c/%.c=build/asan/obj/%.o)
ASAN_TEST_BIN := $(TEST_SRC:tests-c/%.c=build/asan/tests/%)

build/asan/obj/%.o: c/%.c $(wildcard c/*.h)
	@mkdir -p build/asan/obj
	$(CC) $(CFLAGS) $(SAN_FLAGS) -Ic -c $< -o $@

build/asan/libpostoffice.a: $(ASAN_OBJ)
	rm -f $@
	ar rcs $@ $^

build/asan/tests/%: tests-c/%.c $(TEST_SUPPORT) $(wildcard tests-c/*.h) \
		build/asan/libpostoffice.a
	@mkdir -p build/asan/tests
	$(CC) $(CFLAGS) $(SAN_FLAGS) -Ic -Itests-c $(LDFLAGS) -o $@ $< \
		$(TEST_SUPPORT) build/asan/libpostoffice.a $(DEP_LIBS) -lcmocka

asan-test: deps $(ASAN_TEST_BIN) build/libpostoffice.so
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		tests-c/run.sh $(ASAN_TEST_BIN)

# The README's screenshot of a preview page: the browser test's realistic
# letter (tests-c/test_browser.c), in headless Chromium.
.PHONY: screenshot
screenshot: deps build/tests/test_browser
	PO_PREVIEW_SCREENSHOT=docs/preview.png build/tests/test_browser

# The C suite under valgrind's memcheck.
valgrind-test: deps-extra all $(TEST_BIN)
	@tests-c/run.sh --valgrind $(TEST_BIN)

# The installed Lisp system finds the library through a link in its own
# build/ directory, where lisp/library.lisp looks (relative when LIBDIR is
# $(PREFIX)/lib, so a DESTDIR tree can be moved as a whole).
LISP_LINK_TARGET := $(if $(filter $(PREFIX)/lib,$(LIBDIR)),../../../../../lib/$(SO_NAME),$(LIBDIR)/$(SO_NAME))

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(LISPDIR)/lisp $(DESTDIR)$(LISPDIR)/build
	install -m 755 build/libpostoffice.so \
		$(DESTDIR)$(LIBDIR)/libpostoffice.so.$(VERSION)
	ln -sf libpostoffice.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libpostoffice.so
	install -m 644 build/libpostoffice.a $(DESTDIR)$(LIBDIR)/
	install -m 644 c/postoffice.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		c/postoffice.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/postoffice.pc
	install -m 755 build/postoffice $(DESTDIR)$(BINDIR)/
	install -m 644 docs/postoffice.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	install -m 644 smtp.asd VERSION README.md $(DESTDIR)$(LISPDIR)/
	install -m 644 $(LISP_SRC) $(DESTDIR)$(LISPDIR)/lisp/
	ln -sf $(LISP_LINK_TARGET) $(DESTDIR)$(LISPDIR)/build/$(SO_NAME)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && \
	    command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libpostoffice.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/$(SO_NAME) \
		$(DESTDIR)$(LIBDIR)/libpostoffice.so \
		$(DESTDIR)$(LIBDIR)/libpostoffice.a \
		$(DESTDIR)$(INCLUDEDIR)/postoffice.h \
		$(DESTDIR)$(PKGCONFIGDIR)/postoffice.pc \
		$(DESTDIR)$(BINDIR)/postoffice \
		$(DESTDIR)$(MANDIR)/man1/postoffice.1 \
		$(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES))) \
		$(DESTDIR)$(LISPDIR)/smtp.asd $(DESTDIR)$(LISPDIR)/VERSION \
		$(DESTDIR)$(LISPDIR)/README.md \
		$(addprefix $(DESTDIR)$(LISPDIR)/lisp/,$(notdir $(LISP_SRC))) \
		$(DESTDIR)$(LISPDIR)/build/$(SO_NAME)
	-rmdir $(DESTDIR)$(LISPDIR)/lisp $(DESTDIR)$(LISPDIR)/build \
		$(DESTDIR)$(LISPDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && \
	    command -v ldconfig >/dev/null; then ldconfig; fi

clean:
	rm -rf build

# The full load test: 10,000 letters from 4 SBCL threads against smtp-sink
# and against aiosmtpd, each counted once; descriptors and RSS before and
# after.  (A scaled-down run is part of make test.)
load-test: deps-extra all
	@bench/load.sh

# Benchmarks (bench/run.sh)
# `make bench` prints one table of ratios against peers measured in the
# same run (design.md §6); bench-render and bench-send run a subset.
.PHONY: bench bench-render bench-send

bench: deps-extra all
	@bench/run.sh

bench-render:
	@bench/run.sh render

bench-send:
	@bench/run.sh send

build/bench/curl_bench: bench/curl_bench.c bench/bench.h
	@mkdir -p build/bench
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/curl_bench.c $(DEP_LIBS)

build/bench/po_bench: bench/po_bench.c bench/bench.h c/postoffice.h \
		build/libpostoffice.a
	@mkdir -p build/bench
	$(CC) $(CFLAGS) -Ic $(LDFLAGS) -o $@ bench/po_bench.c \
		build/libpostoffice.a $(DEP_LIBS)
