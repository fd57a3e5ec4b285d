#!/usr/bin/python3
"""reader_oracle.py DIR - letters made by an independent writer, for the
C reader (po_entity_parse) to read back.

Python's email package (policy SMTP: CRLF) writes letters into DIR/NN.eml
with its own choices of encodings (7bit, 8bit, quoted-printable, base64,
RFC 2047 words, RFC 2231 continuations, latin-1 and other charsets), and
DIR/NN.txt says what each leaf is, as Python itself reads it back, one
line per item, fields separated by tabs, every value in hex (so any
octet can be compared):

    H <name> <value>                     a decoded top-level header field
    L <type> <filename> <cid> <disposition> <attachment> <body> <text>

<type> is "type/subtype"; <filename>, <cid>, <disposition> are "-" when
absent; <attachment> is 1 for a leaf that is not part of the letter's
text (not text/*, or a file name, or disposition attachment), else 0;
<body> is the transfer-decoded octets; <text> the text of a text/* leaf
as UTF-8 with CRLF made LF ("-" for other leaves).  An attached letter
(message/rfc822) is a leaf, as for the C reader; Python gives no
decoded body for it ("-").

Run with /usr/bin/python3 (Debian's).
"""
import email
import email.policy
import os
import sys
from email.message import EmailMessage, MIMEPart


def hexs(value):
    if value is None:
        return "-"
    if isinstance(value, str):
        value = value.encode("utf-8")
    return value.hex() or "="  # "=" for empty


def describe(message):
    out = []
    for name in ("From", "To", "Cc", "Subject", "Reply-To"):
        if message[name] is not None:
            out.append("H\t%s\t%s" % (hexs(name), hexs(str(message[name]))))
    def walk(part):
        # Python's walk() goes into message/rfc822; the C reader does not
        if part.get_content_type() == "message/rfc822" or \
                not part.is_multipart():
            yield part
        else:
            for child in part.iter_parts():
                yield from walk(child)

    for part in walk(message):
        ctype = part.get_content_type()
        filename = part.get_filename()
        cid = part.get("Content-ID")
        if cid is not None:
            cid = str(cid).strip().strip("<>")
        disposition = part.get_content_disposition()
        attachment = int(not ctype.startswith("text/")
                         or filename is not None
                         or disposition == "attachment")
        body = None if ctype == "message/rfc822" else \
            part.get_payload(decode=True)
        text = None
        if ctype.startswith("text/"):
            text = part.get_content().replace("\r\n", "\n")
        out.append("L\t" + "\t".join([hexs(ctype), hexs(filename), hexs(cid),
                                      hexs(disposition), str(attachment),
                                      hexs(body), hexs(text)]))
    return "\n".join(out) + "\n"


def letters():
    """(name, message, linesep) for each letter."""
    png = bytes([137, 80, 78, 71, 13, 10, 26, 10]) + bytes(range(256))

    m = EmailMessage()
    m["From"] = "Plain Sender <plain@example.org>"
    m["To"] = "a@example.net, b@example.net"
    m["Subject"] = "Plain ASCII letter"
    m.set_content("Line one.\nLine two.\n")
    yield "plain", m, "\r\n"

    for cte in ("base64", "quoted-printable", "8bit"):
        m = EmailMessage()
        m["From"] = "Jörg Müller <joerg@example.com>"
        m["To"] = "Zoë Ångström <zoe@example.net>"
        m["Cc"] = "Ελένη <eleni@example.gr>"
        m["Subject"] = ("Grüße aus Köln: ein sehr langer Betreff, der "
                        "gefaltet werden muss ✓ 🎉 " + cte)
        m.set_content("Grüße ✓\nÜnïcödé line two with a trailing tab\t\n"
                      "a long line " + "x" * 200 + "\n", cte=cte)
        yield "utf8-" + cte, m, "\r\n"

    for charset, text in (("iso-8859-1", "Grüße, café, naïve\n"),
                          ("windows-1252", "€ 5 – “quoted” café\n"),
                          ("koi8-r", "Привет, мир\n"),
                          ("iso-2022-jp", "日本語のテキスト\n"),
                          ("shift_jis", "日本語のテキスト\n")):
        m = EmailMessage()
        m["From"] = "charsets@example.org"
        m["To"] = "r@example.net"
        m["Subject"] = "Charset " + charset
        m.set_content(text.encode(charset), maintype="text", subtype="plain",
                      cte="base64")
        m.set_param("charset", charset)
        yield "charset-" + charset, m, "\r\n"

    m = EmailMessage()
    m["From"] = "html@example.org"
    m["To"] = "r@example.net"
    m["Subject"] = "Alternative with a related image"
    m.set_content("The plain text ✓\n")
    m.add_alternative("<p>The <b>HTML</b> ✓ <img src=\"cid:logo@x\"></p>\n",
                      subtype="html")
    html = m.get_payload()[1]
    html.add_related(png, maintype="image", subtype="png", cid="<logo@x>")
    yield "related", m, "\r\n"

    m = EmailMessage()
    m["From"] = "files@example.org"
    m["To"] = "r@example.net"
    m["Subject"] = "Attachments"
    m.set_content("See the attachments.\n")
    m.add_attachment(bytes(range(256)) * 3, maintype="application",
                     subtype="octet-stream", filename="all octets.bin")
    m.add_attachment(b"%PDF-1.4\r\n\x00\xff", maintype="application",
                     subtype="pdf", filename="Überweisung März 2024.pdf")
    m.add_attachment(b"x", maintype="application", subtype="octet-stream",
                     filename="Überweisung März 2024 – ein sehr langer "
                              "Dateiname für den Test, mit Komma, und "
                              "Semikolon; und noch mehr Text.bin")
    m.add_attachment("notes ✓\nline 2\n", subtype="plain",
                     filename="notes.txt")
    m.add_attachment("日本語", subtype="plain", filename="日本語.txt")
    inner = EmailMessage()
    inner["From"] = "inner@example.org"
    inner["Subject"] = "An attached letter"
    inner.set_content("Inner body\n")
    m.add_attachment(inner)
    yield "attachments", m, "\r\n"

    m = EmailMessage()
    m["From"] = "lf@example.org"
    m["To"] = "r@example.net"
    m["Subject"] = "LF line endings ✓"
    m.set_content("one\ntwo ✓\n", cte="quoted-printable")
    m.add_attachment(png, maintype="image", subtype="png", filename="x.png")
    yield "lf", m, "\n"


def main():
    directory = sys.argv[1]
    for i, (name, message, linesep) in enumerate(letters(), 1):
        policy = email.policy.SMTP.clone(linesep=linesep)
        raw = message.as_bytes(policy=policy)
        base = os.path.join(directory, "%02d-%s" % (i, name))
        with open(base + ".eml", "wb") as out:
            out.write(raw)
        again = email.message_from_bytes(raw, policy=email.policy.default)
        with open(base + ".txt", "w") as out:
            out.write(describe(again))


if __name__ == "__main__":
    main()
