#!/bin/bash
# run.sh - libpostoffice's benchmarks (`make bench`): design.md §6 and
# issue #3, each measured as a ratio against a peer run in the same
# invocation, on the same machine, against the same smtp-sink.
#
#   bench/run.sh          everything
#   bench/run.sh send     the SMTP measurements only
#   bench/run.sh render   rendering a 100 MB attachment vs coreutils base64
#   bench/run.sh rtt      round trips a letter, letters/s at a 20 ms RTT
#
# Peers (all Debian packages, nothing fetched): bare libcurl
# (bench/curl_bench.c), Python's smtplib (bench/smtplib_bench.py, run with
# /usr/bin/python3), curl's command line, coreutils base64.  cl-smtp is
# not available offline, so it has no column.  Ours: the C API
# (bench/po_bench.c), the CLI (build/postoffice) and the Lisp system from
# SBCL (bench/lisp_bench.lisp).
#
# Every cheap measurement runs BENCH_REPS times (default 7), the 100 MB
# ones BENCH_BIG_REPS times (default 3), interleaved with their peers so
# that both see the same load; the table shows medians.  It prints one
# table (our figure, the peer's, the ratio, the target, PASS or MISS),
# the raw runs, then the date and the machine.  A missed target is a
# result, not an error: the exit status is non-zero only when something
# could not be built or run.
#
# Tunables (environment): BENCH_REPS, BENCH_BIG_REPS, BENCH_SESSION_N
# (letters per session loop, 2000), BENCH_RECONNECT_N (letters per
# reconnect loop, 400), BENCH_BIG_MB (100), BENCH_MID_MB (10),
# BENCH_KEEP=1 (keep the temporary directory).
set -u

MODE=${1:-all}
case $MODE in
all | send | render | rtt) ;;
*)
	echo "usage: bench/run.sh [all|send|render|rtt]" >&2
	exit 2
	;;
esac

REPS=${BENCH_REPS:-7}
BIG_REPS=${BENCH_BIG_REPS:-3}
SESSION_N=${BENCH_SESSION_N:-2000}
RECONNECT_N=${BENCH_RECONNECT_N:-400}
BIG_MB=${BENCH_BIG_MB:-100}
MID_MB=${BENCH_MID_MB:-10}
PY=/usr/bin/python3
SINK=/usr/sbin/smtp-sink
TIME=/usr/bin/time

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=bench/sink.sh
. "$ROOT/bench/sink.sh"

