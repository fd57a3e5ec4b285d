#!/usr/bin/python3
"""smtplib_bench.py - the Python smtplib peer of bench/run.sh.

Run it with Debian's interpreter, /usr/bin/python3 (design.md §5: the
python3 on PATH may be another one).

    smtplib_bench.py reuse N PORT LETTER        N letters, one connection
    smtplib_bench.py reconnect N PORT LETTER    N letters, a connection each
    smtplib_bench.py compose-reuse N PORT BODY  N letters composed with
                                                email.mime, one connection

LETTER is an already rendered letter (the bytes `postoffice render`
produces), sent as it is with SMTP.sendmail: the fastest smtplib gets.
compose-reuse builds a MIMEText per letter from the text in BODY (From,
To, Subject, Date, Message-ID, the text), flattens it and sends it: what
a Python program composing its letters pays (MIMEText and compat32, about
4x cheaper here than EmailMessage with the default policy, so the
stricter peer).  The
server is 127.0.0.1:PORT, the EHLO name bench.example.

Prints the elapsed wall-clock seconds (QUIT included) and the process's
CPU seconds (user + system) during the loop.
"""

import smtplib
import sys
import time
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

FROM = "a@example.com"
TO = "b@example.com"
EHLO = "bench.example"


def loop_reuse(n, port, letter):
    smtp = smtplib.SMTP("127.0.0.1", port, local_hostname=EHLO)
    for _ in range(n):
        smtp.sendmail(FROM, [TO], letter)
    smtp.quit()


def loop_reconnect(n, port, letter):
    for _ in range(n):
        smtp = smtplib.SMTP("127.0.0.1", port, local_hostname=EHLO)
        smtp.sendmail(FROM, [TO], letter)
        smtp.quit()


def loop_compose(n, port, body):
    smtp = smtplib.SMTP("127.0.0.1", port, local_hostname=EHLO)
    for _ in range(n):
        msg = MIMEText(body, "plain", "utf-8")
        msg["From"] = FROM
        msg["To"] = TO
        msg["Subject"] = "bench"
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain="example.com")
        smtp.sendmail(FROM, [TO], msg.as_bytes())
    smtp.quit()


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    mode, n, port, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        sys.argv[4]
    with open(path, "rb") as f:
        data = f.read()
    if mode == "reuse":
        run = lambda: loop_reuse(n, port, data)
    elif mode == "reconnect":
        run = lambda: loop_reconnect(n, port, data)
    elif mode == "compose-reuse":
        text = data.decode("utf-8")
        run = lambda: loop_compose(n, port, text)
    else:
        sys.exit(__doc__)
    c0, t0 = time.process_time(), time.monotonic()
    run()
    t1, c1 = time.monotonic(), time.process_time()
    print("%.6f %.3f" % (t1 - t0, c1 - c0))


if __name__ == "__main__":
    main()
