# shellcheck shell=bash
# sink.sh - Postfix's smtp-sink on a free loopback port, for bench/run.sh
# and bench/load.sh.  Sourced, not run: the caller sets PY (python3) and
# SINK (the smtp-sink program) first.
#
#   start_sink OUT ERR [OPTION...]
#       runs `$SINK OPTION... 127.0.0.1:PORT 1000` in the background, its
#       standard output into the file OUT and its standard error into ERR
#       (ERR the same file as OUT: both streams into it).  As root the
#       sink must drop privileges, so it gets -u nobody.  PORT is a port
#       the kernel found free; the sink is up once it accepts a connection
#       (that probe counts as a session).  Up to 5 ports are tried.  Sets
#       PORT and SINK_PID; returns 1 if the sink did not start, 2 if no
#       free port could be found.
#   stop_sink
#       stops the sink started, if any, and waits for it.

SINK_PID=

start_sink() {
	local out=$1 err=$2 port
	local -a user=()
	shift 2
	[ "$(id -u)" = 0 ] && user=(-u nobody)
	for _ in 1 2 3 4 5; do
		port=$("$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])') || return 2
		if [ "$err" = "$out" ]; then
			"$SINK" "${user[@]}" "$@" "127.0.0.1:$port" 1000 >"$out" 2>&1 &
		else
			"$SINK" "${user[@]}" "$@" "127.0.0.1:$port" 1000 >"$out" 2>"$err" &
		fi
		SINK_PID=$!
		for _ in $(seq 50); do
			kill -0 "$SINK_PID" 2>/dev/null || break
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				# shellcheck disable=SC2034 # read by the caller
				PORT=$port
				return 0
			fi
			sleep 0.1
		done
		stop_sink
	done
	return 1
}

stop_sink() {
	if [ -n "$SINK_PID" ]; then
		kill "$SINK_PID" 2>/dev/null
		wait "$SINK_PID" 2>/dev/null
		SINK_PID=
	fi
}