FAILS=0
fail() {
	FAILS=$((FAILS + 1))
	echo "bench: $*" >&2
}
die() {
	echo "bench: $*" >&2
	exit 1
}
note() { printf 'bench: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------
# Build and tools

note "building"
make --no-print-directory -s all build/bench/curl_bench build/bench/po_bench ||
	die "the build failed"
PO=build/postoffice
CURLB=build/bench/curl_bench
POB=build/bench/po_bench

if [ ! -x $TIME ]; then
	note "installing GNU time (PO_DEPS_EXTRA=1 scripts/deps.sh)"
	PO_DEPS_EXTRA=1 scripts/deps.sh || die "cannot install time"
fi
for tool in $TIME $PY base64; do
	command -v "$tool" >/dev/null || die "$tool is missing (make deps)"
done
if [ "$MODE" != render ]; then
	for tool in $SINK curl sbcl; do
		command -v "$tool" >/dev/null || die "$tool is missing (make deps)"
	done
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/po-bench.XXXXXX") || die "no temp dir"
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_sink
	[ -n "${FAULTD_PID:-}" ] && kill "$FAULTD_PID" 2>/dev/null
	[ -n "${LAT_PID:-}" ] && kill "$LAT_PID" 2>/dev/null
	if [ "${BENCH_KEEP:-}" = 1 ]; then
		echo "bench: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------
# Inputs

note "creating ${BIG_MB} MB and ${MID_MB} MB random files in $TMP"
head -c "${BIG_MB}M" /dev/urandom >"$TMP/big.bin" || die "cannot write $TMP"
head -c "${MID_MB}M" /dev/urandom >"$TMP/mid.bin" || die "cannot write $TMP"
# The small letter: about 1 KB on the wire, the same in every peer.
cat >"$TMP/body.txt" <<'EOF'
Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do
eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim
ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut
aliquip ex ea commodo consequat. Duis aute irure dolor in
reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla
pariatur. Excepteur sint occaecat cupidatat non proident, sunt in
culpa qui officia deserunt mollit anim id est laborum.
Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do
eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim
ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut
aliquip ex ea commodo consequat. Duis aute irure dolor in
reprehenderit in voluptate velit esse cillum dolore eu fugiat.
EOF
LETTER="--from a@example.com --to b@example.com --subject bench"
if [ "$MODE" != render ]; then
	# The exact bytes postoffice sends (Date, Message-ID and boundary
	# aside), for the peers that carry a pre-rendered letter.
	# shellcheck disable=SC2086
	$PO render $LETTER --body-file "$TMP/body.txt" >"$TMP/small.eml" ||
		die "postoffice render failed"
	printf 'The file is attached.\n' >"$TMP/attached.txt"
	# shellcheck disable=SC2086
	$PO render $LETTER --body-file "$TMP/attached.txt" \
		--attach "$TMP/big.bin" >"$TMP/big.eml" ||
		die "postoffice render failed"
fi

# ---------------------------------------------------------------------
# Helpers

now_ns() { date +%s%N; }

# record SERIES VALUE... : one run of a series (a line in $TMP/s.SERIES).
record() {
	local s=$1
	shift
	echo "$*" >>"$TMP/s.$s"
}

# measure SERIES CMD... : CMD prints "ELAPSED CPU [...]" as its last line.
measure() {
	local s=$1 out
	shift
	if out=$("$@" 2>"$TMP/err"); then
		record "$s" "$(printf '%s\n' "$out" | tail -n 1)"
	else
		fail "$s: '$*' failed: $(tail -n 3 "$TMP/err" | tr '\n' ' ')"
	fi
}

# timed SERIES CMD... : wall seconds and peak RSS (KiB: GNU time -v,
# "Maximum resident set size") of CMD, its standard output discarded,
# standard input /dev/null.  Recorded as "SECONDS - RSS".
timed() {
	local s=$1 t0 t1
	shift
	t0=$(now_ns)
	if $TIME -v -o "$TMP/rss" "$@" </dev/null >/dev/null 2>"$TMP/err"; then
		t1=$(now_ns)
		record "$s" "$(awk -v a="$t0" -v b="$t1" \
			'BEGIN { printf "%.6f", (b - a) / 1e9 }')" \
			"-" "$(awk -F': ' '/Maximum resident set size/ { print $2 }' \
				"$TMP/rss")"
	else
		fail "$s: '$*' failed: $(tail -n 3 "$TMP/err" | tr '\n' ' ')"
	fi
}

# median SERIES [COLUMN] : the median of a column (default 1) of a series.
median() {
	local f="$TMP/s.$1"
	[ -s "$f" ] || return 0
	awk -v c="${2:-1}" '{ print $c }' "$f" | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

LISP_OK=0
LISP_WHY=
lisp() {
	sbcl --noinform --non-interactive \
		--eval '(require :asdf)' \
		--eval '(asdf:load-asd (truename "smtp.asd"))' \
		--eval '(asdf:load-system "smtp")' \
		--load bench/lisp_bench.lisp --end-toplevel-options "$@"
}
# lisp_measure SERIES ARGS... : lisp_bench's KEY=VALUE line as
# "SECONDS CPU [GROWTH-KB PEAK-KB]".
lisp_measure() {
	local s=$1 out
	shift
	if [ $LISP_OK = 0 ]; then
		return
	fi
	if out=$(lisp "$@" 2>"$TMP/err" | grep -E '^(letters|seconds)=' |
		tail -n 1) && [ -n "$out" ]; then
		record "$s" "$(printf '%s\n' "$out" | awk '{
			for (i = 1; i <= NF; i++) {
				split($i, kv, "="); f[kv[1]] = kv[2]
			}
			printf "%s %s", f["seconds"], f["cpu"]
			if ("growth-kb" in f)
				printf " %s %s", f["growth-kb"], f["peak-kb"]
		}')"
	else
		fail "$s: lisp_bench $* failed: $(tail -n 3 "$TMP/err" | tr '\n' ' ')"
	fi
}

# ---------------------------------------------------------------------
# Measurements

if [ "$MODE" = all ] || [ "$MODE" = send ]; then
	start_sink "$TMP/sink.log" "$TMP/sink.log" ||
		die "smtp-sink did not start (see $TMP/sink.log)"
	note "smtp-sink on 127.0.0.1:$PORT (pid $SINK_PID)"

	note "loading the Lisp system"
	if lisp_out=$(sbcl --noinform --non-interactive \
		--eval '(require :asdf)' \
		--eval '(asdf:load-asd (truename "smtp.asd"))' \
		--eval '(asdf:load-system "smtp")' 2>&1); then
		LISP_OK=1
	else
		LISP_WHY=$(printf '%s\n' "$lisp_out" | grep -iE 'error|unhandled' |
			head -n 1)
		fail "the smtp system does not load: $LISP_WHY"
	fi

	for rep in $(seq "$REPS"); do
		note "letter loops, run $rep of $REPS"
		measure curl_reuse $CURLB loop-reuse "$SESSION_N" "$PORT" "$TMP/small.eml"
		measure po_session $POB session "$SESSION_N" "$PORT" "$TMP/body.txt"
		measure py_reuse $PY bench/smtplib_bench.py reuse "$SESSION_N" "$PORT" "$TMP/small.eml"
		measure py_compose $PY bench/smtplib_bench.py compose-reuse "$SESSION_N" "$PORT" "$TMP/body.txt"
		lisp_measure lisp_session session "$SESSION_N" "$PORT" "$TMP/body.txt"
		measure curl_reconnect $CURLB loop-reconnect "$RECONNECT_N" "$PORT" "$TMP/small.eml"
		measure curl_newhandle $CURLB loop-newhandle "$RECONNECT_N" "$PORT" "$TMP/small.eml"
		measure po_reconnect $POB reconnect "$RECONNECT_N" "$PORT" "$TMP/body.txt"
		measure py_reconnect $PY bench/smtplib_bench.py reconnect "$RECONNECT_N" "$PORT" "$TMP/small.eml"
		lisp_measure lisp_reconnect reconnect "$RECONNECT_N" "$PORT" "$TMP/body.txt"
	done

	for rep in $(seq "$BIG_REPS"); do
		note "${BIG_MB} MB letters, run $rep of $BIG_REPS"
		cat "$TMP/big.bin" "$TMP/big.eml" >/dev/null # page cache
		measure curl_upload $CURLB upload "$TMP/big.eml" "$PORT"
		measure po_upload $POB upload "$TMP/big.bin" "$PORT"
		# shellcheck disable=SC2086
		timed cli_big $PO send --server "127.0.0.1:$PORT" $LETTER \
			--attach "$TMP/big.bin"
		lisp_measure lisp_attach attach "$TMP/big.bin" "$PORT"
		timed curlcli_upload curl -sS "smtp://127.0.0.1:$PORT/bench.example" \
			--mail-from a@example.com --mail-rcpt b@example.com \
			-T "$TMP/big.eml"
		timed curlcli_mime curl -sS "smtp://127.0.0.1:$PORT/bench.example" \
			--mail-from a@example.com --mail-rcpt b@example.com \
			-H 'From: a@example.com' -H 'To: b@example.com' \
			-H 'Subject: bench' -F "=@$TMP/big.bin;encoder=base64"
		# shellcheck disable=SC2086
		timed cli_mid $PO send --server "127.0.0.1:$PORT" $LETTER \
			--attach "$TMP/mid.bin"
	done
fi

if [ "$MODE" = all ] || [ "$MODE" = render ]; then
	cat "$TMP/big.bin" >/dev/null # page cache
	for rep in $(seq "$REPS"); do
		note "render ${BIG_MB} MB, run $rep of $REPS"
		timed render $PO render --from a@example.com --to b@example.com \
			--attach "$TMP/big.bin"
		timed base64 base64 "$TMP/big.bin"
	done
fi

# ---------------------------------------------------------------------
# Round trips, counted at the server, and letters/s at a 20 ms round trip
# (issue #9).  Round trips: fixtures/faultd.py --pipelining writes one
# line per server turn (replies flushed together) to conn-K.turns; a
# letter's turns are the connection's less the greeting, EHLO and QUIT.
# Latency: fixtures/latency.py delays every chunk by RTT_MS / 2 each way
# in front of smtp-sink (which offers PIPELINING).

RTT_N=${BENCH_RTT_N:-50}
RTT_MS=${BENCH_RTT_MS:-20}
FAULTD_PID=
LAT_PID=

# start_bg NAME CMD... : CMD in the background, its standard input a pipe
# held open by us (its end stops it), waiting for its "READY <port>".
# Sets BG_PORT and BG_PID.
start_bg() {
	local name=$1
	shift
	rm -f "$TMP/$name.fifo"
	mkfifo "$TMP/$name.fifo" || return 1
	"$@" <"$TMP/$name.fifo" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BG_PID=$!
	exec {BG_FD}>"$TMP/$name.fifo"
	eval "${name}_FD=$BG_FD"
	for _ in $(seq 100); do
		BG_PORT=$(awk '/^READY/ { print $2; exit }' "$TMP/$name.out")
		[ -n "$BG_PORT" ] && return 0
		kill -0 "$BG_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop_bg NAME PID : close its pipe, then make sure it is gone.
stop_bg() {
	local fd
	eval "fd=\${${1}_FD:-}"
	[ -n "$fd" ] && exec {fd}>&-
	if [ -n "$2" ]; then
		kill "$2" 2>/dev/null
		wait "$2" 2>/dev/null
	fi
}

# turns CLIENT-LABEL CONN LETTERS CMD... : run CMD against a fresh
# faultd --pipelining (its port replaces PORT in CMD) and record the
# server turns per letter on connection CONN, less greeting, EHLO and
# QUIT (LETTERS 0: all the connection's turns, connect to QUIT).
turns() {
	local label=$1 conn=$2 letters=$3 d n
	shift 3
	d="$TMP/faultd.$label"
	rm -rf "$d" && mkdir -p "$d"
	if ! start_bg faultd "$PY" fixtures/faultd.py --dir "$d" --pipelining; then
		fail "faultd did not start: $(cat "$TMP/faultd.err")"
		return
	fi
	FAULTD_PID=$BG_PID
	if "${@//PORT/$BG_PORT}" >/dev/null 2>"$TMP/err"; then
		# faultd writes the turns as they happen; QUIT is the last
		for _ in $(seq 50); do
			grep -q '^221' "$d/conn-$conn.turns" 2>/dev/null && break
			sleep 0.1
		done
		n=$(wc -l <"$d/conn-$conn.turns" 2>/dev/null || echo 0)
		if [ "$letters" = 0 ]; then
			record "rt_$label" "$n"
		else
			# less the greeting, the EHLO, and the QUIT if it came
			grep -q '^221$' "$d/conn-$conn.turns" && n=$((n - 1))
			record "rt_$label" "$(awk -v n="$n" -v l="$letters" \
				'BEGIN { printf "%.3f", (n - 2) / l }')"
		fi
	else
		fail "round trips, $label: '$*' failed: $(tail -n 3 "$TMP/err" | tr '\n' ' ')"
	fi
	stop_bg faultd "$FAULTD_PID"
	FAULTD_PID=
}

if [ "$MODE" = all ] || [ "$MODE" = send ] || [ "$MODE" = rtt ]; then
	if [ ! -d bench/node/node_modules/nodemailer ]; then
		note "installing nodemailer into bench/node (npm)"
		mkdir -p bench/node
		(cd bench/node && npm install --no-audit --no-fund --prefix . \
			nodemailer >"$TMP/npm.log" 2>&1) ||
			fail "npm install nodemailer failed: $(tail -n 3 "$TMP/npm.log")"
	fi
	if [ "$LISP_OK" = 0 ] && lisp_out=$(sbcl --noinform --non-interactive \
		--eval '(require :asdf)' \
		--eval '(asdf:load-asd (truename "smtp.asd"))' \
		--eval '(asdf:load-system "smtp")' 2>&1); then
		LISP_OK=1
	fi
	note "round trips a letter (faultd --pipelining)"
	turns reused 2 10 lisp session 10 PORT "$TMP/body.txt"
	turns queued 1 20 $POB queue 20 PORT "$TMP/body.txt"
	turns rcpt50 1 1 $POB rcpt50 PORT "$TMP/body.txt"
	turns oneshot 2 0 lisp reconnect 1 PORT "$TMP/body.txt"
	turns curl 1 10 $CURLB loop-reuse 10 PORT "$TMP/small.eml"
	turns node 1 10 node bench/nodemailer_bench.js 10 PORT "$TMP/body.txt"

	if [ -z "$SINK_PID" ]; then
		start_sink "$TMP/sink.log" "$TMP/sink.log" ||
			die "smtp-sink did not start (see $TMP/sink.log)"
	fi
	if start_bg lat "$PY" fixtures/latency.py --target "$PORT" \
		--delay-ms "$(awk -v r="$RTT_MS" 'BEGIN { print r / 2 }')"; then
		LAT_PID=$BG_PID
		LPORT=$BG_PORT
		for rep in $(seq "$REPS"); do
			note "${RTT_MS} ms round trip, run $rep of $REPS"
			lisp_measure rtt_lisp session "$RTT_N" "$LPORT" "$TMP/body.txt"
			measure rtt_queue $POB queue "$RTT_N" "$LPORT" "$TMP/body.txt"
			measure rtt_node node bench/nodemailer_bench.js "$RTT_N" "$LPORT" "$TMP/body.txt"
			measure rtt_py $PY bench/smtplib_bench.py reuse "$RTT_N" "$LPORT" "$TMP/small.eml"
			measure rtt_curl $CURLB loop-reuse "$RTT_N" "$LPORT" "$TMP/small.eml"
		done
		stop_bg lat "$LAT_PID"
		LAT_PID=
	else
		fail "the latency proxy did not start: $(cat "$TMP/lat.err")"
	fi
fi

# ---------------------------------------------------------------------
# The table

ROWS=$TMP/rows
: >"$ROWS"
# row LABEL OURS PEER RATIO TARGET RESULT
row() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"
}
# pratio A B : "MEDIAN MIN MAX" of the ratios a_i / b_i of the first
# columns of series A and B, run i of one against run i of the other.
# Runs of one repetition were made seconds apart, so a change of load on
# the machine hits both and cancels out of their ratio.  If a run is
# missing, the ratio of the medians (no spread).
pratio() {
	local fa="$TMP/s.$1" fb="$TMP/s.$2"
	[ -s "$fa" ] && [ -s "$fb" ] || return 0
	if [ "$(wc -l <"$fa")" = "$(wc -l <"$fb")" ]; then
		paste -d' ' "$fa" "$fb" | awk -v nf="$(awk '{ print NF; exit }' "$fa")" \
			'{ print $1 / $(nf + 1) }' | sort -g | awk '
			{ v[NR] = $1 }
			END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			      print m, v[1], v[NR] }'
	else
		awk -v a="$(median "$1")" -v b="$(median "$2")" \
			'BEGIN { print a / b, a / b, a / b }'
	fi
}

