#!/usr/bin/python3
"""header_oracle.py - check header fields made by libpostoffice against
Python's email package, an independent RFC 5322/2047/2231 implementation.

Usage: header_oracle.py RECORDS.jsonl

Each line of the input is a JSON object written by tests-c/test_header.c:
  field    the complete field as produced, CRLF included
  name     the field name
  kind     "unstructured", "addresses" or "params"
  soft     true when every line must be at most 78 characters
  value    unstructured: the original text; params: the field's value
  addrs    addresses: [[display or null, spec], ...]
  params   params: [[name, value], ...]

For every record the field is parsed with BytesParser(policy.default) in
a minimal message and checked: the line structure (CRLF only, at most 998
characters, at most 78 when soft, continuation lines starting with SP, no
line of white space only), no defects, and the decoded value equal to the
original.  Prints "ok N" and exits 0, or prints every failure and exits 1.

Known limits of Python's parser are not counted against the fields:
- In a phrase (a display name), Python 3.11 keeps the white space
  between two encoded words (RFC 2047 section 6.2 says to drop it) and
  turns every run of white space inside an encoded word into one space.
  A display name Python reads differently for these reasons only is
  checked with an RFC-conforming decoder (phrase_decode, built on
  email.header.decode_header) instead, and counted.
- A non-ASCII parameter is written twice, RFC 2231 first and an RFC 2047
  fallback second (design 4.9); Python reports the second as a duplicate
  and the encoded words inside its quoted string as defects.  The
  fallback is checked with email.header.decode_header instead.
- Message.get_filename() strips white space at both ends of the name,
  and angle brackets around it (email.utils.unquote).
"""
import base64
import binascii
import email.header
import json
import quopri
import re
import sys
from email import policy
from email.parser import BytesParser

SOFT = 78
HARD = 998

EW_RE = re.compile(r'=\?[^?\s]+\?[qQbB]\?[^?\s]*\?=')
TOKEN_RE = re.compile(
    r'"(?:[^"\\]|\\.)*"'          # quoted-string
    r'|<[^>]*>'                   # angle-addr
    r'|,'                         # list separator
    r'|[ \t]+'                    # white space
    r'|[^\s",<]+')                # atom, encoded word, bare addr-spec

# Defects a non-ASCII parameter's RFC 2047 fallback causes by design.
FALLBACK_DEFECTS = (
    'duplicate parameter name',
    'encoded word inside quoted string',
    'missing trailing whitespace after encoded-word',
)


def rfc2047_decode(text):
    """Decode text with the legacy, RFC-conforming decoder: the white
    space between adjacent encoded words is dropped."""
    return str(email.header.make_header(email.header.decode_header(text)))


def check_lines(raw, soft, errors):
    if not raw.endswith(b'\r\n'):
        errors.append('field does not end with CRLF')
        return
    lines = raw[:-2].split(b'\r\n')
    for i, line in enumerate(lines):
        if b'\r' in line or b'\n' in line:
            errors.append('bare CR or LF in line %d' % i)
        if len(line) > HARD:
            errors.append('line %d has %d > 998 characters' % (i, len(line)))
        if soft and len(line) > SOFT:
            errors.append('line %d has %d > 78 characters: %r'
                          % (i, len(line), line[:100]))
        if not line.strip(b' \t'):
            errors.append('line %d is white space only' % i)
        if i and not line.startswith(b' '):
            errors.append('continuation line %d does not start with SP' % i)


def phrase_decode(tokens):
    """Display name from the tokens of a phrase, RFC 5322 3.2.5 and RFC
    2047 6.2: quoted-strings unescaped, encoded words decoded, white
    space between two encoded words dropped, other runs one space."""
    out = []
    prev_ew = False
    pending_ws = False
    for tok in tokens:
        if tok[0] in ' \t':
            pending_ws = True
            continue
        is_ew = bool(EW_RE.fullmatch(tok))
        if pending_ws and out and not (prev_ew and is_ew):
            out.append(' ')
        pending_ws = False
        if tok.startswith('"'):
            out.append(re.sub(r'\\(.)', r'\1', tok[1:-1]))
        elif is_ew:
            out.append(rfc2047_decode(tok))
        else:
            out.append(tok)
        prev_ew = is_ew
    return ''.join(out)


def split_mailboxes(value):
    groups = [[]]
    for tok in TOKEN_RE.findall(value):
        if tok == ',':
            groups.append([])
        else:
            groups[-1].append(tok)
    return groups


def check_addresses(rec, header, unfolded_value, errors):
    want = rec['addrs']
    got = header.addresses
    if len(got) != len(want):
        errors.append('%d addresses parsed, %d written'
                      % (len(got), len(want)))
        return 0
    groups = split_mailboxes(unfolded_value)
    if len(groups) != len(want):
        errors.append('%d mailboxes split, %d written'
                      % (len(groups), len(want)))
        return 0
    python_phrase_limit = 0
    for (display, spec), addr, toks in zip(want, got, groups):
        display = display or ''
        if addr.addr_spec != spec:
            errors.append('address %r parsed as %r' % (spec, addr.addr_spec))
        words = [t for t in toks if t[0] not in ' \t']
        if not any(t.startswith('<') for t in toks):
            if words != [spec]:
                errors.append('bare address %r written as %r'
                              % (spec, words))
            words = []
        phrase = [t for t in toks if not t.startswith('<')]
        while phrase and phrase[-1][0] in ' \t':
            phrase.pop()
        if not words:
            phrase = []
        ews = sum(1 for t in phrase if EW_RE.fullmatch(t))
        rfc = phrase_decode(phrase)
        if rfc != display:
            errors.append('display name %r decodes to %r'
                          % (display, rfc))
        if addr.display_name == display:
            continue
        python_view = re.sub(r'[ \t]+', ' ', display)
        if ews > 1 or (ews and addr.display_name == python_view):
            python_phrase_limit += 1
            continue
        errors.append('display name %r parsed as %r'
                      % (display, addr.display_name))
    return python_phrase_limit


