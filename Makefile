# Makefile for libpostoffice and the smtp Lisp system.
# `make` builds the library and the CLI; `make test` runs every test.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config

DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl libidn2 2>/dev/null)
DEP_LIBS := $(shell $(PKG_CONFIG) --libs libcurl libidn2 2>/dev/null)

override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-fPIC -fvisibility=hidden $(DEP_CFLAGS)

LIB_SRC := $(filter-out c/cli.c,$(wildcard c/*.c))
LIB_OBJ := $(LIB_SRC:c/%.c=build/obj/%.o)
TEST_SRC := $(wildcard tests-c/test_*.c)
TEST_BIN := $(TEST_SRC:tests-c/%.c=build/tests/%)

SO_NAME := libpostoffice.so.0

.PHONY: all deps test check-c check-lisp check-sbcl check-ecl clean

all: build/libpostoffice.so build/libpostoffice.a build/postoffice

deps:
	@scripts/deps.sh

build/obj/%.o: c/%.c $(wildcard c/*.h) | build/obj
	$(CC) $(CFLAGS) -Ic -c $< -o $@

build/obj build/tests:
	mkdir -p $@

build/libpostoffice.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

build/libpostoffice.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SO_NAME) -Wl,--no-undefined \
		$(LDFLAGS) -o $@ $^ $(DEP_LIBS)

build/postoffice: c/cli.c build/libpostoffice.a
	$(CC) $(CFLAGS) -Ic $(LDFLAGS) -o $@ c/cli.c build/libpostoffice.a \
		$(DEP_LIBS)

# C tests link the static library, so they can reach internal po__ helpers.
build/tests/%: tests-c/%.c tests-c/*.h build/libpostoffice.a | build/tests
	$(CC) $(CFLAGS) -Ic -Itests-c $(LDFLAGS) -o $@ $< \
		build/libpostoffice.a $(DEP_LIBS) -lcmocka

test: deps
	@$(MAKE) --no-print-directory all
	@status=0; \
	$(MAKE) --no-print-directory check-c || status=1; \
	$(MAKE) --no-print-directory check-lisp || status=1; \
	exit $$status

check-c: all $(TEST_BIN)
	@tests-c/run.sh $(TEST_BIN)

check-lisp: check-sbcl check-ecl

check-sbcl check-ecl: all
	@tests-lisp/run.sh $(@:check-%=%)

clean:
	rm -rf build