# rate_row LABEL OURS-SERIES N PEER-LABEL PEER-SERIES N MIN-RATIO
# Letters per second; ratio = ours / peer (the median of the paired
# ratios, with their range), PASS when >= MIN-RATIO ("-": no target, the
# row is for information).
rate_row() {
	local ot pt pr
	ot=$(median "$2")
	pt=$(median "$5")
	pr=$(pratio "$5" "$2")
	if [ -z "$ot" ] || [ -z "$pt" ] || [ -z "$pr" ]; then
		row "$1" "n/a" "$4 n/a" "-" ">= ${7}x" "n/a"
		return
	fi
	awk -v label="$1" -v on="$3" -v ot="$ot" -v plabel="$4" -v pn="$6" \
		-v pt="$pt" -v min="$7" -v pr="$pr" 'BEGIN {
		split(pr, q, " "); k = on / pn
		r = q[1] * k; lo = q[2] * k; hi = q[3] * k
		printf "%s\t%.0f letters/s\t%s %.0f letters/s\t%.2fx (%.2f-%.2f)\t%s\t%s\n",
			label, on / ot, plabel, pn / pt, r, lo, hi,
			(min == "-" ? "-" : ">= " min "x"),
			min == "-" ? "info" : (r >= min + 0 ? "PASS" : "MISS")
	}' >>"$ROWS"
}

