#!/bin/sh
# run.sh IMPL - run the Lisp test suite under IMPL (sbcl or ecl).
#
# Loads the system "smtp/tests" from this checkout, runs the FiveAM suite
# :smtp and ends with one line of its own, e.g. "sbcl: 57 passed, 0 failed"
# (the counts are FiveAM's checks).  Exits non-zero if any check failed
# or errored, or if the system could not be loaded.  The library tested is
# build/libpostoffice.so of this checkout (run `make` first).
set -u

impl=${1:-sbcl}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

SMTP_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/smtp-lisp-$impl.XXXXXX")
trap 'rm -rf "$SMTP_TEST_TMP"' EXIT INT TERM
export SMTP_TEST_TMP
export SMTP_TEST_IMPL="$impl"
# File names reach the C library as UTF-8; make the Lisp use UTF-8 for
# them too, whatever the caller's locale.
LC_ALL=C.UTF-8
export LC_ALL
if [ -z "${LIBPOSTOFFICE:-}" ] && [ -f "$root/build/libpostoffice.so" ]; then
	LIBPOSTOFFICE="$root/build/libpostoffice.so"
	export LIBPOSTOFFICE
fi

case "$impl" in
sbcl)
	sbcl --noinform --non-interactive --no-userinit --no-sysinit \
		--load "$here/run.lisp" </dev/null
	;;
ecl)
	ecl --norc --load "$here/run.lisp" </dev/null
	;;
ccl)
	ccl --no-init --batch --load "$here/run.lisp" </dev/null
	;;
*)
	echo "run.sh: unknown implementation '$impl' (sbcl, ecl or ccl)" >&2
	echo "$impl: 0 passed, 1 failed"
	exit 2
	;;
esac
