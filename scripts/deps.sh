#!/bin/sh
# deps.sh - install the Debian packages the build and the tests need.
# Idempotent: it runs apt-get only when something is missing.
set -eu

PACKAGES="gcc make pkg-config libcurl4-openssl-dev libidn2-dev libcmocka-dev
sbcl ecl cl-cffi cl-fiveam cl-trivial-gray-streams python3 python3-aiosmtpd openssl postfix
ca-certificates clang libclang-rt-14-dev chromium fonts-dejavu-core"
# chromium and a font: the preview page's test in a real browser
# (tests-c/test_browser.c, fixtures/browser.py).
# Wanted by `make valgrind-test` and `make bench` only (nodejs and npm:
# the Nodemailer peer, installed by bench/run.sh into bench/node/).
if [ "${PO_DEPS_EXTRA:-}" = 1 ]; then
	PACKAGES="$PACKAGES valgrind time nodejs"
	# Debian's nodejs comes without npm; other builds (NodeSource's)
	# bring their own, which Debian's npm package would conflict with
	command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps: these Debian packages are missing:$missing" >&2
		echo "deps: run 'make deps' as root, or install them with apt-get." >&2
		exit 1
	fi
else
	SUDO=
fi
# postfix asks questions unless told not to; we only want its smtp-sink.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends $missing