# time_row LABEL OURS-SERIES PEER-LABEL PEER-SERIES MAX-RATIO
# Seconds for one job; ratio = ours / peer, PASS when <= MAX-RATIO.
time_row() {
	local ot pt pr
	ot=$(median "$2")
	pt=$(median "$4")
	pr=$(pratio "$2" "$4")
	if [ -z "$ot" ] || [ -z "$pt" ] || [ -z "$pr" ]; then
		row "$1" "n/a" "$3 n/a" "-" "<= ${5}x" "n/a"
		return
	fi
	awk -v label="$1" -v ot="$ot" -v plabel="$3" -v pt="$pt" \
		-v max="$5" -v pr="$pr" 'BEGIN {
		split(pr, q, " ")
		printf "%s\t%.2f s\t%s %.2f s\t%.2fx (%.2f-%.2f)\t%s\t%s\n",
			label, ot, plabel, pt, q[1], q[2], q[3],
			(max == "-" ? "-" : "<= " max "x"),
			max == "-" ? "info" : (q[1] <= max + 0 ? "PASS" : "MISS")
	}' >>"$ROWS"
}

# rss_row LABEL SERIES COLUMN PEER-TEXT : a peak RSS (KiB), < 20 MB.
rss_row() {
	local v
	v=$(median "$2" "$3")
	if [ -z "$v" ]; then
		row "$1" "n/a" "$4" "-" "< 20 MB" "n/a"
		return
	fi
	awk -v label="$1" -v kb="$v" -v peer="$4" 'BEGIN {
		m = kb / 1024
		printf "%s\t%.1f MB\t%s\t-\t< 20 MB\t%s\n", label, m, peer,
			(m < 20 ? "PASS" : "MISS")
	}' >>"$ROWS"
}

