#!/bin/bash
# load.sh - the full load run of issue #6: 10,000 letters from 4 SBCL
# threads (two over one WITH-SMTP-CONNECTION each, two with one
# SEND-LETTER per letter) against Postfix's smtp-sink, then against
# fixtures/smtpd.py (aiosmtpd).  Every letter carries a unique id in its
# Subject; what each server received is read back (smtp-sink: its -c
# counters and one -d dump file per letter; smtpd.py: its .json/.eml
# files) and every letter reported sent must be there exactly once.
# File descriptors and RSS are measured after a warm-up and after the
# run.  The Lisp side is bench/load.lisp; the tolerances are explained
# in tests-lisp/load.lisp.
#
#   bench/load.sh
#
# Environment: LOAD_LETTERS (10000), LOAD_THREADS (4), LOAD_ROUNDS (10),
# LOAD_TARGETS ("sink smtpd"), LOAD_KEEP=1 (keep the temporary
# directory).  Prints the counts, fds and RSS before and after, and
# letters/s; exits non-zero if a check failed or something could not
# run.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
SINK=/usr/sbin/smtp-sink
# shellcheck source=bench/sink.sh
. "$ROOT/bench/sink.sh"

die() {
	echo "load.sh: $*" >&2
	exit 2
}

make --no-print-directory -s all || die "the build failed"
[ -x $SINK ] || die "$SINK is missing (apt-get install postfix)"
command -v sbcl >/dev/null || die "sbcl is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/po-load.XXXXXX") || die "no temporary directory"
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_sink
	if [ "${LOAD_KEEP:-}" = 1 ]; then
		echo "load.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# smtp-sink: -c writes running counters (sessions, QUITs, final dots) to
# its standard output; -d dumps each letter into a file of its own.  As
# root it must drop privileges (-u nobody), so the dump directory is
# made writable for nobody.
mkdir -p "$TMP/sink" "$TMP/lisp"
chmod 711 "$TMP"
chmod 1777 "$TMP/sink"
PORT=
if [[ " ${LOAD_TARGETS:-sink smtpd} " == *" sink "* ]]; then
	start_sink "$TMP/sink.counters" "$TMP/sink.err" -c -d "$TMP/sink/%H%M%S/"
	case $? in
	0) ;;
	2) die "no free port" ;;
	*) die "smtp-sink did not start: $(cat "$TMP/sink.err")" ;;
	esac
	# (the probe connection counts as a session in -c, not as a letter)
fi

echo "load.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs," \
	"$(sbcl --version), libpostoffice $(sed -n 's/^#define PO_VERSION "\(.*\)"/\1/p' c/postoffice.h)"
SINK_PORT=$PORT SINK_DIR="$TMP/sink/" SINK_COUNTERS="$TMP/sink.counters" \
	SMTP_TEST_TMP="$TMP/lisp" LIBPOSTOFFICE="$ROOT/build/libpostoffice.so" \
	LC_ALL=C.UTF-8 \
	sbcl --noinform --non-interactive --no-userinit --no-sysinit \
	--load bench/load.lisp </dev/null