def check_params(rec, msg, header, unfolded_value, errors):
    defects = [str(d) for d in header.defects]
    nonascii = any(not all(32 <= ord(c) < 127 for c in v) or '=?' in v
                   for _, v in rec['params'])
    for d in defects:
        if not (nonascii and d.startswith(FALLBACK_DEFECTS)):
            errors.append('defect: %s' % d)
    main = unfolded_value.split(';', 1)[0].strip()
    if main != rec['value']:
        errors.append('value %r parsed as %r' % (rec['value'], main))
    params = dict(header.params)
    for pname, pvalue in rec['params']:
        if params.get(pname) != pvalue:
            errors.append('parameter %s=%r parsed as %r'
                          % (pname, pvalue, params.get(pname)))
        m = re.search(r'(?:^|;)\s*' + re.escape(pname) +
                      r'="((?:[^"\\]|\\.)*)"', unfolded_value)
        if not m:
            errors.append('parameter %s has no quoted form' % pname)
            continue
        quoted = re.sub(r'\\(.)', r'\1', m.group(1))
        simple = all(32 <= ord(c) < 127 for c in pvalue) and \
            '=?' not in pvalue
        if simple:
            if quoted != pvalue:
                errors.append('parameter %s quoted as %r' % (pname, quoted))
        elif rfc2047_decode(quoted) != pvalue:
            errors.append('parameter %s fallback decodes to %r'
                          % (pname, rfc2047_decode(quoted)))
    filename = dict(rec['params']).get('filename')
    if rec['name'].lower() == 'content-disposition' and filename:
        if filename.startswith('<') and filename.endswith('>'):
            filename = filename[1:-1]
        if msg.get_filename() != filename.strip():
            errors.append('get_filename() gives %r' % msg.get_filename())


def check_encoded_words(value, kind, errors):
    """RFC 2047 section 2 and our own rules: at most 75 characters, utf-8,
    each decoding to valid UTF-8 on its own, separated from whatever is
    around them by white space (or by the quotes and ';' of a parameter
    value), so never adjacent."""
    if '?==?' in value:
        errors.append('adjacent encoded words')
    glue = ' \t"' if kind == 'params' else ' \t'
    for m in re.finditer(r'=\?[^?\s]*\?[^?\s]*\?[^?\s]*\?=', value):
        ew = m.group(0)
        if len(ew) > 75:
            errors.append('encoded word of %d > 75 characters' % len(ew))
        if not ew.lower().startswith(('=?utf-8?q?', '=?utf-8?b?')):
            errors.append('not a utf-8 Q or B word: %r' % ew)
            continue
        before = value[m.start() - 1] if m.start() else ' '
        after = value[m.end()] if m.end() < len(value) else ' '
        if before not in glue or (after not in glue + ';,' and
                                  kind != 'addresses') or \
                (kind == 'addresses' and after not in ' \t'):
            errors.append('encoded word not set apart: %r' % ew)
        text = ew[10:-2]
        try:
            if ew[8] in 'bB':
                octets = base64.b64decode(text, validate=True)
            else:
                octets = quopri.decodestring(text.replace('_', ' '))
            octets.decode('utf-8')
        except (ValueError, binascii.Error):
            errors.append('encoded word is not UTF-8 on its own: %r' % ew)


def check_record(rec):
    errors = []
    raw = rec['field'].encode('utf-8')
    check_lines(raw, rec['soft'], errors)
    name = rec['name']
    unfolded = raw[:-2].replace(b'\r\n', b'').decode('utf-8')
    if not unfolded.startswith(name + ':'):
        errors.append('field does not start with %r' % (name + ':'))
        return errors, 0
    unfolded_value = unfolded[len(name) + 1:].lstrip(' \t')
    check_encoded_words(unfolded_value, rec['kind'], errors)
    msg = BytesParser(policy=policy.default).parsebytes(
        raw + b'\r\nbody\r\n')
    if msg.defects:
        errors.append('message defects: %r' % msg.defects)
    header = msg[name]
    if header is None:
        errors.append('field not found by the parser')
        return errors, 0
    limit = 0
    kind = rec['kind']
    if kind == 'params':
        check_params(rec, msg, header, unfolded_value, errors)
        return errors, 0
    if header.defects:
        errors.append('defects: %r' % (header.defects,))
    if kind == 'unstructured':
        if str(header) != rec['value']:
            errors.append('value %r parsed as %r' % (rec['value'],
                                                     str(header)))
    elif kind == 'addresses':
        limit = check_addresses(rec, header, unfolded_value, errors)
    else:
        errors.append('unknown kind %r' % kind)
    return errors, limit


def main():
    if len(sys.argv) != 2:
        print('usage: header_oracle.py RECORDS.jsonl', file=sys.stderr)
        return 2
    count = failed = limited = 0
    with open(sys.argv[1], encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            rec = json.loads(line)
            count += 1
            errors, limit = check_record(rec)
            limited += limit
            if errors:
                failed += 1
                print('record %d (%s): %r' % (lineno, rec['kind'],
                                               rec['field'][:300]))
                for e in errors:
                    print('  ' + e)
    if failed:
        print('%d of %d records failed' % (failed, count))
        return 1
    print('ok %d (%d display names checked with the RFC 2047 decoder)'
          % (count, limited))
    return 0


if __name__ == '__main__':
    sys.exit(main())