# render_row : render vs base64 on the big file; ratio = speed-up.
render_row() {
	local r b pr
	r=$(median render)
	b=$(median base64)
	pr=$(pratio base64 render)
	if [ -z "$r" ] || [ -z "$b" ] || [ -z "$pr" ]; then
		row "design 6: render ${BIG_MB} MB attachment vs base64" "n/a" "n/a" \
			"-" ">= 2x" "n/a"
		return
	fi
	awk -v mb="$BIG_MB" -v r="$r" -v b="$b" -v pr="$pr" 'BEGIN {
		split(pr, q, " ")
		printf "design 6: render %d MB attachment vs base64\t%.0f MB/s (%.2f s)\tbase64 %.0f MB/s (%.2f s)\t%.2fx (%.2f-%.2f)\t>= 2x\t%s\n",
			mb, mb / r, r, mb / b, b, q[1], q[2], q[3],
			(q[1] >= 2 ? "PASS" : "MISS")
	}' >>"$ROWS"
}

mb() { awk '{ printf "%.1f MB", $1 / 1024 }'; }

if [ "$MODE" = all ] || [ "$MODE" = send ]; then
	rate_row "design 6: bulk, Lisp session vs bare libcurl reuse" \
		lisp_session "$SESSION_N" "libcurl" curl_reuse "$SESSION_N" 0.85
	rate_row "design 6: bulk, Lisp session vs smtplib reuse (raw)" \
		lisp_session "$SESSION_N" "smtplib" py_reuse "$SESSION_N" 1.5
	rate_row "design 6: bulk, Lisp session vs smtplib reuse (composing)" \
		lisp_session "$SESSION_N" "smtplib+MIMEText" py_compose "$SESSION_N" 1.5
	rate_row "design 6: one per connection, Lisp vs bare libcurl" \
		lisp_reconnect "$RECONNECT_N" "libcurl" curl_reconnect "$RECONNECT_N" 0.85
	time_row "design 6: ${BIG_MB} MB attachment, postoffice send" \
		cli_big "libcurl upload" curl_upload 1.3
	rss_row "design 6: ${BIG_MB} MB attachment, peak RSS, postoffice send" \
		cli_big 3 "${MID_MB} MB letter $(median cli_mid 3 | mb), curl -T $(median curlcli_upload 3 | mb)"
	time_row "design 6: ${BIG_MB} MB attachment, Lisp send-letter" \
		lisp_attach "libcurl upload" curl_upload 1.3
	rss_row "design 6: ${BIG_MB} MB attachment, Lisp peak RSS growth" \
		lisp_attach 3 "SBCL peak: $(median lisp_attach 4 | mb)"
