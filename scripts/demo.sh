#!/bin/sh
# demo.sh - `make demo`: start a local SMTP server (the aiosmtpd fixture)
# on 127.0.0.1, send one letter from SBCL with send-letter, print what the
# server received, and stop the server.  Run from the checkout after
# `make` (the Makefile does both).
set -eu
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/postoffice-demo-XXXXXX)
server_in="$work/server.in"
mkfifo "$server_in"
cleanup() {
	exec 3>&- 2>/dev/null || true
	[ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir "$work/mail"
# The server exits when its standard input closes (when this script ends,
# whatever way it ends).
/usr/bin/python3 fixtures/smtpd.py --dir "$work/mail" --port 0 \
	<"$server_in" >"$work/ready" &
server_pid=$!
exec 3>"$server_in"
i=0
until grep -q READY "$work/ready" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "demo: the SMTP server did not start" >&2; exit 1; }
	sleep 0.1
done
port=$(awk '{print $2}' "$work/ready")
echo "== An SMTP server (aiosmtpd) listens on 127.0.0.1:$port"

printf 'Quarterly figures\nQ1 12\nQ2 15\n' > "$work/Q3 report – draft.txt"
echo "== Sending a letter from SBCL with net.post-office:send-letter"
echo
DEMO_PORT=$port DEMO_ATTACHMENT="$work/Q3 report – draft.txt" \
	sbcl --noinform --non-interactive --load examples/demo.lisp

echo
echo "== What the server received"
/usr/bin/python3 - "$work/mail" <<'PY'
import email, email.policy, json, os, sys
d = sys.argv[1]
for name in sorted(f for f in os.listdir(d) if f.endswith(".json")):
    env = json.load(open(os.path.join(d, name), encoding="utf-8"))
    raw = open(os.path.join(d, name[:-5] + ".eml"), "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    print(f"envelope: MAIL FROM:<{env['mail_from']}>")
    for r in env["rcpt_tos"]:
        print(f"          RCPT TO:<{r}>")
    print("headers (decoded):")
    for k in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
        print(f"  {k}: {msg[k]}")
    print(f"  Bcc header present: {'Bcc' in msg}")
    for i, part in enumerate(p for p in msg.walk() if not p.is_multipart()):
        print(f"part {i + 1}: {part.get_content_type()}"
              + (f", attachment {part.get_filename()!r}"
                 if part.get_filename() else ""))
        for line in part.get_content().splitlines():
            print(f"    | {line}")
    print(f"({len(raw)} octets on the wire)")
PY
echo
echo "== Done: the server is stopped and its files removed."
