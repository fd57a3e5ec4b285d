#!/usr/bin/python3
"""letter_oracle.py DIR - check rendered letters with an independent parser.

For every DIR/NAME.eml there is a DIR/NAME.json saying what the letter was
made from.  Each letter is parsed with Python's email package
(policy.default) and must have: CRLF line endings only, no line over 998
octets, no defects anywhere, headers that decode to exactly what was given,
no Bcc header, and leaf parts (in order) whose type, filename and content
come back exactly (text compared with line endings normalised, octets byte
for byte).  Prints one line per failure and exits 1 if there was any.

Run with /usr/bin/python3 (Debian's).
"""
import email
import email.header
import email.policy
import json
import os
import re
import sys

failures = []


def fail(name, what):
    failures.append(f"{name}: {what}")


def check_wire(name, raw):
    for i, line in enumerate(raw.split(b"\r\n")):
        if b"\r" in line or b"\n" in line:
            fail(name, f"line {i + 1}: bare CR or LF")
            return
        if len(line) > 998:
            fail(name, f"line {i + 1}: {len(line)} octets")
            return
        if line == b".":
            fail(name, f"line {i + 1}: a lone dot")


def check_header_lines(name, raw):
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if len(line) > 78 and b" " in line.strip() and \
                not line.startswith((b"X-Raw", b" ")):
            # a generated line longer than 78 that had white space to fold
            fail(name, f"header line of {len(line)} octets: {line[:60]!r}")


def addresses(header):
    if header is None:
        return []
    return [[a.display_name or None, a.addr_spec] for a in header.addresses]


# A non-ASCII filename goes out twice (design §4.9, for clients that
# ignore RFC 2231): filename*=utf-8''... first, then filename="=?utf-8?...?="
# as a fallback.  Python's strict parser reports the pair as a duplicate and
# an encoded word inside a quoted string as a defect; those three defects,
# and only in a Content-Disposition that has both forms, are expected.
# check_fallback() then proves that the fallback decodes to the same name.
FALLBACK_DEFECTS = ("duplicate parameter name",
                    "encoded word inside quoted string",
                    "missing trailing whitespace after encoded-word")


def has_both_forms(value):
    return re.search(r"\bfilename\*", value) and \
        re.search(r"\bfilename=", value)


def all_defects(msg):
    found = list(msg.defects)
    for part in msg.walk():
        found.extend(part.defects)
        for (name, value), (_, raw) in zip(part.items(), part.raw_items()):
            defects = list(getattr(value, "defects", ()))
            if name.lower() == "content-disposition" and \
                    has_both_forms(raw):
                defects = [d for d in defects
                           if not str(d).startswith(FALLBACK_DEFECTS)]
            found.extend(defects)
    return found


def check_fallback(name, where, part, want):
    value = "".join(str(v) for k, v in part.raw_items()
                    if k.lower() == "content-disposition")
    value = re.sub(r"\r?\n[ \t]", " ", value)
    m = re.search(r'(?<![*\w])filename="((?:[^"\\]|\\.)*)"', value)
    if not m:
        fail(name, f"{where}: no filename= fallback in {value!r}")
        return
    words = email.header.decode_header(m.group(1))
    got = str(email.header.make_header(words))
    if got != want:
        fail(name, f"{where}: fallback filename {got!r} != {want!r}")


def norm(text):
    return text.replace("\r\n", "\n")


def check(name, raw, want):
    check_wire(name, raw)
    check_header_lines(name, raw)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = all_defects(msg)
    if defects:
        fail(name, f"defects: {defects}")
    for field in ("from", "to", "cc", "reply-to"):
        key = field.replace("-", "_")
        if key in want:
            got = addresses(msg[field])
            if got != want[key]:
                fail(name, f"{field}: {got} != {want[key]}")
    if "subject" in want:
        got = msg["subject"]
        if str(got) != want["subject"]:
            fail(name, f"subject: {str(got)!r} != {want['subject']!r}")
    for field, value in want.get("headers", {}).items():
        if str(msg[field]) != value:
            fail(name, f"{field}: {str(msg[field])!r} != {value!r}")
    if msg["bcc"] is not None:
        fail(name, "a Bcc header is present")
    if msg["date"] is None or msg["message-id"] is None:
        fail(name, "no Date or Message-ID")
    elif not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg["message-id"])):
        fail(name, f"odd Message-ID {msg['message-id']}")

    leaves = [p for p in msg.walk() if not p.is_multipart()]
    parts = want.get("parts", [])
    if len(leaves) != len(parts):
        fail(name, f"{len(leaves)} leaf parts, expected {len(parts)}")
        return
    for i, (part, exp) in enumerate(zip(leaves, parts)):
        where = f"part {i + 1}"
        if part.get_content_type() != exp["type"]:
            fail(name, f"{where}: type {part.get_content_type()} "
                 f"!= {exp['type']}")
        if part.get_filename() != exp.get("filename"):
            fail(name, f"{where}: filename {part.get_filename()!r} "
                 f"!= {exp.get('filename')!r}")
        if exp.get("filename") and not exp["filename"].isascii():
            check_fallback(name, where, part, exp["filename"])
        if "cid" in exp and part["content-id"] != exp["cid"]:
            fail(name, f"{where}: Content-ID {part['content-id']}")
        if "text" in exp:
            got = part.get_content()
            if norm(got) != norm(exp["text"]):
                fail(name, f"{where}: text differs: {got[:80]!r} vs "
                     f"{exp['text'][:80]!r}")
        if "hex" in exp:
            got = part.get_payload(decode=True)
            if got != bytes.fromhex(exp["hex"]):
                fail(name, f"{where}: octets differ ({len(got)} vs "
                     f"{len(exp['hex']) // 2})")
        if "file" in exp:
            got = part.get_payload(decode=True)
            with open(exp["file"], "rb") as f:
                if got != f.read():
                    fail(name, f"{where}: file octets differ")


def main():
    d = sys.argv[1]
    names = sorted(n[:-4] for n in os.listdir(d) if n.endswith(".eml"))
    if not names:
        print("no letters to check")
        return 1
    for n in names:
        with open(os.path.join(d, n + ".eml"), "rb") as f:
            raw = f.read()
        with open(os.path.join(d, n + ".json"), encoding="utf-8") as f:
            want = json.load(f)
        try:
            check(n, raw, want)
        except Exception as e:  # a parser crash is a failure too
            fail(n, f"exception {type(e).__name__}: {e}")
    for f in failures:
        print(f)
    print(f"oracle: {len(names)} letters, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