fi
{ [ "$MODE" = all ] || [ "$MODE" = render ]; } && render_row
if [ "$MODE" = all ] || [ "$MODE" = send ]; then
	rate_row "issue #3: C session vs bare libcurl reuse" \
		po_session "$SESSION_N" "libcurl" curl_reuse "$SESSION_N" 0.9
	rate_row "issue #3: C session vs smtplib reuse (raw)" \
		po_session "$SESSION_N" "smtplib" py_reuse "$SESSION_N" 1.5
	rate_row "issue #3: C session vs smtplib reuse (composing)" \
		po_session "$SESSION_N" "smtplib+MIMEText" py_compose "$SESSION_N" 1.5
	time_row "issue #3: ${BIG_MB} MB letter, po_smtp_send" \
		po_upload "libcurl upload" curl_upload 1.3
	rss_row "issue #3: ${BIG_MB} MB letter, peak RSS, po_smtp_send" \
		po_upload 3 "whole process"
	rate_row "(info) C reconnect vs bare libcurl reconnect" \
		po_reconnect "$RECONNECT_N" "libcurl" curl_reconnect "$RECONNECT_N" -
	rate_row "(info) C reconnect vs libcurl, new handle per letter" \
		po_reconnect "$RECONNECT_N" "libcurl" curl_newhandle "$RECONNECT_N" -
	rate_row "(info) smtplib reconnect vs bare libcurl" \
		py_reconnect "$RECONNECT_N" "libcurl" curl_reconnect "$RECONNECT_N" -
	rate_row "(info) bare libcurl reuse vs smtplib reuse (raw)" \
		curl_reuse "$SESSION_N" "smtplib" py_reuse "$SESSION_N" -
	time_row "(info) ${BIG_MB} MB, postoffice send vs curl -T" \
		cli_big "curl -T" curlcli_upload -
	time_row "(info) ${BIG_MB} MB, postoffice send vs curl -F base64" \
		cli_big "curl -F" curlcli_mime -
	row "(info) cl-smtp" "-" "not available offline" "-" "-" "skipped"
fi

# rt_row LABEL SERIES PEER-TEXT MAX : server turns a letter, <= MAX.
rt_row() {
	local v
	v=$(median "$2")
	if [ -z "$v" ]; then
		row "$1" "n/a" "$3" "-" "<= $4" "n/a"
		return
	fi
	awk -v label="$1" -v v="$v" -v peer="$3" -v max="$4" 'BEGIN {
		printf "%s\t%.2f round trips\t%s\t-\t%s\t%s\n", label, v, peer,
			(max == "-" ? "-" : "<= " max),
			max == "-" ? "info" : (v <= max + 0 ? "PASS" : "MISS")
	}' >>"$ROWS"
}

if [ "$MODE" = all ] || [ "$MODE" = send ] || [ "$MODE" = rtt ]; then
	PEER_RT="libcurl engine $(median rt_curl), Nodemailer $(median rt_node)"
	rt_row "issue #9: round trips a letter, send-letter on a reused connection" \
		rt_reused "$PEER_RT" 2.1
	rt_row "issue #9: round trips a letter, queued (po_pool)" \
		rt_queued "$PEER_RT" 1.3
	rt_row "issue #9: round trips, one letter to 50 recipients" \
		rt_rcpt50 "libcurl engine: 53 (one RCPT a round trip)" 3
	rt_row "(info) round trips, one-shot send-letter, connect to QUIT" \
		rt_oneshot "server turns, TCP handshake not counted" -
	rate_row "issue #9: ${RTT_MS} ms RTT, Lisp send-letter (session) vs Nodemailer" \
		rtt_lisp "$RTT_N" "Nodemailer pool" rtt_node "$RTT_N" 1.0
	rate_row "issue #9: ${RTT_MS} ms RTT, C queued (po_pool) vs Nodemailer" \
		rtt_queue "$RTT_N" "Nodemailer pool" rtt_node "$RTT_N" 1.7
	rate_row "(info) ${RTT_MS} ms RTT, Lisp send-letter (session) vs libcurl engine" \
		rtt_lisp "$RTT_N" "libcurl reuse" rtt_curl "$RTT_N" -
	rate_row "(info) ${RTT_MS} ms RTT, Lisp send-letter (session) vs smtplib" \
		rtt_lisp "$RTT_N" "smtplib reuse" rtt_py "$RTT_N" -
	rate_row "(info) ${RTT_MS} ms RTT, C queued (po_pool) vs smtplib" \
		rtt_queue "$RTT_N" "smtplib reuse" rtt_py "$RTT_N" -
fi

echo
echo "libpostoffice benchmarks ($MODE), against smtp-sink on loopback"
echo "Figures: medians of $REPS runs ($BIG_REPS for the ${BIG_MB} MB letters); loops of" \
	"$SESSION_N letters per session, $RECONNECT_N per reconnect."
echo "Ratio: median of the ratios of runs made side by side, their range in brackets;"
echo "for rates > 1 means ours is faster, for times < 1 means ours is faster."
echo
awk -F'\t' '
	BEGIN { n = 0 }
	{ for (i = 1; i <= NF; i++) { c[NR, i] = $i
	      if (length($i) > w[i]) w[i] = length($i) } ; n = NR }
	END {
		split("measurement|ours|peer (same run)|ratio (range)|target|result", h, "|")
		for (i = 1; i <= 6; i++) if (length(h[i]) > w[i]) w[i] = length(h[i])
		line = ""; rule = ""
		for (i = 1; i <= 6; i++) {
			line = line sprintf("%-" w[i] "s  ", h[i])
			d = ""; for (k = 0; k < w[i]; k++) d = d "-"
			rule = rule d "  "
		}
		print line; print rule
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= 6; i++) line = line sprintf("%-" w[i] "s  ", c[r, i])
			print line
		}
	}' "$ROWS" | sed 's/ *$//'

echo
echo "Runs (wall seconds; CPU seconds of the client after the slash):"
for s in curl_reuse po_session lisp_session py_reuse py_compose \
	curl_reconnect curl_newhandle po_reconnect lisp_reconnect py_reconnect \
	curl_upload po_upload cli_big lisp_attach curlcli_upload curlcli_mime \
	cli_mid render base64 rtt_lisp rtt_queue rtt_node rtt_py rtt_curl; do
	[ -s "$TMP/s.$s" ] || continue
	printf '  %-15s' "$s"
	awk '{ printf " %.3f%s", $1, ($2 != "" && $2 != "-") ? "/" $2 : "" }' "$TMP/s.$s"
	echo
done
echo
echo "Versions: $(curl-config --version 2>/dev/null || echo libcurl ?)," \
	"$($PY --version 2>&1), $(sbcl --version 2>/dev/null)," \
	"postfix $(dpkg-query -W -f='${Version}' postfix 2>/dev/null)"
echo "Load average: $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
	"$(uname -sr)"

if [ "$FAILS" -gt 0 ]; then
	echo "bench: $FAILS measurement(s) failed to run" >&2
	exit 1
fi
exit 0
